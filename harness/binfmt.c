/*
 * harness/binfmt.c — the binary matrix formats researchers hold besides
 * texmex: NumPy .npy and the big-ann-benchmarks .fbin / .u8bin / .i8bin /
 * .ibin files.
 *
 * .npy (NumPy's format, versions 1.0, 2.0 and 3.0): the magic "\x93NUMPY",
 * a major and a minor version byte, the header length (uint16 LE in 1.0,
 * uint32 LE in 2.0/3.0), then a Python dict literal ending in '\n' with
 * exactly the keys 'descr', 'fortran_order' and 'shape', then the raw array.
 * Accepted: little-endian (or byte-order-free) float32, float16, float64,
 * uint8, int8 matrices of shape (n, d) in C order; ground-truth ids as int32
 * or int64 (n, k). Anything else -- a big-endian or complex dtype, Fortran
 * order, a shape that is not 2-D, a file whose size is not exactly header +
 * n*d*itemsize -- is a one-line error naming the file.
 *
 * big-ann (Simhadri et al., "Results of the NeurIPS'21 challenge on billion-
 * scale ANN", 2022): uint32 n, uint32 d, then n*d values -- float32 (.fbin),
 * uint8 (.u8bin) or int8 (.i8bin). Ground truth (.ibin): uint32 nq, uint32 k,
 * int32 ids[nq*k], then (optionally) float32 distances[nq*k]; the file's size
 * says which. Sizes must match the header exactly.
 *
 * Values are read with pread in chunks straight into the float32 result
 * (converted chunk by chunk for the narrower types), so loading never holds
 * a second copy of the matrix, and file pages are not counted in the
 * process's resident set as an mmap would make them.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataset_internal.h"

#define CHUNK_BYTES ((size_t)4 << 20)
#define MAX_DIM (1u << 24)

typedef enum { T_F32, T_F16, T_F64, T_U8, T_I8, T_I32, T_I64 } elem_t;

static size_t elem_size(elem_t t) {
    static const size_t sz[] = {4, 2, 8, 1, 1, 4, 8};
    return sz[t];
}

/* IEEE binary16 -> float (subnormals, infinities and NaN included). */
static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: value = man * 2^-24 */
            float f = (float)man * (1.0f / 16777216.0f);
            return sign ? -f : f;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static int open_file(const char *path, int *fd, size_t *size, char *err, size_t errlen) {
    struct stat sb;
    *fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* a FIFO must not block here */
    if (*fd < 0) {
        cn_error(err, errlen, CN_EIO, "%s: %s", path,
                 errno == ENOENT ? "no such file" : strerror(errno));
        return -1;
    }
    if (fstat(*fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        cn_error(err, errlen, CN_EIO, "%s: not a regular file", path);
        close(*fd);
        *fd = -1;
        return -1;
    }
    int fl = fcntl(*fd, F_GETFL);
    if (fl >= 0) fcntl(*fd, F_SETFL, fl & ~O_NONBLOCK);
    *size = (size_t)sb.st_size;
    return 0;
}

/* Reads exactly len bytes at off. */
static int read_at(int fd, void *buf, size_t len, size_t off, const char *path, char *err,
                   size_t errlen) {
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t r = pread(fd, p, len, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            cn_error(err, errlen, CN_EIO, "%s: read error: %s", path,
                     r < 0 ? strerror(errno) : "unexpected end of file");
            return -1;
        }
        p += r;
        len -= (size_t)r;
        off += (size_t)r;
    }
    return 0;
}

/* Reads count elements of type t at off into out: floats (T_F*, T_U8, T_I8)
 * or int32 ids (T_I32, T_I64; an int64 id outside int32 is an error). */
static int read_values(int fd, size_t off, size_t count, elem_t t, void *out, const char *path,
                       char *err, size_t errlen) {
    size_t es = elem_size(t);
    if (t == T_F32 || t == T_I32) /* already the output type */
        return read_at(fd, out, count * 4, off, path, err, errlen);
    unsigned char *buf = cn_malloc(CHUNK_BYTES);
    if (!buf) {
        cn_error(err, errlen, CN_ENOMEM, "%s: out of memory", path);
        return -1;
    }
    size_t per = CHUNK_BYTES / es, done = 0;
    float *fo = out;
    int32_t *io = out;
    int rc = 0;
    while (done < count && rc == 0) {
        size_t m = count - done < per ? count - done : per;
        if (read_at(fd, buf, m * es, off + done * es, path, err, errlen)) {
            rc = -1;
            break;
        }
        for (size_t i = 0; i < m; i++) {
            const unsigned char *s = buf + i * es;
            switch (t) {
            case T_F16: {
                uint16_t h;
                memcpy(&h, s, 2);
                fo[done + i] = half_to_float(h);
                break;
            }
            case T_F64: {
                double d;
                memcpy(&d, s, 8);
                fo[done + i] = (float)d;
                break;
            }
            case T_U8: fo[done + i] = (float)s[0]; break;
            case T_I8: fo[done + i] = (float)(int8_t)s[0]; break;
            case T_I64: {
                int64_t v;
                memcpy(&v, s, 8);
                if (v < INT32_MIN || v > INT32_MAX) {
                    cn_error(err, errlen, CN_EFORMAT,
                             "%s: id %lld at position %zu does not fit in 32 bits", path,
                             (long long)v, done + i);
                    rc = -1;
                    i = m;
                    break;
                }
                io[done + i] = (int32_t)v;
                break;
            }
            default: break;
            }
        }
        done += m;
    }
    cn_free(buf);
    return rc;
}

/* ---- .npy header ---------------------------------------------------------- */

typedef struct npy_hdr {
    elem_t type;
    uint64_t shape[3];
    int ndim;
    size_t data_off;
} npy_hdr_t;

static const char *skip_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    return p;
}

/* A Python string literal in single or double quotes (no escapes needed by
 * any valid header) into out. */
static const char *parse_str(const char *p, const char *end, char *out, size_t outlen) {
    if (p >= end || (*p != '\'' && *p != '"')) return NULL;
    char q = *p++;
    size_t n = 0;
    while (p < end && *p != q) {
        if (*p == '\\' || n + 1 >= outlen) return NULL;
        out[n++] = *p++;
    }
    if (p >= end) return NULL;
    out[n] = 0;
    return p + 1;
}

static int parse_npy_header(const char *path, const unsigned char *pre, size_t size, int fd,
                            npy_hdr_t *h, char *err, size_t errlen) {
    static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    char *txt = NULL;
    int rc = -1;
    if (size < 10 || memcmp(pre, magic, 6) != 0) {
        cn_error(err, errlen, CN_EFORMAT, "%s: not a .npy file (bad magic)", path);
        return -1;
    }
    unsigned major = pre[6], minor = pre[7];
    if (major < 1 || major > 3 || minor != 0) {
        cn_error(err, errlen, CN_EFORMAT, "%s: unsupported .npy version %u.%u (expected 1.0, "
                 "2.0 or 3.0)", path, major, minor);
        return -1;
    }
    size_t hlen, hoff;
    if (major == 1) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
        hoff = 10;
    } else {
        if (size < 12) {
            cn_error(err, errlen, CN_EFORMAT, "%s: truncated .npy header", path);
            return -1;
        }
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 |
               (size_t)pre[11] << 24;
        hoff = 12;
    }
    if (hlen == 0 || hlen > (1u << 20) || hoff + hlen > size) {
        cn_error(err, errlen, CN_EFORMAT, "%s: truncated or corrupt .npy header (length %zu, "
                 "file %zu bytes)", path, hlen, size);
        return -1;
    }
    txt = cn_malloc(hlen + 1);
    if (!txt) {
        cn_error(err, errlen, CN_ENOMEM, "%s: out of memory", path);
        return -1;
    }
    if (read_at(fd, txt, hlen, hoff, path, err, errlen)) goto out;
    txt[hlen] = 0;
    const char *p = txt, *end = txt + hlen;
    if (txt[hlen - 1] != '\n' || memchr(txt, 0, hlen)) goto bad;
    end--;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) end--;
    p = skip_ws(p, end);
    if (p >= end || *p++ != '{' || end[-1] != '}') goto bad;
    end--;
    int seen_descr = 0, seen_fo = 0, seen_shape = 0;
    char descr[32] = "";
    for (;;) {
        p = skip_ws(p, end);
        if (p >= end) break;
        char key[32];
        if (!(p = parse_str(p, end, key, sizeof key))) goto bad;
        p = skip_ws(p, end);
        if (p >= end || *p++ != ':') goto bad;
        p = skip_ws(p, end);
        if (!strcmp(key, "descr")) {
            if (seen_descr++ || !(p = parse_str(p, end, descr, sizeof descr))) goto bad;
        } else if (!strcmp(key, "fortran_order")) {
            if (seen_fo++) goto bad;
            if ((size_t)(end - p) >= 5 && !strncmp(p, "False", 5)) {
                p += 5;
            } else if ((size_t)(end - p) >= 4 && !strncmp(p, "True", 4)) {
                cn_error(err, errlen, CN_EUNSUPPORTED,
                         "%s: Fortran-order arrays are not supported (save in C order)", path);
                goto out;
            } else {
                goto bad;
            }
        } else if (!strcmp(key, "shape")) {
            if (seen_shape++ || *p++ != '(') goto bad;
            h->ndim = 0;
            for (;;) {
                p = skip_ws(p, end);
                if (p < end && *p == ')') {
                    p++;
                    break;
                }
                if (p >= end || *p < '0' || *p > '9' || h->ndim >= 3) goto bad_shape;
                uint64_t v = 0;
                while (p < end && *p >= '0' && *p <= '9') {
                    if (v > (UINT64_MAX - 9) / 10) goto bad_shape;
                    v = v * 10 + (uint64_t)(*p++ - '0');
                }
                if (p < end && *p == 'L') p++; /* Python 2 longs */
                h->shape[h->ndim++] = v;
                p = skip_ws(p, end);
                if (p < end && *p == ',') p++;
                else if (p < end && *p == ')') continue;
                else goto bad_shape;
            }
        } else {
            cn_error(err, errlen, CN_EFORMAT, "%s: unexpected key '%s' in the .npy header", path,
                     key);
            goto out;
        }
        p = skip_ws(p, end);
        if (p < end && *p == ',') p++;
        else if (p < end) goto bad;
    }
    if (!seen_descr || !seen_fo || !seen_shape) {
        cn_error(err, errlen, CN_EFORMAT, "%s: .npy header lacks '%s'", path,
                 !seen_descr ? "descr" : !seen_fo ? "fortran_order" : "shape");
        goto out;
    }
    static const struct {
        const char *d;
        elem_t t;
    } types[] = {{"<f4", T_F32}, {"<f2", T_F16}, {"<f8", T_F64}, {"|u1", T_U8}, {"<u1", T_U8},
                 {"|i1", T_I8},  {"<i1", T_I8},  {"<i4", T_I32}, {"<i8", T_I64}};
    size_t ti = 0, nt = sizeof types / sizeof *types;
    while (ti < nt && strcmp(types[ti].d, descr)) ti++;
    if (ti == nt) {
        cn_error(err, errlen, CN_EUNSUPPORTED,
                 "%s: unsupported dtype '%s' (expected little-endian float32, float16, float64, "
                 "uint8, int8, or int32/int64 ids)", path, descr);
        goto out;
    }
    h->type = types[ti].t;
    h->data_off = hoff + hlen;
    rc = 0;
    goto out;
bad_shape:
    cn_error(err, errlen, CN_EFORMAT, "%s: malformed 'shape' in the .npy header", path);
    goto out;
bad:
    cn_error(err, errlen, CN_EFORMAT, "%s: malformed .npy header (not a dict with descr, "
             "fortran_order and shape)", path);
out:
    cn_free(txt);
    return rc;
}

/* Opens a .npy matrix: header checked, shape 2-D, size exact. */
static int npy_open(const char *path, int *fd, npy_hdr_t *h, uint32_t *rows, uint32_t *cols,
                    char *err, size_t errlen) {
    size_t size;
    unsigned char pre[12] = {0};
    memset(h, 0, sizeof *h);
    if (open_file(path, fd, &size, err, errlen)) return -1;
    if (size < 10 || read_at(*fd, pre, size < 12 ? size : 12, 0, path, err, errlen)) {
        if (size < 10) cn_error(err, errlen, CN_EFORMAT, "%s: not a .npy file (too short)", path);
        goto fail;
    }
    if (parse_npy_header(path, pre, size, *fd, h, err, errlen)) goto fail;
    if (h->ndim != 2) {
        cn_error(err, errlen, CN_EFORMAT, "%s: shape has %d dimension%s, expected a 2-D matrix "
                 "(rows, columns)", path, h->ndim, h->ndim == 1 ? "" : "s");
        goto fail;
    }
    if (h->shape[0] == 0 || h->shape[1] == 0 || h->shape[0] > UINT32_MAX ||
        h->shape[1] > MAX_DIM) {
        cn_error(err, errlen, CN_EFORMAT, "%s: unusable shape (%llu, %llu)", path,
                 (unsigned long long)h->shape[0], (unsigned long long)h->shape[1]);
        goto fail;
    }
    uint64_t need = h->shape[0] * h->shape[1] * elem_size(h->type);
    if ((uint64_t)(size - h->data_off) != need) {
        cn_error(err, errlen, CN_EFORMAT, "%s: shape (%llu, %llu) needs %llu data bytes but the "
                 "file has %zu (%s)", path, (unsigned long long)h->shape[0],
                 (unsigned long long)h->shape[1], (unsigned long long)need, size - h->data_off,
                 (uint64_t)(size - h->data_off) < need ? "truncated" : "trailing bytes");
        goto fail;
    }
    *rows = (uint32_t)h->shape[0];
    *cols = (uint32_t)h->shape[1];
    return 0;
fail:
    close(*fd);
    *fd = -1;
    return -1;
}

/* ---- big-ann header ------------------------------------------------------- */

/* uint32 rows, uint32 cols; the rest must be rows*cols*elem (or, with
 * alt_elem > 0, rows*cols*alt_elem: ids + distances). *alt = 1 then. */
static int bigann_open(const char *path, int *fd, size_t elem, size_t alt_elem, uint32_t *rows,
                       uint32_t *cols, int *alt, char *err, size_t errlen) {
    size_t size;
    uint32_t h[2];
    if (open_file(path, fd, &size, err, errlen)) return -1;
    if (size < sizeof h) {
        cn_error(err, errlen, CN_EFORMAT, "%s: truncated: %zu bytes, no 8-byte header", path,
                 size);
        goto fail;
    }
    if (read_at(*fd, h, sizeof h, 0, path, err, errlen)) goto fail;
    if (h[0] == 0 || h[1] == 0 || h[1] > MAX_DIM) {
        cn_error(err, errlen, CN_EFORMAT, "%s: unusable header: %u rows x %u columns", path, h[0],
                 h[1]);
        goto fail;
    }
    uint64_t cells = (uint64_t)h[0] * h[1], body = (uint64_t)(size - sizeof h);
    *alt = 0;
    if (body != cells * elem) {
        if (alt_elem && body == cells * alt_elem) {
            *alt = 1;
        } else {
            cn_error(err, errlen, CN_EFORMAT, "%s: header says %u x %u (%llu bytes of values) but "
                     "the file has %llu (%s)", path, h[0], h[1],
                     (unsigned long long)(cells * elem), (unsigned long long)body,
                     body < cells * elem ? "truncated" : "trailing bytes");
            goto fail;
        }
    }
    *rows = h[0];
    *cols = h[1];
    return 0;
fail:
    close(*fd);
    *fd = -1;
    return -1;
}

/* ---- public readers ------------------------------------------------------- */

int cn_is_matrix_file(const char *path) {
    const char *e = cn_ds_ext(path);
    return !strcmp(e, "npy") || !strcmp(e, "fbin") || !strcmp(e, "u8bin") ||
           !strcmp(e, "i8bin");
}

int cn_read_matrix(const char *path, float **data, uint32_t *n, uint32_t *dim, char *err,
                   size_t errlen) {
    const char *e = cn_ds_ext(path);
    int fd = -1, alt, rc = -1;
    uint32_t r, c;
    elem_t t;
    size_t off;
    *data = NULL;
    *n = *dim = 0;
    if (!strcmp(e, "npy")) {
        npy_hdr_t h;
        if (npy_open(path, &fd, &h, &r, &c, err, errlen)) return -1;
        if (h.type == T_I32 || h.type == T_I64) {
            cn_error(err, errlen, CN_EUNSUPPORTED, "%s: integer dtype %s holds ids, not vectors "
                     "(expected float32, float16, float64, uint8 or int8)", path,
                     h.type == T_I32 ? "int32" : "int64");
            goto out;
        }
        t = h.type;
        off = h.data_off;
    } else {
        t = !strcmp(e, "fbin") ? T_F32 : !strcmp(e, "u8bin") ? T_U8 : T_I8;
        if (strcmp(e, "fbin") && strcmp(e, "u8bin") && strcmp(e, "i8bin")) {
            cn_error(err, errlen, CN_EUNSUPPORTED, "%s: unsupported matrix file type '.%s' "
                     "(expected .npy, .fbin, .u8bin or .i8bin)", path, e);
            return -1;
        }
        if (bigann_open(path, &fd, elem_size(t), 0, &r, &c, &alt, err, errlen)) return -1;
        off = 8;
    }
    size_t cnt = (size_t)r * c;
    float *out = cn_malloc(cnt * sizeof(float));
    if (!out) {
        cn_error(err, errlen, CN_ENOMEM, "%s: out of memory for %u x %u values", path, r, c);
        goto out;
    }
    if (read_values(fd, off, cnt, t, out, path, err, errlen)) {
        cn_free(out);
        goto out;
    }
    *data = out;
    *n = r;
    *dim = c;
    rc = 0;
out:
    close(fd);
    return rc;
}

int cn_read_ids(const char *path, int32_t **ids, float **dists, uint32_t *n, uint32_t *k,
                char *err, size_t errlen) {
    const char *e = cn_ds_ext(path);
    int fd = -1, alt = 0, rc = -1;
    uint32_t r, c;
    elem_t t = T_I32;
    size_t off = 8;
    *ids = NULL;
    if (dists) *dists = NULL;
    *n = *k = 0;
    if (!strcmp(e, "ivecs")) return cn_read_ivecs(path, ids, n, k, err, errlen);
    if (!strcmp(e, "npy")) {
        npy_hdr_t h;
        if (npy_open(path, &fd, &h, &r, &c, err, errlen)) return -1;
        if (h.type != T_I32 && h.type != T_I64) {
            cn_error(err, errlen, CN_EUNSUPPORTED, "%s: neighbours must be int32 or int64 ids, "
                     "not a floating-point or 8-bit dtype", path);
            goto out;
        }
        t = h.type;
        off = h.data_off;
    } else if (!strcmp(e, "ibin") || !strcmp(e, "gt") || !strcmp(e, "gt100")) {
        if (bigann_open(path, &fd, 4, 8, &r, &c, &alt, err, errlen)) return -1;
    } else {
        cn_error(err, errlen, CN_EUNSUPPORTED, "%s: unsupported ground-truth file type '.%s' "
                 "(expected .ivecs, .npy, .ibin or .gt100)", path, e);
        return -1;
    }
    size_t cnt = (size_t)r * c;
    int32_t *io = cn_malloc(cnt * sizeof *io);
    float *fo = alt && dists ? cn_malloc(cnt * sizeof *fo) : NULL;
    if (!io || (alt && dists && !fo)) {
        cn_free(io);
        cn_free(fo);
        cn_error(err, errlen, CN_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    if (read_values(fd, off, cnt, t, io, path, err, errlen) ||
        (fo && read_values(fd, off + cnt * 4, cnt, T_F32, fo, path, err, errlen))) {
        cn_free(io);
        cn_free(fo);
        goto out;
    }
    *ids = io;
    if (dists) *dists = fo;
    *n = r;
    *k = c;
    rc = 0;
out:
    close(fd);
    return rc;
}
