/*
 * index/hnsw_internal.h — the HNSW index structure shared by hnsw.c (object,
 * persistence, contexts), hnsw_build.c (insertion) and hnsw_search.c (query),
 * plus test hooks.
 *
 * Graph layout (hnswlib's, without the vectors, which live in the store):
 *   level 0   one flat block of n * stride0 uint32, node i at level0 + i*stride0:
 *             [count, id_0 .. id_{M0-1}, padding]; stride0 is 1 + M0 rounded up
 *             to a multiple of 16 (64 bytes) and the block is 64-byte aligned,
 *             so every list starts on a cache line and one prefetch brings the
 *             count and the first neighbours.
 *   level l>0 only nodes with levels[i] > 0 have upper[i]: levels[i] lists of
 *             (1 + M) uint32, level l at upper[i] + (l-1)*(1+M).
 * Capacities: M0 = 2M on level 0, M above (Faiss / hnswlib).
 * Slots beyond `count` are zero (kept so by build and load), which makes
 * saved files a pure function of the graph.
 *
 * Invariants after build/load: entry < n and max_level == levels[entry] ==
 * max(levels) when n > 0 (entry == CN_HNSW_NONE, max_level == -1 when n == 0);
 * counts <= capacity; neighbour ids < n, != self, no duplicates in a list;
 * every node reachable from entry on level 0 (ensured by build's repair pass:
 * a build that cannot ensure it fails, see hnsw_build.c).
 */
#ifndef CN_INDEX_HNSW_INTERNAL_H
#define CN_INDEX_HNSW_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cannoli/index.h"
#include "core/heap.h"
#include "core/visited.h"

#define CN_HNSW_NONE UINT32_MAX
#define CN_HNSW_MAX_LEVEL 63 /* level draws are clamped here (never reached in practice) */

typedef struct cn_hnsw {
    cn_index_t base; /* first member */
    uint32_t M;      /* max degree above level 0 */
    uint32_t M0;     /* max degree on level 0 (2M) */
    uint32_t efc;    /* ef_construction */
    uint64_t seed;   /* level draws */
    double mult;     /* mL = 1 / ln(M) */

    uint32_t entry; /* entry point, CN_HNSW_NONE if empty */
    int max_level;  /* level of entry, -1 if empty */

    size_t stride0;    /* uint32 per node in level0 */
    uint32_t *level0;  /* n * stride0, cn_aligned_alloc */
    uint8_t *levels;   /* n */
    uint32_t **upper;  /* n pointers (NULL for level-0-only nodes) */
    size_t upper_bytes; /* bytes held by the upper[i] arrays */

    /* layout=colocated (see hnsw_search.c): level-0 node blocks holding the
     * neighbour ids and their packed codes, derived from the search store by
     * ops->bind (not saved; rebuilt on load and rebind). Block b at
     * colo + b * cstride: [count u32, neighbour block numbers M0 u32, the
     * node's store id u32, zero padding to chead bytes] then cnblk code
     * blocks of cbb bytes (the store's cn_block_ops_t, cW vectors each;
     * slots past count are code 0). Block b is node b (order=none) or the
     * b-th node of a breadth-first walk (order=bfs, c_inv maps back). */
    int colocated;
    int order_bfs;  /* order=bfs: blocks renumbered breadth-first (c_inv) */
    uint8_t *colo;  /* n * cstride, 64-byte aligned; NULL unless bound */
    uint32_t *c_inv; /* order=bfs: store id -> block number (n); NULL = identity */
    uint32_t *c_perm; /* order=bfs: block number -> store id (n); NULL = identity */
    size_t cstride, chead, cbb;
    uint32_t cW, cnblk;
} cn_hnsw_t;

/* Per-thread scratch for one search context or one build thread. */
typedef struct cn_hnsw_scratch {
    cn_visited_t vis;
    cn_heap_t cand;  /* min-heap of candidates to expand (grows if needed) */
    cn_heap_t res;   /* max-heap of the ef best found */
    uint32_t *nbr;   /* neighbour ids of the node being expanded, M0 + 1 */
    float *nd;       /* their distances, M0 + 1 */
    size_t ef;       /* search: ef param; build: ef_construction */
    uint64_t ndropped; /* build: candidates dropped because the candidate heap
                          could not grow (out of memory); the build then fails */
    /* build only */
    cn_evaluator_t *ev; /* own evaluator (owned) */
    uint32_t *w_ids;    /* sorted search results, cap w_cap */
    float *w_d;
    size_t w_cap;
    uint32_t *sel;      /* selected neighbours, M0 + 1 */
    float *sel_d;
    float *pd;          /* pair distances, M0 + 1 */
    cn_heap_t sort;     /* scratch max-heap for sorting a list, cap M0 + 1 */
    /* search, layout=colocated: approximate scores of one node's neighbours
     * (cnblk * cW floats) */
    float *approx;
    /* ... and the ef best estimates admitted so far (max-heap, cap >= ef):
     * a neighbour whose estimate is not among them is not queued, as a
     * plain search skips one that is not among its ef best distances */
    cn_heap_t ebest;
    /* the same, lower bounds (only when the store's blocks have score_lb) */
    float *approx_lo;
    /* search, early termination (search parameter `patience`, 0 = off): the
     * k best scores so far (max-heap, cap >= k) */
    size_t patience;
    cn_heap_t kbest;
} cn_hnsw_scratch_t;

/* Early termination: offers score d to the k best so far; 1 if it entered
 * them (the k-th best improved or the k best are not yet full). */
static inline int cn_hnsw_kbest_offer(cn_heap_t *kb, size_t k, float d) {
    if (kb->size < k) {
        cn_maxheap_push(kb, d, 0);
        return 1;
    }
    if (!(d < kb->score[0])) return 0;
    kb->score[0] = d;
    cn_maxheap_sift_down(kb, 0);
    return 1;
}

static inline uint32_t *cn_hnsw_list(const cn_hnsw_t *h, uint32_t i, int level) {
    if (level == 0) return h->level0 + (size_t)i * h->stride0;
    return h->upper[i] + (size_t)(level - 1) * (1 + h->M);
}

static inline uint32_t cn_hnsw_cap(const cn_hnsw_t *h, int level) {
    return level == 0 ? h->M0 : h->M;
}

/* Level of node id from (seed, id) alone: floor(-ln(u) * mL), u in (0,1]. */
int cn_hnsw_draw_level(uint64_t seed, uint32_t id, double mult);

/* Scratch for queries (build == 0) or one build thread (build == 1, then the
 * caller sets sc->ev). n: number of nodes. */
cn_status_t cn_hnsw_scratch_init(const cn_hnsw_t *h, cn_hnsw_scratch_t *sc, size_t n, size_t ef,
                                 int build);
void cn_hnsw_scratch_free(cn_hnsw_scratch_t *sc);

/* Frees the graph arrays (not the struct); leaves an empty graph. */
void cn_hnsw_graph_free(cn_hnsw_t *h);
/* Allocates zeroed level0, upper lists per levels[] (levels must be set,
 * n = h->base.n). */
cn_status_t cn_hnsw_graph_alloc(cn_hnsw_t *h);

/* ops implemented in hnsw_build.c and hnsw_search.c */
cn_status_t cn_hnsw_build(cn_index_t *ix, const cn_store_t *store, int threads, char *err,
                          size_t errlen);
size_t cn_hnsw_search(const cn_index_t *ix, cn_search_ctx_t *ctx, size_t k, uint32_t *ids,
                      float *scores);

/* ---- test hooks ---------------------------------------------------------- */

/* Checks the invariants listed at the top of this file; on failure returns
 * CN_EFORMAT with the first violation in err. ix must be an HNSW index. */
cn_status_t cn_hnsw_validate(const cn_index_t *ix, char *err, size_t errlen);
/* The connectivity repair pass of build (hnsw_build.c), run on a built graph
 * whose level-0 lists a test may have damaged, scoring with an evaluator of
 * `store` (the build store: same n, dim, metric). max_rounds < 0 repairs
 * while a round makes progress, as build does; max_rounds >= 0 stops after
 * that many rounds (0: only counts). *unreachable (may be NULL) = nodes left
 * unreachable from the entry point on level 0. Returns CN_OK when none is
 * left, else CN_EFORMAT with build's one-line message
 * ("hnsw: graph repair left 12 of 10000 nodes unreachable from the entry
 * point"), or CN_ENOMEM. Single-threaded. */
cn_status_t cn_hnsw_repair(cn_index_t *ix, const cn_store_t *store, int max_rounds,
                           uint32_t *unreachable, char *err, size_t errlen);
/* Top level (-1 if empty), entry point (CN_HNSW_NONE if empty). */
int cn_hnsw_max_level(const cn_index_t *ix);
uint32_t cn_hnsw_entry_point(const cn_index_t *ix);
/* Level of node i; number of neighbours of node i on `level` (0 if the node
 * does not reach that level). */
int cn_hnsw_node_level(const cn_index_t *ix, uint32_t i);
uint32_t cn_hnsw_degree(const cn_index_t *ix, uint32_t i, int level);
/* True if ix is an hnsw index (its registry entry cn_component_hnsw). */
int cn_hnsw_is(const cn_index_t *ix);

#endif
