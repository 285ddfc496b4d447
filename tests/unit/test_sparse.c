/*
 * test_sparse.c — the sparse_csr store and evaluator (quant/sparse.c), the
 * `sparse` quantizer, the inverted index (index/inverted.c), and HNSW / flat
 * running unchanged over sparse vectors.
 *
 * Scores are checked against a dense float64 reference on random vectors for
 * every representation (u16 / u32 components x f32 / f16 values); malformed
 * CSR input must be rejected with a message naming the problem; the HNSW
 * graph built on a sparse store must satisfy cn_hnsw_validate and reach a
 * recall threshold against brute force; the exact inverted index must return
 * flat's scores; stores and indexes must survive a save/load round trip and
 * reject a corrupt file; and the graph / flat index sources must contain no
 * sparse-specific branch. Every test runs under the counting allocator.
 */
#include <ctype.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cannoli/cannoli.h"
#include "cannoli/registry.h"
#include "index/hnsw_internal.h"
#include "quant/f16_internal.h"
#include "testutil.h"

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

/* ---- random sparse data ----------------------------------------------------- */

typedef struct csr {
    uint32_t n, dim;
    uint64_t *indptr;
    uint32_t *idx;
    float *val;
} csr_t;

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* n rows of 1..maxnnz distinct sorted components in [0, dim); values in
 * (0, 2) (positive, as BM25 / SPLADE weights). Components are drawn from a
 * skewed distribution so that rows share terms. */
static csr_t random_csr(uint32_t n, uint32_t dim, uint32_t maxnnz, uint64_t seed) {
    csr_t c = {n, dim, NULL, NULL, NULL};
    uint64_t s = seed;
    c.indptr = calloc((size_t)n + 1, sizeof *c.indptr);
    c.idx = malloc((size_t)n * maxnnz * sizeof *c.idx);
    c.val = malloc((size_t)n * maxnnz * sizeof *c.val);
    uint64_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t m = 1 + (uint32_t)(cn_test_rand(&s) % maxnnz);
        uint32_t *row = c.idx + k;
        for (uint32_t j = 0; j < m; j++) {
            double u = (double)(cn_test_rand(&s) >> 11) / 9007199254740992.0;
            row[j] = (uint32_t)(u * u * u * dim); /* skewed towards small components */
            if (row[j] >= dim) row[j] = dim - 1;
        }
        qsort(row, m, sizeof *row, cmp_u32);
        uint32_t w = 0;
        for (uint32_t j = 0; j < m; j++)
            if (w == 0 || row[j] != row[w - 1]) row[w++] = row[j];
        for (uint32_t j = 0; j < w; j++) c.val[k + j] = 1.0f + cn_test_randf(&s) * 0.999f;
        k += w;
        c.indptr[i + 1] = k;
    }
    return c;
}

static void csr_free(csr_t *c) {
    free(c->indptr);
    free(c->idx);
    free(c->val);
}

static float round_f16(float v) { return cn_f16_to_f32(cn_f32_to_f16(v)); }

/* float64 dot of row a of x and row b of y, values optionally rounded to f16
 * on the y side (the stored side). */
static double ref_dot(const csr_t *x, uint32_t a, const csr_t *y, uint32_t b, int half_x,
                      int half_y) {
    /* both rows are sorted: a plain merge, in float64 */
    uint64_t i = x->indptr[a], ie = x->indptr[a + 1], j = y->indptr[b], je = y->indptr[b + 1];
    double s = 0;
    while (i < ie && j < je) {
        if (x->idx[i] < y->idx[j]) {
            i++;
        } else if (x->idx[i] > y->idx[j]) {
            j++;
        } else {
            s += (double)(half_x ? round_f16(x->val[i]) : x->val[i]) *
                 (double)(half_y ? round_f16(y->val[j]) : y->val[j]);
            i++;
            j++;
        }
    }
    return s;
}

static cn_store_t *make_store(const csr_t *c, cn_sparse_values_t prec) {
    char err[ERRLEN] = "";
    cn_store_t *s = NULL;
    if (cn_store_sparse_create(&s, c->indptr, c->idx, c->val, c->n, c->dim, CN_METRIC_IP, prec,
                               err, sizeof err) != CN_OK)
        fail_msg("store: %s", err);
    return s;
}

static cn_vec_t row_vec(const csr_t *c, uint32_t i) {
    cn_vec_t v = {NULL, (uint32_t)(c->indptr[i + 1] - c->indptr[i]), c->idx + c->indptr[i],
                  c->val + c->indptr[i]};
    return v;
}

static void near(double got, double want, const char *what) {
    double tol = 1e-4 * (1.0 + fabs(want));
    if (fabs(got - want) > tol) fail_msg("%s: got %.7g, want %.7g", what, got, want);
}

/* ---- scores against the dense reference -------------------------------------- */

static void check_scores(uint32_t dim, cn_sparse_values_t prec) {
    char err[ERRLEN] = "";
    csr_t base = random_csr(300, dim, 60, 11 + dim), qs = random_csr(20, dim, 30, 99 + dim);
    cn_store_t *s = make_store(&base, prec);
    int half = prec == CN_SPARSE_F16;
    assert_true(cn_store_is_sparse(s));
    assert_int_equal(cn_store_sparse_values(s), prec);
    cn_evaluator_t *ev = NULL;
    assert_int_equal(cn_store_evaluator(s, &ev, err, sizeof err), CN_OK);
    uint32_t ids[300];
    float out[300];
    for (uint32_t i = 0; i < 300; i++) ids[i] = (i * 7919u) % 300u;
    for (uint32_t q = 0; q < qs.n; q++) {
        cn_vec_t v = row_vec(&qs, q);
        assert_int_equal(ev->ops->set_query(ev, &v, err, sizeof err), CN_OK);
        ev->ops->dist_batch(ev, ids, 300, out);
        for (uint32_t i = 0; i < 300; i++)
            near(-out[i], ref_dot(&qs, q, &base, ids[i], 0, half), "dist_batch");
        ev->ops->dist_range(ev, 5, 100, out);
        for (uint32_t i = 0; i < 100; i++)
            near(-out[i], ref_dot(&qs, q, &base, 5 + i, 0, half), "dist_range");
        near(-ev->ops->dist(ev, 17), ref_dot(&qs, q, &base, 17, 0, half), "dist");
    }
    /* stored vector as the query (graph build), and stored-to-stored merges */
    for (uint32_t a = 0; a < 300; a += 37) {
        ev->ops->set_query_id(ev, a);
        ev->ops->dist_batch(ev, ids, 300, out);
        for (uint32_t i = 0; i < 300; i++)
            near(-out[i], ref_dot(&base, a, &base, ids[i], half, half), "set_query_id");
        ev->ops->dist_pairs(ev, a, ids, 300, out);
        for (uint32_t i = 0; i < 300; i++)
            near(-out[i], ref_dot(&base, a, &base, ids[i], half, half), "dist_pairs");
        /* short batches take the merge path */
        for (size_t m = 1; m < 4; m++) {
            ev->ops->dist_pairs(ev, a, ids + 10 * m, m, out);
            for (uint32_t i = 0; i < m; i++)
                near(-out[i], ref_dot(&base, a, &base, ids[10 * m + i], half, half), "merge");
        }
    }
    /* dist_pairs must not disturb the current query */
    cn_vec_t v = row_vec(&qs, 0);
    assert_int_equal(ev->ops->set_query(ev, &v, err, sizeof err), CN_OK);
    ev->ops->dist_pairs(ev, 3, ids, 50, out);
    near(-ev->ops->dist(ev, 17), ref_dot(&qs, 0, &base, 17, 0, half), "dist after pairs");
    /* the row accessor and decode */
    uint32_t ri[64];
    float rv[64], *dense = calloc(dim, sizeof *dense);
    uint32_t m = cn_store_sparse_row(s, 42, ri, rv);
    assert_int_equal(m, base.indptr[43] - base.indptr[42]);
    assert_true(cn_store_sparse_max_nnz(s) >= m);
    s->ops->decode(s, 42, dense);
    for (uint32_t j = 0; j < m; j++) {
        assert_int_equal(ri[j], base.idx[base.indptr[42] + j]);
        near(rv[j], half ? round_f16(base.val[base.indptr[42] + j]) : base.val[base.indptr[42] + j],
             "row value");
        near(dense[ri[j]], rv[j], "decode");
    }
    free(dense);
    cn_evaluator_destroy(ev);
    cn_store_release(s);
    csr_free(&base);
    csr_free(&qs);
}

static void test_scores_u16_f32(void **state) {
    (void)state;
    check_scores(1000, CN_SPARSE_F32);
}
static void test_scores_u16_f16(void **state) {
    (void)state;
    check_scores(30522, CN_SPARSE_F16);
}
static void test_scores_u32_f32(void **state) {
    (void)state;
    check_scores(70000, CN_SPARSE_F32);
}
static void test_scores_u32_f16(void **state) {
    (void)state;
    check_scores(100000, CN_SPARSE_F16);
}

/* A dense query is accepted and densified the same way. */
static void test_dense_query(void **state) {
    (void)state;
    char err[ERRLEN] = "";
    csr_t base = random_csr(50, 200, 20, 5), qs = random_csr(1, 200, 20, 6);
    cn_store_t *s = make_store(&base, CN_SPARSE_F32);
    cn_evaluator_t *ev = NULL;
    assert_int_equal(cn_store_evaluator(s, &ev, err, sizeof err), CN_OK);
    float dq[200] = {0}, out[50];
    for (uint64_t k = qs.indptr[0]; k < qs.indptr[1]; k++) dq[qs.idx[k]] = qs.val[k];
    cn_vec_t v = {dq, 0, NULL, NULL};
    assert_int_equal(ev->ops->set_query(ev, &v, err, sizeof err), CN_OK);
    ev->ops->dist_range(ev, 0, 50, out);
    for (uint32_t i = 0; i < 50; i++) near(-out[i], ref_dot(&qs, 0, &base, i, 0, 0), "dense q");
    cn_evaluator_destroy(ev);
    cn_store_release(s);
    csr_free(&base);
    csr_free(&qs);
}

/* ---- malformed input ------------------------------------------------------------- */

static void expect_reject(const uint64_t *ptr, const uint32_t *idx, const float *val, uint32_t n,
                          uint32_t dim, cn_metric_t metric, const char *needle) {
    char err[ERRLEN] = "";
    cn_store_t *s = NULL;
    cn_status_t st = cn_store_sparse_create(&s, ptr, idx, val, n, dim, metric, CN_SPARSE_F32, err,
                                            sizeof err);
    assert_int_equal(st, CN_EINVAL);
    assert_null(s);
    if (!strstr(err, needle)) fail_msg("message '%s' lacks '%s'", err, needle);
}

static void test_malformed(void **state) {
    (void)state;
    uint64_t ptr[3] = {0, 3, 5};
    float val[5] = {1, 2, 3, 4, 5};
    uint32_t dup[5] = {1, 4, 4, 0, 2};
    expect_reject(ptr, dup, val, 2, 10, CN_METRIC_IP, "vector 0: duplicate component 4");
    uint32_t uns[5] = {1, 4, 6, 3, 2};
    expect_reject(ptr, uns, val, 2, 10, CN_METRIC_IP, "vector 1: components not sorted (2 after 3)");
    uint32_t oor[5] = {1, 4, 6, 3, 10};
    expect_reject(ptr, oor, val, 2, 10, CN_METRIC_IP, "vector 1: component 10 is outside the dimension 10");
    uint32_t ok[5] = {1, 4, 6, 3, 9};
    float nanv[5] = {1, 2, 3, NAN, 5};
    expect_reject(ptr, ok, nanv, 2, 10, CN_METRIC_IP, "vector 1: NaN value at component 3");
    float infv[5] = {1, INFINITY, 3, 4, 5};
    expect_reject(ptr, ok, infv, 2, 10, CN_METRIC_IP, "vector 0: infinite value at component 4");
    uint64_t dec[3] = {0, 3, 2};
    expect_reject(dec, ok, val, 2, 10, CN_METRIC_IP, "row pointers decrease");
    uint64_t start[3] = {1, 3, 5};
    expect_reject(start, ok, val, 2, 10, CN_METRIC_IP, "start at 1");
    expect_reject(ptr, ok, val, 2, 10, CN_METRIC_L2, "metric l2 is not supported");
    expect_reject(ptr, ok, val, 2, 0, CN_METRIC_IP, "dimension is 0");
    /* values that do not fit in f16 */
    char err[ERRLEN] = "";
    cn_store_t *s = NULL;
    float big[5] = {1, 2, 1e6f, 4, 5};
    assert_int_equal(cn_store_sparse_create(&s, ptr, ok, big, 2, 10, CN_METRIC_IP, CN_SPARSE_F16,
                                            err, sizeof err),
                     CN_EINVAL);
    assert_non_null(strstr(err, "does not fit in f16"));
    /* bad queries */
    assert_int_equal(cn_store_sparse_create(&s, ptr, ok, val, 2, 10, CN_METRIC_IP, CN_SPARSE_F32,
                                            err, sizeof err),
                     CN_OK);
    cn_evaluator_t *ev = NULL;
    assert_int_equal(cn_store_evaluator(s, &ev, err, sizeof err), CN_OK);
    uint32_t qi[2] = {3, 3};
    float qv[2] = {1, 1};
    cn_vec_t q = {NULL, 2, qi, qv};
    assert_int_equal(ev->ops->set_query(ev, &q, err, sizeof err), CN_EINVAL);
    assert_non_null(strstr(err, "duplicate component 3"));
    qi[1] = 12;
    assert_int_equal(ev->ops->set_query(ev, &q, err, sizeof err), CN_EINVAL);
    assert_non_null(strstr(err, "component 12 is outside the dimension 10"));
    qi[1] = 5;
    qv[1] = NAN;
    assert_int_equal(ev->ops->set_query(ev, &q, err, sizeof err), CN_EINVAL);
    assert_non_null(strstr(err, "NaN value"));
    /* after a rejected query the evaluator scores as an empty query */
    float out[2];
    ev->ops->dist_range(ev, 0, 2, out);
    assert_true(out[0] == 0.0f && out[1] == 0.0f);
    cn_evaluator_destroy(ev);
    cn_store_release(s);
}

/* ---- the sparse quantizer ---------------------------------------------------------- */

static void test_quantizer(void **state) {
    (void)state;
    char err[ERRLEN] = "";
    csr_t base = random_csr(100, 5000, 30, 8);
    cn_store_t *full = make_store(&base, CN_SPARSE_F32), *enc = NULL;
    cn_param_t it = {.key = "values", .type = CN_PARAM_STRING, .s = "f16"};
    cn_params_t p = {&it, 1};
    cn_quantizer_t *q = NULL;
    assert_int_equal(cn_quantizer_create(&q, "sparse", CN_METRIC_IP, 5000, &p, err, sizeof err),
                     CN_OK);
    assert_int_equal(q->ops->train(q, full, err, sizeof err), CN_OK);
    assert_int_equal(q->ops->encode(q, full, &enc, err, sizeof err), CN_OK);
    assert_true(cn_store_is_sparse(enc));
    assert_int_equal(cn_store_sparse_values(enc), CN_SPARSE_F16);
    assert_true(enc->ops->bytes(enc) < full->ops->bytes(full));
    assert_true(q->ops->bytes_per_vector(q) > 0);
    cn_quantizer_destroy(q);
    /* f32 is the identity */
    it.s = "f32";
    cn_store_t *same = NULL;
    assert_int_equal(cn_quantizer_create(&q, "sparse", CN_METRIC_IP, 5000, &p, err, sizeof err),
                     CN_OK);
    assert_int_equal(q->ops->encode(q, full, &same, err, sizeof err), CN_OK);
    assert_ptr_equal(same, full);
    cn_store_release(same);
    /* dense input is refused with a clear message */
    float dense[10] = {0};
    cn_store_t *ds = NULL;
    assert_int_equal(cn_store_dense_create(&ds, dense, 2, 5, CN_METRIC_IP, err, sizeof err), CN_OK);
    assert_int_equal(q->ops->train(q, ds, err, sizeof err), CN_EINVAL);
    assert_non_null(strstr(err, "must be a sparse_csr store"));
    cn_quantizer_destroy(q);
    cn_store_release(ds);
    /* ip only */
    assert_int_equal(cn_quantizer_create(&q, "sparse", CN_METRIC_L2, 5000, NULL, err, sizeof err),
                     CN_EINVAL);
    assert_non_null(strstr(err, "not supported"));
    /* plain accepts an f32 sparse store (identity), refuses an f16 one */
    assert_int_equal(cn_quantizer_create(&q, "plain", CN_METRIC_IP, 5000, NULL, err, sizeof err),
                     CN_OK);
    assert_int_equal(q->ops->train(q, full, err, sizeof err), CN_OK);
    assert_int_equal(q->ops->train(q, enc, err, sizeof err), CN_EINVAL);
    cn_quantizer_destroy(q);
    cn_store_release(enc);
    cn_store_release(full);
    csr_free(&base);
}

/* ---- indexes over sparse stores ---------------------------------------------------- */

static cn_index_t *build_index(const char *name, cn_store_t *s, const cn_params_t *bp,
                               int threads) {
    char err[ERRLEN] = "";
    cn_index_t *ix = NULL;
    if (cn_index_create(&ix, name, CN_METRIC_IP, s->dim, bp, err, sizeof err) != CN_OK)
        fail_msg("create %s: %s", name, err);
    if (cn_index_build(ix, s, s, NULL, threads, err, sizeof err) != CN_OK)
        fail_msg("build %s: %s", name, err);
    return ix;
}

static cn_search_ctx_t *ctx_with(const cn_index_t *ix, const cn_params_t *sp) {
    char err[ERRLEN] = "";
    cn_search_ctx_t *ctx = NULL;
    if (cn_search_ctx_create(ix, &ctx, err, sizeof err) != CN_OK) fail_msg("ctx: %s", err);
    if (sp && cn_search_ctx_set_params(ctx, sp, err, sizeof err) != CN_OK)
        fail_msg("params: %s", err);
    return ctx;
}

static void search(cn_search_ctx_t *ctx, const cn_vec_t *q, size_t k, uint32_t *ids, float *d) {
    char err[ERRLEN] = "";
    if (cn_index_search(ctx, q, k, ids, d, NULL, err, sizeof err) != CN_OK)
        fail_msg("search: %s", err);
}

/* Recall judged by score (ties count): result i counts when its true score
 * is >= the k-th exact score - 1e-4. */
static double recall_by_score(const csr_t *base, const csr_t *qs, uint32_t q, const uint32_t *ids,
                              const float *exact, size_t k) {
    size_t hit = 0;
    for (size_t i = 0; i < k; i++)
        if (ids[i] < base->n && ref_dot(qs, q, base, ids[i], 0, 0) >= exact[k - 1] - 1e-4) hit++;
    return (double)hit / (double)k;
}

static void test_hnsw_on_sparse(void **state) {
    (void)state;
    csr_t base = random_csr(2000, 30522, 40, 21), qs = random_csr(40, 30522, 10, 22);
    cn_store_t *s = make_store(&base, CN_SPARSE_F32);
    cn_param_t bpi[3] = {{.key = "M", .type = CN_PARAM_INT, .i = 12, .f = 12},
                         {.key = "ef_construction", .type = CN_PARAM_INT, .i = 100, .f = 100},
                         {.key = "seed", .type = CN_PARAM_INT, .i = 1, .f = 1}};
    cn_params_t bp = {bpi, 3};
    cn_index_t *h = build_index("hnsw", s, &bp, 1);
    cn_index_t *f = build_index("flat", s, NULL, 1);
    char err[ERRLEN] = "";
    if (cn_hnsw_validate(h, err, sizeof err) != CN_OK) fail_msg("validate: %s", err);
    for (uint32_t i = 0; i < h->n; i++) {
        assert_true(cn_hnsw_degree(h, i, 0) <= 24);
        for (int l = 1; l <= cn_hnsw_node_level(h, i); l++)
            assert_true(cn_hnsw_degree(h, i, l) <= 12);
    }
    cn_param_t efp = {.key = "ef", .type = CN_PARAM_INT, .i = 100, .f = 100};
    cn_params_t sp = {&efp, 1};
    cn_search_ctx_t *hc = ctx_with(h, &sp), *fc = ctx_with(f, NULL);
    double rsum = 0;
    for (uint32_t q = 0; q < qs.n; q++) {
        cn_vec_t v = row_vec(&qs, q);
        uint32_t hid[10], fid[10];
        float hd[10], fd[10];
        search(hc, &v, 10, hid, hd);
        search(fc, &v, 10, fid, fd);
        /* flat is exact: its user-facing scores are the reference inner products */
        for (int i = 0; i < 10; i++) near(fd[i], ref_dot(&qs, q, &base, fid[i], 0, 0), "flat");
        for (int i = 1; i < 10; i++) assert_true(fd[i] <= fd[i - 1]);
        rsum += recall_by_score(&base, &qs, q, hid, fd, 10);
    }
    double recall = rsum / qs.n;
    if (recall < 0.9) fail_msg("hnsw recall@10 on sparse vectors %.3f < 0.9", recall);
    cn_search_ctx_destroy(hc);
    cn_search_ctx_destroy(fc);
    cn_index_destroy(h);
    cn_index_destroy(f);
    cn_store_release(s);
    csr_free(&base);
    csr_free(&qs);
}

static void test_inverted_exact_equals_flat(void **state) {
    (void)state;
    csr_t base = random_csr(3000, 2000, 30, 31), qs = random_csr(50, 2000, 8, 32);
    cn_store_t *s = make_store(&base, CN_SPARSE_F32);
    cn_index_t *iv = build_index("inverted", s, NULL, 2);
    cn_index_t *f = build_index("flat", s, NULL, 1);
    cn_search_ctx_t *ic = ctx_with(iv, NULL), *fc = ctx_with(f, NULL);
    for (uint32_t q = 0; q < qs.n; q++) {
        cn_vec_t v = row_vec(&qs, q);
        uint32_t iid[20], fid[20];
        float idd[20], fd[20];
        search(ic, &v, 20, iid, idd);
        search(fc, &v, 20, fid, fd);
        for (int i = 0; i < 20; i++) {
            assert_true(iid[i] < base.n);
            near(idd[i], fd[i], "inverted vs flat score");
            near(idd[i], ref_dot(&qs, q, &base, iid[i], 0, 0), "inverted score");
        }
        assert_true(ic->stats.ndist > 0);
    }
    /* a query touching no document: k results of score 0, as flat */
    uint32_t none_i = 1999;
    float none_v = 1;
    int used = 0;
    for (uint64_t k = 0; k < base.indptr[base.n]; k++) used |= base.idx[k] == none_i;
    if (!used) {
        cn_vec_t v = {NULL, 1, &none_i, &none_v};
        uint32_t ids[5];
        float d[5];
        size_t found = 0;
        char err[ERRLEN];
        assert_int_equal(cn_index_search(ic, &v, 5, ids, d, &found, err, sizeof err), CN_OK);
        assert_int_equal(found, 5);
        for (int i = 0; i < 5; i++) assert_true(d[i] == 0.0f && ids[i] < base.n);
    }
    /* approximate modes: fewer postings, still valid results */
    cn_param_t ap[2] = {{.key = "keep", .type = CN_PARAM_FLOAT, .f = 0.2},
                        {.key = "query_terms", .type = CN_PARAM_INT, .i = 3, .f = 3}};
    cn_params_t aps = {ap, 2};
    cn_search_ctx_t *ac = ctx_with(iv, &aps);
    cn_vec_t v = row_vec(&qs, 0);
    uint32_t ids[10];
    float d[10];
    search(ic, &v, 10, ids, d);
    uint64_t exact_work = ic->stats.ndist;
    search(ac, &v, 10, ids, d);
    assert_true(ac->stats.ndist < exact_work);
    for (int i = 0; i < 10; i++) assert_true(ids[i] < base.n);
    /* parameter checks */
    char err[ERRLEN] = "";
    cn_param_t bad = {.key = "keep", .type = CN_PARAM_FLOAT, .f = 1.5};
    cn_params_t bads = {&bad, 1};
    assert_int_not_equal(cn_search_ctx_set_params(ac, &bads, err, sizeof err), CN_OK);
    assert_non_null(strstr(err, "keep"));
    cn_search_ctx_destroy(ac);
    cn_search_ctx_destroy(ic);
    cn_search_ctx_destroy(fc);
    cn_index_destroy(iv);
    cn_index_destroy(f);
    cn_store_release(s);
    /* a dense store is refused by the inverted index */
    float dense[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    cn_store_t *ds = NULL;
    cn_index_t *ix = NULL;
    assert_int_equal(cn_store_dense_create(&ds, dense, 2, 4, CN_METRIC_IP, err, sizeof err), CN_OK);
    assert_int_equal(cn_index_create(&ix, "inverted", CN_METRIC_IP, 4, NULL, err, sizeof err), CN_OK);
    assert_int_equal(cn_index_build(ix, ds, ds, NULL, 1, err, sizeof err), CN_EINVAL);
    assert_non_null(strstr(err, "needs sparse vectors"));
    cn_index_destroy(ix);
    cn_store_release(ds);
    assert_int_equal(cn_index_create(&ix, "inverted", CN_METRIC_L2, 4, NULL, err, sizeof err),
                     CN_EINVAL);
    csr_free(&base);
    csr_free(&qs);
}

/* ---- persistence ---------------------------------------------------------------------- */

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const unsigned char *b, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
}

static void round_trip(const char *name, cn_sparse_values_t prec, uint32_t dim) {
    char err[ERRLEN] = "", path[1024];
    csr_t base = random_csr(500, dim, 25, 41), qs = random_csr(10, dim, 8, 42);
    cn_store_t *s = make_store(&base, prec);
    cn_index_t *ix = build_index(name, s, NULL, 1), *back = NULL;
    snprintf(path, sizeof path, "%s/%s-%d-%u.cnidx", cn_test_tmpdir(), name, (int)prec, dim);
    assert_int_equal(cn_index_save(ix, path, err, sizeof err), CN_OK);
    if (cn_index_load(&back, path, err, sizeof err) != CN_OK) fail_msg("load: %s", err);
    assert_true(cn_store_is_sparse(back->store));
    assert_int_equal(cn_store_sparse_values(back->store), prec);
    assert_int_equal(cn_index_bytes(back), cn_index_bytes(ix));
    cn_search_ctx_t *a = ctx_with(ix, NULL), *b = ctx_with(back, NULL);
    for (uint32_t q = 0; q < qs.n; q++) {
        cn_vec_t v = row_vec(&qs, q);
        uint32_t i1[10], i2[10];
        float d1[10], d2[10];
        search(a, &v, 10, i1, d1);
        search(b, &v, 10, i2, d2);
        assert_memory_equal(i1, i2, sizeof i1);
        assert_memory_equal(d1, d2, sizeof d1);
    }
    cn_search_ctx_destroy(a);
    cn_search_ctx_destroy(b);
    cn_index_destroy(back);
    /* truncation is detected (checksum) and never crashes */
    size_t len;
    unsigned char *bytes = slurp(path, &len);
    spit(path, bytes, len / 2);
    back = NULL;
    assert_int_equal(cn_index_load(&back, path, err, sizeof err), CN_EFORMAT);
    assert_null(back);
    free(bytes);
    cn_index_destroy(ix);
    cn_store_release(s);
    csr_free(&base);
    csr_free(&qs);
}

static void test_round_trip(void **state) {
    (void)state;
    round_trip("flat", CN_SPARSE_F32, 30522);
    round_trip("flat", CN_SPARSE_F16, 70000);
    round_trip("inverted", CN_SPARSE_F32, 30522);
    round_trip("hnsw", CN_SPARSE_F16, 30522);
}

/* Crafted payloads with a valid checksum: only the parsers can catch them. */
static void store_u64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }

static void test_corrupt_payloads(void **state) {
    (void)state;
    char err[ERRLEN] = "", path[1024];
    uint64_t ptr[3] = {0, 2, 3};
    uint32_t idx[3] = {1, 5, 2};
    float val[3] = {1, 2, 3};
    cn_store_t *s = NULL;
    assert_int_equal(cn_store_sparse_create(&s, ptr, idx, val, 2, 8, CN_METRIC_IP, CN_SPARSE_F32,
                                            err, sizeof err),
                     CN_OK);
    cn_index_t *ix = build_index("inverted", s, NULL, 1), *back = NULL;
    snprintf(path, sizeof path, "%s/corrupt.cnidx", cn_test_tmpdir());
    assert_int_equal(cn_index_save(ix, path, err, sizeof err), CN_OK);
    size_t len;
    unsigned char *b = slurp(path, &len);
    /* locate the inverted payload magic and the store's components */
    const unsigned char magic[8] = {'c', 'n', 'I', 'N', 'V', 'X', '0', '1'};
    size_t mpos = 0;
    while (mpos + 8 <= len && memcmp(b + mpos, magic, 8) != 0) mpos++;
    assert_true(mpos + 8 <= len);
    /* payload: magic | n | dim | total | off[dim+1] | doc[total] | w[total] */
    size_t doc_at = mpos + 8 + 4 + 4 + 8 + 9 * 8;
    unsigned char *c = malloc(len);
    memcpy(c, b, len);
    uint32_t badid = 77;
    memcpy(c + doc_at, &badid, 4);
    uint64_t h = cn_checksum(CN_CHECKSUM_INIT, c, len - 8);
    store_u64(c + len - 8, h);
    spit(path, c, len);
    assert_int_equal(cn_index_load(&back, path, err, sizeof err), CN_EFORMAT);
    assert_non_null(strstr(err, "document id out of range"));
    /* a store component made out of order */
    memcpy(c, b, len);
    size_t sp = 0;
    const char *nm = "sparse_csr";
    while (sp + 10 <= len && memcmp(c + sp, nm, 10) != 0) sp++;
    assert_true(sp + 10 <= len);
    /* name | metric | n | dim | wide | half | nnz | indptr[3] | idx u16[3] */
    size_t idx_at = sp + 10 + 4 * 5 + 8 + 3 * 8;
    uint16_t c0;
    memcpy(&c0, c + idx_at, 2);
    assert_int_equal(c0, 1);
    uint16_t big = 9;
    memcpy(c + idx_at, &big, 2);
    store_u64(c + len - 8, cn_checksum(CN_CHECKSUM_INIT, c, len - 8));
    spit(path, c, len);
    assert_int_equal(cn_index_load(&back, path, err, sizeof err), CN_EFORMAT);
    assert_non_null(strstr(err, "sparse_csr vector 0"));
    free(c);
    free(b);
    cn_index_destroy(ix);
    cn_store_release(s);
}

/* ---- no sparse branch in the graph or flat index ----------------------------------- */

static void test_index_sources_agnostic(void **state) {
    (void)state;
    const char *files[] = {"hnsw.c", "hnsw_build.c", "hnsw_search.c", "hnsw_internal.h", "flat.c"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/algorithms/index/%s", CN_SOURCE_DIR, files[i]);
        FILE *f = fopen(path, "r");
        if (!f) fail_msg("cannot open %s", path);
        char line[4096];
        int no = 0;
        while (fgets(line, sizeof line, f)) {
            no++;
            for (char *p = line; *p; p++) *p = (char)tolower((unsigned char)*p);
            if (strstr(line, "sparse") || strstr(line, "csr"))
                fail_msg("%s:%d mentions sparse vectors: the index must not branch on the "
                         "store type", path, no);
        }
        fclose(f);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scores_u16_f32, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scores_u16_f16, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scores_u32_f32, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scores_u32_f16, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dense_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quantizer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hnsw_on_sparse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inverted_exact_equals_flat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_payloads, setup, teardown),
        cmocka_unit_test(test_index_sources_agnostic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
