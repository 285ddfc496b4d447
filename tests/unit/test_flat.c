/*
 * test_flat.c — the exact index (index/flat.c) through the generic index API
 * (core/index.c): it is the ground truth of every benchmark, so its answers
 * are checked against an independent double-precision brute force for the
 * three metrics, with user-facing distances (euclidean distance, inner
 * product, 1 - cos). Also: padding when k > n, k == 0, work counters, the
 * parallel batch search, re-ranking, the packed-block scan of every
 * quantizer with blocks (exactly a dist_range scan's top k), the store checks
 * of cn_index_build,
 * reference ownership, and leak-freedom under the counting allocator.
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

#define ERRLEN 512

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

static int under_valgrind(void) {
    const char *v = getenv("CN_TEST_UNDER_VALGRIND");
    return v && v[0] == '1';
}

static uint32_t N(void) { return under_valgrind() ? 300 : 2000; }
static uint32_t NQ(void) { return under_valgrind() ? 6 : 40; }
#define D 24u
#define K 10u

static cn_store_t *make_store(const float *data, uint32_t n, uint32_t d, cn_metric_t m) {
    char err[ERRLEN] = "";
    cn_store_t *s = NULL;
    if (cn_store_dense_create(&s, data, n, d, m, err, sizeof err) != CN_OK)
        fail_msg("store: %s", err);
    return s;
}

static cn_index_t *make_flat(cn_store_t *s, cn_store_t *rerank) {
    char err[ERRLEN] = "";
    cn_index_t *ix = NULL;
    cn_params_t none = {NULL, 0};
    if (cn_index_create(&ix, "flat", s->metric, s->dim, &none, err, sizeof err) != CN_OK)
        fail_msg("create: %s", err);
    cn_status_t st = cn_index_build(ix, s, s, rerank, 1, err, sizeof err);
    if (st != CN_OK) fail_msg("build: %d %s", (int)st, err);
    return ix;
}

static cn_search_ctx_t *make_ctx(const cn_index_t *ix, long long rerank) {
    char err[ERRLEN] = "";
    cn_search_ctx_t *ctx = NULL;
    if (cn_search_ctx_create(ix, &ctx, err, sizeof err) != CN_OK) fail_msg("ctx: %s", err);
    if (rerank >= 0) {
        cn_param_t it = {.key = "rerank", .type = CN_PARAM_INT, .i = rerank, .f = (double)rerank};
        cn_params_t sp = {&it, 1};
        if (cn_search_ctx_set_params(ctx, &sp, err, sizeof err) != CN_OK)
            fail_msg("rerank: %s", err);
    }
    return ctx;
}

/* User-facing distance of q to x, in double. */
static double ref_external(const float *q, const float *x, size_t d, cn_metric_t m) {
    double s = 0, qn = 0, xn = 0;
    for (size_t j = 0; j < d; j++) {
        if (m == CN_METRIC_L2) {
            double t = (double)q[j] - (double)x[j];
            s += t * t;
        } else {
            s += (double)q[j] * x[j];
            qn += (double)q[j] * q[j];
            xn += (double)x[j] * x[j];
        }
    }
    if (m == CN_METRIC_L2) return sqrt(s);
    if (m == CN_METRIC_IP) return s;
    return 1.0 - ((qn > 0 && xn > 0) ? s / sqrt(qn * xn) : 0.0);
}

/* "better or equal" in user-facing terms: larger inner product, smaller else. */
static int ordered(cn_metric_t m, float a, float b) { return m == CN_METRIC_IP ? a >= b : a <= b; }

/* Checks one answer against brute force; ids may differ only between near-ties. */
static void check_answer(const float *base, uint32_t n, const float *q, cn_metric_t m,
                         const uint32_t *ids, const float *dists, size_t k) {
    uint32_t *truth = malloc(k * sizeof *truth);
    cn_test_brute_knn(base, n, D, q, (int)m, k, truth);
    for (size_t j = 0; j < k; j++) {
        if (ids[j] >= n) fail_msg("%s rank %zu: id %u out of range", cn_metric_name(m), j, ids[j]);
        for (size_t i = 0; i < j; i++)
            if (ids[i] == ids[j]) fail_msg("%s: id %u returned twice", cn_metric_name(m), ids[j]);
        double mine = ref_external(q, base + (size_t)ids[j] * D, D, m);
        double want = ref_external(q, base + (size_t)truth[j] * D, D, m);
        /* the distance reported is the distance of the id reported */
        if (fabs((double)dists[j] - mine) > 1e-4)
            fail_msg("%s rank %zu id %u: reported %.7g, true %.7g", cn_metric_name(m), j, ids[j],
                     (double)dists[j], mine);
        /* and the rank holds the right distance (exact search) */
        if (ids[j] != truth[j] && fabs(mine - want) > 1e-4)
            fail_msg("%s rank %zu: got id %u (%.7g), brute force %u (%.7g)", cn_metric_name(m), j,
                     ids[j], mine, truth[j], want);
        if (j) assert_true(ordered(m, dists[j - 1], dists[j]));
    }
    free(truth);
}

/* ---- exactness ------------------------------------------------------------------ */

static void check_exact(cn_metric_t m) {
    const uint32_t n = N(), nq = NQ();
    char err[ERRLEN] = "";
    float *base = cn_test_random_matrix(n, D, 100 + (uint64_t)m);
    float *queries = cn_test_random_matrix(nq, D, 200 + (uint64_t)m);
    cn_store_t *s = make_store(base, n, D, m);
    cn_index_t *ix = make_flat(s, NULL);
    assert_int_equal(ix->n, n);
    assert_int_equal(ix->dim, D);
    assert_int_equal(ix->metric, m);
    assert_ptr_equal(ix->store, s);
    assert_null(ix->rerank_store);
    assert_string_equal(ix->ops->name, "flat");
    assert_true(cn_index_bytes(ix) >= (size_t)n * D * sizeof(float));
    cn_search_ctx_t *ctx = make_ctx(ix, -1);
    uint32_t ids[K];
    float dists[K];
    for (uint32_t qi = 0; qi < nq; qi++) {
        cn_vec_t v = {.dense = queries + (size_t)qi * D};
        size_t found = 0;
        cn_status_t st = cn_index_search(ctx, &v, K, ids, dists, &found, err, sizeof err);
        if (st != CN_OK) fail_msg("search: %s", err);
        assert_int_equal(found, K);
        check_answer(base, n, queries + (size_t)qi * D, m, ids, dists, K);
        /* a scan: one distance per vector, counted afresh for every query */
        assert_int_equal(ctx->stats.ndist, n);
    }
    /* a stored vector finds itself first */
    for (uint32_t r = 0; r < n; r += n / 7) {
        cn_vec_t v = {.dense = base + (size_t)r * D};
        assert_int_equal(cn_index_search(ctx, &v, 1, ids, dists, NULL, err, sizeof err), CN_OK);
        if (m != CN_METRIC_IP) {
            assert_int_equal(ids[0], r);
            assert_float_equal(dists[0], 0.0f, m == CN_METRIC_L2 ? 0.0 : 1e-6);
        }
    }
    cn_search_ctx_destroy(ctx);
    cn_index_destroy(ix);
    cn_store_release(s);
    free(base);
    free(queries);
}

static void test_exact_l2(void **state) {
    (void)state;
    check_exact(CN_METRIC_L2);
}
static void test_exact_ip(void **state) {
    (void)state;
    check_exact(CN_METRIC_IP);
}
static void test_exact_cosine(void **state) {
    (void)state;
    check_exact(CN_METRIC_COSINE);
}

/* Hand-computed: points on a line, query at 0. */
static void test_known_answer(void **state) {
    (void)state;
    char err[ERRLEN] = "";
    float base[5 * 2] = {3, 4, 1, 0, -2, 0, 0, 0.5f, 6, 8};
    float q[2] = {0, 0};
    cn_store_t *s = make_store(base, 5, 2, CN_METRIC_L2);
    cn_index_t *ix = make_flat(s, NULL);
    cn_search_ctx_t *ctx = make_ctx(ix, -1);
    uint32_t ids[5];
    float dists[5];
    size_t found = 0;
    cn_vec_t v = {.dense = q};
    assert_int_equal(cn_index_search(ctx, &v, 5, ids, dists, &found, err, sizeof err), CN_OK);
    assert_int_equal(found, 5);
    const uint32_t want_ids[5] = {3, 1, 2, 0, 4};
    const float want_d[5] = {0.5f, 1.0f, 2.0f, 5.0f, 10.0f}; /* sqrt of squared distance */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(ids[i], want_ids[i]);
        assert_float_equal(dists[i], want_d[i], 1e-6);
    }
    cn_search_ctx_destroy(ctx);
    cn_index_destroy(ix);
    cn_store_release(s);

    /* inner product: the largest dot first, reported as the dot itself */
    float qi[2] = {1, 1};
    s = make_store(base, 5, 2, CN_METRIC_IP);
    ix = make_flat(s, NULL);
    ctx = make_ctx(ix, -1);
    v.dense = qi;
    assert_int_equal(cn_index_search(ctx, &v, 3, ids, dists, &found, err, sizeof err), CN_OK);
    assert_int_equal(ids[0], 4);
    assert_float_equal(dists[0], 14.0f, 1e-5);
    assert_int_equal(ids[1], 0);
    assert_float_equal(dists[1], 7.0f, 1e-5);
    assert_int_equal(ids[2], 1);
    assert_float_equal(dists[2], 1.0f, 1e-5);
    cn_search_ctx_destroy(ctx);
    cn_index_destroy(ix);
    cn_store_release(s);

    /* cosine: 1 - cos; (3,4) and (6,8) are the same direction */
    float qc[2] = {0.6f, 0.8f};
    s = make_store(base, 5, 2, CN_METRIC_COSINE);
    ix = make_flat(s, NULL);
    ctx = make_ctx(ix, -1);
    v.dense = qc;
    assert_int_equal(cn_index_search(ctx, &v, 5, ids, dists, &found, err, sizeof err), CN_OK);
    assert_true((ids[0] == 0 && ids[1] == 4) || (ids[0] == 4 && ids[1] == 0));
    assert_float_equal(dists[0], 0.0f, 1e-6);
    assert_float_equal(dists[1], 0.0f, 1e-6);
    assert_int_equal(ids[2], 3); /* (0, 0.5): cos 0.8 */
    assert_float_equal(dists[2], 0.2f, 1e-6);
    assert_int_equal(ids[3], 1); /* (1, 0): cos 0.6 */
    assert_float_equal(dists[3], 0.4f, 1e-6);
    assert_int_equal(ids[4], 2); /* (-2, 0): cos -0.6 */
    assert_float_equal(dists[4], 1.6f, 1e-6);
    cn_search_ctx_destroy(ctx);
    cn_index_destroy(ix);
    cn_store_release(s);
}

/* ---- k edge cases ---------------------------------------------------------------- */

static void test_k_edges(void **state) {
    (void)state;
    const uint32_t n = 15;
    char err[ERRLEN] = "";
    float *base = cn_test_random_matrix(n, D, 7);
    for (int mi = 0; mi < 3; mi++) {
        cn_metric_t m = (cn_metric_t)mi;
        cn_store_t *s = make_store(base, n, D, m);
        cn_index_t *ix = make_flat(s, NULL);
        cn_search_ctx_t *ctx = make_ctx(ix, -1);
        uint32_t ids[40];
        float dists[40];
        size_t found = 12345;
        cn_vec_t v = {.dense = base + 2 * D};
        assert_int_equal(cn_index_search(ctx, &v, 40, ids, dists, &found, err, sizeof err), CN_OK);
        assert_int_equal(found, n);
        check_answer(base, n, base + 2 * D, m, ids, dists, n);
        for (size_t i = n; i < 40; i++) {
            assert_int_equal(ids[i], UINT32_MAX);
            assert_true(isinf(dists[i]) && dists[i] > 0);
        }
        /* k == n exactly */
        assert_int_equal(cn_index_search(ctx, &v, n, ids, dists, &found, err, sizeof err), CN_OK);
        assert_int_equal(found, n);
        /* k == 0 is an error, and found is not left claiming results */
        found = 99;
        err[0] = 0;
        assert_int_equal(cn_index_search(ctx, &v, 0, ids, dists, &found, err, sizeof err),
                         CN_EINVAL);
        assert_true(err[0] != 0);
        /* a query that is not dense */
        uint32_t sidx[1] = {0};
        float sval[1] = {1.0f};
        cn_vec_t sp = {.dense = NULL, .nnz = 1, .idx = sidx, .val = sval};
        assert_int_not_equal(cn_index_search(ctx, &sp, 5, ids, dists, &found, err, sizeof err),
                             CN_OK);
        /* the context is still usable after errors */
        assert_int_equal(cn_index_search(ctx, &v, 3, ids, dists, NULL, err, sizeof err), CN_OK);
        check_answer(base, n, base + 2 * D, m, ids, dists, 3);
        cn_search_ctx_destroy(ctx);
        cn_index_destroy(ix);
        cn_store_release(s);
    }
    free(base);
}

static void test_single_vector(void **state) {
    (void)state;
    char err[ERRLEN] = "";
    float one[D];
    for (uint32_t j = 0; j < D; j++) one[j] = (float)j / D;
    cn_store_t *s = make_store(one, 1, D, CN_METRIC_L2);
    cn_index_t *ix = make_flat(s, NULL);
    cn_search_ctx_t *ctx = make_ctx(ix, -1);
    uint32_t ids[3];
    float dists[3];
    size_t found = 0;
    cn_vec_t v = {.dense = one};
    assert_int_equal(cn_index_search(ctx, &v, 3, ids, dists, &found, err, sizeof err), CN_OK);
    assert_int_equal(found, 1);
    assert_int_equal(ids[0], 0);
    assert_true(dists[0] == 0.0f);
    assert_int_equal(ids[1], UINT32_MAX);
    assert_int_equal(ids[2], UINT32_MAX);
    assert_int_equal(ctx->stats.ndist, 1);
    cn_search_ctx_destroy(ctx);
    cn_index_destroy(ix);
    cn_store_release(s);
}

/* ---- batch search ----------------------------------------------------------------- */

static void test_search_batch(void **state) {
    (void)state;
    const uint32_t n = N(), nq = NQ() + 3; /* not a multiple of the thread count */
    char err[ERRLEN] = "";
    for (int mi = 0; mi < 3; mi++) {
        cn_metric_t m = (cn_metric_t)mi;
        float *base = cn_test_random_matrix(n, D, 300 + (uint64_t)mi);
        float *queries = cn_test_random_matrix(nq, D, 400 + (uint64_t)mi);
        cn_store_t *s = make_store(base, n, D, m);
        cn_index_t *ix = make_flat(s, NULL);
        cn_search_ctx_t *ctx = make_ctx(ix, -1);
        uint32_t *ids1 = malloc((size_t)nq * K * sizeof *ids1);
        float *d1 = malloc((size_t)nq * K * sizeof *d1);
        for (uint32_t q = 0; q < nq; q++) {
            cn_vec_t v = {.dense = queries + (size_t)q * D};
            assert_int_equal(cn_index_search(ctx, &v, K, ids1 + (size_t)q * K, d1 + (size_t)q * K,
                                             NULL, err, sizeof err),
                             CN_OK);
        }
        const int threads[3] = {1, 2, 0};
        for (int t = 0; t < 3; t++) {
            uint32_t *ids2 = malloc((size_t)nq * K * sizeof *ids2);
            float *d2 = malloc((size_t)nq * K * sizeof *d2);
            memset(ids2, 0xAB, (size_t)nq * K * sizeof *ids2);
            cn_params_t none = {NULL, 0};
            cn_status_t st = cn_index_search_batch(ix, &none, queries, nq, K, threads[t], ids2,
                                                   d2, err, sizeof err);
            if (st != CN_OK) fail_msg("batch (%d threads): %s", threads[t], err);
            for (size_t i = 0; i < (size_t)nq * K; i++) {
                if (ids1[i] != ids2[i])
                    fail_msg("%s batch %d threads: query %zu rank %zu id %u vs single %u",
                             cn_metric_name(m), threads[t], i / K, i % K, ids2[i], ids1[i]);
                assert_float_equal(d1[i], d2[i], 1e-5 * (fabs(d1[i]) + 1));
            }
            free(ids2);
            free(d2);
        }
        /* batch with k > n pads too */
        uint32_t small_ids[2 * 20];
        float small_d[2 * 20];
        cn_store_t *s5 = make_store(base, 5, D, m);
        cn_index_t *ix5 = make_flat(s5, NULL);
        assert_int_equal(cn_index_search_batch(ix5, NULL, queries, 2, 20, 2, small_ids, small_d,
                                               err, sizeof err),
                         CN_OK);
        for (int q = 0; q < 2; q++)
            for (int i = 0; i < 20; i++) {
                if (i < 5) {
                    assert_true(small_ids[q * 20 + i] < 5);
                } else {
                    assert_int_equal(small_ids[q * 20 + i], UINT32_MAX);
                    assert_true(isinf(small_d[q * 20 + i]));
                }
            }
        cn_index_destroy(ix5);
        cn_store_release(s5);
        free(ids1);
        free(d1);
        cn_search_ctx_destroy(ctx);
        cn_index_destroy(ix);
        cn_store_release(s);
        free(base);
        free(queries);
    }
}

/* ---- re-ranking --------------------------------------------------------------------- */

static void test_rerank_same_store(void **state) {
    (void)state;
    const uint32_t n = N(), nq = NQ();
    char err[ERRLEN] = "";
    for (int mi = 0; mi < 3; mi++) {
        cn_metric_t m = (cn_metric_t)mi;
        float *base = cn_test_random_matrix(n, D, 500 + (uint64_t)mi);
        float *queries = cn_test_random_matrix(nq, D, 600 + (uint64_t)mi);
        cn_store_t *s = make_store(base, n, D, m);
        cn_index_t *plain = make_flat(s, NULL);
        cn_index_t *rr = make_flat(s, s);
        assert_ptr_equal(rr->rerank_store, s);
        /* a store in two roles counts once */
        assert_int_equal(cn_index_bytes(rr), cn_index_bytes(plain));
        cn_search_ctx_t *c1 = make_ctx(plain, -1), *c2 = make_ctx(rr, 50);
        assert_int_equal(c2->rerank, 50);
        uint32_t i1[K], i2[K];
        float d1[K], d2[K];
        for (uint32_t q = 0; q < nq; q++) {
            cn_vec_t v = {.dense = queries + (size_t)q * D};
            size_t f1 = 0, f2 = 0;
            assert_int_equal(cn_index_search(c1, &v, K, i1, d1, &f1, err, sizeof err), CN_OK);
            cn_status_t st = cn_index_search(c2, &v, K, i2, d2, &f2, err, sizeof err);
            if (st != CN_OK) fail_msg("rerank search: %s", err);
            assert_int_equal(f1, f2);
            assert_memory_equal(i1, i2, sizeof i1);
            for (unsigned j = 0; j < K; j++) assert_float_equal(d1[j], d2[j], 1e-6);
            check_answer(base, n, queries + (size_t)q * D, m, i2, d2, K);
        }
        /* the batch path honours rerank too */
        cn_param_t it = {.key = "rerank", .type = CN_PARAM_INT, .i = 50, .f = 50};
        cn_params_t sp = {&it, 1};
        uint32_t *bi = malloc((size_t)nq * K * sizeof *bi);
        float *bd = malloc((size_t)nq * K * sizeof *bd);
        assert_int_equal(
            cn_index_search_batch(rr, &sp, queries, nq, K, 2, bi, bd, err, sizeof err), CN_OK);
        for (uint32_t q = 0; q < nq; q++)
            check_answer(base, n, queries + (size_t)q * D, m, bi + (size_t)q * K,
                         bd + (size_t)q * K, K);
        free(bi);
        free(bd);
        cn_search_ctx_destroy(c1);
        cn_search_ctx_destroy(c2);
        cn_index_destroy(plain);
        cn_index_destroy(rr);
        cn_store_release(s);
        free(base);
        free(queries);
    }
}

/* ---- packed code blocks, every quantizer that has them ------------------------------- */

static int cmp_f(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* For every registered quantizer whose store has packed blocks (pq4fs,
 * rabitq, and whatever comes later; schema defaults), flat's block scan
 * returns exactly the top k of a dist_range scan through the same store, for
 * l2 / ip / cosine. */
static void test_block_stores_exact(void **state) {
    (void)state;
    const uint32_t n = N() + 17, nq = NQ() / 2 + 1; /* n not a multiple of 32 */
    char err[ERRLEN] = "";
    size_t tested = 0;
    for (size_t ci = 0; ci < cn_registry_count(); ci++) {
        const cn_component_t *c = cn_registry_at(ci);
        if (c->kind != CN_COMPONENT_QUANTIZER) continue;
        for (int mi = 0; mi < 3; mi++) {
            cn_metric_t m = (cn_metric_t)mi;
            float *base = cn_test_random_matrix(n, D, 700 + (uint64_t)mi);
            float *queries = cn_test_random_matrix(nq, D, 800 + (uint64_t)mi);
            cn_store_t *full = make_store(base, n, D, m), *s = NULL;
            cn_quantizer_t *q = NULL;
            if (cn_quantizer_create(&q, c->name, m, D, NULL, err, sizeof err) == CN_OK &&
                q->ops->train(q, full, err, sizeof err) == CN_OK)
                q->ops->encode(q, full, &s, err, sizeof err);
            cn_quantizer_destroy(q);
            if (s && s->ops->blocks && s->ops->blocks->store_blocks) {
                tested++;
                cn_index_t *ix = make_flat(s, NULL);
                cn_search_ctx_t *ctx = make_ctx(ix, -1);
                cn_evaluator_t *ev = NULL;
                assert_int_equal(cn_store_evaluator(s, &ev, err, sizeof err), CN_OK);
                float *all = malloc(n * sizeof *all);
                for (uint32_t qi = 0; qi < nq; qi++) {
                    cn_vec_t v = {.dense = queries + (size_t)qi * D};
                    uint32_t ids[K];
                    float dd[K];
                    size_t found = 0;
                    assert_int_equal(cn_index_search(ctx, &v, K, ids, dd, &found, err, sizeof err),
                                     CN_OK);
                    assert_int_equal(found, K);
                    assert_int_equal(ev->ops->set_query(ev, &v, err, sizeof err), CN_OK);
                    ev->ops->dist_range(ev, 0, n, all);
                    for (unsigned j = 0; j < K; j++)
                        assert_true(cn_metric_external(m, all[ids[j]]) == dd[j]);
                    qsort(all, n, sizeof *all, cmp_f);
                    for (unsigned j = 0; j < K; j++)
                        if (cn_metric_external(m, all[j]) != dd[j])
                            fail_msg("%s %s query %u rank %u: flat %g, scan %g", c->name,
                                     cn_metric_name(m), qi, j, (double)dd[j],
                                     (double)cn_metric_external(m, all[j]));
                }
                free(all);
                cn_evaluator_destroy(ev);
                cn_search_ctx_destroy(ctx);
                cn_index_destroy(ix);
            }
            cn_store_release(s);
            cn_store_release(full);
            free(base);
            free(queries);
        }
    }
    assert_true(tested >= 2 * 3); /* pq4fs and rabitq at least */
}

/* ---- build checks and ownership ------------------------------------------------------ */

static void expect_build_error(cn_index_t *ix, cn_store_t *b, cn_store_t *s, cn_store_t *r,
                               const char *what) {
    char err[ERRLEN] = "";
    int rb = b ? b->refs : 0, rs = s ? s->refs : 0, rr = r ? r->refs : 0;
    cn_status_t st = cn_index_build(ix, b, s, r, 1, err, sizeof err);
    if (st != CN_EINVAL) fail_msg("build with %s: got %d '%s', want CN_EINVAL", what, (int)st, err);
    assert_true(err[0] != 0);
    /* a failed build keeps no reference */
    if (b) assert_int_equal(b->refs, rb);
    if (s) assert_int_equal(s->refs, rs);
    if (r) assert_int_equal(r->refs, rr);
}

static void test_build_checks(void **state) {
    (void)state;
    const uint32_t n = 50;
    char err[ERRLEN] = "";
    float *base = cn_test_random_matrix(n + 1, D + 1, 8);
    cn_store_t *good = make_store(base, n, D, CN_METRIC_L2);
    cn_store_t *wrong_dim = make_store(base, n, D + 1, CN_METRIC_L2);
    cn_store_t *wrong_metric = make_store(base, n, D, CN_METRIC_IP);
    cn_store_t *wrong_n = make_store(base, n + 1, D, CN_METRIC_L2);
    cn_store_t *fewer = make_store(base, n - 1, D, CN_METRIC_L2);

    cn_index_t *ix = NULL;
    assert_int_equal(cn_index_create(&ix, "flat", CN_METRIC_L2, D, NULL, err, sizeof err), CN_OK);
    expect_build_error(ix, wrong_dim, wrong_dim, NULL, "a store of another dimension");
    expect_build_error(ix, good, wrong_dim, NULL, "a search store of another dimension");
    expect_build_error(ix, wrong_metric, wrong_metric, NULL, "a store of another metric");
    expect_build_error(ix, good, wrong_n, NULL, "a search store with more vectors");
    expect_build_error(ix, good, fewer, NULL, "a search store with fewer vectors");
    expect_build_error(ix, good, good, wrong_n, "a rerank store with more vectors");
    expect_build_error(ix, good, good, wrong_dim, "a rerank store of another dimension");
    cn_index_destroy(ix);

    /* the index owns its references: the caller may release its own right away */
    ix = NULL;
    assert_int_equal(cn_index_create(&ix, "flat", CN_METRIC_L2, D, NULL, err, sizeof err), CN_OK);
    assert_int_equal(good->refs, 1);
    assert_int_equal(cn_index_build(ix, good, good, good, 1, err, sizeof err), CN_OK);
    assert_true(good->refs >= 2);
    cn_store_t *keep = cn_store_retain(good);
    int refs_built = good->refs;
    cn_store_release(good); /* the caller's original reference */
    assert_int_equal(keep->refs, refs_built - 1);
    cn_search_ctx_t *ctx = make_ctx(ix, 5);
    uint32_t ids[4];
    float dists[4];
    cn_vec_t v = {.dense = base + 7 * D};
    assert_int_equal(cn_index_search(ctx, &v, 4, ids, dists, NULL, err, sizeof err), CN_OK);
    cn_search_ctx_destroy(ctx);
    cn_index_destroy(ix);
    assert_int_equal(keep->refs, 1); /* destroy released exactly what build took */
    cn_store_release(keep);

    cn_store_release(wrong_dim);
    cn_store_release(wrong_metric);
    cn_store_release(wrong_n);
    cn_store_release(fewer);
    free(base);
}

/* Full life cycle, counted: every library allocation is returned. */
static void test_no_leaks(void **state) {
    (void)state;
    const uint32_t n = 200;
    char err[ERRLEN] = "";
    float *base = cn_test_random_matrix(n, D, 9);
    float *queries = cn_test_random_matrix(4, D, 10);
    for (int round = 0; round < 2; round++) {
        cn_store_t *s = make_store(base, n, D, CN_METRIC_COSINE);
        cn_index_t *ix = make_flat(s, round ? s : NULL);
        cn_store_release(s);
        cn_search_ctx_t *ctx = make_ctx(ix, round ? 20 : -1);
        uint32_t ids[4 * K];
        float dists[4 * K];
        cn_vec_t v = {.dense = queries};
        assert_int_equal(cn_index_search(ctx, &v, K, ids, dists, NULL, err, sizeof err), CN_OK);
        assert_int_equal(cn_index_search_batch(ix, NULL, queries, 4, K, 2, ids, dists, err,
                                               sizeof err),
                         CN_OK);
        assert_true(cn_test_alloc_live() > 0);
        cn_search_ctx_destroy(ctx);
        cn_index_destroy(ix);
        assert_int_equal(cn_test_alloc_live(), 0);
    }
    free(base);
    free(queries);
}

/* An allocation failing during a search is reported, never passed off as an
 * index with fewer vectors (index.h: fewer than k only if fewer are reachable). */
static void test_search_enomem(void **state) {
    (void)state;
    const uint32_t n = 300;
    char err[ERRLEN] = "";
    float *base = cn_test_random_matrix(n, D, 12);
    cn_store_t *s = make_store(base, n, D, CN_METRIC_L2);
    cn_index_t *ix = make_flat(s, NULL);
    cn_store_release(s);
    const size_t k = 200; /* larger than any scratch a context starts with */
    uint32_t *ids = malloc(k * sizeof *ids);
    float *dists = malloc(k * sizeof *dists);
    cn_vec_t v = {.dense = base + 5 * D};
    for (long fail = 0; fail < 4; fail++) {
        cn_search_ctx_t *ctx = make_ctx(ix, -1);
        size_t found = 0;
        err[0] = 0;
        cn_test_alloc_fail_after(fail);
        cn_status_t st = cn_index_search(ctx, &v, k, ids, dists, &found, err, sizeof err);
        cn_test_alloc_fail_after(-1);
        if (st == CN_OK) {
            if (found != k)
                fail_msg("allocation %ld failing: CN_OK with found=%zu of k=%zu (n=%u)", fail,
                         found, k, n);
            check_answer(base, n, base + 5 * D, CN_METRIC_L2, ids, dists, k);
        } else {
            assert_int_equal(st, CN_ENOMEM);
            assert_true(err[0] != 0);
        }
        /* the context recovers once memory is back */
        assert_int_equal(cn_index_search(ctx, &v, k, ids, dists, &found, err, sizeof err), CN_OK);
        assert_int_equal(found, k);
        assert_int_equal(ids[0], 5);
        cn_search_ctx_destroy(ctx);
    }
    free(ids);
    free(dists);
    cn_index_destroy(ix);
    free(base);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exact_l2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exact_ip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exact_cosine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_known_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_k_edges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_single_vector, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rerank_same_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_stores_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_leaks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_enomem, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
