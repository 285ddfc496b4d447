/*
 * harness/metrics.c — recall and latency statistics.
 *
 * Recall follows ANN-Benchmarks (plotting/metrics.py, `knn`): an answer is
 * judged by its distance, not its id, so ties at the k-th distance (common in
 * BM25 data and in duplicated vectors) do not penalise a correct index. The
 * distance of each returned id is recomputed here from the original vectors
 * rather than trusted from the index, so a quantized index cannot report
 * flattering approximate distances.
 */
#include "metrics.h"

#include <math.h>
#include <stdlib.h>

#define RECALL_EPS 1e-3

double cn_vec_distance(cn_metric_t m, const float *q, const float *x, uint32_t dim) {
    double s = 0, qq = 0, xx = 0;
    switch (m) {
    case CN_METRIC_L2:
        for (uint32_t j = 0; j < dim; j++) {
            double t = (double)q[j] - (double)x[j];
            s += t * t;
        }
        return sqrt(s);
    case CN_METRIC_IP:
        for (uint32_t j = 0; j < dim; j++) s += (double)q[j] * (double)x[j];
        return s;
    case CN_METRIC_COSINE:
    default:
        for (uint32_t j = 0; j < dim; j++) {
            s += (double)q[j] * (double)x[j];
            qq += (double)q[j] * (double)q[j];
            xx += (double)x[j] * (double)x[j];
        }
        if (qq == 0 || xx == 0) return 1.0;
        return 1.0 - s / sqrt(qq * xx);
    }
}

double cn_true_distance(const cn_dataset_t *ds, uint32_t query, uint32_t id) {
    if (ds->sparse) return cn_csr_dot(&ds->stest, query, &ds->strain, id);
    return cn_vec_distance(ds->metric, ds->test + (size_t)query * ds->dim,
                           ds->train + (size_t)id * ds->dim, ds->dim);
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

double cn_recall_query(const cn_dataset_t *ds, uint32_t query, const uint32_t *ids, uint32_t k) {
    if (k == 0 || !ds->distances || k > ds->gt_k) return 0.0;
    double kth = ds->distances[(size_t)query * ds->gt_k + (k - 1)];
    /* Sort a copy so repeated ids can be counted once. k is small (<= gt_k). */
    uint32_t local[256];
    uint32_t *sorted = k <= 256 ? local : cn_malloc(k * sizeof *sorted);
    if (!sorted) return 0.0;
    for (uint32_t i = 0; i < k; i++) sorted[i] = ids[i];
    qsort(sorted, k, sizeof *sorted, cmp_u32);
    uint32_t hits = 0;
    for (uint32_t i = 0; i < k; i++) {
        uint32_t id = sorted[i];
        if (id >= ds->n_train) continue; /* also UINT32_MAX padding */
        if (i > 0 && sorted[i - 1] == id) continue;
        double d = cn_true_distance(ds, query, id);
        if (ds->metric == CN_METRIC_IP ? d >= kth - RECALL_EPS : d <= kth + RECALL_EPS) hits++;
    }
    if (sorted != local) cn_free(sorted);
    return (double)hits / (double)k;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const double *v, size_t n, double p) {
    if (n == 0) return 0.0;
    double pos = p / 100.0 * (double)(n - 1);
    size_t lo = (size_t)pos;
    if (lo + 1 >= n) return v[n - 1];
    double frac = pos - (double)lo;
    return v[lo] + (v[lo + 1] - v[lo]) * frac;
}

void cn_latency_stats(double *v, size_t n, cn_latency_t *out) {
    out->mean = out->p50 = out->p95 = out->p99 = 0.0;
    if (n == 0) return;
    qsort(v, n, sizeof *v, cmp_double);
    double s = 0;
    for (size_t i = 0; i < n; i++) s += v[i];
    out->mean = s / (double)n;
    out->p50 = percentile(v, n, 50);
    out->p95 = percentile(v, n, 95);
    out->p99 = percentile(v, n, 99);
}
