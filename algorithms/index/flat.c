/*
 * index/flat.c — exact search by a full scan.
 *
 * Distances are computed in blocks of FLAT_BLOCK rows with the evaluator's
 * range call (one indirect call per block) and the k best kept in a bounded
 * max-heap. Used for ground truth and as the exact reference in sweeps.
 *
 * Stores with packed code blocks (cn_block_ops_t, e.g. pq4fs) are scanned
 * through them instead: one score() call per block of `width` vectors gives
 * approximate scores with a bound, and only slots whose lower bound
 * (score - bound) is below the current k-th best get the evaluator's own
 * score (one dist_batch per block). Any vector whose own score beats the
 * k-th best passes the filter, so the results are those of the plain
 * dist_range scan (ties aside); ndist counts the block slots plus the
 * re-scored candidates.
 */
#include "cannoli/registry.h"
#include "core/heap.h"

#define FLAT_BLOCK 1024
#define FLAT_MAGIC 0x54414c464e4e43ull /* "CNNFLAT" */
#define FLAT_MAX_WIDTH 256             /* widest code block the scan accepts */

typedef struct flat_scratch {
    float block[FLAT_BLOCK];
    /* packed-block scan: approximate scores, candidates, their exact scores */
    float approx[FLAT_MAX_WIDTH];
    uint32_t cand[FLAT_MAX_WIDTH];
    float exact[FLAT_MAX_WIDTH];
} flat_scratch_t;

static cn_status_t flat_build(cn_index_t *ix, const cn_store_t *store, int threads, char *err,
                              size_t errlen) {
    (void)threads;
    (void)err;
    (void)errlen;
    ix->n = store->n;
    return CN_OK;
}

static cn_status_t flat_ctx_init(const cn_index_t *ix, cn_search_ctx_t *ctx, char *err,
                                 size_t errlen) {
    (void)ix;
    flat_scratch_t *sc = cn_calloc(1, sizeof *sc);
    if (!sc)
        return cn_error(err, errlen, CN_ENOMEM, "flat: out of memory for a search context");
    ctx->priv = sc;
    return CN_OK;
}

static void flat_ctx_free(cn_search_ctx_t *ctx) {
    flat_scratch_t *sc = ctx->priv;
    cn_free(sc);
    ctx->priv = NULL;
}

static cn_status_t flat_ctx_set_params(cn_search_ctx_t *ctx, const cn_params_t *p, char *err,
                                       size_t errlen) {
    (void)ctx;
    (void)p;
    (void)err;
    (void)errlen;
    return CN_OK;
}

/* The k best are kept in a max-heap laid over the caller's output arrays, so a
 * search never allocates; an in-place heapsort then orders them ascending. */
static inline void offer(cn_heap_t *h, size_t k, float s, uint32_t id) {
    if (h->size < k) {
        cn_maxheap_push(h, s, id);
    } else if (s < h->score[0]) {
        h->score[0] = s;
        h->id[0] = id;
        cn_maxheap_sift_down(h, 0);
    }
}

/* The scan through the store's packed code blocks (see the top). */
static size_t flat_search_blocks(const cn_index_t *ix, cn_search_ctx_t *ctx, size_t k,
                                 const cn_block_ops_t *bo, const uint8_t *blocks, uint32_t *ids,
                                 float *scores) {
    flat_scratch_t *sc = ctx->priv;
    cn_heap_t h = {scores, ids, 0, k};
    cn_evaluator_t *ev = ctx->ev;
    const uint32_t n = ix->n, W = bo->width;
    const size_t bb = bo->block_bytes(ev->store);
    uint64_t nexact = 0;
    for (uint32_t start = 0; start < n; start += W, blocks += bb) {
        const float bound = bo->score(ev, blocks, sc->approx);
        const size_t len = n - start < W ? n - start : W;
        size_t nc = 0;
        for (size_t i = 0; i < len; i++)
            if (h.size < k || sc->approx[i] - bound < h.score[0])
                sc->cand[nc++] = start + (uint32_t)i;
        if (!nc) continue;
        ev->ops->dist_batch(ev, sc->cand, nc, sc->exact);
        for (size_t c = 0; c < nc; c++) offer(&h, k, sc->exact[c], sc->cand[c]);
        nexact += nc;
    }
    ctx->stats.ndist += n + nexact;
    return cn_maxheap_sort_inplace(&h);
}

static size_t flat_search(const cn_index_t *ix, cn_search_ctx_t *ctx, size_t k, uint32_t *ids,
                          float *scores) {
    flat_scratch_t *sc = ctx->priv;
    cn_heap_t h = {scores, ids, 0, k};
    cn_evaluator_t *ev = ctx->ev;
    uint32_t n = ix->n;
    const cn_block_ops_t *bo = ev->store->ops->blocks;
    if (bo && bo->store_blocks && bo->width <= FLAT_MAX_WIDTH && k > 0) {
        const uint8_t *blocks = bo->store_blocks(ev->store);
        if (blocks) return flat_search_blocks(ix, ctx, k, bo, blocks, ids, scores);
    }
    for (uint32_t start = 0; start < n; start += FLAT_BLOCK) {
        size_t len = n - start < FLAT_BLOCK ? n - start : FLAT_BLOCK;
        ev->ops->dist_range(ev, start, len, sc->block);
        for (size_t i = 0; i < len; i++) {
            float s = sc->block[i];
            if (h.size < k) {
                cn_maxheap_push(&h, s, start + (uint32_t)i);
            } else if (s < h.score[0]) {
                h.score[0] = s;
                h.id[0] = start + (uint32_t)i;
                cn_maxheap_sift_down(&h, 0);
            }
        }
    }
    ctx->stats.ndist += n;
    return cn_maxheap_sort_inplace(&h);
}

static size_t flat_bytes(const cn_index_t *ix) {
    (void)ix;
    return 0;
}

static void flat_save(const cn_index_t *ix, cn_writer_t *w) {
    cn_write_u64(w, FLAT_MAGIC);
    cn_write_u32(w, ix->n);
}

static cn_status_t flat_load(cn_index_t *ix, cn_reader_t *r, char *err, size_t errlen) {
    uint64_t magic = cn_read_u64(r);
    uint32_t n = cn_read_u32(r);
    if (r->st != CN_OK || magic != FLAT_MAGIC)
        return cn_error(err, errlen, CN_EFORMAT, "%s: malformed flat index payload",
                        r->path ? r->path : "index file");
    ix->n = n;
    return CN_OK;
}

static void flat_destroy(cn_index_t *ix) { cn_free(ix); }

static const cn_index_ops_t flat_ops = {
    .name = "flat",
    .build = flat_build,
    .ctx_init = flat_ctx_init,
    .ctx_free = flat_ctx_free,
    .ctx_set_params = flat_ctx_set_params,
    .search = flat_search,
    .bytes = flat_bytes,
    .save = flat_save,
    .load = flat_load,
    .destroy = flat_destroy,
};

static cn_status_t flat_create(cn_index_t **out, cn_metric_t metric, uint32_t dim,
                               const cn_params_t *build_params, char *err, size_t errlen) {
    (void)build_params;
    cn_index_t *ix = cn_calloc(1, sizeof *ix);
    if (!ix) return cn_error(err, errlen, CN_ENOMEM, "flat: out of memory");
    ix->ops = &flat_ops;
    ix->metric = metric;
    ix->dim = dim;
    *out = ix;
    return CN_OK;
}

const cn_component_t cn_component_flat = {
    .name = "flat",
    .kind = CN_COMPONENT_INDEX,
    .help = "exact search by a full scan (ground truth, small sets)",
    .create_index = flat_create,
};
