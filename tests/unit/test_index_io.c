/*
 * test_index_io.c — saving and loading whole indexes (core/index.c over
 * core/io.c): the file layout promised by io.h, round trips of hnsw and flat
 * that give bit-identical answers, reproducible files, and a loader that
 * refuses every damaged file cleanly — missing, truncated, flipped bytes,
 * valid checksums over garbage payloads, huge claimed lengths, and every
 * single-field corruption of small real files — without crashing or leaking
 * (everything runs under the counting allocator, and under valgrind in CI).
 * Saves are atomic: a failed save leaves an earlier file untouched.
 *
 * Only the public API is used; the payload layout is not assumed anywhere
 * (the corruption sweep overwrites every offset instead).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cannoli/cannoli.h"

#define ERRLEN 1024

static int setup(void **state) {
    (void)state;
    cn_test_alloc_install();
    return 0;
}

static int teardown(void **state) {
    (void)state;
    long live = cn_test_alloc_live();
    cn_test_alloc_uninstall();
    assert_int_equal(live, 0);
    return 0;
}

static int under_valgrind(void) {
    const char *v = getenv("CN_TEST_UNDER_VALGRIND");
    return v && v[0] == '1';
}

/* ---- helpers ------------------------------------------------------------------ */

static void tmp_path(char *buf, size_t len, const char *name) {
    const char *dir = cn_test_tmpdir();
    assert_non_null(dir);
    snprintf(buf, len, "%s/%s", dir, name);
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(sz > 0 ? (size_t)sz : 1);
    assert_int_equal(fread(b, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *len = (size_t)sz;
    return b;
}

static void spit(const char *path, const unsigned char *b, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (len) assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
}

static int file_exists(const char *path) { return access(path, F_OK) == 0; }

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Rewrites the trailing checksum so that only the parsers can object. */
static void fix_checksum(unsigned char *b, size_t len) {
    uint64_t h = cn_checksum(CN_CHECKSUM_INIT, b, len - 8);
    for (int i = 0; i < 8; i++) b[len - 8 + i] = (unsigned char)(h >> (8 * i));
}

static cn_param_t pint(const char *k, long long v) {
    cn_param_t p = {.key = k, .type = CN_PARAM_INT, .i = v, .f = (double)v};
    return p;
}

static cn_index_t *build_index(const char *name, const float *data, uint32_t n, uint32_t d,
                               cn_metric_t m, const cn_params_t *bp, int with_rerank,
                               int threads) {
    char err[ERRLEN] = "";
    cn_store_t *s = NULL;
    cn_index_t *ix = NULL;
    if (cn_store_dense_create(&s, data, n, d, m, err, sizeof err) != CN_OK)
        fail_msg("store: %s", err);
    if (cn_index_create(&ix, name, m, d, bp, err, sizeof err) != CN_OK)
        fail_msg("create %s: %s", name, err);
    if (cn_index_build(ix, s, s, with_rerank ? s : NULL, threads, err, sizeof err) != CN_OK)
        fail_msg("build %s: %s", name, err);
    cn_store_release(s);
    return ix;
}

static cn_index_t *build_hnsw(const float *data, uint32_t n, uint32_t d, cn_metric_t m, int M,
                              int efc, int seed, int threads) {
    cn_param_t items[3] = {pint("M", M), pint("ef_construction", efc), pint("seed", seed)};
    cn_params_t bp = {items, 3};
    return build_index("hnsw", data, n, d, m, &bp, 0, threads);
}

static cn_search_ctx_t *make_ctx(const cn_index_t *ix, int ef) {
    char err[ERRLEN] = "";
    cn_search_ctx_t *ctx = NULL;
    if (cn_search_ctx_create(ix, &ctx, err, sizeof err) != CN_OK) fail_msg("ctx: %s", err);
    if (ef > 0) {
        cn_param_t it = pint("ef", ef);
        cn_params_t sp = {&it, 1};
        if (cn_search_ctx_set_params(ctx, &sp, err, sizeof err) != CN_OK)
            fail_msg("ef: %s", err);
    }
    return ctx;
}

static cn_index_t *load_ok(const char *path) {
    char err[ERRLEN] = "";
    cn_index_t *ix = NULL;
    cn_status_t st = cn_index_load(&ix, path, err, sizeof err);
    if (st != CN_OK) fail_msg("load %s: %d %s", path, (int)st, err);
    assert_non_null(ix);
    return ix;
}

static void save_ok(const cn_index_t *ix, const char *path) {
    char err[ERRLEN] = "";
    cn_status_t st = cn_index_save(ix, path, err, sizeof err);
    if (st != CN_OK) fail_msg("save %s: %d %s", path, (int)st, err);
}

static const char *bp_or_empty(const cn_index_t *ix) {
    return ix->build_params ? ix->build_params : "";
}

/* Same answers, bit for bit, and the same work. */
static void assert_same_results(const cn_index_t *a, const cn_index_t *b, const float *queries,
                                uint32_t nq, uint32_t d, size_t k, int ef) {
    char err[ERRLEN] = "";
    cn_search_ctx_t *ca = make_ctx(a, ef), *cb = make_ctx(b, ef);
    uint32_t *ia = malloc(k * sizeof *ia), *ib = malloc(k * sizeof *ib);
    float *da = malloc(k * sizeof *da), *db = malloc(k * sizeof *db);
    for (uint32_t q = 0; q < nq; q++) {
        cn_vec_t v = {.dense = queries + (size_t)q * d};
        size_t fa = 0, fb = 0;
        assert_int_equal(cn_index_search(ca, &v, k, ia, da, &fa, err, sizeof err), CN_OK);
        assert_int_equal(cn_index_search(cb, &v, k, ib, db, &fb, err, sizeof err), CN_OK);
        assert_int_equal(fa, fb);
        if (memcmp(ia, ib, k * sizeof *ia) != 0) fail_msg("query %u: ids differ after load", q);
        if (memcmp(da, db, k * sizeof *da) != 0) fail_msg("query %u: dists differ after load", q);
        assert_int_equal(ca->stats.ndist, cb->stats.ndist);
        assert_int_equal(ca->stats.nhops, cb->stats.nhops);
    }
    free(ia);
    free(ib);
    free(da);
    free(db);
    cn_search_ctx_destroy(ca);
    cn_search_ctx_destroy(cb);
}

static void assert_same_header(const cn_index_t *a, const cn_index_t *b) {
    assert_string_equal(b->ops->name, a->ops->name);
    assert_int_equal(b->metric, a->metric);
    assert_int_equal(b->dim, a->dim);
    assert_int_equal(b->n, a->n);
    assert_string_equal(bp_or_empty(b), bp_or_empty(a));
    assert_int_equal(cn_index_bytes(b), cn_index_bytes(a));
    assert_int_equal(b->ops->bytes(b), a->ops->bytes(a));
    assert_non_null(b->store);
    assert_int_equal(b->store->n, a->store->n);
    assert_string_equal(b->store->ops->name, a->store->ops->name);
    assert_true((a->rerank_store == NULL) == (b->rerank_store == NULL));
    if (a->component) {
        assert_non_null(b->component);
        assert_string_equal(b->component->name, a->component->name);
    }
}

/* ---- the file format ------------------------------------------------------------- */

static void test_file_layout(void **state) {
    (void)state;
    char path[1024], tmp[1100];
    float *data = cn_test_random_matrix(30, 4, 1);
    cn_index_t *ix = build_index("flat", data, 30, 4, CN_METRIC_L2, NULL, 0, 1);
    tmp_path(path, sizeof path, "layout.cnidx");
    save_ok(ix, path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_false(file_exists(tmp)); /* renamed into place */
    size_t len;
    unsigned char *b = slurp(path, &len);
    assert_true(len >= 12 + 8 + 30 * 4 * 4); /* header, trailer, the vectors */
    assert_memory_equal(b, "CNNOLI\x01\x00", 8);
    uint32_t version = (uint32_t)b[8] | (uint32_t)b[9] << 8 | (uint32_t)b[10] << 16 |
                       (uint32_t)b[11] << 24;
    assert_int_equal(version, CN_IO_VERSION);
    assert_true(get_u64(b + len - 8) == cn_checksum(CN_CHECKSUM_INIT, b, len - 8));
    /* the checksum continues: hashing in two pieces is hashing once */
    uint64_t h = cn_checksum(CN_CHECKSUM_INIT, b, 5);
    h = cn_checksum(h, b + 5, len - 8 - 5);
    assert_true(h == get_u64(b + len - 8));
    assert_true(cn_checksum(CN_CHECKSUM_INIT, b, 0) == CN_CHECKSUM_INIT);
    free(b);
    cn_index_destroy(ix);
    free(data);
}

static void test_writer_reader(void **state) {
    (void)state;
    char err[ERRLEN] = "", path[1024];
    tmp_path(path, sizeof path, "rw.bin");
    cn_writer_t w;
    assert_int_equal(cn_writer_open(&w, path, err, sizeof err), CN_OK);
    cn_write_u32(&w, 0xDEADBEEFu);
    cn_write_u64(&w, 0x0123456789ABCDEFull);
    cn_write_f64(&w, -2.5e-300);
    cn_write_str(&w, "hello");
    cn_write_str(&w, "");
    const unsigned char raw[3] = {1, 2, 3};
    cn_write(&w, raw, 3);
    assert_int_equal(cn_writer_close(&w, err, sizeof err), CN_OK);

    size_t len;
    unsigned char *b = slurp(path, &len);
    assert_int_equal(len, 12 + 4 + 8 + 8 + (4 + 5) + 4 + 3 + 8);
    assert_int_equal(b[12], 0xEF); /* little-endian */
    assert_int_equal(b[15], 0xDE);
    free(b);

    cn_reader_t r;
    assert_int_equal(cn_reader_open(&r, path, err, sizeof err), CN_OK);
    assert_int_equal(cn_reader_remaining(&r), 4 + 8 + 8 + 9 + 4 + 3);
    assert_int_equal(cn_read_u32(&r), 0xDEADBEEFu);
    assert_true(cn_read_u64(&r) == 0x0123456789ABCDEFull);
    assert_true(cn_read_f64(&r) == -2.5e-300);
    char *s = cn_read_str(&r, 100);
    assert_non_null(s);
    assert_string_equal(s, "hello");
    cn_free(s);
    s = cn_read_str(&r, 100);
    assert_non_null(s);
    assert_string_equal(s, "");
    cn_free(s);
    unsigned char got[8];
    memset(got, 0x55, sizeof got);
    assert_int_equal(cn_read(&r, got, 3), CN_OK);
    assert_memory_equal(got, raw, 3);
    assert_int_equal(cn_reader_remaining(&r), 0);
    /* reading past the end: CN_EFORMAT, zero-filled, sticky */
    memset(got, 0x55, sizeof got);
    assert_int_equal(cn_read(&r, got, 8), CN_EFORMAT);
    for (int i = 0; i < 8; i++) assert_int_equal(got[i], 0);
    assert_int_equal(r.st, CN_EFORMAT);
    assert_int_equal(cn_read_u32(&r), 0);
    cn_reader_close(&r);

    /* a string longer than maxlen is refused */
    assert_int_equal(cn_reader_open(&r, path, err, sizeof err), CN_OK);
    cn_read_u32(&r);
    cn_read_u64(&r);
    cn_read_f64(&r);
    assert_null(cn_read_str(&r, 4));
    cn_reader_close(&r);

    /* a writer that is abandoned leaves nothing behind */
    char ab[1024], abtmp[1100];
    tmp_path(ab, sizeof ab, "abandoned.bin");
    snprintf(abtmp, sizeof abtmp, "%s.tmp", ab);
    assert_int_equal(cn_writer_open(&w, ab, err, sizeof err), CN_OK);
    cn_write_u32(&w, 1);
    cn_writer_abort(&w);
    assert_false(file_exists(ab));
    assert_false(file_exists(abtmp));
}

/* ---- round trips ------------------------------------------------------------------- */

static void test_roundtrip_hnsw(void **state) {
    (void)state;
    const uint32_t n = under_valgrind() ? 600 : 3000, d = 16, nq = 50;
    char path[1024], path2[1024];
    float *base = cn_test_random_matrix(n, d, 11);
    float *queries = cn_test_random_matrix(nq, d, 12);
    cn_index_t *a = build_hnsw(base, n, d, CN_METRIC_L2, 8, 64, 7, 1);
    assert_non_null(a->build_params);
    assert_non_null(strstr(a->build_params, "M=8"));
    assert_non_null(strstr(a->build_params, "ef_construction=64"));
    tmp_path(path, sizeof path, "hnsw.cnidx");
    save_ok(a, path);
    cn_index_t *b = load_ok(path);
    assert_same_header(a, b);
    assert_string_equal(b->ops->name, "hnsw");
    assert_ptr_equal(b->component, cn_registry_find("hnsw", CN_COMPONENT_INDEX));
    assert_same_results(a, b, queries, nq, d, 10, 40);
    assert_same_results(a, b, queries, nq, d, 1, 10);
    /* saving the loaded index reproduces the file */
    tmp_path(path2, sizeof path2, "hnsw2.cnidx");
    save_ok(b, path2);
    size_t l1, l2;
    unsigned char *f1 = slurp(path, &l1), *f2 = slurp(path2, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(f1, f2, l1);
    free(f1);
    free(f2);
    cn_index_destroy(a);
    cn_index_destroy(b);
    free(base);
    free(queries);
}

static void test_roundtrip_flat(void **state) {
    (void)state;
    const uint32_t n = under_valgrind() ? 300 : 1500, d = 12, nq = 20;
    char path[1024], name[64];
    float *base = cn_test_random_matrix(n, d, 21);
    float *queries = cn_test_random_matrix(nq, d, 22);
    for (int mi = 0; mi < 3; mi++) {
        for (int rerank = 0; rerank <= 1; rerank++) {
            cn_metric_t m = (cn_metric_t)mi;
            cn_index_t *a = build_index("flat", base, n, d, m, NULL, rerank, 1);
            snprintf(name, sizeof name, "flat_%s_%d.cnidx", cn_metric_name(m), rerank);
            tmp_path(path, sizeof path, name);
            save_ok(a, path);
            cn_index_t *b = load_ok(path);
            assert_same_header(a, b);
            assert_string_equal(b->ops->name, "flat");
            assert_same_results(a, b, queries, nq, d, 7, 0);
            /* the stored vectors themselves came back */
            for (uint32_t i = 0; i < n; i += 97)
                assert_memory_equal(cn_store_dense_row(b->store, i),
                                    cn_store_dense_row(a->store, i), d * sizeof(float));
            cn_index_destroy(a);
            cn_index_destroy(b);
        }
    }
    free(base);
    free(queries);
}

/* Build parameters are kept verbatim, including defaults left out. */
static void test_build_params_preserved(void **state) {
    (void)state;
    char path[1024];
    float *base = cn_test_random_matrix(100, 4, 31);
    cn_param_t items[1] = {pint("M", 5)};
    cn_params_t bp = {items, 1};
    cn_index_t *a = build_index("hnsw", base, 100, 4, CN_METRIC_IP, &bp, 0, 1);
    assert_non_null(strstr(bp_or_empty(a), "M=5"));
    tmp_path(path, sizeof path, "bp.cnidx");
    save_ok(a, path);
    cn_index_t *b = load_ok(path);
    assert_string_equal(bp_or_empty(b), bp_or_empty(a));
    assert_int_equal(b->metric, CN_METRIC_IP);
    cn_index_destroy(a);
    cn_index_destroy(b);
    free(base);
}

/* Derived build parameters (CN_PARAM_F_DERIVED: HNSW layout, order) shape
 * only what bind derives, so one saved graph loads as any of them
 * (cn_index_load_as) -- what lets the harness's cache share one build --
 * and nothing else may differ. */
static void test_load_as_derived(void **state) {
    (void)state;
    char err[ERRLEN] = "", buf[256], path[1024];
    assert_int_equal(cn_index_structure_params(
                         "hnsw", "M=8;layout=colocated;ef_construction=64;order=bfs", buf,
                         sizeof buf),
                     CN_OK);
    assert_string_equal(buf, "M=8;ef_construction=64");
    assert_int_equal(cn_index_structure_params("hnsw", "layout=colocated", buf, sizeof buf),
                     CN_OK);
    assert_string_equal(buf, "");
    assert_int_equal(cn_index_structure_params("flat", "", buf, sizeof buf), CN_OK);
    assert_string_equal(buf, "");
    assert_int_equal(cn_index_structure_params("no-such-index", "M=8", buf, sizeof buf),
                     CN_EINVAL);
    assert_int_equal(cn_index_structure_params("hnsw", "M=8;ef_construction=64", buf, 5),
                     CN_EINVAL);

    const uint32_t n = under_valgrind() ? 400 : 2000, d = 16, nq = 30;
    float *base = cn_test_random_matrix(n, d, 41);
    float *queries = cn_test_random_matrix(nq, d, 42);
    cn_store_t *full = NULL, *codes = NULL;
    assert_int_equal(cn_store_dense_create(&full, base, n, d, CN_METRIC_L2, err, sizeof err),
                     CN_OK);
    cn_quantizer_t *q = NULL;
    cn_param_t qi[1] = {pint("subspaces", 8)};
    cn_params_t qp = {qi, 1};
    if (cn_quantizer_create(&q, "pq4fs", CN_METRIC_L2, d, &qp, err, sizeof err) != CN_OK ||
        q->ops->train(q, full, err, sizeof err) != CN_OK ||
        q->ops->encode(q, full, &codes, err, sizeof err) != CN_OK)
        fail_msg("pq4fs: %s", err);
    cn_quantizer_destroy(q);

    /* the graph saved as built: adjacency layout over the full vectors */
    cn_param_t it[3] = {pint("M", 8), pint("ef_construction", 64), pint("seed", 5)};
    cn_params_t bp = {it, 3};
    cn_index_t *adj = NULL, *direct = NULL, *as = NULL;
    assert_int_equal(cn_index_create(&adj, "hnsw", CN_METRIC_L2, d, &bp, err, sizeof err),
                     CN_OK);
    assert_int_equal(cn_index_build(adj, full, full, NULL, 1, err, sizeof err), CN_OK);
    tmp_path(path, sizeof path, "derived.cnidx");
    save_ok(adj, path);
    /* the same graph built co-located from the start (one thread: same graph) */
    cn_param_t it2[5] = {pint("M", 8), pint("ef_construction", 64), pint("seed", 5),
                         {.key = "layout", .type = CN_PARAM_STRING, .s = "colocated"},
                         {.key = "order", .type = CN_PARAM_STRING, .s = "bfs"}};
    cn_params_t bp2 = {it2, 5};
    assert_int_equal(cn_index_create(&direct, "hnsw", CN_METRIC_L2, d, &bp2, err, sizeof err),
                     CN_OK);
    assert_int_equal(cn_index_build(direct, full, codes, full, 1, err, sizeof err), CN_OK);

    if (cn_index_load_as(&as, path, direct->build_params, err, sizeof err) != CN_OK)
        fail_msg("load_as: %s", err);
    assert_string_equal(as->build_params, direct->build_params);
    /* loaded over the full vectors: co-located needs packed blocks */
    cn_search_ctx_t *ctx = NULL;
    assert_int_equal(cn_search_ctx_create(as, &ctx, err, sizeof err), CN_EINVAL);
    assert_non_null(strstr(err, "has none"));
    assert_int_equal(cn_index_rebind(as, codes, full, err, sizeof err), CN_OK);
    assert_same_results(direct, as, queries, nq, d, 10, 40);
    assert_int_equal(as->ops->bytes(as), direct->ops->bytes(direct));

    /* NULL = as saved; anything but derived parameters must match */
    cn_index_t *same = NULL;
    assert_int_equal(cn_index_load_as(&same, path, NULL, err, sizeof err), CN_OK);
    assert_string_equal(same->build_params, adj->build_params);
    cn_index_destroy(same);
    same = NULL;
    err[0] = 0;
    assert_int_equal(cn_index_load_as(&same, path, "M=9;ef_construction=64;seed=5", err,
                                      sizeof err),
                     CN_EINVAL);
    assert_null(same);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "more than derived parameters"));

    cn_index_destroy(adj);
    cn_index_destroy(direct);
    cn_index_destroy(as);
    cn_store_release(codes);
    cn_store_release(full);
    free(base);
    free(queries);
}

static void test_reproducible_files(void **state) {
    (void)state;
    const uint32_t n = under_valgrind() ? 500 : 3000, d = 16;
    char p1[1024], p2[1024], p3[1024], p4[1024];
    float *base = cn_test_random_matrix(n, d, 41);
    cn_index_t *a = build_hnsw(base, n, d, CN_METRIC_COSINE, 8, 64, 7, 1);
    cn_index_t *b = build_hnsw(base, n, d, CN_METRIC_COSINE, 8, 64, 7, 1);
    tmp_path(p1, sizeof p1, "rep1.cnidx");
    tmp_path(p2, sizeof p2, "rep2.cnidx");
    save_ok(a, p1);
    save_ok(b, p2);
    size_t l1, l2;
    unsigned char *f1 = slurp(p1, &l1), *f2 = slurp(p2, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(f1, f2, l1);
    free(f1);
    free(f2);
    cn_index_destroy(a);
    cn_index_destroy(b);

    a = build_index("flat", base, n, d, CN_METRIC_L2, NULL, 1, 1);
    b = build_index("flat", base, n, d, CN_METRIC_L2, NULL, 1, 2);
    tmp_path(p3, sizeof p3, "rep3.cnidx");
    tmp_path(p4, sizeof p4, "rep4.cnidx");
    save_ok(a, p3);
    save_ok(b, p4);
    f1 = slurp(p3, &l1);
    f2 = slurp(p4, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(f1, f2, l1);
    free(f1);
    free(f2);
    cn_index_destroy(a);
    cn_index_destroy(b);
    free(base);
}

/* ---- damaged files -------------------------------------------------------------------- */

static void expect_load_fails(const char *path, cn_status_t want, const char *what) {
    char err[ERRLEN] = "";
    cn_index_t *ix = NULL;
    cn_status_t st = cn_index_load(&ix, path, err, sizeof err);
    if (st == CN_OK) {
        cn_index_destroy(ix);
        fail_msg("%s: loaded", what);
    }
    if (want != CN_OK && st != want)
        fail_msg("%s: got %d (%s), want %d", what, (int)st, err, (int)want);
    if (!strstr(err, path)) fail_msg("%s: message does not name the file: '%s'", what, err);
    assert_null(ix);
}

static void test_missing_and_odd_paths(void **state) {
    (void)state;
    char err[ERRLEN] = "", path[1024];
    tmp_path(path, sizeof path, "does_not_exist.cnidx");
    cn_index_t *ix = NULL;
    cn_status_t st = cn_index_load(&ix, path, err, sizeof err);
    if (st != CN_EIO && st != CN_ENOTFOUND)
        fail_msg("missing file: got %d '%s', want CN_EIO or CN_ENOTFOUND", (int)st, err);
    assert_null(ix);
    if (!strstr(err, path)) fail_msg("missing file: message does not name it: '%s'", err);
    /* a directory is not an index file */
    expect_load_fails(cn_test_tmpdir(), CN_OK, "a directory");
    /* an empty file and a file of zeros */
    tmp_path(path, sizeof path, "empty.cnidx");
    spit(path, NULL, 0);
    expect_load_fails(path, CN_EFORMAT, "an empty file");
    unsigned char zeros[64] = {0};
    tmp_path(path, sizeof path, "zeros.cnidx");
    spit(path, zeros, sizeof zeros);
    expect_load_fails(path, CN_EFORMAT, "a file of zeros");
}

/* A small real file of each index type, for the damage tests. */
static unsigned char *small_file(const char *index, char *path, size_t pathlen, size_t *len) {
    const uint32_t n = index[0] == 'h' ? 24 : 12, d = 5;
    float *base = cn_test_random_matrix(n, d, 51);
    cn_index_t *ix;
    if (index[0] == 'h') {
        ix = build_hnsw(base, n, d, CN_METRIC_L2, 3, 10, 1, 1);
    } else {
        ix = build_index("flat", base, n, d, CN_METRIC_IP, NULL, 1, 1);
    }
    char name[64];
    snprintf(name, sizeof name, "small_%s.cnidx", index);
    snprintf(path, pathlen, "%s/%s", cn_test_tmpdir(), name);
    save_ok(ix, path);
    cn_index_destroy(ix);
    free(base);
    return slurp(path, len);
}

static void test_truncated(void **state) {
    (void)state;
    const char *kinds[2] = {"hnsw", "flat"};
    for (int kind = 0; kind < 2; kind++) {
        char orig_path[1024], bad[1024];
        size_t len;
        unsigned char *b = small_file(kinds[kind], orig_path, sizeof orig_path, &len);
        tmp_path(bad, sizeof bad, "truncated.cnidx");
        const size_t cuts[] = {0, 4, 8, 11, 12, 13, 20, len / 3, len / 2, len - 9, len - 8,
                               len - 7, len - 1};
        for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
            char what[128];
            spit(bad, b, cuts[c]);
            snprintf(what, sizeof what, "%s cut to %zu of %zu bytes", kinds[kind], cuts[c], len);
            expect_load_fails(bad, CN_EFORMAT, what);
        }
        /* and one byte too many */
        unsigned char *longer = malloc(len + 1);
        memcpy(longer, b, len);
        longer[len] = 0;
        spit(bad, longer, len + 1);
        expect_load_fails(bad, CN_EFORMAT, "one byte appended");
        free(longer);
        free(b);
        /* the original still loads */
        cn_index_t *ok = load_ok(orig_path);
        cn_index_destroy(ok);
    }
}

static void test_flipped_bytes(void **state) {
    (void)state;
    const char *kinds[2] = {"hnsw", "flat"};
    for (int kind = 0; kind < 2; kind++) {
        char orig_path[1024], bad[1024];
        size_t len;
        unsigned char *b = small_file(kinds[kind], orig_path, sizeof orig_path, &len);
        unsigned char *c = malloc(len);
        tmp_path(bad, sizeof bad, "flipped.cnidx");
        /* header, first payload byte, 24 spots through the payload, checksum */
        size_t spots[32];
        size_t ns = 0;
        spots[ns++] = 0;
        spots[ns++] = 7;
        spots[ns++] = 8;
        spots[ns++] = 11;
        spots[ns++] = 12;
        for (int i = 1; i <= 24; i++) spots[ns++] = 12 + (len - 20) * (size_t)i / 25;
        spots[ns++] = len - 9;
        spots[ns++] = len - 8;
        spots[ns++] = len - 1;
        for (size_t i = 0; i < ns; i++) {
            for (int bit = 0; bit < 8; bit += 7) {
                char what[128];
                memcpy(c, b, len);
                c[spots[i]] ^= (unsigned char)(1u << bit);
                spit(bad, c, len);
                snprintf(what, sizeof what, "%s with bit %d of byte %zu/%zu flipped", kinds[kind],
                         bit, spots[i], len);
                expect_load_fails(bad, CN_EFORMAT, what);
            }
        }
        /* another magic or version, even with a valid checksum */
        memcpy(c, b, len);
        c[0] = 'X';
        fix_checksum(c, len);
        spit(bad, c, len);
        expect_load_fails(bad, CN_EFORMAT, "wrong magic (checksum fixed)");
        memcpy(c, b, len);
        put_u32(c + 8, CN_IO_VERSION + 1);
        fix_checksum(c, len);
        spit(bad, c, len);
        expect_load_fails(bad, CN_EFORMAT, "next version (checksum fixed)");
        memcpy(c, b, len);
        put_u32(c + 8, 0);
        fix_checksum(c, len);
        spit(bad, c, len);
        expect_load_fails(bad, CN_EFORMAT, "version 0 (checksum fixed)");
        free(c);
        free(b);
    }
}

/* Files written through cn_writer (valid header and checksum) whose payload is
 * not an index. */
typedef void (*payload_fn)(cn_writer_t *w);

static void pl_empty(cn_writer_t *w) { (void)w; }
/* name, params, then small plausible numbers (metric 0, dim 4, n 4, ...) */
static void plausible_tail(cn_writer_t *w) {
    cn_write_u32(w, 0);
    for (int i = 0; i < 8; i++) cn_write_u32(w, 4);
}
static void pl_unknown_index(cn_writer_t *w) {
    cn_write_str(w, "nosuchindex");
    cn_write_str(w, "");
    plausible_tail(w);
}
static void pl_unknown_index_first(cn_writer_t *w) {
    cn_write_str(w, "nosuchindex");
    plausible_tail(w);
}
static void pl_quantizer_name(cn_writer_t *w) {
    cn_write_str(w, "plain");
    cn_write_str(w, "");
    plausible_tail(w);
}
static void pl_huge_string(cn_writer_t *w) {
    cn_write_u32(w, 0xFFFFFFF0u); /* a string length far beyond the file */
    cn_write(w, "flat", 4);
}
static void pl_flat_then_ff(cn_writer_t *w) {
    cn_write_str(w, "flat");
    unsigned char ff[64];
    memset(ff, 0xFF, sizeof ff);
    cn_write(w, ff, sizeof ff);
}
static void pl_hnsw_then_ff(cn_writer_t *w) {
    cn_write_str(w, "hnsw");
    cn_write_str(w, "M=8");
    unsigned char ff[256];
    memset(ff, 0xFF, sizeof ff);
    cn_write(w, ff, sizeof ff);
}
/* Plausible headers claiming enormous sizes, followed by a few real bytes. */
static void pl_flat_huge_n(cn_writer_t *w) {
    cn_write_str(w, "flat");
    cn_write_str(w, "");
    cn_write_u32(w, 0);           /* l2 */
    cn_write_u32(w, 4);           /* dim */
    cn_write_u32(w, 0x7FFFFFFFu); /* n */
    cn_write_str(w, "dense_f32");
    cn_write_u32(w, 0);
    cn_write_u32(w, 0x7FFFFFFFu);
    cn_write_u32(w, 4);
    float v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    cn_write(w, v, sizeof v);
}
static void pl_flat_huge_dim(cn_writer_t *w) {
    cn_write_str(w, "flat");
    cn_write_str(w, "");
    cn_write_u32(w, 0);
    cn_write_u32(w, 0xFFFFFFFFu);
    cn_write_u32(w, 0xFFFFFFFFu);
    cn_write_str(w, "dense_f32");
    cn_write_u32(w, 0);
    cn_write_u32(w, 0xFFFFFFFFu);
    cn_write_u32(w, 0xFFFFFFFFu);
    cn_write_u32(w, 0);
}
static void pl_hnsw_huge_n(cn_writer_t *w) {
    cn_write_str(w, "hnsw");
    cn_write_str(w, "M=4");
    cn_write_u32(w, 0);
    cn_write_u32(w, 2);
    cn_write_u32(w, 0x40000000u);
    for (int i = 0; i < 16; i++) cn_write_u32(w, i == 3 ? 0x40000000u : 4);
}
static void pl_bad_params(cn_writer_t *w) {
    cn_write_str(w, "hnsw");
    cn_write_str(w, "M=1;;=;ef=abc");
    for (int i = 0; i < 8; i++) cn_write_u32(w, 2);
}

static void test_garbage_payloads(void **state) {
    (void)state;
    static const struct {
        payload_fn fn;
        const char *what;
    } cases[] = {
        {pl_empty, "empty payload"},
        {pl_unknown_index, "unknown index name"},
        {pl_unknown_index_first, "unknown index name (short)"},
        {pl_quantizer_name, "a quantizer's name as index"},
        {pl_huge_string, "huge string length"},
        {pl_flat_then_ff, "flat then 0xff"},
        {pl_hnsw_then_ff, "hnsw then 0xff"},
        {pl_flat_huge_n, "flat claiming 2^31 vectors"},
        {pl_flat_huge_dim, "flat claiming dim 2^32-1"},
        {pl_hnsw_huge_n, "hnsw claiming 2^30 vectors"},
        {pl_bad_params, "malformed build parameters"},
    };
    char err[ERRLEN] = "", path[1024];
    tmp_path(path, sizeof path, "garbage.cnidx");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cn_writer_t w;
        assert_int_equal(cn_writer_open(&w, path, err, sizeof err), CN_OK);
        cases[i].fn(&w);
        assert_int_equal(cn_writer_close(&w, err, sizeof err), CN_OK);
        cn_index_t *ix = NULL;
        err[0] = 0;
        cn_status_t st = cn_index_load(&ix, path, err, sizeof err);
        if (st == CN_OK) {
            cn_index_destroy(ix);
            fail_msg("%s: loaded", cases[i].what);
        }
        assert_null(ix);
        if (!err[0]) fail_msg("%s: no message", cases[i].what);
        print_message("  %-32s -> %s: %s\n", cases[i].what, cn_status_str(st), err);
        assert_int_equal(cn_test_alloc_live(), 0);
    }
}

/* registry.h documents the generic store header: str name, u32 metric, u32 n,
 * u32 dim, then the payload. Claiming more vectors (or a larger dimension)
 * than the file holds must be refused before anything is allocated for it. */
static void test_huge_store_claims(void **state) {
    (void)state;
    const char *kinds[2] = {"flat", "hnsw"};
    static const uint32_t claims[][2] = {
        {0x7FFFFFFFu, 0}, {0xFFFFFFFFu, 0}, {0, 0x7FFFFFFFu}, {0, 0xFFFFFFFFu},
        {0x10000u, 0x10000u}, {0x80000000u, 0x80000000u}, {1, 0}, {0, 1}};
    int wrong = 0;
    for (int kind = 0; kind < 2; kind++) {
        char orig_path[1024], bad[1024];
        size_t len;
        unsigned char *b = small_file(kinds[kind], orig_path, sizeof orig_path, &len);
        unsigned char *c = malloc(len);
        tmp_path(bad, sizeof bad, "claims.cnidx");
        /* the store name, preceded by its u32 length */
        static const unsigned char name[13] = {9, 0, 0, 0, 'd', 'e', 'n', 's', 'e',
                                               '_', 'f', '3', '2'};
        size_t at = 0, hits = 0;
        for (size_t i = 12; i + sizeof name + 12 <= len - 8; i++) {
            if (memcmp(b + i, name, sizeof name) != 0) continue;
            hits++;
            at = i + sizeof name;
            uint32_t n0 = (uint32_t)b[at + 4] | (uint32_t)b[at + 5] << 8 |
                          (uint32_t)b[at + 6] << 16 | (uint32_t)b[at + 7] << 24;
            uint32_t d0 = (uint32_t)b[at + 8] | (uint32_t)b[at + 9] << 8 |
                          (uint32_t)b[at + 10] << 16 | (uint32_t)b[at + 11] << 24;
            assert_int_equal(d0, 5); /* small_file's dimension */
            for (size_t k = 0; k < sizeof claims / sizeof claims[0]; k++) {
                char what[160];
                memcpy(c, b, len);
                /* in the table 0 keeps the real value and 1 adds one to it */
                uint32_t cn = claims[k][0] > 1 ? claims[k][0] : n0 + claims[k][0];
                uint32_t cd = claims[k][1] > 1 ? claims[k][1] : d0 + claims[k][1];
                put_u32(c + at + 4, cn);
                put_u32(c + at + 8, cd);
                fix_checksum(c, len);
                spit(bad, c, len);
                snprintf(what, sizeof what, "%s store header %zu claiming n=%u dim=%u (real %u x %u)",
                         kinds[kind], hits, cn, cd, n0, d0);
                /* a size the file cannot hold is a malformed file (index.h), not ENOMEM;
                 * all cases run before the test fails */
                char err[ERRLEN] = "";
                cn_index_t *ix = NULL;
                cn_status_t st = cn_index_load(&ix, bad, err, sizeof err);
                if (st == CN_OK) {
                    cn_index_destroy(ix);
                    fail_msg("%s: loaded", what);
                }
                assert_null(ix);
                if (st != CN_EFORMAT || !strstr(err, bad)) {
                    print_error("%s: got %s '%s', want CN_EFORMAT naming the file\n", what,
                                cn_status_str(st), err);
                    wrong++;
                }
                assert_int_equal(cn_test_alloc_live(), 0);
            }
        }
        assert_true(hits >= 1);
        free(c);
        free(b);
    }
    assert_int_equal(wrong, 0);
}

/* Every offset of a small real file overwritten with a few values, checksum
 * fixed: the loader either refuses (with a message) or returns an index that
 * can be searched and destroyed; never a crash, never a leak. */
static void sweep(const char *kind) {
    char orig_path[1024], bad[1024], err[ERRLEN];
    size_t len;
    unsigned char *b = small_file(kind, orig_path, sizeof orig_path, &len);
    unsigned char *c = malloc(len);
    tmp_path(bad, sizeof bad, "sweep.cnidx");
    static const uint32_t values[] = {0xFFFFFFFFu, 0x00000000u, 0x7FFFFFF0u};
    const size_t step = under_valgrind() ? 5 : 1;
    size_t refused = 0, accepted = 0;
    float q[5] = {0.1f, -0.2f, 0.3f, 0.4f, -0.5f};
    for (size_t off = 12; off + 8 < len; off += step) {
        for (size_t vi = 0; vi < sizeof values / sizeof values[0]; vi++) {
            memcpy(c, b, len);
            unsigned char v[4];
            put_u32(v, values[vi]);
            size_t nb = len - 8 - off < 4 ? len - 8 - off : 4;
            memcpy(c + off, v, nb);
            if (memcmp(c, b, len) == 0) continue;
            fix_checksum(c, len);
            spit(bad, c, len);
            cn_index_t *ix = NULL;
            err[0] = 0;
            cn_status_t st = cn_index_load(&ix, bad, err, sizeof err);
            if (st != CN_OK) {
                refused++;
                assert_null(ix);
                if (!err[0]) fail_msg("%s offset %zu value %08x: refused without a message", kind,
                                      off, values[vi]);
            } else {
                accepted++;
                assert_non_null(ix);
                cn_search_ctx_t *ctx = NULL;
                if (cn_search_ctx_create(ix, &ctx, err, sizeof err) == CN_OK) {
                    uint32_t ids[8];
                    float dists[8];
                    size_t found = 0;
                    cn_vec_t vq = {.dense = q};
                    if (ix->dim == 5 &&
                        cn_index_search(ctx, &vq, 8, ids, dists, &found, err, sizeof err) ==
                            CN_OK) {
                        assert_true(found <= 8);
                        for (size_t i = 0; i < found; i++) assert_true(ids[i] < ix->n);
                    }
                    cn_search_ctx_destroy(ctx);
                }
                cn_index_destroy(ix);
            }
            if (cn_test_alloc_live() != 0)
                fail_msg("%s offset %zu value %08x (%s): %ld blocks leaked", kind, off, values[vi],
                         st == CN_OK ? "accepted" : err, cn_test_alloc_live());
        }
    }
    print_message("  %s (%zu bytes): %zu corruptions refused, %zu accepted\n", kind, len, refused,
                  accepted);
    /* most fields are structural: a loader that accepts everything checks nothing */
    assert_true(refused > accepted / 4);
    free(c);
    free(b);
}

static void test_corruption_sweep_flat(void **state) {
    (void)state;
    sweep("flat");
}

static void test_corruption_sweep_hnsw(void **state) {
    (void)state;
    sweep("hnsw");
}

/* ---- failed saves -------------------------------------------------------------------- */

static void test_save_failures(void **state) {
    (void)state;
    char err[ERRLEN] = "", path[1024], tmp[1100], inner[1200], nodir[1024];
    float *base = cn_test_random_matrix(50, 6, 61);
    cn_index_t *a = build_index("flat", base, 50, 6, CN_METRIC_L2, NULL, 0, 1);
    cn_index_t *b = build_index("flat", base, 40, 6, CN_METRIC_L2, NULL, 0, 1);

    /* into a directory that does not exist */
    tmp_path(nodir, sizeof nodir, "no/such/dir/x.cnidx");
    err[0] = 0;
    cn_status_t st = cn_index_save(a, nodir, err, sizeof err);
    assert_int_not_equal(st, CN_OK);
    assert_true(err[0] != 0);
    assert_false(file_exists(nodir));

    /* over an existing file, with the temporary path blocked: the old file stays */
    tmp_path(path, sizeof path, "existing.cnidx");
    save_ok(a, path);
    size_t l0;
    unsigned char *before = slurp(path, &l0);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(mkdir(tmp, 0700), 0);
    snprintf(inner, sizeof inner, "%s/keep", tmp); /* non-empty: remove() cannot clear it */
    spit(inner, (const unsigned char *)"x", 1);
    err[0] = 0;
    st = cn_index_save(b, path, err, sizeof err);
    assert_int_not_equal(st, CN_OK);
    assert_true(err[0] != 0);
    size_t l1;
    unsigned char *after = slurp(path, &l1);
    assert_int_equal(l0, l1);
    assert_memory_equal(before, after, l0);
    free(after);
    cn_index_t *c = load_ok(path);
    assert_int_equal(c->n, 50);
    cn_index_destroy(c);

    /* with the obstacle gone the save goes through */
    assert_int_equal(unlink(inner), 0);
    assert_int_equal(rmdir(tmp), 0);
    save_ok(b, path);
    c = load_ok(path);
    assert_int_equal(c->n, 40);
    cn_index_destroy(c);
    assert_false(file_exists(tmp));

    free(before);
    cn_index_destroy(a);
    cn_index_destroy(b);
    free(base);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip_hnsw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip_flat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build_params_preserved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_as_derived, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reproducible_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_and_odd_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_payloads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_huge_store_claims, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corruption_sweep_flat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corruption_sweep_hnsw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
