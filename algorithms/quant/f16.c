/*
 * quant/f16.c — the half-precision quantizer (registry name "f16") and its
 * store "dense_f16".
 *
 * Each vector is stored as IEEE binary16, 2 bytes per dimension, in one
 * 64-byte aligned block (stride = dim). For cosine the input rows are already
 * unit vectors (the dense_f32 store normalises on insert) and queries are
 * normalised in set_query, so the score is the negated inner product, as for
 * dense_f32. The query stays in float32; stored halves are widened on the fly
 * inside the distance kernels.
 *
 * Conversion uses IEEE semantics (round to nearest even, overflow to inf),
 * but encode rejects a vector with a value whose conversion would overflow,
 * so no inf is ever stored. The evaluator captures one kernel table (chosen
 * by cn_simd_level()) at creation: one indirect call per batch.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "quant/vec_util.h"
#include "cannoli/registry.h"
#include "quant/f16_internal.h"

/* ---- scalar kernels (baseline ISA) --------------------------------------------- */

static inline float l2sq_f16_scalar(const float *q, const uint16_t *x, size_t d) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        float t0 = q[i] - cn_f16_to_f32(x[i]), t1 = q[i + 1] - cn_f16_to_f32(x[i + 1]);
        float t2 = q[i + 2] - cn_f16_to_f32(x[i + 2]), t3 = q[i + 3] - cn_f16_to_f32(x[i + 3]);
        s0 += t0 * t0;
        s1 += t1 * t1;
        s2 += t2 * t2;
        s3 += t3 * t3;
    }
    for (; i < d; i++) {
        float t = q[i] - cn_f16_to_f32(x[i]);
        s0 += t * t;
    }
    return (s0 + s1) + (s2 + s3);
}

static inline float negdot_f16_scalar(const float *q, const uint16_t *x, size_t d) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        s0 += q[i] * cn_f16_to_f32(x[i]);
        s1 += q[i + 1] * cn_f16_to_f32(x[i + 1]);
        s2 += q[i + 2] * cn_f16_to_f32(x[i + 2]);
        s3 += q[i + 3] * cn_f16_to_f32(x[i + 3]);
    }
    for (; i < d; i++) s0 += q[i] * cn_f16_to_f32(x[i]);
    return -((s0 + s1) + (s2 + s3));
}

static void to_half_scalar(const float *in, uint16_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = cn_f32_to_f16(in[i]);
}

static void to_float_scalar(const uint16_t *in, float *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = cn_f16_to_f32(in[i]);
}

CN_F16_DEFINE_KERNELS(scalar, l2sq_f16_scalar, negdot_f16_scalar, to_half_scalar,
                      to_float_scalar);

const cn_f16_kernels_t *cn_f16_kernels_at(cn_simd_level_t level) {
    if (level > cn_simd_detect()) return NULL;
    switch (level) {
    case CN_SIMD_SCALAR: return &cn_f16_kernels_scalar;
#ifdef CN_HAVE_AVX2
    case CN_SIMD_AVX2: return &cn_f16_kernels_avx2;
#endif
#ifdef CN_HAVE_AVX512
    case CN_SIMD_AVX512: return &cn_f16_kernels_avx512;
#endif
    default: return NULL;
    }
}

static const cn_f16_kernels_t *kernels_in_use(void) {
    const cn_f16_kernels_t *k = cn_f16_kernels_at(cn_simd_level());
    return k ? k : &cn_f16_kernels_scalar;
}

/* ---- store ------------------------------------------------------------------ */

typedef struct f16_store {
    cn_store_t base;
    uint16_t *data; /* n * dim halves, aligned */
} f16_store_t;

typedef struct f16_eval {
    cn_evaluator_t base;
    const uint16_t *data;
    size_t dim;
    int use_dot; /* ip / cosine */
    const cn_f16_kernels_t *k;
    float *q;  /* current query, dim floats (aligned) */
    float *pa; /* dist_pairs scratch: stored vector a decoded */
} f16_eval_t;

static const cn_store_ops_t f16_store_ops;

int cn_store_is_f16(const cn_store_t *s) { return s && s->ops == &f16_store_ops; }

const uint16_t *cn_store_f16_row(const cn_store_t *s, uint32_t i) {
    return ((const f16_store_t *)s)->data + (size_t)i * s->dim;
}


/* ---- evaluator ------------------------------------------------------------ */

static cn_status_t ev_set_query(cn_evaluator_t *e, const cn_vec_t *q, char *err, size_t errlen) {
    f16_eval_t *ev = (f16_eval_t *)e;
    return cn_query_take(q, ev->dim, e->store->metric, ev->q, "dense_f16", err, errlen);
}

static void ev_set_query_id(cn_evaluator_t *e, uint32_t id) {
    f16_eval_t *ev = (f16_eval_t *)e;
    ev->k->to_float(ev->data + (size_t)id * ev->dim, ev->q, ev->dim);
}

static float ev_dist(cn_evaluator_t *e, uint32_t id) {
    f16_eval_t *ev = (f16_eval_t *)e;
    const uint16_t *row = ev->data + (size_t)id * ev->dim;
    return ev->use_dot ? ev->k->negdot(ev->q, row, ev->dim) : ev->k->l2sq(ev->q, row, ev->dim);
}

static void ev_dist_batch(cn_evaluator_t *e, const uint32_t *ids, size_t n, float *out) {
    f16_eval_t *ev = (f16_eval_t *)e;
    if (ev->use_dot)
        ev->k->negdot_batch(ev->q, ev->data, ids, n, ev->dim, out);
    else
        ev->k->l2sq_batch(ev->q, ev->data, ids, n, ev->dim, out);
}

static void ev_dist_range(cn_evaluator_t *e, uint32_t start, size_t n, float *out) {
    f16_eval_t *ev = (f16_eval_t *)e;
    if (ev->use_dot)
        ev->k->negdot_range(ev->q, ev->data, start, n, ev->dim, out);
    else
        ev->k->l2sq_range(ev->q, ev->data, start, n, ev->dim, out);
}

static void ev_dist_pairs(cn_evaluator_t *e, uint32_t a, const uint32_t *ids, size_t n,
                          float *out) {
    f16_eval_t *ev = (f16_eval_t *)e;
    ev->k->to_float(ev->data + (size_t)a * ev->dim, ev->pa, ev->dim);
    if (ev->use_dot)
        ev->k->negdot_batch(ev->pa, ev->data, ids, n, ev->dim, out);
    else
        ev->k->l2sq_batch(ev->pa, ev->data, ids, n, ev->dim, out);
}

static void ev_destroy(cn_evaluator_t *e) {
    f16_eval_t *ev = (f16_eval_t *)e;
    cn_aligned_free(ev->q);
    cn_aligned_free(ev->pa);
    cn_free(ev);
}

static const cn_evaluator_ops_t f16_eval_ops = {
    ev_set_query, ev_set_query_id, ev_dist,       ev_dist_batch,
    ev_dist_range, ev_dist_pairs,  ev_destroy,
    NULL, /* no prefetch */
};

static cn_status_t eval_create(const cn_store_t *s, const cn_f16_kernels_t *k,
                               cn_evaluator_t **out, char *err, size_t errlen) {
    *out = NULL;
    f16_eval_t *ev = cn_calloc(1, sizeof *ev);
    if (!ev) return cn_error(err, errlen, CN_ENOMEM, "out of memory creating an evaluator");
    size_t bytes = (size_t)s->dim * sizeof(float);
    ev->q = cn_aligned_alloc(bytes);
    ev->pa = cn_aligned_alloc(bytes);
    if (!ev->q || !ev->pa) {
        cn_aligned_free(ev->q);
        cn_aligned_free(ev->pa);
        cn_free(ev);
        return cn_error(err, errlen, CN_ENOMEM, "out of memory creating an evaluator");
    }
    memset(ev->q, 0, bytes);
    memset(ev->pa, 0, bytes);
    ev->base.ops = &f16_eval_ops;
    ev->base.store = s;
    ev->data = ((const f16_store_t *)s)->data;
    ev->dim = s->dim;
    ev->use_dot = s->metric != CN_METRIC_L2;
    ev->k = k;
    *out = &ev->base;
    return CN_OK;
}

static cn_status_t f16_evaluator_create(const cn_store_t *s, cn_evaluator_t **out, char *err,
                                        size_t errlen) {
    return eval_create(s, kernels_in_use(), out, err, errlen);
}

cn_status_t cn_f16_evaluator_create_at(const cn_store_t *s, cn_simd_level_t level,
                                       cn_evaluator_t **out, char *err, size_t errlen) {
    *out = NULL;
    if (!cn_store_is_f16(s))
        return cn_error(err, errlen, CN_EINVAL, "not a dense_f16 store");
    const cn_f16_kernels_t *k = cn_f16_kernels_at(level);
    if (!k)
        return cn_error(err, errlen, CN_EUNSUPPORTED, "dense_f16: SIMD level %s is not available",
                        cn_simd_name(level));
    return eval_create(s, k, out, err, errlen);
}

/* ---- store ops ------------------------------------------------------------ */

static size_t f16_bytes(const cn_store_t *s) {
    return sizeof(f16_store_t) + (size_t)s->n * s->dim * sizeof(uint16_t);
}

static void f16_decode(const cn_store_t *s, uint32_t i, float *out) {
    kernels_in_use()->to_float(cn_store_f16_row(s, i), out, s->dim);
}

static void f16_save(const cn_store_t *s, cn_writer_t *w) {
    const f16_store_t *fs = (const f16_store_t *)s;
    /* Halves are written in host order; cannoli targets little-endian hosts. */
    cn_write(w, fs->data, (size_t)s->n * s->dim * sizeof(uint16_t));
}

static void f16_destroy(cn_store_t *s) {
    f16_store_t *fs = (f16_store_t *)s;
    cn_aligned_free(fs->data);
    cn_free(fs);
}

static const cn_store_ops_t f16_store_ops = {
    "dense_f16", f16_evaluator_create, f16_bytes, f16_decode, f16_save, f16_destroy,
    NULL, /* no build-only scratch */
    NULL, /* no packed code blocks */
    NULL, /* scores are those of decode(i) */
};

static cn_status_t f16_alloc(f16_store_t **out, uint32_t n, uint32_t dim, cn_metric_t metric,
                             char *err, size_t errlen) {
    if (dim == 0) return cn_error(err, errlen, CN_EINVAL, "dense_f16 store: dimension is 0");
    if ((size_t)n > SIZE_MAX / sizeof(uint16_t) / dim)
        return cn_error(err, errlen, CN_ENOMEM, "dense_f16 store: %u x %u is too large", n, dim);
    f16_store_t *fs = cn_calloc(1, sizeof *fs);
    if (!fs) return cn_error(err, errlen, CN_ENOMEM, "out of memory");
    fs->data = cn_aligned_alloc((size_t)n * dim * sizeof(uint16_t));
    if (!fs->data) {
        cn_free(fs);
        return cn_error(err, errlen, CN_ENOMEM,
                        "out of memory allocating %u x %u halves for the dense_f16 store", n, dim);
    }
    fs->base.ops = &f16_store_ops;
    fs->base.metric = metric;
    fs->base.n = n;
    fs->base.dim = dim;
    fs->base.refs = 1;
    *out = fs;
    return CN_OK;
}

static cn_status_t f16_load(cn_store_t **out, cn_reader_t *r, cn_metric_t metric, uint32_t n,
                            uint32_t dim, char *err, size_t errlen) {
    *out = NULL;
    const char *path = r->path ? r->path : "index file";
    uint64_t rem = cn_reader_remaining(r);
    if (dim == 0 || (uint64_t)n > rem / sizeof(uint16_t) / dim)
        return cn_error(err, errlen, CN_EFORMAT, "%s: dense_f16 store of %u x %u is truncated",
                        path, n, dim);
    f16_store_t *fs;
    cn_status_t st = f16_alloc(&fs, n, dim, metric, err, errlen);
    if (st != CN_OK) return st;
    size_t count = (size_t)n * dim;
    if (cn_read(r, fs->data, count * sizeof(uint16_t)) != CN_OK) {
        f16_destroy(&fs->base);
        return cn_error(err, errlen, CN_EFORMAT, "%s: dense_f16 store is truncated", path);
    }
    for (size_t i = 0; i < count; i++) {
        if ((fs->data[i] & 0x7c00u) == 0x7c00u) {
            f16_destroy(&fs->base);
            return cn_error(err, errlen, CN_EFORMAT,
                            "%s: dense_f16 store holds an infinite or NaN value (row %zu)", path,
                            i / dim);
        }
    }
    *out = &fs->base;
    return CN_OK;
}

/* ---- quantizer -------------------------------------------------------------- */

static cn_status_t check_input(const cn_quantizer_t *q, const cn_store_t *full, char *err,
                               size_t errlen) {
    if (!cn_store_is_dense_f32(full))
        return cn_error(err, errlen, CN_EINVAL, "quantizer 'f16': input must be a dense_f32 store");
    if (full->dim != q->dim || full->metric != q->metric)
        return cn_error(err, errlen, CN_EINVAL,
                        "quantizer 'f16': store has dimension %u metric %s, expected %u %s",
                        full->dim, cn_metric_name(full->metric), q->dim,
                        cn_metric_name(q->metric));
    return CN_OK;
}

static cn_status_t f16q_train(cn_quantizer_t *q, const cn_store_t *full, char *err,
                              size_t errlen) {
    return check_input(q, full, err, errlen); /* nothing to learn */
}

/* Magnitudes from 65520 up round to inf (65520 is the tie between 65504, the
 * largest half, and 65536, which does not exist). */
#define F16_OVERFLOW 65520.0f

static cn_status_t f16q_encode(const cn_quantizer_t *q, cn_store_t *full, cn_store_t **out,
                               char *err, size_t errlen) {
    *out = NULL;
    cn_status_t st = check_input(q, full, err, errlen);
    if (st != CN_OK) return st;
    const uint32_t n = full->n, dim = full->dim;
    f16_store_t *fs;
    st = f16_alloc(&fs, n, dim, full->metric, err, errlen);
    if (st != CN_OK) return st;
    const cn_f16_kernels_t *k = kernels_in_use();
    int64_t bad = (int64_t)n; /* first row with an overflowing value */
    /* Rows are independent and the conversion is a pure function: the result
     * does not depend on the number of threads. */
#pragma omp parallel for schedule(static) reduction(min : bad)
    for (int64_t i = 0; i < (int64_t)n; i++) {
        const float *row = cn_store_dense_row(full, (uint32_t)i);
        int over = 0;
        for (size_t j = 0; j < dim; j++) over |= !(fabsf(row[j]) < F16_OVERFLOW);
        if (over) {
            if (i < bad) bad = i;
            continue;
        }
        k->to_half(row, fs->data + (size_t)i * dim, dim);
    }
    if (bad < (int64_t)n) {
        const float *row = cn_store_dense_row(full, (uint32_t)bad);
        size_t j = 0;
        while (j + 1 < dim && fabsf(row[j]) < F16_OVERFLOW) j++;
        f16_destroy(&fs->base);
        return cn_error(err, errlen, CN_EINVAL,
                        "row %lld: value %g exceeds the half-precision range (|x| < 65520, "
                        "dimension %zu)",
                        (long long)bad, (double)row[j], j);
    }
    *out = &fs->base;
    return CN_OK;
}

static size_t f16q_bpv(const cn_quantizer_t *q) { return (size_t)q->dim * sizeof(uint16_t); }

static void f16q_destroy(cn_quantizer_t *q) { cn_free(q); }

/* The kernels widen the stored halves exactly: float rounding only. */
static const cn_quantizer_ops_t f16q_ops = {
    .name = "f16",
    .train = f16q_train,
    .encode = f16q_encode,
    .bytes_per_vector = f16q_bpv,
    .destroy = f16q_destroy,
    .dist_rtol = 1e-5f,
    .dist_atol = 1e-6f,
};

static cn_status_t f16q_create(cn_quantizer_t **out, cn_metric_t metric, uint32_t dim,
                               const cn_params_t *params, char *err, size_t errlen) {
    (void)params;
    *out = NULL;
    if (dim == 0) return cn_error(err, errlen, CN_EINVAL, "quantizer 'f16': dimension is 0");
    cn_quantizer_t *q = cn_calloc(1, sizeof *q);
    if (!q) return cn_error(err, errlen, CN_ENOMEM, "out of memory");
    q->ops = &f16q_ops;
    q->metric = metric;
    q->dim = dim;
    *out = q;
    return CN_OK;
}

const cn_component_t cn_component_f16 = {
    .name = "f16",
    .kind = CN_COMPONENT_QUANTIZER,
    .help = "half precision: IEEE binary16 per dimension (2 bytes), widened to float on the fly",
    .create_quantizer = f16q_create,
    .store_name = "dense_f16",
    .store_load = f16_load,
};
