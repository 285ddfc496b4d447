/*
 * tests/unit/testutil.h — helpers shared by the cmocka tests.
 *
 * Include after <stdarg.h>, <stddef.h>, <setjmp.h>, <stdint.h>, <cmocka.h>.
 */
#ifndef CN_TESTUTIL_H
#define CN_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Installs a counting allocator as the library's hook (cn_set_allocator).
 * cn_test_alloc_live() is the number of blocks allocated and not yet freed;
 * cn_test_alloc_fail_after(n) makes the n-th following allocation fail
 * (n < 0: never), to test ENOMEM paths. Call cn_test_alloc_uninstall() at the
 * end of a test after destroying everything. */
void cn_test_alloc_install(void);
void cn_test_alloc_uninstall(void);
long cn_test_alloc_live(void);
void cn_test_alloc_fail_after(long n);

/* Deterministic PRNG (splitmix64). */
uint64_t cn_test_rand(uint64_t *state);
float cn_test_randf(uint64_t *state); /* uniform in [-1, 1) */
/* n x d uniform floats in [-1, 1), malloc'd (free with free()). */
float *cn_test_random_matrix(size_t n, size_t d, uint64_t seed);

/* Exact k nearest of q among base (n x d) by squared l2 (metric 0), negated
 * inner product (1) or negated cosine (2), computed in double; ids[k] best
 * first. */
void cn_test_brute_knn(const float *base, size_t n, size_t d, const float *q, int metric,
                       size_t k, uint32_t *ids);

/* Path of a file in ../shared/datasets/fixtures (or $CANNOLI_FIXTURES) if it
 * exists, else NULL; the returned string is static storage reused per call. */
const char *cn_test_fixture(const char *name);

/* A fresh empty temporary directory (static storage); removed at exit. */
const char *cn_test_tmpdir(void);

/* Writes text to cn_test_tmpdir()/name; returns the path (static storage,
 * reused per call), or NULL if the file cannot be written. */
const char *cn_test_write_file(const char *name, const char *text);

/* Up to max vectors of the fixture .bvecs file `name` (int32 dim, dim uint8
 * each) as floats, malloc'ed; NULL if absent or malformed. */
float *cn_test_load_bvecs(const char *name, size_t max, size_t *n, size_t *d);

/* cmocka fixtures: the counting allocator installed before a test; the
 * teardown fails the test if anything it allocated is still live. */
int cn_test_alloc_setup(void **state);
int cn_test_alloc_teardown(void **state);

/* run-tests.sh sets CN_TEST_UNDER_VALGRIND: data sets shrink to a fifth. */
size_t cn_test_sized(size_t n);

/* A k-NN test set: n x d base rows, nq queries (malloc'ed; the caller frees
 * x and qs). */
typedef struct cn_test_knn_set {
    float *x, *qs;
    size_t n, d, nq;
} cn_test_knn_set_t;
/* The sift-debian-10k fixture (base and queries, sized), or random data of
 * dimension dflt_d (n = 4000, 50 queries, sized) when it is absent. */
cn_test_knn_set_t cn_test_sift_or_random(size_t dflt_d);

struct cn_index;
/* recall@10 of ix at ef (and rerank) on s against brute force (metric: 0
 * l2, 1 ip, 2 cosine, as cn_test_brute_knn); each query's 10 ids / distances
 * into out_ids / out_d and the mean distances per query into *dist_per_q
 * when not NULL. cmocka failure on any error. */
struct cn_store;
/* HNSW M=16, ef_construction 100, `layout` (adjacency|colocated), built on
 * full with 2 threads, searched through `search`, re-ranking with `rerank`
 * (may be NULL). cmocka failure on any error. */
struct cn_index *cn_test_hnsw_built(const char *layout, struct cn_store *full,
                                    struct cn_store *search, struct cn_store *rerank);
double cn_test_recall(const struct cn_index *ix, const cn_test_knn_set_t *s, int metric, int ef,
                      int rerank, uint32_t *out_ids, float *out_d, double *dist_per_q);

#endif
