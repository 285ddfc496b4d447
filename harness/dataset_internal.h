/*
 * harness/dataset_internal.h — helpers shared by the files of the dataset
 * module (dataset.c, files.c, catalogue.c, synth.c, groundtruth.c).
 */
#ifndef CN_HARNESS_DATASET_INTERNAL_H
#define CN_HARNESS_DATASET_INTERNAL_H

#include "dataset.h"

/* Exact top-k kept when a source gives no ground truth. */
#define CN_GT_DEFAULT_K 100u

/* 1 when p is a regular file. */
int cn_ds_file_exists(const char *p);
/* "%s/%s" into a new cn_malloc'd string (NULL: out of memory). */
char *cn_ds_join(const char *dir, const char *file);
/* Extension of path without the dot ("" if none). */
const char *cn_ds_ext(const char *path);

/* Opens catalogue entry `name` into ds. Returns 1 when no entry has that
 * name (ds untouched), 0 when opened, -1 on error (err filled). */
int cn_catalogue_open(cn_dataset_t *ds, const char *name, int threads, char *err, size_t errlen);

#endif
