/*
 * test_visited.c — core/visited.h: the epoch-tagged visited table. Marks
 * survive within an epoch, vanish at the next one, and the 16-bit epoch
 * wrap-around really clears old tags (a tag written 65535 epochs ago must not
 * read as "visited" once the counter comes back to the same value).
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

/* A node marked at epoch e and never again must read unvisited after any
 * number of next() calls, including across the wrap. */
static void test_wraparound(void **state) {
    (void)state;
    cn_visited_t v;
    assert_int_equal(cn_visited_init(&v, 10), CN_OK);
    cn_visited_set(&v, 5); /* epoch 1 */
    for (int i = 0; i < 65534; i++) cn_visited_next(&v);
    assert_int_equal(v.epoch, 65535);
    assert_false(cn_visited_get(&v, 5));
    cn_visited_set(&v, 7); /* tag 65535 */
    cn_visited_next(&v); /* wraps: table cleared, epoch back to 1 */
    assert_int_equal(v.epoch, 1);
    assert_false(cn_visited_get(&v, 5)); /* would be a stale hit without the reset */
    assert_false(cn_visited_get(&v, 7));
    for (uint32_t i = 0; i < 10; i++) assert_int_equal(v.tag[i], 0);
    cn_visited_free(&v);
}

/* Random marks over 3 wraps checked against a per-epoch reference. */
static void test_random_against_reference(void **state) {
    (void)state;
    const uint32_t n = 64;
    cn_visited_t v;
    assert_int_equal(cn_visited_init(&v, n), CN_OK);
    uint8_t ref[64];
    uint64_t st = 12345;
    for (long e = 0; e < 3L * 65536 + 17; e++) {
        cn_visited_next(&v);
        assert_int_not_equal(v.epoch, 0);
        memset(ref, 0, sizeof ref);
        int marks = (int)(cn_test_rand(&st) % 4);
        for (int j = 0; j < marks; j++) {
            uint32_t i = (uint32_t)(cn_test_rand(&st) % n);
            assert_int_equal(cn_visited_test_and_set(&v, i), ref[i]);
            ref[i] = 1;
        }
        if (e % 4099 == 0 || v.epoch <= 2 || v.epoch >= 65534) {
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
    cn_test_alloc_fail_after(-1);
    cn_visited_free(&v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wraparound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_against_reference, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_and_enomem, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
