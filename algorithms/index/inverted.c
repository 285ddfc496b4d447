/*
 * index/inverted.c — an inverted index over sparse vectors: the classic
 * baseline of sparse retrieval, next to which a graph index must be judged.
 *
 * Structure: one posting list per component (term) t, holding the (doc id,
 * weight) pairs of every stored vector with a nonzero at t, sorted by weight
 * descending (ties by doc id). The lists are three flat arrays: off[dim+1]
 * (u64), doc[total] (u32) and w[total] (f32); maxw[t] = w[off[t]] is each
 * list's largest weight.
 *
 * Search: term-at-a-time (Turtle & Flood, "Query evaluation: strategies and
 * optimizations", IP&M 31(6), 1995): for each query term, every posting adds
 * q_t * w to an accumulator of its document; the per-context accumulator
 * array has one float per document and only the touched entries are reset
 * afterwards. The k best accumulators are selected with the bounded max-heap
 * of core/heap.h. Documents no query term reaches score 0; they fill the
 * result when fewer than k documents are touched (as an exact scan would), so
 * the exact mode returns exactly what `flat` returns, up to ties.
 *
 * Approximate mode, two search parameters (one built index serves the sweep):
 *   keep         fraction of each posting list scanned; lists are sorted by
 *                weight, so this keeps the highest-impact postings (static
 *                index pruning, Carmel et al., SIGIR 2001, applied at query
 *                time); 1 = exact;
 *   query_terms  keep only the N query terms with the largest upper bound
 *                |q_t| * maxw[t] (query-term pruning); 0 = all.
 *
 * The index is sparse-specific by nature: it reads the build store's rows
 * through cn_store_sparse_row() and the query through ctx->query. Scores are
 * internal (negated inner product), as everywhere.
 *
 * Saved payload: u64 magic "cnINVX01" | u32 n | u32 dim | u64 total |
 * u64 off[dim+1] | u32 doc[total] | f32 w[total]. Load checks offsets, ids,
 * weights (finite, non-increasing within a list) before anything uses them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cannoli/index.h"
#include "cannoli/params.h"
#include "cannoli/registry.h"
#include "core/heap.h"

#define INV_MAGIC 0x313058564e496e63ull /* bytes "cnINVX01" little-endian */

typedef struct inv {
    cn_index_t base;
    uint64_t *off;  /* dim + 1 */
    uint32_t *doc;  /* total */
    float *w;       /* total */
    float *maxw;    /* dim */
    uint64_t total;
} inv_t;

typedef struct qterm {
    float ub;  /* |q_t| * maxw[t]: the most this term can add */
    float qw;
    uint32_t t;
} qterm_t;

typedef struct inv_ctx {
    float *acc;        /* n accumulators, zero between queries */
    uint8_t *mark;     /* n: touched by the current query */
    uint32_t *touched; /* n */
    qterm_t *qt;       /* dim */
    double keep;
    uint32_t query_terms;
} inv_ctx_t;

static void inv_free_lists(inv_t *v) {
    cn_free(v->off);
    cn_free(v->doc);
    cn_free(v->w);
    cn_free(v->maxw);
    v->off = NULL;
    v->doc = NULL;
    v->w = NULL;
    v->maxw = NULL;
    v->total = 0;
}

static cn_status_t inv_alloc(inv_t *v, uint32_t dim, uint64_t total) {
    v->off = cn_calloc((size_t)dim + 1, sizeof *v->off);
    v->doc = cn_malloc(total ? (size_t)total * sizeof *v->doc : 1);
    v->w = cn_malloc(total ? (size_t)total * sizeof *v->w : 1);
    v->maxw = cn_calloc(dim, sizeof *v->maxw);
    v->total = total;
    if (!v->off || !v->doc || !v->w || !v->maxw) {
        inv_free_lists(v);
        return CN_ENOMEM;
    }
    return CN_OK;
}

static void set_maxw(inv_t *v) {
    for (uint32_t t = 0; t < v->base.dim; t++)
        v->maxw[t] = v->off[t + 1] > v->off[t] ? v->w[v->off[t]] : 0.0f;
}

typedef struct posting {
    float w;
    uint32_t d;
} posting_t;

static int cmp_posting(const void *a, const void *b) {
    const posting_t *x = a, *y = b;
    if (x->w != y->w) return x->w > y->w ? -1 : 1;
    return (x->d > y->d) - (x->d < y->d);
}

static cn_status_t inv_build(cn_index_t *ix, const cn_store_t *store, int threads, char *err,
                             size_t errlen) {
    (void)threads;
    inv_t *v = (inv_t *)ix;
    if (!cn_store_is_sparse(store))
        return cn_error(err, errlen, CN_EINVAL,
                        "index 'inverted' needs sparse vectors (a sparse_csr store); this "
                        "dataset is dense");
    uint32_t n = store->n, dim = store->dim, mx = cn_store_sparse_max_nnz(store);
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) total += cn_store_sparse_nnz(store, i);
    inv_free_lists(v);
    uint32_t *ri = cn_malloc((mx ? mx : 1) * sizeof *ri);
    float *rv = cn_malloc((mx ? mx : 1) * sizeof *rv);
    uint64_t *fill = NULL;
    posting_t *tmp = NULL;
    cn_status_t st = CN_ENOMEM;
    if (!ri || !rv || inv_alloc(v, dim, total) != CN_OK) goto fail;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t m = cn_store_sparse_row(store, i, ri, rv);
        for (uint32_t j = 0; j < m; j++) v->off[ri[j] + 1]++;
    }
    for (uint32_t t = 0; t < dim; t++) v->off[t + 1] += v->off[t];
    fill = cn_malloc((size_t)dim * sizeof *fill);
    if (!fill) goto fail;
    memcpy(fill, v->off, (size_t)dim * sizeof *fill);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t m = cn_store_sparse_row(store, i, ri, rv);
        for (uint32_t j = 0; j < m; j++) {
            uint64_t p = fill[ri[j]]++;
            v->doc[p] = i;
            v->w[p] = rv[j];
        }
        if ((i & 0xffff) == 0) cn_progress("inverted lists", i, n);
    }
    uint64_t longest = 0;
    for (uint32_t t = 0; t < dim; t++)
        if (v->off[t + 1] - v->off[t] > longest) longest = v->off[t + 1] - v->off[t];
    tmp = cn_malloc((size_t)(longest ? longest : 1) * sizeof *tmp);
    if (!tmp) goto fail;
    for (uint32_t t = 0; t < dim; t++) {
        uint64_t b = v->off[t], len = v->off[t + 1] - b;
        if (len < 2) continue;
        for (uint64_t j = 0; j < len; j++) tmp[j] = (posting_t){v->w[b + j], v->doc[b + j]};
        qsort(tmp, (size_t)len, sizeof *tmp, cmp_posting);
        for (uint64_t j = 0; j < len; j++) {
            v->w[b + j] = tmp[j].w;
            v->doc[b + j] = tmp[j].d;
        }
    }
    set_maxw(v);
    cn_progress("inverted lists", n, n);
    ix->n = n;
    st = CN_OK;
fail:
    cn_free(ri);
    cn_free(rv);
    cn_free(fill);
    cn_free(tmp);
    if (st != CN_OK) {
        inv_free_lists(v);
        return cn_error(err, errlen, st, "inverted: out of memory for %llu postings",
                        (unsigned long long)total);
    }
    return CN_OK;
}

/* ---- search ----------------------------------------------------------------- */

static void inv_ctx_free(cn_search_ctx_t *ctx) {
    inv_ctx_t *c = ctx->priv;
    if (!c) return;
    cn_free(c->acc);
    cn_free(c->mark);
    cn_free(c->touched);
    cn_free(c->qt);
    cn_free(c);
    ctx->priv = NULL;
}

static cn_status_t inv_ctx_init(const cn_index_t *ix, cn_search_ctx_t *ctx, char *err,
                                size_t errlen) {
    inv_ctx_t *c = cn_calloc(1, sizeof *c);
    size_t n = ix->n ? ix->n : 1;
    if (c) {
        c->acc = cn_calloc(n, sizeof *c->acc);
        c->mark = cn_calloc(n, 1);
        c->touched = cn_malloc(n * sizeof *c->touched);
        c->qt = cn_malloc((size_t)ix->dim * sizeof *c->qt);
        c->keep = 1.0;
    }
    ctx->priv = c;
    if (!c || !c->acc || !c->mark || !c->touched || !c->qt) {
        inv_ctx_free(ctx);
        return cn_error(err, errlen, CN_ENOMEM, "inverted: out of memory for a search context");
    }
    return CN_OK;
}

static cn_status_t inv_ctx_set_params(cn_search_ctx_t *ctx, const cn_params_t *p, char *err,
                                      size_t errlen) {
    inv_ctx_t *c = ctx->priv;
    double keep = cn_params_get_float(p, "keep");
    long long qt = cn_params_get_int(p, "query_terms");
    if (!(keep > 0.0 && keep <= 1.0))
        return cn_error(err, errlen, CN_EINVAL, "inverted: keep must be in (0, 1], got %g", keep);
    if (qt < 0)
        return cn_error(err, errlen, CN_EINVAL, "inverted: query_terms must be >= 0, got %lld",
                        qt);
    c->keep = keep;
    c->query_terms = qt > UINT32_MAX ? UINT32_MAX : (uint32_t)qt;
    return CN_OK;
}

static int cmp_qterm(const void *a, const void *b) {
    const qterm_t *x = a, *y = b;
    if (x->ub != y->ub) return x->ub > y->ub ? -1 : 1;
    return (x->t > y->t) - (x->t < y->t);
}

static size_t inv_search(const cn_index_t *ix, cn_search_ctx_t *ctx, size_t k, uint32_t *ids,
                         float *scores) {
    const inv_t *v = (const inv_t *)ix;
    inv_ctx_t *c = ctx->priv;
    const cn_vec_t *q = ctx->query;
    uint32_t n = ix->n, dim = ix->dim, nq = 0;
    if (!q || n == 0 || k == 0) return 0;

    /* 1. the query terms that have postings */
    if (q->dense) {
        for (uint32_t t = 0; t < dim; t++)
            if (q->dense[t] != 0.0f && v->off[t + 1] > v->off[t])
                c->qt[nq++] = (qterm_t){fabsf(q->dense[t]) * v->maxw[t], q->dense[t], t};
    } else {
        /* the evaluator's set_query has validated idx/val already */
        for (uint32_t j = 0; j < q->nnz; j++) {
            uint32_t t = q->idx[j];
            if (q->val[j] != 0.0f && v->off[t + 1] > v->off[t])
                c->qt[nq++] = (qterm_t){fabsf(q->val[j]) * fabsf(v->maxw[t]), q->val[j], t};
        }
    }
    if (c->query_terms > 0 && nq > c->query_terms) {
        qsort(c->qt, nq, sizeof *c->qt, cmp_qterm);
        nq = c->query_terms;
    }

    /* 2. term-at-a-time accumulation */
    uint32_t nt = 0;
    uint64_t scanned = 0;
    float *acc = c->acc;
    for (uint32_t j = 0; j < nq; j++) {
        uint64_t b = v->off[c->qt[j].t], len = v->off[c->qt[j].t + 1] - b;
        if (c->keep < 1.0) {
            uint64_t m = (uint64_t)ceil(c->keep * (double)len);
            len = m < 1 ? 1 : m;
        }
        const uint32_t *dp = v->doc + b;
        const float *wp = v->w + b;
        float qw = c->qt[j].qw;
        for (uint64_t p = 0; p < len; p++) {
            uint32_t d = dp[p];
            if (!c->mark[d]) {
                c->mark[d] = 1;
                c->touched[nt++] = d;
            }
            acc[d] += qw * wp[p];
        }
        scanned += len;
    }
    ctx->stats.ndist += scanned;

    /* 3. top k of the touched documents (internal score = -accumulator) */
    cn_heap_t h = {scores, ids, 0, k};
    for (uint32_t j = 0; j < nt; j++) {
        uint32_t d = c->touched[j];
        float s = -acc[d];
        if (h.size < k) {
            cn_maxheap_push(&h, s, d);
        } else if (s < h.score[0]) {
            h.score[0] = s;
            h.id[0] = d;
            cn_maxheap_sift_down(&h, 0);
        }
    }
    /* untouched documents score 0: at most k of them can matter */
    size_t extra = 0;
    for (uint32_t d = 0; d < n && extra < k && (h.size < k || h.score[0] > 0.0f); d++) {
        if (c->mark[d]) continue;
        extra++;
        if (h.size < k) {
            cn_maxheap_push(&h, 0.0f, d);
        } else {
            h.score[0] = 0.0f;
            h.id[0] = d;
            cn_maxheap_sift_down(&h, 0);
        }
    }
    for (uint32_t j = 0; j < nt; j++) {
        acc[c->touched[j]] = 0.0f;
        c->mark[c->touched[j]] = 0;
    }

    /* 4. ascending order, in place */
    return cn_maxheap_sort_inplace(&h);
}

/* ---- memory, persistence ------------------------------------------------------ */

static size_t inv_bytes(const cn_index_t *ix) {
    const inv_t *v = (const inv_t *)ix;
    if (!v->off) return 0;
    return ((size_t)ix->dim + 1) * sizeof(uint64_t) + (size_t)ix->dim * sizeof(float) +
           (size_t)v->total * (sizeof(uint32_t) + sizeof(float));
}

static void inv_save(const cn_index_t *ix, cn_writer_t *w) {
    const inv_t *v = (const inv_t *)ix;
    cn_write_u64(w, INV_MAGIC);
    cn_write_u32(w, ix->n);
    cn_write_u32(w, ix->dim);
    cn_write_u64(w, v->total);
    cn_write(w, v->off, ((size_t)ix->dim + 1) * sizeof *v->off);
    cn_write(w, v->doc, (size_t)v->total * sizeof *v->doc);
    cn_write(w, v->w, (size_t)v->total * sizeof *v->w);
}

static cn_status_t inv_load(cn_index_t *ix, cn_reader_t *r, char *err, size_t errlen) {
    inv_t *v = (inv_t *)ix;
    const char *path = r->path ? r->path : "index file";
    inv_free_lists(v);
    uint64_t magic = cn_read_u64(r);
    uint32_t n = cn_read_u32(r), dim = cn_read_u32(r);
    uint64_t total = cn_read_u64(r);
    if (r->st != CN_OK)
        return cn_error(err, errlen, CN_EFORMAT, "%s: inverted payload truncated", path);
    if (magic != INV_MAGIC)
        return cn_error(err, errlen, CN_EFORMAT, "%s: not an inverted-index payload (bad magic)",
                        path);
    if (dim != ix->dim || n != ix->n)
        return cn_error(err, errlen, CN_EFORMAT,
                        "%s: inverted payload is %u x %u, the header says %u x %u", path, n, dim,
                        ix->n, ix->dim);
    uint64_t rem = cn_reader_remaining(r), need = ((uint64_t)dim + 1) * 8;
    if (need > rem || total > (rem - need) / 8)
        return cn_error(err, errlen, CN_EFORMAT, "%s: inverted payload truncated (%llu postings)",
                        path, (unsigned long long)total);
    if (inv_alloc(v, dim, total) != CN_OK)
        return cn_error(err, errlen, CN_ENOMEM, "%s: out of memory for %llu postings", path,
                        (unsigned long long)total);
    cn_read(r, v->off, ((size_t)dim + 1) * sizeof *v->off);
    cn_read(r, v->doc, (size_t)total * sizeof *v->doc);
    cn_read(r, v->w, (size_t)total * sizeof *v->w);
    if (r->st != CN_OK) {
        inv_free_lists(v);
        return cn_error(err, errlen, CN_EFORMAT, "%s: inverted payload truncated", path);
    }
    const char *bad = NULL;
    uint32_t bad_t = 0;
    if (v->off[0] != 0 || v->off[dim] != total) bad = "list offsets do not span the postings";
    for (uint32_t t = 0; !bad && t < dim; t++) {
        uint64_t b = v->off[t], e = v->off[t + 1];
        bad_t = t;
        if (e < b || e > total) {
            bad = "list offsets decrease";
            break;
        }
        for (uint64_t p = b; p < e; p++) {
            if (v->doc[p] >= n) {
                bad = "document id out of range";
                break;
            }
            if (!isfinite(v->w[p]) || (p > b && v->w[p] > v->w[p - 1])) {
                bad = "weights not finite or not sorted";
                break;
            }
        }
    }
    if (bad) {
        inv_free_lists(v);
        return cn_error(err, errlen, CN_EFORMAT, "%s: inverted payload: %s (list %u)", path, bad,
                        bad_t);
    }
    set_maxw(v);
    return CN_OK;
}

static void inv_destroy(cn_index_t *ix) {
    inv_t *v = (inv_t *)ix;
    inv_free_lists(v);
    cn_free(v);
}

static const cn_index_ops_t inv_ops = {
    .name = "inverted",
    .build = inv_build,
    .ctx_init = inv_ctx_init,
    .ctx_free = inv_ctx_free,
    .ctx_set_params = inv_ctx_set_params,
    .search = inv_search,
    .bytes = inv_bytes,
    .save = inv_save,
    .load = inv_load,
    .destroy = inv_destroy,
};

static cn_status_t inv_create(cn_index_t **out, cn_metric_t metric, uint32_t dim,
                              const cn_params_t *build_params, char *err, size_t errlen) {
    (void)build_params;
    *out = NULL;
    if (metric != CN_METRIC_IP)
        return cn_error(err, errlen, CN_EINVAL,
                        "index 'inverted': metric %s is not supported (inner product only)",
                        cn_metric_name(metric));
    inv_t *v = cn_calloc(1, sizeof *v);
    if (!v) return cn_error(err, errlen, CN_ENOMEM, "inverted: out of memory");
    v->base.ops = &inv_ops;
    v->base.metric = metric;
    v->base.dim = dim;
    *out = &v->base;
    return CN_OK;
}

static const cn_param_spec_t inverted_params[] = {
    {"keep", CN_PARAM_FLOAT, CN_ROLE_SEARCH, 0.0001, 1, "1", NULL,
     "fraction of each posting list scanned, highest weights first (1 = exact)", 0},
    {"query_terms", CN_PARAM_INT, CN_ROLE_SEARCH, 0, 1000000, "0", NULL,
     "keep the N query terms of largest upper bound |q_t| * max weight (0 = all, exact)", 0},
};

const cn_component_t cn_component_inverted = {
    .name = "inverted",
    .kind = CN_COMPONENT_INDEX,
    .help = "inverted index for sparse vectors: weight-sorted posting lists, term-at-a-time "
            "(exact, or pruned with keep / query_terms)",
    .params = inverted_params,
    .n_params = sizeof inverted_params / sizeof inverted_params[0],
    .create_index = inv_create,
};
