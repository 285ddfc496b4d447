/*
 * harness/dataset.h — datasets: ANN-Benchmarks HDF5, texmex files, the
 * catalogue, synthetic generation, exact ground truth and conversion.
 *
 * A dataset in memory is dense float32 train/test matrices (or, for sparse
 * sets, CSR arrays; `sparse` set, metric ip) plus the true
 * neighbours of each test vector (ids, best first) and their user-facing
 * distances (euclidean not squared; angular = 1 - cos; ip = the inner product,
 * larger is better). When a source has ids only (texmex _groundtruth.ivecs),
 * the distances are recomputed from the vectors in float64.
 */
#ifndef CN_HARNESS_DATASET_H
#define CN_HARNESS_DATASET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cannoli/common.h"
#include "config.h"

/* Sparse vectors in CSR form: row i is components indices[indptr[i] ..
 * indptr[i+1]) (strictly increasing) with values values[same range]. */
typedef struct cn_csr {
    uint32_t rows;
    uint64_t *indptr;   /* rows + 1, cn_malloc'd */
    uint32_t *indices;  /* indptr[rows] */
    float *values;      /* indptr[rows] */
} cn_csr_t;

typedef struct cn_dataset {
    char *name;           /* short name for CSV rows (file stem or catalogue name) */
    char *source;         /* where it came from (path), for messages */
    cn_metric_t metric;
    uint32_t dim;
    uint32_t n_train;
    uint32_t n_test;
    float *train;         /* n_train x dim, row-major, cn_malloc'd (NULL when sparse) */
    float *test;          /* n_test x dim (NULL when sparse) */
    int sparse;           /* 1: vectors are in strain / stest (metric ip) */
    cn_csr_t strain;      /* sparse: n_train rows */
    cn_csr_t stest;       /* sparse: n_test rows */
    uint32_t gt_k;        /* neighbours per test vector (0 if none) */
    int32_t *neighbors;   /* n_test x gt_k, or NULL */
    float *distances;     /* n_test x gt_k user-facing, or NULL */
    /* Set by cn_dataset_open: the source file as it was when loaded (the
     * train rows can be read again from it, cn_dataset_reload_train). */
    int reloadable;
    struct stat source_sb;
    /* Set by cn_recall_prepare (metrics.h): what the recall of a result
     * needs of the train rows, so it can be computed while ds->train is
     * released. Per query gt_k keys (id << 1 | counts) sorted by id. */
    uint64_t *gt_keys;
    uint32_t gt_keys_k;   /* the k it was prepared for (0: not prepared) */
} cn_dataset_t;

/* All functions returning int: 0 on success, -1 on error with err filled
 * ("PATH: problem"). */

/* ANN-Benchmarks HDF5: datasets train, test, neighbors, distances (optional),
 * root attribute `distance` (euclidean | angular | cosine | ip | dot; a missing
 * attribute means euclidean). Any stored numeric type is read as float32. */
int cn_dataset_load_hdf5(cn_dataset_t *ds, const char *path, char *err, size_t errlen);

/* Writes ds as ANN-Benchmarks HDF5 (float32 train/test, int32 neighbors,
 * float32 distances, attributes distance/dimension/point_type). Writes to a
 * temporary file and renames, so a failure never destroys an existing file. */
int cn_dataset_save_hdf5(const cn_dataset_t *ds, const char *path, char *err, size_t errlen);

/* texmex: .fvecs (float32), .bvecs (uint8), .ivecs (int32) chosen by the
 * file's extension. Reads all vectors; every record must have the same
 * dimension. Truncated or inconsistent files are errors naming the file. */
int cn_read_vecs(const char *path, float **data, uint32_t *n, uint32_t *dim, char *err,
                 size_t errlen);
int cn_read_ivecs(const char *path, int32_t **data, uint32_t *n, uint32_t *k, char *err,
                  size_t errlen);

/* Map form of the config: train/test + neighbors (optional) + metric name.
 * Dense: texmex .fvecs/.bvecs, neighbors .ivecs, metric NULL -> euclidean.
 * Sparse (by the train file's extension): big-ann .csr or kANNolo .bin,
 * neighbors .ivecs (ids; scores recomputed) or big-ann .gt100 (ids + scores),
 * metric NULL -> ip (the only metric for sparse vectors). */
int cn_dataset_load_files(cn_dataset_t *ds, const char *train, const char *test,
                          const char *neighbors, const char *metric, char *err, size_t errlen);

/*
 * Resolves a config's dataset spec: map form -> cn_dataset_load_files; a name
 * with a known catalogue entry -> that entry (a file looked up in the data
 * folders, or a synthetic set generated on first use and cached as HDF5 in
 * the cache folder ./datasets/cache); anything else is a path to an HDF5 file.
 * Relative paths are tried against the current directory, then against
 * spec->config_dir. Data folders:
 * $CANNOLI_DATA, ./datasets/data, ../shared/datasets (relative to the current
 * directory). Then validates (cn_dataset_validate) and fills missing ground
 * truth distances.
 */
int cn_dataset_open(cn_dataset_t *ds, const cn_dataset_spec_t *spec, int threads, char *err,
                    size_t errlen);

/* Catalogue: number of entries and entry i's name and one-line description
 * (for `cannoli list`). */
size_t cn_catalogue_count(void);
const char *cn_catalogue_name(size_t i);
const char *cn_catalogue_help(size_t i);

/* Checks dims > 0, n_train > 0, n_test > 0, no NaN/Inf in train/test,
 * neighbour ids in [0, n_train), distances finite. Messages name ds->source. */
int cn_dataset_validate(const cn_dataset_t *ds, char *err, size_t errlen);

/* Fills ds->distances from ds->neighbors by recomputing them (float64). */
int cn_dataset_fill_distances(cn_dataset_t *ds, char *err, size_t errlen);

/* (Re)computes exact top-k ground truth with the flat index over `threads`
 * threads (0 = all), replacing neighbors/distances. */
int cn_dataset_groundtruth(cn_dataset_t *ds, uint32_t k, int threads, char *err, size_t errlen);

/* Gaussian-mixture synthetic set: `clusters` centres in [-1,1]^dim, points
 * around them with per-cluster spread, queries drawn the same way; exact top
 * 100 ground truth. Deterministic for a seed. */
int cn_dataset_synthetic(cn_dataset_t *ds, uint32_t n_train, uint32_t n_test, uint32_t dim,
                         uint32_t clusters, cn_metric_t metric, uint64_t seed, int threads,
                         char *err, size_t errlen);

void cn_dataset_free(cn_dataset_t *ds); /* NULL-safe, leaves *ds zeroed */

/* Reads the train rows of a dense dataset again from its source file into
 * ds->train (which must be NULL: released by the caller), by the loader that
 * read them first, so the floats are the same. Refused (error naming the
 * file) when the set is sparse or was not read from a file (synthetic and
 * not cached), when the file changed since cn_dataset_open (size, mtime or
 * inode), or when its shape differs. */
int cn_dataset_reload_train(cn_dataset_t *ds, char *err, size_t errlen);

/* ---- NumPy and big-ann binary files (binfmt.c) ---------------------------- */

/* 1 when path names a matrix file binfmt.c reads (.npy .fbin .u8bin .i8bin). */
int cn_is_matrix_file(const char *path);
/* A dense matrix as float32: .npy (float32/float16/float64/uint8/int8, C
 * order, 2-D), big-ann .fbin (float32), .u8bin (uint8), .i8bin (int8). The
 * header is checked strictly and the size must match it exactly; errors name
 * the file. *data is cn_malloc'd (n x dim). */
int cn_read_matrix(const char *path, float **data, uint32_t *n, uint32_t *dim, char *err,
                   size_t errlen);
/* Ground-truth ids by extension: .ivecs, .npy (int32/int64, 2-D), big-ann
 * .ibin / .gt / .gt100 (uint32 nq, uint32 k, int32 ids[nq*k], then optional
 * float32 distances[nq*k]). *dists (when dists != NULL) is set only when the
 * file carries distances, else NULL. */
int cn_read_ids(const char *path, int32_t **ids, float **dists, uint32_t *n, uint32_t *k,
                char *err, size_t errlen);

/* ---- sparse files (sparse_io.c) ------------------------------------------ */

/* big-ann-benchmarks .csr: int64 nrow, ncol, nnz; int64 indptr[nrow+1];
 * int32 indices[nnz]; float32 data[nnz] (little-endian). Rows whose
 * components are out of order are sorted; a duplicate or out-of-range
 * component, a NaN/Inf value, inconsistent row pointers or a size that does
 * not match the header is an error naming the file and the vector. *ncol is
 * the header's column count. */
int cn_read_csr(const char *path, cn_csr_t *out, uint32_t *ncol, char *err, size_t errlen);
/* kANNolo sparse .bin: u32 count; per vector u32 nnz, nnz u32 components,
 * nnz f32 values. Same checks; *max_comp1 = largest component + 1 (0 if
 * the file has no nonzeros). */
int cn_read_kannolo_bin(const char *path, cn_csr_t *out, uint32_t *max_comp1, char *err,
                        size_t errlen);
/* big-ann .gt100: int32 nq, int32 k, int32 ids[nq*k], float32 scores[nq*k]. */
int cn_read_gt100(const char *path, int32_t **ids, float **scores, uint32_t *nq, uint32_t *k,
                  char *err, size_t errlen);
/* Sorts out-of-order rows (components with their values), then checks
 * components < dim, no duplicates, finite values; messages name `path`. */
int cn_csr_normalise(cn_csr_t *c, uint32_t dim, const char *path, char *err, size_t errlen);
/* Inner product of row i of a and row j of b, merged in float64. */
double cn_csr_dot(const cn_csr_t *a, uint32_t i, const cn_csr_t *b, uint32_t j);
void cn_csr_free(cn_csr_t *c); /* NULL-safe, leaves *c zeroed */

/* Declared sparse dimensions above this are compacted (cn_csr_compact):
 * a search context holds about 12 bytes per dimension. */
#define CN_SPARSE_DIM_DIRECT (1u << 20)
/* Renumbers the components that occur in train to 0..m-1, in order (rows
 * stay sorted), maps test's through the same table and drops the test
 * components no train vector has: they add 0 to every inner product with a
 * train vector, so every score, and the ground truth, stay exact. *dim
 * becomes m (1 if train has no nonzero). Memory: 4 bytes per train nonzero,
 * never anything proportional to the declared dimension. */
int cn_csr_compact(cn_csr_t *train, cn_csr_t *test, uint32_t *dim, const char *path, char *err,
                   size_t errlen);
/* fopen(path, "rb") for a regular file only: opened without blocking (a
 * FIFO would wait for a writer forever), then checked; NULL with err
 * "PATH: no such file" / "is a directory" / "not a regular file". The
 * stat of the open file goes to *sb when sb is not NULL. */
FILE *cn_fopen_regular(const char *path, struct stat *sb, char *err, size_t errlen);
/* Deep copy of src into *dst (zeroed on failure). */
int cn_csr_copy(cn_csr_t *dst, const cn_csr_t *src);

#endif
