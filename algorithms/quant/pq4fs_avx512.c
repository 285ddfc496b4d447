/*
 * quant/pq4fs_avx512.c — AVX-512 (F + BW) FastScan block kernel of the
 * pq4fs store. Only used after the dispatcher has checked CPU/OS support.
 *
 * Four sub-spaces per 512-bit load (vpshufb shuffles within each 128-bit
 * lane, so lane i looks up sub-space s + i); a remaining pair of sub-spaces
 * is loaded with a byte mask into the low 256 bits (the zeroed upper lanes
 * look up a zero table and add nothing). The 16-bit accumulation and its
 * chunking are those of pq4fs_internal.h; the four lanes are added in the
 * reduction. The result equals the scalar kernel's exactly.
 */
#include <immintrin.h>

#include "quant/pq4fs_internal.h"

static inline __m128i lanesum(__m512i v) {
    __m256i h = _mm256_add_epi16(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    return _mm_add_epi16(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

static inline void flush16(__m512i acc0, __m512i acc1, __m256i *t0, __m256i *t1) {
    __m512i even = _mm512_sub_epi16(acc0, _mm512_slli_epi16(acc1, 8));
    __m128i e = lanesum(even), o = lanesum(acc1);
    *t0 = _mm256_add_epi32(*t0, _mm256_cvtepu16_epi32(_mm_unpacklo_epi16(e, o)));
    *t1 = _mm256_add_epi32(*t1, _mm256_cvtepu16_epi32(_mm_unpackhi_epi16(e, o)));
}

static inline void step(__m512i c, __m512i l, __m512i mask, __m512i *lo0, __m512i *lo1,
                        __m512i *hi0, __m512i *hi1) {
    __m512i rlo = _mm512_shuffle_epi8(l, _mm512_and_si512(c, mask));
    __m512i rhi = _mm512_shuffle_epi8(l, _mm512_and_si512(_mm512_srli_epi16(c, 4), mask));
    *lo0 = _mm512_add_epi16(*lo0, rlo);
    *lo1 = _mm512_add_epi16(*lo1, _mm512_srli_epi16(rlo, 8));
    *hi0 = _mm512_add_epi16(*hi0, rhi);
    *hi1 = _mm512_add_epi16(*hi1, _mm512_srli_epi16(rhi, 8));
}

static void block_avx512(const uint8_t *block, const uint8_t *lut, size_t Mp, uint32_t *sums) {
    const __m512i mask = _mm512_set1_epi8(0x0f);
    __m256i t0 = _mm256_setzero_si256(), t1 = t0, t2 = t0, t3 = t0;
    for (size_t s0 = 0; s0 < Mp; s0 += CN_PQ4FS_CHUNK) {
        size_t s1 = Mp - s0 < CN_PQ4FS_CHUNK ? Mp : s0 + CN_PQ4FS_CHUNK;
        __m512i lo0 = _mm512_setzero_si512(), lo1 = lo0, hi0 = lo0, hi1 = lo0;
        size_t s = s0;
        for (; s + 4 <= s1; s += 4)
            step(_mm512_loadu_si512((const void *)(block + s * 16)),
                 _mm512_loadu_si512((const void *)(lut + s * 16)), mask, &lo0, &lo1, &hi0, &hi1);
        if (s < s1) { /* one pair left (Mp is even) */
            const __mmask64 low32 = 0xffffffffull;
            step(_mm512_maskz_loadu_epi8(low32, block + s * 16),
                 _mm512_maskz_loadu_epi8(low32, lut + s * 16), mask, &lo0, &lo1, &hi0, &hi1);
        }
        flush16(lo0, lo1, &t0, &t1);
        flush16(hi0, hi1, &t2, &t3);
    }
    _mm256_storeu_si256((__m256i *)sums, t0);
    _mm256_storeu_si256((__m256i *)(sums + 8), t1);
    _mm256_storeu_si256((__m256i *)(sums + 16), t2);
    _mm256_storeu_si256((__m256i *)(sums + 24), t3);
}

const cn_pq4fs_kernels_t cn_pq4fs_kernels_avx512 = {block_avx512};
