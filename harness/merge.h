/*
 * harness/merge.h — `cannoli merge DIR... [--config CONFIG] [--out DIR]`:
 * joins the results files of shards that wrote separate files (each its own
 * --out, e.g. on disks that are not shared) into the file an unsharded run
 * would have written.
 *
 * Each DIR is a folder holding results.csv, or a CSV file. Every input must
 * have this version's columns (else one line names the file). The output is
 * DIR/results.csv of --out, else results/<name>/results.csv of the config;
 * it may already exist (shards that shared it): rows are appended through
 * results.h, under its lock, and a point already there is not written again.
 * A point found in more than one input is reported (the first is kept).
 * With the config, the points it defines that no input holds are listed
 * (warning lines; the merge still succeeds, so the plot shows what exists).
 */
#ifndef CN_HARNESS_MERGE_H
#define CN_HARNESS_MERGE_H

#include <stddef.h>

#include "config.h"

/* From the command's arguments. On success *have_exp says whether *exp was
 * loaded (the caller frees it), *out_dir is --out or NULL, *plot is cleared
 * by --no-plot. Returns 0, 1 (failure, err set) or 2 (usage, err set). */
int cn_merge_main(int argc, char **argv, cn_experiment_t *exp, int *have_exp,
                  const char **out_dir, int *plot, char *err, size_t errlen);

#endif
