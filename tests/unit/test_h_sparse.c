/*
 * test_h_sparse.c — the harness's sparse files (harness/sparse_io.c), the
 * sparse HDF5 layout (hdf5io.c) and recall on sparse sets (metrics.c).
 *
 * Files are crafted in code: a well-formed .csr / kANNolo .bin / .gt100
 * must load (unsorted rows sorted), every malformed variant must fail with a
 * message naming the file and the problem, a sparse dataset must survive an
 * HDF5 round trip, and recall must judge ties by score.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "dataset.h"
#include "metrics.h"
#include "testutil.h"

#define ERRLEN 1024

static char *tmp(const char *name) {
    static char buf[4][1024];
    static int at;
    at = (at + 1) % 4;
    snprintf(buf[at], sizeof buf[at], "%s/%s", cn_test_tmpdir(), name);
    return buf[at];
}

/* .csr with rows given as (nrow, ncol, nnz, ptr, idx, val). */
static void write_csr(const char *path, int64_t nrow, int64_t ncol, int64_t nnz,
                      const int64_t *ptr, const int32_t *idx, const float *val, long cut) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    int64_t h[3] = {nrow, ncol, nnz};
    fwrite(h, 8, 3, f);
    fwrite(ptr, 8, (size_t)nrow + 1, f);
    fwrite(idx, 4, (size_t)nnz, f);
    fwrite(val, 4, (size_t)nnz, f);
    fclose(f);
    if (cut > 0) assert_int_equal(truncate(path, cut), 0);
}

static void expect_csr_error(const char *path, const char *needle) {
    char err[ERRLEN] = "";
    cn_csr_t c;
    uint32_t ncol;
    assert_int_equal(cn_read_csr(path, &c, &ncol, err, sizeof err), -1);
    assert_null(c.indptr);
    if (!strstr(err, needle) || !strstr(err, path))
        fail_msg("message '%s' lacks '%s' or the path", err, needle);
}

static void test_csr(void **state) {
    (void)state;
    char err[ERRLEN] = "";
    int64_t ptr[3] = {0, 3, 5};
    int32_t idx[5] = {7, 1, 4, 2, 9}; /* row 0 out of order: sorted on load */
    float val[5] = {0.7f, 0.1f, 0.4f, 0.2f, 0.9f};
    const char *p = tmp("ok.csr");
    write_csr(p, 2, 10, 5, ptr, idx, val, 0);
    cn_csr_t c;
    uint32_t ncol;
    assert_int_equal(cn_read_csr(p, &c, &ncol, err, sizeof err), 0);
    assert_int_equal(ncol, 10);
    assert_int_equal(c.rows, 2);
    uint32_t want[5] = {1, 4, 7, 2, 9};
    float wv[5] = {0.1f, 0.4f, 0.7f, 0.2f, 0.9f};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(c.indices[i], want[i]);
        assert_true(c.values[i] == wv[i]);
    }
    assert_true(fabs(cn_csr_dot(&c, 0, &c, 0) - (0.01 + 0.16 + 0.49)) < 1e-6);
    cn_csr_free(&c);

    write_csr(p = tmp("trunc.csr"), 2, 10, 5, ptr, idx, val, 40);
    expect_csr_error(p, "truncated");
    write_csr(p = tmp("short.csr"), 2, 10, 5, ptr, idx, val, 10);
    expect_csr_error(p, "truncated");
    int32_t dup[5] = {1, 4, 1, 2, 9};
    write_csr(p = tmp("dup.csr"), 2, 10, 5, ptr, dup, val, 0);
    expect_csr_error(p, "vector 0: duplicate component 1");
    int32_t oor[5] = {1, 4, 7, 2, 10};
    write_csr(p = tmp("oor.csr"), 2, 10, 5, ptr, oor, val, 0);
    expect_csr_error(p, "vector 1: component 10 is outside the 10 columns");
    int32_t neg[5] = {1, 4, 7, -2, 3};
    write_csr(p = tmp("neg.csr"), 2, 10, 5, ptr, neg, val, 0);
    expect_csr_error(p, "component -2");
    float nanv[5] = {0.1f, NAN, 0.3f, 0.2f, 0.9f};
    write_csr(p = tmp("nan.csr"), 2, 10, 5, ptr, idx, nanv, 0);
    expect_csr_error(p, "NaN value");
    int64_t bad[3] = {0, 6, 5};
    write_csr(p = tmp("ptr.csr"), 2, 10, 5, bad, idx, val, 0);
    expect_csr_error(p, "row pointer 1 is 6");
    write_csr(p = tmp("nnz.csr"), 2, 10, 4, ptr, idx, val, 0);
    expect_csr_error(p, "row pointer 2 is 5 (must rise from 0 to nnz = 4)");
    write_csr(p = tmp("hdr.csr"), -1, 10, 5, ptr, idx, val, 0);
    expect_csr_error(p, "invalid .csr header");
    expect_csr_error(tmp("missing.csr"), "no such file");
}

static void test_kannolo_bin_and_gt100(void **state) {
    (void)state;
    char err[ERRLEN] = "";
    const char *p = tmp("v.bin");
    FILE *f = fopen(p, "wb");
    uint32_t hdr[1] = {2}, r0[1] = {2}, c0[2] = {3, 30}, r1[1] = {1}, c1[1] = {5};
    float v0[2] = {1.5f, 2.5f}, v1[1] = {4};
    fwrite(hdr, 4, 1, f);
    fwrite(r0, 4, 1, f);
    fwrite(c0, 4, 2, f);
    fwrite(v0, 4, 2, f);
    fwrite(r1, 4, 1, f);
    fwrite(c1, 4, 1, f);
    fwrite(v1, 4, 1, f);
    fclose(f);
    cn_csr_t c;
    uint32_t mx;
    assert_int_equal(cn_read_kannolo_bin(p, &c, &mx, err, sizeof err), 0);
    assert_int_equal(mx, 31);
    assert_int_equal(c.rows, 2);
    assert_int_equal(c.indptr[2], 3);
    assert_int_equal(c.indices[2], 5);
    cn_csr_free(&c);
    assert_int_equal(truncate(p, 30), 0);
    assert_int_equal(cn_read_kannolo_bin(p, &c, &mx, err, sizeof err), -1);
    assert_non_null(strstr(err, "truncated"));

    p = tmp("g.gt100");
    f = fopen(p, "wb");
    int32_t h[2] = {2, 2}, ids[4] = {1, 0, 0, 1};
    float sc[4] = {3, 2, 5, 1};
    fwrite(h, 4, 2, f);
    fwrite(ids, 4, 4, f);
    fwrite(sc, 4, 4, f);
    fclose(f);
    int32_t *gi;
    float *gs;
    uint32_t nq, k;
    assert_int_equal(cn_read_gt100(p, &gi, &gs, &nq, &k, err, sizeof err), 0);
    assert_int_equal(nq, 2);
    assert_int_equal(k, 2);
    assert_true(gs[2] == 5.0f && gi[3] == 1);
    cn_free(gi);
    cn_free(gs);
    assert_int_equal(truncate(p, 20), 0);
    assert_int_equal(cn_read_gt100(p, &gi, &gs, &nq, &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "header says 2 queries"));
}

/* A small sparse dataset through the .csr map form, HDF5 and recall. */
static void test_dataset_hdf5_recall(void **state) {
    (void)state;
    char err[ERRLEN] = "";
    /* docs: 0 = {1:1}, 1 = {1:1}, 2 = {2:3}, 3 = {1:0.5, 2:0.5}; query {1:1, 2:1} */
    int64_t ptr[5] = {0, 1, 2, 3, 5};
    int32_t idx[5] = {1, 1, 2, 1, 2};
    float val[5] = {1, 1, 3, 0.5f, 0.5f};
    const char *tr = tmp("tr.csr");
    write_csr(tr, 4, 4, 5, ptr, idx, val, 0);
    int64_t qp[2] = {0, 2};
    int32_t qi[2] = {1, 2};
    float qv[2] = {1, 1};
    char te[1024];
    snprintf(te, sizeof te, "%s", tmp("te.csr"));
    write_csr(te, 1, 4, 2, qp, qi, qv, 0);
    cn_dataset_t ds;
    assert_int_equal(cn_dataset_load_files(&ds, tr, te, NULL, NULL, err, sizeof err), 0);
    assert_true(ds.sparse);
    assert_int_equal(ds.metric, CN_METRIC_IP);
    assert_int_equal(cn_dataset_validate(&ds, err, sizeof err), 0);
    assert_int_equal(cn_dataset_groundtruth(&ds, 3, 1, err, sizeof err), 0);
    /* scores: doc2 = 3, docs 0/1/3 = 1 (ties) */
    assert_int_equal(ds.neighbors[0], 2);
    assert_true(ds.distances[0] == 3.0f && ds.distances[1] == 1.0f && ds.distances[2] == 1.0f);
    /* any of the tied documents counts */
    uint32_t res[2] = {2, 3};
    assert_true(cn_recall_query(&ds, 0, res, 2) == 1.0);
    uint32_t res2[2] = {3, 0};
    assert_true(cn_recall_query(&ds, 0, res2, 2) == 1.0);
    assert_true(cn_recall_query(&ds, 0, res2, 1) == 0.0); /* k = 1: only score 3 counts */
    uint32_t res3[2] = {2, 2};                            /* a repeated id counts once */
    assert_true(cn_recall_query(&ds, 0, res3, 2) == 0.5);
    const char *h5 = tmp("sp.hdf5");
    assert_int_equal(cn_dataset_save_hdf5(&ds, h5, err, sizeof err), 0);
    cn_dataset_t back;
    if (cn_dataset_load_hdf5(&back, h5, err, sizeof err)) fail_msg("load: %s", err);
    assert_true(back.sparse);
    assert_int_equal(back.dim, 4);
    assert_int_equal(back.n_train, 4);
    assert_int_equal(back.gt_k, 3);
    assert_memory_equal(back.strain.indices, ds.strain.indices, 5 * sizeof(uint32_t));
    assert_memory_equal(back.distances, ds.distances, 3 * sizeof(float));
    cn_dataset_free(&back);
    cn_dataset_free(&ds);
    /* a metric other than ip is refused */
    assert_int_equal(cn_dataset_load_files(&ds, tr, te, NULL, "euclidean", err, sizeof err), -1);
    assert_non_null(strstr(err, "not supported for sparse vectors"));
}

/* Compaction keeps every inner product: train components renumbered in
 * order, test components absent from train dropped, dim = distinct count. */
static void test_compact_keeps_scores(void **state) {
    (void)state;
    uint64_t tp[4] = {0, 2, 3, 5}, qp[3] = {0, 3, 4};
    uint32_t ti[5] = {7, 4000000000u, 7, 9, 4000000000u}, qi[4] = {5, 7, 4000000000u, 8};
    float tv[5] = {1, 2, 3, 4, 5}, qv[4] = {10, 20, 30, 40};
    cn_csr_t tr = {3, tp, ti, tv}, te = {2, qp, qi, qv}, ctr, cte;
    assert_int_equal(cn_csr_copy(&ctr, &tr), 0);
    assert_int_equal(cn_csr_copy(&cte, &te), 0);
    uint32_t dim = 4000000001u;
    char err[ERRLEN];
    assert_int_equal(cn_csr_compact(&ctr, &cte, &dim, "x", err, sizeof err), 0);
    assert_int_equal(dim, 3);
    for (uint32_t q = 0; q < 2; q++)
        for (uint32_t i = 0; i < 3; i++)
            assert_true(cn_csr_dot(&te, q, &tr, i) == cn_csr_dot(&cte, q, &ctr, i));
    assert_int_equal(cte.indptr[2], 2); /* 5 and 8 dropped */
    assert_int_equal(cte.indptr[1], 2);
    for (uint64_t k = 0; k < 5; k++) assert_true(ctr.indices[k] < 3);
    assert_int_equal(cn_csr_normalise(&ctr, dim, "x", err, sizeof err), 0);
    assert_int_equal(cn_csr_normalise(&cte, dim, "x", err, sizeof err), 0);
    cn_csr_free(&ctr);
    cn_csr_free(&cte);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csr),
        cmocka_unit_test(test_compact_keeps_scores),
        cmocka_unit_test(test_kannolo_bin_and_gt100),
        cmocka_unit_test(test_dataset_hdf5_recall),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
