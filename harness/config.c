/*
 * harness/config.c — loading and validating a YAML experiment file.
 *
 * What. cn_config_load() turns an experiment file (format in config.h and
 * ../shared/DESIGN.md, "The contract users and scripts rely on") into a
 * cn_experiment_t whose every field has been checked, so that the runner
 * never discovers a typo after an hour of index building.
 *
 * How. libyaml's document API (yaml_parser_load) builds the node graph of the
 * first document; we then walk it with a fixed-key reader per map (top level,
 * dataset, algorithm, quantizer) and a free-key reader for parameter maps
 * (build, search, quantizer parameters). libyaml itself accepts duplicate
 * keys, so every map is first checked for scalar, unique keys. Scalars are
 * typed the way a user reads them: an integer literal is CN_PARAM_INT, a
 * float literal CN_PARAM_FLOAT, anything else (including quoted numbers and
 * true/false) CN_PARAM_STRING. A list value is a grid axis; each of its
 * values is validated on its own against the component's schema with
 * cn_params_validate() (so "ef: [10, -1]" points at the -1). Because the
 * validator also insists on required parameters, each single value is
 * validated together with a synthetic in-range value for every *other*
 * required parameter of that role; whether the required ones are present at
 * all is checked separately afterwards. The generic index parameters
 * (`build_on`, `rerank`: cn_index_generic_params in the library) are checked
 * against their own schema, and k against every result-pool parameter
 * (ef >= k: cn_index_check_search).
 *
 * Errors. Every message is "FILE:LINE: what is wrong", LINE 1-based from the
 * offending node's start mark (libyaml marks are 0-based). Syntax errors carry
 * libyaml's own problem text and line.
 *
 * Invariants. On failure nothing is left allocated and *exp is zeroed: the
 * experiment is built in a local, released with cn_config_free() on any
 * error, and every container is zero-initialised before it is filled so the
 * free walks only what exists. All our allocations go through cn_malloc & co
 * (libyaml's own allocations are released by yaml_document_delete /
 * yaml_parser_delete on every path).
 */
#include "config.h"
#include "dataset.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "cannoli/common.h"
#include "cannoli/registry.h"

typedef struct ctx {
    const char *path;
    yaml_document_t *doc;
    char *err;
    size_t errlen;
    int k; /* the experiment's k, known before the algorithms are parsed */
} ctx_t;

static const char *const top_keys[] = {"name", "description", "dataset",       "k",
                                       "runs", "threads",     "build_threads", "seed",
                                       "algorithms", "plots"};
enum { T_NAME, T_DESC, T_DATASET, T_K, T_RUNS, T_THREADS, T_BTHREADS, T_SEED, T_ALGOS, T_PLOTS,
       T_N };

static const char *const algo_keys[] = {"name", "index", "quantizer", "build", "search"};
enum { A_NAME, A_INDEX, A_QUANT, A_BUILD, A_SEARCH, A_N };

static const char *const ds_keys[] = {"train", "test", "neighbors", "distance"};
enum { D_TRAIN, D_TEST, D_NEIGHBORS, D_DISTANCE, D_N };

/* ---- small helpers ------------------------------------------------------- */

/* Nodes that came from a --set override carry this line (reported as 0). */
#define SET_LINE ((size_t)-1)

static int line_of(const yaml_node_t *n) {
    if (n && n->start_mark.line == SET_LINE) return 0;
    return n ? (int)n->start_mark.line + 1 : 1;
}

static int fail_at(ctx_t *c, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int fail_at(ctx_t *c, int line, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* one line, whatever a quoted YAML value holds */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    if (line == 0) /* a --set override */
        cn_error(c->err, c->errlen, CN_EINVAL, "%s: --set: %s", c->path, msg);
    else
        cn_error(c->err, c->errlen, CN_EINVAL, "%s:%d: %s", c->path, line, msg);
    return -1;
}

static int fail_nomem(ctx_t *c) {
    cn_error(c->err, c->errlen, CN_ENOMEM, "%s: out of memory", c->path);
    return -1;
}

static yaml_node_t *get_node(ctx_t *c, int id) { return yaml_document_get_node(c->doc, id); }

static const char *sval(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

static int is_scalar(const yaml_node_t *n) { return n && n->type == YAML_SCALAR_NODE; }

/* A plain empty, ~ or null scalar: YAML's null. */
static int is_null(const yaml_node_t *n) {
    if (!is_scalar(n) || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    const char *s = sval(n);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

/* How a non-scalar value is described in "got ..." messages. */
static const char *kind_name(const yaml_node_t *n) {
    if (!n) return "nothing";
    if (n->type == YAML_SEQUENCE_NODE) return "a list";
    if (n->type == YAML_MAPPING_NODE) return "a map";
    return "a scalar";
}

static void join_keys(char *buf, size_t len, const char *const *keys, size_t n) {
    size_t off = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && off < len; i++) {
        int w = snprintf(buf + off, len - off, "%s%s", i ? ", " : "", keys[i]);
        if (w < 0) break;
        off += (size_t)w;
    }
}

/* Only characters of a decimal literal, and at least one digit. */
static int numeric_chars(const char *s, const char *allowed) {
    int digit = 0;
    for (const char *p = s; *p; p++) {
        if (*p >= '0' && *p <= '9') digit = 1;
        else if (!strchr(allowed, *p)) return 0;
    }
    return digit;
}

static int parse_ll(const char *s, long long *out) {
    if (!numeric_chars(s, "+-")) return 0;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return 0;
    *out = v;
    return 1;
}

static int parse_double(const char *s, double *out) {
    if (!numeric_chars(s, "+-.eE")) return 0;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno == ERANGE && (v > 1.0 || v < -1.0)) return 0; /* overflow; underflow is fine */
    if (*end) return 0;
    *out = v;
    return 1;
}

/* Every map: scalar keys, no duplicates (libyaml does not check either). */
static int check_map(ctx_t *c, const yaml_node_t *m) {
    const yaml_node_pair_t *b = m->data.mapping.pairs.start, *e = m->data.mapping.pairs.top;
    for (const yaml_node_pair_t *p = b; p < e; p++) {
        const yaml_node_t *k = get_node(c, p->key);
        if (!is_scalar(k))
            return fail_at(c, line_of(k), "map keys must be plain names, got %s", kind_name(k));
        for (const yaml_node_pair_t *q = b; q < p; q++) {
            const yaml_node_t *k2 = get_node(c, q->key);
            if (!strcmp(sval(k), sval(k2)))
                return fail_at(c, line_of(k), "duplicate key '%s' (first at line %d)", sval(k),
                               line_of(k2));
        }
    }
    return 0;
}

/* A map with a fixed set of keys: vals[i]/keyn[i] = value/key node of keys[i]
 * or NULL. `where` completes "unknown key 'x'<where>". */
static int read_fields(ctx_t *c, const yaml_node_t *m, const char *where,
                       const char *const *keys, size_t nkeys, yaml_node_t **vals,
                       yaml_node_t **keyn) {
    if (check_map(c, m)) return -1;
    for (size_t i = 0; i < nkeys; i++) vals[i] = keyn[i] = NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = get_node(c, p->key);
        size_t i = 0;
        while (i < nkeys && strcmp(keys[i], sval(k))) i++;
        if (i == nkeys) {
            char list[256];
            join_keys(list, sizeof list, keys, nkeys);
            return fail_at(c, line_of(k), "unknown key '%s'%s (expected one of: %s)", sval(k),
                           where, list);
        }
        vals[i] = get_node(c, p->value);
        keyn[i] = k;
    }
    return 0;
}

/* A non-empty scalar string copied into *out. */
static int get_string(ctx_t *c, const yaml_node_t *v, const char *key, char **out) {
    if (!is_scalar(v) || is_null(v) || !*sval(v))
        return fail_at(c, line_of(v), "'%s' must be a non-empty name, got %s", key,
                       is_scalar(v) ? "nothing" : kind_name(v));
    *out = cn_strdup(sval(v));
    return *out ? 0 : fail_nomem(c);
}

/* An integer in [min, max]; `what` completes "'k' must be <what>". */
static int get_int(ctx_t *c, const yaml_node_t *v, const char *key, long long min,
                   long long max, const char *what, long long *out) {
    long long x;
    if (!is_scalar(v))
        return fail_at(c, line_of(v), "'%s' must be %s, got %s", key, what, kind_name(v));
    if (!parse_ll(sval(v), &x) || x < min || x > max)
        return fail_at(c, line_of(v), "'%s' must be %s, got '%s'", key, what, sval(v));
    *out = x;
    return 0;
}

static int get_seed(ctx_t *c, const yaml_node_t *v, uint64_t *out) {
    const char *what = "'seed' must be a non-negative integer";
    if (!is_scalar(v)) return fail_at(c, line_of(v), "%s, got %s", what, kind_name(v));
    const char *s = sval(v);
    if (!numeric_chars(s, "+")) return fail_at(c, line_of(v), "%s, got '%s'", what, s);
    errno = 0;
    char *end;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end) return fail_at(c, line_of(v), "%s, got '%s'", what, s);
    *out = (uint64_t)x;
    return 0;
}

/* ---- parameter grids ----------------------------------------------------- */

/* A scalar as a typed parameter: quoted scalars stay strings. */
static int to_param(ctx_t *c, const yaml_node_t *n, const char *key, cn_param_t *p) {
    const char *s = sval(n);
    int plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    memset(p, 0, sizeof *p);
    p->key = key;
    if (plain && parse_ll(s, &p->i)) {
        p->type = CN_PARAM_INT;
        p->f = (double)p->i;
    } else if (plain && parse_double(s, &p->f)) {
        p->type = CN_PARAM_FLOAT;
    } else {
        p->type = CN_PARAM_STRING;
        p->s = cn_strdup(s);
        if (!p->s) return fail_nomem(c);
    }
    return 0;
}

/* Fills items[1..] with an in-range value for every required parameter of
 * `role` other than `key`, so a single value can be validated alone. sbuf
 * holds n_params strings of 64 bytes for string choices. Returns the count. */
static size_t fill_required(const cn_component_t *comp, cn_param_role_t role, const char *key,
                            cn_param_t *items, char (*sbuf)[64]) {
    size_t n = 0;
    for (size_t i = 0; i < comp->n_params; i++) {
        const cn_param_spec_t *s = &comp->params[i];
        if (s->def || s->role != role || !strcmp(s->name, key)) continue;
        cn_param_t *p = &items[n++];
        memset(p, 0, sizeof *p);
        p->key = s->name;
        p->type = s->type;
        double x = 0.0;
        if (x < s->min) x = s->min;
        if (x > s->max) x = s->max;
        if (s->type == CN_PARAM_INT) {
            p->i = (long long)x;
            if ((double)p->i < s->min) p->i++;
            p->f = (double)p->i;
        } else if (s->type == CN_PARAM_FLOAT) {
            p->f = x;
        } else {
            const char *ch = s->choices ? s->choices : "x";
            size_t len = strcspn(ch, "|");
            if (len > 63) len = 63;
            memcpy(sbuf[i], ch, len);
            sbuf[i][len] = 0;
            p->s = sbuf[i];
        }
    }
    return n;
}

static int has_spec(const cn_component_t *comp, const char *key) {
    for (size_t i = 0; i < comp->n_params; i++)
        if (!strcmp(comp->params[i].name, key)) return 1;
    return 0;
}

/* Validates one value of an axis against comp's schema (see the essay). */
static int check_value(ctx_t *c, const cn_component_t *comp, cn_param_role_t role,
                       int allow_rerank, const cn_param_t *v, const yaml_node_t *vn) {
    /* Generic index parameters (build_on, rerank) are defined once in the
     * library, with their own schema. */
    const cn_param_spec_t *g = allow_rerank ? cn_index_generic_param(v->key) : NULL;
    if (g && g->role == role && !has_spec(comp, v->key)) {
        cn_params_t one = {v, 1};
        char msg[512] = "";
        if (cn_params_validate(comp->name, g, 1, &one, role, msg, sizeof msg) != CN_OK)
            return fail_at(c, line_of(vn), "%s", msg);
        return 0;
    }
    cn_param_t *items = cn_calloc(comp->n_params + 1, sizeof *items);
    char(*sbuf)[64] = cn_calloc(comp->n_params + 1, sizeof *sbuf);
    int rc = -1;
    if (!items || !sbuf) {
        fail_nomem(c);
        goto out;
    }
    items[0] = *v;
    cn_params_t ps = {items, 1 + fill_required(comp, role, v->key, items + 1, sbuf)};
    char msg[512] = "";
    if (cn_params_validate(comp->name, comp->params, comp->n_params, &ps, role, msg, sizeof msg) !=
        CN_OK) {
        fail_at(c, line_of(vn), "%s", msg);
        goto out;
    }
    rc = 0;
out:
    cn_free(items);
    cn_free(sbuf);
    return rc;
}

static void grid_free(cn_grid_t *g) {
    for (size_t a = 0; a < g->naxes; a++) {
        cn_axis_t *ax = &g->axes[a];
        for (size_t i = 0; ax->values && i < ax->nvalues; i++) cn_free((void *)ax->values[i].s);
        cn_free(ax->values);
        cn_free(ax->key);
    }
    cn_free(g->axes);
    memset(g, 0, sizeof *g);
}

/* A parameter map (build, search, or a quantizer map minus `skip`) into a grid
 * validated against comp's schema for `role`. m == NULL or null: empty grid.
 * `section` names the map in messages; `owner_line` is used for a missing
 * required parameter when the map is absent. */
static int parse_grid(ctx_t *c, const yaml_node_t *m, const char *section, int owner_line,
                      const cn_component_t *comp, cn_param_role_t role, int allow_rerank,
                      const char *skip, cn_grid_t *g) {
    memset(g, 0, sizeof *g);
    int map_line = m ? line_of(m) : owner_line;
    if (m && !is_null(m)) {
        if (m->type != YAML_MAPPING_NODE)
            return fail_at(c, line_of(m),
                           "'%s' must be a map of parameter: value or [values], got %s", section,
                           kind_name(m));
        if (check_map(c, m)) return -1;
        size_t npairs = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
        if (npairs) {
            g->axes = cn_calloc(npairs, sizeof *g->axes);
            if (!g->axes) return fail_nomem(c);
        }
        size_t points = 1;
        for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
             p++) {
            const yaml_node_t *k = get_node(c, p->key), *v = get_node(c, p->value);
            if (skip && !strcmp(sval(k), skip)) continue;
            cn_axis_t *ax = &g->axes[g->naxes++];
            ax->line = line_of(k);
            ax->key = cn_strdup(sval(k));
            if (!ax->key) return fail_nomem(c);
            const yaml_node_item_t *items = NULL;
            size_t n = 1;
            if (v->type == YAML_SEQUENCE_NODE) {
                items = v->data.sequence.items.start;
                n = (size_t)(v->data.sequence.items.top - items);
                if (!n)
                    return fail_at(c, line_of(v), "'%s' in %s has an empty list of values",
                                   ax->key, section);
            } else if (v->type != YAML_SCALAR_NODE) {
                return fail_at(c, line_of(v),
                               "'%s' in %s must be a value or a list of values, got %s", ax->key,
                               section, kind_name(v));
            }
            ax->values = cn_calloc(n, sizeof *ax->values);
            if (!ax->values) return fail_nomem(c);
            ax->nvalues = n;
            for (size_t i = 0; i < n; i++) {
                const yaml_node_t *vn = items ? get_node(c, items[i]) : v;
                if (!is_scalar(vn))
                    return fail_at(c, line_of(vn),
                                   "'%s' in %s must be a value or a list of values, got a "
                                   "nested %s",
                                   ax->key, section,
                                   vn->type == YAML_SEQUENCE_NODE ? "list" : "map");
                if (to_param(c, vn, ax->key, &ax->values[i])) return -1;
                if (check_value(c, comp, role, allow_rerank, &ax->values[i], vn)) return -1;
            }
            if (points > SIZE_MAX / n)
                return fail_at(c, ax->line, "the %s grid has too many points", section);
            points *= n;
        }
    }
    /* Required parameters of this role must have an axis. */
    for (size_t i = 0; i < comp->n_params; i++) {
        const cn_param_spec_t *s = &comp->params[i];
        if (s->def || s->role != role) continue;
        size_t a = 0;
        while (a < g->naxes && strcmp(g->axes[a].key, s->name)) a++;
        if (a == g->naxes)
            return fail_at(c, map_line, "%s: missing required %s parameter '%s' in %s", comp->name,
                           role == CN_ROLE_BUILD ? "build" : "search", s->name, section);
    }
    return 0;
}

size_t cn_grid_size(const cn_grid_t *g) {
    size_t n = 1;
    for (size_t a = 0; g && a < g->naxes; a++) n *= g->axes[a].nvalues;
    return n;
}

void cn_grid_point(const cn_grid_t *g, size_t index, cn_param_t *out) {
    for (size_t a = g->naxes; a-- > 0;) {
        const cn_axis_t *ax = &g->axes[a];
        out[a] = ax->values[index % ax->nvalues];
        index /= ax->nvalues;
    }
}

/* ---- components and algorithms ------------------------------------------ */

static const cn_component_t *find_component(ctx_t *c, const char *name, cn_component_kind_t kind,
                                            int line) {
    const cn_component_t *comp = cn_registry_find(name, kind);
    if (comp) return comp;
    char known[512];
    size_t off = 0;
    known[0] = 0;
    for (size_t i = 0; i < cn_registry_count() && off < sizeof known; i++) {
        const cn_component_t *r = cn_registry_at(i);
        if (!r || r->kind != kind) continue;
        int w = snprintf(known + off, sizeof known - off, "%s%s", off ? ", " : "", r->name);
        if (w < 0) break;
        off += (size_t)w;
    }
    fail_at(c, line, "unknown %s '%s' (known: %s)",
            kind == CN_COMPONENT_INDEX ? "index" : "quantizer", name, off ? known : "none");
    return NULL;
}

static int parse_algo(ctx_t *c, const yaml_node_t *m, cn_algo_cfg_t *a) {
    yaml_node_t *v[A_N], *k[A_N];
    a->line = line_of(m);
    if (m->type != YAML_MAPPING_NODE)
        return fail_at(c, a->line, "each algorithm must be a map {name, index, quantizer, build, "
                                   "search}, got %s", kind_name(m));
    if (read_fields(c, m, " in algorithm", algo_keys, A_N, v, k)) return -1;

    if (!v[A_INDEX]) return fail_at(c, a->line, "algorithm has no 'index' (a registry name)");
    if (get_string(c, v[A_INDEX], "index", &a->index)) return -1;
    const cn_component_t *ic = find_component(c, a->index, CN_COMPONENT_INDEX, line_of(v[A_INDEX]));
    if (!ic) return -1;

    /* quantizer: absent -> plain; a name; or {name: X, params...}. */
    const yaml_node_t *q = v[A_QUANT], *qmap = NULL;
    int qline = q ? line_of(q) : a->line;
    if (!q) {
        a->quantizer = cn_strdup("plain");
        if (!a->quantizer) return fail_nomem(c);
    } else if (q->type == YAML_MAPPING_NODE) {
        yaml_node_t *qname = NULL;
        if (check_map(c, q)) return -1;
        for (yaml_node_pair_t *p = q->data.mapping.pairs.start; p < q->data.mapping.pairs.top; p++)
            if (!strcmp(sval(get_node(c, p->key)), "name")) {
                qname = get_node(c, p->value);
                qline = line_of(qname);
            }
        if (!qname) return fail_at(c, line_of(q), "quantizer map has no 'name'");
        if (get_string(c, qname, "name", &a->quantizer)) return -1;
        qmap = q;
    } else if (get_string(c, q, "quantizer", &a->quantizer)) {
        return -1;
    }
    const cn_component_t *qc = find_component(c, a->quantizer, CN_COMPONENT_QUANTIZER, qline);
    if (!qc) return -1;

    if (v[A_NAME]) {
        if (get_string(c, v[A_NAME], "name", &a->name)) return -1;
    } else {
        size_t len = strlen(a->index) + strlen(a->quantizer) + 2;
        a->name = cn_malloc(len);
        if (!a->name) return fail_nomem(c);
        snprintf(a->name, len, "%s-%s", a->index, a->quantizer);
    }

    if (parse_grid(c, qmap, "quantizer", qline, qc, CN_ROLE_BUILD, 0, "name", &a->qparams) ||
        parse_grid(c, v[A_BUILD], "build", a->line, ic, CN_ROLE_BUILD, 1, NULL, &a->build) ||
        parse_grid(c, v[A_SEARCH], "search", a->line, ic, CN_ROLE_SEARCH, 1, NULL, &a->search))
        return -1;
    /* k larger than a result-pool parameter (ef < k) can never run: refused
     * here with the axis's line. (rerank > ef only skips that grid point; the
     * runner says so.) Whether rerank fits the quantizer is checked when the
     * plan is made, where the quantizer's parameters are known. */
    for (size_t x = 0; x < a->search.naxes; x++) {
        const cn_axis_t *ax = &a->search.axes[x];
        for (size_t i = 0; i < ax->nvalues; i++) {
            cn_params_t one = {&ax->values[i], 1};
            const char *which = NULL;
            char why[256];
            if (cn_index_check_search(ic, &one, (size_t)c->k, &which, why, sizeof why) != CN_OK &&
                which && strcmp(which, "k") == 0)
                return fail_at(c, ax->line, "%s", why);
        }
    }
    return 0;
}

/* ---- dataset -------------------------------------------------------------- */

static int parse_dataset(ctx_t *c, const yaml_node_t *v, cn_dataset_spec_t *d) {
    if (is_scalar(v)) return get_string(c, v, "dataset", &d->name);
    if (v->type != YAML_MAPPING_NODE)
        return fail_at(c, line_of(v),
                       "'dataset' must be a catalogue name, a path or a map {train, test, "
                       "neighbors, distance}, got %s", kind_name(v));
    yaml_node_t *f[D_N], *k[D_N];
    if (read_fields(c, v, " in dataset", ds_keys, D_N, f, k)) return -1;
    if (!f[D_TRAIN] || !f[D_TEST])
        return fail_at(c, line_of(v), "dataset map needs 'train' and 'test' (missing '%s')",
                       f[D_TRAIN] ? "test" : "train");
    char **dst[D_N] = {&d->train, &d->test, &d->neighbors, &d->distance};
    for (int i = 0; i < D_N; i++)
        if (f[i] && get_string(c, f[i], ds_keys[i], dst[i])) return -1;
    cn_metric_t metric;
    if (d->distance && cn_metric_parse(d->distance, &metric) != CN_OK)
        return fail_at(c, line_of(f[D_DISTANCE]),
                       "unknown distance '%s' in dataset (expected l2/euclidean, ip/dot, "
                       "cosine/angular)", d->distance);
    return 0;
}

/* "dir/x.yaml" -> "dir", "x.yaml" -> ".", "/x.yaml" -> "/". */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return cn_strdup(".");
    size_t len = slash == path ? 1 : (size_t)(slash - path);
    char *d = cn_malloc(len + 1);
    if (d) {
        memcpy(d, path, len);
        d[len] = 0;
    }
    return d;
}

/* "dir/x.yaml" -> "x". */
static char *stem_of(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t len = dot && dot > base ? (size_t)(dot - base) : strlen(base);
    char *s = cn_malloc(len + 1);
    if (s) {
        memcpy(s, base, len);
        s[len] = 0;
    }
    return s;
}

/* ---- figure specs (plots:) ---------------------------------------------- */

/* The `plots:` section is checked here (so a typo fails before the run, with
 * its line) and handed to plots/plot.py as canonical JSON (exp->plots_json).
 * The column list is plots/plot.py's COLUMNS. */
static const char *const plot_keys[] = {"name",    "x",     "y",     "xscale", "yscale", "lines",
                                        "labels",  "formats", "width", "pareto", "title"};
enum { P_NAME, P_X, P_Y, P_XSCALE, P_YSCALE, P_LINES, P_LABELS, P_FORMATS, P_WIDTH, P_PARETO,
       P_TITLE, P_N };
static const char *const plot_columns[] = {
    "recall",      "qps",         "mean_us",          "p50_us",         "p95_us",
    "p99_us",      "build_s",     "index_bytes",      "bytes_per_vector", "dist_per_query",
    "hops_per_query", "reranked_per_query", "ns_per_dist", "scan_ns_per_vector"};
static const char *const plot_scales[] = {"linear", "log", "logit"};
static const char *const plot_lines[] = {"algorithm", "variant"};
static const char *const plot_formats[] = {"png", "svg", "pdf"};
static const char *const plot_widths[] = {"single", "double"};
static const char *const plot_bools[] = {"true", "false"};

typedef struct jbuf {
    char *s;
    size_t len, cap;
    int oom;
} jbuf_t;

static void jb_put(jbuf_t *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap) cap *= 2;
        char *p = cn_realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void jb_str(jbuf_t *b, const char *s) { jb_put(b, s, strlen(s)); }

/* A JSON string literal. */
static void jb_quoted(jbuf_t *b, const char *s) {
    jb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            jb_put(b, esc, 2);
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            jb_put(b, esc, 6);
        } else {
            jb_put(b, (const char *)p, 1);
        }
    }
    jb_put(b, "\"", 1);
}

/* A scalar that must be one of `choices`; `what` names the key. */
static int get_choice(ctx_t *c, const yaml_node_t *v, const char *what,
                      const char *const *choices, size_t n, const char **out) {
    char list[512];
    join_keys(list, sizeof list, choices, n);
    if (!is_scalar(v))
        return fail_at(c, line_of(v), "'%s' must be one of: %s, got %s", what, list, kind_name(v));
    for (size_t i = 0; i < n; i++)
        if (!strcmp(sval(v), choices[i])) {
            *out = choices[i];
            return 0;
        }
    return fail_at(c, line_of(v), "unknown %s '%s' in plots (expected one of: %s)", what, sval(v),
                   list);
}

static int parse_plot(ctx_t *c, const yaml_node_t *m, jbuf_t *b, const char **name_out) {
    yaml_node_t *v[P_N], *k[P_N];
    if (m->type != YAML_MAPPING_NODE)
        return fail_at(c, line_of(m), "each entry of 'plots' must be a map {name, x, y, ...}, "
                                      "got %s", kind_name(m));
    if (read_fields(c, m, " in plots", plot_keys, P_N, v, k)) return -1;
    static const int required[] = {P_NAME, P_X, P_Y};
    for (size_t i = 0; i < 3; i++)
        if (!v[required[i]])
            return fail_at(c, line_of(m), "figure in plots has no '%s'", plot_keys[required[i]]);
    const char *name = sval(v[P_NAME]);
    if (!is_scalar(v[P_NAME]) || !*name || strspn(name, "abcdefghijklmnopqrstuvwxyz"
                                                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                         "0123456789_.-") != strlen(name))
        return fail_at(c, line_of(v[P_NAME]),
                       "'name' in plots must be a file stem (letters, digits, '_', '-', '.')");
    *name_out = name;
    const char *col[2], *scale[2] = {"linear", "linear"};
    size_t ncols = sizeof plot_columns / sizeof plot_columns[0];
    if (get_choice(c, v[P_X], "column", plot_columns, ncols, &col[0]) ||
        get_choice(c, v[P_Y], "column", plot_columns, ncols, &col[1]))
        return -1;
    for (int a = 0; a < 2; a++) {
        const yaml_node_t *sv = v[a ? P_YSCALE : P_XSCALE];
        if (!sv) continue;
        if (get_choice(c, sv, a ? "yscale" : "xscale", plot_scales, 3, &scale[a])) return -1;
        if (!strcmp(scale[a], "logit") && strcmp(col[a], "recall"))
            return fail_at(c, line_of(sv), "%s logit needs a column in (0, 1): recall, not '%s'",
                           a ? "yscale" : "xscale", col[a]);
    }
    const char *lines = "variant", *width = "double", *pareto = "true";
    if (v[P_LINES] && get_choice(c, v[P_LINES], "lines", plot_lines, 2, &lines)) return -1;
    if (v[P_WIDTH] && get_choice(c, v[P_WIDTH], "width", plot_widths, 2, &width)) return -1;
    if (v[P_PARETO] && get_choice(c, v[P_PARETO], "pareto", plot_bools, 2, &pareto)) return -1;

    jb_str(b, "{\"name\": ");
    jb_quoted(b, name);
    jb_str(b, ", \"x\": ");
    jb_quoted(b, col[0]);
    jb_str(b, ", \"y\": ");
    jb_quoted(b, col[1]);
    jb_str(b, ", \"xscale\": ");
    jb_quoted(b, scale[0]);
    jb_str(b, ", \"yscale\": ");
    jb_quoted(b, scale[1]);
    jb_str(b, ", \"lines\": ");
    jb_quoted(b, lines);
    jb_str(b, ", \"width\": ");
    jb_quoted(b, width);
    jb_str(b, ", \"pareto\": ");
    jb_str(b, pareto);
    if (v[P_TITLE]) {
        char *t = NULL;
        if (get_string(c, v[P_TITLE], "title", &t)) return -1;
        jb_str(b, ", \"title\": ");
        jb_quoted(b, t);
        cn_free(t);
    }
    jb_str(b, ", \"formats\": [");
    const yaml_node_t *fv = v[P_FORMATS];
    if (!fv) {
        jb_str(b, "\"png\"");
    } else if (is_scalar(fv)) {
        const char *f = NULL;
        if (get_choice(c, fv, "format", plot_formats, 3, &f)) return -1;
        jb_quoted(b, f);
    } else if (fv->type == YAML_SEQUENCE_NODE &&
               fv->data.sequence.items.top > fv->data.sequence.items.start) {
        for (yaml_node_item_t *it = fv->data.sequence.items.start; it < fv->data.sequence.items.top;
             it++) {
            const char *f = NULL;
            if (get_choice(c, get_node(c, *it), "format", plot_formats, 3, &f)) return -1;
            if (it > fv->data.sequence.items.start) jb_str(b, ", ");
            jb_quoted(b, f);
        }
    } else {
        return fail_at(c, line_of(fv), "'formats' must be png, svg, pdf or a non-empty list of "
                                       "them, got %s", kind_name(fv));
    }
    jb_str(b, "], \"labels\": {");
    const yaml_node_t *lv = v[P_LABELS];
    if (lv) {
        if (lv->type != YAML_MAPPING_NODE)
            return fail_at(c, line_of(lv), "'labels' must be a map {line: \"display text\"}, got %s",
                           kind_name(lv));
        if (check_map(c, lv)) return -1;
        for (yaml_node_pair_t *p = lv->data.mapping.pairs.start; p < lv->data.mapping.pairs.top;
             p++) {
            const yaml_node_t *key = get_node(c, p->key), *val = get_node(c, p->value);
            if (!is_scalar(val) || is_null(val) || !*sval(val))
                return fail_at(c, line_of(val), "label of '%s' must be a non-empty text",
                               sval(key));
            if (p > lv->data.mapping.pairs.start) jb_str(b, ", ");
            jb_quoted(b, sval(key));
            jb_str(b, ": ");
            jb_quoted(b, sval(val));
        }
    }
    jb_str(b, "}}");
    return 0;
}

static int parse_plots(ctx_t *c, const yaml_node_t *v, cn_experiment_t *e) {
    if (v->type != YAML_SEQUENCE_NODE || v->data.sequence.items.top == v->data.sequence.items.start)
        return fail_at(c, line_of(v), "'plots' must be a non-empty list of figures {name, x, y, "
                                      "...}, got %s",
                       v->type == YAML_SEQUENCE_NODE ? "an empty list" : kind_name(v));
    jbuf_t b = {0};
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    const char **names = cn_calloc(n, sizeof *names);
    int *lines = cn_calloc(n, sizeof *lines);
    int rc = -1;
    if (!names || !lines) {
        fail_nomem(c);
        goto out;
    }
    jb_str(&b, "[");
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *m = get_node(c, v->data.sequence.items.start[i]);
        if (i) jb_str(&b, ",\n ");
        if (parse_plot(c, m, &b, &names[i])) goto out;
        lines[i] = line_of(m);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(names[i], names[j])) {
                fail_at(c, lines[i], "duplicate figure name '%s' in plots (first at line %d)",
                        names[i], lines[j]);
                goto out;
            }
    }
    jb_str(&b, "]\n");
    if (b.oom) {
        fail_nomem(c);
        goto out;
    }
    e->plots_json = b.s;
    b.s = NULL;
    rc = 0;
out:
    cn_free(b.s);
    cn_free(names);
    cn_free(lines);
    return rc;
}

/* ---- top level ------------------------------------------------------------ */

static int parse_top(ctx_t *c, const yaml_node_t *root, cn_experiment_t *e) {
    if (root->type != YAML_MAPPING_NODE)
        return fail_at(c, line_of(root), "the top level must be a map (name, dataset, k, ..., "
                                         "algorithms), got %s", kind_name(root));
    yaml_node_t *v[T_N], *k[T_N];
    if (read_fields(c, root, "", top_keys, T_N, v, k)) return -1;

    if (v[T_NAME]) {
        if (get_string(c, v[T_NAME], "name", &e->name)) return -1;
    } else if (!(e->name = stem_of(c->path))) {
        return fail_nomem(c);
    }
    /* The name is a folder under results/: one path component, not hidden. */
    if (!e->name[0] || e->name[0] == '.' || strchr(e->name, '/') || strchr(e->name, '\\'))
        return fail_at(c, line_of(v[T_NAME] ? v[T_NAME] : root),
                       "name '%s' must be one folder name under results/ (no '/', not "
                       "starting with '.')",
                       e->name);

    if (!v[T_DATASET])
        return fail_at(c, line_of(root),
                       "missing 'dataset' (a catalogue name, a path or a map {train, test, "
                       "neighbors, distance})");
    e->dataset.line = line_of(k[T_DATASET]);
    const yaml_node_t *dv = v[T_DATASET];
    if (dv->type == YAML_SEQUENCE_NODE) {
        const yaml_node_item_t *it = dv->data.sequence.items.start;
        size_t n = (size_t)(dv->data.sequence.items.top - it);
        if (n == 0) return fail_at(c, line_of(dv), "'dataset' is an empty list");
        if (parse_dataset(c, get_node(c, it[0]), &e->dataset)) return -1;
        if (n > 1 && !(e->more_datasets = cn_calloc(n - 1, sizeof *e->more_datasets)))
            return fail_nomem(c);
        for (size_t i = 1; i < n; i++) {
            cn_dataset_spec_t *d = &e->more_datasets[i - 1];
            e->nmore_datasets = i;
            d->line = line_of(get_node(c, it[i]));
            if (!(d->config_dir = cn_strdup(e->dataset.config_dir))) return fail_nomem(c);
            if (get_node(c, it[i])->type == YAML_SEQUENCE_NODE)
                return fail_at(c, d->line, "a 'dataset' list item cannot be a list");
            if (parse_dataset(c, get_node(c, it[i]), d)) return -1;
        }
    } else if (parse_dataset(c, dv, &e->dataset)) {
        return -1;
    }

    long long x;
    e->k = 10;
    e->runs = 3;
    e->threads = 1;
    e->build_threads = 0;
    e->seed = 42;
    e->ks[0] = 10;
    e->nks = 1;
    int kmin = 10;
    if (v[T_K] && v[T_K]->type == YAML_SEQUENCE_NODE) {
        const yaml_node_t *kv = v[T_K];
        const yaml_node_item_t *it = kv->data.sequence.items.start;
        size_t n = (size_t)(kv->data.sequence.items.top - it), cap = sizeof e->ks / sizeof *e->ks;
        if (n == 0 || n > cap)
            return fail_at(c, line_of(kv), "'k' must list 1 to %zu values, got %zu", cap, n);
        e->nks = 0;
        for (size_t i = 0; i < n; i++) {
            if (get_int(c, get_node(c, it[i]), "k", 1, INT_MAX,
                        "a positive integer or a list of them", &x))
                return -1;
            for (size_t j = 0; j < e->nks; j++)
                if (e->ks[j] == (int)x)
                    return fail_at(c, line_of(get_node(c, it[i])), "'k' lists %lld twice", x);
            e->ks[e->nks++] = (int)x;
            if (i == 0 || (int)x < kmin) kmin = (int)x;
        }
        e->k = e->ks[0];
    } else if (v[T_K]) {
        if (get_int(c, v[T_K], "k", 1, INT_MAX, "a positive integer", &x)) return -1;
        e->k = e->ks[0] = kmin = (int)x;
    }
    if (v[T_RUNS]) {
        if (get_int(c, v[T_RUNS], "runs", 1, INT_MAX, "a positive integer", &x)) return -1;
        e->runs = (int)x;
    }
    e->thread_counts[0] = 1;
    e->nthread_counts = 1;
    if (v[T_THREADS]) {
        const yaml_node_t *tv = v[T_THREADS];
        const char *what = "a positive integer or a list of them";
        if (tv->type == YAML_SEQUENCE_NODE) {
            const yaml_node_item_t *it = tv->data.sequence.items.start;
            size_t n = (size_t)(tv->data.sequence.items.top - it);
            size_t cap = sizeof e->thread_counts / sizeof e->thread_counts[0];
            if (n == 0 || n > cap)
                return fail_at(c, line_of(tv), "'threads' must list 1 to %zu thread counts, got %zu",
                               cap, n);
            e->nthread_counts = 0;
            e->threads = 0;
            for (size_t i = 0; i < n; i++) {
                if (get_int(c, get_node(c, it[i]), "threads", 1, 4096, what, &x)) return -1;
                for (size_t j = 0; j < e->nthread_counts; j++)
                    if (e->thread_counts[j] == (int)x)
                        return fail_at(c, line_of(get_node(c, it[i])),
                                       "'threads' lists %lld twice", x);
                e->thread_counts[e->nthread_counts++] = (int)x;
                if ((int)x > e->threads) e->threads = (int)x;
            }
        } else {
            if (get_int(c, tv, "threads", 1, 4096, what, &x)) return -1;
            e->threads = (int)x;
            e->thread_counts[0] = (int)x;
        }
    }
    if (v[T_BTHREADS]) {
        if (get_int(c, v[T_BTHREADS], "build_threads", 0, 4096,
                    "a non-negative integer up to 4096 (0 = all cores)", &x))
            return -1;
        e->build_threads = (int)x;
    }
    if (v[T_SEED] && get_seed(c, v[T_SEED], &e->seed)) return -1;

    const yaml_node_t *al = v[T_ALGOS];
    if (!al) return fail_at(c, line_of(root), "missing 'algorithms' (a list of {index, ...})");
    if (al->type != YAML_SEQUENCE_NODE ||
        al->data.sequence.items.top == al->data.sequence.items.start)
        return fail_at(c, line_of(al), "'algorithms' must be a non-empty list, got %s",
                       al->type == YAML_SEQUENCE_NODE ? "an empty list" : kind_name(al));
    size_t n = (size_t)(al->data.sequence.items.top - al->data.sequence.items.start);
    e->algos = cn_calloc(n, sizeof *e->algos);
    if (!e->algos) return fail_nomem(c);
    c->k = kmin; /* a point too small for every k is refused; the plan skips the others */
    if (v[T_PLOTS] && parse_plots(c, v[T_PLOTS], e)) return -1;
    for (size_t i = 0; i < n; i++) {
        e->nalgos = i + 1;
        if (parse_algo(c, get_node(c, al->data.sequence.items.start[i]), &e->algos[i])) return -1;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(e->algos[i].name, e->algos[j].name))
                return fail_at(c, e->algos[i].line,
                               "duplicate algorithm name '%s' (first at line %d); set 'name' "
                               "to tell them apart", e->algos[i].name, e->algos[j].line);
    }
    return 0;
}

/* Deepest nesting of maps and lists an experiment file may have (a real one
 * has 5): libyaml's document loader takes minutes on a few hundred KB of
 * nesting, while its event parser stopped at this depth takes microseconds. */
#define CN_CONFIG_MAX_DEPTH 64

/* 0 when f nests at most CN_CONFIG_MAX_DEPTH levels, or when it has a syntax
 * error (the loader reports it); -1 (err filled) when deeper. Rewinds f. */
static int check_depth(ctx_t *c, FILE *f) {
    yaml_parser_t p;
    int depth = 0, rc = 0;
    if (!yaml_parser_initialize(&p)) return fail_nomem(c);
    yaml_parser_set_input_file(&p, f);
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) break;
        yaml_event_type_t t = ev.type;
        int line = (int)ev.start_mark.line + 1;
        yaml_event_delete(&ev);
        if (t == YAML_STREAM_END_EVENT) break;
        if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) {
            if (++depth > CN_CONFIG_MAX_DEPTH) {
                rc = fail_at(c, line, "maps and lists nested more than %d levels deep",
                             CN_CONFIG_MAX_DEPTH);
                break;
            }
        } else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) {
            depth--;
        }
    }
    yaml_parser_delete(&p);
    rewind(f);
    return rc;
}


/* ---- --set overrides ------------------------------------------------------- */

/* Copies node `id` of src (recursively) into dst; returns the new id, 0 on
 * failure. The copies carry SET_LINE so messages say "--set". */
static int copy_node(yaml_document_t *dst, yaml_document_t *src, int id, int depth) {
    yaml_node_t *n = yaml_document_get_node(src, id);
    int nid = 0;
    if (!n || depth > 64) return 0;
    if (n->type == YAML_SCALAR_NODE) {
        nid = yaml_document_add_scalar(dst, NULL, n->data.scalar.value,
                                       (int)n->data.scalar.length, n->data.scalar.style);
    } else if (n->type == YAML_SEQUENCE_NODE) {
        nid = yaml_document_add_sequence(dst, NULL, n->data.sequence.style);
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             nid && it < n->data.sequence.items.top; it++) {
            int cid = copy_node(dst, src, *it, depth + 1);
            if (!cid || !yaml_document_append_sequence_item(dst, nid, cid)) return 0;
        }
    } else if (n->type == YAML_MAPPING_NODE) {
        nid = yaml_document_add_mapping(dst, NULL, n->data.mapping.style);
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
             nid && p < n->data.mapping.pairs.top; p++) {
            int k = copy_node(dst, src, p->key, depth + 1);
            int v = k ? copy_node(dst, src, p->value, depth + 1) : 0;
            if (!v || !yaml_document_append_mapping_pair(dst, nid, k, v)) return 0;
        }
    }
    if (nid) yaml_document_get_node(dst, nid)->start_mark.line = SET_LINE;
    return nid;
}

/* Applies "key=value" to the root map of c->doc (node 1). */
static int apply_set(ctx_t *c, const char *set) {
    const char *eq = strchr(set, '=');
    size_t kl = eq ? (size_t)(eq - set) : 0;
    char key[64];
    if (!eq || kl == 0 || kl >= sizeof key)
        return fail_at(c, 0, "'%s' is not key=value", set);
    memcpy(key, set, kl);
    key[kl] = 0;
    size_t i = 0;
    while (i < T_N && strcmp(top_keys[i], key)) i++;
    if (i == T_N) {
        char list[256];
        join_keys(list, sizeof list, top_keys, T_N);
        return fail_at(c, 0, "unknown top-level key '%s' (expected one of: %s)", key, list);
    }
    yaml_parser_t p;
    yaml_document_t vd;
    if (!yaml_parser_initialize(&p)) return fail_nomem(c);
    const char *val = eq + 1;
    yaml_parser_set_input_string(&p, (const unsigned char *)val, strlen(val));
    if (!yaml_parser_load(&p, &vd)) {
        fail_at(c, 0, "%s: YAML syntax error in the value: %s", key,
                p.problem ? p.problem : "malformed input");
        yaml_parser_delete(&p);
        return -1;
    }
    yaml_parser_delete(&p);
    int rc = -1;
    if (!yaml_document_get_root_node(&vd)) {
        fail_at(c, 0, "%s: empty value", key);
        goto out;
    }
    int nid = copy_node(c->doc, &vd, 1, 0);
    if (!nid) {
        fail_nomem(c);
        goto out;
    }
    yaml_node_t *root = yaml_document_get_node(c->doc, 1); /* the add calls may move nodes */
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = get_node(c, pr->key);
        if (is_scalar(k) && !strcmp(sval(k), key)) {
            pr->value = nid; /* a duplicate key in the file is still reported */
            rc = 0;
            goto out;
        }
    }
    int kid = yaml_document_add_scalar(c->doc, NULL, (yaml_char_t *)key, (int)kl,
                                       YAML_PLAIN_SCALAR_STYLE);
    if (!kid || !yaml_document_append_mapping_pair(c->doc, 1, kid, nid)) {
        fail_nomem(c);
        goto out;
    }
    yaml_document_get_node(c->doc, kid)->start_mark.line = SET_LINE;
    rc = 0;
out:
    yaml_document_delete(&vd);
    return rc;
}

int cn_config_load(cn_experiment_t *exp, const char *path, char *err, size_t errlen) {
    return cn_config_load_set(exp, path, NULL, 0, err, errlen);
}

int cn_config_load_set(cn_experiment_t *exp, const char *path, const char *const *sets,
                       size_t nsets, char *err, size_t errlen) {
    cn_experiment_t e;
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    int have_parser = 0, have_doc = 0, rc = -1;
    FILE *f = NULL;
    ctx_t c = {path, &doc, err, errlen, 10};
    memset(&e, 0, sizeof e);
    memset(exp, 0, sizeof *exp);

    f = cn_fopen_regular(path, NULL, err, errlen);
    if (!f || check_depth(&c, f)) goto out;
    if (!yaml_parser_initialize(&parser)) {
        fail_nomem(&c);
        goto out;
    }
    have_parser = 1;
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) goto syntax;
    have_doc = 1;
    const yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        fail_at(&c, 1, "empty document (expected a map with 'dataset' and 'algorithms')");
        goto out;
    }
    /* A second document would be silently ignored: refuse it. */
    if (!yaml_parser_load(&parser, &extra)) goto syntax;
    int more = yaml_document_get_root_node(&extra) != NULL;
    int more_line = (int)extra.start_mark.line + 1;
    yaml_document_delete(&extra);
    if (more) {
        fail_at(&c, more_line, "more than one YAML document");
        goto out;
    }

    if (!(e.path = cn_strdup(path)) || !(e.dataset.config_dir = dir_of(path))) {
        fail_nomem(&c);
        goto out;
    }
    if (nsets && root->type != YAML_MAPPING_NODE) {
        fail_at(&c, line_of(root), "the top level must be a map, got %s", kind_name(root));
        goto out;
    }
    for (size_t i = 0; i < nsets; i++)
        if (apply_set(&c, sets[i])) goto out;
    root = yaml_document_get_root_node(&doc);
    if (parse_top(&c, root, &e)) goto out;
    *exp = e;
    memset(&e, 0, sizeof e);
    rc = 0;
    goto out;

syntax:
    if (parser.error == YAML_MEMORY_ERROR)
        fail_nomem(&c);
    else
        fail_at(&c, (int)parser.problem_mark.line + 1, "YAML syntax error: %s%s%s%s",
                parser.problem ? parser.problem : "malformed input",
                parser.context ? " (" : "", parser.context ? parser.context : "",
                parser.context ? ")" : "");
out:
    cn_config_free(&e);
    if (have_doc) yaml_document_delete(&doc);
    if (have_parser) yaml_parser_delete(&parser);
    if (f) fclose(f);
    return rc;
}

void cn_config_free(cn_experiment_t *exp) {
    if (!exp) return;
    cn_free(exp->path);
    cn_free(exp->name);
    cn_dataset_spec_t *d = &exp->dataset;
    cn_free(d->name);
    cn_free(d->train);
    cn_free(d->test);
    cn_free(d->neighbors);
    cn_free(d->distance);
    cn_free(d->config_dir);
    for (size_t i = 0; exp->more_datasets && i < exp->nmore_datasets; i++) {
        d = &exp->more_datasets[i];
        cn_free(d->name);
        cn_free(d->train);
        cn_free(d->test);
        cn_free(d->neighbors);
        cn_free(d->distance);
        cn_free(d->config_dir);
    }
    cn_free(exp->more_datasets);
    for (size_t i = 0; exp->algos && i < exp->nalgos; i++) {
        cn_algo_cfg_t *a = &exp->algos[i];
        cn_free(a->name);
        cn_free(a->index);
        cn_free(a->quantizer);
        grid_free(&a->qparams);
        grid_free(&a->build);
        grid_free(&a->search);
    }
    cn_free(exp->algos);
    cn_free(exp->plots_json);
    memset(exp, 0, sizeof *exp);
}
