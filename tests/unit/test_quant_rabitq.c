/*
 * test_quant_rabitq.c — RaBitQ 1-bit codes in FastScan blocks
 * (algorithms/quant/rabitq.c). The store's API (tolerance against decode +
 * score_offset, batch/range/pairs agreement, packed blocks and score_lb,
 * save/load) is the shared conformance suite's (test_conformance.c runs it
 * over the registry); here what the library builds on the store:
 *   - the estimator against the original vectors: most scores within the
 *     RaBitQ bound (what score_lb relies on);
 *   - flat over rabitq (the packed-block scan) returns exactly the top k of
 *     a dist_range scan, for l2 / ip / cosine;
 *   - HNSW layout=colocated over rabitq (pruned by score_lb, expanded nodes
 *     exact at full precision): recall@10 on the SIFT 10k fixture (random
 *     data when absent), identical results after save/load; l2 / ip / cosine
 *     against the adjacency layout re-ranked;
 *   - the loader: wrong shapes, bad header fields, non-finite centroid /
 *     rotation / factors and truncations are CN_EFORMAT naming the file;
 *   - parameters: eps0 must be >= 0 (0: lower bound = estimate); bytes per
 *     vector D'/8 + 12.
 * Every test runs under the counting allocator and leaves zero live blocks.
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
#include "cannoli/registry.h"
#include "index/hnsw_internal.h"

#define ERRLEN 512

static cn_store_t *dense(const float *x, size_t n, size_t d, cn_metric_t m) {
    char err[ERRLEN] = "";
    cn_store_t *s = NULL;
    if (cn_store_dense_create(&s, x, (uint32_t)n, (uint32_t)d, m, err, sizeof err) != CN_OK)
        fail_msg("dense store: %s", err);
    return s;
}

static cn_store_t *encode_with(const char *name, cn_store_t *full, cn_param_t *items, size_t n) {
    char err[ERRLEN] = "";
    cn_quantizer_t *q = NULL;
    cn_params_t p = {items, n};
    if (cn_quantizer_create(&q, name, full->metric, full->dim, &p, err, sizeof err) != CN_OK)
        fail_msg("create %s: %s", name, err);
    cn_store_t *s = NULL;
    if (q->ops->train(q, full, err, sizeof err) != CN_OK) fail_msg("train %s: %s", name, err);
    if (q->ops->encode(q, full, &s, err, sizeof err) != CN_OK) fail_msg("encode %s: %s", name, err);
    cn_quantizer_destroy(q);
    return s;
}

static cn_store_t *rbq_of(cn_store_t *full) { return encode_with("rabitq", full, NULL, 0); }

/* ---- the estimator against the original vectors --------------------------------------- */

static double exact(const float *q, const float *x, size_t d, cn_metric_t m) {
    double s = 0;
    for (size_t j = 0; j < d; j++)
        s += m == CN_METRIC_L2 ? ((double)q[j] - x[j]) * ((double)q[j] - x[j])
                               : -(double)q[j] * x[j];
    return s;
}

/* On random data of several dimensions, the fraction of slots whose lower
 * bound exceeds the original's exact score stays below 5% (RaBitQ's eps0 =
 * 1.9: ~2-3% expected); the scaled error of the estimates is printed. */
static void test_estimator_bound(void **state) {
    (void)state;
    char err[ERRLEN] = "";
    const size_t dims[3] = {16, 64, 200};
    const cn_metric_t ms[3] = {CN_METRIC_L2, CN_METRIC_IP, CN_METRIC_COSINE};
    for (int di = 0; di < 3; di++) {
        for (int mi = 0; mi < 3; mi++) {
            const size_t n = 640, d = dims[di];
            float *x = cn_test_random_matrix(n, d, 300 + di);
            cn_store_t *full = dense(x, n, d, ms[mi]);
            cn_store_t *s = rbq_of(full);
            const cn_block_ops_t *bo = s->ops->blocks;
            assert_non_null(bo);
            assert_non_null(bo->score_lb);
            const uint8_t *blocks = bo->store_blocks(s);
            const size_t bb = bo->block_bytes(s);
            cn_evaluator_t *ev = NULL;
            assert_int_equal(cn_store_evaluator(s, &ev, err, sizeof err), CN_OK);
            size_t above = 0, total = 0;
            double relerr = 0;
            float out[32], lo[32];
            for (int qi = 0; qi < 10; qi++) {
                float *q = cn_test_random_matrix(1, d, 900 + qi);
                cn_vec_t v = {.dense = q};
                assert_int_equal(ev->ops->set_query(ev, &v, err, sizeof err), CN_OK);
                double qn = 0;
                for (size_t j = 0; j < d; j++) qn += (double)q[j] * q[j];
                if (ms[mi] == CN_METRIC_COSINE) {
                    for (size_t j = 0; j < d; j++) q[j] = (float)(q[j] / sqrt(qn));
                    qn = 1.0;
                }
                for (size_t b = 0; b < n / 32; b++) {
                    bo->score_lb(ev, blocks + b * bb, out, lo);
                    for (size_t i = 0; i < 32; i++) {
                        const size_t id = b * 32 + i;
                        double ex = exact(q, cn_store_dense_row(full, (uint32_t)id), d, ms[mi]);
                        above += (double)lo[i] > ex;
                        total++;
                        const float *row = cn_store_dense_row(full, (uint32_t)id);
                        double xn = 0;
                        for (size_t j = 0; j < d; j++) xn += (double)row[j] * row[j];
                        relerr += fabs((double)ev->ops->dist(ev, (uint32_t)id) - ex) /
                                  (ms[mi] == CN_METRIC_L2 ? qn + xn : sqrt(qn * xn) + 1e-12);
                    }
                }
                free(q);
            }
            print_message("rabitq %s d=%zu: %.2f%% of lower bounds above the exact score, mean "
                          "|error| / (|q|^2 + |x|^2) (l2) or |q||x| (ip) %.4f\n",
                          cn_metric_name(ms[mi]), d, 100.0 * (double)above / (double)total,
                          relerr / (double)total);
            if ((double)above > 0.05 * (double)total)
                fail_msg("%zu of %zu lower bounds above the exact score", above, total);
            cn_evaluator_destroy(ev);
            cn_store_release(s);
            cn_store_release(full);
            free(x);
        }
    }
}

/* ---- flat through packed blocks ---------------------------------------------------- */

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void test_flat_equals_scan(void **state) {
    (void)state;
    char err[ERRLEN] = "";
    const cn_metric_t metrics[3] = {CN_METRIC_L2, CN_METRIC_IP, CN_METRIC_COSINE};
    for (int mi = 0; mi < 3; mi++) {
        const size_t n = 1000 + 17, d = 37, k = 10; /* n not a multiple of 32, d padded */
        float *x = cn_test_random_matrix(n, d, 70 + mi);
        cn_store_t *full = dense(x, n, d, metrics[mi]);
        cn_store_t *s = rbq_of(full);
        cn_index_t *ix = NULL;
        cn_params_t none = {NULL, 0};
        assert_int_equal(cn_index_create(&ix, "flat", metrics[mi], (uint32_t)d, &none, err,
                                         sizeof err), CN_OK);
        assert_int_equal(cn_index_build(ix, s, s, NULL, 1, err, sizeof err), CN_OK);
        cn_search_ctx_t *ctx = NULL;
        assert_int_equal(cn_search_ctx_create(ix, &ctx, err, sizeof err), CN_OK);
        cn_evaluator_t *ev = NULL;
        assert_int_equal(cn_store_evaluator(s, &ev, err, sizeof err), CN_OK);
        float *all = malloc(n * sizeof *all);
        uint64_t work = 0;
        for (size_t qi = 0; qi < 20; qi++) {
            float qv[37];
            uint64_t st = 900 + qi;
            for (size_t j = 0; j < d; j++) qv[j] = cn_test_randf(&st);
            cn_vec_t q = {.dense = qv};
            uint32_t ids[10];
            float dists[10];
            size_t found = 0;
            assert_int_equal(cn_index_search(ctx, &q, k, ids, dists, &found, err, sizeof err),
                             CN_OK);
            assert_int_equal(found, k);
            work += ctx->stats.ndist;
            assert_int_equal(ev->ops->set_query(ev, &q, err, sizeof err), CN_OK);
            ev->ops->dist_range(ev, 0, n, all);
            for (size_t i = 0; i < k; i++)
                assert_true(cn_metric_external(metrics[mi], all[ids[i]]) == dists[i]);
            qsort(all, n, sizeof *all, cmp_float);
            for (size_t i = 0; i < k; i++)
                if (cn_metric_external(metrics[mi], all[i]) != dists[i])
                    fail_msg("%s query %zu rank %zu: flat %g, scan %g",
                             cn_metric_name(metrics[mi]), qi, i, (double)dists[i],
                             (double)cn_metric_external(metrics[mi], all[i]));
        }
        print_message("flat over rabitq (%s, n=%zu): %.1f scores per query (%zu block slots + "
                      "exact re-scores)\n",
                      cn_metric_name(metrics[mi]), n, (double)work / 20.0, n);
        free(all);
        cn_evaluator_destroy(ev);
        cn_search_ctx_destroy(ctx);
        cn_index_destroy(ix);
        cn_store_release(s);
        cn_store_release(full);
        free(x);
    }
}

/* ---- HNSW, co-located codes ------------------------------------------------------- */

/* Co-located rabitq (D'/8 + 12 bytes per vector, pruned by score_lb,
 * expanded nodes exact at full precision): recall@10 >= 0.9 at ef 64 and
 * 128 on the SIFT fixture; the same results after save/load. */
static void test_hnsw_colocated(void **state) {
    (void)state;
    char err[ERRLEN] = "", path[1024];
    cn_test_knn_set_t s = cn_test_sift_or_random(32);
    cn_store_t *full = dense(s.x, s.n, s.d, CN_METRIC_L2);
    cn_store_t *rs = rbq_of(full);
    cn_index_t *colo = cn_test_hnsw_built("colocated", full, rs, full);
    assert_int_equal(cn_hnsw_validate(colo, err, sizeof err), CN_OK);
    uint32_t *ids1 = malloc(s.nq * 10 * sizeof *ids1), *ids2 = malloc(s.nq * 10 * sizeof *ids2);
    float *d1 = malloc(s.nq * 10 * sizeof *d1), *d2 = malloc(s.nq * 10 * sizeof *d2);
    const int efs[2] = {64, 128};
    double rc[2];
    for (int e = 0; e < 2; e++) {
        double w = 0;
        rc[e] = cn_test_recall(colo, &s, 0, efs[e], 0, e ? NULL : ids1, e ? NULL : d1, &w);
        print_message("hnsw M=16 ef=%d (n=%zu d=%zu): colocated rabitq recall@10 %.4f (%.0f "
                      "scores/query)\n",
                      efs[e], s.n, s.d, rc[e], w);
    }
    if (s.d == 128 && !(rc[0] >= 0.9 && rc[1] >= 0.9))
        fail_msg("colocated rabitq recall %.4f / %.4f < 0.9 on SIFT", rc[0], rc[1]);
    snprintf(path, sizeof path, "%s/colocated_rabitq.cnix", cn_test_tmpdir());
    assert_int_equal(cn_index_save(colo, path, err, sizeof err), CN_OK);
    cn_index_t *back = NULL;
    if (cn_index_load(&back, path, err, sizeof err) != CN_OK) fail_msg("load: %s", err);
    assert_int_equal(back->ops->bytes(back), colo->ops->bytes(colo));
    double rb = cn_test_recall(back, &s, 0, efs[0], 0, ids2, d2, NULL);
    assert_true(rb == rc[0]);
    assert_memory_equal(ids1, ids2, s.nq * 10 * sizeof *ids1);
    assert_memory_equal(d1, d2, s.nq * 10 * sizeof *d1);
    cn_index_destroy(back);
    cn_index_destroy(colo);
    cn_store_release(rs);
    cn_store_release(full);
    free(ids1);
    free(ids2);
    free(d1);
    free(d2);
    free(s.x);
    free(s.qs);
}

/* ip and cosine through the co-located layout (and no rerank store: the
 * expanded nodes then get the store's own estimate) against the adjacency
 * layout over the same store. */
static void test_hnsw_colocated_metrics(void **state) {
    (void)state;
    const size_t n = cn_test_sized(3000), d = 24;
    cn_test_knn_set_t s = {cn_test_random_matrix(n, d, 21), cn_test_random_matrix(40, d, 22), n, d, 40};
    const cn_metric_t ms[3] = {CN_METRIC_L2, CN_METRIC_IP, CN_METRIC_COSINE};
    for (int mi = 0; mi < 3; mi++) {
        cn_store_t *full = dense(s.x, n, d, ms[mi]);
        cn_store_t *rs = rbq_of(full);
        for (int with_full = 0; with_full < 2; with_full++) {
            cn_index_t *colo = cn_test_hnsw_built("colocated", full, rs, with_full ? full : NULL);
            cn_index_t *adj = cn_test_hnsw_built("adjacency", full, rs, with_full ? full : NULL);
            int bm = ms[mi] == CN_METRIC_L2 ? 0 : ms[mi] == CN_METRIC_IP ? 1 : 2;
            double rc = cn_test_recall(colo, &s, bm, 100, 0, NULL, NULL, NULL);
            double ra = cn_test_recall(adj, &s, bm, 100, with_full ? 100 : 0, NULL, NULL, NULL);
            print_message("%s, %s: colocated rabitq recall@10 %.4f, adjacency %.4f\n",
                          cn_metric_name(ms[mi]),
                          with_full ? "full-precision expansions" : "estimate expansions", rc,
                          ra);
            if (!(rc >= ra - 0.05)) fail_msg("colocated %.4f < adjacency %.4f - 0.05", rc, ra);
            cn_index_destroy(colo);
            cn_index_destroy(adj);
        }
        cn_store_release(rs);
        cn_store_release(full);
    }
    free(s.x);
    free(s.qs);
}

/* ---- files ----------------------------------------------------------------------- */

static void save_payload(const cn_store_t *s, const char *path) {
    char err[ERRLEN] = "";
    cn_writer_t w;
    assert_int_equal(cn_writer_open(&w, path, err, sizeof err), CN_OK);
    s->ops->save(s, &w);
    if (cn_writer_close(&w, err, sizeof err) != CN_OK) fail_msg("close: %s", err);
}

/* Raw payload bytes of a file written through cn_writer (12-byte header,
 * 8-byte checksum). */
static unsigned char *read_payload(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 12, SEEK_SET);
    *len = (size_t)sz - 20;
    unsigned char *p = malloc(*len + 1);
    assert_int_equal(fread(p, 1, *len, f), *len);
    fclose(f);
    return p;
}

static void write_payload(const char *path, const unsigned char *p, size_t len) {
    char err[ERRLEN] = "";
    cn_writer_t w;
    assert_int_equal(cn_writer_open(&w, path, err, sizeof err), CN_OK);
    cn_write(&w, p, len);
    assert_int_equal(cn_writer_close(&w, err, sizeof err), CN_OK);
}

static cn_status_t load_payload(const char *path, uint32_t n, uint32_t d, cn_store_t **out,
                                char *err) {
    cn_reader_t r;
    if (cn_reader_open(&r, path, err, ERRLEN) != CN_OK) fail_msg("open: %s", err);
    cn_status_t st = cn_registry_store_loader("rabitq")(out, &r, CN_METRIC_L2, n, d, err, ERRLEN);
    cn_reader_close(&r);
    return st;
}

/* Loader: wrong claims, bad magic / D' / eps0, non-finite centroid, rotation
 * and factors, truncations: CN_EFORMAT naming the file, nothing leaked;
 * random byte flips never crash. */
static void test_corrupt_payload(void **state) {
    (void)state;
    const uint32_t n = 70, d = 13; /* D' = 16, 3 blocks */
    char err[ERRLEN] = "", path[1024], bad[1024];
    float *x = cn_test_random_matrix(n, d, 5);
    cn_store_t *full = dense(x, n, d, CN_METRIC_L2);
    cn_store_t *s = rbq_of(full);
    snprintf(path, sizeof path, "%s/rbq_payload.bin", cn_test_tmpdir());
    snprintf(bad, sizeof bad, "%s/rbq_bad.bin", cn_test_tmpdir());
    save_payload(s, path);
    cn_store_t *t = NULL;
    assert_int_equal(load_payload(path, n, d, &t, err), CN_OK);
    assert_int_equal(t->ops->bytes(t), s->ops->bytes(s));
    cn_store_release(t);
    long live = cn_test_alloc_live();
    const uint32_t claims[][2] = {{n + 40, d}, {1000000, d}, {n, 17}, {n, 7},
                                  {n, 1u << 30}, {0xFFFFFFFFu, d}, {n, 0xFFFFFFFFu}};
    for (size_t c = 0; c < sizeof claims / sizeof claims[0]; c++) {
        t = NULL;
        err[0] = 0;
        cn_status_t st = load_payload(path, claims[c][0], claims[c][1], &t, err);
        if (st == CN_OK) fail_msg("accepted n=%u dim=%u", claims[c][0], claims[c][1]);
        assert_int_equal(st, CN_EFORMAT);
        assert_null(t);
        if (!strstr(err, "rbq_payload.bin")) fail_msg("message does not name the file: %s", err);
        assert_int_equal(cn_test_alloc_live(), live);
    }
    size_t len;
    unsigned char *p = read_payload(path, &len);
    unsigned char *q = malloc(len + 16);
    const size_t cent = 12, rot = cent + 4 * d, blocks = rot + 4 * 16 * 16;
    const size_t bb = 4 * 16 + 3 * 32 * 4;
    struct {
        const char *what;
        size_t off; /* float to make NaN (4 bytes), byte to set, or SIZE_MAX */
        int nan;
        unsigned char v;
        size_t cut; /* truncated length, or 0 */
    } cases[] = {
        {"magic", 0, 0, 0x00, 0},
        {"D' 8", 4, 0, 0x08, 0},
        {"D' huge", 7, 0, 0x7f, 0},
        {"eps0 -1", 8, 1, 0, 0},
        {"centroid NaN", cent + 4, 1, 0, 0},
        {"rotation NaN", rot + 4 * 37, 1, 0, 0},
        {"f_add NaN", blocks + 64 + 4 * 3, 1, 0, 0},
        {"f_err NaN (unused slot)", blocks + 2 * bb + 64 + 4 * (64 + 31), 1, 0, 0},
        {"truncated blocks", SIZE_MAX, 0, 0, len - 1},
        {"truncated rotation", SIZE_MAX, 0, 0, rot + 10},
        {"header only", SIZE_MAX, 0, 0, 12},
        {"empty", SIZE_MAX, 0, 0, 5},
    };
    assert_int_equal(len, blocks + 3 * bb);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        memcpy(q, p, len);
        size_t ql = cases[c].cut ? cases[c].cut : len;
        if (cases[c].off != SIZE_MAX) {
            if (cases[c].nan) {
                float v = strcmp(cases[c].what, "eps0 -1") == 0 ? -1.0f : NAN;
                memcpy(q + cases[c].off, &v, sizeof v);
            } else {
                q[cases[c].off] = cases[c].v;
            }
        }
        write_payload(bad, q, ql);
        t = NULL;
        err[0] = 0;
        cn_status_t st = load_payload(bad, n, d, &t, err);
        if (st != CN_EFORMAT) fail_msg("%s: got %d (%s)", cases[c].what, (int)st, err);
        assert_null(t);
        if (!strstr(err, "rbq_bad.bin"))
            fail_msg("%s: message does not name the file: %s", cases[c].what, err);
        assert_int_equal(cn_test_alloc_live(), live);
    }
    uint64_t rng = 8;
    for (int trial = 0; trial < 60; trial++) {
        memcpy(q, p, len);
        for (int f = 0; f < 3; f++) q[cn_test_rand(&rng) % len] ^= (unsigned char)(1 + trial);
        write_payload(bad, q, len);
        t = NULL;
        cn_status_t st = load_payload(bad, n, d, &t, err);
        if (st == CN_OK) {
            cn_evaluator_t *ev = NULL;
            assert_int_equal(cn_store_evaluator(t, &ev, err, sizeof err), CN_OK);
            cn_vec_t v = {.dense = x};
            assert_int_equal(ev->ops->set_query(ev, &v, err, sizeof err), CN_OK);
            float o[70];
            ev->ops->dist_range(ev, 0, n, o);
            cn_evaluator_destroy(ev);
            cn_store_release(t);
        } else {
            assert_int_equal(st, CN_EFORMAT);
        }
        assert_int_equal(cn_test_alloc_live(), live);
    }
    free(p);
    free(q);
    cn_store_release(s);
    cn_store_release(full);
    free(x);
}

static void test_params(void **state) {
    (void)state;
    char err[ERRLEN] = "";
    cn_quantizer_t *q = NULL;
    cn_param_t bad = {.key = "eps0", .type = CN_PARAM_FLOAT, .f = -0.5};
    cn_params_t p = {&bad, 1};
    assert_int_not_equal(cn_quantizer_create(&q, "rabitq", CN_METRIC_L2, 8, &p, err, sizeof err),
                         CN_OK);
    assert_null(q);
    bad.f = 0.0; /* no statistical margin: accepted */
    assert_int_equal(cn_quantizer_create(&q, "rabitq", CN_METRIC_L2, 8, &p, err, sizeof err),
                     CN_OK);
    cn_quantizer_destroy(q);
    q = NULL;
    assert_int_equal(cn_quantizer_create(&q, "rabitq", CN_METRIC_L2, 13, NULL, err, sizeof err),
                     CN_OK);
    assert_int_equal(q->ops->bytes_per_vector(q), 16 / 8 + 12);
    cn_quantizer_destroy(q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_estimator_bound, cn_test_alloc_setup, cn_test_alloc_teardown),
        cmocka_unit_test_setup_teardown(test_flat_equals_scan, cn_test_alloc_setup, cn_test_alloc_teardown),
        cmocka_unit_test_setup_teardown(test_hnsw_colocated, cn_test_alloc_setup, cn_test_alloc_teardown),
        cmocka_unit_test_setup_teardown(test_hnsw_colocated_metrics, cn_test_alloc_setup, cn_test_alloc_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_payload, cn_test_alloc_setup, cn_test_alloc_teardown),
        cmocka_unit_test_setup_teardown(test_params, cn_test_alloc_setup, cn_test_alloc_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
