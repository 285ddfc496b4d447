/*
 * harness/probe.c — the flat-scan probe (see probe.h). Timed once per built
 * index; the scan runs on one thread with the same store, evaluator and
 * kernels as the index it is compared with.
 */
#include "probe.h"

#include <math.h>
#include <stdio.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

cn_vec_t cn_dataset_query(const cn_dataset_t *ds, size_t i) {
    cn_vec_t q = {NULL, 0, NULL, NULL};
    if (ds->sparse) {
        uint64_t qb = ds->stest.indptr[i];
        q.nnz = (uint32_t)(ds->stest.indptr[i + 1] - qb);
        q.idx = ds->stest.indices + qb;
        q.val = ds->stest.values + qb;
    } else {
        q.dense = ds->test + i * ds->dim;
    }
    return q;
}

double cn_probe_scan_ns(const cn_dataset_t *ds, cn_store_t *store, const char *label) {
    char err[512] = "";
    cn_index_t *flat = NULL;
    cn_search_ctx_t *ctx = NULL;
    double ns = NAN;
    size_t nq = (size_t)(2e7 / (double)(store->n ? store->n : 1));
    if (nq < 1) nq = 1;
    if (nq > 100) nq = 100;
    if (nq > ds->n_test) nq = ds->n_test;
    uint32_t ids[10];
    float d[10];
    size_t k = store->n < 10 ? store->n : 10;
    cn_params_t none = {NULL, 0};
    if (cn_index_create(&flat, "flat", store->metric, store->dim, &none, err, sizeof err) !=
            CN_OK ||
        cn_index_build(flat, store, store, NULL, 1, err, sizeof err) != CN_OK ||
        cn_search_ctx_create(flat, &ctx, err, sizeof err) != CN_OK)
        goto out;
    double t0 = now_s();
    for (size_t i = 0; i < nq; i++) {
        cn_vec_t q = cn_dataset_query(ds, i);
        if (cn_index_search(ctx, &q, k ? k : 1, ids, d, NULL, err, sizeof err) != CN_OK) goto out;
    }
    ns = (now_s() - t0) * 1e9 / ((double)nq * (double)store->n);
out:
    if (isnan(ns))
        fprintf(stderr, "[%s] warning: flat scan over %s not measured: %s\n", label,
                store->ops->name, err);
    cn_search_ctx_destroy(ctx);
    cn_index_destroy(flat);
    return ns;
}
