/*
 * test_h_baselines.c — the baseline adapters as the registry sees them
 * (algorithms/baselines). cn_baselines_register adds what this build has;
 * whatever is missing must be named by cn_baselines_missing. The Faiss
 * adapter, when built: recall of HNSWFlat and exact Flat on random data
 * against brute force, the self_contained byte count and the kernels note,
 * save/load through cannoli's file, and the one-line errors (bad factory
 * string, factory mixed with named parameters, inner product on HNSWPQ,
 * 'ef' on a non-HNSW index). The hnswlib adapter, when built: two query
 * threads searching one index at two different ef at once must each get
 * exactly what a lone search at its ef gets (each context carries its own
 * ef; the shared index is not written by a query — run under ThreadSanitizer
 * by run-tests.sh, which would report a write). Links the harness target
 * (hence test_h_), which carries the baselines library.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baselines.h"
#include "cannoli/cannoli.h"

#define ERRLEN 512
#define N 2000
#define D 16
#define NQ 20
#define K 10

static int have_faiss(void) {
    char err[ERRLEN];
    assert_int_equal(cn_baselines_register(err, sizeof err), CN_OK);
    return cn_registry_find("faiss", CN_COMPONENT_INDEX) != NULL;
}

static void test_registered_or_named_missing(void **state) {
    (void)state;
    char err[ERRLEN];
    assert_int_equal(cn_baselines_register(err, sizeof err), CN_OK);
    assert_int_equal(cn_baselines_register(err, sizeof err), CN_OK); /* idempotent */
    const cn_component_t *c = cn_registry_find("faiss", CN_COMPONENT_INDEX);
    if (!c) {
        assert_non_null(strstr(cn_baselines_missing(), "faiss"));
        return;
    }
    assert_null(strstr(cn_baselines_missing(), "faiss"));
    int factory = 0, ef = 0, nprobe = 0;
    for (size_t i = 0; i < c->n_params; i++) {
        factory |= strcmp(c->params[i].name, "factory") == 0;
        ef |= strcmp(c->params[i].name, "ef") == 0 && c->params[i].role == CN_ROLE_SEARCH;
        nprobe |= strcmp(c->params[i].name, "nprobe") == 0;
    }
    assert_true(factory && ef && nprobe);
}

static double recall_of(cn_index_t *ix, const float *base, const float *qs, const char *skey,
                        long long sval) {
    char err[ERRLEN];
    cn_search_ctx_t *ctx = NULL;
    assert_int_equal(cn_search_ctx_create(ix, &ctx, err, sizeof err), CN_OK);
    cn_param_t sp = {skey, CN_PARAM_INT, sval, (double)sval, NULL};
    cn_params_t sps = {&sp, skey ? 1 : 0};
    assert_int_equal(cn_search_ctx_set_params(ctx, &sps, err, sizeof err), CN_OK);
    size_t hit = 0;
    for (size_t q = 0; q < NQ; q++) {
        uint32_t ids[K], truth[K];
        float dists[K];
        cn_vec_t v = {qs + q * D, 0, NULL, NULL};
        size_t found = 0;
        assert_int_equal(cn_index_search(ctx, &v, K, ids, dists, &found, err, sizeof err), CN_OK);
        assert_int_equal(found, K);
        cn_test_brute_knn(base, N, D, qs + q * D, 0, K, truth);
        for (size_t i = 0; i < K; i++)
            for (size_t j = 0; j < K; j++) hit += ids[i] == truth[j];
    }
    cn_search_ctx_destroy(ctx);
    return (double)hit / (NQ * K);
}

static cn_index_t *build(cn_store_t *s, const char *key, const char *sval, cn_metric_t m,
                         char *err) {
    cn_param_t p = {key, CN_PARAM_STRING, 0, 0, sval};
    cn_params_t ps = {&p, 1};
    cn_index_t *ix = NULL;
    if (cn_index_create(&ix, "faiss", m, D, &ps, err, ERRLEN) != CN_OK) return NULL;
    if (cn_index_build(ix, s, s, NULL, 1, err, ERRLEN) != CN_OK) {
        cn_index_destroy(ix);
        return NULL;
    }
    return ix;
}

static void test_faiss_hnsw_flat_save_load(void **state) {
    (void)state;
    if (!have_faiss()) skip();
    char err[ERRLEN];
    float *base = cn_test_random_matrix(N, D, 1), *qs = cn_test_random_matrix(NQ, D, 2);
    cn_store_t *s = NULL;
    assert_int_equal(cn_store_dense_create(&s, base, N, D, CN_METRIC_L2, err, sizeof err), CN_OK);

    cn_index_t *flat = build(s, "factory", "Flat", CN_METRIC_L2, err);
    assert_non_null(flat);
    assert_true(recall_of(flat, base, qs, NULL, 0) >= 0.999);
    assert_string_equal(flat->kernels, "faiss-generic");
    /* self_contained: what Faiss keeps (its own copy), the store not again */
    size_t b = cn_index_bytes(flat);
    assert_true(b >= (size_t)N * D * 4 && b < (size_t)N * D * 4 + 4096);
    cn_index_destroy(flat);

    cn_index_t *ix = build(s, "factory", "HNSW16,Flat", CN_METRIC_L2, err);
    assert_non_null(ix);
    double r = recall_of(ix, base, qs, "ef", 100);
    assert_true(r >= 0.95);
    assert_true(recall_of(ix, base, qs, "ef", 10) < r + 1e-9);
    char path[1024];
    snprintf(path, sizeof path, "%s/faiss.cnidx", cn_test_tmpdir());
    assert_int_equal(cn_index_save(ix, path, err, sizeof err), CN_OK);
    cn_index_t *back = NULL;
    assert_int_equal(cn_index_load(&back, path, err, sizeof err), CN_OK);
    assert_int_equal(cn_index_bytes(back), cn_index_bytes(ix));
    assert_true(recall_of(back, base, qs, "ef", 100) == r);
    cn_index_destroy(back);
    cn_index_destroy(ix);
    cn_store_release(s);
    free(base);
    free(qs);
}

static void test_faiss_errors(void **state) {
    (void)state;
    if (!have_faiss()) skip();
    char err[ERRLEN];
    cn_index_t *ix = NULL;
    cn_param_t p = {"factory", CN_PARAM_STRING, 0, 0, "HNSW16,Bogus"};
    cn_params_t ps = {&p, 1};
    assert_int_equal(cn_index_create(&ix, "faiss", CN_METRIC_L2, D, &ps, err, sizeof err),
                     CN_EINVAL);
    assert_null(ix);
    assert_non_null(strstr(err, "bad factory string 'HNSW16,Bogus'"));
    assert_null(strchr(err, '\n'));

    cn_param_t pq = {"factory", CN_PARAM_STRING, 0, 0, "HNSW16_PQ4"};
    cn_params_t ps3 = {&pq, 1};
    assert_int_equal(cn_index_create(&ix, "faiss", CN_METRIC_IP, D, &ps3, err, sizeof err),
                     CN_EUNSUPPORTED);
    assert_non_null(strstr(err, "inner-product"));

    float *base = cn_test_random_matrix(N, D, 3);
    cn_store_t *s = NULL;
    assert_int_equal(cn_store_dense_create(&s, base, N, D, CN_METRIC_L2, err, sizeof err), CN_OK);
    /* factory and a named parameter (even at its default value): refused
     * when built, where the parameters as given are known */
    cn_param_t two[2] = {{"factory", CN_PARAM_STRING, 0, 0, "Flat"},
                         {"M", CN_PARAM_INT, 32, 32.0, NULL}};
    cn_params_t ps2 = {two, 2};
    assert_int_equal(cn_index_create(&ix, "faiss", CN_METRIC_L2, D, &ps2, err, sizeof err), CN_OK);
    assert_int_equal(cn_index_build(ix, s, s, NULL, 1, err, sizeof err), CN_EINVAL);
    assert_non_null(strstr(err, "either 'factory'"));
    cn_index_destroy(ix);
    ix = build(s, "factory", "Flat", CN_METRIC_L2, err);
    assert_non_null(ix);
    cn_search_ctx_t *ctx = NULL;
    assert_int_equal(cn_search_ctx_create(ix, &ctx, err, sizeof err), CN_OK);
    cn_param_t ef = {"ef", CN_PARAM_INT, 20, 20.0, NULL};
    cn_params_t eps = {&ef, 1};
    assert_int_equal(cn_search_ctx_set_params(ctx, &eps, err, sizeof err), CN_EINVAL);
    assert_non_null(strstr(err, "'ef' applies to HNSW"));
    cn_search_ctx_destroy(ctx);
    cn_index_destroy(ix);
    cn_store_release(s);
    free(base);
}

/* ---- hnswlib: concurrent searches at different ef ------------------------ */

#define HL_NQ 200

typedef struct hl_job {
    cn_search_ctx_t *ctx;
    const float *qs;
    const uint32_t *want; /* HL_NQ x K, the lone search's answers */
    int rounds;
    int mismatches;
    int errors;
} hl_job_t;

static void *hl_worker(void *arg) {
    hl_job_t *j = arg;
    char err[ERRLEN];
    for (int r = 0; r < j->rounds; r++) {
        for (size_t q = 0; q < HL_NQ; q++) {
            uint32_t ids[K];
            float dists[K];
            cn_vec_t v = {j->qs + q * D, 0, NULL, NULL};
            if (cn_index_search(j->ctx, &v, K, ids, dists, NULL, err, sizeof err) != CN_OK) {
                j->errors++;
                continue;
            }
            j->mismatches += memcmp(ids, j->want + q * K, sizeof ids) != 0;
        }
    }
    return NULL;
}

static cn_search_ctx_t *hl_ctx(cn_index_t *ix, long long ef) {
    char err[ERRLEN];
    cn_search_ctx_t *ctx = NULL;
    assert_int_equal(cn_search_ctx_create(ix, &ctx, err, sizeof err), CN_OK);
    cn_param_t sp = {"ef", CN_PARAM_INT, ef, (double)ef, NULL};
    cn_params_t sps = {&sp, 1};
    assert_int_equal(cn_search_ctx_set_params(ctx, &sps, err, sizeof err), CN_OK);
    return ctx;
}

static void test_hnswlib_concurrent_ef(void **state) {
    (void)state;
    char err[ERRLEN];
    assert_int_equal(cn_baselines_register(err, sizeof err), CN_OK);
    if (!cn_registry_find("hnswlib", CN_COMPONENT_INDEX)) skip();
    float *base = cn_test_random_matrix(N, D, 5), *qs = cn_test_random_matrix(HL_NQ, D, 6);
    cn_store_t *s = NULL;
    assert_int_equal(cn_store_dense_create(&s, base, N, D, CN_METRIC_L2, err, sizeof err), CN_OK);
    cn_param_t bp[2] = {{"M", CN_PARAM_INT, 4, 4.0, NULL},
                        {"ef_construction", CN_PARAM_INT, 40, 40.0, NULL}};
    cn_params_t bps = {bp, 2};
    cn_index_t *ix = NULL;
    assert_int_equal(cn_index_create(&ix, "hnswlib", CN_METRIC_L2, D, &bps, err, sizeof err),
                     CN_OK);
    if (cn_index_build(ix, s, s, NULL, 2, err, sizeof err) != CN_OK) fail_msg("build: %s", err);

    const long long efs[2] = {K, 200};
    uint32_t *want[2];
    cn_search_ctx_t *ctx[2];
    for (int t = 0; t < 2; t++) {
        ctx[t] = hl_ctx(ix, efs[t]);
        want[t] = malloc((size_t)HL_NQ * K * sizeof **want);
        for (size_t q = 0; q < HL_NQ; q++) {
            cn_vec_t v = {qs + q * D, 0, NULL, NULL};
            float dists[K];
            assert_int_equal(
                cn_index_search(ctx[t], &v, K, want[t] + q * K, dists, NULL, err, sizeof err),
                CN_OK);
        }
    }
    /* the two ef must answer differently somewhere, or the test proves nothing */
    assert_true(memcmp(want[0], want[1], (size_t)HL_NQ * K * sizeof **want) != 0);

    hl_job_t jobs[2];
    pthread_t th[2];
    for (int t = 0; t < 2; t++) {
        jobs[t] = (hl_job_t){ctx[t], qs, want[t], 5, 0, 0};
        assert_int_equal(pthread_create(&th[t], NULL, hl_worker, &jobs[t]), 0);
    }
    for (int t = 0; t < 2; t++) assert_int_equal(pthread_join(th[t], NULL), 0);
    for (int t = 0; t < 2; t++) {
        assert_int_equal(jobs[t].errors, 0);
        if (jobs[t].mismatches)
            fail_msg("ef=%lld: %d of %d concurrent answers differ from a lone search", efs[t],
                     jobs[t].mismatches, 5 * HL_NQ);
        cn_search_ctx_destroy(ctx[t]);
        free(want[t]);
    }
    cn_index_destroy(ix);
    cn_store_release(s);
    free(base);
    free(qs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registered_or_named_missing),
        cmocka_unit_test(test_faiss_hnsw_flat_save_load),
        cmocka_unit_test(test_faiss_errors),
        cmocka_unit_test(test_hnswlib_concurrent_ef),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
