/*
 * harness/runner.h — runs an experiment: builds each index once, sweeps the
 * search parameters over it, and appends one CSV row per point.
 */
#ifndef CN_HARNESS_RUNNER_H
#define CN_HARNESS_RUNNER_H

#include <stddef.h>

#include "config.h"

typedef struct cn_run_opts {
    const char *out_dir;   /* NULL -> results/<experiment name> */
    const char *cache_dir; /* NULL -> results/cache */
    int force;             /* rerun every point; an existing CSV is kept as a .bak file */
    int dry_run;           /* print the plan, touch nothing */
    int use_cache;         /* load/save built indexes in cache_dir */
} cn_run_opts_t;

/* The CSV columns, in order, comma-separated (for tests and tools). */
extern const char *const cn_csv_columns[];
extern const size_t cn_csv_ncolumns;

/* Runs exp. Progress goes to stderr, the plan (dry run) to stdout. Returns 0
 * on success, -1 with a one-line message in err. Rows written before a
 * failure stay in the CSV. */
int cn_run(const cn_experiment_t *exp, const cn_run_opts_t *opts, char *err, size_t errlen);

/* Creates a folder and its parents (like mkdir -p). */
int cn_mkdirs(const char *path, char *err, size_t errlen);

/* "model name" of the CPU (static storage) and the current UTC time as
 * ISO 8601 into buf. */
const char *cn_cpu_model(void);
void cn_utc_now(char *buf, size_t len);

#endif
