/*
 * cannoli/store.h — vector stores and per-query evaluators.
 *
 * A store holds n vectors of one representation (dense f32, f16, SQ8 codes,
 * PQ codes, sparse CSR). Indexes never look inside a store:
 * they ask it for an evaluator, a per-thread object that holds one prepared
 * query (for PQ: the lookup table; for sparse: the densified query) and
 * computes query-to-stored distances, in batches.
 *
 * The rule that keeps modularity free: an index crosses at most one function
 * pointer per *batch* (all unvisited neighbours of a node), never one per
 * distance in its hot loop. dist() exists for the odd single distance (entry
 * point, tests).
 *
 * Stores are reference counted: a quantizer whose encoding is the identity
 * (plain) returns the full-precision store itself with cn_store_retain().
 * Reference counting is not thread-safe; do it on the setup thread.
 */
#ifndef CANNOLI_STORE_H
#define CANNOLI_STORE_H

#include "cannoli/common.h"
#include "cannoli/io.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A vector given from outside: dense (dense != NULL, dim floats) or sparse
 * (nnz pairs idx[i], val[i], idx strictly increasing). Borrowed. */
typedef struct cn_vec {
    const float *dense;
    uint32_t nnz;
    const uint32_t *idx;
    const float *val;
} cn_vec_t;

typedef struct cn_store cn_store_t;
typedef struct cn_evaluator cn_evaluator_t;

typedef struct cn_evaluator_ops {
    /* Prepares an outside query (full precision). Copies what it needs; q is
     * not referenced after the call. CN_EINVAL on a dimension mismatch. */
    cn_status_t (*set_query)(cn_evaluator_t *ev, const cn_vec_t *q, char *err, size_t errlen);
    /* Makes stored vector `id` the query (used while building a graph). */
    void (*set_query_id)(cn_evaluator_t *ev, uint32_t id);
    /* Internal score of the current query to stored vector id. */
    float (*dist)(cn_evaluator_t *ev, uint32_t id);
    /* out[i] = score(query, ids[i]) for i < n. Prefetches ahead itself. */
    void (*dist_batch)(cn_evaluator_t *ev, const uint32_t *ids, size_t n, float *out);
    /* out[i] = score(query, start + i) for i < n (exact scans). */
    void (*dist_range)(cn_evaluator_t *ev, uint32_t start, size_t n, float *out);
    /* out[i] = score(stored a, stored ids[i]); leaves the query untouched
     * (neighbour-selection heuristic while building). */
    void (*dist_pairs)(cn_evaluator_t *ev, uint32_t a, const uint32_t *ids, size_t n,
                       float *out);
    void (*destroy)(cn_evaluator_t *ev);
    /* Optional (NULL for none): starts loading what dist(id) will read, so a
     * caller that knows its next id early (a graph's next candidate) does
     * not wait for it. A hint: no effect on any score. */
    void (*prefetch)(cn_evaluator_t *ev, uint32_t id);
} cn_evaluator_ops_t;

/* Base of every evaluator; implementations embed it as their first member. */
struct cn_evaluator {
    const cn_evaluator_ops_t *ops;
    const cn_store_t *store; /* borrowed: the store must outlive the evaluator */
};

/*
 * Packed code blocks (optional; cn_store_ops_t.blocks, NULL for none).
 *
 * A store whose codes can be scored many at a time by one kernel call
 * (FastScan: 4-bit PQ codes transposed so that one byte shuffle looks up a
 * whole block) exposes them through these ops, and an index uses them
 * without knowing the representation:
 *   - a scan (flat, later IVF) walks the store's own blocks: block b holds
 *     ids [b * width, min(n, (b + 1) * width)), contiguous, block_bytes each;
 *   - a graph can copy a node's neighbours' codes next to its adjacency list
 *     with pack() and score them all with one score() call per hop.
 * Block scores approximate the evaluator's own: for a block packed from ids
 * (or the store's block holding them), |out[i] - dist(ids[i])| <= the bound
 * score() returns (one value per query). A caller that needs the
 * evaluator's exact top k computes dist() only for the slots whose lower
 * bound out[i] - bound beats its current threshold (index/flat.c does: its
 * results are then those of a dist_range scan).
 */
typedef struct cn_block_ops {
    uint32_t width; /* vectors per block (32 for FastScan) */
    /* Bytes of one block (for the store's parameters; a multiple of 16). */
    size_t (*block_bytes)(const cn_store_t *s);
    /* Writes the codes of stored vectors ids[0..n) (n <= width) into
     * block[0..block_bytes); slots n..width-1 get code 0 (their scores are
     * meaningless and must be ignored). */
    void (*pack)(const cn_store_t *s, const uint32_t *ids, size_t n, uint8_t *block);
    /* The store's own blocks, ceil(n / width) x block_bytes contiguous bytes
     * (64-byte aligned), or NULL if it keeps its codes otherwise. */
    const uint8_t *(*store_blocks)(const cn_store_t *s);
    /* out[0..width) = approximate scores of ev's current query (set_query or
     * set_query_id) to the slots of `block`; returns the bound. ev must be an
     * evaluator of this store. No allocation, no locking. */
    float (*score)(cn_evaluator_t *ev, const uint8_t *block, float *out);
    /* Optional (NULL for none): score() plus lo[0..width), a lower bound of
     * the exact score of the ORIGINAL (full-precision) vector of each slot,
     * holding with high probability (a store with a probabilistic error
     * bound, e.g. RaBitQ: out[i] - bound - eps0 |q| f_err[i]). out is what
     * score() gives. hnsw layout=colocated queues a neighbour only when its
     * lo beats the ef-th exact distance. No allocation, no locking. */
    void (*score_lb)(cn_evaluator_t *ev, const uint8_t *block, float *out, float *lo);
} cn_block_ops_t;

typedef struct cn_store_ops {
    const char *name; /* e.g. "dense_f32"; written into saved files */
    /* New evaluator over this store (one per thread). */
    cn_status_t (*evaluator_create)(const cn_store_t *s, cn_evaluator_t **out, char *err,
                                    size_t errlen);
    /* Bytes of memory this store holds (vectors, codebooks, ...). */
    size_t (*bytes)(const cn_store_t *s);
    /* Decodes vector i into out[dim] floats (approximately, for lossy stores). */
    void (*decode)(const cn_store_t *s, uint32_t i, float *out);
    /* Writes the store's payload (load is the registry's store_load). */
    void (*save)(const cn_store_t *s, cn_writer_t *w);
    void (*destroy)(cn_store_t *s); /* called when the last reference goes */
    /* Optional (NULL for none): frees tables only graph construction uses
     * (PQ's symmetric distance tables, built lazily by dist_pairs /
     * set_query_id). cn_index_build calls it on the build and search stores
     * right after the build, so bytes() -- and the index's bytes -- are the
     * same for a fresh build and a reloaded one. A later dist_pairs rebuilds
     * what it needs. No evaluator of the store may be in use meanwhile. */
    void (*drop_build_scratch)(cn_store_t *s);
    /* Optional (NULL for none): packed code blocks, see cn_block_ops_t. */
    const cn_block_ops_t *blocks;
    /* Optional (NULL = 0): the query-independent term the store adds to
     * score(q, decode(i)) -- l2 stores that keep a vector's true norm next to
     * its codes (rabitq): dist(i) = score(q, decode(i)) + score_offset(i)
     * within the declared tolerance, and likewise for stored-to-stored
     * scores, score(decode(a), decode(b)) + score_offset(b). Slow (tests). */
    float (*score_offset)(const cn_store_t *s, uint32_t i);
} cn_store_ops_t;

/* Base of every store; implementations embed it as their first member. */
struct cn_store {
    const cn_store_ops_t *ops;
    cn_metric_t metric;
    uint32_t n;   /* number of vectors */
    uint32_t dim; /* dimension of the original vectors */
    int refs;     /* reference count, starts at 1 */
};

static inline cn_store_t *cn_store_retain(cn_store_t *s) {
    if (s) s->refs++;
    return s;
}
/* Drops one reference; frees on the last. NULL-safe. */
void cn_store_release(cn_store_t *s);

static inline cn_status_t cn_store_evaluator(const cn_store_t *s, cn_evaluator_t **out,
                                             char *err, size_t errlen) {
    return s->ops->evaluator_create(s, out, err, errlen);
}
/* NULL-safe. */
static inline void cn_evaluator_destroy(cn_evaluator_t *ev) {
    if (ev) ev->ops->destroy(ev);
}

/* ---- dense float32 store ---------------------------------------------- */

/* Copies n x dim floats (row-major) into a new store. For CN_METRIC_COSINE
 * the rows are normalised on copy (a zero row stays zero). Rejects NaN/Inf
 * values with CN_EINVAL naming the row. */
cn_status_t cn_store_dense_create(cn_store_t **out, const float *data, uint32_t n, uint32_t dim,
                                  cn_metric_t metric, char *err, size_t errlen);
/* The same, consuming `data` (n x dim floats the caller allocated): rows are
 * copied in chunks and each copied chunk's whole pages are returned to the
 * system (madvise MADV_DONTNEED on Linux), so building a store from a loaded
 * matrix never holds two copies of it. On return -- success or failure after
 * the checks -- the content of `data` is undefined; the caller still frees
 * the block. */
cn_status_t cn_store_dense_create_consume(cn_store_t **out, float *data, uint32_t n,
                                          uint32_t dim, cn_metric_t metric, char *err,
                                          size_t errlen);
/* Row i of a dense_f32 store (dim floats, 64-byte aligned base). */
const float *cn_store_dense_row(const cn_store_t *s, uint32_t i);
/* True if s is a dense_f32 store. */
int cn_store_is_dense_f32(const cn_store_t *s);
/* Its loader is reached through the registry:
 * cn_registry_store_loader("dense_f32") or cn_store_load(). */

/* ---- sparse CSR store (quant/sparse.c, store name "sparse_csr") -------- */

/* Value precision of a sparse store. Components are u16 when dim <= 65536,
 * u32 otherwise (chosen by the store, not the caller). */
typedef enum cn_sparse_values {
    CN_SPARSE_F32 = 0,
    CN_SPARSE_F16 = 1
} cn_sparse_values_t;

/* Checks CSR arrays without copying them: indptr[n+1] non-decreasing from 0,
 * components of each row strictly increasing (a repeat is a "duplicate
 * component") and < dim, values finite. `what` names the data in the
 * one-line message ("vector 12: duplicate component 7"). */
cn_status_t cn_sparse_check(const uint64_t *indptr, const uint32_t *indices, const float *values,
                            uint32_t n, uint32_t dim, const char *what, char *err, size_t errlen);

/* Copies n CSR rows (indptr[n+1], indices/values[indptr[n]]) into a new
 * sparse store after cn_sparse_check. Metric must be CN_METRIC_IP (sparse
 * retrieval scores by inner product); anything else is CN_EINVAL. */
cn_status_t cn_store_sparse_create(cn_store_t **out, const uint64_t *indptr,
                                   const uint32_t *indices, const float *values, uint32_t n,
                                   uint32_t dim, cn_metric_t metric, cn_sparse_values_t prec,
                                   char *err, size_t errlen);
/* True if s is a sparse_csr store (any precision). */
int cn_store_is_sparse(const cn_store_t *s);
/* Precision of a sparse store's values. */
cn_sparse_values_t cn_store_sparse_values(const cn_store_t *s);
/* Nonzeros of row i, and the largest row's. */
uint32_t cn_store_sparse_nnz(const cn_store_t *s, uint32_t i);
uint32_t cn_store_sparse_max_nnz(const cn_store_t *s);
/* Decodes row i into idx[nnz], val[nnz] (caller-allocated, at least
 * cn_store_sparse_nnz(s, i) entries; components ascending). Returns nnz. */
uint32_t cn_store_sparse_row(const cn_store_t *s, uint32_t i, uint32_t *idx, float *val);
/* Its loader is reached through the registry:
 * cn_registry_store_loader("sparse_csr") or cn_store_load(). */

#ifdef __cplusplus
}
#endif
#endif
