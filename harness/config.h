/*
 * harness/config.h — the YAML experiment file (contract: ../shared/DESIGN.md).
 *
 *   name: fashion-mnist-hnsw        # default: the file's stem
 *   dataset: <path | catalogue name | {train: F, test: F, neighbors: F, distance: ip}>
 *                                   # or a list of them: each gets the whole sweep
 *   k: 10                           # default 10; a list ([10, 100]) runs the sweep per k
 *   runs: 3                         # default 3; best of
 *   threads: 1                      # query threads, default 1; a list ([1, 2])
 *                                   # measures every search point at each count
 *   build_threads: 0                # index build threads, default 0 = all cores
 *   seed: 42                        # default 42
 *   algorithms:
 *     - name: hnsw-plain            # CSV label; default "<index>-<quantizer>"
 *       index: hnsw                 # registry name (required)
 *       quantizer: plain            # registry name or {name: pq, subspaces: [16, 32]}; default plain
 *       build: {M: [16, 32], ef_construction: 200}
 *       search: {ef: [10, 20, 40]}
 *   plots:                          # optional figure specs, drawn by plots/plot.py
 *     - {name: lat, x: recall, y: mean_us, xscale: logit, yscale: log}   # README "Figures"
 *
 * A list value forms an axis of a cartesian grid. Build and quantizer
 * parameters make one index per point; search parameters are swept over each
 * built index. Harness functions return 0 on success and -1 on error (err
 * filled). Every error message has the form "FILE:LINE: what is wrong"
 * (naming the key), and loading never partially succeeds.
 */
#ifndef CN_HARNESS_CONFIG_H
#define CN_HARNESS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "cannoli/params.h"

/* One grid axis: a parameter with one or more values (a scalar is a list of one). */
typedef struct cn_axis {
    char *key;          /* owned */
    cn_param_t *values; /* owned; values[i].key == key, strings owned by the axis */
    size_t nvalues;
    int line;           /* line of the key in the file */
} cn_axis_t;

/* A cartesian grid of parameter values, axes in file order. */
typedef struct cn_grid {
    cn_axis_t *axes;
    size_t naxes;
} cn_grid_t;

/* Number of points (1 for an empty grid). */
size_t cn_grid_size(const cn_grid_t *g);
/* Point `index` (0 <= index < cn_grid_size) in mixed radix, last axis fastest:
 * fills out[0..naxes-1] (borrowed pointers into g). */
void cn_grid_point(const cn_grid_t *g, size_t index, cn_param_t *out);

typedef struct cn_dataset_spec {
    char *name;      /* catalogue name or path (scalar form), or NULL when map form */
    char *train;     /* map form: files (owned), as written in the config */
    char *test;
    char *neighbors;
    char *distance;  /* map form: metric name as written, may be NULL (then euclidean) */
    char *config_dir;/* folder of the config file (owned); relative paths are tried against
                        the current directory first, then this folder */
    int line;
} cn_dataset_spec_t;

typedef struct cn_algo_cfg {
    char *name;          /* label */
    char *index;         /* registry name, validated to exist */
    char *quantizer;     /* registry name, validated to exist */
    cn_grid_t qparams;   /* quantizer parameters (build role) */
    cn_grid_t build;     /* index build parameters */
    cn_grid_t search;    /* index search parameters */
    int line;
} cn_algo_cfg_t;

typedef struct cn_experiment {
    char *path;          /* the config file as given */
    char *name;
    cn_dataset_spec_t dataset;     /* the (first) dataset */
    cn_dataset_spec_t *more_datasets; /* a `dataset:` list's others, in order (owned) */
    size_t nmore_datasets;
    int k;               /* the k of this pass (ks[0] after loading) */
    int ks[16];          /* `k:` values, in config order */
    size_t nks;          /* >= 1 */
    int runs;
    int threads;         /* the largest query thread count */
    int thread_counts[16]; /* query thread counts to measure, in config order */
    size_t nthread_counts; /* >= 1 */
    int build_threads;
    uint64_t seed;
    cn_algo_cfg_t *algos;
    size_t nalgos;
    char *plots_json;    /* the validated `plots:` section as JSON (owned), NULL without one */
} cn_experiment_t;

/*
 * Parses and validates `path`. Checks: YAML syntax (with libyaml's line),
 * unknown top-level/algorithm keys, types (k/runs/threads positive ints),
 * component names against the registry ("unknown index 'hnws'; known: flat,
 * hnsw"), every parameter value of every grid axis against the component's
 * schema (unknown parameter, wrong type, out of range, build vs search role),
 * duplicate algorithm names, empty algorithm list. On failure *exp is left
 * zeroed and err holds "FILE:LINE: message".
 */
int cn_config_load(cn_experiment_t *exp, const char *path, char *err, size_t errlen);
/* The same with command-line overrides: sets[i] is "key=value" for a
 * top-level key; the value is YAML (`k=[10,100]`, `dataset=sift-debian`) and
 * replaces the file's value (or adds the key) before anything is validated.
 * Errors in an override read "FILE: --set: what is wrong". */
int cn_config_load_set(cn_experiment_t *exp, const char *path, const char *const *sets,
                       size_t nsets, char *err, size_t errlen);
void cn_config_free(cn_experiment_t *exp);

#endif
