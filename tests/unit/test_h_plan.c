/*
 * test_h_plan.c — the run's plan (harness/plan.c) and the points already
 * done (harness/resume.c): build points per quantizer x build grid, search
 * points per search grid x thread counts; rerank above a result-pool
 * parameter (ef) skipped with the reason, never run under a label it did not
 * use; rerank on a lossless quantizer and PQ sub-spaces that do not divide
 * the dimension refused with the config's file and line; points of an
 * existing results file marked done.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "cannoli/cannoli.h"
#include "config.h"
#include "plan.h"
#include "resume.h"
#include "rows.h"

static const char *write_file(const char *name, const char *text) {
    const char *path = cn_test_write_file(name, text);
    assert_non_null(path);
    return path;
}

static const cn_plan_shape_t sift = {"d", 128, CN_METRIC_L2};

/* Loads `yaml` and plans it on `shape`; returns the plan's rc. */
static int plan_of(const char *yaml, const cn_plan_shape_t *shape, const cn_done_set_t *done,
                   cn_experiment_t *exp, cn_plan_t *plan, char *err, size_t errlen) {
    const char *path = write_file("p.yaml", yaml);
    char cerr[1024];
    if (cn_config_load(exp, path, cerr, sizeof cerr)) fail_msg("config: %s", cerr);
    return cn_plan_make(plan, exp, shape, done, NULL, err, errlen);
}

static void test_skips_rerank_above_ef(void **state) {
    (void)state;
    cn_experiment_t exp;
    cn_plan_t plan;
    char err[1024] = "";
    int rc = plan_of("dataset: d\nthreads: [1, 2]\nalgorithms:\n"
                     "  - name: pq\n    index: hnsw\n"
                     "    quantizer: {name: pq, subspaces: [16, 32]}\n"
                     "    build: {M: 8, build_on: [original, quantized]}\n"
                     "    search: {ef: [10, 40, 100], rerank: [0, 20, 100]}\n",
                     &sift, NULL, &exp, &plan, err, sizeof err);
    assert_int_equal(rc, 0);
    assert_int_equal(plan.n, 4); /* 2 quantizer x 2 build points */
    size_t runs = 0, skipped = 0;
    for (size_t i = 0; i < plan.n; i++) {
        const cn_build_point_t *b = &plan.points[i];
        assert_true(b->lossy);
        assert_int_equal(b->on_quantized, strstr(b->bp.text, "quantized") != NULL);
        assert_int_equal(b->nsearch, 2 * 9);
        for (size_t s = 0; s < b->nsearch; s++) {
            cn_params_t sp = {b->search[s].p.items, b->search[s].p.n};
            long long ef = cn_params_int(&sp, "ef", 0), rr = cn_params_int(&sp, "rerank", 0);
            if (rr > ef) {
                assert_non_null(strstr(b->search[s].skip, "exceeds ef"));
                skipped++;
            } else {
                assert_string_equal(b->search[s].skip, "");
                runs++;
            }
        }
    }
    /* ef 10: rerank 0; ef 40: 0, 20; ef 100: 0, 20, 100 -> 6 of 9, x2 threads x4 */
    assert_int_equal(runs, 6 * 2 * 4);
    assert_int_equal(skipped, 3 * 2 * 4);
    assert_int_equal(plan.ntodo, runs);
    assert_int_equal(plan.nskipped, skipped);
    cn_plan_free(&plan);
    cn_config_free(&exp);
}

static void test_shape_errors_name_the_line(void **state) {
    (void)state;
    cn_experiment_t exp;
    cn_plan_t plan;
    char err[1024] = "";
    /* 7 sub-spaces do not divide 128 */
    int rc = plan_of("dataset: d\nalgorithms:\n  - name: f\n    index: flat\n"
                     "  - name: pq7\n    index: hnsw\n    quantizer: {name: pq, subspaces: 7}\n",
                     &sift, NULL, &exp, &plan, err, sizeof err);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "p.yaml:7: algorithm 'pq7'"));
    assert_non_null(strstr(err, "divide"));
    cn_config_free(&exp);
    /* the same config plans fine on a dimension 7 divides */
    cn_plan_shape_t d112 = {"d", 112, CN_METRIC_L2};
    rc = plan_of("dataset: d\nalgorithms:\n  - name: pq7\n    index: hnsw\n"
                 "    quantizer: {name: pq, subspaces: 7}\n",
                 &d112, NULL, &exp, &plan, err, sizeof err);
    assert_int_equal(rc, 0);
    cn_plan_free(&plan);
    cn_config_free(&exp);
    /* train_size below 2^nbits centroids */
    rc = plan_of("dataset: d\nalgorithms:\n  - name: pq\n    index: hnsw\n"
                 "    quantizer: {name: pq, subspaces: 16, train_size: 100}\n",
                 &sift, NULL, &exp, &plan, err, sizeof err);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "p.yaml:5: algorithm 'pq'"));
    assert_non_null(strstr(err, "train_size = 100 is below the 2^8 = 256 centroids"));
    cn_config_free(&exp);
    /* rerank on a lossless quantizer: names the rerank axis's line */
    rc = plan_of("dataset: d\nalgorithms:\n  - name: h\n    index: hnsw\n"
                 "    search:\n      ef: [20]\n      rerank: [0, 10]\n",
                 &sift, NULL, &exp, &plan, err, sizeof err);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "p.yaml:7: algorithm 'h': 'rerank' needs a lossy quantizer"));
    cn_config_free(&exp);
}

static void test_done_points_are_marked(void **state) {
    (void)state;
    /* A results file holding the ef=20 row of build point M=8. */
    char csv[8192] = "", row[4096] = "";
    for (size_t j = 0; j < cn_csv_ncolumns; j++) {
        strcat(csv, cn_csv_columns[j]);
        strcat(csv, j + 1 < cn_csv_ncolumns ? "," : "\n");
        const char *v = "0";
        if (!strcmp(cn_csv_columns[j], "dataset")) v = "d";
        if (!strcmp(cn_csv_columns[j], "algorithm")) v = "h";
        if (!strcmp(cn_csv_columns[j], "quantizer_params")) v = "";
        if (!strcmp(cn_csv_columns[j], "build_params")) v = "M=8;seed=42";
        if (!strcmp(cn_csv_columns[j], "search_params")) v = "ef=20";
        if (!strcmp(cn_csv_columns[j], "k")) v = "10";
        if (!strcmp(cn_csv_columns[j], "threads")) v = "1";
        strcat(row, v);
        strcat(row, j + 1 < cn_csv_ncolumns ? "," : "\n");
    }
    strcat(csv, row);
    const char *path = write_file("results.csv", csv);
    cn_done_set_t done;
    int exists = 0;
    char err[1024];
    assert_int_equal(cn_done_load(&done, path, &exists, err, sizeof err), 0);
    assert_int_equal(exists, 1);
    assert_int_equal(done.n, 1);
    cn_experiment_t exp;
    cn_plan_t plan;
    int rc = plan_of("dataset: d\nalgorithms:\n  - name: h\n    index: hnsw\n"
                     "    build: {M: [8, 16]}\n    search: {ef: [20, 40]}\n",
                     &sift, &done, &exp, &plan, err, sizeof err);
    assert_int_equal(rc, 0);
    assert_int_equal(plan.n, 2);
    assert_true(plan.points[0].search[0].done);
    assert_false(plan.points[0].search[1].done);
    assert_false(plan.points[1].search[0].done);
    assert_int_equal(plan.ndone, 1);
    assert_int_equal(plan.ntodo, 3);
    cn_plan_free(&plan);
    cn_config_free(&exp);
    cn_done_free(&done);
    /* another header is refused */
    path = write_file("other.csv", "a,b\n1,2\n");
    assert_int_equal(cn_done_load(&done, path, &exists, err, sizeof err), -1);
    assert_non_null(strstr(err, "other columns"));
}

static void test_only(void **state) {
    (void)state;
    const char *path = write_file("o.yaml", "dataset: d\nalgorithms:\n  - name: a\n    index: flat\n"
                                            "  - name: b\n    index: hnsw\n"
                                            "  - name: c\n    index: hnsw\n    build: {M: [8, 12]}\n");
    cn_experiment_t exp;
    cn_plan_t plan;
    char err[1024];
    assert_int_equal(cn_config_load(&exp, path, err, sizeof err), 0);
    assert_int_equal(cn_plan_make(&plan, &exp, &sift, NULL, "c,a", err, sizeof err), 0);
    assert_int_equal(plan.n, 3);
    assert_string_equal(plan.points[0].algo->name, "a");
    assert_string_equal(plan.points[2].algo->name, "c");
    cn_plan_free(&plan);
    assert_int_equal(cn_plan_make(&plan, &exp, &sift, NULL, "a,bb", err, sizeof err), -1);
    assert_non_null(strstr(err, "--only names 'bb'"));
    cn_config_free(&exp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_skips_rerank_above_ef),
        cmocka_unit_test(test_shape_errors_name_the_line),
        cmocka_unit_test(test_done_points_are_marked),
        cmocka_unit_test(test_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
