/*
 * quant/sq8_avx2.c — AVX2 + FMA kernels of the sq8 store (compiled with
 * -mavx2 -mfma -mf16c; only called after the CPU was checked).
 *
 * Sixteen codes are loaded at a time and widened u8 -> i32 -> f32
 * (cvtepu8_epi32 + cvtepi32_ps) in two halves of eight; the last d % 8
 * dimensions use a scalar loop, so no byte past a row is ever read.
 */
#include <immintrin.h>

#include "quant/sq8_internal.h"

static inline float hsum256(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}

/* Eight codes at p as floats. */
static inline __m256 load8c(const uint8_t *p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}

static inline float l2_sq8_avx2(const float *qa, const float *scale, const uint8_t *c,
                                size_t d) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(c + i));
        __m256 c0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v));
        __m256 c1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(v, 8)));
        __m256 t0 = _mm256_fnmadd_ps(_mm256_loadu_ps(scale + i), c0, _mm256_loadu_ps(qa + i));
        __m256 t1 =
            _mm256_fnmadd_ps(_mm256_loadu_ps(scale + i + 8), c1, _mm256_loadu_ps(qa + i + 8));
        s0 = _mm256_fmadd_ps(t0, t0, s0);
        s1 = _mm256_fmadd_ps(t1, t1, s1);
    }
    if (i + 8 <= d) {
        __m256 t0 =
            _mm256_fnmadd_ps(_mm256_loadu_ps(scale + i), load8c(c + i), _mm256_loadu_ps(qa + i));
        s0 = _mm256_fmadd_ps(t0, t0, s0);
        i += 8;
    }
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < d; i++) {
        float t = qa[i] - scale[i] * (float)c[i];
        s += t * t;
    }
    return s;
}

static inline float negdot_sq8_avx2(const float *qa, float bias, const uint8_t *c, size_t d) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(c + i));
        __m256 c0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v));
        __m256 c1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(v, 8)));
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(qa + i), c0, s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(qa + i + 8), c1, s1);
    }
    if (i + 8 <= d) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(qa + i), load8c(c + i), s0);
        i += 8;
    }
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < d; i++) s += qa[i] * (float)c[i];
    return bias - s;
}

CN_SQ8_DEFINE_KERNELS(avx2, l2_sq8_avx2, negdot_sq8_avx2);
