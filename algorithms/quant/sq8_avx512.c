/*
 * quant/sq8_avx512.c — AVX-512 kernels of the sq8 store (compiled with
 * -mavx512f -mavx512bw -mavx512dq -mavx512vl). Sixteen codes at a time are
 * widened u8 -> i32 -> f32; tails use masked loads (AVX-512BW/VL for the
 * bytes), so any dimension runs without a scalar loop and no byte past a row
 * is read.
 */
#include <immintrin.h>

#include "quant/sq8_internal.h"

static inline __m512 load16c(const uint8_t *p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p)));
}

static inline __m512 load16c_mask(__mmask16 m, const uint8_t *p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, p)));
}

static inline float l2_sq8_avx512(const float *qa, const float *scale, const uint8_t *c,
                                  size_t d) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        __m512 t0 = _mm512_fnmadd_ps(_mm512_loadu_ps(scale + i), load16c(c + i),
                                     _mm512_loadu_ps(qa + i));
        __m512 t1 = _mm512_fnmadd_ps(_mm512_loadu_ps(scale + i + 16), load16c(c + i + 16),
                                     _mm512_loadu_ps(qa + i + 16));
        s0 = _mm512_fmadd_ps(t0, t0, s0);
        s1 = _mm512_fmadd_ps(t1, t1, s1);
    }
    if (i + 16 <= d) {
        __m512 t0 = _mm512_fnmadd_ps(_mm512_loadu_ps(scale + i), load16c(c + i),
                                     _mm512_loadu_ps(qa + i));
        s0 = _mm512_fmadd_ps(t0, t0, s0);
        i += 16;
    }
    if (i < d) {
        __mmask16 m = (__mmask16)((1u << (d - i)) - 1u);
        __m512 t0 = _mm512_fnmadd_ps(_mm512_maskz_loadu_ps(m, scale + i), load16c_mask(m, c + i),
                                     _mm512_maskz_loadu_ps(m, qa + i));
        s1 = _mm512_fmadd_ps(t0, t0, s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static inline float negdot_sq8_avx512(const float *qa, float bias, const uint8_t *c, size_t d) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(qa + i), load16c(c + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(qa + i + 16), load16c(c + i + 16), s1);
    }
    if (i + 16 <= d) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(qa + i), load16c(c + i), s0);
        i += 16;
    }
    if (i < d) {
        __mmask16 m = (__mmask16)((1u << (d - i)) - 1u);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, qa + i), load16c_mask(m, c + i), s1);
    }
    return bias - _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

CN_SQ8_DEFINE_KERNELS(avx512, l2_sq8_avx512, negdot_sq8_avx512);
