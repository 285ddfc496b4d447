/*
 * test_hnsw.c — the HNSW index (algorithms/index/hnsw*.c) through the
 * generic index API over a dense store.
 *
 * Recall is checked against exact brute force (cn_test_brute_knn) with a
 * threshold, never exact ids; the graph invariants with cn_hnsw_validate;
 * reproducibility by comparing saved files byte for byte; persistence by
 * comparing search results after a round trip; robustness with crafted
 * payloads (checksum recomputed so only the hnsw parser can catch them),
 * degenerate inputs (n = 1, k > n, all-identical vectors) and allocation
 * failures (a search that runs out of memory must say so in
 * stats.ndropped). The connectivity repair pass is tested on graphs damaged
 * by hand through its hook (cn_hnsw_repair): orphans are reconnected, a
 * repair that cannot finish fails with the one-line message, and a crafted
 * graph whose every list is full is repaired without orphaning anyone.
 * layout=colocated runs over every registered quantizer with packed code
 * blocks. Every test runs under the counting allocator and must free
 * everything it allocated.
 */
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
#include "testutil.h"

#define ERRLEN 256

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

/* ---- helpers ------------------------------------------------------------- */

static cn_index_t *build(const float *data, uint32_t n, uint32_t d, cn_metric_t metric, int M,
                         int efc, int seed, int threads) {
    char err[ERRLEN] = "";
    cn_store_t *s = NULL;
    cn_index_t *ix = NULL;
    cn_param_t items[3] = {{.key = "M", .type = CN_PARAM_INT, .i = M, .f = M},
                           {.key = "ef_construction", .type = CN_PARAM_INT, .i = efc, .f = efc},
                           {.key = "seed", .type = CN_PARAM_INT, .i = seed, .f = seed}};
    cn_params_t bp = {items, 3};
    cn_status_t st = cn_store_dense_create(&s, data, n, d, metric, err, sizeof err);
    if (st != CN_OK) fail_msg("store: %s", err);
    st = cn_index_create(&ix, "hnsw", metric, d, &bp, err, sizeof err);
    if (st != CN_OK) fail_msg("create: %s", err);
    st = cn_index_build(ix, s, s, NULL, threads, err, sizeof err);
    if (st != CN_OK) fail_msg("build: %s", err);
    cn_store_release(s);
    return ix;
}

static cn_search_ctx_t *ctx_ef(const cn_index_t *ix, int ef) {
    char err[ERRLEN] = "";
    cn_search_ctx_t *ctx = NULL;
    cn_param_t it = {.key = "ef", .type = CN_PARAM_INT, .i = ef, .f = ef};
    cn_params_t sp = {&it, 1};
    if (cn_search_ctx_create(ix, &ctx, err, sizeof err) != CN_OK) fail_msg("ctx: %s", err);
    if (cn_search_ctx_set_params(ctx, &sp, err, sizeof err) != CN_OK)
        fail_msg("params: %s", err);
    return ctx;
}

/* A context at the default ef (10), not given explicitly: k may exceed it
 * (an explicit ef bounds k, see cn_index_check_search). */
static cn_search_ctx_t *ctx_default(const cn_index_t *ix) {
    char err[ERRLEN] = "";
    cn_search_ctx_t *ctx = NULL;
    cn_params_t none = {NULL, 0};
    if (cn_search_ctx_create(ix, &ctx, err, sizeof err) != CN_OK) fail_msg("ctx: %s", err);
    if (cn_search_ctx_set_params(ctx, &none, err, sizeof err) != CN_OK)
        fail_msg("params: %s", err);
    return ctx;
}

static void assert_valid(const cn_index_t *ix) {
    char err[ERRLEN] = "";
    cn_status_t st = cn_hnsw_validate(ix, err, sizeof err);
    if (st != CN_OK) fail_msg("validate: %s", err);
}

/* Mean recall@k over nq queries at a given ef; also returns mean ndist. */
static double recall_at(const cn_index_t *ix, const float *base, uint32_t n, uint32_t d,
                        const float *queries, uint32_t nq, int metric, size_t k, int ef,
                        double *mean_ndist) {
    char err[ERRLEN] = "";
    cn_search_ctx_t *ctx = ctx_ef(ix, ef);
    uint32_t *truth = malloc(k * sizeof *truth), *ids = malloc(k * sizeof *ids);
    float *dists = malloc(k * sizeof *dists);
    size_t hit = 0;
    double nd = 0;
    for (uint32_t q = 0; q < nq; q++) {
        cn_vec_t v = {.dense = queries + (size_t)q * d};
        size_t found = 0;
        if (cn_index_search(ctx, &v, k, ids, dists, &found, err, sizeof err) != CN_OK)
            fail_msg("search: %s", err);
        assert_int_equal(found, k < n ? k : n);
        nd += (double)ctx->stats.ndist;
        cn_test_brute_knn(base, n, d, queries + (size_t)q * d, metric, k, truth);
        for (size_t i = 0; i < k; i++)
            for (size_t j = 0; j < k; j++)
                if (ids[i] == truth[j]) hit++;
    }
    if (mean_ndist) *mean_ndist = nd / nq;
    free(truth);
    free(ids);
    free(dists);
    cn_search_ctx_destroy(ctx);
    return (double)hit / ((double)nq * (double)k);
}

/* Clustered data: 40 centres in [-1,1]^d (from centre_seed), points = a
 * random centre + 0.1 noise (from point_seed); queries use the same centres. */
static float *clustered(uint32_t n, uint32_t d, uint64_t centre_seed, uint64_t point_seed) {
    float *c = cn_test_random_matrix(40, d, centre_seed);
    float *x = malloc((size_t)n * d * sizeof *x);
    uint64_t st = point_seed;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = (uint32_t)(cn_test_rand(&st) % 40);
        for (uint32_t j = 0; j < d; j++)
            x[(size_t)i * d + j] = c[(size_t)k * d + j] + 0.1f * cn_test_randf(&st);
    }
    free(c);
    return x;
}

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)sz);
    assert_int_equal(fread(b, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *len = (size_t)sz;
    return b;
}

static void write_file(const char *path, const unsigned char *b, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
}

/* ---- recall and structure -------------------------------------------------- */

static void check_recall(const float *base, uint32_t n, const float *queries, cn_metric_t metric,
                         double min_recall) {
    const uint32_t d = 32, nq = 100;
    cn_index_t *ix = build(base, n, d, metric, 16, 100, 42, 1);
    assert_valid(ix);
    double nd10 = 0, nd100 = 0;
    double r10 = recall_at(ix, base, n, d, queries, nq, (int)metric, 10, 10, &nd10);
    double r100 = recall_at(ix, base, n, d, queries, nq, (int)metric, 10, 100, &nd100);
    double r200 = recall_at(ix, base, n, d, queries, nq, (int)metric, 10, 200, NULL);
    print_message("  %s n=%u: recall@10 ef=10 %.3f ef=100 %.3f ef=200 %.3f; ndist %.0f / %.0f\n",
                  cn_metric_name(metric), n, r10, r100, r200, nd10, nd100);
    assert_true(r100 >= min_recall);
    assert_true(r200 >= r10);
    assert_true(r200 + 0.01 >= r100);
    assert_true(nd100 > 0 && nd100 < n); /* sublinear work, not a scan */
    assert_true(nd10 < nd100);
    cn_index_destroy(ix);
}

/* layout=colocated over every registered quantizer whose store has packed
 * code blocks (pq4fs, rabitq -- which prunes on score_lb -- and whatever comes
 * later; schema defaults), with the full-precision store for expansions:
 * a valid graph and recall@10 >= 0.9 at ef 100 on random data, l2 / ip /
 * cosine. */
static void test_colocated_block_stores(void **state) {
    (void)state;
    const uint32_t n = 2000, d = 32, nq = 30;
    char err[ERRLEN] = "";
    size_t tested = 0;
    for (size_t ci = 0; ci < cn_registry_count(); ci++) {
        const cn_component_t *c = cn_registry_at(ci);
        if (c->kind != CN_COMPONENT_QUANTIZER) continue;
        for (int mi = 0; mi < 3; mi++) {
            cn_metric_t m = (cn_metric_t)mi;
            float *base = cn_test_random_matrix(n, d, 41 + (uint64_t)mi);
            float *queries = cn_test_random_matrix(nq, d, 51 + (uint64_t)mi);
            cn_store_t *full = NULL, *s = NULL;
            if (cn_store_dense_create(&full, base, n, d, m, err, sizeof err) != CN_OK)
                fail_msg("store: %s", err);
            cn_quantizer_t *q = NULL;
            if (cn_quantizer_create(&q, c->name, m, d, NULL, err, sizeof err) == CN_OK &&
                q->ops->train(q, full, err, sizeof err) == CN_OK)
                q->ops->encode(q, full, &s, err, sizeof err);
            cn_quantizer_destroy(q);
            if (s && s->ops->blocks) {
                tested++;
                cn_param_t items[3] = {
                    {.key = "M", .type = CN_PARAM_INT, .i = 16, .f = 16},
                    {.key = "ef_construction", .type = CN_PARAM_INT, .i = 100, .f = 100},
                    {.key = "layout", .type = CN_PARAM_STRING, .s = "colocated"}};
                cn_params_t bp = {items, 3};
                cn_index_t *ix = NULL;
                if (cn_index_create(&ix, "hnsw", m, d, &bp, err, sizeof err) != CN_OK)
                    fail_msg("create: %s", err);
                if (cn_index_build(ix, full, s, full, 2, err, sizeof err) != CN_OK)
                    fail_msg("%s: build: %s", c->name, err);
                assert_valid(ix);
                double r = recall_at(ix, base, n, d, queries, nq, mi, 10, 100, NULL);
                print_message("colocated over %s (%s): recall@10 %.3f at ef 100\n", c->name,
                              cn_metric_name(m), r);
                if (!(r >= 0.9))
                    fail_msg("colocated over %s (%s): recall %.3f < 0.9", c->name,
                             cn_metric_name(m), r);
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

static void test_recall_l2_random(void **state) {
    (void)state;
    float *base = cn_test_random_matrix(5000, 32, 1);
    float *queries = cn_test_random_matrix(100, 32, 777);
    check_recall(base, 5000, queries, CN_METRIC_L2, 0.95);
    free(base);
    free(queries);
}

static void test_recall_ip_random(void **state) {
    (void)state;
    float *base = cn_test_random_matrix(5000, 32, 2);
    float *queries = cn_test_random_matrix(100, 32, 777);
    check_recall(base, 5000, queries, CN_METRIC_IP, 0.95);
    free(base);
    free(queries);
}

static void test_recall_cosine_random(void **state) {
    (void)state;
    float *base = cn_test_random_matrix(5000, 32, 3);
    float *queries = cn_test_random_matrix(100, 32, 777);
    check_recall(base, 5000, queries, CN_METRIC_COSINE, 0.95);
    free(base);
    free(queries);
}

static void test_recall_clustered(void **state) {
    (void)state;
    float *base = clustered(5000, 32, 4, 40);
    float *queries = clustered(100, 32, 4, 41);
    check_recall(base, 5000, queries, CN_METRIC_L2, 0.95);
    check_recall(base, 5000, queries, CN_METRIC_COSINE, 0.95);
    free(base);
    free(queries);
}

/* Level draws follow mL = 1/ln(M): about n/M nodes above level 0. */
static void test_levels_and_accessors(void **state) {
    (void)state;
    const uint32_t n = 3000, d = 8;
    float *base = cn_test_random_matrix(n, d, 5);
    cn_index_t *ix = build(base, n, d, CN_METRIC_L2, 8, 40, 42, 1);
    assert_true(cn_hnsw_is(ix));
    uint32_t above = 0;
    for (uint32_t i = 0; i < n; i++) {
        int l = cn_hnsw_node_level(ix, i);
        assert_true(l >= 0 && l <= cn_hnsw_max_level(ix));
        if (l > 0) above++;
        assert_true(cn_hnsw_degree(ix, i, 0) <= 16);
        assert_true(cn_hnsw_degree(ix, i, 0) >= 1);
        for (int lc = 1; lc <= l; lc++) assert_true(cn_hnsw_degree(ix, i, lc) <= 8);
        assert_int_equal(cn_hnsw_degree(ix, i, l + 1), 0);
    }
    /* expected n/8 = 375; binomial sd ~ 18 */
    assert_true(above > 300 && above < 450);
    assert_true(cn_hnsw_max_level(ix) >= 2);
    assert_int_equal(cn_hnsw_node_level(ix, cn_hnsw_entry_point(ix)), cn_hnsw_max_level(ix));
    size_t bytes = ix->ops->bytes(ix);
    assert_true(bytes >= (size_t)n * (1 + 16) * 4);
    assert_true(cn_index_bytes(ix) >= bytes);
    cn_index_destroy(ix);
    free(base);
}

/* ---- determinism and threads ----------------------------------------------- */

static void test_deterministic_and_parallel(void **state) {
    (void)state;
    const uint32_t n = 2000, d = 16, nq = 50;
    char err[ERRLEN] = "", p1[1024], p2[1024], p3[1024];
    float *base = cn_test_random_matrix(n, d, 6);
    float *queries = cn_test_random_matrix(nq, d, 66);
    snprintf(p1, sizeof p1, "%s/det1.cnidx", cn_test_tmpdir());
    snprintf(p2, sizeof p2, "%s/det2.cnidx", cn_test_tmpdir());
    snprintf(p3, sizeof p3, "%s/det3.cnidx", cn_test_tmpdir());

    cn_index_t *a = build(base, n, d, CN_METRIC_L2, 12, 60, 7, 1);
    cn_index_t *b = build(base, n, d, CN_METRIC_L2, 12, 60, 7, 1);
    cn_index_t *c = build(base, n, d, CN_METRIC_L2, 12, 60, 8, 1);
    assert_int_equal(cn_index_save(a, p1, err, sizeof err), CN_OK);
    assert_int_equal(cn_index_save(b, p2, err, sizeof err), CN_OK);
    assert_int_equal(cn_index_save(c, p3, err, sizeof err), CN_OK);
    size_t l1, l2, l3;
    unsigned char *f1 = read_file(p1, &l1), *f2 = read_file(p2, &l2), *f3 = read_file(p3, &l3);
    assert_int_equal(l1, l2);
    assert_memory_equal(f1, f2, l1);
    assert_true(l1 != l3 || memcmp(f1, f3, l1) != 0); /* another seed, another graph */
    free(f1);
    free(f2);
    free(f3);
    cn_index_destroy(a);
    cn_index_destroy(b);
    cn_index_destroy(c);

    cn_index_t *par = build(base, n, d, CN_METRIC_L2, 12, 60, 7, 2);
    assert_valid(par);
    double r = recall_at(par, base, n, d, queries, nq, 0, 10, 100, NULL);
    print_message("  2 threads: recall@10 ef=100 %.3f\n", r);
    assert_true(r >= 0.95);
    cn_index_destroy(par);
    free(base);
    free(queries);
}

/* ---- persistence ----------------------------------------------------------- */

static void test_save_load_roundtrip(void **state) {
    (void)state;
    const uint32_t n = 1500, d = 16, nq = 40, k = 10;
    char err[ERRLEN] = "", path[1024];
    float *base = cn_test_random_matrix(n, d, 9);
    float *queries = cn_test_random_matrix(nq, d, 99);
    snprintf(path, sizeof path, "%s/rt.cnidx", cn_test_tmpdir());
    cn_index_t *a = build(base, n, d, CN_METRIC_IP, 10, 50, 3, 1);
    assert_int_equal(cn_index_save(a, path, err, sizeof err), CN_OK);
    cn_index_t *b = NULL;
    if (cn_index_load(&b, path, err, sizeof err) != CN_OK) fail_msg("load: %s", err);
    assert_true(cn_hnsw_is(b));
    assert_valid(b);
    assert_int_equal(b->n, n);
    assert_int_equal(cn_hnsw_entry_point(a), cn_hnsw_entry_point(b));
    assert_int_equal(cn_hnsw_max_level(a), cn_hnsw_max_level(b));
    assert_int_equal(a->ops->bytes(a), b->ops->bytes(b));
    cn_search_ctx_t *ca = ctx_ef(a, 40), *cb = ctx_ef(b, 40);
    uint32_t ia[10], ib[10];
    float da[10], db[10];
    for (uint32_t q = 0; q < nq; q++) {
        cn_vec_t v = {.dense = queries + (size_t)q * d};
        size_t fa = 0, fb = 0;
        assert_int_equal(cn_index_search(ca, &v, k, ia, da, &fa, err, sizeof err), CN_OK);
        assert_int_equal(cn_index_search(cb, &v, k, ib, db, &fb, err, sizeof err), CN_OK);
        assert_int_equal(fa, fb);
        assert_memory_equal(ia, ib, sizeof ia);
        assert_memory_equal(da, db, sizeof da);
        assert_int_equal(ca->stats.ndist, cb->stats.ndist);
    }
    /* saving the loaded index reproduces the file */
    char path2[1024];
    snprintf(path2, sizeof path2, "%s/rt2.cnidx", cn_test_tmpdir());
    assert_int_equal(cn_index_save(b, path2, err, sizeof err), CN_OK);
    size_t l1, l2;
    unsigned char *f1 = read_file(path, &l1), *f2 = read_file(path2, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(f1, f2, l1);
    free(f1);
    free(f2);
    cn_search_ctx_destroy(ca);
    cn_search_ctx_destroy(cb);
    cn_index_destroy(a);
    cn_index_destroy(b);
    free(base);
    free(queries);
}

/* Offset of the hnsw payload (its magic) in a saved file. */
static size_t find_payload(const unsigned char *b, size_t len) {
    static const unsigned char magic[8] = {'c', 'n', 'H', 'N', 'S', 'W', '0', '1'};
    for (size_t i = 0; i + 8 <= len; i++)
        if (memcmp(b + i, magic, 8) == 0) return i;
    fail_msg("hnsw magic not found in saved file");
    return 0;
}

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Rewrites the trailing checksum so only the hnsw parser can object. */
static void fix_checksum(unsigned char *b, size_t len) {
    uint64_t h = cn_checksum(CN_CHECKSUM_INIT, b, len - 8);
    for (int i = 0; i < 8; i++) b[len - 8 + i] = (unsigned char)(h >> (8 * i));
}

static void expect_load_error(const char *path, const unsigned char *b, size_t len,
                              const char *substr) {
    char err[ERRLEN] = "";
    write_file(path, b, len);
    cn_index_t *ix = NULL;
    cn_status_t st = cn_index_load(&ix, path, err, sizeof err);
    if (st != CN_EFORMAT || !strstr(err, substr))
        fail_msg("expected CN_EFORMAT with '%s', got %d: %s", substr, (int)st, err);
    assert_null(ix);
}

static void test_corrupt_payload(void **state) {
    (void)state;
    const uint32_t n = 300, d = 8;
    const uint32_t M = 6, M0 = 12;
    char err[ERRLEN] = "", path[1024], bad[1024];
    float *base = cn_test_random_matrix(n, d, 10);
    snprintf(path, sizeof path, "%s/c.cnidx", cn_test_tmpdir());
    snprintf(bad, sizeof bad, "%s/bad.cnidx", cn_test_tmpdir());
    cn_index_t *ix = build(base, n, d, CN_METRIC_L2, (int)M, 30, 1, 1);
    assert_true(cn_hnsw_degree(ix, 5, 0) >= 1);
    assert_int_equal(cn_index_save(ix, path, err, sizeof err), CN_OK);
    size_t len;
    unsigned char *orig = read_file(path, &len);
    unsigned char *b = malloc(len);
    size_t p = find_payload(orig, len);
    /* payload: magic 8 | M 4 | efc 4 | seed 8 | n 4 | entry 4 | maxl 4 | levels n | rows */
    size_t row5 = p + 36 + n + (size_t)5 * (1 + M0) * 4;

    memcpy(b, orig, len); /* neighbour id >= n */
    put_u32(b + row5 + 4, n + 5);
    fix_checksum(b, len);
    expect_load_error(bad, b, len, "neighbour id");

    memcpy(b, orig, len); /* count above capacity */
    put_u32(b + row5, M0 + 1);
    fix_checksum(b, len);
    expect_load_error(bad, b, len, "capacity");

    memcpy(b, orig, len); /* entry point out of range */
    put_u32(b + p + 28, n);
    fix_checksum(b, len);
    expect_load_error(bad, b, len, "entry point");

    memcpy(b, orig, len); /* M out of range */
    put_u32(b + p + 8, 1);
    fix_checksum(b, len);
    expect_load_error(bad, b, len, "M=1");

    /* a level-0 node linked from an upper list */
    int found_upper = 0;
    for (uint32_t i = 0; i < n && !found_upper; i++) {
        if (cn_hnsw_node_level(ix, i) == 0) continue;
        size_t up = p + 36 + n + (size_t)n * (1 + M0) * 4;
        for (uint32_t j = 0; j < i; j++) up += (size_t)cn_hnsw_node_level(ix, j) * (1 + M) * 4;
        uint32_t low = 0;
        while (cn_hnsw_node_level(ix, low) != 0) low++;
        memcpy(b, orig, len);
        put_u32(b + up, 1);
        put_u32(b + up + 4, low);
        fix_checksum(b, len);
        expect_load_error(bad, b, len, "above its level");
        found_upper = 1;
    }
    assert_true(found_upper);

    /* the untouched file still loads */
    cn_index_t *ok = NULL;
    assert_int_equal(cn_index_load(&ok, path, err, sizeof err), CN_OK);
    cn_index_destroy(ok);
    free(b);
    free(orig);
    cn_index_destroy(ix);
    free(base);
}

/* ---- degenerate inputs ------------------------------------------------------ */

static void test_k_greater_than_n(void **state) {
    (void)state;
    const uint32_t n = 20, d = 4;
    char err[ERRLEN] = "";
    float *base = cn_test_random_matrix(n, d, 11);
    cn_index_t *ix = build(base, n, d, CN_METRIC_L2, 4, 10, 1, 1);
    assert_valid(ix);
    cn_search_ctx_t *ctx = ctx_default(ix); /* ef' = max(ef, k) = 50 */
    uint32_t ids[50];
    float dists[50];
    size_t found = 0;
    cn_vec_t v = {.dense = base + 3 * d};
    assert_int_equal(cn_index_search(ctx, &v, 50, ids, dists, &found, err, sizeof err), CN_OK);
    assert_int_equal(found, n);
    assert_int_equal(ids[0], 3);
    uint8_t seen[20] = {0};
    for (size_t i = 0; i < n; i++) {
        assert_true(ids[i] < n);
        assert_false(seen[ids[i]]);
        seen[ids[i]] = 1;
        if (i) assert_true(dists[i - 1] <= dists[i]);
    }
    for (size_t i = n; i < 50; i++) assert_int_equal(ids[i], UINT32_MAX);
    cn_search_ctx_destroy(ctx);
    cn_index_destroy(ix);
    free(base);
}

static void test_single_vector(void **state) {
    (void)state;
    char err[ERRLEN] = "", path[1024];
    float one[3] = {1, 2, 3}, q[3] = {0, 0, 0};
    cn_index_t *ix = build(one, 1, 3, CN_METRIC_L2, 16, 200, 42, 2);
    assert_valid(ix);
    assert_int_equal(cn_hnsw_entry_point(ix), 0);
    cn_search_ctx_t *ctx = ctx_ef(ix, 10);
    uint32_t ids[5];
    float dists[5];
    size_t found = 0;
    cn_vec_t v = {.dense = q};
    assert_int_equal(cn_index_search(ctx, &v, 5, ids, dists, &found, err, sizeof err), CN_OK);
    assert_int_equal(found, 1);
    assert_int_equal(ids[0], 0);
    assert_float_equal(dists[0], sqrtf(14.0f), 1e-5);
    cn_search_ctx_destroy(ctx);
    snprintf(path, sizeof path, "%s/one.cnidx", cn_test_tmpdir());
    assert_int_equal(cn_index_save(ix, path, err, sizeof err), CN_OK);
    cn_index_t *b = NULL;
    if (cn_index_load(&b, path, err, sizeof err) != CN_OK) fail_msg("load: %s", err);
    assert_valid(b);
    cn_index_destroy(b);
    cn_index_destroy(ix);
}

static void test_all_identical(void **state) {
    (void)state;
    const uint32_t n = 400, d = 8;
    char err[ERRLEN] = "";
    float *base = malloc((size_t)n * d * sizeof *base);
    for (size_t i = 0; i < (size_t)n * d; i++) base[i] = 0.5f;
    for (int threads = 1; threads <= 2; threads++) {
        cn_index_t *ix = build(base, n, d, CN_METRIC_L2, 8, 32, 42, threads);
        assert_valid(ix);
        cn_search_ctx_t *ctx = ctx_ef(ix, 20);
        uint32_t ids[10];
        float dists[10];
        size_t found = 0;
        cn_vec_t v = {.dense = base};
        assert_int_equal(cn_index_search(ctx, &v, 10, ids, dists, &found, err, sizeof err),
                         CN_OK);
        assert_int_equal(found, 10);
        for (int i = 0; i < 10; i++) assert_float_equal(dists[i], 0, 1e-6);
        cn_search_ctx_destroy(ctx);
        cn_index_destroy(ix);
    }
    free(base);
}

/* Every allocation of create + build failing in turn: clean CN_ENOMEM, no leak. */
static void test_build_enomem(void **state) {
    (void)state;
    const uint32_t n = 60, d = 4;
    float *base = cn_test_random_matrix(n, d, 12);
    char err[ERRLEN] = "";
    int ok = 0;
    for (long fail = 0; fail < 400 && !ok; fail++) {
        cn_store_t *s = NULL;
        cn_index_t *ix = NULL;
        assert_int_equal(cn_store_dense_create(&s, base, n, d, CN_METRIC_L2, err, sizeof err),
                         CN_OK);
        cn_params_t none = {NULL, 0};
        assert_int_equal(cn_index_create(&ix, "hnsw", CN_METRIC_L2, d, &none, err, sizeof err),
                         CN_OK);
        cn_test_alloc_fail_after(fail);
        cn_status_t st = cn_index_build(ix, s, s, NULL, 2, err, sizeof err);
        cn_test_alloc_fail_after(-1);
        if (st == CN_OK) {
            ok = 1;
            assert_valid(ix);
        } else {
            assert_int_equal(st, CN_ENOMEM);
        }
        cn_index_destroy(ix);
        cn_store_release(s);
        assert_int_equal(cn_test_alloc_live(), 0);
    }
    assert_true(ok);
    free(base);
}

/* ---- allocation failure during search ------------------------------------- */

/* Every allocation of a search failing from the n-th on: the search returns
 * cleanly, and a result shortfall is never silent (stats.ndropped > 0). k is
 * above the (default) ef the context reserved for, so the result heap must
 * grow, and ef' = k = 400 makes the candidate heap grow past its reserve. */
static void test_search_enomem_counts_dropped(void **state) {
    (void)state;
    const uint32_t n = 1500, d = 8;
    const size_t k = 400;
    char err[ERRLEN] = "";
    float *base = cn_test_random_matrix(n, d, 21);
    cn_index_t *ix = build(base, n, d, CN_METRIC_L2, 8, 40, 42, 1);
    uint32_t *ids = malloc(k * sizeof *ids);
    float *dists = malloc(k * sizeof *dists);
    cn_vec_t v = {.dense = base + 7 * d};
    size_t found = 0;

    /* reference: enough memory, nothing dropped, k results */
    cn_search_ctx_t *ctx = ctx_default(ix);
    assert_int_equal(cn_index_search(ctx, &v, k, ids, dists, &found, err, sizeof err), CN_OK);
    assert_int_equal(found, k);
    assert_int_equal(ctx->stats.ndropped, 0);
    cn_search_ctx_destroy(ctx);

    int dropped_seen = 0;
    for (long fail = 0; fail < 8; fail++) {
        ctx = ctx_default(ix); /* fresh: the heaps must grow again */
        cn_test_alloc_fail_after(fail);
        cn_status_t st = cn_index_search(ctx, &v, k, ids, dists, &found, err, sizeof err);
        cn_test_alloc_fail_after(-1);
        if (st != CN_OK) {
            assert_int_equal(st, CN_ENOMEM); /* the generic layer may refuse, loudly */
        } else {
            assert_true(found >= 1 && found <= k);
            for (size_t i = 0; i < found; i++) {
                assert_true(ids[i] < n);
                if (i) assert_true(dists[i - 1] <= dists[i]);
            }
            if (found < k) assert_true(ctx->stats.ndropped > 0); /* never silent */
            if (ctx->stats.ndropped > 0) dropped_seen++;
        }
        /* the context keeps working once memory is back */
        assert_int_equal(cn_index_search(ctx, &v, 10, ids, dists, &found, err, sizeof err),
                         CN_OK);
        assert_int_equal(found, 10);
        assert_int_equal(ids[0], 7);
        cn_search_ctx_destroy(ctx);
    }
    assert_true(dropped_seen > 0);
    free(ids);
    free(dists);
    cn_index_destroy(ix);
    free(base);
}

/* ---- connectivity repair --------------------------------------------------- */

/* Removes every level-0 link into node x (lists compacted, tail zeroed). */
static void unlink_node(cn_index_t *ix, uint32_t x) {
    cn_hnsw_t *h = (cn_hnsw_t *)ix;
    for (uint32_t v = 0; v < ix->n; v++) {
        uint32_t *l = cn_hnsw_list(h, v, 0);
        uint32_t m = 0;
        for (uint32_t j = 1; j <= l[0]; j++)
            if (l[j] != x) l[1 + m++] = l[j];
        for (uint32_t j = m + 1; j <= l[0]; j++) l[j] = 0;
        l[0] = m;
    }
}

/* Sets node v's level-0 list to ids[0..c). */
static void set_list0(cn_index_t *ix, uint32_t v, const uint32_t *ids, uint32_t c) {
    cn_hnsw_t *h = (cn_hnsw_t *)ix;
    uint32_t *l = cn_hnsw_list(h, v, 0);
    memset(l, 0, ((size_t)h->M0 + 1) * sizeof *l);
    memcpy(l + 1, ids, c * sizeof *ids);
    l[0] = c;
}

/* Orphans made by hand: the repair pass reports them when it may not act
 * (max_rounds 0: the build's failure message, one line, exact count), then
 * links every one of them back. */
static void test_repair_reconnects_orphans(void **state) {
    (void)state;
    const uint32_t n = 600, d = 8;
    char err[ERRLEN] = "", want[ERRLEN];
    float *base = cn_test_random_matrix(n, d, 31);
    cn_store_t *s = NULL;
    assert_int_equal(cn_store_dense_create(&s, base, n, d, CN_METRIC_L2, err, sizeof err), CN_OK);
    cn_index_t *ix = build(base, n, d, CN_METRIC_L2, 4, 32, 42, 1);
    assert_valid(ix);
    uint32_t entry = cn_hnsw_entry_point(ix), norph = 0, left = 0;
    for (uint32_t x = 3; x < n; x += 10) {
        if (x == entry) continue;
        unlink_node(ix, x);
        norph++;
    }
    assert_int_equal(cn_hnsw_validate(ix, err, sizeof err), CN_EFORMAT);

    assert_int_equal(cn_hnsw_repair(ix, s, 0, &left, err, sizeof err), CN_EFORMAT);
    assert_true(left >= norph); /* their out-links may have been the only way to others */
    snprintf(want, sizeof want,
             "hnsw: graph repair left %u of %u nodes unreachable from the entry point", left, n);
    assert_string_equal(err, want);
    assert_null(strchr(err, '\n'));

    err[0] = 0;
    assert_int_equal(cn_hnsw_repair(ix, s, -1, &left, err, sizeof err), CN_OK);
    assert_int_equal(left, 0);
    assert_valid(ix);
    double r = recall_at(ix, base, n, d, base, 50, 0, 10, 64, NULL);
    assert_true(r >= 0.9);
    cn_store_release(s);
    cn_index_destroy(ix);
    free(base);
}

/* Seven nodes, M = 2 (level-0 capacity 4), every reachable list full and one
 * orphan u. Roles: e = entry, a b c, v, w, u. Lists: e a b c link the other
 * four of {e a b c v}; v = [a b c w] (v is w's only in-link); w = [e a b c];
 * u = [e a b c]. u and w lie next to v, far from the rest, so v is u's
 * nearest reachable node and its farthest slot holds w. Giving that slot to u
 * would orphan w, whose nearest reachable node is v again: the two would
 * swap places forever (what the 8-round pass did, before returning success
 * with a node unreachable). The pass must take a slot whose node has another
 * in-link instead. */
static void test_repair_full_lists(void **state) {
    (void)state;
    const uint32_t n = 7, d = 2;
    char err[ERRLEN] = "";
    float tmp[14] = {0};
    for (int i = 0; i < 14; i++) tmp[i] = (float)i;
    cn_index_t *ix = build(tmp, n, d, CN_METRIC_L2, 2, 10, 42, 1); /* levels, upper lists */
    uint32_t e = cn_hnsw_entry_point(ix), r[6], m = 0;
    for (uint32_t i = 0; i < n; i++)
        if (i != e) r[m++] = i;
    const uint32_t a = r[0], b = r[1], c = r[2], v = r[3], w = r[4], u = r[5];
    float pos[7][2];
    const float far[4][2] = {{10, 0}, {0, 10}, {-10, 0}, {0, -10}};
    const uint32_t ring[4] = {e, a, b, c};
    for (int i = 0; i < 4; i++) memcpy(pos[ring[i]], far[i], sizeof far[i]);
    pos[v][0] = 0, pos[v][1] = 0;
    pos[u][0] = 0.1f, pos[u][1] = 0;
    pos[w][0] = -0.1f, pos[w][1] = 0;
    for (int i = 0; i < 4; i++) {
        uint32_t l[4], k = 0;
        for (int j = 0; j < 4; j++)
            if (j != i) l[k++] = ring[j];
        l[k++] = v;
        set_list0(ix, ring[i], l, 4);
    }
    set_list0(ix, v, (const uint32_t[]){a, b, c, w}, 4);
    set_list0(ix, w, (const uint32_t[]){e, a, b, c}, 4);
    set_list0(ix, u, (const uint32_t[]){e, a, b, c}, 4);
    assert_int_equal(cn_hnsw_validate(ix, err, sizeof err), CN_EFORMAT); /* u unreachable */

    cn_store_t *s = NULL;
    assert_int_equal(cn_store_dense_create(&s, &pos[0][0], n, d, CN_METRIC_L2, err, sizeof err),
                     CN_OK);
    uint32_t left = 99;
    if (cn_hnsw_repair(ix, s, -1, &left, err, sizeof err) != CN_OK) fail_msg("repair: %s", err);
    assert_int_equal(left, 0);
    assert_valid(ix);
    for (uint32_t i = 0; i < n; i++) assert_int_equal(cn_hnsw_degree(ix, i, 0), 4);
    cn_store_release(s);
    cn_index_destroy(ix);
}

/* ---- the real fixture -------------------------------------------------------- */

/* bvecs: per vector an int32 dim then dim bytes. Returns n x dim floats. */
static float *read_bvecs(const char *path, uint32_t *n, uint32_t *dim) {
    size_t len;
    unsigned char *b = read_file(path, &len);
    int32_t d;
    memcpy(&d, b, 4);
    assert_true(d > 0);
    size_t rec = 4 + (size_t)d;
    assert_int_equal(len % rec, 0);
    *n = (uint32_t)(len / rec);
    *dim = (uint32_t)d;
    float *x = malloc(len / rec * (size_t)d * sizeof *x);
    for (size_t i = 0; i < *n; i++)
        for (size_t j = 0; j < (size_t)d; j++) x[i * d + j] = (float)b[i * rec + 4 + j];
    free(b);
    return x;
}

static int32_t *read_ivecs(const char *path, uint32_t *n, uint32_t *dim) {
    size_t len;
    unsigned char *b = read_file(path, &len);
    int32_t d;
    memcpy(&d, b, 4);
    size_t rec = 4 + 4 * (size_t)d;
    *n = (uint32_t)(len / rec);
    *dim = (uint32_t)d;
    int32_t *x = malloc((size_t)*n * d * sizeof *x);
    for (size_t i = 0; i < *n; i++) memcpy(x + i * d, b + i * rec + 4, 4 * (size_t)d);
    free(b);
    return x;
}

static void test_sift_fixture(void **state) {
    (void)state;
    char pb[4096], pq[4096], pg[4096];
    const char *f = cn_test_fixture("sift-debian-10k_base.bvecs");
    if (!f) {
        print_message("  sift-debian-10k fixture not found: skipped\n");
        skip();
    }
    snprintf(pb, sizeof pb, "%s", f);
    snprintf(pq, sizeof pq, "%s", cn_test_fixture("sift-debian-10k_query.bvecs"));
    snprintf(pg, sizeof pg, "%s", cn_test_fixture("sift-debian-10k_groundtruth.ivecs"));
    uint32_t n, d, nq, dq, ng, kg;
    float *base = read_bvecs(pb, &n, &d);
    float *queries = read_bvecs(pq, &nq, &dq);
    int32_t *gt = read_ivecs(pg, &ng, &kg);
    assert_int_equal(d, dq);
    assert_int_equal(nq, ng);
    assert_true(kg >= 10);
    cn_index_t *ix = build(base, n, d, CN_METRIC_L2, 16, 100, 42, 2);
    assert_valid(ix);
    cn_search_ctx_t *ctx = ctx_ef(ix, 64);
    char err[ERRLEN] = "";
    uint32_t ids[10];
    float dists[10];
    size_t hit = 0;
    for (uint32_t q = 0; q < nq; q++) {
        cn_vec_t v = {.dense = queries + (size_t)q * d};
        size_t found = 0;
        assert_int_equal(cn_index_search(ctx, &v, 10, ids, dists, &found, err, sizeof err),
                         CN_OK);
        for (int i = 0; i < 10; i++)
            for (int j = 0; j < 10; j++)
                if (ids[i] == (uint32_t)gt[(size_t)q * kg + j]) hit++;
    }
    double r = (double)hit / (10.0 * nq);
    print_message("  sift-debian-10k (n=%u, d=%u): recall@10 ef=64 %.3f\n", n, d, r);
    assert_true(r >= 0.95);
    cn_search_ctx_destroy(ctx);
    cn_index_destroy(ix);
    free(base);
    free(queries);
    free(gt);
}

/* Early termination (search parameter patience): off (0) is the plain
 * search; a patience larger than any search is the same results bit for bit
 * (it can only stop earlier); patience 50 at ef 200 on the SIFT fixture
 * (clustered data when absent) scores fewer vectors and loses at most 0.01
 * recall@10 against ef 200 without it. */
static double run_patience(const cn_index_t *ix, const float *base, uint32_t n, uint32_t d,
                           const float *queries, uint32_t nq, int ef, int patience,
                           uint32_t *ids, float *dists, double *ndist) {
    char err[ERRLEN] = "";
    cn_search_ctx_t *ctx = NULL;
    cn_param_t it[2] = {{.key = "ef", .type = CN_PARAM_INT, .i = ef, .f = ef},
                        {.key = "patience", .type = CN_PARAM_INT, .i = patience, .f = patience}};
    cn_params_t sp = {it, patience >= 0 ? 2 : 1}; /* patience < 0: not given */
    if (cn_search_ctx_create(ix, &ctx, err, sizeof err) != CN_OK) fail_msg("ctx: %s", err);
    if (cn_search_ctx_set_params(ctx, &sp, err, sizeof err) != CN_OK) fail_msg("%s", err);
    size_t hit = 0;
    double nd = 0;
    uint32_t truth[10];
    for (uint32_t q = 0; q < nq; q++) {
        cn_vec_t v = {.dense = queries + (size_t)q * d};
        if (cn_index_search(ctx, &v, 10, ids + q * 10, dists + q * 10, NULL, err, sizeof err) !=
            CN_OK)
            fail_msg("search: %s", err);
        nd += (double)ctx->stats.ndist;
        cn_test_brute_knn(base, n, d, queries + (size_t)q * d, 0, 10, truth);
        for (int i = 0; i < 10; i++)
            for (int j = 0; j < 10; j++) hit += ids[q * 10 + i] == truth[j];
    }
    cn_search_ctx_destroy(ctx);
    *ndist = nd / nq;
    return (double)hit / (10.0 * nq);
}

static void test_patience(void **state) {
    (void)state;
    uint32_t n, d, nq, dq;
    float *base = NULL, *queries = NULL;
    const char *f = cn_test_fixture("sift-debian-10k_base.bvecs");
    if (f) {
        char pb[4096];
        snprintf(pb, sizeof pb, "%s", f);
        base = read_bvecs(pb, &n, &d);
        snprintf(pb, sizeof pb, "%s", cn_test_fixture("sift-debian-10k_query.bvecs"));
        queries = read_bvecs(pb, &nq, &dq);
    } else {
        n = 5000;
        d = 32;
        nq = 100;
        base = clustered(n, d, 1, 2);
        queries = clustered(nq, d, 1, 3);
    }
    cn_index_t *ix = build(base, n, d, CN_METRIC_L2, 16, 100, 42, 2);
    uint32_t *i0 = malloc((size_t)nq * 10 * sizeof *i0), *i1 = malloc((size_t)nq * 10 * sizeof *i1);
    float *d0 = malloc((size_t)nq * 10 * sizeof *d0), *d1 = malloc((size_t)nq * 10 * sizeof *d1);
    double w0, w1, wp;
    double r0 = run_patience(ix, base, n, d, queries, nq, 200, -1, i0, d0, &w0);
    run_patience(ix, base, n, d, queries, nq, 200, 0, i1, d1, &w1);
    assert_memory_equal(i0, i1, (size_t)nq * 10 * sizeof *i0);
    assert_true(w0 == w1);
    run_patience(ix, base, n, d, queries, nq, 200, 1000000, i1, d1, &w1);
    assert_memory_equal(i0, i1, (size_t)nq * 10 * sizeof *i0);
    assert_memory_equal(d0, d1, (size_t)nq * 10 * sizeof *d0);
    double rp = run_patience(ix, base, n, d, queries, nq, 200, 50, i1, d1, &wp);
    print_message("  patience (n=%u d=%u ef=200): off recall@10 %.4f, %.0f distances/query; "
                  "patience 50: %.4f, %.0f\n",
                  n, d, r0, w0, rp, wp);
    assert_true(wp < w0);
    if (!(rp >= r0 - 0.01)) fail_msg("patience 50 recall %.4f < %.4f - 0.01", rp, r0);
    cn_index_destroy(ix);
    free(i0);
    free(i1);
    free(d0);
    free(d1);
    free(base);
    free(queries);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_recall_l2_random, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recall_ip_random, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recall_cosine_random, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recall_clustered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_levels_and_accessors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deterministic_and_parallel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_load_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_payload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_k_greater_than_n, setup, teardown),
        cmocka_unit_test_setup_teardown(test_single_vector, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_identical, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build_enomem, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_enomem_counts_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repair_reconnects_orphans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repair_full_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sift_fixture, setup, teardown),
        cmocka_unit_test_setup_teardown(test_patience, setup, teardown),
        cmocka_unit_test_setup_teardown(test_colocated_block_stores, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
