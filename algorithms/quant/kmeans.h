/*
 * quant/kmeans.h — float k-means (Lloyd) used to train PQ codebooks.
 *
 * Input: n rows of d floats (row-major). Output: k centroids of d floats.
 *
 * Initialisation (seeded, deterministic):
 *   CN_KMEANS_PLUSPLUS  k-means++ (first centroid uniform, then D^2 sampling);
 *   CN_KMEANS_RANDOM    k distinct rows drawn uniformly (partial Fisher-Yates).
 * Each iteration assigns every row to its nearest centroid (squared L2,
 * lowest index wins ties), repairs empty clusters, then moves each centroid to
 * the mean of its rows (sums in double). objective[t] is the sum of squared
 * distances of the rows to their nearest centroid at the assignment step of
 * iteration t; in exact arithmetic it never increases.
 *
 * Empty-cluster repair ("take a far point"): an empty cluster takes the row
 * that is farthest from its centroid among all clusters holding at least two
 * rows (ties: lowest row index); that row is reassigned to the empty cluster,
 * whose centroid becomes the row itself. Rows identical to (or nearer to)
 * a row already taken are not taken next. This can only lower the
 * objective, and because n >= k there is always a cluster with two rows to
 * take from, so no cluster is empty after the update. Centroids can coincide
 * only when the data has fewer than k distinct rows.
 *
 * n < k is rejected with CN_EINVAL ("train_size 100 is smaller than 256
 * centroids"): no filling by repetition.
 *
 * When all assignments stop changing the iterations stop early; the remaining
 * objective entries repeat the last value.
 *
 * Determinism: the result depends only on the data, the parameters and the
 * SIMD level of the assignment kernel — never on the number of threads. The
 * assignment step runs in parallel (OpenMP, per row, when not already inside
 * a parallel region and threads != 1); every reduction (objective, sums)
 * is serial in row order.
 */
#ifndef CN_QUANT_KMEANS_H
#define CN_QUANT_KMEANS_H

#include "cannoli/common.h"

typedef enum cn_kmeans_init {
    CN_KMEANS_PLUSPLUS = 0,
    CN_KMEANS_RANDOM = 1
} cn_kmeans_init_t;

typedef struct cn_kmeans_params {
    uint32_t k;             /* number of centroids, >= 1 */
    uint32_t iterations;    /* Lloyd iterations, >= 1 */
    uint64_t seed;
    cn_kmeans_init_t init;
    int threads;            /* assignment threads: 0 = OpenMP default, 1 = serial */
    uint32_t *labels;       /* optional, n entries: the final assignment (each
                               centroid is the mean of the rows labelled with it) */
} cn_kmeans_params_t;

/* Runs k-means on x (n x d). centroids: k x d floats (caller-allocated).
 * objective: p->iterations doubles (may be NULL). *iters_run (may be NULL):
 * iterations actually computed before convergence. */
cn_status_t cn_kmeans(const float *x, size_t n, size_t d, const cn_kmeans_params_t *p,
                      float *centroids, double *objective, uint32_t *iters_run, char *err,
                      size_t errlen);

/* Index of the centroid (k x d) nearest to v by squared L2 (lowest index on
 * ties); *dist (may be NULL) receives the distance. Used by PQ encoding. */
uint32_t cn_kmeans_nearest(const float *centroids, size_t k, size_t d, const float *v,
                           float *dist);

/* Deterministic PRNG shared by k-means and PQ sampling (splitmix64). */
static inline uint64_t cn_kmeans_rand(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#endif
