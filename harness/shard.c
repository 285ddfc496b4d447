/*
 * harness/shard.c — the cost model and the longest-processing-time-first
 * assignment of build points to shards (see shard.h for the model).
 *
 * LPT (Graham 1969) is within 4/3 of the optimal makespan; with the cost
 * estimate only a model of the real times, an exact partition would buy
 * nothing. What matters more is that it is deterministic: integers and
 * products of the same doubles, a total order on ties, no dependence on the
 * results file or the clock.
 */
#include "shard.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cannoli/cannoli.h"
#include "dataset.h"

/* ---- --shard K/N | auto -------------------------------------------------------- */

static int env_long(const char *name, long def, long *out, char *err, size_t errlen) {
    const char *v = getenv(name);
    if (!v || !*v) {
        if (def < 0) {
            cn_error(err, errlen, CN_EINVAL,
                     "--shard auto: %s is not set (run it as a task of a Slurm job array, "
                     "or give --shard K/N)",
                     name);
            return -1;
        }
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (*end || errno || x < 0 || x > 100000000) {
        cn_error(err, errlen, CN_EINVAL, "--shard auto: %s = '%s' is not a task number", name, v);
        return -1;
    }
    *out = x;
    return 0;
}

int cn_shard_parse(const char *text, cn_shard_sel_t *out, char *err, size_t errlen) {
    out->k = out->n = 0;
    if (strcmp(text, "auto") == 0) {
        long id, count, min, step;
        if (env_long("SLURM_ARRAY_TASK_ID", -1, &id, err, errlen) ||
            env_long("SLURM_ARRAY_TASK_COUNT", -1, &count, err, errlen) ||
            env_long("SLURM_ARRAY_TASK_MIN", 0, &min, err, errlen) ||
            env_long("SLURM_ARRAY_TASK_STEP", 1, &step, err, errlen))
            return -1;
        if (step < 1) step = 1;
        if (count < 1 || count > CN_SHARD_MAX || id < min || (id - min) % step != 0 ||
            (id - min) / step >= count) {
            cn_error(err, errlen, CN_EINVAL,
                     "--shard auto: task %ld of an array of %ld from %ld step %ld is not a shard "
                     "(SLURM_ARRAY_TASK_ID/_COUNT/_MIN/_STEP)",
                     id, count, min, step);
            return -1;
        }
        out->k = (int)((id - min) / step + 1);
        out->n = (int)count;
        return 0;
    }
    char *end;
    errno = 0;
    long k = strtol(text, &end, 10);
    long n = -1;
    if (end != text && *end == '/') {
        const char *s = end + 1;
        n = strtol(s, &end, 10);
        if (end == s) n = -1;
    }
    if (errno || *end || n < 1 || n > CN_SHARD_MAX || k < 1 || k > n) {
        cn_error(err, errlen, CN_EINVAL,
                 "--shard '%s': expected K/N with 1 <= K <= N <= %d, or 'auto'", text,
                 CN_SHARD_MAX);
        return -1;
    }
    out->k = (int)k;
    out->n = (int)n;
    return 0;
}

/* ---- the cost model ---------------------------------------------------------------- */

static const cn_param_spec_t *spec_of(const cn_component_t *c, const char *key) {
    for (size_t i = 0; c && i < c->n_params; i++)
        if (strcmp(c->params[i].name, key) == 0) return &c->params[i];
    return NULL;
}

static int has(const cn_point_t *p, const cn_component_t *c, const char *key) {
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->items[i].key, key) == 0) return 1;
    return spec_of(c, key) != NULL;
}

/* The point's value of key, else the schema's default, else def. */
static double num(const cn_point_t *p, const cn_component_t *c, const char *key, double def) {
    for (size_t i = 0; i < p->n; i++) {
        const cn_param_t *x = &p->items[i];
        if (strcmp(x->key, key) != 0) continue;
        if (x->type == CN_PARAM_INT) return (double)x->i;
        if (x->type == CN_PARAM_FLOAT) return x->f;
        return def;
    }
    const cn_param_spec_t *s = spec_of(c, key);
    if (s && s->def && s->type != CN_PARAM_STRING) {
        char *end;
        double v = strtod(s->def, &end);
        if (end != s->def && !*end) return v;
    }
    return def;
}

/* The point's string value of key, else the schema's default, else def. */
static const char *str(const cn_point_t *p, const cn_component_t *c, const char *key,
                       const char *def) {
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->items[i].key, key) == 0)
            return p->items[i].type == CN_PARAM_STRING && p->items[i].s ? p->items[i].s : def;
    const cn_param_spec_t *s = spec_of(c, key);
    return s && s->def && s->type == CN_PARAM_STRING ? s->def : def;
}

/* What kind of structure the index builds. A baseline with a `type` or a
 * Faiss `factory` string says it there (Faiss's schema has M, nlist and pq_m
 * whatever the type); otherwise M means a graph, nlist inverted lists. */
typedef struct kind {
    int graph, ivf, pq;
} kind_t;

static kind_t kind_of(const cn_build_point_t *b, const cn_component_t *ic) {
    kind_t k = {0, 0, 0};
    const char *fac = str(&b->bp, ic, "factory", ""), *type = str(&b->bp, ic, "type", "");
    if (*fac) {
        k.graph = strstr(fac, "HNSW") != NULL;
        k.ivf = strstr(fac, "IVF") != NULL;
        k.pq = strstr(fac, "PQ") != NULL;
    } else if (*type) {
        k.graph = strncmp(type, "hnsw", 4) == 0;
        k.ivf = strncmp(type, "ivf", 3) == 0;
        k.pq = strstr(type, "pq") != NULL;
    } else {
        k.graph = has(&b->bp, ic, "M");
        k.ivf = !k.graph && has(&b->bp, ic, "nlist");
    }
    return k;
}

static double kmeans_cost(double train, double w, double nbits, double iters) {
    return train * w * pow(2.0, nbits) * iters;
}

/* The index's structure build: graph, lists, or nothing. */
static double index_cost(const cn_build_point_t *b, const cn_component_t *ic,
                         const cn_shard_shape_t *sh) {
    double n = (double)sh->n, w = sh->w;
    double c;
    kind_t k = kind_of(b, ic);
    if (k.graph)
        c = n * w * num(&b->bp, ic, "ef_construction", 40) * num(&b->bp, ic, "M", 16);
    else if (k.ivf)
        c = n * w * num(&b->bp, ic, "nlist", 1024);
    else
        c = n * w;
    if (k.pq) { /* a baseline training its own PQ (Faiss) */
        double train = fmin(num(&b->bp, ic, "train_size", n), n);
        c += kmeans_cost(train, w, num(&b->bp, ic, "nbits", 8), 25) + n * w;
    }
    return c;
}

/* Training and encoding the point's quantizer (0: lossless). */
static double quantizer_cost(const cn_build_point_t *b, const cn_component_t *qc,
                             const cn_shard_shape_t *sh) {
    if (!b->lossy) return 0;
    double n = (double)sh->n, w = sh->w;
    double train = fmin(num(&b->qp, qc, "train_size", n), n);
    double c = has(&b->qp, qc, "nbits")
                   ? kmeans_cost(train, w, num(&b->qp, qc, "nbits", 8),
                                 num(&b->qp, qc, "iterations", 25))
                   : train * w;
    return c + n * w;
}

/* The whole search sweep of the point. */
static double search_cost(const cn_experiment_t *exp, const cn_build_point_t *b,
                          const cn_component_t *ic, const cn_shard_shape_t *sh) {
    double nq = (double)sh->nq, n = (double)sh->n, w = sh->w;
    double runs = exp->runs > 0 ? exp->runs : 1, k = exp->k > 0 ? exp->k : 10;
    double c = 0;
    kind_t kd = kind_of(b, ic);
    for (size_t si = 0; si < b->nsearch; si++) {
        const cn_search_point_t *s = &b->search[si];
        if (s->skip[0]) continue;
        double per_q;
        if (kd.graph)
            per_q = fmax(num(&s->p, ic, "ef", k), k) * num(&b->bp, ic, "M", 16) * w;
        else if (kd.ivf) {
            double nlist = fmax(num(&b->bp, ic, "nlist", 1024), 1);
            per_q = (nlist + num(&s->p, ic, "nprobe", 1) * n / nlist) * w;
        } else
            per_q = n * w;
        per_q += num(&s->p, NULL, "rerank", 0) * w;
        c += nq * runs * per_q;
    }
    return c;
}

/* Units: build points sharing a full-precision graph (same index and
 * structure parameters, not built on the codes). key[i] is malloc'ed. */
static int graph_key(const cn_build_point_t *b, size_t i, const cn_shard_shape_t *sh, char **key,
                     char *err, size_t errlen) {
    char buf[2400];
    if (b->on_quantized) {
        snprintf(buf, sizeof buf, "#%zu", i); /* built on its own codes: alone */
    } else {
        cn_index_t *ix = NULL;
        cn_params_t bps = {b->bp.items, b->bp.n};
        char e2[600];
        if (cn_index_create(&ix, b->algo->index, sh->metric, sh->dim, &bps, e2, sizeof e2) !=
            CN_OK) {
            cn_error(err, errlen, CN_EINVAL, "algorithm '%s' {%s}: %s", b->algo->name,
                     b->bp.text, e2);
            return -1;
        }
        char structure[2048]; /* derived parameters (HNSW layout, order) aside */
        if (cn_index_structure_params(b->algo->index, ix->build_params, structure,
                                      sizeof structure) != CN_OK)
            snprintf(structure, sizeof structure, "%s", ix->build_params);
        snprintf(buf, sizeof buf, "%s\x1f%s", b->algo->index, structure);
        cn_index_destroy(ix);
    }
    *key = cn_strdup(buf);
    if (!*key) {
        cn_error(err, errlen, CN_ENOMEM, "out of memory");
        return -1;
    }
    return 0;
}

void cn_shard_assign_free(cn_shard_assign_t *a) {
    cn_free(a->unit);
    cn_free(a->shard);
    cn_free(a->cost);
    cn_free(a->ucost);
    cn_free(a->load);
    memset(a, 0, sizeof *a);
}

static const double *g_ucost; /* qsort's context (assignment is not reentrant) */

static int by_cost_desc(const void *x, const void *y) {
    size_t u = *(const size_t *)x, v = *(const size_t *)y;
    if (g_ucost[u] > g_ucost[v]) return -1;
    if (g_ucost[u] < g_ucost[v]) return 1;
    return u < v ? -1 : u > v;
}

int cn_shard_assign(cn_shard_assign_t *a, const cn_plan_t *plan, const cn_experiment_t *exp,
                    const cn_shard_shape_t *shape, size_t nshards, char *err, size_t errlen) {
    memset(a, 0, sizeof *a);
    size_t np = plan->n;
    char **keys = NULL;
    double *gcost = NULL;
    size_t *order = NULL;
    int rc = -1;
    if (nshards < 1 || nshards > CN_SHARD_MAX) {
        cn_error(err, errlen, CN_EINVAL, "--shards must be in [1, %d]", CN_SHARD_MAX);
        return -1;
    }
    a->nshards = nshards;
    a->npoints = np;
    size_t cap = np ? np : 1;
    a->unit = cn_calloc(cap, sizeof *a->unit);
    a->shard = cn_calloc(cap, sizeof *a->shard);
    a->cost = cn_calloc(cap, sizeof *a->cost);
    a->ucost = cn_calloc(cap, sizeof *a->ucost);
    a->load = cn_calloc(nshards, sizeof *a->load);
    keys = cn_calloc(cap, sizeof *keys);
    gcost = cn_calloc(cap, sizeof *gcost);
    order = cn_calloc(cap, sizeof *order);
    if (!a->unit || !a->shard || !a->cost || !a->ucost || !a->load || !keys || !gcost || !order) {
        cn_error(err, errlen, CN_ENOMEM, "out of memory for the shard plan");
        goto out;
    }
    for (size_t i = 0; i < np; i++) {
        const cn_build_point_t *b = &plan->points[i];
        const cn_component_t *ic = cn_registry_find(b->algo->index, CN_COMPONENT_INDEX);
        const cn_component_t *qc = cn_registry_find(b->algo->quantizer, CN_COMPONENT_QUANTIZER);
        if (graph_key(b, i, shape, &keys[i], err, errlen)) goto out;
        double g = index_cost(b, ic, shape);
        a->cost[i] = quantizer_cost(b, qc, shape) + search_cost(exp, b, ic, shape);
        size_t u = 0;
        while (u < a->nunits && strcmp(keys[order[u]], keys[i]) != 0) u++;
        if (u == a->nunits) { /* a new unit; order[u] = its first point */
            order[u] = i;
            gcost[u] = g;
            a->nunits++;
        }
        a->unit[i] = u;
        a->ucost[u] += a->cost[i];
    }
    for (size_t u = 0; u < a->nunits; u++) {
        a->ucost[u] += gcost[u];
        a->total += a->ucost[u];
        order[u] = u;
    }
    g_ucost = a->ucost;
    qsort(order, a->nunits, sizeof *order, by_cost_desc);
    int *ushard = (int *)gcost; /* reuse: nunits ints fit in nunits doubles */
    for (size_t j = 0; j < a->nunits; j++) {
        size_t u = order[j], best = 0;
        for (size_t s = 1; s < nshards; s++)
            if (a->load[s] < a->load[best]) best = s;
        a->load[best] += a->ucost[u];
        ushard[u] = (int)best + 1;
    }
    for (size_t i = 0; i < np; i++) a->shard[i] = ushard[a->unit[i]];
    rc = 0;
out:
    for (size_t i = 0; keys && i < np; i++) cn_free(keys[i]);
    cn_free(keys);
    cn_free(gcost);
    cn_free(order);
    if (rc) cn_shard_assign_free(a);
    return rc;
}

size_t cn_shard_makespan(const cn_shard_assign_t *a) {
    size_t best = 0;
    for (size_t s = 1; s < a->nshards; s++)
        if (a->load[s] > a->load[best]) best = s;
    return best;
}

void cn_shard_keep(cn_plan_t *plan, const cn_shard_assign_t *a, int k) {
    size_t j = 0;
    plan->ndone = plan->ntodo = plan->nskipped = 0;
    for (size_t i = 0; i < plan->n; i++) {
        cn_build_point_t *b = &plan->points[i];
        if (a->shard[i] != k) {
            cn_free(b->search);
            continue;
        }
        for (size_t s = 0; s < b->nsearch; s++) {
            if (b->search[s].skip[0]) plan->nskipped++;
            else if (b->search[s].done) plan->ndone++;
        }
        plan->ntodo += b->todo;
        if (j != i) plan->points[j] = *b;
        j++;
    }
    plan->n = j;
}

static double pct(double x, double total) { return total > 0 ? 100.0 * x / total : 0; }

void cn_shard_print(const cn_shard_assign_t *a, const cn_plan_t *plan, FILE *out) {
    for (size_t s = 0; s < a->nshards; s++) {
        size_t npts = 0;
        for (size_t i = 0; i < a->npoints; i++) npts += a->shard[i] == (int)s + 1;
        fprintf(out, "shard %zu/%zu: %5.1f%% of the estimated cost, %zu build point%s\n", s + 1,
                a->nshards, pct(a->load[s], a->total), npts, npts == 1 ? "" : "s");
        for (size_t u = 0; u < a->nunits; u++) {
            int first = 1;
            for (size_t i = 0; i < a->npoints; i++) {
                if (a->unit[i] != u || a->shard[i] != (int)s + 1) continue;
                const cn_build_point_t *b = &plan->points[i];
                fprintf(out, "  %s %-22s %s{%s} build {%s}%s", first ? "-" : "+", b->algo->name,
                        b->algo->quantizer, b->qp.text, b->bp.text,
                        b->on_quantized ? " on the codes" : "");
                if (first) fprintf(out, "  %5.1f%%", pct(a->ucost[u], a->total));
                else fprintf(out, "  (same graph)");
                fprintf(out, "\n");
                first = 0;
            }
        }
    }
    if (a->nshards == 0) return;
    size_t m = cn_shard_makespan(a);
    double ideal = a->total / (double)a->nshards;
    fprintf(out,
            "expected makespan: shard %zu, %.1f%% of the sequential run (ideal %.1f%%: "
            "%.2f x ideal); %zu build point%s in %zu unit%s (points marked + share the graph "
            "above them)\n",
            m + 1, pct(a->load[m], a->total), pct(ideal, a->total),
            ideal > 0 ? a->load[m] / ideal : 1.0, a->npoints, a->npoints == 1 ? "" : "s",
            a->nunits, a->nunits == 1 ? "" : "s");
}

static void shape_of(const cn_dataset_t *ds, cn_shard_shape_t *sh) {
    sh->n = ds->n_train;
    sh->nq = ds->n_test;
    sh->dim = ds->dim;
    sh->metric = ds->metric;
    sh->w = ds->dim;
    if (ds->sparse && ds->n_train)
        sh->w = fmax(1.0, (double)ds->strain.indptr[ds->n_train] / (double)ds->n_train);
}

int cn_shard_plan_cmd(const cn_experiment_t *exp, size_t nshards, const char *only, FILE *out,
                      char *err, size_t errlen) {
    cn_dataset_t ds = {0};
    cn_plan_t plan = {0};
    cn_shard_assign_t a = {0};
    int rc = -1;
    int threads = exp->build_threads > 0 ? exp->build_threads : omp_get_max_threads();
    if (cn_dataset_open(&ds, &exp->dataset, threads, err, errlen)) return -1;
    cn_plan_shape_t pshape = {ds.name, ds.dim, ds.metric};
    cn_shard_shape_t sh;
    shape_of(&ds, &sh);
    if (cn_plan_make(&plan, exp, &pshape, NULL, only, err, errlen)) goto out;
    if (cn_shard_assign(&a, &plan, exp, &sh, nshards, err, errlen)) goto out;
    fprintf(out, "%s on %s (%u vectors x %u, %u queries): %zu build point%s over %zu shard%s\n",
            exp->name, ds.name, ds.n_train, ds.dim, ds.n_test, plan.n, plan.n == 1 ? "" : "s",
            nshards, nshards == 1 ? "" : "s");
    cn_shard_print(&a, &plan, out);
    rc = 0;
out:
    cn_shard_assign_free(&a);
    cn_plan_free(&plan);
    cn_dataset_free(&ds);
    return rc;
}

void cn_shard_shape_of(const cn_dataset_t *ds, cn_shard_shape_t *sh) { shape_of(ds, sh); }

int cn_shard_plan_main(int argc, char **argv, char *err, size_t errlen) {
    const char *cfg = NULL, *only = NULL;
    long n = 1;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--shards") && i + 1 < argc) {
            char *end;
            errno = 0;
            n = strtol(argv[++i], &end, 10);
            if (errno || *end || end == argv[i] || n < 1 || n > CN_SHARD_MAX) {
                cn_error(err, errlen, CN_EINVAL, "plan: --shards must be an integer in [1, %d]",
                         CN_SHARD_MAX);
                return 2;
            }
        } else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
            only = argv[++i];
        } else if (argv[i][0] == '-') {
            cn_error(err, errlen, CN_EINVAL, "plan: unknown option or missing value '%s'",
                     argv[i]);
            return 2;
        } else if (!cfg) {
            cfg = argv[i];
        } else {
            cn_error(err, errlen, CN_EINVAL, "plan: only one CONFIG file");
            return 2;
        }
    }
    if (!cfg) {
        cn_error(err, errlen, CN_EINVAL, "plan: missing CONFIG.yaml");
        return 2;
    }
    cn_experiment_t exp;
    if (cn_config_load(&exp, cfg, err, errlen)) return 1;
    int rc = cn_shard_plan_cmd(&exp, (size_t)n, only, stdout, err, errlen) ? 1 : 0;
    cn_config_free(&exp);
    if (rc == 0 && fflush(stdout) != 0) {
        cn_error(err, errlen, CN_EIO, "<stdout>: write failed: %s", strerror(errno));
        rc = 1;
    }
    return rc;
}
