/*
 * harness/plan.h — what a run will do, decided before anything is built.
 *
 * An experiment expands into build points: one per (algorithm, quantizer
 * grid point, build grid point), each with its search points (search grid x
 * query thread counts). Making the plan checks everything that needs the
 * dataset's shape but no work: the quantizer and the index are created from
 * the registry with the dataset's dimension and metric (PQ sub-spaces that
 * do not divide the dimension fail here), `rerank` needs a lossy quantizer,
 * and search points whose `rerank` exceeds a result-pool parameter (ef) are
 * skipped with the reason (their search could not use that value). Points
 * already in the results file are marked done. `--dry-run` prints the plan;
 * the runner executes it.
 */
#ifndef CN_HARNESS_PLAN_H
#define CN_HARNESS_PLAN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cannoli/common.h"
#include "cannoli/registry.h"
#include "config.h"
#include "resume.h"

#define CN_POINT_MAX_PARAMS 64

/* A grid point's parameters, plus the experiment's seed for a component
 * that takes a `seed` the config did not set. `text` is "k=v;k=v". */
typedef struct cn_point {
    cn_param_t items[CN_POINT_MAX_PARAMS];
    size_t n;
    char text[1024];
} cn_point_t;

typedef struct cn_search_point {
    cn_point_t p;
    int threads;         /* query threads */
    int done;            /* already in the results file */
    char skip[200];      /* why it is not run ("" = it runs) */
} cn_search_point_t;

typedef struct cn_build_point {
    const cn_algo_cfg_t *algo;
    cn_point_t qp, bp;   /* quantizer and index build parameters */
    int lossy;           /* the quantizer loses information (rerank possible) */
    int on_quantized;    /* build_on: quantized, with a lossy quantizer */
    cn_search_point_t *search; /* nsearch = search grid x thread counts, thread-major */
    size_t nsearch;
    size_t todo;         /* points neither done nor skipped */
} cn_build_point_t;

typedef struct cn_plan {
    cn_build_point_t *points;
    size_t n;
    size_t ndone, nskipped, ntodo;
} cn_plan_t;

/* Shape the plan is checked against (from the dataset). */
typedef struct cn_plan_shape {
    const char *dataset; /* name in the rows */
    uint32_t dim;
    cn_metric_t metric;
} cn_plan_shape_t;

/* Makes the plan of exp on a dataset of `shape`, marking the points of
 * `done` (may be NULL); `only` ("a,b", or NULL for all) keeps the algorithms
 * of those names (an unknown name is an error). Errors name the config file
 * and the algorithm's line. 0 or -1. */
int cn_plan_make(cn_plan_t *plan, const cn_experiment_t *exp, const cn_plan_shape_t *shape,
                 const cn_done_set_t *done, const char *only, char *err, size_t errlen);
void cn_plan_free(cn_plan_t *plan);

/* Prints the plan (dry run), one line per build point and one per skipped
 * search point. */
void cn_plan_print(const cn_plan_t *plan, FILE *out);

/* The key columns (cn_key_columns order) of search point s of b into f;
 * kbuf and tbuf hold the formatted k and thread count. */
void cn_plan_key(const cn_build_point_t *b, const cn_search_point_t *s, const char *dataset,
                 int k, const char *f[7], char kbuf[16], char tbuf[16]);

/* Marks done the search points of build point i that `done` holds (points
 * another process wrote since the plan was made); updates todo and the
 * plan's counts. Returns how many were newly marked. */
size_t cn_plan_mark_done(cn_plan_t *plan, size_t i, const cn_done_set_t *done,
                         const char *dataset, int k);

/* Grid point `index` of g for component c (seed injected, text formatted). */
int cn_point_make(cn_point_t *p, const cn_grid_t *g, size_t index, const cn_component_t *c,
                  uint64_t seed, char *err, size_t errlen);

#endif
