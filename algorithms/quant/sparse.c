/*
 * quant/sparse.c — the sparse CSR store ("sparse_csr"), its inner-product
 * evaluator, and the `sparse` quantizer (value precision f32 or f16).
 *
 * Learned sparse (SPLADE) and lexical (BM25) vectors have ~30k dimensions and
 * tens to a few hundred nonzeros. kANNolo's point (arXiv 2501.06121, §3) is
 * that a graph index serves them through the same vector abstraction as dense
 * vectors; this file is that abstraction's sparse side, and no index knows it
 * exists.
 *
 * Layout: CSR. indptr[n+1] (u64) delimits row i as [indptr[i], indptr[i+1]);
 * components are u16 when dim <= 65536 (half the bytes of the largest array
 * and of the memory traffic per distance), u32 otherwise; values are f32 or
 * IEEE binary16. Components are strictly increasing within a row; creation
 * and loading reject unsorted, duplicate or out-of-range components and
 * non-finite values, so the kernels need no checks.
 *
 * Scoring (metric ip only; internal score = -<q, x>, as for dense):
 *   - query to documents (search, and the build's query = stored row):
 *     the query is scattered once into a dense float array of `dim` (qd);
 *     a document's score is a gather of qd at its components, 4-way unrolled
 *     with independent accumulators. dist_batch prefetches the component and
 *     value ranges of the documents a few ids ahead: the ranges of a batch
 *     are scattered over the store, so this is where the time goes. qd is
 *     reset on the next set_query by zeroing only the components the previous
 *     query touched (a full memset of 120 KB per query would cost more than
 *     the search of a short BM25 query);
 *   - document to document (dist_pairs, the neighbour-selection heuristic
 *     while building), leaving qd (the current insertion's query) untouched:
 *     for a few partners a merge of the two sorted component lists; from
 *     SP_PAIRS_SCATTER_MIN partners on, the anchor row is scattered into a
 *     second dense array (pd) and the partners gathered against it, like a
 *     query. The merge's data-dependent branches made it 74% of an HNSW
 *     build on SPLADE vectors (perf); scatter + gather is exact too.
 * The evaluator captures the representation (u16/u32 x f32/f16) once; every
 * batch dispatches on it once, with the kernel inlined in the loop.
 *
 * Saved payload (after the generic store header): u32 wide (u32 components),
 * u32 half (f16 values), u64 nnz, u64 indptr[n+1], components[nnz] (2 or 4
 * bytes), values[nnz] (4 or 2 bytes), little-endian host order.
 */
#include <math.h>
#include <string.h>

#include "cannoli/params.h"
#include "cannoli/registry.h"
#include "cannoli/store.h"
#include "quant/f16_internal.h"

#define SP_PREFETCH_AHEAD 4
/* dist_pairs scatters the anchor row into a second dense array once it has
 * at least this many partners (the scatter and its reset cost 2 nnz writes;
 * a merge costs nnz_a + nnz_b unpredictable steps per partner). */
#define SP_PAIRS_SCATTER_MIN 4

typedef struct sparse_store {
    cn_store_t base;
    uint64_t *indptr; /* n + 1 */
    void *idx;        /* nnz u16 (wide == 0) or u32 */
    void *val;        /* nnz float (half == 0) or u16 binary16 */
    uint64_t nnz;
    uint32_t max_nnz;
    int wide, half;
} sparse_store_t;

typedef struct sparse_eval {
    cn_evaluator_t base;
    const sparse_store_t *s;
    int kind;        /* wide * 2 + half */
    float *qd;       /* dim floats: the scattered query, zero elsewhere */
    float *pd;       /* dim floats, zero: dist_pairs' scattered anchor row */
    uint32_t *qidx;  /* components set in qd (dim capacity) */
    uint32_t qnnz;
} sparse_eval_t;

static const cn_store_ops_t sparse_ops;

int cn_store_is_sparse(const cn_store_t *s) { return s && s->ops == &sparse_ops; }

cn_sparse_values_t cn_store_sparse_values(const cn_store_t *s) {
    return ((const sparse_store_t *)s)->half ? CN_SPARSE_F16 : CN_SPARSE_F32;
}

static inline uint32_t comp_at(const sparse_store_t *s, uint64_t k) {
    return s->wide ? ((const uint32_t *)s->idx)[k] : ((const uint16_t *)s->idx)[k];
}

static inline float val_at(const sparse_store_t *s, uint64_t k) {
    return s->half ? cn_f16_to_f32(((const uint16_t *)s->val)[k]) : ((const float *)s->val)[k];
}

uint32_t cn_store_sparse_nnz(const cn_store_t *st, uint32_t i) {
    const sparse_store_t *s = (const sparse_store_t *)st;
    return (uint32_t)(s->indptr[i + 1] - s->indptr[i]);
}

uint32_t cn_store_sparse_max_nnz(const cn_store_t *st) {
    return ((const sparse_store_t *)st)->max_nnz;
}

uint32_t cn_store_sparse_row(const cn_store_t *st, uint32_t i, uint32_t *idx, float *val) {
    const sparse_store_t *s = (const sparse_store_t *)st;
    uint64_t b = s->indptr[i], e = s->indptr[i + 1];
    for (uint64_t k = b; k < e; k++) {
        idx[k - b] = comp_at(s, k);
        val[k - b] = val_at(s, k);
    }
    return (uint32_t)(e - b);
}

/* ---- kernels ---------------------------------------------------------------- */

static inline float f32_id(float x) { return x; }

#if defined(__GNUC__)
#define SP_PREFETCH(p) __builtin_prefetch((p), 0, 3)
#else
#define SP_PREFETCH(p) ((void)(p))
#endif

/* gather_<I><V>(qd, idx, val, m): sum of qd[idx[j]] * val[j]; batch_<I><V>:
 * the negated gather for a list of ids, prefetching SP_PREFETCH_AHEAD ahead;
 * merge_<I><V>: the dot product of two stored rows by merging. */
#define SP_DEFINE(SUF, IT, VT, CONV)                                                          \
    static inline float gather_##SUF(const float *qd, const IT *idx, const VT *val,           \
                                     size_t m) {                                              \
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;                                                 \
        size_t j = 0;                                                                         \
        for (; j + 4 <= m; j += 4) {                                                          \
            s0 += qd[idx[j]] * CONV(val[j]);                                                  \
            s1 += qd[idx[j + 1]] * CONV(val[j + 1]);                                          \
            s2 += qd[idx[j + 2]] * CONV(val[j + 2]);                                          \
            s3 += qd[idx[j + 3]] * CONV(val[j + 3]);                                          \
        }                                                                                     \
        for (; j < m; j++) s0 += qd[idx[j]] * CONV(val[j]);                                   \
        return (s0 + s1) + (s2 + s3);                                                         \
    }                                                                                         \
    static inline void prefetch_##SUF(const sparse_store_t *s, uint32_t id) {                 \
        uint64_t b = s->indptr[id], e = s->indptr[id + 1];                                    \
        const IT *ip = (const IT *)s->idx + b;                                                \
        const VT *vp = (const VT *)s->val + b;                                                \
        SP_PREFETCH(ip);                                                                      \
        SP_PREFETCH(vp);                                                                      \
        if (e - b > 16) { /* longer rows: the next lines as well (up to 256 bytes) */         \
            const char *ic = (const char *)ip, *vc = (const char *)vp;                        \
            size_t ib = (size_t)(e - b) * sizeof(IT), vb = (size_t)(e - b) * sizeof(VT);      \
            for (size_t o = 64; o < ib && o < 256; o += 64) SP_PREFETCH(ic + o);              \
            for (size_t o = 64; o < vb && o < 256; o += 64) SP_PREFETCH(vc + o);              \
        }                                                                                     \
    }                                                                                         \
    static void batch_##SUF(const sparse_store_t *s, const float *qd, const uint32_t *ids,    \
                            size_t n, float *out) {                                           \
        const IT *I = (const IT *)s->idx;                                                     \
        const VT *V = (const VT *)s->val;                                                     \
        const uint64_t *P = s->indptr;                                                        \
        size_t pre = n < SP_PREFETCH_AHEAD ? n : SP_PREFETCH_AHEAD;                           \
        for (size_t i = 0; i < pre; i++) prefetch_##SUF(s, ids[i]);                           \
        for (size_t i = 0; i < n; i++) {                                                      \
            if (i + SP_PREFETCH_AHEAD < n) prefetch_##SUF(s, ids[i + SP_PREFETCH_AHEAD]);     \
            uint64_t b = P[ids[i]], e = P[ids[i] + 1];                                        \
            out[i] = -gather_##SUF(qd, I + b, V + b, (size_t)(e - b));                        \
        }                                                                                     \
    }                                                                                         \
    static void range_##SUF(const sparse_store_t *s, const float *qd, uint32_t start,         \
                            size_t n, float *out) {                                           \
        const IT *I = (const IT *)s->idx;                                                     \
        const VT *V = (const VT *)s->val;                                                     \
        const uint64_t *P = s->indptr;                                                        \
        for (size_t i = 0; i < n; i++) {                                                      \
            uint64_t b = P[start + i], e = P[start + i + 1];                                  \
            out[i] = -gather_##SUF(qd, I + b, V + b, (size_t)(e - b));                        \
        }                                                                                     \
    }                                                                                         \
    static void pairs_##SUF(const sparse_store_t *s, uint32_t a, const uint32_t *ids,         \
                            size_t n, float *out, float *pd) {                                \
        const IT *I = (const IT *)s->idx;                                                     \
        const VT *V = (const VT *)s->val;                                                     \
        const uint64_t *P = s->indptr;                                                        \
        const IT *ia = I + P[a];                                                              \
        const VT *va = V + P[a];                                                              \
        size_t na = (size_t)(P[a + 1] - P[a]);                                                \
        if (n >= SP_PAIRS_SCATTER_MIN) {                                                      \
            for (size_t j = 0; j < na; j++) pd[ia[j]] = CONV(va[j]);                          \
            batch_##SUF(s, pd, ids, n, out);                                                  \
            for (size_t j = 0; j < na; j++) pd[ia[j]] = 0.0f;                                 \
            return;                                                                           \
        }                                                                                     \
        for (size_t i = 0; i < n; i++) {                                                      \
            if (i + 1 < n) prefetch_##SUF(s, ids[i + 1]);                                     \
            const IT *ib = I + P[ids[i]];                                                     \
            const VT *vb = V + P[ids[i]];                                                     \
            size_t nb = (size_t)(P[ids[i] + 1] - P[ids[i]]), x = 0, y = 0;                    \
            float acc = 0;                                                                    \
            /* branch-free advance: only the (rarer) match branches */                        \
            while (x < na && y < nb) {                                                        \
                IT cx = ia[x], cy = ib[y];                                                    \
                if (cx == cy) acc += CONV(va[x]) * CONV(vb[y]);                               \
                x += cx <= cy;                                                                \
                y += cy <= cx;                                                                \
            }                                                                                 \
            out[i] = -acc;                                                                    \
        }                                                                                     \
    }

SP_DEFINE(h32, uint16_t, float, f32_id)
SP_DEFINE(h16, uint16_t, uint16_t, cn_f16_to_f32)
SP_DEFINE(w32, uint32_t, float, f32_id)
SP_DEFINE(w16, uint32_t, uint16_t, cn_f16_to_f32)

/* ---- evaluator ---------------------------------------------------------------- */

static void ev_clear(sparse_eval_t *ev) {
    for (uint32_t j = 0; j < ev->qnnz; j++) ev->qd[ev->qidx[j]] = 0.0f;
    ev->qnnz = 0;
}

static cn_status_t ev_set_query(cn_evaluator_t *e, const cn_vec_t *q, char *err, size_t errlen) {
    sparse_eval_t *ev = (sparse_eval_t *)e;
    uint32_t dim = e->store->dim;
    ev_clear(ev);
    if (!q) return cn_error(err, errlen, CN_EINVAL, "sparse_csr store: no query");
    if (q->dense) {
        /* A dense query (e.g. from a dense ground-truth tool): keep its nonzeros. */
        for (uint32_t j = 0; j < dim; j++)
            if (!isfinite(q->dense[j]))
                return cn_error(err, errlen, CN_EINVAL, "query has a %s value at dimension %u",
                                isnan(q->dense[j]) ? "NaN" : "infinite", j);
        for (uint32_t j = 0; j < dim; j++)
            if (q->dense[j] != 0.0f) {
                ev->qd[j] = q->dense[j];
                ev->qidx[ev->qnnz++] = j;
            }
        return CN_OK;
    }
    if (q->nnz > 0 && (!q->idx || !q->val))
        return cn_error(err, errlen, CN_EINVAL, "sparse query: %u nonzeros but no arrays",
                        q->nnz);
    for (uint32_t j = 0; j < q->nnz; j++) {
        if (q->idx[j] >= dim)
            return cn_error(err, errlen, CN_EINVAL,
                            "sparse query: component %u is outside the dimension %u", q->idx[j],
                            dim);
        if (j > 0 && q->idx[j] <= q->idx[j - 1])
            return cn_error(err, errlen, CN_EINVAL,
                            "sparse query: %s component %u (components must be strictly "
                            "increasing)",
                            q->idx[j] == q->idx[j - 1] ? "duplicate" : "unsorted", q->idx[j]);
        if (!isfinite(q->val[j]))
            return cn_error(err, errlen, CN_EINVAL, "sparse query: %s value at component %u",
                            isnan(q->val[j]) ? "NaN" : "infinite", q->idx[j]);
    }
    for (uint32_t j = 0; j < q->nnz; j++) {
        ev->qd[q->idx[j]] = q->val[j];
        ev->qidx[j] = q->idx[j];
    }
    ev->qnnz = q->nnz;
    return CN_OK;
}

static void ev_set_query_id(cn_evaluator_t *e, uint32_t id) {
    sparse_eval_t *ev = (sparse_eval_t *)e;
    const sparse_store_t *s = ev->s;
    ev_clear(ev);
    uint64_t b = s->indptr[id], end = s->indptr[id + 1];
    uint32_t m = 0;
    for (uint64_t k = b; k < end; k++) {
        uint32_t c = comp_at(s, k);
        ev->qd[c] = val_at(s, k);
        ev->qidx[m++] = c;
    }
    ev->qnnz = m;
}

static void ev_dist_batch(cn_evaluator_t *e, const uint32_t *ids, size_t n, float *out) {
    sparse_eval_t *ev = (sparse_eval_t *)e;
    switch (ev->kind) {
    case 0: batch_h32(ev->s, ev->qd, ids, n, out); break;
    case 1: batch_h16(ev->s, ev->qd, ids, n, out); break;
    case 2: batch_w32(ev->s, ev->qd, ids, n, out); break;
    default: batch_w16(ev->s, ev->qd, ids, n, out); break;
    }
}

static float ev_dist(cn_evaluator_t *e, uint32_t id) {
    float out;
    ev_dist_batch(e, &id, 1, &out);
    return out;
}

static void ev_dist_range(cn_evaluator_t *e, uint32_t start, size_t n, float *out) {
    sparse_eval_t *ev = (sparse_eval_t *)e;
    switch (ev->kind) {
    case 0: range_h32(ev->s, ev->qd, start, n, out); break;
    case 1: range_h16(ev->s, ev->qd, start, n, out); break;
    case 2: range_w32(ev->s, ev->qd, start, n, out); break;
    default: range_w16(ev->s, ev->qd, start, n, out); break;
    }
}

static void ev_dist_pairs(cn_evaluator_t *e, uint32_t a, const uint32_t *ids, size_t n,
                          float *out) {
    sparse_eval_t *ev = (sparse_eval_t *)e;
    switch (ev->kind) {
    case 0: pairs_h32(ev->s, a, ids, n, out, ev->pd); break;
    case 1: pairs_h16(ev->s, a, ids, n, out, ev->pd); break;
    case 2: pairs_w32(ev->s, a, ids, n, out, ev->pd); break;
    default: pairs_w16(ev->s, a, ids, n, out, ev->pd); break;
    }
}

static void ev_destroy(cn_evaluator_t *e) {
    sparse_eval_t *ev = (sparse_eval_t *)e;
    cn_aligned_free(ev->qd);
    cn_aligned_free(ev->pd);
    cn_free(ev->qidx);
    cn_free(ev);
}

static const cn_evaluator_ops_t sparse_eval_ops = {
    ev_set_query, ev_set_query_id, ev_dist,      ev_dist_batch,
    ev_dist_range, ev_dist_pairs,  ev_destroy,
    NULL, /* no prefetch */
};

static cn_status_t sparse_evaluator_create(const cn_store_t *st, cn_evaluator_t **out,
                                           char *err, size_t errlen) {
    const sparse_store_t *s = (const sparse_store_t *)st;
    sparse_eval_t *ev = cn_calloc(1, sizeof *ev);
    if (ev) {
        ev->qd = cn_aligned_alloc((size_t)st->dim * sizeof(float));
        ev->pd = cn_aligned_alloc((size_t)st->dim * sizeof(float));
        ev->qidx = cn_malloc((size_t)st->dim * sizeof(uint32_t));
    }
    if (!ev || !ev->qd || !ev->pd || !ev->qidx) {
        if (ev) {
            cn_aligned_free(ev->qd);
            cn_aligned_free(ev->pd);
            cn_free(ev->qidx);
        }
        cn_free(ev);
        return cn_error(err, errlen, CN_ENOMEM, "out of memory creating a sparse evaluator");
    }
    memset(ev->qd, 0, (size_t)st->dim * sizeof(float));
    memset(ev->pd, 0, (size_t)st->dim * sizeof(float));
    ev->base.ops = &sparse_eval_ops;
    ev->base.store = st;
    ev->s = s;
    ev->kind = s->wide * 2 + s->half;
    *out = &ev->base;
    return CN_OK;
}

/* ---- store ---------------------------------------------------------------------- */

static size_t sparse_bytes(const cn_store_t *st) {
    const sparse_store_t *s = (const sparse_store_t *)st;
    return sizeof *s + ((size_t)st->n + 1) * sizeof(uint64_t) +
           (size_t)s->nnz * ((s->wide ? 4 : 2) + (s->half ? 2 : 4));
}

static void sparse_decode(const cn_store_t *st, uint32_t i, float *out) {
    const sparse_store_t *s = (const sparse_store_t *)st;
    memset(out, 0, (size_t)st->dim * sizeof(float));
    for (uint64_t k = s->indptr[i]; k < s->indptr[i + 1]; k++) out[comp_at(s, k)] = val_at(s, k);
}

static void sparse_save(const cn_store_t *st, cn_writer_t *w) {
    const sparse_store_t *s = (const sparse_store_t *)st;
    cn_write_u32(w, (uint32_t)s->wide);
    cn_write_u32(w, (uint32_t)s->half);
    cn_write_u64(w, s->nnz);
    cn_write(w, s->indptr, ((size_t)st->n + 1) * sizeof(uint64_t));
    cn_write(w, s->idx, (size_t)s->nnz * (s->wide ? 4 : 2));
    cn_write(w, s->val, (size_t)s->nnz * (s->half ? 2 : 4));
}

static void sparse_destroy(cn_store_t *st) {
    sparse_store_t *s = (sparse_store_t *)st;
    cn_free(s->indptr);
    cn_free(s->idx);
    cn_free(s->val);
    cn_free(s);
}

static const cn_store_ops_t sparse_ops = {
    "sparse_csr", sparse_evaluator_create, sparse_bytes, sparse_decode, sparse_save,
    sparse_destroy,
    NULL, /* no build-only scratch */
    NULL, /* no packed code blocks */
    NULL, /* scores are those of decode(i) */
};

static cn_status_t check_metric(cn_metric_t metric, char *err, size_t errlen) {
    if (metric != CN_METRIC_IP)
        return cn_error(err, errlen, CN_EINVAL,
                        "sparse_csr store: metric %s is not supported; sparse vectors are "
                        "compared by inner product (ip)",
                        cn_metric_name(metric));
    return CN_OK;
}

static cn_status_t sparse_alloc(sparse_store_t **out, uint32_t n, uint32_t dim, uint64_t nnz,
                                cn_metric_t metric, int half, char *err, size_t errlen) {
    *out = NULL;
    if (dim == 0) return cn_error(err, errlen, CN_EINVAL, "sparse_csr store: dimension is 0");
    cn_status_t st = check_metric(metric, err, errlen);
    if (st != CN_OK) return st;
    int wide = dim > 65536u;
    if (nnz > (uint64_t)(SIZE_MAX / 8))
        return cn_error(err, errlen, CN_ENOMEM, "sparse_csr store: %llu nonzeros is too many",
                        (unsigned long long)nnz);
    sparse_store_t *s = cn_calloc(1, sizeof *s);
    if (!s) return cn_error(err, errlen, CN_ENOMEM, "out of memory");
    s->indptr = cn_malloc(((size_t)n + 1) * sizeof(uint64_t));
    s->idx = cn_malloc(nnz ? (size_t)nnz * (wide ? 4 : 2) : 1);
    s->val = cn_malloc(nnz ? (size_t)nnz * (half ? 2 : 4) : 1);
    s->wide = wide;
    s->half = half;
    s->nnz = nnz;
    s->base.ops = &sparse_ops;
    s->base.metric = metric;
    s->base.n = n;
    s->base.dim = dim;
    s->base.refs = 1;
    if (!s->indptr || !s->idx || !s->val) {
        sparse_destroy(&s->base);
        return cn_error(err, errlen, CN_ENOMEM,
                        "out of memory for a sparse store of %u vectors, %llu nonzeros", n,
                        (unsigned long long)nnz);
    }
    *out = s;
    return CN_OK;
}

cn_status_t cn_sparse_check(const uint64_t *indptr, const uint32_t *indices, const float *values,
                            uint32_t n, uint32_t dim, const char *what, char *err,
                            size_t errlen) {
    if (!what) what = "sparse data";
    if (!indptr) return cn_error(err, errlen, CN_EINVAL, "%s: no row pointers", what);
    if (indptr[0] != 0)
        return cn_error(err, errlen, CN_EINVAL, "%s: row pointers start at %llu, not 0", what,
                        (unsigned long long)indptr[0]);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t b = indptr[i], e = indptr[i + 1];
        if (e < b)
            return cn_error(err, errlen, CN_EINVAL,
                            "%s: vector %u: row pointers decrease (%llu then %llu)", what, i,
                            (unsigned long long)b, (unsigned long long)e);
        for (uint64_t k = b; k < e; k++) {
            if (indices[k] >= dim)
                return cn_error(err, errlen, CN_EINVAL,
                                "%s: vector %u: component %u is outside the dimension %u", what,
                                i, indices[k], dim);
            if (k > b && indices[k] <= indices[k - 1])
                return cn_error(err, errlen, CN_EINVAL,
                                indices[k] == indices[k - 1]
                                    ? "%s: vector %u: duplicate component %u"
                                    : "%s: vector %u: components not sorted (%u after %u)",
                                what, i, indices[k], indices[k - 1]);
            if (!isfinite(values[k]))
                return cn_error(err, errlen, CN_EINVAL, "%s: vector %u: %s value at component %u",
                                what, i, isnan(values[k]) ? "NaN" : "infinite", indices[k]);
        }
    }
    return CN_OK;
}

/* Fills an allocated store from checked f32 CSR arrays. */
static cn_status_t sparse_fill(sparse_store_t *s, const uint64_t *indptr, const uint32_t *indices,
                               const float *values, char *err, size_t errlen) {
    uint32_t n = s->base.n;
    memcpy(s->indptr, indptr, ((size_t)n + 1) * sizeof(uint64_t));
    uint64_t nnz = s->nnz;
    if (s->wide)
        memcpy(s->idx, indices, (size_t)nnz * 4);
    else
        for (uint64_t k = 0; k < nnz; k++) ((uint16_t *)s->idx)[k] = (uint16_t)indices[k];
    if (!s->half) {
        memcpy(s->val, values, (size_t)nnz * 4);
    } else {
        for (uint64_t k = 0; k < nnz; k++) {
            uint16_t h = cn_f32_to_f16(values[k]);
            if ((h & 0x7c00u) == 0x7c00u)
                return cn_error(err, errlen, CN_EINVAL,
                                "sparse_csr store: value %g does not fit in f16", values[k]);
            ((uint16_t *)s->val)[k] = h;
        }
    }
    s->max_nnz = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t m = indptr[i + 1] - indptr[i];
        if (m > s->max_nnz) s->max_nnz = (uint32_t)m;
    }
    return CN_OK;
}

cn_status_t cn_store_sparse_create(cn_store_t **out, const uint64_t *indptr,
                                   const uint32_t *indices, const float *values, uint32_t n,
                                   uint32_t dim, cn_metric_t metric, cn_sparse_values_t prec,
                                   char *err, size_t errlen) {
    *out = NULL;
    cn_status_t st = check_metric(metric, err, errlen);
    if (st != CN_OK) return st;
    if (dim == 0) return cn_error(err, errlen, CN_EINVAL, "sparse_csr store: dimension is 0");
    st = cn_sparse_check(indptr, indices, values, n, dim, "sparse_csr store", err, errlen);
    if (st != CN_OK) return st;
    if (indptr[n] > 0xffffffffull * 64)
        return cn_error(err, errlen, CN_EINVAL, "sparse_csr store: too many nonzeros");
    sparse_store_t *s;
    st = sparse_alloc(&s, n, dim, indptr[n], metric, prec == CN_SPARSE_F16, err, errlen);
    if (st != CN_OK) return st;
    st = sparse_fill(s, indptr, indices, values, err, errlen);
    if (st != CN_OK) {
        sparse_destroy(&s->base);
        return st;
    }
    *out = &s->base;
    return CN_OK;
}

static cn_status_t sparse_load(cn_store_t **out, cn_reader_t *r, cn_metric_t metric,
                              uint32_t n, uint32_t dim, char *err, size_t errlen) {
    *out = NULL;
    const char *path = r->path ? r->path : "index file";
    uint32_t wide = cn_read_u32(r), half = cn_read_u32(r);
    uint64_t nnz = cn_read_u64(r);
    if (r->st != CN_OK)
        return cn_error(err, errlen, CN_EFORMAT, "%s: sparse_csr store is truncated", path);
    if (metric != CN_METRIC_IP || dim == 0 || half > 1 || wide != (uint32_t)(dim > 65536u))
        return cn_error(err, errlen, CN_EFORMAT,
                        "%s: sparse_csr store has an invalid header (metric %s, dim %u, "
                        "wide %u, half %u)",
                        path, cn_metric_name(metric), dim, wide, half);
    uint64_t need = ((uint64_t)n + 1) * 8;
    uint64_t per = (wide ? 4u : 2u) + (half ? 2u : 4u);
    uint64_t rem = cn_reader_remaining(r);
    if (need > rem || nnz > (rem - need) / per)
        return cn_error(err, errlen, CN_EFORMAT,
                        "%s: sparse_csr store of %u vectors, %llu nonzeros is truncated", path, n,
                        (unsigned long long)nnz);
    sparse_store_t *s;
    cn_status_t st = sparse_alloc(&s, n, dim, nnz, metric, (int)half, err, errlen);
    if (st != CN_OK) return st;
    cn_read(r, s->indptr, ((size_t)n + 1) * sizeof(uint64_t));
    cn_read(r, s->idx, (size_t)nnz * (wide ? 4 : 2));
    cn_read(r, s->val, (size_t)nnz * (half ? 2 : 4));
    if (r->st != CN_OK) {
        st = cn_error(err, errlen, CN_EFORMAT, "%s: sparse_csr store is truncated", path);
        goto fail;
    }
    if (s->indptr[0] != 0 || s->indptr[n] != nnz) {
        st = cn_error(err, errlen, CN_EFORMAT,
                      "%s: sparse_csr row pointers span [%llu, %llu], expected [0, %llu]", path,
                      (unsigned long long)s->indptr[0], (unsigned long long)s->indptr[n],
                      (unsigned long long)nnz);
        goto fail;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t b = s->indptr[i], e = s->indptr[i + 1];
        if (e < b || e > nnz) {
            st = cn_error(err, errlen, CN_EFORMAT, "%s: sparse_csr vector %u: bad row pointers",
                          path, i);
            goto fail;
        }
        if (e - b > s->max_nnz) s->max_nnz = (uint32_t)(e - b);
        for (uint64_t k = b; k < e; k++) {
            uint32_t c = comp_at(s, k);
            if (c >= dim || (k > b && c <= comp_at(s, k - 1)) || !isfinite(val_at(s, k))) {
                st = cn_error(err, errlen, CN_EFORMAT,
                              "%s: sparse_csr vector %u: component %u out of range, out of "
                              "order or with a non-finite value",
                              path, i, c);
                goto fail;
            }
        }
    }
    *out = &s->base;
    return CN_OK;
fail:
    sparse_destroy(&s->base);
    return st;
}

/* ---- the `sparse` quantizer ------------------------------------------------------ */

typedef struct sparse_quant {
    cn_quantizer_t base;
    int half;
    double avg_nnz; /* of the last store trained on */
} sparse_quant_t;

static cn_status_t sq_train(cn_quantizer_t *q, const cn_store_t *full, char *err,
                            size_t errlen) {
    sparse_quant_t *sq = (sparse_quant_t *)q;
    if (!cn_store_is_sparse(full))
        return cn_error(err, errlen, CN_EINVAL,
                        "quantizer 'sparse': input must be a sparse_csr store (the dataset is "
                        "dense; use plain, f16, sq8 or pq)");
    const sparse_store_t *s = (const sparse_store_t *)full;
    sq->avg_nnz = full->n ? (double)s->nnz / full->n : 0.0;
    return CN_OK;
}

static cn_status_t sq_encode(const cn_quantizer_t *q, cn_store_t *full, cn_store_t **out,
                             char *err, size_t errlen) {
    const sparse_quant_t *sq = (const sparse_quant_t *)q;
    *out = NULL;
    if (!cn_store_is_sparse(full))
        return cn_error(err, errlen, CN_EINVAL,
                        "quantizer 'sparse': input must be a sparse_csr store");
    if (full->dim != q->dim || full->metric != q->metric)
        return cn_error(err, errlen, CN_EINVAL,
                        "quantizer 'sparse': store has dimension %u metric %s, expected %u %s",
                        full->dim, cn_metric_name(full->metric), q->dim,
                        cn_metric_name(q->metric));
    const sparse_store_t *s = (const sparse_store_t *)full;
    if (s->half == sq->half) {
        *out = cn_store_retain(full);
        return CN_OK;
    }
    if (s->half)
        return cn_error(err, errlen, CN_EINVAL,
                        "quantizer 'sparse': cannot widen f16 values back to f32");
    sparse_store_t *d;
    cn_status_t st = sparse_alloc(&d, full->n, full->dim, s->nnz, full->metric, sq->half, err,
                                  errlen);
    if (st != CN_OK) return st;
    /* Components are re-read as u32 through a temporary only when needed. */
    uint32_t *idx = NULL;
    const uint32_t *src_idx = s->wide ? (const uint32_t *)s->idx : NULL;
    if (!src_idx) {
        idx = cn_malloc(s->nnz ? (size_t)s->nnz * 4 : 1);
        if (!idx) {
            sparse_destroy(&d->base);
            return cn_error(err, errlen, CN_ENOMEM, "out of memory");
        }
        for (uint64_t k = 0; k < s->nnz; k++) idx[k] = ((const uint16_t *)s->idx)[k];
        src_idx = idx;
    }
    st = sparse_fill(d, s->indptr, src_idx, (const float *)s->val, err, errlen);
    cn_free(idx);
    if (st != CN_OK) {
        sparse_destroy(&d->base);
        return st;
    }
    *out = &d->base;
    return CN_OK;
}

static size_t sq_bpv(const cn_quantizer_t *q) {
    const sparse_quant_t *sq = (const sparse_quant_t *)q;
    size_t per = (q->dim > 65536u ? 4 : 2) + (sq->half ? 2 : 4);
    return (size_t)(sq->avg_nnz * (double)per + 0.5) + sizeof(uint64_t);
}

static void sq_destroy(cn_quantizer_t *q) { cn_free(q); }

/* Gathers and merges of the stored values (f16 widened exactly): float
 * rounding only; dist_pairs merges in another order than the gather. */
static const cn_quantizer_ops_t sparse_quant_ops = {
    .name = "sparse",
    .train = sq_train,
    .encode = sq_encode,
    .bytes_per_vector = sq_bpv,
    .destroy = sq_destroy,
    .dist_rtol = 1e-5f,
    .dist_atol = 1e-6f,
};

static cn_status_t sq_create(cn_quantizer_t **out, cn_metric_t metric, uint32_t dim,
                             const cn_params_t *params, char *err, size_t errlen) {
    *out = NULL;
    cn_status_t st = check_metric(metric, err, errlen);
    if (st != CN_OK) return st;
    const char *v = cn_params_get_str(params, "values");
    if (!v || (strcmp(v, "f32") != 0 && strcmp(v, "f16") != 0))
        return cn_error(err, errlen, CN_EINVAL,
                        "quantizer 'sparse': values must be f32 or f16, got '%s'", v ? v : "");
    sparse_quant_t *q = cn_calloc(1, sizeof *q);
    if (!q) return cn_error(err, errlen, CN_ENOMEM, "out of memory");
    q->base.ops = &sparse_quant_ops;
    q->base.metric = metric;
    q->base.dim = dim;
    q->half = strcmp(v, "f16") == 0;
    q->base.identity = !q->half; /* f32 values: encode returns its f32 input */
    *out = &q->base;
    return CN_OK;
}

static const cn_param_spec_t sparse_params[] = {
    {"values", CN_PARAM_STRING, CN_ROLE_BUILD, 0, 0, "f32", "f32|f16",
     "precision of the stored values (components are u16 when dim <= 65536, else u32)", 0},
};

const cn_component_t cn_component_sparse = {
    .name = "sparse",
    .kind = CN_COMPONENT_QUANTIZER,
    .help = "sparse CSR vectors (inner product): u16/u32 components, f32 or f16 values",
    .params = sparse_params,
    .n_params = sizeof sparse_params / sizeof sparse_params[0],
    .create_quantizer = sq_create,
    .store_name = "sparse_csr",
    .store_load = sparse_load,
};
