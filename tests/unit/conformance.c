/*
 * tests/unit/conformance.c — the checks every quantizer and its store pass.
 *
 * The suite knows a quantizer only through its registry entry (schema,
 * constructor, store name and loader) and its ops (declared tolerance and
 * small-shape parameters, quantizer.h), so a component added later is
 * checked without test code of its own: test_conformance.c loops over the
 * registry, and a test that registers a quantizer at run time calls
 * cn_conformance_assert() on it (test_quant_dropin.c does).
 *
 * What runs. For each parameter set (below), each metric the constructor
 * accepts (l2, ip, cosine) and each input it trains on (a dense_f32 store;
 * an f32 sparse_csr store, ip only, with sparse queries), for every dimension
 * 1..67: create, train on CN_CONFORMANCE_TRAIN_ROWS (256) rows, and encode a
 * store of n = 1 and of n = 300 rows. On each encoded store:
 *   - identity: q->identity == 1 exactly when encode returned its input;
 *   - accuracy: for 3 queries, dist(i) against the exact score of the query
 *     (normalised for cosine) and decode(i), computed in double, within the
 *     quantizer's declared bound dist_rtol * |exact| + dist_atol * (|q|^2 +
 *     |x|^2); the same for dist_pairs and set_query_id + dist against the
 *     exact score of decode(a) and decode(i);
 *   - consistency: dist_batch (ids in scrambled order, repeated) and
 *     dist_range (several starts and lengths) equal dist (same bits or within
 *     1e-6 relative); dist_pairs within twice the declared bound of
 *     set_query_id + dist; dist_pairs leaves the current query untouched;
 *     the optional prefetch op accepts every id and changes no score;
 *   - persistence: cn_store_save / cn_store_load give the same store name and
 *     shape, bit-identical decode, dist_range, dist_pairs and set_query_id
 *     scores, and -- once the store's drop_build_scratch (if any) has run --
 *     the same bytes() as the fresh store (build-only tables must not make a
 *     fresh build and a reload report different sizes).
 *   - packed code blocks (optional, cn_block_ops_t): pack() of each block's
 *     ids equals the store's own block; score() of every block and of a block
 *     packed from scrambled ids is within its returned bound of dist(), for
 *     outside queries and after set_query_id; with score_lb (optional), its
 *     scores equal score()'s, every lo[i] <= out[i], and on stores of 100+
 *     vectors at most 5% of the lower bounds (outside queries) exceed the
 *     exact score of the slot's ORIGINAL vector (the bound is probabilistic).
 *   - score_offset (optional, cn_store_ops_t): every exact score against
 *     decode(i) above is score(q, decode(i)) + score_offset(i).
 *
 * Parameter sets. Shape constraints (PQ's sub-spaces must divide the
 * dimension, 2^nbits centroids need that many training rows) are declared by
 * the component, not guessed: ops->small_params is a set under which it
 * accepts every dimension >= 1 and 256 training rows. The suite runs
 *   1. small_params (schema defaults for the rest) -- every dimension must pass;
 *   2. the same with each other choice of every string parameter that has
 *      choices in the schema (pq init=random, sparse values=f16) -- likewise;
 *   3. when small_params is not empty, the plain schema defaults, at the
 *      dimensions whose constructor accepts them (pq: 16, 32, 48, 64), so the
 *      defaults are exercised too.
 * Which metrics and inputs a quantizer takes is probed once (the constructor
 * and train accept them at dimension 8); each accepted combination must then
 * work at every dimension, and a quantizer must accept at least one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "conformance.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cannoli/cannoli.h"

#define MAX_DIM 67
#define PROBE_DIM 8
#define N_TRAIN CN_CONFORMANCE_TRAIN_ROWS
#define N_MANY 300
#define N_QUERIES 3
#define SPARSE_MAX_NNZ 12
#define MAX_ITEMS 32
#define MAX_SETS 16
#define SAME_REL 1e-6
#define LB_MAX_ABOVE 0.05 /* score_lb: largest fraction of bounds above the original's score */
#define ERRLEN 512

typedef enum { IN_DENSE = 0, IN_SPARSE = 1 } input_t;

typedef struct pset {
    cn_param_t items[MAX_ITEMS];
    size_t n;
    int strict; /* every dimension must be accepted */
    char label[256];
} pset_t;

typedef struct run {
    cn_conformance_report_t *rep;
    char ctx[600]; /* the shape being checked, prefixed to messages */
    unsigned long fails_here;
} run_t;

/* Raw data of one dimension: N_MANY rows, dense or CSR. */
typedef struct data {
    uint32_t dim;
    input_t in;
    float *dense;
    uint64_t *indptr;
    uint32_t *idx;
    float *val;
} data_t;

/* One query: the vector handed to set_query and its dense form. */
typedef struct query {
    cn_vec_t v;
    float dense[MAX_DIM];
    uint32_t idx[SPARSE_MAX_NNZ];
    float val[SPARSE_MAX_NNZ];
    double qhat[MAX_DIM]; /* as the store sees it: normalised for cosine */
} query_t;

static void failf(run_t *r, const char *fmt, ...) {
    r->rep->failures++;
    r->fails_here++;
    if (r->rep->first[0]) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(r->rep->first, sizeof r->rep->first, "%.600s: %.400s", r->ctx, msg);
}

#define CHECK(r, cond, ...)                       \
    do {                                          \
        (r)->rep->checks++;                       \
        if (!(cond)) failf((r), __VA_ARGS__);     \
    } while (0)

static const char *metric_label(cn_metric_t m) { return cn_metric_name(m); }

/* ---- data ------------------------------------------------------------------------- */

static void data_make(data_t *D, uint32_t dim, input_t in, uint64_t seed) {
    memset(D, 0, sizeof *D);
    D->dim = dim;
    D->in = in;
    uint64_t st = seed;
    if (in == IN_DENSE) {
        D->dense = malloc((size_t)N_MANY * dim * sizeof(float));
        for (size_t i = 0; i < (size_t)N_MANY * dim; i++) D->dense[i] = cn_test_randf(&st);
        return;
    }
    uint32_t cap = dim < SPARSE_MAX_NNZ ? dim : SPARSE_MAX_NNZ;
    D->indptr = malloc((N_MANY + 1) * sizeof(uint64_t));
    D->idx = malloc((size_t)N_MANY * cap * sizeof(uint32_t));
    D->val = malloc((size_t)N_MANY * cap * sizeof(float));
    uint64_t k = 0;
    D->indptr[0] = 0;
    for (uint32_t i = 0; i < N_MANY; i++) {
        uint32_t need = (uint32_t)(cn_test_rand(&st) % (cap + 1)); /* 0: an empty row */
        for (uint32_t j = 0; j < dim && need > 0; j++) { /* selection sampling: sorted */
            if (cn_test_rand(&st) % (dim - j) < need) {
                D->idx[k] = j;
                float v = cn_test_randf(&st);
                D->val[k++] = v != 0.0f ? v : 0.5f;
                need--;
            }
        }
        D->indptr[i + 1] = k;
    }
}

static void data_free(data_t *D) {
    free(D->dense);
    free(D->indptr);
    free(D->idx);
    free(D->val);
}

/* A store of rows [first, first + n) of D. */
static cn_store_t *data_store(const data_t *D, uint32_t first, uint32_t n, cn_metric_t m,
                              char *err) {
    cn_store_t *s = NULL;
    cn_status_t st;
    if (D->in == IN_DENSE) {
        st = cn_store_dense_create(&s, D->dense + (size_t)first * D->dim, n, D->dim, m, err,
                                   ERRLEN);
    } else {
        uint64_t *ip = malloc(((size_t)n + 1) * sizeof *ip);
        for (uint32_t i = 0; i <= n; i++) ip[i] = D->indptr[first + i] - D->indptr[first];
        st = cn_store_sparse_create(&s, ip, D->idx + D->indptr[first], D->val + D->indptr[first],
                                    n, D->dim, m, CN_SPARSE_F32, err, ERRLEN);
        free(ip);
    }
    return st == CN_OK ? s : NULL;
}

static void query_make(query_t *q, const data_t *D, cn_metric_t m, uint64_t seed) {
    memset(q, 0, sizeof *q);
    uint64_t st = seed;
    const uint32_t d = D->dim;
    if (D->in == IN_DENSE) {
        for (uint32_t j = 0; j < d; j++) q->dense[j] = cn_test_randf(&st);
        q->v.dense = q->dense;
    } else {
        uint32_t cap = d < SPARSE_MAX_NNZ ? d : SPARSE_MAX_NNZ;
        uint32_t need = 1 + (uint32_t)(cn_test_rand(&st) % cap), k = 0;
        for (uint32_t j = 0; j < d && need > 0; j++) {
            if (cn_test_rand(&st) % (d - j) < need) {
                q->idx[k] = j;
                float v = cn_test_randf(&st);
                q->val[k] = v != 0.0f ? v : 0.5f;
                q->dense[j] = q->val[k];
                k++;
                need--;
            }
        }
        q->v.nnz = k;
        q->v.idx = q->idx;
        q->v.val = q->val;
    }
    double s = 0;
    for (uint32_t j = 0; j < d; j++) s += (double)q->dense[j] * q->dense[j];
    double inv = (m == CN_METRIC_COSINE && s > 0) ? 1.0 / sqrt(s) : 1.0;
    for (uint32_t j = 0; j < d; j++) q->qhat[j] = q->dense[j] * inv;
}

/* ---- exact scores and bounds ------------------------------------------------------------- */

static double exact_dq(const double *a, const float *b, uint32_t d, cn_metric_t m) {
    double s = 0;
    for (uint32_t j = 0; j < d; j++) {
        if (m == CN_METRIC_L2) {
            double t = a[j] - (double)b[j];
            s += t * t;
        } else {
            s -= a[j] * (double)b[j];
        }
    }
    return s;
}

static double exact_ff(const float *a, const float *b, uint32_t d, cn_metric_t m) {
    double s = 0;
    for (uint32_t j = 0; j < d; j++) {
        if (m == CN_METRIC_L2) {
            double t = (double)a[j] - (double)b[j];
            s += t * t;
        } else {
            s -= (double)a[j] * (double)b[j];
        }
    }
    return s;
}

static double norm2_f(const float *a, uint32_t d) {
    double s = 0;
    for (uint32_t j = 0; j < d; j++) s += (double)a[j] * a[j];
    return s;
}

typedef struct tol {
    double rtol, atol;
} tol_t;

/* Checks |got - ex| <= rtol |ex| + atol scale (times `mult`); records the ratio. */
static int within(run_t *r, tol_t t, float got, double ex, double scale, double mult) {
    double bound = mult * (t.rtol * fabs(ex) + t.atol * scale);
    double dev = fabs((double)got - ex);
    double ratio = dev == 0 ? 0 : bound > 0 ? dev / bound : INFINITY;
    if (!isfinite(got)) ratio = INFINITY;
    if (ratio > r->rep->worst) r->rep->worst = ratio;
    return ratio <= 1.0;
}

/* Same bits, or within SAME_REL relative. */
static int same(float a, float b) {
    if (a == b) return 1;
    return fabs((double)a - b) <= SAME_REL * fmax(fabs((double)a), fabs((double)b));
}

/* The store's query-independent term (cn_store_ops_t.score_offset; 0 without). */
static double offset_of(const cn_store_t *E, uint32_t i) {
    return E->ops->score_offset ? (double)E->ops->score_offset(E, i) : 0.0;
}

/* Lower bounds (cn_block_ops_t.score_lb) against the original vectors. */
typedef struct lbstat {
    unsigned long slots, above; /* slots checked, lo above the original's exact score */
} lbstat_t;

/* ---- one encoded store --------------------------------------------------------------------- */

static void check_scores(run_t *r, cn_evaluator_t *ev, const cn_store_t *E, const float *X,
                         const double *xn2, const query_t *q, tol_t t, float *single, float *tmp,
                         uint32_t *ids) {
    const uint32_t n = E->n, d = E->dim;
    const cn_metric_t m = E->metric;
    double qn2 = 0;
    for (uint32_t j = 0; j < d; j++) qn2 += q->qhat[j] * q->qhat[j];
    for (uint32_t i = 0; i < n; i++) {
        single[i] = ev->ops->dist(ev, i);
        double ex = exact_dq(q->qhat, X + (size_t)i * d, d, m) + offset_of(E, i);
        CHECK(r, within(r, t, single[i], ex, qn2 + xn2[i], 1.0),
              "tolerance: dist(%u) = %.9g, exact score to decode(%u) = %.9g (declared rtol %g, "
              "atol %g)",
              i, (double)single[i], i, ex, t.rtol, t.atol);
    }
    /* batch: scrambled order with repeats, then a single id */
    size_t nb = (size_t)n + 5;
    for (size_t j = 0; j < nb; j++) ids[j] = (uint32_t)((j * 7 + 3) % n);
    ev->ops->dist_batch(ev, ids, nb, tmp);
    for (size_t j = 0; j < nb; j++)
        CHECK(r, same(tmp[j], single[ids[j]]), "dist_batch: entry %zu (id %u) = %.9g, dist = %.9g",
              j, ids[j], (double)tmp[j], (double)single[ids[j]]);
    ids[0] = n - 1;
    ev->ops->dist_batch(ev, ids, 1, tmp);
    CHECK(r, same(tmp[0], single[n - 1]), "dist_batch of one id %u = %.9g, dist = %.9g", n - 1,
          (double)tmp[0], (double)single[n - 1]);
    /* the optional prefetch is a hint: every id, and dist is unchanged */
    if (ev->ops->prefetch) {
        for (uint32_t i = 0; i < n; i++) ev->ops->prefetch(ev, i);
        for (uint32_t i = 0; i < n; i += 1 + n / 16)
            CHECK(r, ev->ops->dist(ev, i) == single[i], "dist(%u) changed after prefetch", i);
    }
    /* range: several starts and lengths */
    const uint32_t starts[4] = {0, 1, n / 2, n - 1};
    for (int s = 0; s < 4; s++) {
        uint32_t st = starts[s];
        if (st >= n) continue;
        const size_t lens[3] = {n - st, 1, n - st < 3 ? n - st : 3};
        for (int l = 0; l < 3; l++) {
            ev->ops->dist_range(ev, st, lens[l], tmp);
            for (size_t j = 0; j < lens[l]; j++)
                CHECK(r, same(tmp[j], single[st + j]),
                      "dist_range(%u, %zu): entry %zu = %.9g, dist(%zu) = %.9g", st, lens[l], j,
                      (double)tmp[j], st + j, (double)single[st + j]);
        }
    }
}

static void check_pairs(run_t *r, cn_evaluator_t *ev, const cn_store_t *E, const float *X,
                        const double *xn2, const query_t *q0, tol_t t, float *pairs, float *tmp,
                        uint32_t *ids) {
    const uint32_t n = E->n, d = E->dim;
    const cn_metric_t m = E->metric;
    const uint32_t anchors[3] = {0, n / 2, n - 1};
    for (int ai = 0; ai < 3; ai++) {
        uint32_t a = anchors[ai];
        if (ai > 0 && a == anchors[ai - 1]) continue;
        const size_t lens[3] = {1, 3, (size_t)n + 2};
        for (int l = 0; l < 3; l++) {
            size_t len = lens[l];
            for (size_t j = 0; j < len; j++) ids[j] = (uint32_t)((j * 5 + a) % n);
            char e[ERRLEN];
            CHECK(r, ev->ops->set_query(ev, &q0->v, e, sizeof e) == CN_OK, "set_query: %s", e);
            float keep = ev->ops->dist(ev, n - 1);
            ev->ops->dist_pairs(ev, a, ids, len, pairs);
            float again = ev->ops->dist(ev, n - 1);
            CHECK(r, memcmp(&keep, &again, sizeof keep) == 0,
                  "dist_pairs(%u, ...) changed the current query: dist(%u) %.9g -> %.9g", a,
                  n - 1, (double)keep, (double)again);
            ev->ops->set_query_id(ev, a);
            for (size_t j = 0; j < len; j++) {
                uint32_t b = ids[j];
                double ex = exact_ff(X + (size_t)a * d, X + (size_t)b * d, d, m) +
                            offset_of(E, b);
                double scale = xn2[a] + xn2[b];
                tmp[j] = ev->ops->dist(ev, b);
                CHECK(r, within(r, t, pairs[j], ex, scale, 1.0),
                      "tolerance: dist_pairs(%u, [%u]) = %.9g, exact score of decode(%u), "
                      "decode(%u) = %.9g",
                      a, b, (double)pairs[j], a, b, ex);
                CHECK(r, within(r, t, tmp[j], ex, scale, 1.0),
                      "tolerance: set_query_id(%u) + dist(%u) = %.9g, exact %.9g", a, b,
                      (double)tmp[j], ex);
                CHECK(r, within(r, t, pairs[j], tmp[j], scale, 2.0),
                      "dist_pairs(%u, [%u]) = %.9g but set_query_id(%u) + dist(%u) = %.9g", a, b,
                      (double)pairs[j], a, b, (double)tmp[j]);
            }
        }
    }
}

/* Optional packed code blocks (cn_block_ops_t): pack() of a block's ids
 * rebuilds the store's own block; score() of every block (the store's own,
 * and one packed from scrambled ids) is within its returned bound of dist();
 * the same after set_query_id. `single` holds dist(i) of the current query. */
static void check_blocks(run_t *r, cn_evaluator_t *ev, const cn_store_t *E, const float *single,
                         uint32_t *ids, const cn_store_t *S, const query_t *q, lbstat_t *lb) {
    const cn_block_ops_t *bo = E->ops->blocks;
    if (!bo) return;
    const uint32_t n = E->n, W = bo->width;
    const size_t bb = bo->block_bytes(E);
    CHECK(r, bo->pack && bo->score && bo->block_bytes, "blocks: pack, score and block_bytes are required");
    CHECK(r, W >= 1 && W <= 1024 && bb > 0, "blocks: width %u, block_bytes %zu", W, bb);
    if (!bo->pack || !bo->score || !bo->block_bytes || W < 1 || W > 1024 || bb == 0) return;
    uint8_t *blk = malloc(bb);
    float *out = malloc(W * sizeof(float));
    float *out2 = malloc(W * sizeof(float));
    float *lo = malloc(W * sizeof(float));
    float *own = malloc((size_t)n * sizeof(float));
    const uint8_t *sb = bo->store_blocks ? bo->store_blocks(E) : NULL;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) { /* a stored vector as the query */
            ev->ops->set_query_id(ev, n / 2);
            ev->ops->dist_range(ev, 0, n, own);
            single = own;
        }
        for (uint32_t start = 0; start < n; start += W) {
            uint32_t len = n - start < W ? n - start : W;
            for (uint32_t i = 0; i < len; i++) ids[i] = start + i;
            bo->pack(E, ids, len, blk);
            if (sb && pass == 0)
                CHECK(r, memcmp(blk, sb + (size_t)(start / W) * bb, bb) == 0,
                      "blocks: pack of ids %u..%u differs from the store's block %u", start,
                      start + len - 1, start / W);
            const uint8_t *which = sb ? sb + (size_t)(start / W) * bb : blk;
            float bound = bo->score(ev, which, out);
            CHECK(r, isfinite(bound) && bound >= 0, "blocks: score returned bound %g",
                  (double)bound);
            for (uint32_t i = 0; i < len; i++)
                CHECK(r, fabs((double)out[i] - single[start + i]) <= (double)bound,
                      "blocks (pass %d): slot %u of block %u scores %.9g, dist(%u) = %.9g, "
                      "bound %.9g",
                      pass, i, start / W, (double)out[i], start + i, (double)single[start + i],
                      (double)bound);
            /* lower bounds: below the slot's score, and (statistically) below
             * the exact score of the original vector (outside queries) */
            if (bo->score_lb) {
                bo->score_lb(ev, which, out2, lo);
                CHECK(r, memcmp(out, out2, len * sizeof(float)) == 0,
                      "score_lb (pass %d): its scores of block %u differ from score()'s", pass,
                      start / W);
                for (uint32_t i = 0; i < len; i++) {
                    CHECK(r, lo[i] <= out2[i],
                          "score_lb (pass %d): slot %u of block %u has lo %.9g > score %.9g",
                          pass, i, start / W, (double)lo[i], (double)out2[i]);
                    if (pass == 0 && cn_store_is_dense_f32(S)) {
                        double ex = exact_dq(q->qhat, cn_store_dense_row(S, start + i), E->dim,
                                             E->metric);
                        lb->slots++;
                        lb->above += (double)lo[i] > ex;
                    }
                }
            }
        }
        uint32_t len = n < W ? n : W;
        for (uint32_t j = 0; j < len; j++) ids[j] = (uint32_t)((j * 7 + 3) % n);
        bo->pack(E, ids, len, blk);
        float bound = bo->score(ev, blk, out);
        for (uint32_t j = 0; j < len; j++)
            CHECK(r, fabs((double)out[j] - single[ids[j]]) <= (double)bound,
                  "blocks (pass %d): packed slot %u (id %u) scores %.9g, dist = %.9g, bound %.9g",
                  pass, j, ids[j], (double)out[j], (double)single[ids[j]], (double)bound);
    }
    free(blk);
    free(out);
    free(out2);
    free(lo);
    free(own);
}

static void check_roundtrip(run_t *r, cn_store_t *E, cn_evaluator_t *ev, const float *X,
                            const query_t *q0, float *a1, float *a2, uint32_t *ids) {
    const uint32_t n = E->n, d = E->dim;
    char e[ERRLEN] = "", path[1024];
    snprintf(path, sizeof path, "%s/conformance.cnst", cn_test_tmpdir());
    cn_writer_t w;
    cn_status_t st = cn_writer_open(&w, path, e, sizeof e);
    CHECK(r, st == CN_OK, "round trip: open for writing: %s", e);
    if (st != CN_OK) return;
    cn_store_save(E, &w);
    st = cn_writer_close(&w, e, sizeof e);
    CHECK(r, st == CN_OK, "round trip: save: %s", e);
    if (st != CN_OK) return;
    cn_reader_t rd;
    st = cn_reader_open(&rd, path, e, sizeof e);
    CHECK(r, st == CN_OK, "round trip: open for reading: %s", e);
    if (st != CN_OK) return;
    cn_store_t *L = NULL;
    st = cn_store_load(&L, &rd, e, sizeof e);
    CHECK(r, st == CN_OK, "round trip: cn_store_load: %s", e);
    if (st == CN_OK)
        CHECK(r, cn_reader_remaining(&rd) == 0, "round trip: %llu bytes left after the store",
              (unsigned long long)cn_reader_remaining(&rd));
    cn_reader_close(&rd);
    if (st != CN_OK) return;
    size_t loaded_bytes = L->ops->bytes(L);
    cn_evaluator_t *evl = NULL;
    CHECK(r, strcmp(L->ops->name, E->ops->name) == 0, "round trip: store '%s' reloads as '%s'",
          E->ops->name, L->ops->name);
    CHECK(r, L->n == n && L->dim == d && L->metric == E->metric,
          "round trip: shape %u x %u %s reloads as %u x %u %s", n, d, metric_label(E->metric),
          L->n, L->dim, metric_label(L->metric));
    if (L->n != n || L->dim != d) goto done;
    float *row = a1;
    for (uint32_t i = 0; i < n; i++) {
        L->ops->decode(L, i, row);
        if (memcmp(row, X + (size_t)i * d, d * sizeof(float)) != 0) {
            CHECK(r, 0, "round trip: decode(%u) differs after save/load", i);
            break;
        }
    }
    st = cn_store_evaluator(L, &evl, e, sizeof e);
    CHECK(r, st == CN_OK, "round trip: evaluator of the reloaded store: %s", e);
    if (st != CN_OK) goto done;
    CHECK(r, ev->ops->set_query(ev, &q0->v, e, sizeof e) == CN_OK, "set_query: %s", e);
    CHECK(r, evl->ops->set_query(evl, &q0->v, e, sizeof e) == CN_OK, "reloaded set_query: %s", e);
    ev->ops->dist_range(ev, 0, n, a1);
    evl->ops->dist_range(evl, 0, n, a2);
    CHECK(r, memcmp(a1, a2, n * sizeof(float)) == 0,
          "round trip: dist_range differs after save/load");
    for (uint32_t j = 0; j < n; j++) ids[j] = j;
    ev->ops->dist_pairs(ev, n / 2, ids, n, a1);
    evl->ops->dist_pairs(evl, n / 2, ids, n, a2);
    CHECK(r, memcmp(a1, a2, n * sizeof(float)) == 0,
          "round trip: dist_pairs differs after save/load");
    ev->ops->set_query_id(ev, n - 1);
    evl->ops->set_query_id(evl, n - 1);
    ev->ops->dist_range(ev, 0, n, a1);
    evl->ops->dist_range(evl, 0, n, a2);
    CHECK(r, memcmp(a1, a2, n * sizeof(float)) == 0,
          "round trip: set_query_id scores differ after save/load");
    cn_evaluator_destroy(evl);
    evl = NULL;
    /* Sizes: fresh and reloaded agree once build-only tables are dropped. */
    if (E->ops->drop_build_scratch) {
        E->ops->drop_build_scratch(E);
        L->ops->drop_build_scratch(L);
        CHECK(r, L->ops->bytes(L) == loaded_bytes,
              "bytes: reloaded store holds %zu bytes after use and drop_build_scratch, %zu "
              "when loaded",
              L->ops->bytes(L), loaded_bytes);
    }
    CHECK(r, E->ops->bytes(E) == loaded_bytes,
          "bytes: the fresh store reports %zu bytes, the reloaded one %zu (build-only tables "
          "must go in drop_build_scratch)",
          E->ops->bytes(E), loaded_bytes);
done:
    cn_evaluator_destroy(evl);
    cn_store_release(L);
}

static void check_store(run_t *r, cn_quantizer_t *q, cn_store_t *S, const data_t *D,
                        uint64_t seed) {
    char e[ERRLEN] = "";
    cn_store_t *E = NULL;
    cn_status_t st = q->ops->encode(q, S, &E, e, sizeof e);
    CHECK(r, st == CN_OK && E, "encode: %s", e);
    if (st != CN_OK || !E) return;
    const tol_t t = {q->ops->dist_rtol, q->ops->dist_atol};
    CHECK(r, !q->identity || E == S, "identity is 1 but encode did not return its input store");
    CHECK(r, q->identity || E != S, "encode returned its input store but identity is 0");
    CHECK(r, E->n == S->n && E->dim == S->dim && E->metric == S->metric,
          "encoded store is %u x %u %s, input %u x %u %s", E->n, E->dim, metric_label(E->metric),
          S->n, S->dim, metric_label(S->metric));
    CHECK(r, E->ops->bytes(E) > 0, "bytes() is 0");
    if (E->n != S->n || E->dim != S->dim || E->metric != S->metric) {
        cn_store_release(E);
        return;
    }
    const uint32_t n = E->n, d = E->dim;
    float *X = malloc((size_t)n * d * sizeof(float));
    double *xn2 = malloc(n * sizeof(double));
    const size_t cap = (n > d ? n : d) + 8; /* scratch holds n + 5 scores or one row */
    float *single = malloc(cap * sizeof(float));
    float *tmp = malloc(cap * sizeof(float));
    float *tmp2 = malloc(cap * sizeof(float));
    uint32_t *ids = malloc(cap * sizeof(uint32_t));
    query_t *qs = malloc(N_QUERIES * sizeof *qs);
    cn_evaluator_t *ev = NULL;
    lbstat_t lb = {0, 0};
    for (uint32_t i = 0; i < n; i++) {
        E->ops->decode(E, i, X + (size_t)i * d);
        xn2[i] = norm2_f(X + (size_t)i * d, d);
        CHECK(r, isfinite(xn2[i]), "decode(%u) is not finite", i);
    }
    st = cn_store_evaluator(E, &ev, e, sizeof e);
    CHECK(r, st == CN_OK, "evaluator_create: %s", e);
    if (st != CN_OK) goto done;
    CHECK(r, ev->store == E, "evaluator's store is not the store it was made from");
    for (int qi = 0; qi < N_QUERIES; qi++) {
        query_make(&qs[qi], D, E->metric, seed * 31 + (uint64_t)qi);
        st = ev->ops->set_query(ev, &qs[qi].v, e, sizeof e);
        CHECK(r, st == CN_OK, "set_query: %s", e);
        if (st != CN_OK) goto done;
        check_scores(r, ev, E, X, xn2, &qs[qi], t, single, tmp, ids);
        check_blocks(r, ev, E, single, ids, S, &qs[qi], &lb);
    }
    /* score_lb's bound holds with high probability: on the suite's data it
     * may fail for at most LB_MAX_ABOVE of the slots (checked on 100+). */
    if (lb.slots >= 100)
        CHECK(r, (double)lb.above <= LB_MAX_ABOVE * (double)lb.slots,
              "score_lb: %lu of %lu lower bounds are above the exact score of the original "
              "vector (more than %.0f%%)",
              lb.above, lb.slots, 100 * LB_MAX_ABOVE);
    check_pairs(r, ev, E, X, xn2, &qs[0], t, tmp2, tmp, ids);
    check_roundtrip(r, E, ev, X, &qs[0], tmp, tmp2, ids);
done:
    cn_evaluator_destroy(ev);
    cn_store_release(E);
    free(X);
    free(xn2);
    free(single);
    free(tmp);
    free(tmp2);
    free(ids);
    free(qs);
}

/* ---- parameter sets and combinations ------------------------------------------------------- */

static void set_label(pset_t *s, const char *kind) {
    cn_params_t p = {s->items, s->n};
    char buf[200];
    cn_params_format(&p, buf, sizeof buf);
    snprintf(s->label, sizeof s->label, "%s {%s}", kind, buf);
}

static void set_put(pset_t *s, const cn_param_t *it) {
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->items[i].key, it->key) == 0) {
            s->items[i] = *it;
            return;
        }
    }
    if (s->n < MAX_ITEMS) s->items[s->n++] = *it;
}

/* The sets described at the top of the file; returns how many. */
static size_t make_sets(const cn_component_t *c, const cn_params_t *small, pset_t *sets) {
    size_t ns = 0;
    pset_t *base = &sets[ns++];
    memset(base, 0, sizeof *base);
    for (size_t i = 0; small && i < small->n && i < MAX_ITEMS; i++) base->items[base->n++] = small->items[i];
    base->strict = 1;
    set_label(base, base->n ? "small_params" : "defaults");
    for (size_t j = 0; j < c->n_params; j++) {
        const cn_param_spec_t *sp = &c->params[j];
        if (sp->role != CN_ROLE_BUILD || sp->type != CN_PARAM_STRING || !sp->choices) continue;
        cn_params_t bp = {base->items, base->n};
        const char *cur = cn_params_str(&bp, sp->name, sp->def ? sp->def : "");
        const char *ch = sp->choices;
        while (*ch && ns < MAX_SETS - 1) {
            const char *bar = strchr(ch, '|');
            size_t len = bar ? (size_t)(bar - ch) : strlen(ch);
            static char store[MAX_SETS][64]; /* choice strings outlive the sets */
            if (len < sizeof store[0] && !(strlen(cur) == len && strncmp(cur, ch, len) == 0)) {
                memcpy(store[ns], ch, len);
                store[ns][len] = '\0';
                pset_t *s = &sets[ns];
                *s = *base;
                cn_param_t it = {.key = sp->name, .type = CN_PARAM_STRING, .s = store[ns]};
                set_put(s, &it);
                set_label(s, "choice");
                ns++;
            }
            if (!bar) break;
            ch = bar + 1;
        }
    }
    if (base->n && ns < MAX_SETS) {
        pset_t *s = &sets[ns++];
        memset(s, 0, sizeof *s);
        s->strict = 0;
        set_label(s, "defaults");
    }
    return ns;
}

static const cn_metric_t metrics[3] = {CN_METRIC_L2, CN_METRIC_IP, CN_METRIC_COSINE};

/* Creates and trains c with set s at (metric, input, dim) on the training rows. */
static cn_status_t make_trained(const cn_component_t *c, const pset_t *s, cn_metric_t m,
                                const data_t *D, cn_quantizer_t **out, int *at_create,
                                char *e) {
    cn_params_t p = {s->items, s->n};
    *out = NULL;
    *at_create = 1;
    cn_status_t st = cn_quantizer_create(out, c->name, m, D->dim, &p, e, ERRLEN);
    if (st != CN_OK) return st;
    *at_create = 0;
    char e2[ERRLEN] = "";
    cn_store_t *T = data_store(D, 0, N_TRAIN, m, e2);
    if (!T) {
        cn_quantizer_destroy(*out);
        *out = NULL;
        snprintf(e, ERRLEN, "cannot make the training store: %.400s", e2);
        return CN_EINVAL;
    }
    st = (*out)->ops->train(*out, T, e, ERRLEN);
    cn_store_release(T);
    if (st != CN_OK) {
        cn_quantizer_destroy(*out);
        *out = NULL;
    }
    return st;
}

unsigned long cn_conformance_quantizer(const cn_component_t *c, cn_conformance_report_t *rep) {
    memset(rep, 0, sizeof *rep);
    run_t R = {.rep = rep};
    run_t *r = &R;
    char e[ERRLEN] = "";
    snprintf(r->ctx, sizeof r->ctx, "quantizer '%s'", c ? c->name : "(null)");
    CHECK(r, c && c->kind == CN_COMPONENT_QUANTIZER && c->create_quantizer && c->store_name,
          "not a quantizer entry");
    if (r->fails_here) return rep->failures;
    CHECK(r, cn_registry_find(c->name, CN_COMPONENT_QUANTIZER) == c,
          "not registered (its stores could not reload)");
    if (r->fails_here) return rep->failures;

    /* Its ops (for small_params), from any dimension and metric the defaults fit. */
    const cn_quantizer_ops_t *ops = NULL;
    for (uint32_t d = 1; d <= MAX_DIM && !ops; d++) {
        for (int mi = 0; mi < 3 && !ops; mi++) {
            cn_quantizer_t *q = NULL;
            if (cn_quantizer_create(&q, c->name, metrics[mi], d, NULL, e, sizeof e) == CN_OK) {
                ops = q->ops;
                cn_quantizer_destroy(q);
            }
        }
    }
    CHECK(r, ops != NULL, "its defaults are accepted at no dimension 1..%d and no metric (%s)",
          MAX_DIM, e);
    if (!ops) return rep->failures;
    CHECK(r, ops->dist_rtol >= 0 && ops->dist_atol >= 0 && isfinite(ops->dist_rtol) &&
                 isfinite(ops->dist_atol),
          "declared tolerance (%g, %g) is not a finite non-negative pair", ops->dist_rtol,
          ops->dist_atol);

    pset_t *sets = calloc(MAX_SETS, sizeof *sets);
    size_t nsets = make_sets(c, &ops->small_params, sets);

    /* Which metrics and inputs it takes: probed with the first set. */
    int accept[3][2] = {{0}};
    int any = 0;
    for (int in = 0; in < 2; in++) {
        data_t D;
        data_make(&D, PROBE_DIM, (input_t)in, 7);
        for (int mi = 0; mi < 3; mi++) {
            if (in == IN_SPARSE && metrics[mi] != CN_METRIC_IP) continue;
            cn_quantizer_t *q = NULL;
            int at_create;
            if (make_trained(c, &sets[0], metrics[mi], &D, &q, &at_create, e) == CN_OK) {
                accept[mi][in] = 1;
                any = 1;
            }
            cn_quantizer_destroy(q);
        }
        data_free(&D);
    }
    CHECK(r, any, "%s accepts no metric and input at dimension %d (last error: %s)",
          sets[0].label, PROBE_DIM, e);

    for (size_t si = 0; si < nsets; si++) {
        const pset_t *s = &sets[si];
        for (int in = 0; in < 2; in++) {
            for (int mi = 0; mi < 3; mi++) {
                if (!accept[mi][in]) continue;
                const cn_metric_t m = metrics[mi];
                for (uint32_t d = 1; d <= MAX_DIM; d++) {
                    snprintf(r->ctx, sizeof r->ctx, "quantizer '%s' %s, %s, %s input, dim %u",
                             c->name, s->label, metric_label(m), in ? "sparse" : "dense", d);
                    data_t D;
                    uint64_t seed = 1000003ull * d + 101ull * (uint64_t)mi + 17ull * (uint64_t)in +
                                    7919ull * si;
                    data_make(&D, d, (input_t)in, seed);
                    cn_quantizer_t *q = NULL;
                    int at_create;
                    cn_status_t st = make_trained(c, s, m, &D, &q, &at_create, e);
                    if (st != CN_OK && !s->strict && at_create) { /* shape not accepted */
                        data_free(&D);
                        continue;
                    }
                    CHECK(r, st == CN_OK, "%s: %s", at_create ? "create" : "train", e);
                    if (st == CN_OK) {
                        rep->configs++;
                        const uint32_t sizes[2][2] = {{N_TRAIN, 1}, {0, N_MANY}};
                        for (int k = 0; k < 2; k++) {
                            uint32_t first = sizes[k][0], n = sizes[k][1];
                            snprintf(r->ctx, sizeof r->ctx,
                                     "quantizer '%s' %s, %s, %s input, dim %u, n %u", c->name,
                                     s->label, metric_label(m), in ? "sparse" : "dense", d, n);
                            char e2[ERRLEN] = "";
                            cn_store_t *S = data_store(&D, first, n, m, e2);
                            CHECK(r, S != NULL, "cannot make the input store: %s", e2);
                            if (S) check_store(r, q, S, &D, seed + (uint64_t)k);
                            cn_store_release(S);
                        }
                    }
                    cn_quantizer_destroy(q);
                    data_free(&D);
                }
            }
        }
    }
    free(sets);
    return rep->failures;
}

void cn_conformance_assert(const char *name) {
    const cn_component_t *c = cn_registry_find(name, CN_COMPONENT_QUANTIZER);
    if (!c) fail_msg("conformance: no quantizer named '%s' is registered", name);
    cn_conformance_report_t rep;
    unsigned long f = cn_conformance_quantizer(c, &rep);
    print_message("conformance: quantizer '%s': %u configurations, %lu checks, %lu failed, "
                  "worst deviation %.3g of the declared bound\n",
                  name, rep.configs, rep.checks, f, rep.worst);
    if (f) fail_msg("conformance: %lu of %lu checks failed; first: %s", f, rep.checks, rep.first);
    if (rep.configs == 0) fail_msg("conformance: quantizer '%s' ran no configuration", name);
}
