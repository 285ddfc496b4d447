/*
 * harness/sparse_io.c — sparse vector files: big-ann-benchmarks .csr and
 * .gt100 (Simhadri et al., "Results of the NeurIPS'21 Challenge on Billion-
 * Scale ANN", the sparse track's formats) and kANNolo's sparse .bin.
 *
 * Files are read whole and parsed against their own size: every count in a
 * header is checked against the bytes that remain before anything is
 * allocated from it, so a truncated or hostile file is a one-line error
 * naming the file, never a crash or a huge allocation. Components inside a
 * row must end up strictly increasing: rows written out of order are sorted
 * (with their values), duplicates and out-of-range components are rejected
 * (cn_sparse_check in the library gives the message).
 *
 * Invariants: on failure the output is zeroed and err holds "PATH: problem".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cannoli/store.h"
#include "dataset.h"

void cn_csr_free(cn_csr_t *c) {
    if (!c) return;
    cn_free(c->indptr);
    cn_free(c->indices);
    cn_free(c->values);
    memset(c, 0, sizeof *c);
}

double cn_csr_dot(const cn_csr_t *a, uint32_t i, const cn_csr_t *b, uint32_t j) {
    uint64_t x = a->indptr[i], xe = a->indptr[i + 1], y = b->indptr[j], ye = b->indptr[j + 1];
    double s = 0;
    while (x < xe && y < ye) {
        uint32_t cx = a->indices[x], cy = b->indices[y];
        if (cx == cy)
            s += (double)a->values[x++] * (double)b->values[y++];
        else if (cx < cy)
            x++;
        else
            y++;
    }
    return s;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Position of c in the sorted table u[0..m), or -1. */
static int64_t find_u32(const uint32_t *u, uint64_t m, uint32_t c) {
    uint64_t lo = 0, hi = m;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (u[mid] < c) lo = mid + 1;
        else hi = mid;
    }
    return lo < m && u[lo] == c ? (int64_t)lo : -1;
}

int cn_csr_compact(cn_csr_t *train, cn_csr_t *test, uint32_t *dim, const char *path, char *err,
                   size_t errlen) {
    uint64_t nnz = train->indptr[train->rows], m = 0;
    uint32_t *u = cn_malloc(nnz ? (size_t)nnz * sizeof *u : 1);
    if (!u) {
        cn_error(err, errlen, CN_ENOMEM, "%s: out of memory renumbering %llu components", path,
                 (unsigned long long)nnz);
        return -1;
    }
    if (nnz) memcpy(u, train->indices, (size_t)nnz * sizeof *u);
    qsort(u, (size_t)nnz, sizeof *u, cmp_u32);
    for (uint64_t k = 0; k < nnz; k++)
        if (m == 0 || u[k] != u[m - 1]) u[m++] = u[k];
    for (uint64_t k = 0; k < nnz; k++) train->indices[k] = (uint32_t)find_u32(u, m, train->indices[k]);
    /* test: keep the components train has, renumbered; rows shift left */
    uint64_t w = 0;
    for (uint32_t i = 0; i < test->rows; i++) {
        uint64_t b = test->indptr[i], e = test->indptr[i + 1];
        test->indptr[i] = w;
        for (uint64_t k = b; k < e; k++) {
            int64_t c = find_u32(u, m, test->indices[k]);
            if (c < 0) continue;
            test->indices[w] = (uint32_t)c;
            test->values[w++] = test->values[k];
        }
    }
    test->indptr[test->rows] = w;
    cn_free(u);
    *dim = m ? (uint32_t)m : 1;
    return 0;
}

int cn_csr_copy(cn_csr_t *dst, const cn_csr_t *src) {
    uint64_t nnz = src->indptr[src->rows];
    memset(dst, 0, sizeof *dst);
    dst->rows = src->rows;
    dst->indptr = cn_malloc(((size_t)src->rows + 1) * sizeof *dst->indptr);
    dst->indices = cn_malloc(nnz ? (size_t)nnz * sizeof *dst->indices : 1);
    dst->values = cn_malloc(nnz ? (size_t)nnz * sizeof *dst->values : 1);
    if (!dst->indptr || !dst->indices || !dst->values) {
        cn_csr_free(dst);
        return -1;
    }
    memcpy(dst->indptr, src->indptr, ((size_t)src->rows + 1) * sizeof *dst->indptr);
    if (nnz) {
        memcpy(dst->indices, src->indices, (size_t)nnz * sizeof *dst->indices);
        memcpy(dst->values, src->values, (size_t)nnz * sizeof *dst->values);
    }
    return 0;
}

/* Insertion sort of one row by component (rows are short). */
static void sort_row(uint32_t *idx, float *val, size_t m) {
    for (size_t i = 1; i < m; i++) {
        uint32_t c = idx[i];
        float v = val[i];
        size_t j = i;
        while (j > 0 && idx[j - 1] > c) {
            idx[j] = idx[j - 1];
            val[j] = val[j - 1];
            j--;
        }
        idx[j] = c;
        val[j] = v;
    }
}

int cn_csr_normalise(cn_csr_t *c, uint32_t dim, const char *path, char *err, size_t errlen) {
    for (uint32_t i = 0; i < c->rows; i++) {
        uint64_t b = c->indptr[i], e = c->indptr[i + 1];
        for (uint64_t k = b + 1; k < e; k++)
            if (c->indices[k] < c->indices[k - 1]) {
                sort_row(c->indices + b, c->values + b, (size_t)(e - b));
                break;
            }
    }
    if (cn_sparse_check(c->indptr, c->indices, c->values, c->rows, dim, path, err, errlen) !=
        CN_OK)
        return -1;
    return 0;
}

/* Reads the whole file into a cn_malloc'd buffer. */
static int slurp(const char *path, unsigned char **buf, size_t *size, char *err, size_t errlen) {
    struct stat sb;
    *buf = NULL;
    *size = 0;
    FILE *f = cn_fopen_regular(path, &sb, err, errlen);
    if (!f) return -1;
    size_t n = (size_t)sb.st_size;
    unsigned char *b = cn_malloc(n ? n : 1);
    if (!b) {
        fclose(f);
        cn_error(err, errlen, CN_ENOMEM, "%s: out of memory reading %zu bytes", path, n);
        return -1;
    }
    if (n && fread(b, 1, n, f) != n) {
        fclose(f);
        cn_free(b);
        cn_error(err, errlen, CN_EIO, "%s: read error", path);
        return -1;
    }
    fclose(f);
    *buf = b;
    *size = n;
    return 0;
}

static int alloc_csr(cn_csr_t *c, uint32_t rows, uint64_t nnz, const char *path, char *err,
                     size_t errlen) {
    c->rows = rows;
    c->indptr = cn_malloc(((size_t)rows + 1) * sizeof *c->indptr);
    c->indices = cn_malloc(nnz ? (size_t)nnz * sizeof *c->indices : 1);
    c->values = cn_malloc(nnz ? (size_t)nnz * sizeof *c->values : 1);
    if (!c->indptr || !c->indices || !c->values) {
        cn_csr_free(c);
        cn_error(err, errlen, CN_ENOMEM, "%s: out of memory for %u rows, %llu nonzeros", path,
                 rows, (unsigned long long)nnz);
        return -1;
    }
    return 0;
}

int cn_read_csr(const char *path, cn_csr_t *out, uint32_t *ncol, char *err, size_t errlen) {
    unsigned char *b = NULL;
    size_t size;
    cn_csr_t c = {0};
    memset(out, 0, sizeof *out);
    *ncol = 0;
    if (slurp(path, &b, &size, err, errlen)) return -1;
    int64_t h[3];
    int rc = -1;
    if (size < sizeof h) {
        cn_error(err, errlen, CN_EFORMAT, "%s: truncated: %zu bytes, the .csr header needs 24",
                 path, size);
        goto out;
    }
    memcpy(h, b, sizeof h);
    if (h[0] <= 0 || h[0] > (int64_t)UINT32_MAX - 1 || h[1] <= 0 || h[1] > (int64_t)UINT32_MAX ||
        h[2] < 0) {
        cn_error(err, errlen, CN_EFORMAT,
                 "%s: invalid .csr header (nrow %lld, ncol %lld, nnz %lld)", path, (long long)h[0],
                 (long long)h[1], (long long)h[2]);
        goto out;
    }
    uint64_t nrow = (uint64_t)h[0], nnz = (uint64_t)h[2];
    uint64_t rest = size - sizeof h, need_ptr = (nrow + 1) * 8;
    if (need_ptr > rest || nnz > (rest - need_ptr) / 8 || rest != need_ptr + nnz * 8) {
        cn_error(err, errlen, CN_EFORMAT,
                 "%s: %s: %zu bytes, but %llu rows and %llu nonzeros need %llu", path,
                 rest < need_ptr + nnz * 8 ? "truncated" : "trailing bytes", size,
                 (unsigned long long)nrow, (unsigned long long)nnz,
                 (unsigned long long)(sizeof h + need_ptr + nnz * 8));
        goto out;
    }
    if (alloc_csr(&c, (uint32_t)nrow, nnz, path, err, errlen)) goto out;
    const unsigned char *p = b + sizeof h;
    memcpy(c.indptr, p, (size_t)need_ptr);
    p += need_ptr;
    int64_t prev = 0;
    for (uint64_t i = 0; i <= nrow; i++) {
        int64_t v = (int64_t)c.indptr[i];
        if ((i == 0 && v != 0) || v < prev || (uint64_t)v > nnz || (i == nrow && (uint64_t)v != nnz)) {
            cn_error(err, errlen, CN_EFORMAT,
                     "%s: row pointer %llu is %lld (must rise from 0 to nnz = %llu)", path,
                     (unsigned long long)i, (long long)v, (unsigned long long)nnz);
            goto out;
        }
        prev = v;
    }
    for (uint64_t k = 0; k < nnz; k++) {
        int32_t ci;
        memcpy(&ci, p + k * 4, 4);
        if (ci < 0 || (int64_t)ci >= h[1]) {
            uint32_t row = 0;
            while (row < nrow && c.indptr[row + 1] <= k) row++;
            cn_error(err, errlen, CN_EFORMAT,
                     "%s: vector %u: component %d is outside the %lld columns", path, row,
                     (int)ci, (long long)h[1]);
            goto out;
        }
        c.indices[k] = (uint32_t)ci;
    }
    memcpy(c.values, p + nnz * 4, (size_t)nnz * 4);
    if (cn_csr_normalise(&c, (uint32_t)h[1], path, err, errlen)) goto out;
    *ncol = (uint32_t)h[1];
    *out = c;
    memset(&c, 0, sizeof c);
    rc = 0;
out:
    cn_csr_free(&c);
    cn_free(b);
    return rc;
}

int cn_read_kannolo_bin(const char *path, cn_csr_t *out, uint32_t *max_comp1, char *err,
                        size_t errlen) {
    unsigned char *b = NULL;
    size_t size;
    cn_csr_t c = {0};
    memset(out, 0, sizeof *out);
    *max_comp1 = 0;
    if (slurp(path, &b, &size, err, errlen)) return -1;
    int rc = -1;
    uint32_t n;
    if (size < 4) {
        cn_error(err, errlen, CN_EFORMAT, "%s: truncated: %zu bytes, no vector count", path,
                 size);
        goto out;
    }
    memcpy(&n, b, 4);
    if (n == 0 || (uint64_t)n * 4 > size - 4) {
        cn_error(err, errlen, CN_EFORMAT, "%s: truncated: %u vectors announced in %zu bytes",
                 path, n, size);
        goto out;
    }
    /* first pass: record boundaries and the total */
    uint64_t off = 4, nnz = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t m;
        if (size - off < 4) {
            cn_error(err, errlen, CN_EFORMAT, "%s: truncated at vector %u of %u", path, i, n);
            goto out;
        }
        memcpy(&m, b + off, 4);
        if ((uint64_t)m * 8 > size - off - 4) {
            cn_error(err, errlen, CN_EFORMAT,
                     "%s: truncated: vector %u announces %u nonzeros, %llu bytes remain", path, i,
                     m, (unsigned long long)(size - off - 4));
            goto out;
        }
        off += 4 + (uint64_t)m * 8;
        nnz += m;
    }
    if (off != size) {
        cn_error(err, errlen, CN_EFORMAT, "%s: %llu trailing bytes after %u vectors", path,
                 (unsigned long long)(size - off), n);
        goto out;
    }
    if (alloc_csr(&c, n, nnz, path, err, errlen)) goto out;
    off = 4;
    uint64_t k = 0;
    uint32_t mx = 0;
    c.indptr[0] = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t m;
        memcpy(&m, b + off, 4);
        memcpy(c.indices + k, b + off + 4, (size_t)m * 4);
        memcpy(c.values + k, b + off + 4 + (size_t)m * 4, (size_t)m * 4);
        for (uint32_t j = 0; j < m; j++)
            if (c.indices[k + j] + 1u > mx) mx = c.indices[k + j] + 1u;
        off += 4 + (uint64_t)m * 8;
        k += m;
        c.indptr[i + 1] = k;
    }
    if (mx == 0 && nnz > 0) { /* component UINT32_MAX wraps */
        cn_error(err, errlen, CN_EFORMAT, "%s: component 4294967295 is out of range", path);
        goto out;
    }
    if (cn_csr_normalise(&c, mx ? mx : 1, path, err, errlen)) goto out;
    *max_comp1 = mx;
    *out = c;
    memset(&c, 0, sizeof c);
    rc = 0;
out:
    cn_csr_free(&c);
    cn_free(b);
    return rc;
}

int cn_read_gt100(const char *path, int32_t **ids, float **scores, uint32_t *nq, uint32_t *k,
                  char *err, size_t errlen) {
    unsigned char *b = NULL;
    size_t size;
    *ids = NULL;
    *scores = NULL;
    *nq = *k = 0;
    if (slurp(path, &b, &size, err, errlen)) return -1;
    int rc = -1;
    int32_t h[2];
    if (size < sizeof h) {
        cn_error(err, errlen, CN_EFORMAT, "%s: truncated: no .gt100 header", path);
        goto out;
    }
    memcpy(h, b, sizeof h);
    /* nq * k < 2^62, but nq * k * 8 can wrap 2^64: compare counts, not bytes */
    if (h[0] > 0 && h[1] > 0 && (uint64_t)h[0] * (uint64_t)h[1] > UINT64_MAX / 8) {
        cn_error(err, errlen, CN_EFORMAT,
                 "%s: header declares too many entries (%d queries x %d neighbours, more "
                 "than 2^64 bytes; the file has %zu)",
                 path, (int)h[0], (int)h[1], size);
        goto out;
    }
    if (h[0] <= 0 || h[1] <= 0 ||
        (uint64_t)h[0] * (uint64_t)h[1] * 8 != (uint64_t)(size - sizeof h)) {
        cn_error(err, errlen, CN_EFORMAT,
                 "%s: header says %d queries x %d neighbours but the file has %zu bytes", path,
                 (int)h[0], (int)h[1], size);
        goto out;
    }
    size_t cnt = (size_t)h[0] * (size_t)h[1];
    int32_t *i32 = cn_malloc(cnt * 4);
    float *f32 = cn_malloc(cnt * 4);
    if (!i32 || !f32) {
        cn_free(i32);
        cn_free(f32);
        cn_error(err, errlen, CN_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    memcpy(i32, b + sizeof h, cnt * 4);
    memcpy(f32, b + sizeof h + cnt * 4, cnt * 4);
    *ids = i32;
    *scores = f32;
    *nq = (uint32_t)h[0];
    *k = (uint32_t)h[1];
    rc = 0;
out:
    cn_free(b);
    return rc;
}
