/*
 * tests/tools/cn_mkh5.c — writes a sparse-layout HDF5 file with exactly the
 * numbers given, including ones cannoli must refuse (negative components or
 * row pointers, a huge `dimension`), for the robustness tests and the fuzz
 * seeds. Python's h5py is not needed.
 *
 *   cn_mkh5 OUT.hdf5 DIM TRAIN_INDPTR TRAIN_INDICES TRAIN_DATA TEST_INDPTR TEST_INDICES TEST_DATA
 *
 * Lists are comma-separated ("0,2,3"; "" for none); DIM 0 writes no
 * `dimension` attribute. Indices and row pointers are stored as int64.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

static size_t parse_list(const char *s, double **out) {
    size_t n = 0, cap = 16;
    double *v = malloc(cap * sizeof *v);
    if (!v) exit(1);
    while (s && *s) {
        char *end;
        double x = strtod(s, &end);
        if (end == s) break;
        if (n == cap) {
            cap *= 2;
            v = realloc(v, cap * sizeof *v);
            if (!v) exit(1);
        }
        v[n++] = x;
        s = *end == ',' ? end + 1 : end;
    }
    *out = v;
    return n;
}

static int write_1d(hid_t f, const char *name, const char *list, int integer) {
    double *v;
    size_t n = parse_list(list, &v);
    hsize_t dims[1] = {n};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t ft = integer ? H5T_STD_I64LE : H5T_IEEE_F32LE;
    hid_t d = H5Dcreate2(f, name, ft, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = -1;
    if (d >= 0) {
        if (integer) {
            int64_t *w = malloc((n ? n : 1) * sizeof *w);
            for (size_t i = 0; i < n; i++) w[i] = (int64_t)v[i];
            rc = n && H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, w) < 0 ? -1 : 0;
            free(w);
        } else {
            float *w = malloc((n ? n : 1) * sizeof *w);
            for (size_t i = 0; i < n; i++) w[i] = (float)v[i];
            rc = n && H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w) < 0 ? -1 : 0;
            free(w);
        }
        H5Dclose(d);
    }
    H5Sclose(sp);
    free(v);
    return rc;
}

static void str_attr(hid_t f, const char *name, const char *value) {
    hid_t ty = H5Tcopy(H5T_C_S1);
    H5Tset_size(ty, strlen(value));
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, ty, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, ty, value);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(ty);
}

int main(int argc, char **argv) {
    if (argc != 9) {
        fprintf(stderr, "usage: cn_mkh5 OUT DIM TRAIN_INDPTR TRAIN_INDICES TRAIN_DATA TEST_INDPTR "
                        "TEST_INDICES TEST_DATA\n");
        return 2;
    }
    hid_t f = H5Fcreate(argv[1], H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return 1;
    int rc = write_1d(f, "train_indptr", argv[3], 1) | write_1d(f, "train_indices", argv[4], 1) |
             write_1d(f, "train_data", argv[5], 0) | write_1d(f, "test_indptr", argv[6], 1) |
             write_1d(f, "test_indices", argv[7], 1) | write_1d(f, "test_data", argv[8], 0);
    str_attr(f, "distance", "ip");
    str_attr(f, "point_type", "sparse");
    long long dim = atoll(argv[2]);
    if (dim) {
        hid_t sp = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(f, "dimension", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, H5T_NATIVE_LLONG, &dim);
        H5Aclose(a);
        H5Sclose(sp);
    }
    H5Fclose(f);
    return rc ? 1 : 0;
}
