/*
 * harness/runner.c — `cannoli run`: plan, then for each build point obtain
 * the index, sweep its search points, write a row per point.
 *
 * The jobs live in their own files: resume.c (points already in the CSV),
 * plan.c (build and search points, checked against the dataset's shape),
 * recipe.c (building or loading an index, kANNolo's recipe) with cache.c
 * (the index cache and its provenance), probe.c (the flat-scan probe),
 * timing.c (timing one search point), rows.c (the CSV's columns and rows),
 * sysinfo.c (machine, build id, commit). This file only sequences them.
 *
 * Durability: rows are appended and fsync'ed one by one through results.c
 * (locked, so shards can share the file; a row cut short is moved aside and
 * measured again); a rerun skips every point already present, including
 * points other processes wrote while this one ran; --force keeps the old file as a .bak (never
 * overwriting another) and rebuilds every index. With --keep-going a failed
 * build point is reported, the run goes on, and the failures are listed at
 * the end (the run then exits non-zero).
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

#include "cache.h"
#include "dataset.h"
#include "metrics.h"
#include "peakrss.h"
#include "plan.h"
#include "probe.h"
#include "recipe.h"
#include "results.h"
#include "resume.h"
#include "shard.h"
#include "timing.h"

/* Keeps csv_path as csv_path.<UTC time>.bak (.1, .2, ... if that exists):
 * link() never replaces an existing name, so two quick --force runs cannot
 * lose a backup. */
static int keep_backup(const char *csv_path, char *err, size_t errlen) {
    struct stat sb;
    if (stat(csv_path, &sb) != 0) return 0;
    char ts[32], bak[2500];
    cn_utc_now(ts, sizeof ts);
    for (int i = 0; i < 1000; i++) {
        if (i == 0) snprintf(bak, sizeof bak, "%s.%s.bak", csv_path, ts);
        else snprintf(bak, sizeof bak, "%s.%s.%d.bak", csv_path, ts, i);
        if (link(csv_path, bak) == 0) {
            if (unlink(csv_path) != 0) break;
            fprintf(stderr, "cannoli: --force: previous results kept as %s\n", bak);
            return 0;
        }
        if (errno != EEXIST) break;
    }
    cn_error(err, errlen, CN_EIO, "%s: cannot keep old results as %s: %s", csv_path, bak,
             strerror(errno));
    return -1;
}

/* The full-precision store over the dataset: dense f32, or sparse CSR with f32
 * values (the `plain` quantizer is the identity on either). A dense matrix
 * moves into the store (consumed chunk by chunk, never two copies at once);
 * ds->train then borrows the store's rows (the recall check reads them;
 * cosine rows are normalised, which leaves cosine distances unchanged). The
 * caller sets ds->train to NULL before freeing ds and releasing the store. */
static cn_status_t full_store(cn_dataset_t *ds, cn_store_t **out, char *err, size_t errlen) {
    if (ds->sparse)
        return cn_store_sparse_create(out, ds->strain.indptr, ds->strain.indices,
                                      ds->strain.values, ds->n_train, ds->dim, ds->metric,
                                      CN_SPARSE_F32, err, errlen);
    cn_status_t st = cn_store_dense_create_consume(out, ds->train, ds->n_train, ds->dim,
                                                   ds->metric, err, errlen);
    if (st != CN_OK) return st;
    cn_free(ds->train);
    ds->train = (float *)cn_store_dense_row(*out, 0);
    return CN_OK;
}

/* Reads the train rows again (released after an earlier build point) and
 * makes the full-precision store of them, as at the start. */
static int reacquire_full(cn_dataset_t *ds, cn_store_t **full, int *borrowed, char *err,
                          size_t errlen) {
    fprintf(stderr, "cannoli: reading the train vectors of %s again (full precision needed)\n",
            ds->name);
    if (cn_dataset_reload_train(ds, err, errlen)) return -1;
    if (full_store(ds, full, err, errlen) != CN_OK) {
        cn_free(ds->train);
        ds->train = NULL;
        return -1;
    }
    *borrowed = 1;
    return 0;
}

/* Whether the float32 rows may be released while an index searches codes
 * only (decided once, at the first such build point): the set is dense and
 * can be read again from its file, and the recall needs no train row the
 * ground truth does not already settle (cn_recall_prepare). 1, 0, or -1
 * with err. */
static int may_release(const cn_experiment_t *exp, cn_dataset_t *ds, int decided, char *err,
                       size_t errlen) {
    if (decided >= 0) return decided;
    if (ds->sparse || !ds->reloadable || !ds->train) return 0;
    int safe = 0;
    if (cn_recall_prepare(ds, (uint32_t)exp->k, &safe, err, errlen)) return -1;
    if (!safe)
        fprintf(stderr,
                "cannoli: %s: ties reach the end of some queries' ground truth: the float32 "
                "train vectors stay loaded during searches through codes\n", ds->name);
    return safe;
}

/* Sweeps the search points of b over its built index, appending a row each. */
static int sweep(const cn_experiment_t *exp, const cn_dataset_t *ds, const cn_build_point_t *b,
                 const cn_built_t *built, int bthreads, size_t build_peak, cn_results_t *csv,
                 size_t *rows_written, char *err, size_t errlen) {
    const cn_algo_cfg_t *a = b->algo;
    double scan_ns = cn_probe_scan_ns(ds, built->ix->store, a->name);
    int nth = exp->threads, rc = -1;
    cn_search_ctx_t **ctx = cn_calloc((size_t)nth, sizeof *ctx);
    if (!ctx) {
        cn_error(err, errlen, CN_ENOMEM, "out of memory");
        return -1;
    }
    for (int t = 0; t < nth; t++)
        if (cn_search_ctx_create(built->ix, &ctx[t], err, errlen) != CN_OK) goto out;
    for (size_t si = 0; si < b->nsearch; si++) {
        const cn_search_point_t *s = &b->search[si];
        if (s->done || s->skip[0]) continue;
        /* Another process (a second run of this config) may have measured it
         * meanwhile: the file is re-read only when it grew. */
        char kb[16], tb[16];
        const char *key[7];
        int changed = 0, dup = 0;
        cn_plan_key(b, s, ds->name, exp->k, key, kb, tb);
        if (cn_results_refresh(csv, &changed, err, errlen)) goto out;
        if (changed && cn_done_has(&csv->done, key)) continue;
        cn_measure_t m;
        if (cn_time_point(exp, ds, ctx, s->threads, &s->p, &m, err, errlen)) {
            char inner[768];
            snprintf(inner, sizeof inner, "%s", err);
            cn_error(err, errlen, CN_EINVAL, "%s: algorithm '%s' {%s} search {%s}: %s",
                     exp->path, a->name, b->bp.text, s->p.text, inner);
            goto out;
        }
        size_t search_peak = cn_peak_rss_bytes(); /* since the sweep started */
        cn_row_t row = {exp,     ds, b, s, built, scan_ns, bthreads, &m,
                        search_peak > build_peak ? search_peak : build_peak, search_peak};
        char *text;
        size_t len;
        if (cn_rows_format(&row, &text, &len, err, errlen)) goto out;
        int wrc = cn_results_append(csv, key, text, len, &dup, err, errlen);
        free(text);
        if (wrc) goto out;
        if (dup) {
            fprintf(stderr, "[%s] %s %s: written meanwhile by another process; kept theirs\n",
                    a->name, b->bp.text, s->p.text);
            continue;
        }
        (*rows_written)++;
        char tl[32] = "";
        if (exp->nthread_counts > 1) snprintf(tl, sizeof tl, " threads=%d", s->threads);
        fprintf(stderr, "[%s] %s %s%s: recall %.4f  qps %.0f  p50 %.1f us  dist/q %.0f\n",
                a->name, b->bp.text, s->p.text, tl, m.recall, m.qps, m.lat.p50,
                m.dist_per_query);
        if (m.dropped_per_query > 0)
            fprintf(stderr,
                    "[%s] warning: %s: %.3f candidates per query dropped for lack of memory "
                    "(dropped_per_query)\n",
                    a->name, s->p.text, m.dropped_per_query);
    }
    rc = 0;
out:
    for (int t = 0; t < nth; t++) cn_search_ctx_destroy(ctx[t]);
    cn_free(ctx);
    return rc;
}

int cn_run(const cn_experiment_t *exp, const cn_run_opts_t *opts, char *err, size_t errlen) {
    char out_dir[2048], csv_path[2300], cache_dir[2048];
    cn_dataset_t ds = {0};
    cn_done_set_t done = {0};
    cn_plan_t plan = {0};
    cn_store_t *full = NULL;
    cn_results_t csv = {.fd = -1};
    cn_shard_assign_t shards = {0};
    int rc = -1, exists = 0, borrowed_train = 0, release = -1; /* -1: not decided yet */
    size_t rows_written = 0, nfailed = 0;
    char failures[8][640];

    snprintf(out_dir, sizeof out_dir, "%s", opts->out_dir ? opts->out_dir : "");
    if (!opts->out_dir) snprintf(out_dir, sizeof out_dir, "results/%s", exp->name);
    snprintf(csv_path, sizeof csv_path, "%s/results.csv", out_dir);
    snprintf(cache_dir, sizeof cache_dir, "%s", opts->cache_dir ? opts->cache_dir : "results/cache");

    /* 1. What is already measured, the dataset, and the plan. */
    if (opts->force && opts->shard_n) {
        cn_error(err, errlen, CN_EINVAL,
                 "%s: --force cannot go with --shard (each shard would set the others' rows "
                 "aside): remove %s first, or give each shard its own --out",
                 exp->path, csv_path);
        goto out;
    }
    if (!opts->force && cn_results_peek(&done, csv_path, &exists, err, errlen)) goto out;
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
    fprintf(stderr, "cannoli: dataset %s: %u train, %u test, dim %u, %s; simd %s; build %s (%s)\n",
            ds.name, ds.n_train, ds.n_test, ds.dim, cn_metric_name(ds.metric),
            cn_simd_name(cn_simd_level()), cn_build_id(), cn_build_commit());
    cn_plan_shape_t shape = {ds.name, ds.dim, ds.metric};
    if (cn_plan_make(&plan, exp, &shape, &done, opts->only, err, errlen)) goto out;
    if (opts->shard_n) {
        cn_shard_shape_t sh;
        cn_shard_shape_of(&ds, &sh);
        if (cn_shard_assign(&shards, &plan, exp, &sh, (size_t)opts->shard_n, err, errlen))
            goto out;
        size_t before = plan.n;
        cn_shard_keep(&plan, &shards, opts->shard_k);
        fprintf(stderr, "cannoli: shard %d/%d: %zu of %zu build points (%.1f%% of the estimated "
                "cost)\n", opts->shard_k, opts->shard_n, plan.n, before,
                shards.total > 0 ? 100.0 * shards.load[opts->shard_k - 1] / shards.total : 0.0);
    }
    if (opts->dry_run) {
        cn_plan_print(&plan, stdout);
        printf("dry run: %zu search points to run, %zu already in %s, %zu skipped; nothing "
               "built or written\n",
               plan.ntodo, plan.ndone, csv_path, plan.nskipped);
        rc = 0;
        goto out;
    }
    for (size_t i = 0; i < plan.n; i++)
        for (size_t s = 0; s < plan.points[i].nsearch; s++)
            if (plan.points[i].search[s].skip[0])
                fprintf(stderr, "[%s] search {%s} skipped: %s\n", plan.points[i].algo->name,
                        plan.points[i].search[s].p.text, plan.points[i].search[s].skip);

    /* 2. The results file and the full-precision store. */
    if (cn_mkdirs(out_dir, err, errlen)) goto out;
    if (opts->force && opts->appending) {
        exists = access(csv_path, F_OK) == 0;
    } else if (opts->force) {
        if (keep_backup(csv_path, err, errlen)) goto out;
        exists = 0;
    }
    if (cn_results_open(&csv, csv_path, err, errlen)) goto out;
    for (size_t i = 0; i < plan.n; i++) cn_plan_mark_done(&plan, i, &csv.done, ds.name, exp->k);
    char run_id[64], now[32];
    cn_utc_now(now, sizeof now);
    snprintf(run_id, sizeof run_id, "%s-%ld", now, (long)getpid());
    cn_cache_t cache = {opts->use_cache ? cache_dir : NULL, opts->force, run_id, 0, ds.name,
                        ds.n_train, ds.dim, ds.metric};
    if (cache.dir) cache.data_hash = cn_cache_data_hash(&ds); /* of the data as loaded */
    if (full_store(&ds, &full, err, errlen) != CN_OK) goto out;
    borrowed_train = !ds.sparse;

    /* 3. Per build point: obtain the index, sweep, write. */
    for (size_t i = 0; i < plan.n; i++) {
        const cn_build_point_t *b = &plan.points[i];
        int changed = 0;
        if (cn_results_refresh(&csv, &changed, err, errlen)) goto out;
        if (changed) cn_plan_mark_done(&plan, i, &csv.done, ds.name, exp->k);
        if (b->todo == 0) {
            fprintf(stderr, "[%s] %s: all %zu points done or skipped\n", b->algo->name,
                    b->bp.text, b->nsearch);
            continue;
        }
        cn_built_t built = {0};
        cn_peak_rss_reset(); /* peak_rss_bytes: this build point's own peak */
        int failed = !full && reacquire_full(&ds, &full, &borrowed_train, err, errlen);
        failed = failed || cn_recipe_obtain(exp, b, full, &cache, bthreads, &built, err, errlen);
        if (!failed && built.ix->store != full && built.ix->rerank_store != full &&
            (release = may_release(exp, &ds, release, err, errlen)) < 0)
            failed = 1;
        if (!failed && release == 1 && built.ix->store != full && built.ix->rerank_store != full) {
            /* The index searches codes only: the float32 rows go until a
             * later build point needs them (read again from the file). */
            ds.train = NULL;
            borrowed_train = 0;
            cn_store_release(full);
            full = NULL;
        }
        if (!failed) {
            size_t rss = cn_rss_bytes(), huge = cn_huge_rss_bytes();
            if (rss)
                fprintf(stderr, "[%s] resident before the sweep: %.1f MiB, %.1f MiB of it on "
                        "2 MiB pages\n", b->algo->name, (double)rss / 1048576.0,
                        (double)huge / 1048576.0);
        }
        /* search_rss_bytes: the peak of the sweep alone. */
        size_t build_peak = cn_peak_rss_bytes();
        cn_peak_rss_reset();
        failed = failed || sweep(exp, &ds, b, &built, bthreads, build_peak, &csv, &rows_written,
                                 err, errlen);
        cn_index_destroy(built.ix);
        if (!failed) continue;
        if (!opts->keep_going) goto out;
        fprintf(stderr, "cannoli: %s\ncannoli: --keep-going: continuing\n", err);
        if (nfailed < sizeof failures / sizeof failures[0])
            snprintf(failures[nfailed], sizeof failures[0], "%s", err);
        nfailed++;
    }
    fprintf(stderr, "cannoli: %zu rows written, %zu already present, %zu skipped; results in %s\n",
            rows_written, plan.ndone, plan.nskipped, csv_path);
    if (nfailed) {
        for (size_t f = 0; f < nfailed && f < sizeof failures / sizeof failures[0]; f++)
            fprintf(stderr, "cannoli: failed: %s\n", failures[f]);
        cn_error(err, errlen, CN_EINVAL, "%s: %zu build point%s failed (listed above)",
                 exp->path, nfailed, nfailed == 1 ? "" : "s");
        goto out;
    }
    rc = 0;
out:
    if (cn_results_close(&csv, rc == 0 ? err : NULL, rc == 0 ? errlen : 0) != 0) rc = -1;
    cn_shard_assign_free(&shards);
    if (borrowed_train) ds.train = NULL; /* the store's rows */
    cn_store_release(full);
    cn_plan_free(&plan);
    cn_dataset_free(&ds);
    cn_done_free(&done);
    return rc;
}
