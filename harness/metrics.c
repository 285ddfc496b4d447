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

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int counts(const cn_dataset_t *ds, double d, double kth) {
    return ds->metric == CN_METRIC_IP ? d >= kth - RECALL_EPS : d <= kth + RECALL_EPS;
}

int cn_recall_prepare(cn_dataset_t *ds, uint32_t k, int *safe, char *err, size_t errlen) {
    *safe = 0;
    cn_free(ds->gt_keys);
    ds->gt_keys = NULL;
    ds->gt_keys_k = 0;
    if (ds->sparse || !ds->train || !ds->distances || k == 0 || k > ds->gt_k) return 0;
    size_t g = ds->gt_k;
    uint64_t *keys = cn_malloc((size_t)ds->n_test * g * sizeof *keys);
    if (!keys) {
        cn_error(err, errlen, CN_ENOMEM, "%s: out of memory for the recall table", ds->source);
        return -1;
    }
    int all = 1;
    for (uint32_t q = 0; q < ds->n_test; q++) {
        double kth = ds->distances[(size_t)q * g + (k - 1)];
        uint64_t *kq = keys + (size_t)q * g;
        int tail_counts = 0;
        for (size_t j = 0; j < g; j++) {
            uint32_t id = (uint32_t)ds->neighbors[(size_t)q * g + j];
            int c = counts(ds, cn_true_distance(ds, q, id), kth);
            kq[j] = (uint64_t)id << 1 | (uint64_t)c;
            /* The farthest listed id bounds the ids outside the list. */
            if (j + 1 == g) tail_counts = c;
        }
        if (tail_counts && g < ds->n_train) all = 0;
        qsort(kq, g, sizeof *kq, cmp_u64);
    }
    ds->gt_keys = keys;
    ds->gt_keys_k = k;
    *safe = all;
    return 0;
}

/* Whether id counts, from the prepared table (ds->train released). */
static int counts_prepared(const cn_dataset_t *ds, uint32_t query, uint32_t id) {
    const uint64_t *kq = ds->gt_keys + (size_t)query * ds->gt_k;
    size_t lo = 0, hi = ds->gt_k;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((kq[mid] >> 1) < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < ds->gt_k && (kq[lo] >> 1) == id && (kq[lo] & 1);
}

double cn_recall_query(const cn_dataset_t *ds, uint32_t query, const uint32_t *ids, uint32_t k) {
    if (k == 0 || !ds->distances || k > ds->gt_k) return 0.0;
    if (!ds->sparse && !ds->train && (!ds->gt_keys || ds->gt_keys_k != k)) return 0.0;
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
        if (!ds->sparse && !ds->train) hits += (uint32_t)counts_prepared(ds, query, id);
        else hits += (uint32_t)counts(ds, cn_true_distance(ds, query, id), kth);
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
