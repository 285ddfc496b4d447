/*
 * harness/groundtruth.c — exact ground truth, as ANN-Benchmarks computes it:
 * top-k by brute force. The library's flat index does the scan (blocked,
 * SIMD, OpenMP) in float32; we ask it for a few extra candidates (k +
 * max(10, k/4)), recompute every candidate's distance in float64
 * (cn_vec_distance, the one true-distance function, metrics.c) and keep the
 * best k in that order, so float32 cancellation in ||x||^2 - 2<x,q> + ||q||^2
 * style kernels cannot misorder near ties at the k-th position. Stored
 * distances are the user-facing ones (euclidean = sqrt of the squared
 * distance, angular = 1 - cos, ip = <q,x>, where larger is better).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <omp.h>

#include "cannoli/index.h"
#include "cannoli/store.h"
#include "dataset_internal.h"
#include "metrics.h"

int cn_dataset_fill_distances(cn_dataset_t *ds, char *err, size_t errlen) {
    const char *src = ds->source ? ds->source : "dataset";
    if (!ds->neighbors || !ds->gt_k) {
        cn_error(err, errlen, CN_EINVAL, "%s: no neighbours to compute distances for", src);
        return -1;
    }
    size_t total = (size_t)ds->n_test * ds->gt_k;
    for (size_t i = 0; i < total; i++)
        if (ds->neighbors[i] < 0 || (uint32_t)ds->neighbors[i] >= ds->n_train) {
            cn_error(err, errlen, CN_EFORMAT,
                     "%s: neighbour %zu of query %zu is id %d, outside [0, %u)", src,
                     i % ds->gt_k, i / ds->gt_k, (int)ds->neighbors[i], ds->n_train);
            return -1;
        }
    float *dist = cn_malloc(total * sizeof *dist);
    if (!dist) {
        cn_error(err, errlen, CN_ENOMEM, "%s: out of memory for %zu distances", src, total);
        return -1;
    }
    const cn_dataset_t *c = ds;
    long nq = (long)ds->n_test;
#pragma omp parallel for schedule(dynamic, 16)
    for (long q = 0; q < nq; q++) {
        for (uint32_t j = 0; j < c->gt_k; j++) {
            size_t at = (size_t)q * c->gt_k + j;
            if (c->sparse) {
                dist[at] = (float)cn_csr_dot(&c->stest, (uint32_t)q, &c->strain,
                                             (uint32_t)c->neighbors[at]);
                continue;
            }
            const float *qv = c->test + (size_t)q * c->dim;
            const float *x = c->train + (size_t)c->neighbors[at] * c->dim;
            dist[at] = (float)cn_vec_distance(c->metric, qv, x, c->dim);
        }
    }
    cn_free(ds->distances);
    ds->distances = dist;
    return 0;
}

typedef struct cand {
    double d;   /* user-facing distance, or -dot for ip (smaller = better) */
    uint32_t id;
} cand_t;

static int cmp_cand(const void *a, const void *b) {
    const cand_t *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Sparse counterpart of cn_index_search_batch: every row of q, k results
 * each (ids/scores nq x k), OpenMP over queries. */
static cn_status_t search_sparse_batch(const cn_index_t *ix, const cn_csr_t *q, size_t k,
                                       int threads, uint32_t *ids, float *scores, char *err,
                                       size_t errlen) {
    cn_status_t status = CN_OK;
    char first[512] = "";
#pragma omp parallel num_threads(threads)
    {
        char lerr[512];
        cn_search_ctx_t *ctx = NULL;
        cn_status_t st = cn_search_ctx_create(ix, &ctx, lerr, sizeof lerr);
#pragma omp for schedule(dynamic, 16)
        for (long i = 0; i < (long)q->rows; i++) {
            if (st != CN_OK) continue;
            uint64_t b = q->indptr[i];
            cn_vec_t v = {NULL, (uint32_t)(q->indptr[i + 1] - b), q->indices + b, q->values + b};
            st = cn_index_search(ctx, &v, k, ids + (size_t)i * k, scores + (size_t)i * k, NULL,
                                 lerr, sizeof lerr);
        }
        if (st != CN_OK) {
#pragma omp critical(cn_gt_err)
            if (status == CN_OK) {
                status = st;
                snprintf(first, sizeof first, "%s", lerr);
            }
        }
        cn_search_ctx_destroy(ctx);
    }
    if (status != CN_OK) return cn_error(err, errlen, status, "%s", first);
    return CN_OK;
}

int cn_dataset_groundtruth(cn_dataset_t *ds, uint32_t k, int threads, char *err, size_t errlen) {
    const char *src = ds->source ? ds->source : "dataset";
    cn_store_t *store = NULL;
    cn_index_t *ix = NULL;
    uint32_t *ids = NULL;
    float *sc = NULL;
    int32_t *nb = NULL;
    float *dist = NULL;
    cand_t *cands = NULL;
    cn_csr_t ctrain = {0}, ctest = {0};
    int rc = -1;
    char e2[512];

    if (k == 0 || k > ds->n_train) {
        cn_error(err, errlen, CN_EINVAL, "%s: ground-truth k = %u must be in [1, %u]", src, k,
                 ds->n_train);
        return -1;
    }
    if ((!ds->test && !ds->sparse) || !ds->n_test) {
        cn_error(err, errlen, CN_EINVAL, "%s: no test vectors", src);
        return -1;
    }
    if (threads <= 0) threads = omp_get_max_threads();
    uint32_t margin = k / 4 > 10 ? k / 4 : 10;
    uint32_t kk = k + margin < ds->n_train ? k + margin : ds->n_train;
    size_t nq = ds->n_test;

    /* A sparse set declaring a huge dimension is searched renumbered (exact,
     * see cn_csr_compact), on copies: the caller's set is left as it is. */
    const cn_csr_t *qtest = &ds->stest, *qtrain = &ds->strain;
    uint32_t sdim = ds->dim;
    if (ds->sparse && ds->dim > CN_SPARSE_DIM_DIRECT) {
        if (cn_csr_copy(&ctrain, &ds->strain) || cn_csr_copy(&ctest, &ds->stest)) {
            cn_error(err, errlen, CN_ENOMEM, "%s: out of memory for ground truth", src);
            goto out;
        }
        if (cn_csr_compact(&ctrain, &ctest, &sdim, src, err, errlen)) goto out;
        qtest = &ctest;
        qtrain = &ctrain;
    }
    cn_status_t sst =
        ds->sparse
            ? cn_store_sparse_create(&store, qtrain->indptr, qtrain->indices,
                                     qtrain->values, ds->n_train, sdim, ds->metric,
                                     CN_SPARSE_F32, e2, sizeof e2)
            : cn_store_dense_create(&store, ds->train, ds->n_train, ds->dim, ds->metric, e2,
                                    sizeof e2);
    if (sst != CN_OK ||
        cn_index_create(&ix, "flat", ds->metric, ds->sparse ? sdim : ds->dim,
                        &(cn_params_t){NULL, 0}, e2,
                        sizeof e2) != CN_OK ||
        cn_index_build(ix, store, store, NULL, threads, e2, sizeof e2) != CN_OK) {
        cn_error(err, errlen, CN_EINVAL, "%s: ground truth: %s", src, e2);
        goto out;
    }
    ids = cn_malloc(nq * kk * sizeof *ids);
    sc = cn_malloc(nq * kk * sizeof *sc);
    nb = cn_malloc(nq * k * sizeof *nb);
    dist = cn_malloc(nq * k * sizeof *dist);
    cands = cn_malloc((size_t)threads * kk * sizeof *cands);
    if (!ids || !sc || !nb || !dist || !cands) {
        cn_error(err, errlen, CN_ENOMEM, "%s: out of memory for ground truth", src);
        goto out;
    }
    if ((ds->sparse ? search_sparse_batch(ix, qtest, kk, threads, ids, sc, e2, sizeof e2)
                    : cn_index_search_batch(ix, &(cn_params_t){NULL, 0}, ds->test, nq, kk,
                                            threads, ids, sc, e2, sizeof e2)) != CN_OK) {
        cn_error(err, errlen, CN_EINVAL, "%s: ground truth: %s", src, e2);
        goto out;
    }
    /* The index's stores are no longer needed; free them before the float64
     * pass so peak memory is one copy of the vectors. */
    cn_index_destroy(ix);
    ix = NULL;
    cn_store_release(store);
    store = NULL;
    cn_csr_free(&ctrain);
    cn_csr_free(&ctest);

    int bad = 0;
    const cn_dataset_t *c = ds;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 16) reduction(| : bad)
    for (long q = 0; q < (long)nq; q++) {
        cand_t *cq = cands + (size_t)omp_get_thread_num() * kk;
        const float *qv = c->sparse ? NULL : c->test + (size_t)q * c->dim;
        for (uint32_t j = 0; j < kk; j++) {
            uint32_t id = ids[(size_t)q * kk + j];
            if (id >= c->n_train) {
                bad = 1;
                cq[j].d = INFINITY;
                cq[j].id = 0;
                continue;
            }
            double d = c->sparse ? cn_csr_dot(&c->stest, (uint32_t)q, &c->strain, id)
                                 : cn_vec_distance(c->metric, qv, c->train + (size_t)id * c->dim,
                                             c->dim);
            cq[j].d = c->metric == CN_METRIC_IP ? -d : d;
            cq[j].id = id;
        }
        qsort(cq, kk, sizeof *cq, cmp_cand);
        for (uint32_t j = 0; j < k; j++) {
            nb[(size_t)q * k + j] = (int32_t)cq[j].id;
            dist[(size_t)q * k + j] = (float)(c->metric == CN_METRIC_IP ? -cq[j].d : cq[j].d);
        }
    }
    if (bad) {
        cn_error(err, errlen, CN_EINVAL, "%s: ground truth: the flat index returned fewer "
                 "than %u results", src, kk);
        goto out;
    }
    cn_free(ds->neighbors);
    cn_free(ds->distances);
    ds->neighbors = nb;
    ds->distances = dist;
    ds->gt_k = k;
    nb = NULL;
    dist = NULL;
    rc = 0;
out:
    cn_index_destroy(ix);
    cn_store_release(store);
    cn_csr_free(&ctrain);
    cn_csr_free(&ctest);
    cn_free(ids);
    cn_free(sc);
    cn_free(nb);
    cn_free(dist);
    cn_free(cands);
    return rc;
}

