/*
 * quant/sq8.c — 8-bit scalar quantizer (registry name "sq8") and its store
 * "sq8".
 *
 * Training finds, per dimension j, the range [min_j, max_j] of the training
 * vectors (all of the full-precision store, or a reproducible sample of
 * `train_size` rows drawn with `seed`), and sets scale_j = (max_j - min_j) /
 * 255. Encoding stores c_j = round((x_j - min_j) / scale_j) clamped to
 * 0..255 (values outside the trained range clamp to its ends; a constant
 * dimension has scale 0, code 0, and decodes exactly). Decoding gives
 * min_j + scale_j * c_j.
 *
 * For cosine the input rows are already unit vectors (the dense_f32 store
 * normalises on insert), so training and encoding see normalised data;
 * queries are normalised in set_query. The query stays in float and is
 * prepared once per query (see sq8_internal.h); the evaluator captures one
 * kernel table, chosen by cn_simd_level(), at creation.
 *
 * Saved payload: min[dim] f32, scale[dim] f32, codes[n * dim] u8.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "quant/vec_util.h"
#include "cannoli/registry.h"
#include "quant/sq8_internal.h"

/* ---- scalar kernels (baseline ISA) --------------------------------------------- */

static inline float l2_sq8_scalar(const float *qa, const float *scale, const uint8_t *c,
                                  size_t d) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        float t0 = qa[i] - scale[i] * (float)c[i];
        float t1 = qa[i + 1] - scale[i + 1] * (float)c[i + 1];
        float t2 = qa[i + 2] - scale[i + 2] * (float)c[i + 2];
        float t3 = qa[i + 3] - scale[i + 3] * (float)c[i + 3];
        s0 += t0 * t0;
        s1 += t1 * t1;
        s2 += t2 * t2;
        s3 += t3 * t3;
    }
    for (; i < d; i++) {
        float t = qa[i] - scale[i] * (float)c[i];
        s0 += t * t;
    }
    return (s0 + s1) + (s2 + s3);
}

static inline float negdot_sq8_scalar(const float *qa, float bias, const uint8_t *c, size_t d) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        s0 += qa[i] * (float)c[i];
        s1 += qa[i + 1] * (float)c[i + 1];
        s2 += qa[i + 2] * (float)c[i + 2];
        s3 += qa[i + 3] * (float)c[i + 3];
    }
    for (; i < d; i++) s0 += qa[i] * (float)c[i];
    return bias - ((s0 + s1) + (s2 + s3));
}

CN_SQ8_DEFINE_KERNELS(scalar, l2_sq8_scalar, negdot_sq8_scalar);

const cn_sq8_kernels_t *cn_sq8_kernels_at(cn_simd_level_t level) {
    if (level > cn_simd_detect()) return NULL;
    switch (level) {
    case CN_SIMD_SCALAR: return &cn_sq8_kernels_scalar;
#ifdef CN_HAVE_AVX2
    case CN_SIMD_AVX2: return &cn_sq8_kernels_avx2;
#endif
#ifdef CN_HAVE_AVX512
    case CN_SIMD_AVX512: return &cn_sq8_kernels_avx512;
#endif
    default: return NULL;
    }
}

/* ---- store ------------------------------------------------------------------ */

typedef struct sq8_store {
    cn_store_t base;
    float *vmin;    /* dim, aligned */
    float *scale;   /* dim, aligned */
    uint8_t *codes; /* n * dim, aligned */
} sq8_store_t;

static const cn_store_ops_t sq8_store_ops;

int cn_store_is_sq8(const cn_store_t *s) { return s && s->ops == &sq8_store_ops; }
const float *cn_store_sq8_min(const cn_store_t *s) { return ((const sq8_store_t *)s)->vmin; }
const float *cn_store_sq8_scale(const cn_store_t *s) { return ((const sq8_store_t *)s)->scale; }
const uint8_t *cn_store_sq8_code(const cn_store_t *s, uint32_t i) {
    return ((const sq8_store_t *)s)->codes + (size_t)i * s->dim;
}

static void decode_row(const float *vmin, const float *scale, const uint8_t *c, size_t d,
                       float *out) {
    for (size_t j = 0; j < d; j++) out[j] = vmin[j] + scale[j] * (float)c[j];
}


/* ---- evaluator ------------------------------------------------------------ */

typedef struct sq8_eval {
    cn_evaluator_t base;
    const uint8_t *codes;
    const float *vmin, *scale;
    size_t dim;
    int use_dot; /* ip / cosine */
    const cn_sq8_kernels_t *k;
    float *x;    /* scratch: raw query / decoded vector */
    float *qa;   /* prepared query */
    float bias;
    float *pa;   /* prepared stored vector for dist_pairs */
    float pbias;
} sq8_eval_t;

/* Prepares x (dim floats) as a query: see sq8_internal.h. */
static void prepare(const sq8_eval_t *ev, const float *x, float *qa, float *bias) {
    const size_t d = ev->dim;
    if (ev->use_dot) {
        double b = 0;
        for (size_t j = 0; j < d; j++) {
            qa[j] = x[j] * ev->scale[j];
            b += (double)x[j] * ev->vmin[j];
        }
        *bias = (float)-b;
    } else {
        for (size_t j = 0; j < d; j++) qa[j] = x[j] - ev->vmin[j];
        *bias = 0;
    }
}

static cn_status_t ev_set_query(cn_evaluator_t *e, const cn_vec_t *q, char *err, size_t errlen) {
    sq8_eval_t *ev = (sq8_eval_t *)e;
    cn_status_t st = cn_query_take(q, ev->dim, e->store->metric, ev->x, "sq8", err, errlen);
    if (st != CN_OK) return st;
    prepare(ev, ev->x, ev->qa, &ev->bias);
    return CN_OK;
}

static void ev_set_query_id(cn_evaluator_t *e, uint32_t id) {
    sq8_eval_t *ev = (sq8_eval_t *)e;
    decode_row(ev->vmin, ev->scale, ev->codes + (size_t)id * ev->dim, ev->dim, ev->x);
    prepare(ev, ev->x, ev->qa, &ev->bias);
}

static float ev_dist(cn_evaluator_t *e, uint32_t id) {
    sq8_eval_t *ev = (sq8_eval_t *)e;
    const uint8_t *c = ev->codes + (size_t)id * ev->dim;
    return ev->use_dot ? ev->k->negdot(ev->qa, ev->bias, c, ev->dim)
                       : ev->k->l2(ev->qa, ev->scale, c, ev->dim);
}

static void ev_dist_batch(cn_evaluator_t *e, const uint32_t *ids, size_t n, float *out) {
    sq8_eval_t *ev = (sq8_eval_t *)e;
    if (ev->use_dot)
        ev->k->negdot_batch(ev->qa, ev->bias, ev->codes, ids, n, ev->dim, out);
    else
        ev->k->l2_batch(ev->qa, ev->scale, ev->codes, ids, n, ev->dim, out);
}

static void ev_dist_range(cn_evaluator_t *e, uint32_t start, size_t n, float *out) {
    sq8_eval_t *ev = (sq8_eval_t *)e;
    if (ev->use_dot)
        ev->k->negdot_range(ev->qa, ev->bias, ev->codes, start, n, ev->dim, out);
    else
        ev->k->l2_range(ev->qa, ev->scale, ev->codes, start, n, ev->dim, out);
}

static void ev_dist_pairs(cn_evaluator_t *e, uint32_t a, const uint32_t *ids, size_t n,
                          float *out) {
    sq8_eval_t *ev = (sq8_eval_t *)e;
    decode_row(ev->vmin, ev->scale, ev->codes + (size_t)a * ev->dim, ev->dim, ev->x);
    prepare(ev, ev->x, ev->pa, &ev->pbias);
    if (ev->use_dot)
        ev->k->negdot_batch(ev->pa, ev->pbias, ev->codes, ids, n, ev->dim, out);
    else
        ev->k->l2_batch(ev->pa, ev->scale, ev->codes, ids, n, ev->dim, out);
}

static void ev_destroy(cn_evaluator_t *e) {
    sq8_eval_t *ev = (sq8_eval_t *)e;
    cn_aligned_free(ev->x);
    cn_aligned_free(ev->qa);
    cn_aligned_free(ev->pa);
    cn_free(ev);
}

static const cn_evaluator_ops_t sq8_eval_ops = {
    ev_set_query, ev_set_query_id, ev_dist,       ev_dist_batch,
    ev_dist_range, ev_dist_pairs,  ev_destroy,
    NULL, /* no prefetch */
};

static cn_status_t eval_create(const cn_store_t *s, const cn_sq8_kernels_t *k,
                               cn_evaluator_t **out, char *err, size_t errlen) {
    *out = NULL;
    const sq8_store_t *ss = (const sq8_store_t *)s;
    sq8_eval_t *ev = cn_calloc(1, sizeof *ev);
    if (!ev) return cn_error(err, errlen, CN_ENOMEM, "out of memory creating an evaluator");
    size_t bytes = (size_t)s->dim * sizeof(float);
    ev->x = cn_aligned_alloc(bytes);
    ev->qa = cn_aligned_alloc(bytes);
    ev->pa = cn_aligned_alloc(bytes);
    if (!ev->x || !ev->qa || !ev->pa) {
        ev_destroy(&ev->base);
        return cn_error(err, errlen, CN_ENOMEM, "out of memory creating an evaluator");
    }
    ev->base.ops = &sq8_eval_ops;
    ev->base.store = s;
    ev->codes = ss->codes;
    ev->vmin = ss->vmin;
    ev->scale = ss->scale;
    ev->dim = s->dim;
    ev->use_dot = s->metric != CN_METRIC_L2;
    ev->k = k;
    memset(ev->x, 0, bytes);
    prepare(ev, ev->x, ev->qa, &ev->bias); /* a defined (zero) query until set_query */
    memcpy(ev->pa, ev->qa, bytes);
    ev->pbias = ev->bias;
    *out = &ev->base;
    return CN_OK;
}

static cn_status_t sq8_evaluator_create(const cn_store_t *s, cn_evaluator_t **out, char *err,
                                        size_t errlen) {
    const cn_sq8_kernels_t *k = cn_sq8_kernels_at(cn_simd_level());
    return eval_create(s, k ? k : &cn_sq8_kernels_scalar, out, err, errlen);
}

cn_status_t cn_sq8_evaluator_create_at(const cn_store_t *s, cn_simd_level_t level,
                                       cn_evaluator_t **out, char *err, size_t errlen) {
    *out = NULL;
    if (!cn_store_is_sq8(s)) return cn_error(err, errlen, CN_EINVAL, "not an sq8 store");
    const cn_sq8_kernels_t *k = cn_sq8_kernels_at(level);
    if (!k)
        return cn_error(err, errlen, CN_EUNSUPPORTED, "sq8: SIMD level %s is not available",
                        cn_simd_name(level));
    return eval_create(s, k, out, err, errlen);
}

/* ---- store ops ------------------------------------------------------------ */

static size_t sq8_bytes(const cn_store_t *s) {
    return sizeof(sq8_store_t) + 2 * (size_t)s->dim * sizeof(float) + (size_t)s->n * s->dim;
}

static void sq8_decode(const cn_store_t *s, uint32_t i, float *out) {
    const sq8_store_t *ss = (const sq8_store_t *)s;
    decode_row(ss->vmin, ss->scale, cn_store_sq8_code(s, i), s->dim, out);
}

static void sq8_save(const cn_store_t *s, cn_writer_t *w) {
    const sq8_store_t *ss = (const sq8_store_t *)s;
    /* Floats are written in host order; cannoli targets little-endian hosts. */
    cn_write(w, ss->vmin, (size_t)s->dim * sizeof(float));
    cn_write(w, ss->scale, (size_t)s->dim * sizeof(float));
    cn_write(w, ss->codes, (size_t)s->n * s->dim);
}

static void sq8_destroy(cn_store_t *s) {
    sq8_store_t *ss = (sq8_store_t *)s;
    cn_aligned_free(ss->vmin);
    cn_aligned_free(ss->scale);
    cn_aligned_free(ss->codes);
    cn_free(ss);
}

static const cn_store_ops_t sq8_store_ops = {
    "sq8", sq8_evaluator_create, sq8_bytes, sq8_decode, sq8_save, sq8_destroy,
    NULL, /* no build-only scratch */
    NULL, /* no packed code blocks */
    NULL, /* scores are those of decode(i) */
};

static cn_status_t sq8_alloc(sq8_store_t **out, uint32_t n, uint32_t dim, cn_metric_t metric,
                             char *err, size_t errlen) {
    if (dim == 0) return cn_error(err, errlen, CN_EINVAL, "sq8 store: dimension is 0");
    if ((size_t)n > SIZE_MAX / dim)
        return cn_error(err, errlen, CN_ENOMEM, "sq8 store: %u x %u is too large", n, dim);
    sq8_store_t *ss = cn_calloc(1, sizeof *ss);
    if (!ss) return cn_error(err, errlen, CN_ENOMEM, "out of memory");
    ss->vmin = cn_aligned_alloc((size_t)dim * sizeof(float));
    ss->scale = cn_aligned_alloc((size_t)dim * sizeof(float));
    ss->codes = cn_aligned_alloc((size_t)n * dim);
    if (!ss->vmin || !ss->scale || !ss->codes) {
        sq8_destroy(&ss->base);
        return cn_error(err, errlen, CN_ENOMEM,
                        "out of memory allocating %u x %u codes for the sq8 store", n, dim);
    }
    ss->base.ops = &sq8_store_ops;
    ss->base.metric = metric;
    ss->base.n = n;
    ss->base.dim = dim;
    ss->base.refs = 1;
    *out = ss;
    return CN_OK;
}

static cn_status_t sq8_load(cn_store_t **out, cn_reader_t *r, cn_metric_t metric, uint32_t n,
                            uint32_t dim, char *err, size_t errlen) {
    *out = NULL;
    const char *path = r->path ? r->path : "index file";
    uint64_t rem = cn_reader_remaining(r);
    uint64_t tables = 2ull * dim * sizeof(float);
    if (dim == 0 || rem < tables || (uint64_t)n > (rem - tables) / dim)
        return cn_error(err, errlen, CN_EFORMAT, "%s: sq8 store of %u x %u is truncated", path,
                        n, dim);
    sq8_store_t *ss;
    cn_status_t st = sq8_alloc(&ss, n, dim, metric, err, errlen);
    if (st != CN_OK) return st;
    cn_read(r, ss->vmin, (size_t)dim * sizeof(float));
    cn_read(r, ss->scale, (size_t)dim * sizeof(float));
    cn_read(r, ss->codes, (size_t)n * dim);
    if (r->st != CN_OK) {
        sq8_destroy(&ss->base);
        return cn_error(err, errlen, CN_EFORMAT, "%s: sq8 store is truncated", path);
    }
    for (size_t j = 0; j < dim; j++) {
        float lo = ss->vmin[j], sc = ss->scale[j];
        if (!isfinite(lo) || !isfinite(sc) || !(sc >= 0) || !isfinite(lo + 255.0f * sc)) {
            sq8_destroy(&ss->base);
            return cn_error(err, errlen, CN_EFORMAT,
                            "%s: sq8 store has an invalid range at dimension %zu (min %g, "
                            "scale %g)",
                            path, j, (double)lo, (double)sc);
        }
    }
    *out = &ss->base;
    return CN_OK;
}

/* ---- quantizer -------------------------------------------------------------- */

typedef struct sq8_quantizer {
    cn_quantizer_t base;
    uint64_t train_size;
    uint64_t seed;
    int trained;
    float *vmin;  /* dim, after train */
    float *scale; /* dim, after train */
} sq8_quantizer_t;

static cn_status_t check_input(const cn_quantizer_t *q, const cn_store_t *full, char *err,
                               size_t errlen) {
    if (!cn_store_is_dense_f32(full))
        return cn_error(err, errlen, CN_EINVAL, "quantizer 'sq8': input must be a dense_f32 store");
    if (full->dim != q->dim || full->metric != q->metric)
        return cn_error(err, errlen, CN_EINVAL,
                        "quantizer 'sq8': store has dimension %u metric %s, expected %u %s",
                        full->dim, cn_metric_name(full->metric), q->dim,
                        cn_metric_name(q->metric));
    return CN_OK;
}

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void widen(float *lo, float *hi, const float *row, size_t d) {
    for (size_t j = 0; j < d; j++) {
        if (row[j] < lo[j]) lo[j] = row[j];
        if (row[j] > hi[j]) hi[j] = row[j];
    }
}

static cn_status_t sq8q_train(cn_quantizer_t *qb, const cn_store_t *full, char *err,
                              size_t errlen) {
    sq8_quantizer_t *q = (sq8_quantizer_t *)qb;
    cn_status_t st = check_input(qb, full, err, errlen);
    if (st != CN_OK) return st;
    const size_t d = qb->dim;
    const uint32_t n = full->n;
    float *hi = cn_malloc(d * sizeof *hi);
    if (!hi) return cn_error(err, errlen, CN_ENOMEM, "quantizer 'sq8': out of memory");
    float *lo = q->vmin;
    for (size_t j = 0; j < d; j++) {
        lo[j] = n ? INFINITY : 0.0f;
        hi[j] = n ? -INFINITY : 0.0f;
    }
    if ((uint64_t)n <= q->train_size) {
        for (uint32_t i = 0; i < n; i++) widen(lo, hi, cn_store_dense_row(full, i), d);
    } else {
        /* Selection sampling (Knuth's algorithm S): exactly train_size rows,
         * each subset equally likely, in one pass without extra memory. */
        uint64_t rng = q->seed, need = q->train_size, left = n;
        for (uint32_t i = 0; i < n && need > 0; i++, left--) {
            double u = (double)(splitmix64(&rng) >> 11) * 0x1p-53;
            if (u * (double)left < (double)need) {
                widen(lo, hi, cn_store_dense_row(full, i), d);
                need--;
            }
        }
    }
    for (size_t j = 0; j < d; j++) {
        double range = (double)hi[j] - (double)lo[j];
        q->scale[j] = (float)(range / 255.0);
    }
    cn_free(hi);
    q->trained = 1;
    return CN_OK;
}

static cn_status_t sq8q_encode(const cn_quantizer_t *qb, cn_store_t *full, cn_store_t **out,
                               char *err, size_t errlen) {
    const sq8_quantizer_t *q = (const sq8_quantizer_t *)qb;
    *out = NULL;
    cn_status_t st = check_input(qb, full, err, errlen);
    if (st != CN_OK) return st;
    if (!q->trained)
        return cn_error(err, errlen, CN_EINVAL, "quantizer 'sq8': encode called before train");
    const uint32_t n = full->n, dim = full->dim;
    double *inv = cn_malloc((size_t)dim * sizeof *inv);
    if (!inv) return cn_error(err, errlen, CN_ENOMEM, "quantizer 'sq8': out of memory");
    sq8_store_t *ss;
    st = sq8_alloc(&ss, n, dim, full->metric, err, errlen);
    if (st != CN_OK) {
        cn_free(inv);
        return st;
    }
    memcpy(ss->vmin, q->vmin, (size_t)dim * sizeof(float));
    memcpy(ss->scale, q->scale, (size_t)dim * sizeof(float));
    for (size_t j = 0; j < dim; j++) inv[j] = q->scale[j] > 0 ? 1.0 / (double)q->scale[j] : 0.0;
    const float *vmin = q->vmin;
    /* Each code is a pure function of its value: the result does not depend
     * on the number of threads. */
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < (int64_t)n; i++) {
        const float *row = cn_store_dense_row(full, (uint32_t)i);
        uint8_t *c = ss->codes + (size_t)i * dim;
        for (size_t j = 0; j < dim; j++) {
            double t = ((double)row[j] - (double)vmin[j]) * inv[j];
            c[j] = !(t > 0.0) ? 0 : t >= 254.5 ? 255 : (uint8_t)(t + 0.5);
        }
    }
    cn_free(inv);
    *out = &ss->base;
    return CN_OK;
}

static size_t sq8q_bpv(const cn_quantizer_t *q) { return q->dim; }

static void sq8q_destroy(cn_quantizer_t *qb) {
    sq8_quantizer_t *q = (sq8_quantizer_t *)qb;
    if (!q) return;
    cn_free(q->vmin);
    cn_free(q->scale);
    cn_free(q);
}

/* The kernels score the codes against a query folded with min and scale
 * (sq8_internal.h): the decoded vector's score up to float rounding of the
 * folding (scale-relative, hence dist_atol). */
static const cn_quantizer_ops_t sq8q_ops = {
    .name = "sq8",
    .train = sq8q_train,
    .encode = sq8q_encode,
    .bytes_per_vector = sq8q_bpv,
    .destroy = sq8q_destroy,
    .dist_rtol = 1e-5f,
    .dist_atol = 1e-5f,
};

static cn_status_t sq8q_create(cn_quantizer_t **out, cn_metric_t metric, uint32_t dim,
                               const cn_params_t *params, char *err, size_t errlen) {
    *out = NULL;
    if (dim == 0) return cn_error(err, errlen, CN_EINVAL, "quantizer 'sq8': dimension is 0");
    long long ts = cn_params_get_int(params, "train_size");
    long long seed = cn_params_get_int(params, "seed");
    if (ts < 1)
        return cn_error(err, errlen, CN_EINVAL, "quantizer 'sq8': train_size must be >= 1");
    sq8_quantizer_t *q = cn_calloc(1, sizeof *q);
    if (!q) return cn_error(err, errlen, CN_ENOMEM, "out of memory");
    q->vmin = cn_calloc(dim, sizeof(float));
    q->scale = cn_calloc(dim, sizeof(float));
    if (!q->vmin || !q->scale) {
        sq8q_destroy(&q->base);
        return cn_error(err, errlen, CN_ENOMEM, "out of memory");
    }
    q->base.ops = &sq8q_ops;
    q->base.metric = metric;
    q->base.dim = dim;
    q->train_size = (uint64_t)ts;
    q->seed = (uint64_t)seed;
    *out = &q->base;
    return CN_OK;
}

static const cn_param_spec_t sq8_params[] = {
    {"train_size", CN_PARAM_INT, CN_ROLE_BUILD, 1, 2147483647.0, "1000000", NULL,
     "rows sampled (seeded) to learn the per-dimension ranges; all rows if fewer", 0},
    {"seed", CN_PARAM_INT, CN_ROLE_BUILD, 0, 9007199254740991.0, "42", NULL,
     "seed of the training sample", 0},
};

const cn_component_t cn_component_sq8 = {
    .name = "sq8",
    .kind = CN_COMPONENT_QUANTIZER,
    .help = "8-bit scalar quantization: per-dimension min/max ranges, 1 byte per dimension",
    .params = sq8_params,
    .n_params = sizeof sq8_params / sizeof sq8_params[0],
    .create_quantizer = sq8q_create,
    .store_name = "sq8",
    .store_load = sq8_load,
};
