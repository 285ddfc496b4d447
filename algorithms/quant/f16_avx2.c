/*
 * quant/f16_avx2.c — AVX2 + FMA + F16C kernels of the dense_f16 store
 * (compiled with -mavx2 -mfma -mf16c; only called after the CPU was checked).
 *
 * Eight halves at a time are widened with _mm256_cvtph_ps and combined with
 * the float32 query by FMA; the last d % 8 dimensions use a scalar loop with
 * the single-value F16C conversion, so no byte past a row is ever read.
 */
#include <immintrin.h>

#include "quant/f16_internal.h"

static inline float hsum256(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}

static inline __m256 load8h(const uint16_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

static inline float l2sq_f16_avx2(const float *q, const uint16_t *x, size_t d) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(q + i), load8h(x + i));
        __m256 t1 = _mm256_sub_ps(_mm256_loadu_ps(q + i + 8), load8h(x + i + 8));
        s0 = _mm256_fmadd_ps(t0, t0, s0);
        s1 = _mm256_fmadd_ps(t1, t1, s1);
    }
    if (i + 8 <= d) {
        __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(q + i), load8h(x + i));
        s0 = _mm256_fmadd_ps(t0, t0, s0);
        i += 8;
    }
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < d; i++) {
        float t = q[i] - _cvtsh_ss(x[i]);
        s += t * t;
    }
    return s;
}

static inline float negdot_f16_avx2(const float *q, const uint16_t *x, size_t d) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), load8h(x + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), load8h(x + i + 8), s1);
    }
    if (i + 8 <= d) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), load8h(x + i), s0);
        i += 8;
    }
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < d; i++) s += q[i] * _cvtsh_ss(x[i]);
    return -s;
}

static void to_half_avx2(const float *in, uint16_t *out, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(out + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(in + i),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n; i++) out[i] = cn_f32_to_f16(in[i]);
}

static void to_float_avx2(const uint16_t *in, float *out, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, load8h(in + i));
    for (; i < n; i++) out[i] = _cvtsh_ss(in[i]);
}

CN_F16_DEFINE_KERNELS(avx2, l2sq_f16_avx2, negdot_f16_avx2, to_half_avx2, to_float_avx2);
