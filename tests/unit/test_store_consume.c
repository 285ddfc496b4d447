/*
 * test_store_consume.c — cn_store_dense_create_consume: the store it builds
 * from a caller's matrix equals cn_store_dense_create's (euclidean rows
 * copied, cosine rows normalised) across chunk boundaries, NaN/Inf are
 * refused before anything is allocated, and nothing leaks.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cannoli/store.h"
#include "testutil.h"

static void check_same(uint32_t n, uint32_t d, cn_metric_t m) {
    char err[256];
    float *src = cn_test_random_matrix(n, d, 99);
    float *data = cn_malloc((size_t)n * d * sizeof(float));
    assert_non_null(data);
    memcpy(data, src, (size_t)n * d * sizeof(float));
    cn_store_t *a = NULL, *b = NULL;
    assert_int_equal(cn_store_dense_create(&a, src, n, d, m, err, sizeof err), CN_OK);
    assert_int_equal(cn_store_dense_create_consume(&b, data, n, d, m, err, sizeof err), CN_OK);
    cn_free(data);
    assert_int_equal(b->n, n);
    assert_int_equal(b->dim, d);
    for (uint32_t i = 0; i < n; i++)
        assert_memory_equal(cn_store_dense_row(a, i), cn_store_dense_row(b, i), d * sizeof(float));
    if (m == CN_METRIC_COSINE) {
        double s = 0;
        const float *r = cn_store_dense_row(b, n - 1);
        for (uint32_t j = 0; j < d; j++) s += (double)r[j] * r[j];
        assert_true(fabs(s - 1.0) < 1e-5);
    }
    cn_store_release(a);
    cn_store_release(b);
    free(src);
}

static void test_consume(void **state) {
    (void)state;
    cn_test_alloc_install();
    check_same(7, 5, CN_METRIC_L2);
    /* 8 MiB chunks: 3000 rows of 1000 floats span two chunks and a partial. */
    check_same(3000, 1000, CN_METRIC_L2);
    check_same(3000, 1000, CN_METRIC_COSINE);
    check_same(10, 3, CN_METRIC_IP);
    assert_int_equal(cn_test_alloc_live(), 0);
    cn_test_alloc_uninstall();
}

static void test_refuses_nan(void **state) {
    (void)state;
    char err[256];
    cn_test_alloc_install();
    float *data = cn_malloc(4 * 3 * sizeof(float));
    assert_non_null(data);
    for (int i = 0; i < 12; i++) data[i] = (float)i;
    data[7] = NAN;
    cn_store_t *s = (cn_store_t *)1;
    long before = cn_test_alloc_live();
    assert_int_equal(cn_store_dense_create_consume(&s, data, 4, 3, CN_METRIC_L2, err, sizeof err),
                     CN_EINVAL);
    assert_null(s);
    assert_non_null(strstr(err, "row 2 has a NaN value"));
    assert_int_equal(cn_test_alloc_live(), before);
    assert_float_equal(data[0], 0.0f, 0); /* untouched on refusal */
    cn_free(data);
    assert_int_equal(cn_test_alloc_live(), 0);
    cn_test_alloc_uninstall();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_consume),
        cmocka_unit_test(test_refuses_nan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
