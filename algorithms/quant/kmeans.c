/*
 * quant/kmeans.c — Lloyd's k-means with k-means++ / random initialisation and
 * empty-cluster repair (see kmeans.h for the contract and the choices made).
 */
#include <math.h>
#include <string.h>

#include <omp.h>

#include "quant/kmeans.h"
#include "quant/pq_internal.h"

/* Rows per parallel work item of the assignment step. */
#define ASSIGN_BLOCK 256

static void transpose(const float *c, size_t k, size_t d, float *ct) {
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < d; j++) ct[j * k + i] = c[i * d + j];
}

static double uniform01(uint64_t *st) {
    return (double)(cn_kmeans_rand(st) >> 11) * (1.0 / 9007199254740992.0);
}

static float l2sq(const float *a, const float *b, size_t d) {
    float s = 0;
    for (size_t j = 0; j < d; j++) {
        float t = a[j] - b[j];
        s += t * t;
    }
    return s;
}

uint32_t cn_kmeans_nearest(const float *centroids, size_t k, size_t d, const float *v,
                           float *dist) {
    uint32_t best = 0;
    float bd = INFINITY;
    for (size_t c = 0; c < k; c++) {
        float s = l2sq(v, centroids + c * d, d);
        if (s < bd) {
            bd = s;
            best = (uint32_t)c;
        }
    }
    if (dist) *dist = bd;
    return best;
}

/* Threads for a loop of `work` flops: 1 inside a parallel region or for
 * small work. */
static int pick_threads(int threads, double work) {
    if (threads == 1 || omp_in_parallel() || work < 4e6) return 1;
    int nt = threads > 0 ? threads : omp_get_max_threads();
    return nt < 1 ? 1 : nt;
}

static void assign_all(const cn_pq_kernels_t *kr, const float *ct, size_t k, size_t d,
                       const float *x, size_t n, uint32_t *assign, float *dist, float *accbuf,
                       int nt) {
    long nblocks = (long)((n + ASSIGN_BLOCK - 1) / ASSIGN_BLOCK);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4) if (nt > 1)
    for (long b = 0; b < nblocks; b++) {
        size_t lo = (size_t)b * ASSIGN_BLOCK;
        size_t cnt = n - lo < ASSIGN_BLOCK ? n - lo : ASSIGN_BLOCK;
        float *acc = accbuf + (size_t)omp_get_thread_num() * k;
        kr->nearest(ct, k, d, x + lo * d, cnt, assign + lo, dist + lo, acc);
    }
}

/* k-means++ seeding: D^2 sampling. mind: n floats of scratch. */
static void init_plusplus(const float *x, size_t n, size_t d, size_t k, uint64_t *rng,
                          float *cent, float *mind, int nt) {
    size_t first = (size_t)(cn_kmeans_rand(rng) % n);
    memcpy(cent, x + first * d, d * sizeof(float));
    for (size_t i = 0; i < n; i++) mind[i] = l2sq(x + i * d, cent, d);
    for (size_t c = 1; c < k; c++) {
        double total = 0;
        for (size_t i = 0; i < n; i++) total += mind[i];
        size_t pick;
        if (total > 0) {
            double r = uniform01(rng) * total, cum = 0;
            pick = n;
            size_t last_pos = 0;
            for (size_t i = 0; i < n; i++) {
                if (mind[i] <= 0) continue;
                last_pos = i;
                cum += mind[i];
                if (cum > r) {
                    pick = i;
                    break;
                }
            }
            if (pick == n) pick = last_pos; /* rounding at the very end */
        } else {
            pick = (size_t)(cn_kmeans_rand(rng) % n); /* every row is a centroid already */
        }
        float *nc = cent + c * d;
        memcpy(nc, x + pick * d, d * sizeof(float));
        if (c + 1 == k) break;
        long ln = (long)n;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (long i = 0; i < ln; i++) {
            float s = l2sq(x + (size_t)i * d, nc, d);
            if (s < mind[i]) mind[i] = s;
        }
    }
}

/* k distinct rows, uniformly (partial Fisher-Yates over row ids). */
static cn_status_t init_random(const float *x, size_t n, size_t d, size_t k, uint64_t *rng,
                               float *cent) {
    uint32_t *perm = cn_malloc(n * sizeof *perm);
    if (!perm) return CN_ENOMEM;
    for (size_t i = 0; i < n; i++) perm[i] = (uint32_t)i;
    for (size_t c = 0; c < k; c++) {
        size_t j = c + (size_t)(cn_kmeans_rand(rng) % (n - c));
        uint32_t t = perm[c];
        perm[c] = perm[j];
        perm[j] = t;
        memcpy(cent + c * d, x + (size_t)perm[c] * d, d * sizeof(float));
    }
    cn_free(perm);
    return CN_OK;
}

/* Gives every empty cluster the row farthest from its centroid among the
 * clusters that have at least two rows. dist[] then holds, for the choice of
 * the next far row only, each row's distance to the nearest centroid chosen
 * so far (so two empty clusters never take copies of one point). */
static void repair_empty(const float *x, size_t n, size_t d, size_t k, uint32_t *assign,
                         float *dist, size_t *counts) {
    for (size_t c = 0; c < k; c++) {
        if (counts[c] > 0) continue;
        size_t far = n;
        float fd = -1.0f;
        for (size_t i = 0; i < n; i++) {
            if (counts[assign[i]] >= 2 && dist[i] > fd) {
                fd = dist[i];
                far = i;
            }
        }
        if (far == n) return; /* impossible when n >= k */
        counts[assign[far]]--;
        assign[far] = (uint32_t)c;
        counts[c] = 1;
        const float *p = x + far * d;
        for (size_t i = 0; i < n; i++) {
            float t = l2sq(x + i * d, p, d);
            if (t < dist[i]) dist[i] = t;
        }
        dist[far] = 0.0f;
    }
}

cn_status_t cn_kmeans(const float *x, size_t n, size_t d, const cn_kmeans_params_t *p,
                      float *centroids, double *objective, uint32_t *iters_run, char *err,
                      size_t errlen) {
    if (iters_run) *iters_run = 0;
    if (!p || p->k == 0 || d == 0 || p->iterations == 0 || !x || !centroids)
        return cn_error(err, errlen, CN_EINVAL, "k-means: k, d and iterations must be positive");
    const size_t k = p->k;
    if (n < k)
        return cn_error(err, errlen, CN_EINVAL, "train_size %zu is smaller than %zu centroids",
                        n, k);
    if (n > UINT32_MAX)
        return cn_error(err, errlen, CN_EINVAL, "k-means: %zu rows is too many", n);

    const cn_pq_kernels_t *kr = cn_pq_kernels();
    int nt = pick_threads(p->threads, (double)n * (double)k * (double)d);
    float *ct = cn_malloc(k * d * sizeof *ct);
    float *acc = cn_malloc((size_t)nt * k * sizeof *acc);
    float *dist = cn_malloc(n * sizeof *dist);
    uint32_t *assign = cn_malloc(n * sizeof *assign);
    uint32_t *prev = cn_malloc(n * sizeof *prev);
    size_t *counts = cn_malloc(k * sizeof *counts);
    double *sums = cn_malloc(k * d * sizeof *sums);
    cn_status_t st = CN_OK;
    if (!ct || !acc || !dist || !assign || !prev || !counts || !sums) {
        st = cn_error(err, errlen, CN_ENOMEM, "k-means: out of memory (%zu x %zu, k = %zu)", n,
                      d, k);
        goto done;
    }

    uint64_t rng = p->seed ^ 0x6b6d65616e73ull; /* "kmeans" */
    if (p->init == CN_KMEANS_RANDOM) {
        if (init_random(x, n, d, k, &rng, centroids) != CN_OK) {
            st = cn_error(err, errlen, CN_ENOMEM, "k-means: out of memory");
            goto done;
        }
    } else {
        init_plusplus(x, n, d, k, &rng, centroids, dist, nt);
    }

    for (size_t i = 0; i < n; i++) prev[i] = UINT32_MAX;
    uint32_t it;
    for (it = 0; it < p->iterations; it++) {
        transpose(centroids, k, d, ct);
        assign_all(kr, ct, k, d, x, n, assign, dist, acc, nt);
        double obj = 0;
        size_t changed = 0;
        for (size_t i = 0; i < n; i++) {
            obj += dist[i];
            changed += assign[i] != prev[i];
        }
        if (objective) objective[it] = obj;
        if (changed == 0) { /* converged: the centroids are the means already */
            if (objective)
                for (uint32_t t = it + 1; t < p->iterations; t++) objective[t] = obj;
            it++;
            break;
        }
        memset(counts, 0, k * sizeof *counts);
        for (size_t i = 0; i < n; i++) counts[assign[i]]++;
        repair_empty(x, n, d, k, assign, dist, counts);
        memcpy(prev, assign, n * sizeof *prev);

        memset(sums, 0, k * d * sizeof *sums);
        for (size_t i = 0; i < n; i++) {
            double *s = sums + (size_t)assign[i] * d;
            const float *r = x + i * d;
            for (size_t j = 0; j < d; j++) s[j] += r[j];
        }
        for (size_t c = 0; c < k; c++) {
            if (counts[c] == 0) continue; /* unreachable when n >= k */
            double inv = 1.0 / (double)counts[c];
            for (size_t j = 0; j < d; j++) centroids[c * d + j] = (float)(sums[c * d + j] * inv);
        }
    }
    if (iters_run) *iters_run = it;
    if (p->labels) memcpy(p->labels, prev, n * sizeof *prev);

done:
    cn_free(ct);
    cn_free(acc);
    cn_free(dist);
    cn_free(assign);
    cn_free(prev);
    cn_free(counts);
    cn_free(sums);
    return st;
}
