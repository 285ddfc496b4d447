/*
 * registry.c — the list of built-in components, run-time registration, and
 * the generic creation of quantizers and store persistence.
 *
 * A component owns its registry entry: its file defines
 * `const cn_component_t cn_component_<name>` (schema, help, constructor, and
 * for a quantizer the store it makes and that store's loader). This file only
 * lists the entries, one X(<name>) line each; the list both declares them
 * (extern) and fills the table, in the order `cannoli list` prints. Adding a
 * component is its file (the CMake glob picks it up) plus one line below; no
 * public header changes. cn_registry_add() registers more at run time.
 *
 * Defaults are written once, in the schema: cn_quantizer_create (here) and
 * make_index (core/index.c) hand constructors their parameters completed
 * with the schema's defaults (cn_component_fill_defaults), and constructors
 * read them with cn_params_get_*, which take no default.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cannoli/registry.h"

/* ---- the built-in list: one line per component ----------------------------------- */

#define CN_BUILTIN_COMPONENTS(X) \
    X(flat)                      \
    X(hnsw)                      \
    X(inverted)                  \
    X(plain)                     \
    X(f16)                       \
    X(sq8)                       \
    X(pq)                        \
    X(pq4fs)                     \
    X(rabitq)                    \
    X(sparse)

#define CN_DECLARE_COMPONENT(name) extern const cn_component_t cn_component_##name;
CN_BUILTIN_COMPONENTS(CN_DECLARE_COMPONENT)
#undef CN_DECLARE_COMPONENT

#define CN_LIST_COMPONENT(name) &cn_component_##name,
static const cn_component_t *const builtin[] = {CN_BUILTIN_COMPONENTS(CN_LIST_COMPONENT)};
#undef CN_LIST_COMPONENT
#define N_BUILTIN (sizeof builtin / sizeof builtin[0])

#define MAX_EXTRA 64
static const cn_component_t *extra[MAX_EXTRA];
static size_t n_extra;

size_t cn_registry_count(void) { return N_BUILTIN + n_extra; }

const cn_component_t *cn_registry_at(size_t i) {
    if (i < N_BUILTIN) return builtin[i];
    i -= N_BUILTIN;
    return i < n_extra ? extra[i] : NULL;
}

const cn_component_t *cn_registry_find(const char *name, cn_component_kind_t kind) {
    if (!name) return NULL;
    for (size_t i = 0; i < cn_registry_count(); i++) {
        const cn_component_t *c = cn_registry_at(i);
        if (c->kind == kind && strcmp(c->name, name) == 0) return c;
    }
    return NULL;
}

cn_status_t cn_registry_add(const cn_component_t *c, char *err, size_t errlen) {
    if (!c || !c->name || !*c->name)
        return cn_error(err, errlen, CN_EINVAL, "registry: component has no name");
    if ((c->kind == CN_COMPONENT_INDEX && !c->create_index) ||
        (c->kind == CN_COMPONENT_QUANTIZER && (!c->create_quantizer || !c->store_name)))
        return cn_error(err, errlen, CN_EINVAL, "registry: component '%s' has no constructor",
                        c->name);
    if (cn_registry_find(c->name, c->kind))
        return cn_error(err, errlen, CN_EINVAL, "registry: a%s named '%s' is already registered",
                        c->kind == CN_COMPONENT_INDEX ? "n index" : " quantizer", c->name);
    if (n_extra == MAX_EXTRA)
        return cn_error(err, errlen, CN_ENOMEM, "registry: full (%d extra components)", MAX_EXTRA);
    extra[n_extra++] = c;
    return CN_OK;
}

cn_store_loader_t cn_registry_store_loader(const char *store_name) {
    if (!store_name) return NULL;
    for (size_t i = 0; i < cn_registry_count(); i++) {
        const cn_component_t *c = cn_registry_at(i);
        if (c->kind == CN_COMPONENT_QUANTIZER && c->store_name &&
            strcmp(c->store_name, store_name) == 0 && c->store_load)
            return c->store_load;
    }
    return NULL;
}

/* Parses a schema default's text as the spec's type into *it. */
static int parse_default(const cn_param_spec_t *s, cn_param_t *it) {
    memset(it, 0, sizeof *it);
    it->key = s->name;
    it->type = s->type;
    char *end = NULL;
    switch (s->type) {
    case CN_PARAM_INT:
        it->i = strtoll(s->def, &end, 10);
        if (end == s->def || *end) return 0;
        it->f = (double)it->i;
        return 1;
    case CN_PARAM_FLOAT:
        it->f = strtod(s->def, &end);
        return end != s->def && !*end;
    case CN_PARAM_STRING: it->s = s->def; return 1;
    }
    return 0;
}

cn_status_t cn_component_fill_defaults(const cn_component_t *c, cn_param_role_t role,
                                       const cn_params_t *given, cn_param_t *items, size_t cap,
                                       cn_params_t *out, char *err, size_t errlen) {
    size_t n = 0, ng = given ? given->n : 0;
    out->items = items;
    out->n = 0;
    if (ng > cap)
        return cn_error(err, errlen, CN_EINVAL, "'%s': too many parameters (%zu > %zu)",
                        c->name, ng, cap);
    for (size_t i = 0; i < ng; i++) items[n++] = given->items[i];
    for (size_t j = 0; j < c->n_params; j++) {
        const cn_param_spec_t *s = &c->params[j];
        if (s->role != role || !s->def || cn_params_find(given, s->name)) continue;
        if (n == cap)
            return cn_error(err, errlen, CN_EINVAL, "'%s': too many parameters (> %zu)", c->name,
                            cap);
        if (!parse_default(s, &items[n]))
            return cn_error(err, errlen, CN_EINVAL,
                            "'%s': the default '%s' of parameter '%s' is not %s", c->name,
                            s->def, s->name,
                            s->type == CN_PARAM_INT ? "an integer" : "a number");
        n++;
    }
    out->n = n;
    return CN_OK;
}

#define MAX_QPARAMS 128

cn_status_t cn_quantizer_create(cn_quantizer_t **out, const char *name, cn_metric_t metric,
                                uint32_t dim, const cn_params_t *params, char *err,
                                size_t errlen) {
    *out = NULL;
    const cn_component_t *c = cn_registry_find(name, CN_COMPONENT_QUANTIZER);
    if (!c) return cn_error(err, errlen, CN_ENOTFOUND, "unknown quantizer '%s'", name);
    char what[128];
    snprintf(what, sizeof what, "quantizer '%s'", name);
    cn_status_t st = cn_params_validate(what, c->params, c->n_params, params, CN_ROLE_BUILD, err,
                                        errlen);
    if (st != CN_OK) return st;
    if (dim == 0) return cn_error(err, errlen, CN_EINVAL, "%s: dimension is 0", what);
    cn_param_t items[MAX_QPARAMS];
    cn_params_t full;
    st = cn_component_fill_defaults(c, CN_ROLE_BUILD, params, items, MAX_QPARAMS, &full, err,
                                    errlen);
    if (st != CN_OK) return st;
    return c->create_quantizer(out, metric, dim, &full, err, errlen);
}

/* ---- generic store persistence ------------------------------------------------ */

#define MAX_NAME 256

void cn_store_save(const cn_store_t *s, cn_writer_t *w) {
    cn_write_str(w, s->ops->name);
    cn_write_u32(w, (uint32_t)s->metric);
    cn_write_u32(w, s->n);
    cn_write_u32(w, s->dim);
    s->ops->save(s, w);
}

cn_status_t cn_store_load(cn_store_t **out, cn_reader_t *r, char *err, size_t errlen) {
    *out = NULL;
    const char *path = r->path ? r->path : "index file";
    char *name = cn_read_str(r, MAX_NAME);
    uint32_t metric = cn_read_u32(r), n = cn_read_u32(r), dim = cn_read_u32(r);
    if (!name || r->st != CN_OK) {
        cn_free(name);
        return cn_error(err, errlen, CN_EFORMAT, "%s: truncated or malformed store header", path);
    }
    if (metric > CN_METRIC_COSINE || dim == 0) {
        cn_error(err, errlen, CN_EFORMAT, "%s: store '%s' has invalid metric %u or dimension %u",
                 path, name, metric, dim);
        cn_free(name);
        return CN_EFORMAT;
    }
    cn_store_loader_t load = cn_registry_store_loader(name);
    if (!load) {
        cn_error(err, errlen, CN_EFORMAT, "%s: unknown store type '%s' (not in this build)", path,
                 name);
        cn_free(name);
        return CN_EFORMAT;
    }
    cn_free(name);
    return load(out, r, (cn_metric_t)metric, n, dim, err, errlen);
}
