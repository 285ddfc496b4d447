/*
 * harness/dataset.c — opening a dataset: resolution, validation, and the
 * ground truth a source lacks.
 *
 * Resolution (cn_dataset_open): a map spec loads a file set (files.c); a
 * catalogue name is a file looked up in the data folders, a fixture or a
 * synthetic set (catalogue.c); anything else is an HDF5 path (hdf5io.c).
 * The module's other files: synth.c (the synthetic generator) and
 * groundtruth.c (exact top-k and recomputed distances).
 *
 * Invariants: every function leaves *ds either fully valid or zeroed;
 * neighbours are stored best first; gt_k == 0 iff neighbors == NULL.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cannoli/index.h"
#include "cannoli/store.h"
#include "dataset_internal.h"

void cn_dataset_free(cn_dataset_t *ds) {
    if (!ds) return;
    cn_free(ds->name);
    cn_free(ds->source);
    cn_free(ds->train);
    cn_free(ds->test);
    cn_free(ds->neighbors);
    cn_free(ds->distances);
    cn_csr_free(&ds->strain);
    cn_csr_free(&ds->stest);
    cn_free(ds->gt_keys);
    memset(ds, 0, sizeof *ds);
}


/* ---- small helpers ------------------------------------------------------ */


FILE *cn_fopen_regular(const char *path, struct stat *out, char *err, size_t errlen) {
    struct stat sb;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        cn_error(err, errlen, CN_EIO, "%s: %s", path,
                 errno == ENOENT ? "no such file" : strerror(errno));
        return NULL;
    }
    if (fstat(fd, &sb) != 0) {
        cn_error(err, errlen, CN_EIO, "%s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(sb.st_mode)) {
        cn_error(err, errlen, CN_EIO, "%s: %s", path,
                 S_ISDIR(sb.st_mode) ? "is a directory" : "not a regular file");
        close(fd);
        return NULL;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        cn_error(err, errlen, CN_EIO, "%s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (out) *out = sb;
    return f;
}

int cn_ds_file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* "%s/%s" into a new cn_malloc'd string. */
char *cn_ds_join(const char *dir, const char *file) {
    size_t a = strlen(dir), b = strlen(file);
    char *s = cn_malloc(a + b + 2);
    if (!s) return NULL;
    memcpy(s, dir, a);
    s[a] = '/';
    memcpy(s + a + 1, file, b + 1);
    return s;
}

/* Fills err for a path that exists but is no regular file ("is a
 * directory", "not a regular file"); 0 when it does not exist at all. */
static int not_regular(const char *path, char *err, size_t errlen) {
    struct stat sb;
    if (stat(path, &sb) != 0) return 0;
    cn_error(err, errlen, CN_EINVAL, "%s: %s", path,
             S_ISDIR(sb.st_mode) ? "is a directory, not a dataset file"
                                 : "not a regular file (a dataset must be one)");
    return 1;
}

/* Resolves a file named in a config: as given (absolute, or relative to the
 * current directory), then relative to config_dir. Returns a new string or
 * NULL with "PATH: no such file" (*exists = 0) or "PATH: is a directory" /
 * "not a regular file" (*exists = 1). */
static char *resolve(const char *path, const char *config_dir, int *exists, char *err,
                     size_t errlen) {
    *exists = 0;
    if (cn_ds_file_exists(path) || path[0] == '/' || !config_dir || !config_dir[0]) {
        if (!cn_ds_file_exists(path)) {
            if ((*exists = not_regular(path, err, errlen))) return NULL;
            cn_error(err, errlen, CN_ENOTFOUND, "%s: no such file", path);
            return NULL;
        }
        return cn_strdup(path);
    }
    char *p = cn_ds_join(config_dir, path);
    if (p && cn_ds_file_exists(p)) return p;
    if (p && !(*exists = not_regular(p, err, errlen)))
        *exists = not_regular(path, err, errlen);
    cn_free(p);
    if (!*exists) cn_error(err, errlen, CN_ENOTFOUND, "%s: no such file", path);
    return NULL;
}

const char *cn_ds_ext(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(path, '.');
    return dot && (!slash || dot > slash) ? dot + 1 : "";
}

/* ---- validation, distances, ground truth -------------------------------- */

static int check_finite(const float *v, uint32_t rows, uint32_t dim, const char *what,
                        const char *src, char *err, size_t errlen) {
    for (size_t i = 0; i < (size_t)rows; i++)
        for (uint32_t j = 0; j < dim; j++) {
            float x = v[i * dim + j];
            if (!isfinite(x)) {
                cn_error(err, errlen, CN_EFORMAT,
                         "%s: %s vector %zu has a%s value at component %u", src, what, i,
                         isnan(x) ? " NaN" : "n infinite", j);
                return -1;
            }
        }
    return 0;
}

int cn_dataset_validate(const cn_dataset_t *ds, char *err, size_t errlen) {
    const char *src = ds->source ? ds->source : ds->name ? ds->name : "dataset";
    if (ds->dim == 0) {
        cn_error(err, errlen, CN_EFORMAT, "%s: dimension is 0", src);
        return -1;
    }
    if (ds->sparse) {
        char what[600];
        if (ds->metric != CN_METRIC_IP) {
            cn_error(err, errlen, CN_EFORMAT, "%s: sparse vectors need the ip metric, not %s",
                     src, cn_metric_name(ds->metric));
            return -1;
        }
        if (ds->n_train == 0 || ds->strain.rows != ds->n_train || !ds->strain.indptr) {
            cn_error(err, errlen, CN_EFORMAT, "%s: no train vectors", src);
            return -1;
        }
        if (ds->n_test == 0 || ds->stest.rows != ds->n_test || !ds->stest.indptr) {
            cn_error(err, errlen, CN_EFORMAT, "%s: no test vectors", src);
            return -1;
        }
        snprintf(what, sizeof what, "%s: train", src);
        if (cn_sparse_check(ds->strain.indptr, ds->strain.indices, ds->strain.values,
                            ds->n_train, ds->dim, what, err, errlen) != CN_OK)
            return -1;
        snprintf(what, sizeof what, "%s: test", src);
        if (cn_sparse_check(ds->stest.indptr, ds->stest.indices, ds->stest.values, ds->n_test,
                            ds->dim, what, err, errlen) != CN_OK)
            return -1;
    } else {
        if (ds->n_train == 0 || !ds->train) {
            cn_error(err, errlen, CN_EFORMAT, "%s: no train vectors", src);
            return -1;
        }
        if (ds->n_test == 0 || !ds->test) {
            cn_error(err, errlen, CN_EFORMAT, "%s: no test vectors", src);
            return -1;
        }
        if (check_finite(ds->train, ds->n_train, ds->dim, "train", src, err, errlen) ||
            check_finite(ds->test, ds->n_test, ds->dim, "test", src, err, errlen))
            return -1;
    }
    if (ds->gt_k && !ds->neighbors) {
        cn_error(err, errlen, CN_EFORMAT, "%s: gt_k = %u but no neighbours", src, ds->gt_k);
        return -1;
    }
    size_t total = (size_t)ds->n_test * ds->gt_k;
    if (ds->neighbors)
        for (size_t i = 0; i < total; i++) {
            int32_t id = ds->neighbors[i];
            if (id < 0 || (uint32_t)id >= ds->n_train) {
                cn_error(err, errlen, CN_EFORMAT,
                         "%s: neighbour %zu of query %zu is id %d, outside [0, %u)", src,
                         i % ds->gt_k, i / ds->gt_k, (int)id, ds->n_train);
                return -1;
            }
        }
    if (ds->distances && ds->neighbors)
        for (size_t i = 0; i < total; i++)
            if (!isfinite(ds->distances[i])) {
                cn_error(err, errlen, CN_EFORMAT,
                         "%s: distance %zu of query %zu is not finite (%g)", src, i % ds->gt_k,
                         i / ds->gt_k, (double)ds->distances[i]);
                return -1;
            }
    return 0;
}


int cn_dataset_open(cn_dataset_t *ds, const cn_dataset_spec_t *spec, int threads, char *err,
                    size_t errlen) {
    char *tr = NULL, *te = NULL, *nb = NULL, *p = NULL;
    int rc = -1;
    memset(ds, 0, sizeof *ds);
    if (!spec->name) {
        if (!spec->train || !spec->test) {
            cn_error(err, errlen, CN_EINVAL, "dataset: the map form needs 'train' and 'test'");
            return -1;
        }
        int ex;
        if (!(tr = resolve(spec->train, spec->config_dir, &ex, err, errlen)) ||
            !(te = resolve(spec->test, spec->config_dir, &ex, err, errlen)) ||
            (spec->neighbors &&
             !(nb = resolve(spec->neighbors, spec->config_dir, &ex, err, errlen))))
            goto out;
        if (cn_dataset_load_files(ds, tr, te, nb, spec->distance, err, errlen)) goto out;
    } else {
        int c = cn_catalogue_open(ds, spec->name, threads, err, errlen);
        if (c < 0) goto out;
        if (c == 1) {
            int ex;
            if (!(p = resolve(spec->name, spec->config_dir, &ex, err, errlen))) {
                if (!ex && !strchr(spec->name, '/') && !strstr(spec->name, ".hdf5"))
                    cn_error(err, errlen, CN_ENOTFOUND,
                             "%s: no such file, and not a catalogue dataset (see `cannoli "
                             "list`)", spec->name);
                goto out;
            }
            if (cn_dataset_load_hdf5(ds, p, err, errlen)) goto out;
        }
    }
    if (cn_dataset_validate(ds, err, errlen)) goto out;
    if (ds->sparse && ds->dim > CN_SPARSE_DIM_DIRECT) {
        /* A declared dimension far above what occurs (a 24-byte file can
         * declare 4e9) must not size the search contexts. */
        uint32_t declared = ds->dim;
        if (cn_csr_compact(&ds->strain, &ds->stest, &ds->dim, ds->source, err, errlen)) goto out;
        fprintf(stderr,
                "cannoli: dataset %s: dimension %u declared, %u components occur in the train "
                "vectors: renumbered (inner products unchanged)\n",
                ds->name, declared, ds->dim);
    }
    if (!ds->neighbors) {
        uint32_t k = ds->n_train < CN_GT_DEFAULT_K ? ds->n_train : CN_GT_DEFAULT_K;
        fprintf(stderr, "cannoli: computing exact top-%u ground truth (%s gives none) ...\n", k,
                ds->source);
        if (cn_dataset_groundtruth(ds, k, threads, err, errlen)) goto out;
    } else if (!ds->distances) {
        if (cn_dataset_fill_distances(ds, err, errlen)) goto out;
    }
    ds->reloadable = !ds->sparse && ds->source && stat(ds->source, &ds->source_sb) == 0 &&
                     S_ISREG(ds->source_sb.st_mode);
    rc = 0;
out:
    if (rc) cn_dataset_free(ds);
    cn_free(tr);
    cn_free(te);
    cn_free(nb);
    cn_free(p);
    return rc;
}

static int same_file(const struct stat *a, const struct stat *b) {
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

int cn_dataset_reload_train(cn_dataset_t *ds, char *err, size_t errlen) {
    const char *src = ds->source ? ds->source : ds->name ? ds->name : "dataset";
    struct stat sb;
    if (!ds->reloadable || ds->train) {
        cn_error(err, errlen, CN_EINVAL, "%s: train vectors cannot be read again (%s)", src,
                 ds->train ? "still loaded" : "not read from a dense file");
        return -1;
    }
    if (stat(ds->source, &sb) != 0 || !same_file(&sb, &ds->source_sb)) {
        cn_error(err, errlen, CN_EIO,
                 "%s: changed or removed since the run loaded it; cannot read the train vectors "
                 "again", src);
        return -1;
    }
    const char *ext = cn_ds_ext(ds->source);
    int texmex = !strcmp(ext, "fvecs") || !strcmp(ext, "bvecs");
    float *data = NULL;
    uint32_t n = 0, dim = 0;
    int rc = texmex || cn_is_matrix_file(ds->source)
                 ? cn_ds_read_dense(ds->source, &data, &n, &dim, err, errlen)
                 : cn_ds_read_hdf5_train(ds->source, &data, &n, &dim, err, errlen);
    if (rc) return -1;
    if (n != ds->n_train || dim != ds->dim) {
        cn_error(err, errlen, CN_EFORMAT,
                 "%s: train vectors read again are %u x %u, not %u x %u as loaded", src, n, dim,
                 ds->n_train, ds->dim);
        cn_free(data);
        return -1;
    }
    ds->train = data;
    return 0;
}
