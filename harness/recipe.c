/*
 * harness/recipe.c — builds or loads the index of one build point (see
 * recipe.h), with a progress line on stderr.
 */
#include "recipe.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
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
#pragma omp critical(cn_recipe_progress)
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

/* Builds ix (created, empty) over `build`, searched through `search`. */
static cn_status_t build_timed(const cn_build_point_t *b, cn_index_t *ix, cn_store_t *build,
                               cn_store_t *search, cn_store_t *rerank, int threads,
                               double *secs, char *err, size_t errlen) {
    const cn_algo_cfg_t *a = b->algo;
    fprintf(stderr, "[%s] building %s {%s} on %u vectors (%s), %d threads ...\n", a->name,
            a->index, ix->build_params, build->n, build->ops->name, threads);
    prog.label = a->name;
    prog.t0 = now_s();
    prog.last = -1;
    prog.tty = isatty(2);
    cn_set_progress(progress_cb, NULL);
    double t0 = now_s();
    cn_status_t st = cn_index_build(ix, build, search, rerank, threads, err, errlen);
    cn_set_progress(NULL, NULL);
    *secs = now_s() - t0;
    if (st == CN_OK) fprintf(stderr, "[%s] graph built in %.2f s\n", a->name, *secs);
    return st;
}

/* 1 when a search of b's points to run needs ix's full-precision store:
 * one re-ranks (rerank > 0), or the index scores with it during its search
 * (the library's own account: a context's scores_full). */
static int needs_full(const cn_build_point_t *b, const cn_index_t *ix) {
    for (size_t i = 0; i < b->nsearch; i++) {
        const cn_search_point_t *s = &b->search[i];
        if (s->done || s->skip[0]) continue;
        cn_params_t sp = {s->p.items, s->p.n};
        const cn_param_t *r = cn_params_find(&sp, "rerank");
        if (r && (r->type == CN_PARAM_INT ? r->i > 0 : r->f > 0)) return 1;
    }
    cn_search_ctx_t *ctx = NULL;
    char e[256];
    if (cn_search_ctx_create(ix, &ctx, e, sizeof e) != CN_OK) return 1;
    int full = ctx->scores_full;
    cn_search_ctx_destroy(ctx);
    return full;
}

/* A lossy index searched without re-ranking lets go of its full-precision
 * store (after the cache has it), so the sweep holds the codes only. */
static cn_status_t drop_unused_full(const cn_build_point_t *b, cn_index_t *ix, char *err,
                                    size_t errlen) {
    if (!b->lossy || !ix->rerank_store || needs_full(b, ix)) return CN_OK;
    return cn_index_rebind(ix, ix->store, NULL, err, errlen);
}

int cn_recipe_obtain(const cn_experiment_t *exp, const cn_build_point_t *b, cn_store_t *full,
                     const cn_cache_t *cache, int threads, cn_built_t *out, char *err,
                     size_t errlen) {
    const cn_algo_cfg_t *a = b->algo;
    cn_params_t qps = {b->qp.items, b->qp.n}, bps = {b->bp.items, b->bp.n};
    cn_index_t *ix = NULL, *cached = NULL;
    cn_quantizer_t *q = NULL;
    cn_store_t *enc = NULL;
    double secs = 0;
    int claim = -1, gclaim = -1, waited = 0;
    memset(out, 0, sizeof *out);
    /* The index as created knows its structure's parameters (generic ones
     * such as build_on stripped): that text keys the cache. */
    cn_status_t st = cn_index_create(&ix, a->index, full->metric, full->dim, &bps, err, errlen);
    if (st != CN_OK) goto fail;
    char bp_text[1024], structure[1024];
    snprintf(bp_text, sizeof bp_text, "%s", ix->build_params);
    /* The graph is keyed by its structure's parameters: points that differ
     * only in derived ones (HNSW layout, order) share one build and load it
     * as they asked (cn_index_load_as). */
    if (cn_index_structure_params(a->index, bp_text, structure, sizeof structure) != CN_OK)
        snprintf(structure, sizeof structure, "%s", bp_text);
    cn_cache_entry_t graph = {a->index, structure, "plain", "", 0, a->name, bp_text};
    cn_cache_entry_t entry = graph;
    if (b->lossy) {
        entry.quantizer = a->quantizer;
        entry.quantizer_params = b->qp.text;
        entry.on_quantized = b->on_quantized;
    }
    /* Another process building the same entry (cache.h): wait, then load it. */
    if (cn_cache_load(cache, &entry, a->name, "index", &cached, &out->build_s) == 0 ||
        ((claim = cn_cache_claim(cache, &entry, a->name, "index", &waited)) >= 0 && waited &&
         cn_cache_load(cache, &entry, a->name, "index", &cached, &out->build_s) == 0)) {
        cn_cache_release(claim);
        claim = -1;
        cn_index_destroy(ix);
        ix = cached;
        if ((st = drop_unused_full(b, ix, err, errlen)) != CN_OK) goto fail;
        out->ix = ix;
        out->cached = 1;
        return 0;
    }
    if (!b->lossy) {
        st = build_timed(b, ix, full, full, NULL, threads, &secs, err, errlen);
        if (st != CN_OK) goto fail;
        out->ix = ix;
        out->build_s = secs;
        fprintf(stderr, "[%s] built in %.2f s, %.1f MB\n", a->name, secs,
                (double)cn_index_bytes(ix) / 1e6);
        cn_cache_save(cache, &entry, a->name, ix, secs);
        cn_cache_release(claim);
        return 0;
    }

    /* Train and encode the quantizer. */
    double t0 = now_s();
    fprintf(stderr, "[%s] training %s {%s} ...\n", a->name, a->quantizer, b->qp.text);
    st = cn_quantizer_create(&q, a->quantizer, full->metric, full->dim, &qps, err, errlen);
    if (st == CN_OK) st = q->ops->train(q, full, err, errlen);
    if (st == CN_OK) st = q->ops->encode(q, full, &enc, err, errlen);
    cn_quantizer_destroy(q);
    double tq = now_s() - t0;
    if (st != CN_OK) goto fail;
    fprintf(stderr, "[%s] quantizer trained and encoded in %.2f s\n", a->name, tq);

    if (b->on_quantized) {
        st = build_timed(b, ix, enc, enc, full, threads, &secs, err, errlen);
    } else if (cn_cache_load(cache, &graph, a->name, "full-precision graph", &cached, &secs) == 0 ||
               ((gclaim = cn_cache_claim(cache, &graph, a->name, "full-precision graph",
                                         &waited)) >= 0 &&
                waited &&
                cn_cache_load(cache, &graph, a->name, "full-precision graph", &cached, &secs) ==
                    0)) {
        cn_index_destroy(ix);
        ix = cached;
        st = cn_index_rebind(ix, enc, full, err, errlen);
    } else {
        st = build_timed(b, ix, full, full, NULL, threads, &secs, err, errlen);
        if (st == CN_OK) {
            cn_cache_save(cache, &graph, a->name, ix, secs);
            st = cn_index_rebind(ix, enc, full, err, errlen);
        }
    }
    cn_cache_release(gclaim);
    gclaim = -1;
    cn_store_release(enc);
    enc = NULL;
    if (st != CN_OK) goto fail;
    out->ix = ix;
    out->build_s = secs + tq;
    fprintf(stderr, "[%s] ready in %.2f s (graph + quantizer), %.1f MB with full vectors\n",
            a->name, out->build_s, (double)cn_index_bytes(ix) / 1e6);
    cn_cache_save(cache, &entry, a->name, ix, out->build_s);
    cn_cache_release(claim);
    claim = -1;
    if ((st = drop_unused_full(b, ix, err, errlen)) != CN_OK) goto fail;
    return 0;
fail:
    out->ix = NULL;
    cn_cache_release(gclaim);
    cn_cache_release(claim);
    cn_store_release(enc);
    cn_index_destroy(ix);
    {
        char inner[768];
        snprintf(inner, sizeof inner, "%s", err);
        cn_error(err, errlen, st, "%s: algorithm '%s' (%s): build failed: %s", exp->path,
                 a->name, b->bp.text, inner);
    }
    return -1;
}
