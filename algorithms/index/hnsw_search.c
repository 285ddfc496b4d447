/*
 * index/hnsw_search.c — answering one query on a built HNSW graph.
 *
 * Malkov & Yashunin (arXiv 1603.09320) Alg. 5 K-NN-SEARCH:
 *   1. greedy descent: from the entry point on the top level, move to the
 *      nearest neighbour while it improves, then drop a level, down to 1;
 *   2. on level 0 a best-first search (Alg. 2) bounded by ef' = max(ef, k):
 *      a min-heap of candidates, a max-heap of the ef' best results; stop
 *      when the nearest unexpanded candidate is worse than the worst result;
 *   3. return the k best, ascending internal score.
 *
 * The hot loop is written for the memory system, not for the arithmetic:
 *   - each expanded node costs ONE evaluator call: its unvisited neighbours
 *     are gathered into a buffer and scored with dist_batch (which prefetches
 *     the rows itself), so no function pointer is crossed per distance and
 *     the index stays ignorant of the vector representation;
 *   - the level-0 list of the next candidate is prefetched as soon as the
 *     current one is popped, while the current batch is being scored;
 *   - the visited set is a bitmap that stays in L2 (core/visited.h), reset
 *     in O(nodes visited);
 *   - heaps and buffers live in the search context (sized at set_params), so
 *     a query allocates nothing (the candidate heap may grow once if a query
 *     needs more room, then keeps the room).
 * Upper levels need no visited table: a greedy walk cannot cycle because the
 * distance strictly decreases.
 *
 * Early termination (search parameter `patience` = P, 0 = off, the default;
 * the adaptive stop kANNolo and others offer): the level-0 search also stops
 * after P consecutive expansions that did not improve the k best results
 * found so far (kept in a k-sized max-heap). It can only stop earlier than
 * the ef-bounded search, never later, and returns the k best of what it saw.
 *
 * Stats: ndist counts every distance asked of the evaluator (entry point
 * included), nhops every expanded node (upper levels included), ndropped
 * what an allocation failure cost the query (0 normally; the search has no
 * error path, so this is how it stays loud):
 *   - the result heap cannot grow to ef' = max(ef, k) (k above the ef the
 *     context reserved for): the search runs with the ef it has, and the
 *     shortfall ef' - ef is added;
 *   - the candidate heap cannot grow: the neighbour is still kept as a
 *     result but never expanded, and counts 1.
 */
#include <math.h>

#include "index/hnsw_internal.h"

/*
 * layout=colocated (build parameter; NGT-QG / SymphonyQG's idea, Gou et al.,
 * SIGMOD 2025, arXiv 2411.12229, with the store's FastScan kernel): each
 * level-0 node block (cn_hnsw_t.colo) holds the node's neighbour ids and
 * their packed codes, so a hop reads one contiguous block and scores every
 * neighbour with one score() call per code block (32 neighbours), through
 * the search store's cn_block_ops_t -- the index never sees the codes.
 *   - upper levels: greedy descent with exact distances (fev);
 *   - level 0: the candidate queue is ordered by the block estimates; a
 *     node gets its exact distance (fev->dist, one call per expanded node)
 *     when it is popped for expansion, and only expanded nodes enter the
 *     result heap (ef exact distances); a neighbour is queued when its
 *     estimate (or, for a store whose blocks give lower bounds --
 *     cn_block_ops_t.score_lb, rabitq -- its lower bound) beats the ef-th
 *     exact distance AND is among the ef best estimates queued so far
 *     (sc->ebest: the plain search's rule that a neighbour must beat its ef
 *     best, which bounds the queue from the first hop instead of only once
 *     ef nodes have been expanded); the queue is ordered by the estimate;
 *     the walk stops when the best queued estimate does not beat the ef-th
 *     exact distance;
 *   - when a node is popped, the next candidate's block and (through the
 *     evaluator's optional prefetch op) its full-precision row are
 *     prefetched, so the exact distance of the next expansion does not wait
 *     for memory.
 * The two together: configs/speed-sift.yaml, co-located pq4fs 64 at ef 64,
 * 6,913 QPS (recall 0.937) before, 9,626 (0.934) after (README,
 * Performance).
 * With order=bfs the blocks are numbered in breadth-first order: the walk
 * (visited set, candidate queue) runs on block numbers, a block's header
 * holds its node's store id, and results and exact distances use store ids.
 * fev is the full-precision evaluator (ctx->rerank_ev) when the index has a
 * rerank store, else the search store's own exact score (dist). Returned
 * scores are fev's: with a rerank store they are full-precision distances
 * (counted in nreranked: the row's reranked_per_query), and `rerank`
 * re-scores nothing new.
 */
static size_t search_colocated(const cn_hnsw_t *h, cn_search_ctx_t *ctx, size_t k,
                               uint32_t *ids, float *scores) {
    cn_hnsw_scratch_t *sc = (cn_hnsw_scratch_t *)ctx->priv;
    cn_evaluator_t *ev = ctx->ev;
    cn_evaluator_t *fev = ctx->rerank_ev ? ctx->rerank_ev : ctx->ev;
    if (ctx->rerank_ev && ctx->rerank == 0) {
        /* the same vector ctx->ev has just accepted: cannot fail */
        char e[8];
        if (fev->ops->set_query(fev, ctx->query, e, sizeof e) != CN_OK) return 0;
    }
    const cn_block_ops_t *bo = h->base.store->ops->blocks;
    float (*const score)(cn_evaluator_t *, const uint8_t *, float *) = bo->score;
    /* (approx_lo is allocated with the context when the store has score_lb) */
    void (*const score_lb)(cn_evaluator_t *, const uint8_t *, float *, float *) =
        sc->approx_lo ? bo->score_lb : NULL;
    uint64_t ndist = 1, nhops = 0, ndropped = 0, nexact = 1;
    float *nd = sc->nd, *approx = sc->approx;
    /* with score_lb: a neighbour is queued when its lower bound beats the
     * ef-th exact distance (its priority is still the estimate) */
    float *lo = score_lb ? sc->approx_lo : approx;

    uint32_t cur = h->entry;
    float dcur = fev->ops->dist(fev, cur);
    for (int lc = h->max_level; lc > 0; lc--) {
        for (;;) {
            const uint32_t *l = cn_hnsw_list(h, cur, lc);
            uint32_t c = l[0];
            nhops++;
            if (c == 0) break;
            fev->ops->dist_batch(fev, l + 1, c, nd);
            ndist += c;
            uint32_t best = cur;
            for (uint32_t j = 0; j < c; j++) {
                if (nd[j] < dcur) {
                    dcur = nd[j];
                    best = l[1 + j];
                }
            }
            if (best == cur) break;
            cur = best;
        }
    }

    size_t ef = sc->ef > k ? sc->ef : k;
    cn_heap_t *cand = &sc->cand, *res = &sc->res;
    if (res->cap < ef && cn_heap_reserve(res, ef) != CN_OK) {
        ndropped += ef - res->cap;
        ef = res->cap;
    }
    cn_heap_clear(cand);
    cn_heap_clear(res);
    cn_heap_t *eb = &sc->ebest;
    cn_heap_clear(eb);
    /* 0: no room for ef estimates (k above the ef reserved for): no bound */
    const size_t ecap = eb->cap >= ef ? ef : 0;
    cn_visited_t *vis = &sc->vis;
    cn_visited_next(vis);
    const uint8_t *colo = h->colo;
    const size_t cstride = h->cstride, chead = h->chead, cbb = h->cbb;
    const uint32_t W = h->cW;

    size_t patience = sc->patience, stall = 0;
    if (patience && sc->kbest.cap < k && cn_heap_reserve(&sc->kbest, k) != CN_OK)
        patience = 0; /* out of memory: the plain search */
    cn_heap_clear(&sc->kbest);
    if (patience) cn_hnsw_kbest_offer(&sc->kbest, k, dcur);
    const uint32_t selfw = 1 + h->M0; /* header word of a block's store id */
    void (*const fpf)(cn_evaluator_t *, uint32_t) = fev->ops->prefetch;
    uint32_t c = h->c_inv ? h->c_inv[cur] : cur; /* block numbers from here on */
    cn_visited_set(vis, c);
    cn_maxheap_push(res, dcur, cur); /* results in store ids */
    float bound = res->size >= ef ? res->score[0] : INFINITY;
    /* the entry's exact distance is known: expand it first */
    for (;;) {
        const uint8_t *node = colo + (size_t)c * cstride;
        const uint32_t *l = (const uint32_t *)node;
        const uint32_t cnt = l[0];
        nhops++;
        if (score_lb) {
            for (uint32_t t = 0; t * W < cnt; t++)
                score_lb(ev, node + chead + (size_t)t * cbb, approx + (size_t)t * W,
                         lo + (size_t)t * W);
        } else {
            for (uint32_t t = 0; t * W < cnt; t++)
                score(ev, node + chead + (size_t)t * cbb, approx + (size_t)t * W);
        }
        ndist += cnt;
        for (uint32_t j = 0; j < cnt; j++) {
            const uint32_t v = l[1 + j];
            if (cn_visited_test_and_set(vis, v)) continue;
            const float e = approx[j];
            const float lb = lo[j]; /* == e without score_lb */
            if (!(lb < bound)) continue;
            if (ecap) {
                if (eb->size < ecap) {
                    cn_maxheap_push(eb, e, v);
                } else if (lb < eb->score[0]) {
                    if (e < eb->score[0]) {
                        eb->score[0] = e;
                        cn_maxheap_sift_down(eb, 0);
                    }
                } else {
                    continue;
                }
            }
            if (cand->size < cand->cap || cn_heap_reserve(cand, 2 * cand->cap) == CN_OK)
                cn_minheap_push(cand, e, v);
            else
                ndropped++;
        }
        /* next: the best queued estimate, exact distance on expansion */
        for (;;) {
            if (!cand->size || cand->score[0] > bound) goto done;
            c = cand->id[0];
            cn_minheap_pop(cand);
            if (cand->size) {
                /* the likely next one: its block and its exact vector */
                const uint32_t nb = cand->id[0];
                const char *nx = (const char *)(colo + (size_t)nb * cstride);
                for (size_t o = 0; o < chead + cbb && o < cstride; o += 64)
                    __builtin_prefetch(nx + o);
                if (fpf) fpf(fev, h->c_perm ? h->c_perm[nb] : nb);
            }
            const uint32_t sid = ((const uint32_t *)(colo + (size_t)c * cstride))[selfw];
            const float d = fev->ops->dist(fev, sid);
            ndist++;
            nexact++;
            if (patience) {
                if (cn_hnsw_kbest_offer(&sc->kbest, k, d))
                    stall = 0;
                else if (++stall >= patience)
                    goto done;
            }
            if (res->size < ef) {
                cn_maxheap_push(res, d, sid);
                if (res->size == ef) bound = res->score[0];
            } else if (d < bound) {
                res->score[0] = d;
                res->id[0] = sid;
                cn_maxheap_sift_down(res, 0);
                bound = res->score[0];
            }
            break;
        }
    }
done:
    while (res->size > k) cn_maxheap_pop(res);
    size_t found = cn_maxheap_drain_sorted(res, ids, scores);
    /* full-precision distances of expanded nodes are re-scorings: the row's
     * reranked_per_query says how many a query paid */
    if (ctx->rerank_ev) ctx->stats.nreranked += nexact;
    ctx->stats.ndist += ndist;
    ctx->stats.nhops += nhops;
    ctx->stats.ndropped += ndropped;
    return found;
}

size_t cn_hnsw_search(const cn_index_t *ix, cn_search_ctx_t *ctx, size_t k, uint32_t *ids,
                      float *scores) {
    const cn_hnsw_t *h = (const cn_hnsw_t *)ix;
    cn_hnsw_scratch_t *sc = (cn_hnsw_scratch_t *)ctx->priv;
    if (h->entry == CN_HNSW_NONE || k == 0) return 0;
    if (h->colo) return search_colocated(h, ctx, k, ids, scores);

    cn_evaluator_t *ev = ctx->ev;
    void (*const dist_batch)(cn_evaluator_t *, const uint32_t *, size_t, float *) =
        ev->ops->dist_batch;
    uint64_t ndist = 1, nhops = 0, ndropped = 0;
    float *nd = sc->nd;
    uint32_t *nbr = sc->nbr;

    /* 1. greedy descent through the upper levels */
    uint32_t cur = h->entry;
    float dcur = ev->ops->dist(ev, cur);
    for (int lc = h->max_level; lc > 0; lc--) {
        for (;;) {
            const uint32_t *l = cn_hnsw_list(h, cur, lc);
            uint32_t c = l[0];
            nhops++;
            if (c == 0) break;
            dist_batch(ev, l + 1, c, nd);
            ndist += c;
            uint32_t best = cur;
            for (uint32_t j = 0; j < c; j++) {
                if (nd[j] < dcur) {
                    dcur = nd[j];
                    best = l[1 + j];
                }
            }
            if (best == cur) break;
            cur = best;
        }
    }

    /* 2. ef-bounded best-first search on level 0 */
    size_t ef = sc->ef > k ? sc->ef : k;
    cn_heap_t *cand = &sc->cand, *res = &sc->res;
    if (res->cap < ef && cn_heap_reserve(res, ef) != CN_OK) {
        ndropped += ef - res->cap; /* out of memory: search at the ef we have */
        ef = res->cap;
    }
    cn_heap_clear(cand);
    cn_heap_clear(res);

    cn_visited_t *vis = &sc->vis;
    cn_visited_next(vis);
    const uint32_t *L0 = h->level0;
    const size_t stride = h->stride0;

    size_t patience = sc->patience, stall = 0;
    if (patience && sc->kbest.cap < k && cn_heap_reserve(&sc->kbest, k) != CN_OK)
        patience = 0; /* out of memory: the plain search */
    cn_heap_clear(&sc->kbest);
    if (patience) cn_hnsw_kbest_offer(&sc->kbest, k, dcur);
    cn_visited_set(vis, cur);
    cn_minheap_push(cand, dcur, cur);
    cn_maxheap_push(res, dcur, cur);
    float bound = res->size >= ef ? res->score[0] : INFINITY;

    while (cand->size) {
        const uint32_t c = cand->id[0];
        if (cand->score[0] > bound) break;
        cn_minheap_pop(cand);
        if (cand->size) __builtin_prefetch(L0 + (size_t)cand->id[0] * stride);
        const uint32_t *l = L0 + (size_t)c * stride;
        const uint32_t cnt = l[0];
        nhops++;
        size_t m = 0;
        for (uint32_t j = 1; j <= cnt; j++) {
            const uint32_t v = l[j];
            if (!cn_visited_test_and_set(vis, v)) nbr[m++] = v;
        }
        if (m == 0) {
            if (patience && ++stall >= patience) break;
            continue;
        }
        dist_batch(ev, nbr, m, nd);
        ndist += m;
        int improved = 0;
        for (size_t j = 0; j < m; j++) {
            const float d = nd[j];
            if (!(d < bound)) continue;
            if (patience) improved |= cn_hnsw_kbest_offer(&sc->kbest, k, d);
            if (cand->size < cand->cap || cn_heap_reserve(cand, 2 * cand->cap) == CN_OK)
                cn_minheap_push(cand, d, nbr[j]);
            else
                ndropped++; /* out of memory: a result, never expanded */
            if (res->size < ef) {
                cn_maxheap_push(res, d, nbr[j]);
                if (res->size == ef) bound = res->score[0];
            } else {
                res->score[0] = d;
                res->id[0] = nbr[j];
                cn_maxheap_sift_down(res, 0);
                bound = res->score[0];
            }
        }
        if (patience) {
            if (improved)
                stall = 0;
            else if (++stall >= patience)
                break;
        }
    }

    /* 3. the k best, ascending */
    while (res->size > k) cn_maxheap_pop(res);
    size_t found = cn_maxheap_drain_sorted(res, ids, scores);
    ctx->stats.ndist += ndist;
    ctx->stats.nhops += nhops;
    ctx->stats.ndropped += ndropped;
    return found;
}
