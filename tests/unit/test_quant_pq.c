/*
 * test_quant_pq.c — Product Quantization (algorithms/quant/pq*.c): the "pq"
 * quantizer, its store and evaluator.
 *
 * Parameters (subspaces must divide the dimension; odd widths work), the
 * reconstruction error on the SIFT fixture (or clustered random data when it
 * is absent), ADC distances against the decoded vectors for l2/ip/cosine on
 * every access path, SDC pair distances, agreement of every SIMD level with
 * the scalar kernels, nbits 4, bit-exact save/load, corrupted payloads,
 * thread-count independence of training, out-of-memory paths, and an HNSW
 * graph built on full precision and searched through PQ with re-ranking.
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

#include <omp.h>

#include "cannoli/cannoli.h"
#include "quant/pq_internal.h"

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

/* ---- data ---------------------------------------------------------------------- */

/* n points around nc random centres in [-1,1]^d with noise `noise`. */
static float *clustered(size_t n, size_t d, size_t nc, float noise, uint64_t seed) {
    uint64_t st = seed;
    float *c = malloc(nc * d * sizeof *c);
    for (size_t i = 0; i < nc * d; i++) c[i] = cn_test_randf(&st);
    float *x = malloc(n * d * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)(cn_test_rand(&st) % nc);
        for (size_t j = 0; j < d; j++) x[i * d + j] = c[k * d + j] + noise * cn_test_randf(&st);
    }
    free(c);
    return x;
}


/* ---- helpers ------------------------------------------------------------------- */

static cn_store_t *dense(const float *x, size_t n, size_t d, cn_metric_t m) {
    char err[ERRLEN] = "";
    cn_store_t *s = NULL;
    if (cn_store_dense_create(&s, x, (uint32_t)n, (uint32_t)d, m, err, sizeof err) != CN_OK)
        fail_msg("dense store: %s", err);
    return s;
}

typedef struct pq_opts {
    int M, nbits, iterations, train_size;
    const char *init;
    long long seed;
} pq_opts_t;

static cn_status_t make_quantizer(cn_quantizer_t **q, cn_metric_t m, size_t d, pq_opts_t o,
                                  char *err, size_t errlen) {
    cn_param_t it[6];
    size_t k = 0;
    it[k++] = (cn_param_t){.key = "subspaces", .type = CN_PARAM_INT, .i = o.M, .f = o.M};
    if (o.nbits)
        it[k++] = (cn_param_t){.key = "nbits", .type = CN_PARAM_INT, .i = o.nbits, .f = o.nbits};
    if (o.iterations)
        it[k++] = (cn_param_t){
            .key = "iterations", .type = CN_PARAM_INT, .i = o.iterations, .f = o.iterations};
    if (o.train_size)
        it[k++] = (cn_param_t){
            .key = "train_size", .type = CN_PARAM_INT, .i = o.train_size, .f = o.train_size};
    if (o.init) it[k++] = (cn_param_t){.key = "init", .type = CN_PARAM_STRING, .s = o.init};
    if (o.seed)
        it[k++] = (cn_param_t){.key = "seed", .type = CN_PARAM_INT, .i = o.seed,
                               .f = (double)o.seed};
    cn_params_t p = {it, k};
    return cn_quantizer_create(q, "pq", m, (uint32_t)d, &p, err, errlen);
}

/* Trains and encodes; returns the pq store. */
static cn_store_t *pq_of(cn_store_t *full, pq_opts_t o) {
    char err[ERRLEN] = "";
    cn_quantizer_t *q = NULL;
    cn_status_t st = make_quantizer(&q, full->metric, full->dim, o, err, sizeof err);
    if (st != CN_OK) fail_msg("pq create (M=%d): %s", o.M, err);
    st = q->ops->train(q, full, err, sizeof err);
    if (st != CN_OK) fail_msg("pq train: %s", err);
    assert_int_equal(q->ops->bytes_per_vector(q), (size_t)o.M);
    cn_store_t *s = NULL;
    st = q->ops->encode(q, full, &s, err, sizeof err);
    if (st != CN_OK) fail_msg("pq encode: %s", err);
    cn_quantizer_destroy(q);
    assert_non_null(s);
    assert_string_equal(s->ops->name, "pq");
    assert_true(cn_store_is_pq(s));
    assert_int_equal(s->n, full->n);
    assert_int_equal(s->dim, full->dim);
    assert_int_equal(s->metric, full->metric);
    return s;
}

static double ref_score(const float *q, const float *x, size_t d, cn_metric_t m) {
    double s = 0;
    for (size_t j = 0; j < d; j++) {
        if (m == CN_METRIC_L2) {
            double t = (double)q[j] - x[j];
            s += t * t;
        } else {
            s += (double)q[j] * x[j];
        }
    }
    return m == CN_METRIC_L2 ? s : -s;
}

static void normalise(float *v, size_t d) {
    double s = 0;
    for (size_t j = 0; j < d; j++) s += (double)v[j] * v[j];
    if (s > 0)
        for (size_t j = 0; j < d; j++) v[j] = (float)(v[j] / sqrt(s));
}

/* Relative tolerance with an absolute floor scaled by the magnitudes involved. */
static void check_close(const char *what, double got, double want, double scale) {
    double tol = 1e-3 * fabs(want) + 1e-5 * scale + 1e-6;
    if (!(fabs(got - want) <= tol))
        fail_msg("%s: got %.9g want %.9g (scale %.3g)", what, got, want, scale);
}

/* Mean relative reconstruction error sum ||x - dec(x)||^2 / sum ||x||^2. */
static double rel_error(const cn_store_t *s, const float *x, size_t n, size_t d) {
    float *dec = malloc(d * sizeof *dec);
    double e = 0, t = 0;
    for (size_t i = 0; i < n; i++) {
        s->ops->decode(s, (uint32_t)i, dec);
        for (size_t j = 0; j < d; j++) {
            double u = (double)x[i * d + j] - dec[j];
            e += u * u;
            t += (double)x[i * d + j] * x[i * d + j];
        }
    }
    free(dec);
    return e / t;
}

/* ---- parameters ------------------------------------------------------------------ */

static void test_params(void **state) {
    (void)state;
    char err[ERRLEN] = "";
    cn_quantizer_t *q = NULL;
    pq_opts_t o = {.M = 7};
    assert_int_equal(make_quantizer(&q, CN_METRIC_L2, 128, o, err, sizeof err), CN_EINVAL);
    assert_null(q);
    if (!strstr(err, "quantizer 'pq': subspaces = 7 does not divide the dimension 128"))
        fail_msg("message: %s", err);
    /* schema ranges and choices */
    pq_opts_t bad[] = {{.M = 0}, {.M = 8, .nbits = 9}, {.M = 8, .nbits = 3},
                       {.M = 8, .iterations = 1001}, {.M = 8, .init = "lloyd"},
                       {.M = 8, .seed = -1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        cn_status_t st = make_quantizer(&q, CN_METRIC_L2, 128, bad[i], err, sizeof err);
        if (st == CN_OK) fail_msg("bad parameter set %zu accepted", i);
        assert_null(q);
        assert_true(err[0] != 0);
    }
    /* the constructor checks the shape (5 does not divide 12) */
    cn_param_t it = {.key = "subspaces", .type = CN_PARAM_INT, .i = 5, .f = 5};
    cn_params_t p = {&it, 1};
    assert_int_equal(cn_quantizer_create(&q, "pq", CN_METRIC_L2, 12, &p, err, sizeof err),
                     CN_EINVAL);
    assert_non_null(strstr(err, "does not divide"));
    /* defaults: 16 sub-spaces */
    assert_int_equal(cn_quantizer_create(&q, "pq", CN_METRIC_L2, 32, NULL, err, sizeof err), CN_OK);
    assert_int_equal(q->ops->bytes_per_vector(q), 16);
    /* encode before train, wrong store */
    float *x = cn_test_random_matrix(300, 32, 1);
    cn_store_t *full = dense(x, 300, 32, CN_METRIC_L2), *out = NULL;
    assert_int_equal(q->ops->encode(q, full, &out, err, sizeof err), CN_EINVAL);
    assert_null(out);
    cn_store_t *other = dense(x, 300, 16, CN_METRIC_L2);
    assert_int_equal(q->ops->train(q, other, err, sizeof err), CN_EINVAL);
    /* fewer training rows than 2^nbits centroids */
    cn_store_t *small = dense(x, 200, 32, CN_METRIC_L2);
    assert_int_equal(q->ops->train(q, small, err, sizeof err), CN_EINVAL);
    if (!strstr(err, "fewer than") || !strstr(err, "256")) fail_msg("message: %s", err);
    cn_quantizer_destroy(q);
    /* train_size below 2^nbits is refused when the quantizer is created
     * (so `cannoli run --dry-run` reports it before any work) */
    o = (pq_opts_t){.M = 16, .train_size = 255};
    assert_int_equal(make_quantizer(&q, CN_METRIC_L2, 32, o, err, sizeof err), CN_EINVAL);
    if (!strstr(err, "train_size = 255 is below the 2^8 = 256")) fail_msg("message: %s", err);
    assert_null(q);
    cn_store_release(small);
    cn_store_release(other);
    cn_store_release(full);
    free(x);
    /* the registry knows the store loader */
    const cn_component_t *c = cn_registry_find("pq", CN_COMPONENT_QUANTIZER);
    assert_non_null(c);
    assert_true(cn_registry_store_loader("pq") == c->store_load);
}

static void test_odd_widths(void **state) {
    (void)state;
    const size_t n = 700;
    const size_t dims[2] = {100, 30}, Ms[2] = {20, 30};
    for (int c = 0; c < 2; c++) {
        size_t d = dims[c];
        float *x = clustered(n, d, 20, 0.2f, 10 + (uint64_t)c);
        cn_store_t *full = dense(x, n, d, CN_METRIC_L2);
        cn_store_t *s = pq_of(full, (pq_opts_t){.M = (int)Ms[c], .iterations = 8});
        assert_int_equal(cn_pq_subspaces(s), Ms[c]);
        double e = rel_error(s, x, n, d);
        if (!(e < 0.05)) fail_msg("dim %zu M %zu: relative error %.4g", d, Ms[c], e);
        /* distances match the decoded vectors */
        cn_evaluator_t *ev = NULL;
        char err[ERRLEN];
        assert_int_equal(cn_store_evaluator(s, &ev, err, sizeof err), CN_OK);
        cn_vec_t v = {.dense = x + 5 * d};
        assert_int_equal(ev->ops->set_query(ev, &v, err, sizeof err), CN_OK);
        float *dec = malloc(d * sizeof *dec);
        for (uint32_t i = 0; i < n; i += 13) {
            s->ops->decode(s, i, dec);
            check_close("odd width dist", ev->ops->dist(ev, i), ref_score(x + 5 * d, dec, d, 0),
                        1.0);
        }
        free(dec);
        cn_evaluator_destroy(ev);
        cn_store_release(s);
        cn_store_release(full);
        free(x);
    }
}

/* ---- reconstruction -------------------------------------------------------------- */

static void test_reconstruction(void **state) {
    (void)state;
    size_t n = 0, d = 0;
    size_t want = under_valgrind() ? 1500 : 10000;
    float *x = cn_test_load_bvecs("sift-debian-10k_base.bvecs", want, &n, &d);
    int sift = x != NULL;
    if (!x) {
        d = 128;
        n = want;
        x = clustered(n, d, 50, 0.5f, 77);
        for (size_t i = 0; i < n * d; i++) x[i] = 60.0f * (x[i] + 1.5f);
    }
    cn_store_t *full = dense(x, n, d, CN_METRIC_L2);
    int iters = under_valgrind() ? 4 : 12;
    double prev = INFINITY;
    const int Ms[3] = {8, 16, 32};
    double err16 = 0;
    for (int i = 0; i < 3; i++) {
        cn_store_t *s = pq_of(full, (pq_opts_t){.M = Ms[i], .iterations = iters});
        double e = rel_error(s, x, n, d);
        print_message("%s: M=%d nbits=8 relative error %.4f\n", sift ? "sift" : "synthetic",
                      Ms[i], e);
        if (!(e < prev)) fail_msg("error did not decrease: M=%d %.4g >= %.4g", Ms[i], e, prev);
        if (Ms[i] == 16) err16 = e;
        /* bytes: codes + codebooks (+ their transpose); the SDC tables only
         * once something (graph construction on the codes) has built them */
        size_t cb = d * 256 * sizeof(float);
        size_t want_bytes = n * (size_t)Ms[i] + cb;
        size_t sdc = (size_t)Ms[i] * 256 * 256 * sizeof(float);
        assert_false(cn_pq_has_sdc(s));
        assert_true(s->ops->bytes(s) >= want_bytes);
        assert_true(s->ops->bytes(s) <= want_bytes + 2 * cb + 4096);
        cn_evaluator_t *ev = NULL;
        char e2[256];
        assert_int_equal(cn_store_evaluator(s, &ev, e2, sizeof e2), CN_OK);
        uint32_t one = 1;
        float out;
        ev->ops->dist_pairs(ev, 0, &one, 1, &out); /* materialises the tables */
        cn_evaluator_destroy(ev);
        assert_true(cn_pq_has_sdc(s));
        assert_true(s->ops->bytes(s) >= want_bytes + sdc);
        assert_true(s->ops->bytes(s) <= want_bytes + sdc + 2 * cb + 4096);
        prev = e;
        cn_store_release(s);
    }
    if (!(err16 < 0.1)) fail_msg("M=16 relative error %.4g >= 0.1", err16);
    cn_store_release(full);
    free(x);
}

/* ---- evaluator ------------------------------------------------------------------- */

static void check_evaluator(cn_metric_t m, int nbits) {
    const size_t n = 1200, d = 40;
    const int M = 10; /* width 4 */
    char err[ERRLEN] = "";
    float *x = clustered(n, d, 30, 0.3f, 100 + (uint64_t)m);
    float *qs = cn_test_random_matrix(3, d, 200 + (uint64_t)m);
    cn_store_t *full = dense(x, n, d, m);
    cn_store_t *s = pq_of(full, (pq_opts_t){.M = M, .nbits = nbits, .iterations = 10});
    assert_int_equal(cn_pq_nbits(s), nbits);
    const uint8_t *codes = cn_pq_codes(s);
    for (size_t i = 0; i < n * (size_t)M; i++) assert_true(codes[i] < (1u << nbits));

    float *dec = malloc(n * d * sizeof *dec);
    for (uint32_t i = 0; i < n; i++) s->ops->decode(s, i, dec + (size_t)i * d);
    /* codes are the nearest centroids: decode is at least as close as any
     * other centroid choice in sub-space 0 */
    const float *cb = cn_pq_codebooks(s);
    const float *rowx = cn_store_dense_row(full, 7);
    double own = ref_score(rowx, dec + 7 * d, 4, CN_METRIC_L2);
    for (size_t c = 0; c < (1u << nbits); c++)
        assert_true(ref_score(rowx, cb + c * 4, 4, CN_METRIC_L2) >= own - 1e-6);

    cn_evaluator_t *ev = NULL;
    assert_int_equal(cn_store_evaluator(s, &ev, err, sizeof err), CN_OK);
    assert_ptr_equal(ev->store, s);
    uint64_t rng = 9;
    enum { NIDS = 150 };
    uint32_t ids[NIDS];
    float out[NIDS + 1], out2[NIDS + 1];
    for (size_t i = 0; i < NIDS; i++) ids[i] = (uint32_t)(cn_test_rand(&rng) % n);
    ids[0] = (uint32_t)n - 1;
    ids[1] = (uint32_t)n - 1;
    for (int qi = 0; qi < 3; qi++) {
        float q[40];
        memcpy(q, qs + qi * d, sizeof q);
        cn_vec_t v = {.dense = q};
        assert_int_equal(ev->ops->set_query(ev, &v, err, sizeof err), CN_OK);
        if (m == CN_METRIC_COSINE) normalise(q, d);
        for (uint32_t i = 0; i < n; i += 3)
            check_close("dist", ev->ops->dist(ev, i), ref_score(q, dec + (size_t)i * d, d, m), 1.0);
        out[NIDS] = -777.0f;
        ev->ops->dist_batch(ev, ids, NIDS, out);
        assert_true(out[NIDS] == -777.0f);
        for (size_t i = 0; i < NIDS; i++) assert_true(out[i] == ev->ops->dist(ev, ids[i]));
        for (uint32_t start = 0; start < n; start += 397) {
            size_t cnt = n - start < NIDS ? n - start : NIDS;
            out[cnt] = -777.0f;
            ev->ops->dist_range(ev, start, cnt, out);
            assert_true(out[cnt] == -777.0f);
            for (size_t i = 0; i < cnt; i++)
                assert_true(out[i] == ev->ops->dist(ev, start + (uint32_t)i));
        }
        /* SDC pairs: score between decoded vectors; the query is untouched */
        uint32_t a = (uint32_t)(qi * 101 + 4);
        ev->ops->dist_pairs(ev, a, ids, NIDS, out);
        for (size_t i = 0; i < NIDS; i++)
            check_close("dist_pairs", out[i],
                        ref_score(dec + (size_t)a * d, dec + (size_t)ids[i] * d, d, m), 1.0);
        check_close("dist after pairs", ev->ops->dist(ev, 11), ref_score(q, dec + 11 * d, d, m),
                    1.0);
        /* set_query_id: the decoded vector becomes the query; equals pairs */
        ev->ops->set_query_id(ev, a);
        ev->ops->dist_batch(ev, ids, NIDS, out2);
        for (size_t i = 0; i < NIDS; i++) check_close("set_query_id", out2[i], out[i], 1.0);
        check_close("self", ev->ops->dist(ev, a), ref_score(dec + a * d, dec + a * d, d, m), 1.0);
    }
    /* bad queries */
    cn_vec_t nov = {0};
    assert_int_equal(ev->ops->set_query(ev, &nov, err, sizeof err), CN_EINVAL);
    float bad[40] = {0};
    bad[3] = NAN;
    cn_vec_t bv = {.dense = bad};
    assert_int_equal(ev->ops->set_query(ev, &bv, err, sizeof err), CN_EINVAL);
    cn_evaluator_destroy(ev);
    cn_evaluator_destroy(NULL);
    free(dec);
    cn_store_release(s);
    cn_store_release(full);
    free(qs);
    free(x);
}

static void test_evaluator_l2(void **state) {
    (void)state;
    check_evaluator(CN_METRIC_L2, 8);
}
static void test_evaluator_ip(void **state) {
    (void)state;
    check_evaluator(CN_METRIC_IP, 8);
}
static void test_evaluator_cosine(void **state) {
    (void)state;
    check_evaluator(CN_METRIC_COSINE, 8);
}
static void test_nbits4(void **state) {
    (void)state;
    check_evaluator(CN_METRIC_L2, 4);
    check_evaluator(CN_METRIC_IP, 4);
    /* 4 bits reconstruct worse than 8 on the same data, but sensibly */
    const size_t n = 2000, d = 32;
    float *x = clustered(n, d, 40, 0.3f, 5);
    cn_store_t *full = dense(x, n, d, CN_METRIC_L2);
    cn_store_t *s4 = pq_of(full, (pq_opts_t){.M = 8, .nbits = 4, .iterations = 10});
    cn_store_t *s8 = pq_of(full, (pq_opts_t){.M = 8, .nbits = 8, .iterations = 10});
    double e4 = rel_error(s4, x, n, d), e8 = rel_error(s8, x, n, d);
    if (!(e4 > e8 && e4 < 0.5)) fail_msg("nbits 4 error %.4g, nbits 8 error %.4g", e4, e8);
    assert_true(s4->ops->bytes(s4) < s8->ops->bytes(s8));
    cn_store_release(s4);
    cn_store_release(s8);
    cn_store_release(full);
    free(x);
}

/* ---- SIMD levels ---------------------------------------------------------------- */

static void test_simd_levels_agree(void **state) {
    (void)state;
    char err[ERRLEN] = "";
    const size_t n = 600, d = 48;
    const int Ms[] = {3, 12, 16, 24, 48}; /* tails of 8/16-wide gathers */
    float *x = clustered(n, d, 20, 0.3f, 300);
    int levels_run = 0;
    for (int mi = 0; mi < 3; mi++) {
        cn_metric_t m = (cn_metric_t)mi;
        cn_store_t *full = dense(x, n, d, m);
        for (size_t k = 0; k < sizeof Ms / sizeof Ms[0]; k++) {
            cn_store_t *s = pq_of(full, (pq_opts_t){.M = Ms[k], .nbits = k == 1 ? 4 : 8,
                                                    .iterations = 3});
            cn_evaluator_t *ref = NULL;
            assert_int_equal(cn_pq_evaluator_create_at(s, CN_SIMD_SCALAR, &ref, err, sizeof err),
                             CN_OK);
            cn_vec_t v = {.dense = x + 3 * d};
            assert_int_equal(ref->ops->set_query(ref, &v, err, sizeof err), CN_OK);
            uint32_t ids[97];
            uint64_t rng = 4;
            for (size_t i = 0; i < 97; i++) ids[i] = (uint32_t)(cn_test_rand(&rng) % n);
            float r1[97], r2[97], r3[600];
            ref->ops->dist_batch(ref, ids, 97, r1);
            ref->ops->dist_pairs(ref, 17, ids, 97, r2);
            ref->ops->dist_range(ref, 0, n, r3);
            for (int l = CN_SIMD_AVX2; l <= CN_SIMD_AVX512; l++) {
                cn_evaluator_t *ev = NULL;
                cn_status_t st = cn_pq_evaluator_create_at(s, (cn_simd_level_t)l, &ev, err,
                                                           sizeof err);
                if (!cn_pq_kernels_at((cn_simd_level_t)l)) {
                    assert_int_equal(st, CN_EUNSUPPORTED);
                    continue;
                }
                assert_int_equal(st, CN_OK);
                levels_run++;
                assert_int_equal(ev->ops->set_query(ev, &v, err, sizeof err), CN_OK);
                float o[600];
                ev->ops->dist_batch(ev, ids, 97, o);
                for (size_t i = 0; i < 97; i++) check_close("simd batch", o[i], r1[i], 1.0);
                ev->ops->dist_pairs(ev, 17, ids, 97, o);
                for (size_t i = 0; i < 97; i++) check_close("simd pairs", o[i], r2[i], 1.0);
                ev->ops->dist_range(ev, 0, n, o);
                for (size_t i = 0; i < n; i++) check_close("simd range", o[i], r3[i], 1.0);
                /* nearest-centroid kernels choose the same centroids */
                const cn_pq_kernels_t *kl = cn_pq_kernels_at((cn_simd_level_t)l);
                const cn_pq_kernels_t *ks = cn_pq_kernels_at(CN_SIMD_SCALAR);
                uint32_t a1[50], a2[50];
                float d1[50], d2[50], acc[64];
                float ct[64 * 6];
                for (size_t c = 0; c < 64; c++)
                    for (size_t j = 0; j < 6; j++) ct[j * 64 + c] = x[(c * 7) * d + j];
                ks->nearest(ct, 61, 6, x + 100 * d, 50, a1, d1, acc);
                kl->nearest(ct, 61, 6, x + 100 * d, 50, a2, d2, acc);
                assert_memory_equal(a1, a2, sizeof a1);
                assert_memory_equal(d1, d2, sizeof d1);
                cn_evaluator_destroy(ev);
            }
            cn_evaluator_destroy(ref);
            cn_store_release(s);
        }
        cn_store_release(full);
    }
    print_message("SIMD levels compared with scalar: %d runs (detected %s, in use %s)\n",
                  levels_run, cn_simd_name(cn_simd_detect()), cn_simd_name(cn_simd_level()));
    free(x);
}

/* The SIMD gather sums (CANNOLI_PQ_SUM=gather) agree with the scalar loop:
 * kernels directly for every M around the 8 / 16-wide tails, in ADC and SDC
 * offset form, then a whole evaluator switched by the environment. */
static void test_gather_sums_agree(void **state) {
    (void)state;
    const size_t n = 300;
    const size_t Ms[] = {1, 3, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 48, 64};
    const size_t ksubs[] = {16, 256};
    const cn_pq_kernels_t *ks = cn_pq_kernels_at(CN_SIMD_SCALAR);
    assert_null(ks->gbatch);
    int runs = 0;
    uint64_t rng = 99;
    for (int l = CN_SIMD_AVX2; l <= CN_SIMD_AVX512; l++) {
        const cn_pq_kernels_t *kl = cn_pq_kernels_at((cn_simd_level_t)l);
        if (!kl) continue;
        assert_non_null(kl->gbatch);
        assert_non_null(kl->grange);
        for (size_t a = 0; a < sizeof ksubs / sizeof ksubs[0]; a++) {
            for (size_t b = 0; b < sizeof Ms / sizeof Ms[0]; b++) {
                const size_t M = Ms[b], ksub = ksubs[a];
                float *table = malloc(M * ksub * sizeof(float));
                uint8_t *codes = malloc(n * M + 16);
                int32_t off[64];
                uint32_t ids[77];
                float r[300], g[300];
                for (size_t i = 0; i < M * ksub; i++)
                    table[i] = (float)(cn_test_rand(&rng) % 100000) / 1000.0f;
                for (size_t i = 0; i < n * M; i++) codes[i] = (uint8_t)(cn_test_rand(&rng) % ksub);
                for (size_t i = 0; i < 77; i++) ids[i] = (uint32_t)(cn_test_rand(&rng) % n);
                for (size_t m = 0; m < M; m++) off[m] = (int32_t)(m * ksub);
                ks->batch(table, NULL, ksub, codes, M, ids, 77, r);
                kl->gbatch(table, off, ksub, codes, M, ids, 77, g);
                for (size_t i = 0; i < 77; i++) check_close("gather batch", g[i], r[i], 1e-3);
                ks->range(table, NULL, ksub, codes, M, 0, n, r);
                kl->grange(table, off, ksub, codes, M, 0, n, g);
                for (size_t i = 0; i < n; i++) check_close("gather range", g[i], r[i], 1e-3);
                /* offsets that are not s * ksub (the SDC form; rows of one table) */
                for (size_t m = 0; m < M; m++)
                    off[m] = (int32_t)((cn_test_rand(&rng) % M) * ksub);
                ks->batch(table, off, ksub, codes, M, ids, 77, r);
                kl->gbatch(table, off, ksub, codes, M, ids, 77, g);
                for (size_t i = 0; i < 77; i++) check_close("gather sdc", g[i], r[i], 1e-3);
                free(table);
                free(codes);
                runs++;
            }
        }
    }
    /* A whole evaluator with the gathers on, against the default. */
    char err[ERRLEN] = "";
    const size_t d = 40;
    float *x = clustered(n, d, 10, 0.3f, 301);
    cn_store_t *full = dense(x, n, d, CN_METRIC_L2);
    cn_store_t *s = pq_of(full, (pq_opts_t){.M = 20, .nbits = 8, .iterations = 3});
    cn_evaluator_t *e1 = NULL, *e2 = NULL;
    assert_int_equal(cn_store_evaluator(s, &e1, err, sizeof err), CN_OK);
    setenv("CANNOLI_PQ_SUM", "gather", 1);
    assert_int_equal(cn_store_evaluator(s, &e2, err, sizeof err), CN_OK);
    unsetenv("CANNOLI_PQ_SUM");
    cn_vec_t v = {.dense = x + 5 * d};
    assert_int_equal(e1->ops->set_query(e1, &v, err, sizeof err), CN_OK);
    assert_int_equal(e2->ops->set_query(e2, &v, err, sizeof err), CN_OK);
    float o1[300], o2[300];
    e1->ops->dist_range(e1, 0, n, o1);
    e2->ops->dist_range(e2, 0, n, o2);
    for (size_t i = 0; i < n; i++) check_close("evaluator gather", o2[i], o1[i], 1e-3);
    e1->ops->dist_pairs(e1, 7, (const uint32_t[]){1, 2, 3, 299}, 4, o1);
    e2->ops->dist_pairs(e2, 7, (const uint32_t[]){1, 2, 3, 299}, 4, o2);
    for (size_t i = 0; i < 4; i++) check_close("evaluator gather pairs", o2[i], o1[i], 1e-3);
    cn_evaluator_destroy(e1);
    cn_evaluator_destroy(e2);
    cn_store_release(s);
    cn_store_release(full);
    free(x);
    print_message("gather sums compared with scalar: %d kernel cases\n", runs);
}

/* ---- persistence --------------------------------------------------------------- */

static void save_payload(const cn_store_t *s, const char *path) {
    char err[ERRLEN] = "";
    cn_writer_t w;
    assert_int_equal(cn_writer_open(&w, path, err, sizeof err), CN_OK);
    s->ops->save(s, &w);
    if (cn_writer_close(&w, err, sizeof err) != CN_OK) fail_msg("close: %s", err);
}

/* Raw payload bytes of a file written through cn_writer. */
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

static cn_status_t load_payload(const char *path, cn_metric_t m, uint32_t n, uint32_t d,
                                cn_store_t **out, char *err) {
    cn_reader_t r;
    if (cn_reader_open(&r, path, err, ERRLEN) != CN_OK) fail_msg("open: %s", err);
    cn_status_t st = cn_registry_store_loader("pq")(out, &r, m, n, d, err, ERRLEN);
    cn_reader_close(&r);
    return st;
}

static void check_roundtrip(cn_metric_t m, int nbits) {
    const size_t n = 900, d = 24;
    char err[ERRLEN] = "", path[1024];
    float *x = clustered(n, d, 15, 0.3f, 400 + (uint64_t)m);
    cn_store_t *full = dense(x, n, d, m);
    cn_store_t *s = pq_of(full, (pq_opts_t){.M = 6, .nbits = nbits, .iterations = 5});
    snprintf(path, sizeof path, "%s/pq_%s_%d.bin", cn_test_tmpdir(), cn_metric_name(m), nbits);
    cn_writer_t w;
    assert_int_equal(cn_writer_open(&w, path, err, sizeof err), CN_OK);
    cn_store_save(s, &w);
    cn_write_u32(&w, 0xC0FFEEu);
    assert_int_equal(cn_writer_close(&w, err, sizeof err), CN_OK);

    cn_reader_t r;
    assert_int_equal(cn_reader_open(&r, path, err, sizeof err), CN_OK);
    cn_store_t *t = NULL;
    cn_status_t st = cn_store_load(&t, &r, err, sizeof err);
    if (st != CN_OK) fail_msg("load: %s", err);
    assert_int_equal(cn_read_u32(&r), 0xC0FFEEu);
    assert_int_equal(cn_reader_remaining(&r), 0);
    cn_reader_close(&r);
    assert_true(cn_store_is_pq(t));
    assert_int_equal(t->n, n);
    assert_int_equal(t->dim, d);
    assert_int_equal(t->metric, m);
    assert_int_equal(t->refs, 1);
    assert_int_equal(cn_pq_subspaces(t), 6);
    assert_int_equal(cn_pq_nbits(t), nbits);
    assert_memory_equal(cn_pq_codes(t), cn_pq_codes(s), n * 6);
    assert_memory_equal(cn_pq_codebooks(t), cn_pq_codebooks(s), d * (1u << nbits) * sizeof(float));
    assert_int_equal(t->ops->bytes(t), s->ops->bytes(s));
    cn_evaluator_t *e1 = NULL, *e2 = NULL;
    assert_int_equal(cn_store_evaluator(s, &e1, err, sizeof err), CN_OK);
    assert_int_equal(cn_store_evaluator(t, &e2, err, sizeof err), CN_OK);
    cn_vec_t v = {.dense = x + 8 * d};
    assert_int_equal(e1->ops->set_query(e1, &v, err, sizeof err), CN_OK);
    assert_int_equal(e2->ops->set_query(e2, &v, err, sizeof err), CN_OK);
    float *o1 = malloc(n * sizeof *o1), *o2 = malloc(n * sizeof *o2);
    e1->ops->dist_range(e1, 0, n, o1);
    e2->ops->dist_range(e2, 0, n, o2);
    assert_memory_equal(o1, o2, n * sizeof *o1);
    uint32_t ids[5] = {0, 5, 899, 17, 5};
    e1->ops->dist_pairs(e1, 3, ids, 5, o1);
    e2->ops->dist_pairs(e2, 3, ids, 5, o2);
    assert_memory_equal(o1, o2, 5 * sizeof *o1);
    free(o1);
    free(o2);
    cn_evaluator_destroy(e1);
    cn_evaluator_destroy(e2);
    cn_store_release(t);
    cn_store_release(s);
    cn_store_release(full);
    free(x);
}

static void test_save_load(void **state) {
    (void)state;
    check_roundtrip(CN_METRIC_L2, 8);
    check_roundtrip(CN_METRIC_IP, 8);
    check_roundtrip(CN_METRIC_COSINE, 8);
    check_roundtrip(CN_METRIC_L2, 4);
}

static void test_corrupt_payload(void **state) {
    (void)state;
    const uint32_t n = 300, d = 16;
    char err[ERRLEN] = "", path[1024], bad[1024];
    float *x = clustered(n, d, 10, 0.3f, 500);
    cn_store_t *full = dense(x, n, d, CN_METRIC_L2);
    cn_store_t *s = pq_of(full, (pq_opts_t){.M = 4, .nbits = 4, .iterations = 3});
    snprintf(path, sizeof path, "%s/pq_payload.bin", cn_test_tmpdir());
    snprintf(bad, sizeof bad, "%s/pq_bad.bin", cn_test_tmpdir());
    save_payload(s, path);
    cn_store_t *t = NULL;
    assert_int_equal(load_payload(path, CN_METRIC_L2, n, d, &t, err), CN_OK);
    cn_store_release(t);

    long live = cn_test_alloc_live();
    /* claimed shapes the payload cannot hold */
    const uint32_t claims[][2] = {{n + 1, d},         {1000000, d},       {n, 12},
                                  {n, 1u << 30},      {0xFFFFFFFFu, d},   {n, 3},
                                  {0x80000000u, 16}};
    for (size_t c = 0; c < sizeof claims / sizeof claims[0]; c++) {
        t = NULL;
        err[0] = 0;
        cn_status_t st = load_payload(path, CN_METRIC_L2, claims[c][0], claims[c][1], &t, err);
        if (st == CN_OK) fail_msg("accepted n=%u dim=%u", claims[c][0], claims[c][1]);
        assert_int_equal(st, CN_EFORMAT);
        assert_null(t);
        if (!strstr(err, "pq_payload.bin")) fail_msg("message does not name the file: %s", err);
        assert_int_equal(cn_test_alloc_live(), live);
    }

    size_t len;
    unsigned char *p = read_payload(path, &len);
    unsigned char *q = malloc(len + 16);
    struct {
        const char *what;
        size_t off;     /* byte to change, or SIZE_MAX */
        unsigned char v;
        size_t cut;     /* truncated length, or 0 */
    } cases[] = {
        {"magic", 0, 0x00, 0},
        {"subspaces 0", 4, 0x00, 0},
        {"subspaces 5", 4, 0x05, 0},
        {"subspaces huge", 7, 0x7f, 0},
        {"nbits 9", 8, 0x09, 0},
        {"nbits 3", 8, 0x03, 0},
        {"codebook NaN", 12 + 3, 0xff, 0},
        {"code >= 16", len - 5, 0x10, 0},
        {"truncated codes", SIZE_MAX, 0, len - 1},
        {"truncated codebooks", SIZE_MAX, 0, 40},
        {"header only", SIZE_MAX, 0, 12},
        {"empty", SIZE_MAX, 0, 5},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        memcpy(q, p, len);
        size_t ql = cases[c].cut ? cases[c].cut : len;
        if (cases[c].off != SIZE_MAX) {
            q[cases[c].off] = cases[c].v;
            if (strcmp(cases[c].what, "codebook NaN") == 0) q[12 + 2] = 0xff; /* 0xffff.... */
        }
        write_payload(bad, q, ql);
        t = NULL;
        err[0] = 0;
        cn_status_t st = load_payload(bad, CN_METRIC_L2, n, d, &t, err);
        if (st != CN_EFORMAT) fail_msg("%s: got %d (%s)", cases[c].what, (int)st, err);
        assert_null(t);
        if (!strstr(err, "pq_bad.bin")) fail_msg("%s: message does not name the file: %s",
                                                 cases[c].what, err);
        assert_int_equal(cn_test_alloc_live(), live);
    }
    /* random byte flips never crash: either a clean error or a valid store */
    uint64_t rng = 8;
    for (int trial = 0; trial < 60; trial++) {
        memcpy(q, p, len);
        for (int f = 0; f < 3; f++) q[cn_test_rand(&rng) % len] ^= (unsigned char)(1 + trial);
        write_payload(bad, q, len);
        t = NULL;
        cn_status_t st = load_payload(bad, CN_METRIC_L2, n, d, &t, err);
        if (st == CN_OK) {
            cn_evaluator_t *ev = NULL;
            assert_int_equal(cn_store_evaluator(t, &ev, err, sizeof err), CN_OK);
            cn_vec_t v = {.dense = x};
            assert_int_equal(ev->ops->set_query(ev, &v, err, sizeof err), CN_OK);
            float o[300];
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

/* ---- training ------------------------------------------------------------------ */

static void test_train_deterministic(void **state) {
    (void)state;
    const size_t n = under_valgrind() ? 1000 : 4000, d = 32;
    float *x = clustered(n, d, 60, 0.3f, 600);
    cn_store_t *full = dense(x, n, d, CN_METRIC_L2);
    int saved = omp_get_max_threads();
    pq_opts_t o = {.M = 8, .iterations = 6, .train_size = (int)(n / 2), .seed = 5};
    omp_set_num_threads(1);
    cn_store_t *a = pq_of(full, o);
    omp_set_num_threads(2);
    cn_store_t *b = pq_of(full, o);
    omp_set_num_threads(saved);
    assert_memory_equal(cn_pq_codebooks(a), cn_pq_codebooks(b), d * 256 * sizeof(float));
    assert_memory_equal(cn_pq_codes(a), cn_pq_codes(b), n * 8);
    /* another seed samples and initialises differently */
    o.seed = 6;
    cn_store_t *c = pq_of(full, o);
    assert_memory_not_equal(cn_pq_codebooks(a), cn_pq_codebooks(c), d * 256 * sizeof(float));
    /* random initialisation works too */
    o.init = "random";
    cn_store_t *r = pq_of(full, o);
    double er = rel_error(r, x, n, d), ea = rel_error(a, x, n, d);
    if (!(er < 2 * ea + 0.01)) fail_msg("random init error %.4g vs kmeans++ %.4g", er, ea);
    cn_store_release(a);
    cn_store_release(b);
    cn_store_release(c);
    cn_store_release(r);
    cn_store_release(full);
    free(x);
}

static void test_out_of_memory(void **state) {
    (void)state;
    const size_t n = 200, d = 8;
    float *x = clustered(n, d, 10, 0.3f, 700);
    cn_store_t *full = dense(x, n, d, CN_METRIC_IP);
    long base = cn_test_alloc_live();
    int ok = 0;
    for (long f = 0; f < 200 && !ok; f++) {
        char err[ERRLEN] = "";
        cn_quantizer_t *q = NULL;
        cn_store_t *s = NULL;
        cn_evaluator_t *ev = NULL;
        cn_test_alloc_fail_after(f);
        cn_status_t st = make_quantizer(&q, CN_METRIC_IP, d, (pq_opts_t){.M = 4, .nbits = 4,
                                                                          .iterations = 2},
                                        err, sizeof err);
        if (st == CN_OK) st = q->ops->train(q, full, err, sizeof err);
        if (st == CN_OK) st = q->ops->encode(q, full, &s, err, sizeof err);
        if (st == CN_OK) st = cn_store_evaluator(s, &ev, err, sizeof err);
        cn_test_alloc_fail_after(-1);
        if (st == CN_OK) ok = 1;
        else if (st != CN_ENOMEM) fail_msg("fail_after %ld: status %d (%s)", f, (int)st, err);
        cn_evaluator_destroy(ev);
        cn_store_release(s);
        cn_quantizer_destroy(q);
        assert_int_equal(cn_test_alloc_live(), base);
    }
    assert_true(ok);
    cn_store_release(full);
    free(x);
}

/* ---- HNSW on full precision, searched through PQ ---------------------------------- */

static void test_hnsw_through_pq(void **state) {
    (void)state;
    char err[ERRLEN] = "";
    size_t n = 0, d = 0, nq = 0, dq = 0;
    size_t want = under_valgrind() ? 1500 : 10000;
    float *x = cn_test_load_bvecs("sift-debian-10k_base.bvecs", want, &n, &d);
    float *qs = NULL;
    int M = 16;
    if (x) {
        qs = cn_test_load_bvecs("sift-debian-10k_query.bvecs", under_valgrind() ? 10 : 100, &nq, &dq);
        if (!qs || dq != d) {
            free(qs);
            qs = NULL;
        }
    } else {
        d = 32;
        n = under_valgrind() ? 1500 : 5000;
        x = clustered(n, d, 100, 0.3f, 800);
        M = 8;
    }
    if (!qs) { /* queries: perturbed base vectors */
        nq = under_valgrind() ? 10 : 100;
        qs = malloc(nq * d * sizeof *qs);
        uint64_t rng = 3;
        for (size_t i = 0; i < nq; i++)
            for (size_t j = 0; j < d; j++)
                qs[i * d + j] = x[((i * 37) % n) * d + j] * (1.0f + 0.05f * cn_test_randf(&rng));
    }
    cn_store_t *full = dense(x, n, d, CN_METRIC_L2);
    cn_store_t *pq = pq_of(full, (pq_opts_t){.M = M, .iterations = under_valgrind() ? 4 : 10});
    cn_index_t *ix = NULL;
    cn_param_t bp[2] = {{.key = "M", .type = CN_PARAM_INT, .i = 16, .f = 16},
                        {.key = "ef_construction", .type = CN_PARAM_INT, .i = 100, .f = 100}};
    cn_params_t bps = {bp, 2};
    assert_int_equal(cn_index_create(&ix, "hnsw", CN_METRIC_L2, (uint32_t)d, &bps, err, sizeof err),
                     CN_OK);
    if (cn_index_build(ix, full, pq, full, 2, err, sizeof err) != CN_OK) fail_msg("build: %s", err);
    assert_ptr_equal(ix->store, pq);
    cn_search_ctx_t *ctx = NULL;
    assert_int_equal(cn_search_ctx_create(ix, &ctx, err, sizeof err), CN_OK);
    cn_param_t sp[2] = {{.key = "ef", .type = CN_PARAM_INT, .i = 128, .f = 128},
                        {.key = "rerank", .type = CN_PARAM_INT, .i = 100, .f = 100}};
    cn_params_t sps = {sp, 2};
    if (cn_search_ctx_set_params(ctx, &sps, err, sizeof err) != CN_OK) fail_msg("params: %s", err);
    size_t hits = 0, hits_norerank = 0;
    uint32_t ids[10], gt[10];
    float dists[10];
    for (size_t i = 0; i < nq; i++) {
        cn_vec_t v = {.dense = qs + i * d};
        assert_int_equal(cn_index_search(ctx, &v, 10, ids, dists, NULL, err, sizeof err), CN_OK);
        cn_test_brute_knn(x, n, d, qs + i * d, 0, 10, gt);
        for (int a = 0; a < 10; a++)
            for (int b = 0; b < 10; b++) hits += ids[a] == gt[b];
    }
    /* without re-ranking the PQ distances alone are clearly less accurate */
    sp[1].i = 0;
    sp[1].f = 0;
    assert_int_equal(cn_search_ctx_set_params(ctx, &sps, err, sizeof err), CN_OK);
    for (size_t i = 0; i < nq; i++) {
        cn_vec_t v = {.dense = qs + i * d};
        assert_int_equal(cn_index_search(ctx, &v, 10, ids, dists, NULL, err, sizeof err), CN_OK);
        cn_test_brute_knn(x, n, d, qs + i * d, 0, 10, gt);
        for (int a = 0; a < 10; a++)
            for (int b = 0; b < 10; b++) hits_norerank += ids[a] == gt[b];
    }
    double recall = (double)hits / (double)(nq * 10);
    double recall0 = (double)hits_norerank / (double)(nq * 10);
    print_message("hnsw over pq (n=%zu d=%zu M=%d): recall@10 %.4f with rerank=100, %.4f without\n",
                  n, d, M, recall, recall0);
    if (!(recall >= 0.95)) fail_msg("recall@10 %.4f < 0.95", recall);
    assert_true(recall0 < recall);
    cn_search_ctx_destroy(ctx);
    cn_index_destroy(ix);
    cn_store_release(pq);
    cn_store_release(full);
    free(qs);
    free(x);
}

/* build_on quantized: an index built on the PQ codes (the build reaches for
 * the SDC tables through dist_pairs) reports the same bytes fresh and after a
 * save/load round trip: cn_index_build drops the build-only tables. */
static void test_build_on_codes_bytes(void **state) {
    (void)state;
    char err[ERRLEN] = "", path[1024];
    const size_t n = under_valgrind() ? 600 : 2000, d = 16;
    float *x = clustered(n, d, 20, 0.3f, 901);
    cn_store_t *full = dense(x, n, d, CN_METRIC_L2);
    cn_store_t *pq = pq_of(full, (pq_opts_t){.M = 8, .iterations = 5});
    assert_false(cn_pq_has_sdc(pq));
    cn_index_t *ix = NULL, *ix2 = NULL;
    cn_param_t bp = {.key = "ef_construction", .type = CN_PARAM_INT, .i = 40, .f = 40};
    cn_params_t bps = {&bp, 1};
    assert_int_equal(cn_index_create(&ix, "hnsw", CN_METRIC_L2, (uint32_t)d, &bps, err, sizeof err),
                     CN_OK);
    if (cn_index_build(ix, pq, pq, NULL, 2, err, sizeof err) != CN_OK) fail_msg("build: %s", err);
    assert_false(cn_pq_has_sdc(pq)); /* built during the build, dropped after it */
    size_t fresh = cn_index_bytes(ix);
    snprintf(path, sizeof path, "%s/pq_codes.cnidx", cn_test_tmpdir());
    if (cn_index_save(ix, path, err, sizeof err) != CN_OK) fail_msg("save: %s", err);
    if (cn_index_load(&ix2, path, err, sizeof err) != CN_OK) fail_msg("load: %s", err);
    assert_int_equal(cn_index_bytes(ix2), fresh);
    /* the user's build parameters are saved as given, not completed */
    assert_string_equal(ix->build_params, "ef_construction=40");
    assert_string_equal(ix2->build_params, "ef_construction=40");
    cn_index_destroy(ix2);
    cn_index_destroy(ix);
    cn_store_release(pq);
    cn_store_release(full);
    free(x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_odd_widths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconstruction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evaluator_l2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evaluator_ip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evaluator_cosine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nbits4, setup, teardown),
        cmocka_unit_test_setup_teardown(test_simd_levels_agree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gather_sums_agree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_payload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_train_deterministic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hnsw_through_pq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build_on_codes_bytes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
