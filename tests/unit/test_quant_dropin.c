/*
 * test_quant_dropin.c — a quantizer is a drop-in part.
 *
 * This file alone defines a complete quantizer, "bf16_dropin" (keeps the top
 * 16 bits of each float: bfloat16), with its store, evaluator, save and load,
 * registers it with cn_registry_add(), and then runs the library's HNSW
 * through it: the graph built on the full-precision store, searched through
 * the bf16 codes, with and without re-ranking, saved and loaded again through
 * the registry. No index, harness or other quantizer code knows it exists;
 * that is the modularity claim of algorithms/quant/README.md, tested. It also
 * runs the library's conformance suite (conformance.c) with no checks of its
 * own: declaring its tolerance in its ops is all a new quantizer does for it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"
#include "conformance.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cannoli/cannoli.h"

#define ERRLEN 512

/* ---- the quantizer: ~120 lines, all of it ---------------------------------- */

typedef struct bf_store {
    cn_store_t base;
    uint16_t *codes; /* n * dim */
} bf_store_t;

typedef struct bf_eval {
    cn_evaluator_t base;
    float *q;  /* current query, dim floats */
    float *qa; /* scratch for dist_pairs */
} bf_eval_t;

static uint16_t bf_encode(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest even */
    return (uint16_t)(u >> 16);
}

static float bf_decode(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

static float bf_score(const cn_store_t *s, const float *q, uint32_t id) {
    const bf_store_t *bs = (const bf_store_t *)s;
    const uint16_t *c = bs->codes + (size_t)id * s->dim;
    float acc = 0;
    if (s->metric == CN_METRIC_L2) {
        for (uint32_t j = 0; j < s->dim; j++) {
            float t = q[j] - bf_decode(c[j]);
            acc += t * t;
        }
        return acc;
    }
    for (uint32_t j = 0; j < s->dim; j++) acc += q[j] * bf_decode(c[j]);
    return -acc;
}

static cn_status_t bf_set_query(cn_evaluator_t *e, const cn_vec_t *v, char *err, size_t errlen) {
    bf_eval_t *ev = (bf_eval_t *)e;
    if (!v || !v->dense) return cn_error(err, errlen, CN_EINVAL, "bf16_dropin: dense query only");
    memcpy(ev->q, v->dense, e->store->dim * sizeof(float));
    if (e->store->metric == CN_METRIC_COSINE) { /* stored rows are unit vectors */
        double s = 0;
        for (uint32_t j = 0; j < e->store->dim; j++) s += (double)ev->q[j] * ev->q[j];
        for (uint32_t j = 0; s > 0 && j < e->store->dim; j++) ev->q[j] = (float)(ev->q[j] / sqrt(s));
    }
    return CN_OK;
}
static void bf_set_query_id(cn_evaluator_t *e, uint32_t id) {
    bf_eval_t *ev = (bf_eval_t *)e;
    const bf_store_t *bs = (const bf_store_t *)e->store;
    for (uint32_t j = 0; j < e->store->dim; j++)
        ev->q[j] = bf_decode(bs->codes[(size_t)id * e->store->dim + j]);
}
static float bf_dist(cn_evaluator_t *e, uint32_t id) {
    return bf_score(e->store, ((bf_eval_t *)e)->q, id);
}
static void bf_dist_batch(cn_evaluator_t *e, const uint32_t *ids, size_t n, float *out) {
    for (size_t i = 0; i < n; i++) out[i] = bf_score(e->store, ((bf_eval_t *)e)->q, ids[i]);
}
static void bf_dist_range(cn_evaluator_t *e, uint32_t start, size_t n, float *out) {
    for (size_t i = 0; i < n; i++)
        out[i] = bf_score(e->store, ((bf_eval_t *)e)->q, start + (uint32_t)i);
}
static void bf_dist_pairs(cn_evaluator_t *e, uint32_t a, const uint32_t *ids, size_t n,
                          float *out) {
    bf_eval_t *ev = (bf_eval_t *)e;
    const bf_store_t *bs = (const bf_store_t *)e->store;
    for (uint32_t j = 0; j < e->store->dim; j++)
        ev->qa[j] = bf_decode(bs->codes[(size_t)a * e->store->dim + j]);
    for (size_t i = 0; i < n; i++) out[i] = bf_score(e->store, ev->qa, ids[i]);
}
static void bf_eval_destroy(cn_evaluator_t *e) {
    bf_eval_t *ev = (bf_eval_t *)e;
    cn_free(ev->q);
    cn_free(ev->qa);
    cn_free(ev);
}
static const cn_evaluator_ops_t bf_eval_ops = {bf_set_query,  bf_set_query_id, bf_dist,
                                               bf_dist_batch, bf_dist_range,   bf_dist_pairs,
                                               bf_eval_destroy, NULL};

static cn_status_t bf_evaluator(const cn_store_t *s, cn_evaluator_t **out, char *err,
                                size_t errlen) {
    bf_eval_t *ev = cn_calloc(1, sizeof *ev);
    if (ev) ev->q = cn_calloc(s->dim, sizeof(float));
    if (ev) ev->qa = cn_calloc(s->dim, sizeof(float));
    if (!ev || !ev->q || !ev->qa) {
        if (ev) bf_eval_destroy(&ev->base);
        return cn_error(err, errlen, CN_ENOMEM, "bf16_dropin: out of memory");
    }
    ev->base.ops = &bf_eval_ops;
    ev->base.store = s;
    *out = &ev->base;
    return CN_OK;
}
static size_t bf_bytes(const cn_store_t *s) {
    return sizeof(bf_store_t) + (size_t)s->n * s->dim * sizeof(uint16_t);
}
static void bf_decode_row(const cn_store_t *s, uint32_t i, float *out) {
    for (uint32_t j = 0; j < s->dim; j++)
        out[j] = bf_decode(((const bf_store_t *)s)->codes[(size_t)i * s->dim + j]);
}
static void bf_save(const cn_store_t *s, cn_writer_t *w) {
    cn_write(w, ((const bf_store_t *)s)->codes, (size_t)s->n * s->dim * sizeof(uint16_t));
}
static void bf_store_destroy(cn_store_t *s) {
    cn_free(((bf_store_t *)s)->codes);
    cn_free(s);
}
static const cn_store_ops_t bf_store_ops = {"bf16_dropin", bf_evaluator, bf_bytes,
                                            bf_decode_row, bf_save,      bf_store_destroy,
                                            NULL,          NULL,     NULL};

static bf_store_t *bf_alloc(cn_metric_t metric, uint32_t n, uint32_t dim) {
    bf_store_t *bs = cn_calloc(1, sizeof *bs);
    if (!bs) return NULL;
    bs->codes = cn_calloc((size_t)n * dim, sizeof(uint16_t));
    if (!bs->codes) {
        cn_free(bs);
        return NULL;
    }
    bs->base.ops = &bf_store_ops;
    bs->base.metric = metric;
    bs->base.n = n;
    bs->base.dim = dim;
    bs->base.refs = 1;
    return bs;
}

static cn_status_t bf_load(cn_store_t **out, cn_reader_t *r, cn_metric_t metric, uint32_t n,
                           uint32_t dim, char *err, size_t errlen) {
    if ((uint64_t)n * dim * 2 > cn_reader_remaining(r))
        return cn_error(err, errlen, CN_EFORMAT, "bf16_dropin: truncated");
    bf_store_t *bs = bf_alloc(metric, n, dim);
    if (!bs) return cn_error(err, errlen, CN_ENOMEM, "bf16_dropin: out of memory");
    if (cn_read(r, bs->codes, (size_t)n * dim * sizeof(uint16_t)) != CN_OK) {
        bf_store_destroy(&bs->base);
        return cn_error(err, errlen, CN_EFORMAT, "bf16_dropin: truncated");
    }
    *out = &bs->base;
    return CN_OK;
}

static cn_status_t bf_train(cn_quantizer_t *q, const cn_store_t *full, char *err, size_t errlen) {
    (void)q;
    if (!cn_store_is_dense_f32(full))
        return cn_error(err, errlen, CN_EINVAL, "bf16_dropin: input must be a dense_f32 store");
    return CN_OK;
}
static cn_status_t bf_encode_store(const cn_quantizer_t *q, cn_store_t *full, cn_store_t **out,
                                   char *err, size_t errlen) {
    bf_store_t *bs = bf_alloc(q->metric, full->n, full->dim);
    float *row = cn_malloc(full->dim * sizeof(float));
    if (!bs || !row) {
        cn_free(row);
        if (bs) bf_store_destroy(&bs->base);
        return cn_error(err, errlen, CN_ENOMEM, "bf16_dropin: out of memory");
    }
    for (uint32_t i = 0; i < full->n; i++) {
        full->ops->decode(full, i, row);
        for (uint32_t j = 0; j < full->dim; j++)
            bs->codes[(size_t)i * full->dim + j] = bf_encode(row[j]);
    }
    cn_free(row);
    *out = &bs->base;
    return CN_OK;
}
static size_t bf_bpv(const cn_quantizer_t *q) { return q->dim * sizeof(uint16_t); }
static void bf_destroy(cn_quantizer_t *q) { cn_free(q); }
/* Scores computed exactly on the decoded values: float rounding only. */
static const cn_quantizer_ops_t bf_ops = {.name = "bf16_dropin",
                                          .train = bf_train,
                                          .encode = bf_encode_store,
                                          .bytes_per_vector = bf_bpv,
                                          .destroy = bf_destroy,
                                          .dist_rtol = 1e-5f,
                                          .dist_atol = 1e-6f};

static cn_status_t bf_create(cn_quantizer_t **out, cn_metric_t metric, uint32_t dim,
                             const cn_params_t *params, char *err, size_t errlen) {
    (void)params;
    cn_quantizer_t *q = cn_calloc(1, sizeof *q);
    if (!q) return cn_error(err, errlen, CN_ENOMEM, "bf16_dropin: out of memory");
    q->ops = &bf_ops;
    q->metric = metric;
    q->dim = dim;
    *out = q;
    return CN_OK;
}

/* The one registry line. */
static const cn_component_t bf_component = {
    "bf16_dropin", CN_COMPONENT_QUANTIZER, "bfloat16 truncation (test-only drop-in)", NULL, 0,
    NULL,          bf_create,              "bf16_dropin",                              bf_load};

/* ---- the test --------------------------------------------------------------------- */

static int setup(void **state) {
    (void)state;
    static int added;
    char err[ERRLEN];
    if (!added) {
        assert_int_equal(cn_registry_add(&bf_component, err, sizeof err), CN_OK);
        added = 1;
    }
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

/* recall@k of the index over nq queries against brute force. */
static double recall(const cn_index_t *ix, const float *base, uint32_t n, uint32_t d,
                     const float *queries, uint32_t nq, size_t k, long long ef, long long rerank,
                     uint32_t *got_all) {
    char err[ERRLEN];
    cn_search_ctx_t *ctx = NULL;
    assert_int_equal(cn_search_ctx_create(ix, &ctx, err, sizeof err), CN_OK);
    cn_param_t items[2] = {{.key = "ef", .type = CN_PARAM_INT, .i = ef},
                           {.key = "rerank", .type = CN_PARAM_INT, .i = rerank}};
    cn_params_t sp = {items, 2};
    if (cn_search_ctx_set_params(ctx, &sp, err, sizeof err) != CN_OK) fail_msg("%s", err);
    uint32_t truth[64], ids[64];
    float dists[64];
    size_t hit = 0;
    for (uint32_t qi = 0; qi < nq; qi++) {
        const float *q = queries + (size_t)qi * d;
        cn_vec_t v = {.dense = q};
        assert_int_equal(cn_index_search(ctx, &v, k, ids, dists, NULL, err, sizeof err), CN_OK);
        if (got_all) memcpy(got_all + (size_t)qi * k, ids, k * sizeof *ids);
        cn_test_brute_knn(base, n, d, q, 0, k, truth);
        for (size_t a = 0; a < k; a++)
            for (size_t b = 0; b < k; b++)
                if (ids[a] == truth[b]) hit++;
    }
    cn_search_ctx_destroy(ctx);
    return (double)hit / ((double)nq * (double)k);
}

static void test_hnsw_through_dropin(void **state) {
    (void)state;
    char err[ERRLEN];
    const uint32_t n = under_valgrind() ? 1500 : 6000, d = 24, nq = 60;
    const size_t k = 10;
    float *base = cn_test_random_matrix(n, d, 11);
    float *queries = cn_test_random_matrix(nq, d, 12);

    assert_non_null(cn_registry_find("bf16_dropin", CN_COMPONENT_QUANTIZER));
    cn_store_t *full = NULL, *enc = NULL;
    assert_int_equal(cn_store_dense_create(&full, base, n, d, CN_METRIC_L2, err, sizeof err),
                     CN_OK);
    cn_quantizer_t *q = NULL;
    assert_int_equal(cn_quantizer_create(&q, "bf16_dropin", CN_METRIC_L2, d, NULL, err,
                                         sizeof err),
                     CN_OK);
    assert_int_equal(q->ops->train(q, full, err, sizeof err), CN_OK);
    assert_int_equal(q->ops->encode(q, full, &enc, err, sizeof err), CN_OK);
    assert_ptr_not_equal(enc, full);
    cn_quantizer_destroy(q);

    /* kANNolo's recipe: graph on the originals, searched through the codes. */
    cn_param_t bp_items[3] = {{.key = "M", .type = CN_PARAM_INT, .i = 12},
                              {.key = "ef_construction", .type = CN_PARAM_INT, .i = 80},
                              {.key = "seed", .type = CN_PARAM_INT, .i = 3}};
    cn_params_t bp = {bp_items, 3};
    cn_index_t *ix = NULL;
    assert_int_equal(cn_index_create(&ix, "hnsw", CN_METRIC_L2, d, &bp, err, sizeof err), CN_OK);
    if (cn_index_build(ix, full, enc, full, 1, err, sizeof err) != CN_OK) fail_msg("%s", err);
    cn_store_release(enc);
    double r0 = recall(ix, base, n, d, queries, nq, k, 64, 0, NULL);
    uint32_t *before = malloc((size_t)nq * k * sizeof *before);
    double r1 = recall(ix, base, n, d, queries, nq, k, 64, 40, before);
    if (r0 < 0.85) fail_msg("recall through bf16 codes %.3f < 0.85", r0);
    if (r1 < 0.95) fail_msg("recall with rerank=40 %.3f < 0.95", r1);
    if (r1 + 1e-9 < r0) fail_msg("re-ranking lowered recall: %.3f -> %.3f", r0, r1);
    /* The index holds the codes (2 bytes/dim) and the full store for re-ranking. */
    size_t want = ix->ops->bytes(ix) + bf_bytes(ix->store) + full->ops->bytes(full);
    assert_int_equal(cn_index_bytes(ix), want);
    assert_string_equal(ix->store->ops->name, "bf16_dropin");

    /* Saved and loaded through the registry (the loader comes from the entry). */
    char path[512];
    snprintf(path, sizeof path, "%s/dropin.cnidx", cn_test_tmpdir());
    if (cn_index_save(ix, path, err, sizeof err) != CN_OK) fail_msg("%s", err);
    cn_index_t *ix2 = NULL;
    if (cn_index_load(&ix2, path, err, sizeof err) != CN_OK) fail_msg("%s", err);
    assert_string_equal(ix2->store->ops->name, "bf16_dropin");
    assert_non_null(ix2->rerank_store);
    assert_true(cn_store_is_dense_f32(ix2->rerank_store));
    uint32_t *after = malloc((size_t)nq * k * sizeof *after);
    double r2 = recall(ix2, base, n, d, queries, nq, k, 64, 40, after);
    assert_true(fabs(r2 - r1) < 1e-12);
    assert_memory_equal(before, after, (size_t)nq * k * sizeof *before);

    free(before);
    free(after);
    cn_index_destroy(ix2);
    cn_index_destroy(ix);
    cn_store_release(full);
    free(base);
    free(queries);
}

/* The library's conformance suite, unchanged: every dimension 1..67, every
 * metric, n = 1 and 300, save/load, batch/range/pairs consistency. */
static void test_conformance(void **state) {
    (void)state;
    cn_conformance_assert("bf16_dropin");
}

/* build_on quantized: the graph itself is built with the codes' distances. */
static void test_build_on_quantized(void **state) {
    (void)state;
    char err[ERRLEN];
    const uint32_t n = under_valgrind() ? 1000 : 4000, d = 16, nq = 40;
    float *base = cn_test_random_matrix(n, d, 21);
    float *queries = cn_test_random_matrix(nq, d, 22);
    cn_store_t *full = NULL, *enc = NULL;
    assert_int_equal(cn_store_dense_create(&full, base, n, d, CN_METRIC_L2, err, sizeof err),
                     CN_OK);
    cn_quantizer_t *q = NULL;
    assert_int_equal(cn_quantizer_create(&q, "bf16_dropin", CN_METRIC_L2, d, NULL, err,
                                         sizeof err),
                     CN_OK);
    assert_int_equal(q->ops->encode(q, full, &enc, err, sizeof err), CN_OK);
    cn_quantizer_destroy(q);
    cn_index_t *ix = NULL;
    assert_int_equal(cn_index_create(&ix, "hnsw", CN_METRIC_L2, d, NULL, err, sizeof err), CN_OK);
    if (cn_index_build(ix, enc, enc, NULL, 1, err, sizeof err) != CN_OK) fail_msg("%s", err);
    double r = recall(ix, base, n, d, queries, nq, 10, 80, 0, NULL);
    if (r < 0.85) fail_msg("recall of a graph built on bf16 codes %.3f < 0.85", r);
    /* no rerank store: rerank is refused */
    cn_search_ctx_t *ctx = NULL;
    assert_int_equal(cn_search_ctx_create(ix, &ctx, err, sizeof err), CN_OK);
    cn_param_t it = {.key = "rerank", .type = CN_PARAM_INT, .i = 5};
    cn_params_t sp = {&it, 1};
    assert_int_equal(cn_search_ctx_set_params(ctx, &sp, err, sizeof err), CN_EINVAL);
    assert_non_null(strstr(err, "rerank"));
    cn_search_ctx_destroy(ctx);
    cn_index_destroy(ix);
    cn_store_release(enc);
    cn_store_release(full);
    free(base);
    free(queries);
}

/* cn_index_rebind: a graph built on the originals, rebound to the codes, is
 * the same index as one built with the codes as its search store (same seed,
 * one thread); mismatched stores are refused. */
static void test_rebind(void **state) {
    (void)state;
    char err[ERRLEN];
    const uint32_t n = under_valgrind() ? 800 : 3000, d = 20, nq = 30;
    float *base = cn_test_random_matrix(n, d, 31);
    float *queries = cn_test_random_matrix(nq, d, 32);
    cn_store_t *full = NULL, *enc = NULL, *other = NULL;
    assert_int_equal(cn_store_dense_create(&full, base, n, d, CN_METRIC_L2, err, sizeof err),
                     CN_OK);
    assert_int_equal(cn_store_dense_create(&other, base, n / 2, d, CN_METRIC_L2, err, sizeof err),
                     CN_OK);
    cn_quantizer_t *q = NULL;
    assert_int_equal(cn_quantizer_create(&q, "bf16_dropin", CN_METRIC_L2, d, NULL, err,
                                         sizeof err),
                     CN_OK);
    assert_int_equal(q->ops->encode(q, full, &enc, err, sizeof err), CN_OK);
    cn_quantizer_destroy(q);
    cn_index_t *direct = NULL, *rebound = NULL;
    assert_int_equal(cn_index_create(&direct, "hnsw", CN_METRIC_L2, d, NULL, err, sizeof err),
                     CN_OK);
    assert_int_equal(cn_index_build(direct, full, enc, full, 1, err, sizeof err), CN_OK);
    assert_int_equal(cn_index_create(&rebound, "hnsw", CN_METRIC_L2, d, NULL, err, sizeof err),
                     CN_OK);
    assert_int_equal(cn_index_build(rebound, full, full, NULL, 1, err, sizeof err), CN_OK);
    assert_int_equal(cn_index_rebind(rebound, other, NULL, err, sizeof err), CN_EINVAL);
    assert_ptr_equal(rebound->store, full); /* a refused rebind changes nothing */
    assert_int_equal(cn_index_rebind(rebound, enc, full, err, sizeof err), CN_OK);
    assert_ptr_equal(rebound->store, enc);
    assert_ptr_equal(rebound->rerank_store, full);
    uint32_t *a = malloc((size_t)nq * 10 * sizeof *a), *b = malloc((size_t)nq * 10 * sizeof *b);
    double ra = recall(direct, base, n, d, queries, nq, 10, 40, 0, a);
    double rb = recall(rebound, base, n, d, queries, nq, 10, 40, 0, b);
    assert_true(fabs(ra - rb) < 1e-12);
    assert_memory_equal(a, b, (size_t)nq * 10 * sizeof *a);
    recall(direct, base, n, d, queries, nq, 10, 40, 25, a);
    recall(rebound, base, n, d, queries, nq, 10, 40, 25, b);
    assert_memory_equal(a, b, (size_t)nq * 10 * sizeof *a);
    free(a);
    free(b);
    cn_index_destroy(direct);
    cn_index_destroy(rebound);
    cn_store_release(enc);
    cn_store_release(other);
    cn_store_release(full);
    free(base);
    free(queries);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hnsw_through_dropin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build_on_quantized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebind, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conformance, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
