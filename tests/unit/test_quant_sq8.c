/*
 * test_quant_sq8.c — the 8-bit scalar quantizer and its sq8 store
 * (quant/sq8.c, sq8_avx2.c, sq8_avx512.c).
 *
 * Training must find the per-dimension ranges (of all rows, or of a seeded
 * sample of train_size rows), encoding must round to the nearest code with
 * clamping (error <= scale/2; a constant dimension decodes exactly), and the
 * distances of every SIMD level must equal the float distance to the decoded
 * vector within 1e-4 relative, for l2/ip/cosine and dims 1..67 (all tail
 * lengths), also for queries outside the trained range. Also: batch ==
 * single, pairs, query by id, cosine normalisation, save/load bit exact,
 * corrupt files -> CN_EFORMAT, and HNSW built on float32 and searched through
 * sq8 (with and without re-ranking). Every test runs under the counting
 * allocator and must leave zero live blocks.
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
#include "quant/sq8_internal.h"

#define ERRLEN 512

static int under_valgrind(void) {
    const char *v = getenv("CN_TEST_UNDER_VALGRIND");
    return v && v[0] == '1';
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

static const cn_simd_level_t all_levels[3] = {CN_SIMD_SCALAR, CN_SIMD_AVX2, CN_SIMD_AVX512};
static const cn_metric_t all_metrics[3] = {CN_METRIC_L2, CN_METRIC_IP, CN_METRIC_COSINE};

/* ---- helpers ------------------------------------------------------------------- */

static cn_store_t *make_dense(const float *data, uint32_t n, uint32_t d, cn_metric_t m) {
    char err[ERRLEN] = "";
    cn_store_t *s = NULL;
    if (cn_store_dense_create(&s, data, n, d, m, err, sizeof err) != CN_OK)
        fail_msg("dense store: %s", err);
    return s;
}

/* train_size / seed < 0: default. */
static cn_store_t *encode_sq8(cn_store_t *full, long long train_size, long long seed) {
    char err[ERRLEN] = "";
    cn_param_t items[2];
    cn_params_t p = {items, 0};
    if (train_size >= 0)
        items[p.n++] = (cn_param_t){.key = "train_size", .type = CN_PARAM_INT, .i = train_size,
                                    .f = (double)train_size};
    if (seed >= 0)
        items[p.n++] =
            (cn_param_t){.key = "seed", .type = CN_PARAM_INT, .i = seed, .f = (double)seed};
    cn_quantizer_t *q = NULL;
    cn_status_t st = cn_quantizer_create(&q, "sq8", full->metric, full->dim, &p, err, sizeof err);
    if (st != CN_OK) fail_msg("create sq8: %s", err);
    assert_string_equal(q->ops->name, "sq8");
    assert_int_equal(q->ops->bytes_per_vector(q), (size_t)full->dim);
    if (q->ops->train(q, full, err, sizeof err) != CN_OK) fail_msg("train: %s", err);
    cn_store_t *enc = NULL;
    if (q->ops->encode(q, full, &enc, err, sizeof err) != CN_OK) fail_msg("encode: %s", err);
    cn_quantizer_destroy(q);
    assert_non_null(enc);
    assert_true(cn_store_is_sq8(enc));
    assert_string_equal(enc->ops->name, "sq8");
    assert_int_equal(enc->n, full->n);
    assert_int_equal(enc->dim, full->dim);
    assert_int_equal(enc->metric, full->metric);
    assert_int_equal(enc->refs, 1);
    return enc;
}

/* Internal score of q to x in double; q normalised first for cosine. */
static double ref_score(const float *q, const float *x, size_t d, cn_metric_t m, double *mag) {
    double qn = 1.0;
    if (m == CN_METRIC_COSINE) {
        double s = 0;
        for (size_t j = 0; j < d; j++) s += (double)q[j] * q[j];
        qn = s > 0 ? 1.0 / sqrt(s) : 1.0;
    }
    double s = 0, mg = 0;
    for (size_t j = 0; j < d; j++) {
        double a = (double)q[j] * qn, b = x[j];
        if (m == CN_METRIC_L2) {
            s += (a - b) * (a - b);
            mg += (a - b) * (a - b);
        } else {
            s += a * b;
            mg += fabs(a * b);
        }
    }
    *mag = mg;
    return m == CN_METRIC_L2 ? s : -s;
}

static void check(const char *what, cn_simd_level_t l, cn_metric_t m, size_t d, uint32_t id,
                  float got, double want, double tol) {
    if (!(fabs((double)got - want) <= tol))
        fail_msg("%s [%s %s d=%zu] id %u: got %.9g want %.9g (tol %.3g)", what, cn_simd_name(l),
                 cn_metric_name(m), d, id, (double)got, want, tol);
}

/* 1e-4 relative to the size of the terms summed. */
static double tol_of(double want, double mag) { return 1e-4 * (fabs(want) + mag) + 1e-6; }

/* Data with per-dimension offsets and widths, two constant dimensions. */
static float *shaped_data(uint32_t n, uint32_t d, uint64_t seed) {
    float *x = cn_test_random_matrix(n, d, seed);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < d; j++) {
            float *v = &x[(size_t)i * d + j];
            *v = *v * (0.5f + (float)j) + 0.25f * ((float)j - 10.0f);
            if (j == 3) *v = 0.37f;
            if (j == 5) *v = -2.5f;
        }
    return x;
}

/* ---- training and encoding ------------------------------------------------------- */

static void test_train_encode_decode(void **state) {
    (void)state;
    const uint32_t n = under_valgrind() ? 300 : 3000, d = 37;
    float *data = shaped_data(n, d, 1);
    float *out = malloc(d * sizeof *out);
    for (int mi = 0; mi < 2; mi++) {
        cn_metric_t m = all_metrics[mi];
        cn_store_t *full = make_dense(data, n, d, m);
        cn_store_t *enc = encode_sq8(full, -1, -1);
        const float *mn = cn_store_sq8_min(enc), *sc = cn_store_sq8_scale(enc);
        assert_true(enc->ops->bytes(enc) >= (size_t)n * d + 8 * d);
        assert_true(enc->ops->bytes(enc) < (size_t)n * d + 8 * d + 4096);
        for (uint32_t j = 0; j < d; j++) {
            float lo = INFINITY, hi = -INFINITY;
            for (uint32_t i = 0; i < n; i++) {
                lo = fminf(lo, data[(size_t)i * d + j]);
                hi = fmaxf(hi, data[(size_t)i * d + j]);
            }
            if (mn[j] != lo) fail_msg("dim %u: min %g, want %g", j, (double)mn[j], (double)lo);
            assert_float_equal(sc[j], ((double)hi - lo) / 255.0, 1e-7 * (hi - lo) + 1e-30);
            if (j == 3 || j == 5) assert_true(sc[j] == 0.0f);
            else assert_true(sc[j] > 0.0f);
        }
        for (uint32_t i = 0; i < n; i++) {
            const uint8_t *c = cn_store_sq8_code(enc, i);
            enc->ops->decode(enc, i, out);
            for (uint32_t j = 0; j < d; j++) {
                float x = data[(size_t)i * d + j];
                if (sc[j] == 0) { /* constant dimension: code 0, exact */
                    assert_int_equal(c[j], 0);
                    if (out[j] != x) fail_msg("constant dim %u decodes to %.9g", j, (double)out[j]);
                    continue;
                }
                double t = ((double)x - mn[j]) / sc[j];
                if (!(fabs((double)c[j] - t) <= 0.5 + 1e-6))
                    fail_msg("row %u dim %u: code %u for t=%.6f", i, j, c[j], t);
                if (out[j] != mn[j] + sc[j] * (float)c[j])
                    fail_msg("decode row %u dim %u", i, j);
                double tol = sc[j] / 2 * (1 + 1e-5) + 4e-7 * (fabs(mn[j]) + fabs(mn[j] + 255 * sc[j]));
                if (!(fabs((double)out[j] - x) <= tol))
                    fail_msg("row %u dim %u: %.9g decoded as %.9g (scale %g)", i, j, (double)x,
                             (double)out[j], (double)sc[j]);
            }
        }
        /* the extremes use the end codes */
        for (uint32_t j = 0; j < d; j++) {
            if (sc[j] == 0) continue;
            int has0 = 0, has255 = 0;
            for (uint32_t i = 0; i < n; i++) {
                has0 |= cn_store_sq8_code(enc, i)[j] == 0;
                has255 |= cn_store_sq8_code(enc, i)[j] == 255;
            }
            assert_true(has0 && has255);
        }
        cn_store_release(enc);
        cn_store_release(full);
    }
    free(out);
    free(data);
}

static void test_out_of_range_clamped(void **state) {
    (void)state;
    const uint32_t n = 800, d = 11;
    float *data = cn_test_random_matrix(n, d, 2);
    cn_store_t *full = make_dense(data, n, d, CN_METRIC_L2);
    /* trained on a small sample: many rows fall outside the trained ranges */
    cn_store_t *enc = encode_sq8(full, 20, 7);
    const float *mn = cn_store_sq8_min(enc), *sc = cn_store_sq8_scale(enc);
    size_t below = 0, above = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *c = cn_store_sq8_code(enc, i);
        for (uint32_t j = 0; j < d; j++) {
            float x = data[(size_t)i * d + j];
            if (x < mn[j]) {
                below++;
                assert_int_equal(c[j], 0);
            } else if (x > mn[j] + 255.0f * sc[j] + sc[j]) {
                above++;
                assert_int_equal(c[j], 255);
            }
        }
    }
    assert_true(below > 100 && above > 100);
    /* queries far outside the range: distances to the decoded vectors */
    char err[ERRLEN] = "";
    float q[11], x[11];
    for (uint32_t j = 0; j < d; j++) q[j] = (j % 2 ? 50.0f : -30.0f) + (float)j;
    for (int l = 0; l < 3; l++) {
        cn_evaluator_t *ev = NULL;
        if (cn_sq8_evaluator_create_at(enc, all_levels[l], &ev, err, sizeof err) != CN_OK)
            continue;
        cn_vec_t v = {.dense = q};
        assert_int_equal(ev->ops->set_query(ev, &v, err, sizeof err), CN_OK);
        for (uint32_t i = 0; i < n; i++) {
            double mag;
            enc->ops->decode(enc, i, x);
            double want = ref_score(q, x, d, CN_METRIC_L2, &mag);
            check("far query", all_levels[l], CN_METRIC_L2, d, i, ev->ops->dist(ev, i), want,
                  tol_of(want, mag));
        }
        cn_evaluator_destroy(ev);
    }
    cn_store_release(enc);
    cn_store_release(full);
    free(data);
}

static void test_train_sampling(void **state) {
    (void)state;
    const uint32_t n = 5000, d = 8;
    char err[ERRLEN] = "";
    float *data = cn_test_random_matrix(n, d, 3);
    cn_store_t *full = make_dense(data, n, d, CN_METRIC_L2);
    cn_store_t *a = encode_sq8(full, 100, 1), *b = encode_sq8(full, 100, 1);
    cn_store_t *c = encode_sq8(full, 100, 2), *all = encode_sq8(full, 5000, 1);
    cn_store_t *dflt = encode_sq8(full, -1, -1);
    /* same seed: identical; other seed: different sample */
    assert_memory_equal(cn_store_sq8_min(a), cn_store_sq8_min(b), d * sizeof(float));
    assert_memory_equal(cn_store_sq8_scale(a), cn_store_sq8_scale(b), d * sizeof(float));
    assert_memory_equal(cn_store_sq8_code(a, 0), cn_store_sq8_code(b, 0), (size_t)n * d);
    assert_true(memcmp(cn_store_sq8_min(a), cn_store_sq8_min(c), d * sizeof(float)) != 0);
    /* train_size >= n: every row (= the default here) */
    assert_memory_equal(cn_store_sq8_min(all), cn_store_sq8_min(dflt), d * sizeof(float));
    assert_memory_equal(cn_store_sq8_scale(all), cn_store_sq8_scale(dflt), d * sizeof(float));
    /* a sample's range lies inside the full range, and is narrower */
    int narrower = 0;
    for (uint32_t j = 0; j < d; j++) {
        float lo = cn_store_sq8_min(a)[j], hi = lo + 255 * cn_store_sq8_scale(a)[j];
        float flo = cn_store_sq8_min(all)[j], fhi = flo + 255 * cn_store_sq8_scale(all)[j];
        assert_true(lo >= flo && hi <= fhi * (1 + 1e-6f) + 1e-6f);
        narrower += lo > flo;
    }
    assert_true(narrower > 0);
    /* train_size = 1: the range of exactly one row of the data */
    cn_store_t *one = encode_sq8(full, 1, 9);
    int found = 0;
    for (uint32_t i = 0; i < n && !found; i++)
        found = memcmp(cn_store_sq8_min(one), data + (size_t)i * d, d * sizeof(float)) == 0;
    assert_true(found);
    for (uint32_t j = 0; j < d; j++) assert_true(cn_store_sq8_scale(one)[j] == 0.0f);
    cn_store_release(one);
    /* the sample is spread over the whole store: dimension 0 holds the row
     * number, so the sample's range of it must span most of 0..n-1 */
    for (uint32_t i = 0; i < n; i++) data[(size_t)i * d] = (float)i;
    cn_store_t *marked = make_dense(data, n, d, CN_METRIC_L2);
    for (long long seed = 1; seed <= 3; seed++) {
        cn_store_t *s = encode_sq8(marked, 100, seed);
        float lo = cn_store_sq8_min(s)[0], hi = lo + 255 * cn_store_sq8_scale(s)[0];
        if (!(lo < 0.1f * n && hi > 0.9f * n))
            fail_msg("seed %lld: sampled rows span only %g .. %g of 0 .. %u", seed, (double)lo,
                     (double)hi, n - 1);
        cn_store_release(s);
    }
    cn_store_release(marked);
    /* parameter validation through the registry */
    cn_quantizer_t *q = NULL;
    cn_param_t bad = {.key = "train_size", .type = CN_PARAM_INT, .i = 0, .f = 0};
    cn_params_t p = {&bad, 1};
    assert_int_equal(cn_quantizer_create(&q, "sq8", CN_METRIC_L2, d, &p, err, sizeof err),
                     CN_EINVAL);
    assert_null(q);
    bad = (cn_param_t){.key = "bits", .type = CN_PARAM_INT, .i = 4, .f = 4};
    assert_int_not_equal(cn_quantizer_create(&q, "sq8", CN_METRIC_L2, d, &p, err, sizeof err),
                         CN_OK);
    const cn_component_t *comp = cn_registry_find("sq8", CN_COMPONENT_QUANTIZER);
    assert_non_null(comp);
    assert_int_equal(comp->n_params, 2);
    assert_string_equal(comp->store_name, "sq8");
    assert_true(cn_registry_store_loader("sq8") == comp->store_load);
    /* encode before train, wrong dimension, wrong input store */
    assert_int_equal(cn_quantizer_create(&q, "sq8", CN_METRIC_L2, d, NULL, err, sizeof err), CN_OK);
    cn_store_t *e = NULL;
    assert_int_equal(q->ops->encode(q, full, &e, err, sizeof err), CN_EINVAL);
    assert_null(e);
    assert_int_equal(q->ops->train(q, a, err, sizeof err), CN_EINVAL);
    cn_quantizer_destroy(q);
    assert_int_equal(cn_quantizer_create(&q, "sq8", CN_METRIC_L2, d + 1, NULL, err, sizeof err),
                     CN_OK);
    assert_int_equal(q->ops->train(q, full, err, sizeof err), CN_EINVAL);
    cn_quantizer_destroy(q);
    cn_store_release(a);
    cn_store_release(b);
    cn_store_release(c);
    cn_store_release(all);
    cn_store_release(dflt);
    cn_store_release(full);
    free(data);
}

/* Encoding is a pure function of each value: a large store (many OpenMP
 * chunks) equals the per-value reference exactly. */
static void test_encode_matches_reference(void **state) {
    (void)state;
    const uint32_t n = under_valgrind() ? 500 : 40000, d = 16;
    float *data = shaped_data(n, d, 4);
    cn_store_t *full = make_dense(data, n, d, CN_METRIC_IP);
    cn_store_t *enc = encode_sq8(full, 1000, 5);
    const float *mn = cn_store_sq8_min(enc), *sc = cn_store_sq8_scale(enc);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *c = cn_store_sq8_code(enc, i);
        for (uint32_t j = 0; j < d; j++) {
            double t = sc[j] > 0 ? ((double)data[(size_t)i * d + j] - mn[j]) / sc[j] : 0;
            double r = t < 0 ? 0 : t > 255 ? 255 : floor(t + 0.5);
            if (fabs(r - c[j]) > (fabs(t - floor(t) - 0.5) < 1e-6 ? 1 : 0))
                fail_msg("row %u dim %u: code %u, want %g", i, j, c[j], r);
        }
    }
    cn_store_release(enc);
    cn_store_release(full);
    free(data);
}

/* ---- distances ------------------------------------------------------------------ */

static void check_distances(cn_metric_t m, uint32_t d, uint32_t n) {
    char err[ERRLEN] = "";
    float *data = cn_test_random_matrix(n, d, 100 + d);
    float *queries = cn_test_random_matrix(3, d, 200 + d);
    for (uint32_t j = 0; j < d; j++) queries[j] *= 2.0f; /* partly outside the range */
    cn_store_t *full = make_dense(data, n, d, m);
    cn_store_t *enc = encode_sq8(full, -1, -1);
    float *x = malloc(d * sizeof *x), *xa = malloc(d * sizeof *xa);
    float *out = malloc(2 * n * sizeof *out), *out2 = malloc(2 * n * sizeof *out2);
    float *scalar_out = malloc(n * sizeof *scalar_out);
    uint32_t *ids = malloc(2 * n * sizeof *ids);
    uint64_t rng = d;
    for (uint32_t i = 0; i < 2 * n; i++) ids[i] = (uint32_t)(cn_test_rand(&rng) % n);
    for (int l = 0; l < 3; l++) {
        cn_simd_level_t lv = all_levels[l];
        cn_evaluator_t *ev = NULL;
        cn_status_t st = cn_sq8_evaluator_create_at(enc, lv, &ev, err, sizeof err);
        if (st == CN_EUNSUPPORTED) continue;
        if (st != CN_OK) fail_msg("evaluator: %s", err);
        assert_ptr_equal(ev->store, enc);
        for (int qi = 0; qi < 3; qi++) {
            const float *q = queries + (size_t)qi * d;
            cn_vec_t v = {.dense = q};
            assert_int_equal(ev->ops->set_query(ev, &v, err, sizeof err), CN_OK);
            for (uint32_t i = 0; i < n; i++) {
                double mag;
                enc->ops->decode(enc, i, x);
                double want = ref_score(q, x, d, m, &mag);
                float got = ev->ops->dist(ev, i);
                check("dist vs decoded", lv, m, d, i, got, want, tol_of(want, mag));
                if (qi == 0) {
                    if (l == 0) scalar_out[i] = got;
                    else
                        check("simd vs scalar", lv, m, d, i, got, (double)scalar_out[i],
                              tol_of(want, mag));
                }
            }
            out[2 * n - 1] = 12345.0f;
            ev->ops->dist_batch(ev, ids, 2 * n - 1, out);
            assert_true(out[2 * n - 1] == 12345.0f);
            for (uint32_t i = 0; i + 1 < 2 * n; i++) {
                float one = ev->ops->dist(ev, ids[i]);
                if (memcmp(&one, &out[i], 4) != 0)
                    fail_msg("dist_batch [%s %s d=%u] #%u: %.9g vs dist %.9g", cn_simd_name(lv),
                             cn_metric_name(m), d, i, (double)out[i], (double)one);
            }
            ev->ops->dist_range(ev, 0, n, out2);
            for (uint32_t i = 0; i < n; i++)
                if (memcmp(&out2[i], &(float){ev->ops->dist(ev, i)}, 4) != 0)
                    fail_msg("dist_range [%s] %u", cn_simd_name(lv), i);
            ev->ops->dist_range(ev, n / 2, n - n / 2, out2);
            for (uint32_t i = n / 2; i < n; i++)
                if (memcmp(&out2[i - n / 2], &(float){ev->ops->dist(ev, i)}, 4) != 0)
                    fail_msg("dist_range offset [%s] %u", cn_simd_name(lv), i);
            ev->ops->dist_batch(ev, ids, 0, out);
        }
        /* pairs: decoded a against stored ids; the query is left alone */
        float before = ev->ops->dist(ev, 1 % n);
        for (uint32_t a = 0; a < n; a += 7) {
            ev->ops->dist_pairs(ev, a, ids, n, out);
            enc->ops->decode(enc, a, xa);
            for (uint32_t i = 0; i < n; i++) {
                double mag;
                enc->ops->decode(enc, ids[i], x);
                double want = ref_score(xa, x, d, m == CN_METRIC_COSINE ? CN_METRIC_IP : m, &mag);
                check("dist_pairs", lv, m, d, ids[i], out[i], want, tol_of(want, mag));
            }
        }
        assert_true(ev->ops->dist(ev, 1 % n) == before);
        for (uint32_t a = 0; a < n; a += 5) {
            ev->ops->set_query_id(ev, a);
            enc->ops->decode(enc, a, xa);
            for (uint32_t i = 0; i < n; i++) {
                double mag;
                enc->ops->decode(enc, i, x);
                double want = ref_score(xa, x, d, m == CN_METRIC_COSINE ? CN_METRIC_IP : m, &mag);
                check("set_query_id", lv, m, d, i, ev->ops->dist(ev, i), want, tol_of(want, mag));
            }
            if (m == CN_METRIC_L2) assert_true(ev->ops->dist(ev, a) <= 1e-6f);
        }
        cn_evaluator_destroy(ev);
    }
    free(scalar_out);
    free(ids);
    free(out);
    free(out2);
    free(x);
    free(xa);
    cn_store_release(enc);
    cn_store_release(full);
    free(data);
    free(queries);
}

static void test_distances_all_dims_levels(void **state) {
    (void)state;
    int vg = under_valgrind();
    for (int mi = 0; mi < 3; mi++)
        for (uint32_t d = 1; d <= 67; d += vg ? 5 : 1)
            check_distances(all_metrics[mi], d, vg ? 9 : 23);
    for (int mi = 0; mi < 3; mi++) check_distances(all_metrics[mi], 128, vg ? 20 : 200);
}

static void test_levels_and_queries(void **state) {
    (void)state;
    assert_non_null(cn_sq8_kernels_at(CN_SIMD_SCALAR));
    for (int l = 0; l < 3; l++)
        print_message("sq8 kernels %s: %s\n", cn_simd_name(all_levels[l]),
                      cn_sq8_kernels_at(all_levels[l]) ? "tested" : "not available");
    if (cn_simd_detect() < CN_SIMD_AVX512) assert_null(cn_sq8_kernels_at(CN_SIMD_AVX512));
    const uint32_t n = 30, d = 21;
    char err[ERRLEN] = "";
    float *data = cn_test_random_matrix(n, d, 9);
    cn_store_t *full = make_dense(data, n, d, CN_METRIC_IP);
    cn_store_t *enc = encode_sq8(full, -1, -1);
    cn_evaluator_t *a = NULL, *b = NULL;
    assert_int_equal(cn_store_evaluator(enc, &a, err, sizeof err), CN_OK);
    assert_int_equal(cn_sq8_evaluator_create_at(enc, cn_simd_level(), &b, err, sizeof err), CN_OK);
    cn_vec_t v = {.dense = data + d};
    assert_int_equal(a->ops->set_query(a, &v, err, sizeof err), CN_OK);
    assert_int_equal(b->ops->set_query(b, &v, err, sizeof err), CN_OK);
    for (uint32_t i = 0; i < n; i++) assert_true(a->ops->dist(a, i) == b->ops->dist(b, i));
    /* bad queries */
    float q[21];
    memcpy(q, data, sizeof q);
    cn_vec_t vq = {.dense = q};
    q[20] = NAN;
    assert_int_equal(a->ops->set_query(a, &vq, err, sizeof err), CN_EINVAL);
    assert_non_null(strstr(err, "NaN"));
    q[20] = INFINITY;
    assert_int_equal(a->ops->set_query(a, &vq, err, sizeof err), CN_EINVAL);
    assert_non_null(strstr(err, "infinite"));
    cn_vec_t sparse = {.dense = NULL};
    assert_int_equal(a->ops->set_query(a, &sparse, err, sizeof err), CN_EINVAL);
    cn_evaluator_destroy(b);
    assert_int_equal(cn_sq8_evaluator_create_at(full, CN_SIMD_SCALAR, &b, err, sizeof err),
                     CN_EINVAL);
    assert_null(b);
    cn_evaluator_destroy(a);
    cn_evaluator_destroy(b); /* NULL-safe */
    cn_store_release(enc);
    cn_store_release(full);
    free(data);
}

static void test_cosine(void **state) {
    (void)state;
    const uint32_t n = 60, d = 26;
    char err[ERRLEN] = "";
    float *data = cn_test_random_matrix(n, d, 12);
    for (uint32_t j = 0; j < d; j++) data[3 * d + j] *= 500.0f; /* a long row */
    cn_store_t *full = make_dense(data, n, d, CN_METRIC_COSINE);
    cn_store_t *enc = encode_sq8(full, -1, -1);
    /* trained on unit vectors: every range lies inside [-1, 1] */
    const float *mn = cn_store_sq8_min(enc), *sc = cn_store_sq8_scale(enc);
    float maxscale = 0;
    for (uint32_t j = 0; j < d; j++) {
        assert_true(mn[j] >= -1.0f && mn[j] + 255 * sc[j] <= 1.0001f);
        maxscale = fmaxf(maxscale, sc[j]);
    }
    float x[26];
    for (uint32_t i = 0; i < n; i++) {
        enc->ops->decode(enc, i, x);
        double nn = 0;
        for (uint32_t j = 0; j < d; j++) nn += (double)x[j] * x[j];
        if (fabs(sqrt(nn) - 1.0) > sqrt((double)d) * maxscale / 2 + 1e-6)
            fail_msg("decoded cosine row %u has norm %g", i, sqrt(nn));
    }
    cn_evaluator_t *ev = NULL;
    assert_int_equal(cn_store_evaluator(enc, &ev, err, sizeof err), CN_OK);
    float q[26], q7[26], a[60], b[60];
    for (uint32_t j = 0; j < d; j++) {
        q[j] = data[5 * d + j];
        q7[j] = 7.0f * q[j];
    }
    cn_vec_t v = {.dense = q}, v7 = {.dense = q7};
    assert_int_equal(ev->ops->set_query(ev, &v, err, sizeof err), CN_OK);
    ev->ops->dist_range(ev, 0, n, a);
    assert_int_equal(ev->ops->set_query(ev, &v7, err, sizeof err), CN_OK);
    ev->ops->dist_range(ev, 0, n, b);
    for (uint32_t i = 0; i < n; i++) {
        assert_float_equal(a[i], b[i], 1e-5);
        assert_true(a[i] >= -1.05f && a[i] <= 1.05f);
    }
    assert_float_equal(a[5], -1.0f, 0.05); /* the row itself */
    cn_evaluator_destroy(ev);
    cn_store_release(enc);
    cn_store_release(full);
    free(data);
}

/* ---- persistence ---------------------------------------------------------------- */

static void test_save_load_roundtrip(void **state) {
    (void)state;
    const uint32_t n = 211, d = 33;
    float *data = shaped_data(n, d, 21);
    char path[4200];
    snprintf(path, sizeof path, "%s/sq8_store.bin", cn_test_tmpdir());
    for (int mi = 0; mi < 3; mi++) {
        cn_metric_t m = all_metrics[mi];
        char err[ERRLEN] = "";
        cn_store_t *full = make_dense(data, n, d, m);
        cn_store_t *enc = encode_sq8(full, 100, 3);
        cn_writer_t w;
        assert_int_equal(cn_writer_open(&w, path, err, sizeof err), CN_OK);
        cn_store_save(enc, &w);
        cn_write_u32(&w, 0xfeedbeefu);
        assert_int_equal(cn_writer_close(&w, err, sizeof err), CN_OK);
        cn_reader_t r;
        assert_int_equal(cn_reader_open(&r, path, err, sizeof err), CN_OK);
        cn_store_t *back = NULL;
        if (cn_store_load(&back, &r, err, sizeof err) != CN_OK) fail_msg("load: %s", err);
        assert_int_equal(cn_read_u32(&r), 0xfeedbeefu);
        assert_int_equal(cn_reader_remaining(&r), 0);
        cn_reader_close(&r);
        assert_true(cn_store_is_sq8(back));
        assert_int_equal(back->n, n);
        assert_int_equal(back->dim, d);
        assert_int_equal(back->metric, m);
        assert_int_equal(back->refs, 1);
        assert_int_equal(back->ops->bytes(back), enc->ops->bytes(enc));
        assert_memory_equal(cn_store_sq8_min(back), cn_store_sq8_min(enc), d * sizeof(float));
        assert_memory_equal(cn_store_sq8_scale(back), cn_store_sq8_scale(enc), d * sizeof(float));
        assert_memory_equal(cn_store_sq8_code(back, 0), cn_store_sq8_code(enc, 0), (size_t)n * d);
        cn_evaluator_t *e1 = NULL, *e2 = NULL;
        assert_int_equal(cn_store_evaluator(enc, &e1, err, sizeof err), CN_OK);
        assert_int_equal(cn_store_evaluator(back, &e2, err, sizeof err), CN_OK);
        cn_vec_t v = {.dense = data + 3 * d};
        assert_int_equal(e1->ops->set_query(e1, &v, err, sizeof err), CN_OK);
        assert_int_equal(e2->ops->set_query(e2, &v, err, sizeof err), CN_OK);
        for (uint32_t i = 0; i < n; i++) assert_true(e1->ops->dist(e1, i) == e2->ops->dist(e2, i));
        cn_evaluator_destroy(e1);
        cn_evaluator_destroy(e2);
        cn_store_release(back);
        cn_store_release(enc);
        cn_store_release(full);
    }
    free(data);
}

static cn_status_t load_crafted(uint32_t n, uint32_t d, const void *payload, size_t len,
                                char *err, size_t errlen) {
    char path[4200];
    snprintf(path, sizeof path, "%s/sq8_bad.bin", cn_test_tmpdir());
    cn_writer_t w;
    assert_int_equal(cn_writer_open(&w, path, err, errlen), CN_OK);
    cn_write_str(&w, "sq8");
    cn_write_u32(&w, CN_METRIC_L2);
    cn_write_u32(&w, n);
    cn_write_u32(&w, d);
    cn_write(&w, payload, len);
    assert_int_equal(cn_writer_close(&w, err, errlen), CN_OK);
    cn_reader_t r;
    assert_int_equal(cn_reader_open(&r, path, err, errlen), CN_OK);
    cn_store_t *s = (cn_store_t *)err;
    cn_status_t st = cn_store_load(&s, &r, err, errlen);
    cn_reader_close(&r);
    if (st == CN_OK) {
        assert_non_null(s);
        cn_store_release(s);
    } else {
        assert_null(s);
    }
    return st;
}

static void test_load_rejects_corrupt(void **state) {
    (void)state;
    char err[ERRLEN] = "";
    /* d = 4, n = 5: 4 mins, 4 scales, 20 codes */
    unsigned char pay[32 + 20];
    float tables[8] = {-1, 0, 2, -3, 0.01f, 0.0f, 0.5f, 1e-3f};
    memcpy(pay, tables, sizeof tables);
    for (int i = 0; i < 20; i++) pay[32 + i] = (unsigned char)(i * 13);
    assert_int_equal(load_crafted(5, 4, pay, sizeof pay, err, sizeof err), CN_OK);
    assert_int_equal(load_crafted(5, 4, pay, sizeof pay - 1, err, sizeof err), CN_EFORMAT);
    assert_non_null(strstr(err, "truncated"));
    assert_int_equal(load_crafted(6, 4, pay, sizeof pay, err, sizeof err), CN_EFORMAT);
    assert_int_equal(load_crafted(0, 4, pay, 31, err, sizeof err), CN_EFORMAT); /* short tables */
    assert_int_equal(load_crafted(0, 4, pay, 32, err, sizeof err), CN_OK);
    assert_int_equal(load_crafted(0xffffffffu, 0xffffffffu, pay, sizeof pay, err, sizeof err),
                     CN_EFORMAT);
    assert_int_equal(load_crafted(0xffffffffu, 1, pay, sizeof pay, err, sizeof err), CN_EFORMAT);
    assert_int_equal(load_crafted(1, 0x40000000u, pay, sizeof pay, err, sizeof err), CN_EFORMAT);
    /* invalid ranges: negative / NaN / infinite scale, infinite min, overflow */
    const float bad[5][2] = {{0, -0.5f}, {0, NAN}, {0, INFINITY}, {-INFINITY, 1}, {3e38f, 3e37f}};
    for (int b = 0; b < 5; b++) {
        float t[8];
        memcpy(t, tables, sizeof t);
        t[2] = bad[b][0];
        t[6] = bad[b][1];
        memcpy(pay, t, sizeof t);
        if (load_crafted(5, 4, pay, sizeof pay, err, sizeof err) != CN_EFORMAT)
            fail_msg("bad range #%d accepted", b);
        assert_non_null(strstr(err, "dimension 2"));
    }
}

/* ---- HNSW built on float32, searched through sq8 ---------------------------------- */

static double recall(const cn_index_t *ix, const float *data, uint32_t n, uint32_t d,
                     const float *queries, uint32_t nq, int ef, int rerank) {
    char err[ERRLEN] = "";
    cn_search_ctx_t *ctx = NULL;
    if (cn_search_ctx_create(ix, &ctx, err, sizeof err) != CN_OK) fail_msg("ctx: %s", err);
    cn_param_t it[2] = {{.key = "ef", .type = CN_PARAM_INT, .i = ef, .f = ef},
                        {.key = "rerank", .type = CN_PARAM_INT, .i = rerank, .f = rerank}};
    cn_params_t sp = {it, rerank > 0 ? 2 : 1};
    if (cn_search_ctx_set_params(ctx, &sp, err, sizeof err) != CN_OK) fail_msg("params: %s", err);
    uint32_t ids[10], truth[10];
    float dists[10];
    size_t hit = 0;
    for (uint32_t qi = 0; qi < nq; qi++) {
        cn_vec_t v = {.dense = queries + (size_t)qi * d};
        size_t found = 0;
        if (cn_index_search(ctx, &v, 10, ids, dists, &found, err, sizeof err) != CN_OK)
            fail_msg("search: %s", err);
        assert_int_equal(found, 10);
        cn_test_brute_knn(data, n, d, v.dense, 0, 10, truth);
        for (size_t i = 0; i < 10; i++)
            for (size_t j = 0; j < 10; j++) hit += ids[i] == truth[j];
    }
    cn_search_ctx_destroy(ctx);
    return (double)hit / (nq * 10.0);
}

static void test_hnsw_through_sq8(void **state) {
    (void)state;
    const uint32_t n = under_valgrind() ? 500 : 2000, d = 32, nq = under_valgrind() ? 20 : 100;
    char err[ERRLEN] = "";
    float *data = cn_test_random_matrix(n, d, 41);
    float *queries = cn_test_random_matrix(nq, d, 42);
    cn_store_t *full = make_dense(data, n, d, CN_METRIC_L2);
    cn_store_t *enc = encode_sq8(full, -1, -1);
    cn_index_t *ix = NULL;
    assert_int_equal(cn_index_create(&ix, "hnsw", CN_METRIC_L2, d, NULL, err, sizeof err), CN_OK);
    if (cn_index_build(ix, full, enc, full, 2, err, sizeof err) != CN_OK)
        fail_msg("build: %s", err);
    assert_ptr_equal(ix->store, enc);
    assert_true(cn_index_bytes(ix) >= enc->ops->bytes(enc) + full->ops->bytes(full));
    double r0 = recall(ix, data, n, d, queries, nq, 64, 0);
    double r1 = recall(ix, data, n, d, queries, nq, 64, 30);
    print_message("hnsw through sq8: recall@10 = %.3f (ef=64), %.3f (rerank=30)\n", r0, r1);
    if (r0 < 0.85) fail_msg("recall@10 through sq8 at ef=64 = %.3f < 0.85", r0);
    if (r1 < 0.95) fail_msg("recall@10 through sq8 with rerank=30 = %.3f < 0.95", r1);
    /* the index file carries the sq8 store (and the float32 one for re-ranking);
     * it reopens through the registry and answers identically */
    char path[4200];
    snprintf(path, sizeof path, "%s/hnsw_sq8.idx", cn_test_tmpdir());
    if (cn_index_save(ix, path, err, sizeof err) != CN_OK) fail_msg("save: %s", err);
    cn_index_t *back = NULL;
    if (cn_index_load(&back, path, err, sizeof err) != CN_OK) fail_msg("load: %s", err);
    assert_true(cn_store_is_sq8(back->store));
    assert_non_null(back->rerank_store);
    assert_memory_equal(cn_store_sq8_code(back->store, 0), cn_store_sq8_code(enc, 0),
                        (size_t)n * d);
    cn_search_ctx_t *c1 = NULL, *c2 = NULL;
    assert_int_equal(cn_search_ctx_create(ix, &c1, err, sizeof err), CN_OK);
    assert_int_equal(cn_search_ctx_create(back, &c2, err, sizeof err), CN_OK);
    for (uint32_t qi = 0; qi < nq; qi += 7) {
        cn_vec_t v = {.dense = queries + (size_t)qi * d};
        uint32_t i1[10], i2[10];
        float d1[10], d2[10];
        assert_int_equal(cn_index_search(c1, &v, 10, i1, d1, NULL, err, sizeof err), CN_OK);
        assert_int_equal(cn_index_search(c2, &v, 10, i2, d2, NULL, err, sizeof err), CN_OK);
        assert_memory_equal(i1, i2, sizeof i1);
        assert_memory_equal(d1, d2, sizeof d1);
    }
    cn_search_ctx_destroy(c1);
    cn_search_ctx_destroy(c2);
    cn_index_destroy(back);
    cn_index_destroy(ix);
    cn_store_release(enc);
    cn_store_release(full);
    free(data);
    free(queries);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_train_encode_decode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_range_clamped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_train_sampling, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encode_matches_reference, setup, teardown),
        cmocka_unit_test_setup_teardown(test_levels_and_queries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_distances_all_dims_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cosine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_load_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_rejects_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hnsw_through_sq8, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
