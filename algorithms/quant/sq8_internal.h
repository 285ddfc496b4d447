/*
 * quant/sq8_internal.h — 8-bit scalar quantization internals: the per-ISA
 * kernel table and the batch loops.
 *
 * Dimension j of a vector is stored as code c_j in 0..255 and decodes to
 * min_j + scale_j * c_j. A query q is prepared once (per query, in float):
 *   l2:        qa_j = q_j - min_j,   score = sum_j (qa_j - scale_j * c_j)^2
 *   ip/cosine: qa_j = q_j * scale_j, score = bias - sum_j qa_j * c_j,
 *              bias = -sum_j q_j * min_j
 * so the inner loop is a u8 -> f32 widening plus one or two FMAs per
 * dimension. Codes are stored contiguously, stride = dim bytes.
 *
 * Each sq8_<isa>.c defines its inlined kernels and instantiates the batch and
 * range loops with CN_SQ8_DEFINE_KERNELS (one indirect call per batch).
 * Exposed to the unit tests: cn_sq8_kernels_at() and an evaluator
 * constructor pinned to one SIMD level.
 */
#ifndef CN_QUANT_SQ8_INTERNAL_H
#define CN_QUANT_SQ8_INTERNAL_H

#include <stdint.h>

#include "cannoli/simd.h"
#include "cannoli/store.h"

/* qa, scale: d floats; code / codes: bytes, row i at codes + i*d. */
typedef struct cn_sq8_kernels {
    /* sum_j (qa_j - scale_j * c_j)^2 */
    float (*l2)(const float *qa, const float *scale, const uint8_t *code, size_t d);
    /* bias - sum_j qa_j * c_j */
    float (*negdot)(const float *qa, float bias, const uint8_t *code, size_t d);
    void (*l2_batch)(const float *qa, const float *scale, const uint8_t *codes,
                     const uint32_t *ids, size_t n, size_t d, float *out);
    void (*negdot_batch)(const float *qa, float bias, const uint8_t *codes, const uint32_t *ids,
                         size_t n, size_t d, float *out);
    void (*l2_range)(const float *qa, const float *scale, const uint8_t *codes, size_t start,
                     size_t n, size_t d, float *out);
    void (*negdot_range)(const float *qa, float bias, const uint8_t *codes, size_t start,
                         size_t n, size_t d, float *out);
} cn_sq8_kernels_t;

extern const cn_sq8_kernels_t cn_sq8_kernels_scalar;
#ifdef CN_HAVE_AVX2
extern const cn_sq8_kernels_t cn_sq8_kernels_avx2;
#endif
#ifdef CN_HAVE_AVX512
extern const cn_sq8_kernels_t cn_sq8_kernels_avx512;
#endif

/* Kernels of a level, or NULL if this build/CPU cannot run it. */
const cn_sq8_kernels_t *cn_sq8_kernels_at(cn_simd_level_t level);

/* An evaluator over an sq8 store using the kernels of `level`
 * (CN_EUNSUPPORTED if unavailable). The store ops use cn_simd_level(). */
cn_status_t cn_sq8_evaluator_create_at(const cn_store_t *s, cn_simd_level_t level,
                                       cn_evaluator_t **out, char *err, size_t errlen);

/* True if s is an sq8 store; its tables (dim floats each) and code rows. */
int cn_store_is_sq8(const cn_store_t *s);
const float *cn_store_sq8_min(const cn_store_t *s);
const float *cn_store_sq8_scale(const cn_store_t *s);
const uint8_t *cn_store_sq8_code(const cn_store_t *s, uint32_t i);

/* ---- batch loops ------------------------------------------------------------- */

#define CN_SQ8_PREFETCH_AHEAD 4
#define CN_SQ8_PREFETCH_MAX_BYTES 1024

static inline void cn_sq8_prefetch(const uint8_t *row, size_t d) {
    size_t bytes = d < CN_SQ8_PREFETCH_MAX_BYTES ? d : CN_SQ8_PREFETCH_MAX_BYTES;
    const char *p = (const char *)row;
    for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off, 0, 3);
}

#define CN_SQ8_DEFINE_BATCH_(NAME, KERNEL, T2)                                                \
    static void NAME(const float *qa, T2 t2, const uint8_t *codes, const uint32_t *ids,       \
                     size_t n, size_t d, float *out) {                                        \
        size_t pre = n < CN_SQ8_PREFETCH_AHEAD ? n : CN_SQ8_PREFETCH_AHEAD;                   \
        for (size_t i = 0; i < pre; i++) cn_sq8_prefetch(codes + (size_t)ids[i] * d, d);      \
        for (size_t i = 0; i < n; i++) {                                                      \
            if (i + CN_SQ8_PREFETCH_AHEAD < n)                                                \
                cn_sq8_prefetch(codes + (size_t)ids[i + CN_SQ8_PREFETCH_AHEAD] * d, d);       \
            out[i] = KERNEL(qa, t2, codes + (size_t)ids[i] * d, d);                           \
        }                                                                                     \
    }                                                                                         \
    static void NAME##_range(const float *qa, T2 t2, const uint8_t *codes, size_t start,      \
                             size_t n, size_t d, float *out) {                                \
        const uint8_t *row = codes + start * d;                                               \
        for (size_t i = 0; i < n; i++, row += d) out[i] = KERNEL(qa, t2, row, d);             \
    }

#define CN_SQ8_DEFINE_KERNELS(SUFFIX, L2, DOT)                                                \
    CN_SQ8_DEFINE_BATCH_(sq8_l2_batch_##SUFFIX, L2, const float *)                            \
    CN_SQ8_DEFINE_BATCH_(sq8_negdot_batch_##SUFFIX, DOT, float)                               \
    static float sq8_l2_fn_##SUFFIX(const float *qa, const float *scale, const uint8_t *c,    \
                                    size_t d) {                                               \
        return L2(qa, scale, c, d);                                                           \
    }                                                                                         \
    static float sq8_negdot_fn_##SUFFIX(const float *qa, float bias, const uint8_t *c,        \
                                        size_t d) {                                           \
        return DOT(qa, bias, c, d);                                                           \
    }                                                                                         \
    const cn_sq8_kernels_t cn_sq8_kernels_##SUFFIX = {                                        \
        sq8_l2_fn_##SUFFIX,         sq8_negdot_fn_##SUFFIX,                                   \
        sq8_l2_batch_##SUFFIX,      sq8_negdot_batch_##SUFFIX,                                \
        sq8_l2_batch_##SUFFIX##_range, sq8_negdot_batch_##SUFFIX##_range}

#endif
