/*
 * quant/pq4fs.c — 4-bit Product Quantization with FastScan blocks:
 * quantizer "pq4fs", store "pq4fs".
 *
 * Codes. The dimension is split into M = `subspaces` contiguous sub-spaces;
 * any M <= dim is accepted: the first dim % M sub-spaces are one dimension
 * wider than the others (widths dim / M + 1 and dim / M). Each sub-space has
 * 16 centroids learned by k-means (quant/kmeans.c) on a seeded sample by
 * the training code shared with quant/pq.c (quant/pq_train.c); a code is 4
 * bits, a vector takes Mp / 2 bytes, Mp = M rounded up to even (an odd M
 * gets one padding sub-space whose codes are 0 and whose table entries are
 * 0).
 *
 * Storage: the codes live only in FastScan blocks of 32 vectors (the layout
 * of André et al., "Cache locality is not enough: High-Performance Nearest
 * Neighbor Search with Product Quantization Fast Scan", VLDB 2015, and Faiss'
 * IndexPQFastScan; the exact byte order is stated in pq4fs_internal.h):
 * block b holds vectors 32b .. 32b + 31, Mp x 16 bytes, sub-space s of slot
 * v at byte s * 16 + (v & 15), low nibble for v < 16, high nibble otherwise.
 * The last block's unused slots are code 0. A single vector's codes are
 * read from its block (Mp / 2 scattered bytes); that is the slow path, used
 * by graph walks over this store and by decode.
 *
 * Scores (internal, smaller is better):
 *   dist / dist_batch / dist_range / dist_pairs: exact ADC in float,
 *        sum_s lut[s][code_s] with lut[s][c] = ||q_s - C_s,c||^2 (l2) or
 *        -<q_s, C_s,c> (ip; cosine after normalising the query) — the score
 *        of the query and decode(x), like pq.
 *   block score (cn_block_ops_t.score, the FastScan path): the float table
 *        quantized per query to u8, with one scale a for all sub-spaces and a
 *        bias per sub-space (Faiss' scheme):
 *            b_s = min_c lut[s][c],  a = 255 / max_s (max_c lut[s][c] - b_s),
 *            lut8[s][c] = round((lut[s][c] - b_s) * a)  (in 0..255),
 *        and a block kernel adds the u8 entries of 32 vectors at once
 *        (pshufb; scalar, AVX2 and AVX-512 kernels give identical integer
 *        sums S); the score is sum_s b_s + S / a. Rounding moves each entry
 *        by at most 0.5 / a, so |block score - dist| <= M * 0.5 / a plus a
 *        float-rounding margin: that bound is returned with the scores, and
 *        a caller that needs exact results (index/flat.c) re-scores with
 *        dist only the slots whose lower bound beats its k-th best.
 *   set_query_id(id) makes decode(id) the query (not renormalised).
 *
 * File payload (after the generic store header): u32 magic "PQ4F", u32 M,
 * 16 x dim f32 codebooks (sub-space s: 16 rows of its width, at 16 * its
 * first dimension), ceil(n / 32) x Mp x 16 code bytes. Transposed codebooks
 * are recomputed on load; lengths are checked before allocating and
 * non-finite codebook entries are CN_EFORMAT.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "quant/vec_util.h"
#include "cannoli/registry.h"
#include "quant/kmeans.h"
#include "quant/pq4fs_internal.h"
#include "quant/pq_internal.h"

#define PQ4_MAGIC 0x46345150u /* "PQ4F" little-endian */
#define KSUB 16u

typedef struct pq4_quantizer {
    cn_quantizer_t base;
    uint32_t M;
    uint64_t train_size, seed;
    uint32_t iterations;
    cn_kmeans_init_t init;
    float *codebooks; /* 16 x dim, NULL until trained */
} pq4_quantizer_t;

typedef struct pq4_store {
    cn_store_t base;
    uint32_t M, Mp;
    size_t nblocks, bb; /* blocks, bytes per block (Mp * 16) */
    float *codebooks;   /* 16 x dim: sub-space s at 16 * off(s), 16 rows of width w(s) */
    float *cbt;         /* same, each sub-space transposed (w(s) x 16) */
    uint8_t *codes;     /* nblocks x bb */
} pq4_store_t;

typedef struct pq4_eval {
    cn_evaluator_t base;
    const pq4_store_t *ps;
    const cn_pq4fs_kernels_t *k;
    float *lut;      /* Mp x 16 (padding sub-space 0) */
    uint8_t *lut8;   /* Mp x 16 */
    float bias, inv_a, bound;
    int degenerate;  /* the table has non-finite entries: no block estimate */
    float *qbuf;     /* dim */
    float *pair_lut; /* Mp x 16, then dim floats of scratch */
} pq4_eval_t;

static const cn_store_ops_t pq4_store_ops;

/* ---- kernels ------------------------------------------------------------------ */

static void block_scalar(const uint8_t *block, const uint8_t *lut, size_t Mp, uint32_t *sums) {
    for (size_t v = 0; v < CN_PQ4FS_BLOCK; v++) sums[v] = 0;
    for (size_t s = 0; s < Mp; s++) {
        const uint8_t *b = block + s * 16, *t = lut + s * 16;
        for (size_t j = 0; j < 16; j++) {
            sums[j] += t[b[j] & 15];
            sums[j + 16] += t[b[j] >> 4];
        }
    }
}

const cn_pq4fs_kernels_t cn_pq4fs_kernels_scalar = {block_scalar};

const cn_pq4fs_kernels_t *cn_pq4fs_kernels_at(cn_simd_level_t level) {
    if (level > cn_simd_detect()) return NULL;
    switch (level) {
    case CN_SIMD_SCALAR: return &cn_pq4fs_kernels_scalar;
#ifdef CN_HAVE_AVX2
    case CN_SIMD_AVX2: return &cn_pq4fs_kernels_avx2;
#endif
#ifdef CN_HAVE_AVX512
    case CN_SIMD_AVX512: return &cn_pq4fs_kernels_avx512;
#endif
    default: return NULL;
    }
}

/* ---- tables ------------------------------------------------------------------- */

static void transpose_codebooks(const float *cb, size_t dim, size_t M, float *cbt) {
    for (size_t s = 0; s < M; s++) {
        size_t o = KSUB * cn_pq_sub_off(dim, M, s), w = cn_pq_sub_width(dim, M, s);
        for (size_t c = 0; c < KSUB; c++)
            for (size_t j = 0; j < w; j++) cbt[o + j * KSUB + c] = cb[o + c * w + j];
    }
}

/* lut[s * 16 + c] = score of q's sub-vector s to centroid c; padding 0. */
static void build_lut(const pq4_store_t *ps, const float *q, float *lut) {
    const size_t dim = ps->base.dim, M = ps->M;
    const int dot = ps->base.metric != CN_METRIC_L2;
    for (size_t s = 0; s < M; s++) {
        size_t o = cn_pq_sub_off(dim, M, s), w = cn_pq_sub_width(dim, M, s);
        const float *ct = ps->cbt + KSUB * o;
        const float *qs = q + o;
        float l[KSUB];
        for (size_t c = 0; c < KSUB; c++) l[c] = 0.0f;
        for (size_t j = 0; j < w; j++) {
            const float qj = qs[j];
            const float *col = ct + j * KSUB;
            if (dot) {
                for (size_t c = 0; c < KSUB; c++) l[c] -= qj * col[c];
            } else {
                for (size_t c = 0; c < KSUB; c++) {
                    float t = qj - col[c];
                    l[c] += t * t;
                }
            }
        }
        memcpy(lut + s * KSUB, l, sizeof l);
    }
    for (size_t s = M; s < ps->Mp; s++) memset(lut + s * KSUB, 0, KSUB * sizeof(float));
}

/* The FastScan table quantization (see the top and pq4fs_internal.h). */
void cn_pq4fs_quantize_lut(const float *lut, size_t M, size_t Mp, cn_pq4fs_lut8_t *out) {
    float range = 0.0f;
    double bias = 0.0, mag = 0.0;
    for (size_t s = 0; s < M; s++) {
        const float *l = lut + s * KSUB;
        float mn = l[0], mx = l[0], am = fabsf(l[0]);
        for (size_t c = 1; c < KSUB; c++) {
            mn = l[c] < mn ? l[c] : mn;
            mx = l[c] > mx ? l[c] : mx;
            am = fabsf(l[c]) > am ? fabsf(l[c]) : am;
        }
        if (mx - mn > range) range = mx - mn;
        bias += mn;
        mag += am;
    }
    float a = range > 0.0f && isfinite(255.0f / range) ? 255.0f / range : 1.0f;
    for (size_t s = 0; s < M; s++) {
        const float *l = lut + s * KSUB;
        float mn = l[0];
        for (size_t c = 1; c < KSUB; c++) mn = l[c] < mn ? l[c] : mn;
        for (size_t c = 0; c < KSUB; c++) {
            float x = (l[c] - mn) * a + 0.5f;
            out->lut8[s * KSUB + c] = (uint8_t)(x >= 255.0f ? 255 : x <= 0.0f ? 0 : (int)x);
        }
    }
    memset(out->lut8 + M * KSUB, 0, (Mp - M) * KSUB);
    out->bias = (float)bias;
    out->inv_a = 1.0f / a;
    out->mag = (float)mag;
    /* M half-steps of rounding (a clamped entry is off by less than one
     * half-step too), plus float rounding of the two M-term sums. */
    out->bound = (float)(0.5 * (double)M / a * 1.0001 + 1e-6 * (double)(M + 8) * mag) + 1e-30f;
    /* Table entries too large for float (|x| ~ 1e19 and more): no usable
     * estimate (callers then score -inf with an infinite bound, so every
     * slot passes every filter and falls back to dist()). */
    out->degenerate = !isfinite(out->bound) || !isfinite(out->bias) || !(a > 0.0f);
}

static void quantize_lut(pq4_eval_t *ev) {
    cn_pq4fs_lut8_t t = {.lut8 = ev->lut8};
    cn_pq4fs_quantize_lut(ev->lut, ev->ps->M, ev->ps->Mp, &t);
    ev->bias = t.bias;
    ev->inv_a = t.inv_a;
    ev->bound = t.bound;
    ev->degenerate = t.degenerate;
}

static void decode_codes(const pq4_store_t *ps, uint32_t id, float *out) {
    const size_t dim = ps->base.dim, M = ps->M;
    const uint8_t *blk = ps->codes + (size_t)(id / CN_PQ4FS_BLOCK) * ps->bb;
    unsigned v = id % CN_PQ4FS_BLOCK;
    for (size_t s = 0; s < M; s++) {
        size_t o = cn_pq_sub_off(dim, M, s), w = cn_pq_sub_width(dim, M, s);
        unsigned c = cn_pq4fs_code(blk, s, v);
        memcpy(out + o, ps->codebooks + KSUB * o + c * w, w * sizeof(float));
    }
}

/* Exact ADC of one stored vector (four accumulators, the same order on
 * every path, so dist, dist_batch, dist_range and dist_pairs agree bitwise). */
static inline float sum_id(const pq4_store_t *ps, const float *lut, uint32_t id) {
    const uint8_t *blk = ps->codes + (size_t)(id / CN_PQ4FS_BLOCK) * ps->bb;
    const size_t M = ps->M;
    const unsigned v = id % CN_PQ4FS_BLOCK, j = v & 15, sh = v < 16 ? 0 : 4;
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t s = 0;
    for (; s + 4 <= M; s += 4) {
        s0 += lut[s * 16 + ((blk[s * 16 + j] >> sh) & 15)];
        s1 += lut[(s + 1) * 16 + ((blk[(s + 1) * 16 + j] >> sh) & 15)];
        s2 += lut[(s + 2) * 16 + ((blk[(s + 2) * 16 + j] >> sh) & 15)];
        s3 += lut[(s + 3) * 16 + ((blk[(s + 3) * 16 + j] >> sh) & 15)];
    }
    for (; s < M; s++) s0 += lut[s * 16 + ((blk[s * 16 + j] >> sh) & 15)];
    return (s0 + s1) + (s2 + s3);
}

/* ---- evaluator ---------------------------------------------------------------- */

static cn_status_t ev_set_query(cn_evaluator_t *e, const cn_vec_t *q, char *err, size_t errlen) {
    pq4_eval_t *ev = (pq4_eval_t *)e;
    cn_status_t st = cn_query_take(q, ev->ps->base.dim, ev->ps->base.metric, ev->qbuf, "pq4fs",
                                   err, errlen);
    if (st != CN_OK) return st;
    build_lut(ev->ps, ev->qbuf, ev->lut);
    quantize_lut(ev);
    return CN_OK;
}

static void ev_set_query_id(cn_evaluator_t *e, uint32_t id) {
    pq4_eval_t *ev = (pq4_eval_t *)e;
    decode_codes(ev->ps, id, ev->qbuf);
    build_lut(ev->ps, ev->qbuf, ev->lut);
    quantize_lut(ev);
}

static void ev_dist_batch(cn_evaluator_t *e, const uint32_t *ids, size_t n, float *out) {
    pq4_eval_t *ev = (pq4_eval_t *)e;
    for (size_t i = 0; i < n; i++) out[i] = sum_id(ev->ps, ev->lut, ids[i]);
}

static float ev_dist(cn_evaluator_t *e, uint32_t id) {
    pq4_eval_t *ev = (pq4_eval_t *)e;
    return sum_id(ev->ps, ev->lut, id);
}

static void ev_dist_range(cn_evaluator_t *e, uint32_t start, size_t n, float *out) {
    pq4_eval_t *ev = (pq4_eval_t *)e;
    for (size_t i = 0; i < n; i++) out[i] = sum_id(ev->ps, ev->lut, start + (uint32_t)i);
}

static void ev_dist_pairs(cn_evaluator_t *e, uint32_t a, const uint32_t *ids, size_t n,
                          float *out) {
    pq4_eval_t *ev = (pq4_eval_t *)e;
    const pq4_store_t *ps = ev->ps;
    float *tmp = ev->pair_lut + (size_t)ps->Mp * KSUB;
    decode_codes(ps, a, tmp);
    build_lut(ps, tmp, ev->pair_lut);
    for (size_t i = 0; i < n; i++) out[i] = sum_id(ps, ev->pair_lut, ids[i]);
}

static void ev_destroy(cn_evaluator_t *e) {
    pq4_eval_t *ev = (pq4_eval_t *)e;
    cn_aligned_free(ev->lut);
    cn_aligned_free(ev->lut8);
    cn_aligned_free(ev->qbuf);
    cn_aligned_free(ev->pair_lut);
    cn_free(ev);
}

static const cn_evaluator_ops_t pq4_eval_ops = {
    ev_set_query, ev_set_query_id, ev_dist,      ev_dist_batch,
    ev_dist_range, ev_dist_pairs,  ev_destroy,
    NULL, /* no prefetch */
};

cn_status_t cn_pq4fs_evaluator_create_at(const cn_store_t *s, cn_simd_level_t level,
                                         cn_evaluator_t **out, char *err, size_t errlen) {
    *out = NULL;
    if (!cn_store_is_pq4fs(s))
        return cn_error(err, errlen, CN_EINVAL, "pq4fs evaluator: not a pq4fs store");
    const cn_pq4fs_kernels_t *k = cn_pq4fs_kernels_at(level);
    if (!k)
        return cn_error(err, errlen, CN_EUNSUPPORTED,
                        "pq4fs evaluator: SIMD level %s unavailable", cn_simd_name(level));
    const pq4_store_t *ps = (const pq4_store_t *)s;
    const size_t Mp = ps->Mp;
    pq4_eval_t *ev = cn_calloc(1, sizeof *ev);
    if (!ev) return cn_error(err, errlen, CN_ENOMEM, "out of memory creating an evaluator");
    ev->base.ops = &pq4_eval_ops;
    ev->base.store = s;
    ev->ps = ps;
    ev->k = k;
    ev->lut = cn_aligned_alloc(Mp * KSUB * sizeof(float));
    ev->lut8 = cn_aligned_alloc(Mp * KSUB);
    ev->qbuf = cn_aligned_alloc((size_t)s->dim * sizeof(float));
    ev->pair_lut = cn_aligned_alloc((Mp * KSUB + s->dim) * sizeof(float));
    if (!ev->lut || !ev->lut8 || !ev->qbuf || !ev->pair_lut) {
        ev_destroy(&ev->base);
        return cn_error(err, errlen, CN_ENOMEM, "out of memory creating an evaluator");
    }
    /* Until a query is set, every distance is 0 (a defined state). */
    memset(ev->lut, 0, Mp * KSUB * sizeof(float));
    memset(ev->lut8, 0, Mp * KSUB);
    memset(ev->qbuf, 0, (size_t)s->dim * sizeof(float));
    ev->inv_a = 1.0f;
    *out = &ev->base;
    return CN_OK;
}

static cn_status_t pq4_evaluator_create(const cn_store_t *s, cn_evaluator_t **out, char *err,
                                        size_t errlen) {
    cn_simd_level_t l = cn_simd_level();
    while (l > CN_SIMD_SCALAR && !cn_pq4fs_kernels_at(l)) l = (cn_simd_level_t)(l - 1);
    return cn_pq4fs_evaluator_create_at(s, l, out, err, errlen);
}

const uint8_t *cn_pq4fs_eval_lut8(const cn_evaluator_t *e, size_t *Mp) {
    const pq4_eval_t *ev = (const pq4_eval_t *)e;
    *Mp = ev->ps->Mp;
    return ev->lut8;
}

/* ---- packed code blocks --------------------------------------------------------- */

static size_t blk_bytes(const cn_store_t *s) { return ((const pq4_store_t *)s)->bb; }

static void blk_pack(const cn_store_t *s, const uint32_t *ids, size_t n, uint8_t *block) {
    const pq4_store_t *ps = (const pq4_store_t *)s;
    memset(block, 0, ps->bb);
    for (size_t i = 0; i < n && i < CN_PQ4FS_BLOCK; i++) {
        const uint8_t *src = ps->codes + (size_t)(ids[i] / CN_PQ4FS_BLOCK) * ps->bb;
        unsigned v = ids[i] % CN_PQ4FS_BLOCK, sh = i < 16 ? 0 : 4;
        for (size_t sub = 0; sub < ps->M; sub++)
            block[sub * 16 + (i & 15)] |= (uint8_t)(cn_pq4fs_code(src, sub, v) << sh);
    }
}

static const uint8_t *blk_store_blocks(const cn_store_t *s) {
    return ((const pq4_store_t *)s)->codes;
}

static float blk_score(cn_evaluator_t *e, const uint8_t *block, float *out) {
    pq4_eval_t *ev = (pq4_eval_t *)e;
    if (ev->degenerate) {
        for (size_t v = 0; v < CN_PQ4FS_BLOCK; v++) out[v] = -INFINITY;
        return INFINITY;
    }
    uint32_t sums[CN_PQ4FS_BLOCK];
    ev->k->block(block, ev->lut8, ev->ps->Mp, sums);
    const float bias = ev->bias, inv = ev->inv_a;
    /* sums <= 255 * 65536 < 2^31: signed conversion (one instruction) */
    for (size_t v = 0; v < CN_PQ4FS_BLOCK; v++) out[v] = bias + (float)(int32_t)sums[v] * inv;
    return ev->bound;
}

static const cn_block_ops_t pq4_block_ops = {
    .width = CN_PQ4FS_BLOCK,
    .block_bytes = blk_bytes,
    .pack = blk_pack,
    .store_blocks = blk_store_blocks,
    .score = blk_score,
    .score_lb = NULL, /* the block bound is deterministic; no bound on the original */
};

/* ---- store -------------------------------------------------------------------- */

int cn_store_is_pq4fs(const cn_store_t *s) { return s && s->ops == &pq4_store_ops; }

static size_t pq4_bytes(const cn_store_t *s) {
    const pq4_store_t *ps = (const pq4_store_t *)s;
    return sizeof *ps + ps->nblocks * ps->bb + 2 * (size_t)KSUB * s->dim * sizeof(float);
}

static void pq4_decode(const cn_store_t *s, uint32_t i, float *out) {
    decode_codes((const pq4_store_t *)s, i, out);
}

static void pq4_save(const cn_store_t *s, cn_writer_t *w) {
    const pq4_store_t *ps = (const pq4_store_t *)s;
    cn_write_u32(w, PQ4_MAGIC);
    cn_write_u32(w, ps->M);
    /* Floats in host order; cannoli targets little-endian hosts. */
    cn_write(w, ps->codebooks, (size_t)KSUB * s->dim * sizeof(float));
    cn_write(w, ps->codes, ps->nblocks * ps->bb);
}

static void pq4_destroy(cn_store_t *s) {
    pq4_store_t *ps = (pq4_store_t *)s;
    cn_aligned_free(ps->codebooks);
    cn_aligned_free(ps->cbt);
    cn_aligned_free(ps->codes);
    cn_free(ps);
}

static const cn_store_ops_t pq4_store_ops = {
    "pq4fs", pq4_evaluator_create, pq4_bytes, pq4_decode, pq4_save, pq4_destroy,
    NULL, /* no build-only scratch */
    &pq4_block_ops,
    NULL, /* scores are those of decode(i) */
};

/* A store with zeroed codes and unset codebooks (cbt filled by the caller
 * through store_finish once the codebooks are in). */
static cn_status_t store_alloc(pq4_store_t **out, cn_metric_t metric, uint32_t n, uint32_t dim,
                               uint32_t M, char *err, size_t errlen) {
    *out = NULL;
    pq4_store_t *ps = cn_calloc(1, sizeof *ps);
    if (!ps) return cn_error(err, errlen, CN_ENOMEM, "pq4fs store: out of memory");
    ps->base.ops = &pq4_store_ops;
    ps->base.metric = metric;
    ps->base.n = n;
    ps->base.dim = dim;
    ps->base.refs = 1;
    ps->M = M;
    ps->Mp = M + (M & 1);
    ps->bb = (size_t)ps->Mp * 16;
    ps->nblocks = ((size_t)n + CN_PQ4FS_BLOCK - 1) / CN_PQ4FS_BLOCK;
    ps->codebooks = cn_aligned_alloc((size_t)KSUB * dim * sizeof(float));
    ps->cbt = cn_aligned_alloc((size_t)KSUB * dim * sizeof(float));
    ps->codes = cn_aligned_alloc(ps->nblocks * ps->bb);
    if (!ps->codebooks || !ps->cbt || !ps->codes) {
        pq4_destroy(&ps->base);
        return cn_error(err, errlen, CN_ENOMEM, "pq4fs store: out of memory for %u x %u codes",
                        n, M);
    }
    memset(ps->codes, 0, ps->nblocks * ps->bb);
    *out = ps;
    return CN_OK;
}

static cn_status_t pq4_load(cn_store_t **out, cn_reader_t *r, cn_metric_t metric, uint32_t n,
                            uint32_t dim, char *err, size_t errlen) {
    *out = NULL;
    const char *path = r->path ? r->path : "index file";
    uint32_t magic = cn_read_u32(r), M = cn_read_u32(r);
    if (r->st != CN_OK)
        return cn_error(err, errlen, CN_EFORMAT, "%s: pq4fs store header is truncated", path);
    if (magic != PQ4_MAGIC)
        return cn_error(err, errlen, CN_EFORMAT, "%s: pq4fs store has a bad magic number", path);
    if (M == 0 || M > dim)
        return cn_error(err, errlen, CN_EFORMAT,
                        "%s: pq4fs store has invalid subspaces %u for dimension %u", path, M,
                        dim);
    uint64_t rem = cn_reader_remaining(r);
    uint64_t cb_bytes = (uint64_t)KSUB * dim * sizeof(float);
    uint64_t bb = (uint64_t)(M + (M & 1)) * 16, nb = ((uint64_t)n + CN_PQ4FS_BLOCK - 1) / 32;
    if (cb_bytes > rem || nb > (rem - cb_bytes) / bb)
        return cn_error(err, errlen, CN_EFORMAT,
                        "%s: pq4fs store of %u vectors x %u sub-spaces is truncated", path, n, M);
    pq4_store_t *ps;
    cn_status_t st = store_alloc(&ps, metric, n, dim, M, err, errlen);
    if (st != CN_OK) return st;
    if (cn_read(r, ps->codebooks, (size_t)cb_bytes) != CN_OK ||
        cn_read(r, ps->codes, ps->nblocks * ps->bb) != CN_OK) {
        pq4_destroy(&ps->base);
        return cn_error(err, errlen, CN_EFORMAT, "%s: pq4fs store is truncated", path);
    }
    for (size_t i = 0; i < cb_bytes / sizeof(float); i++) {
        if (!isfinite(ps->codebooks[i])) {
            pq4_destroy(&ps->base);
            return cn_error(err, errlen, CN_EFORMAT,
                            "%s: pq4fs store has a non-finite codebook value", path);
        }
    }
    transpose_codebooks(ps->codebooks, dim, M, ps->cbt);
    *out = &ps->base;
    return CN_OK;
}

/* ---- quantizer ---------------------------------------------------------------- */

static cn_status_t check_input(const pq4_quantizer_t *q, const cn_store_t *full, char *err,
                               size_t errlen) {
    return cn_pq_check_input("pq4fs", q->base.dim, q->base.metric, full, err, errlen);
}

static cn_status_t pq4_train(cn_quantizer_t *qq, const cn_store_t *full, char *err,
                             size_t errlen) {
    pq4_quantizer_t *q = (pq4_quantizer_t *)qq;
    cn_status_t st = check_input(q, full, err, errlen);
    if (st != CN_OK) return st;
    const size_t n = full->n;
    size_t ntr = n <= q->train_size ? n : (size_t)q->train_size;
    if (ntr < KSUB)
        return cn_error(err, errlen, CN_EINVAL,
                        "quantizer 'pq4fs': %zu training vectors (train_size %llu, store of "
                        "%zu) are fewer than the 16 centroids per sub-space",
                        ntr, (unsigned long long)q->train_size, n);
    const cn_pq_train_params_t tp = {q->M,          KSUB,    q->train_size,  q->seed,
                                     q->iterations, q->init, q->base.metric};
    float *cb;
    st = cn_pq_train_codebooks("pq4fs", full, &tp, &cb, err, errlen);
    if (st != CN_OK) return st;
    cn_aligned_free(q->codebooks);
    q->codebooks = cb;
    return CN_OK;
}

static cn_status_t pq4_encode(const cn_quantizer_t *qq, cn_store_t *full, cn_store_t **out,
                              char *err, size_t errlen) {
    const pq4_quantizer_t *q = (const pq4_quantizer_t *)qq;
    *out = NULL;
    if (!q->codebooks)
        return cn_error(err, errlen, CN_EINVAL, "quantizer 'pq4fs': encode before train");
    cn_status_t st = check_input(q, full, err, errlen);
    if (st != CN_OK) return st;
    pq4_store_t *ps;
    const size_t dim = q->base.dim, M = q->M, n = full->n;
    st = store_alloc(&ps, q->base.metric, full->n, q->base.dim, q->M, err, errlen);
    if (st != CN_OK) return st;
    memcpy(ps->codebooks, q->codebooks, KSUB * dim * sizeof(float));
    transpose_codebooks(ps->codebooks, dim, M, ps->cbt);
    long lnb = (long)ps->nblocks;
    /* One block per iteration: a block is written by one thread only. */
#pragma omp parallel for schedule(static, 8)
    for (long b = 0; b < lnb; b++) {
        uint8_t *blk = ps->codes + (size_t)b * ps->bb;
        for (unsigned v = 0; v < CN_PQ4FS_BLOCK; v++) {
            size_t i = (size_t)b * CN_PQ4FS_BLOCK + v;
            if (i >= n) break;
            const float *x = cn_store_dense_row(full, (uint32_t)i);
            for (size_t s = 0; s < M; s++) {
                size_t o = cn_pq_sub_off(dim, M, s), w = cn_pq_sub_width(dim, M, s);
                uint32_t c = cn_kmeans_nearest(ps->codebooks + KSUB * o, KSUB, w, x + o, NULL);
                blk[s * 16 + (v & 15)] |= (uint8_t)(c << (v < 16 ? 0 : 4));
            }
        }
    }
    *out = &ps->base;
    return CN_OK;
}

static size_t pq4_bpv(const cn_quantizer_t *qq) {
    const pq4_quantizer_t *q = (const pq4_quantizer_t *)qq;
    return (q->M + 1) / 2;
}

static void pq4_qdestroy(cn_quantizer_t *qq) {
    pq4_quantizer_t *q = (pq4_quantizer_t *)qq;
    cn_aligned_free(q->codebooks);
    cn_free(q);
}

/* One sub-space fits every dimension (and 16 centroids 256 training rows). */
static const cn_param_t pq4_small_items[] = {
    {.key = "subspaces", .type = CN_PARAM_INT, .i = 1, .f = 1},
};

/* dist and its batch/range/pairs forms sum exact float table entries (the
 * FastScan block scores carry their own per-query bound, see the top). */
static const cn_quantizer_ops_t pq4_quantizer_ops = {
    .name = "pq4fs",
    .train = pq4_train,
    .encode = pq4_encode,
    .bytes_per_vector = pq4_bpv,
    .destroy = pq4_qdestroy,
    .dist_rtol = 1e-5f,
    .dist_atol = 1e-5f,
    .small_params = {pq4_small_items, sizeof pq4_small_items / sizeof pq4_small_items[0]},
};

static cn_status_t pq4_create(cn_quantizer_t **out, cn_metric_t metric, uint32_t dim,
                              const cn_params_t *params, char *err, size_t errlen) {
    *out = NULL;
    long long M = cn_params_get_int(params, "subspaces");
    long long train_size = cn_params_get_int(params, "train_size");
    if (dim == 0) return cn_error(err, errlen, CN_EINVAL, "quantizer 'pq4fs': dimension is 0");
    if (M < 1 || M > (long long)dim)
        return cn_error(err, errlen, CN_EINVAL,
                        "quantizer 'pq4fs': subspaces = %lld is not in [1, dimension %u]", M,
                        dim);
    if (train_size < (long long)KSUB)
        return cn_error(err, errlen, CN_EINVAL,
                        "quantizer 'pq4fs': train_size = %lld is below the 16 centroids per "
                        "sub-space",
                        train_size);
    cn_pq_train_params_t kp;
    cn_status_t st = cn_pq_parse_kmeans_params("pq4fs", params, &kp, err, errlen);
    if (st != CN_OK) return st;
    pq4_quantizer_t *q = cn_calloc(1, sizeof *q);
    if (!q) return cn_error(err, errlen, CN_ENOMEM, "out of memory");
    q->base.ops = &pq4_quantizer_ops;
    q->base.metric = metric;
    q->base.dim = dim;
    q->M = (uint32_t)M;
    q->train_size = (uint64_t)train_size;
    q->iterations = kp.iterations;
    q->seed = kp.seed;
    q->init = kp.init;
    *out = &q->base;
    return CN_OK;
}

static const cn_param_spec_t pq4_params[] = {
    {"subspaces", CN_PARAM_INT, CN_ROLE_BUILD, 1, 65536, "16", NULL,
     "number of sub-spaces M (<= dimension; widths differ by at most 1); "
     "bytes per vector = ceil(M / 2)",
     0},
    {"train_size", CN_PARAM_INT, CN_ROLE_BUILD, 1, 2147483647.0, "100000", NULL,
     "rows sampled (seeded) to train the codebooks; all rows if fewer", 0},
    {"iterations", CN_PARAM_INT, CN_ROLE_BUILD, 1, 1000, "25", NULL,
     "k-means iterations per sub-space", 0},
    {"seed", CN_PARAM_INT, CN_ROLE_BUILD, 0, 9007199254740991.0, "42", NULL,
     "seed of the training sample and the k-means initialisation", 0},
    {"init", CN_PARAM_STRING, CN_ROLE_BUILD, 0, 0, "kmeans++", "kmeans++|random",
     "k-means initialisation", 0},
};

const cn_component_t cn_component_pq4fs = {
    .name = "pq4fs",
    .kind = CN_COMPONENT_QUANTIZER,
    .help = "4-bit product quantization in FastScan blocks of 32 (u8 lookup tables, pshufb)",
    .params = pq4_params,
    .n_params = sizeof pq4_params / sizeof pq4_params[0],
    .create_quantizer = pq4_create,
    .store_name = "pq4fs",
    .store_load = pq4_load,
};
