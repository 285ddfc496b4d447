/*
 * quant/pq.c — Product Quantization: quantizer "pq", store "pq".
 *
 * The dimension is split into M = `subspaces` contiguous sub-spaces of width
 * dsub = dim / M (any divisor, odd widths included). Each sub-space has its
 * own codebook of ksub = 2^nbits centroids learned by k-means (quant/kmeans.c)
 * on a seeded random sample of train_size rows (all rows if n <= train_size);
 * sub-spaces are trained in parallel (OpenMP; quant/pq_train.c, shared with
 * pq4fs). For cosine the sample rows are
 * normalised (the dense store has normalised them already; this is a no-op
 * up to rounding). Encoding picks the nearest centroid by squared L2 in every
 * sub-space, in parallel over rows.
 *
 * Storage: codes are one byte per sub-space and vector (n x M bytes,
 * contiguous), for every nbits in [4, 8]: with nbits < 8 each byte holds one
 * code < 2^nbits (no nibble packing: correctness over speed; bytes per vector
 * is M either way). Codebooks: M x ksub x dsub floats, plus a transposed copy
 * (per sub-space dsub x ksub) for vectorised table building and encoding.
 *
 * Scores (internal, smaller is better):
 *   ADC  set_query builds lut[s][c] = ||q_s - C_s,c||^2 (l2) or -<q_s, C_s,c>
 *        (ip; cosine after normalising the query); a distance is
 *        sum_s lut[s][code_s] = score(q, decode(x)).
 *   SDC  dist_pairs(a, b) = sum_s sdc[s][code_a,s][code_b,s] with the
 *        symmetric tables sdc[s][i][j] = ||C_s,i - C_s,j||^2 or -<C_s,i, C_s,j>
 *        precomputed at encode/load time, = score(decode(a), decode(b)).
 *        The tables take M x ksub^2 floats; above 64 MiB (M > 256 at nbits 8)
 *        they are not built and dist_pairs builds a table from decode(a) per
 *        call instead (same values, dim x ksub work per call). They are
 *        build-only: built on first use (graph construction on the codes,
 *        build_on quantized) and freed by the store's drop_build_scratch,
 *        which cn_index_build calls after the build, so a fresh build and a
 *        reloaded index report the same bytes.
 *   set_query_id(id) makes decode(id) the query as it is (not renormalised
 *        for cosine), so it agrees with dist_pairs.
 * Summation kernels are per ISA (pq_avx2.c, pq_avx512.c, chosen at evaluator
 * creation by cn_simd_level()); one indirect call per batch.
 *
 * File payload (after the generic store header): u32 magic "PQ01", u32 M,
 * u32 nbits, M*ksub*dsub f32 codebooks, n*M code bytes. The transposed
 * codebooks and SDC tables are recomputed on load. Every length is checked
 * against the bytes left in the file before allocating; codes >= ksub and
 * non-finite codebook entries are CN_EFORMAT.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "quant/vec_util.h"
#include "cannoli/registry.h"
#include "quant/kmeans.h"
#include "quant/pq_internal.h"

#define PQ_MAGIC 0x31305150u /* "PQ01" little-endian */
#define PQ_SDC_MAX_BYTES ((size_t)64 << 20)

typedef struct pq_quantizer {
    cn_quantizer_t base;
    uint32_t M, nbits, ksub, dsub;
    uint64_t train_size, seed;
    uint32_t iterations;
    cn_kmeans_init_t init;
    float *codebooks; /* M x ksub x dsub, NULL until trained */
} pq_quantizer_t;

typedef struct pq_store {
    cn_store_t base;
    uint32_t M, nbits, ksub, dsub;
    float *codebooks; /* M x ksub x dsub (aligned) */
    float *cbt;       /* M blocks of dsub x ksub (transposed codebooks) */
    uint8_t *codes;   /* n x M */
    /* M x ksub x ksub symmetric tables, built on first use (only graph
     * construction on the codes needs them: build_on quantized), NULL until
     * then or when too large. Set once with a compare-and-swap. */
    _Atomic(float *) sdc;
} pq_store_t;

typedef struct pq_eval {
    cn_evaluator_t base;
    const pq_store_t *ps;
    const cn_pq_kernels_t *k;
    float *lut;       /* M x ksub */
    int32_t *adc_off; /* s * ksub: the ADC table in offset form (gather sums) */
    int gather;       /* sums with k->gbatch / k->grange */
    float *pair_lut;  /* M x ksub + dim: per-call table when no SDC table */
    int32_t *pair_off;
    float *qbuf; /* dim */
} pq_eval_t;

static const cn_store_ops_t pq_store_ops;

/* ---- kernels: scalar level and dispatch ------------------------------------- */

CN_PQ_DEFINE_TABLE_KERNELS(scalar, cn_pq_sum_lut, cn_pq_sum_off)

static void nearest_scalar(const float *ct, size_t k, size_t d, const float *x, size_t n,
                           uint32_t *assign, float *dist, float *acc) {
    for (size_t i = 0; i < n; i++) {
        cn_pq_dist_all(ct, k, d, x + i * d, acc);
        uint32_t best = 0;
        float bd = acc[0];
        for (size_t c = 1; c < k; c++) {
            if (acc[c] < bd) {
                bd = acc[c];
                best = (uint32_t)c;
            }
        }
        assign[i] = best;
        dist[i] = bd;
    }
}

const cn_pq_kernels_t cn_pq_kernels_scalar = {batch_scalar, range_scalar, nearest_scalar, NULL,
                                              NULL};

/* Read at every evaluator creation (once per search context, not per query). */
int cn_pq_want_gather(void) {
    const char *e = getenv("CANNOLI_PQ_SUM");
    return e && strcmp(e, "gather") == 0;
}

const cn_pq_kernels_t *cn_pq_kernels_at(cn_simd_level_t level) {
    if (level > cn_simd_detect()) return NULL;
    switch (level) {
    case CN_SIMD_SCALAR: return &cn_pq_kernels_scalar;
#ifdef CN_HAVE_AVX2
    case CN_SIMD_AVX2: return &cn_pq_kernels_avx2;
#endif
#ifdef CN_HAVE_AVX512
    case CN_SIMD_AVX512: return &cn_pq_kernels_avx512;
#endif
    default: return NULL;
    }
}

const cn_pq_kernels_t *cn_pq_kernels(void) {
    const cn_pq_kernels_t *k = cn_pq_kernels_at(cn_simd_level());
    return k ? k : &cn_pq_kernels_scalar;
}

/* ---- tables ------------------------------------------------------------------ */


/* cbt: per sub-space block of dsub x ksub (column c = centroid c). */
static void transpose_codebooks(const float *cb, uint32_t M, uint32_t ksub, uint32_t dsub,
                                float *cbt) {
    for (size_t s = 0; s < M; s++) {
        const float *src = cb + s * ksub * dsub;
        float *dst = cbt + s * ksub * dsub;
        for (size_t c = 0; c < ksub; c++)
            for (size_t j = 0; j < dsub; j++) dst[j * ksub + c] = src[c * dsub + j];
    }
}

/* lut[s * ksub + c] = score of q's sub-vector s to centroid c of sub-space s. */
static void build_lut(const pq_store_t *ps, const float *q, float *lut) {
    const size_t M = ps->M, ksub = ps->ksub, dsub = ps->dsub;
    const int dot = ps->base.metric != CN_METRIC_L2;
    for (size_t s = 0; s < M; s++) {
        const float *ct = ps->cbt + s * ksub * dsub;
        const float *qs = q + s * dsub;
        float *restrict l = lut + s * ksub;
        if (!dot) {
            cn_pq_dist_all(ct, ksub, dsub, qs, l);
        } else {
            for (size_t c = 0; c < ksub; c++) l[c] = 0.0f;
            for (size_t j = 0; j < dsub; j++) {
                const float qj = qs[j];
                const float *restrict col = ct + j * ksub;
                for (size_t c = 0; c < ksub; c++) l[c] -= qj * col[c];
            }
        }
    }
}

static void decode_codes(const pq_store_t *ps, const uint8_t *c, float *out) {
    const size_t ksub = ps->ksub, dsub = ps->dsub;
    for (size_t s = 0; s < ps->M; s++)
        memcpy(out + s * dsub, ps->codebooks + (s * ksub + c[s]) * dsub, dsub * sizeof(float));
}

/* Fills cbt and (if not too large) sdc from codebooks. */
static cn_status_t store_finish(pq_store_t *ps, char *err, size_t errlen) {
    const size_t M = ps->M, ksub = ps->ksub, dsub = ps->dsub;
    ps->cbt = cn_aligned_alloc(M * ksub * dsub * sizeof(float));
    if (!ps->cbt) return cn_error(err, errlen, CN_ENOMEM, "pq store: out of memory");
    transpose_codebooks(ps->codebooks, ps->M, ps->ksub, ps->dsub, ps->cbt);
    return CN_OK;
}

/* The SDC tables, computed by the first caller that needs them (any thread);
 * a racing second computation is discarded. NULL if too large or no memory
 * (callers then fall back to building a lookup table per call). */
static const float *pq_sdc(const pq_store_t *cps) {
    pq_store_t *ps = (pq_store_t *)cps; /* the lazily filled field is the only mutation */
    float *t = atomic_load_explicit(&ps->sdc, memory_order_acquire);
    if (t) return t;
    const size_t M = ps->M, ksub = ps->ksub, dsub = ps->dsub;
    if (M * ksub * ksub > PQ_SDC_MAX_BYTES / sizeof(float)) return NULL;
    float *sdc = cn_aligned_alloc(M * ksub * ksub * sizeof(float));
    float *cvec = cn_malloc((size_t)ps->base.dim * sizeof(float));
    float *lut = cn_aligned_alloc(M * ksub * sizeof(float));
    if (!sdc || !cvec || !lut) {
        cn_aligned_free(sdc);
        cn_free(cvec);
        cn_aligned_free(lut);
        return NULL;
    }
    /* Row i of table s = the ADC table of the vector made of centroid i in
     * every sub-space: exactly what set_query_id builds for such a vector. */
    for (size_t i = 0; i < ksub; i++) {
        for (size_t s = 0; s < M; s++)
            memcpy(cvec + s * dsub, ps->codebooks + (s * ksub + i) * dsub, dsub * sizeof(float));
        build_lut(ps, cvec, lut);
        for (size_t s = 0; s < M; s++)
            memcpy(sdc + (s * ksub + i) * ksub, lut + s * ksub, ksub * sizeof(float));
    }
    cn_aligned_free(lut);
    cn_free(cvec);
    float *expected = NULL;
    if (!atomic_compare_exchange_strong(&ps->sdc, &expected, sdc)) {
        cn_aligned_free(sdc);
        return expected;
    }
    return sdc;
}

/* ---- evaluator --------------------------------------------------------------- */

static cn_status_t ev_set_query(cn_evaluator_t *e, const cn_vec_t *q, char *err, size_t errlen) {
    pq_eval_t *ev = (pq_eval_t *)e;
    cn_status_t st = cn_query_take(q, ev->ps->base.dim, ev->ps->base.metric, ev->qbuf, "pq",
                                   err, errlen);
    if (st != CN_OK) return st;
    build_lut(ev->ps, ev->qbuf, ev->lut);
    return CN_OK;
}

static void ev_set_query_id(cn_evaluator_t *e, uint32_t id) {
    pq_eval_t *ev = (pq_eval_t *)e;
    const pq_store_t *ps = ev->ps;
    const float *sdc = pq_sdc(ps);
    if (sdc) { /* the SDC rows of id's codes are its ADC table */
        const uint8_t *c = ps->codes + (size_t)id * ps->M;
        for (size_t s = 0; s < ps->M; s++)
            memcpy(ev->lut + s * ps->ksub, sdc + (s * ps->ksub + c[s]) * ps->ksub,
                   ps->ksub * sizeof(float));
        return;
    }
    decode_codes(ps, ps->codes + (size_t)id * ps->M, ev->qbuf);
    build_lut(ps, ev->qbuf, ev->lut);
}

static void ev_dist_batch(cn_evaluator_t *e, const uint32_t *ids, size_t n, float *out) {
    pq_eval_t *ev = (pq_eval_t *)e;
    if (ev->gather)
        ev->k->gbatch(ev->lut, ev->adc_off, ev->ps->ksub, ev->ps->codes, ev->ps->M, ids, n, out);
    else
        ev->k->batch(ev->lut, NULL, ev->ps->ksub, ev->ps->codes, ev->ps->M, ids, n, out);
}

static float ev_dist(cn_evaluator_t *e, uint32_t id) {
    float out;
    ev_dist_batch(e, &id, 1, &out);
    return out;
}

static void ev_dist_range(cn_evaluator_t *e, uint32_t start, size_t n, float *out) {
    pq_eval_t *ev = (pq_eval_t *)e;
    if (ev->gather)
        ev->k->grange(ev->lut, ev->adc_off, ev->ps->ksub, ev->ps->codes, ev->ps->M, start, n,
                      out);
    else
        ev->k->range(ev->lut, NULL, ev->ps->ksub, ev->ps->codes, ev->ps->M, start, n, out);
}

static void ev_dist_pairs(cn_evaluator_t *e, uint32_t a, const uint32_t *ids, size_t n,
                          float *out) {
    pq_eval_t *ev = (pq_eval_t *)e;
    const pq_store_t *ps = ev->ps;
    const uint8_t *ca = ps->codes + (size_t)a * ps->M;
    const float *sdc = pq_sdc(ps);
    if (sdc) {
        for (size_t s = 0; s < ps->M; s++)
            ev->pair_off[s] = (int32_t)((s * ps->ksub + ca[s]) * ps->ksub);
        (ev->gather ? ev->k->gbatch : ev->k->batch)(sdc, ev->pair_off, ps->ksub, ps->codes,
                                                    ps->M, ids, n, out);
    } else {
        float *tmp = ev->pair_lut + (size_t)ps->M * ps->ksub; /* dim floats after the table */
        decode_codes(ps, ca, tmp);
        build_lut(ps, tmp, ev->pair_lut);
        if (ev->gather)
            ev->k->gbatch(ev->pair_lut, ev->adc_off, ps->ksub, ps->codes, ps->M, ids, n, out);
        else
            ev->k->batch(ev->pair_lut, NULL, ps->ksub, ps->codes, ps->M, ids, n, out);
    }
}

static void ev_destroy(cn_evaluator_t *e) {
    pq_eval_t *ev = (pq_eval_t *)e;
    cn_aligned_free(ev->lut);
    cn_aligned_free(ev->pair_lut);
    cn_free(ev->pair_off);
    cn_free(ev->adc_off);
    cn_aligned_free(ev->qbuf);
    cn_free(ev);
}

static const cn_evaluator_ops_t pq_eval_ops = {
    ev_set_query, ev_set_query_id, ev_dist,      ev_dist_batch,
    ev_dist_range, ev_dist_pairs,  ev_destroy,
    NULL, /* no prefetch */
};

cn_status_t cn_pq_evaluator_create_at(const cn_store_t *s, cn_simd_level_t level,
                                      cn_evaluator_t **out, char *err, size_t errlen) {
    *out = NULL;
    if (!cn_store_is_pq(s))
        return cn_error(err, errlen, CN_EINVAL, "pq evaluator: not a pq store");
    const cn_pq_kernels_t *k = cn_pq_kernels_at(level);
    if (!k)
        return cn_error(err, errlen, CN_EUNSUPPORTED, "pq evaluator: SIMD level %s unavailable",
                        cn_simd_name(level));
    const pq_store_t *ps = (const pq_store_t *)s;
    const size_t M = ps->M, ksub = ps->ksub;
    pq_eval_t *ev = cn_calloc(1, sizeof *ev);
    if (!ev) return cn_error(err, errlen, CN_ENOMEM, "out of memory creating an evaluator");
    ev->base.ops = &pq_eval_ops;
    ev->base.store = s;
    ev->ps = ps;
    ev->k = k;
    ev->lut = cn_aligned_alloc(M * ksub * sizeof(float));
    ev->pair_off = cn_malloc(M * sizeof(int32_t));
    ev->adc_off = cn_malloc(M * sizeof(int32_t));
    ev->qbuf = cn_aligned_alloc((size_t)s->dim * sizeof(float));
    ev->pair_lut = cn_aligned_alloc((M * ksub + s->dim) * sizeof(float));
    if (!ev->lut || !ev->pair_off || !ev->adc_off || !ev->qbuf || !ev->pair_lut) {
        ev_destroy(&ev->base);
        return cn_error(err, errlen, CN_ENOMEM, "out of memory creating an evaluator");
    }
    for (size_t m = 0; m < M; m++) ev->adc_off[m] = (int32_t)(m * ksub);
    ev->gather = cn_pq_want_gather() && k->gbatch != NULL;
    /* Until a query is set, every distance is 0 (a defined state). */
    memset(ev->lut, 0, M * ksub * sizeof(float));
    memset(ev->qbuf, 0, (size_t)s->dim * sizeof(float));
    *out = &ev->base;
    return CN_OK;
}

static cn_status_t pq_evaluator_create(const cn_store_t *s, cn_evaluator_t **out, char *err,
                                       size_t errlen) {
    cn_simd_level_t l = cn_simd_level();
    while (l > CN_SIMD_SCALAR && !cn_pq_kernels_at(l)) l = (cn_simd_level_t)(l - 1);
    return cn_pq_evaluator_create_at(s, l, out, err, errlen);
}

/* ---- store ------------------------------------------------------------------- */

int cn_store_is_pq(const cn_store_t *s) { return s && s->ops == &pq_store_ops; }
uint32_t cn_pq_subspaces(const cn_store_t *s) { return ((const pq_store_t *)s)->M; }
uint32_t cn_pq_nbits(const cn_store_t *s) { return ((const pq_store_t *)s)->nbits; }
const uint8_t *cn_pq_codes(const cn_store_t *s) { return ((const pq_store_t *)s)->codes; }
const float *cn_pq_codebooks(const cn_store_t *s) { return ((const pq_store_t *)s)->codebooks; }
int cn_pq_has_sdc(const cn_store_t *s) {
    return atomic_load(&((pq_store_t *)s)->sdc) != NULL;
}

static size_t pq_bytes(const cn_store_t *s) {
    const pq_store_t *ps = (const pq_store_t *)s;
    size_t cb = (size_t)ps->M * ps->ksub * ps->dsub * sizeof(float);
    size_t b = sizeof *ps + (size_t)s->n * ps->M + 2 * cb;
    if (atomic_load(&((pq_store_t *)s)->sdc)) b += (size_t)ps->M * ps->ksub * ps->ksub * sizeof(float);
    return b;
}

static void pq_decode(const cn_store_t *s, uint32_t i, float *out) {
    const pq_store_t *ps = (const pq_store_t *)s;
    decode_codes(ps, ps->codes + (size_t)i * ps->M, out);
}

static void pq_save(const cn_store_t *s, cn_writer_t *w) {
    const pq_store_t *ps = (const pq_store_t *)s;
    cn_write_u32(w, PQ_MAGIC);
    cn_write_u32(w, ps->M);
    cn_write_u32(w, ps->nbits);
    /* Floats in host order; cannoli targets little-endian hosts. */
    cn_write(w, ps->codebooks, (size_t)ps->M * ps->ksub * ps->dsub * sizeof(float));
    cn_write(w, ps->codes, (size_t)s->n * ps->M);
}

static void pq_destroy(cn_store_t *s) {
    pq_store_t *ps = (pq_store_t *)s;
    cn_aligned_free(ps->codebooks);
    cn_aligned_free(ps->cbt);
    cn_aligned_free(ps->codes);
    cn_aligned_free(atomic_load(&ps->sdc));
    cn_free(ps);
}

/* Frees the SDC tables (build-only; the next dist_pairs rebuilds them). */
static void pq_drop_build_scratch(cn_store_t *s) {
    pq_store_t *ps = (pq_store_t *)s;
    cn_aligned_free(atomic_exchange(&ps->sdc, NULL));
}

static const cn_store_ops_t pq_store_ops = {
    "pq", pq_evaluator_create, pq_bytes, pq_decode, pq_save, pq_destroy, pq_drop_build_scratch,
    NULL, /* no packed code blocks (8-bit codes; see pq4fs) */
    NULL, /* scores are those of decode(i) */
};

/* Allocates a store with codebooks and codes (contents unset). */
static cn_status_t store_alloc(pq_store_t **out, cn_metric_t metric, uint32_t n, uint32_t dim,
                               uint32_t M, uint32_t nbits, char *err, size_t errlen) {
    *out = NULL;
    pq_store_t *ps = cn_calloc(1, sizeof *ps);
    if (!ps) return cn_error(err, errlen, CN_ENOMEM, "pq store: out of memory");
    ps->base.ops = &pq_store_ops;
    ps->base.metric = metric;
    ps->base.n = n;
    ps->base.dim = dim;
    ps->base.refs = 1;
    ps->M = M;
    ps->nbits = nbits;
    ps->ksub = 1u << nbits;
    ps->dsub = dim / M;
    ps->codebooks = cn_aligned_alloc((size_t)dim * ps->ksub * sizeof(float));
    ps->codes = cn_aligned_alloc((size_t)n * M);
    if (!ps->codebooks || !ps->codes) {
        pq_destroy(&ps->base);
        return cn_error(err, errlen, CN_ENOMEM, "pq store: out of memory for %u x %u codes", n,
                        M);
    }
    *out = ps;
    return CN_OK;
}

static cn_status_t pq_load(cn_store_t **out, cn_reader_t *r, cn_metric_t metric, uint32_t n,
                           uint32_t dim, char *err, size_t errlen) {
    *out = NULL;
    const char *path = r->path ? r->path : "index file";
    uint32_t magic = cn_read_u32(r), M = cn_read_u32(r), nbits = cn_read_u32(r);
    if (r->st != CN_OK)
        return cn_error(err, errlen, CN_EFORMAT, "%s: pq store header is truncated", path);
    if (magic != PQ_MAGIC)
        return cn_error(err, errlen, CN_EFORMAT, "%s: pq store has a bad magic number", path);
    if (nbits < 4 || nbits > 8 || M == 0 || dim == 0 || dim % M != 0)
        return cn_error(err, errlen, CN_EFORMAT,
                        "%s: pq store has invalid subspaces %u / nbits %u for dimension %u", path,
                        M, nbits, dim);
    uint64_t rem = cn_reader_remaining(r);
    uint64_t cb_bytes = (uint64_t)dim * (1u << nbits) * sizeof(float);
    if (cb_bytes > rem || (uint64_t)n > (rem - cb_bytes) / M)
        return cn_error(err, errlen, CN_EFORMAT,
                        "%s: pq store of %u x %u codes (nbits %u) is truncated", path, n, M,
                        nbits);
    pq_store_t *ps;
    cn_status_t st = store_alloc(&ps, metric, n, dim, M, nbits, err, errlen);
    if (st != CN_OK) return st;
    if (cn_read(r, ps->codebooks, (size_t)cb_bytes) != CN_OK ||
        cn_read(r, ps->codes, (size_t)n * M) != CN_OK) {
        pq_destroy(&ps->base);
        return cn_error(err, errlen, CN_EFORMAT, "%s: pq store is truncated", path);
    }
    for (size_t i = 0; i < cb_bytes / sizeof(float); i++) {
        if (!isfinite(ps->codebooks[i])) {
            pq_destroy(&ps->base);
            return cn_error(err, errlen, CN_EFORMAT,
                            "%s: pq store has a non-finite codebook value", path);
        }
    }
    if (nbits < 8) {
        for (size_t i = 0; i < (size_t)n * M; i++) {
            if (ps->codes[i] >= ps->ksub) {
                cn_error(err, errlen, CN_EFORMAT, "%s: pq code %u of vector %zu is >= 2^%u",
                         path, ps->codes[i], i / M, nbits);
                pq_destroy(&ps->base);
                return CN_EFORMAT;
            }
        }
    }
    st = store_finish(ps, err, errlen);
    if (st != CN_OK) {
        pq_destroy(&ps->base);
        return st;
    }
    *out = &ps->base;
    return CN_OK;
}

/* ---- quantizer ----------------------------------------------------------------- */

static cn_status_t check_input(const pq_quantizer_t *q, const cn_store_t *full, char *err,
                               size_t errlen) {
    return cn_pq_check_input("pq", q->base.dim, q->base.metric, full, err, errlen);
}

static cn_status_t pq_train(cn_quantizer_t *qq, const cn_store_t *full, char *err,
                            size_t errlen) {
    pq_quantizer_t *q = (pq_quantizer_t *)qq;
    cn_status_t st = check_input(q, full, err, errlen);
    if (st != CN_OK) return st;
    const size_t n = full->n, ksub = q->ksub;
    size_t ntr = n <= q->train_size ? n : (size_t)q->train_size;
    if (ntr < ksub)
        return cn_error(err, errlen, CN_EINVAL,
                        "quantizer 'pq': %zu training vectors (train_size %llu, store of %zu) "
                        "are fewer than the 2^%u = %zu centroids per sub-space",
                        ntr, (unsigned long long)q->train_size, n, q->nbits, ksub);
    /* dim % M == 0: the shared layout is M x ksub x dsub. */
    const cn_pq_train_params_t tp = {q->M,    ksub,    q->train_size,  q->seed,
                                     q->iterations, q->init, q->base.metric};
    float *cb;
    st = cn_pq_train_codebooks("pq", full, &tp, &cb, err, errlen);
    if (st != CN_OK) return st;
    cn_aligned_free(q->codebooks);
    q->codebooks = cb;
    return CN_OK;
}

static cn_status_t pq_encode(const cn_quantizer_t *qq, cn_store_t *full, cn_store_t **out,
                             char *err, size_t errlen) {
    const pq_quantizer_t *q = (const pq_quantizer_t *)qq;
    *out = NULL;
    if (!q->codebooks)
        return cn_error(err, errlen, CN_EINVAL, "quantizer 'pq': encode before train");
    cn_status_t st = check_input(q, full, err, errlen);
    if (st != CN_OK) return st;
    pq_store_t *ps;
    st = store_alloc(&ps, q->base.metric, full->n, q->base.dim, q->M, q->nbits, err, errlen);
    if (st != CN_OK) return st;
    memcpy(ps->codebooks, q->codebooks, (size_t)q->base.dim * q->ksub * sizeof(float));
    st = store_finish(ps, err, errlen);
    if (st != CN_OK) {
        pq_destroy(&ps->base);
        return st;
    }
    const cn_pq_kernels_t *k = cn_pq_kernels();
    const size_t M = q->M, ksub = q->ksub, dsub = q->dsub;
    long ln = (long)full->n;
#pragma omp parallel for schedule(static, 256)
    for (long i = 0; i < ln; i++) {
        float acc[256];
        const float *x = cn_store_dense_row(full, (uint32_t)i);
        uint8_t *c = ps->codes + (size_t)i * M;
        for (size_t s = 0; s < M; s++) {
            uint32_t a;
            float dd;
            k->nearest(ps->cbt + s * ksub * dsub, ksub, dsub, x + s * dsub, 1, &a, &dd, acc);
            c[s] = (uint8_t)a;
        }
    }
    *out = &ps->base;
    return CN_OK;
}

static size_t pq_bpv(const cn_quantizer_t *qq) { return ((const pq_quantizer_t *)qq)->M; }

static void pq_qdestroy(cn_quantizer_t *qq) {
    pq_quantizer_t *q = (pq_quantizer_t *)qq;
    cn_aligned_free(q->codebooks);
    cn_free(q);
}

/* One sub-space and 16 centroids fit every dimension and 256 training rows. */
static const cn_param_t pq_small_items[] = {
    {.key = "subspaces", .type = CN_PARAM_INT, .i = 1, .f = 1},
    {.key = "nbits", .type = CN_PARAM_INT, .i = 4, .f = 4},
};

/* ADC sums table entries that are the exact sub-space scores of the decoded
 * vector: float rounding only (scale-relative in the l2 differences). */
static const cn_quantizer_ops_t pq_quantizer_ops = {
    .name = "pq",
    .train = pq_train,
    .encode = pq_encode,
    .bytes_per_vector = pq_bpv,
    .destroy = pq_qdestroy,
    .dist_rtol = 1e-5f,
    .dist_atol = 1e-5f,
    .small_params = {pq_small_items, sizeof pq_small_items / sizeof pq_small_items[0]},
};

static cn_status_t pq_create(cn_quantizer_t **out, cn_metric_t metric, uint32_t dim,
                             const cn_params_t *params, char *err, size_t errlen) {
    *out = NULL;
    long long M = cn_params_get_int(params, "subspaces");
    long long nbits = cn_params_get_int(params, "nbits");
    long long train_size = cn_params_get_int(params, "train_size");
    if (dim == 0) return cn_error(err, errlen, CN_EINVAL, "quantizer 'pq': dimension is 0");
    if (M < 1 || M > 65536)
        return cn_error(err, errlen, CN_EINVAL, "quantizer 'pq': subspaces = %lld is not in [1, 65536]", M);
    if (dim % (uint32_t)M != 0)
        return cn_error(err, errlen, CN_EINVAL,
                        "quantizer 'pq': subspaces = %lld does not divide the dimension %u", M, dim);
    if (nbits < 4 || nbits > 8)
        return cn_error(err, errlen, CN_EINVAL, "quantizer 'pq': nbits = %lld is not in [4, 8]",
                        nbits);
    if (train_size < (1ll << nbits))
        return cn_error(err, errlen, CN_EINVAL,
                        "quantizer 'pq': train_size = %lld is below the 2^%lld = %lld centroids "
                        "per sub-space",
                        train_size, nbits, 1ll << nbits);
    cn_pq_train_params_t kp;
    cn_status_t st = cn_pq_parse_kmeans_params("pq", params, &kp, err, errlen);
    if (st != CN_OK) return st;
    pq_quantizer_t *q = cn_calloc(1, sizeof *q);
    if (!q) return cn_error(err, errlen, CN_ENOMEM, "out of memory");
    q->base.ops = &pq_quantizer_ops;
    q->base.metric = metric;
    q->base.dim = dim;
    q->M = (uint32_t)M;
    q->nbits = (uint32_t)nbits;
    q->ksub = 1u << q->nbits;
    q->dsub = dim / q->M;
    q->train_size = (uint64_t)train_size;
    q->iterations = kp.iterations;
    q->seed = kp.seed;
    q->init = kp.init;
    *out = &q->base;
    return CN_OK;
}

static const cn_param_spec_t pq_params[] = {
    {"subspaces", CN_PARAM_INT, CN_ROLE_BUILD, 1, 65536, "16", NULL,
     "number of sub-spaces M (must divide the dimension); bytes per vector = M", 0},
    {"nbits", CN_PARAM_INT, CN_ROLE_BUILD, 4, 8, "8", NULL,
     "bits per sub-space code (2^nbits centroids); codes are stored one per byte", 0},
    {"train_size", CN_PARAM_INT, CN_ROLE_BUILD, 1, 2147483647.0, "100000", NULL,
     "rows sampled (seeded) to train the codebooks; all rows if fewer", 0},
    {"iterations", CN_PARAM_INT, CN_ROLE_BUILD, 1, 1000, "25", NULL,
     "k-means iterations per sub-space", 0},
    {"seed", CN_PARAM_INT, CN_ROLE_BUILD, 0, 9007199254740991.0, "42", NULL,
     "seed of the training sample and the k-means initialisation", 0},
    {"init", CN_PARAM_STRING, CN_ROLE_BUILD, 0, 0, "kmeans++", "kmeans++|random",
     "k-means initialisation", 0},
};

const cn_component_t cn_component_pq = {
    .name = "pq",
    .kind = CN_COMPONENT_QUANTIZER,
    .help = "product quantization: k-means codebooks per sub-space, ADC lookup tables",
    .params = pq_params,
    .n_params = sizeof pq_params / sizeof pq_params[0],
    .create_quantizer = pq_create,
    .store_name = "pq",
    .store_load = pq_load,
};
