/*
 * tests/fuzz/fuzz_index.c — the index / cache file loader (cn_index_load:
 * the generic header, every registered index's and store's payload). The
 * input is the payload; the target adds the magic, the format version and a
 * correct checksum (core/io.c), so the fuzzer gets past the checksum to the
 * parsers. A file that loads is then searched once, so a structure that
 * loads but is inconsistent (a neighbour id beyond n, an offset past the
 * codes) shows up as a sanitizer error. The Faiss and hnswlib baselines are
 * not registered: their loaders are the libraries' own, not hardened
 * against hostile files (a cache file is checksummed, not authenticated).
 */
#include <stdlib.h>
#include <string.h>

#include "cannoli/cannoli.h"
#include "fuzz_util.h"

#define HEADER 12

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const unsigned char magic[8] = {'C', 'N', 'N', 'O', 'L', 'I', 0x01, 0x00};
    if (size > (1u << 20)) return 0;
    unsigned char *b = malloc(HEADER + size + 8);
    if (!b) return 0;
    memcpy(b, magic, 8);
    for (int i = 0; i < 4; i++) b[8 + i] = (unsigned char)((uint32_t)CN_IO_VERSION >> (8 * i));
    if (size) memcpy(b + HEADER, data, size);
    uint64_t h = cn_checksum(CN_CHECKSUM_INIT, b, HEADER + size);
    for (int i = 0; i < 8; i++) b[HEADER + size + i] = (unsigned char)(h >> (8 * i));
    const char *path = cn_fuzz_file(b, HEADER + size + 8, ".cnidx");
    free(b);

    cn_index_t *ix = NULL;
    char err[1024];
    if (cn_index_load(&ix, path, err, sizeof err) != CN_OK) return 0;
    cn_search_ctx_t *ctx = NULL;
    if (ix->n > 0 && ix->dim > 0 && ix->dim <= 4096 &&
        cn_search_ctx_create(ix, &ctx, err, sizeof err) == CN_OK &&
        cn_search_ctx_set_params(ctx, &(cn_params_t){NULL, 0}, err, sizeof err) == CN_OK) {
        size_t k = ix->n < 10 ? ix->n : 10, found = 0;
        uint32_t ids[10];
        float dists[10];
        float *dense = calloc(ix->dim, sizeof *dense);
        uint32_t one_idx = 0;
        float one_val = 1.0f;
        if (dense) {
            for (uint32_t j = 0; j < ix->dim; j++) dense[j] = (float)(j % 7) * 0.25f - 0.5f;
            cn_vec_t q = {.dense = dense};
            if (cn_store_is_sparse(ix->store)) {
                q.dense = NULL;
                q.nnz = 1;
                q.idx = &one_idx;
                q.val = &one_val;
            }
            cn_index_search(ctx, &q, k, ids, dists, &found, err, sizeof err);
            for (size_t i = 0; i < found; i++)
                if (ids[i] >= ix->n) abort(); /* a result that is no vector */
        }
        free(dense);
    }
    cn_search_ctx_destroy(ctx);
    cn_index_destroy(ix);
    return 0;
}
