/*
 * cannoli/quantizer.h — quantizers (encoders) turn a full-precision store into
 * the representation an index is searched through.
 *
 * Life cycle: create (from the registry, with build parameters) -> train on a
 * full-precision store (or a sample of it) -> encode that store into a new
 * store. The encoded store is self-contained: it carries whatever it needs to
 * compute distances and to be saved and loaded (codebooks, ranges), so a saved
 * index needs no separate quantizer file. `plain` is the identity: its encode
 * returns the input store with one more reference.
 *
 * Adding a quantizer touches no index code and no public header: one new
 * file with its ops, its store and evaluator and its registry entry
 * (`const cn_component_t cn_component_<name>`), and one line in the list of
 * algorithms/registry.c. Constructors are reached by name only, through
 * cn_quantizer_create() (registry.h). See algorithms/quant/README.md.
 */
#ifndef CANNOLI_QUANTIZER_H
#define CANNOLI_QUANTIZER_H

#include "cannoli/common.h"
#include "cannoli/params.h"
#include "cannoli/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cn_quantizer cn_quantizer_t;

typedef struct cn_quantizer_ops {
    const char *name;
    /* Learns parameters from `full` (borrowed, read-only). May be a no-op. */
    cn_status_t (*train)(cn_quantizer_t *q, const cn_store_t *full, char *err, size_t errlen);
    /* Encodes every vector of `full` into a new store (*out owned by caller,
     * release with cn_store_release). */
    cn_status_t (*encode)(const cn_quantizer_t *q, cn_store_t *full, cn_store_t **out, char *err,
                          size_t errlen);
    /* Bytes per encoded vector (codes only, not shared tables). */
    size_t (*bytes_per_vector)(const cn_quantizer_t *q);
    void (*destroy)(cn_quantizer_t *q);
    /* Declared accuracy of the evaluators of the stores this quantizer's
     * encode makes (and their loader reloads): for a query q (normalised
     * for cosine) and stored vector i with decoded vector x = decode(i),
     *   |dist(i) - score(q, x)| <= dist_rtol * |score(q, x)|
     *                              + dist_atol * (|q|^2 + |x|^2)
     * where score is the exact internal score (squared L2 or negated inner
     * product). dist_atol is relative to the vectors' scale, so the bound
     * does not change when the data are scaled. The same bound holds for the
     * stored-to-stored scores (set_query_id, dist_pairs). A store computing
     * exactly on its decoded vectors declares float rounding (~1e-5).
     * tests/unit/conformance.c checks it for every registered quantizer. */
    float dist_rtol, dist_atol;
    /* Build parameters under which this quantizer accepts every dimension
     * >= 1 and trains on CN_CONFORMANCE_TRAIN_ROWS (256) rows, for the
     * conformance suite; the schema's defaults fill the rest. {NULL, 0}
     * when the defaults already do (no shape constraint). */
    cn_params_t small_params;
} cn_quantizer_ops_t;

/* Rows the conformance suite trains on (see small_params). */
#define CN_CONFORMANCE_TRAIN_ROWS 256

/* Base of every quantizer; implementations embed it as their first member. */
struct cn_quantizer {
    const cn_quantizer_ops_t *ops;
    cn_metric_t metric;
    uint32_t dim;
    int identity; /* set by the constructor: 1 if encode returns its input store
                     itself (nothing is lost; the index is searched at full
                     precision: plain, sparse with values f32), else 0 */
};

/* NULL-safe. */
static inline void cn_quantizer_destroy(cn_quantizer_t *q) {
    if (q) q->ops->destroy(q);
}

#ifdef __cplusplus
}
#endif
#endif
