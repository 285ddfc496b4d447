/*
 * cannoli/simd.h — distance kernels and the once-per-process choice of SIMD level.
 *
 * Each instruction set lives in its own file compiled with its own flags
 * (metric/kernels_scalar.c, kernels_avx2.c, kernels_avx512.c). At first use
 * the CPU is probed (CPUID + XGETBV, so OS support of the wide registers is
 * checked too) and the best level is chosen; the environment variable
 * CANNOLI_SIMD=scalar|avx2|avx512 pins a lower one (asking for a level the
 * CPU lacks falls back to the best available one). The chosen level is
 * reported by cn_simd_name(cn_simd_level()) and recorded in result rows.
 *
 * Batch kernels exist so that a graph walk pays one indirect call per
 * expanded node, not per distance: they take a list of row ids, prefetch the
 * rows a few ids ahead and compute all distances with the inlined kernel.
 */
#ifndef CANNOLI_SIMD_H
#define CANNOLI_SIMD_H

#include "cannoli/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cn_simd_level {
    CN_SIMD_SCALAR = 0,
    CN_SIMD_AVX2 = 1,   /* AVX2 + FMA (+F16C) */
    CN_SIMD_AVX512 = 2  /* AVX-512 F (+BW, DQ, VL) */
} cn_simd_level_t;

/* Level in use (decided once, thread-safe). */
cn_simd_level_t cn_simd_level(void);
/* Highest level this CPU and this build support. */
cn_simd_level_t cn_simd_detect(void);
/* "scalar", "avx2", "avx512". */
const char *cn_simd_name(cn_simd_level_t level);

/*
 * Float32 kernels of one level. Shapes: a, b, q: d floats; base: rows of
 * `stride` floats (stride >= d), row i at base + i*stride; ids: n row ids;
 * out: n floats. *_range computes rows start .. start+n-1.
 * l2sq = sum (a-b)^2; negdot = -sum a*b.
 */
typedef struct cn_kernels_f32 {
    float (*l2sq)(const float *a, const float *b, size_t d);
    float (*negdot)(const float *a, const float *b, size_t d);
    void (*l2sq_batch)(const float *q, const float *base, size_t stride, const uint32_t *ids,
                       size_t n, size_t d, float *out);
    void (*negdot_batch)(const float *q, const float *base, size_t stride, const uint32_t *ids,
                         size_t n, size_t d, float *out);
    void (*l2sq_range)(const float *q, const float *base, size_t stride, size_t start, size_t n,
                       size_t d, float *out);
    void (*negdot_range)(const float *q, const float *base, size_t stride, size_t start,
                         size_t n, size_t d, float *out);
} cn_kernels_f32_t;

/* Kernels of a given level, or NULL if this build/CPU cannot run it. */
const cn_kernels_f32_t *cn_kernels_f32_at(cn_simd_level_t level);
/* Kernels of the level in use (never NULL). */
const cn_kernels_f32_t *cn_kernels_f32(void);

#ifdef __cplusplus
}
#endif
#endif
