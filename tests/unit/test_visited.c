/*
 * test_visited.c — core/visited.h: the bitmap visited set. Marks survive
 * within a search and vanish at the next one; the reset, which clears only
 * the words the search touched, leaves the whole map zero (word boundaries,
 * every id marked, random marks against a reference).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/visited.h"
#include "testutil.h"

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

static void test_basic(void **state) {
    (void)state;
    cn_visited_t v;
    assert_int_equal(cn_visited_init(&v, 100), CN_OK);
    for (uint32_t i = 0; i < 100; i++) assert_false(cn_visited_get(&v, i));
    cn_visited_set(&v, 3);
    assert_true(cn_visited_get(&v, 3));
    assert_false(cn_visited_get(&v, 4));
    assert_int_equal(cn_visited_test_and_set(&v, 4), 0);
    assert_int_equal(cn_visited_test_and_set(&v, 4), 1);
    cn_visited_next(&v);
    assert_false(cn_visited_get(&v, 3));
    assert_false(cn_visited_get(&v, 4));
    assert_int_equal(cn_visited_test_and_set(&v, 3), 0);
    cn_visited_free(&v);
}

/* Word boundaries (ids 0, 63, 64, n-1 with n not a multiple of 64), marking
 * every id (every word touched), and the invariant that next() leaves every
 * bit of the map zero. */
static void test_boundaries_and_full_reset(void **state) {
    (void)state;
    const uint32_t n = 200; /* 4 words, the last one partial */
    cn_visited_t v;
    assert_int_equal(cn_visited_init(&v, n), CN_OK);
    const uint32_t edge[] = {0, 63, 64, 127, 128, n - 1};
    for (size_t j = 0; j < sizeof edge / sizeof edge[0]; j++) {
        assert_int_equal(cn_visited_test_and_set(&v, edge[j]), 0);
        assert_int_equal(cn_visited_test_and_set(&v, edge[j]), 1);
    }
    for (uint32_t i = 0; i < n; i++) {
        int marked = 0;
        for (size_t j = 0; j < sizeof edge / sizeof edge[0]; j++) marked |= edge[j] == i;
        assert_int_equal(cn_visited_get(&v, i), marked);
    }
    assert_int_equal(v.ntouched, 4);
    cn_visited_next(&v);
    for (uint32_t w = 0; w < 4; w++) assert_true(v.bits[w] == 0);
    for (int round = 0; round < 3; round++) {
        for (uint32_t i = 0; i < n; i++) assert_int_equal(cn_visited_test_and_set(&v, i), 0);
        for (uint32_t i = 0; i < n; i++) assert_true(cn_visited_get(&v, i));
        assert_int_equal(v.ntouched, 4); /* each word listed once */
        cn_visited_next(&v);
        assert_int_equal(v.ntouched, 0);
        for (uint32_t w = 0; w < 4; w++) assert_true(v.bits[w] == 0);
    }
    cn_visited_free(&v);
}

/* Random marks over many searches checked against a reference array. */
static void test_random_against_reference(void **state) {
    (void)state;
    const uint32_t n = 1000;
    cn_visited_t v;
    assert_int_equal(cn_visited_init(&v, n), CN_OK);
    uint8_t ref[1000];
    uint64_t st = 12345;
    for (long e = 0; e < 20000; e++) {
        cn_visited_next(&v);
        memset(ref, 0, sizeof ref);
        int marks = (int)(cn_test_rand(&st) % (e % 97 == 0 ? 3000 : 40));
        for (int j = 0; j < marks; j++) {
            uint32_t i = (uint32_t)(cn_test_rand(&st) % n);
            assert_int_equal(cn_visited_test_and_set(&v, i), ref[i]);
            ref[i] = 1;
        }
        assert_true(v.ntouched <= (n + 63) / 64);
        if (e % 211 == 0) {
            for (uint32_t i = 0; i < n; i++) assert_int_equal(cn_visited_get(&v, i), ref[i]);
        }
    }
    cn_visited_free(&v);
}

static void test_empty_and_enomem(void **state) {
    (void)state;
    cn_visited_t v;
    assert_int_equal(cn_visited_init(&v, 0), CN_OK);
    cn_visited_next(&v);
    cn_visited_free(&v);
    cn_test_alloc_fail_after(0);
    assert_int_equal(cn_visited_init(&v, 8), CN_ENOMEM);
    cn_test_alloc_fail_after(1); /* the map succeeds, the word list fails */
    assert_int_equal(cn_visited_init(&v, 8), CN_ENOMEM);
    cn_test_alloc_fail_after(-1);
    cn_visited_free(&v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_boundaries_and_full_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_against_reference, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_and_enomem, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
