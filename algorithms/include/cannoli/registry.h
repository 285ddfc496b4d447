/*
 * cannoli/registry.h — name -> constructor + parameter schema.
 *
 * The harness never names an implementation: it looks components up here.
 * Each built-in component defines its own entry in its own file
 * (`const cn_component_t cn_component_<name>` with its schema, help,
 * constructor and, for quantizers, store name and loader); the built-in list
 * in algorithms/registry.c names each with one line, X(<name>). No public
 * header declares a component's constructor: it is reached by name
 * (cn_index_create, cn_quantizer_create, cn_registry_find).
 * cn_registry_add() registers more at run time (a test's own quantizer, a
 * baseline adapter). Quantizer entries also name the store their encode
 * produces and how to load it, so saved indexes reopen through the registry.
 *
 * Constructors receive their build parameters validated and completed with
 * the schema's defaults (cn_component_fill_defaults), and read them with
 * cn_params_get_int/_float/_str: a default is written once, in the schema.
 */
#ifndef CANNOLI_REGISTRY_H
#define CANNOLI_REGISTRY_H

#include "cannoli/common.h"
#include "cannoli/index.h"
#include "cannoli/io.h"
#include "cannoli/params.h"
#include "cannoli/quantizer.h"
#include "cannoli/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cn_component_kind {
    CN_COMPONENT_INDEX = 0,
    CN_COMPONENT_QUANTIZER = 1
} cn_component_kind_t;

typedef cn_status_t (*cn_index_ctor_t)(cn_index_t **out, cn_metric_t metric, uint32_t dim,
                                       const cn_params_t *build_params, char *err, size_t errlen);
typedef cn_status_t (*cn_quantizer_ctor_t)(cn_quantizer_t **out, cn_metric_t metric,
                                           uint32_t dim, const cn_params_t *params, char *err,
                                           size_t errlen);
typedef cn_status_t (*cn_store_loader_t)(cn_store_t **out, cn_reader_t *r, cn_metric_t metric,
                                         uint32_t n, uint32_t dim, char *err, size_t errlen);

typedef struct cn_component {
    const char *name;
    cn_component_kind_t kind;
    const char *help;               /* one line for `cannoli list` */
    const cn_param_spec_t *params;  /* schema (static) */
    size_t n_params;
    cn_index_ctor_t create_index;         /* CN_COMPONENT_INDEX */
    cn_quantizer_ctor_t create_quantizer; /* CN_COMPONENT_QUANTIZER */
    const char *store_name;               /* quantizers: store ops name their encode makes */
    cn_store_loader_t store_load;         /* quantizers: loads that store */
} cn_component_t;

/* NULL if no component of that kind has that name. */
const cn_component_t *cn_registry_find(const char *name, cn_component_kind_t kind);
size_t cn_registry_count(void);
const cn_component_t *cn_registry_at(size_t i);
/* Adds a component (borrowed: must stay valid). CN_EINVAL on a duplicate
 * name of the same kind. Not thread-safe: call during start-up. */
cn_status_t cn_registry_add(const cn_component_t *c, char *err, size_t errlen);
/* Store loader by store ops name (searches quantizer entries). */
cn_store_loader_t cn_registry_store_loader(const char *store_name);

/* Completes `given` (already validated against c's schema for `role`) with
 * the defaults of that role's schema entries it lacks: *out = items[0..n),
 * given's items first (in their order), then the defaults in schema order.
 * Keys and strings are borrowed from `given` and the (static) schema. A
 * required parameter (no default) is not added. CN_EINVAL if more than `cap`
 * items are needed, or a default's text does not parse as its type (a schema
 * bug, named in the message). */
cn_status_t cn_component_fill_defaults(const cn_component_t *c, cn_param_role_t role,
                                       const cn_params_t *given, cn_param_t *items, size_t cap,
                                       cn_params_t *out, char *err, size_t errlen);

/* Creates a quantizer by name after validating its parameters; the
 * constructor gets them completed with the schema's defaults (train and
 * encode it through its ops). */
cn_status_t cn_quantizer_create(cn_quantizer_t **out, const char *name, cn_metric_t metric,
                                uint32_t dim, const cn_params_t *params, char *err,
                                size_t errlen);

/* Generic store persistence: name, metric, n, dim, then the store payload. */
void cn_store_save(const cn_store_t *s, cn_writer_t *w);
cn_status_t cn_store_load(cn_store_t **out, cn_reader_t *r, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
