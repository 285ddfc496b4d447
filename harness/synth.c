/*
 * harness/synth.c — synthetic datasets, for an embedded default that needs
 * no download. A Gaussian mixture (the classic clustered benchmark of e.g.
 * Aumüller et al., ANN-Benchmarks, §5): `clusters` centres uniform in
 * [-1,1]^dim, each with its own isotropic spread in [0.25, 0.5), points and
 * queries drawn from uniformly chosen clusters. Randomness is splitmix64
 * (Steele, Lea & Flood, OOPSLA 2014) with Box–Muller normals, consumed in a
 * fixed order, so a seed gives the same bytes on every machine with an IEEE
 * libm. Exact ground truth by groundtruth.c.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cannoli/index.h"
#include "cannoli/store.h"
#include "dataset_internal.h"

/* ---- synthetic ---------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double unif(uint64_t *s) {
    return (double)(splitmix64(s) >> 11) * (1.0 / 9007199254740992.0);
}

typedef struct gauss {
    uint64_t s;
    int have;
    double spare;
} gauss_t;

/* Standard normal by Box–Muller (both outputs used). */
static double gauss(gauss_t *g) {
    if (g->have) {
        g->have = 0;
        return g->spare;
    }
    double u1 = 1.0 - unif(&g->s); /* (0, 1]: log is finite */
    double u2 = unif(&g->s);
    double r = sqrt(-2.0 * log(u1));
    double t = 6.283185307179586 * u2;
    g->spare = r * sin(t);
    g->have = 1;
    return r * cos(t);
}

static void draw_points(gauss_t *g, float *out, uint32_t n, uint32_t dim, const float *centres,
                        const float *spread, uint32_t clusters) {
    for (size_t i = 0; i < n; i++) {
        uint32_t c = (uint32_t)(splitmix64(&g->s) % clusters);
        const float *ctr = centres + (size_t)c * dim;
        float *x = out + i * dim;
        for (uint32_t j = 0; j < dim; j++) x[j] = ctr[j] + spread[c] * (float)gauss(g);
    }
}

int cn_dataset_synthetic(cn_dataset_t *ds, uint32_t n_train, uint32_t n_test, uint32_t dim,
                         uint32_t clusters, cn_metric_t metric, uint64_t seed, int threads,
                         char *err, size_t errlen) {
    cn_dataset_t d = {0};
    float *centres = NULL, *spread = NULL;
    memset(ds, 0, sizeof *ds);
    if (!n_train || !n_test || !dim || !clusters) {
        cn_error(err, errlen, CN_EINVAL,
                 "synthetic: n_train, n_test, dim and clusters must be positive "
                 "(got %u, %u, %u, %u)", n_train, n_test, dim, clusters);
        return -1;
    }
    char name[96];
    snprintf(name, sizeof name, "synth-%u-%u-%s", n_train, dim,
             metric == CN_METRIC_L2 ? "euclidean" : metric == CN_METRIC_IP ? "ip" : "angular");
    char source[128];
    snprintf(source, sizeof source, "synthetic(seed=%llu)", (unsigned long long)seed);
    d.metric = metric;
    d.dim = dim;
    d.n_train = n_train;
    d.n_test = n_test;
    d.name = cn_strdup(name);
    d.source = cn_strdup(source);
    d.train = cn_malloc((size_t)n_train * dim * sizeof(float));
    d.test = cn_malloc((size_t)n_test * dim * sizeof(float));
    centres = cn_malloc((size_t)clusters * dim * sizeof(float));
    spread = cn_malloc((size_t)clusters * sizeof(float));
    if (!d.name || !d.source || !d.train || !d.test || !centres || !spread) {
        cn_error(err, errlen, CN_ENOMEM, "synthetic: out of memory for %u x %u vectors", n_train,
                 dim);
        goto fail;
    }
    gauss_t g = {seed, 0, 0};
    for (size_t i = 0; i < (size_t)clusters * dim; i++)
        centres[i] = (float)(2.0 * unif(&g.s) - 1.0);
    for (uint32_t c = 0; c < clusters; c++) spread[c] = (float)(0.25 + 0.25 * unif(&g.s));
    draw_points(&g, d.train, n_train, dim, centres, spread, clusters);
    draw_points(&g, d.test, n_test, dim, centres, spread, clusters);
    cn_free(centres);
    cn_free(spread);
    centres = spread = NULL;

    uint32_t k = n_train < CN_GT_DEFAULT_K ? n_train : CN_GT_DEFAULT_K;
    if (cn_dataset_groundtruth(&d, k, threads, err, errlen)) goto fail;
    *ds = d;
    return 0;
fail:
    cn_free(centres);
    cn_free(spread);
    cn_dataset_free(&d);
    return -1;
}

