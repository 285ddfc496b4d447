/*
 * quant/f16_internal.h — half-precision (IEEE binary16) store internals:
 * portable conversions, the per-ISA kernel table and the batch loops.
 *
 * Each f16_<isa>.c defines its inlined l2sq/negdot (float32 query against a
 * row of halves converted on the fly) and instantiates the batch and range
 * loops with CN_F16_DEFINE_KERNELS, so a batch is one indirect call with the
 * kernel inlined inside it. Rows are stored contiguously, stride = dim halves.
 *
 * Exposed to the unit tests (which include this header and link libcannoli):
 * the scalar conversions, cn_f16_kernels_at() and an evaluator constructor
 * pinned to one SIMD level.
 */
#ifndef CN_QUANT_F16_INTERNAL_H
#define CN_QUANT_F16_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "cannoli/simd.h"
#include "cannoli/store.h"

/* ---- portable conversions (IEEE 754 semantics) ------------------------------ */

/* float -> half, round to nearest even. Subnormal halves are produced
 * exactly, values of magnitude >= 65520 overflow to +-inf, NaN stays NaN
 * (quietened, top payload bits kept: the result F16C gives). */
static inline uint16_t cn_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) /* inf or NaN */
        return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u | ((ax >> 13) & 0x3ffu) : 0u));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520: rounds to inf */
    if (ax >= 0x38800000u) {                                   /* normal half: >= 2^-14 */
        uint32_t r = ax - (112u << 23);                        /* rebias 127 -> 15 */
        r += 0xfffu + ((r >> 13) & 1u);                        /* round to nearest even */
        return (uint16_t)(sign | (r >> 13));
    }
    uint32_t e = ax >> 23; /* subnormal half (or zero): value = m * 2^(e - 150) */
    if (e < 102) return sign; /* < 2^-25: rounds to (signed) zero */
    uint32_t m = (ax & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126u - e; /* 14 .. 24: result in units of 2^-24 */
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u))) q++;
    return (uint16_t)(sign | q); /* q == 0x400 is the smallest normal: still right */
}

/* half -> float (exact). Branch-free for finite values: the 15 low bits
 * shifted into a float's exponent/mantissa fields are the half's value times
 * 2^-112 (normal halves become normal floats, subnormal halves denormal ones),
 * so one multiplication by 2^112 rebiases both exactly. Relies on denormal
 * floats not being flushed (the library never sets FTZ/DAZ). */
static inline float cn_f16_to_f32(uint16_t h) {
    uint32_t em = (uint32_t)h & 0x7fffu, sign = ((uint32_t)h & 0x8000u) << 16;
    uint32_t x = em << 13;
    float f;
    memcpy(&f, &x, sizeof f);
    f *= 0x1p112f;
    memcpy(&x, &f, sizeof x);
    if (em >= 0x7c00u) x = 0x7f800000u | (em << 13); /* inf / NaN (payload kept) */
    x |= sign;
    memcpy(&f, &x, sizeof f);
    return f;
}

/* ---- kernel table ---------------------------------------------------------- */

/* q: d floats (float32 query); x / base: halves, row i at base + i*d. */
typedef struct cn_f16_kernels {
    float (*l2sq)(const float *q, const uint16_t *x, size_t d);
    float (*negdot)(const float *q, const uint16_t *x, size_t d);
    void (*l2sq_batch)(const float *q, const uint16_t *base, const uint32_t *ids, size_t n,
                       size_t d, float *out);
    void (*negdot_batch)(const float *q, const uint16_t *base, const uint32_t *ids, size_t n,
                         size_t d, float *out);
    void (*l2sq_range)(const float *q, const uint16_t *base, size_t start, size_t n, size_t d,
                       float *out);
    void (*negdot_range)(const float *q, const uint16_t *base, size_t start, size_t n, size_t d,
                         float *out);
    /* n conversions each way (same results as the scalar functions above). */
    void (*to_half)(const float *in, uint16_t *out, size_t n);
    void (*to_float)(const uint16_t *in, float *out, size_t n);
} cn_f16_kernels_t;

extern const cn_f16_kernels_t cn_f16_kernels_scalar;
#ifdef CN_HAVE_AVX2
extern const cn_f16_kernels_t cn_f16_kernels_avx2;
#endif
#ifdef CN_HAVE_AVX512
extern const cn_f16_kernels_t cn_f16_kernels_avx512;
#endif

/* Kernels of a level, or NULL if this build/CPU cannot run it. */
const cn_f16_kernels_t *cn_f16_kernels_at(cn_simd_level_t level);

/* An evaluator over a dense_f16 store using the kernels of `level`
 * (CN_EUNSUPPORTED if unavailable). The store ops use cn_simd_level(). */
cn_status_t cn_f16_evaluator_create_at(const cn_store_t *s, cn_simd_level_t level,
                                       cn_evaluator_t **out, char *err, size_t errlen);

/* True if s is a dense_f16 store; row i of one. */
int cn_store_is_f16(const cn_store_t *s);
const uint16_t *cn_store_f16_row(const cn_store_t *s, uint32_t i);

/* ---- batch loops ------------------------------------------------------------- */

#define CN_F16_PREFETCH_AHEAD 3
#define CN_F16_PREFETCH_MAX_BYTES 1024

static inline void cn_f16_prefetch(const uint16_t *row, size_t d) {
    size_t bytes = d * sizeof(uint16_t);
    if (bytes > CN_F16_PREFETCH_MAX_BYTES) bytes = CN_F16_PREFETCH_MAX_BYTES;
    const char *p = (const char *)row;
    for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off, 0, 3);
}

#define CN_F16_DEFINE_BATCH_(NAME, KERNEL)                                                   \
    static void NAME(const float *q, const uint16_t *base, const uint32_t *ids, size_t n,     \
                     size_t d, float *out) {                                                  \
        size_t pre = n < CN_F16_PREFETCH_AHEAD ? n : CN_F16_PREFETCH_AHEAD;                   \
        for (size_t i = 0; i < pre; i++) cn_f16_prefetch(base + (size_t)ids[i] * d, d);       \
        for (size_t i = 0; i < n; i++) {                                                      \
            if (i + CN_F16_PREFETCH_AHEAD < n)                                                \
                cn_f16_prefetch(base + (size_t)ids[i + CN_F16_PREFETCH_AHEAD] * d, d);        \
            out[i] = KERNEL(q, base + (size_t)ids[i] * d, d);                                 \
        }                                                                                     \
    }

#define CN_F16_DEFINE_KERNELS(SUFFIX, L2, DOT, TO_HALF, TO_FLOAT)                             \
    CN_F16_DEFINE_BATCH_(f16_l2sq_batch_##SUFFIX, L2)                                         \
    CN_F16_DEFINE_BATCH_(f16_negdot_batch_##SUFFIX, DOT)                                      \
    static void f16_l2sq_range_##SUFFIX(const float *q, const uint16_t *base, size_t start,   \
                                        size_t n, size_t d, float *out) {                     \
        const uint16_t *row = base + start * d;                                               \
        for (size_t i = 0; i < n; i++, row += d) out[i] = L2(q, row, d);                      \
    }                                                                                         \
    static void f16_negdot_range_##SUFFIX(const float *q, const uint16_t *base, size_t start, \
                                          size_t n, size_t d, float *out) {                   \
        const uint16_t *row = base + start * d;                                               \
        for (size_t i = 0; i < n; i++, row += d) out[i] = DOT(q, row, d);                     \
    }                                                                                         \
    static float f16_l2sq_fn_##SUFFIX(const float *q, const uint16_t *x, size_t d) {          \
        return L2(q, x, d);                                                                   \
    }                                                                                         \
    static float f16_negdot_fn_##SUFFIX(const float *q, const uint16_t *x, size_t d) {        \
        return DOT(q, x, d);                                                                  \
    }                                                                                         \
    const cn_f16_kernels_t cn_f16_kernels_##SUFFIX = {                                        \
        f16_l2sq_fn_##SUFFIX,     f16_negdot_fn_##SUFFIX,   f16_l2sq_batch_##SUFFIX,          \
        f16_negdot_batch_##SUFFIX, f16_l2sq_range_##SUFFIX, f16_negdot_range_##SUFFIX,        \
        TO_HALF,                  TO_FLOAT}

#endif
