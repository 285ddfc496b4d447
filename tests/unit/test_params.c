/*
 * test_params.c — cannoli/params.h: lookups with defaults, type conversion,
 * "k=v;k=v" formatting (snprintf-like truncation) and schema validation
 * (unknown key, wrong role, wrong type, range, choices, required keys), with
 * error messages that name the component and the key.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "testutil.h"

#include "cannoli/common.h"
#include "cannoli/params.h"

/* Item constructors that respect the cn_param_t invariants. */
static cn_param_t P_INT(const char *k, long long v) {
    cn_param_t p = {k, CN_PARAM_INT, v, (double)v, NULL};
    return p;
}
static cn_param_t P_FLT(const char *k, double v) {
    cn_param_t p = {k, CN_PARAM_FLOAT, 0, v, NULL};
    return p;
}
static cn_param_t P_STR(const char *k, const char *v) {
    cn_param_t p = {k, CN_PARAM_STRING, 0, 0.0, v};
    return p;
}

#define SET(arr) ((cn_params_t){(arr), sizeof(arr) / sizeof((arr)[0])})

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

/* ---- lookups ----------------------------------------------------------------- */

static void test_find(void **state) {
    (void)state;
    cn_param_t items[3];
    items[0] = P_INT("M", 16);
    items[1] = P_FLT("alpha", 0.25);
    items[2] = P_STR("init", "random");
    cn_params_t p = SET(items);
    assert_ptr_equal(cn_params_find(&p, "M"), &items[0]);
    assert_ptr_equal(cn_params_find(&p, "alpha"), &items[1]);
    assert_ptr_equal(cn_params_find(&p, "init"), &items[2]);
    assert_null(cn_params_find(&p, "m"));     /* keys are case-sensitive */
    assert_null(cn_params_find(&p, "Mx"));    /* no prefix matching */
    assert_null(cn_params_find(&p, "alph"));  /* no prefix matching */
    assert_null(cn_params_find(&p, ""));
    assert_null(cn_params_find(NULL, "M"));
    cn_params_t empty = {NULL, 0};
    assert_null(cn_params_find(&empty, "M"));
    /* n bounds the search: items past n are not looked at */
    cn_params_t first = {items, 1};
    assert_non_null(cn_params_find(&first, "M"));
    assert_null(cn_params_find(&first, "alpha"));
}

static void test_int_float_str_and_defaults(void **state) {
    (void)state;
    cn_param_t items[4];
    items[0] = P_INT("M", 16);
    items[1] = P_FLT("alpha", 0.25);
    items[2] = P_STR("init", "random");
    items[3] = P_INT("neg", -7);
    cn_params_t p = SET(items);

    assert_int_equal(cn_params_int(&p, "M", 99), 16);
    assert_int_equal(cn_params_int(&p, "neg", 99), -7);
    assert_int_equal(cn_params_int(&p, "absent", 99), 99);
    assert_int_equal(cn_params_int(&p, "absent", -5), -5);
    assert_true(cn_params_int(NULL, "M", 123) == 123);

    assert_true(cn_params_float(&p, "alpha", 9.0) == 0.25);
    assert_true(cn_params_float(&p, "absent", 9.5) == 9.5);
    assert_true(cn_params_float(NULL, "alpha", -1.5) == -1.5);

    assert_string_equal(cn_params_str(&p, "init", "kmeans++"), "random");
    assert_ptr_equal(cn_params_str(&p, "init", "kmeans++"), items[2].s); /* borrowed */
    assert_string_equal(cn_params_str(&p, "absent", "kmeans++"), "kmeans++");
    assert_null(cn_params_str(&p, "absent", NULL));
    assert_string_equal(cn_params_str(NULL, "init", "dflt"), "dflt");
}

static void test_int_read_as_float(void **state) {
    (void)state;
    cn_param_t items[2];
    items[0] = P_INT("big", 3000000000LL);
    items[1] = P_INT("neg", -42);
    cn_params_t p = SET(items);
    assert_true(cn_params_float(&p, "big", 0.5) == 3000000000.0);
    assert_true(cn_params_float(&p, "neg", 0.5) == -42.0);
    /* large values keep their full precision as ints */
    assert_true(cn_params_int(&p, "big", 0) == 3000000000LL);
}

static void test_float_read_as_int_truncates(void **state) {
    (void)state;
    cn_param_t items[2];
    items[0] = P_FLT("x", 2.9);
    items[1] = P_FLT("y", -2.9);
    cn_params_t p = SET(items);
    assert_int_equal(cn_params_int(&p, "x", 100), 2);
    assert_int_equal(cn_params_int(&p, "y", 100), -2);
}

/* The constructors' accessors: no default to restate; present keys only. */
static void test_get_accessors(void **state) {
    (void)state;
    cn_param_t items[4];
    items[0] = P_INT("M", 16);
    items[1] = P_FLT("alpha", 0.25);
    items[2] = P_STR("init", "random");
    items[3] = P_FLT("x", 2.9);
    cn_params_t p = SET(items);
    assert_int_equal(cn_params_get_int(&p, "M"), 16);
    assert_int_equal(cn_params_get_int(&p, "x"), 2); /* a FLOAT read as int truncates */
    assert_true(cn_params_get_float(&p, "alpha") == 0.25);
    assert_true(cn_params_get_float(&p, "M") == 16.0); /* an INT read as float converts */
    assert_ptr_equal(cn_params_get_str(&p, "init"), items[2].s);
}

/* ---- format -------------------------------------------------------------------- */

static void test_format_ints(void **state) {
    (void)state;
    cn_param_t items[2];
    items[0] = P_INT("M", 16);
    items[1] = P_INT("ef_construction", 200);
    cn_params_t p = SET(items);
    char buf[128];
    memset(buf, 'x', sizeof buf);
    size_t n = cn_params_format(&p, buf, sizeof buf);
    assert_string_equal(buf, "M=16;ef_construction=200");
    assert_int_equal(n, strlen("M=16;ef_construction=200"));

    /* order is the given order */
    cn_param_t rev[2] = {items[1], items[0]};
    cn_params_t q = SET(rev);
    n = cn_params_format(&q, buf, sizeof buf);
    assert_string_equal(buf, "ef_construction=200;M=16");
    assert_int_equal(n, 24);
}

static void test_format_mixed_types(void **state) {
    (void)state;
    cn_param_t items[6];
    items[0] = P_INT("M", 16);
    items[1] = P_FLT("alpha", 0.5);
    items[2] = P_STR("init", "kmeans++");
    items[3] = P_INT("neg", -3);
    items[4] = P_FLT("eps", 1e-5);
    items[5] = P_FLT("two", 2.0);
    cn_params_t p = SET(items);
    char buf[256];
    size_t n = cn_params_format(&p, buf, sizeof buf);
    const char *want = "M=16;alpha=0.5;init=kmeans++;neg=-3;eps=1e-05;two=2";
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_format_single_and_empty(void **state) {
    (void)state;
    cn_param_t one[1];
    one[0] = P_STR("name", "x");
    cn_params_t p = SET(one);
    char buf[32];
    memset(buf, 'x', sizeof buf);
    assert_int_equal(cn_params_format(&p, buf, sizeof buf), 6);
    assert_string_equal(buf, "name=x"); /* no trailing separator */

    cn_params_t empty = {NULL, 0};
    memset(buf, 'x', sizeof buf);
    assert_int_equal(cn_params_format(&empty, buf, sizeof buf), 0);
    assert_string_equal(buf, "");
}

static void test_format_truncates(void **state) {
    (void)state;
    cn_param_t items[2];
    items[0] = P_INT("M", 16);
    items[1] = P_INT("ef_construction", 200);
    cn_params_t p = SET(items);
    const char *full = "M=16;ef_construction=200";
    size_t len = strlen(full);
    char buf[64];
    for (size_t cap = 1; cap <= len + 1; cap++) {
        memset(buf, 'Z', sizeof buf);
        size_t n = cn_params_format(&p, buf, cap);
        assert_int_equal(n, len);
        /* like snprintf: a NUL-terminated prefix of cap-1 bytes */
        assert_int_equal(buf[cap - 1], '\0');
        assert_memory_equal(buf, full, cap - 1);
        /* nothing written past the buffer */
        for (size_t i = cap; i < sizeof buf; i++) assert_int_equal(buf[i], 'Z');
    }
    /* buflen 0 writes nothing and still reports the length */
    memset(buf, 'Z', sizeof buf);
    assert_int_equal(cn_params_format(&p, buf, 0), len);
    assert_int_equal(buf[0], 'Z');
}

static void test_format_size_query(void **state) {
    (void)state;
    cn_param_t items[3];
    items[0] = P_INT("M", 16);
    items[1] = P_FLT("alpha", 0.5);
    items[2] = P_STR("init", "random");
    cn_params_t p = SET(items);
    /* the snprintf idiom: ask for the size with (NULL, 0), then format */
    size_t n = cn_params_format(&p, NULL, 0);
    assert_int_equal(n, strlen("M=16;alpha=0.5;init=random"));
    char *buf = malloc(n + 1);
    assert_int_equal(cn_params_format(&p, buf, n + 1), n);
    assert_string_equal(buf, "M=16;alpha=0.5;init=random");
    free(buf);
}

/* ---- validate ------------------------------------------------------------------ */

static const cn_param_spec_t schema[] = {
    {"M", CN_PARAM_INT, CN_ROLE_BUILD, 2, 512, "16", NULL, "graph degree", 0},
    {"ef", CN_PARAM_INT, CN_ROLE_SEARCH, 1, 1000000, "10", NULL, "search width", 0},
    {"alpha", CN_PARAM_FLOAT, CN_ROLE_BUILD, 0, 1, "0.5", NULL, "pruning", 0},
    {"init", CN_PARAM_STRING, CN_ROLE_BUILD, 0, 0, "kmeans++", "kmeans++|random", "init", 0},
    {"req", CN_PARAM_INT, CN_ROLE_BUILD, 0, 10, NULL, NULL, "required", 0},
    {"label", CN_PARAM_STRING, CN_ROLE_BUILD, 0, 0, "", NULL, "free text", 0},
    {"temp", CN_PARAM_FLOAT, CN_ROLE_SEARCH, 0.5, 2.5, "1", NULL, "search float", 0},
};
#define NSCHEMA (sizeof schema / sizeof schema[0])
#define WHAT "widget-index"

/* Validates items under `role`, returns status; err is always initialised. */
static cn_status_t validate(const cn_param_t *items, size_t n, cn_param_role_t role, char *err,
                            size_t errlen) {
    cn_params_t p = {items, n};
    memset(err, 0, errlen);
    return cn_params_validate(WHAT, schema, NSCHEMA, &p, role, err, errlen);
}

static void assert_msg_names(const char *err, const char *key) {
    if (!strstr(err, WHAT) || !strstr(err, key)) {
        print_error("message '%s' should name '%s' and '%s'\n", err, WHAT, key);
        fail();
    }
}

static void test_validate_ok(void **state) {
    (void)state;
    char err[256];
    cn_param_t items[5];
    items[0] = P_INT("M", 32);
    items[1] = P_FLT("alpha", 0.3);
    items[2] = P_STR("init", "random");
    items[3] = P_INT("req", 3);
    items[4] = P_STR("label", "anything goes | here");
    assert_int_equal(validate(items, 5, CN_ROLE_BUILD, err, sizeof err), CN_OK);
    /* only the required key */
    assert_int_equal(validate(&items[3], 1, CN_ROLE_BUILD, err, sizeof err), CN_OK);
    /* both choices are accepted */
    items[2] = P_STR("init", "kmeans++");
    assert_int_equal(validate(items, 5, CN_ROLE_BUILD, err, sizeof err), CN_OK);
    /* err may be NULL */
    cn_params_t p = {items, 5};
    assert_int_equal(cn_params_validate(WHAT, schema, NSCHEMA, &p, CN_ROLE_BUILD, NULL, 0),
                     CN_OK);
}

static void test_validate_search_role(void **state) {
    (void)state;
    char err[256];
    cn_param_t items[2];
    items[0] = P_INT("ef", 50);
    items[1] = P_FLT("temp", 1.5);
    /* the required *build* key is not required when validating search params */
    assert_int_equal(validate(items, 2, CN_ROLE_SEARCH, err, sizeof err), CN_OK);
    assert_int_equal(validate(NULL, 0, CN_ROLE_SEARCH, err, sizeof err), CN_OK);
    items[0] = P_INT("ef", 0);
    assert_int_equal(validate(items, 2, CN_ROLE_SEARCH, err, sizeof err), CN_EINVAL);
    assert_msg_names(err, "ef");
    items[0] = P_INT("ef", 1000001);
    assert_int_equal(validate(items, 2, CN_ROLE_SEARCH, err, sizeof err), CN_EINVAL);
    assert_msg_names(err, "ef");
    items[0] = P_INT("ef", 1000000);
    assert_int_equal(validate(items, 2, CN_ROLE_SEARCH, err, sizeof err), CN_OK);
    items[1] = P_FLT("temp", 2.6);
    assert_int_equal(validate(items, 2, CN_ROLE_SEARCH, err, sizeof err), CN_EINVAL);
    assert_msg_names(err, "temp");
}

static void test_validate_unknown_key(void **state) {
    (void)state;
    char err[256];
    cn_param_t items[3];
    items[0] = P_INT("req", 1);
    items[1] = P_INT("M", 16);
    items[2] = P_INT("bogus_key", 5);
    assert_int_equal(validate(items, 3, CN_ROLE_BUILD, err, sizeof err), CN_ENOTFOUND);
    assert_msg_names(err, "bogus_key");
    /* case matters: "m" is not "M" */
    items[2] = P_INT("m", 16);
    assert_int_equal(validate(items, 3, CN_ROLE_BUILD, err, sizeof err), CN_ENOTFOUND);
    assert_non_null(strstr(err, WHAT));
    /* a prefix of a real key is unknown too */
    items[2] = P_FLT("alph", 0.5);
    assert_int_equal(validate(items, 3, CN_ROLE_BUILD, err, sizeof err), CN_ENOTFOUND);
    assert_msg_names(err, "alph");
}

static void test_validate_wrong_role(void **state) {
    (void)state;
    char err[256];
    cn_param_t items[2];
    items[0] = P_INT("req", 1);
    items[1] = P_INT("ef", 50); /* valid value, but a search parameter */
    assert_int_equal(validate(items, 2, CN_ROLE_BUILD, err, sizeof err), CN_EINVAL);
    assert_msg_names(err, "ef");
    if (!strstr(err, "search parameter")) {
        print_error("message '%s' should say 'search parameter'\n", err);
        fail();
    }
}

static void test_validate_wrong_type(void **state) {
    (void)state;
    char err[256];
    cn_param_t items[2];
    items[0] = P_INT("req", 1);

    /* FLOAT given for INT (even an integral one) */
    items[1] = P_FLT("M", 16.0);
    assert_int_equal(validate(items, 2, CN_ROLE_BUILD, err, sizeof err), CN_EINVAL);
    assert_msg_names(err, "M");
    /* ... whatever the unused fields hold, and where 0 would be in range */
    items[1] = (cn_param_t){"M", CN_PARAM_FLOAT, 16, 16.0, NULL};
    assert_int_equal(validate(items, 2, CN_ROLE_BUILD, err, sizeof err), CN_EINVAL);
    assert_msg_names(err, "M");
    items[0] = P_FLT("req", 3.0);
    items[1] = P_INT("M", 16);
    assert_int_equal(validate(items, 2, CN_ROLE_BUILD, err, sizeof err), CN_EINVAL);
    assert_msg_names(err, "req");
    items[0] = P_INT("req", 1);
    /* STRING given for INT */
    items[1] = P_STR("M", "16");
    assert_int_equal(validate(items, 2, CN_ROLE_BUILD, err, sizeof err), CN_EINVAL);
    assert_msg_names(err, "M");
    /* STRING given for FLOAT */
    items[1] = P_STR("alpha", "0.5");
    assert_int_equal(validate(items, 2, CN_ROLE_BUILD, err, sizeof err), CN_EINVAL);
    assert_msg_names(err, "alpha");
    /* INT / FLOAT given for STRING */
    items[1] = P_INT("init", 1);
    assert_int_equal(validate(items, 2, CN_ROLE_BUILD, err, sizeof err), CN_EINVAL);
    assert_msg_names(err, "init");
    /* the type decides, not whether `s` happens to be set */
    items[1] = (cn_param_t){"init", CN_PARAM_INT, 1, 1.0, "random"};
    assert_int_equal(validate(items, 2, CN_ROLE_BUILD, err, sizeof err), CN_EINVAL);
    assert_msg_names(err, "init");
    items[1] = (cn_param_t){"label", CN_PARAM_FLOAT, 0, 1.5, "free text"};
    assert_int_equal(validate(items, 2, CN_ROLE_BUILD, err, sizeof err), CN_EINVAL);
    assert_msg_names(err, "label");
    items[1] = P_FLT("label", 1.5);
    assert_int_equal(validate(items, 2, CN_ROLE_BUILD, err, sizeof err), CN_EINVAL);
    assert_msg_names(err, "label");
    /* INT given for FLOAT is fine (within range) */
    items[1] = P_INT("alpha", 1);
    assert_int_equal(validate(items, 2, CN_ROLE_BUILD, err, sizeof err), CN_OK);
    items[1] = P_INT("alpha", 0);
    assert_int_equal(validate(items, 2, CN_ROLE_BUILD, err, sizeof err), CN_OK);
    /* ... but still range-checked */
    items[1] = P_INT("alpha", 2);
    assert_int_equal(validate(items, 2, CN_ROLE_BUILD, err, sizeof err), CN_EINVAL);
    assert_msg_names(err, "alpha");
}

static void test_validate_range(void **state) {
    (void)state;
    char err[256];
    cn_param_t items[2];
    items[0] = P_INT("req", 1);

    static const struct {
        long long v;
        cn_status_t want;
    } mcases[] = {{1, CN_EINVAL}, {2, CN_OK}, {16, CN_OK}, {512, CN_OK}, {513, CN_EINVAL},
                  {-1, CN_EINVAL}, {0, CN_EINVAL}, {1LL << 40, CN_EINVAL}};
    for (size_t i = 0; i < sizeof mcases / sizeof mcases[0]; i++) {
        items[1] = P_INT("M", mcases[i].v);
        cn_status_t st = validate(items, 2, CN_ROLE_BUILD, err, sizeof err);
        if (st != mcases[i].want) {
            print_error("M=%lld: got %d, want %d\n", mcases[i].v, st, mcases[i].want);
            fail();
        }
        if (st != CN_OK) assert_msg_names(err, "M");
    }

    static const struct {
        double v;
        cn_status_t want;
    } acases[] = {{-0.01, CN_EINVAL}, {0.0, CN_OK},      {0.5, CN_OK},
                  {1.0, CN_OK},       {1.01, CN_EINVAL}, {-1e300, CN_EINVAL}, {1e300, CN_EINVAL}};
    for (size_t i = 0; i < sizeof acases / sizeof acases[0]; i++) {
        items[1] = P_FLT("alpha", acases[i].v);
        cn_status_t st = validate(items, 2, CN_ROLE_BUILD, err, sizeof err);
        if (st != acases[i].want) {
            print_error("alpha=%g: got %d, want %d\n", acases[i].v, st, acases[i].want);
            fail();
        }
        if (st != CN_OK) assert_msg_names(err, "alpha");
    }

    /* NaN and infinities are not within any range */
    static const double nonfinite[] = {NAN, -NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < 4; i++) {
        items[1] = P_FLT("alpha", nonfinite[i]);
        assert_int_equal(validate(items, 2, CN_ROLE_BUILD, err, sizeof err), CN_EINVAL);
        assert_msg_names(err, "alpha");
    }

    /* the required key is range-checked as well */
    items[0] = P_INT("req", 11);
    items[1] = P_INT("M", 16);
    assert_int_equal(validate(items, 2, CN_ROLE_BUILD, err, sizeof err), CN_EINVAL);
    assert_msg_names(err, "req");
}

static void test_validate_choices(void **state) {
    (void)state;
    char err[256];
    cn_param_t items[2];
    items[0] = P_INT("req", 1);
    static const char *bad[] = {"kmeans", "kmeans+", "random ", "rand", "dom",
                                "kmeans++|random", "|", "", "Random", "kmeans++|"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        items[1] = P_STR("init", bad[i]);
        cn_status_t st = validate(items, 2, CN_ROLE_BUILD, err, sizeof err);
        if (st != CN_EINVAL) {
            print_error("init='%s': got %d, want CN_EINVAL\n", bad[i], st);
            fail();
        }
        assert_msg_names(err, "init");
    }
    items[1] = P_STR("init", "random");
    assert_int_equal(validate(items, 2, CN_ROLE_BUILD, err, sizeof err), CN_OK);
    items[1] = P_STR("init", "kmeans++");
    assert_int_equal(validate(items, 2, CN_ROLE_BUILD, err, sizeof err), CN_OK);
}

static void test_validate_missing_required(void **state) {
    (void)state;
    char err[256];
    cn_param_t items[2];
    items[0] = P_INT("M", 16);
    items[1] = P_FLT("alpha", 0.5);
    assert_int_equal(validate(items, 2, CN_ROLE_BUILD, err, sizeof err), CN_EINVAL);
    assert_msg_names(err, "req");
    assert_int_equal(validate(NULL, 0, CN_ROLE_BUILD, err, sizeof err), CN_EINVAL);
    assert_msg_names(err, "req");
    /* the required key given with the wrong type is still an error */
    items[0] = P_STR("req", "3");
    assert_int_equal(validate(items, 2, CN_ROLE_BUILD, err, sizeof err), CN_EINVAL);
    assert_msg_names(err, "req");
}

static void test_validate_small_err_buffer(void **state) {
    (void)state;
    char err[12];
    memset(err, 'Q', sizeof err);
    cn_param_t items[2];
    items[0] = P_INT("req", 1);
    items[1] = P_INT("bogus_key_with_a_long_name", 5);
    cn_params_t p = {items, 2};
    /* truncates into a small buffer: NUL inside, nothing past errlen */
    assert_int_equal(
        cn_params_validate(WHAT, schema, NSCHEMA, &p, CN_ROLE_BUILD, err, 8), CN_ENOTFOUND);
    assert_non_null(memchr(err, '\0', 8));
    for (size_t i = 8; i < sizeof err; i++) assert_int_equal(err[i], 'Q');
    assert_int_equal(cn_params_validate(WHAT, schema, NSCHEMA, &p, CN_ROLE_BUILD, NULL, 0),
                     CN_ENOTFOUND);
}

static void test_validate_other_component_name(void **state) {
    (void)state;
    char err[256] = "";
    cn_param_t items[2];
    items[0] = P_INT("req", 1);
    items[1] = P_INT("nope", 1);
    cn_params_t p = {items, 2};
    assert_int_equal(cn_params_validate("quantizer:pq", schema, NSCHEMA, &p, CN_ROLE_BUILD, err,
                                        sizeof err),
                     CN_ENOTFOUND);
    assert_non_null(strstr(err, "quantizer:pq"));
    assert_non_null(strstr(err, "nope"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_find, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_float_str_and_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_read_as_float, setup, teardown),
        cmocka_unit_test_setup_teardown(test_float_read_as_int_truncates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_accessors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format_ints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format_mixed_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format_single_and_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format_truncates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format_size_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate_search_role, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate_unknown_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate_wrong_role, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate_wrong_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate_choices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate_missing_required, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate_small_err_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate_other_component_name, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
