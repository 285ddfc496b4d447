/*
 * quant/pq_avx512.c — AVX-512 kernels of the PQ store and k-means (compiled
 * with -mavx512f/bw/dq/vl). Only used after the dispatcher has checked
 * CPU/OS support.
 *
 * Table sums: the unrolled loop of pq_internal.h (the default) and a sum with
 * 16-wide hardware gathers (gbatch / grange, chosen by CANNOLI_PQ_SUM=gather;
 * measured slower on AMD Zen 4, see pq_internal.h). The
 * nearest-centroid search (k-means, encoding) computes all distances with the
 * shared loop vectorised at this width and finds the first minimum with
 * vector compares.
 */
#include <immintrin.h>
#include <math.h>

#include "quant/pq_internal.h"

static inline __m512i idx16(const int32_t *off, const uint8_t *c) {
    __m128i b = _mm_loadu_si128((const __m128i *)c);
    return _mm512_add_epi32(_mm512_loadu_si512((const void *)off), _mm512_cvtepu8_epi32(b));
}

static inline float sum_avx512(const float *table, const int32_t *off, const uint8_t *c,
                               size_t M) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    size_t m = 0;
    for (; m + 32 <= M; m += 32) {
        a0 = _mm512_add_ps(a0, _mm512_i32gather_ps(idx16(off + m, c + m), table, 4));
        a1 = _mm512_add_ps(a1, _mm512_i32gather_ps(idx16(off + m + 16, c + m + 16), table, 4));
    }
    if (m + 16 <= M) {
        a0 = _mm512_add_ps(a0, _mm512_i32gather_ps(idx16(off + m, c + m), table, 4));
        m += 16;
    }
    if (m < M) { /* masked tail: up to 15 sub-spaces */
        __mmask16 k = (__mmask16)((1u << (M - m)) - 1u);
        __m128i b = _mm_maskz_loadu_epi8(k, c + m);
        __m512i ix = _mm512_add_epi32(_mm512_maskz_loadu_epi32(k, off + m), _mm512_cvtepu8_epi32(b));
        a1 = _mm512_add_ps(a1, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, ix, table, 4));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

CN_PQ_DEFINE_TABLE_KERNELS(avx512, cn_pq_sum_lut, cn_pq_sum_off)
/* The gather variant: only ever called with an offset array. */
CN_PQ_DEFINE_TABLE_KERNELS(avx512_gather, cn_pq_sum_lut, sum_avx512)

static inline uint32_t argmin_avx512(const float *acc, size_t k, float *minv) {
    size_t c = 0;
    float m = INFINITY;
    if (k >= 16) {
        __m512 mv = _mm512_loadu_ps(acc);
        for (c = 16; c + 16 <= k; c += 16) mv = _mm512_min_ps(mv, _mm512_loadu_ps(acc + c));
        m = _mm512_reduce_min_ps(mv);
    }
    for (; c < k; c++)
        if (acc[c] < m) m = acc[c];
    *minv = m;
    __m512 target = _mm512_set1_ps(m);
    for (c = 0; c + 16 <= k; c += 16) {
        __mmask16 mask = _mm512_cmp_ps_mask(_mm512_loadu_ps(acc + c), target, _CMP_EQ_OQ);
        if (mask) return (uint32_t)(c + (size_t)__builtin_ctz((unsigned)mask));
    }
    for (; c < k; c++)
        if (acc[c] == m) return (uint32_t)c;
    return 0;
}

static void nearest_avx512(const float *ct, size_t k, size_t d, const float *x, size_t n,
                           uint32_t *assign, float *dist, float *acc) {
    for (size_t i = 0; i < n; i++) {
        cn_pq_dist_all(ct, k, d, x + i * d, acc);
        assign[i] = argmin_avx512(acc, k, &dist[i]);
    }
}

const cn_pq_kernels_t cn_pq_kernels_avx512 = {batch_avx512,  range_avx512,        nearest_avx512,
                                           batch_avx512_gather, range_avx512_gather};
