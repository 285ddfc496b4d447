/*
 * tests/fuzz/fuzz_sparse.c — the sparse file readers (harness/sparse_io.c):
 * big-ann .csr, kANNolo .bin and .gt100. The first byte picks the format,
 * the rest is the file. A file that loads is also compacted
 * (cn_csr_compact, against itself as the queries): the result must pass the
 * store's own checks and keep every inner product.
 */
#include <stdlib.h>
#include <string.h>

#include "cannoli/store.h"
#include "dataset.h"
#include "fuzz_util.h"

static void check_compact(const cn_csr_t *c) {
    cn_csr_t tr, te;
    char err[1024];
    if (cn_csr_copy(&tr, c)) return;
    if (cn_csr_copy(&te, c)) {
        cn_csr_free(&tr);
        return;
    }
    uint32_t dim = UINT32_MAX;
    if (cn_csr_compact(&tr, &te, &dim, "fuzz", err, sizeof err) == 0) {
        if (cn_csr_normalise(&tr, dim, "fuzz", err, sizeof err) ||
            cn_csr_normalise(&te, dim, "fuzz", err, sizeof err))
            abort();
        uint32_t n = c->rows < 16 ? c->rows : 16;
        for (uint32_t i = 0; i < n; i++)
            for (uint32_t j = 0; j < n; j++)
                if (cn_csr_dot(c, i, c, j) != cn_csr_dot(&te, i, &tr, j)) abort();
    }
    cn_csr_free(&tr);
    cn_csr_free(&te);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char err[1024];
    int kind = data[0] % 3;
    const char *path = cn_fuzz_file(data + 1, size - 1, kind == 0 ? ".csr" : kind == 1 ? ".bin" : ".gt100");
    if (kind == 2) {
        int32_t *ids;
        float *scores;
        uint32_t nq, k;
        if (cn_read_gt100(path, &ids, &scores, &nq, &k, err, sizeof err) == 0) {
            cn_free(ids);
            cn_free(scores);
        }
        return 0;
    }
    cn_csr_t c;
    uint32_t cols;
    int rc = kind == 0 ? cn_read_csr(path, &c, &cols, err, sizeof err)
                       : cn_read_kannolo_bin(path, &c, &cols, err, sizeof err);
    if (rc == 0) {
        check_compact(&c);
        cn_csr_free(&c);
    }
    return 0;
}
