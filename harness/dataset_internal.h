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

/* Dense vectors of one file by extension: texmex .fvecs/.bvecs, or a
 * matrix file (binfmt.c). */
int cn_ds_read_dense(const char *path, float **data, uint32_t *n, uint32_t *dim, char *err,
                     size_t errlen);
/* The 2-D dataset 'train' of an HDF5 file as float32 (hdf5io.c). */
int cn_ds_read_hdf5_train(const char *path, float **data, uint32_t *n, uint32_t *dim, char *err,
                          size_t errlen);

/* Opens catalogue entry `name` into ds. Returns 1 when no entry has that
 * name (ds untouched), 0 when opened, -1 on error (err filled). */
int cn_catalogue_open(cn_dataset_t *ds, const char *name, int threads, char *err, size_t errlen);

#endif
