/*
 * harness/timing.c — one search point, timed (see timing.h).
 *
 * Query threads share nothing but the index (read-only) and the output
 * arrays, of which each query writes its own slots. The first failure is
 * recorded under a critical section; the `failed` flag the other threads
 * poll is a C11 atomic, so the loop is free of data races.
 */
#include "timing.h"

#include <math.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cn_time_point(const cn_experiment_t *exp, const cn_dataset_t *ds, cn_search_ctx_t **ctx,
                  int nthreads, const cn_point_t *sp, cn_measure_t *out, char *err,
                  size_t errlen) {
    size_t nq = ds->n_test, k = (size_t)exp->k;
    uint32_t *ids = cn_malloc(nq * k * sizeof *ids);
    float *dists = cn_malloc(nq * k * sizeof *dists);
    double *lat = cn_malloc(nq * sizeof *lat), *best_lat = cn_malloc(nq * sizeof *best_lat);
    cn_search_stats_t *stats = cn_calloc(nq, sizeof *stats);
    int rc = -1, tty = isatty(2);
    if (!ids || !dists || !lat || !best_lat || !stats) {
        cn_error(err, errlen, CN_ENOMEM, "out of memory for %zu queries", nq);
        goto out;
    }
    cn_params_t sps = {sp->items, sp->n};
    for (int t = 0; t < nthreads; t++)
        if (cn_search_ctx_set_params(ctx[t], &sps, err, errlen) != CN_OK) goto out;

    double best_qps = -1;
    atomic_int failed = 0;
    char terr[512] = "";
    for (int run = 0; run < exp->runs; run++) {
        if (tty) fprintf(stderr, "\r[search] %s run %d/%d ...", sp->text, run + 1, exp->runs);
        double t0 = now_s();
#pragma omp parallel for num_threads(nthreads) schedule(dynamic, 16)
        for (size_t i = 0; i < nq; i++) {
            if (atomic_load_explicit(&failed, memory_order_relaxed)) continue;
            cn_search_ctx_t *c = ctx[omp_get_thread_num()];
            cn_vec_t q = cn_dataset_query(ds, i);
            char qerr[256];
            double s = now_s();
            cn_status_t st = cn_index_search(c, &q, k, ids + i * k, dists + i * k, NULL, qerr,
                                             sizeof qerr);
            lat[i] = (now_s() - s) * 1e6;
            stats[i] = c->stats;
            if (st != CN_OK) {
#pragma omp critical(cn_timing_err)
                {
                    if (!atomic_load(&failed)) snprintf(terr, sizeof terr, "query %zu: %s", i, qerr);
                    atomic_store(&failed, 1);
                }
            }
        }
        double wall = now_s() - t0;
        if (atomic_load(&failed)) {
            cn_error(err, errlen, CN_EINVAL, "%s", terr);
            goto out;
        }
        double qps = (double)nq / (wall > 0 ? wall : 1e-9);
        if (qps > best_qps) {
            best_qps = qps;
            memcpy(best_lat, lat, nq * sizeof *lat);
        }
    }
    out->qps = best_qps;
    cn_latency_stats(best_lat, nq, &out->lat);
    double rsum = 0, dsum = 0, hsum = 0, rrsum = 0, drsum = 0;
    for (size_t i = 0; i < nq; i++) {
        rsum += cn_recall_query(ds, (uint32_t)i, ids + i * k, (uint32_t)k);
        dsum += (double)stats[i].ndist;
        hsum += (double)stats[i].nhops;
        rrsum += (double)stats[i].nreranked;
        drsum += (double)stats[i].ndropped;
    }
    out->recall = rsum / (double)nq;
    out->dist_per_query = dsum / (double)nq;
    out->hops_per_query = hsum / (double)nq;
    out->reranked_per_query = rrsum / (double)nq;
    out->dropped_per_query = drsum / (double)nq;
    out->ns_per_dist = dsum > 0 ? out->lat.mean * 1e3 / out->dist_per_query : NAN;
    out->index_bytes = cn_search_ctx_bytes(ctx[0]);
    rc = 0;
out:
    if (tty) fprintf(stderr, "\r\033[K");
    cn_free(ids);
    cn_free(dists);
    cn_free(lat);
    cn_free(best_lat);
    cn_free(stats);
    return rc;
}
