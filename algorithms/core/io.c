/*
 * core/io.c — checksummed, atomically replaced binary files (see cannoli/io.h).
 *
 * The checksum is a polynomial hash over bytes, h <- h * P + byte (mod 2^64),
 * evaluated eight bytes per step with precomputed powers of P so the
 * multiplications are independent. Being a pure fold over bytes it can be
 * continued across any split of the input, which the writer relies on. P is
 * odd, so every single-bit (indeed every single-byte) change alters the sum.
 */
#include "cannoli/io.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define P1 0x100000001b3ull /* FNV-64 prime */

static const unsigned char MAGIC[8] = {'C', 'N', 'N', 'O', 'L', 'I', 0x01, 0x00};
#define HEADER_BYTES 12u
#define TRAILER_BYTES 8u

uint64_t cn_checksum(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    const uint64_t p2 = P1 * P1, p3 = p2 * P1, p4 = p3 * P1, p5 = p4 * P1, p6 = p5 * P1,
                   p7 = p6 * P1, p8 = p7 * P1;
    while (n >= 8) {
        h = h * p8 + b[0] * p7 + b[1] * p6 + b[2] * p5 + b[3] * p4 + b[4] * p3 + b[5] * p2 +
            b[6] * P1 + b[7];
        b += 8;
        n -= 8;
    }
    while (n--) h = h * P1 + *b++;
    return h;
}

static void put_le32(unsigned char *b, uint32_t v) {
    for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i));
}
static void put_le64(unsigned char *b, uint64_t v) {
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_le32(const unsigned char *b) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}
static uint64_t get_le64(const unsigned char *b) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

/* ---- writer ------------------------------------------------------------ */

static void writer_free(cn_writer_t *w) {
    cn_free(w->path);
    cn_free(w->tmp_path);
    w->path = w->tmp_path = NULL;
    w->f = NULL;
}

cn_status_t cn_writer_open(cn_writer_t *w, const char *path, char *err, size_t errlen) {
    memset(w, 0, sizeof *w);
    w->st = CN_OK;
    w->path = cn_strdup(path);
    size_t len = strlen(path);
    w->tmp_path = cn_malloc(len + 5);
    if (!w->path || !w->tmp_path) {
        writer_free(w);
        w->st = CN_ENOMEM;
        return cn_error(err, errlen, CN_ENOMEM, "%s: out of memory", path);
    }
    memcpy(w->tmp_path, path, len);
    memcpy(w->tmp_path + len, ".tmp", 5);
    w->f = fopen(w->tmp_path, "wb");
    if (!w->f) {
        int e = errno;
        writer_free(w);
        w->st = CN_EIO;
        return cn_error(err, errlen, CN_EIO, "%s: cannot create: %s", path, strerror(e));
    }
    setvbuf(w->f, NULL, _IOFBF, 1 << 20);
    w->hash = CN_CHECKSUM_INIT;
    unsigned char hdr[HEADER_BYTES];
    memcpy(hdr, MAGIC, 8);
    put_le32(hdr + 8, CN_IO_VERSION);
    cn_write(w, hdr, sizeof hdr);
    return CN_OK;
}

void cn_write(cn_writer_t *w, const void *p, size_t n) {
    if (w->st != CN_OK || !w->f || n == 0) return;
    w->hash = cn_checksum(w->hash, p, n);
    if (fwrite(p, 1, n, w->f) != n) w->st = CN_EIO;
}

void cn_write_u32(cn_writer_t *w, uint32_t v) {
    unsigned char b[4];
    put_le32(b, v);
    cn_write(w, b, 4);
}

void cn_write_u64(cn_writer_t *w, uint64_t v) {
    unsigned char b[8];
    put_le64(b, v);
    cn_write(w, b, 8);
}

void cn_write_f64(cn_writer_t *w, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    cn_write_u64(w, u);
}

void cn_write_str(cn_writer_t *w, const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n > UINT32_MAX) {
        w->st = CN_EINVAL;
        return;
    }
    cn_write_u32(w, (uint32_t)n);
    cn_write(w, s, n);
}

void cn_writer_abort(cn_writer_t *w) {
    if (w->f) fclose(w->f);
    if (w->tmp_path) remove(w->tmp_path);
    writer_free(w);
}

cn_status_t cn_writer_close(cn_writer_t *w, char *err, size_t errlen) {
    if (!w->f) {
        cn_status_t st = w->st != CN_OK ? w->st : CN_EINVAL;
        writer_free(w);
        return cn_error(err, errlen, st, "writer was not open");
    }
    if (w->st == CN_OK) {
        unsigned char t[8];
        put_le64(t, w->hash);
        if (fwrite(t, 1, 8, w->f) != 8) w->st = CN_EIO;
    }
    int e = 0;
    if (w->st == CN_OK && fflush(w->f) != 0) {
        e = errno;
        w->st = CN_EIO;
    }
    if (fclose(w->f) != 0 && w->st == CN_OK) {
        e = errno;
        w->st = CN_EIO;
    }
    w->f = NULL;
    cn_status_t st = w->st;
    if (st == CN_OK && rename(w->tmp_path, w->path) != 0) {
        e = errno;
        st = CN_EIO;
    }
    if (st != CN_OK) {
        remove(w->tmp_path);
        if (st == CN_EIO)
            cn_error(err, errlen, st, "%s: write failed: %s", w->path,
                     e ? strerror(e) : "I/O error");
        else
            cn_error(err, errlen, st, "%s: write failed: %s", w->path, cn_status_str(st));
    }
    writer_free(w);
    return st;
}

/* ---- reader ------------------------------------------------------------ */

cn_status_t cn_reader_open(cn_reader_t *r, const char *path, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    r->st = CN_EIO;
    FILE *f = fopen(path, "rb");
    if (!f) return cn_error(err, errlen, CN_EIO, "%s: cannot open: %s", path, strerror(errno));
    r->path = cn_strdup(path);
    unsigned char *buf = cn_malloc(1 << 20);
    if (!r->path || !buf) {
        fclose(f);
        cn_free(buf);
        cn_free(r->path);
        r->path = NULL;
        return cn_error(err, errlen, CN_ENOMEM, "%s: out of memory", path);
    }
    /* One pass over the file: header, checksum of everything but the last 8
     * bytes, trailer. The last 8 bytes seen are kept in a small ring. */
    uint64_t h = CN_CHECKSUM_INIT, total = 0;
    unsigned char hdr[HEADER_BYTES], tail[TRAILER_BYTES];
    size_t hdr_have = 0, tail_have = 0;
    size_t got;
    cn_status_t st = CN_OK;
    const char *why = NULL;
    while ((got = fread(buf, 1, 1 << 20, f)) > 0) {
        for (size_t i = 0; hdr_have < HEADER_BYTES && i < got; i++) hdr[hdr_have++] = buf[i];
        /* Hash everything but the last 8 bytes of (tail + buf). */
        size_t combined = tail_have + got;
        size_t hashable = combined > TRAILER_BYTES ? combined - TRAILER_BYTES : 0;
        size_t ht = hashable < tail_have ? hashable : tail_have;
        size_t hb = hashable - ht;
        h = cn_checksum(h, tail, ht);
        h = cn_checksum(h, buf, hb);
        memmove(tail, tail + ht, tail_have - ht);
        tail_have -= ht;
        memcpy(tail + tail_have, buf + hb, got - hb);
        tail_have += got - hb;
        total += got;
    }
    if (ferror(f)) {
        st = CN_EIO;
        why = "read error";
    } else if (total < HEADER_BYTES + TRAILER_BYTES) {
        st = CN_EFORMAT;
        why = total == 0 ? "empty file" : "truncated (shorter than header + checksum)";
    } else if (memcmp(hdr, MAGIC, 6) != 0) {
        st = CN_EFORMAT;
        why = "not a cannoli file (bad magic number)";
    } else if (memcmp(hdr, MAGIC, 8) != 0 || get_le32(hdr + 8) != CN_IO_VERSION) {
        st = CN_EFORMAT;
        why = NULL;
        cn_error(err, errlen, CN_EFORMAT, "%s: unsupported format version %u (this build reads %u)",
                 path, (unsigned)get_le32(hdr + 8), (unsigned)CN_IO_VERSION);
    } else if (get_le64(tail) != h) {
        st = CN_EFORMAT;
        why = "checksum mismatch (file is corrupt or truncated)";
    }
    cn_free(buf);
    if (st == CN_OK && fseek(f, (long)HEADER_BYTES, SEEK_SET) != 0) {
        st = CN_EIO;
        why = "seek failed";
    }
    if (st != CN_OK) {
        fclose(f);
        if (why) cn_error(err, errlen, st, "%s: %s", path, why);
        cn_free(r->path);
        r->path = NULL;
        r->st = st;
        return st;
    }
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    r->f = f;
    r->size = total - HEADER_BYTES - TRAILER_BYTES;
    r->pos = 0;
    r->st = CN_OK;
    return CN_OK;
}

cn_status_t cn_read(cn_reader_t *r, void *p, size_t n) {
    if (r->st != CN_OK || !r->f || n > r->size - r->pos) {
        if (r->st == CN_OK) r->st = CN_EFORMAT;
        if (n) memset(p, 0, n);
        return r->st;
    }
    if (n == 0) return CN_OK;
    if (fread(p, 1, n, r->f) != n) {
        r->st = CN_EIO;
        memset(p, 0, n);
        return r->st;
    }
    r->pos += n;
    /* a large array read in one piece (vectors, codes, a graph level) */
    (void)cn_mem_settle(p, n);
    return CN_OK;
}

uint32_t cn_read_u32(cn_reader_t *r) {
    unsigned char b[4];
    cn_read(r, b, 4);
    return get_le32(b);
}

uint64_t cn_read_u64(cn_reader_t *r) {
    unsigned char b[8];
    cn_read(r, b, 8);
    return get_le64(b);
}

double cn_read_f64(cn_reader_t *r) {
    uint64_t u = cn_read_u64(r);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

char *cn_read_str(cn_reader_t *r, size_t maxlen) {
    uint32_t n = cn_read_u32(r);
    if (r->st != CN_OK) return NULL;
    if (n > maxlen || n > cn_reader_remaining(r)) {
        r->st = CN_EFORMAT;
        return NULL;
    }
    char *s = cn_malloc((size_t)n + 1);
    if (!s) {
        r->st = CN_ENOMEM;
        return NULL;
    }
    if (cn_read(r, s, n) != CN_OK) {
        cn_free(s);
        return NULL;
    }
    s[n] = '\0';
    if (strlen(s) != n) { /* embedded NUL: not a string we wrote */
        cn_free(s);
        r->st = CN_EFORMAT;
        return NULL;
    }
    return s;
}

uint64_t cn_reader_remaining(const cn_reader_t *r) {
    return r->st == CN_OK ? r->size - r->pos : 0;
}

void cn_reader_close(cn_reader_t *r) {
    if (r->f) fclose(r->f);
    cn_free(r->path);
    r->f = NULL;
    r->path = NULL;
}
