/*
 * test_h_sweeps.c — sweeps across datasets and k, and command-line
 * overrides: `dataset:` and `k:` as lists, cn_config_load_set's "key=value"
 * overrides (replacing a key, adding one, YAML values, and every error:
 * "FILE: --set: ..."), with no leak on any path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "testutil.h"

static const char base_yaml[] =
    "dataset: sift-debian-10k\n"
    "k: 10\n"
    "algorithms:\n"
    "  - index: hnsw\n"
    "    build: {M: 8}\n"
    "    search: {ef: [20, 40]}\n";

/* Loads text with overrides; must succeed. */
static void load_set(cn_experiment_t *e, const char *text, const char *const *sets, size_t n) {
    const char *path = cn_test_write_file("sweep.yaml", text);
    char err[1024] = "";
    assert_non_null(path);
    if (cn_config_load_set(e, path, sets, n, err, sizeof err)) fail_msg("load failed: %s", err);
}

/* Must fail with an error starting "PATH: <prefix>" and containing substr;
 * nothing leaks and *e stays zeroed. */
static void expect_set_error(const char *text, const char *const *sets, size_t n,
                             const char *prefix, const char *substr) {
    const char *path = cn_test_write_file("sweep-bad.yaml", text);
    char want[4400], err[1024] = "";
    assert_non_null(path);
    snprintf(want, sizeof want, "%s%s", path, prefix);
    cn_experiment_t e;
    cn_test_alloc_install();
    int rc = cn_config_load_set(&e, path, sets, n, err, sizeof err);
    long live = cn_test_alloc_live();
    cn_test_alloc_uninstall();
    if (rc != -1 || strncmp(err, want, strlen(want)) || !strstr(err, substr))
        fail_msg("want '%s...%s', got rc %d: '%s'", want, substr, rc, err);
    assert_null(strchr(err, '\n'));
    assert_null(e.name);
    assert_int_equal(live, 0);
}

static void test_lists(void **state) {
    (void)state;
    cn_experiment_t e;
    cn_test_alloc_install();
    load_set(&e,
             "dataset:\n"
             "  - sift-debian-10k\n"
             "  - {train: b.fvecs, test: q.fvecs}\n"
             "  - fashion-mnist-5k\n"
             "k: [10, 1, 100]\n"
             "algorithms:\n"
             "  - index: hnsw\n"
             "    search: {ef: [20, 200]}\n",
             NULL, 0);
    assert_string_equal(e.dataset.name, "sift-debian-10k");
    assert_int_equal(e.nmore_datasets, 2);
    assert_null(e.more_datasets[0].name);
    assert_string_equal(e.more_datasets[0].train, "b.fvecs");
    assert_non_null(e.more_datasets[0].config_dir);
    assert_string_equal(e.more_datasets[1].name, "fashion-mnist-5k");
    assert_int_equal(e.more_datasets[1].line, 4);
    assert_int_equal(e.nks, 3);
    assert_int_equal(e.ks[0], 10);
    assert_int_equal(e.ks[1], 1);
    assert_int_equal(e.ks[2], 100);
    assert_int_equal(e.k, 10);
    cn_config_free(&e);
    /* A scalar k and dataset are lists of one. */
    load_set(&e, base_yaml, NULL, 0);
    assert_int_equal(e.nks, 1);
    assert_int_equal(e.ks[0], 10);
    assert_int_equal(e.nmore_datasets, 0);
    assert_null(e.more_datasets);
    cn_config_free(&e);
    assert_int_equal(cn_test_alloc_live(), 0);
    cn_test_alloc_uninstall();

    const char *none[1] = {NULL};
    expect_set_error("dataset: []\nalgorithms:\n  - index: hnsw\n", none, 0, ":1:",
                     "'dataset' is an empty list");
    expect_set_error("dataset: [a, [b]]\nalgorithms:\n  - index: hnsw\n", none, 0, ":1:",
                     "cannot be a list");
    expect_set_error("dataset: a\nk: [10, 10]\nalgorithms:\n  - index: hnsw\n", none, 0, ":2:",
                     "'k' lists 10 twice");
    expect_set_error("dataset: a\nk: [10, x]\nalgorithms:\n  - index: hnsw\n", none, 0, ":2:",
                     "'k' must be a positive integer or a list of them");
    expect_set_error("dataset: a\nk: []\nalgorithms:\n  - index: hnsw\n", none, 0, ":2:",
                     "'k' must list 1 to 16 values");
    /* ef smaller than every k: refused; smaller than some k only: planned
     * (the plan skips that pass's point). */
    expect_set_error("dataset: a\nk: [50, 100]\nalgorithms:\n  - index: hnsw\n"
                     "    search: {ef: [20, 200]}\n",
                     none, 0, ":5:", "ef");
    cn_test_alloc_install();
    load_set(&e, "dataset: a\nk: [10, 100]\nalgorithms:\n  - index: hnsw\n"
                 "    search: {ef: [20, 200]}\n", NULL, 0);
    cn_config_free(&e);
    assert_int_equal(cn_test_alloc_live(), 0);
    cn_test_alloc_uninstall();
}

static void test_set(void **state) {
    (void)state;
    cn_experiment_t e;
    cn_test_alloc_install();
    const char *s1[] = {"dataset=msmarco-splade-1m", "k=[1, 10]", "runs=1"};
    load_set(&e, base_yaml, s1, 3);
    assert_string_equal(e.dataset.name, "msmarco-splade-1m");
    assert_int_equal(e.nks, 2);
    assert_int_equal(e.ks[1], 10);
    assert_int_equal(e.runs, 1);
    cn_config_free(&e);
    /* A map value, a list of datasets, and a later --set of the same key wins. */
    const char *s2[] = {"dataset={train: a.npy, test: b.npy, distance: ip}", "k=5",
                        "dataset=[x, y]"};
    load_set(&e, base_yaml, s2, 2);
    assert_null(e.dataset.name);
    assert_string_equal(e.dataset.train, "a.npy");
    assert_string_equal(e.dataset.distance, "ip");
    assert_int_equal(e.k, 5);
    cn_config_free(&e);
    load_set(&e, base_yaml, s2, 3);
    assert_string_equal(e.dataset.name, "x");
    assert_int_equal(e.nmore_datasets, 1);
    assert_string_equal(e.more_datasets[0].name, "y");
    cn_config_free(&e);
    /* Algorithms replaced wholesale. */
    const char *s3[] = {"algorithms=[{index: flat}]"};
    load_set(&e, base_yaml, s3, 1);
    assert_int_equal(e.nalgos, 1);
    assert_string_equal(e.algos[0].index, "flat");
    cn_config_free(&e);
    assert_int_equal(cn_test_alloc_live(), 0);
    cn_test_alloc_uninstall();

    const char *b1[] = {"kk=3"};
    expect_set_error(base_yaml, b1, 1, ": --set: ", "unknown top-level key 'kk'");
    const char *b2[] = {"k=abc"};
    expect_set_error(base_yaml, b2, 1, ": --set: ", "'k' must be a positive integer");
    const char *b3[] = {"k"};
    expect_set_error(base_yaml, b3, 1, ": --set: ", "'k' is not key=value");
    const char *b4[] = {"=3"};
    expect_set_error(base_yaml, b4, 1, ": --set: ", "not key=value");
    const char *b5[] = {"k=[1, 2"};
    expect_set_error(base_yaml, b5, 1, ": --set: ", "YAML syntax error");
    const char *b6[] = {"runs="};
    expect_set_error(base_yaml, b6, 1, ": --set: ", "runs: empty value");
    const char *b7[] = {"dataset=[]"};
    expect_set_error(base_yaml, b7, 1, ": --set: ", "'dataset' is an empty list");
    const char *b8[] = {"algorithms=[{index: hnws}]"};
    expect_set_error(base_yaml, b8, 1, ": --set: ", "unknown index 'hnws'");
    /* An error elsewhere in the file still names its line. */
    const char *b9[] = {"k=3"};
    expect_set_error("dataset: a\nruns: 0\nalgorithms:\n  - index: hnsw\n", b9, 1, ":2:",
                     "'runs'");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
