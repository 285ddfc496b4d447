/*
 * harness/runner.h — runs an experiment: plans it, builds (or loads) each
 * index once, sweeps the search parameters over it, and appends one CSV row
 * per point.
 */
#ifndef CN_HARNESS_RUNNER_H
#define CN_HARNESS_RUNNER_H

#include <stddef.h>

#include "config.h"
#include "rows.h"
#include "sysinfo.h"

typedef struct cn_run_opts {
    const char *out_dir;   /* NULL -> results/<experiment name> */
    const char *cache_dir; /* NULL -> results/cache */
    int force;             /* rerun every point and rebuild every index; an existing CSV
                              is kept as a .bak file */
    int dry_run;           /* print the plan, touch nothing */
    int use_cache;         /* load/save built indexes in cache_dir */
    int keep_going;        /* an algorithm whose build or search fails is reported and
                              the run goes on; the run still fails at the end */
    const char *only;      /* "a,b": run only the algorithms of these names (NULL: all) */
    int shard_k, shard_n;  /* run only shard k (1-based) of n (shard.h); n = 0: all */
    int appending;         /* a later pass (dataset list, k list) of the same run: with
                              force, the CSV the first pass started is appended to, not
                              backed up again */
} cn_run_opts_t;

/* Runs exp. Progress goes to stderr, the plan (dry run) to stdout. Returns 0
 * on success, -1 with a one-line message in err. Rows written before a
 * failure stay in the CSV. */
int cn_run(const cn_experiment_t *exp, const cn_run_opts_t *opts, char *err, size_t errlen);

#endif
