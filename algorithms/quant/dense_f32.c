/*
 * quant/dense_f32.c — the full-precision dense float32 store and its evaluator.
 *
 * Rows are stored contiguously (stride = dim) in one 64-byte aligned block.
 * For the cosine metric rows are normalised on insert and queries on
 * set_query, so the score is the negated inner product. The evaluator
 * captures the kernel table once, at creation: the batch call is one indirect
 * call per batch and the distance kernel is inlined inside it.
 */
#define _DEFAULT_SOURCE /* madvise */
#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "quant/vec_util.h"
#include "cannoli/simd.h"
#include "cannoli/store.h"

typedef struct dense_store {
    cn_store_t base;
    float *data; /* n * dim, aligned */
} dense_store_t;

typedef struct dense_eval {
    cn_evaluator_t base;
    const float *data;
    size_t dim;
    int use_dot; /* ip / cosine */
    const cn_kernels_f32_t *k;
    const float *q; /* current query: qbuf or a stored row */
    float *qbuf;    /* dim floats, aligned */
} dense_eval_t;

static const cn_store_ops_t dense_ops;

int cn_store_is_dense_f32(const cn_store_t *s) { return s && s->ops == &dense_ops; }

const float *cn_store_dense_row(const cn_store_t *s, uint32_t i) {
    const dense_store_t *d = (const dense_store_t *)s;
    return d->data + (size_t)i * s->dim;
}


/* ---- evaluator ---------------------------------------------------------- */

static cn_status_t ev_set_query(cn_evaluator_t *e, const cn_vec_t *q, char *err, size_t errlen) {
    dense_eval_t *ev = (dense_eval_t *)e;
    cn_status_t st =
        cn_query_take(q, ev->dim, e->store->metric, ev->qbuf, "dense_f32", err, errlen);
    if (st == CN_OK) ev->q = ev->qbuf;
    return st;
}

static void ev_set_query_id(cn_evaluator_t *e, uint32_t id) {
    dense_eval_t *ev = (dense_eval_t *)e;
    ev->q = ev->data + (size_t)id * ev->dim;
}

static float ev_dist(cn_evaluator_t *e, uint32_t id) {
    dense_eval_t *ev = (dense_eval_t *)e;
    const float *row = ev->data + (size_t)id * ev->dim;
    return ev->use_dot ? ev->k->negdot(ev->q, row, ev->dim) : ev->k->l2sq(ev->q, row, ev->dim);
}

static void ev_dist_batch(cn_evaluator_t *e, const uint32_t *ids, size_t n, float *out) {
    dense_eval_t *ev = (dense_eval_t *)e;
    if (ev->use_dot)
        ev->k->negdot_batch(ev->q, ev->data, ev->dim, ids, n, ev->dim, out);
    else
        ev->k->l2sq_batch(ev->q, ev->data, ev->dim, ids, n, ev->dim, out);
}

static void ev_dist_range(cn_evaluator_t *e, uint32_t start, size_t n, float *out) {
    dense_eval_t *ev = (dense_eval_t *)e;
    if (ev->use_dot)
        ev->k->negdot_range(ev->q, ev->data, ev->dim, start, n, ev->dim, out);
    else
        ev->k->l2sq_range(ev->q, ev->data, ev->dim, start, n, ev->dim, out);
}

static void ev_dist_pairs(cn_evaluator_t *e, uint32_t a, const uint32_t *ids, size_t n,
                          float *out) {
    dense_eval_t *ev = (dense_eval_t *)e;
    const float *qa = ev->data + (size_t)a * ev->dim;
    if (ev->use_dot)
        ev->k->negdot_batch(qa, ev->data, ev->dim, ids, n, ev->dim, out);
    else
        ev->k->l2sq_batch(qa, ev->data, ev->dim, ids, n, ev->dim, out);
}

static void ev_destroy(cn_evaluator_t *e) {
    dense_eval_t *ev = (dense_eval_t *)e;
    cn_aligned_free(ev->qbuf);
    cn_free(ev);
}

static void ev_prefetch(cn_evaluator_t *e, uint32_t id) {
    dense_eval_t *ev = (dense_eval_t *)e;
    const char *row = (const char *)(ev->data + (size_t)id * ev->dim);
    for (size_t o = 0; o < (size_t)ev->dim * sizeof(float); o += 64) __builtin_prefetch(row + o);
}

static const cn_evaluator_ops_t dense_eval_ops = {
    ev_set_query, ev_set_query_id, ev_dist,      ev_dist_batch,
    ev_dist_range, ev_dist_pairs,  ev_destroy,   ev_prefetch,
};

static cn_status_t dense_evaluator_create(const cn_store_t *s, cn_evaluator_t **out, char *err,
                                          size_t errlen) {
    const dense_store_t *ds = (const dense_store_t *)s;
    dense_eval_t *ev = cn_calloc(1, sizeof *ev);
    if (!ev) return cn_error(err, errlen, CN_ENOMEM, "out of memory creating an evaluator");
    ev->qbuf = cn_aligned_alloc((size_t)s->dim * sizeof(float));
    if (!ev->qbuf) {
        cn_free(ev);
        return cn_error(err, errlen, CN_ENOMEM, "out of memory creating an evaluator");
    }
    memset(ev->qbuf, 0, (size_t)s->dim * sizeof(float));
    ev->base.ops = &dense_eval_ops;
    ev->base.store = s;
    ev->data = ds->data;
    ev->dim = s->dim;
    ev->use_dot = s->metric != CN_METRIC_L2;
    ev->k = cn_kernels_f32();
    ev->q = ev->qbuf;
    *out = &ev->base;
    return CN_OK;
}

/* ---- store ------------------------------------------------------------ */

static size_t dense_bytes(const cn_store_t *s) {
    return sizeof(dense_store_t) + (size_t)s->n * s->dim * sizeof(float);
}

static void dense_decode(const cn_store_t *s, uint32_t i, float *out) {
    memcpy(out, cn_store_dense_row(s, i), (size_t)s->dim * sizeof(float));
}

static void dense_save(const cn_store_t *s, cn_writer_t *w) {
    const dense_store_t *ds = (const dense_store_t *)s;
    /* Floats are written in host order; cannoli targets little-endian hosts. */
    cn_write(w, ds->data, (size_t)s->n * s->dim * sizeof(float));
}

static void dense_destroy(cn_store_t *s) {
    dense_store_t *ds = (dense_store_t *)s;
    cn_aligned_free(ds->data);
    cn_free(ds);
}

static const cn_store_ops_t dense_ops = {
    "dense_f32", dense_evaluator_create, dense_bytes, dense_decode, dense_save, dense_destroy,
    NULL, /* no build-only scratch */
    NULL, /* no packed code blocks */
    NULL, /* scores are those of decode(i) */
};

static cn_status_t dense_alloc(dense_store_t **out, uint32_t n, uint32_t dim, cn_metric_t metric,
                               char *err, size_t errlen) {
    if (dim == 0) return cn_error(err, errlen, CN_EINVAL, "dense_f32 store: dimension is 0");
    if ((size_t)n > SIZE_MAX / sizeof(float) / dim)
        return cn_error(err, errlen, CN_ENOMEM, "dense_f32 store: %u x %u is too large", n, dim);
    dense_store_t *ds = cn_calloc(1, sizeof *ds);
    if (!ds) return cn_error(err, errlen, CN_ENOMEM, "out of memory");
    ds->data = cn_aligned_alloc((size_t)n * dim * sizeof(float));
    if (!ds->data) {
        cn_free(ds);
        return cn_error(err, errlen, CN_ENOMEM,
                        "out of memory allocating %u x %u floats for the vector store", n, dim);
    }
    ds->base.ops = &dense_ops;
    ds->base.metric = metric;
    ds->base.n = n;
    ds->base.dim = dim;
    ds->base.refs = 1;
    *out = ds;
    return CN_OK;
}

cn_status_t cn_store_dense_create(cn_store_t **out, const float *data, uint32_t n, uint32_t dim,
                                  cn_metric_t metric, char *err, size_t errlen) {
    *out = NULL;
    if (!data && n > 0) return cn_error(err, errlen, CN_EINVAL, "dense_f32 store: no data");
    for (size_t i = 0; i < n; i++) {
        const float *row = data + i * dim;
        for (size_t j = 0; j < dim; j++) {
            if (!isfinite(row[j]))
                return cn_error(err, errlen, CN_EINVAL, "row %zu has a%s value (dimension %zu)",
                                i, isnan(row[j]) ? " NaN" : "n infinite", j);
        }
    }
    dense_store_t *ds;
    cn_status_t st = dense_alloc(&ds, n, dim, metric, err, errlen);
    if (st != CN_OK) return st;
    memcpy(ds->data, data, (size_t)n * dim * sizeof(float));
    if (metric == CN_METRIC_COSINE)
        for (size_t i = 0; i < n; i++) cn_vec_normalise(ds->data + i * dim, dim);
    *out = &ds->base;
    return CN_OK;
}

/* Returns the whole pages inside [p, p + len) to the system. Their content
 * is then undefined (zero on Linux); the block itself stays allocated. */
static void release_pages(void *p, size_t len) {
#if defined(__linux__) && defined(MADV_DONTNEED)
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0) return;
    uintptr_t a = ((uintptr_t)p + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
    uintptr_t b = ((uintptr_t)p + len) & ~((uintptr_t)pg - 1);
    if (b > a) (void)madvise((void *)a, b - a, MADV_DONTNEED);
#else
    (void)p;
    (void)len;
#endif
}

cn_status_t cn_store_dense_create_consume(cn_store_t **out, float *data, uint32_t n,
                                          uint32_t dim, cn_metric_t metric, char *err,
                                          size_t errlen) {
    *out = NULL;
    if (!data && n > 0) return cn_error(err, errlen, CN_EINVAL, "dense_f32 store: no data");
    for (size_t i = 0; i < n; i++) {
        const float *row = data + i * dim;
        for (size_t j = 0; j < dim; j++) {
            if (!isfinite(row[j]))
                return cn_error(err, errlen, CN_EINVAL, "row %zu has a%s value (dimension %zu)",
                                i, isnan(row[j]) ? " NaN" : "n infinite", j);
        }
    }
    dense_store_t *ds;
    cn_status_t st = dense_alloc(&ds, n, dim, metric, err, errlen);
    if (st != CN_OK) return st;
    /* Copy in chunks of whole rows (about 8 MiB), releasing each copied
     * chunk's pages of `data`: the peak is one matrix plus one chunk. */
    size_t rows = ((size_t)8 << 20) / ((size_t)dim * sizeof(float));
    if (rows == 0) rows = 1;
    for (size_t i = 0; i < n; i += rows) {
        size_t m = n - i < rows ? n - i : rows;
        float *src = data + i * dim, *dst = ds->data + i * dim;
        memcpy(dst, src, m * dim * sizeof(float));
        if (metric == CN_METRIC_COSINE)
            for (size_t r = 0; r < m; r++) cn_vec_normalise(dst + r * dim, dim);
        release_pages(src, m * dim * sizeof(float));
    }
    *out = &ds->base;
    return CN_OK;
}

cn_status_t cn_store_dense_load(cn_store_t **out, cn_reader_t *r, cn_metric_t metric,
                                uint32_t n, uint32_t dim, char *err, size_t errlen) {
    *out = NULL;
    uint64_t rem = cn_reader_remaining(r);
    if (dim == 0 || (uint64_t)n > rem / sizeof(float) / dim)
        return cn_error(err, errlen, CN_EFORMAT, "%s: dense_f32 store of %u x %u is truncated",
                        r->path ? r->path : "index file", n, dim);
    dense_store_t *ds;
    cn_status_t st = dense_alloc(&ds, n, dim, metric, err, errlen);
    if (st != CN_OK) return st;
    if (cn_read(r, ds->data, (size_t)n * dim * sizeof(float)) != CN_OK) {
        dense_destroy(&ds->base);
        return cn_error(err, errlen, CN_EFORMAT, "%s: dense_f32 store is truncated",
                        r->path ? r->path : "index file");
    }
    *out = &ds->base;
    return CN_OK;
}

void cn_store_release(cn_store_t *s) {
    if (!s) return;
    if (--s->refs <= 0) s->ops->destroy(s);
}
