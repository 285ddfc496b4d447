/*
 * tests/unit/testutil.c — counting allocator, PRNG, brute force, fixtures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdatomic.h>

#include "cannoli/cannoli.h"
#include "cannoli/common.h"

/* Atomic: the library allocates from OpenMP threads (batch search, build). */
static atomic_long live_blocks;
static atomic_long fail_countdown = -1;

/* 1 if this allocation must fail (the countdown reached 0). */
static int should_fail(void) {
    long c = atomic_load(&fail_countdown);
    while (c > 0 && !atomic_compare_exchange_weak(&fail_countdown, &c, c - 1)) {
    }
    return c == 0;
}

static void *t_malloc(size_t size, void *ctx) {
    (void)ctx;
    if (should_fail()) return NULL;
    void *p = malloc(size ? size : 1);
    if (p) atomic_fetch_add(&live_blocks, 1);
    return p;
}

static void *t_realloc(void *ptr, size_t size, void *ctx) {
    (void)ctx;
    if (should_fail()) return NULL;
    void *p = realloc(ptr, size ? size : 1);
    if (p && !ptr) atomic_fetch_add(&live_blocks, 1);
    return p;
}

static void t_free(void *ptr, void *ctx) {
    (void)ctx;
    if (ptr) atomic_fetch_sub(&live_blocks, 1);
    free(ptr);
}

void cn_test_alloc_install(void) {
    static const cn_allocator_t a = {t_malloc, t_realloc, t_free, NULL};
    live_blocks = 0;
    fail_countdown = -1;
    cn_set_allocator(&a);
}

void cn_test_alloc_uninstall(void) {
    fail_countdown = -1;
    cn_set_allocator(NULL);
}

long cn_test_alloc_live(void) { return live_blocks; }
void cn_test_alloc_fail_after(long n) { fail_countdown = n; }

uint64_t cn_test_rand(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

float cn_test_randf(uint64_t *state) {
    return (float)((double)(cn_test_rand(state) >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

float *cn_test_random_matrix(size_t n, size_t d, uint64_t seed) {
    float *m = malloc((n * d != 0 ? n * d : 1) * sizeof(float));
    uint64_t st = seed;
    for (size_t i = 0; i < n * d; i++) m[i] = cn_test_randf(&st);
    return m;
}

void cn_test_brute_knn(const float *base, size_t n, size_t d, const float *q, int metric,
                       size_t k, uint32_t *ids) {
    double *best = malloc(k * sizeof(double));
    size_t have = 0;
    double qn = 0;
    for (size_t j = 0; j < d; j++) qn += (double)q[j] * q[j];
    for (size_t i = 0; i < n; i++) {
        const float *x = base + i * d;
        double s = 0, xn = 0;
        for (size_t j = 0; j < d; j++) {
            if (metric == 0) {
                double t = (double)x[j] - q[j];
                s += t * t;
            } else {
                s += (double)x[j] * q[j];
                xn += (double)x[j] * x[j];
            }
        }
        if (metric == 1) s = -s;
        if (metric == 2) s = (xn > 0 && qn > 0) ? -s / sqrt(xn * qn) : 0;
        /* insertion into the sorted top-k */
        size_t pos = have < k ? have : k;
        while (pos > 0 && best[pos - 1] > s) pos--;
        if (pos >= k) continue;
        size_t last = have < k ? have : k - 1;
        for (size_t t = last; t > pos; t--) {
            best[t] = best[t - 1];
            ids[t] = ids[t - 1];
        }
        best[pos] = s;
        ids[pos] = (uint32_t)i;
        if (have < k) have++;
    }
    free(best);
}

const char *cn_test_fixture(const char *name) {
    static char path[4096];
    const char *env = getenv("CANNOLI_FIXTURES");
    const char *dirs[3] = {env, CN_SOURCE_DIR "/../shared/datasets/fixtures",
                           "../shared/datasets/fixtures"};
    for (int i = 0; i < 3; i++) {
        if (!dirs[i]) continue;
        snprintf(path, sizeof path, "%s/%s", dirs[i], name);
        if (access(path, R_OK) == 0) return path;
    }
    return NULL;
}

static char tmpdir_path[4096];

static void remove_tmpdir(void) {
    if (!tmpdir_path[0]) return;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir_path);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmpdir_path);
}

const char *cn_test_tmpdir(void) {
    if (!tmpdir_path[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir_path, sizeof tmpdir_path, "%s/cannoli-test-XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(tmpdir_path)) {
            tmpdir_path[0] = 0;
            return NULL;
        }
        atexit(remove_tmpdir);
    }
    return tmpdir_path;
}

const char *cn_test_write_file(const char *name, const char *text) {
    static char path[4200];
    snprintf(path, sizeof path, "%s/%s", cn_test_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    int ok = fputs(text, f) >= 0;
    ok = (fclose(f) == 0) && ok;
    return ok ? path : NULL;
}

/* Up to max vectors of a .bvecs file (int32 dim, dim uint8) as floats; NULL
 * if absent or malformed. */
float *cn_test_load_bvecs(const char *name, size_t max, size_t *n, size_t *d) {
    const char *path = cn_test_fixture(name);
    if (!path) return NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    int32_t dim;
    if (fread(&dim, 4, 1, f) != 1 || dim <= 0 || dim > 100000) {
        fclose(f);
        return NULL;
    }
    float *x = malloc(max * (size_t)dim * sizeof *x);
    unsigned char *buf = malloc((size_t)dim);
    size_t cnt = 0;
    rewind(f);
    while (cnt < max) {
        int32_t dd;
        if (fread(&dd, 4, 1, f) != 1) break;
        if (dd != dim || fread(buf, 1, (size_t)dim, f) != (size_t)dim) break;
        for (int32_t j = 0; j < dim; j++) x[cnt * (size_t)dim + (size_t)j] = (float)buf[j];
        cnt++;
    }
    fclose(f);
    free(buf);
    *n = cnt;
    *d = (size_t)dim;
    return x;
}

int cn_test_alloc_setup(void **state) {
    (void)state;
    cn_test_alloc_install();
    return 0;
}

int cn_test_alloc_teardown(void **state) {
    (void)state;
    long live = cn_test_alloc_live();
    cn_test_alloc_uninstall();
    assert_int_equal(live, 0);
    return 0;
}

size_t cn_test_sized(size_t n) {
    const char *v = getenv("CN_TEST_UNDER_VALGRIND");
    return v && *v && strcmp(v, "0") != 0 ? n / 5 : n;
}

cn_test_knn_set_t cn_test_sift_or_random(size_t dflt_d) {
    cn_test_knn_set_t s = {0};
    size_t dq = 0;
    s.x = cn_test_load_bvecs("sift-debian-10k_base.bvecs", cn_test_sized(10000), &s.n, &s.d);
    s.qs = s.x ? cn_test_load_bvecs("sift-debian-10k_query.bvecs", cn_test_sized(100), &s.nq,
                                    &dq)
               : NULL;
    if (!s.x || !s.qs || dq != s.d) {
        free(s.x);
        free(s.qs);
        s.d = dflt_d;
        s.n = cn_test_sized(4000);
        s.x = cn_test_random_matrix(s.n, s.d, 15);
        s.nq = 50;
        s.qs = cn_test_random_matrix(s.nq, s.d, 16);
        print_message("SIFT fixture absent: random data n=%zu d=%zu\n", s.n, s.d);
    }
    return s;
}

double cn_test_recall(const cn_index_t *ix, const cn_test_knn_set_t *s, int metric, int ef,
                      int rerank, uint32_t *out_ids, float *out_d, double *dist_per_q) {
    char err[512] = "";
    cn_search_ctx_t *ctx = NULL;
    if (cn_search_ctx_create(ix, &ctx, err, sizeof err) != CN_OK) fail_msg("ctx: %s", err);
    cn_param_t sp[2] = {{.key = "ef", .type = CN_PARAM_INT, .i = ef, .f = ef},
                        {.key = "rerank", .type = CN_PARAM_INT, .i = rerank, .f = rerank}};
    cn_params_t sps = {sp, 2};
    if (cn_search_ctx_set_params(ctx, &sps, err, sizeof err) != CN_OK) fail_msg("%s", err);
    size_t hits = 0;
    uint64_t work = 0;
    for (size_t i = 0; i < s->nq; i++) {
        uint32_t ids[10], gt[10];
        float dd[10];
        cn_vec_t v = {.dense = s->qs + i * s->d};
        if (cn_index_search(ctx, &v, 10, ids, dd, NULL, err, sizeof err) != CN_OK)
            fail_msg("search: %s", err);
        work += ctx->stats.ndist;
        cn_test_brute_knn(s->x, s->n, s->d, s->qs + i * s->d, metric, 10, gt);
        for (int a = 0; a < 10; a++)
            for (int b = 0; b < 10; b++) hits += ids[a] == gt[b];
        if (out_ids) memcpy(out_ids + i * 10, ids, sizeof ids);
        if (out_d) memcpy(out_d + i * 10, dd, sizeof dd);
    }
    if (dist_per_q) *dist_per_q = (double)work / (double)s->nq;
    cn_search_ctx_destroy(ctx);
    return (double)hits / (double)(s->nq * 10);
}

cn_index_t *cn_test_hnsw_built(const char *layout, cn_store_t *full, cn_store_t *search,
                               cn_store_t *rerank) {
    char err[512] = "";
    cn_param_t bp[3] = {{.key = "M", .type = CN_PARAM_INT, .i = 16, .f = 16},
                        {.key = "ef_construction", .type = CN_PARAM_INT, .i = 100, .f = 100},
                        {.key = "layout", .type = CN_PARAM_STRING, .s = layout}};
    cn_params_t bps = {bp, 3};
    cn_index_t *ix = NULL;
    if (cn_index_create(&ix, "hnsw", full->metric, full->dim, &bps, err, sizeof err) != CN_OK)
        fail_msg("create: %s", err);
    if (cn_index_build(ix, full, search, rerank, 2, err, sizeof err) != CN_OK)
        fail_msg("build: %s", err);
    return ix;
}
