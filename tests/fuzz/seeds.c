/*
 * tests/fuzz/seeds.c — writes the seed corpus of every fuzz target into
 * OUT/<target>/: small valid inputs of each format (and the project's
 * the configs/ folder's YAML files), so the fuzzers start from files that load. Run by
 * tests/fuzz/run.sh and, as a ctest fixture, before the replay tests.
 *
 *   fuzz_seeds OUT
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cannoli/cannoli.h"
#include "rows.h"

static const char *out_dir;

static void put(const char *target, const char *name, const void *a, size_t na, const void *b,
                size_t nb) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", out_dir, target);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/%s/%s", out_dir, target, name);
    FILE *f = fopen(p, "wb");
    if (!f || (na && fwrite(a, 1, na, f) != na) || (nb && fwrite(b, 1, nb, f) != nb)) {
        fprintf(stderr, "fuzz_seeds: cannot write %s\n", p);
        exit(1);
    }
    fclose(f);
}

/* ---- texmex and sparse files ---------------------------------------------- */

static void seeds_files(void) {
    unsigned char b[512];
    size_t n = 0;
    /* .fvecs: 3 vectors of dim 4 */
    b[n++] = 0;
    for (int i = 0; i < 3; i++) {
        int32_t d = 4;
        memcpy(b + n, &d, 4), n += 4;
        for (int j = 0; j < 4; j++) {
            float x = (float)(i * 4 + j) * 0.5f;
            memcpy(b + n, &x, 4), n += 4;
        }
    }
    put("vecs", "fvecs", b, n, NULL, 0);
    n = 0;
    b[n++] = 1; /* .bvecs */
    for (int i = 0; i < 3; i++) {
        int32_t d = 5;
        memcpy(b + n, &d, 4), n += 4;
        for (int j = 0; j < 5; j++) b[n++] = (unsigned char)(i * 5 + j);
    }
    put("vecs", "bvecs", b, n, NULL, 0);
    n = 0;
    b[n++] = 2; /* .ivecs */
    for (int i = 0; i < 2; i++) {
        int32_t d = 3;
        memcpy(b + n, &d, 4), n += 4;
        for (int32_t j = 0; j < 3; j++) memcpy(b + n, &j, 4), n += 4;
    }
    put("vecs", "ivecs", b, n, NULL, 0);

    /* .csr: 3 rows, 10 columns, 5 nonzeros (one row unsorted) */
    n = 0;
    b[n++] = 0;
    int64_t h[3] = {3, 10, 5}, ptr[4] = {0, 2, 2, 5};
    int32_t idx[5] = {1, 7, 9, 3, 4};
    float val[5] = {0.5f, 1, 2, 0.25f, 3};
    memcpy(b + n, h, sizeof h), n += sizeof h;
    memcpy(b + n, ptr, sizeof ptr), n += sizeof ptr;
    memcpy(b + n, idx, sizeof idx), n += sizeof idx;
    memcpy(b + n, val, sizeof val), n += sizeof val;
    put("sparse", "csr", b, n, NULL, 0);
    /* kANNolo .bin: 2 vectors */
    n = 0;
    b[n++] = 1;
    uint32_t w[] = {2, 2, 3, 40000}; /* count; nnz, components */
    float v1[2] = {1.5f, 2}, v2[1] = {0.5f};
    memcpy(b + n, w, 16), n += 16;
    memcpy(b + n, v1, 8), n += 8;
    uint32_t m2[2] = {1, 70000};
    memcpy(b + n, m2, 8), n += 8;
    memcpy(b + n, v2, 4), n += 4;
    put("sparse", "bin", b, n, NULL, 0);
    /* .gt100: 2 queries x 2 */
    n = 0;
    b[n++] = 2;
    int32_t g[2 + 4 + 4] = {2, 2, 0, 1, 1, 0};
    float s[4] = {3, 2, 1, 0.5f};
    memcpy(g + 6, s, sizeof s);
    memcpy(b + n, g, sizeof g), n += sizeof g;
    put("sparse", "gt100", b, n, NULL, 0);
}

/* ---- HDF5 descriptions (see fuzz_hdf5.c) ------------------------------------ */

static void seeds_hdf5(void) {
    /* dense: flags neighbors|distances|distance=euclidean|point_type */
    unsigned char d[256];
    size_t n = 0;
    d[n++] = 2 | 4 | 16 | 128;
    d[n++] = 1, d[n++] = 4, d[n++] = 3, d[n++] = 2; /* train: rank 2, 4 x 3, u8 */
    for (int i = 0; i < 12; i++) d[n++] = (unsigned char)(i * 7);
    d[n++] = 1, d[n++] = 2, d[n++] = 3, d[n++] = 2; /* test 2 x 3 u8 */
    for (int i = 0; i < 6; i++) d[n++] = (unsigned char)(i * 5);
    d[n++] = 1, d[n++] = 2, d[n++] = 2, d[n++] = 3; /* neighbors 2 x 2 i32 */
    int32_t nb[4] = {0, 1, 2, 3};
    memcpy(d + n, nb, 16), n += 16;
    d[n++] = 1, d[n++] = 2, d[n++] = 2, d[n++] = 0; /* distances 2 x 2 f32 */
    float di[4] = {1, 2, 3, 4};
    memcpy(d + n, di, 16), n += 16;
    put("hdf5", "dense", d, n, NULL, 0);
    /* float32 train without neighbours (ground truth not needed by the target) */
    n = 0;
    d[n++] = 16 | (1 << 5);
    d[n++] = 1, d[n++] = 3, d[n++] = 2, d[n++] = 0;
    float tr[6] = {1, 0, 0, 1, 1, 1};
    memcpy(d + n, tr, sizeof tr), n += sizeof tr;
    d[n++] = 1, d[n++] = 1, d[n++] = 2, d[n++] = 0;
    memcpy(d + n, tr, 8), n += 8;
    put("hdf5", "dense-angular", d, n, NULL, 0);
    /* sparse: 2 train rows, 1 test row, dimension 100, ip, neighbours 1 x 1 */
    n = 0;
    d[n++] = 1 | 2 | 8 | 16 | (2 << 5) | 128;
    d[n++] = 3, d[n++] = 0, d[n++] = 2, d[n++] = 3;  /* train_indptr 0,2,3 */
    d[n++] = 3, d[n++] = 5, d[n++] = 9, d[n++] = 5;  /* train_indices */
    d[n++] = 3, d[n++] = 8, d[n++] = 16, d[n++] = 4; /* train_data */
    d[n++] = 2, d[n++] = 0, d[n++] = 1;              /* test_indptr */
    d[n++] = 1, d[n++] = 9;                          /* test_indices */
    d[n++] = 1, d[n++] = 8;                          /* test_data */
    d[n++] = 1, d[n++] = 1, d[n++] = 1, d[n++] = 3;  /* neighbors 1 x 1 i32 */
    int32_t one = 0;
    memcpy(d + n, &one, 4), n += 4;
    d[n++] = 100; /* dimension */
    put("hdf5", "sparse", d, n, NULL, 0);
}

/* ---- configs ------------------------------------------------------------------ */

static void seeds_config(void) {
    static const char *const inline_cfgs[] = {
        "name: a\ndataset: synth-20k-64-euclidean\nk: 10\nruns: 2\nthreads: [1, 2]\n"
        "algorithms:\n  - name: h\n    index: hnsw\n    quantizer: {name: pq, subspaces: [8, 16], nbits: 8}\n"
        "    build: {M: [8, 16], ef_construction: 100, build_on: [original, quantized]}\n"
        "    search: {ef: [10, 20], rerank: [0, 20]}\n  - {index: flat}\n",
        "dataset: {train: a.csr, test: b.bin, neighbors: c.gt100, distance: ip}\nk: [1, 10]\n"
        "algorithms:\n  - {name: inv, index: inverted, quantizer: {name: sparse, values: f16},\n"
        "     search: {keep: [0.5, 1], query_terms: [0, 5]}}\n",
        "name: q\ndataset: [glove100-10k, synth-20k-64-angular]\nseed: 7\nbuild_threads: 2\n"
        "algorithms:\n  - {index: hnsw, quantizer: sq8, build: {M: 12}, search: {ef: [20, 40]}}\n"
        "  - {index: hnsw, quantizer: f16}\n",
    };
    char name[32];
    for (size_t i = 0; i < sizeof inline_cfgs / sizeof *inline_cfgs; i++) {
        snprintf(name, sizeof name, "inline-%zu.yaml", i);
        put("config", name, inline_cfgs[i], strlen(inline_cfgs[i]), NULL, 0);
    }
    DIR *dir = opendir(CN_SOURCE_DIR "/configs");
    struct dirent *e;
    while (dir && (e = readdir(dir)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".yaml")) continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/configs/%s", CN_SOURCE_DIR, e->d_name);
        FILE *f = fopen(p, "rb");
        if (!f) continue;
        char buf[1 << 16];
        size_t got = fread(buf, 1, sizeof buf, f);
        fclose(f);
        put("config", e->d_name, buf, got, NULL, 0);
    }
    if (dir) closedir(dir);
}

/* ---- CSV -------------------------------------------------------------------- */

static void seeds_csv(void) {
    char hdr[8192] = "", row[8192] = "";
    size_t at = 0, rt = 0;
    hdr[at++] = 0; /* first byte even: the header is part of the input */
    for (size_t i = 0; i < cn_csv_ncolumns; i++) {
        at += (size_t)snprintf(hdr + at, sizeof hdr - at, "%s%s", cn_csv_columns[i],
                               i + 1 < cn_csv_ncolumns ? "," : "\n");
        const char *v = !strcmp(cn_csv_columns[i], "build_params") ? "\"M=16;ef_construction=200\""
                        : !strcmp(cn_csv_columns[i], "recall")     ? "0.95"
                                                                   : "1";
        rt += (size_t)snprintf(row + rt, sizeof row - rt, "%s%s", v,
                               i + 1 < cn_csv_ncolumns ? "," : "\n");
    }
    put("csv", "results", hdr, at, row, rt);
    char odd = 1; /* header supplied by the target */
    char rows2[16384];
    snprintf(rows2, sizeof rows2, "%s%s", row, row);
    put("csv", "rows-only", &odd, 1, rows2, strlen(rows2));
    static const char quoted[] = "\001a,\"b,\"\"c\"\"\",\"d\ne\"\n1,2,3\n";
    put("csv", "quoted", quoted, sizeof quoted - 1, NULL, 0);
}

/* ---- NumPy .npy and big-ann files (binfmt) ------------------------------- */

/* A .npy file as NumPy writes it: magic, version, header length, the dict
 * padded with spaces to a multiple of 64 and ended by '\n', then the data. */
static void put_npy(const char *name, int major, const char *descr, unsigned rows,
                    unsigned cols, const void *values, size_t nbytes) {
    unsigned char b[512];
    size_t pre = major == 1 ? 10 : 12;
    char dict[128];
    int dl = snprintf(dict, sizeof dict,
                      "{'descr': '%s', 'fortran_order': False, 'shape': (%u, %u), }", descr,
                      rows, cols);
    size_t hlen = (size_t)dl + 1;
    hlen += (64 - (pre + hlen) % 64) % 64;
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major;
    b[7] = 0;
    for (size_t i = 0; i < pre - 8; i++) b[8 + i] = (unsigned char)(hlen >> (8 * i));
    memcpy(b + pre, dict, (size_t)dl);
    memset(b + pre + dl, ' ', hlen - (size_t)dl - 1);
    b[pre + hlen - 1] = '\n';
    put("binfmt", name, b, pre + hlen, values, nbytes);
}

/* big-ann: uint32 rows, uint32 cols, then the values. */
static void put_bigann(const char *name, uint32_t rows, uint32_t cols, const void *values,
                       size_t nbytes) {
    uint32_t h[2] = {rows, cols};
    put("binfmt", name, h, sizeof h, values, nbytes);
}

static void seeds_binfmt(void) {
    float f4[6] = {0.5f, -1, 2, 3.25f, 0, 1e3f};
    double f8[6] = {0.5, -1, 2, 3.25, 0, 1e3};
    uint16_t f2[6] = {0x3800, 0xbc00, 0x4000, 0x0001, 0x8000, 0x3c00}; /* a subnormal, -0 */
    uint16_t f2x[6] = {0x7c00, 0xfc00, 0x7e00, 0x0001, 0x7bff, 0x0400}; /* inf, NaN, max, min */
    uint8_t u1[6] = {0, 1, 2, 127, 128, 255};
    int32_t i4[4] = {0, 1, 1, 0};
    int64_t i8[4] = {1, 0, 0, 1};
    put_npy("npy-f4", 1, "<f4", 2, 3, f4, sizeof f4);
    put_npy("npy-f4-v2", 2, "<f4", 3, 2, f4, sizeof f4);
    put_npy("npy-f4-v3", 3, "<f4", 1, 6, f4, sizeof f4);
    put_npy("npy-f8", 1, "<f8", 2, 3, f8, sizeof f8);
    put_npy("npy-f2", 1, "<f2", 2, 3, f2, sizeof f2);
    put_npy("npy-f2-special", 1, "<f2", 3, 2, f2x, sizeof f2x);
    put_npy("npy-u1", 1, "|u1", 2, 3, u1, sizeof u1);
    put_npy("npy-i1", 1, "|i1", 3, 2, u1, sizeof u1);
    put_npy("npy-i4", 1, "<i4", 2, 2, i4, sizeof i4);
    put_npy("npy-i8", 1, "<i8", 2, 2, i8, sizeof i8);
    put_bigann("fbin", 2, 3, f4, sizeof f4);
    put_bigann("u8bin", 2, 3, u1, sizeof u1);
    put_bigann("i8bin-1x6", 1, 6, u1, sizeof u1);
    put_bigann("ibin", 2, 2, i4, sizeof i4);
    int32_t idd[8] = {0, 1, 1, 0};
    float dd[4] = {0, 1, 0, 1};
    memcpy(idd + 4, dd, sizeof dd);
    put_bigann("ibin-distances", 2, 2, idd, sizeof idd);
}

/* ---- index files ------------------------------------------------------------- */

static void save_payload(const cn_index_t *ix, const char *name) {
    char path[4096], err[1024];
    snprintf(path, sizeof path, "%s/.tmp-%s.cnidx", out_dir, name);
    if (cn_index_save(ix, path, err, sizeof err) != CN_OK) {
        fprintf(stderr, "fuzz_seeds: %s\n", err);
        exit(1);
    }
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)sz);
    if (!b || fread(b, 1, (size_t)sz, f) != (size_t)sz) exit(1);
    fclose(f);
    unlink(path);
    put("index", name, b + 12, (size_t)sz - 20, NULL, 0); /* payload: no header, no checksum */
    free(b);
}

static cn_param_t pint(const char *k, long long v) {
    cn_param_t p = {.key = k, .type = CN_PARAM_INT, .i = v, .f = (double)v};
    return p;
}

static void must(cn_status_t st, const char *err) {
    if (st != CN_OK) {
        fprintf(stderr, "fuzz_seeds: %s\n", err);
        exit(1);
    }
}

static void seeds_index(void) {
    enum { N = 40, D = 8 };
    static float x[N * D];
    char err[1024] = "";
    uint32_t s = 12345;
    for (int i = 0; i < N * D; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / (float)(1 << 24) - 0.5f;
    }
    cn_store_t *full = NULL;
    must(cn_store_dense_create(&full, x, N, D, CN_METRIC_L2, err, sizeof err), err);
    cn_param_t hp[3] = {pint("M", 4), pint("ef_construction", 20), pint("seed", 1)};
    cn_params_t hparams = {hp, 3}, none = {NULL, 0};
    static const char *const quants[] = {"plain", "f16", "sq8", "pq"};
    for (size_t qi = 0; qi < 4; qi++) {
        cn_quantizer_t *q = NULL;
        cn_store_t *enc = NULL;
        cn_param_t pqp[3] = {pint("subspaces", 2), pint("nbits", 4), pint("iterations", 2)};
        cn_params_t qp = {pqp, !strcmp(quants[qi], "pq") ? 3 : 0};
        must(cn_quantizer_create(&q, quants[qi], CN_METRIC_L2, D, &qp, err, sizeof err), err);
        must(q->ops->train(q, full, err, sizeof err), err);
        must(q->ops->encode(q, full, &enc, err, sizeof err), err);
        cn_quantizer_destroy(q);
        for (int which = 0; which < 2; which++) {
            cn_index_t *ix = NULL;
            const char *iname = which ? "hnsw" : "flat";
            must(cn_index_create(&ix, iname, CN_METRIC_L2, D, which ? &hparams : &none, err,
                                 sizeof err),
                 err);
            int lossy = strcmp(quants[qi], "plain") != 0;
            must(cn_index_build(ix, full, enc, lossy ? full : NULL, 1, err, sizeof err), err);
            char name[64];
            snprintf(name, sizeof name, "%s-%s", iname, quants[qi]);
            save_payload(ix, name);
            cn_index_destroy(ix);
        }
        cn_store_release(enc);
    }
    cn_store_release(full);

    /* sparse: flat, hnsw and inverted over 6 rows of dimension 70000 (u32 components) */
    uint64_t ptr[7] = {0, 2, 3, 5, 6, 8, 9};
    uint32_t idx[9] = {1, 69999, 5, 1, 5, 7, 2, 3, 1};
    float val[9] = {1, 2, 3, 0.5f, 0.25f, 1, 2, 1, 4};
    uint32_t idx16[9];
    memcpy(idx16, idx, sizeof idx);
    idx16[1] = 99;
    for (int wide = 0; wide < 2; wide++) {
        cn_store_t *sp = NULL;
        must(cn_store_sparse_create(&sp, ptr, wide ? idx : idx16, val, 6, wide ? 70000 : 100, CN_METRIC_IP,
                                    wide ? CN_SPARSE_F32 : CN_SPARSE_F16, err, sizeof err),
             err);
        static const char *const inames[] = {"flat", "hnsw", "inverted"};
        for (int i = 0; i < 3; i++) {
            cn_index_t *ix = NULL;
            must(cn_index_create(&ix, inames[i], CN_METRIC_IP, wide ? 70000 : 100,
                                 i == 1 ? &hparams : &none, err, sizeof err),
                 err);
            must(cn_index_build(ix, sp, sp, NULL, 1, err, sizeof err), err);
            char name[64];
            snprintf(name, sizeof name, "sparse-%s-%s", inames[i], wide ? "u32" : "u16");
            save_payload(ix, name);
            cn_index_destroy(ix);
        }
        cn_store_release(sp);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seeds OUT\n");
        return 2;
    }
    out_dir = argv[1];
    if (mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
        perror(out_dir);
        return 1;
    }
    seeds_files();
    seeds_binfmt();
    seeds_hdf5();
    seeds_config();
    seeds_csv();
    seeds_index();
    printf("fuzz_seeds: corpus in %s\n", out_dir);
    return 0;
}
