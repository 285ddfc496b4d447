/*
 * test_h_formats.c — NumPy .npy (versions 1-3, every accepted dtype) and the
 * big-ann .fbin/.u8bin/.i8bin/.ibin readers on good files written here, and
 * on broken ones: bad magic, bad version, unsupported or big-endian dtypes,
 * Fortran order, wrong shapes, malformed headers, truncated files and
 * trailing bytes -- each a one-line error naming the file. Then a whole
 * dataset map (train/test .npy, neighbours .npy) through
 * cn_dataset_load_files.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dataset.h"
#include "testutil.h"

static char err[1024];

static const char *tpath(const char *name) {
    static char buf[8][4096];
    static int slot;
    char *p = buf[slot++ % 8];
    snprintf(p, 4096, "%s/%s", cn_test_tmpdir(), name);
    return p;
}

#define assert_err_has(s)                                                                 \
    do {                                                                                  \
        if (!strstr(err, (s))) fail_msg("error '%s' does not contain '%s'", err, (s));    \
        if (strchr(err, '\n')) fail_msg("error '%s' has more than one line", err);        \
    } while (0)

/* Writes a .npy file: version major, header dict text (padded as numpy
 * does), then `data` bytes; `cut` bytes removed from the end. */
static const char *write_npy(const char *name, int major, const char *dict, const void *data,
                             size_t n, size_t cut) {
    const char *path = tpath(name);
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t total = pre + dl + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = dl + pad + 1;
    unsigned char *buf = malloc(pre + hlen + n);
    assert_non_null(buf);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    buf[8] = (unsigned char)(hlen & 0xff);
    buf[9] = (unsigned char)(hlen >> 8);
    if (major > 1) buf[10] = buf[11] = 0;
    memcpy(buf + pre, dict, dl);
    memset(buf + pre + dl, ' ', pad);
    buf[pre + hlen - 1] = '\n';
    if (n) memcpy(buf + pre + hlen, data, n);
    size_t len = pre + hlen + n - cut;
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
    free(buf);
    return path;
}

static const char *write_raw(const char *name, const void *a, size_t na, const void *b,
                             size_t nb) {
    const char *path = tpath(name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (na) assert_int_equal(fwrite(a, 1, na, f), na);
    if (nb) assert_int_equal(fwrite(b, 1, nb, f), nb);
    fclose(f);
    return path;
}

static void expect_matrix(const char *path, uint32_t rows, uint32_t cols, const float *want) {
    float *d = NULL;
    uint32_t n = 0, dim = 0;
    if (cn_read_matrix(path, &d, &n, &dim, err, sizeof err) != 0) fail_msg("%s", err);
    assert_int_equal(n, rows);
    assert_int_equal(dim, cols);
    for (size_t i = 0; i < (size_t)rows * cols; i++) assert_float_equal(d[i], want[i], 0);
    cn_free(d);
}

static void expect_matrix_error(const char *path, const char *what) {
    float *d = (float *)1;
    uint32_t n = 7, dim = 7;
    assert_int_equal(cn_read_matrix(path, &d, &n, &dim, err, sizeof err), -1);
    assert_null(d);
    assert_int_equal(n, 0);
    assert_int_equal(dim, 0);
    assert_err_has(path);
    assert_err_has(what);
}

static void test_npy_good(void **state) {
    (void)state;
    const float want[6] = {1.5f, -2.0f, 0.0f, 3.25f, 100.0f, -7.0f};
    expect_matrix(write_npy("f4.npy", 1, "{'descr': '<f4', 'fortran_order': False, "
                                         "'shape': (2, 3), }", want, sizeof want, 0),
                  2, 3, want);
    /* Version 2 and 3 headers, float64. */
    double f8[6];
    for (int i = 0; i < 6; i++) f8[i] = want[i];
    expect_matrix(write_npy("f8.npy", 2, "{'descr': '<f8', 'fortran_order': False, "
                                         "'shape': (3, 2)}", f8, sizeof f8, 0),
                  3, 2, want);
    expect_matrix(write_npy("f8v3.npy", 3, "{\"descr\": \"<f8\", \"fortran_order\": False, "
                                           "\"shape\": (6, 1), }", f8, sizeof f8, 0),
                  6, 1, want);
    /* float16: 1.5, -2, 0, 3.25, 100, -7 and a subnormal. */
    const uint16_t f2[6] = {0x3e00, 0xc000, 0x0000, 0x4280, 0x5640, 0xc700};
    expect_matrix(write_npy("f2.npy", 1, "{'descr': '<f2', 'fortran_order': False, "
                                         "'shape': (2, 3), }", f2, sizeof f2, 0),
                  2, 3, want);
    const uint16_t sub = 0x0001;
    const float subf = 5.9604645e-8f;
    expect_matrix(write_npy("f2s.npy", 1, "{'descr': '<f2', 'fortran_order': False, "
                                          "'shape': (1, 1), }", &sub, sizeof sub, 0),
                  1, 1, &subf);
    const uint8_t u1[4] = {0, 1, 128, 255};
    const float u1f[4] = {0, 1, 128, 255};
    expect_matrix(write_npy("u1.npy", 1, "{'descr': '|u1', 'fortran_order': False, "
                                         "'shape': (2, 2), }", u1, sizeof u1, 0),
                  2, 2, u1f);
    const int8_t i1[4] = {-128, -1, 0, 127};
    const float i1f[4] = {-128, -1, 0, 127};
    expect_matrix(write_npy("i1.npy", 1, "{'descr': '|i1', 'fortran_order': False, "
                                         "'shape': (1, 4), }", i1, sizeof i1, 0),
                  1, 4, i1f);
}

static void test_npy_broken(void **state) {
    (void)state;
    const float v[6] = {1, 2, 3, 4, 5, 6};
    const char *ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    const char *p = write_npy("trunc.npy", 1, ok, v, sizeof v, 4);
    expect_matrix_error(p, "truncated");
    {
        /* good file + 4 extra bytes */
        p = write_npy("trail.npy", 1, ok, v, sizeof v, 0);
        FILE *f = fopen(p, "ab");
        assert_non_null(f);
        fputs("xxxx", f);
        fclose(f);
        expect_matrix_error(p, "trailing bytes");
    }
    p = write_raw("magic.npy", "\x93NUMPX\x01\x00\x10\x00", 10, v, sizeof v);
    expect_matrix_error(p, "bad magic");
    p = write_raw("short.npy", "\x93NUM", 4, NULL, 0);
    expect_matrix_error(p, "too short");
    p = write_npy("ver.npy", 4, ok, v, sizeof v, 0);
    expect_matrix_error(p, "unsupported .npy version 4.0");
    p = write_npy("be.npy", 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", v,
                  sizeof v, 0);
    expect_matrix_error(p, "unsupported dtype '>f4'");
    p = write_npy("c8.npy", 1, "{'descr': '<c8', 'fortran_order': False, 'shape': (3, 1), }", v,
                  sizeof v, 0);
    expect_matrix_error(p, "unsupported dtype '<c8'");
    p = write_npy("i4.npy", 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", v,
                  sizeof v, 0);
    expect_matrix_error(p, "holds ids");
    p = write_npy("fo.npy", 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", v,
                  sizeof v, 0);
    expect_matrix_error(p, "Fortran");
    p = write_npy("1d.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", v,
                  sizeof v, 0);
    expect_matrix_error(p, "expected a 2-D matrix");
    p = write_npy("3d.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3), }",
                  v, sizeof v, 0);
    expect_matrix_error(p, "3 dimensions");
    p = write_npy("zero.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }",
                  NULL, 0, 0);
    expect_matrix_error(p, "unusable shape");
    p = write_npy("neg.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }",
                  v, sizeof v, 0);
    expect_matrix_error(p, "malformed 'shape'");
    p = write_npy("nodescr.npy", 1, "{'fortran_order': False, 'shape': (2, 3), }", v, sizeof v,
                  0);
    expect_matrix_error(p, "lacks 'descr'");
    p = write_npy("dup.npy", 1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
                                "'shape': (2, 3), }", v, sizeof v, 0);
    expect_matrix_error(p, "malformed .npy header");
    p = write_npy("extra.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), "
                                  "'x': 1}", v, sizeof v, 0);
    expect_matrix_error(p, "unexpected key 'x'");
    p = write_npy("notdict.npy", 1, "['descr', '<f4']", v, sizeof v, 0);
    expect_matrix_error(p, "malformed .npy header");
    /* Header length pointing past the end of the file. */
    p = write_raw("hlen.npy", "\x93NUMPY\x01\x00\xff\x7f{}", 12, NULL, 0);
    expect_matrix_error(p, "truncated or corrupt .npy header");
    expect_matrix_error(tpath("missing.npy"), "no such file");
}

static void test_npy_ids(void **state) {
    (void)state;
    const int32_t i4[6] = {0, 1, 2, 5, 4, 3};
    int64_t i8[6];
    for (int i = 0; i < 6; i++) i8[i] = i4[i];
    int32_t *ids;
    float *d = (float *)1;
    uint32_t n, k;
    const char *p = write_npy("gt4.npy", 1, "{'descr': '<i4', 'fortran_order': False, "
                                            "'shape': (2, 3), }", i4, sizeof i4, 0);
    assert_int_equal(cn_read_ids(p, &ids, &d, &n, &k, err, sizeof err), 0);
    assert_null(d);
    assert_int_equal(n, 2);
    assert_int_equal(k, 3);
    assert_memory_equal(ids, i4, sizeof i4);
    cn_free(ids);
    p = write_npy("gt8.npy", 2, "{'descr': '<i8', 'fortran_order': False, 'shape': (3, 2), }",
                  i8, sizeof i8, 0);
    assert_int_equal(cn_read_ids(p, &ids, NULL, &n, &k, err, sizeof err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(k, 2);
    assert_memory_equal(ids, i4, sizeof i4);
    cn_free(ids);
    i8[4] = (int64_t)1 << 40;
    p = write_npy("gtbig.npy", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3, 2), }",
                  i8, sizeof i8, 0);
    assert_int_equal(cn_read_ids(p, &ids, NULL, &n, &k, err, sizeof err), -1);
    assert_null(ids);
    assert_err_has("does not fit in 32 bits");
    p = write_npy("gtf.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                  i4, sizeof i4, 0);
    assert_int_equal(cn_read_ids(p, &ids, NULL, &n, &k, err, sizeof err), -1);
    assert_err_has("int32 or int64");
    assert_err_has(p);
    p = write_raw("gt.txt", "x", 1, NULL, 0);
    assert_int_equal(cn_read_ids(p, &ids, NULL, &n, &k, err, sizeof err), -1);
    assert_err_has("unsupported ground-truth file type '.txt'");
}

static void test_bigann(void **state) {
    (void)state;
    const uint32_t h23[2] = {2, 3};
    const float f[6] = {1, -2, 3.5f, 4, 5, 6};
    expect_matrix(write_raw("a.fbin", h23, 8, f, sizeof f), 2, 3, f);
    const uint8_t u[6] = {1, 2, 3, 250, 0, 9};
    const float uf[6] = {1, 2, 3, 250, 0, 9};
    expect_matrix(write_raw("a.u8bin", h23, 8, u, sizeof u), 2, 3, uf);
    const int8_t s[6] = {-1, 2, -128, 127, 0, 9};
    const float sf[6] = {-1, 2, -128, 127, 0, 9};
    expect_matrix(write_raw("a.i8bin", h23, 8, s, sizeof s), 2, 3, sf);
    expect_matrix_error(write_raw("t.fbin", h23, 8, f, sizeof f - 4), "truncated");
    const uint8_t u7[7] = {1, 2, 3, 4, 5, 6, 7};
    expect_matrix_error(write_raw("t.u8bin", h23, 8, u7, sizeof u7), "trailing bytes");
    expect_matrix_error(write_raw("h.fbin", h23, 4, NULL, 0), "no 8-byte header");
    const uint32_t h0[2] = {0, 3};
    expect_matrix_error(write_raw("z.i8bin", h0, 8, NULL, 0), "unusable header");
    /* n * d * 4 far beyond the file: no allocation of the claimed size. */
    const uint32_t huge[2] = {4000000000u, 1000};
    expect_matrix_error(write_raw("huge.fbin", huge, 8, f, sizeof f), "truncated");
    expect_matrix_error(write_raw("a.xbin", h23, 8, f, sizeof f), "unsupported matrix file");

    /* .ibin ground truth: ids only, and ids + distances. */
    const int32_t ids[6] = {0, 1, 2, 2, 1, 0};
    const float dist[6] = {0.5f, 1, 2, 0.25f, 1, 3};
    int32_t *gi;
    float *gd;
    uint32_t n, k;
    const char *p = write_raw("g.ibin", h23, 8, ids, sizeof ids);
    assert_int_equal(cn_read_ids(p, &gi, &gd, &n, &k, err, sizeof err), 0);
    assert_null(gd);
    assert_int_equal(n, 2);
    assert_int_equal(k, 3);
    assert_memory_equal(gi, ids, sizeof ids);
    cn_free(gi);
    unsigned char both[48];
    memcpy(both, ids, 24);
    memcpy(both + 24, dist, 24);
    p = write_raw("gd.ibin", h23, 8, both, sizeof both);
    assert_int_equal(cn_read_ids(p, &gi, &gd, &n, &k, err, sizeof err), 0);
    assert_non_null(gd);
    assert_memory_equal(gi, ids, sizeof ids);
    assert_memory_equal(gd, dist, sizeof dist);
    cn_free(gi);
    cn_free(gd);
    p = write_raw("bad.ibin", h23, 8, both, 30);
    assert_int_equal(cn_read_ids(p, &gi, &gd, &n, &k, err, sizeof err), -1);
    assert_null(gi);
    assert_err_has(p);
    assert_err_has("header says 2 x 3");
}

/* A dataset map of .npy files: float32 train, uint8 test, int64 ids. */
static void test_dataset_npy(void **state) {
    (void)state;
    enum { N = 40, Q = 4, D = 5, K = 3 };
    float *tr = cn_test_random_matrix(N, D, 7);
    uint8_t te[Q * D];
    for (int i = 0; i < Q * D; i++) te[i] = (uint8_t)(i % 3);
    int64_t gt[Q * K];
    for (int i = 0; i < Q * K; i++) gt[i] = i % N;
    const char *ptr = write_npy("ds_train.npy", 1, "{'descr': '<f4', 'fortran_order': False, "
                                                   "'shape': (40, 5), }", tr, N * D * 4, 0);
    const char *pte = write_npy("ds_test.npy", 1, "{'descr': '|u1', 'fortran_order': False, "
                                                  "'shape': (4, 5), }", te, sizeof te, 0);
    const char *pgt = write_npy("ds_gt.npy", 1, "{'descr': '<i8', 'fortran_order': False, "
                                                "'shape': (4, 3), }", gt, sizeof gt, 0);
    cn_dataset_t ds;
    if (cn_dataset_load_files(&ds, ptr, pte, pgt, NULL, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(ds.n_train, N);
    assert_int_equal(ds.n_test, Q);
    assert_int_equal(ds.dim, D);
    assert_int_equal(ds.gt_k, K);
    assert_string_equal(ds.name, "ds");
    assert_float_equal(ds.train[7], tr[7], 0);
    assert_float_equal(ds.test[4], 1.0f, 0);
    assert_int_equal(cn_dataset_validate(&ds, err, sizeof err), 0);
    cn_dataset_free(&ds);
    /* Dimension mismatch between train and test. */
    const char *pbad = write_npy("ds_bad.npy", 1, "{'descr': '|u1', 'fortran_order': False, "
                                                  "'shape': (5, 4), }", te, sizeof te, 0);
    assert_int_equal(cn_dataset_load_files(&ds, ptr, pbad, NULL, NULL, err, sizeof err), -1);
    assert_err_has("dimension 4");
    /* Ground truth with the wrong number of rows. */
    const char *pg2 = write_npy("ds_gt2.npy", 1, "{'descr': '<i8', 'fortran_order': False, "
                                                 "'shape': (3, 4), }", gt, sizeof gt, 0);
    assert_int_equal(cn_dataset_load_files(&ds, ptr, pte, pg2, NULL, err, sizeof err), -1);
    assert_err_has("3 rows of neighbours");
    free(tr);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_npy_good),   cmocka_unit_test(test_npy_broken),
        cmocka_unit_test(test_npy_ids),    cmocka_unit_test(test_bigann),
        cmocka_unit_test(test_dataset_npy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
