/*
 * test_registry.c — the component registry (algorithms/registry.c) and the
 * parameter validation every component gets through it: lookup by name and
 * kind, enumeration, the hnsw schema, run-time registration (a wrapped flat
 * index under a new name, with a schema of its own), and the errors of
 * cn_index_create / cn_quantizer_create / cn_search_ctx_set_params.
 *
 * cn_registry_add is process-wide and has no remove, so components added here
 * are static and every test tolerates them having been added already.
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

static cn_param_t pint(const char *k, long long v) {
    cn_param_t p = {.key = k, .type = CN_PARAM_INT, .i = v, .f = (double)v};
    return p;
}
static cn_param_t pflt(const char *k, double v) {
    cn_param_t p = {.key = k, .type = CN_PARAM_FLOAT, .f = v, .i = (long long)v};
    return p;
}
static cn_param_t pstr(const char *k, const char *v) {
    cn_param_t p = {.key = k, .type = CN_PARAM_STRING, .s = v};
    return p;
}

static const cn_param_spec_t *spec_named(const cn_component_t *c, const char *name) {
    for (size_t i = 0; i < c->n_params; i++)
        if (strcmp(c->params[i].name, name) == 0) return &c->params[i];
    return NULL;
}

/* ---- lookup and enumeration -------------------------------------------------- */

static void test_find_builtins(void **state) {
    (void)state;
    const cn_component_t *flat = cn_registry_find("flat", CN_COMPONENT_INDEX);
    const cn_component_t *hnsw = cn_registry_find("hnsw", CN_COMPONENT_INDEX);
    const cn_component_t *plain = cn_registry_find("plain", CN_COMPONENT_QUANTIZER);
    assert_non_null(flat);
    assert_non_null(hnsw);
    assert_non_null(plain);
    assert_string_equal(flat->name, "flat");
    assert_string_equal(hnsw->name, "hnsw");
    assert_string_equal(plain->name, "plain");
    assert_int_equal(flat->kind, CN_COMPONENT_INDEX);
    assert_int_equal(hnsw->kind, CN_COMPONENT_INDEX);
    assert_int_equal(plain->kind, CN_COMPONENT_QUANTIZER);
    assert_non_null(flat->create_index);
    assert_non_null(hnsw->create_index);
    assert_non_null(plain->create_quantizer);
    assert_non_null(plain->store_name);
    assert_string_equal(plain->store_name, "dense_f32");
    assert_non_null(plain->store_load);
    assert_int_equal(flat->n_params, 0);
    assert_int_equal(plain->n_params, 0);

    /* the wrong kind, unknown names, case and NULL */
    assert_null(cn_registry_find("flat", CN_COMPONENT_QUANTIZER));
    assert_null(cn_registry_find("hnsw", CN_COMPONENT_QUANTIZER));
    assert_null(cn_registry_find("plain", CN_COMPONENT_INDEX));
    assert_null(cn_registry_find("nosuchthing", CN_COMPONENT_INDEX));
    assert_null(cn_registry_find("nosuchthing", CN_COMPONENT_QUANTIZER));
    assert_null(cn_registry_find("", CN_COMPONENT_INDEX));
    assert_null(cn_registry_find("fla", CN_COMPONENT_INDEX));
    assert_null(cn_registry_find("flatx", CN_COMPONENT_INDEX));
    assert_null(cn_registry_find(NULL, CN_COMPONENT_INDEX));

    cn_store_loader_t load = cn_registry_store_loader("dense_f32");
    assert_non_null(load);
    assert_ptr_equal(load, plain->store_load);
    assert_null(cn_registry_store_loader("no_such_store"));
    assert_null(cn_registry_store_loader("plain")); /* a quantizer name is not a store name */
}

static void test_enumerate(void **state) {
    (void)state;
    size_t n = cn_registry_count();
    assert_true(n >= 3);
    int seen_flat = 0, seen_hnsw = 0, seen_plain = 0;
    for (size_t i = 0; i < n; i++) {
        const cn_component_t *c = cn_registry_at(i);
        assert_non_null(c);
        assert_non_null(c->name);
        assert_true(c->name[0] != 0);
        if (!c->help || !c->help[0]) fail_msg("component '%s' has no help", c->name);
        assert_true(c->kind == CN_COMPONENT_INDEX || c->kind == CN_COMPONENT_QUANTIZER);
        if (c->kind == CN_COMPONENT_INDEX) assert_non_null(c->create_index);
        if (c->kind == CN_COMPONENT_QUANTIZER) assert_non_null(c->create_quantizer);
        assert_true(c->n_params == 0 || c->params != NULL);
        /* what find returns for this name and kind is this entry (no shadowing) */
        assert_ptr_equal(cn_registry_find(c->name, c->kind), c);
        for (size_t j = 0; j < i; j++) {
            const cn_component_t *o = cn_registry_at(j);
            if (o->kind == c->kind && strcmp(o->name, c->name) == 0)
                fail_msg("'%s' registered twice with the same kind", c->name);
        }
        for (size_t p = 0; p < c->n_params; p++) {
            const cn_param_spec_t *s = &c->params[p];
            assert_non_null(s->name);
            assert_true(s->name[0] != 0);
            if (!s->help || !s->help[0]) fail_msg("%s.%s has no help", c->name, s->name);
            if (s->type != CN_PARAM_STRING) assert_true(s->min <= s->max);
            assert_true(s->role == CN_ROLE_BUILD || s->role == CN_ROLE_SEARCH);
            for (size_t q = 0; q < p; q++) assert_string_not_equal(c->params[q].name, s->name);
        }
        if (c->kind == CN_COMPONENT_INDEX && !strcmp(c->name, "flat")) seen_flat++;
        if (c->kind == CN_COMPONENT_INDEX && !strcmp(c->name, "hnsw")) seen_hnsw++;
        if (c->kind == CN_COMPONENT_QUANTIZER && !strcmp(c->name, "plain")) seen_plain++;
    }
    assert_int_equal(seen_flat, 1);
    assert_int_equal(seen_hnsw, 1);
    assert_int_equal(seen_plain, 1);
}

static void test_hnsw_schema(void **state) {
    (void)state;
    const cn_component_t *h = cn_registry_find("hnsw", CN_COMPONENT_INDEX);
    assert_non_null(h);
    static const struct {
        const char *name;
        cn_param_role_t role;
        double min, max;
        long long def;
    } want[] = {
        {"M", CN_ROLE_BUILD, 2, 512, 16},
        {"ef_construction", CN_ROLE_BUILD, 1, 100000, 200},
        {"seed", CN_ROLE_BUILD, NAN, NAN, 42},
        {"ef", CN_ROLE_SEARCH, 1, 1000000, 10},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const cn_param_spec_t *s = spec_named(h, want[i].name);
        if (!s) fail_msg("hnsw has no parameter '%s'", want[i].name);
        assert_int_equal(s->type, CN_PARAM_INT);
        if (s->role != want[i].role)
            fail_msg("hnsw.%s has role %d, want %d", s->name, (int)s->role, (int)want[i].role);
        if (!isnan(want[i].min)) {
            assert_true(s->min == want[i].min);
            assert_true(s->max == want[i].max);
        }
        assert_non_null(s->def); /* all optional */
        assert_int_equal(atoll(s->def), want[i].def);
    }
    /* case matters: "m" is not "M" */
    assert_null(spec_named(h, "m"));
}

/* ---- defaults written once ---------------------------------------------------------- */

/* The generic layer completes a parameter set with the schema's defaults of
 * one role: given items first, then the missing defaults, typed. */
static void test_fill_defaults(void **state) {
    (void)state;
    char err[ERRLEN] = "";
    const cn_component_t *h = cn_registry_find("hnsw", CN_COMPONENT_INDEX);
    assert_non_null(h);
    cn_param_t given = pint("M", 8);
    cn_params_t gp = {&given, 1};
    cn_param_t items[16];
    cn_params_t out;
    assert_int_equal(cn_component_fill_defaults(h, CN_ROLE_BUILD, &gp, items, 16, &out, err,
                                                sizeof err),
                     CN_OK);
    assert_int_equal(out.n, 5); /* M given; ef_construction, seed, layout, order filled;
                                   ef is a search one */
    assert_string_equal(out.items[0].key, "M");
    assert_int_equal(cn_params_get_int(&out, "M"), 8);
    assert_int_equal(cn_params_get_int(&out, "ef_construction"), 200);
    assert_int_equal(cn_params_get_int(&out, "seed"), 42);
    assert_string_equal(cn_params_get_str(&out, "layout"), "adjacency");
    assert_string_equal(cn_params_get_str(&out, "order"), "none");
    assert_true(out.items[1].f == (double)out.items[1].i);
    assert_null(cn_params_find(&out, "ef"));
    /* search role: ef and patience */
    assert_int_equal(cn_component_fill_defaults(h, CN_ROLE_SEARCH, NULL, items, 16, &out, err,
                                                sizeof err),
                     CN_OK);
    assert_int_equal(out.n, 2); /* ef, patience */
    assert_int_equal(cn_params_get_int(&out, "ef"), 10);
    assert_int_equal(cn_params_get_int(&out, "patience"), 0);
    /* strings and floats */
    const cn_component_t *pq = cn_registry_find("pq", CN_COMPONENT_QUANTIZER);
    assert_int_equal(cn_component_fill_defaults(pq, CN_ROLE_BUILD, NULL, items, 16, &out, err,
                                                sizeof err),
                     CN_OK);
    assert_string_equal(cn_params_get_str(&out, "init"), "kmeans++");
    assert_int_equal(cn_params_get_int(&out, "subspaces"), 16);
    const cn_component_t *inv = cn_registry_find("inverted", CN_COMPONENT_INDEX);
    assert_int_equal(cn_component_fill_defaults(inv, CN_ROLE_SEARCH, NULL, items, 16, &out, err,
                                                sizeof err),
                     CN_OK);
    assert_true(cn_params_get_float(&out, "keep") == 1.0);
    /* too small a buffer, and a schema whose default is not its type */
    assert_int_equal(cn_component_fill_defaults(pq, CN_ROLE_BUILD, NULL, items, 2, &out, err,
                                                sizeof err),
                     CN_EINVAL);
    static const cn_param_spec_t bad_spec[] = {
        {"n", CN_PARAM_INT, CN_ROLE_BUILD, 0, 10, "ten", NULL, "a broken default", 0}};
    static const cn_component_t bad = {"bad", CN_COMPONENT_INDEX, "schema bug (test)", bad_spec,
                                       1, NULL, NULL, NULL, NULL};
    err[0] = 0;
    assert_int_equal(cn_component_fill_defaults(&bad, CN_ROLE_BUILD, NULL, items, 16, &out, err,
                                                sizeof err),
                     CN_EINVAL);
    assert_non_null(strstr(err, "'ten'"));
}

/* Constructors set the identity flag: plain and sparse f32 encode to their
 * input (nothing lost), the others do not. */
static void test_identity_flag(void **state) {
    (void)state;
    char err[ERRLEN] = "";
    const struct {
        const char *name;
        cn_metric_t m;
        const char *values;
        int identity;
    } want[] = {{"plain", CN_METRIC_L2, NULL, 1}, {"f16", CN_METRIC_L2, NULL, 0},
                {"sq8", CN_METRIC_L2, NULL, 0},   {"pq", CN_METRIC_L2, NULL, 0},
                {"sparse", CN_METRIC_IP, NULL, 1}, {"sparse", CN_METRIC_IP, "f32", 1},
                {"sparse", CN_METRIC_IP, "f16", 0}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        cn_param_t v = pstr("values", want[i].values ? want[i].values : "");
        cn_params_t p = {&v, want[i].values ? 1 : 0};
        cn_quantizer_t *q = NULL;
        cn_status_t st = cn_quantizer_create(&q, want[i].name, want[i].m, 32, &p, err, sizeof err);
        if (st != CN_OK) fail_msg("%s: %s", want[i].name, err);
        if (q->identity != want[i].identity)
            fail_msg("%s (values %s): identity %d, want %d", want[i].name,
                     want[i].values ? want[i].values : "default", q->identity, want[i].identity);
        cn_quantizer_destroy(q);
    }
}

/* ---- run-time registration ------------------------------------------------------- */

static int myflat_calls;
static double myflat_alpha;

static cn_status_t myflat_create(cn_index_t **out, cn_metric_t metric, uint32_t dim,
                                 const cn_params_t *bp, char *err, size_t errlen) {
    myflat_calls++;
    myflat_alpha = cn_params_get_float(bp, "alpha"); /* the schema's default filled in */
    const cn_component_t *flat = cn_registry_find("flat", CN_COMPONENT_INDEX);
    return flat->create_index(out, metric, dim, NULL, err, errlen);
}

static const cn_param_spec_t myflat_params[] = {
    {"alpha", CN_PARAM_FLOAT, CN_ROLE_BUILD, 0.0, 1.0, "0.5", NULL, "a test knob", 0},
    {"mode", CN_PARAM_STRING, CN_ROLE_BUILD, 0, 0, "a", "a|b", "a test choice", 0},
};

static const cn_component_t myflat = {
    "myflat", CN_COMPONENT_INDEX, "flat under another name (test)", myflat_params,
    sizeof myflat_params / sizeof myflat_params[0], myflat_create, NULL, NULL, NULL};

/* A quantizer that happens to share a name with an index. */
static cn_status_t flatq_create(cn_quantizer_t **out, cn_metric_t metric, uint32_t dim,
                                const cn_params_t *p, char *err, size_t errlen) {
    return cn_registry_find("plain", CN_COMPONENT_QUANTIZER)
        ->create_quantizer(out, metric, dim, p, err, errlen);
}
static const cn_component_t flat_quantizer = {
    "flat", CN_COMPONENT_QUANTIZER, "plain under an index's name (test)", NULL, 0, NULL,
    flatq_create, "dense_f32", NULL};

static cn_status_t failing_create(cn_index_t **out, cn_metric_t metric, uint32_t dim,
                                  const cn_params_t *bp, char *err, size_t errlen) {
    (void)metric, (void)dim, (void)bp;
    *out = NULL;
    return cn_error(err, errlen, CN_EUNSUPPORTED, "failing index says no");
}
static const cn_component_t failing = {
    "failing", CN_COMPONENT_INDEX, "constructor always fails (test)", NULL, 0, failing_create,
    NULL, NULL, NULL};

static void add_once(const cn_component_t *c) {
    char err[ERRLEN] = "";
    if (cn_registry_find(c->name, c->kind) == c) return;
    size_t before = cn_registry_count();
    cn_status_t st = cn_registry_add(c, err, sizeof err);
    if (st != CN_OK) fail_msg("cn_registry_add(%s): %d %s", c->name, (int)st, err);
    assert_int_equal(cn_registry_count(), before + 1);
    assert_ptr_equal(cn_registry_find(c->name, c->kind), c);
}

static void test_add_custom_index(void **state) {
    (void)state;
    char err[ERRLEN] = "";
    add_once(&myflat);

    /* usable through cn_index_create */
    const uint32_t n = 40, d = 6;
    float *data = cn_test_random_matrix(n, d, 1);
    cn_param_t items[2] = {pflt("alpha", 0.25), pstr("mode", "b")};
    cn_params_t bp = {items, 2};
    cn_index_t *ix = NULL;
    int calls = myflat_calls;
    cn_status_t st = cn_index_create(&ix, "myflat", CN_METRIC_L2, d, &bp, err, sizeof err);
    if (st != CN_OK) fail_msg("create myflat: %d %s", (int)st, err);
    assert_int_equal(myflat_calls, calls + 1);
    assert_true(myflat_alpha == 0.25);
    assert_ptr_equal(ix->component, &myflat);
    assert_int_equal(ix->dim, d);
    assert_int_equal(ix->metric, CN_METRIC_L2);
    assert_non_null(ix->build_params);
    assert_non_null(strstr(ix->build_params, "alpha=0.25"));
    assert_non_null(strstr(ix->build_params, "mode=b"));

    cn_store_t *s = NULL;
    assert_int_equal(cn_store_dense_create(&s, data, n, d, CN_METRIC_L2, err, sizeof err), CN_OK);
    st = cn_index_build(ix, s, s, NULL, 1, err, sizeof err);
    if (st != CN_OK) fail_msg("build myflat: %s", err);
    cn_search_ctx_t *ctx = NULL;
    assert_int_equal(cn_search_ctx_create(ix, &ctx, err, sizeof err), CN_OK);
    uint32_t ids[3];
    float dists[3];
    size_t found = 0;
    cn_vec_t q = {.dense = data + 17 * d};
    assert_int_equal(cn_index_search(ctx, &q, 3, ids, dists, &found, err, sizeof err), CN_OK);
    assert_int_equal(found, 3);
    assert_int_equal(ids[0], 17);
    assert_true(dists[0] == 0.0f);
    cn_search_ctx_destroy(ctx);
    cn_index_destroy(ix);

    /* the custom schema is enforced before the constructor runs */
    calls = myflat_calls;
    const struct {
        cn_param_t p;
        cn_status_t want;
    } bad[] = {
        {pflt("alpha", 1.5), CN_EINVAL},  {pflt("alpha", -0.1), CN_EINVAL},
        {pstr("alpha", "x"), CN_EINVAL},  {pstr("mode", "c"), CN_EINVAL},
        {pint("mode", 1), CN_EINVAL},     {pint("beta", 1), CN_ENOTFOUND},
        {pint("M", 16), CN_ENOTFOUND},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cn_params_t one = {&bad[i].p, 1};
        ix = NULL;
        err[0] = 0;
        st = cn_index_create(&ix, "myflat", CN_METRIC_L2, d, &one, err, sizeof err);
        if (st != bad[i].want)
            fail_msg("myflat with %s: got %d (%s), want %d", bad[i].p.key, (int)st, err,
                     (int)bad[i].want);
        assert_null(ix);
        assert_non_null(strstr(err, bad[i].p.key));
    }
    assert_int_equal(myflat_calls, calls);
    /* an INT is accepted where a FLOAT is expected */
    cn_param_t one_int = pint("alpha", 1);
    cn_params_t p1 = {&one_int, 1};
    assert_int_equal(cn_index_create(&ix, "myflat", CN_METRIC_IP, d, &p1, err, sizeof err), CN_OK);
    assert_true(myflat_alpha == 1.0);
    cn_index_destroy(ix);

    cn_store_release(s);
    free(data);
}

static void test_add_duplicates(void **state) {
    (void)state;
    char err[ERRLEN] = "";
    add_once(&myflat);
    size_t n = cn_registry_count();
    assert_int_equal(cn_registry_add(&myflat, err, sizeof err), CN_EINVAL);
    assert_non_null(strstr(err, "myflat"));

    /* a different object with a built-in's name and kind */
    static const cn_component_t flat2 = {
        "flat", CN_COMPONENT_INDEX, "a second flat (test)", NULL, 0, myflat_create, NULL, NULL,
        NULL};
    err[0] = 0;
    assert_int_equal(cn_registry_add(&flat2, err, sizeof err), CN_EINVAL);
    assert_true(err[0] != 0);
    static const cn_component_t plain2 = {
        "plain", CN_COMPONENT_QUANTIZER, "a second plain (test)", NULL, 0, NULL, flatq_create,
        "dense_f32", NULL};
    assert_int_equal(cn_registry_add(&plain2, err, sizeof err), CN_EINVAL);
    assert_int_equal(cn_registry_count(), n);
    assert_ptr_not_equal(cn_registry_find("flat", CN_COMPONENT_INDEX), &flat2);
    assert_ptr_not_equal(cn_registry_find("plain", CN_COMPONENT_QUANTIZER), &plain2);

    /* the same name with the other kind is not a duplicate */
    const cn_component_t *flat_index = cn_registry_find("flat", CN_COMPONENT_INDEX);
    add_once(&flat_quantizer);
    assert_ptr_equal(cn_registry_find("flat", CN_COMPONENT_QUANTIZER), &flat_quantizer);
    assert_ptr_equal(cn_registry_find("flat", CN_COMPONENT_INDEX), flat_index);
    cn_quantizer_t *q = NULL;
    assert_int_equal(cn_quantizer_create(&q, "flat", CN_METRIC_L2, 4, NULL, err, sizeof err),
                     CN_OK);
    assert_non_null(q);
    cn_quantizer_destroy(q);
    /* and the store loader of dense_f32 still works */
    assert_non_null(cn_registry_store_loader("dense_f32"));
}

static void test_failing_constructor(void **state) {
    (void)state;
    char err[ERRLEN] = "";
    add_once(&failing);
    cn_index_t *ix = NULL;
    cn_status_t st = cn_index_create(&ix, "failing", CN_METRIC_L2, 4, NULL, err, sizeof err);
    assert_int_equal(st, CN_EUNSUPPORTED);
    assert_null(ix);
    assert_non_null(strstr(err, "failing index says no"));
}

/* ---- creation errors ------------------------------------------------------------- */

static void expect_hnsw_error(const cn_param_t *items, size_t n, cn_status_t want,
                              const char *substr) {
    char err[ERRLEN] = "";
    cn_params_t bp = {items, n};
    cn_index_t *ix = NULL;
    cn_status_t st = cn_index_create(&ix, "hnsw", CN_METRIC_L2, 8, &bp, err, sizeof err);
    if (st != want || (substr && !strstr(err, substr)))
        fail_msg("hnsw with %s: got %d '%s', want %d containing '%s'", items[n - 1].key, (int)st,
                 err, (int)want, substr ? substr : "");
    assert_null(ix);
}

static void test_index_create_errors(void **state) {
    (void)state;
    char err[ERRLEN] = "";
    cn_param_t p[3];

    p[0] = pint("M", 1);
    expect_hnsw_error(p, 1, CN_EINVAL, "M");
    p[0] = pint("M", 513);
    expect_hnsw_error(p, 1, CN_EINVAL, "M");
    p[0] = pint("M", 0);
    expect_hnsw_error(p, 1, CN_EINVAL, "M");
    p[0] = pint("M", -16);
    expect_hnsw_error(p, 1, CN_EINVAL, "M");
    p[0] = pflt("M", 8.5);
    expect_hnsw_error(p, 1, CN_EINVAL, "M");
    p[0] = pstr("M", "16");
    expect_hnsw_error(p, 1, CN_EINVAL, "M");
    p[0] = pint("ef_construction", 0);
    expect_hnsw_error(p, 1, CN_EINVAL, "ef_construction");
    p[0] = pint("ef_construction", 100001);
    expect_hnsw_error(p, 1, CN_EINVAL, "ef_construction");
    p[0] = pint("MM", 16);
    expect_hnsw_error(p, 1, CN_ENOTFOUND, "MM");
    p[0] = pint("ef", 50); /* a search parameter given at build time */
    expect_hnsw_error(p, 1, CN_EINVAL, "ef");
    /* one bad item among good ones */
    p[0] = pint("M", 8);
    p[1] = pint("seed", 3);
    p[2] = pint("ef_construction", -5);
    expect_hnsw_error(p, 3, CN_EINVAL, "ef_construction");
    p[2] = pint("efConstruction", 10);
    expect_hnsw_error(p, 3, CN_ENOTFOUND, "efConstruction");

    /* boundary values are accepted */
    const long long okM[] = {2, 512};
    for (int i = 0; i < 2; i++) {
        p[0] = pint("M", okM[i]);
        p[1] = pint("ef_construction", i == 0 ? 1 : 100000);
        cn_params_t bp = {p, 2};
        cn_index_t *ix = NULL;
        cn_status_t st = cn_index_create(&ix, "hnsw", CN_METRIC_L2, 8, &bp, err, sizeof err);
        if (st != CN_OK) fail_msg("hnsw M=%lld: %d %s", okM[i], (int)st, err);
        assert_non_null(ix);
        assert_ptr_equal(ix->component, cn_registry_find("hnsw", CN_COMPONENT_INDEX));
        cn_index_destroy(ix);
    }
    /* no parameters at all (NULL or empty): defaults */
    cn_index_t *ix = NULL;
    assert_int_equal(cn_index_create(&ix, "hnsw", CN_METRIC_COSINE, 3, NULL, err, sizeof err),
                     CN_OK);
    cn_index_destroy(ix);
    cn_params_t none = {NULL, 0};
    ix = NULL;
    assert_int_equal(cn_index_create(&ix, "flat", CN_METRIC_IP, 3, &none, err, sizeof err), CN_OK);
    assert_ptr_equal(ix->component, cn_registry_find("flat", CN_COMPONENT_INDEX));
    assert_string_equal(ix->ops->name, "flat");
    cn_index_destroy(ix);
    cn_index_destroy(NULL);

    /* flat takes no parameters */
    p[0] = pint("M", 16);
    cn_params_t fp = {p, 1};
    ix = NULL;
    assert_int_equal(cn_index_create(&ix, "flat", CN_METRIC_L2, 3, &fp, err, sizeof err),
                     CN_ENOTFOUND);
    assert_null(ix);

    /* unknown names; a quantizer's name is not an index */
    ix = NULL;
    err[0] = 0;
    assert_int_equal(cn_index_create(&ix, "nosuchindex", CN_METRIC_L2, 3, NULL, err, sizeof err),
                     CN_ENOTFOUND);
    assert_null(ix);
    assert_non_null(strstr(err, "nosuchindex"));
    assert_int_equal(cn_index_create(&ix, "plain", CN_METRIC_L2, 3, NULL, err, sizeof err),
                     CN_ENOTFOUND);
    assert_null(ix);
}

static void test_quantizer_create_errors(void **state) {
    (void)state;
    char err[ERRLEN] = "";
    cn_quantizer_t *q = NULL;
    err[0] = 0;
    assert_int_equal(cn_quantizer_create(&q, "nope", CN_METRIC_L2, 8, NULL, err, sizeof err),
                     CN_ENOTFOUND);
    assert_null(q);
    assert_non_null(strstr(err, "nope"));
    assert_int_equal(cn_quantizer_create(&q, "hnsw", CN_METRIC_L2, 8, NULL, err, sizeof err),
                     CN_ENOTFOUND);
    assert_null(q);
    cn_param_t x = pint("bits", 8);
    cn_params_t xp = {&x, 1};
    assert_int_equal(cn_quantizer_create(&q, "plain", CN_METRIC_L2, 8, &xp, err, sizeof err),
                     CN_ENOTFOUND);
    assert_null(q);
    assert_int_equal(cn_quantizer_create(&q, "plain", CN_METRIC_L2, 8, NULL, err, sizeof err),
                     CN_OK);
    assert_non_null(q);
    assert_string_equal(q->ops->name, "plain");
    cn_quantizer_destroy(q);
}

/* Search parameters: validated against the index's SEARCH role plus "rerank". */
static void test_search_params(void **state) {
    (void)state;
    char err[ERRLEN] = "";
    const uint32_t n = 60, d = 5;
    float *data = cn_test_random_matrix(n, d, 9);
    cn_store_t *s = NULL;
    assert_int_equal(cn_store_dense_create(&s, data, n, d, CN_METRIC_L2, err, sizeof err), CN_OK);
    cn_param_t bpi[2] = {pint("M", 4), pint("ef_construction", 20)};
    cn_params_t bp = {bpi, 2};
    cn_index_t *h = NULL, *f = NULL;
    assert_int_equal(cn_index_create(&h, "hnsw", CN_METRIC_L2, d, &bp, err, sizeof err), CN_OK);
    assert_int_equal(cn_index_build(h, s, s, s, 1, err, sizeof err), CN_OK);
    assert_int_equal(cn_index_create(&f, "flat", CN_METRIC_L2, d, NULL, err, sizeof err), CN_OK);
    assert_int_equal(cn_index_build(f, s, s, s, 1, err, sizeof err), CN_OK);
    cn_search_ctx_t *ch = NULL, *cf = NULL;
    assert_int_equal(cn_search_ctx_create(h, &ch, err, sizeof err), CN_OK);
    assert_int_equal(cn_search_ctx_create(f, &cf, err, sizeof err), CN_OK);

    const struct {
        cn_param_t p;
        cn_status_t hnsw, flat;
    } cases[] = {
        {pint("ef", 50), CN_OK, CN_ENOTFOUND},
        {pint("ef", 1), CN_OK, CN_ENOTFOUND},
        {pint("ef", 0), CN_EINVAL, CN_ENOTFOUND},
        {pint("ef", 1000001), CN_EINVAL, CN_ENOTFOUND},
        {pstr("ef", "ten"), CN_EINVAL, CN_ENOTFOUND},
        {pint("M", 8), CN_EINVAL, CN_ENOTFOUND}, /* a build parameter at search time */
        {pint("efSearch", 8), CN_ENOTFOUND, CN_ENOTFOUND},
        {pint("rerank", 0), CN_OK, CN_OK},
        {pint("rerank", 20), CN_OK, CN_OK},
        {pint("rerank", -1), CN_EINVAL, CN_EINVAL},
        {pflt("rerank", 2.5), CN_EINVAL, CN_EINVAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cn_params_t one = {&cases[i].p, 1};
        err[0] = 0;
        cn_status_t st = cn_search_ctx_set_params(ch, &one, err, sizeof err);
        if (st != cases[i].hnsw)
            fail_msg("hnsw search param %s (case %zu): got %d '%s', want %d", cases[i].p.key, i,
                     (int)st, err, (int)cases[i].hnsw);
        if (st != CN_OK) assert_non_null(strstr(err, cases[i].p.key));
        err[0] = 0;
        st = cn_search_ctx_set_params(cf, &one, err, sizeof err);
        if (st != cases[i].flat)
            fail_msg("flat search param %s (case %zu): got %d '%s', want %d", cases[i].p.key, i,
                     (int)st, err, (int)cases[i].flat);
    }
    /* applied: rerank lands in the context */
    cn_param_t two[2] = {pint("ef", 30), pint("rerank", 7)};
    cn_params_t tp = {two, 2};
    assert_int_equal(cn_search_ctx_set_params(ch, &tp, err, sizeof err), CN_OK);
    assert_int_equal(ch->rerank, 7);
    uint32_t ids[5];
    float dists[5];
    size_t found = 0;
    cn_vec_t q = {.dense = data};
    assert_int_equal(cn_index_search(ch, &q, 5, ids, dists, &found, err, sizeof err), CN_OK);
    assert_int_equal(found, 5);
    assert_int_equal(ids[0], 0);

    cn_search_ctx_destroy(ch);
    cn_search_ctx_destroy(cf);
    cn_index_destroy(h);
    cn_index_destroy(f);
    cn_store_release(s);
    free(data);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_find_builtins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enumerate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hnsw_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fill_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identity_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_custom_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_constructor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_create_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quantizer_create_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_params, setup, teardown),
        /* after registration: the enumeration still holds */
        cmocka_unit_test_setup_teardown(test_enumerate, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
