/*
 * quant/pq_avx2.c — AVX2 kernels of the PQ store and k-means (compiled with
 * -mavx2 -mfma). Only used after the dispatcher has checked CPU/OS support.
 *
 * Table sums: the unrolled loop of pq_internal.h (the default) and a sum with
 * 8-wide hardware gathers (gbatch / grange, chosen by CANNOLI_PQ_SUM=gather;
 * measured slower on AMD Zen 4, see pq_internal.h). The
 * nearest-centroid search (k-means, encoding) computes all distances with the
 * shared loop vectorised at this width and finds the first minimum with
 * vector compares.
 */
#include <immintrin.h>
#include <math.h>

#include "quant/pq_internal.h"

static inline float hsum256(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}

static inline __m256i idx8(const int32_t *off, const uint8_t *c) {
    __m128i b = _mm_loadl_epi64((const __m128i *)c);
    return _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)off), _mm256_cvtepu8_epi32(b));
}

static inline float sum_avx2(const float *table, const int32_t *off, const uint8_t *c, size_t M) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    size_t m = 0;
    for (; m + 16 <= M; m += 16) {
        a0 = _mm256_add_ps(a0, _mm256_i32gather_ps(table, idx8(off + m, c + m), 4));
        a1 = _mm256_add_ps(a1, _mm256_i32gather_ps(table, idx8(off + m + 8, c + m + 8), 4));
    }
    if (m + 8 <= M) {
        a0 = _mm256_add_ps(a0, _mm256_i32gather_ps(table, idx8(off + m, c + m), 4));
        m += 8;
    }
    float s = hsum256(_mm256_add_ps(a0, a1));
    float t0 = 0, t1 = 0;
    for (; m + 2 <= M; m += 2) {
        t0 += table[off[m] + c[m]];
        t1 += table[off[m + 1] + c[m + 1]];
    }
    if (m < M) t0 += table[off[m] + c[m]];
    return s + (t0 + t1);
}

CN_PQ_DEFINE_TABLE_KERNELS(avx2, cn_pq_sum_lut, cn_pq_sum_off)
/* The gather variant: only ever called with an offset array. */
CN_PQ_DEFINE_TABLE_KERNELS(avx2_gather, cn_pq_sum_lut, sum_avx2)

/* First index of the minimum of acc[0..k). */
static inline uint32_t argmin_avx2(const float *acc, size_t k, float *minv) {
    size_t c = 0;
    float m = INFINITY;
    if (k >= 8) {
        __m256 mv = _mm256_loadu_ps(acc);
        for (c = 8; c + 8 <= k; c += 8) mv = _mm256_min_ps(mv, _mm256_loadu_ps(acc + c));
        __m128 h = _mm_min_ps(_mm256_castps256_ps128(mv), _mm256_extractf128_ps(mv, 1));
        h = _mm_min_ps(h, _mm_movehl_ps(h, h));
        h = _mm_min_ss(h, _mm_movehdup_ps(h));
        m = _mm_cvtss_f32(h);
    }
    for (; c < k; c++)
        if (acc[c] < m) m = acc[c];
    *minv = m;
    __m256 target = _mm256_set1_ps(m);
    for (c = 0; c + 8 <= k; c += 8) {
        int mask = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(acc + c), target, _CMP_EQ_OQ));
        if (mask) return (uint32_t)(c + (size_t)__builtin_ctz((unsigned)mask));
    }
    for (; c < k; c++)
        if (acc[c] == m) return (uint32_t)c;
    return 0;
}

static void nearest_avx2(const float *ct, size_t k, size_t d, const float *x, size_t n,
                         uint32_t *assign, float *dist, float *acc) {
    for (size_t i = 0; i < n; i++) {
        cn_pq_dist_all(ct, k, d, x + i * d, acc);
        assign[i] = argmin_avx2(acc, k, &dist[i]);
    }
}

const cn_pq_kernels_t cn_pq_kernels_avx2 = {batch_avx2,  range_avx2,        nearest_avx2,
                                           batch_avx2_gather, range_avx2_gather};
