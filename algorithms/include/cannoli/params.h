/*
 * cannoli/params.h — typed key/value parameters and their schemas.
 *
 * Components receive their parameters as a cn_params_t (a borrowed array of
 * key/value items) and describe what they accept with a static table of
 * cn_param_spec_t. cn_params_validate() checks a parameter set against a
 * schema (unknown key, wrong type, out of range, not one of the choices) so
 * that every component gets the same error messages for free.
 */
#ifndef CANNOLI_PARAMS_H
#define CANNOLI_PARAMS_H

#include "cannoli/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cn_param_type {
    CN_PARAM_INT = 0,
    CN_PARAM_FLOAT = 1,
    CN_PARAM_STRING = 2
} cn_param_type_t;

/* One value. For CN_PARAM_INT `i` is set (and `f` = (double)i too), for
 * CN_PARAM_FLOAT `f`, for CN_PARAM_STRING `s` (borrowed). */
typedef struct cn_param {
    const char *key;
    cn_param_type_t type;
    long long i;
    double f;
    const char *s;
} cn_param_t;

typedef struct cn_params {
    const cn_param_t *items; /* borrowed, n items */
    size_t n;
} cn_params_t;

/* NULL when absent (p may be NULL). */
const cn_param_t *cn_params_find(const cn_params_t *p, const char *key);
/* Value or def when absent. An INT accessed as float converts; a FLOAT
 * accessed as int truncates (validation should have rejected it first). */
long long cn_params_int(const cn_params_t *p, const char *key, long long def);
double cn_params_float(const cn_params_t *p, const char *key, double def);
const char *cn_params_str(const cn_params_t *p, const char *key, const char *def);

/* Accessors for constructors. The generic layer (cn_index_create,
 * cn_quantizer_create) hands a constructor its parameters completed with the
 * schema's defaults, so a constructor reads a parameter without restating its
 * default: defaults live in the schema only. The key must be present (a
 * missing key is a programmer error: it asserts; with NDEBUG it yields 0,
 * 0.0 or NULL). INT and FLOAT convert as in cn_params_int/cn_params_float. */
long long cn_params_get_int(const cn_params_t *p, const char *key);
double cn_params_get_float(const cn_params_t *p, const char *key);
const char *cn_params_get_str(const cn_params_t *p, const char *key);

/* Formats "k1=v1;k2=v2" (items in the given order) into buf. Floats use %g.
 * Returns the length that would have been written (like snprintf). */
size_t cn_params_format(const cn_params_t *p, char *buf, size_t buflen);

typedef enum cn_param_role {
    CN_ROLE_BUILD = 0,  /* fixed when the index/quantizer is built */
    CN_ROLE_SEARCH = 1  /* may change between searches of one index */
} cn_param_role_t;

typedef struct cn_param_spec {
    const char *name;
    cn_param_type_t type;
    cn_param_role_t role;
    double min, max;     /* inclusive range for INT/FLOAT */
    const char *def;     /* default as text (shown by `cannoli list`), or NULL = required */
    const char *choices; /* STRING only: "a|b|c", or NULL for free text */
    const char *help;    /* one line */
    unsigned flags;      /* CN_PARAM_F_* below, 0 for none */
} cn_param_spec_t;

/* Flags of a parameter spec: constraints the harness and the generic index
 * layer enforce for every component, so none of them names a parameter.
 *
 * CN_PARAM_F_RESULT_POOL (search parameters): a search returns at most this
 * many candidates (HNSW's ef). k and the generic `rerank` must not exceed it:
 * a search asked for more would silently widen to it, and a row would name a
 * value its search did not use. */
#define CN_PARAM_F_RESULT_POOL 1u
/* CN_PARAM_F_DERIVED (index build parameters): the parameter shapes only
 * what the index derives in its bind op from the built structure and its
 * stores (HNSW's layout and order), never the structure itself: indexes
 * built with different values of it are identical but for the parameter, so
 * one built graph serves them all (cn_index_structure_params,
 * cn_index_load_as; the harness's index cache shares the graph). */
#define CN_PARAM_F_DERIVED 2u

/* Checks every item of p whose key has role `role` in the schema:
 * unknown keys (not in the schema at all) -> CN_ENOTFOUND,
 * a key of the other role -> CN_EINVAL ("'ef' is a search parameter"),
 * wrong type (an INT is accepted where FLOAT is expected) -> CN_EINVAL,
 * out of [min,max] or not in choices -> CN_EINVAL,
 * a required (def == NULL) parameter of this role missing -> CN_EINVAL.
 * The message names the component (`what`) and the key. */
cn_status_t cn_params_validate(const char *what, const cn_param_spec_t *spec, size_t nspec,
                               const cn_params_t *p, cn_param_role_t role, char *err,
                               size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
