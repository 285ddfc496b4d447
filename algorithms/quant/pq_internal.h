/*
 * quant/pq_internal.h — per-ISA kernels of the PQ store and of k-means, and
 * the codebook training shared by pq and pq4fs.
 *
 * Distance kernels: every PQ score is a sum over sub-spaces of one table
 * entry, table[off[s] + code[s]], where off[s] is the start of sub-space s's
 * row in the table:
 *   ADC (query to stored):  table = lut (M x ksub), off[s] = s * ksub;
 *   SDC (stored to stored): table = sdc (M x ksub x ksub),
 *                           off[s] = (s * ksub + code_a[s]) * ksub.
 * One kernel shape serves both (off == NULL: the ADC layout, walked with a
 * pointer instead of an offset load).
 *
 * Two ways to sum: the unrolled scalar loop (cn_pq_sum_*: four accumulators,
 * one load per sub-space) at every level, and at the AVX2 / AVX-512 levels a
 * SIMD sum that fetches 8 / 16 sub-spaces' entries with one hardware gather
 * (gbatch / grange, offset form). The default is the scalar loop: measured on
 * the AMD EPYC (Zen 4) this project benchmarks on, random ids over 1M codes,
 * the gathers were slower at every M (16 / 32 / 64 sub-spaces: 45.7 / 78.5 /
 * 134 ns per code with AVX-512 gathers vs 39.9 / 67.4 / 104 ns scalar; in L1:
 * 18.3 vs 6.7 ns at M = 16). CANNOLI_PQ_SUM=gather selects the gathers (for
 * CPUs where they are fast); both are tested to agree.
 *
 * nearest(): the assignment step of k-means and PQ encoding. Centroids are
 * given transposed (ct: d x k, column c is centroid c) so the distance of one
 * row to all k centroids is a vectorisable loop; the elementwise arithmetic is
 * the same at every level (no FMA contraction in ISO C mode), so the chosen
 * centroid does not depend on the SIMD level. Ties go to the lowest index.
 */
#ifndef CN_QUANT_PQ_INTERNAL_H
#define CN_QUANT_PQ_INTERNAL_H

#include "cannoli/params.h"
#include "cannoli/simd.h"
#include "cannoli/store.h"
#include "quant/kmeans.h"

typedef struct cn_pq_kernels {
    /* out[i] = sum_{s<M} table[off[s] + codes[ids[i] * M + s]];
     * off == NULL means off[s] = s * ksub (an ADC table, the fast path). */
    void (*batch)(const float *table, const int32_t *off, size_t ksub, const uint8_t *codes,
                  size_t M, const uint32_t *ids, size_t n, float *out);
    /* out[i] = same for row start + i */
    void (*range)(const float *table, const int32_t *off, size_t ksub, const uint8_t *codes,
                  size_t M, size_t start, size_t n, float *out);
    /* For rows x[i * d .. ] (i < n): assign[i] = nearest centroid, dist[i] =
     * its squared distance. acc: k floats of scratch. */
    void (*nearest)(const float *ct, size_t k, size_t d, const float *x, size_t n,
                    uint32_t *assign, float *dist, float *acc);
    /* SIMD-gather versions of batch / range (off must not be NULL); NULL at
     * the scalar level. */
    void (*gbatch)(const float *table, const int32_t *off, size_t ksub, const uint8_t *codes,
                   size_t M, const uint32_t *ids, size_t n, float *out);
    void (*grange)(const float *table, const int32_t *off, size_t ksub, const uint8_t *codes,
                   size_t M, size_t start, size_t n, float *out);
} cn_pq_kernels_t;

extern const cn_pq_kernels_t cn_pq_kernels_scalar;
#ifdef CN_HAVE_AVX2
extern const cn_pq_kernels_t cn_pq_kernels_avx2;
#endif
#ifdef CN_HAVE_AVX512
extern const cn_pq_kernels_t cn_pq_kernels_avx512;
#endif

/* Kernels of a level, or NULL if this build/CPU cannot run it. */
const cn_pq_kernels_t *cn_pq_kernels_at(cn_simd_level_t level);
/* Kernels of the level in use (never NULL). */
const cn_pq_kernels_t *cn_pq_kernels(void);
/* 1 if CANNOLI_PQ_SUM=gather asks evaluators for the gather sums. */
int cn_pq_want_gather(void);

/* ---- introspection for tests (quant/pq.c) ---- */
/* True if s is a pq store. */
int cn_store_is_pq(const cn_store_t *s);
/* Sub-spaces, bits per code, codes (n x M bytes, one code per byte) and
 * codebooks (M x 2^nbits x dsub floats) of a pq store. */
uint32_t cn_pq_subspaces(const cn_store_t *s);
uint32_t cn_pq_nbits(const cn_store_t *s);
const uint8_t *cn_pq_codes(const cn_store_t *s);
const float *cn_pq_codebooks(const cn_store_t *s);
/* 1 if the store holds precomputed SDC tables (else dist_pairs builds a
 * table per call from the decoded vector). */
int cn_pq_has_sdc(const cn_store_t *s);
/* Evaluator using the kernels of a given level (CN_EUNSUPPORTED if this
 * build/CPU cannot run it). cn_store_evaluator() uses cn_simd_level(). */
cn_status_t cn_pq_evaluator_create_at(const cn_store_t *s, cn_simd_level_t level,
                                      cn_evaluator_t **out, char *err, size_t errlen);

/* How many ids ahead the batch kernels prefetch code rows. */
#define CN_PQ_PREFETCH_AHEAD 4

static inline void cn_pq_prefetch_codes(const uint8_t *row, size_t M) {
    __builtin_prefetch(row, 0, 3);
    if (M > 64) __builtin_prefetch(row + 64, 0, 3);
}

/* Unrolled table sums (four accumulators; the same order at every level). */
static inline float cn_pq_sum_lut(const float *table, size_t ksub, const uint8_t *c, size_t M) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    const float *t = table;
    size_t m = 0;
    for (; m + 4 <= M; m += 4, t += 4 * ksub) {
        s0 += t[c[m]];
        s1 += t[ksub + c[m + 1]];
        s2 += t[2 * ksub + c[m + 2]];
        s3 += t[3 * ksub + c[m + 3]];
    }
    for (; m < M; m++, t += ksub) s0 += t[c[m]];
    return (s0 + s1) + (s2 + s3);
}

static inline float cn_pq_sum_off(const float *table, const int32_t *off, const uint8_t *c,
                                  size_t M) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t m = 0;
    for (; m + 4 <= M; m += 4) {
        s0 += table[off[m] + c[m]];
        s1 += table[off[m + 1] + c[m + 1]];
        s2 += table[off[m + 2] + c[m + 2]];
        s3 += table[off[m + 3] + c[m + 3]];
    }
    for (; m < M; m++) s0 += table[off[m] + c[m]];
    return (s0 + s1) + (s2 + s3);
}

/* Batch and range loops around a sum expression SUM(row) (prefetching the
 * code rows of upcoming ids). */
#define CN_PQ_DEFINE_TABLE_KERNELS(SUFFIX, SUM_LUT, SUM_OFF)                                   \
    static void batch_##SUFFIX(const float *table, const int32_t *off, size_t ksub,           \
                               const uint8_t *codes, size_t M, const uint32_t *ids, size_t n,  \
                               float *out) {                                                  \
        size_t pre = n < CN_PQ_PREFETCH_AHEAD ? n : CN_PQ_PREFETCH_AHEAD;                     \
        for (size_t i = 0; i < pre; i++) cn_pq_prefetch_codes(codes + (size_t)ids[i] * M, M); \
        for (size_t i = 0; i < n; i++) {                                                      \
            if (i + CN_PQ_PREFETCH_AHEAD < n)                                                 \
                cn_pq_prefetch_codes(codes + (size_t)ids[i + CN_PQ_PREFETCH_AHEAD] * M, M);   \
            const uint8_t *row = codes + (size_t)ids[i] * M;                                  \
            out[i] = off ? SUM_OFF(table, off, row, M) : SUM_LUT(table, ksub, row, M);        \
        }                                                                                     \
    }                                                                                         \
    static void range_##SUFFIX(const float *table, const int32_t *off, size_t ksub,           \
                               const uint8_t *codes, size_t M, size_t start, size_t n,         \
                               float *out) {                                                  \
        const uint8_t *row = codes + start * M;                                               \
        for (size_t i = 0; i < n; i++, row += M)                                              \
            out[i] = off ? SUM_OFF(table, off, row, M) : SUM_LUT(table, ksub, row, M);        \
    }

/* acc[c] = ||x - centroid c||^2 for c < k (compiled per ISA, vectorised). */
static inline void cn_pq_dist_all(const float *ct, size_t k, size_t d, const float *x,
                                  float *restrict acc) {
    {
        const float x0 = x[0];
        const float *restrict col = ct;
        for (size_t c = 0; c < k; c++) {
            float t = x0 - col[c];
            acc[c] = t * t;
        }
    }
    for (size_t j = 1; j < d; j++) {
        const float xj = x[j];
        const float *restrict col = ct + j * k;
        for (size_t c = 0; c < k; c++) {
            float t = xj - col[c];
            acc[c] += t * t;
        }
    }
}

/* ---- training shared by pq and pq4fs (quant/pq_train.c) ---- */

/* Sub-space layout: dim split into M contiguous sub-spaces, the first
 * dim % M of them one dimension wider (widths dim / M + 1 and dim / M; all
 * dim / M when M divides dim, as pq requires). A codebook array holds
 * ksub x dim floats: sub-space s at ksub * cn_pq_sub_off(s), ksub rows of
 * cn_pq_sub_width(s) floats. */
static inline size_t cn_pq_sub_off(size_t dim, size_t M, size_t s) {
    size_t w = dim / M, r = dim % M;
    return s * w + (s < r ? s : r);
}
static inline size_t cn_pq_sub_width(size_t dim, size_t M, size_t s) {
    return dim / M + (s < dim % M ? 1 : 0);
}

/* CN_EINVAL unless full is a dense_f32 store of this dimension and metric
 * (messages start "quantizer '<name>': "). */
cn_status_t cn_pq_check_input(const char *name, uint32_t dim, cn_metric_t metric,
                              const cn_store_t *full, char *err, size_t errlen);

typedef struct cn_pq_train_params {
    size_t M;            /* sub-spaces (layout above) */
    size_t ksub;         /* centroids per sub-space */
    uint64_t train_size; /* rows sampled (all if n <= train_size); caller checks >= ksub */
    uint64_t seed;
    uint32_t iterations;
    cn_kmeans_init_t init;
    cn_metric_t metric;  /* cosine: sample rows scaled to unit norm */
} cn_pq_train_params_t;

/* Reads and checks the build parameters iterations, seed and init into
 * p->iterations, p->seed and p->init (messages start "quantizer '<name>': "). */
cn_status_t cn_pq_parse_kmeans_params(const char *name, const cn_params_t *params,
                                      cn_pq_train_params_t *p, char *err, size_t errlen);

/* Trains the codebooks on the dense store full: a seeded sample of rows,
 * one k-means per sub-space (in parallel). *out: ksub x dim floats
 * (cn_aligned_alloc, layout above) owned by the caller. Errors name the
 * quantizer and, for a k-means failure, the lowest failing sub-space. */
cn_status_t cn_pq_train_codebooks(const char *name, const cn_store_t *full,
                                  const cn_pq_train_params_t *p, float **out, char *err,
                                  size_t errlen);

#endif
