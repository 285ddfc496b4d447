/*
 * test_store_dense.c — the dense float32 store (quant/dense_f32.c), its
 * evaluator, the plain quantizer (quant/plain.c) and store persistence.
 *
 * The store must own a copy of the data (64-byte aligned), normalise rows for
 * cosine, reject NaN/Inf naming the row, and its evaluator must agree with a
 * double-precision brute force for every access path (single, batch, range,
 * pairs, query by id). Reference counting, the identity quantizer and the
 * save/load round trip are checked under the counting allocator, which every
 * test must leave with zero live blocks.
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
#include <unistd.h>

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

static cn_store_t *make_store(const float *data, uint32_t n, uint32_t d, cn_metric_t m) {
    char err[ERRLEN] = "";
    cn_store_t *s = NULL;
    cn_status_t st = cn_store_dense_create(&s, data, n, d, m, err, sizeof err);
    if (st != CN_OK) fail_msg("cn_store_dense_create(%s): %d %s", cn_metric_name(m), (int)st, err);
    assert_non_null(s);
    return s;
}

/* Internal score (common.h) of q to x in double precision. */
static double ref_score(const float *q, const float *x, size_t d, cn_metric_t m) {
    double s = 0, qn = 0, xn = 0;
    for (size_t j = 0; j < d; j++) {
        if (m == CN_METRIC_L2) {
            double t = (double)q[j] - (double)x[j];
            s += t * t;
        } else {
            s += (double)q[j] * (double)x[j];
            qn += (double)q[j] * q[j];
            xn += (double)x[j] * x[j];
        }
    }
    if (m == CN_METRIC_IP) return -s;
    if (m == CN_METRIC_COSINE) return (qn > 0 && xn > 0) ? -s / sqrt(qn * xn) : 0.0;
    return s;
}

static void check_score(const char *what, cn_metric_t m, uint32_t id, float got, double want) {
    double tol = 1e-5 * (fabs(want) + 1.0);
    if (!(fabs((double)got - want) <= tol))
        fail_msg("%s (%s) id %u: got %.9g want %.9g", what, cn_metric_name(m), id, (double)got,
                 want);
}

/* ---- creation ---------------------------------------------------------------- */

static void test_create_copies(void **state) {
    (void)state;
    const uint32_t n = 37, d = 19;
    float *data = cn_test_random_matrix(n, d, 1);
    float *orig = malloc((size_t)n * d * sizeof *orig);
    memcpy(orig, data, (size_t)n * d * sizeof *orig);
    for (int mi = 0; mi < 2; mi++) {
        cn_metric_t m = mi == 0 ? CN_METRIC_L2 : CN_METRIC_IP;
        cn_store_t *s = make_store(data, n, d, m);
        assert_int_equal(s->n, n);
        assert_int_equal(s->dim, d);
        assert_int_equal(s->metric, m);
        assert_int_equal(s->refs, 1);
        assert_non_null(s->ops);
        assert_string_equal(s->ops->name, "dense_f32");
        assert_true(cn_store_is_dense_f32(s));
        const float *r0 = cn_store_dense_row(s, 0);
        assert_non_null(r0);
        assert_int_equal((uintptr_t)r0 % 64, 0);
        assert_true(r0 != data);
        /* the source can change or go away: the store is unchanged */
        for (size_t i = 0; i < (size_t)n * d; i++) data[i] = 99.0f;
        for (uint32_t i = 0; i < n; i++)
            assert_memory_equal(cn_store_dense_row(s, i), orig + (size_t)i * d, d * sizeof(float));
        memcpy(data, orig, (size_t)n * d * sizeof *orig);
        assert_true(s->ops->bytes(s) >= (size_t)n * d * sizeof(float));
        /* decode returns the row */
        float *out = malloc(d * sizeof *out);
        for (uint32_t i = 0; i < n; i += 5) {
            s->ops->decode(s, i, out);
            assert_memory_equal(out, orig + (size_t)i * d, d * sizeof(float));
        }
        free(out);
        cn_store_release(s);
    }
    free(data);
    free(orig);
}

static void test_cosine_normalises(void **state) {
    (void)state;
    const uint32_t n = 20, d = 13;
    float *data = cn_test_random_matrix(n, d, 2);
    for (uint32_t j = 0; j < d; j++) data[4 * d + j] = 0.0f; /* a zero row */
    for (uint32_t j = 0; j < d; j++) data[9 * d + j] *= 1000.0f; /* a long row */
    cn_store_t *s = make_store(data, n, d, CN_METRIC_COSINE);
    assert_int_equal(s->metric, CN_METRIC_COSINE);
    for (uint32_t i = 0; i < n; i++) {
        const float *r = cn_store_dense_row(s, i);
        double nr = 0, nx = 0;
        for (uint32_t j = 0; j < d; j++) {
            nr += (double)r[j] * r[j];
            nx += (double)data[(size_t)i * d + j] * data[(size_t)i * d + j];
        }
        if (i == 4) {
            for (uint32_t j = 0; j < d; j++) assert_true(r[j] == 0.0f);
            continue;
        }
        if (fabs(sqrt(nr) - 1.0) > 1e-6) fail_msg("row %u has norm %.9g", i, sqrt(nr));
        /* same direction: r = x / |x| */
        for (uint32_t j = 0; j < d; j++)
            assert_float_equal(r[j], data[(size_t)i * d + j] / sqrt(nx), 1e-6);
    }
    cn_store_release(s);
    free(data);
}

static void test_rejects_nan_inf(void **state) {
    (void)state;
    const uint32_t n = 10, d = 6;
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    for (int b = 0; b < 3; b++) {
        for (int mi = 0; mi < 3; mi++) {
            float *data = cn_test_random_matrix(n, d, 3);
            data[7 * d + (uint32_t)(b + 2)] = bad[b];
            char err[ERRLEN] = "";
            cn_store_t *s = NULL;
            cn_status_t st = cn_store_dense_create(&s, data, n, d, (cn_metric_t)mi, err,
                                                   sizeof err);
            if (st != CN_EINVAL || !strstr(err, "7"))
                fail_msg("bad value %g in row 7 (%s): got %d '%s'", (double)bad[b],
                         cn_metric_name((cn_metric_t)mi), (int)st, err);
            assert_null(s);
            assert_int_equal(cn_test_alloc_live(), 0);
            free(data);
        }
    }
    /* the same data without the bad value is accepted */
    float *data = cn_test_random_matrix(n, d, 3);
    cn_store_t *s = make_store(data, n, d, CN_METRIC_L2);
    cn_store_release(s);
    free(data);
}

/* ---- evaluator -------------------------------------------------------------- */

static void check_evaluator(cn_metric_t m) {
    const uint32_t n = 53, d = 21;
    char err[ERRLEN] = "";
    float *data = cn_test_random_matrix(n, d, 10 + (uint64_t)m);
    float *queries = cn_test_random_matrix(4, d, 20 + (uint64_t)m);
    cn_store_t *s = make_store(data, n, d, m);
    cn_evaluator_t *ev = NULL;
    assert_int_equal(cn_store_evaluator(s, &ev, err, sizeof err), CN_OK);
    assert_non_null(ev);
    assert_ptr_equal(ev->store, s);
    uint64_t rng = 5;
    float out[3 * 53 + 1];
    uint32_t ids[3 * 53];
    const size_t nids = sizeof ids / sizeof ids[0];
    for (size_t i = 0; i < nids; i++) ids[i] = (uint32_t)(cn_test_rand(&rng) % n);
    ids[0] = n - 1;
    ids[1] = n - 1;
    ids[2] = 0;

    for (int qi = 0; qi < 4; qi++) {
        const float *q = queries + (size_t)qi * d;
        cn_vec_t v = {.dense = q};
        assert_int_equal(ev->ops->set_query(ev, &v, err, sizeof err), CN_OK);
        for (uint32_t i = 0; i < n; i++)
            check_score("dist", m, i, ev->ops->dist(ev, i), ref_score(q, data + (size_t)i * d, d, m));

        for (size_t i = 0; i <= nids; i++) out[i] = -777.0f;
        ev->ops->dist_batch(ev, ids, nids, out);
        for (size_t i = 0; i < nids; i++)
            check_score("dist_batch", m, ids[i], out[i],
                        ref_score(q, data + (size_t)ids[i] * d, d, m));
        assert_true(out[nids] == -777.0f);

        for (uint32_t start = 1; start < n; start += 17) {
            size_t cnt = n - start;
            for (size_t i = 0; i <= cnt; i++) out[i] = -777.0f;
            ev->ops->dist_range(ev, start, cnt, out);
            for (size_t i = 0; i < cnt; i++)
                check_score("dist_range", m, start + (uint32_t)i, out[i],
                            ref_score(q, data + (start + i) * d, d, m));
            assert_true(out[cnt] == -777.0f);
        }

        /* pairs between stored vectors leave the query alone */
        uint32_t a = (uint32_t)(qi * 11 + 3);
        ev->ops->dist_pairs(ev, a, ids, nids, out);
        for (size_t i = 0; i < nids; i++)
            check_score("dist_pairs", m, ids[i], out[i],
                        ref_score(data + (size_t)a * d, data + (size_t)ids[i] * d, d, m));
        for (uint32_t i = 0; i < n; i += 7)
            check_score("dist after dist_pairs", m, i, ev->ops->dist(ev, i),
                        ref_score(q, data + (size_t)i * d, d, m));
    }

    /* a stored vector as the query */
    for (uint32_t qid = 0; qid < n; qid += 13) {
        ev->ops->set_query_id(ev, qid);
        float self = ev->ops->dist(ev, qid);
        if (m == CN_METRIC_L2) {
            assert_true(self == 0.0f);
        } else if (m == CN_METRIC_COSINE) {
            assert_float_equal(self, -1.0f, 1e-5);
        }
        for (uint32_t i = 0; i < n; i++)
            check_score("dist after set_query_id", m, i, ev->ops->dist(ev, i),
                        ref_score(data + (size_t)qid * d, data + (size_t)i * d, d, m));
        ev->ops->dist_range(ev, 0, n, out);
        for (uint32_t i = 0; i < n; i++)
            check_score("dist_range after set_query_id", m, i, out[i],
                        ref_score(data + (size_t)qid * d, data + (size_t)i * d, d, m));
    }

    /* the query is copied: changing the caller's buffer changes nothing */
    float *qcopy = malloc(d * sizeof *qcopy);
    memcpy(qcopy, queries, d * sizeof *qcopy);
    cn_vec_t v = {.dense = qcopy};
    assert_int_equal(ev->ops->set_query(ev, &v, err, sizeof err), CN_OK);
    for (uint32_t j = 0; j < d; j++) qcopy[j] = 50.0f;
    check_score("dist after query buffer changed", m, 5, ev->ops->dist(ev, 5),
                ref_score(queries, data + 5 * (size_t)d, d, m));
    free(qcopy);

    /* a sparse query (dense == NULL) cannot be set on a dense store's evaluator */
    uint32_t sidx[2] = {1, 4};
    float sval[2] = {0.5f, -0.25f};
    cn_vec_t sp = {.dense = NULL, .nnz = 2, .idx = sidx, .val = sval};
    err[0] = 0;
    cn_status_t st = ev->ops->set_query(ev, &sp, err, sizeof err);
    if (st == CN_OK) fail_msg("sparse query on dense_f32 evaluator accepted (%s)", cn_metric_name(m));
    assert_true(err[0] != 0);

    cn_evaluator_destroy(ev);
    cn_evaluator_destroy(NULL);
    cn_store_release(s);
    free(data);
    free(queries);
}

static void test_evaluator_l2(void **state) {
    (void)state;
    check_evaluator(CN_METRIC_L2);
}
static void test_evaluator_ip(void **state) {
    (void)state;
    check_evaluator(CN_METRIC_IP);
}
static void test_evaluator_cosine(void **state) {
    (void)state;
    check_evaluator(CN_METRIC_COSINE);
}

/* Two evaluators over one store hold independent queries. */
static void test_two_evaluators(void **state) {
    (void)state;
    const uint32_t n = 30, d = 9;
    char err[ERRLEN] = "";
    float *data = cn_test_random_matrix(n, d, 40);
    float *qs = cn_test_random_matrix(2, d, 41);
    cn_store_t *s = make_store(data, n, d, CN_METRIC_L2);
    cn_evaluator_t *e1 = NULL, *e2 = NULL;
    assert_int_equal(cn_store_evaluator(s, &e1, err, sizeof err), CN_OK);
    assert_int_equal(cn_store_evaluator(s, &e2, err, sizeof err), CN_OK);
    assert_true(e1 != e2);
    cn_vec_t v1 = {.dense = qs}, v2 = {.dense = qs + d};
    assert_int_equal(e1->ops->set_query(e1, &v1, err, sizeof err), CN_OK);
    assert_int_equal(e2->ops->set_query(e2, &v2, err, sizeof err), CN_OK);
    for (uint32_t i = 0; i < n; i++) {
        check_score("e1", CN_METRIC_L2, i, e1->ops->dist(e1, i),
                    ref_score(qs, data + (size_t)i * d, d, CN_METRIC_L2));
        check_score("e2", CN_METRIC_L2, i, e2->ops->dist(e2, i),
                    ref_score(qs + d, data + (size_t)i * d, d, CN_METRIC_L2));
    }
    cn_evaluator_destroy(e1);
    cn_evaluator_destroy(e2);
    cn_store_release(s);
    free(data);
    free(qs);
}

/* ---- reference counting and the plain quantizer ------------------------------ */

static void test_refcount(void **state) {
    (void)state;
    const uint32_t n = 8, d = 4;
    float *data = cn_test_random_matrix(n, d, 50);
    cn_store_t *s = make_store(data, n, d, CN_METRIC_L2);
    long live1 = cn_test_alloc_live();
    assert_true(live1 > 0);
    assert_ptr_equal(cn_store_retain(s), s);
    assert_int_equal(s->refs, 2);
    cn_store_release(s);
    assert_int_equal(s->refs, 1);
    assert_int_equal(cn_test_alloc_live(), live1); /* not freed while referenced */
    assert_memory_equal(cn_store_dense_row(s, 3), data + 3 * d, d * sizeof(float));
    cn_store_release(s);
    assert_int_equal(cn_test_alloc_live(), 0);
    cn_store_release(NULL);
    assert_null(cn_store_retain(NULL));
    free(data);
}

static void test_plain_quantizer(void **state) {
    (void)state;
    const uint32_t n = 16, d = 10;
    char err[ERRLEN] = "";
    float *data = cn_test_random_matrix(n, d, 60);
    for (int mi = 0; mi < 3; mi++) {
        cn_metric_t m = (cn_metric_t)mi;
        cn_store_t *s = make_store(data, n, d, m);
        cn_quantizer_t *q = NULL;
        cn_params_t none = {NULL, 0};
        cn_status_t st = cn_quantizer_create(&q, "plain", m, d, &none, err, sizeof err);
        if (st != CN_OK) fail_msg("plain: %d %s", (int)st, err);
        assert_non_null(q);
        assert_string_equal(q->ops->name, "plain");
        assert_int_equal(q->metric, m);
        assert_int_equal(q->dim, d);
        assert_int_equal(q->ops->train(q, s, err, sizeof err), CN_OK);
        assert_int_equal(q->ops->bytes_per_vector(q), d * sizeof(float));
        cn_store_t *enc = NULL;
        assert_int_equal(q->ops->encode(q, s, &enc, err, sizeof err), CN_OK);
        assert_ptr_equal(enc, s); /* identity: the same store, one more reference */
        assert_int_equal(s->refs, 2);
        cn_quantizer_destroy(q);
        assert_int_equal(s->refs, 2); /* the encoded store outlives the quantizer */
        cn_store_release(enc);
        assert_int_equal(s->refs, 1);
        cn_store_release(s);
    }
    /* created by name; it declares itself the identity */
    cn_quantizer_t *q = NULL;
    assert_int_equal(cn_quantizer_create(&q, "plain", CN_METRIC_IP, d, NULL, err, sizeof err),
                     CN_OK);
    assert_non_null(q);
    assert_int_equal(q->identity, 1);
    cn_quantizer_destroy(q);
    cn_quantizer_destroy(NULL);
    free(data);
}

/* ---- persistence ----------------------------------------------------------- */

static void check_roundtrip(cn_metric_t m) {
    const uint32_t n = 45, d = 17;
    char err[ERRLEN] = "", path[1024];
    float *data = cn_test_random_matrix(n, d, 70 + (uint64_t)m);
    cn_store_t *s = make_store(data, n, d, m);
    snprintf(path, sizeof path, "%s/store_%s.bin", cn_test_tmpdir(), cn_metric_name(m));

    cn_writer_t w;
    assert_int_equal(cn_writer_open(&w, path, err, sizeof err), CN_OK);
    cn_store_save(s, &w);
    cn_write_u32(&w, 0xC0FFEEu); /* a marker after the store */
    if (cn_writer_close(&w, err, sizeof err) != CN_OK) fail_msg("close: %s", err);

    cn_reader_t r;
    if (cn_reader_open(&r, path, err, sizeof err) != CN_OK) fail_msg("open: %s", err);
    cn_store_t *t = NULL;
    cn_status_t st = cn_store_load(&t, &r, err, sizeof err);
    if (st != CN_OK) fail_msg("cn_store_load (%s): %d %s", cn_metric_name(m), (int)st, err);
    assert_int_equal(cn_read_u32(&r), 0xC0FFEEu); /* consumed exactly its own bytes */
    assert_int_equal(cn_reader_remaining(&r), 0);
    cn_reader_close(&r);

    assert_non_null(t);
    assert_true(t != s);
    assert_string_equal(t->ops->name, "dense_f32");
    assert_true(cn_store_is_dense_f32(t));
    assert_int_equal(t->metric, m);
    assert_int_equal(t->n, n);
    assert_int_equal(t->dim, d);
    assert_int_equal(t->refs, 1);
    assert_int_equal((uintptr_t)cn_store_dense_row(t, 0) % 64, 0);
    for (uint32_t i = 0; i < n; i++)
        assert_memory_equal(cn_store_dense_row(t, i), cn_store_dense_row(s, i), d * sizeof(float));
    assert_int_equal(t->ops->bytes(t), s->ops->bytes(s));

    /* an evaluator over the loaded store gives the same bits */
    cn_evaluator_t *e1 = NULL, *e2 = NULL;
    assert_int_equal(cn_store_evaluator(s, &e1, err, sizeof err), CN_OK);
    assert_int_equal(cn_store_evaluator(t, &e2, err, sizeof err), CN_OK);
    cn_vec_t v = {.dense = data + 3 * (size_t)d};
    assert_int_equal(e1->ops->set_query(e1, &v, err, sizeof err), CN_OK);
    assert_int_equal(e2->ops->set_query(e2, &v, err, sizeof err), CN_OK);
    float o1[45], o2[45];
    e1->ops->dist_range(e1, 0, n, o1);
    e2->ops->dist_range(e2, 0, n, o2);
    assert_memory_equal(o1, o2, sizeof o1);
    cn_evaluator_destroy(e1);
    cn_evaluator_destroy(e2);
    cn_store_release(t);
    cn_store_release(s);
    free(data);
}

static void test_save_load_l2(void **state) {
    (void)state;
    check_roundtrip(CN_METRIC_L2);
}
static void test_save_load_ip(void **state) {
    (void)state;
    check_roundtrip(CN_METRIC_IP);
}
static void test_save_load_cosine(void **state) {
    (void)state;
    check_roundtrip(CN_METRIC_COSINE);
}

/* The payload alone (ops->save) reloads through the dense_f32 loader; a claimed
 * size larger than the file is CN_EFORMAT before anything large is allocated. */
static void test_dense_load_payload(void **state) {
    (void)state;
    const uint32_t n = 12, d = 5;
    char err[ERRLEN] = "", path[1024];
    float *data = cn_test_random_matrix(n, d, 80);
    cn_store_t *s = make_store(data, n, d, CN_METRIC_IP);
    snprintf(path, sizeof path, "%s/payload.bin", cn_test_tmpdir());
    cn_writer_t w;
    assert_int_equal(cn_writer_open(&w, path, err, sizeof err), CN_OK);
    s->ops->save(s, &w);
    assert_int_equal(cn_writer_close(&w, err, sizeof err), CN_OK);

    cn_reader_t r;
    assert_int_equal(cn_reader_open(&r, path, err, sizeof err), CN_OK);
    cn_store_t *t = NULL;
    cn_store_loader_t dense_load = cn_registry_store_loader("dense_f32");
    assert_non_null(dense_load);
    cn_status_t st = dense_load(&t, &r, CN_METRIC_IP, n, d, err, sizeof err);
    if (st != CN_OK) fail_msg("dense_f32 load: %d %s", (int)st, err);
    cn_reader_close(&r);
    for (uint32_t i = 0; i < n; i++)
        assert_memory_equal(cn_store_dense_row(t, i), data + (size_t)i * d, d * sizeof(float));
    cn_store_release(t);

    /* the registry's loader for "dense_f32" reads the same payload */
    cn_store_loader_t load = cn_registry_store_loader("dense_f32");
    assert_non_null(load);
    assert_int_equal(cn_reader_open(&r, path, err, sizeof err), CN_OK);
    t = NULL;
    assert_int_equal(load(&t, &r, CN_METRIC_IP, n, d, err, sizeof err), CN_OK);
    cn_reader_close(&r);
    assert_non_null(t);
    assert_memory_equal(cn_store_dense_row(t, n - 1), data + (size_t)(n - 1) * d,
                        d * sizeof(float));
    cn_store_release(t);

    /* claimed sizes the payload cannot hold */
    long live_before = cn_test_alloc_live();
    const uint32_t claims[][2] = {{n + 1, d},
                                  {1000000, d},
                                  {n, 1u << 30},
                                  {0xFFFFFFFFu, 0xFFFFFFFFu},
                                  {0x10000u, 0x10000u},
                                  {0x80000000u, 0x80000000u}};
    for (size_t c = 0; c < sizeof claims / sizeof claims[0]; c++) {
        assert_int_equal(cn_reader_open(&r, path, err, sizeof err), CN_OK);
        t = NULL;
        err[0] = 0;
        st = dense_load(&t, &r, CN_METRIC_IP, claims[c][0], claims[c][1], err, sizeof err);
        cn_reader_close(&r);
        if (st == CN_OK)
            fail_msg("dense load accepted n=%u dim=%u from a %u x %u payload", claims[c][0],
                     claims[c][1], n, d);
        assert_null(t);
        assert_true(err[0] != 0);
        assert_int_equal(cn_test_alloc_live(), live_before);
    }
    cn_store_release(s);
    free(data);
}

/* A store of another kind is not dense. */
static void destroy_fake(cn_store_t *s) { (void)s; }
static void test_is_dense_f32(void **state) {
    (void)state;
    static const cn_store_ops_t fake_ops = {.name = "fake_store", .destroy = destroy_fake};
    cn_store_t fake = {.ops = &fake_ops, .metric = CN_METRIC_L2, .n = 1, .dim = 1, .refs = 1};
    assert_false(cn_store_is_dense_f32(&fake));
    float one[2] = {1, 2};
    cn_store_t *s = make_store(one, 1, 2, CN_METRIC_L2);
    assert_true(cn_store_is_dense_f32(s));
    cn_store_release(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_copies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cosine_normalises, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejects_nan_inf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evaluator_l2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evaluator_ip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evaluator_cosine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_evaluators, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refcount, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_quantizer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_load_l2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_load_ip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_load_cosine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dense_load_payload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_is_dense_f32, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
