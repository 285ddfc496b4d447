/*
 * quant/rabitq.c — RaBitQ-style 1-bit quantization in FastScan blocks:
 * quantizer "rabitq", store "rabitq".
 *
 * After Gao & Long, "RaBitQ: Quantizing High-Dimensional Vectors with a
 * Theoretical Error Bound for Approximate Nearest Neighbor Search", SIGMOD
 * 2024 (arXiv 2405.12497), in the block form SymphonyQG uses (Gou et al.,
 * arXiv 2411.12229).
 *
 * Training: the centroid c = mean of the input vectors, and a random
 * orthogonal matrix P of D' x D' (D' = dim rounded up to a multiple of 8,
 * vectors zero-padded to D'): a seeded Gaussian matrix whose rows are
 * orthonormalised by modified Gram-Schmidt (in double, stored as float).
 *
 * Encoding vector o (every metric centres on c: o = c + r): u = P r / |P r|,
 * bit b_i = [u_i > 0] for i < D', x = (2b - 1) / sqrt(D') and
 * <x, u> = sum |u_i| / sqrt(D') (>= 1 / D'). With alpha = |r| / (sqrt(D')
 * <x, u>), the quantized vector in the rotated space is y = alpha (2b - 1)
 * = |r| x / <x, u>. A vector with r = 0 gets all-ones bits and alpha = 0.
 *
 * Estimator (internal scores, smaller is better). With S = sum of qr_i over
 * the set bits and h = sum(qr) / 2, <y, qr> = 2 alpha (S - h), so every
 * score is   est = f_add + qconst + f_rescale * (S - h):
 *   l2:        qr = P (q - c), f_add = |r|^2, f_rescale = -4 alpha,
 *              qconst = |q - c|^2   (est = |r|^2 + |q - c|^2 - 2 <y, qr>);
 *   ip/cosine: qr = P q, f_add = 0, f_rescale = -2 alpha, qconst = -<c, q>
 *              (est = -<c, q> - <y, qr>; cosine: the store sees normalised
 *              vectors, set_query normalises the query).
 * decode(i) = c + P^T y (its first dim coordinates). Then for ip/cosine
 * est == -<decode(i), q> exactly in real arithmetic (the same float P is on
 * both sides), and for l2 est == |decode(i) - q|^2 + delta_i with
 * delta_i = |r|^2 - |P^T y|_dim|^2, a per-vector term independent of the
 * query (the estimator keeps the true norm): the store's score_offset op.
 *
 * Error bound (RaBitQ Theorem 3.2, with high probability over P): with
 * f_err = k |r| sqrt(1 / <x, u>^2 - 1) / sqrt(D' - 1), k = 2 for l2, 1 for
 * ip, |est - score(q, o)| <= eps0 |qr| f_err (eps0 = parameter `eps0`, kept
 * in the store).
 *
 * Storage: FastScan blocks of 32 vectors laid out as pq4fs's
 * (quant/pq4fs_internal.h) with M = D' / 4 "sub-spaces" of 4 bits, code of
 * sub-space s = b_4s | b_4s+1 << 1 | b_4s+2 << 2 | b_4s+3 << 3, followed by
 * the factors of the 32 slots so that a block is self-contained:
 *   [M x 16 code bytes][32 f32 f_add][32 f32 f_rescale][32 f32 f_err].
 * The per-query table lut[s][code] = sum of qr_4s+j over the set bits j of
 * code gives S = sum_s lut[s][code_s]:
 *   dist / dist_batch / dist_range / dist_pairs sum the float table (one
 *        function, so they agree bitwise);
 *   block score quantizes it to u8 as pq4fs does (bias per sub-space, one
 *        scale a) and sums it with the pq4fs block kernel; |S8 - S| <=
 *        M / (2a) (+ float margin), so the returned bound is that times the
 *        block's largest |f_rescale| plus float margins;
 *   score_lb: lo[i] = out[i] - bound - eps0 |qr| f_err[i].
 *   set_query_id(id) makes decode(id) the query (not renormalised).
 *
 * File payload (after the generic store header): u32 magic "RBQ1", u32 D',
 * f32 eps0, dim f32 centroid, D' x D' f32 rotation (row-major), ceil(n / 32)
 * blocks. Lengths are checked before allocating; non-finite values are
 * CN_EFORMAT.
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

#define RBQ_MAGIC 0x31514252u /* "RBQ1" little-endian */
#define RBQ_W CN_PQ4FS_BLOCK  /* 32 */

typedef struct rbq_quantizer {
    cn_quantizer_t base;
    uint64_t seed;
    float eps0;
    uint32_t Dp;
    float *centroid; /* dim, NULL until trained */
    float *rot;      /* Dp x Dp */
} rbq_quantizer_t;

typedef struct rbq_store {
    cn_store_t base;
    uint32_t Dp, M;     /* padded dimension, M = Dp / 4 sub-spaces */
    size_t nblocks, bb; /* blocks, bytes per block */
    float eps0;
    float *centroid; /* Dp (zero beyond dim) */
    float *rot;      /* Dp x Dp, row-major */
    float *rott;     /* its transpose (recomputed on load): P v column by column */
    uint8_t *codes;  /* nblocks x bb */
} rbq_store_t;

/* One prepared query: float table, its u8 form and constants. */
typedef struct rbq_query {
    float *lut;    /* M x 16 */
    uint8_t *lut8; /* M x 16 (block path only) */
    float qconst, half, qnorm;
    float bias, inv_a, sbound, smag;
    int degenerate;
} rbq_query_t;

typedef struct rbq_eval {
    cn_evaluator_t base;
    const rbq_store_t *rs;
    const cn_pq4fs_kernels_t *k;
    rbq_query_t q;
    float *pair_lut; /* M x 16 (dist_pairs) */
    float *buf;      /* 3 x Dp scratch */
} rbq_eval_t;

static const cn_store_ops_t rbq_store_ops;

static inline uint32_t pad_dim(uint32_t dim) { return (dim + 7u) & ~7u; }

static inline const float *blk_factors(const rbq_store_t *rs, const uint8_t *blk) {
    return (const float *)(const void *)(blk + (size_t)rs->M * 16);
}

/* out[0..Dp) = P v for v of dim floats (zero beyond), accumulated in double
 * column by column (the transposed copy: contiguous, vectorises); acc: Dp
 * doubles of scratch. */
static void rotate(const rbq_store_t *rs, const float *v, float *out, double *acc) {
    const size_t dim = rs->base.dim, Dp = rs->Dp;
    for (size_t i = 0; i < Dp; i++) acc[i] = 0.0;
    for (size_t j = 0; j < dim; j++) {
        const float *col = rs->rott + j * Dp;
        const double vj = v[j];
        for (size_t i = 0; i < Dp; i++) acc[i] += (double)col[i] * vj;
    }
    for (size_t i = 0; i < Dp; i++) out[i] = (float)acc[i];
}

/* ---- query preparation -------------------------------------------------------------- */

/* x: dim floats as the store sees the query. Fills lut and the constants;
 * buf: 2 x Dp floats then Dp doubles of scratch. */
static void prepare(const rbq_store_t *rs, const float *x, float *lut, float *qconst,
                    float *half, float *qnorm, float *buf) {
    const size_t dim = rs->base.dim, Dp = rs->Dp, M = rs->M;
    float *v = buf, *qr = buf + Dp;
    double qc = 0, nn = 0;
    if (rs->base.metric == CN_METRIC_L2) {
        for (size_t j = 0; j < dim; j++) {
            v[j] = x[j] - rs->centroid[j];
            qc += (double)v[j] * v[j];
        }
        nn = qc;
    } else {
        for (size_t j = 0; j < dim; j++) {
            v[j] = x[j];
            qc -= (double)rs->centroid[j] * x[j];
            nn += (double)x[j] * x[j];
        }
    }
    for (size_t j = dim; j < Dp; j++) v[j] = 0.0f;
    rotate(rs, v, qr, (double *)(void *)(buf + 2 * Dp));
    double h = 0;
    for (size_t i = 0; i < Dp; i++) h += qr[i];
    for (size_t s = 0; s < M; s++) {
        float *l = lut + s * 16;
        const float *w = qr + 4 * s;
        l[0] = 0.0f;
        for (unsigned c = 1; c < 16; c++) {
            unsigned low = (unsigned)__builtin_ctz(c);
            l[c] = l[c & (c - 1)] + w[low];
        }
    }
    *qconst = (float)qc;
    *half = (float)(h * 0.5);
    *qnorm = (float)sqrt(nn);
}

/* The u8 table, bias, 1 / scale and the bound on |S8 - S| (pq4fs's). */
static void quantize_lut(const rbq_store_t *rs, rbq_query_t *q) {
    cn_pq4fs_lut8_t t = {.lut8 = q->lut8};
    cn_pq4fs_quantize_lut(q->lut, rs->M, rs->M, &t);
    q->bias = t.bias;
    q->inv_a = t.inv_a;
    q->smag = t.mag;
    q->sbound = t.bound;
    q->degenerate = t.degenerate || !isfinite(q->qconst) || !isfinite(q->half) ||
                    !isfinite(q->qnorm);
}

static void set_prepared(rbq_eval_t *ev, const float *x) {
    prepare(ev->rs, x, ev->q.lut, &ev->q.qconst, &ev->q.half, &ev->q.qnorm, ev->buf + ev->rs->Dp);
    quantize_lut(ev->rs, &ev->q);
}

/* decode(id) into out[dim]: c + P^T y, each coordinate accumulated in double
 * (no scratch: the store's decode op cannot fail). */
static void decode_id(const rbq_store_t *rs, uint32_t id, float *out) {
    const size_t dim = rs->base.dim, Dp = rs->Dp, M = rs->M;
    const uint8_t *blk = rs->codes + (size_t)(id / RBQ_W) * rs->bb;
    const unsigned v = id % RBQ_W;
    const float *f = blk_factors(rs, blk);
    const double alpha = -(double)f[RBQ_W + v] / (rs->base.metric == CN_METRIC_L2 ? 4.0 : 2.0);
    for (size_t j = 0; j < dim; j++) {
        double acc = 0;
        for (size_t sub = 0; sub < M; sub++) {
            const unsigned c = cn_pq4fs_code(blk, sub, v);
            const float *p = rs->rot + 4 * sub * Dp + j;
            for (unsigned b = 0; b < 4; b++)
                acc += (c >> b) & 1u ? (double)p[b * Dp] : -(double)p[b * Dp];
        }
        out[j] = (float)((double)rs->centroid[j] + alpha * acc);
    }
}

/* The exact (float-table) estimate of one stored vector; every per-id path
 * goes through it, so dist, dist_batch, dist_range and dist_pairs agree. */
static inline float est_id(const rbq_store_t *rs, const float *lut, float qconst, float half,
                           uint32_t id) {
    const uint8_t *blk = rs->codes + (size_t)(id / RBQ_W) * rs->bb;
    const size_t M = rs->M;
    const unsigned v = id % RBQ_W, j = v & 15, sh = v < 16 ? 0 : 4;
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t s = 0;
    for (; s + 4 <= M; s += 4) {
        s0 += lut[s * 16 + ((blk[s * 16 + j] >> sh) & 15)];
        s1 += lut[(s + 1) * 16 + ((blk[(s + 1) * 16 + j] >> sh) & 15)];
        s2 += lut[(s + 2) * 16 + ((blk[(s + 2) * 16 + j] >> sh) & 15)];
        s3 += lut[(s + 3) * 16 + ((blk[(s + 3) * 16 + j] >> sh) & 15)];
    }
    for (; s < M; s++) s0 += lut[s * 16 + ((blk[s * 16 + j] >> sh) & 15)];
    const float S = (s0 + s1) + (s2 + s3);
    const float *f = blk_factors(rs, blk);
    return (f[v] + qconst) + f[RBQ_W + v] * (S - half);
}

/* ---- evaluator -------------------------------------------------------------------------- */

static cn_status_t ev_set_query(cn_evaluator_t *e, const cn_vec_t *q, char *err, size_t errlen) {
    rbq_eval_t *ev = (rbq_eval_t *)e;
    cn_status_t st = cn_query_take(q, ev->rs->base.dim, ev->rs->base.metric, ev->buf, "rabitq",
                                   err, errlen);
    if (st != CN_OK) return st;
    set_prepared(ev, ev->buf);
    return CN_OK;
}

static void ev_set_query_id(cn_evaluator_t *e, uint32_t id) {
    rbq_eval_t *ev = (rbq_eval_t *)e;
    decode_id(ev->rs, id, ev->buf);
    set_prepared(ev, ev->buf);
}

static float ev_dist(cn_evaluator_t *e, uint32_t id) {
    rbq_eval_t *ev = (rbq_eval_t *)e;
    return est_id(ev->rs, ev->q.lut, ev->q.qconst, ev->q.half, id);
}

static void ev_dist_batch(cn_evaluator_t *e, const uint32_t *ids, size_t n, float *out) {
    rbq_eval_t *ev = (rbq_eval_t *)e;
    for (size_t i = 0; i < n; i++) out[i] = est_id(ev->rs, ev->q.lut, ev->q.qconst, ev->q.half, ids[i]);
}

static void ev_dist_range(cn_evaluator_t *e, uint32_t start, size_t n, float *out) {
    rbq_eval_t *ev = (rbq_eval_t *)e;
    for (size_t i = 0; i < n; i++)
        out[i] = est_id(ev->rs, ev->q.lut, ev->q.qconst, ev->q.half, start + (uint32_t)i);
}

static void ev_dist_pairs(cn_evaluator_t *e, uint32_t a, const uint32_t *ids, size_t n,
                          float *out) {
    rbq_eval_t *ev = (rbq_eval_t *)e;
    const rbq_store_t *rs = ev->rs;
    float *x = ev->buf + 5 * (size_t)rs->Dp; /* the current query's state stays untouched */
    float qc, h, qn;
    decode_id(rs, a, x);
    prepare(rs, x, ev->pair_lut, &qc, &h, &qn, ev->buf + rs->Dp);
    for (size_t i = 0; i < n; i++) out[i] = est_id(rs, ev->pair_lut, qc, h, ids[i]);
}

static void ev_destroy(cn_evaluator_t *e) {
    rbq_eval_t *ev = (rbq_eval_t *)e;
    cn_aligned_free(ev->q.lut);
    cn_aligned_free(ev->q.lut8);
    cn_aligned_free(ev->pair_lut);
    cn_aligned_free(ev->buf);
    cn_free(ev);
}

static const cn_evaluator_ops_t rbq_eval_ops = {
    ev_set_query,  ev_set_query_id, ev_dist,    ev_dist_batch,
    ev_dist_range, ev_dist_pairs,   ev_destroy,
    NULL, /* no prefetch */
};

static cn_status_t rbq_evaluator_create(const cn_store_t *s, cn_evaluator_t **out, char *err,
                                        size_t errlen) {
    *out = NULL;
    cn_simd_level_t l = cn_simd_level();
    while (l > CN_SIMD_SCALAR && !cn_pq4fs_kernels_at(l)) l = (cn_simd_level_t)(l - 1);
    const cn_pq4fs_kernels_t *k = cn_pq4fs_kernels_at(l);
    if (!k) k = &cn_pq4fs_kernels_scalar;
    const rbq_store_t *rs = (const rbq_store_t *)s;
    const size_t M = rs->M, Dp = rs->Dp;
    rbq_eval_t *ev = cn_calloc(1, sizeof *ev);
    if (!ev) return cn_error(err, errlen, CN_ENOMEM, "out of memory creating an evaluator");
    ev->base.ops = &rbq_eval_ops;
    ev->base.store = s;
    ev->rs = rs;
    ev->k = k;
    ev->q.lut = cn_aligned_alloc(M * 16 * sizeof(float));
    ev->q.lut8 = cn_aligned_alloc(M * 16);
    ev->pair_lut = cn_aligned_alloc(M * 16 * sizeof(float));
    /* [0, Dp): query / decoded vector; [Dp, 5 Dp): prepare's scratch (2 Dp
     * floats, Dp doubles); [5 Dp, 6 Dp): dist_pairs' decoded anchor */
    ev->buf = cn_aligned_alloc(6 * Dp * sizeof(float));
    if (!ev->q.lut || !ev->q.lut8 || !ev->pair_lut || !ev->buf) {
        ev_destroy(&ev->base);
        return cn_error(err, errlen, CN_ENOMEM, "out of memory creating an evaluator");
    }
    /* Until a query is set, every distance is the vector's f_add (defined). */
    memset(ev->q.lut, 0, M * 16 * sizeof(float));
    memset(ev->q.lut8, 0, M * 16);
    memset(ev->buf, 0, 6 * Dp * sizeof(float));
    ev->q.inv_a = 1.0f;
    ev->q.sbound = 1e-30f;
    *out = &ev->base;
    return CN_OK;
}

/* ---- packed code blocks ------------------------------------------------------------------ */

static size_t blk_bytes(const cn_store_t *s) { return ((const rbq_store_t *)s)->bb; }

static void blk_pack(const cn_store_t *s, const uint32_t *ids, size_t n, uint8_t *block) {
    const rbq_store_t *rs = (const rbq_store_t *)s;
    memset(block, 0, rs->bb);
    float *fo = (float *)(void *)(block + (size_t)rs->M * 16);
    for (size_t i = 0; i < n && i < RBQ_W; i++) {
        const uint8_t *src = rs->codes + (size_t)(ids[i] / RBQ_W) * rs->bb;
        const unsigned v = ids[i] % RBQ_W, sh = i < 16 ? 0 : 4;
        for (size_t sub = 0; sub < rs->M; sub++)
            block[sub * 16 + (i & 15)] |= (uint8_t)(cn_pq4fs_code(src, sub, v) << sh);
        const float *fi = blk_factors(rs, src);
        for (unsigned t = 0; t < 3; t++) fo[t * RBQ_W + i] = fi[t * RBQ_W + v];
    }
}

static const uint8_t *blk_store_blocks(const cn_store_t *s) {
    return ((const rbq_store_t *)s)->codes;
}

static inline float block_scores(rbq_eval_t *ev, const uint8_t *block, float *out) {
    const rbq_store_t *rs = ev->rs;
    const rbq_query_t *q = &ev->q;
    if (q->degenerate) {
        for (size_t v = 0; v < RBQ_W; v++) out[v] = -INFINITY;
        return INFINITY;
    }
    uint32_t sums[RBQ_W];
    ev->k->block(block, q->lut8, rs->M, sums);
    const float *f = blk_factors(rs, block);
    const float bias = q->bias, inv = q->inv_a, qc = q->qconst, h = q->half;
    for (size_t v = 0; v < RBQ_W; v++) {
        const float S = bias + (float)(int32_t)sums[v] * inv;
        out[v] = (f[v] + qc) + f[RBQ_W + v] * (S - h);
    }
    /* factors are finite (checked on load): plain compares vectorise */
    float rmax = 0.0f, amax = 0.0f;
    for (size_t v = 0; v < RBQ_W; v++) {
        const float r = fabsf(f[RBQ_W + v]), a = fabsf(f[v]);
        rmax = r > rmax ? r : rmax;
        amax = a > amax ? a : amax;
    }
    /* |S8 - S| <= sbound; float rounding of the remaining terms. */
    const float sm = q->smag + q->sbound + fabsf(h);
    float b = rmax * (q->sbound + 1e-6f * sm) + 1e-6f * (amax + fabsf(qc) + rmax * sm) + 1e-30f;
    return isfinite(b) ? b : INFINITY;
}

static float blk_score(cn_evaluator_t *e, const uint8_t *block, float *out) {
    return block_scores((rbq_eval_t *)e, block, out);
}

static void blk_score_lb(cn_evaluator_t *e, const uint8_t *block, float *out, float *lo) {
    rbq_eval_t *ev = (rbq_eval_t *)e;
    const float bound = block_scores(ev, block, out);
    const float *f = blk_factors(ev->rs, block);
    const float c = ev->rs->eps0 * ev->q.qnorm;
    for (size_t v = 0; v < RBQ_W; v++) lo[v] = out[v] - bound - c * f[2 * RBQ_W + v];
}

static const cn_block_ops_t rbq_block_ops = {
    .width = RBQ_W,
    .block_bytes = blk_bytes,
    .pack = blk_pack,
    .store_blocks = blk_store_blocks,
    .score = blk_score,
    .score_lb = blk_score_lb,
};

/* ---- store -------------------------------------------------------------------------------- */

static size_t rbq_bytes(const cn_store_t *s) {
    const rbq_store_t *rs = (const rbq_store_t *)s;
    return sizeof *rs + rs->nblocks * rs->bb + (size_t)rs->Dp * sizeof(float) +
           2 * (size_t)rs->Dp * rs->Dp * sizeof(float);
}

static void rbq_decode(const cn_store_t *s, uint32_t i, float *out) {
    decode_id((const rbq_store_t *)s, i, out);
}

/* l2: |r|^2 - |(P^T y) restricted to the first dim coordinates|^2. */
static float rbq_score_offset(const cn_store_t *s, uint32_t id) {
    const rbq_store_t *rs = (const rbq_store_t *)s;
    if (s->metric != CN_METRIC_L2) return 0.0f;
    const size_t dim = s->dim, Dp = rs->Dp, M = rs->M;
    const uint8_t *blk = rs->codes + (size_t)(id / RBQ_W) * rs->bb;
    const unsigned v = id % RBQ_W;
    const float *f = blk_factors(rs, blk);
    const double alpha = -(double)f[RBQ_W + v] / 4.0;
    double n2 = 0;
    for (size_t j = 0; j < dim; j++) {
        double acc = 0;
        for (size_t sub = 0; sub < M; sub++) {
            const unsigned c = cn_pq4fs_code(blk, sub, v);
            const float *p = rs->rot + 4 * sub * Dp + j;
            for (unsigned b = 0; b < 4; b++)
                acc += (c >> b) & 1u ? (double)p[b * Dp] : -(double)p[b * Dp];
        }
        n2 += alpha * acc * alpha * acc;
    }
    return (float)((double)f[v] - n2);
}

static void rbq_save(const cn_store_t *s, cn_writer_t *w) {
    const rbq_store_t *rs = (const rbq_store_t *)s;
    cn_write_u32(w, RBQ_MAGIC);
    cn_write_u32(w, rs->Dp);
    /* Floats in host order; cannoli targets little-endian hosts. */
    cn_write(w, &rs->eps0, sizeof(float));
    cn_write(w, rs->centroid, (size_t)s->dim * sizeof(float));
    cn_write(w, rs->rot, (size_t)rs->Dp * rs->Dp * sizeof(float));
    cn_write(w, rs->codes, rs->nblocks * rs->bb);
}

static void rbq_destroy(cn_store_t *s) {
    rbq_store_t *rs = (rbq_store_t *)s;
    cn_aligned_free(rs->centroid);
    cn_aligned_free(rs->rot);
    cn_aligned_free(rs->rott);
    cn_aligned_free(rs->codes);
    cn_free(rs);
}

static const cn_store_ops_t rbq_store_ops = {
    .name = "rabitq",
    .evaluator_create = rbq_evaluator_create,
    .bytes = rbq_bytes,
    .decode = rbq_decode,
    .save = rbq_save,
    .destroy = rbq_destroy,
    .drop_build_scratch = NULL,
    .blocks = &rbq_block_ops,
    .score_offset = rbq_score_offset,
};

static cn_status_t store_alloc(rbq_store_t **out, cn_metric_t metric, uint32_t n, uint32_t dim,
                               float eps0, char *err, size_t errlen) {
    *out = NULL;
    rbq_store_t *rs = cn_calloc(1, sizeof *rs);
    if (!rs) return cn_error(err, errlen, CN_ENOMEM, "rabitq store: out of memory");
    rs->base.ops = &rbq_store_ops;
    rs->base.metric = metric;
    rs->base.n = n;
    rs->base.dim = dim;
    rs->base.refs = 1;
    rs->Dp = pad_dim(dim);
    rs->M = rs->Dp / 4;
    rs->eps0 = eps0;
    rs->bb = (size_t)rs->M * 16 + 3 * RBQ_W * sizeof(float);
    rs->nblocks = ((size_t)n + RBQ_W - 1) / RBQ_W;
    rs->centroid = cn_aligned_alloc((size_t)rs->Dp * sizeof(float));
    rs->rot = cn_aligned_alloc((size_t)rs->Dp * rs->Dp * sizeof(float));
    rs->rott = cn_aligned_alloc((size_t)rs->Dp * rs->Dp * sizeof(float));
    rs->codes = cn_aligned_alloc(rs->nblocks > 0 ? rs->nblocks * rs->bb : 64);
    if (!rs->centroid || !rs->rot || !rs->rott || !rs->codes) {
        rbq_destroy(&rs->base);
        return cn_error(err, errlen, CN_ENOMEM,
                        "rabitq store: out of memory for %u vectors of dimension %u", n, dim);
    }
    memset(rs->centroid, 0, (size_t)rs->Dp * sizeof(float));
    memset(rs->codes, 0, rs->nblocks * rs->bb);
    *out = rs;
    return CN_OK;
}

static void transpose_rot(rbq_store_t *rs) {
    const size_t Dp = rs->Dp;
    for (size_t i = 0; i < Dp; i++)
        for (size_t j = 0; j < Dp; j++) rs->rott[j * Dp + i] = rs->rot[i * Dp + j];
}

static int all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

static cn_status_t rbq_load(cn_store_t **out, cn_reader_t *r, cn_metric_t metric, uint32_t n,
                            uint32_t dim, char *err, size_t errlen) {
    *out = NULL;
    const char *path = r->path ? r->path : "index file";
    uint32_t magic = cn_read_u32(r), Dp = cn_read_u32(r);
    float eps0 = 0.0f;
    if (r->st == CN_OK) cn_read(r, &eps0, sizeof eps0);
    if (r->st != CN_OK)
        return cn_error(err, errlen, CN_EFORMAT, "%s: rabitq store header is truncated", path);
    if (magic != RBQ_MAGIC)
        return cn_error(err, errlen, CN_EFORMAT, "%s: rabitq store has a bad magic number", path);
    if (dim == 0 || dim > 65536 || Dp != pad_dim(dim))
        return cn_error(err, errlen, CN_EFORMAT,
                        "%s: rabitq store has padded dimension %u for dimension %u", path, Dp,
                        dim);
    if (!isfinite(eps0) || !(eps0 >= 0.0f))
        return cn_error(err, errlen, CN_EFORMAT, "%s: rabitq store has an invalid eps0 %g",
                        path, (double)eps0);
    const uint64_t rem = cn_reader_remaining(r);
    const uint64_t cbytes = (uint64_t)dim * sizeof(float);
    const uint64_t rbytes = (uint64_t)Dp * Dp * sizeof(float);
    const uint64_t bb = (uint64_t)Dp / 4 * 16 + 3 * RBQ_W * sizeof(float);
    const uint64_t nb = ((uint64_t)n + RBQ_W - 1) / RBQ_W;
    if (cbytes + rbytes > rem || nb > (rem - cbytes - rbytes) / bb)
        return cn_error(err, errlen, CN_EFORMAT,
                        "%s: rabitq store of %u vectors of dimension %u is truncated", path, n,
                        dim);
    rbq_store_t *rs;
    cn_status_t st = store_alloc(&rs, metric, n, dim, eps0, err, errlen);
    if (st != CN_OK) return st;
    if (cn_read(r, rs->centroid, (size_t)cbytes) != CN_OK ||
        cn_read(r, rs->rot, (size_t)rbytes) != CN_OK ||
        cn_read(r, rs->codes, rs->nblocks * rs->bb) != CN_OK) {
        rbq_destroy(&rs->base);
        return cn_error(err, errlen, CN_EFORMAT, "%s: rabitq store is truncated", path);
    }
    const char *bad = NULL;
    if (!all_finite(rs->centroid, dim)) bad = "centroid";
    else if (!all_finite(rs->rot, (size_t)Dp * Dp)) bad = "rotation";
    for (size_t b = 0; !bad && b < rs->nblocks; b++)
        if (!all_finite(blk_factors(rs, rs->codes + b * rs->bb), 3 * RBQ_W)) bad = "factor";
    if (bad) {
        rbq_destroy(&rs->base);
        return cn_error(err, errlen, CN_EFORMAT, "%s: rabitq store has a non-finite %s value",
                        path, bad);
    }
    transpose_rot(rs);
    *out = &rs->base;
    return CN_OK;
}

/* ---- quantizer -------------------------------------------------------------------------------- */

static double gauss(uint64_t *st) {
    double u1 = ((double)(cn_kmeans_rand(st) >> 11) + 0.5) * 0x1p-53;
    double u2 = (double)(cn_kmeans_rand(st) >> 11) * 0x1p-53;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Random orthogonal Dp x Dp: seeded Gaussian rows, modified Gram-Schmidt. */
static cn_status_t make_rotation(uint32_t Dp, uint64_t seed, float *rot, char *err,
                                 size_t errlen) {
    double *m = cn_malloc((size_t)Dp * Dp * sizeof(double));
    if (!m) return cn_error(err, errlen, CN_ENOMEM, "quantizer 'rabitq': out of memory");
    uint64_t st = seed ^ 0x726162697471ull; /* "rabitq" */
    for (size_t i = 0; i < Dp; i++) {
        double *row = m + i * Dp;
        for (int tries = 0;; tries++) {
            for (size_t j = 0; j < Dp; j++) row[j] = gauss(&st);
            double n0 = 0;
            for (size_t j = 0; j < Dp; j++) n0 += row[j] * row[j];
            for (size_t p = 0; p < i; p++) {
                const double *q = m + p * Dp;
                double d = 0;
                for (size_t j = 0; j < Dp; j++) d += row[j] * q[j];
                for (size_t j = 0; j < Dp; j++) row[j] -= d * q[j];
            }
            double nn = 0;
            for (size_t j = 0; j < Dp; j++) nn += row[j] * row[j];
            if (nn > 1e-6 * n0 || tries > 100) {
                double inv = 1.0 / sqrt(nn);
                for (size_t j = 0; j < Dp; j++) row[j] *= inv;
                break;
            }
        }
    }
    for (size_t i = 0; i < (size_t)Dp * Dp; i++) rot[i] = (float)m[i];
    cn_free(m);
    return CN_OK;
}

static cn_status_t check_input(const rbq_quantizer_t *q, const cn_store_t *full, char *err,
                               size_t errlen) {
    return cn_pq_check_input("rabitq", q->base.dim, q->base.metric, full, err, errlen);
}

static cn_status_t rbq_train(cn_quantizer_t *qq, const cn_store_t *full, char *err,
                             size_t errlen) {
    rbq_quantizer_t *q = (rbq_quantizer_t *)qq;
    cn_status_t st = check_input(q, full, err, errlen);
    if (st != CN_OK) return st;
    const size_t n = full->n, dim = q->base.dim, Dp = q->Dp;
    if (n == 0)
        return cn_error(err, errlen, CN_EINVAL, "quantizer 'rabitq': no training vectors");
    float *c = cn_aligned_alloc(dim * sizeof(float));
    float *rot = cn_aligned_alloc(Dp * Dp * sizeof(float));
    double *acc = cn_calloc(dim, sizeof(double));
    if (!c || !rot || !acc) {
        cn_aligned_free(c);
        cn_aligned_free(rot);
        cn_free(acc);
        return cn_error(err, errlen, CN_ENOMEM, "quantizer 'rabitq': out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const float *x = cn_store_dense_row(full, (uint32_t)i);
        for (size_t j = 0; j < dim; j++) acc[j] += x[j];
    }
    for (size_t j = 0; j < dim; j++) c[j] = (float)(acc[j] / (double)n);
    cn_free(acc);
    st = make_rotation(q->Dp, q->seed, rot, err, errlen);
    if (st != CN_OK) {
        cn_aligned_free(c);
        cn_aligned_free(rot);
        return st;
    }
    cn_aligned_free(q->centroid);
    cn_aligned_free(q->rot);
    q->centroid = c;
    q->rot = rot;
    return CN_OK;
}

/* Codes and factors of vector x into slot v of block blk; scratch: 2 x Dp
 * floats then Dp doubles. */
static void encode_one(const rbq_store_t *rs, const float *x, uint8_t *blk, unsigned v,
                       float *scratch) {
    const size_t dim = rs->base.dim, Dp = rs->Dp, M = rs->M;
    float *r = scratch, *u = scratch + Dp;
    double rn2 = 0;
    for (size_t j = 0; j < dim; j++) {
        r[j] = x[j] - rs->centroid[j];
        rn2 += (double)r[j] * r[j];
    }
    const double *pr = (const double *)(const void *)(scratch + 2 * Dp);
    rotate(rs, r, u, (double *)(void *)(scratch + 2 * Dp));
    double un2 = 0, uabs = 0;
    for (size_t i = 0; i < Dp; i++) {
        un2 += pr[i] * pr[i];
        uabs += fabs(pr[i]);
    }
    float *f = (float *)(void *)(blk + M * 16);
    const int l2 = rs->base.metric == CN_METRIC_L2;
    if (!(rn2 > 0) || !(un2 > 0)) { /* the centroid itself: all ones, exact score */
        for (size_t s = 0; s < M; s++) blk[s * 16 + (v & 15)] |= (uint8_t)(15u << (v < 16 ? 0 : 4));
        f[v] = l2 ? (float)rn2 : 0.0f;
        f[RBQ_W + v] = 0.0f;
        f[2 * RBQ_W + v] = 0.0f;
        return;
    }
    for (size_t s = 0; s < M; s++) {
        unsigned c = 0;
        for (unsigned j = 0; j < 4; j++) c |= (pr[4 * s + j] > 0.0 ? 1u : 0u) << j;
        blk[s * 16 + (v & 15)] |= (uint8_t)(c << (v < 16 ? 0 : 4));
    }
    const double rn = sqrt(rn2), sq = sqrt((double)Dp);
    const double xu = uabs / (sq * sqrt(un2)); /* <x, u> in [1 / sqrt(Dp), 1] */
    const double alpha = rn / (sq * xu);
    const double k = l2 ? 2.0 : 1.0;
    const double t = 1.0 / (xu * xu) - 1.0;
    f[v] = l2 ? (float)rn2 : 0.0f;
    f[RBQ_W + v] = (float)(-(2.0 * k) * alpha);
    f[2 * RBQ_W + v] = (float)(k * rn * sqrt(t > 0 ? t : 0) / sqrt((double)Dp - 1.0));
}

static cn_status_t rbq_encode(const cn_quantizer_t *qq, cn_store_t *full, cn_store_t **out,
                              char *err, size_t errlen) {
    const rbq_quantizer_t *q = (const rbq_quantizer_t *)qq;
    *out = NULL;
    if (!q->centroid)
        return cn_error(err, errlen, CN_EINVAL, "quantizer 'rabitq': encode before train");
    cn_status_t st = check_input(q, full, err, errlen);
    if (st != CN_OK) return st;
    rbq_store_t *rs;
    const size_t dim = q->base.dim, n = full->n, Dp = q->Dp;
    st = store_alloc(&rs, q->base.metric, full->n, q->base.dim, q->eps0, err, errlen);
    if (st != CN_OK) return st;
    memcpy(rs->centroid, q->centroid, dim * sizeof(float));
    memcpy(rs->rot, q->rot, Dp * Dp * sizeof(float));
    transpose_rot(rs);
    const long lnb = (long)rs->nblocks;
    const int nt = omp_get_max_threads() > 0 ? omp_get_max_threads() : 1;
    float *scratch = cn_aligned_alloc((size_t)nt * 4 * Dp * sizeof(float));
    if (!scratch) {
        rbq_destroy(&rs->base);
        return cn_error(err, errlen, CN_ENOMEM, "quantizer 'rabitq': out of memory encoding");
    }
    /* One block per iteration: a block is written by one thread only. */
#pragma omp parallel for schedule(static, 8) num_threads(nt)
    for (long b = 0; b < lnb; b++) {
        float *sc = scratch + (size_t)omp_get_thread_num() * 4 * Dp;
        uint8_t *blk = rs->codes + (size_t)b * rs->bb;
        for (unsigned v = 0; v < RBQ_W; v++) {
            size_t i = (size_t)b * RBQ_W + v;
            if (i >= n) break;
            encode_one(rs, cn_store_dense_row(full, (uint32_t)i), blk, v, sc);
        }
    }
    cn_aligned_free(scratch);
    *out = &rs->base;
    return CN_OK;
}

static size_t rbq_bpv(const cn_quantizer_t *qq) {
    const rbq_quantizer_t *q = (const rbq_quantizer_t *)qq;
    return q->Dp / 8 + 3 * sizeof(float);
}

static void rbq_qdestroy(cn_quantizer_t *qq) {
    rbq_quantizer_t *q = (rbq_quantizer_t *)qq;
    cn_aligned_free(q->centroid);
    cn_aligned_free(q->rot);
    cn_free(q);
}

/* dist and its batch/range/pairs forms compute the estimator exactly in
 * float: against score(q, decode(i)) + score_offset(i) only the rotation's
 * float rounding differs (the block scores carry their own bound). */
static const cn_quantizer_ops_t rbq_quantizer_ops = {
    .name = "rabitq",
    .train = rbq_train,
    .encode = rbq_encode,
    .bytes_per_vector = rbq_bpv,
    .destroy = rbq_qdestroy,
    .dist_rtol = 1e-5f,
    .dist_atol = 1e-5f,
    .small_params = {NULL, 0},
};

static cn_status_t rbq_create(cn_quantizer_t **out, cn_metric_t metric, uint32_t dim,
                              const cn_params_t *params, char *err, size_t errlen) {
    *out = NULL;
    long long seed = cn_params_get_int(params, "seed");
    double eps0 = cn_params_get_float(params, "eps0");
    if (dim == 0) return cn_error(err, errlen, CN_EINVAL, "quantizer 'rabitq': dimension is 0");
    if (dim > 65536)
        return cn_error(err, errlen, CN_EINVAL,
                        "quantizer 'rabitq': dimension %u is above 65536 (the rotation is "
                        "dense)",
                        dim);
    if (seed < 0) return cn_error(err, errlen, CN_EINVAL, "quantizer 'rabitq': seed is negative");
    if (!(eps0 >= 0) || !isfinite(eps0))
        return cn_error(err, errlen, CN_EINVAL, "quantizer 'rabitq': eps0 = %g must be >= 0",
                        eps0);
    rbq_quantizer_t *q = cn_calloc(1, sizeof *q);
    if (!q) return cn_error(err, errlen, CN_ENOMEM, "out of memory");
    q->base.ops = &rbq_quantizer_ops;
    q->base.metric = metric;
    q->base.dim = dim;
    q->seed = (uint64_t)seed;
    q->eps0 = (float)eps0;
    q->Dp = pad_dim(dim);
    *out = &q->base;
    return CN_OK;
}

static const cn_param_spec_t rbq_params[] = {
    {"seed", CN_PARAM_INT, CN_ROLE_BUILD, 0, 9007199254740991.0, "42", NULL,
     "seed of the random rotation", 0},
    {"eps0", CN_PARAM_FLOAT, CN_ROLE_BUILD, 0, 1000, "1.9", NULL,
     "confidence of the error bound: |estimate - score| <= eps0 |q| f_err with high "
     "probability (lower bounds of score_lb, layout=colocated pruning); 0 = lower bound = "
     "estimate (no statistical margin: fewer exact distances, lower recall per ef)",
     0},
};

const cn_component_t cn_component_rabitq = {
    .name = "rabitq",
    .kind = CN_COMPONENT_QUANTIZER,
    .help = "RaBitQ 1-bit codes (random rotation, error bound) in FastScan blocks of 32",
    .params = rbq_params,
    .n_params = sizeof rbq_params / sizeof rbq_params[0],
    .create_quantizer = rbq_create,
    .store_name = "rabitq",
    .store_load = rbq_load,
};
