/*
 * test_kmeans.c — k-means used by PQ training (algorithms/quant/kmeans.c).
 *
 * Lloyd's objective must never increase; well-separated clusters must be
 * recovered; empty clusters (provoked by random initialisation on data with
 * many duplicate rows) must be repaired; results depend only on the seed,
 * never on the thread count; n < k is a clear CN_EINVAL (the documented
 * choice), n == k works. Every test runs under the counting allocator and
 * must leave zero live blocks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cannoli/cannoli.h"
#include "quant/kmeans.h"

#define ERRLEN 512

static int under_valgrind(void) {
    const char *v = getenv("CN_TEST_UNDER_VALGRIND");
    return v && *v && strcmp(v, "0") != 0;
}

static int setup(void **state) {
    (void)state;
    cn_test_alloc_install();
    return 0;
}

static int teardown(void **state) {
    (void)state;
    long live = cn_test_alloc_live();
    cn_test_alloc_uninstall();
    assert_int_equal(live, 0);
    return 0;
}

/* n points around nc centres (uniform in [-spread, spread]^d) with uniform
 * noise of amplitude `noise`; *centres (nc x d) returned if non-NULL. */
static float *clustered(size_t n, size_t d, size_t nc, float spread, float noise, uint64_t seed,
                        float **centres) {
    uint64_t st = seed;
    float *c = malloc(nc * d * sizeof *c);
    for (size_t i = 0; i < nc * d; i++) c[i] = spread * cn_test_randf(&st);
    float *x = malloc(n * d * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        size_t k = i % nc;
        for (size_t j = 0; j < d; j++) x[i * d + j] = c[k * d + j] + noise * cn_test_randf(&st);
    }
    if (centres) *centres = c;
    else free(c);
    return x;
}

static double l2(const float *a, const float *b, size_t d) {
    double s = 0;
    for (size_t j = 0; j < d; j++) {
        double t = (double)a[j] - b[j];
        s += t * t;
    }
    return s;
}

static void run(const float *x, size_t n, size_t d, uint32_t k, uint32_t iters, uint64_t seed,
                cn_kmeans_init_t init, int threads, float *cent, double *obj) {
    char err[ERRLEN] = "";
    cn_kmeans_params_t p = {k, iters, seed, init, threads, NULL};
    cn_status_t st = cn_kmeans(x, n, d, &p, cent, obj, NULL, err, sizeof err);
    if (st != CN_OK) fail_msg("cn_kmeans: %d %s", (int)st, err);
}

/* ---- tests ------------------------------------------------------------------- */

static void test_objective_non_increasing(void **state) {
    (void)state;
    const size_t n = under_valgrind() ? 600 : 3000, d = 8;
    const uint32_t k = 40, iters = 30;
    float *x = clustered(n, d, 25, 1.0f, 0.3f, 11, NULL);
    float *cent = malloc(k * d * sizeof *cent);
    double obj[30];
    for (int init = 0; init < 2; init++) {
        run(x, n, d, k, iters, 7, (cn_kmeans_init_t)init, 0, cent, obj);
        for (uint32_t t = 0; t + 1 < iters; t++) {
            if (!(obj[t + 1] <= obj[t] * (1 + 1e-6)))
                fail_msg("init %d: objective rose at iteration %u: %.9g -> %.9g", init, t + 1,
                         obj[t], obj[t + 1]);
        }
        /* it actually decreases overall, and matches the returned centroids */
        assert_true(obj[iters - 1] < obj[0]);
        double final = 0;
        for (size_t i = 0; i < n; i++) {
            float dd;
            cn_kmeans_nearest(cent, k, d, x + i * d, &dd);
            final += dd;
        }
        if (!(final <= obj[iters - 1] * (1 + 1e-5)))
            fail_msg("objective of the returned centroids %.9g > last reported %.9g", final,
                     obj[iters - 1]);
    }
    free(cent);
    free(x);
}

static void test_recovers_separated_clusters(void **state) {
    (void)state;
    const size_t n = 1000, d = 6, nc = 10;
    float *centres;
    float *x = clustered(n, d, nc, 100.0f, 0.5f, 21, &centres);
    float *cent = malloc(nc * d * sizeof *cent);
    double obj[25];
    run(x, n, d, (uint32_t)nc, 25, 3, CN_KMEANS_PLUSPLUS, 0, cent, obj);
    /* every true centre has a centroid within the noise, and vice versa */
    for (size_t c = 0; c < nc; c++) {
        double best = INFINITY;
        for (size_t k = 0; k < nc; k++) {
            double t = l2(centres + c * d, cent + k * d, d);
            if (t < best) best = t;
        }
        if (!(best < 0.25)) fail_msg("true centre %zu: nearest centroid at squared %.6g", c, best);
    }
    /* objective ~ n * d * noise^2 / 3 */
    double expect = (double)n * d * 0.25 / 3.0;
    if (!(obj[24] < 1.5 * expect)) fail_msg("objective %.6g, expected ~%.6g", obj[24], expect);
    free(cent);
    free(centres);
    free(x);
}

static void test_empty_cluster_repair(void **state) {
    (void)state;
    /* 40 distinct points, each repeated 10 times: random initialisation of
     * 32 centroids almost surely picks two copies of one point, whose second
     * centroid gets no rows (ties go to the lowest index): the chance that
     * 32 distinct rows of 400 hit 32 distinct points is below 1e-6 per seed.
     * Without repair that centroid would stay on its duplicate. */
    const size_t distinct = 40, rep = 10, n = distinct * rep, d = 4;
    const uint32_t k = 32;
    float *base = clustered(distinct, d, distinct, 10.0f, 0.0f, 31, NULL);
    float *x = malloc(n * d * sizeof *x);
    for (size_t i = 0; i < n; i++) memcpy(x + i * d, base + (i % distinct) * d, d * sizeof(float));
    float *cent = malloc(k * d * sizeof *cent);
    double obj[20];
    for (uint64_t seed = 1; seed <= 8; seed++) {
        for (uint32_t iters = 1; iters <= 20; iters += 19) {
            char err[ERRLEN] = "";
            uint32_t labels[400];
            cn_kmeans_params_t p = {k, iters, seed, CN_KMEANS_RANDOM, 1, labels};
            if (cn_kmeans(x, n, d, &p, cent, obj, NULL, err, sizeof err) != CN_OK)
                fail_msg("cn_kmeans: %s", err);
            /* every cluster of the final assignment has rows, its centroid
             * is their mean, and no two centroids coincide */
            size_t counts[32] = {0};
            double sums[32][4] = {{0}};
            for (size_t i = 0; i < n; i++) {
                assert_true(labels[i] < k);
                counts[labels[i]]++;
                for (size_t j = 0; j < d; j++) sums[labels[i]][j] += x[i * d + j];
            }
            for (uint32_t c = 0; c < k; c++) {
                if (counts[c] == 0)
                    fail_msg("seed %llu iters %u: cluster %u is empty",
                             (unsigned long long)seed, iters, c);
                for (size_t j = 0; j < d; j++)
                    assert_float_equal(cent[c * d + j], sums[c][j] / (double)counts[c], 1e-4);
                for (uint32_t c2 = 0; c2 < c; c2++)
                    if (l2(cent + c * d, cent + c2 * d, d) == 0.0)
                        fail_msg("seed %llu iters %u: centroids %u and %u coincide",
                                 (unsigned long long)seed, iters, c2, c);
            }
        }
    }
    free(cent);
    free(x);
    free(base);
}

static void test_deterministic_seed(void **state) {
    (void)state;
    const size_t n = 2000, d = 5;
    const uint32_t k = 50;
    float *x = clustered(n, d, 30, 1.0f, 0.2f, 41, NULL);
    float *a = malloc(k * d * sizeof *a), *b = malloc(k * d * sizeof *b);
    double oa[10], ob[10];
    for (int init = 0; init < 2; init++) {
        run(x, n, d, k, 10, 99, (cn_kmeans_init_t)init, 0, a, oa);
        run(x, n, d, k, 10, 99, (cn_kmeans_init_t)init, 0, b, ob);
        assert_memory_equal(a, b, k * d * sizeof *a);
        assert_memory_equal(oa, ob, sizeof oa);
        run(x, n, d, k, 10, 100, (cn_kmeans_init_t)init, 0, b, ob);
        assert_memory_not_equal(a, b, k * d * sizeof *a);
    }
    free(a);
    free(b);
    free(x);
}

static void test_threads_identical(void **state) {
    (void)state;
    /* large enough for the parallel assignment to engage (n*k*d >= 4e6) */
    const size_t n = under_valgrind() ? 4000 : 20000, d = 16;
    const uint32_t k = 64;
    float *x = clustered(n, d, 100, 1.0f, 0.3f, 51, NULL);
    float *a = malloc(k * d * sizeof *a), *b = malloc(k * d * sizeof *b);
    double oa[6], ob[6];
    run(x, n, d, k, 6, 5, CN_KMEANS_PLUSPLUS, 1, a, oa);
    run(x, n, d, k, 6, 5, CN_KMEANS_PLUSPLUS, 2, b, ob);
    assert_memory_equal(a, b, k * d * sizeof *a);
    assert_memory_equal(oa, ob, sizeof oa);
    run(x, n, d, k, 6, 5, CN_KMEANS_PLUSPLUS, 0, b, ob);
    assert_memory_equal(a, b, k * d * sizeof *a);
    free(a);
    free(b);
    free(x);
}

static void test_n_smaller_than_k(void **state) {
    (void)state;
    const size_t d = 3;
    float *x = cn_test_random_matrix(300, d, 61);
    float *cent = malloc(256 * d * sizeof *cent);
    char err[ERRLEN] = "";
    cn_kmeans_params_t p = {256, 5, 1, CN_KMEANS_PLUSPLUS, 0, NULL};
    cn_status_t st = cn_kmeans(x, 100, d, &p, cent, NULL, NULL, err, sizeof err);
    assert_int_equal(st, CN_EINVAL);
    if (!strstr(err, "train_size 100 is smaller than 256 centroids")) fail_msg("message: %s", err);
    p.init = CN_KMEANS_RANDOM;
    assert_int_equal(cn_kmeans(x, 255, d, &p, cent, NULL, NULL, err, sizeof err), CN_EINVAL);
    /* n == k: every row becomes its own centroid, objective reaches 0 */
    for (int init = 0; init < 2; init++) {
        double obj[5];
        uint32_t its = 0;
        p.init = (cn_kmeans_init_t)init;
        st = cn_kmeans(x, 256, d, &p, cent, obj, &its, err, sizeof err);
        if (st != CN_OK) fail_msg("n == k: %s", err);
        assert_true(its >= 1 && its <= 5);
        assert_true(obj[4] == 0.0);
        for (size_t i = 0; i < 256; i++) {
            float dd;
            cn_kmeans_nearest(cent, 256, d, x + i * d, &dd);
            assert_true(dd == 0.0f);
        }
    }
    /* bad arguments */
    cn_kmeans_params_t z = {0, 5, 1, CN_KMEANS_PLUSPLUS, 0, NULL};
    assert_int_equal(cn_kmeans(x, 10, d, &z, cent, NULL, NULL, err, sizeof err), CN_EINVAL);
    free(cent);
    free(x);
}

static void test_nearest_and_early_stop(void **state) {
    (void)state;
    const size_t n = 500, d = 7;
    const uint32_t k = 5;
    float *x = clustered(n, d, k, 50.0f, 0.1f, 71, NULL);
    float *cent = malloc(k * d * sizeof *cent);
    double obj[50];
    uint32_t its = 0;
    char err[ERRLEN];
    cn_kmeans_params_t p = {k, 50, 2, CN_KMEANS_PLUSPLUS, 0, NULL};
    assert_int_equal(cn_kmeans(x, n, d, &p, cent, obj, &its, err, sizeof err), CN_OK);
    /* converges long before 50 iterations; the tail repeats the last value */
    assert_true(its < 50);
    for (uint32_t t = its; t < 50; t++) assert_true(obj[t] == obj[its - 1]);
    /* cn_kmeans_nearest agrees with brute force */
    for (size_t i = 0; i < n; i += 7) {
        float dd;
        uint32_t a = cn_kmeans_nearest(cent, k, d, x + i * d, &dd);
        for (uint32_t c = 0; c < k; c++) assert_true(l2(x + i * d, cent + c * d, d) >= dd - 1e-3);
        assert_true(fabs(l2(x + i * d, cent + a * d, d) - dd) < 1e-3);
    }
    /* out of memory anywhere: clean error, nothing leaked */
    for (long f = 0; f < 12; f++) {
        cn_test_alloc_fail_after(f);
        cn_status_t st = cn_kmeans(x, n, d, &p, cent, NULL, NULL, err, sizeof err);
        cn_test_alloc_fail_after(-1);
        assert_true(st == CN_OK || st == CN_ENOMEM);
        assert_int_equal(cn_test_alloc_live(), 0);
    }
    free(cent);
    free(x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_objective_non_increasing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovers_separated_clusters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_cluster_repair, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deterministic_seed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_identical, setup, teardown),
        cmocka_unit_test_setup_teardown(test_n_smaller_than_k, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nearest_and_early_stop, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
