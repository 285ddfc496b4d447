/*
 * index/hnsw_build.c — building the HNSW graph, in parallel.
 *
 * Algorithm: Malkov & Yashunin, arXiv 1603.09320.
 *   Alg. 1 INSERT: node q gets level l = floor(-ln(u) * mL), mL = 1/ln(M).
 *          Greedy descent from the entry point down to level l+1, then on
 *          each level lc = min(l, L) .. 0: W = SEARCH-LAYER(q, ep, efc, lc),
 *          pick neighbours from W with the heuristic, link both ways; a
 *          neighbour whose list overflows its capacity is re-pruned with the
 *          heuristic over (its list + q). ep for the next level = nearest of W.
 *   Alg. 2 SEARCH-LAYER: best-first search with a candidate min-heap and an
 *          ef-bounded result max-heap; stops when the nearest candidate is
 *          farther than the worst result.
 *   Alg. 4 SELECT-NEIGHBORS-HEURISTIC without extendCandidates/keepPruned:
 *          take candidates nearest first; keep c only if it is closer to the
 *          base than to every neighbour kept so far.
 * Semantics follow hnswlib (and Faiss where they agree): capacity 2M on
 * level 0 and M above; a new node keeps at most M links on every level
 * (hnswlib), its reverse links may fill a level-0 list up to 2M before it is
 * re-pruned. The heuristic compares with strict "<", so identical vectors
 * (distance 0) never dominate each other and a set of duplicates still
 * forms a connected graph.
 *
 * Determinism: node levels are a hash of (seed, id), node 0 is inserted
 * first, then nodes 1..n-1 in order by an OpenMP `schedule(dynamic)` loop;
 * with one thread the graph (and so the saved file) is a pure function of
 * (data, M, efc, seed).
 *
 * Concurrency (the hnswlib scheme): one lock per node guards all of that
 * node's lists (readers copy a list under its lock before scoring it); a
 * global lock guards (entry, max_level) and is held for a whole insertion
 * only by a node that will become the new top. Every list array is
 * allocated before the parallel loop (levels are known up front), so the
 * loop allocates nothing and cannot fail. Each thread owns an evaluator and
 * scratch (visited table, heaps, buffers).
 *
 * Connectivity repair: re-pruning can, rarely, remove the last edge into a
 * node, leaving it unreachable on level 0. After the loop, rounds of: a BFS
 * from the entry point finds such nodes (the orphans), and each orphan u is
 * linked from a reachable node, in order of preference
 *   1. one of u's own neighbours with a free slot (the link becomes mutual);
 *   2. the nearest reachable node with a free slot, found by searching for u
 *      from the entry point (ef_construction);
 *   3. when every list found is full, the nearest of them gives up a slot
 *      whose neighbour keeps another in-link (in-degree >= 2, or the entry
 *      point), farthest slot first, so nobody is orphaned if avoidable;
 *   4. failing that, the nearest gives up its last slot; the node this
 *      orphans is the next round's work.
 * Rounds continue while the number of orphans strictly decreases (so the
 * pass ends after at most n rounds; in practice one). If orphans remain the
 * build FAILS (CN_EFORMAT, "hnsw: graph repair left 12 of 10000 nodes
 * unreachable from the entry point"): the invariant "every vector can be
 * returned" is what the header promises and what recall numbers silently
 * depend on, and a slot is always available in principle (n * 2M >= n - 1
 * slots), so a leftover orphan means the pass is wrong, not the data.
 *
 * Allocation: the only allocation inside the parallel loop is the candidate
 * heap growing (rare: it starts at 2 ef_construction + 2M + 1). If it cannot
 * grow, the candidate is dropped and counted; a build that dropped any fails
 * with CN_ENOMEM rather than return a silently degraded graph.
 *
 * Distances: set_query_id(q) once per insertion, one dist_batch per expanded
 * node, dist_pairs for the heuristic. Nothing here knows the store type.
 */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "index/hnsw_internal.h"

typedef struct build {
    cn_hnsw_t *h;
    omp_lock_t *locks; /* n, or NULL when building with one thread */
    omp_lock_t glock;
} build_t;

static inline void node_lock(build_t *b, uint32_t i) {
    if (b->locks) omp_set_lock(&b->locks[i]);
}
static inline void node_unlock(build_t *b, uint32_t i) {
    if (b->locks) omp_unset_lock(&b->locks[i]);
}

/* Copies node i's list on `level` into dst; returns its length. */
static uint32_t copy_list(build_t *b, uint32_t i, int level, uint32_t *dst) {
    node_lock(b, i);
    const uint32_t *l = cn_hnsw_list(b->h, i, level);
    uint32_t c = l[0];
    memcpy(dst, l + 1, (size_t)c * sizeof(uint32_t));
    node_unlock(b, i);
    return c;
}

/* Greedy walk on one level towards the evaluator's query (ef = 1). */
static void greedy(build_t *b, cn_hnsw_scratch_t *sc, int level, uint32_t *cur, float *dcur) {
    cn_evaluator_t *ev = sc->ev;
    for (;;) {
        uint32_t c = copy_list(b, *cur, level, sc->nbr);
        if (c == 0) return;
        ev->ops->dist_batch(ev, sc->nbr, c, sc->nd);
        uint32_t best = *cur;
        float bd = *dcur;
        for (uint32_t j = 0; j < c; j++) {
            if (sc->nd[j] < bd) {
                bd = sc->nd[j];
                best = sc->nbr[j];
            }
        }
        if (best == *cur) return;
        *cur = best;
        *dcur = bd;
    }
}

/* Alg. 2 on one level from a single entry point; leaves the ef best in
 * sc->w_ids / sc->w_d sorted ascending and returns their number (>= 1). */
static size_t search_layer(build_t *b, cn_hnsw_scratch_t *sc, int level, uint32_t ep, float dep,
                           size_t ef) {
    cn_evaluator_t *ev = sc->ev;
    cn_heap_t *cand = &sc->cand, *res = &sc->res;
    cn_visited_next(&sc->vis);
    cn_heap_clear(cand);
    cn_heap_clear(res);
    cn_visited_set(&sc->vis, ep);
    cn_minheap_push(cand, dep, ep);
    cn_maxheap_push(res, dep, ep);
    float bound = res->size >= ef ? res->score[0] : INFINITY;
    while (cand->size) {
        float cd = cand->score[0];
        uint32_t c = cand->id[0];
        if (cd > bound) break;
        cn_minheap_pop(cand);
        uint32_t cnt = copy_list(b, c, level, sc->nbr);
        size_t m = 0;
        for (uint32_t j = 0; j < cnt; j++) {
            uint32_t v = sc->nbr[j];
            if (!cn_visited_test_and_set(&sc->vis, v)) sc->nbr[m++] = v;
        }
        if (m == 0) continue;
        ev->ops->dist_batch(ev, sc->nbr, m, sc->nd);
        for (size_t j = 0; j < m; j++) {
            float d = sc->nd[j];
            if (!(d < bound)) continue;
            if (cand->size < cand->cap || cn_heap_reserve(cand, 2 * cand->cap) == CN_OK)
                cn_minheap_push(cand, d, sc->nbr[j]);
            else
                sc->ndropped++; /* out of memory: the build fails after the loop */
            if (res->size < ef) {
                cn_maxheap_push(res, d, sc->nbr[j]);
                if (res->size == ef) bound = res->score[0];
            } else {
                res->score[0] = d;
                res->id[0] = sc->nbr[j];
                cn_maxheap_sift_down(res, 0);
                bound = res->score[0];
            }
        }
    }
    return cn_maxheap_drain_sorted(res, sc->w_ids, sc->w_d);
}

/* Alg. 4 (no extension, no keepPruned). ids/d: w candidates sorted by
 * ascending distance to the base node `self`; writes up to m kept ids to
 * out (and their distances to outd if not NULL); pd: scratch of m floats. */
static size_t select_heuristic(cn_evaluator_t *ev, const uint32_t *ids, const float *d, size_t w,
                               size_t m, uint32_t self, uint32_t *out, float *outd, float *pd) {
    size_t r = 0;
    for (size_t i = 0; i < w && r < m; i++) {
        if (ids[i] == self) continue;
        int good = 1;
        if (r) {
            ev->ops->dist_pairs(ev, ids[i], out, r, pd);
            for (size_t j = 0; j < r; j++) {
                if (pd[j] < d[i]) {
                    good = 0;
                    break;
                }
            }
        }
        if (good) {
            out[r] = ids[i];
            if (outd) outd[r] = d[i];
            r++;
        }
    }
    return r;
}

/* Adds q to e's list on `level`, re-pruning with the heuristic on overflow.
 * Caller holds no lock. */
static void add_link(build_t *b, cn_hnsw_scratch_t *sc, uint32_t e, uint32_t q, int level) {
    cn_hnsw_t *h = b->h;
    uint32_t cap = cn_hnsw_cap(h, level);
    node_lock(b, e);
    uint32_t *l = cn_hnsw_list(h, e, level);
    uint32_t c = l[0];
    for (uint32_t j = 1; j <= c; j++) {
        if (l[j] == q) goto out; /* already linked (repair pass) */
    }
    if (c < cap) {
        l[1 + c] = q;
        l[0] = c + 1;
    } else {
        /* candidates = current list + q, scored from e, sorted, re-selected */
        memcpy(sc->nbr, l + 1, (size_t)c * sizeof(uint32_t));
        sc->nbr[c] = q;
        sc->ev->ops->dist_pairs(sc->ev, e, sc->nbr, (size_t)c + 1, sc->nd);
        cn_heap_clear(&sc->sort);
        for (uint32_t j = 0; j <= c; j++) cn_maxheap_push(&sc->sort, sc->nd[j], sc->nbr[j]);
        size_t w = cn_maxheap_drain_sorted(&sc->sort, sc->nbr, sc->nd);
        size_t r = select_heuristic(sc->ev, sc->nbr, sc->nd, w, cap, e, l + 1, NULL, sc->pd);
        for (size_t j = r + 1; j <= cap; j++) l[j] = 0;
        l[0] = (uint32_t)r;
    }
out:
    node_unlock(b, e);
}

/* Alg. 1 for node q (levels already drawn, lists allocated). */
static void insert(build_t *b, cn_hnsw_scratch_t *sc, uint32_t q) {
    cn_hnsw_t *h = b->h;
    cn_evaluator_t *ev = sc->ev;
    int l = h->levels[q];

    omp_set_lock(&b->glock);
    int maxl = h->max_level;
    uint32_t ep = h->entry;
    if (ep == CN_HNSW_NONE) {
        h->entry = q;
        h->max_level = l;
        omp_unset_lock(&b->glock);
        return;
    }
    int hold = l > maxl; /* keeps the global lock until q is the new top */
    if (!hold) omp_unset_lock(&b->glock);

    ev->ops->set_query_id(ev, q);
    float dep = ev->ops->dist(ev, ep);
    for (int lc = maxl; lc > l; lc--) greedy(b, sc, lc, &ep, &dep);
    for (int lc = l < maxl ? l : maxl; lc >= 0; lc--) {
        size_t w = search_layer(b, sc, lc, ep, dep, h->efc);
        ep = sc->w_ids[0];
        dep = sc->w_d[0];
        size_t s = select_heuristic(ev, sc->w_ids, sc->w_d, w, h->M, q, sc->sel, sc->sel_d,
                                    sc->pd);
        node_lock(b, q);
        uint32_t *lq = cn_hnsw_list(h, q, lc);
        memcpy(lq + 1, sc->sel, s * sizeof(uint32_t));
        lq[0] = (uint32_t)s;
        node_unlock(b, q);
        for (size_t j = 0; j < s; j++) add_link(b, sc, sc->sel[j], q, lc);
    }
    if (hold) {
        h->entry = q;
        h->max_level = l;
        omp_unset_lock(&b->glock);
    }
}

/* Marks in seen[] every node reachable on level 0 from `from`; returns the
 * number of nodes it newly marked. queue: n entries of scratch. */
static size_t bfs(const cn_hnsw_t *h, uint32_t from, uint8_t *seen, uint32_t *queue) {
    size_t head = 0, tail = 0;
    if (seen[from]) return 0;
    seen[from] = 1;
    queue[tail++] = from;
    while (head < tail) {
        const uint32_t *l = cn_hnsw_list(h, queue[head++], 0);
        for (uint32_t j = 1; j <= l[0]; j++) {
            if (!seen[l[j]]) {
                seen[l[j]] = 1;
                queue[tail++] = l[j];
            }
        }
    }
    return tail;
}

/* Appends u to v's level-0 list (the caller checked there is room). */
static void append0(cn_hnsw_t *h, uint32_t v, uint32_t u, uint32_t *indeg) {
    uint32_t *l = cn_hnsw_list(h, v, 0);
    l[1 + l[0]] = u;
    l[0]++;
    indeg[u]++;
}

/* Puts u into slot s of v's level-0 list, replacing its neighbour there. */
static void replace0(cn_hnsw_t *h, uint32_t v, uint32_t s, uint32_t u, uint32_t *indeg) {
    uint32_t *l = cn_hnsw_list(h, v, 0);
    indeg[l[s]]--;
    l[s] = u;
    indeg[u]++;
}

/* Links the orphan u from a node marked in seen[] (steps 1-4 at the top).
 * indeg[]: level-0 in-degrees, kept up to date. Single-threaded. */
static void link_orphan(build_t *b, cn_hnsw_scratch_t *sc, uint32_t u, const uint8_t *seen,
                        uint32_t *indeg) {
    cn_hnsw_t *h = b->h;
    const uint32_t M0 = h->M0;
    /* 1. a reachable neighbour of u with room */
    const uint32_t *lu = cn_hnsw_list(h, u, 0);
    for (uint32_t j = 1; j <= lu[0]; j++) {
        uint32_t v = lu[j];
        if (seen[v] && cn_hnsw_list(h, v, 0)[0] < M0) {
            append0(h, v, u, indeg);
            return;
        }
    }
    /* 2. the nearest reachable node with room, searching for u */
    cn_evaluator_t *ev = sc->ev;
    ev->ops->set_query_id(ev, u);
    uint32_t ep = h->entry;
    float dep = ev->ops->dist(ev, ep);
    for (int lc = h->max_level; lc > 0; lc--) greedy(b, sc, lc, &ep, &dep);
    size_t w = search_layer(b, sc, 0, ep, dep, h->efc);
    uint32_t nearest = CN_HNSW_NONE;
    for (size_t j = 0; j < w; j++) {
        uint32_t v = sc->w_ids[j];
        if (v == u || !seen[v]) continue;
        if (nearest == CN_HNSW_NONE) nearest = v;
        if (cn_hnsw_list(h, v, 0)[0] < M0) {
            append0(h, v, u, indeg);
            return;
        }
    }
    /* 3. every list found is full: a slot whose neighbour keeps an in-link */
    for (size_t j = 0; j < w; j++) {
        uint32_t v = sc->w_ids[j];
        if (v == u || !seen[v]) continue;
        const uint32_t *lv = cn_hnsw_list(h, v, 0);
        for (uint32_t s = lv[0]; s >= 1; s--) {
            if (lv[s] == h->entry || indeg[lv[s]] >= 2) {
                replace0(h, v, s, u, indeg);
                return;
            }
        }
    }
    /* 4. the nearest gives up its last slot (an orphan for the next round) */
    uint32_t v = nearest != CN_HNSW_NONE ? nearest : h->entry;
    uint32_t c = cn_hnsw_list(h, v, 0)[0];
    if (c < M0)
        append0(h, v, u, indeg);
    else
        replace0(h, v, c, u, indeg);
}

/* The repair pass (see top). max_rounds < 0: while a round makes progress. */
static cn_status_t repair(build_t *b, cn_hnsw_scratch_t *sc, int max_rounds, uint32_t *left_out,
                          char *err, size_t errlen) {
    cn_hnsw_t *h = b->h;
    uint32_t n = h->base.n;
    cn_status_t st = CN_OK;
    size_t left = 0, prev = SIZE_MAX;
    uint8_t *seen = (uint8_t *)cn_malloc(n);
    uint32_t *queue = (uint32_t *)cn_malloc((size_t)n * sizeof(uint32_t));
    uint32_t *indeg = (uint32_t *)cn_malloc((size_t)n * sizeof(uint32_t));
    if (!seen || !queue || !indeg) {
        st = cn_error(err, errlen, CN_ENOMEM, "hnsw: out of memory for the graph repair pass");
        goto done;
    }
    for (int round = 0;; round++) {
        memset(seen, 0, n);
        left = n - bfs(h, h->entry, seen, queue);
        if (left == 0 || left >= prev || (max_rounds >= 0 && round >= max_rounds)) break;
        prev = left;
        memset(indeg, 0, (size_t)n * sizeof(uint32_t));
        for (uint32_t v = 0; v < n; v++) {
            const uint32_t *l = cn_hnsw_list(h, v, 0);
            for (uint32_t j = 1; j <= l[0]; j++) indeg[l[j]]++;
        }
        for (uint32_t u = 0; u < n; u++) {
            if (seen[u]) continue;
            link_orphan(b, sc, u, seen, indeg);
            bfs(h, u, seen, queue);
        }
    }
    if (left > 0)
        st = cn_error(err, errlen, CN_EFORMAT,
                      "hnsw: graph repair left %zu of %u nodes unreachable from the entry point",
                      left, n);
done:
    if (left_out) *left_out = (uint32_t)left;
    cn_free(seen);
    cn_free(queue);
    cn_free(indeg);
    return st;
}

cn_status_t cn_hnsw_repair(cn_index_t *ix, const cn_store_t *store, int max_rounds,
                           uint32_t *unreachable, char *err, size_t errlen) {
    cn_hnsw_t *h = (cn_hnsw_t *)ix;
    cn_hnsw_scratch_t sc;
    build_t b;
    cn_status_t st;
    memset(&sc, 0, sizeof sc);
    memset(&b, 0, sizeof b);
    b.h = h;
    if (unreachable) *unreachable = 0;
    if (ix->n == 0) return CN_OK;
    if (store->n != ix->n)
        return cn_error(err, errlen, CN_EINVAL, "hnsw repair: store has n=%u, graph n=%u",
                        store->n, ix->n);
    if (cn_hnsw_scratch_init(h, &sc, ix->n, h->efc, 1) != CN_OK) {
        st = cn_error(err, errlen, CN_ENOMEM, "hnsw: out of memory for the graph repair pass");
        goto done;
    }
    st = cn_store_evaluator(store, &sc.ev, err, errlen);
    if (st != CN_OK) goto done;
    st = repair(&b, &sc, max_rounds, unreachable, err, errlen);
done:
    cn_hnsw_scratch_free(&sc);
    return st;
}

cn_status_t cn_hnsw_build(cn_index_t *ix, const cn_store_t *store, int threads, char *err,
                          size_t errlen) {
    cn_hnsw_t *h = (cn_hnsw_t *)ix;
    cn_status_t st = CN_OK;
    build_t b;
    memset(&b, 0, sizeof b);
    b.h = h;
    cn_hnsw_scratch_t *scs = NULL;
    int nt = threads < 1 ? 1 : threads;

    ix->n = 0;
    cn_hnsw_graph_free(h);
    uint32_t n = store->n;
    if (n == 0) return CN_OK;
    if ((uint64_t)nt > n) nt = (int)n;

    ix->n = n;
    h->levels = (uint8_t *)cn_malloc(n);
    if (!h->levels) goto nomem;
    for (uint32_t i = 0; i < n; i++) h->levels[i] = (uint8_t)cn_hnsw_draw_level(h->seed, i, h->mult);
    if (cn_hnsw_graph_alloc(h) != CN_OK) goto nomem;

    scs = (cn_hnsw_scratch_t *)cn_calloc((size_t)nt, sizeof *scs);
    if (!scs) goto nomem;
    for (int t = 0; t < nt; t++) {
        if (cn_hnsw_scratch_init(h, &scs[t], n, h->efc, 1) != CN_OK) goto nomem;
        st = cn_store_evaluator(store, &scs[t].ev, err, errlen);
        if (st != CN_OK) goto fail;
    }
    if (nt > 1) {
        b.locks = (omp_lock_t *)cn_malloc((size_t)n * sizeof(omp_lock_t));
        if (!b.locks) goto nomem;
        for (uint32_t i = 0; i < n; i++) omp_init_lock(&b.locks[i]);
    }
    omp_init_lock(&b.glock);

    insert(&b, &scs[0], 0);
#pragma omp parallel for num_threads(nt) schedule(dynamic)
    for (int64_t i = 1; i < (int64_t)n; i++) {
        insert(&b, &scs[omp_get_thread_num()], (uint32_t)i);
        if ((i & 0x1fff) == 0) cn_progress("hnsw build", (uint64_t)i, n);
    }
    cn_progress("hnsw build", n, n);

    omp_destroy_lock(&b.glock);
    if (b.locks) {
        for (uint32_t i = 0; i < n; i++) omp_destroy_lock(&b.locks[i]);
        cn_free(b.locks);
        b.locks = NULL;
    }
    uint64_t dropped = 0;
    for (int t = 0; t < nt; t++) dropped += scs[t].ndropped;
    if (dropped > 0) {
        st = cn_error(err, errlen, CN_ENOMEM,
                      "hnsw: out of memory building over n=%u vectors (%llu candidates dropped)",
                      n, (unsigned long long)dropped);
        goto fail;
    }
    st = repair(&b, &scs[0], -1, NULL, err, errlen);
    if (st != CN_OK) goto fail;
    goto done;

nomem:
    st = cn_error(err, errlen, CN_ENOMEM, "hnsw: out of memory building over n=%u vectors", n);
fail:
    cn_hnsw_graph_free(h);
    ix->n = 0;
done:
    if (scs) {
        for (int t = 0; t < nt; t++) cn_hnsw_scratch_free(&scs[t]);
        cn_free(scs);
    }
    return st;
}
