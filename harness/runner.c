/*
 * harness/runner.c — the experiment runner behind `cannoli run`.
 *
 * For each algorithm of the experiment and each point of its quantizer x build
 * grid, the runner makes one index: quantizer created from the registry,
 * trained and used to encode the full-precision store; the index built on the
 * full-precision store and searched through the encoded one (kANNolo's
 * recipe; with `plain` both are the same store). A built index can be saved
 * to and reloaded from an index cache keyed by the dataset's content and the
 * component parameters, so a resumed or extended sweep does not rebuild.
 *
 * Each search point is timed `runs` times over all test queries; the pass
 * with the highest QPS is kept (ANN-Benchmarks' best-of). QPS is queries over
 * the wall time of the whole pass; latencies are per query, from the same
 * pass. Recall is computed afterwards from the returned ids (metrics.c), so
 * timing never includes it.
 *
 * Durability: rows are appended and fsync'ed one by one. Before anything runs
 * the existing CSV is read and every point already present is skipped, so an
 * interrupted sweep resumes where it stopped. --force keeps the old file as
 * results.csv.<time>.bak; a CSV with other columns is never appended to.
 */
#include "runner.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cannoli/cannoli.h"
#include "csv.h"
#include "dataset.h"
#include "metrics.h"

#ifndef CN_GIT_COMMIT
#define CN_GIT_COMMIT "unknown"
#endif

const char *const cn_csv_columns[] = {
    "dataset",     "algorithm",   "index",          "quantizer",     "quantizer_params",
    "build_params", "search_params", "k",           "threads",       "recall",
    "qps",         "mean_us",     "p50_us",         "p95_us",        "p99_us",
    "build_s",     "index_bytes", "bytes_per_vector", "dist_per_query", "hops_per_query",
    "ns_per_dist", "scan_ns_per_vector",
    "n_train",     "n_test",      "dim",            "metric",        "runs",
    "build_threads", "cached",    "simd",           "seed",          "commit",
    "cpu",         "timestamp"};
const size_t cn_csv_ncolumns = sizeof cn_csv_columns / sizeof cn_csv_columns[0];

/* Columns that identify a point: a row with equal values is "done". */
static const char *const key_columns[] = {"dataset",       "algorithm", "quantizer_params",
                                          "build_params",  "search_params", "k", "threads"};
#define NKEY (sizeof key_columns / sizeof key_columns[0])

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cn_utc_now(char *buf, size_t len) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

const char *cn_cpu_model(void) {
    static char model[256];
    if (model[0]) return model;
    snprintf(model, sizeof model, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return model;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *p = strchr(line, ':');
            if (p) {
                p++;
                while (*p == ' ' || *p == '\t') p++;
                p[strcspn(p, "\n")] = 0;
                snprintf(model, sizeof model, "%s", p);
            }
            break;
        }
    }
    fclose(f);
    return model;
}

int cn_mkdirs(const char *path, char *err, size_t errlen) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        cn_error(err, errlen, CN_EINVAL, "%s: path too long", path);
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST) {
            cn_error(err, errlen, CN_EIO, "%s: cannot create folder: %s", tmp, strerror(errno));
            return -1;
        }
        *p = '/';
    }
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST) {
        cn_error(err, errlen, CN_EIO, "%s: cannot create folder: %s", tmp, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- points already measured ------------------------------------------ */

typedef struct done_set {
    char **keys;
    size_t n;
} done_set_t;

static char *join_key(const char *const *fields) {
    size_t len = 1;
    for (size_t i = 0; i < NKEY; i++) len += strlen(fields[i]) + 1;
    char *k = malloc(len);
    if (!k) return NULL;
    k[0] = 0;
    for (size_t i = 0; i < NKEY; i++) {
        strcat(k, fields[i]);
        strcat(k, "\x1f");
    }
    return k;
}

static int done_has(const done_set_t *d, const char *key) {
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->keys[i], key) == 0) return 1;
    return 0;
}

static void done_free(done_set_t *d) {
    for (size_t i = 0; i < d->n; i++) free(d->keys[i]);
    free(d->keys);
    d->keys = NULL;
    d->n = 0;
}

/* Reads the existing CSV. A header that is not ours is an error: appending
 * would corrupt the file. */
static int load_done(done_set_t *d, const char *csv_path, int *exists, char *err,
                     size_t errlen) {
    cn_csv_t t;
    if (cn_csv_read(&t, csv_path, exists, err, errlen)) return -1;
    if (!*exists) return 0;
    int rc = -1;
    if (t.ncols == 0 && t.nrows == 0) { /* empty file: treat as new */
        *exists = 0;
        rc = 0;
        goto out;
    }
    int same = t.ncols == cn_csv_ncolumns;
    for (size_t j = 0; same && j < t.ncols; j++)
        same = strcmp(t.header[j], cn_csv_columns[j]) == 0;
    if (!same) {
        cn_error(err, errlen, CN_EFORMAT,
                 "%s: existing file has other columns than this version writes; "
                 "use --out DIR or --force (the old file is then kept as a .bak)",
                 csv_path);
        goto out;
    }
    int col[NKEY];
    for (size_t i = 0; i < NKEY; i++) col[i] = cn_csv_col(&t, key_columns[i]);
    d->keys = calloc(t.nrows ? t.nrows : 1, sizeof *d->keys);
    if (!d->keys) goto oom;
    for (size_t r = 0; r < t.nrows; r++) {
        const char *f[NKEY];
        for (size_t i = 0; i < NKEY; i++) f[i] = t.rows[r][col[i]];
        d->keys[d->n] = join_key(f);
        if (!d->keys[d->n]) goto oom;
        d->n++;
    }
    rc = 0;
    goto out;
oom:
    cn_error(err, errlen, CN_ENOMEM, "%s: out of memory", csv_path);
out:
    cn_csv_free(&t);
    return rc;
}

/* ---- parameters ---------------------------------------------------------- */

/* A grid point plus, when the component takes a `seed` the config did not
 * set, the experiment's seed: so every randomised component is seeded. */
typedef struct point {
    cn_param_t items[64];
    size_t n;
    char text[1024];
} point_t;

static int has_param(const cn_component_t *c, const char *name) {
    for (size_t i = 0; c && i < c->n_params; i++)
        if (strcmp(c->params[i].name, name) == 0) return 1;
    return 0;
}

static int make_point(point_t *p, const cn_grid_t *g, size_t index, const cn_component_t *c,
                      uint64_t seed, char *err, size_t errlen) {
    if (g->naxes + 1 > sizeof p->items / sizeof p->items[0]) {
        cn_error(err, errlen, CN_EINVAL, "too many parameters (%zu)", g->naxes);
        return -1;
    }
    p->n = g->naxes;
    if (g->naxes) cn_grid_point(g, index, p->items);
    int has_seed = 0;
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->items[i].key, "seed") == 0) has_seed = 1;
    if (!has_seed && has_param(c, "seed")) {
        cn_param_t *s = &p->items[p->n++];
        memset(s, 0, sizeof *s);
        s->key = "seed";
        s->type = CN_PARAM_INT;
        s->i = (long long)seed;
        s->f = (double)seed;
    }
    cn_params_t ps = {p->items, p->n};
    cn_params_format(&ps, p->text, sizeof p->text);
    return 0;
}

/* ---- index cache ----------------------------------------------------------- */

static uint64_t hash_str(uint64_t h, const char *s) {
    h = cn_checksum(h, s, strlen(s));
    return cn_checksum(h, "\x1f", 1);
}

/* The cache key covers the data itself (so a regenerated or edited dataset
 * never reuses a stale index), the metric and every component parameter.
 * `bp_norm` is the build point without `build_on`; a graph built on the
 * original vectors is keyed as the plain one, so every quantizer can reuse it. */
static uint64_t cache_key(uint64_t data_hash, const char *index, const char *quantizer,
                          const char *qp_text, const char *bp_norm, int on_quantized) {
    uint64_t h = data_hash;
    h = hash_str(h, index);
    h = hash_str(h, quantizer);
    h = hash_str(h, qp_text);
    h = hash_str(h, bp_norm);
    h = hash_str(h, on_quantized ? "on-quantized" : "on-original");
    h = hash_str(h, "format-2");
    return h;
}

static double read_cached_build_s(const char *meta) {
    FILE *f = fopen(meta, "r");
    if (!f) return NAN;
    double s = NAN;
    if (fscanf(f, "build_s=%lf", &s) != 1) s = NAN;
    fclose(f);
    return s;
}

/* ---- progress on stderr ------------------------------------------------------ */
/* On a terminal one line is rewritten in place; in a log a line is printed at
 * every 10% of a build. Called from build threads, hence the critical section. */

static struct {
    const char *label;
    double t0;
    int last;
    int tty;
} prog;

static void progress_cb(void *user, const char *what, uint64_t done, uint64_t total) {
    (void)user;
    if (!total) return;
    int pct = (int)(done * 100 / total);
#pragma omp critical(cn_runner_progress)
    {
        int step = prog.tty ? pct : pct / 10 * 10;
        if (step > prog.last) {
            prog.last = step;
            if (prog.tty)
                fprintf(stderr, "\r[%s] %s %3d%% (%.0f s)%s", prog.label, what, pct,
                        now_s() - prog.t0, pct >= 100 ? "\n" : "");
            else if (pct < 100)
                fprintf(stderr, "[%s] %s %d%% (%.0f s)\n", prog.label, what, step,
                        now_s() - prog.t0);
        }
    }
}

static void progress_begin(const char *label) {
    prog.label = label;
    prog.t0 = now_s();
    prog.last = -1;
    prog.tty = isatty(2);
    cn_set_progress(progress_cb, NULL);
}

static void progress_end(void) { cn_set_progress(NULL, NULL); }

/* ---- one built index ------------------------------------------------------ */

typedef struct built {
    cn_index_t *ix;
    double build_s;
    int cached;
    double scan_ns; /* flat single-query scan over ix->store, ns per vector (NAN: none) */
} built_t;

typedef struct build_req {
    const cn_experiment_t *exp;
    const cn_algo_cfg_t *a;
    const point_t *qp, *bp;
    cn_store_t *full;
    int bthreads;
    uint64_t data_hash;
    const char *cache_dir; /* NULL: no cache */
} build_req_t;

static void cache_path(char *buf, size_t len, const char *dir, uint64_t key) {
    snprintf(buf, len, "%s/%016llx.cnidx", dir, (unsigned long long)key);
}

/* Loads a cached index; 0 on success. A damaged entry is reported and ignored. */
static int cache_load(const build_req_t *r, uint64_t key, const char *what, built_t *b) {
    if (!r->cache_dir) return -1;
    char path[2400], meta[2500], lerr[512];
    cache_path(path, sizeof path, r->cache_dir, key);
    snprintf(meta, sizeof meta, "%s.meta", path);
    if (access(path, R_OK) != 0) return -1;
    double bs = read_cached_build_s(meta);
    if (!isnan(bs) && cn_index_load(&b->ix, path, lerr, sizeof lerr) == CN_OK) {
        b->build_s = bs;
        b->cached = 1;
        fprintf(stderr, "[%s] %s: loaded from cache %s (built in %.1f s)\n", r->a->name, what,
                path, bs);
        return 0;
    }
    fprintf(stderr, "[%s] cache %s unusable (%s); rebuilding\n", r->a->name, path,
            isnan(bs) ? "no build time" : lerr);
    b->ix = NULL;
    return -1;
}

static void cache_save(const build_req_t *r, uint64_t key, const built_t *b, const char *desc) {
    if (!r->cache_dir) return;
    char path[2400], meta[2500], serr[512];
    cache_path(path, sizeof path, r->cache_dir, key);
    snprintf(meta, sizeof meta, "%s.meta", path);
    if (cn_mkdirs(r->cache_dir, serr, sizeof serr) == 0 &&
        cn_index_save(b->ix, path, serr, sizeof serr) == CN_OK) {
        FILE *m = fopen(meta, "w");
        if (m) {
            fprintf(m, "build_s=%.6f\nalgorithm=%s\n%s\n", b->build_s, r->a->name, desc);
            fclose(m);
        }
    } else {
        fprintf(stderr, "[%s] warning: index not cached: %s\n", r->a->name, serr);
    }
}

static void build_failed(const build_req_t *r, cn_status_t st, char *err, size_t errlen) {
    char inner[768];
    snprintf(inner, sizeof inner, "%s", err);
    cn_error(err, errlen, st, "%s: algorithm '%s' (%s): build failed: %s", r->exp->path,
             r->a->name, r->bp->text, inner);
}

/* Builds an index over `build` searched through `search` (re-ranking with
 * `rerank`), timed, with a progress line. */
static cn_status_t build_graph(const build_req_t *r, const cn_params_t *bps, cn_store_t *build,
                               cn_store_t *search, cn_store_t *rerank, built_t *b, char *err,
                               size_t errlen) {
    const cn_store_t *f = r->full;
    fprintf(stderr, "[%s] building %s {%s} on %u vectors (%s), %d threads ...\n", r->a->name,
            r->a->index, r->bp->text, f->n, build->ops->name, r->bthreads);
    double t0 = now_s();
    cn_index_t *ix = NULL;
    progress_begin(r->a->name);
    cn_status_t st = cn_index_create(&ix, r->a->index, f->metric, f->dim, bps, err, errlen);
    if (st == CN_OK) st = cn_index_build(ix, build, search, rerank, r->bthreads, err, errlen);
    progress_end();
    if (st != CN_OK) {
        cn_index_destroy(ix);
        return st;
    }
    b->ix = ix;
    b->build_s = now_s() - t0;
    b->cached = 0;
    fprintf(stderr, "[%s] graph built in %.2f s\n", r->a->name, b->build_s);
    return CN_OK;
}

/*
 * Gets the index of one (quantizer point, build point): from the cache, or
 * built. kANNolo's recipe (a lossy quantizer, build_on: original) reuses the
 * graph built on the full-precision vectors — the same graph a `plain` entry
 * with these build parameters has, cached under the same key — and only
 * trains and encodes the quantizer. build_s then reports graph + quantizer
 * time. Lossy stores keep the full-precision store beside them for `rerank`.
 */
static int obtain_index(const build_req_t *r, built_t *b, char *err, size_t errlen) {
    const cn_algo_cfg_t *a = r->a;
    cn_param_t items[64];
    cn_params_t qps = {r->qp->items, r->qp->n}, bps = {items, 0};
    int on_quantized = 0;
    for (size_t i = 0; i < r->bp->n; i++) {
        if (strcmp(r->bp->items[i].key, "build_on") == 0)
            on_quantized = r->bp->items[i].s && strcmp(r->bp->items[i].s, "quantized") == 0;
        else
            items[bps.n++] = r->bp->items[i];
    }
    char bp_norm[1024];
    cn_params_format(&bps, bp_norm, sizeof bp_norm);
    const cn_component_t *qc = cn_registry_find(a->quantizer, CN_COMPONENT_QUANTIZER);
    /* plain (either store), or sparse with f32 values on an f32 sparse store,
     * search the full-precision vectors themselves. */
    int lossy = !(qc && qc->store_name && strcmp(qc->store_name, "dense_f32") == 0);
    if (lossy && cn_store_is_sparse(r->full) && strcmp(a->quantizer, "sparse") == 0 &&
        strcmp(cn_params_str(&qps, "values", "f32"), "f32") == 0)
        lossy = 0;
    if (!lossy) on_quantized = 0;
    uint64_t key = lossy ? cache_key(r->data_hash, a->index, a->quantizer, r->qp->text, bp_norm,
                                     on_quantized)
                         : cache_key(r->data_hash, a->index, "plain", "", bp_norm, 0);
    memset(b, 0, sizeof *b);
    if (cache_load(r, key, r->bp->text, b) == 0) return 0;

    char desc[2600];
    snprintf(desc, sizeof desc, "index=%s{%s}\nquantizer=%s{%s}\nbuild_on=%s", a->index, bp_norm,
             a->quantizer, r->qp->text, on_quantized ? "quantized" : "original");
    cn_status_t st;
    if (!lossy) {
        st = build_graph(r, &bps, r->full, r->full, NULL, b, err, errlen);
        if (st != CN_OK) goto fail;
        fprintf(stderr, "[%s] built in %.2f s, %.1f MB\n", a->name, b->build_s,
                (double)cn_index_bytes(b->ix) / 1e6);
        cache_save(r, key, b, desc);
        return 0;
    }

    /* Train and encode the quantizer. */
    double t0 = now_s();
    cn_quantizer_t *q = NULL;
    cn_store_t *enc = NULL;
    fprintf(stderr, "[%s] training %s {%s} ...\n", a->name, a->quantizer, r->qp->text);
    st = cn_quantizer_create(&q, a->quantizer, r->full->metric, r->full->dim, &qps, err, errlen);
    if (st == CN_OK) st = q->ops->train(q, r->full, err, errlen);
    if (st == CN_OK) st = q->ops->encode(q, r->full, &enc, err, errlen);
    cn_quantizer_destroy(q);
    double tq = now_s() - t0;
    if (st != CN_OK) goto fail;
    fprintf(stderr, "[%s] quantizer trained and encoded in %.2f s\n", a->name, tq);

    if (on_quantized) {
        st = build_graph(r, &bps, enc, enc, r->full, b, err, errlen);
    } else {
        uint64_t gkey = cache_key(r->data_hash, a->index, "plain", "", bp_norm, 0);
        if (cache_load(r, gkey, "full-precision graph", b) != 0) {
            st = build_graph(r, &bps, r->full, r->full, NULL, b, err, errlen);
            if (st == CN_OK) {
                char gdesc[1200];
                snprintf(gdesc, sizeof gdesc, "index=%s{%s}\nquantizer=plain{}", a->index,
                         bp_norm);
                cache_save(r, gkey, b, gdesc);
            }
        }
        if (b->ix) st = cn_index_rebind(b->ix, enc, r->full, err, errlen);
    }
    cn_store_release(enc);
    if (st != CN_OK) goto fail;
    b->build_s += tq;
    fprintf(stderr, "[%s] ready in %.2f s (graph + quantizer), %.1f MB with full vectors\n",
            a->name, b->build_s, (double)cn_index_bytes(b->ix) / 1e6);
    cache_save(r, key, b, desc);
    return 0;
fail:
    cn_index_destroy(b->ix);
    b->ix = NULL;
    build_failed(r, st, err, errlen);
    return -1;
}

/* ---- timing one search point -------------------------------------------- */

typedef struct sweep_out {
    double qps;
    cn_latency_t lat;
    double recall;
    double dist_per_query;
    double hops_per_query;
    double ns_per_dist; /* mean query time / distances per query (NAN if none counted) */
} sweep_out_t;

/* Test vector i of the dataset as the library's query type. */
static cn_vec_t test_query(const cn_dataset_t *ds, size_t i) {
    cn_vec_t q = {NULL, 0, NULL, NULL};
    if (ds->sparse) {
        uint64_t qb = ds->stest.indptr[i];
        q.nnz = (uint32_t)(ds->stest.indptr[i + 1] - qb);
        q.idx = ds->stest.indices + qb;
        q.val = ds->stest.values + qb;
    } else {
        q.dense = ds->test + i * ds->dim;
    }
    return q;
}

/* The streaming limit of a graph walk: the time per vector of an exact
 * single-query scan (the `flat` index) over the same store the index is
 * searched through, on the first queries of the test set (enough of them for
 * about 2e7 distance computations; at least one). Returns ns per vector, or
 * NAN (with a warning) if the scan cannot run. */
static double scan_ns_per_vector(const cn_dataset_t *ds, cn_store_t *store, const char *label) {
    char err[512] = "";
    cn_index_t *flat = NULL;
    cn_search_ctx_t *ctx = NULL;
    double ns = NAN;
    size_t nq = (size_t)(2e7 / (double)(store->n ? store->n : 1));
    if (nq < 1) nq = 1;
    if (nq > 100) nq = 100;
    if (nq > ds->n_test) nq = ds->n_test;
    uint32_t ids[10];
    float d[10];
    cn_params_t none = {NULL, 0};
    if (cn_index_create(&flat, "flat", store->metric, store->dim, &none, err, sizeof err) !=
            CN_OK ||
        cn_index_build(flat, store, store, NULL, 1, err, sizeof err) != CN_OK ||
        cn_search_ctx_create(flat, &ctx, err, sizeof err) != CN_OK)
        goto out;
    double t0 = now_s();
    for (size_t i = 0; i < nq; i++) {
        cn_vec_t q = test_query(ds, i);
        if (cn_index_search(ctx, &q, 10, ids, d, NULL, err, sizeof err) != CN_OK) goto out;
    }
    ns = (now_s() - t0) * 1e9 / ((double)nq * (double)store->n);
out:
    if (isnan(ns))
        fprintf(stderr, "[%s] warning: flat scan over %s not measured: %s\n", label,
                store->ops->name, err);
    cn_search_ctx_destroy(ctx);
    cn_index_destroy(flat);
    return ns;
}

static int run_point(const cn_experiment_t *exp, const cn_dataset_t *ds, cn_search_ctx_t **ctx,
                     int nthreads, const point_t *sp, sweep_out_t *out, char *err,
                     size_t errlen) {
    size_t nq = ds->n_test, k = (size_t)exp->k;
    uint32_t *ids = malloc(nq * k * sizeof *ids);
    float *dists = malloc(nq * k * sizeof *dists);
    double *lat = malloc(nq * sizeof *lat);
    double *best_lat = malloc(nq * sizeof *best_lat);
    uint64_t *ndist = calloc(nq, sizeof *ndist), *nhops = calloc(nq, sizeof *nhops);
    int rc = -1;
    if (!ids || !dists || !lat || !best_lat || !ndist || !nhops) {
        cn_error(err, errlen, CN_ENOMEM, "out of memory for %zu queries", nq);
        goto out;
    }
    cn_params_t sps = {sp->items, sp->n};
    for (int t = 0; t < nthreads; t++)
        if (cn_search_ctx_set_params(ctx[t], &sps, err, errlen) != CN_OK) goto out;

    double best_qps = -1;
    volatile int failed = 0;
    char terr[512] = "";
    int tty = isatty(2);
    for (int run = 0; run < exp->runs; run++) {
        if (tty) fprintf(stderr, "\r[search] %s run %d/%d ...", sp->text, run + 1, exp->runs);
        double t0 = now_s();
#pragma omp parallel for num_threads(nthreads) schedule(dynamic, 16)
        for (size_t i = 0; i < nq; i++) {
            if (failed) continue;
            cn_search_ctx_t *c = ctx[omp_get_thread_num()];
            cn_vec_t q = test_query(ds, i);
            char qerr[256];
            double s = now_s();
            cn_status_t st = cn_index_search(c, &q, k, ids + i * k, dists + i * k, NULL, qerr,
                                             sizeof qerr);
            lat[i] = (now_s() - s) * 1e6;
            ndist[i] = c->stats.ndist;
            nhops[i] = c->stats.nhops;
            if (st != CN_OK) {
#pragma omp critical(cn_runner_err)
                {
                    if (!failed) snprintf(terr, sizeof terr, "query %zu: %s", i, qerr);
                    failed = 1;
                }
            }
        }
        double wall = now_s() - t0;
        if (failed) {
            cn_error(err, errlen, CN_EINVAL, "%s", terr);
            goto out;
        }
        double qps = (double)nq / (wall > 0 ? wall : 1e-9);
        if (qps > best_qps) {
            best_qps = qps;
            memcpy(best_lat, lat, nq * sizeof *lat);
        }
    }
    out->qps = best_qps;
    cn_latency_stats(best_lat, nq, &out->lat);
    double rsum = 0, dsum = 0, hsum = 0;
    for (size_t i = 0; i < nq; i++) {
        rsum += cn_recall_query(ds, (uint32_t)i, ids + i * k, (uint32_t)k);
        dsum += (double)ndist[i];
        hsum += (double)nhops[i];
    }
    out->recall = rsum / (double)nq;
    out->dist_per_query = dsum / (double)nq;
    out->hops_per_query = hsum / (double)nq;
    out->ns_per_dist = dsum > 0 ? out->lat.mean * 1e3 / out->dist_per_query : NAN;
    rc = 0;
out:
    if (isatty(2)) fprintf(stderr, "\r\033[K");
    free(ids);
    free(dists);
    free(lat);
    free(best_lat);
    free(ndist);
    free(nhops);
    return rc;
}

/* ---- CSV rows --------------------------------------------------------------- */

typedef struct row_ctx {
    const cn_experiment_t *exp;
    const cn_dataset_t *ds;
    const cn_algo_cfg_t *a;
    const point_t *qp, *bp, *sp;
    const built_t *b;
    int bthreads;
    int threads; /* query threads of this row */
} row_ctx_t;

static int write_row(FILE *f, const char *csv_path, const row_ctx_t *r, const sweep_out_t *o,
                     char *err, size_t errlen) {
    char v[48][96];
    const char *cols[48];
    size_t i = 0;
    /* Memory this variant keeps: the full-precision store is counted only when
     * this search point re-ranks with it. */
    const cn_index_t *ix = r->b->ix;
    size_t bytes = cn_index_bytes(ix);
    cn_params_t sps = {r->sp->items, r->sp->n};
    if (ix->rerank_store && ix->rerank_store != ix->store &&
        cn_params_int(&sps, "rerank", 0) == 0)
        bytes -= ix->rerank_store->ops->bytes(ix->rerank_store);
    char ts[32];
    cn_utc_now(ts, sizeof ts);
    cols[i++] = r->ds->name;
    cols[i++] = r->a->name;
    cols[i++] = r->a->index;
    cols[i++] = r->a->quantizer;
    cols[i++] = r->qp->text;
    cols[i++] = r->bp->text;
    cols[i++] = r->sp->text;
#define NUM(fmt, x) (snprintf(v[i], sizeof v[i], fmt, x), cols[i] = v[i], i++)
    NUM("%d", r->exp->k);
    NUM("%d", r->threads);
    NUM("%.6f", o->recall);
    NUM("%.3f", o->qps);
    NUM("%.3f", o->lat.mean);
    NUM("%.3f", o->lat.p50);
    NUM("%.3f", o->lat.p95);
    NUM("%.3f", o->lat.p99);
    NUM("%.3f", r->b->build_s);
    NUM("%zu", bytes);
    NUM("%.2f", (double)bytes / (double)(r->ds->n_train ? r->ds->n_train : 1));
    NUM("%.1f", o->dist_per_query);
    NUM("%.1f", o->hops_per_query);
    if (isnan(o->ns_per_dist)) cols[i++] = "";
    else NUM("%.2f", o->ns_per_dist);
    if (isnan(r->b->scan_ns)) cols[i++] = "";
    else NUM("%.3f", r->b->scan_ns);
    NUM("%u", r->ds->n_train);
    NUM("%u", r->ds->n_test);
    NUM("%u", r->ds->dim);
    cols[i++] = cn_metric_name(r->ds->metric);
    NUM("%d", r->exp->runs);
    NUM("%d", r->bthreads);
    NUM("%d", r->b->cached);
    /* A baseline searching with its own kernels records them instead of
     * cannoli's level (Debian's Faiss: "faiss-generic", no AVX2 kernels). */
    cols[i++] = ix->kernels ? ix->kernels : cn_simd_name(cn_simd_level());
    NUM("%llu", (unsigned long long)r->exp->seed);
    cols[i++] = CN_GIT_COMMIT;
    cols[i++] = cn_cpu_model();
    cols[i++] = ts;
#undef NUM
    if (i != cn_csv_ncolumns) {
        cn_error(err, errlen, CN_EINVAL, "internal: %zu fields for %zu columns", i,
                 cn_csv_ncolumns);
        return -1;
    }
    for (size_t j = 0; j < i; j++) cn_csv_put(f, cols[j], j + 1 == i);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        cn_error(err, errlen, CN_EIO, "%s: write failed: %s", csv_path, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- the run ---------------------------------------------------------------- */

/* Rejects, before any work, search points whose ef is below k: hnswlib and
 * Faiss silently search with max(ef, k), which would produce rows that
 * claim an ef that was never used. */
static int check_ef(const cn_experiment_t *exp, char *err, size_t errlen) {
    for (size_t a = 0; a < exp->nalgos; a++) {
        const cn_grid_t *g = &exp->algos[a].search;
        for (size_t x = 0; x < g->naxes; x++) {
            if (strcmp(g->axes[x].key, "ef") != 0) continue;
            for (size_t v = 0; v < g->axes[x].nvalues; v++) {
                if (g->axes[x].values[v].i < exp->k) {
                    cn_error(err, errlen, CN_EINVAL, "%s:%d: ef = %lld is smaller than k = %d",
                             exp->path, g->axes[x].line, g->axes[x].values[v].i, exp->k);
                    return -1;
                }
            }
        }
    }
    return 0;
}

int cn_run(const cn_experiment_t *exp, const cn_run_opts_t *opts, char *err, size_t errlen) {
    char out_dir[2048], csv_path[2300], cache_dir[2048];
    cn_dataset_t ds = {0};
    done_set_t done = {0};
    cn_store_t *full = NULL;
    FILE *csv = NULL;
    int rc = -1, exists = 0;
    size_t rows_written = 0, rows_skipped = 0;

    if (check_ef(exp, err, errlen)) return -1;
    snprintf(out_dir, sizeof out_dir, "%s", opts->out_dir ? opts->out_dir : "");
    if (!opts->out_dir) snprintf(out_dir, sizeof out_dir, "results/%s", exp->name);
    snprintf(csv_path, sizeof csv_path, "%s/results.csv", out_dir);
    snprintf(cache_dir, sizeof cache_dir, "%s", opts->cache_dir ? opts->cache_dir : "results/cache");

    if (!opts->force && load_done(&done, csv_path, &exists, err, errlen)) goto out;

    /* The dataset is needed even for a dry run: k is checked against it. */
    int bthreads = exp->build_threads > 0 ? exp->build_threads : omp_get_max_threads();
    fprintf(stderr, "cannoli: loading dataset ...\n");
    if (cn_dataset_open(&ds, &exp->dataset, bthreads, err, errlen)) goto out;
    if ((uint32_t)exp->k > ds.n_train) {
        cn_error(err, errlen, CN_EINVAL, "%s: k = %d is larger than the %u vectors of dataset %s",
                 exp->path, exp->k, ds.n_train, ds.name);
        goto out;
    }
    if ((uint32_t)exp->k > ds.gt_k) {
        cn_error(err, errlen, CN_EINVAL,
                 "%s: k = %d is larger than the %u ground-truth neighbours of dataset %s",
                 exp->path, exp->k, ds.gt_k, ds.name);
        goto out;
    }
    fprintf(stderr, "cannoli: %s: %u train, %u test, dim %u, %s; simd %s\n", ds.name, ds.n_train,
            ds.n_test, ds.dim, cn_metric_name(ds.metric), cn_simd_name(cn_simd_level()));

    if (!opts->dry_run) {
        if (cn_mkdirs(out_dir, err, errlen)) goto out;
        if (opts->force) {
            struct stat sb;
            if (stat(csv_path, &sb) == 0) {
                char ts[32], bak[2400];
                cn_utc_now(ts, sizeof ts);
                snprintf(bak, sizeof bak, "%s.%s.bak", csv_path, ts);
                if (rename(csv_path, bak) != 0) {
                    cn_error(err, errlen, CN_EIO, "%s: cannot keep old results as %s: %s",
                             csv_path, bak, strerror(errno));
                    goto out;
                }
                fprintf(stderr, "cannoli: --force: previous results kept as %s\n", bak);
            }
            exists = 0;
        }
        csv = fopen(csv_path, "a");
        if (!csv) {
            cn_error(err, errlen, CN_EIO, "%s: cannot open for append: %s", csv_path,
                     strerror(errno));
            goto out;
        }
        if (!exists) {
            for (size_t j = 0; j < cn_csv_ncolumns; j++)
                cn_csv_put(csv, cn_csv_columns[j], j + 1 == cn_csv_ncolumns);
            fflush(csv);
        }
        /* The full-precision store: dense f32, or sparse CSR with f32 values
         * (the `plain` quantizer is the identity on either). */
        cn_status_t fst =
            ds.sparse ? cn_store_sparse_create(&full, ds.strain.indptr, ds.strain.indices,
                                               ds.strain.values, ds.n_train, ds.dim, ds.metric,
                                               CN_SPARSE_F32, err, errlen)
                      : cn_store_dense_create(&full, ds.train, ds.n_train, ds.dim, ds.metric, err,
                                              errlen);
        if (fst != CN_OK) goto out;
    }

    uint64_t data_hash = CN_CHECKSUM_INIT;
    if (opts->use_cache && !opts->dry_run) {
        uint32_t meta[3] = {ds.n_train, ds.dim, (uint32_t)ds.metric};
        data_hash = cn_checksum(data_hash, meta, sizeof meta);
        if (ds.sparse) {
            uint64_t nnz = ds.strain.indptr[ds.n_train];
            data_hash = cn_checksum(data_hash, "sparse", 6);
            data_hash = cn_checksum(data_hash, ds.strain.indptr,
                                    ((size_t)ds.n_train + 1) * sizeof(uint64_t));
            data_hash = cn_checksum(data_hash, ds.strain.indices, (size_t)nnz * sizeof(uint32_t));
            data_hash = cn_checksum(data_hash, ds.strain.values, (size_t)nnz * sizeof(float));
        } else {
            data_hash =
                cn_checksum(data_hash, ds.train, (size_t)ds.n_train * ds.dim * sizeof(float));
        }
    }

    for (size_t ai = 0; ai < exp->nalgos; ai++) {
        const cn_algo_cfg_t *a = &exp->algos[ai];
        const cn_component_t *qc = cn_registry_find(a->quantizer, CN_COMPONENT_QUANTIZER);
        const cn_component_t *ic = cn_registry_find(a->index, CN_COMPONENT_INDEX);
        size_t nq = cn_grid_size(&a->qparams), nb = cn_grid_size(&a->build),
               ns = cn_grid_size(&a->search);
        for (size_t qi = 0; qi < nq; qi++) {
            for (size_t bi = 0; bi < nb; bi++) {
                point_t qp, bp;
                if (make_point(&qp, &a->qparams, qi, qc, exp->seed, err, errlen) ||
                    make_point(&bp, &a->build, bi, ic, exp->seed, err, errlen))
                    goto out;
                /* Which (thread count, search point) pairs remain? skip[t * ns + si] */
                size_t nt = exp->nthread_counts, todo = 0;
                char kbuf[16], tbuf[16];
                snprintf(kbuf, sizeof kbuf, "%d", exp->k);
                unsigned char *skip = calloc(ns * nt, 1);
                if (!skip) {
                    cn_error(err, errlen, CN_ENOMEM, "out of memory");
                    goto out;
                }
                for (size_t ti = 0; ti < nt; ti++) {
                    snprintf(tbuf, sizeof tbuf, "%d", exp->thread_counts[ti]);
                    for (size_t si = 0; si < ns; si++) {
                        point_t sp;
                        sp.n = a->search.naxes;
                        if (sp.n) cn_grid_point(&a->search, si, sp.items);
                        cn_params_t sps = {sp.items, sp.n};
                        cn_params_format(&sps, sp.text, sizeof sp.text);
                        const char *f[NKEY] = {ds.name, a->name, qp.text, bp.text,
                                               sp.text, kbuf,    tbuf};
                        char *key = join_key(f);
                        skip[ti * ns + si] = key && done_has(&done, key);
                        free(key);
                        if (!skip[ti * ns + si]) todo++;
                    }
                }
                rows_skipped += ns * nt - todo;
                if (opts->dry_run) {
                    printf("%-24s quantizer %s{%s} build {%s}: %zu search points, %zu to run\n",
                           a->name, a->quantizer, qp.text, bp.text, ns * nt, todo);
                    free(skip);
                    continue;
                }
                if (todo == 0) {
                    fprintf(stderr, "[%s] %s: all %zu points already in %s, skipped\n", a->name,
                            bp.text, ns * nt, csv_path);
                    free(skip);
                    continue;
                }

                built_t b = {0};
                build_req_t req = {exp, a, &qp, &bp, full, bthreads, data_hash,
                                   opts->use_cache ? cache_dir : NULL};
                if (obtain_index(&req, &b, err, errlen)) {
                    free(skip);
                    goto out;
                }

                b.scan_ns = scan_ns_per_vector(&ds, b.ix->store, a->name);

                /* One search context per query thread. */
                int nth = exp->threads;
                cn_search_ctx_t **ctx = calloc((size_t)nth, sizeof *ctx);
                int ok = ctx != NULL;
                for (int t = 0; ok && t < nth; t++)
                    ok = cn_search_ctx_create(b.ix, &ctx[t], err, errlen) == CN_OK;
                if (!ctx) cn_error(err, errlen, CN_ENOMEM, "out of memory");
                for (size_t ti = 0; ok && ti < nt; ti++) {
                    int tc = exp->thread_counts[ti];
                    for (size_t si = 0; ok && si < ns; si++) {
                        if (skip[ti * ns + si]) continue;
                        point_t sp;
                        sp.n = a->search.naxes;
                        if (sp.n) cn_grid_point(&a->search, si, sp.items);
                        cn_params_t sps = {sp.items, sp.n};
                        cn_params_format(&sps, sp.text, sizeof sp.text);
                        sweep_out_t o;
                        if (run_point(exp, &ds, ctx, tc, &sp, &o, err, errlen)) {
                            char inner[768];
                            snprintf(inner, sizeof inner, "%s", err);
                            cn_error(err, errlen, CN_EINVAL,
                                     "%s: algorithm '%s' {%s} search {%s}: %s", exp->path,
                                     a->name, bp.text, sp.text, inner);
                            ok = 0;
                            break;
                        }
                        row_ctx_t r = {exp, &ds, a, &qp, &bp, &sp, &b, bthreads, tc};
                        if (write_row(csv, csv_path, &r, &o, err, errlen)) {
                            ok = 0;
                            break;
                        }
                        rows_written++;
                        char tl[32] = "";
                        if (nt > 1) snprintf(tl, sizeof tl, " threads=%d", tc);
                        fprintf(stderr,
                                "[%s] %s %s%s: recall %.4f  qps %.0f  p50 %.1f us  dist/q %.0f\n",
                                a->name, bp.text, sp.text, tl, o.recall, o.qps, o.lat.p50,
                                o.dist_per_query);
                    }
                }
                for (int t = 0; ctx && t < nth; t++) cn_search_ctx_destroy(ctx[t]);
                free(ctx);
                cn_index_destroy(b.ix);
                free(skip);
                if (!ok) goto out;
            }
        }
    }
    if (opts->dry_run)
        printf("dry run: nothing built or written; results would go to %s\n", csv_path);
    else
        fprintf(stderr, "cannoli: %zu rows written, %zu already present; results in %s\n",
                rows_written, rows_skipped, csv_path);
    rc = 0;
out:
    if (csv && fclose(csv) != 0 && rc == 0) {
        cn_error(err, errlen, CN_EIO, "%s: close failed: %s", csv_path, strerror(errno));
        rc = -1;
    }
    cn_store_release(full);
    cn_dataset_free(&ds);
    done_free(&done);
    return rc;
}
