/*
 * harness/files.c — dataset file sets named in a config's `dataset:` map:
 * texmex .fvecs/.bvecs, NumPy .npy or big-ann .fbin/.u8bin/.i8bin (+ .ivecs,
 * .npy or .ibin ground truth; binfmt.c reads the binary ones) for dense sets, big-ann .csr
 * or kANNolo .bin (+ .ivecs or .gt100) for sparse ones (sparse_io.c reads
 * them). The dataset is named after the train file's stem.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cannoli/index.h"
#include "cannoli/store.h"
#include "dataset_internal.h"

/* Stem of a texmex base file, without the usual role suffix:
 * "x/sift-debian-10k_base.bvecs" -> "sift-debian-10k". */
static char *files_stem(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    static const char *const suffixes[] = {"_base", ".base", "_train", ".train", "_learn"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        size_t sl = strlen(suffixes[i]);
        if (len > sl && !strncmp(base + len - sl, suffixes[i], sl)) {
            len -= sl;
            break;
        }
    }
    char *s = cn_malloc(len + 1);
    if (!s) return NULL;
    memcpy(s, base, len);
    s[len] = 0;
    return s;
}

/* ---- texmex files --------------------------------------------------------- */


/* Dense vectors: texmex .fvecs/.bvecs or a matrix file (binfmt.c). */
int cn_ds_read_dense(const char *path, float **data, uint32_t *n, uint32_t *dim, char *err,
                      size_t errlen) {
    if (cn_is_matrix_file(path)) return cn_read_matrix(path, data, n, dim, err, errlen);
    return cn_read_vecs(path, data, n, dim, err, errlen);
}

static int is_sparse_file(const char *path) {
    return !strcmp(cn_ds_ext(path), "csr") || !strcmp(cn_ds_ext(path), "bin");
}

/* One sparse vector file (.csr or kANNolo .bin); *cols = its column count. */
static int read_sparse(const char *path, cn_csr_t *c, uint32_t *cols, char *err, size_t errlen) {
    if (!strcmp(cn_ds_ext(path), "csr")) return cn_read_csr(path, c, cols, err, errlen);
    if (!strcmp(cn_ds_ext(path), "bin")) return cn_read_kannolo_bin(path, c, cols, err, errlen);
    cn_error(err, errlen, CN_EUNSUPPORTED,
             "%s: unsupported sparse file type '.%s' (expected .csr or kANNolo .bin)", path,
             cn_ds_ext(path));
    return -1;
}

/* Sparse map form: .csr / .bin vectors, .ivecs or .gt100 neighbours. */
/* Common end of both loaders: the ground truth must have a row per query
 * (n rows, when neighbors were given); names the set after the train file and
 * hands *d over to *ds (or frees it). */
static int finish(cn_dataset_t *ds, cn_dataset_t *d, const char *train, const char *test,
                  const char *neighbors, uint32_t n, char *err, size_t errlen) {
    if (neighbors && n != d->n_test) {
        cn_error(err, errlen, CN_EFORMAT, "%s: %u rows of neighbours but %s has %u queries",
                 neighbors, n, test, d->n_test);
        goto fail;
    }
    /* Problems of the test and neighbour files are named here, by their own
     * file (cn_dataset_validate later knows only the train file's name). */
    if (d->test)
        for (size_t i = 0; i < (size_t)d->n_test * d->dim; i++)
            if (!isfinite(d->test[i])) {
                cn_error(err, errlen, CN_EFORMAT,
                         "%s: test vector %zu has a%s value at component %zu", test,
                         i / d->dim, isnan(d->test[i]) ? " NaN" : "n infinite", i % d->dim);
                goto fail;
            }
    size_t total = (size_t)d->n_test * d->gt_k;
    for (size_t i = 0; d->neighbors && i < total; i++)
        if (d->neighbors[i] < 0 || (uint32_t)d->neighbors[i] >= d->n_train) {
            cn_error(err, errlen, CN_EFORMAT,
                     "%s: neighbour %zu of query %zu is id %d, outside the %u vectors of %s",
                     neighbors, i % d->gt_k, i / d->gt_k, (int)d->neighbors[i], d->n_train,
                     train);
            goto fail;
        }
    for (size_t i = 0; d->distances && i < total; i++)
        if (!isfinite(d->distances[i])) {
            cn_error(err, errlen, CN_EFORMAT, "%s: distance %zu of query %zu is not finite",
                     neighbors, i % d->gt_k, i / d->gt_k);
            goto fail;
        }
    d->name = files_stem(train);
    d->source = cn_strdup(train);
    if (!d->name || !d->source) {
        cn_error(err, errlen, CN_ENOMEM, "%s: out of memory", train);
        goto fail;
    }
    *ds = *d;
    return 0;
fail:
    cn_dataset_free(d);
    return -1;
}

static int load_sparse_files(cn_dataset_t *ds, const char *train, const char *test,
                             const char *neighbors, const char *metric, char *err,
                             size_t errlen) {
    cn_dataset_t d = {0};
    uint32_t ctr = 0, cte = 0, n = 0;
    d.metric = CN_METRIC_IP;
    d.sparse = 1;
    if (metric && (cn_metric_parse(metric, &d.metric) != CN_OK || d.metric != CN_METRIC_IP)) {
        cn_error(err, errlen, CN_EINVAL,
                 "%s: distance '%s' is not supported for sparse vectors (only ip)", train,
                 metric);
        return -1;
    }
    if (!is_sparse_file(test)) {
        cn_error(err, errlen, CN_EINVAL,
                 "%s: train vectors are sparse, so the test file must be .csr or .bin", test);
        return -1;
    }
    if (read_sparse(train, &d.strain, &ctr, err, errlen)) goto fail;
    if (read_sparse(test, &d.stest, &cte, err, errlen)) goto fail;
    d.n_train = d.strain.rows;
    d.n_test = d.stest.rows;
    d.dim = ctr > cte ? ctr : cte;
    if (d.dim == 0) {
        cn_error(err, errlen, CN_EFORMAT, "%s: no nonzero component at all", train);
        goto fail;
    }
    if (neighbors) {
        const char *ext = cn_ds_ext(neighbors);
        if (!strcmp(ext, "ivecs")) {
            if (cn_read_ivecs(neighbors, &d.neighbors, &n, &d.gt_k, err, errlen)) goto fail;
        } else if (!strcmp(ext, "gt100")) {
            if (cn_read_gt100(neighbors, &d.neighbors, &d.distances, &n, &d.gt_k, err, errlen))
                goto fail;
        } else if (cn_read_ids(neighbors, &d.neighbors, NULL, &n, &d.gt_k, err, errlen)) {
            /* .npy, big-ann .ibin / .gt: ids; the scores are recomputed (exact
             * inner products), whatever convention the file's writer used. */
            goto fail;
        }
    }
    return finish(ds, &d, train, test, neighbors, n, err, errlen);
fail:
    cn_dataset_free(&d);
    return -1;
}

int cn_dataset_load_files(cn_dataset_t *ds, const char *train, const char *test,
                          const char *neighbors, const char *metric, char *err, size_t errlen) {
    cn_dataset_t d = {0};
    uint32_t n = 0, dim;
    memset(ds, 0, sizeof *ds);
    if (is_sparse_file(train))
        return load_sparse_files(ds, train, test, neighbors, metric, err, errlen);
    d.metric = CN_METRIC_L2;
    if (metric && cn_metric_parse(metric, &d.metric) != CN_OK) {
        cn_error(err, errlen, CN_EINVAL,
                 "%s: unknown distance '%s' (expected euclidean, angular or ip)", train, metric);
        return -1;
    }
    if (cn_ds_read_dense(train, &d.train, &d.n_train, &d.dim, err, errlen)) goto fail;
    if (cn_ds_read_dense(test, &d.test, &d.n_test, &dim, err, errlen)) goto fail;
    if (dim != d.dim) {
        cn_error(err, errlen, CN_EFORMAT, "%s: test vectors have dimension %u but %s has %u",
                 test, dim, train, d.dim);
        goto fail;
    }
    /* Dense ground truth: ids only (.ivecs, .npy, .ibin); distances stored in
     * a big-ann .ibin (squared or not, by the tool that wrote it) are
     * dropped and recomputed in float64 like texmex ones. */
    if (neighbors && cn_read_ids(neighbors, &d.neighbors, NULL, &n, &d.gt_k, err, errlen))
        goto fail;
    return finish(ds, &d, train, test, neighbors, n, err, errlen);
fail:
    cn_dataset_free(&d);
    return -1;
}

