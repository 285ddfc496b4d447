/*
 * quant/f16_avx512.c — AVX-512 kernels of the dense_f16 store (compiled with
 * -mavx512f -mavx512bw -mavx512dq -mavx512vl). Sixteen halves at a time are
 * widened with _mm512_cvtph_ps; tails use masked loads (AVX-512BW/VL for the
 * 16-bit lanes), so any dimension runs without a scalar loop and no byte past
 * a row is read.
 */
#include <immintrin.h>

#include "quant/f16_internal.h"

static inline __m512 load16h(const uint16_t *p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

static inline __m512 load16h_mask(__mmask16 m, const uint16_t *p) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

static inline float l2sq_f16_avx512(const float *q, const uint16_t *x, size_t d) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        __m512 t0 = _mm512_sub_ps(_mm512_loadu_ps(q + i), load16h(x + i));
        __m512 t1 = _mm512_sub_ps(_mm512_loadu_ps(q + i + 16), load16h(x + i + 16));
        s0 = _mm512_fmadd_ps(t0, t0, s0);
        s1 = _mm512_fmadd_ps(t1, t1, s1);
    }
    if (i + 16 <= d) {
        __m512 t0 = _mm512_sub_ps(_mm512_loadu_ps(q + i), load16h(x + i));
        s0 = _mm512_fmadd_ps(t0, t0, s0);
        i += 16;
    }
    if (i < d) {
        __mmask16 m = (__mmask16)((1u << (d - i)) - 1u);
        __m512 t0 = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, q + i), load16h_mask(m, x + i));
        s1 = _mm512_fmadd_ps(t0, t0, s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static inline float negdot_f16_avx512(const float *q, const uint16_t *x, size_t d) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), load16h(x + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16), load16h(x + i + 16), s1);
    }
    if (i + 16 <= d) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), load16h(x + i), s0);
        i += 16;
    }
    if (i < d) {
        __mmask16 m = (__mmask16)((1u << (d - i)) - 1u);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + i), load16h_mask(m, x + i), s1);
    }
    return -_mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static void to_half_avx512(const float *in, uint16_t *out, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(out + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(in + i),
                                            _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm256_mask_storeu_epi16(out + i, m,
                                 _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, in + i),
                                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
}

static void to_float_avx512(const uint16_t *in, float *out, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, load16h(in + i));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(out + i, m, load16h_mask(m, in + i));
    }
}

CN_F16_DEFINE_KERNELS(avx512, l2sq_f16_avx512, negdot_f16_avx512, to_half_avx512,
                      to_float_avx512);
