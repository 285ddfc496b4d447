/*
 * test_common.c — cannoli/common.h: status strings, metric names and parsing,
 * internal -> external score conversion, the error buffer helper and the
 * allocator hook (overflow checks, zeroing, 64-byte alignment, and that every
 * allocation goes through an installed hook, including injected failures).
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

static int teardown(void **state) {
    (void)state;
    long live = cn_test_alloc_live();
    cn_test_alloc_uninstall();
    assert_int_equal(live, 0);
    return 0;
}

static int setup(void **state) {
    (void)state;
    cn_test_alloc_install();
    return 0;
}

/* ---- status strings ------------------------------------------------------ */

static void test_status_str_nonempty_distinct(void **state) {
    (void)state;
    static const cn_status_t all[] = {CN_OK,        CN_EINVAL,    CN_ENOMEM,      CN_EIO,
                                      CN_EFORMAT, CN_ENOTFOUND, CN_EUNSUPPORTED};
    size_t n = sizeof all / sizeof all[0];
    for (size_t i = 0; i < n; i++) {
        const char *s = cn_status_str(all[i]);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        for (size_t j = 0; j < i; j++) assert_string_not_equal(s, cn_status_str(all[j]));
    }
    /* stable: the same static string for the same status */
    assert_string_equal(cn_status_str(CN_EFORMAT), cn_status_str(CN_EFORMAT));
}

/* ---- metrics --------------------------------------------------------------- */

static void test_metric_names(void **state) {
    (void)state;
    assert_string_equal(cn_metric_name(CN_METRIC_L2), "l2");
    assert_string_equal(cn_metric_name(CN_METRIC_IP), "ip");
    assert_string_equal(cn_metric_name(CN_METRIC_COSINE), "cosine");
}

static void test_metric_parse_aliases(void **state) {
    (void)state;
    static const struct {
        const char *s;
        cn_metric_t m;
    } cases[] = {
        {"l2", CN_METRIC_L2},         {"euclidean", CN_METRIC_L2},
        {"ip", CN_METRIC_IP},         {"dot", CN_METRIC_IP},
        {"inner_product", CN_METRIC_IP}, {"cosine", CN_METRIC_COSINE},
        {"angular", CN_METRIC_COSINE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* start from a value different from the expected one */
        cn_metric_t m = cases[i].m == CN_METRIC_L2 ? CN_METRIC_COSINE : CN_METRIC_L2;
        assert_int_equal(cn_metric_parse(cases[i].s, &m), CN_OK);
        assert_int_equal(m, cases[i].m);
    }
}

static void test_metric_parse_roundtrip(void **state) {
    (void)state;
    static const cn_metric_t all[] = {CN_METRIC_L2, CN_METRIC_IP, CN_METRIC_COSINE};
    for (size_t i = 0; i < 3; i++) {
        cn_metric_t m = (cn_metric_t)((all[i] + 1) % 3);
        assert_int_equal(cn_metric_parse(cn_metric_name(all[i]), &m), CN_OK);
        assert_int_equal(m, all[i]);
    }
}

static void test_metric_parse_rejects(void **state) {
    (void)state;
    static const char *bad[] = {"L3", "", "l", "l22", "cos", "euclid", "inner", "ip ", " l2",
                                "manhattan", "hamming"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cn_metric_t m = CN_METRIC_IP;
        assert_int_equal(cn_metric_parse(bad[i], &m), CN_EINVAL);
    }
}

static void test_metric_external(void **state) {
    (void)state;
    assert_float_equal(cn_metric_external(CN_METRIC_L2, 4.0f), 2.0f, 1e-6);
    assert_float_equal(cn_metric_external(CN_METRIC_L2, 2.25f), 1.5f, 1e-6);
    assert_float_equal(cn_metric_external(CN_METRIC_L2, 0.0f), 0.0f, 0);
    /* a tiny negative squared distance (rounding) must give 0, not NaN */
    float z = cn_metric_external(CN_METRIC_L2, -1e-7f);
    assert_false(isnan(z));
    assert_float_equal(z, 0.0f, 0);
    z = cn_metric_external(CN_METRIC_L2, -3.0f);
    assert_false(isnan(z));
    assert_float_equal(z, 0.0f, 0);

    assert_float_equal(cn_metric_external(CN_METRIC_IP, -0.75f), 0.75f, 1e-7);
    assert_float_equal(cn_metric_external(CN_METRIC_IP, 2.5f), -2.5f, 1e-7);

    /* internal cosine score is -cos; external is 1 - cos */
    assert_float_equal(cn_metric_external(CN_METRIC_COSINE, -1.0f), 0.0f, 1e-7);
    assert_float_equal(cn_metric_external(CN_METRIC_COSINE, -0.25f), 0.75f, 1e-7);
    assert_float_equal(cn_metric_external(CN_METRIC_COSINE, 0.5f), 1.5f, 1e-7);
    assert_float_equal(cn_metric_external(CN_METRIC_COSINE, 1.0f), 2.0f, 1e-7);
}

/* ---- cn_error ---------------------------------------------------------------- */

static void test_error_formats(void **state) {
    (void)state;
    char buf[64];
    memset(buf, 'x', sizeof buf);
    assert_int_equal(cn_error(buf, sizeof buf, CN_ENOTFOUND, "no %s named '%s' (%d)", "index",
                              "foo", 42),
                     CN_ENOTFOUND);
    assert_string_equal(buf, "no index named 'foo' (42)");
}

static void test_error_truncates(void **state) {
    (void)state;
    char buf[16];
    const char guard = 'G';
    char big[32];
    memset(big, 'G', sizeof big);
    /* format into the first 8 bytes only; the rest must stay untouched */
    assert_int_equal(cn_error(big, 8, CN_EIO, "hello world %d", 12345), CN_EIO);
    assert_int_equal(big[7], '\0');
    assert_memory_equal(big, "hello w", 8);
    for (size_t i = 8; i < sizeof big; i++) assert_int_equal(big[i], guard);

    /* errlen 1: just the terminator */
    memset(buf, 'x', sizeof buf);
    assert_int_equal(cn_error(buf, 1, CN_EFORMAT, "abc"), CN_EFORMAT);
    assert_int_equal(buf[0], '\0');
    assert_int_equal(buf[1], 'x');

    /* errlen 0: nothing written at all */
    memset(buf, 'x', sizeof buf);
    assert_int_equal(cn_error(buf, 0, CN_EINVAL, "abc"), CN_EINVAL);
    assert_int_equal(buf[0], 'x');
}

static void test_error_null_buffer(void **state) {
    (void)state;
    assert_int_equal(cn_error(NULL, 0, CN_EINVAL, "x=%d", 1), CN_EINVAL);
    assert_int_equal(cn_error(NULL, 100, CN_ENOMEM, "x=%s", "y"), CN_ENOMEM);
    assert_int_equal(cn_error(NULL, 0, CN_EUNSUPPORTED, "z"), CN_EUNSUPPORTED);
    char buf[8] = "keep";
    assert_int_equal(cn_error(buf, sizeof buf, CN_OK, "%s", ""), CN_OK);
    assert_string_equal(buf, "");
}

/* ---- allocator (default libc hook) ----------------------------------------- */

static void test_calloc_overflow(void **state) {
    (void)state;
    assert_null(cn_calloc(SIZE_MAX / 2, 4));
    assert_null(cn_calloc(4, SIZE_MAX / 2));
    assert_null(cn_calloc(SIZE_MAX, SIZE_MAX));
    assert_null(cn_calloc((SIZE_MAX >> 4) + 1, 16));
}

static void test_calloc_zeroes(void **state) {
    (void)state;
    /* dirty the heap first so that a non-zeroing calloc is likely to show */
    for (int round = 0; round < 4; round++) {
        unsigned char *d = cn_malloc(4096);
        assert_non_null(d);
        memset(d, 0xA5, 4096);
        cn_free(d);
        unsigned char *p = cn_calloc(1024, 4);
        assert_non_null(p);
        for (size_t i = 0; i < 4096; i++) assert_int_equal(p[i], 0);
        cn_free(p);
    }
    /* zero count or zero size must not be mistaken for an overflow crash;
     * whatever comes back is freeable */
    cn_free(cn_calloc(0, 8));
    cn_free(cn_calloc(8, 0));
}

static void test_malloc_realloc_free(void **state) {
    (void)state;
    unsigned char *p = cn_malloc(16);
    assert_non_null(p);
    for (int i = 0; i < 16; i++) p[i] = (unsigned char)(i * 7 + 1);
    p = cn_realloc(p, 100000);
    assert_non_null(p);
    for (int i = 0; i < 16; i++) assert_int_equal(p[i], (unsigned char)(i * 7 + 1));
    memset(p, 0, 100000);
    cn_free(p);
    cn_free(NULL); /* NULL-safe */
    cn_free(cn_malloc(0));
}

static void test_aligned_alloc(void **state) {
    (void)state;
    static const size_t sizes[] = {0, 1, 63, 64, 65, 1000, 4096};
    void *ptrs[7];
    size_t n = sizeof sizes / sizeof sizes[0];
    for (size_t i = 0; i < n; i++) {
        ptrs[i] = cn_aligned_alloc(sizes[i]);
        assert_non_null(ptrs[i]);
        assert_int_equal((uintptr_t)ptrs[i] % 64, 0);
        /* the whole requested size is usable (valgrind checks the bounds) */
        memset(ptrs[i], 0x5A, sizes[i]);
    }
    /* all live blocks are distinct, including the size-0 one */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++) assert_ptr_not_equal(ptrs[i], ptrs[j]);
    /* contents survive independently */
    for (size_t i = 0; i < n; i++) {
        unsigned char *c = ptrs[i];
        for (size_t k = 0; k < sizes[i]; k++) assert_int_equal(c[k], 0x5A);
    }
    for (size_t i = 0; i < n; i++) cn_aligned_free(ptrs[i]);
    cn_aligned_free(NULL);
    /* two zero-size allocations are unique pointers */
    void *a = cn_aligned_alloc(0), *b = cn_aligned_alloc(0);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    cn_aligned_free(a);
    cn_aligned_free(b);
    /* absurd sizes fail instead of wrapping around */
    assert_null(cn_aligned_alloc(SIZE_MAX));
    assert_null(cn_aligned_alloc(SIZE_MAX - 8));
}

static void test_strdup(void **state) {
    (void)state;
    const char *src = "hello, cannoli";
    char *d = cn_strdup(src);
    assert_non_null(d);
    assert_ptr_not_equal(d, src);
    assert_string_equal(d, src);
    d[0] = 'J';
    assert_string_equal(src, "hello, cannoli");
    cn_free(d);
    char *e = cn_strdup("");
    assert_non_null(e);
    assert_string_equal(e, "");
    cn_free(e);
}

/* ---- allocator hook: everything goes through it ------------------------------ */

static void test_hook_counts_everything(void **state) {
    (void)state;
    assert_int_equal(cn_test_alloc_live(), 0);
    void *a = cn_malloc(10);
    assert_non_null(a);
    assert_int_equal(cn_test_alloc_live(), 1);
    void *b = cn_calloc(3, 5);
    assert_non_null(b);
    assert_int_equal(cn_test_alloc_live(), 2);
    void *c = cn_aligned_alloc(100);
    assert_non_null(c);
    assert_int_equal((uintptr_t)c % 64, 0);
    assert_int_equal(cn_test_alloc_live(), 3);
    void *c0 = cn_aligned_alloc(0);
    assert_non_null(c0);
    assert_int_equal(cn_test_alloc_live(), 4);
    char *d = cn_strdup("abc");
    assert_non_null(d);
    assert_string_equal(d, "abc");
    assert_int_equal(cn_test_alloc_live(), 5);
    void *e = cn_realloc(NULL, 32);
    assert_non_null(e);
    assert_int_equal(cn_test_alloc_live(), 6);
    e = cn_realloc(e, 4096);
    assert_non_null(e);
    assert_int_equal(cn_test_alloc_live(), 6);

    cn_free(a);
    assert_int_equal(cn_test_alloc_live(), 5);
    cn_free(b);
    assert_int_equal(cn_test_alloc_live(), 4);
    cn_aligned_free(c);
    assert_int_equal(cn_test_alloc_live(), 3);
    cn_aligned_free(c0);
    assert_int_equal(cn_test_alloc_live(), 2);
    cn_free(d);
    assert_int_equal(cn_test_alloc_live(), 1);
    cn_free(e);
    assert_int_equal(cn_test_alloc_live(), 0);
    cn_free(NULL);
    cn_aligned_free(NULL);
    assert_int_equal(cn_test_alloc_live(), 0);
}

static void test_hook_calloc_overflow_no_alloc(void **state) {
    (void)state;
    assert_null(cn_calloc(SIZE_MAX / 2, 4));
    assert_int_equal(cn_test_alloc_live(), 0);
    unsigned char *p = cn_calloc(100, 3);
    assert_non_null(p);
    for (size_t i = 0; i < 300; i++) assert_int_equal(p[i], 0);
    assert_int_equal(cn_test_alloc_live(), 1);
    cn_free(p);
}

static void test_hook_failures(void **state) {
    (void)state;
    cn_test_alloc_fail_after(0);
    assert_null(cn_malloc(8));
    cn_test_alloc_fail_after(0);
    assert_null(cn_calloc(2, 8));
    cn_test_alloc_fail_after(0);
    assert_null(cn_aligned_alloc(64));
    cn_test_alloc_fail_after(0);
    assert_null(cn_aligned_alloc(0));
    cn_test_alloc_fail_after(0);
    assert_null(cn_strdup("abc"));
    cn_test_alloc_fail_after(0);
    assert_null(cn_realloc(NULL, 16));
    assert_int_equal(cn_test_alloc_live(), 0);

    /* the countdown: first allocation succeeds, the second fails */
    cn_test_alloc_fail_after(1);
    char *ok = cn_strdup("first");
    assert_non_null(ok);
    assert_null(cn_strdup("second"));
    assert_int_equal(cn_test_alloc_live(), 1);
    cn_free(ok);

    /* a failed realloc leaves the old block valid and owned by the caller */
    cn_test_alloc_fail_after(-1);
    char *keep = cn_strdup("keep me");
    assert_non_null(keep);
    cn_test_alloc_fail_after(0);
    assert_null(cn_realloc(keep, 1 << 20));
    cn_test_alloc_fail_after(-1);
    assert_string_equal(keep, "keep me");
    cn_free(keep);
    assert_int_equal(cn_test_alloc_live(), 0);
}

static void test_hook_uninstall_restores_libc(void **state) {
    (void)state;
    cn_test_alloc_uninstall();
    /* with libc again, allocations are not counted */
    void *p = cn_malloc(100);
    assert_non_null(p);
    assert_int_equal(cn_test_alloc_live(), 0);
    cn_free(p);
    cn_test_alloc_install();
    void *q = cn_malloc(100);
    assert_non_null(q);
    assert_int_equal(cn_test_alloc_live(), 1);
    cn_free(q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_str_nonempty_distinct),
        cmocka_unit_test(test_metric_names),
        cmocka_unit_test(test_metric_parse_aliases),
        cmocka_unit_test(test_metric_parse_roundtrip),
        cmocka_unit_test(test_metric_parse_rejects),
        cmocka_unit_test(test_metric_external),
        cmocka_unit_test(test_error_formats),
        cmocka_unit_test(test_error_truncates),
        cmocka_unit_test(test_error_null_buffer),
        cmocka_unit_test(test_calloc_overflow),
        cmocka_unit_test(test_calloc_zeroes),
        cmocka_unit_test(test_malloc_realloc_free),
        cmocka_unit_test(test_aligned_alloc),
        cmocka_unit_test(test_strdup),
        cmocka_unit_test_setup_teardown(test_hook_counts_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_calloc_overflow_no_alloc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_uninstall_restores_libc, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
