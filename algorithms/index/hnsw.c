/*
 * index/hnsw.c — the HNSW index object: creation, memory, persistence, search
 * contexts and the graph-validation test hooks.
 *
 * HNSW (Malkov & Yashunin, "Efficient and robust approximate nearest neighbor
 * search using Hierarchical Navigable Small World graphs", arXiv 1603.09320)
 * is split over three files, one per phase, pgvector style:
 *   hnsw.c         this file: the object, save/load, contexts, validation;
 *   hnsw_build.c   Alg. 1 (insert), Alg. 2 (search layer), Alg. 4 (heuristic),
 *                  the OpenMP parallel build;
 *   hnsw_search.c  the query: greedy descent, then ef-bounded best-first search
 *                  on level 0 (Alg. 5 / Alg. 2).
 * The layout of the graph and its invariants are described in
 * hnsw_internal.h. The index never touches vectors: every distance goes
 * through the store's evaluator, in batches.
 *
 * Saved payload (after the generic header and stores, see cannoli/index.h),
 * scalars little-endian, arrays in host order (little-endian on every
 * platform we build for):
 *   u64 magic "cnHNSW01" | u32 M | u32 ef_construction | u64 seed | u32 n |
 *   u32 entry | u32 max_level (0xffffffff if empty) | u8 levels[n] |
 *   level 0: n x (1 + 2M) u32 (count, then 2M slots, unused slots 0) |
 *   upper:  for each node i with levels[i] > 0, levels[i] x (1 + M) u32.
 * Load checks every count against its capacity, every id against n, that
 * each neighbour on level l itself reaches level l, and the entry point, so
 * a crafted file is CN_EFORMAT and never an out-of-bounds read later.
 */
#include "index/hnsw_internal.h"

#include <math.h>
#include <string.h>

#include "cannoli/params.h"
#include "cannoli/registry.h"

#define HNSW_MAGIC 0x313057534e486e63ull /* bytes "cnHNSW01" when written little-endian */

/* ---- levels, graph memory, scratch --------------------------------------- */

static uint64_t mix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int cn_hnsw_draw_level(uint64_t seed, uint32_t id, double mult) {
    uint64_t r = mix64(seed ^ mix64((uint64_t)id * 0xd1b54a32d192ed03ull + 1));
    double u = ((double)(r >> 11) + 1.0) * (1.0 / 9007199254740992.0); /* (0, 1] */
    double l = -log(u) * mult;
    if (!(l < CN_HNSW_MAX_LEVEL)) return CN_HNSW_MAX_LEVEL;
    return (int)l;
}

void cn_hnsw_graph_free(cn_hnsw_t *h) {
    if (h->upper) {
        for (uint32_t i = 0; i < h->base.n; i++) cn_free(h->upper[i]);
    }
    cn_free(h->upper);
    cn_aligned_free(h->level0);
    cn_free(h->levels);
    h->upper = NULL;
    h->level0 = NULL;
    h->levels = NULL;
    h->upper_bytes = 0;
    h->entry = CN_HNSW_NONE;
    h->max_level = -1;
}

cn_status_t cn_hnsw_graph_alloc(cn_hnsw_t *h) {
    size_t n = h->base.n;
    size_t bytes0 = n * h->stride0 * sizeof(uint32_t);
    h->level0 = (uint32_t *)cn_aligned_alloc(bytes0);
    h->upper = (uint32_t **)cn_calloc(n ? n : 1, sizeof(uint32_t *));
    if (!h->level0 || !h->upper) return CN_ENOMEM;
    memset(h->level0, 0, bytes0);
    h->upper_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (h->levels[i] == 0) continue;
        size_t cnt = (size_t)h->levels[i] * (1 + h->M);
        h->upper[i] = (uint32_t *)cn_calloc(cnt, sizeof(uint32_t));
        if (!h->upper[i]) return CN_ENOMEM;
        h->upper_bytes += cnt * sizeof(uint32_t);
    }
    return CN_OK;
}

cn_status_t cn_hnsw_scratch_init(const cn_hnsw_t *h, cn_hnsw_scratch_t *sc, size_t n, size_t ef,
                                 int build) {
    memset(sc, 0, sizeof *sc);
    size_t deg = (size_t)h->M0 + 1;
    sc->ef = ef;
    if (cn_visited_init(&sc->vis, n) != CN_OK) goto fail;
    if (cn_heap_init(&sc->cand, 2 * ef + deg) != CN_OK) goto fail;
    if (cn_heap_init(&sc->res, ef + 1) != CN_OK) goto fail;
    sc->nbr = (uint32_t *)cn_malloc(deg * sizeof(uint32_t));
    sc->nd = (float *)cn_malloc(deg * sizeof(float));
    if (!sc->nbr || !sc->nd) goto fail;
    if (build) {
        sc->w_cap = (ef > deg ? ef : deg) + 1;
        sc->w_ids = (uint32_t *)cn_malloc(sc->w_cap * sizeof(uint32_t));
        sc->w_d = (float *)cn_malloc(sc->w_cap * sizeof(float));
        sc->sel = (uint32_t *)cn_malloc(deg * sizeof(uint32_t));
        sc->sel_d = (float *)cn_malloc(deg * sizeof(float));
        sc->pd = (float *)cn_malloc(deg * sizeof(float));
        if (!sc->w_ids || !sc->w_d || !sc->sel || !sc->sel_d || !sc->pd) goto fail;
        if (cn_heap_init(&sc->sort, deg) != CN_OK) goto fail;
    }
    return CN_OK;
fail:
    cn_hnsw_scratch_free(sc);
    return CN_ENOMEM;
}

void cn_hnsw_scratch_free(cn_hnsw_scratch_t *sc) {
    cn_visited_free(&sc->vis);
    cn_heap_free(&sc->cand);
    cn_heap_free(&sc->res);
    cn_heap_free(&sc->sort);
    cn_heap_free(&sc->kbest);
    cn_heap_free(&sc->ebest);
    cn_free(sc->nbr);
    cn_free(sc->nd);
    cn_free(sc->w_ids);
    cn_free(sc->w_d);
    cn_free(sc->sel);
    cn_free(sc->sel_d);
    cn_free(sc->pd);
    cn_evaluator_destroy(sc->ev);
    memset(sc, 0, sizeof *sc);
}

/* ---- ops ----------------------------------------------------------------- */

static void hnsw_destroy(cn_index_t *ix) {
    if (!ix) return;
    cn_hnsw_t *h = (cn_hnsw_t *)ix;
    cn_hnsw_graph_free(h);
    cn_aligned_free(h->colo);
    cn_free(h->c_inv);
    cn_free(h->c_perm);
    cn_free(h);
}

static size_t hnsw_bytes(const cn_index_t *ix) {
    const cn_hnsw_t *h = (const cn_hnsw_t *)ix;
    if (!h->level0) return 0;
    size_t n = h->base.n;
    size_t b = n * h->stride0 * sizeof(uint32_t) + n * sizeof(uint8_t) +
               n * sizeof(uint32_t *) + h->upper_bytes;
    if (h->colo) b += n * h->cstride;
    if (h->c_inv) b += 2 * n * sizeof(uint32_t); /* c_inv and c_perm */
    return b;
}

/* order=bfs: perm[new] = old, breadth-first over level 0 from the entry
 * point (neighbours in list order), so that a node's neighbours get nearby
 * numbers and their blocks nearby addresses; nodes the walk does not reach
 * (none after build's repair pass) follow in id order. */
static void bfs_order(const cn_hnsw_t *h, uint32_t *perm, uint8_t *seen) {
    const uint32_t n = h->base.n;
    size_t head = 0, tail = 0;
    memset(seen, 0, n);
    perm[tail++] = h->entry;
    seen[h->entry] = 1;
    for (uint32_t next = 0;;) {
        while (head < tail) {
            const uint32_t *l = cn_hnsw_list(h, perm[head++], 0);
            for (uint32_t j = 1; j <= l[0]; j++)
                if (!seen[l[j]]) {
                    seen[l[j]] = 1;
                    perm[tail++] = l[j];
                }
        }
        while (next < n && seen[next]) next++;
        if (next == n) break;
        seen[next] = 1;
        perm[tail++] = next;
    }
}

/* layout=colocated: one block per node, in the chosen order (`order`), with
 * the node's level-0 list renumbered to block numbers, the node's own id in
 * the store (word 1 + M0), and its neighbours' codes packed next to it with
 * the search store's block ops (which take store ids). The graph itself
 * (level0, upper) keeps store ids: build, save and validation use it. */
static cn_status_t hnsw_bind(cn_index_t *ix, char *err, size_t errlen) {
    cn_hnsw_t *h = (cn_hnsw_t *)ix;
    cn_aligned_free(h->colo);
    cn_free(h->c_inv);
    cn_free(h->c_perm);
    h->colo = NULL;
    h->c_inv = NULL;
    h->c_perm = NULL;
    if (!h->colocated || ix->n == 0 || !h->level0) return CN_OK;
    const cn_store_t *s = ix->store;
    const cn_block_ops_t *bo = s ? s->ops->blocks : NULL;
    /* A store without blocks is accepted here: the graph is often built and
     * cached with the full-precision store attached, then rebound to the
     * codes. Search contexts are refused until a store with blocks is. */
    if (!bo || !bo->pack || !bo->score || bo->width == 0) return CN_OK;
    h->cW = bo->width;
    h->cbb = bo->block_bytes(s);
    h->cnblk = (h->M0 + h->cW - 1) / h->cW;
    h->chead = (((size_t)2 + h->M0) * sizeof(uint32_t) + 63) & ~(size_t)63;
    h->cstride = (h->chead + (size_t)h->cnblk * h->cbb + 63) & ~(size_t)63;
    const size_t n = ix->n;
    if (h->cstride > SIZE_MAX / n)
        return cn_error(err, errlen, CN_ENOMEM, "hnsw: co-located blocks overflow");
    uint8_t *colo = (uint8_t *)cn_aligned_alloc(n * h->cstride);
    uint32_t *perm = NULL, *inv = NULL;
    uint8_t *seen = NULL;
    if (colo && h->order_bfs) {
        perm = (uint32_t *)cn_malloc(n * sizeof *perm);
        inv = (uint32_t *)cn_malloc(n * sizeof *inv);
        seen = (uint8_t *)cn_malloc(n);
    }
    if (!colo || (h->order_bfs && (!perm || !inv || !seen))) {
        cn_aligned_free(colo);
        cn_free(perm);
        cn_free(inv);
        cn_free(seen);
        return cn_error(err, errlen, CN_ENOMEM,
                        "hnsw: out of memory for co-located blocks (%zu x %zu bytes)", n,
                        h->cstride);
    }
    if (h->order_bfs) {
        bfs_order(h, perm, seen);
        for (size_t j = 0; j < n; j++) inv[perm[j]] = (uint32_t)j;
        cn_free(seen);
    }
    const long ln = (long)n;
#pragma omp parallel for schedule(static, 1024)
    for (long b = 0; b < ln; b++) {
        const uint32_t old = perm ? perm[b] : (uint32_t)b;
        uint8_t *node = colo + (size_t)b * h->cstride;
        uint32_t *hd = (uint32_t *)node;
        const uint32_t *l = cn_hnsw_list(h, old, 0);
        const uint32_t cnt = l[0];
        memset(node, 0, h->cstride);
        hd[0] = cnt;
        for (uint32_t j = 1; j <= cnt; j++) hd[j] = inv ? inv[l[j]] : l[j];
        hd[1 + h->M0] = old;
        for (uint32_t t = 0; t < h->cnblk; t++) {
            uint32_t first = t * h->cW;
            size_t len = cnt > first ? (cnt - first < h->cW ? cnt - first : h->cW) : 0;
            bo->pack(s, l + 1 + first, len, node + h->chead + (size_t)t * h->cbb);
        }
    }
    (void)cn_mem_settle(colo, n * h->cstride);
    h->colo = colo;
    h->c_inv = inv;
    h->c_perm = perm; /* NULL without order=bfs */
    return CN_OK;
}

static cn_status_t hnsw_ctx_init(const cn_index_t *ix, cn_search_ctx_t *ctx, char *err,
                                 size_t errlen) {
    const cn_hnsw_t *h = (const cn_hnsw_t *)ix;
    if (h->colocated && ix->n > 0 && !h->colo)
        return cn_error(err, errlen, CN_EINVAL,
                        "hnsw: layout=colocated needs a search store with packed code blocks "
                        "(quantizer pq4fs or rabitq); store '%s' has none",
                        ix->store->ops->name);
    cn_hnsw_scratch_t *sc = (cn_hnsw_scratch_t *)cn_calloc(1, sizeof *sc);
    if (!sc || cn_hnsw_scratch_init(h, sc, ix->n, 10, 0) != CN_OK ||
        (h->colo && !(sc->approx = (float *)cn_aligned_alloc((size_t)h->cnblk * h->cW *
                                                              sizeof(float)))) ||
        (h->colo && ix->store->ops->blocks->score_lb &&
         !(sc->approx_lo =
               (float *)cn_aligned_alloc((size_t)h->cnblk * h->cW * sizeof(float))))) {
        if (sc) {
            cn_hnsw_scratch_free(sc);
            cn_free(sc);
        }
        return cn_error(err, errlen, CN_ENOMEM, "hnsw: out of memory for a search context");
    }
    ctx->priv = sc;
    ctx->scores_full = h->colo && ix->rerank_store;
    return CN_OK;
}

static void hnsw_ctx_free(cn_search_ctx_t *ctx) {
    cn_hnsw_scratch_t *sc = (cn_hnsw_scratch_t *)ctx->priv;
    if (!sc) return;
    cn_aligned_free(sc->approx);
    sc->approx = NULL;
    cn_aligned_free(sc->approx_lo);
    sc->approx_lo = NULL;
    cn_hnsw_scratch_free(sc);
    cn_free(sc);
    ctx->priv = NULL;
}

static cn_status_t hnsw_ctx_set_params(cn_search_ctx_t *ctx, const cn_params_t *p, char *err,
                                       size_t errlen) {
    cn_hnsw_scratch_t *sc = (cn_hnsw_scratch_t *)ctx->priv;
    long long ef = cn_params_get_int(p, "ef");
    if (ef < 1) return cn_error(err, errlen, CN_EINVAL, "hnsw: ef must be >= 1, got %lld", ef);
    /* Reserve now so that queries never allocate. */
    if (cn_heap_reserve(&sc->res, (size_t)ef + 1) != CN_OK ||
        cn_heap_reserve(&sc->cand, 2 * (size_t)ef + sc->res.cap) != CN_OK ||
        (sc->approx && cn_heap_reserve(&sc->ebest, (size_t)ef + 1) != CN_OK))
        return cn_error(err, errlen, CN_ENOMEM, "hnsw: out of memory for ef=%lld", ef);
    sc->ef = (size_t)ef;
    long long patience = cn_params_get_int(p, "patience");
    if (patience < 0)
        return cn_error(err, errlen, CN_EINVAL, "hnsw: patience must be >= 0, got %lld",
                        patience);
    if (patience > 0 && cn_heap_reserve(&sc->kbest, (size_t)ef + 1) != CN_OK)
        return cn_error(err, errlen, CN_ENOMEM, "hnsw: out of memory for patience");
    sc->patience = (size_t)patience;
    return CN_OK;
}

static void hnsw_save(const cn_index_t *ix, cn_writer_t *w) {
    const cn_hnsw_t *h = (const cn_hnsw_t *)ix;
    uint32_t n = ix->n;
    cn_write_u64(w, HNSW_MAGIC);
    cn_write_u32(w, h->M);
    cn_write_u32(w, h->efc);
    cn_write_u64(w, h->seed);
    cn_write_u32(w, n);
    cn_write_u32(w, h->entry);
    cn_write_u32(w, (uint32_t)h->max_level);
    if (n == 0) return;
    cn_write(w, h->levels, n);
    size_t row = (size_t)1 + h->M0;
    for (uint32_t i = 0; i < n; i++)
        cn_write(w, cn_hnsw_list(h, i, 0), row * sizeof(uint32_t));
    for (uint32_t i = 0; i < n; i++) {
        if (h->levels[i] == 0) continue;
        cn_write(w, h->upper[i], (size_t)h->levels[i] * (1 + h->M) * sizeof(uint32_t));
    }
}

/* Checks one loaded list (count, ids, their levels) and zeroes unused slots. */
static int check_list(const cn_hnsw_t *h, uint32_t i, int level, char *err, size_t errlen) {
    uint32_t *l = cn_hnsw_list(h, i, level);
    uint32_t cap = cn_hnsw_cap(h, level);
    if (l[0] > cap) {
        cn_error(err, errlen, CN_EFORMAT,
                 "hnsw payload: node %u has %u neighbours on level %d (capacity %u)", i, l[0],
                 level, cap);
        return 0;
    }
    for (uint32_t j = 1; j <= l[0]; j++) {
        if (l[j] >= h->base.n) {
            cn_error(err, errlen, CN_EFORMAT,
                     "hnsw payload: node %u has neighbour id %u >= n=%u on level %d", i, l[j],
                     h->base.n, level);
            return 0;
        }
        if ((int)h->levels[l[j]] < level) {
            cn_error(err, errlen, CN_EFORMAT,
                     "hnsw payload: node %u links node %u on level %d above its level %d", i,
                     l[j], level, (int)h->levels[l[j]]);
            return 0;
        }
    }
    for (uint32_t j = l[0] + 1; j <= cap; j++) l[j] = 0;
    return 1;
}

static cn_status_t hnsw_load(cn_index_t *ix, cn_reader_t *r, char *err, size_t errlen) {
    cn_hnsw_t *h = (cn_hnsw_t *)ix;
    cn_status_t st = CN_EFORMAT;
    cn_hnsw_graph_free(h);
    ix->n = 0;
    uint64_t magic = cn_read_u64(r);
    uint32_t M = cn_read_u32(r);
    uint32_t efc = cn_read_u32(r);
    uint64_t seed = cn_read_u64(r);
    uint32_t n = cn_read_u32(r);
    uint32_t entry = cn_read_u32(r);
    uint32_t maxl = cn_read_u32(r);
    if (r->st != CN_OK)
        return cn_error(err, errlen, CN_EFORMAT, "%s: hnsw payload truncated", r->path);
    if (magic != HNSW_MAGIC)
        return cn_error(err, errlen, CN_EFORMAT, "%s: not an hnsw payload (bad magic)", r->path);
    if (M < 2 || M > 512 || efc < 1)
        return cn_error(err, errlen, CN_EFORMAT, "%s: hnsw payload has M=%u ef_construction=%u",
                        r->path, M, efc);
    h->M = M;
    h->M0 = 2 * M;
    h->efc = efc;
    h->seed = seed;
    h->mult = 1.0 / log((double)M);
    h->stride0 = ((size_t)1 + h->M0 + 15) & ~(size_t)15;
    if (n == 0) {
        if (entry != CN_HNSW_NONE || maxl != UINT32_MAX)
            return cn_error(err, errlen, CN_EFORMAT, "%s: empty hnsw graph with an entry point",
                            r->path);
        return CN_OK;
    }
    size_t row = (size_t)1 + h->M0;
    if (cn_reader_remaining(r) < (uint64_t)n + (uint64_t)n * row * sizeof(uint32_t))
        return cn_error(err, errlen, CN_EFORMAT, "%s: hnsw payload truncated (n=%u)", r->path,
                        n);
    h->levels = (uint8_t *)cn_malloc(n);
    if (!h->levels) goto nomem;
    cn_read(r, h->levels, n);
    uint64_t upper_u32 = 0;
    int top = -1;
    for (uint32_t i = 0; i < n; i++) {
        if (h->levels[i] > CN_HNSW_MAX_LEVEL) {
            cn_error(err, errlen, CN_EFORMAT, "%s: hnsw node %u has level %u", r->path, i,
                     h->levels[i]);
            goto fail;
        }
        if ((int)h->levels[i] > top) top = h->levels[i];
        upper_u32 += (uint64_t)h->levels[i] * (1 + M);
    }
    if (entry >= n || maxl != h->levels[entry] || (int)maxl != top) {
        cn_error(err, errlen, CN_EFORMAT,
                 "%s: hnsw entry point %u / max level %u inconsistent with the node levels",
                 r->path, entry, maxl);
        goto fail;
    }
    if (cn_reader_remaining(r) < (uint64_t)n * row * sizeof(uint32_t) + upper_u32 * 4) {
        cn_error(err, errlen, CN_EFORMAT, "%s: hnsw payload truncated", r->path);
        goto fail;
    }
    ix->n = n;
    if (cn_hnsw_graph_alloc(h) != CN_OK) goto nomem;
    for (uint32_t i = 0; i < n; i++) cn_read(r, cn_hnsw_list(h, i, 0), row * sizeof(uint32_t));
    for (uint32_t i = 0; i < n; i++) {
        if (h->levels[i] == 0) continue;
        cn_read(r, h->upper[i], (size_t)h->levels[i] * (1 + M) * sizeof(uint32_t));
    }
    if (r->st != CN_OK) {
        cn_error(err, errlen, CN_EFORMAT, "%s: hnsw payload truncated", r->path);
        goto fail;
    }
    for (uint32_t i = 0; i < n; i++) {
        for (int l = 0; l <= (int)h->levels[i]; l++) {
            if (!check_list(h, i, l, err, errlen)) goto fail;
        }
    }
    h->entry = entry;
    h->max_level = (int)maxl;
    return CN_OK;
nomem:
    st = cn_error(err, errlen, CN_ENOMEM, "%s: out of memory loading hnsw graph (n=%u)",
                  r->path, n);
fail:
    ix->n = n; /* so graph_free walks upper[] */
    cn_hnsw_graph_free(h);
    ix->n = 0;
    return st;
}

static const cn_index_ops_t hnsw_ops = {
    .name = "hnsw",
    .build = cn_hnsw_build,
    .ctx_init = hnsw_ctx_init,
    .ctx_free = hnsw_ctx_free,
    .ctx_set_params = hnsw_ctx_set_params,
    .search = cn_hnsw_search,
    .bytes = hnsw_bytes,
    .save = hnsw_save,
    .load = hnsw_load,
    .destroy = hnsw_destroy,
    .bind = hnsw_bind,
};

static cn_status_t hnsw_create(cn_index_t **out, cn_metric_t metric, uint32_t dim,
                               const cn_params_t *build_params, char *err, size_t errlen) {
    *out = NULL;
    long long M = cn_params_get_int(build_params, "M");
    long long efc = cn_params_get_int(build_params, "ef_construction");
    long long seed = cn_params_get_int(build_params, "seed");
    const char *layout = cn_params_get_str(build_params, "layout");
    int colocated = layout && strcmp(layout, "colocated") == 0;
    if (!colocated && !(layout && strcmp(layout, "adjacency") == 0))
        return cn_error(err, errlen, CN_EINVAL,
                        "hnsw: layout = '%s' (expected adjacency or colocated)",
                        layout ? layout : "");
    const char *order = cn_params_get_str(build_params, "order");
    int order_bfs = order && strcmp(order, "bfs") == 0;
    if (!order_bfs && !(order && strcmp(order, "none") == 0))
        return cn_error(err, errlen, CN_EINVAL, "hnsw: order = '%s' (expected none or bfs)",
                        order ? order : "");
    if (order_bfs && !colocated)
        return cn_error(err, errlen, CN_EINVAL,
                        "hnsw: order=bfs needs layout=colocated (it renumbers the co-located "
                        "node blocks; the adjacency layout scores neighbours by store id)");
    if (M < 2 || M > 512)
        return cn_error(err, errlen, CN_EINVAL, "hnsw: M must be in [2, 512], got %lld", M);
    if (efc < 1)
        return cn_error(err, errlen, CN_EINVAL, "hnsw: ef_construction must be >= 1, got %lld",
                        efc);
    cn_hnsw_t *h = (cn_hnsw_t *)cn_calloc(1, sizeof *h);
    if (!h) return cn_error(err, errlen, CN_ENOMEM, "hnsw: out of memory");
    h->base.ops = &hnsw_ops;
    h->base.metric = metric;
    h->base.dim = dim;
    h->M = (uint32_t)M;
    h->M0 = 2 * (uint32_t)M;
    h->efc = (uint32_t)efc;
    h->seed = (uint64_t)seed;
    h->colocated = colocated;
    h->order_bfs = order_bfs;
    h->mult = 1.0 / log((double)M);
    h->stride0 = ((size_t)1 + h->M0 + 15) & ~(size_t)15;
    h->entry = CN_HNSW_NONE;
    h->max_level = -1;
    *out = &h->base;
    return CN_OK;
}

static const cn_param_spec_t hnsw_params[] = {
    {"M", CN_PARAM_INT, CN_ROLE_BUILD, 2, 512, "16", NULL,
     "max neighbours per node on upper layers (2M on layer 0)", 0},
    {"ef_construction", CN_PARAM_INT, CN_ROLE_BUILD, 1, 100000, "200", NULL,
     "candidate list size while building", 0},
    {"seed", CN_PARAM_INT, CN_ROLE_BUILD, 0, 9007199254740991.0, "42", NULL,
     "seed of the level generator (build is reproducible with one thread)", 0},
    {"layout", CN_PARAM_STRING, CN_ROLE_BUILD, 0, 0, "adjacency", "adjacency|colocated",
     "level-0 layout: adjacency lists only (neighbours scored through the search store), or "
     "colocated: each node's block also holds its neighbours' packed codes (search store with "
     "packed blocks, e.g. pq4fs, rabitq), scored per hop with one block-kernel call (rabitq: "
     "neighbours pruned on its lower bounds); expanded nodes get "
     "exact distances from the full-precision (rerank) store",
     CN_PARAM_F_DERIVED},
    {"order", CN_PARAM_STRING, CN_ROLE_BUILD, 0, 0, "none", "none|bfs",
     "layout=colocated: order of the node blocks in memory: none (store ids) or bfs "
     "(breadth-first from the entry point, for locality; results keep store ids)",
     CN_PARAM_F_DERIVED},
    {"ef", CN_PARAM_INT, CN_ROLE_SEARCH, 1, 1000000, "10", NULL,
     "candidate list size while searching; a search returns at most ef candidates (k, rerank <= ef)",
     CN_PARAM_F_RESULT_POOL},
    {"patience", CN_PARAM_INT, CN_ROLE_SEARCH, 0, 1000000, "0", NULL,
     "early termination: stop the level-0 search after this many consecutive expansions that "
     "did not improve the k best results (0 = off, the plain ef-bounded search)",
     0},
};

const cn_component_t cn_component_hnsw = {
    .name = "hnsw",
    .kind = CN_COMPONENT_INDEX,
    .help = "hierarchical navigable small world graph (Malkov & Yashunin), heuristic neighbour "
            "selection",
    .params = hnsw_params,
    .n_params = sizeof hnsw_params / sizeof hnsw_params[0],
    .create_index = hnsw_create,
};

/* ---- test hooks ---------------------------------------------------------- */

int cn_hnsw_is(const cn_index_t *ix) { return ix && ix->ops == &hnsw_ops; }

int cn_hnsw_max_level(const cn_index_t *ix) { return ((const cn_hnsw_t *)ix)->max_level; }

uint32_t cn_hnsw_entry_point(const cn_index_t *ix) { return ((const cn_hnsw_t *)ix)->entry; }

int cn_hnsw_node_level(const cn_index_t *ix, uint32_t i) {
    const cn_hnsw_t *h = (const cn_hnsw_t *)ix;
    return i < ix->n ? (int)h->levels[i] : -1;
}

uint32_t cn_hnsw_degree(const cn_index_t *ix, uint32_t i, int level) {
    const cn_hnsw_t *h = (const cn_hnsw_t *)ix;
    if (i >= ix->n || level < 0 || level > (int)h->levels[i]) return 0;
    return cn_hnsw_list(h, i, level)[0];
}

cn_status_t cn_hnsw_validate(const cn_index_t *ix, char *err, size_t errlen) {
    if (!cn_hnsw_is(ix)) return cn_error(err, errlen, CN_EINVAL, "validate: not an hnsw index");
    const cn_hnsw_t *h = (const cn_hnsw_t *)ix;
    uint32_t n = ix->n;
    if (n == 0) {
        if (h->entry != CN_HNSW_NONE || h->max_level != -1)
            return cn_error(err, errlen, CN_EFORMAT, "validate: empty graph has an entry point");
        return CN_OK;
    }
    if (h->entry >= n)
        return cn_error(err, errlen, CN_EFORMAT, "validate: entry point %u >= n=%u", h->entry, n);
    int top = -1;
    for (uint32_t i = 0; i < n; i++) {
        if ((int)h->levels[i] > top) top = h->levels[i];
        if ((h->levels[i] > 0) != (h->upper[i] != NULL))
            return cn_error(err, errlen, CN_EFORMAT,
                            "validate: node %u level %u but upper lists %s", i, h->levels[i],
                            h->upper[i] ? "present" : "missing");
    }
    if (h->max_level != top || (int)h->levels[h->entry] != top)
        return cn_error(err, errlen, CN_EFORMAT,
                        "validate: max level %d, entry level %u, highest node level %d",
                        h->max_level, h->levels[h->entry], top);

    cn_status_t st = CN_OK;
    uint8_t *seen = (uint8_t *)cn_calloc(n, 1);
    uint32_t *queue = (uint32_t *)cn_malloc((size_t)n * sizeof(uint32_t));
    if (!seen || !queue) {
        st = cn_error(err, errlen, CN_ENOMEM, "validate: out of memory");
        goto done;
    }
    /* per-list checks; `seen` doubles as a duplicate detector (set, then reset) */
    for (uint32_t i = 0; i < n && st == CN_OK; i++) {
        for (int l = 0; l <= (int)h->levels[i] && st == CN_OK; l++) {
            const uint32_t *lst = cn_hnsw_list(h, i, l);
            uint32_t cap = cn_hnsw_cap(h, l), c = lst[0];
            if (c > cap) {
                st = cn_error(err, errlen, CN_EFORMAT,
                              "validate: node %u level %d degree %u > %u", i, l, c, cap);
                break;
            }
            uint32_t j;
            for (j = 1; j <= c; j++) {
                uint32_t v = lst[j];
                if (v >= n) {
                    st = cn_error(err, errlen, CN_EFORMAT,
                                  "validate: node %u level %d neighbour %u >= n=%u", i, l, v, n);
                    break;
                }
                if (v == i) {
                    st = cn_error(err, errlen, CN_EFORMAT, "validate: node %u level %d self loop",
                                  i, l);
                    break;
                }
                if ((int)h->levels[v] < l) {
                    st = cn_error(err, errlen, CN_EFORMAT,
                                  "validate: node %u level %d links node %u of level %u", i, l, v,
                                  h->levels[v]);
                    break;
                }
                if (seen[v]) {
                    st = cn_error(err, errlen, CN_EFORMAT,
                                  "validate: node %u level %d duplicate neighbour %u", i, l, v);
                    break;
                }
                seen[v] = 1;
            }
            for (uint32_t t = 1; t < j && t <= c; t++) seen[lst[t]] = 0;
        }
    }
    if (st != CN_OK) goto done;
    /* level-0 reachability from the entry point (BFS) */
    size_t head = 0, tail = 0;
    queue[tail++] = h->entry;
    seen[h->entry] = 1;
    while (head < tail) {
        const uint32_t *lst = cn_hnsw_list(h, queue[head++], 0);
        for (uint32_t j = 1; j <= lst[0]; j++) {
            if (!seen[lst[j]]) {
                seen[lst[j]] = 1;
                queue[tail++] = lst[j];
            }
        }
    }
    if (tail != n) {
        uint32_t first = 0;
        while (seen[first]) first++;
        st = cn_error(err, errlen, CN_EFORMAT,
                      "validate: %zu of %u nodes unreachable on level 0 (first: %u)",
                      (size_t)n - tail, n, first);
    }
done:
    cn_free(seen);
    cn_free(queue);
    return st;
}
