/*
 * metric/kernels_internal.h — per-ISA kernel tables and shared batch loops.
 *
 * Each kernels_<isa>.c defines its inlined l2sq/negdot and instantiates the
 * batch and range loops with CN_DEFINE_BATCH_KERNELS, so the distance kernel
 * is inlined into the loop (one indirect call per batch, none per distance).
 */
#ifndef CN_METRIC_KERNELS_INTERNAL_H
#define CN_METRIC_KERNELS_INTERNAL_H

#include "cannoli/simd.h"

extern const cn_kernels_f32_t cn_kernels_f32_scalar;
#ifdef CN_HAVE_AVX2
extern const cn_kernels_f32_t cn_kernels_f32_avx2;
#endif
#ifdef CN_HAVE_AVX512
extern const cn_kernels_f32_t cn_kernels_f32_avx512;
#endif

/* How many ids ahead a batch prefetches, and at most how many bytes of a row. */
#define CN_PREFETCH_AHEAD 3
#define CN_PREFETCH_MAX_BYTES 1024

static inline void cn_prefetch_row(const float *row, size_t d) {
    size_t bytes = d * sizeof(float);
    if (bytes > CN_PREFETCH_MAX_BYTES) bytes = CN_PREFETCH_MAX_BYTES;
    const char *p = (const char *)row;
    for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off, 0, 3);
}

#define CN_DEFINE_BATCH_KERNELS(SUFFIX, L2, DOT)                                              \
    static void l2sq_batch_##SUFFIX(const float *q, const float *base, size_t stride,         \
                                    const uint32_t *ids, size_t n, size_t d, float *out) {    \
        size_t pre = n < CN_PREFETCH_AHEAD ? n : CN_PREFETCH_AHEAD;                           \
        for (size_t i = 0; i < pre; i++) cn_prefetch_row(base + (size_t)ids[i] * stride, d); \
        for (size_t i = 0; i < n; i++) {                                                      \
            if (i + CN_PREFETCH_AHEAD < n)                                                    \
                cn_prefetch_row(base + (size_t)ids[i + CN_PREFETCH_AHEAD] * stride, d);       \
            out[i] = L2(q, base + (size_t)ids[i] * stride, d);                                \
        }                                                                                     \
    }                                                                                         \
    static void negdot_batch_##SUFFIX(const float *q, const float *base, size_t stride,       \
                                      const uint32_t *ids, size_t n, size_t d, float *out) {  \
        size_t pre = n < CN_PREFETCH_AHEAD ? n : CN_PREFETCH_AHEAD;                           \
        for (size_t i = 0; i < pre; i++) cn_prefetch_row(base + (size_t)ids[i] * stride, d); \
        for (size_t i = 0; i < n; i++) {                                                      \
            if (i + CN_PREFETCH_AHEAD < n)                                                    \
                cn_prefetch_row(base + (size_t)ids[i + CN_PREFETCH_AHEAD] * stride, d);       \
            out[i] = DOT(q, base + (size_t)ids[i] * stride, d);                               \
        }                                                                                     \
    }                                                                                         \
    static void l2sq_range_##SUFFIX(const float *q, const float *base, size_t stride,         \
                                    size_t start, size_t n, size_t d, float *out) {           \
        const float *row = base + start * stride;                                             \
        for (size_t i = 0; i < n; i++, row += stride) out[i] = L2(q, row, d);                 \
    }                                                                                         \
    static void negdot_range_##SUFFIX(const float *q, const float *base, size_t stride,       \
                                      size_t start, size_t n, size_t d, float *out) {         \
        const float *row = base + start * stride;                                             \
        for (size_t i = 0; i < n; i++, row += stride) out[i] = DOT(q, row, d);                \
    }                                                                                         \
    static float l2sq_fn_##SUFFIX(const float *a, const float *b, size_t d) {                 \
        return L2(a, b, d);                                                                   \
    }                                                                                         \
    static float negdot_fn_##SUFFIX(const float *a, const float *b, size_t d) {               \
        return DOT(a, b, d);                                                                  \
    }                                                                                         \
    const cn_kernels_f32_t cn_kernels_f32_##SUFFIX = {                                        \
        l2sq_fn_##SUFFIX,  negdot_fn_##SUFFIX,  l2sq_batch_##SUFFIX,                          \
        negdot_batch_##SUFFIX, l2sq_range_##SUFFIX, negdot_range_##SUFFIX}

#endif
