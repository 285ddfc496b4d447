/*
 * test_conformance.c — every registered quantizer and store passes the
 * conformance suite (conformance.c), and the suite can fail.
 *
 * The first test loops over the registry: a quantizer added later (its file
 * plus one registry line) is checked here with no test code of its own. The
 * others register "broken", a test-local quantizer wrapping the dense_f32
 * store whose evaluator or loader is wrong in one chosen way, and assert
 * that the suite reports exactly that (and that the unbroken wrapper passes,
 * so the failures are the breakage's and not the wrapper's).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "conformance.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cannoli/cannoli.h"

/* ---- every registered quantizer ------------------------------------------------------ */

static void test_every_registered_quantizer(void **state) {
    (void)state;
    size_t tested = 0;
    int saw_sparse = 0, saw_pq = 0;
    for (size_t i = 0; i < cn_registry_count(); i++) {
        const cn_component_t *c = cn_registry_at(i);
        if (c->kind != CN_COMPONENT_QUANTIZER) continue;
        cn_conformance_assert(c->name);
        saw_sparse |= strcmp(c->name, "sparse") == 0;
        saw_pq |= strcmp(c->name, "pq") == 0;
        tested++;
    }
    assert_true(tested >= 5); /* plain, f16, sq8, pq, sparse at least */
    assert_true(saw_sparse && saw_pq);
}

/* ---- a deliberately broken quantizer --------------------------------------------------- */

typedef enum {
    BREAK_NONE,
    BREAK_BATCH,     /* dist_batch disagrees with dist on one entry */
    BREAK_RANGE,     /* dist_range skips its start */
    BREAK_TOLERANCE, /* consistent, but 1% off the decoded vector's score */
    BREAK_PAIRS,     /* dist_pairs scores the current query, not stored vector a */
    BREAK_ROUNDTRIP, /* the loader changes a value */
    BREAK_IDENTITY,  /* claims identity but copies */
    BREAK_BYTES,     /* a lazily built table counted, never dropped */
    BREAK_LB         /* score_lb's lower bounds are above the exact scores */
} brk_t;

static brk_t mode;

typedef struct br_store {
    cn_store_t base;
    cn_store_t *inner; /* dense_f32 */
    int grown;         /* BREAK_BYTES: set by dist_pairs */
} br_store_t;

typedef struct br_eval {
    cn_evaluator_t base;
    cn_evaluator_t *inner;
} br_eval_t;

static float skew(float x) { return mode == BREAK_TOLERANCE ? x * 1.01f + 0.01f : x; }

static cn_status_t br_set_query(cn_evaluator_t *e, const cn_vec_t *q, char *err, size_t len) {
    cn_evaluator_t *in = ((br_eval_t *)e)->inner;
    return in->ops->set_query(in, q, err, len);
}
static void br_set_query_id(cn_evaluator_t *e, uint32_t id) {
    cn_evaluator_t *in = ((br_eval_t *)e)->inner;
    in->ops->set_query_id(in, id);
}
static float br_dist(cn_evaluator_t *e, uint32_t id) {
    cn_evaluator_t *in = ((br_eval_t *)e)->inner;
    return skew(in->ops->dist(in, id));
}
static void br_dist_batch(cn_evaluator_t *e, const uint32_t *ids, size_t n, float *out) {
    cn_evaluator_t *in = ((br_eval_t *)e)->inner;
    in->ops->dist_batch(in, ids, n, out);
    for (size_t i = 0; i < n; i++) out[i] = skew(out[i]);
    if (mode == BREAK_BATCH && n > 1) out[n - 1] += 1e-3f + 1e-3f * fabsf(out[n - 1]);
}
static void br_dist_range(cn_evaluator_t *e, uint32_t start, size_t n, float *out) {
    cn_evaluator_t *in = ((br_eval_t *)e)->inner;
    uint32_t s = mode == BREAK_RANGE && start + n < e->store->n ? start + 1 : start;
    in->ops->dist_range(in, s, n, out);
    for (size_t i = 0; i < n; i++) out[i] = skew(out[i]);
}
static void br_dist_pairs(cn_evaluator_t *e, uint32_t a, const uint32_t *ids, size_t n,
                          float *out) {
    cn_evaluator_t *in = ((br_eval_t *)e)->inner;
    if (mode == BREAK_PAIRS)
        in->ops->dist_batch(in, ids, n, out);
    else
        in->ops->dist_pairs(in, a, ids, n, out);
    for (size_t i = 0; i < n; i++) out[i] = skew(out[i]);
    if (mode == BREAK_BYTES) ((br_store_t *)e->store)->grown = 1;
}
static void br_eval_destroy(cn_evaluator_t *e) {
    cn_evaluator_destroy(((br_eval_t *)e)->inner);
    cn_free(e);
}
static const cn_evaluator_ops_t br_eval_ops = {br_set_query,  br_set_query_id, br_dist,
                                               br_dist_batch, br_dist_range,   br_dist_pairs,
                                               br_eval_destroy, NULL};

static cn_status_t br_evaluator(const cn_store_t *s, cn_evaluator_t **out, char *err,
                                size_t len) {
    br_eval_t *ev = cn_calloc(1, sizeof *ev);
    if (!ev) return cn_error(err, len, CN_ENOMEM, "broken: out of memory");
    cn_status_t st = cn_store_evaluator(((const br_store_t *)s)->inner, &ev->inner, err, len);
    if (st != CN_OK) {
        cn_free(ev);
        return st;
    }
    ev->base.ops = &br_eval_ops;
    ev->base.store = s;
    *out = &ev->base;
    return CN_OK;
}
static size_t br_bytes(const cn_store_t *s) {
    const br_store_t *b = (const br_store_t *)s;
    return sizeof *b + b->inner->ops->bytes(b->inner) + (b->grown ? 4096 : 0);
}
static void br_decode(const cn_store_t *s, uint32_t i, float *out) {
    const br_store_t *b = (const br_store_t *)s;
    b->inner->ops->decode(b->inner, i, out);
}
static void br_save(const cn_store_t *s, cn_writer_t *w) {
    const br_store_t *b = (const br_store_t *)s;
    b->inner->ops->save(b->inner, w);
}
static void br_destroy(cn_store_t *s) {
    cn_store_release(((br_store_t *)s)->inner);
    cn_free(s);
}
/* Packed blocks of 4 stored ids (16 bytes): score() is dist() (BREAK_LB:
 * shifted up by s_i, within the returned bound), score_lb's lo is a little
 * below it (BREAK_LB: half the shift above the exact score). */
#define BR_W 4
static size_t br_block_bytes(const cn_store_t *s) {
    (void)s;
    return BR_W * sizeof(uint32_t);
}
static void br_pack(const cn_store_t *s, const uint32_t *ids, size_t n, uint8_t *block) {
    (void)s;
    memset(block, 0, BR_W * sizeof(uint32_t));
    memcpy(block, ids, (n < BR_W ? n : BR_W) * sizeof(uint32_t));
}
static float br_shift(float d) { return mode == BREAK_LB ? 0.05f * (fabsf(d) + 1.0f) : 0.0f; }
static float br_score(cn_evaluator_t *e, const uint8_t *block, float *out) {
    uint32_t ids[BR_W];
    memcpy(ids, block, sizeof ids);
    float bound = 0.0f;
    for (int i = 0; i < BR_W; i++) {
        float d = br_dist(e, ids[i]), sh = br_shift(d);
        out[i] = d + sh;
        bound = fmaxf(bound, 1.01f * sh);
    }
    return bound;
}
static void br_score_lb(cn_evaluator_t *e, const uint8_t *block, float *out, float *lo) {
    br_score(e, block, out);
    for (int i = 0; i < BR_W; i++)
        lo[i] = mode == BREAK_LB ? out[i] - 0.5f * br_shift(out[i])
                                 : out[i] - 1e-4f * (fabsf(out[i]) + 1.0f);
}
static const cn_block_ops_t br_block_ops = {.width = BR_W,
                                            .block_bytes = br_block_bytes,
                                            .pack = br_pack,
                                            .store_blocks = NULL,
                                            .score = br_score,
                                            .score_lb = br_score_lb};

static const cn_store_ops_t br_store_ops = {"broken", br_evaluator, br_bytes, br_decode,
                                            br_save,  br_destroy,   NULL, &br_block_ops, NULL};

/* Takes the reference to inner. */
static cn_store_t *br_wrap(cn_store_t *inner) {
    br_store_t *b = cn_calloc(1, sizeof *b);
    if (!b) return NULL;
    b->base.ops = &br_store_ops;
    b->base.metric = inner->metric;
    b->base.n = inner->n;
    b->base.dim = inner->dim;
    b->base.refs = 1;
    b->inner = inner;
    return &b->base;
}

static cn_status_t br_load(cn_store_t **out, cn_reader_t *r, cn_metric_t metric, uint32_t n,
                           uint32_t dim, char *err, size_t errlen) {
    *out = NULL;
    if ((uint64_t)n * dim * sizeof(float) > cn_reader_remaining(r))
        return cn_error(err, errlen, CN_EFORMAT, "broken: truncated");
    float *x = malloc(((size_t)n * dim + 1) * sizeof(float));
    if (cn_read(r, x, (size_t)n * dim * sizeof(float)) != CN_OK) {
        free(x);
        return cn_error(err, errlen, CN_EFORMAT, "broken: truncated");
    }
    if (mode == BREAK_ROUNDTRIP && n * dim > 0) x[0] += 0.25f;
    cn_store_t *inner = NULL;
    cn_status_t st = cn_store_dense_create(&inner, x, n, dim, metric, err, errlen);
    free(x);
    if (st != CN_OK) return st;
    *out = br_wrap(inner);
    if (!*out) {
        cn_store_release(inner);
        return cn_error(err, errlen, CN_ENOMEM, "broken: out of memory");
    }
    return CN_OK;
}

static cn_status_t br_train(cn_quantizer_t *q, const cn_store_t *full, char *err, size_t len) {
    (void)q;
    if (!cn_store_is_dense_f32(full))
        return cn_error(err, len, CN_EINVAL, "broken: input must be a dense_f32 store");
    return CN_OK;
}
static cn_status_t br_encode(const cn_quantizer_t *q, cn_store_t *full, cn_store_t **out,
                             char *err, size_t len) {
    (void)q;
    *out = br_wrap(cn_store_retain(full));
    if (!*out) {
        cn_store_release(full);
        return cn_error(err, len, CN_ENOMEM, "broken: out of memory");
    }
    return CN_OK;
}
static size_t br_bpv(const cn_quantizer_t *q) { return q->dim * sizeof(float); }
static void br_qdestroy(cn_quantizer_t *q) { cn_free(q); }
static const cn_quantizer_ops_t br_ops = {.name = "broken",
                                          .train = br_train,
                                          .encode = br_encode,
                                          .bytes_per_vector = br_bpv,
                                          .destroy = br_qdestroy,
                                          .dist_rtol = 1e-5f,
                                          .dist_atol = 1e-6f};

/* l2 and ip (its loader re-creates the rows, which cosine would renormalise). */
static cn_status_t br_create(cn_quantizer_t **out, cn_metric_t metric, uint32_t dim,
                             const cn_params_t *params, char *err, size_t len) {
    (void)params;
    *out = NULL;
    if (metric == CN_METRIC_COSINE) return cn_error(err, len, CN_EINVAL, "broken: no cosine");
    cn_quantizer_t *q = cn_calloc(1, sizeof *q);
    if (!q) return cn_error(err, len, CN_ENOMEM, "broken: out of memory");
    q->ops = &br_ops;
    q->metric = metric;
    q->dim = dim;
    q->identity = mode == BREAK_IDENTITY;
    *out = q;
    return CN_OK;
}

static const cn_component_t br_component = {
    "broken", CN_COMPONENT_QUANTIZER, "a quantizer broken on purpose (test)", NULL, 0, NULL,
    br_create, "broken", br_load};

static void register_broken(void) {
    char err[256];
    if (!cn_registry_find("broken", CN_COMPONENT_QUANTIZER))
        assert_int_equal(cn_registry_add(&br_component, err, sizeof err), CN_OK);
}

/* Runs the suite with the given breakage; returns its first message. */
static unsigned long run_broken(brk_t m, char *first, size_t len) {
    register_broken();
    mode = m;
    cn_conformance_report_t rep;
    unsigned long f = cn_conformance_quantizer(&br_component, &rep);
    snprintf(first, len, "%s", rep.first);
    mode = BREAK_NONE;
    return f;
}

static void test_unbroken_wrapper_passes(void **state) {
    (void)state;
    register_broken();
    mode = BREAK_NONE;
    cn_conformance_assert("broken");
}

static void expect_failure(brk_t m, const char *needle) {
    char first[1024];
    unsigned long f = run_broken(m, first, sizeof first);
    if (f == 0) fail_msg("the suite passed a quantizer broken in mode %d", (int)m);
    if (!strstr(first, needle))
        fail_msg("mode %d: expected a failure naming '%s', got: %s", (int)m, needle, first);
    print_message("mode %d caught (%lu failed checks): %s\n", (int)m, f, first);
}

static void test_suite_catches_batch(void **state) {
    (void)state;
    expect_failure(BREAK_BATCH, "dist_batch");
}
static void test_suite_catches_range(void **state) {
    (void)state;
    expect_failure(BREAK_RANGE, "dist_range");
}
static void test_suite_catches_tolerance(void **state) {
    (void)state;
    expect_failure(BREAK_TOLERANCE, "tolerance");
}
static void test_suite_catches_pairs(void **state) {
    (void)state;
    expect_failure(BREAK_PAIRS, "dist_pairs");
}
static void test_suite_catches_roundtrip(void **state) {
    (void)state;
    expect_failure(BREAK_ROUNDTRIP, "round trip");
}
static void test_suite_catches_identity(void **state) {
    (void)state;
    expect_failure(BREAK_IDENTITY, "identity");
}
static void test_suite_catches_bytes(void **state) {
    (void)state;
    expect_failure(BREAK_BYTES, "bytes");
}
static void test_suite_catches_lower_bounds(void **state) {
    (void)state;
    expect_failure(BREAK_LB, "score_lb");
}

int main(void) {
    /* The registry loop runs first, before "broken" is registered. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_registered_quantizer),
        cmocka_unit_test(test_unbroken_wrapper_passes),
        cmocka_unit_test(test_suite_catches_batch),
        cmocka_unit_test(test_suite_catches_range),
        cmocka_unit_test(test_suite_catches_tolerance),
        cmocka_unit_test(test_suite_catches_pairs),
        cmocka_unit_test(test_suite_catches_roundtrip),
        cmocka_unit_test(test_suite_catches_identity),
        cmocka_unit_test(test_suite_catches_bytes),
        cmocka_unit_test(test_suite_catches_lower_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
