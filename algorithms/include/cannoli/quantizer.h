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
 * Adding a quantizer touches no index code: one new file with its ops, its
 * store and evaluator, and one line in the registry.
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
} cn_quantizer_ops_t;

/* Base of every quantizer; implementations embed it as their first member. */
struct cn_quantizer {
    const cn_quantizer_ops_t *ops;
    cn_metric_t metric;
    uint32_t dim;
};

/* NULL-safe. */
static inline void cn_quantizer_destroy(cn_quantizer_t *q) {
    if (q) q->ops->destroy(q);
}

/* The identity quantizer (registry name "plain"). */
cn_status_t cn_quantizer_plain_create(cn_quantizer_t **out, cn_metric_t metric, uint32_t dim,
                                      const cn_params_t *params, char *err, size_t errlen);

/* Half precision (registry name "f16", store "dense_f16"; quant/f16.c). */
cn_status_t cn_quantizer_f16_create(cn_quantizer_t **out, cn_metric_t metric, uint32_t dim,
                                    const cn_params_t *params, char *err, size_t errlen);
/* Loads the payload written by a dense_f16 store's save() (a cn_store_loader_t). */
cn_status_t cn_store_f16_load(cn_store_t **out, cn_reader_t *r, cn_metric_t metric, uint32_t n,
                              uint32_t dim, char *err, size_t errlen);

/* 8-bit scalar quantization (registry name "sq8", store "sq8"; quant/sq8.c). */
cn_status_t cn_quantizer_sq8_create(cn_quantizer_t **out, cn_metric_t metric, uint32_t dim,
                                    const cn_params_t *params, char *err, size_t errlen);
/* Loads the payload written by an sq8 store's save() (a cn_store_loader_t). */
cn_status_t cn_store_sq8_load(cn_store_t **out, cn_reader_t *r, cn_metric_t metric, uint32_t n,
                              uint32_t dim, char *err, size_t errlen);

/* Product quantization (registry name "pq", store "pq"; quant/pq.c). */
cn_status_t cn_quantizer_pq_create(cn_quantizer_t **out, cn_metric_t metric, uint32_t dim,
                                   const cn_params_t *params, char *err, size_t errlen);
/* Loads the payload written by a pq store's save() (a cn_store_loader_t). */
cn_status_t cn_store_pq_load(cn_store_t **out, cn_reader_t *r, cn_metric_t metric, uint32_t n,
                             uint32_t dim, char *err, size_t errlen);

/* Sparse vectors (registry name "sparse", store "sparse_csr"; quant/sparse.c):
 * parameter values = f32 (identity on an f32 sparse store) | f16. The store
 * loader is cn_store_sparse_load (store.h). Metric ip only. */
cn_status_t cn_quantizer_sparse_create(cn_quantizer_t **out, cn_metric_t metric, uint32_t dim,
                                       const cn_params_t *params, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
