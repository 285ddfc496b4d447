/*
 * test_h_metrics.c — recall as ANN-Benchmarks defines it (ties judged by
 * distance, repeats and invalid ids count nothing), and latency percentiles.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics.h"
#include "testutil.h"

/* 1-d toy: train points at 0,1,2,...,9 ; one query at 0.1 ; k = 3. */
static void toy(cn_dataset_t *ds, float *train, float *test, int32_t *nb, float *dist,
                cn_metric_t m) {
    memset(ds, 0, sizeof *ds);
    for (int i = 0; i < 10; i++) train[i] = (float)i;
    test[0] = 0.1f;
    ds->metric = m;
    ds->dim = 1;
    ds->n_train = 10;
    ds->n_test = 1;
    ds->train = train;
    ds->test = test;
    ds->gt_k = 3;
    ds->neighbors = nb;
    ds->distances = dist;
    for (int i = 0; i < 3; i++) {
        nb[i] = i;
        dist[i] = m == CN_METRIC_IP ? 0.1f * (float)(9 - i) : fabsf(0.1f - (float)i);
    }
}

static void test_recall_l2(void **state) {
    (void)state;
    cn_dataset_t ds;
    float train[10], test[1], dist[3];
    int32_t nb[3];
    toy(&ds, train, test, nb, dist, CN_METRIC_L2);
    uint32_t exact[3] = {2, 0, 1}; /* order does not matter */
    assert_float_equal(cn_recall_query(&ds, 0, exact, 3), 1.0, 1e-12);
    uint32_t one_wrong[3] = {0, 1, 5};
    assert_float_equal(cn_recall_query(&ds, 0, one_wrong, 3), 2.0 / 3, 1e-12);
    uint32_t repeated[3] = {0, 0, 0}; /* repeats count once */
    assert_float_equal(cn_recall_query(&ds, 0, repeated, 3), 1.0 / 3, 1e-12);
    uint32_t invalid[3] = {UINT32_MAX, 10, 1}; /* padding and out of range count 0 */
    assert_float_equal(cn_recall_query(&ds, 0, invalid, 3), 1.0 / 3, 1e-12);
}

static void test_recall_ties(void **state) {
    (void)state;
    /* Two train points at the same distance as the k-th neighbour: either
     * counts, as in ANN-Benchmarks. */
    float train[4] = {1, -1, 2, -2}, test[1] = {0};
    int32_t nb[2] = {0, 1};
    float dist[2] = {1, 1};
    cn_dataset_t ds = {0};
    ds.metric = CN_METRIC_L2;
    ds.dim = 1;
    ds.n_train = 4;
    ds.n_test = 1;
    ds.train = train;
    ds.test = test;
    ds.gt_k = 2;
    ds.neighbors = nb;
    ds.distances = dist;
    uint32_t got[1] = {1};
    assert_float_equal(cn_recall_query(&ds, 0, got, 1), 1.0, 1e-12);
    uint32_t far[1] = {2};
    assert_float_equal(cn_recall_query(&ds, 0, far, 1), 0.0, 1e-12);
}

static void test_recall_ip_and_angular(void **state) {
    (void)state;
    cn_dataset_t ds;
    float train[10], test[1], dist[3];
    int32_t nb[3];
    toy(&ds, train, test, nb, dist, CN_METRIC_IP);
    /* ip: larger is better; best are 9, 8, 7 with scores 0.9, 0.8, 0.7 */
    dist[0] = 0.9f;
    dist[1] = 0.8f;
    dist[2] = 0.7f;
    uint32_t best[3] = {9, 8, 7}, worse[3] = {9, 8, 1};
    assert_float_equal(cn_recall_query(&ds, 0, best, 3), 1.0, 1e-12);
    assert_float_equal(cn_recall_query(&ds, 0, worse, 3), 2.0 / 3, 1e-12);
    /* angular in 2-d */
    float tr2[6] = {1, 0, 0, 1, -1, 0}, te2[2] = {1, 0.1f};
    cn_dataset_t a = ds;
    a.metric = CN_METRIC_COSINE;
    a.dim = 2;
    a.n_train = 3;
    a.train = tr2;
    a.test = te2;
    double d0 = cn_true_distance(&a, 0, 0), d2 = cn_true_distance(&a, 0, 2);
    assert_true(d0 > 0 && d0 < 0.01);
    assert_true(fabs(d2 - (1 + 1 / sqrt(1.01))) < 1e-6);
}

static void test_latency(void **state) {
    (void)state;
    double v[100];
    for (int i = 0; i < 100; i++) v[i] = (double)(99 - i); /* 0..99 reversed */
    cn_latency_t l;
    cn_latency_stats(v, 100, &l);
    assert_float_equal(l.mean, 49.5, 1e-9);
    assert_float_equal(l.p50, 49.5, 1e-9);
    assert_float_equal(l.p95, 94.05, 1e-9);
    assert_float_equal(l.p99, 98.01, 1e-9);
    double one = 7;
    cn_latency_stats(&one, 1, &l);
    assert_float_equal(l.p99, 7, 1e-12);
    cn_latency_stats(NULL, 0, &l);
    assert_float_equal(l.mean, 0, 1e-12);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recall_l2),
        cmocka_unit_test(test_recall_ties),
        cmocka_unit_test(test_recall_ip_and_angular),
        cmocka_unit_test(test_latency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
