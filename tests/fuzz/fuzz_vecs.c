/*
 * tests/fuzz/fuzz_vecs.c — the texmex readers (harness/vecs.c): .fvecs,
 * .bvecs (cn_read_vecs) and .ivecs (cn_read_ivecs). The first byte picks
 * the format, the rest is the file.
 */
#include "cannoli/common.h"
#include "dataset.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char err[1024];
    int kind = data[0] % 3;
    const char *path =
        cn_fuzz_file(data + 1, size - 1, kind == 0 ? ".fvecs" : kind == 1 ? ".bvecs" : ".ivecs");
    uint32_t n, d;
    if (kind < 2) {
        float *v;
        if (cn_read_vecs(path, &v, &n, &d, err, sizeof err) == 0) cn_free(v);
    } else {
        int32_t *v;
        if (cn_read_ivecs(path, &v, &n, &d, err, sizeof err) == 0) cn_free(v);
    }
    return 0;
}
