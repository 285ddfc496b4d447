/*
 * harness/recipe.h — obtaining the index of one build point: from the cache,
 * or built by kANNolo's recipe.
 *
 * A lossless quantizer (`identity`: plain, sparse with f32 values) builds the
 * index on the full-precision store and searches it. A lossy one is trained
 * and encodes the store; with `build_on: original` (the default) the
 * structure is the full-precision one — the same, cached under the same
 * entry, as the plain variant's, so it is built once for every quantizer —
 * and is then searched through the codes (cn_index_rebind), re-ranking with
 * the full-precision store; with `build_on: quantized` it is built on the
 * codes. build_s is the graph's build time plus the quantizer's training
 * and encoding.
 */
#ifndef CN_HARNESS_RECIPE_H
#define CN_HARNESS_RECIPE_H

#include "cache.h"
#include "plan.h"

typedef struct cn_built {
    cn_index_t *ix;
    double build_s;  /* seconds; a cached entry's original build time */
    int cached;      /* 1: loaded from the cache */
} cn_built_t;

/* Obtains the index of b over `full` (the full-precision store), with
 * `threads` build threads. 0, or -1 with "CONFIG: algorithm 'x' {..}: build
 * failed: why" in err. */
int cn_recipe_obtain(const cn_experiment_t *exp, const cn_build_point_t *b, cn_store_t *full,
                     const cn_cache_t *cache, int threads, cn_built_t *out, char *err,
                     size_t errlen);

#endif
