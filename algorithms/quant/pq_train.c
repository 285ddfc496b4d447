/*
 * quant/pq_train.c — codebook training shared by the product quantizers
 * "pq" (quant/pq.c) and "pq4fs" (quant/pq4fs.c); see pq_internal.h.
 *
 * The training sample is train_size rows drawn by a seeded partial
 * Fisher-Yates shuffle (all rows if n <= train_size), then sorted into row
 * order for locality. For cosine each sample row is scaled to unit norm
 * (the dense store has normalised it already; a no-op up to rounding).
 * Sub-spaces are trained in parallel (OpenMP, one k-means per sub-space,
 * seeded by seed + s); the first failing sub-space (lowest index, not the
 * first to fail in time) decides the reported error.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "quant/kmeans.h"
#include "quant/pq_internal.h"

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

cn_status_t cn_pq_check_input(const char *name, uint32_t dim, cn_metric_t metric,
                              const cn_store_t *full, char *err, size_t errlen) {
    if (!cn_store_is_dense_f32(full))
        return cn_error(err, errlen, CN_EINVAL, "quantizer '%s': input must be a dense_f32 store",
                        name);
    if (full->dim != dim || full->metric != metric)
        return cn_error(err, errlen, CN_EINVAL,
                        "quantizer '%s': store has dimension %u metric %s, expected %u %s", name,
                        full->dim, cn_metric_name(full->metric), dim, cn_metric_name(metric));
    return CN_OK;
}

cn_status_t cn_pq_parse_kmeans_params(const char *name, const cn_params_t *params,
                                      cn_pq_train_params_t *p, char *err, size_t errlen) {
    long long iterations = cn_params_get_int(params, "iterations");
    long long seed = cn_params_get_int(params, "seed");
    const char *init = cn_params_get_str(params, "init");
    if (iterations < 1 || iterations > 1000)
        return cn_error(err, errlen, CN_EINVAL,
                        "quantizer '%s': iterations = %lld is not in [1, 1000]", name, iterations);
    if (seed < 0) return cn_error(err, errlen, CN_EINVAL, "quantizer '%s': seed is negative", name);
    if (init && strcmp(init, "kmeans++") == 0) p->init = CN_KMEANS_PLUSPLUS;
    else if (init && strcmp(init, "random") == 0) p->init = CN_KMEANS_RANDOM;
    else
        return cn_error(err, errlen, CN_EINVAL,
                        "quantizer '%s': init = '%s' (expected kmeans++ or random)", name,
                        init ? init : "");
    p->iterations = (uint32_t)iterations;
    p->seed = (uint64_t)seed;
    return CN_OK;
}

cn_status_t cn_pq_train_codebooks(const char *name, const cn_store_t *full,
                                  const cn_pq_train_params_t *p, float **out, char *err,
                                  size_t errlen) {
    *out = NULL;
    const size_t n = full->n, dim = full->dim, M = p->M, ksub = p->ksub;
    const size_t ntr = n <= p->train_size ? n : (size_t)p->train_size;
    uint32_t *rows = cn_malloc(n * sizeof *rows);
    float *scale = cn_malloc(ntr * sizeof *scale);
    float *cb = cn_aligned_alloc(ksub * dim * sizeof(float));
    if (!rows || !scale || !cb) {
        cn_free(rows);
        cn_free(scale);
        cn_aligned_free(cb);
        return cn_error(err, errlen, CN_ENOMEM, "quantizer '%s': out of memory", name);
    }
    for (size_t i = 0; i < n; i++) rows[i] = (uint32_t)i;
    if (ntr < n) { /* seeded partial Fisher-Yates, then row order for locality */
        uint64_t rng = p->seed ^ 0x7071736d706c65ull;
        for (size_t i = 0; i < ntr; i++) {
            size_t j = i + (size_t)(cn_kmeans_rand(&rng) % (n - i));
            uint32_t t = rows[i];
            rows[i] = rows[j];
            rows[j] = t;
        }
        qsort(rows, ntr, sizeof *rows, cmp_u32);
    }
    for (size_t i = 0; i < ntr; i++) {
        scale[i] = 1.0f;
        if (p->metric == CN_METRIC_COSINE) {
            const float *x = cn_store_dense_row(full, rows[i]);
            double s = 0;
            for (size_t j = 0; j < dim; j++) s += (double)x[j] * x[j];
            if (s > 0) scale[i] = (float)(1.0 / sqrt(s));
        }
    }

    cn_status_t first = CN_OK;
    long first_s = -1;
    char first_err[256] = "";
    long lM = (long)M;
#pragma omp parallel for schedule(dynamic, 1)
    for (long s = 0; s < lM; s++) {
        char lerr[256] = "";
        cn_status_t lst;
        const size_t o = cn_pq_sub_off(dim, M, (size_t)s), w = cn_pq_sub_width(dim, M, (size_t)s);
        float *buf = cn_malloc(ntr * w * sizeof(float));
        if (!buf) {
            lst = CN_ENOMEM;
            snprintf(lerr, sizeof lerr, "out of memory for the training sample");
        } else {
            for (size_t i = 0; i < ntr; i++) {
                const float *x = cn_store_dense_row(full, rows[i]) + o;
                for (size_t j = 0; j < w; j++) buf[i * w + j] = x[j] * scale[i];
            }
            uint64_t sst = p->seed + (uint64_t)s;
            cn_kmeans_params_t kp = {(uint32_t)ksub, p->iterations, cn_kmeans_rand(&sst), p->init,
                                     0, NULL};
            lst = cn_kmeans(buf, ntr, w, &kp, cb + ksub * o, NULL, NULL, lerr, sizeof lerr);
            cn_free(buf);
        }
        if (lst != CN_OK) {
#pragma omp critical(cn_pq_train_err)
            if (first_s < 0 || s < first_s) {
                first = lst;
                first_s = s;
                memcpy(first_err, lerr, sizeof first_err);
            }
        }
    }
    cn_free(rows);
    cn_free(scale);
    if (first != CN_OK) {
        cn_aligned_free(cb);
        return cn_error(err, errlen, first, "quantizer '%s': sub-space %ld: %s", name, first_s,
                        first_err);
    }
    *out = cb;
    return CN_OK;
}
