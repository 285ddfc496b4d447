/*
 * harness/vecs.c — texmex vector files (.fvecs, .bvecs, .ivecs).
 *
 * The format of the INRIA texmex corpus (Jégou, Douze & Schmid, "Product
 * quantization for nearest neighbor search", TPAMI 33(1), 2011; SIFT1M and
 * GIST1M are distributed this way): every vector is a little-endian int32
 * dimension d followed by d values — float32 (.fvecs), uint8 (.bvecs) or
 * int32 (.ivecs, used for ground-truth ids). There is no header, so the only
 * checks possible are that every record announces the same, sane dimension
 * and that the file ends exactly at a record boundary; both are done while
 * reading, so the error can name the record at fault.
 *
 * Invariants: on success *data holds n x dim values (cn_malloc'd) and n, dim
 * are > 0; on failure *data is NULL, *n = *dim = 0 and err names the file.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "dataset.h"

/* A dimension above this is a corrupt (or non-texmex) file, not real data. */
#define MAX_DIM (1 << 24)

enum kind { K_FLOAT, K_BYTE, K_INT };

static const char *ext_of(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(path, '.');
    return dot && (!slash || dot > slash) ? dot + 1 : "";
}

/* Reads the whole file as records of kind k; out values are 4 bytes each
 * (float for K_FLOAT/K_BYTE, int32 for K_INT). */
static int read_xvecs(const char *path, enum kind k, void **data, uint32_t *n, uint32_t *dim,
                      char *err, size_t errlen) {
    size_t elem = k == K_BYTE ? 1 : 4;
    FILE *fp = NULL;
    unsigned char *out = NULL, *row = NULL;
    int rc = -1;
    struct stat sb;
    *data = NULL;
    *n = *dim = 0;

    if (!(fp = cn_fopen_regular(path, &sb, err, errlen))) return -1;
    size_t size = (size_t)sb.st_size;
    if (size == 0) {
        cn_error(err, errlen, CN_EFORMAT, "%s: empty file", path);
        goto out;
    }
    int32_t d;
    if (size < sizeof d || fread(&d, sizeof d, 1, fp) != 1) {
        cn_error(err, errlen, CN_EFORMAT, "%s: truncated: %zu bytes, not even one record header",
                 path, size);
        goto out;
    }
    if (d <= 0 || d > MAX_DIM) {
        cn_error(err, errlen, CN_EFORMAT,
                 "%s: invalid dimension %d in the first record (not a %s file?)", path, (int)d,
                 k == K_FLOAT ? ".fvecs" : k == K_BYTE ? ".bvecs" : ".ivecs");
        goto out;
    }
    size_t rec = sizeof d + (size_t)d * elem;
    size_t nrec = size / rec; /* complete records if all are consistent */
    if (nrec > UINT32_MAX) {
        cn_error(err, errlen, CN_EFORMAT, "%s: more than 2^32 vectors", path);
        goto out;
    }
    if (nrec == 0) {
        cn_error(err, errlen, CN_EFORMAT,
                 "%s: truncated: record 0 needs %zu bytes but the file has %zu", path, rec, size);
        goto out;
    }
    out = cn_malloc(nrec * (size_t)d * 4);
    if (k == K_BYTE) row = cn_malloc((size_t)d);
    if (!out || (k == K_BYTE && !row)) {
        cn_error(err, errlen, CN_ENOMEM, "%s: out of memory for %zu x %d values", path, nrec,
                 (int)d);
        goto out;
    }
    size_t off = 0;
    for (size_t i = 0; off < size; i++, off += rec) {
        int32_t di = d;
        if (i > 0) {
            if (size - off < sizeof di || fread(&di, sizeof di, 1, fp) != 1) {
                cn_error(err, errlen, CN_EFORMAT,
                         "%s: truncated: %zu stray bytes after record %zu", path, size - off,
                         i - 1);
                goto out;
            }
            if (di != d) {
                cn_error(err, errlen, CN_EFORMAT,
                         "%s: record %zu has dimension %d but record 0 has %d", path, i,
                         (int)di, (int)d);
                goto out;
            }
        }
        if (size - off < rec) {
            cn_error(err, errlen, CN_EFORMAT,
                     "%s: truncated: last record %zu has %zu of its %zu bytes", path, i,
                     size - off, rec);
            goto out;
        }
        unsigned char *dst = out + i * (size_t)d * 4;
        if (k == K_BYTE) {
            if (fread(row, 1, (size_t)d, fp) != (size_t)d) goto ioerr;
            float *fd = (float *)(void *)dst;
            for (int32_t j = 0; j < d; j++) fd[j] = (float)row[j];
        } else if (fread(dst, 4, (size_t)d, fp) != (size_t)d) {
            goto ioerr;
        }
    }
    *data = out;
    out = NULL;
    *n = (uint32_t)nrec;
    *dim = (uint32_t)d;
    rc = 0;
    goto out;
ioerr:
    cn_error(err, errlen, CN_EIO, "%s: read error: %s", path,
             ferror(fp) ? strerror(errno) : "unexpected end of file");
out:
    cn_free(out);
    cn_free(row);
    if (fp) fclose(fp);
    return rc;
}

int cn_read_vecs(const char *path, float **data, uint32_t *n, uint32_t *dim, char *err,
                 size_t errlen) {
    const char *ext = ext_of(path);
    void *p = NULL;
    int rc;
    if (!strcmp(ext, "fvecs"))
        rc = read_xvecs(path, K_FLOAT, &p, n, dim, err, errlen);
    else if (!strcmp(ext, "bvecs"))
        rc = read_xvecs(path, K_BYTE, &p, n, dim, err, errlen);
    else {
        *data = NULL;
        *n = *dim = 0;
        cn_error(err, errlen, CN_EUNSUPPORTED,
                 "%s: unsupported vector file type '.%s' (expected .fvecs or .bvecs)", path, ext);
        return -1;
    }
    *data = p;
    return rc;
}

int cn_read_ivecs(const char *path, int32_t **data, uint32_t *n, uint32_t *k, char *err,
                  size_t errlen) {
    void *p = NULL;
    int rc = read_xvecs(path, K_INT, &p, n, k, err, errlen);
    *data = p;
    return rc;
}
