/*
 * test_quant_f16.c — the half-precision quantizer and its dense_f16 store
 * (quant/f16.c, f16_avx2.c, f16_avx512.c).
 *
 * Conversions are checked against an independent reference (binary search
 * over all finite halves, ties to even) on every half, every midpoint between
 * neighbouring halves, subnormals, signed zeros, the overflow boundary and
 * random floats, for the scalar code and every SIMD level this CPU has.
 * Distances of every level must match a double-precision reference on the
 * decoded halves tightly, and the float32 distances within half precision,
 * for dims 1..67 (all tail lengths). Also: overflow rejected naming the row,
 * decode, bytes, batch == single, pairs, query by id, cosine, save/load bit
 * exact, corrupt files -> CN_EFORMAT, HNSW searched through f16. Every test
 * runs under the counting allocator and must leave zero live blocks.
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
#include "quant/f16_internal.h"

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

/* ---- independent reference conversions ----------------------------------------- */

static double ref_h2d(uint16_t h) {
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double s = (h & 0x8000) ? -1.0 : 1.0;
    if (e == 31) return m ? NAN : s * INFINITY;
    if (e == 0) return s * ldexp((double)m, -24);
    return s * ldexp((double)(1024 + m), e - 25);
}

/* Nearest half to finite x, ties to the even code; |x| >= 65520 -> inf. */
static uint16_t ref_d2h(double x) {
    uint16_t sign = signbit(x) ? 0x8000 : 0;
    double ax = fabs(x);
    if (ax >= 65520.0) return sign | 0x7c00;
    unsigned lo = 0, hi = 0x7bff; /* largest code with value <= ax */
    while (lo < hi) {
        unsigned mid = (lo + hi + 1) / 2;
        if (ref_h2d((uint16_t)mid) <= ax)
            lo = mid;
        else
            hi = mid - 1;
    }
    if (lo == 0x7bff) return sign | 0x7bff;
    double a = ax - ref_h2d((uint16_t)lo), b = ref_h2d((uint16_t)(lo + 1)) - ax;
    unsigned code = a < b ? lo : b < a ? lo + 1 : ((lo & 1) ? lo + 1 : lo);
    return (uint16_t)(sign | code);
}

static int half_is_nan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0; }

static float f_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Interesting floats: specials, halves, midpoints and their neighbours, random. */
static float *conversion_inputs(size_t *count) {
    size_t cap = under_valgrind() ? (size_t)250000 : (size_t)1 << 20, n = 0;
    float *v = malloc(cap * sizeof *v);
    const float specials[] = {0.0f,     -0.0f,           65504.0f,        -65504.0f,
                              65519.0f, 65519.996f,      65520.0f,        -65520.0f,
                              65536.0f, 1e10f,           -3e38f,          0x1p-24f,
                              0x1p-25f, -0x1p-25f,       0x1.000002p-25f, 0x1.8p-24f,
                              0x1p-14f, 0x1.ff8p-15f,    0x1.ffcp-15f,    1e-40f,
                              -1e-45f,  0x1.fffffep-26f, 1.0f,            -1.0f,
                              1.0009765625f, 1.00048828125f, 1.00146484375f, 0.1f};
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) v[n++] = specials[i];
    for (uint32_t h = 0; h < 0x7c00; h++) {
        float x = (float)ref_h2d((uint16_t)h);
        v[n++] = x;
        v[n++] = -x;
        if (h < 0x7bff) {
            float mid = (float)((ref_h2d((uint16_t)h) + ref_h2d((uint16_t)(h + 1))) / 2);
            v[n++] = mid; /* exact: 12 significant bits */
            v[n++] = -mid;
            v[n++] = nextafterf(mid, 0.0f);
            v[n++] = nextafterf(mid, INFINITY);
        }
    }
    uint64_t st = 77;
    while (n < cap) {
        uint64_t r = cn_test_rand(&st);
        int e = (int)(r % 50) - 30; /* 2^-30 .. 2^19 */
        float m = 1.0f + (float)((r >> 8) & 0x7fffff) * 0x1p-23f;
        float x = ldexpf(m, e);
        v[n++] = (r >> 40) & 1 ? -x : x;
    }
    *count = n;
    return v;
}

/* ---- conversions -------------------------------------------------------------- */

static void test_half_to_float_all(void **state) {
    (void)state;
    float *out = malloc(65536 * sizeof *out);
    uint16_t *in = malloc(65536 * sizeof *in);
    for (uint32_t h = 0; h < 65536; h++) {
        in[h] = (uint16_t)h;
        double want = ref_h2d((uint16_t)h);
        float got = cn_f16_to_f32((uint16_t)h);
        if (isnan(want)) {
            if (!isnan(got)) fail_msg("half 0x%04x: NaN expected, got %g", h, (double)got);
            continue;
        }
        if ((double)got != want || !signbit(got) != !signbit(want))
            fail_msg("half 0x%04x: got %.10g want %.10g", h, (double)got, want);
        /* exact round trip of every non-NaN half */
        if (cn_f32_to_f16(got) != h) fail_msg("half 0x%04x does not round-trip", h);
    }
    int levels = 0;
    for (int l = 0; l < 3; l++) {
        const cn_f16_kernels_t *k = cn_f16_kernels_at(all_levels[l]);
        if (!k) continue;
        levels++;
        /* odd lengths and offsets exercise every tail */
        for (size_t start = 0; start < 65536; start += 4093) {
            size_t len = 65536 - start < 4093 ? 65536 - start : 4093;
            memset(out, 0, 65536 * sizeof *out);
            k->to_float(in + start, out, len);
            for (size_t i = 0; i < len; i++) {
                float want = cn_f16_to_f32(in[start + i]);
                if (isnan(want) ? !isnan(out[i]) : memcmp(&want, &out[i], 4) != 0)
                    fail_msg("%s to_float(0x%04x) = %g, want %g",
                             cn_simd_name(all_levels[l]), in[start + i], (double)out[i],
                             (double)want);
            }
        }
    }
    assert_true(levels >= 1);
    free(in);
    free(out);
}

static void test_float_to_half_reference(void **state) {
    (void)state;
    size_t n;
    float *v = conversion_inputs(&n);
    uint16_t *ref = malloc(n * sizeof *ref), *got = malloc(n * sizeof *got);
    for (size_t i = 0; i < n; i++) {
        ref[i] = ref_d2h((double)v[i]);
        uint16_t h = cn_f32_to_f16(v[i]);
        if (h != ref[i])
            fail_msg("cn_f32_to_f16(%a = %.9g) = 0x%04x, want 0x%04x", (double)v[i], (double)v[i],
                     h, ref[i]);
    }
    /* spot checks that pin the semantics, independent of the reference */
    assert_int_equal(cn_f32_to_f16(65504.0f), 0x7bff);
    assert_int_equal(cn_f32_to_f16(65519.996f), 0x7bff);
    assert_int_equal(cn_f32_to_f16(65520.0f), 0x7c00);
    assert_int_equal(cn_f32_to_f16(-65520.0f), 0xfc00);
    assert_int_equal(cn_f32_to_f16(-0.0f), 0x8000);
    assert_int_equal(cn_f32_to_f16(0x1p-24f), 0x0001);
    assert_int_equal(cn_f32_to_f16(0x1p-25f), 0x0000);        /* tie -> even (0) */
    assert_int_equal(cn_f32_to_f16(0x1.8p-24f), 0x0002);      /* tie 1.5 -> even (2) */
    assert_int_equal(cn_f32_to_f16(0x1.000002p-25f), 0x0001); /* just above the tie */
    assert_int_equal(cn_f32_to_f16(1.00048828125f), 0x3c00);  /* 1 + 2^-11: tie -> 1.0 */
    assert_int_equal(cn_f32_to_f16(1.00146484375f), 0x3c02);  /* 1 + 3*2^-11 -> even up */
    assert_int_equal(cn_f32_to_f16(0x1.ffcp-15f), 0x0400);    /* rounds up to smallest normal */
    assert_int_equal(cn_f32_to_f16(INFINITY), 0x7c00);
    assert_int_equal(cn_f32_to_f16(-INFINITY), 0xfc00);
    assert_true(half_is_nan(cn_f32_to_f16(NAN)));
    assert_true(half_is_nan(cn_f32_to_f16(f_bits(0x7f800001u)))); /* signalling NaN */
    assert_int_equal(cn_f32_to_f16(1e-40f), 0x0000);

    /* every level gives the scalar (= reference) result, all tail lengths */
    for (int l = 0; l < 3; l++) {
        const cn_f16_kernels_t *k = cn_f16_kernels_at(all_levels[l]);
        if (!k) continue;
        size_t off = 0, len = 1;
        while (off < n) {
            if (off + len > n) len = n - off;
            memset(got, 0xab, len * sizeof *got);
            k->to_half(v + off, got, len);
            if (memcmp(got, ref + off, len * sizeof *got) != 0) {
                for (size_t i = 0; i < len; i++)
                    if (got[i] != ref[off + i])
                        fail_msg("%s to_half(%a) = 0x%04x, want 0x%04x (len %zu)",
                                 cn_simd_name(all_levels[l]), (double)v[off + i], got[i],
                                 ref[off + i], len);
            }
            off += len;
            len = len < 67 ? len + 1 : len * 3 + 1;
        }
        /* NaN and inf inputs (not in v) */
        float sp[5] = {NAN, INFINITY, -INFINITY, f_bits(0x7f800001u), -NAN};
        uint16_t hs[5];
        k->to_half(sp, hs, 5);
        assert_true(half_is_nan(hs[0]));
        assert_int_equal(hs[1], 0x7c00);
        assert_int_equal(hs[2], 0xfc00);
        assert_true(half_is_nan(hs[3]));
        assert_true(half_is_nan(hs[4]));
    }
    free(v);
    free(ref);
    free(got);
}

/* ---- quantizer / store helpers ------------------------------------------------ */

static cn_store_t *make_dense(const float *data, uint32_t n, uint32_t d, cn_metric_t m) {
    char err[ERRLEN] = "";
    cn_store_t *s = NULL;
    if (cn_store_dense_create(&s, data, n, d, m, err, sizeof err) != CN_OK)
        fail_msg("dense store: %s", err);
    return s;
}

static cn_store_t *encode_f16(cn_store_t *full) {
    char err[ERRLEN] = "";
    cn_quantizer_t *q = NULL;
    cn_status_t st = cn_quantizer_create(&q, "f16", full->metric, full->dim, NULL, err, sizeof err);
    if (st != CN_OK) fail_msg("create f16: %s", err);
    assert_string_equal(q->ops->name, "f16");
    assert_int_equal(q->ops->bytes_per_vector(q), 2 * (size_t)full->dim);
    if (q->ops->train(q, full, err, sizeof err) != CN_OK) fail_msg("train: %s", err);
    cn_store_t *enc = NULL;
    if (q->ops->encode(q, full, &enc, err, sizeof err) != CN_OK) fail_msg("encode: %s", err);
    cn_quantizer_destroy(q);
    assert_non_null(enc);
    assert_true(cn_store_is_f16(enc));
    assert_string_equal(enc->ops->name, "dense_f16");
    assert_int_equal(enc->n, full->n);
    assert_int_equal(enc->dim, full->dim);
    assert_int_equal(enc->metric, full->metric);
    assert_int_equal(enc->refs, 1);
    return enc;
}

/* Stored row i decoded with the scalar conversion. */
static void decoded_row(const cn_store_t *s, uint32_t i, float *out) {
    const uint16_t *h = cn_store_f16_row(s, i);
    for (uint32_t j = 0; j < s->dim; j++) out[j] = cn_f16_to_f32(h[j]);
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
            mg += (fabs(a) + fabs(b)) * fabs(b);
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

/* ---- encoding ------------------------------------------------------------------- */

static void test_encode_decode_bytes(void **state) {
    (void)state;
    const uint32_t n = 301, d = 45;
    float *data = cn_test_random_matrix(n, d, 3);
    for (size_t i = 0; i < (size_t)n * d; i += 7) data[i] *= 3000.0f; /* large values too */
    data[5] = 65504.0f;
    data[6] = -65519.0f;
    data[7] = 1e-6f; /* subnormal half */
    data[8] = -0.0f;
    float *out = malloc(d * sizeof *out);
    for (int mi = 0; mi < 3; mi++) {
        cn_metric_t m = all_metrics[mi];
        cn_store_t *full = make_dense(data, n, d, m);
        cn_store_t *enc = encode_f16(full);
        assert_true(enc->ops->bytes(enc) >= (size_t)n * d * 2);
        assert_true(enc->ops->bytes(enc) < (size_t)n * d * 2 + 4096);
        for (uint32_t i = 0; i < n; i++) {
            const float *row = cn_store_dense_row(full, i);
            const uint16_t *h = cn_store_f16_row(enc, i);
            enc->ops->decode(enc, i, out);
            for (uint32_t j = 0; j < d; j++) {
                if (h[j] != ref_d2h(row[j]))
                    fail_msg("%s row %u dim %u: code 0x%04x for %g", cn_metric_name(m), i, j,
                             h[j], (double)row[j]);
                if (out[j] != (float)ref_h2d(h[j]))
                    fail_msg("decode row %u dim %u: %g", i, j, (double)out[j]);
                /* relative error of half precision (or the subnormal step) */
                if (!(fabsf(out[j] - row[j]) <= fmaxf(fabsf(row[j]) * 0x1p-11f, 0x1p-25f)))
                    fail_msg("row %u dim %u: %g decoded as %g", i, j, (double)row[j],
                             (double)out[j]);
            }
            if (m == CN_METRIC_COSINE) { /* rows were unit vectors before rounding */
                double nn = 0;
                for (uint32_t j = 0; j < d; j++) nn += (double)out[j] * out[j];
                if (fabs(sqrt(nn) - 1.0) > 2e-3) fail_msg("cosine row %u norm %g", i, sqrt(nn));
            }
        }
        cn_store_release(enc);
        cn_store_release(full);
    }
    free(out);
    free(data);
}

static void test_overflow_rejected(void **state) {
    (void)state;
    const uint32_t n = 40, d = 9;
    const float bad[4] = {65520.0f, -65520.0f, 1e6f, -3e38f};
    for (int b = 0; b < 4; b++) {
        for (int mi = 0; mi < 2; mi++) { /* cosine normalises, so it cannot overflow */
            float *data = cn_test_random_matrix(n, d, 4);
            data[17 * d + 4] = bad[b];
            data[18 * d + 1] = bad[b]; /* later rows too: the first one is named */
            data[31 * d + 2] = bad[b];
            cn_store_t *full = make_dense(data, n, d, all_metrics[mi]);
            cn_quantizer_t *q = NULL;
            char err[ERRLEN] = "";
            assert_int_equal(cn_quantizer_create(&q, "f16", all_metrics[mi], d, NULL, err,
                                                 sizeof err),
                             CN_OK);
            assert_int_equal(q->ops->train(q, full, err, sizeof err), CN_OK);
            cn_store_t *enc = (cn_store_t *)&err; /* must be reset to NULL */
            cn_status_t st = q->ops->encode(q, full, &enc, err, sizeof err);
            if (st != CN_EINVAL || !strstr(err, "row 17") ||
                !strstr(err, "exceeds the half-precision range"))
                fail_msg("value %g in row 17: got %d '%s'", (double)bad[b], (int)st, err);
            assert_null(enc);
            cn_quantizer_destroy(q);
            cn_store_release(full);
            free(data);
        }
    }
    /* the largest finite values are accepted */
    float ok[4] = {65504.0f, -65519.99f, 0.5f, 1.0f};
    cn_store_t *full = make_dense(ok, 1, 4, CN_METRIC_L2);
    cn_store_t *enc = encode_f16(full);
    assert_int_equal(cn_store_f16_row(enc, 0)[0], 0x7bff);
    assert_int_equal(cn_store_f16_row(enc, 0)[1], 0xfbff);
    cn_store_release(enc);
    cn_store_release(full);
}

static void test_input_checks(void **state) {
    (void)state;
    char err[ERRLEN] = "";
    float data[12] = {0};
    cn_store_t *full = make_dense(data, 3, 4, CN_METRIC_L2);
    cn_quantizer_t *q = NULL;
    /* wrong dimension / metric */
    assert_int_equal(cn_quantizer_create(&q, "f16", CN_METRIC_L2, 5, NULL, err, sizeof err), CN_OK);
    assert_int_equal(q->ops->train(q, full, err, sizeof err), CN_EINVAL);
    cn_store_t *enc = NULL;
    assert_int_equal(q->ops->encode(q, full, &enc, err, sizeof err), CN_EINVAL);
    assert_null(enc);
    cn_quantizer_destroy(q);
    assert_int_equal(cn_quantizer_create(&q, "f16", CN_METRIC_IP, 4, NULL, err, sizeof err), CN_OK);
    assert_int_equal(q->ops->encode(q, full, &enc, err, sizeof err), CN_EINVAL);
    cn_quantizer_destroy(q);
    /* no parameters accepted */
    cn_param_t it = {.key = "bits", .type = CN_PARAM_INT, .i = 3, .f = 3};
    cn_params_t p = {&it, 1};
    assert_int_not_equal(cn_quantizer_create(&q, "f16", CN_METRIC_L2, 4, &p, err, sizeof err),
                         CN_OK);
    /* input must be a dense_f32 store */
    assert_int_equal(cn_quantizer_create(&q, "f16", CN_METRIC_L2, 4, NULL, err, sizeof err), CN_OK);
    enc = encode_f16(full);
    assert_int_equal(q->ops->train(q, enc, err, sizeof err), CN_EINVAL);
    cn_quantizer_destroy(q);
    /* the registry knows the store */
    assert_non_null(cn_registry_store_loader("dense_f16"));
    const cn_component_t *c = cn_registry_find("f16", CN_COMPONENT_QUANTIZER);
    assert_non_null(c);
    assert_string_equal(c->store_name, "dense_f16");
    /* queries: NaN/Inf and non-dense rejected */
    cn_evaluator_t *ev = NULL;
    assert_int_equal(cn_store_evaluator(enc, &ev, err, sizeof err), CN_OK);
    float qv[4] = {1, 2, 3, 4};
    cn_vec_t v = {.dense = qv};
    assert_int_equal(ev->ops->set_query(ev, &v, err, sizeof err), CN_OK);
    qv[2] = NAN;
    assert_int_equal(ev->ops->set_query(ev, &v, err, sizeof err), CN_EINVAL);
    assert_non_null(strstr(err, "NaN"));
    qv[2] = -INFINITY;
    assert_int_equal(ev->ops->set_query(ev, &v, err, sizeof err), CN_EINVAL);
    assert_non_null(strstr(err, "infinite"));
    cn_vec_t sparse = {.dense = NULL, .nnz = 0};
    assert_int_equal(ev->ops->set_query(ev, &sparse, err, sizeof err), CN_EINVAL);
    cn_evaluator_destroy(ev);
    cn_store_release(enc);
    cn_store_release(full);
}

/* ---- distances ------------------------------------------------------------------ */

static void check_distances(cn_metric_t m, uint32_t d, uint32_t n) {
    char err[ERRLEN] = "";
    float *data = cn_test_random_matrix(n, d, 100 + d);
    float *queries = cn_test_random_matrix(3, d, 200 + d);
    cn_store_t *full = make_dense(data, n, d, m);
    cn_store_t *enc = encode_f16(full);
    float *x = malloc(d * sizeof *x), *xa = malloc(d * sizeof *xa);
    float *out = malloc(2 * n * sizeof *out), *out2 = malloc(2 * n * sizeof *out2);
    uint32_t *ids = malloc(2 * n * sizeof *ids);
    uint64_t rng = d;
    for (uint32_t i = 0; i < 2 * n; i++) ids[i] = (uint32_t)(cn_test_rand(&rng) % n);
    cn_evaluator_t *fev = NULL;
    assert_int_equal(cn_store_evaluator(full, &fev, err, sizeof err), CN_OK);
    float *scalar_out = malloc(n * sizeof *scalar_out);
    for (int l = 0; l < 3; l++) {
        cn_evaluator_t *ev = NULL;
        cn_status_t st = cn_f16_evaluator_create_at(enc, all_levels[l], &ev, err, sizeof err);
        if (st == CN_EUNSUPPORTED) continue;
        if (st != CN_OK) fail_msg("evaluator: %s", err);
        assert_ptr_equal(ev->store, enc);
        cn_simd_level_t lv = all_levels[l];
        for (int qi = 0; qi < 3; qi++) {
            const float *q = queries + (size_t)qi * d;
            cn_vec_t v = {.dense = q};
            assert_int_equal(ev->ops->set_query(ev, &v, err, sizeof err), CN_OK);
            assert_int_equal(fev->ops->set_query(fev, &v, err, sizeof err), CN_OK);
            for (uint32_t i = 0; i < n; i++) {
                double mag, mag32;
                decoded_row(enc, i, x);
                double want = ref_score(q, x, d, m, &mag);
                float got = ev->ops->dist(ev, i);
                check("dist vs decoded", lv, m, d, i, got, want, 1e-5 * (mag + fabs(want)) + 1e-7);
                /* float32 distance within half precision */
                double want32 = ref_score(q, cn_store_dense_row(full, i), d, m, &mag32);
                check("dist vs float32", lv, m, d, i, got, want32, 1.5e-3 * mag32 + 1e-6);
                float f32 = fev->ops->dist(fev, i);
                check("dist vs dense_f32", lv, m, d, i, got, (double)f32, 1.5e-3 * mag32 + 1e-5);
                if (qi == 0) {
                    if (l == 0) scalar_out[i] = got;
                    else /* SIMD agrees with scalar */
                        check("simd vs scalar", lv, m, d, i, got, (double)scalar_out[i],
                              1e-5 * (mag + fabs(want)) + 1e-7);
                }
            }
            /* batch == single, bit for bit (same inlined kernel) */
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
            ev->ops->dist_batch(ev, ids, 0, out); /* empty batch is fine */
        }
        /* pairs: stored a against stored ids, query untouched */
        float before = ev->ops->dist(ev, 1 % n);
        for (uint32_t a = 0; a < n; a += 7) {
            ev->ops->dist_pairs(ev, a, ids, n, out);
            decoded_row(enc, a, xa);
            for (uint32_t i = 0; i < n; i++) {
                double mag;
                decoded_row(enc, ids[i], x);
                double want = ref_score(xa, x, d, m == CN_METRIC_COSINE ? CN_METRIC_IP : m, &mag);
                check("dist_pairs", lv, m, d, ids[i], out[i], want, 1e-5 * (mag + fabs(want)) + 1e-7);
            }
        }
        assert_true(ev->ops->dist(ev, 1 % n) == before);
        /* query by id */
        for (uint32_t a = 0; a < n; a += 5) {
            ev->ops->set_query_id(ev, a);
            decoded_row(enc, a, xa);
            for (uint32_t i = 0; i < n; i++) {
                double mag;
                decoded_row(enc, i, x);
                double want = ref_score(xa, x, d, m == CN_METRIC_COSINE ? CN_METRIC_IP : m, &mag);
                check("set_query_id", lv, m, d, i, ev->ops->dist(ev, i), want,
                      1e-5 * (mag + fabs(want)) + 1e-7);
            }
        }
        cn_evaluator_destroy(ev);
    }
    cn_evaluator_destroy(fev);
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
        for (uint32_t d = 1; d <= 67; d += vg ? 5 : 1) check_distances(all_metrics[mi], d, vg ? 9 : 23);
    /* a typical dimension with more rows */
    for (int mi = 0; mi < 3; mi++) check_distances(all_metrics[mi], 128, vg ? 20 : 200);
}

static void test_levels_available(void **state) {
    (void)state;
    assert_non_null(cn_f16_kernels_at(CN_SIMD_SCALAR));
    for (int l = 0; l < 3; l++)
        print_message("f16 kernels %s: %s\n", cn_simd_name(all_levels[l]),
                      cn_f16_kernels_at(all_levels[l]) ? "tested" : "not available");
    /* a level above the detected one is refused */
    if (cn_simd_detect() < CN_SIMD_AVX512) assert_null(cn_f16_kernels_at(CN_SIMD_AVX512));
    /* the store's own evaluator uses the level in use and agrees with it */
    const uint32_t n = 20, d = 19;
    char err[ERRLEN] = "";
    float *data = cn_test_random_matrix(n, d, 9);
    cn_store_t *full = make_dense(data, n, d, CN_METRIC_L2);
    cn_store_t *enc = encode_f16(full);
    cn_evaluator_t *a = NULL, *b = NULL;
    assert_int_equal(cn_store_evaluator(enc, &a, err, sizeof err), CN_OK);
    assert_int_equal(cn_f16_evaluator_create_at(enc, cn_simd_level(), &b, err, sizeof err), CN_OK);
    cn_vec_t v = {.dense = data + d};
    assert_int_equal(a->ops->set_query(a, &v, err, sizeof err), CN_OK);
    assert_int_equal(b->ops->set_query(b, &v, err, sizeof err), CN_OK);
    for (uint32_t i = 0; i < n; i++) assert_true(a->ops->dist(a, i) == b->ops->dist(b, i));
    cn_evaluator_destroy(b);
    assert_int_equal(cn_f16_evaluator_create_at(full, CN_SIMD_SCALAR, &b, err, sizeof err),
                     CN_EINVAL);
    assert_null(b);
    cn_evaluator_destroy(a);
    cn_evaluator_destroy(b);
    cn_store_release(enc);
    cn_store_release(full);
    free(data);
}

static void test_cosine_query_normalised(void **state) {
    (void)state;
    const uint32_t n = 50, d = 24;
    char err[ERRLEN] = "";
    float *data = cn_test_random_matrix(n, d, 12);
    for (uint32_t j = 0; j < d; j++) data[3 * d + j] *= 500.0f;
    cn_store_t *full = make_dense(data, n, d, CN_METRIC_COSINE);
    cn_store_t *enc = encode_f16(full);
    cn_evaluator_t *ev = NULL;
    assert_int_equal(cn_store_evaluator(enc, &ev, err, sizeof err), CN_OK);
    float q[24], q7[24], a[50], b[50];
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
        assert_float_equal(a[i], b[i], 1e-6);
        assert_true(a[i] >= -1.002f && a[i] <= 1.002f);
    }
    assert_float_equal(a[5], -1.0f, 2e-3); /* the row itself */
    assert_float_equal(a[3], b[3], 1e-6);
    cn_evaluator_destroy(ev);
    cn_store_release(enc);
    cn_store_release(full);
    free(data);
}

/* ---- persistence ---------------------------------------------------------------- */

static void test_save_load_roundtrip(void **state) {
    (void)state;
    const uint32_t n = 211, d = 33;
    float *data = cn_test_random_matrix(n, d, 21);
    char path[4200];
    snprintf(path, sizeof path, "%s/f16_store.bin", cn_test_tmpdir());
    for (int mi = 0; mi < 3; mi++) {
        cn_metric_t m = all_metrics[mi];
        char err[ERRLEN] = "";
        cn_store_t *full = make_dense(data, n, d, m);
        cn_store_t *enc = encode_f16(full);
        cn_writer_t w;
        assert_int_equal(cn_writer_open(&w, path, err, sizeof err), CN_OK);
        cn_store_save(enc, &w);
        cn_write_u32(&w, 0xfeedbeefu); /* something after the store */
        assert_int_equal(cn_writer_close(&w, err, sizeof err), CN_OK);
        cn_reader_t r;
        assert_int_equal(cn_reader_open(&r, path, err, sizeof err), CN_OK);
        cn_store_t *back = NULL;
        if (cn_store_load(&back, &r, err, sizeof err) != CN_OK) fail_msg("load: %s", err);
        assert_int_equal(cn_read_u32(&r), 0xfeedbeefu);
        assert_int_equal(cn_reader_remaining(&r), 0);
        cn_reader_close(&r);
        assert_true(cn_store_is_f16(back));
        assert_int_equal(back->n, n);
        assert_int_equal(back->dim, d);
        assert_int_equal(back->metric, m);
        assert_int_equal(back->refs, 1);
        assert_int_equal(back->ops->bytes(back), enc->ops->bytes(enc));
        for (uint32_t i = 0; i < n; i++)
            assert_memory_equal(cn_store_f16_row(back, i), cn_store_f16_row(enc, i), d * 2);
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

/* Writes a store header and `payload` bytes, then tries to load it. */
static cn_status_t load_crafted(uint32_t n, uint32_t d, const void *payload, size_t len,
                                char *err, size_t errlen) {
    char path[4200];
    snprintf(path, sizeof path, "%s/f16_bad.bin", cn_test_tmpdir());
    cn_writer_t w;
    assert_int_equal(cn_writer_open(&w, path, err, errlen), CN_OK);
    cn_write_str(&w, "dense_f16");
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
    uint16_t pay[64];
    for (int i = 0; i < 64; i++) pay[i] = (uint16_t)(0x3c00 + i);
    /* exact size loads */
    assert_int_equal(load_crafted(8, 8, pay, sizeof pay, err, sizeof err), CN_OK);
    /* truncated by one half, by a row, absurd sizes: CN_EFORMAT, no big allocation */
    assert_int_equal(load_crafted(8, 8, pay, sizeof pay - 2, err, sizeof err), CN_EFORMAT);
    assert_non_null(strstr(err, "truncated"));
    assert_int_equal(load_crafted(9, 8, pay, sizeof pay, err, sizeof err), CN_EFORMAT);
    assert_int_equal(load_crafted(0xffffffffu, 0xffffffffu, pay, sizeof pay, err, sizeof err),
                     CN_EFORMAT);
    assert_int_equal(load_crafted(0xffffffffu, 1, pay, sizeof pay, err, sizeof err), CN_EFORMAT);
    assert_int_equal(load_crafted(1, 0xffffffffu, pay, sizeof pay, err, sizeof err), CN_EFORMAT);
    /* inf / NaN halves are never stored */
    pay[37] = 0x7c00;
    assert_int_equal(load_crafted(8, 8, pay, sizeof pay, err, sizeof err), CN_EFORMAT);
    assert_non_null(strstr(err, "row 4"));
    pay[37] = 0xfe01;
    assert_int_equal(load_crafted(8, 8, pay, sizeof pay, err, sizeof err), CN_EFORMAT);
    /* an empty store is fine */
    assert_int_equal(load_crafted(0, 8, pay, 0, err, sizeof err), CN_OK);
}

/* ---- through HNSW ------------------------------------------------------------- */

static void test_hnsw_through_f16(void **state) {
    (void)state;
    const uint32_t n = under_valgrind() ? 300 : 1500, d = 24, nq = under_valgrind() ? 10 : 50;
    const size_t k = 10;
    char err[ERRLEN] = "";
    float *data = cn_test_random_matrix(n, d, 31);
    float *queries = cn_test_random_matrix(nq, d, 32);
    cn_store_t *full = make_dense(data, n, d, CN_METRIC_L2);
    cn_store_t *enc = encode_f16(full);
    cn_index_t *ix = NULL;
    assert_int_equal(cn_index_create(&ix, "hnsw", CN_METRIC_L2, d, NULL, err, sizeof err), CN_OK);
    if (cn_index_build(ix, full, enc, NULL, 2, err, sizeof err) != CN_OK) fail_msg("build: %s", err);
    cn_search_ctx_t *ctx = NULL;
    assert_int_equal(cn_search_ctx_create(ix, &ctx, err, sizeof err), CN_OK);
    cn_param_t it = {.key = "ef", .type = CN_PARAM_INT, .i = 64, .f = 64};
    cn_params_t sp = {&it, 1};
    assert_int_equal(cn_search_ctx_set_params(ctx, &sp, err, sizeof err), CN_OK);
    uint32_t ids[10], truth[10];
    float dists[10];
    size_t hit = 0;
    for (uint32_t qi = 0; qi < nq; qi++) {
        cn_vec_t v = {.dense = queries + (size_t)qi * d};
        assert_int_equal(cn_index_search(ctx, &v, k, ids, dists, NULL, err, sizeof err), CN_OK);
        cn_test_brute_knn(data, n, d, v.dense, 0, k, truth);
        for (size_t i = 0; i < k; i++)
            for (size_t j = 0; j < k; j++) hit += ids[i] == truth[j];
    }
    double recall = (double)hit / (nq * k);
    print_message("hnsw through f16: recall@10 = %.3f\n", recall);
    if (recall < 0.9) fail_msg("recall@10 through f16 = %.3f < 0.9", recall);
    cn_search_ctx_destroy(ctx);
    cn_index_destroy(ix);
    cn_store_release(enc);
    cn_store_release(full);
    free(data);
    free(queries);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_half_to_float_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_float_to_half_reference, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encode_decode_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overflow_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_levels_available, setup, teardown),
        cmocka_unit_test_setup_teardown(test_distances_all_dims_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cosine_query_normalised, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_load_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_rejects_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hnsw_through_f16, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
