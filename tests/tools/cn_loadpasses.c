/*
 * tests/tools/cn_loadpasses.c — is a loaded index fast from its first query?
 *
 *   cn_loadpasses INDEX.cnidx QUERIES.f32 DIM [EF [PASSES]]
 *
 * Loads a saved index (e.g. an entry of the harness's cache), then times
 * PASSES (default 4) single-threaded passes of k = 10 searches at ef = EF
 * (default 64) over the queries (a raw little-endian float32 file, DIM
 * floats per query), and prints each pass's QPS, then the process's
 * resident and huge-page memory (/proc/self/smaps_rollup). QPS only: for
 * recall, run the harness. Write the queries of an ANN-Benchmarks file with
 *   /usr/bin/python3 -c "import h5py, numpy; numpy.asarray(h5py.File('F.hdf5')['test'],
 *       dtype='<f4').tofile('q.f32')"
 * CANNOLI_HUGEPAGES=0 shows the same without huge pages.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cannoli/cannoli.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s INDEX.cnidx QUERIES.f32 DIM [EF [PASSES]]\n", argv[0]);
        return 2;
    }
    const size_t d = (size_t)strtoul(argv[3], NULL, 10);
    const long ef = argc > 4 ? strtol(argv[4], NULL, 10) : 64;
    const int passes = argc > 5 ? atoi(argv[5]) : 4;
    char err[1024];
    cn_index_t *ix = NULL;
    double t0 = now_s();
    if (cn_index_load(&ix, argv[1], err, sizeof err) != CN_OK) {
        fprintf(stderr, "cn_loadpasses: %s\n", err);
        return 1;
    }
    printf("loaded %s in %.2f s\n", argv[1], now_s() - t0);
    FILE *f = fopen(argv[2], "rb");
    if (!f || d == 0 || d != ix->dim) {
        fprintf(stderr, "cn_loadpasses: %s: %s\n", argv[2],
                f ? "DIM does not match the index" : "cannot open");
        if (f) fclose(f);
        cn_index_destroy(ix);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    const size_t nq = (size_t)ftell(f) / (d * sizeof(float));
    fseek(f, 0, SEEK_SET);
    float *qs = malloc(nq * d * sizeof *qs);
    if (!qs || nq == 0 || fread(qs, sizeof *qs, nq * d, f) != nq * d) {
        fprintf(stderr, "cn_loadpasses: %s: no whole queries read\n", argv[2]);
        fclose(f);
        free(qs);
        cn_index_destroy(ix);
        return 1;
    }
    fclose(f);
    cn_search_ctx_t *ctx = NULL;
    cn_param_t sp = {.key = "ef", .type = CN_PARAM_INT, .i = ef, .f = (double)ef};
    cn_params_t sps = {&sp, 1};
    if (cn_search_ctx_create(ix, &ctx, err, sizeof err) != CN_OK ||
        cn_search_ctx_set_params(ctx, &sps, err, sizeof err) != CN_OK) {
        fprintf(stderr, "cn_loadpasses: %s\n", err);
        cn_search_ctx_destroy(ctx);
        free(qs);
        cn_index_destroy(ix);
        return 1;
    }
    for (int p = 0; p < passes; p++) {
        double t1 = now_s();
        for (size_t i = 0; i < nq; i++) {
            uint32_t ids[10];
            float dd[10];
            cn_vec_t v = {.dense = qs + i * d};
            if (cn_index_search(ctx, &v, 10, ids, dd, NULL, err, sizeof err) != CN_OK) {
                fprintf(stderr, "cn_loadpasses: query %zu: %s\n", i, err);
                return 1;
            }
        }
        printf("pass %d: %.0f QPS (%zu queries, ef %ld)\n", p + 1, (double)nq / (now_s() - t1),
               nq, ef);
    }
    FILE *sm = fopen("/proc/self/smaps_rollup", "r");
    char line[256];
    while (sm && fgets(line, sizeof line, sm))
        if (!strncmp(line, "Rss:", 4) || !strncmp(line, "AnonHugePages:", 14)) fputs(line, stdout);
    if (sm) fclose(sm);
    cn_search_ctx_destroy(ctx);
    free(qs);
    cn_index_destroy(ix);
    return 0;
}
