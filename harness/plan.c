/*
 * harness/plan.c — expands an experiment into build points and search
 * points and checks them against the dataset's shape (see plan.h).
 *
 * Every check here is cheap: components are created from the registry with
 * the dataset's dimension and metric and destroyed again (creating trains or
 * allocates nothing), so a config mistake that needs the data's shape is
 * reported by `--dry-run`, with the file and the algorithm's line, before an
 * hour of building.
 */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

#include "cannoli/cannoli.h"

static int has_param(const cn_component_t *c, const char *name) {
    for (size_t i = 0; c && i < c->n_params; i++)
        if (strcmp(c->params[i].name, name) == 0) return 1;
    return 0;
}

int cn_point_make(cn_point_t *p, const cn_grid_t *g, size_t index, const cn_component_t *c,
                  uint64_t seed, char *err, size_t errlen) {
    if (g->naxes + 1 > CN_POINT_MAX_PARAMS) {
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
    if (cn_params_format(&ps, p->text, sizeof p->text) >= sizeof p->text) {
        cn_error(err, errlen, CN_EINVAL, "parameters too long: %.60s...", p->text);
        return -1;
    }
    return 0;
}

static int axis_line(const cn_grid_t *g, const char *key, int def) {
    for (size_t x = 0; x < g->naxes; x++)
        if (strcmp(g->axes[x].key, key) == 0) return g->axes[x].line;
    return def;
}

/* Creates (and destroys) the quantizer and the index of one build point
 * with the dataset's shape; sets lossy / on_quantized. */
static int check_components(const cn_experiment_t *exp, const cn_plan_shape_t *shape,
                            cn_build_point_t *b, char *err, size_t errlen) {
    const cn_algo_cfg_t *a = b->algo;
    char e2[600];
    cn_quantizer_t *q = NULL;
    cn_params_t qps = {b->qp.items, b->qp.n}, bps = {b->bp.items, b->bp.n};
    if (cn_quantizer_create(&q, a->quantizer, shape->metric, shape->dim, &qps, e2, sizeof e2) !=
        CN_OK) {
        cn_error(err, errlen, CN_EINVAL, "%s:%d: algorithm '%s': quantizer %s {%s} on %s (dim %u, %s): %s",
                 exp->path, a->qparams.naxes ? a->qparams.axes[0].line : a->line, a->name,
                 a->quantizer,
                 b->qp.text, shape->dataset, shape->dim, cn_metric_name(shape->metric), e2);
        return -1;
    }
    b->lossy = !q->identity;
    cn_quantizer_destroy(q);
    cn_index_t *ix = NULL;
    if (cn_index_create(&ix, a->index, shape->metric, shape->dim, &bps, e2, sizeof e2) != CN_OK) {
        cn_error(err, errlen, CN_EINVAL, "%s:%d: algorithm '%s': index %s {%s} on %s (dim %u, %s): %s",
                 exp->path, a->line, a->name, a->index, b->bp.text, shape->dataset, shape->dim,
                 cn_metric_name(shape->metric), e2);
        return -1;
    }
    cn_index_destroy(ix);
    b->on_quantized =
        b->lossy && strcmp(cn_params_str(&bps, "build_on", "original"), "quantized") == 0;
    return 0;
}

static int plan_search(const cn_experiment_t *exp, const cn_plan_shape_t *shape,
                       const cn_done_set_t *done, cn_build_point_t *b, char *err,
                       size_t errlen) {
    const cn_algo_cfg_t *a = b->algo;
    const cn_component_t *ic = cn_registry_find(a->index, CN_COMPONENT_INDEX);
    size_t ns = cn_grid_size(&a->search), nt = exp->nthread_counts;
    b->nsearch = ns * nt;
    b->search = cn_calloc(b->nsearch, sizeof *b->search);
    if (!b->search) {
        cn_error(err, errlen, CN_ENOMEM, "out of memory for the plan");
        return -1;
    }
    char kbuf[16], tbuf[16];
    snprintf(kbuf, sizeof kbuf, "%d", exp->k);
    for (size_t ti = 0; ti < nt; ti++) {
        snprintf(tbuf, sizeof tbuf, "%d", exp->thread_counts[ti]);
        for (size_t si = 0; si < ns; si++) {
            cn_search_point_t *s = &b->search[ti * ns + si];
            s->threads = exp->thread_counts[ti];
            if (cn_point_make(&s->p, &a->search, si, NULL, 0, err, errlen)) return -1;
            cn_params_t sps = {s->p.items, s->p.n};
            if (cn_params_int(&sps, "rerank", 0) > 0 && !b->lossy) {
                cn_error(err, errlen, CN_EINVAL,
                         "%s:%d: algorithm '%s': 'rerank' needs a lossy quantizer: %s {%s} "
                         "already searches the full-precision vectors",
                         exp->path, axis_line(&a->search, "rerank", a->line), a->name,
                         a->quantizer, b->qp.text);
                return -1;
            }
            const char *which = NULL;
            char why[160];
            if (cn_index_check_search(ic, &sps, (size_t)exp->k, &which, why, sizeof why) !=
                CN_OK) {
                /* With a k list, a pool too small for this k is skipped (the
                 * config refused those too small for every k). */
                int k_skip = which && exp->nks > 1 && strcmp(which, "k") == 0;
                if (!which || (strcmp(which, "rerank") != 0 && !k_skip)) {
                    cn_error(err, errlen, CN_EINVAL, "%s:%d: algorithm '%s' search {%s}: %s",
                             exp->path, a->line, a->name, s->p.text, why);
                    return -1;
                }
                snprintf(s->skip, sizeof s->skip, "%s", why);
                continue;
            }
            const char *f[] = {shape->dataset, a->name, b->qp.text, b->bp.text,
                               s->p.text,      kbuf,    tbuf};
            s->done = cn_done_has(done, f);
            if (!s->done) b->todo++;
        }
    }
    return 0;
}

/* 1 when `name` is one of the comma-separated names of `only`. */
static int listed(const char *only, const char *name) {
    size_t n = strlen(name);
    for (const char *p = only; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, name, n) == 0) return 1;
        p += len + (p[len] == ',');
    }
    return 0;
}

int cn_plan_make(cn_plan_t *plan, const cn_experiment_t *exp, const cn_plan_shape_t *shape,
                 const cn_done_set_t *done, const char *only, char *err, size_t errlen) {
    memset(plan, 0, sizeof *plan);
    for (const char *p = only; p && *p;) {
        size_t len = strcspn(p, ",");
        int known = 0;
        for (size_t ai = 0; ai < exp->nalgos; ai++)
            known |= strlen(exp->algos[ai].name) == len && !strncmp(p, exp->algos[ai].name, len);
        if (!known) {
            cn_error(err, errlen, CN_EINVAL, "%s: --only names '%.*s', which is not an algorithm "
                     "of this config", exp->path, (int)len, p);
            return -1;
        }
        p += len + (p[len] == ',');
    }
    size_t total = 0;
    for (size_t ai = 0; ai < exp->nalgos; ai++)
        total += cn_grid_size(&exp->algos[ai].qparams) * cn_grid_size(&exp->algos[ai].build);
    plan->points = cn_calloc(total ? total : 1, sizeof *plan->points);
    if (!plan->points) {
        cn_error(err, errlen, CN_ENOMEM, "out of memory for the plan");
        return -1;
    }
    for (size_t ai = 0; ai < exp->nalgos; ai++) {
        const cn_algo_cfg_t *a = &exp->algos[ai];
        if (only && !listed(only, a->name)) continue;
        const cn_component_t *qc = cn_registry_find(a->quantizer, CN_COMPONENT_QUANTIZER);
        const cn_component_t *ic = cn_registry_find(a->index, CN_COMPONENT_INDEX);
        size_t nq = cn_grid_size(&a->qparams), nb = cn_grid_size(&a->build);
        for (size_t qi = 0; qi < nq; qi++) {
            for (size_t bi = 0; bi < nb; bi++) {
                cn_build_point_t *b = &plan->points[plan->n++];
                b->algo = a;
                if (cn_point_make(&b->qp, &a->qparams, qi, qc, exp->seed, err, errlen) ||
                    cn_point_make(&b->bp, &a->build, bi, ic, exp->seed, err, errlen) ||
                    check_components(exp, shape, b, err, errlen) ||
                    plan_search(exp, shape, done, b, err, errlen)) {
                    cn_plan_free(plan);
                    return -1;
                }
                for (size_t s = 0; s < b->nsearch; s++) {
                    if (b->search[s].skip[0]) plan->nskipped++;
                    else if (b->search[s].done) plan->ndone++;
                }
                plan->ntodo += b->todo;
            }
        }
    }
    return 0;
}

void cn_plan_free(cn_plan_t *plan) {
    for (size_t i = 0; plan->points && i < plan->n; i++) cn_free(plan->points[i].search);
    cn_free(plan->points);
    memset(plan, 0, sizeof *plan);
}

void cn_plan_print(const cn_plan_t *plan, FILE *out) {
    for (size_t i = 0; i < plan->n; i++) {
        const cn_build_point_t *b = &plan->points[i];
        const cn_algo_cfg_t *a = b->algo;
        fprintf(out, "%-24s quantizer %s{%s} build {%s}%s: %zu search points, %zu to run\n",
                a->name, a->quantizer, b->qp.text, b->bp.text,
                b->on_quantized ? " on the codes" : "", b->nsearch, b->todo);
        for (size_t s = 0; s < b->nsearch; s++)
            if (b->search[s].skip[0])
                fprintf(out, "%-24s   skipped search {%s}: %s\n", a->name, b->search[s].p.text,
                        b->search[s].skip);
    }
}

void cn_plan_key(const cn_build_point_t *b, const cn_search_point_t *s, const char *dataset,
                 int k, const char *f[7], char kbuf[16], char tbuf[16]) {
    snprintf(kbuf, 16, "%d", k);
    snprintf(tbuf, 16, "%d", s->threads);
    f[0] = dataset;
    f[1] = b->algo->name;
    f[2] = b->qp.text;
    f[3] = b->bp.text;
    f[4] = s->p.text;
    f[5] = kbuf;
    f[6] = tbuf;
}

size_t cn_plan_mark_done(cn_plan_t *plan, size_t i, const cn_done_set_t *done,
                         const char *dataset, int k) {
    cn_build_point_t *b = &plan->points[i];
    size_t marked = 0;
    for (size_t si = 0; si < b->nsearch; si++) {
        cn_search_point_t *s = &b->search[si];
        if (s->done || s->skip[0]) continue;
        const char *f[7];
        char kb[16], tb[16];
        cn_plan_key(b, s, dataset, k, f, kb, tb);
        if (cn_done_has(done, f)) {
            s->done = 1;
            b->todo--;
            plan->ntodo--;
            plan->ndone++;
            marked++;
        }
    }
    return marked;
}
