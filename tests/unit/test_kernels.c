/*
 * test_kernels.c — the float32 distance kernels of every SIMD level this
 * build and CPU can run (metric/kernels_*.c), against a double-precision
 * reference.
 *
 * Every dimension 1..67 is tried (so every tail length of 4, 8 and 16 lanes is
 * hit), with aligned and unaligned (offset by one float) inputs allocated to
 * their exact size so that valgrind sees any read past the end. Batch kernels
 * get rows with a stride larger than d whose padding is NaN (a kernel that
 * lets padding into a result returns NaN), ids in random order with repeats,
 * ranges starting past row 0, and an output buffer guarded by a sentinel.
 *
 * The level chosen at start-up can be pinned with CANNOLI_SIMD; that variable
 * is read once per process, so it is exercised by an end-to-end test, not here.
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

static const cn_simd_level_t all_levels[3] = {CN_SIMD_SCALAR, CN_SIMD_AVX2, CN_SIMD_AVX512};

static int under_valgrind(void) {
    const char *v = getenv("CN_TEST_UNDER_VALGRIND");
    return v && v[0] == '1';
}

/* ---- double-precision references ------------------------------------------ */

static double ref_l2sq(const float *a, const float *b, size_t d, double *mag) {
    double s = 0;
    for (size_t i = 0; i < d; i++) {
        double t = (double)a[i] - (double)b[i];
        s += t * t;
    }
    *mag = s;
    return s;
}

static double ref_negdot(const float *a, const float *b, size_t d, double *mag) {
    double s = 0, m = 0;
    for (size_t i = 0; i < d; i++) {
        s += (double)a[i] * (double)b[i];
        m += fabs((double)a[i] * (double)b[i]);
    }
    *mag = m;
    return -s;
}

static void check_close(const char *what, const char *level, size_t d, float got, double want,
                        double mag) {
    double tol = 1e-5 * mag + 1e-6;
    if (!(fabs((double)got - want) <= tol))
        fail_msg("%s [%s] d=%zu: got %.9g, want %.9g (tol %.3g)", what, level, d, (double)got,
                 want, tol);
}

/* d floats at an exact-size allocation, optionally shifted by one float so the
 * pointer is not 16/32/64-byte aligned. *block is what to free. */
static float *exact_vec(size_t d, int shift, uint64_t *rng, float scale, void **block) {
    float *p = malloc((d + (size_t)shift) * sizeof(float));
    assert_non_null(p);
    *block = p;
    float *v = p + shift;
    for (size_t i = 0; i < d; i++) v[i] = scale * cn_test_randf(rng);
    return v;
}

/* ---- level bookkeeping ------------------------------------------------------ */

static void test_levels(void **state) {
    (void)state;
    cn_simd_level_t used = cn_simd_level(), best = cn_simd_detect();
    print_message("  simd: in use %s, detected %s\n", cn_simd_name(used), cn_simd_name(best));
    assert_true((int)used >= (int)CN_SIMD_SCALAR && (int)used <= (int)CN_SIMD_AVX512);
    assert_true((int)best >= (int)CN_SIMD_SCALAR && (int)best <= (int)CN_SIMD_AVX512);
    assert_true((int)used <= (int)best);
    /* decided once: asking again gives the same answer */
    assert_int_equal(cn_simd_level(), used);
    assert_int_equal(cn_simd_detect(), best);

    assert_string_equal(cn_simd_name(CN_SIMD_SCALAR), "scalar");
    assert_string_equal(cn_simd_name(CN_SIMD_AVX2), "avx2");
    assert_string_equal(cn_simd_name(CN_SIMD_AVX512), "avx512");

    assert_non_null(cn_kernels_f32());
    assert_non_null(cn_kernels_f32_at(CN_SIMD_SCALAR));
    assert_non_null(cn_kernels_f32_at(used));
    /* every level up to the detected one runs; none above it does */
    for (int i = 0; i < 3; i++) {
        const cn_kernels_f32_t *k = cn_kernels_f32_at(all_levels[i]);
        if ((int)all_levels[i] <= (int)best)
            assert_non_null(k);
        else
            assert_null(k);
        if (k) {
            assert_non_null(k->l2sq);
            assert_non_null(k->negdot);
            assert_non_null(k->l2sq_batch);
            assert_non_null(k->negdot_batch);
            assert_non_null(k->l2sq_range);
            assert_non_null(k->negdot_range);
        }
    }
}

/* The kernels in use are those of the level in use: same bits on the same
 * inputs (whatever the pointer identity). */
static void test_default_is_level_in_use(void **state) {
    (void)state;
    const cn_kernels_f32_t *def = cn_kernels_f32(), *at = cn_kernels_f32_at(cn_simd_level());
    assert_non_null(def);
    assert_non_null(at);
    uint64_t rng = 99;
    for (size_t d = 1; d <= 67; d += 3) {
        void *ba, *bb;
        float *a = exact_vec(d, 0, &rng, 1.0f, &ba), *b = exact_vec(d, 1, &rng, 1.0f, &bb);
        float x = def->l2sq(a, b, d), y = at->l2sq(a, b, d);
        assert_memory_equal(&x, &y, sizeof x);
        x = def->negdot(a, b, d);
        y = at->negdot(a, b, d);
        assert_memory_equal(&x, &y, sizeof x);
        free(ba);
        free(bb);
    }
}

/* ---- single-pair kernels --------------------------------------------------- */

static void check_pair_kernels(const cn_kernels_f32_t *k, const char *name) {
    uint64_t rng = 1234;
    const int trials = under_valgrind() ? 1 : 3;
    for (size_t d = 1; d <= 67; d++) {
        for (int shift_a = 0; shift_a <= 1; shift_a++) {
            for (int shift_b = 0; shift_b <= 1; shift_b++) {
                for (int t = 0; t < trials; t++) {
                    float scale = t == 2 ? 100.0f : 1.0f;
                    void *ba, *bb;
                    float *a = exact_vec(d, shift_a, &rng, scale, &ba);
                    float *b = exact_vec(d, shift_b, &rng, scale, &bb);
                    double mag, want;
                    want = ref_l2sq(a, b, d, &mag);
                    check_close("l2sq", name, d, k->l2sq(a, b, d), want, mag);
                    want = ref_negdot(a, b, d, &mag);
                    check_close("negdot", name, d, k->negdot(a, b, d), want, mag);
                    /* exact identities */
                    float self = k->l2sq(a, a, d);
                    if (self != 0.0f) fail_msg("l2sq(a,a) [%s] d=%zu = %g", name, d, (double)self);
                    float sym1 = k->l2sq(a, b, d), sym2 = k->l2sq(b, a, d);
                    check_close("l2sq symmetric", name, d, sym1, (double)sym2,
                                fabs((double)sym2));
                    free(ba);
                    free(bb);
                }
            }
        }
    }
    /* a hand-checked value: |(1..d) - 0|^2 and -(1..d).(1..d) */
    for (size_t d = 1; d <= 67; d++) {
        float *a = malloc(d * sizeof *a), *z = calloc(d, sizeof *z);
        double sq = 0;
        for (size_t i = 0; i < d; i++) {
            a[i] = (float)(i + 1);
            sq += (double)(i + 1) * (double)(i + 1);
        }
        check_close("l2sq(1..d, 0)", name, d, k->l2sq(a, z, d), sq, sq);
        check_close("negdot(1..d, 1..d)", name, d, k->negdot(a, a, d), -sq, sq);
        check_close("negdot(1..d, 0)", name, d, k->negdot(a, z, d), 0.0, 0.0);
        free(a);
        free(z);
    }
}

static void test_pair_kernels_all_levels(void **state) {
    (void)state;
    int tested = 0;
    for (int i = 0; i < 3; i++) {
        const cn_kernels_f32_t *k = cn_kernels_f32_at(all_levels[i]);
        if (!k) {
            print_message("  %s: not available, skipped\n", cn_simd_name(all_levels[i]));
            continue;
        }
        check_pair_kernels(k, cn_simd_name(all_levels[i]));
        tested++;
    }
    assert_true(tested >= 1);
}

/* ---- batch and range kernels ----------------------------------------------- */

/* rows rows of `stride` floats, d of them data and the rest NaN; the last row
 * is cut to d floats so the allocation ends exactly after the last value. */
static float *strided_base(size_t rows, size_t d, size_t stride, uint64_t *rng) {
    size_t len = (rows - 1) * stride + d;
    float *b = malloc(len * sizeof *b);
    assert_non_null(b);
    for (size_t i = 0; i < len; i++) b[i] = NAN;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < d; j++) b[r * stride + j] = cn_test_randf(rng);
    return b;
}

static const float SENTINEL = -12345.5f;

static void check_batch_kernels(const cn_kernels_f32_t *k, const char *name) {
    static const size_t dims[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33,
                                  47, 48, 63, 64, 65, 67, 100, 128, 129};
    const size_t rows = under_valgrind() ? 23 : 61;
    uint64_t rng = 777;
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        size_t d = dims[di];
        for (size_t pad = 1; pad <= 9; pad += 8) {
            size_t stride = d + pad;
            float *base = strided_base(rows, d, stride, &rng);
            void *bq;
            float *q = exact_vec(d, (int)(d & 1), &rng, 1.0f, &bq);

            /* ids: random order, repeats, first and last row */
            const size_t n = 3 * rows + 5;
            uint32_t *ids = malloc(n * sizeof *ids); /* exact size: prefetch must stay inside */
            for (size_t i = 0; i < n; i++) ids[i] = (uint32_t)(cn_test_rand(&rng) % rows);
            ids[0] = (uint32_t)(rows - 1);
            ids[1] = 0;
            ids[2] = ids[0];
            ids[n - 1] = (uint32_t)(rows - 1);
            ids[n - 2] = ids[5];
            float *out = malloc((n + 1) * sizeof *out);

            for (int metric = 0; metric < 2; metric++) {
                const char *what = metric == 0 ? "l2sq_batch" : "negdot_batch";
                for (size_t i = 0; i <= n; i++) out[i] = SENTINEL;
                if (metric == 0)
                    k->l2sq_batch(q, base, stride, ids, n, d, out);
                else
                    k->negdot_batch(q, base, stride, ids, n, d, out);
                for (size_t i = 0; i < n; i++) {
                    double mag, want;
                    const float *row = base + (size_t)ids[i] * stride;
                    want = metric == 0 ? ref_l2sq(q, row, d, &mag) : ref_negdot(q, row, d, &mag);
                    check_close(what, name, d, out[i], want, mag);
                }
                if (out[n] != SENTINEL) fail_msg("%s [%s] d=%zu wrote past n", what, name, d);

                /* a prefix of the list (n not a multiple of any unroll) */
                for (size_t m = 0; m <= 6; m++) {
                    for (size_t i = 0; i <= n; i++) out[i] = SENTINEL;
                    if (metric == 0)
                        k->l2sq_batch(q, base, stride, ids + 1, m, d, out);
                    else
                        k->negdot_batch(q, base, stride, ids + 1, m, d, out);
                    for (size_t i = 0; i < m; i++) {
                        double mag, want;
                        const float *row = base + (size_t)ids[1 + i] * stride;
                        want = metric == 0 ? ref_l2sq(q, row, d, &mag)
                                           : ref_negdot(q, row, d, &mag);
                        check_close(what, name, d, out[i], want, mag);
                    }
                    if (out[m] != SENTINEL)
                        fail_msg("%s [%s] d=%zu n=%zu wrote out[%zu]", what, name, d, m, m);
                }

                /* ranges starting past row 0, up to the last row */
                const char *rwhat = metric == 0 ? "l2sq_range" : "negdot_range";
                const size_t starts[] = {0, 1, 3, rows - 1, rows / 2};
                for (size_t si = 0; si < sizeof starts / sizeof starts[0]; si++) {
                    size_t start = starts[si], cnt = rows - start;
                    for (size_t i = 0; i <= n; i++) out[i] = SENTINEL;
                    if (metric == 0)
                        k->l2sq_range(q, base, stride, start, cnt, d, out);
                    else
                        k->negdot_range(q, base, stride, start, cnt, d, out);
                    for (size_t i = 0; i < cnt; i++) {
                        double mag, want;
                        const float *row = base + (start + i) * stride;
                        want = metric == 0 ? ref_l2sq(q, row, d, &mag)
                                           : ref_negdot(q, row, d, &mag);
                        check_close(rwhat, name, d, out[i], want, mag);
                    }
                    if (out[cnt] != SENTINEL)
                        fail_msg("%s [%s] d=%zu start=%zu wrote past n", rwhat, name, d, start);
                }
                /* n = 0 writes nothing */
                out[0] = SENTINEL;
                if (metric == 0)
                    k->l2sq_range(q, base, stride, 2, 0, d, out);
                else
                    k->negdot_range(q, base, stride, 2, 0, d, out);
                assert_true(out[0] == SENTINEL);
            }
            free(out);
            free(ids);
            free(bq);
            free(base);
        }
    }
}

static void test_batch_kernels_all_levels(void **state) {
    (void)state;
    int tested = 0;
    for (int i = 0; i < 3; i++) {
        const cn_kernels_f32_t *k = cn_kernels_f32_at(all_levels[i]);
        if (!k) continue;
        check_batch_kernels(k, cn_simd_name(all_levels[i]));
        tested++;
    }
    assert_true(tested >= 1);
}

/* stride == d (dense rows) is the common case; it must agree with the single
 * kernel of the same level to within rounding. */
static void test_batch_matches_single(void **state) {
    (void)state;
    uint64_t rng = 4242;
    for (int li = 0; li < 3; li++) {
        const cn_kernels_f32_t *k = cn_kernels_f32_at(all_levels[li]);
        if (!k) continue;
        const char *name = cn_simd_name(all_levels[li]);
        for (size_t d = 1; d <= 67; d += 11) {
            const size_t rows = 40;
            float *base = cn_test_random_matrix(rows, d, cn_test_rand(&rng));
            float *q = cn_test_random_matrix(1, d, cn_test_rand(&rng));
            uint32_t ids[40];
            float ob[40], orr[40];
            for (uint32_t i = 0; i < rows; i++) ids[i] = (uint32_t)(rows - 1 - i);
            k->l2sq_batch(q, base, d, ids, rows, d, ob);
            k->l2sq_range(q, base, d, 0, rows, d, orr);
            for (uint32_t i = 0; i < rows; i++) {
                float s = k->l2sq(q, base + (size_t)ids[i] * d, d);
                check_close("l2sq_batch vs l2sq", name, d, ob[i], (double)s, fabs((double)s));
                float r = k->l2sq(q, base + (size_t)i * d, d);
                check_close("l2sq_range vs l2sq", name, d, orr[i], (double)r, fabs((double)r));
            }
            k->negdot_batch(q, base, d, ids, rows, d, ob);
            k->negdot_range(q, base, d, 0, rows, d, orr);
            for (uint32_t i = 0; i < rows; i++) {
                double mag;
                ref_negdot(q, base + (size_t)ids[i] * d, d, &mag);
                float s = k->negdot(q, base + (size_t)ids[i] * d, d);
                check_close("negdot_batch vs negdot", name, d, ob[i], (double)s, mag);
                ref_negdot(q, base + (size_t)i * d, d, &mag);
                float r = k->negdot(q, base + (size_t)i * d, d);
                check_close("negdot_range vs negdot", name, d, orr[i], (double)r, mag);
            }
            free(base);
            free(q);
        }
    }
}

/* All levels agree with each other (not only with the reference). */
static void test_levels_agree(void **state) {
    (void)state;
    const cn_kernels_f32_t *s = cn_kernels_f32_at(CN_SIMD_SCALAR);
    assert_non_null(s);
    uint64_t rng = 5150;
    for (int li = 1; li < 3; li++) {
        const cn_kernels_f32_t *k = cn_kernels_f32_at(all_levels[li]);
        if (!k) continue;
        const char *name = cn_simd_name(all_levels[li]);
        for (size_t d = 1; d <= 200; d += 7) {
            void *ba, *bb;
            float *a = exact_vec(d, 1, &rng, 3.0f, &ba), *b = exact_vec(d, 0, &rng, 3.0f, &bb);
            double mag;
            ref_l2sq(a, b, d, &mag);
            check_close("l2sq vs scalar", name, d, k->l2sq(a, b, d), (double)s->l2sq(a, b, d),
                        2 * mag);
            ref_negdot(a, b, d, &mag);
            check_close("negdot vs scalar", name, d, k->negdot(a, b, d),
                        (double)s->negdot(a, b, d), 2 * mag);
            free(ba);
            free(bb);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_default_is_level_in_use),
        cmocka_unit_test(test_pair_kernels_all_levels),
        cmocka_unit_test(test_batch_kernels_all_levels),
        cmocka_unit_test(test_batch_matches_single),
        cmocka_unit_test(test_levels_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
