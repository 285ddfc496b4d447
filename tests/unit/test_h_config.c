/*
 * test_h_config.c — the YAML experiment loader: a full valid file (every
 * field, grid sizes and point order), defaults, the DESIGN.md example, the
 * quantizer map form, and one case per error with its exact FILE:LINE prefix
 * and a key part of the message; nothing leaks on success, failure or ENOMEM.
 *
 * Two test components are registered at start-up: quantizer `tq` (build ints
 * `subspaces` in [1, 256] and `nbits` in [4, 8]) and index `tidx` (build:
 * `nlist` required int, `mode` fast|exact, `ratio` float in [0, 1]; search:
 * `nprobe` int >= 1). The built-ins used are flat, hnsw (M, ef_construction,
 * seed; ef) and plain.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cannoli/registry.h"
#include "config.h"
#include "testutil.h"

/* ---- test components -------------------------------------------------- */

static cn_status_t tq_create(cn_quantizer_t **out, cn_metric_t metric, uint32_t dim,
                             const cn_params_t *params, char *err, size_t errlen) {
    (void)out, (void)metric, (void)dim, (void)params;
    return cn_error(err, errlen, CN_EUNSUPPORTED, "test quantizer");
}

static cn_status_t tidx_create(cn_index_t **out, cn_metric_t metric, uint32_t dim,
                               const cn_params_t *params, char *err, size_t errlen) {
    (void)out, (void)metric, (void)dim, (void)params;
    return cn_error(err, errlen, CN_EUNSUPPORTED, "test index");
}

static const cn_param_spec_t tq_params[] = {
    {"subspaces", CN_PARAM_INT, CN_ROLE_BUILD, 1, 256, "8", NULL, "sub-vectors", 0},
    {"nbits", CN_PARAM_INT, CN_ROLE_BUILD, 4, 8, "8", NULL, "bits per code", 0},
};
static const cn_component_t tq = {"tq", CN_COMPONENT_QUANTIZER, "test quantizer", tq_params, 2,
                                  NULL, tq_create, "tq", NULL};

static const cn_param_spec_t tidx_params[] = {
    {"nlist", CN_PARAM_INT, CN_ROLE_BUILD, 1, 1e6, NULL, NULL, "lists (required)", 0},
    {"mode", CN_PARAM_STRING, CN_ROLE_BUILD, 0, 0, "fast", "fast|exact", "mode", 0},
    {"ratio", CN_PARAM_FLOAT, CN_ROLE_BUILD, 0, 1, "0.5", NULL, "a float", 0},
    {"nprobe", CN_PARAM_INT, CN_ROLE_SEARCH, 1, 1e6, "1", NULL, "lists probed", 0},
};
static const cn_component_t tidx = {"tidx", CN_COMPONENT_INDEX, "test index", tidx_params, 4,
                                    tidx_create, NULL, NULL, NULL};

static int setup_group(void **state) {
    (void)state;
    char err[256];
    if (!cn_registry_find("tq", CN_COMPONENT_QUANTIZER) && cn_registry_add(&tq, err, sizeof err))
        return -1;
    if (!cn_registry_find("tidx", CN_COMPONENT_INDEX) && cn_registry_add(&tidx, err, sizeof err))
        return -1;
    return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static const char *write_cfg(const char *name, const char *text) {
    static char path[4200];
    snprintf(path, sizeof path, "%s/%s", cn_test_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static int all_zero(const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i]) return 0;
    return 1;
}

/* Loads text that must fail; checks "PATH:LINE: " and a substring; no leak. */
static void expect_error(const char *text, int line, const char *substr) {
    const char *path = write_cfg("bad.yaml", text);
    char want[4300], err[1024] = "";
    snprintf(want, sizeof want, "%s:%d: ", path, line);
    cn_experiment_t exp;
    memset(&exp, 0xab, sizeof exp);
    cn_test_alloc_install();
    int rc = cn_config_load(&exp, path, err, sizeof err);
    long live = cn_test_alloc_live();
    cn_test_alloc_uninstall();
    if (rc != -1 || strncmp(err, want, strlen(want)) || !strstr(err, substr))
        fail_msg("for\n%s\nwant '%s...%s', got rc %d: '%s'", text, want, substr, rc, err);
    assert_true(all_zero(&exp, sizeof exp));
    assert_int_equal(live, 0);
}

static void load_ok(cn_experiment_t *exp, const char *name, const char *text) {
    const char *path = write_cfg(name, text);
    char err[1024] = "";
    if (cn_config_load(exp, path, err, sizeof err)) fail_msg("load failed: %s", err);
}

static const cn_axis_t *axis(const cn_grid_t *g, size_t i, const char *key, size_t nvalues) {
    assert_true(i < g->naxes);
    assert_string_equal(g->axes[i].key, key);
    assert_int_equal(g->axes[i].nvalues, nvalues);
    for (size_t v = 0; v < nvalues; v++) assert_ptr_equal(g->axes[i].values[v].key, g->axes[i].key);
    return &g->axes[i];
}

static void assert_int_param(const cn_param_t *p, const char *key, long long v) {
    assert_string_equal(p->key, key);
    assert_int_equal(p->type, CN_PARAM_INT);
    assert_int_equal(p->i, v);
    assert_true(p->f == (double)v);
}

static void assert_str_param(const cn_param_t *p, const char *key, const char *v) {
    assert_string_equal(p->key, key);
    assert_int_equal(p->type, CN_PARAM_STRING);
    assert_string_equal(p->s, v);
}

/* ---- valid files -------------------------------------------------------- */

static const char full_yaml[] =
    "name: full-test\n"                                       /* 1 */
    "description: >\n"                                        /* 2 */
    "  free text, ignored\n"                                  /* 3 */
    "dataset: data/base.hdf5\n"                               /* 4 */
    "k: 5\n"                                                  /* 5 */
    "runs: 2\n"                                               /* 6 */
    "threads: 4\n"                                            /* 7 */
    "build_threads: 3\n"                                      /* 8 */
    "seed: 18446744073709551615\n"                            /* 9 */
    "algorithms:\n"                                           /* 10 */
    "  - name: h1\n"                                          /* 11 */
    "    index: hnsw\n"                                       /* 12 */
    "    quantizer: f16\n"                                    /* 13 */
    "    build: {M: [8, 16], ef_construction: 100}\n"         /* 14 */
    "    search:\n"                                           /* 15 */
    "      ef: [10, 20, 40]\n"                                /* 16 */
    "      rerank: [0, 50]\n"                                 /* 17 */
    "  - index: tidx\n"                                       /* 18 */
    "    quantizer: {name: tq, subspaces: [4, 8], nbits: 8}\n" /* 19 */
    "    build:\n"                                            /* 20 */
    "      nlist: [16, 32]\n"                                 /* 21 */
    "      mode:\n"                                           /* 22 */
    "        - fast\n"                                        /* 23 */
    "        - exact\n"                                       /* 24 */
    "        - \"fast\"\n"                                    /* 25 */
    "      ratio: 0.25\n"                                     /* 26 */
    "    search: {nprobe: [1, 2]}\n";                         /* 27 */

static void test_full(void **state) {
    (void)state;
    cn_test_alloc_install();
    cn_experiment_t e;
    load_ok(&e, "full.yaml", full_yaml);
    char want[4200];
    snprintf(want, sizeof want, "%s/full.yaml", cn_test_tmpdir());
    assert_string_equal(e.path, want);
    assert_string_equal(e.name, "full-test");
    assert_string_equal(e.dataset.name, "data/base.hdf5");
    assert_null(e.dataset.train);
    assert_null(e.dataset.test);
    assert_null(e.dataset.neighbors);
    assert_null(e.dataset.distance);
    assert_string_equal(e.dataset.config_dir, cn_test_tmpdir());
    assert_int_equal(e.dataset.line, 4);
    assert_int_equal(e.k, 5);
    assert_int_equal(e.runs, 2);
    assert_int_equal(e.threads, 4);
    assert_int_equal(e.build_threads, 3);
    assert_true(e.seed == UINT64_MAX);
    assert_int_equal(e.nalgos, 2);

    const cn_algo_cfg_t *a = &e.algos[0];
    assert_string_equal(a->name, "h1");
    assert_string_equal(a->index, "hnsw");
    assert_string_equal(a->quantizer, "f16");
    assert_int_equal(a->line, 11);
    assert_int_equal(a->qparams.naxes, 0);
    assert_int_equal(cn_grid_size(&a->qparams), 1);
    assert_int_equal(a->build.naxes, 2);
    assert_int_equal(cn_grid_size(&a->build), 2);
    const cn_axis_t *ax = axis(&a->build, 0, "M", 2);
    assert_int_equal(ax->line, 14);
    assert_int_param(&ax->values[0], "M", 8);
    assert_int_param(&ax->values[1], "M", 16);
    assert_int_param(&axis(&a->build, 1, "ef_construction", 1)->values[0], "ef_construction", 100);
    assert_int_equal(cn_grid_size(&a->search), 6);
    assert_int_equal(axis(&a->search, 0, "ef", 3)->line, 16);
    assert_int_equal(axis(&a->search, 1, "rerank", 2)->line, 17);
    /* Mixed radix, last axis fastest: (10,0) (10,50) (20,0) (20,50) (40,0) (40,50). */
    const long long ef[6] = {10, 10, 20, 20, 40, 40}, rr[6] = {0, 50, 0, 50, 0, 50};
    for (size_t i = 0; i < 6; i++) {
        cn_param_t pt[2];
        cn_grid_point(&a->search, i, pt);
        assert_int_param(&pt[0], "ef", ef[i]);
        assert_int_param(&pt[1], "rerank", rr[i]);
    }

    a = &e.algos[1];
    assert_string_equal(a->name, "tidx-tq");
    assert_string_equal(a->index, "tidx");
    assert_string_equal(a->quantizer, "tq");
    assert_int_equal(a->line, 18);
    assert_int_equal(cn_grid_size(&a->qparams), 2);
    ax = axis(&a->qparams, 0, "subspaces", 2);
    assert_int_equal(ax->line, 19);
    assert_int_param(&ax->values[0], "subspaces", 4);
    assert_int_param(&ax->values[1], "subspaces", 8);
    assert_int_param(&axis(&a->qparams, 1, "nbits", 1)->values[0], "nbits", 8);
    assert_int_equal(cn_grid_size(&a->build), 6);
    ax = axis(&a->build, 1, "mode", 3);
    assert_int_equal(ax->line, 22);
    assert_str_param(&ax->values[0], "mode", "fast");
    assert_str_param(&ax->values[1], "mode", "exact");
    assert_str_param(&ax->values[2], "mode", "fast");
    ax = axis(&a->build, 2, "ratio", 1);
    assert_int_equal(ax->values[0].type, CN_PARAM_FLOAT);
    assert_true(ax->values[0].f == 0.25);
    const long long nl[6] = {16, 16, 16, 32, 32, 32};
    const char *md[6] = {"fast", "exact", "fast", "fast", "exact", "fast"};
    for (size_t i = 0; i < 6; i++) {
        cn_param_t pt[3];
        cn_grid_point(&a->build, i, pt);
        assert_int_param(&pt[0], "nlist", nl[i]);
        assert_str_param(&pt[1], "mode", md[i]);
        assert_true(pt[2].f == 0.25);
    }
    assert_int_equal(cn_grid_size(&a->search), 2);

    cn_config_free(&e);
    assert_true(all_zero(&e, sizeof e));
    cn_config_free(&e); /* idempotent on a zeroed struct */
    assert_int_equal(cn_test_alloc_live(), 0);
    cn_test_alloc_uninstall();
}

static void test_defaults(void **state) {
    (void)state;
    cn_test_alloc_install();
    cn_experiment_t e;
    load_ok(&e, "my.quick.yaml", "dataset: synthetic-small\nalgorithms:\n  - index: flat\n");
    assert_string_equal(e.name, "my.quick");
    assert_string_equal(e.dataset.name, "synthetic-small");
    assert_int_equal(e.dataset.line, 1);
    assert_int_equal(e.k, 10);
    assert_int_equal(e.runs, 3);
    assert_int_equal(e.threads, 1);
    assert_int_equal(e.nthread_counts, 1);
    assert_int_equal(e.thread_counts[0], 1);
    assert_int_equal(e.build_threads, 0);
    assert_true(e.seed == 42);
    assert_int_equal(e.nalgos, 1);
    assert_string_equal(e.algos[0].name, "flat-plain");
    assert_string_equal(e.algos[0].index, "flat");
    assert_string_equal(e.algos[0].quantizer, "plain");
    assert_int_equal(e.algos[0].line, 3);
    assert_int_equal(e.algos[0].build.naxes, 0);
    assert_int_equal(e.algos[0].search.naxes, 0);
    assert_int_equal(e.algos[0].qparams.naxes, 0);
    assert_int_equal(cn_grid_size(&e.algos[0].build), 1);
    assert_int_equal(cn_grid_size(&e.algos[0].search), 1);
    cn_config_free(&e);

    /* A list of query thread counts, in config order; threads = the largest. */
    load_ok(&e, "thr.yaml", "dataset: d\nthreads: [2, 1, 4]\nalgorithms:\n  - index: flat\n");
    assert_int_equal(e.nthread_counts, 3);
    assert_int_equal(e.thread_counts[0], 2);
    assert_int_equal(e.thread_counts[1], 1);
    assert_int_equal(e.thread_counts[2], 4);
    assert_int_equal(e.threads, 4);
    cn_config_free(&e);

    /* Null values mean "none"; a file without a folder has config_dir ".". */
    load_ok(&e, "nulls.yaml",
            "dataset: d\nalgorithms:\n  - index: hnsw\n    build:\n    search: ~\n");
    assert_int_equal(e.algos[0].build.naxes, 0);
    assert_int_equal(e.algos[0].search.naxes, 0);
    cn_config_free(&e);
    assert_int_equal(cn_test_alloc_live(), 0);
    cn_test_alloc_uninstall();

    char old[4096];
    assert_non_null(getcwd(old, sizeof old));
    assert_int_equal(chdir(cn_test_tmpdir()), 0);
    char err[512];
    int rc = cn_config_load(&e, "nulls.yaml", err, sizeof err);
    assert_int_equal(chdir(old), 0);
    assert_int_equal(rc, 0);
    assert_string_equal(e.dataset.config_dir, ".");
    assert_string_equal(e.name, "nulls");
    cn_config_free(&e);
}

static void test_design_example(void **state) {
    (void)state;
    cn_test_alloc_install();
    cn_experiment_t e;
    load_ok(&e, "design.yaml",
            "name: fashion-mnist-hnsw        # default: the file's stem; names results/<name>/\n"
            "dataset: ../shared/datasets/fashion-mnist-784-euclidean.hdf5   # a path\n"
            "k: 10\n"
            "runs: 3                         # best of\n"
            "threads: 1                      # query threads\n"
            "seed: 42\n"
            "algorithms:\n"
            "  - name: hnsw-plain            # label used in the CSV and the plots\n"
            "    index: hnsw                 # registry name\n"
            "    quantizer: plain            # registry name, or a map\n"
            "    build: {M: [16, 32], ef_construction: 200}     # lists form a grid\n"
            "    search: {ef: [10, 20, 40, 80, 120, 200]}       # swept over each index\n");
    assert_string_equal(e.name, "fashion-mnist-hnsw");
    assert_string_equal(e.dataset.name, "../shared/datasets/fashion-mnist-784-euclidean.hdf5");
    assert_int_equal(e.k, 10);
    assert_int_equal(e.nalgos, 1);
    assert_string_equal(e.algos[0].name, "hnsw-plain");
    assert_int_equal(cn_grid_size(&e.algos[0].build), 2);
    assert_int_equal(cn_grid_size(&e.algos[0].search), 6);
    cn_param_t pt[2];
    cn_grid_point(&e.algos[0].build, 1, pt);
    assert_int_param(&pt[0], "M", 32);
    assert_int_param(&pt[1], "ef_construction", 200);
    cn_grid_point(&e.algos[0].search, 5, pt);
    assert_int_param(&pt[0], "ef", 200);
    cn_config_free(&e);

    /* The map form of the dataset, files relative to the config's folder. */
    load_ok(&e, "sparse.yaml",
            "dataset: {train: base.csr, test: query.csr, neighbors: gt.gt100, distance: ip}\n"
            "algorithms:\n  - {index: hnsw, search: {ef: 50}}\n");
    assert_null(e.dataset.name);
    assert_string_equal(e.dataset.train, "base.csr");
    assert_string_equal(e.dataset.test, "query.csr");
    assert_string_equal(e.dataset.neighbors, "gt.gt100");
    assert_string_equal(e.dataset.distance, "ip");
    assert_string_equal(e.dataset.config_dir, cn_test_tmpdir());
    assert_string_equal(e.name, "sparse");
    cn_config_free(&e);

    /* neighbors and distance are optional in the map form. */
    load_ok(&e, "map2.yaml",
            "dataset:\n  train: a.fvecs\n  test: b.fvecs\nalgorithms:\n  - index: flat\n");
    assert_string_equal(e.dataset.train, "a.fvecs");
    assert_null(e.dataset.neighbors);
    assert_null(e.dataset.distance);
    assert_int_equal(e.dataset.line, 1);
    cn_config_free(&e);
    assert_int_equal(cn_test_alloc_live(), 0);
    cn_test_alloc_uninstall();
}

static void test_quantizer_map(void **state) {
    (void)state;
    cn_test_alloc_install();
    cn_experiment_t e;
    load_ok(&e, "q.yaml",
            "dataset: d\n"
            "algorithms:\n"
            "  - index: flat\n"
            "    quantizer:\n"
            "      name: tq\n"
            "      subspaces: [16, 32, 64]\n"
            "      nbits: [4, 8]\n"
            "  - name: other\n"
            "    index: flat\n"
            "    quantizer: tq\n");
    const cn_algo_cfg_t *a = &e.algos[0];
    assert_string_equal(a->name, "flat-tq");
    assert_string_equal(a->quantizer, "tq");
    assert_int_equal(a->qparams.naxes, 2);
    assert_int_equal(cn_grid_size(&a->qparams), 6);
    assert_int_equal(axis(&a->qparams, 0, "subspaces", 3)->line, 6);
    assert_int_equal(axis(&a->qparams, 1, "nbits", 2)->line, 7);
    cn_param_t pt[2];
    cn_grid_point(&a->qparams, 3, pt);
    assert_int_param(&pt[0], "subspaces", 32);
    assert_int_param(&pt[1], "nbits", 8);
    assert_string_equal(e.algos[1].quantizer, "tq");
    assert_int_equal(e.algos[1].qparams.naxes, 0);
    cn_config_free(&e);
    assert_int_equal(cn_test_alloc_live(), 0);
    cn_test_alloc_uninstall();
}

/* ---- errors --------------------------------------------------------------- */

#define HEAD "dataset: d\nalgorithms:\n"

static void test_errors_top(void **state) {
    (void)state;
    expect_error("dataset: d\n  bad: indent\nalgorithms: []\n", 2, "YAML syntax error: ");
    expect_error("dataset: d\nk: [1, 2\n", 3, "YAML syntax error: ");
    expect_error("dataset: d\nkk: 1\nalgorithms:\n  - index: flat\n", 2,
                 "unknown key 'kk' (expected one of: name, description, dataset, k, runs, "
                 "threads, build_threads, seed, algorithms, plots)");
    expect_error("dataset: d\nk: 0\n" "algorithms:\n  - index: flat\n", 2,
                 "'k' must be a positive integer, got '0'");
    expect_error("dataset: d\nk: ten\n" "algorithms:\n  - index: flat\n", 2,
                 "'k' must be a positive integer, got 'ten'");
    expect_error("dataset: d\nk: 2.5\n" "algorithms:\n  - index: flat\n", 2,
                 "'k' must be a positive integer, got '2.5'");
    expect_error("dataset: d\nruns: [1]\n" "algorithms:\n  - index: flat\n", 2,
                 "'runs' must be a positive integer, got a list");
    expect_error("dataset: d\nthreads: -2\n" "algorithms:\n  - index: flat\n", 2,
                 "'threads' must be a positive integer or a list of them, got '-2'");
    expect_error("dataset: d\nthreads: []\n" "algorithms:\n  - index: flat\n", 2,
                 "'threads' must list 1 to 16 thread counts, got 0");
    expect_error("dataset: d\nthreads: [1,\n  0]\n" "algorithms:\n  - index: flat\n", 3,
                 "'threads' must be a positive integer or a list of them, got '0'");
    expect_error("dataset: d\nthreads: [2, 1, 2]\n" "algorithms:\n  - index: flat\n", 2,
                 "'threads' lists 2 twice");
    expect_error("dataset: d\nthreads: {a: 1}\n" "algorithms:\n  - index: flat\n", 2,
                 "'threads' must be a positive integer or a list of them, got a map");
    expect_error("dataset: d\nbuild_threads: -1\n" "algorithms:\n  - index: flat\n", 2,
                 "'build_threads' must be a non-negative integer");
    expect_error("dataset: d\nseed: -5\n" "algorithms:\n  - index: flat\n", 2,
                 "'seed' must be a non-negative integer, got '-5'");
    expect_error("dataset: d\nk: 3\nk: 4\nalgorithms:\n  - index: flat\n", 3,
                 "duplicate key 'k' (first at line 2)");
    expect_error("dataset: d\nalgorithms: []\n", 2, "'algorithms' must be a non-empty list");
    expect_error("dataset: d\nalgorithms:\n", 2, "'algorithms' must be a non-empty list");
    expect_error("dataset: d\nalgorithms: flat\n", 2, "'algorithms' must be a non-empty list");
    expect_error("dataset: d\n", 1, "missing 'algorithms'");
    expect_error("k: 3\nalgorithms:\n  - index: flat\n", 1, "missing 'dataset'");
    /* A list is a sweep over datasets (test_h_sweeps.c); its items are single sets. */
    expect_error("dataset: [[a], b]\nalgorithms:\n  - index: flat\n", 1,
                 "'dataset' must be a catalogue name, a path or a map");
    expect_error("dataset:\nalgorithms:\n  - index: flat\n", 1, "'dataset' must be a non-empty");
    expect_error("dataset: {train: a}\nalgorithms:\n  - index: flat\n", 1,
                 "dataset map needs 'train' and 'test' (missing 'test')");
    expect_error("dataset: {train: a, test: b, gt: c}\nalgorithms:\n  - index: flat\n", 1,
                 "unknown key 'gt' in dataset (expected one of: train, test, neighbors, distance)");
    expect_error("dataset:\n  train: a\n  test: b\n  distance: hamming\nalgorithms:\n"
                 "  - index: flat\n", 4, "unknown distance 'hamming'");
    expect_error("# only a comment\n", 1, "empty document");
    expect_error("", 1, "empty document");
    expect_error("- dataset: d\n", 1, "the top level must be a map");
    expect_error("dataset: d\nalgorithms:\n  - index: flat\n---\nk: 3\n", 4,
                 "more than one YAML document");
    expect_error("name: [x]\n" HEAD "  - index: flat\n", 1, "'name' must be a non-empty name");
}

static void test_errors_algorithms(void **state) {
    (void)state;
    expect_error(HEAD "  - index: flat\n    serch: {ef: 10}\n", 4,
                 "unknown key 'serch' in algorithm (expected one of: name, index, quantizer, "
                 "build, search)");
    expect_error(HEAD "  - index: hnws\n", 3, "unknown index 'hnws' (known: flat, hnsw");
    expect_error(HEAD "  - name: x\n    index: [hnsw]\n", 4, "'index' must be a non-empty name");
    expect_error(HEAD "  - name: x\n", 3, "algorithm has no 'index'");
    expect_error(HEAD "  - flat\n", 3, "each algorithm must be a map");
    expect_error(HEAD "  - index: flat\n    quantizer: pqq\n", 4,
                 "unknown quantizer 'pqq' (known: ");
    expect_error(HEAD "  - index: flat\n    quantizer: {subspaces: 8}\n", 4,
                 "quantizer map has no 'name'");
    expect_error(HEAD "  - index: flat\n    quantizer: {name: pqq}\n", 4,
                 "unknown quantizer 'pqq'");
    expect_error(HEAD "  - index: flat\n  - index: hnsw\n  - index: flat\n", 5,
                 "duplicate algorithm name 'flat-plain' (first at line 3)");
    expect_error(HEAD "  - {name: a, index: flat}\n  - {name: a, index: hnsw}\n", 4,
                 "duplicate algorithm name 'a'");
    expect_error(HEAD "  - {index: flat, index: hnsw}\n", 3, "duplicate key 'index'");
}

static void test_errors_params(void **state) {
    (void)state;
    /* unknown parameter */
    expect_error(HEAD "  - index: hnsw\n    build: {M: 16, Mx: 3}\n", 4, "Mx");
    /* wrong type (a quoted number is a string) */
    expect_error(HEAD "  - index: hnsw\n    search: {ef: fast}\n", 4, "ef");
    expect_error(HEAD "  - index: hnsw\n    search: {ef: \"10\"}\n", 4, "ef");
    expect_error(HEAD "  - index: hnsw\n    search: {ef: 1.5}\n", 4, "ef");
    /* out of range, on the line of the offending list item */
    expect_error(HEAD "  - index: hnsw\n    build:\n      M:\n        - 16\n        - 0\n", 7, "M");
    /* a build parameter in search, a search parameter in build */
    expect_error(HEAD "  - index: hnsw\n    search: {M: 16}\n", 4, "M");
    expect_error(HEAD "  - index: hnsw\n    build: {ef: 16}\n", 4, "ef");
    /* flat has no parameters */
    expect_error(HEAD "  - index: flat\n    build: {M: 16}\n", 4, "M");
    /* shapes */
    expect_error(HEAD "  - index: hnsw\n    search: {ef: [[10, 20]]}\n", 4,
                 "'ef' in search must be a value or a list of values, got a nested list");
    expect_error(HEAD "  - index: hnsw\n    search:\n      ef:\n        - [10]\n", 6,
                 "nested list");
    expect_error(HEAD "  - index: hnsw\n    search: {ef: {a: 1}}\n", 4,
                 "'ef' in search must be a value or a list of values, got a map");
    expect_error(HEAD "  - index: hnsw\n    search: {ef: []}\n", 4,
                 "'ef' in search has an empty list of values");
    expect_error(HEAD "  - index: hnsw\n    search: [ef, 10]\n", 4,
                 "'search' must be a map of parameter: value or [values], got a list");
    expect_error(HEAD "  - index: hnsw\n    search: {ef: 10, ef: 20}\n", 4, "duplicate key 'ef'");
    /* rerank: generic (defined once in the library), integer >= 0 */
    expect_error(HEAD "  - index: hnsw\n    quantizer: f16\n    search: {rerank: [0, -1]}\n", 5,
                 "parameter 'rerank' = -1 is out of range [0, 1000000]");
    /* k above a result-pool parameter (ef) can never run */
    expect_error(HEAD "  - index: hnsw\n    search: {ef: [40, 5]}\n", 4,
                 "k = 10 exceeds ef = 5");
    /* (rerank needs a lossy quantizer: checked by the plan, where the
     * quantizer's parameters are known; tests/unit/test_h_plan.c) */
    /* build_on: generic build key, original|quantized */
    expect_error(HEAD "  - index: hnsw\n    build: {build_on: sideways}\n", 4,
                 "'build_on' = 'sideways' is not one of original|quantized");
    expect_error(HEAD "  - index: hnsw\n    search: {build_on: original}\n", 4, "build_on");
    expect_error(HEAD "  - index: hnsw\n    build: {rerank: 4}\n", 4, "rerank");
    /* quantizer parameters: schema of the quantizer, build role */
    expect_error(HEAD "  - index: flat\n    quantizer: {name: tq, subspaces: [4, 0]}\n", 4,
                 "subspaces");
    expect_error(HEAD "  - index: flat\n    quantizer: {name: tq, bits: 4}\n", 4, "bits");
    expect_error(HEAD "  - index: flat\n    quantizer: {name: plain, subspaces: 4}\n", 4,
                 "subspaces");
    /* a required parameter: validated with its siblings, reported when missing */
    expect_error(HEAD "  - index: tidx\n    build: {mode: exact}\n", 4,
                 "tidx: missing required build parameter 'nlist' in build");
    expect_error(HEAD "  - index: tidx\n", 3, "missing required build parameter 'nlist'");
    expect_error(HEAD "  - index: tidx\n    build: {nlist: 4, mode: [fast, slow]}\n", 4, "mode");
    expect_error(HEAD "  - index: tidx\n    build: {nlist: 4, ratio: 2.0}\n", 4, "ratio");
}

static void test_missing_file(void **state) {
    (void)state;
    char path[4200], err[512] = "", want[4400];
    snprintf(path, sizeof path, "%s/does-not-exist.yaml", cn_test_tmpdir());
    snprintf(want, sizeof want, "%s: no such file", path);
    cn_experiment_t e;
    memset(&e, 0x5a, sizeof e);
    assert_int_equal(cn_config_load(&e, path, err, sizeof err), -1);
    assert_string_equal(err, want);
    assert_true(all_zero(&e, sizeof e));
}

/* Loads path with the n-th allocation failing, for n = 0, 1, ... until a
 * load succeeds: every failure says "out of memory", leaves the experiment
 * zeroed and leaks nothing. */
static void assert_load_survives_oom(const char *path) {
    char err[1024];
    int ok = 0;
    for (long n = 0; n < 10000 && !ok; n++) {
        cn_experiment_t e;
        cn_test_alloc_install();
        cn_test_alloc_fail_after(n);
        int rc = cn_config_load(&e, path, err, sizeof err);
        cn_test_alloc_fail_after(-1);
        if (rc == 0) {
            ok = 1;
            cn_config_free(&e);
        } else {
            assert_non_null(strstr(err, "out of memory"));
            assert_true(all_zero(&e, sizeof e));
        }
        assert_int_equal(cn_test_alloc_live(), 0);
        cn_test_alloc_uninstall();
    }
    assert_true(ok);
}

/* Every allocation failure is reported as such and leaks nothing. */
static void test_enomem(void **state) {
    (void)state;
    assert_load_survives_oom(write_cfg("oom.yaml", full_yaml));
}

/* The plots: section: validated, handed on as canonical JSON (defaults
 * filled, labels escaped), and released on every allocation failure. */
static const char plots_yaml[] =
    "dataset: d\n"
    "algorithms:\n"
    "  - index: flat\n"
    "plots:\n"
    "  - name: latency\n"
    "    x: recall\n"
    "    y: mean_us\n"
    "    xscale: logit\n"
    "    yscale: log\n"
    "    labels: {hnsw-pq32: \"PQ \\\"32\\\"\"}\n"
    "    formats: [png, pdf]\n"
    "  - {name: mem, x: bytes_per_vector, y: qps, pareto: false, width: single, lines: algorithm, "
    "formats: svg, title: Memory}\n";

static void test_plots(void **state) {
    (void)state;
    cn_test_alloc_install();
    cn_experiment_t e;
    load_ok(&e, "plots.yaml", plots_yaml);
    assert_string_equal(
        e.plots_json,
        "[{\"name\": \"latency\", \"x\": \"recall\", \"y\": \"mean_us\", \"xscale\": \"logit\", "
        "\"yscale\": \"log\", \"lines\": \"variant\", \"width\": \"double\", \"pareto\": true, "
        "\"formats\": [\"png\", \"pdf\"], \"labels\": {\"hnsw-pq32\": \"PQ \\\"32\\\"\"}},\n"
        " {\"name\": \"mem\", \"x\": \"bytes_per_vector\", \"y\": \"qps\", \"xscale\": \"linear\", "
        "\"yscale\": \"linear\", \"lines\": \"algorithm\", \"width\": \"single\", \"pareto\": false, "
        "\"title\": \"Memory\", \"formats\": [\"svg\"], \"labels\": {}}]\n");
    cn_config_free(&e);
    assert_int_equal(cn_test_alloc_live(), 0);
    cn_test_alloc_uninstall();

    assert_load_survives_oom(write_cfg("plots-oom.yaml", plots_yaml));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plots),
        cmocka_unit_test(test_full),          cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_design_example), cmocka_unit_test(test_quantizer_map),
        cmocka_unit_test(test_errors_top),    cmocka_unit_test(test_errors_algorithms),
        cmocka_unit_test(test_errors_params), cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_enomem),
    };
    return cmocka_run_group_tests(tests, setup_group, NULL);
}
