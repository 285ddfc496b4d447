/*
 * core/index.c — the generic index layer: registry look-up, parameter
 * validation, store ownership, search contexts, re-ranking, conversion to
 * user-facing distances, batch search and persistence. Index implementations
 * only see their ops.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "cannoli/index.h"
#include "cannoli/registry.h"

#define MAX_PARAMS 64
#define MAX_NAME_LEN 256
#define MAX_PARAMS_LEN 4096

static const char *index_name(const cn_index_t *ix) {
    return ix->component ? ix->component->name : ix->ops->name;
}

static cn_status_t make_index(cn_index_t **out, const cn_component_t *c, cn_metric_t metric,
                              uint32_t dim, const cn_params_t *bp, char *err, size_t errlen) {
    char what[MAX_NAME_LEN + 16];
    snprintf(what, sizeof what, "index '%s'", c->name);
    cn_status_t st = cn_params_validate(what, c->params, c->n_params, bp, CN_ROLE_BUILD, err,
                                        errlen);
    if (st != CN_OK) return st;
    if (dim == 0) return cn_error(err, errlen, CN_EINVAL, "%s: dimension is 0", what);
    if ((unsigned)metric > CN_METRIC_COSINE)
        return cn_error(err, errlen, CN_EINVAL, "%s: invalid metric %d", what, (int)metric);
    size_t len = cn_params_format(bp, NULL, 0);
    char *ps = cn_malloc(len + 1);
    if (!ps) return cn_error(err, errlen, CN_ENOMEM, "out of memory");
    cn_params_format(bp, ps, len + 1); /* as given: written into saved files */
    /* The constructor reads its parameters completed with the schema's
     * defaults (cn_params_get_*), so defaults live in the schema only. */
    cn_param_t full_items[2 * MAX_PARAMS];
    cn_params_t full;
    cn_index_t *ix = NULL;
    st = cn_component_fill_defaults(c, CN_ROLE_BUILD, bp, full_items, 2 * MAX_PARAMS, &full, err,
                                    errlen);
    if (st == CN_OK) st = c->create_index(&ix, metric, dim, &full, err, errlen);
    if (st != CN_OK) {
        cn_free(ps);
        return st;
    }
    ix->component = c;
    ix->metric = metric;
    ix->dim = dim;
    ix->build_params = ps;
    *out = ix;
    return CN_OK;
}

/* ---- generic parameters ------------------------------------------------------- */

const cn_param_spec_t cn_index_generic_params[] = {
    {"build_on", CN_PARAM_STRING, CN_ROLE_BUILD, 0, 0, "original", "original|quantized",
     "store the structure is built on: the full-precision vectors (kANNolo) or the "
     "quantizer's codes", 0},
    {"rerank", CN_PARAM_INT, CN_ROLE_SEARCH, 0, 1000000, "0", NULL,
     "re-score the best max(rerank, k) candidates with the full-precision vectors "
     "(0 = off; needs a lossy quantizer)", 0},
};
const size_t cn_index_generic_nparams =
    sizeof cn_index_generic_params / sizeof cn_index_generic_params[0];

const cn_param_spec_t *cn_index_generic_param(const char *key) {
    for (size_t i = 0; key && i < cn_index_generic_nparams; i++)
        if (strcmp(cn_index_generic_params[i].name, key) == 0) return &cn_index_generic_params[i];
    return NULL;
}

/* Splits p into the generic parameters of `role` (validated here against
 * their own schema) and the rest (copied into rest_items, for the
 * component's schema). A component that declares a generic name itself
 * keeps it. */
static cn_status_t split_generic(const cn_component_t *c, const cn_params_t *p,
                                 cn_param_role_t role, cn_param_t *rest_items, cn_params_t *rest,
                                 long long *rerank, char *err, size_t errlen) {
    rest->items = rest_items;
    rest->n = 0;
    size_t n = p ? p->n : 0;
    if (n > MAX_PARAMS)
        return cn_error(err, errlen, CN_EINVAL, "index '%s': too many parameters", c->name);
    for (size_t i = 0; i < n; i++) {
        const cn_param_t *it = &p->items[i];
        const cn_param_spec_t *g = cn_index_generic_param(it->key);
        int own = 0;
        for (size_t j = 0; g && j < c->n_params; j++) own |= strcmp(c->params[j].name, g->name) == 0;
        if (!g || own || g->role != role) {
            rest_items[rest->n++] = *it;
            continue;
        }
        cn_params_t one = {it, 1};
        char what[MAX_NAME_LEN + 16];
        snprintf(what, sizeof what, "index '%s'", c->name);
        cn_status_t st = cn_params_validate(what, g, 1, &one, role, err, errlen);
        if (st != CN_OK) return st;
        if (rerank && strcmp(g->name, "rerank") == 0) *rerank = it->i;
    }
    return CN_OK;
}

cn_status_t cn_index_check_search(const cn_component_t *c, const cn_params_t *search, size_t k,
                                  const char **which, char *err, size_t errlen) {
    if (which) *which = NULL;
    long long rerank = cn_params_int(search, "rerank", 0);
    for (size_t j = 0; c && j < c->n_params; j++) {
        const cn_param_spec_t *s = &c->params[j];
        if (!(s->flags & CN_PARAM_F_RESULT_POOL)) continue;
        const cn_param_t *v = cn_params_find(search, s->name);
        if (!v) continue;
        if ((long long)k > v->i) {
            if (which) *which = "k";
            return cn_error(err, errlen, CN_EINVAL,
                            "k = %zu exceeds %s = %lld (a search returns at most %s candidates)",
                            k, s->name, v->i, s->name);
        }
        if (rerank > v->i) {
            if (which) *which = "rerank";
            return cn_error(err, errlen, CN_EINVAL,
                            "rerank = %lld exceeds %s = %lld (a search returns at most %s "
                            "candidates to re-score)",
                            rerank, s->name, v->i, s->name);
        }
    }
    return CN_OK;
}

cn_status_t cn_index_create(cn_index_t **out, const char *name, cn_metric_t metric, uint32_t dim,
                            const cn_params_t *build_params, char *err, size_t errlen) {
    *out = NULL;
    const cn_component_t *c = cn_registry_find(name, CN_COMPONENT_INDEX);
    if (!c) return cn_error(err, errlen, CN_ENOTFOUND, "unknown index '%s'", name ? name : "");
    cn_param_t items[MAX_PARAMS];
    cn_params_t rest;
    cn_status_t st = split_generic(c, build_params, CN_ROLE_BUILD, items, &rest, NULL, err, errlen);
    if (st != CN_OK) return st;
    return make_index(out, c, metric, dim, &rest, err, errlen);
}

static cn_status_t check_store(const cn_index_t *ix, const cn_store_t *s, const char *role,
                               uint32_t n, char *err, size_t errlen) {
    if (s->dim != ix->dim)
        return cn_error(err, errlen, CN_EINVAL,
                        "index '%s': %s store has dimension %u, the index expects %u",
                        index_name(ix), role, s->dim, ix->dim);
    if (s->metric != ix->metric)
        return cn_error(err, errlen, CN_EINVAL, "index '%s': %s store has metric %s, expected %s",
                        index_name(ix), role, cn_metric_name(s->metric),
                        cn_metric_name(ix->metric));
    if (s->n != n)
        return cn_error(err, errlen, CN_EINVAL,
                        "index '%s': %s store holds %u vectors, the build store %u",
                        index_name(ix), role, s->n, n);
    return CN_OK;
}

static int max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

cn_status_t cn_index_build(cn_index_t *ix, cn_store_t *build_store, cn_store_t *search_store,
                           cn_store_t *rerank_store, int threads, char *err, size_t errlen) {
    if (!ix || !build_store || !search_store)
        return cn_error(err, errlen, CN_EINVAL, "index build: missing index or store");
    if (ix->store)
        return cn_error(err, errlen, CN_EINVAL, "index '%s' is already built", index_name(ix));
    uint32_t n = build_store->n;
    cn_status_t st = check_store(ix, build_store, "build", n, err, errlen);
    if (st == CN_OK) st = check_store(ix, search_store, "search", n, err, errlen);
    if (st == CN_OK && rerank_store) st = check_store(ix, rerank_store, "rerank", n, err, errlen);
    if (st != CN_OK) return st;
    if (threads <= 0) threads = max_threads();
    st = ix->ops->build(ix, build_store, threads, err, errlen);
    if (st != CN_OK) return st;
    /* Build-only tables (PQ's SDC) go now: a fresh index and a reloaded one
     * hold, and report, the same bytes. */
    if (build_store->ops->drop_build_scratch) build_store->ops->drop_build_scratch(build_store);
    if (search_store->ops->drop_build_scratch) search_store->ops->drop_build_scratch(search_store);
    ix->n = n;
    ix->store = cn_store_retain(search_store);
    ix->rerank_store = cn_store_retain(rerank_store);
    if (ix->ops->bind && (st = ix->ops->bind(ix, err, errlen)) != CN_OK) {
        cn_store_release(ix->store);
        cn_store_release(ix->rerank_store);
        ix->store = ix->rerank_store = NULL;
        return st;
    }
    return CN_OK;
}

cn_status_t cn_index_rebind(cn_index_t *ix, cn_store_t *search_store, cn_store_t *rerank_store,
                            char *err, size_t errlen) {
    if (!ix || !ix->store || !search_store)
        return cn_error(err, errlen, CN_EINVAL, "index rebind: index not built or no store");
    cn_status_t st = check_store(ix, search_store, "search", ix->n, err, errlen);
    if (st == CN_OK && rerank_store)
        st = check_store(ix, rerank_store, "rerank", ix->n, err, errlen);
    if (st != CN_OK) return st;
    cn_store_retain(search_store);
    cn_store_retain(rerank_store);
    cn_store_release(ix->store);
    cn_store_release(ix->rerank_store);
    ix->store = search_store;
    ix->rerank_store = rerank_store;
    /* On failure the new stores stay attached but the index refuses search
     * contexts until a bind succeeds (see the index's ctx_init). */
    if (ix->ops->bind) return ix->ops->bind(ix, err, errlen);
    return CN_OK;
}

/* ---- search contexts ------------------------------------------------------- */

cn_status_t cn_search_ctx_create(const cn_index_t *ix, cn_search_ctx_t **out, char *err,
                                 size_t errlen) {
    *out = NULL;
    if (!ix || !ix->store)
        return cn_error(err, errlen, CN_EINVAL, "index '%s' is not built",
                        ix ? index_name(ix) : "(null)");
    cn_search_ctx_t *ctx = cn_calloc(1, sizeof *ctx);
    if (!ctx) return cn_error(err, errlen, CN_ENOMEM, "out of memory for a search context");
    ctx->ix = ix;
    cn_status_t st = cn_store_evaluator(ix->store, &ctx->ev, err, errlen);
    if (st == CN_OK && ix->rerank_store)
        st = cn_store_evaluator(ix->rerank_store, &ctx->rerank_ev, err, errlen);
    if (st == CN_OK) {
        st = ix->ops->ctx_init(ix, ctx, err, errlen);
        if (st != CN_OK) ctx->priv = NULL;
    }
    if (st == CN_OK) st = cn_search_ctx_set_params(ctx, NULL, err, errlen);
    if (st != CN_OK) {
        cn_search_ctx_destroy(ctx);
        return st;
    }
    *out = ctx;
    return CN_OK;
}

void cn_search_ctx_destroy(cn_search_ctx_t *ctx) {
    if (!ctx) return;
    if (ctx->priv) ctx->ix->ops->ctx_free(ctx);
    cn_evaluator_destroy(ctx->ev);
    cn_evaluator_destroy(ctx->rerank_ev);
    cn_free(ctx->cand_ids);
    cn_free(ctx->cand_scores);
    cn_free(ctx);
}

static cn_status_t reserve_candidates(cn_search_ctx_t *ctx, size_t n) {
    if (n <= ctx->cand_cap) return CN_OK;
    uint32_t *ids = cn_realloc(ctx->cand_ids, n * sizeof *ids);
    if (!ids) return CN_ENOMEM;
    ctx->cand_ids = ids;
    float *sc = cn_realloc(ctx->cand_scores, n * sizeof *sc);
    if (!sc) return CN_ENOMEM;
    ctx->cand_scores = sc;
    ctx->cand_cap = n;
    return CN_OK;
}

cn_status_t cn_search_ctx_set_params(cn_search_ctx_t *ctx, const cn_params_t *search, char *err,
                                     size_t errlen) {
    const cn_index_t *ix = ctx->ix;
    cn_param_t items[MAX_PARAMS];
    cn_params_t rest = {items, 0};
    long long rerank = 0;
    size_t pool = 0;
    const char *pool_name = NULL;
    if (ix->component) {
        const cn_component_t *c = ix->component;
        cn_status_t st = split_generic(c, search, CN_ROLE_SEARCH, items, &rest, &rerank, err,
                                       errlen);
        if (st != CN_OK) return st;
        char what[MAX_NAME_LEN + 16];
        snprintf(what, sizeof what, "index '%s'", c->name);
        st = cn_params_validate(what, c->params, c->n_params, &rest, CN_ROLE_SEARCH, err, errlen);
        if (st != CN_OK) return st;
        char why[256];
        if (cn_index_check_search(c, search, 1, NULL, why, sizeof why) != CN_OK)
            return cn_error(err, errlen, CN_EINVAL, "%s: %s", what, why);
        for (size_t j = 0; j < c->n_params; j++) {
            const cn_param_t *v = (c->params[j].flags & CN_PARAM_F_RESULT_POOL)
                                      ? cn_params_find(search, c->params[j].name)
                                      : NULL;
            if (v && v->i > 0) {
                pool = (size_t)v->i;
                pool_name = c->params[j].name;
            }
        }
    } else if (search) {
        if (search->n > MAX_PARAMS)
            return cn_error(err, errlen, CN_EINVAL, "index '%s': too many search parameters",
                            index_name(ix));
        for (size_t i = 0; i < search->n; i++) items[rest.n++] = search->items[i];
    }
    if (rerank > 0 && !ix->rerank_store)
        return cn_error(err, errlen, CN_EINVAL,
                        "index '%s': 'rerank' needs a full-precision store to re-score with; "
                        "this index is searched at full precision already",
                        index_name(ix));
    if (rerank > 0 && reserve_candidates(ctx, (size_t)rerank) != CN_OK)
        return cn_error(err, errlen, CN_ENOMEM, "out of memory for rerank=%lld", rerank);
    /* The implementation sees every parameter of its search schema (defaults
     * written once, in the schema), and the caller's own set in ctx->given. */
    cn_param_t full_items[MAX_PARAMS];
    cn_params_t full = rest;
    if (ix->component) {
        cn_status_t st = cn_component_fill_defaults(ix->component, CN_ROLE_SEARCH, &rest,
                                                    full_items, MAX_PARAMS, &full, err, errlen);
        if (st != CN_OK) return st;
    }
    ctx->given = &rest;
    cn_status_t st = ix->ops->ctx_set_params(ctx, &full, err, errlen);
    ctx->given = NULL;
    if (st != CN_OK) return st;
    ctx->rerank = (size_t)rerank;
    ctx->pool = pool;
    ctx->pool_name = pool_name;
    return CN_OK;
}

/* Insertion sort of (score, id) pairs; candidate lists are short. */
static void sort_pairs(float *s, uint32_t *ids, size_t n) {
    for (size_t i = 1; i < n; i++) {
        float v = s[i];
        uint32_t id = ids[i];
        size_t j = i;
        while (j > 0 && s[j - 1] > v) {
            s[j] = s[j - 1];
            ids[j] = ids[j - 1];
            j--;
        }
        s[j] = v;
        ids[j] = id;
    }
}

cn_status_t cn_index_search(cn_search_ctx_t *ctx, const cn_vec_t *q, size_t k, uint32_t *ids,
                            float *dists, size_t *found, char *err, size_t errlen) {
    if (found) *found = 0;
    const cn_index_t *ix = ctx->ix;
    if (k == 0) return cn_error(err, errlen, CN_EINVAL, "search: k must be at least 1");
    if (ctx->pool && k > ctx->pool)
        return cn_error(err, errlen, CN_EINVAL,
                        "search: k = %zu exceeds %s = %zu (a search returns at most %s "
                        "candidates)",
                        k, ctx->pool_name, ctx->pool, ctx->pool_name);
    cn_status_t st = ctx->ev->ops->set_query(ctx->ev, q, err, errlen);
    if (st != CN_OK) return st;
    memset(&ctx->stats, 0, sizeof ctx->stats);
    ctx->query = q;
    size_t m;
    if (ctx->rerank > 0 && ctx->rerank_ev) {
        st = ctx->rerank_ev->ops->set_query(ctx->rerank_ev, q, err, errlen);
        if (st != CN_OK) {
            ctx->query = NULL;
            return st;
        }
        size_t nc = ctx->rerank > k ? ctx->rerank : k;
        if (reserve_candidates(ctx, nc) != CN_OK) {
            ctx->query = NULL;
            return cn_error(err, errlen, CN_ENOMEM, "out of memory for %zu candidates", nc);
        }
        size_t got = ix->ops->search(ix, ctx, nc, ctx->cand_ids, ctx->cand_scores);
        ctx->rerank_ev->ops->dist_batch(ctx->rerank_ev, ctx->cand_ids, got, ctx->cand_scores);
        ctx->stats.ndist += got;
        ctx->stats.nreranked += got;
        sort_pairs(ctx->cand_scores, ctx->cand_ids, got);
        m = got < k ? got : k;
        memcpy(ids, ctx->cand_ids, m * sizeof *ids);
        memcpy(dists, ctx->cand_scores, m * sizeof *dists);
    } else {
        m = ix->ops->search(ix, ctx, k, ids, dists);
    }
    ctx->query = NULL;
    for (size_t i = 0; i < m; i++) dists[i] = cn_metric_external(ix->metric, dists[i]);
    for (size_t i = m; i < k; i++) {
        ids[i] = UINT32_MAX;
        dists[i] = INFINITY;
    }
    if (found) *found = m;
    return CN_OK;
}

cn_status_t cn_index_search_batch(const cn_index_t *ix, const cn_params_t *search,
                                  const float *queries, size_t nq, size_t k, int threads,
                                  uint32_t *ids, float *dists, char *err, size_t errlen) {
    if (k == 0) return cn_error(err, errlen, CN_EINVAL, "search: k must be at least 1");
    if (threads <= 0) threads = max_threads();
    if ((size_t)threads > nq) threads = nq > 0 ? (int)nq : 1;
    cn_status_t status = CN_OK;
    char first_err[512] = "";
#pragma omp parallel num_threads(threads)
    {
        char lerr[512];
        cn_search_ctx_t *ctx = NULL;
        cn_status_t st = cn_search_ctx_create(ix, &ctx, lerr, sizeof lerr);
        if (st == CN_OK) st = cn_search_ctx_set_params(ctx, search, lerr, sizeof lerr);
        if (st != CN_OK) {
#pragma omp critical(cn_batch_err)
            if (status == CN_OK) {
                status = st;
                snprintf(first_err, sizeof first_err, "%s", lerr);
            }
        }
#pragma omp for schedule(dynamic, 16)
        for (size_t i = 0; i < nq; i++) {
            if (st != CN_OK) continue;
            cn_vec_t v = {queries + i * ix->dim, 0, NULL, NULL};
            cn_status_t qs = cn_index_search(ctx, &v, k, ids + i * k, dists + i * k, NULL, lerr,
                                             sizeof lerr);
            if (qs != CN_OK) {
#pragma omp critical(cn_batch_err)
                if (status == CN_OK) {
                    status = qs;
                    snprintf(first_err, sizeof first_err, "query %zu: %.400s", i, lerr);
                }
            }
        }
        cn_search_ctx_destroy(ctx);
    }
    if (status != CN_OK) return cn_error(err, errlen, status, "%s", first_err);
    return CN_OK;
}

size_t cn_index_bytes(const cn_index_t *ix) {
    size_t b = ix->ops->bytes(ix);
    if (ix->self_contained) return b;
    if (ix->store) b += ix->store->ops->bytes(ix->store);
    if (ix->rerank_store && ix->rerank_store != ix->store)
        b += ix->rerank_store->ops->bytes(ix->rerank_store);
    return b;
}

size_t cn_search_ctx_bytes(const cn_search_ctx_t *ctx) {
    const cn_index_t *ix = ctx->ix;
    size_t b = ix->ops->bytes(ix);
    if (ix->self_contained) return b;
    b += ix->store->ops->bytes(ix->store);
    if ((ctx->rerank > 0 || ctx->scores_full) && ix->rerank_store &&
        ix->rerank_store != ix->store)
        b += ix->rerank_store->ops->bytes(ix->rerank_store);
    return b;
}

void cn_index_destroy(cn_index_t *ix) {
    if (!ix) return;
    cn_store_release(ix->store);
    cn_store_release(ix->rerank_store);
    cn_free(ix->build_params);
    ix->store = ix->rerank_store = NULL;
    ix->build_params = NULL;
    ix->ops->destroy(ix);
}

/* ---- persistence ------------------------------------------------------------------ */
/*
 * After the io.h header: str component name, str build params ("k=v;..."),
 * u32 metric, u32 dim, u32 n, the index payload (ops->save), the search store
 * (cn_store_save), u32 rerank flag (0 none, 1 = the search store, 2 = a
 * separate store follows).
 */

cn_status_t cn_index_save(const cn_index_t *ix, const char *path, char *err, size_t errlen) {
    if (!ix->store)
        return cn_error(err, errlen, CN_EINVAL, "%s: index '%s' is not built", path,
                        index_name(ix));
    cn_writer_t w;
    cn_status_t st = cn_writer_open(&w, path, err, errlen);
    if (st != CN_OK) return st;
    cn_write_str(&w, index_name(ix));
    cn_write_str(&w, ix->build_params ? ix->build_params : "");
    cn_write_u32(&w, (uint32_t)ix->metric);
    cn_write_u32(&w, ix->dim);
    cn_write_u32(&w, ix->n);
    ix->ops->save(ix, &w);
    cn_store_save(ix->store, &w);
    if (!ix->rerank_store) {
        cn_write_u32(&w, 0);
    } else if (ix->rerank_store == ix->store) {
        cn_write_u32(&w, 1);
    } else {
        cn_write_u32(&w, 2);
        cn_store_save(ix->rerank_store, &w);
    }
    return cn_writer_close(&w, err, errlen);
}

/* Parses "k=v;k=v" (as written by cn_params_format) in place in buf. */
static cn_status_t parse_params(char *buf, cn_param_t *items, size_t *n) {
    *n = 0;
    char *p = buf;
    while (*p) {
        char *end = strchr(p, ';');
        if (end) *end = '\0';
        char *eq = strchr(p, '=');
        if (!eq || eq == p || *n == MAX_PARAMS) return CN_EFORMAT;
        *eq = '\0';
        cn_param_t *it = &items[(*n)++];
        memset(it, 0, sizeof *it);
        it->key = p;
        const char *v = eq + 1;
        char *e;
        long long iv = strtoll(v, &e, 10);
        if (*v && *e == '\0') {
            it->type = CN_PARAM_INT;
            it->i = iv;
            it->f = (double)iv;
        } else {
            double fv = strtod(v, &e);
            if (*v && *e == '\0') {
                it->type = CN_PARAM_FLOAT;
                it->f = fv;
            } else {
                it->type = CN_PARAM_STRING;
                it->s = v;
            }
        }
        if (!end) break;
        p = end + 1;
    }
    return CN_OK;
}

static cn_status_t load_store_checked(cn_store_t **out, cn_reader_t *r, const cn_index_t *ix,
                                      const char *role, char *err, size_t errlen) {
    cn_status_t st = cn_store_load(out, r, err, errlen);
    if (st != CN_OK) return st;
    const cn_store_t *s = *out;
    if (s->n != ix->n || s->dim != ix->dim || s->metric != ix->metric) {
        cn_error(err, errlen, CN_EFORMAT,
                 "%s: %s store (%u x %u, %s) does not match the index (%u x %u, %s)", r->path,
                 role, s->n, s->dim, cn_metric_name(s->metric), ix->n, ix->dim,
                 cn_metric_name(ix->metric));
        cn_store_release(*out);
        *out = NULL;
        return CN_EFORMAT;
    }
    return CN_OK;
}

/* The index type's spec of build parameter `key`, or NULL. */
static const cn_param_spec_t *build_spec(const cn_component_t *c, const char *key) {
    for (size_t i = 0; i < c->n_params; i++)
        if (!strcmp(c->params[i].name, key) && c->params[i].role == CN_ROLE_BUILD)
            return &c->params[i];
    return NULL;
}

static cn_status_t structure_params(const cn_component_t *c, const char *params, char *buf,
                                    size_t buflen) {
    if (buflen) buf[0] = '\0';
    char *copy = cn_strdup(params ? params : "");
    if (!copy) return CN_ENOMEM;
    cn_param_t items[MAX_PARAMS];
    size_t n = 0, used = 0;
    cn_status_t st = parse_params(copy, items, &n);
    /* the "k=v" pieces of params are re-joined from the original text */
    const char *p = params ? params : "";
    for (size_t i = 0; st == CN_OK && i < n; i++) {
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const cn_param_spec_t *sp = build_spec(c, items[i].key);
        if (!(sp && (sp->flags & CN_PARAM_F_DERIVED))) {
            if (used + (used ? 1 : 0) + len + 1 > buflen) {
                st = CN_EINVAL;
                break;
            }
            if (used) buf[used++] = ';';
            memcpy(buf + used, p, len);
            used += len;
            buf[used] = '\0';
        }
        p = end ? end + 1 : p + len;
    }
    cn_free(copy);
    return st;
}

cn_status_t cn_index_structure_params(const char *index, const char *params, char *buf,
                                      size_t buflen) {
    const cn_component_t *c = cn_registry_find(index, CN_COMPONENT_INDEX);
    if (!c) {
        if (buflen) buf[0] = '\0';
        return CN_EINVAL;
    }
    return structure_params(c, params, buf, buflen);
}

static cn_status_t load_impl(cn_index_t **out, const char *path, const char *as, char *err,
                             size_t errlen);

cn_status_t cn_index_load(cn_index_t **out, const char *path, char *err, size_t errlen) {
    return load_impl(out, path, NULL, err, errlen);
}

cn_status_t cn_index_load_as(cn_index_t **out, const char *path, const char *build_params,
                             char *err, size_t errlen) {
    return load_impl(out, path, build_params, err, errlen);
}

static cn_status_t load_impl(cn_index_t **out, const char *path, const char *as, char *err,
                             size_t errlen) {
    *out = NULL;
    cn_reader_t r;
    cn_status_t st = cn_reader_open(&r, path, err, errlen);
    if (st != CN_OK) return st;
    cn_index_t *ix = NULL;
    char *name = cn_read_str(&r, MAX_NAME_LEN);
    char *pstr = name ? cn_read_str(&r, MAX_PARAMS_LEN) : NULL;
    uint32_t metric = cn_read_u32(&r), dim = cn_read_u32(&r), n = cn_read_u32(&r);
    if (!name || !pstr || r.st != CN_OK) {
        st = cn_error(err, errlen, CN_EFORMAT, "%s: truncated or malformed index header", path);
        goto done;
    }
    if (metric > CN_METRIC_COSINE || dim == 0) {
        st = cn_error(err, errlen, CN_EFORMAT, "%s: invalid metric %u or dimension %u", path,
                      metric, dim);
        goto done;
    }
    const cn_component_t *c = cn_registry_find(name, CN_COMPONENT_INDEX);
    if (!c) {
        st = cn_error(err, errlen, CN_EFORMAT, "%s: index type '%s' is not in this build", path,
                      name);
        goto done;
    }
    if (as && strcmp(as, pstr) != 0) {
        char a[MAX_PARAMS_LEN], b[MAX_PARAMS_LEN];
        cn_status_t sa = structure_params(c, as, a, sizeof a);
        cn_status_t sb = structure_params(c, pstr, b, sizeof b);
        if (sa != CN_OK || sb != CN_OK || strcmp(a, b) != 0) {
            st = cn_error(err, errlen, CN_EINVAL,
                          "%s: saved with build parameters '%s'; they differ from '%s' in more "
                          "than derived parameters",
                          path, pstr, as);
            goto done;
        }
        char *t = cn_strdup(as);
        if (!t) {
            st = cn_error(err, errlen, CN_ENOMEM, "out of memory");
            goto done;
        }
        cn_free(pstr);
        pstr = t;
    }
    {
        char *pbuf = cn_strdup(pstr);
        cn_param_t items[MAX_PARAMS];
        cn_params_t bp = {items, 0};
        if (!pbuf) {
            st = cn_error(err, errlen, CN_ENOMEM, "out of memory");
            goto done;
        }
        if (parse_params(pbuf, items, &bp.n) != CN_OK) {
            cn_free(pbuf);
            st = cn_error(err, errlen, CN_EFORMAT, "%s: malformed build parameters '%s'", path,
                          pstr);
            goto done;
        }
        char e2[400];
        st = make_index(&ix, c, (cn_metric_t)metric, dim, &bp, e2, sizeof e2);
        cn_free(pbuf);
        if (st != CN_OK) {
            st = cn_error(err, errlen, CN_EFORMAT, "%s: %s", path, e2);
            goto done;
        }
    }
    ix->n = n;
    st = ix->ops->load(ix, &r, err, errlen);
    if (st != CN_OK) goto done;
    if (ix->n != n) {
        st = cn_error(err, errlen, CN_EFORMAT, "%s: index holds %u vectors, header says %u", path,
                      ix->n, n);
        goto done;
    }
    st = load_store_checked(&ix->store, &r, ix, "search", err, errlen);
    if (st != CN_OK) goto done;
    uint32_t flag = cn_read_u32(&r);
    if (r.st != CN_OK || flag > 2) {
        st = cn_error(err, errlen, CN_EFORMAT, "%s: malformed rerank section", path);
        goto done;
    }
    if (flag == 1) ix->rerank_store = cn_store_retain(ix->store);
    if (flag == 2) {
        st = load_store_checked(&ix->rerank_store, &r, ix, "rerank", err, errlen);
        if (st != CN_OK) goto done;
    }
    if (cn_reader_remaining(&r) != 0) {
        st = cn_error(err, errlen, CN_EFORMAT, "%s: %llu unexpected bytes after the index", path,
                      (unsigned long long)cn_reader_remaining(&r));
        goto done;
    }
    if (ix->ops->bind) st = ix->ops->bind(ix, err, errlen);
done:
    cn_free(name);
    cn_free(pstr);
    cn_reader_close(&r);
    if (st != CN_OK) {
        cn_index_destroy(ix);
        return st == CN_OK ? CN_EFORMAT : st;
    }
    *out = ix;
    return CN_OK;
}
