/*
 * cannoli/index.h — indexes: build over one store, search through another.
 *
 * kANNolo's method is a configuration of this interface: the graph is built
 * on the full-precision store (build_store) and then searched through the
 * quantized one (search_store), optionally re-scoring candidates with the
 * full-precision vectors (rerank_store). With the plain quantizer all three
 * are the same store.
 *
 * Threading: an index is read-only after build/load; each search thread owns
 * one cn_search_ctx_t (evaluator + scratch such as the visited table), so
 * searches need no locks.
 *
 * Scores: index implementations work with internal scores (smaller is better,
 * see common.h); cn_index_search() returns user-facing distances.
 */
#ifndef CANNOLI_INDEX_H
#define CANNOLI_INDEX_H

#include "cannoli/common.h"
#include "cannoli/io.h"
#include "cannoli/params.h"
#include "cannoli/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cn_index cn_index_t;
typedef struct cn_search_ctx cn_search_ctx_t;
struct cn_component;

/* Work counters of one query (reset by cn_index_search). */
typedef struct cn_search_stats {
    uint64_t ndist; /* distance computations (through the evaluator) */
    uint64_t nhops; /* nodes expanded (graph indexes) */
    uint64_t ndropped; /* candidates dropped for lack of memory (0 normally) */
    uint64_t nreranked; /* candidates re-scored at full precision (generic `rerank`) */
} cn_search_stats_t;

typedef struct cn_index_ops {
    const char *name;
    /* Builds the structure over `store` (borrowed for the call only; the
     * index keeps no pointer to it). threads: number of build threads, >= 1. */
    cn_status_t (*build)(cn_index_t *ix, const cn_store_t *store, int threads, char *err,
                         size_t errlen);
    /* Allocates per-thread scratch into ctx->priv (ctx->ev is already set). */
    cn_status_t (*ctx_init)(const cn_index_t *ix, cn_search_ctx_t *ctx, char *err, size_t errlen);
    void (*ctx_free)(cn_search_ctx_t *ctx);
    /* Applies validated search parameters (e.g. ef) to ctx: every parameter of
     * the component's search schema is present (defaults filled in by the
     * generic layer; read them with cn_params_get_*). */
    cn_status_t (*ctx_set_params)(cn_search_ctx_t *ctx, const cn_params_t *p, char *err,
                                  size_t errlen);
    /* The query is set on ctx->ev. Writes up to k results, internal scores
     * ascending (ties in any order), adds work to ctx->stats, returns the
     * number written (< k only if the index holds fewer reachable vectors). */
    size_t (*search)(const cn_index_t *ix, cn_search_ctx_t *ctx, size_t k, uint32_t *ids,
                     float *scores);
    /* Bytes of the index structure itself (graph, lists), stores excluded. */
    size_t (*bytes)(const cn_index_t *ix);
    /* Structure payload; the generic layer writes header and stores. */
    void (*save)(const cn_index_t *ix, cn_writer_t *w);
    cn_status_t (*load)(cn_index_t *ix, cn_reader_t *r, char *err, size_t errlen);
    void (*destroy)(cn_index_t *ix); /* frees the implementation's memory only */
    /* Optional (NULL for none): called by the generic layer each time the
     * stores are attached or replaced -- after build, rebind and load, with
     * ix->store / ix->rerank_store set and before any search context exists.
     * An index that derives data from its search store (HNSW's co-located
     * neighbour codes, layout=colocated) (re)builds it here; on failure the
     * build / rebind / load fails with its message. */
    cn_status_t (*bind)(cn_index_t *ix, char *err, size_t errlen);
} cn_index_ops_t;

/* Base of every index; implementations embed it as their first member. */
struct cn_index {
    const cn_index_ops_t *ops;
    const struct cn_component *component; /* registry entry it was created from */
    cn_metric_t metric;
    uint32_t dim;
    uint32_t n;                /* vectors indexed (set by build/load) */
    cn_store_t *store;         /* searched through; owned reference */
    cn_store_t *rerank_store;  /* full precision for re-ranking, or NULL; owned reference */
    char *build_params;        /* "k=v;..." as given at create (owned), for files and logs */
    /* Set by adapters of outside libraries (baselines) in their constructor;
     * cannoli's own indexes leave them 0/NULL. */
    const char *kernels;       /* distance kernels the search runs, recorded in the `simd`
                                  column (e.g. "faiss-generic"); NULL = cannoli's own */
    int self_contained;        /* the structure keeps everything it searches and ops->bytes
                                  counts it; the stores are held for the interface only, so
                                  cn_index_bytes does not count them */
};

struct cn_search_ctx {
    const cn_index_t *ix;      /* borrowed */
    cn_evaluator_t *ev;        /* over ix->store (owned) */
    cn_evaluator_t *rerank_ev; /* over ix->rerank_store (owned), or NULL */
    size_t rerank;             /* candidates re-scored at full precision; 0 = off */
    size_t pool;               /* most results a search may return at the current
                                  parameters (the value of a CN_PARAM_F_RESULT_POOL
                                  parameter given explicitly, e.g. ef); 0 = no bound */
    const char *pool_name;     /* that parameter's name (static), or NULL */
    cn_search_stats_t stats;   /* of the last query */
    const cn_vec_t *query;     /* the query being searched (borrowed; valid during
                                  ops->search only; for adapters of outside libraries) */
    const cn_params_t *given;  /* the search parameters as the caller gave them, before
                                  the schema's defaults were filled in (borrowed; valid
                                  during ops->ctx_set_params only): an adapter refuses a
                                  parameter its index would not use by looking here */
    void *priv;                /* index scratch (ops->ctx_init) */
    int scores_full;           /* set by ops->ctx_init when the index itself scores with
                                  rerank_ev during its search (HNSW layout=colocated:
                                  exact distances of expanded nodes), so the
                                  full-precision store counts in cn_search_ctx_bytes
                                  even at rerank = 0 */
    uint32_t *cand_ids;        /* re-ranking scratch, cand_cap entries */
    float *cand_scores;
    size_t cand_cap;
};

/* Parameters every index accepts, defined once here (not in any component's
 * schema): build `build_on` = original | quantized (which store the structure
 * is built on: kANNolo's full-precision graph, or the codes — the harness
 * reads it to pick the build store; cn_index_create accepts and ignores it)
 * and search `rerank` = R (re-score the best max(R, k) candidates with the
 * full-precision store; 0 = off; needs a rerank store). */
extern const cn_param_spec_t cn_index_generic_params[];
extern const size_t cn_index_generic_nparams;
/* The generic spec named `key`, or NULL. */
const cn_param_spec_t *cn_index_generic_param(const char *key);

/* Checks what a search point may ask of an index, before anything is built:
 * for every parameter of the component's schema flagged
 * CN_PARAM_F_RESULT_POOL that `search` sets explicitly (HNSW's ef), k and the
 * generic `rerank` must not exceed its value — the search would return at
 * most that many candidates, or silently widen, and a row would name a value
 * its search did not use. Returns CN_OK, or CN_EINVAL with the reason
 * ("rerank = 100 exceeds ef = 40 (a search returns at most ef candidates)")
 * and, when `which` is not NULL, *which = the offending key ("k" or "rerank"). */
cn_status_t cn_index_check_search(const struct cn_component *c, const cn_params_t *search,
                                  size_t k, const char **which, char *err, size_t errlen);

/* Creates an empty index by registry name after validating the build
 * parameters against its schema (generic parameters against theirs). */
cn_status_t cn_index_create(cn_index_t **out, const char *name, cn_metric_t metric, uint32_t dim,
                            const cn_params_t *build_params, char *err, size_t errlen);

/* Builds over build_store, then keeps references to search_store (searched
 * through; may equal build_store) and rerank_store (may be NULL). All stores
 * must have the index's dim and metric and the same n. */
cn_status_t cn_index_build(cn_index_t *ix, cn_store_t *build_store, cn_store_t *search_store,
                           cn_store_t *rerank_store, int threads, char *err, size_t errlen);

/* Replaces the stores a built index is searched through (and re-ranks with),
 * keeping its structure: a graph built once on the full-precision vectors can
 * be searched through any quantizer's store of the same vectors. Same n, dim
 * and metric required; no search context may exist. */
cn_status_t cn_index_rebind(cn_index_t *ix, cn_store_t *search_store, cn_store_t *rerank_store,
                            char *err, size_t errlen);

/* Per-thread search context. The index must outlive it. */
cn_status_t cn_search_ctx_create(const cn_index_t *ix, cn_search_ctx_t **out, char *err,
                                 size_t errlen);
void cn_search_ctx_destroy(cn_search_ctx_t *ctx); /* NULL-safe */
/* Validates search parameters against the index's schema and applies them. */
cn_status_t cn_search_ctx_set_params(cn_search_ctx_t *ctx, const cn_params_t *search, char *err,
                                     size_t errlen);

/* k nearest of one query. ids[k], dists[k] caller-allocated; dists are
 * user-facing (cn_metric_external). Unfilled slots get id UINT32_MAX and
 * dist +inf. *found (may be NULL) = number filled. Stats in ctx->stats. */
cn_status_t cn_index_search(cn_search_ctx_t *ctx, const cn_vec_t *q, size_t k, uint32_t *ids,
                            float *dists, size_t *found, char *err, size_t errlen);

/* Dense queries (nq x dim, row-major) in parallel over `threads` OpenMP
 * threads (0 = all). ids/dists: nq x k. Used for ground truth (flat). */
cn_status_t cn_index_search_batch(const cn_index_t *ix, const cn_params_t *search,
                                  const float *queries, size_t nq, size_t k, int threads,
                                  uint32_t *ids, float *dists, char *err, size_t errlen);

/* Structure + stores held (a store shared by two roles counts once); for a
 * self_contained index (a baseline that searches its own copy) the structure
 * only. */
size_t cn_index_bytes(const cn_index_t *ix);

/* Memory a search with ctx's current parameters needs: the structure, the
 * store searched through, and the full-precision store only when ctx
 * re-ranks with it (rerank > 0) or the index scores with it during its
 * search (ctx->scores_full: HNSW layout=colocated). The same for a freshly built and a loaded
 * index (build-only tables are dropped after the build). Per-context scratch
 * (visited set, heaps, lookup tables) is not included: it is per thread and
 * does not grow with n beyond the visited set. */
size_t cn_search_ctx_bytes(const cn_search_ctx_t *ctx);

/* Saves index and its stores to one checksummed file (see io.h); atomic. */
cn_status_t cn_index_save(const cn_index_t *ix, const char *path, char *err, size_t errlen);
/* Loads a file written by cn_index_save. Wrong magic/version, truncation or a
 * checksum mismatch is CN_EFORMAT with a message naming the file. */
cn_status_t cn_index_load(cn_index_t **out, const char *path, char *err, size_t errlen);
/* The same, created with `build_params` ("k=v;..." as cn_index_t.build_params)
 * instead of the ones the file was saved with. The two may differ only in
 * parameters flagged CN_PARAM_F_DERIVED (else CN_EINVAL naming both): a graph
 * saved with layout=adjacency loads as layout=colocated. NULL = as saved. */
cn_status_t cn_index_load_as(cn_index_t **out, const char *path, const char *build_params,
                             char *err, size_t errlen);
/* params ("k=v;...") of index type `index` without its CN_PARAM_F_DERIVED
 * parameters, into buf (always terminated). Returns CN_EINVAL for an unknown
 * index type, malformed text or a buf too small. */
cn_status_t cn_index_structure_params(const char *index, const char *params, char *buf,
                                      size_t buflen);

void cn_index_destroy(cn_index_t *ix); /* NULL-safe; releases the stores */

#ifdef __cplusplus
}
#endif
#endif
