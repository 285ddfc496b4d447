/*
 * core/params.c — parameter lookup, formatting and schema validation.
 *
 * Defaults live in one place, the schema: the generic layer completes a
 * parameter set with them (cn_component_params, registry.c) before a
 * constructor sees it, and constructors read with the cn_params_get_*
 * accessors, which assert presence instead of taking a default.
 */
#include "cannoli/params.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

const cn_param_t *cn_params_find(const cn_params_t *p, const char *key) {
    if (!p || !key) return NULL;
    for (size_t i = 0; i < p->n; i++)
        if (p->items[i].key && strcmp(p->items[i].key, key) == 0) return &p->items[i];
    return NULL;
}

long long cn_params_int(const cn_params_t *p, const char *key, long long def) {
    const cn_param_t *it = cn_params_find(p, key);
    if (!it) return def;
    if (it->type == CN_PARAM_INT) return it->i;
    if (it->type == CN_PARAM_FLOAT) return (long long)it->f;
    return def;
}

double cn_params_float(const cn_params_t *p, const char *key, double def) {
    const cn_param_t *it = cn_params_find(p, key);
    if (!it) return def;
    if (it->type == CN_PARAM_INT) return (double)it->i;
    if (it->type == CN_PARAM_FLOAT) return it->f;
    return def;
}

const char *cn_params_str(const cn_params_t *p, const char *key, const char *def) {
    const cn_param_t *it = cn_params_find(p, key);
    if (!it || it->type != CN_PARAM_STRING) return def;
    return it->s;
}

/* The item a cn_params_get_* accessor reads: present by contract. */
static const cn_param_t *must_find(const cn_params_t *p, const char *key) {
    const cn_param_t *it = cn_params_find(p, key);
    assert(it && "parameter missing: constructors get their schema's defaults filled in");
    return it;
}

long long cn_params_get_int(const cn_params_t *p, const char *key) {
    const cn_param_t *it = must_find(p, key);
    if (!it) return 0;
    return it->type == CN_PARAM_FLOAT ? (long long)it->f : it->i;
}

double cn_params_get_float(const cn_params_t *p, const char *key) {
    const cn_param_t *it = must_find(p, key);
    if (!it) return 0.0;
    return it->type == CN_PARAM_INT ? (double)it->i : it->f;
}

const char *cn_params_get_str(const cn_params_t *p, const char *key) {
    const cn_param_t *it = must_find(p, key);
    assert((!it || it->type == CN_PARAM_STRING) && "parameter is not a string");
    return it && it->type == CN_PARAM_STRING ? it->s : NULL;
}

size_t cn_params_format(const cn_params_t *p, char *buf, size_t buflen) {
    size_t len = 0;
    if (buf && buflen) buf[0] = '\0';
    for (size_t i = 0; p && i < p->n; i++) {
        const cn_param_t *it = &p->items[i];
        char *dst = NULL;
        size_t room = 0;
        if (buf && len < buflen) {
            dst = buf + len;
            room = buflen - len;
        }
        int w;
        const char *sep = i ? ";" : "";
        switch (it->type) {
        case CN_PARAM_INT: w = snprintf(dst, room, "%s%s=%lld", sep, it->key, it->i); break;
        case CN_PARAM_FLOAT: w = snprintf(dst, room, "%s%s=%g", sep, it->key, it->f); break;
        default: w = snprintf(dst, room, "%s%s=%s", sep, it->key, it->s ? it->s : ""); break;
        }
        if (w > 0) len += (size_t)w;
    }
    return len;
}

static const char *type_name(cn_param_type_t t) {
    switch (t) {
    case CN_PARAM_INT: return "an integer";
    case CN_PARAM_FLOAT: return "a number";
    case CN_PARAM_STRING: return "a string";
    }
    return "?";
}

static int in_choices(const char *choices, const char *s) {
    size_t n = strlen(s);
    const char *c = choices;
    while (*c) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (len == n && strncmp(c, s, n) == 0) return 1;
        if (!bar) break;
        c = bar + 1;
    }
    return 0;
}

cn_status_t cn_params_validate(const char *what, const cn_param_spec_t *spec, size_t nspec,
                               const cn_params_t *p, cn_param_role_t role, char *err,
                               size_t errlen) {
    const char *role_name = role == CN_ROLE_BUILD ? "build" : "search";
    for (size_t i = 0; p && i < p->n; i++) {
        const cn_param_t *it = &p->items[i];
        const cn_param_spec_t *s = NULL;
        for (size_t j = 0; j < nspec; j++)
            if (it->key && strcmp(spec[j].name, it->key) == 0) s = &spec[j];
        if (!s) {
            char known[256];
            size_t kl = 0;
            known[0] = '\0';
            for (size_t j = 0; j < nspec && kl < sizeof known; j++) {
                if (spec[j].role != role) continue;
                int w = snprintf(known + kl, sizeof known - kl, "%s%s", kl ? ", " : "",
                                 spec[j].name);
                if (w > 0) kl += (size_t)w;
            }
            return cn_error(err, errlen, CN_ENOTFOUND,
                            "%s: unknown %s parameter '%s' (known: %s)", what, role_name,
                            it->key ? it->key : "(null)", kl ? known : "none");
        }
        if (s->role != role)
            return cn_error(err, errlen, CN_EINVAL, "%s: '%s' is a %s parameter, not a %s parameter",
                            what, s->name, s->role == CN_ROLE_BUILD ? "build" : "search",
                            role_name);
        for (size_t j = 0; j < i; j++)
            if (p->items[j].key && strcmp(p->items[j].key, it->key) == 0)
                return cn_error(err, errlen, CN_EINVAL, "%s: parameter '%s' given twice", what,
                                it->key);
        double v = 0;
        switch (s->type) {
        case CN_PARAM_INT:
            if (it->type != CN_PARAM_INT)
                return cn_error(err, errlen, CN_EINVAL, "%s: parameter '%s' must be %s", what,
                                s->name, type_name(s->type));
            v = (double)it->i;
            break;
        case CN_PARAM_FLOAT:
            if (it->type != CN_PARAM_INT && it->type != CN_PARAM_FLOAT)
                return cn_error(err, errlen, CN_EINVAL, "%s: parameter '%s' must be %s", what,
                                s->name, type_name(s->type));
            v = it->type == CN_PARAM_INT ? (double)it->i : it->f;
            if (!isfinite(v))
                return cn_error(err, errlen, CN_EINVAL, "%s: parameter '%s' must be finite",
                                what, s->name);
            break;
        case CN_PARAM_STRING:
            if (it->type != CN_PARAM_STRING || !it->s)
                return cn_error(err, errlen, CN_EINVAL, "%s: parameter '%s' must be %s", what,
                                s->name, type_name(s->type));
            if (s->choices && !in_choices(s->choices, it->s))
                return cn_error(err, errlen, CN_EINVAL,
                                "%s: parameter '%s' = '%s' is not one of %s", what, s->name,
                                it->s, s->choices);
            continue;
        }
        if (v < s->min || v > s->max)
            return cn_error(err, errlen, CN_EINVAL,
                            "%s: parameter '%s' = %g is out of range [%.17g, %.17g]", what,
                            s->name, v, s->min, s->max);
    }
    for (size_t j = 0; j < nspec; j++) {
        if (spec[j].role != role || spec[j].def) continue;
        if (!cn_params_find(p, spec[j].name))
            return cn_error(err, errlen, CN_EINVAL, "%s: required %s parameter '%s' is missing",
                            what, role_name, spec[j].name);
    }
    return CN_OK;
}
