/*
 * tests/fuzz/fuzz_binfmt.c — the NumPy and big-ann binary readers
 * (harness/binfmt.c). The whole input is one file, written under every
 * extension those readers know (.npy, .fbin, .u8bin, .i8bin, .ibin), and
 * each copy is opened through the entry points the dataset loader and
 * `cannoli convert` use: cn_read_matrix for the vector files (after
 * cn_is_matrix_file, as the loader picks the reader), cn_read_ids for the
 * ground truth (.npy and .ibin, with and without the optional distances).
 * A vector file that loads is then loaded as a whole data set
 * (cn_dataset_load_files: train = test = that file, the .ibin copy as the
 * neighbours) and validated, as convert does. So the same bytes run the
 * .npy header parser and the big-ann size checks of every element type.
 */
#include <stdlib.h>

#include "dataset.h"
#include "fuzz_util.h"

static const char *const matrix_ext[] = {".npy", ".fbin", ".u8bin", ".i8bin"};

static void ids(const char *path) {
    char err[1024];
    int32_t *id;
    float *dist;
    uint32_t n, k;
    if (cn_read_ids(path, &id, &dist, &n, &k, err, sizeof err) == 0) {
        cn_free(id);
        cn_free(dist);
    }
    if (cn_read_ids(path, &id, NULL, &n, &k, err, sizeof err) == 0) cn_free(id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[1024];
    const char *ibin = cn_fuzz_file(data, size, ".ibin");
    ids(ibin);
    for (size_t i = 0; i < sizeof matrix_ext / sizeof *matrix_ext; i++) {
        const char *path = cn_fuzz_file(data, size, matrix_ext[i]);
        if (!cn_is_matrix_file(path)) abort();
        if (i == 0) ids(path); /* .npy ground truth */
        float *v;
        uint32_t n, dim;
        if (cn_read_matrix(path, &v, &n, &dim, err, sizeof err) != 0) continue;
        cn_free(v);
        cn_dataset_t ds;
        if (cn_dataset_load_files(&ds, path, path, ibin, NULL, err, sizeof err) == 0) {
            cn_dataset_validate(&ds, err, sizeof err);
            cn_dataset_free(&ds);
        }
    }
    return 0;
}
