/*
 * tests/fuzz/fuzz_hdf5.c — the HDF5 dataset loader (harness/hdf5io.c):
 * dense ANN-Benchmarks files and the sparse CSR layout, then validation
 * (cn_dataset_validate) and, when valid, the compaction of a huge sparse
 * dimension (which must keep the set valid) and the distances of the given
 * neighbours.
 *
 * The input is not an HDF5 file but a description of one, which the target
 * writes with the HDF5 library: libhdf5's own parser of raw bytes is not
 * cannoli's code (and fuzzing it finds libhdf5's bugs), while what cannoli
 * must survive is every shape, type, value and attribute a well-formed file
 * can hold. Layout of the input (bytes past its end read as 0):
 *   flags: bit 0 sparse, 1 neighbors, 2 distances, 3 'dimension',
 *          4 'distance' attribute, 5-6 its value (euclidean, angular, ip, "x?"),
 *          7 'point_type'
 *   dense:  per dataset (train, test[, neighbors, distances]): rank (1..3),
 *           dims (each 0..15), element type (f32, f64, u8, i32, i64), values
 *   sparse: per block (train, test): indptr, indices, data arrays, each a
 *           length byte (0..31) and values; an integer is one signed byte,
 *           or, when that byte is 0x7f, eight raw bytes
 *   'dimension': one integer as above.
 */
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "dataset.h"
#include "fuzz_util.h"

typedef struct in {
    const uint8_t *p;
    size_t n, at;
} in_t;

static uint8_t u8(in_t *r) { return r->at < r->n ? r->p[r->at++] : 0; }

static int64_t i64(in_t *r) {
    int8_t b = (int8_t)u8(r);
    if (b != 0x7f) return b;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)u8(r) << (8 * i);
    return (int64_t)v;
}

static void raw(in_t *r, void *out, size_t bytes) {
    unsigned char *o = out;
    for (size_t i = 0; i < bytes; i++) o[i] = u8(r);
}

static void write_ds(hid_t f, const char *name, hid_t type, int rank, const hsize_t *dims,
                     const void *buf) {
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = sp >= 0 ? H5Dcreate2(f, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
    hsize_t total = 1;
    for (int i = 0; i < rank; i++) total *= dims[i];
    if (d >= 0 && total) H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    if (d >= 0) H5Dclose(d);
    if (sp >= 0) H5Sclose(sp);
}

static void dense(hid_t f, in_t *r, const char *name) {
    static const size_t sizes[5] = {4, 8, 1, 4, 8};
    int rank = 1 + u8(r) % 3;
    hsize_t dims[3], total = 1;
    for (int i = 0; i < rank; i++) total *= (dims[i] = u8(r) % 16);
    int t = u8(r) % 5;
    void *buf = malloc(total * sizes[t] + 1);
    if (!buf) return;
    raw(r, buf, total * sizes[t]);
    hid_t type = t == 0   ? H5T_NATIVE_FLOAT
                 : t == 1 ? H5T_NATIVE_DOUBLE
                 : t == 2 ? H5T_NATIVE_UCHAR
                 : t == 3 ? H5T_NATIVE_INT
                          : H5T_NATIVE_LLONG;
    write_ds(f, name, type, rank, dims, buf);
    free(buf);
}

static void ints(hid_t f, in_t *r, const char *name) {
    hsize_t n = u8(r) % 32;
    int64_t v[32];
    for (hsize_t i = 0; i < n; i++) v[i] = i64(r);
    write_ds(f, name, H5T_NATIVE_INT64, 1, &n, v);
}

static void floats(hid_t f, in_t *r, const char *name) {
    hsize_t n = u8(r) % 32;
    float v[32];
    for (hsize_t i = 0; i < n; i++) v[i] = (float)(int8_t)u8(r) / 8.0f;
    write_ds(f, name, H5T_NATIVE_FLOAT, 1, &n, v);
}

static void str_attr(hid_t f, const char *name, const char *value) {
    hid_t ty = H5Tcopy(H5T_C_S1);
    H5Tset_size(ty, strlen(value) + 1);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, ty, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
        H5Awrite(a, ty, value);
        H5Aclose(a);
    }
    H5Sclose(sp);
    H5Tclose(ty);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int quiet;
    if (!quiet) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        quiet = 1;
    }
    in_t r = {data, size, 0};
    uint8_t flags = u8(&r);
    const char *path = cn_fuzz_file(NULL, 0, ".hdf5");
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) abort();
    if (flags & 1) {
        static const char *const names[6] = {"train_indptr", "train_indices", "train_data",
                                             "test_indptr",  "test_indices",  "test_data"};
        for (int i = 0; i < 6; i++) {
            if (i % 3 == 2) floats(f, &r, names[i]);
            else ints(f, &r, names[i]);
        }
    } else {
        dense(f, &r, "train");
        dense(f, &r, "test");
    }
    if (flags & 2) dense(f, &r, "neighbors");
    if (flags & 4) dense(f, &r, "distances");
    if (flags & 8) {
        long long dim = i64(&r);
        hid_t sp = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(f, "dimension", H5T_NATIVE_LLONG, sp, H5P_DEFAULT, H5P_DEFAULT);
        if (a >= 0) {
            H5Awrite(a, H5T_NATIVE_LLONG, &dim);
            H5Aclose(a);
        }
        H5Sclose(sp);
    }
    if (flags & 16) {
        static const char *const metrics[4] = {"euclidean", "angular", "ip", "x?"};
        str_attr(f, "distance", metrics[(flags >> 5) & 3]);
    }
    if (flags & 128) str_attr(f, "point_type", (flags & 1) ? "sparse" : "float");
    H5Fclose(f);

    cn_dataset_t ds;
    char err[1024];
    if (cn_dataset_load_hdf5(&ds, path, err, sizeof err) != 0) return 0;
    if (cn_dataset_validate(&ds, err, sizeof err) == 0) {
        /* what cn_dataset_open does to a huge declared dimension */
        if (ds.sparse && ds.dim > CN_SPARSE_DIM_DIRECT &&
            (cn_csr_compact(&ds.strain, &ds.stest, &ds.dim, path, err, sizeof err) ||
             cn_dataset_validate(&ds, err, sizeof err)))
            abort();
        if (ds.neighbors) (void)cn_dataset_fill_distances(&ds, err, sizeof err);
    }
    cn_dataset_free(&ds);
    return 0;
}
