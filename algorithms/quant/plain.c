/*
 * quant/plain.c — the identity quantizer: search through full precision.
 * encode() hands back the input store with one more reference, so the plain
 * configuration costs no copy and no extra memory. It accepts any
 * full-precision store (dense f32, or sparse CSR with f32 values), so a
 * config that names no quantizer works on sparse datasets too. It is the
 * identity (q->identity = 1): nothing is lost, the index is searched at full
 * precision. Its registry entry names the dense_f32 store and its loader
 * (dense_f32.c); an f32 sparse input stays a sparse_csr store, whose loader
 * comes with the `sparse` entry.
 */
#include "cannoli/registry.h"
#include "quant/vec_util.h"

static cn_status_t plain_train(cn_quantizer_t *q, const cn_store_t *full, char *err,
                               size_t errlen) {
    (void)q;
    /* Any full-precision store: dense f32, or sparse with f32 values. */
    if (!cn_store_is_dense_f32(full) &&
        !(cn_store_is_sparse(full) && cn_store_sparse_values(full) == CN_SPARSE_F32))
        return cn_error(err, errlen, CN_EINVAL,
                        "quantizer 'plain': input must be a dense_f32 or an f32 sparse_csr store");
    return CN_OK;
}

static cn_status_t plain_encode(const cn_quantizer_t *q, cn_store_t *full, cn_store_t **out,
                                char *err, size_t errlen) {
    if (full->dim != q->dim || full->metric != q->metric)
        return cn_error(err, errlen, CN_EINVAL,
                        "quantizer 'plain': store has dimension %u metric %s, expected %u %s",
                        full->dim, cn_metric_name(full->metric), q->dim,
                        cn_metric_name(q->metric));
    *out = cn_store_retain(full);
    return CN_OK;
}

static size_t plain_bpv(const cn_quantizer_t *q) { return (size_t)q->dim * sizeof(float); }

static void plain_destroy(cn_quantizer_t *q) { cn_free(q); }

/* Scores are the stored vectors' own: float rounding only. */
static const cn_quantizer_ops_t plain_ops = {
    .name = "plain",
    .train = plain_train,
    .encode = plain_encode,
    .bytes_per_vector = plain_bpv,
    .destroy = plain_destroy,
    .dist_rtol = 1e-5f,
    .dist_atol = 1e-6f,
};

static cn_status_t plain_create(cn_quantizer_t **out, cn_metric_t metric, uint32_t dim,
                                const cn_params_t *params, char *err, size_t errlen) {
    (void)params;
    cn_quantizer_t *q = cn_calloc(1, sizeof *q);
    if (!q) return cn_error(err, errlen, CN_ENOMEM, "out of memory");
    q->ops = &plain_ops;
    q->metric = metric;
    q->dim = dim;
    q->identity = 1;
    *out = q;
    return CN_OK;
}

const cn_component_t cn_component_plain = {
    .name = "plain",
    .kind = CN_COMPONENT_QUANTIZER,
    .help = "identity: search the full-precision float32 vectors",
    .create_quantizer = plain_create,
    .store_name = "dense_f32",
    .store_load = cn_store_dense_load,
};
