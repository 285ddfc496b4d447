/*
 * test_heap.c — core/heap.h: the bounded min/max heaps used by graph search,
 * checked against sorting on random data (with many ties), plus the offer /
 * drain semantics the HNSW code relies on, and leak-freedom of init/reserve.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/heap.h"
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

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Random scores; `levels` > 0 quantises them to force ties. */
static void random_scores(float *s, size_t n, uint64_t seed, int levels) {
    uint64_t st = seed;
    for (size_t i = 0; i < n; i++) {
        float v = cn_test_randf(&st);
        s[i] = levels > 0 ? (float)(int)(v * (float)levels) : v;
    }
}

static void test_minheap_pops_sorted(void **state) {
    (void)state;
    for (int levels = 0; levels <= 7; levels += 7) {
        for (size_t n = 1; n <= 300; n += 37) {
            float *s = malloc(n * sizeof *s), *ref = malloc(n * sizeof *ref);
            random_scores(s, n, 1000 + n, levels);
            memcpy(ref, s, n * sizeof *s);
            qsort(ref, n, sizeof *ref, cmp_float);
            cn_heap_t h;
            assert_int_equal(cn_heap_init(&h, n), CN_OK);
            for (size_t i = 0; i < n; i++) cn_minheap_push(&h, s[i], (uint32_t)i);
            assert_int_equal(h.size, n);
            for (size_t i = 0; i < n; i++) {
                assert_float_equal(h.score[0], ref[i], 0);
                /* the id travels with its score */
                assert_float_equal(s[h.id[0]], h.score[0], 0);
                cn_minheap_pop(&h);
            }
            assert_int_equal(h.size, 0);
            cn_heap_free(&h);
            free(s);
            free(ref);
        }
    }
}

static void test_maxheap_pops_descending(void **state) {
    (void)state;
    size_t n = 257;
    float s[257], ref[257];
    random_scores(s, n, 7, 5);
    memcpy(ref, s, sizeof s);
    qsort(ref, n, sizeof *ref, cmp_float);
    cn_heap_t h;
    assert_int_equal(cn_heap_init(&h, n), CN_OK);
    for (size_t i = 0; i < n; i++) cn_maxheap_push(&h, s[i], (uint32_t)i);
    for (size_t i = n; i > 0; i--) {
        assert_float_equal(h.score[0], ref[i - 1], 0);
        assert_float_equal(s[h.id[0]], h.score[0], 0);
        cn_maxheap_pop(&h);
    }
    cn_heap_free(&h);
}

/* offer keeps the cap smallest; drain returns them ascending. */
static void test_offer_keeps_k_smallest(void **state) {
    (void)state;
    for (int levels = 0; levels <= 20; levels += 20) {
        for (size_t k = 1; k <= 64; k = k * 2 + 1) {
            size_t n = 1000;
            float *s = malloc(n * sizeof *s), *ref = malloc(n * sizeof *ref);
            random_scores(s, n, 99 + k, levels);
            memcpy(ref, s, n * sizeof *s);
            qsort(ref, n, sizeof *ref, cmp_float);
            cn_heap_t h;
            assert_int_equal(cn_heap_init(&h, k), CN_OK);
            for (size_t i = 0; i < n; i++) cn_maxheap_offer(&h, s[i], (uint32_t)i);
            assert_int_equal(h.size, k);
            uint32_t ids[64];
            float sc[64];
            size_t got = cn_maxheap_drain_sorted(&h, ids, sc);
            assert_int_equal(got, k);
            assert_int_equal(h.size, 0);
            for (size_t i = 0; i < k; i++) {
                assert_float_equal(sc[i], ref[i], 0);
                assert_float_equal(s[ids[i]], sc[i], 0);
                if (i) assert_true(sc[i - 1] <= sc[i]);
            }
            /* no id twice */
            for (size_t i = 0; i < k; i++)
                for (size_t j = i + 1; j < k; j++) assert_int_not_equal(ids[i], ids[j]);
            cn_heap_free(&h);
            free(s);
            free(ref);
        }
    }
}

/* The in-place sort (flat, inverted: heap laid over the output arrays) gives
 * the same ascending k smallest, ids matching scores, heap left empty. */
static void test_sort_inplace(void **state) {
    (void)state;
    for (size_t k = 0; k <= 65; k = k * 2 + 1) {
        size_t n = 500;
        float *s = malloc(n * sizeof *s), *ref = malloc(n * sizeof *ref);
        random_scores(s, n, 7 + k, k % 2 ? 20 : 0);
        memcpy(ref, s, n * sizeof *s);
        qsort(ref, n, sizeof *ref, cmp_float);
        cn_heap_t h;
        assert_int_equal(cn_heap_init(&h, k ? k : 1), CN_OK);
        if (k)
            for (size_t i = 0; i < n; i++) cn_maxheap_offer(&h, s[i], (uint32_t)i);
        size_t got = cn_maxheap_sort_inplace(&h);
        assert_int_equal(got, k);
        assert_int_equal(h.size, 0);
        for (size_t i = 0; i < k; i++) {
            assert_float_equal(h.score[i], ref[i], 0);
            assert_float_equal(s[h.id[i]], h.score[i], 0);
        }
        cn_heap_free(&h);
        free(s);
        free(ref);
    }
}

static void test_offer_return_and_ties(void **state) {
    (void)state;
    cn_heap_t h;
    assert_int_equal(cn_heap_init(&h, 3), CN_OK);
    assert_int_equal(cn_maxheap_offer(&h, 5, 0), 1);
    assert_int_equal(cn_maxheap_offer(&h, 1, 1), 1);
    assert_int_equal(cn_maxheap_offer(&h, 3, 2), 1); /* full: {1,3,5} */
    assert_float_equal(h.score[0], 5, 0);
    assert_int_equal(cn_maxheap_offer(&h, 6, 3), 0); /* worse: rejected */
    assert_int_equal(cn_maxheap_offer(&h, 5, 4), 0); /* tie with the worst: rejected */
    assert_int_equal(h.id[0], 0);
    assert_int_equal(cn_maxheap_offer(&h, 2, 5), 1); /* evicts 5 */
    assert_float_equal(h.score[0], 3, 0);
    uint32_t ids[3];
    float sc[3];
    assert_int_equal(cn_maxheap_drain_sorted(&h, ids, sc), 3);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 5);
    assert_int_equal(ids[2], 2);
    /* all-equal scores: every id comes out once */
    cn_heap_clear(&h);
    for (uint32_t i = 0; i < 3; i++) cn_maxheap_push(&h, 7, i);
    assert_int_equal(cn_maxheap_drain_sorted(&h, ids, sc), 3);
    assert_int_equal(ids[0] + ids[1] + ids[2], 0 + 1 + 2);
    assert_true(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
    cn_heap_free(&h);
}

static void test_drain_empty_and_reserve(void **state) {
    (void)state;
    cn_heap_t h;
    assert_int_equal(cn_heap_init(&h, 0), CN_OK);
    uint32_t ids[1];
    float sc[1];
    assert_int_equal(cn_maxheap_drain_sorted(&h, ids, sc), 0);
    assert_int_equal(cn_heap_reserve(&h, 4), CN_OK);
    assert_int_equal(h.cap, 4);
    cn_minheap_push(&h, 2, 2);
    cn_minheap_push(&h, 1, 1);
    assert_int_equal(cn_heap_reserve(&h, 100), CN_OK); /* contents kept */
    assert_int_equal(h.size, 2);
    assert_int_equal(h.id[0], 1);
    cn_minheap_pop(&h);
    assert_int_equal(h.id[0], 2);
    cn_minheap_pop(&h);
    assert_int_equal(h.size, 0);
    cn_heap_free(&h);
    cn_heap_free(&h); /* idempotent */
}

static void test_init_enomem(void **state) {
    (void)state;
    cn_heap_t h;
    cn_test_alloc_fail_after(1); /* second of the two arrays fails */
    assert_int_equal(cn_heap_init(&h, 10), CN_ENOMEM);
    assert_null(h.score);
    cn_test_alloc_fail_after(-1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_minheap_pops_sorted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_maxheap_pops_descending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offer_keeps_k_smallest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offer_return_and_ties, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sort_inplace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drain_empty_and_reserve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_enomem, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
