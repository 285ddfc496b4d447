/*
 * harness/metrics.h — recall as ANN-Benchmarks computes it, and latency
 * percentiles.
 */
#ifndef CN_HARNESS_METRICS_H
#define CN_HARNESS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"

/* ANN-Benchmarks recall of one query: the true (user-facing) distance of each
 * returned id is recomputed in float64 from the dataset's vectors; an id
 * counts when that distance is <= the k-th ground-truth distance + 1e-3
 * (inner product: score >= k-th true score - 1e-3). Ids that repeat, fall
 * outside [0, n_train) or are UINT32_MAX count nothing. Returns hits / k.
 * Requires ds->distances and k <= ds->gt_k. */
double cn_recall_query(const cn_dataset_t *ds, uint32_t query, const uint32_t *ids, uint32_t k);

/* Prepares the recall at k of a dense set for while its train rows are
 * released (ds->train NULL): records, per query, which ground-truth ids
 * count (the same float64 test as above, done now). An id outside the
 * ground-truth list then counts nothing, which is what the test would give
 * when the list is exact and every query's list reaches past the k-th
 * distance + 1e-3: *safe = 1 then (a release keeps rows unchanged), 0 when
 * some query's list ends inside that margin (ties; the runner keeps the
 * rows). 0, or -1 (out of memory) with err filled. */
int cn_recall_prepare(cn_dataset_t *ds, uint32_t k, int *safe, char *err, size_t errlen);

/* User-facing distance between test vector `query` and train vector `id`
 * (euclidean, angular = 1 - cos, or inner product), in float64. */
double cn_true_distance(const cn_dataset_t *ds, uint32_t query, uint32_t id);
/* The one true-distance function of the harness: user-facing distance
 * between two dense vectors of `dim` floats, in float64 (euclidean, inner
 * product, angular = 1 - cos; 1 when either vector is zero). */
double cn_vec_distance(cn_metric_t m, const float *q, const float *x, uint32_t dim);

typedef struct cn_latency {
    double mean, p50, p95, p99; /* same unit as the input */
} cn_latency_t;

/* Sorts v[n] in place and computes mean and percentiles (linear
 * interpolation between closest ranks, as numpy.percentile). n may be 0. */
void cn_latency_stats(double *v, size_t n, cn_latency_t *out);

#endif
