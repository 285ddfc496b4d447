/*
 * quant/pq4fs_avx2.c — AVX2 FastScan block kernel of the pq4fs store
 * (compiled with -mavx2). Only used after the dispatcher has checked CPU/OS
 * support. Layout and the 16-bit accumulation are described in
 * pq4fs_internal.h; the result equals the scalar kernel's exactly.
 */
#include <immintrin.h>

#include "quant/pq4fs_internal.h"

/* Adds the 16-bit sums of one half-block (acc0: even + 256 * odd bytes,
 * acc1: odd bytes; lane 0 and lane 1 hold different sub-spaces of the same
 * 16 vectors) to the 32-bit totals of vectors 0..7 (t0) and 8..15 (t1). */
static inline void flush16(__m256i acc0, __m256i acc1, __m256i *t0, __m256i *t1) {
    __m256i even = _mm256_sub_epi16(acc0, _mm256_slli_epi16(acc1, 8));
    __m128i e = _mm_add_epi16(_mm256_castsi256_si128(even), _mm256_extracti128_si256(even, 1));
    __m128i o = _mm_add_epi16(_mm256_castsi256_si128(acc1), _mm256_extracti128_si256(acc1, 1));
    *t0 = _mm256_add_epi32(*t0, _mm256_cvtepu16_epi32(_mm_unpacklo_epi16(e, o)));
    *t1 = _mm256_add_epi32(*t1, _mm256_cvtepu16_epi32(_mm_unpackhi_epi16(e, o)));
}

static void block_avx2(const uint8_t *block, const uint8_t *lut, size_t Mp, uint32_t *sums) {
    const __m256i mask = _mm256_set1_epi8(0x0f);
    __m256i t0 = _mm256_setzero_si256(), t1 = t0, t2 = t0, t3 = t0;
    for (size_t s0 = 0; s0 < Mp; s0 += CN_PQ4FS_CHUNK) {
        size_t s1 = Mp - s0 < CN_PQ4FS_CHUNK ? Mp : s0 + CN_PQ4FS_CHUNK;
        __m256i lo0 = _mm256_setzero_si256(), lo1 = lo0, hi0 = lo0, hi1 = lo0;
        for (size_t s = s0; s < s1; s += 2) {
            __m256i c = _mm256_loadu_si256((const __m256i *)(block + s * 16));
            __m256i l = _mm256_loadu_si256((const __m256i *)(lut + s * 16));
            __m256i rlo = _mm256_shuffle_epi8(l, _mm256_and_si256(c, mask));
            __m256i rhi = _mm256_shuffle_epi8(l, _mm256_and_si256(_mm256_srli_epi16(c, 4), mask));
            lo0 = _mm256_add_epi16(lo0, rlo);
            lo1 = _mm256_add_epi16(lo1, _mm256_srli_epi16(rlo, 8));
            hi0 = _mm256_add_epi16(hi0, rhi);
            hi1 = _mm256_add_epi16(hi1, _mm256_srli_epi16(rhi, 8));
        }
        flush16(lo0, lo1, &t0, &t1);
        flush16(hi0, hi1, &t2, &t3);
    }
    _mm256_storeu_si256((__m256i *)sums, t0);
    _mm256_storeu_si256((__m256i *)(sums + 8), t1);
    _mm256_storeu_si256((__m256i *)(sums + 16), t2);
    _mm256_storeu_si256((__m256i *)(sums + 24), t3);
}

const cn_pq4fs_kernels_t cn_pq4fs_kernels_avx2 = {block_avx2};
