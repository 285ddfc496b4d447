/*
 * quant/vec_util.h — what every dense store does to a vector the same way:
 * normalise (cosine) and take an outside query in (checked, copied,
 * normalised). One place, so all stores agree on the messages and the maths.
 */
#ifndef CN_QUANT_VEC_UTIL_H
#define CN_QUANT_VEC_UTIL_H

#include <math.h>
#include <string.h>

#include "cannoli/store.h"

/* The dense_f32 store's loader (dense_f32.c), a cn_store_loader_t: named by
 * the `plain` entry (plain.c); everyone else reaches it through the registry. */
cn_status_t cn_store_dense_load(cn_store_t **out, cn_reader_t *r, cn_metric_t metric,
                                uint32_t n, uint32_t dim, char *err, size_t errlen);

/* Scales v to unit length (accumulated in double); a zero vector stays zero. */
static inline void cn_vec_normalise(float *v, size_t d) {
    double s = 0;
    for (size_t j = 0; j < d; j++) s += (double)v[j] * v[j];
    if (s > 0) {
        float inv = (float)(1.0 / sqrt(s));
        for (size_t j = 0; j < d; j++) v[j] *= inv;
    }
}

/* Checks that q is a dense, finite vector, copies its `dim` floats to dst and
 * normalises them for the cosine metric. `store` names the store in errors. */
static inline cn_status_t cn_query_take(const cn_vec_t *q, size_t dim, cn_metric_t metric,
                                        float *dst, const char *store, char *err,
                                        size_t errlen) {
    if (!q || !q->dense)
        return cn_error(err, errlen, CN_EINVAL,
                        "%s store: query is not a dense vector of dimension %zu", store, dim);
    for (size_t j = 0; j < dim; j++) {
        if (!isfinite(q->dense[j]))
            return cn_error(err, errlen, CN_EINVAL, "query has a %s value at dimension %zu",
                            isnan(q->dense[j]) ? "NaN" : "infinite", j);
    }
    memcpy(dst, q->dense, dim * sizeof(float));
    if (metric == CN_METRIC_COSINE) cn_vec_normalise(dst, dim);
    return CN_OK;
}

#endif
