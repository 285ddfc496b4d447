/*
 * quant/pq4fs_internal.h — the FastScan block kernels of the pq4fs store
 * (quant/pq4fs.c), one file per instruction set.
 *
 * Block layout (see pq4fs.c for the whole store): a block holds the 4-bit
 * codes of 32 vectors for Mp sub-spaces (Mp = M rounded up to even), 16
 * bytes per sub-space, sub-spaces in order:
 *
 *     block[s * 16 + j] = code(v = j, s) | code(v = j + 16, s) << 4,  j < 16
 *
 * so the low nibbles of a sub-space's 16 bytes are vectors 0..15 and the
 * high nibbles vectors 16..31. The quantized lookup table has the same
 * stride: lut[s * 16 + c] (u8) for code c of sub-space s. One 256-bit load
 * of block + s * 16 then holds sub-spaces s and s + 1 in its two 128-bit
 * lanes, and one of lut + s * 16 their two 16-entry tables, which is exactly
 * what the per-lane byte shuffle (pshufb / vpshufb) looks up: a shuffle of
 * the low nibbles gives 32 table entries (2 sub-spaces x vectors 0..15), one
 * of the high nibbles the same for vectors 16..31. AVX-512 takes four
 * sub-spaces per load. (Faiss' pq4 layout interleaves sub-spaces and vectors
 * differently to save a shuffle in the final reduction; this one is kept
 * simpler and states its shape; the reduction is paid once per block.)
 *
 * Sums: sums[v] = sum_{s < Mp} lut[s * 16 + code(v, s)], exact integers at
 * every level (tests compare the levels for equality). The SIMD kernels add
 * table entries in 16-bit lanes: each 16-bit lane accumulates
 * (even byte + 256 * odd byte) and a second accumulator the odd bytes
 * alone, so even = acc0 - (acc1 << 8) modulo 2^16. That is exact while a
 * vector's sum stays below 2^16, i.e. for at most 256 sub-spaces of entries
 * <= 255 (256 * 255 = 65280); longer codes are summed in chunks of 256
 * sub-spaces whose 16-bit results are widened and added in 32 bits.
 */
#ifndef CN_QUANT_PQ4FS_INTERNAL_H
#define CN_QUANT_PQ4FS_INTERNAL_H

#include "cannoli/simd.h"
#include "cannoli/store.h"

#define CN_PQ4FS_BLOCK 32   /* vectors per block */
#define CN_PQ4FS_CHUNK 256  /* sub-spaces summed in 16 bits before widening */

typedef struct cn_pq4fs_kernels {
    /* sums[0..32) for one block (block: Mp * 16 bytes, lut: Mp * 16 bytes,
     * Mp even, any alignment). */
    void (*block)(const uint8_t *block, const uint8_t *lut, size_t Mp, uint32_t *sums);
} cn_pq4fs_kernels_t;

extern const cn_pq4fs_kernels_t cn_pq4fs_kernels_scalar;
#ifdef CN_HAVE_AVX2
extern const cn_pq4fs_kernels_t cn_pq4fs_kernels_avx2;
#endif
#ifdef CN_HAVE_AVX512
extern const cn_pq4fs_kernels_t cn_pq4fs_kernels_avx512;
#endif

/* Kernels of a level, or NULL if this build/CPU cannot run it. */
const cn_pq4fs_kernels_t *cn_pq4fs_kernels_at(cn_simd_level_t level);

/* The per-query u8 table of a float table lut (M sub-spaces x 16 entries,
 * quant/pq4fs.c; shared by every store that scores with these kernels):
 * one scale a for all sub-spaces and a bias per sub-space,
 * lut8[s][c] = round((lut[s][c] - min_c lut[s][c]) * a), padding sub-spaces
 * M..Mp-1 zero; a block's float sums are then bias + S / a within `bound`
 * (M half-steps plus float rounding); `mag` = sum_s max_c |lut[s][c]|;
 * `degenerate` when the table is not usable (non-finite entries). */
typedef struct cn_pq4fs_lut8 {
    uint8_t *lut8; /* in: Mp * 16 bytes to fill */
    float bias, inv_a, bound, mag;
    int degenerate;
} cn_pq4fs_lut8_t;
void cn_pq4fs_quantize_lut(const float *lut, size_t M, size_t Mp, cn_pq4fs_lut8_t *out);

/* ---- introspection for tests (quant/pq4fs.c) ---- */
int cn_store_is_pq4fs(const cn_store_t *s);
/* Evaluator using the block kernel of a given level (CN_EUNSUPPORTED if
 * this build/CPU cannot run it). cn_store_evaluator() uses cn_simd_level(). */
cn_status_t cn_pq4fs_evaluator_create_at(const cn_store_t *s, cn_simd_level_t level,
                                         cn_evaluator_t **out, char *err, size_t errlen);
/* The evaluator's quantized table (Mp * 16 bytes) and Mp. */
const uint8_t *cn_pq4fs_eval_lut8(const cn_evaluator_t *ev, size_t *Mp);

/* Code of vector slot v (< 32) in sub-space s of a block. */
static inline unsigned cn_pq4fs_code(const uint8_t *block, size_t s, unsigned v) {
    uint8_t b = block[s * 16 + (v & 15)];
    return v < 16 ? (unsigned)(b & 15) : (unsigned)(b >> 4);
}

#endif
