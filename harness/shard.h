/*
 * harness/shard.h — splitting a run into N shards (`cannoli run --shard K/N`,
 * `cannoli plan --shards N`).
 *
 * The unit of work is a build point: one index build and its whole search
 * sweep, so no shard rebuilds another's index. Build points that share a
 * full-precision graph (the plain variant and every quantizer searched
 * `build_on: original` over the same index and build parameters: recipe.h
 * builds that graph once and takes it from the cache for the others) form
 * one unit and always go to the same shard, so the graph is built once per
 * sweep, not once per shard.
 *
 * Each unit gets an estimated cost (relative units, ~ distance evaluations
 * times the work of one):
 *   graph        n x w x ef_construction x M      (hnsw, hnswlib, faiss hnsw_*)
 *   other index  n x w (flat, inverted) or n x w x nlist (IVF); a baseline's
 *                `type` or Faiss `factory` string says which it builds
 *   quantizer    train x w x 2^nbits x iterations (k-means: PQ, Faiss's pq_m),
 *                train x w (one pass: SQ8) plus n x w to encode; 0 for plain
 *   search       per search point: queries x runs x w x ef x M (graphs,
 *                + rerank x w), queries x runs x n x w (flat)
 * where n is the number of vectors, w the work of one distance (the
 * dimension; the mean non-zeros per vector for sparse data), and train the
 * training sample (min(train_size, n)). Parameters the config does not set
 * take the component's schema default. A shared graph counts once per unit.
 *
 * Units go to shards by longest processing time first: sorted by decreasing
 * cost (ties: the earlier in the config first), each to the shard with the
 * least load so far (ties: the lowest shard number). The assignment depends
 * only on the config, the dataset's shape and N — never on what a results
 * file already holds — so every shard of a sweep, started anywhere and at
 * any time, computes the same assignment.
 */
#ifndef CN_HARNESS_SHARD_H
#define CN_HARNESS_SHARD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "dataset.h"
#include "plan.h"

#define CN_SHARD_MAX 100000

/* Which shard to run: k in [1, n]; n = 0: the whole run. */
typedef struct cn_shard_sel {
    int k, n;
} cn_shard_sel_t;

/* Parses "K/N" (1 <= K <= N <= CN_SHARD_MAX) or "auto" (from the Slurm job
 * array: K = (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) /
 * SLURM_ARRAY_TASK_STEP + 1, N = SLURM_ARRAY_TASK_COUNT; MIN defaults to 0
 * and STEP to 1 when absent, so an array 0..N-1 and an array 1..N both map
 * their first task to shard 1). 0, or -1 with err. */
int cn_shard_parse(const char *text, cn_shard_sel_t *out, char *err, size_t errlen);

/* What the cost model needs from the dataset. */
typedef struct cn_shard_shape {
    uint64_t n;     /* vectors */
    uint64_t nq;    /* queries */
    double w;       /* work of one distance: dim, or mean non-zeros (sparse) */
    uint32_t dim;
    cn_metric_t metric;
} cn_shard_shape_t;

typedef struct cn_shard_assign {
    size_t nshards, npoints, nunits;
    size_t *unit;   /* npoints: the unit of each build point (plan order) */
    int *shard;     /* npoints: 1..nshards */
    double *cost;   /* npoints: the point's own cost (its shared graph not included) */
    double *ucost;  /* nunits: the unit's cost (shared graph once) */
    double *load;   /* nshards: sum of its units' costs */
    double total;
} cn_shard_assign_t;

/* The shape of an open dataset. */
void cn_shard_shape_of(const cn_dataset_t *ds, cn_shard_shape_t *sh);

/* Assigns the build points of plan (all of them, done or not) to nshards
 * shards. 0, or -1 with err. */
int cn_shard_assign(cn_shard_assign_t *a, const cn_plan_t *plan, const cn_experiment_t *exp,
                    const cn_shard_shape_t *shape, size_t nshards, char *err, size_t errlen);
void cn_shard_assign_free(cn_shard_assign_t *a);

/* The index of the most loaded shard (0-based): the makespan. */
size_t cn_shard_makespan(const cn_shard_assign_t *a);

/* Keeps in plan only the build points of shard k (1-based), recounting
 * ndone/ntodo/nskipped. */
void cn_shard_keep(cn_plan_t *plan, const cn_shard_assign_t *a, int k);

/* `cannoli plan`: each shard's build points, its estimated share, and the
 * expected makespan. */
void cn_shard_print(const cn_shard_assign_t *a, const cn_plan_t *plan, FILE *out);

/* The `cannoli plan CONFIG --shards N [--only NAMES]` command: opens the
 * dataset for its shape, plans, assigns, prints on out. 0 or -1 with err. */
int cn_shard_plan_cmd(const cn_experiment_t *exp, size_t nshards, const char *only, FILE *out,
                      char *err, size_t errlen);

/* `cannoli plan CONFIG [--shards N] [--only NAMES]` from its arguments:
 * 0, 1 (failure, err set) or 2 (usage error, err set). */
int cn_shard_plan_main(int argc, char **argv, char *err, size_t errlen);

#endif
