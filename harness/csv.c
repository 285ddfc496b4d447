/*
 * harness/csv.c — reading and writing the results CSV.
 *
 * The reader is a small state machine over RFC 4180: fields separated by
 * commas, optionally quoted; inside quotes a doubled quote is a literal quote
 * and commas/newlines are data. It exists so that a rerun can tell which
 * points are done, and so that `cannoli merge` can join files.
 * CRLF line ends are accepted. Rows shorter than the header are padded with
 * empty fields; longer rows are an error (the file is not ours).
 */
#include "csv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cannoli/common.h"

typedef struct buf {
    char *p;
    size_t n, cap;
} buf_t;

static int buf_push(buf_t *b, char c) {
    if (b->n + 1 >= b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        char *p = cn_realloc(b->p, cap);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    b->p[b->n++] = c;
    b->p[b->n] = 0;
    return 0;
}

/* A growing list of strings (one record). */
typedef struct rec {
    char **f;
    size_t n, cap;
} rec_t;

static int rec_push(rec_t *r, buf_t *b) {
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 16;
        char **f = cn_realloc(r->f, cap * sizeof *f);
        if (!f) return -1;
        r->f = f;
        r->cap = cap;
    }
    r->f[r->n] = cn_strdup(b->p ? b->p : "");
    if (!r->f[r->n]) return -1;
    r->n++;
    b->n = 0;
    if (b->p) b->p[0] = 0;
    return 0;
}

static void rec_free(rec_t *r) {
    for (size_t i = 0; i < r->n; i++) cn_free(r->f[i]);
    cn_free(r->f);
    r->f = NULL;
    r->n = r->cap = 0;
}

static int add_row(cn_csv_t *t, rec_t *r, size_t *cap) {
    if (t->nrows == *cap) {
        size_t nc = *cap ? 2 * *cap : 64;
        char ***rows = cn_realloc(t->rows, nc * sizeof *rows);
        if (!rows) return -1;
        t->rows = rows;
        *cap = nc;
    }
    char **row = cn_calloc(t->ncols ? t->ncols : 1, sizeof *row);
    if (!row) return -1;
    for (size_t i = 0; i < t->ncols; i++) {
        if (i < r->n) {
            row[i] = r->f[i];
            r->f[i] = NULL;
        } else {
            row[i] = cn_strdup("");
            if (!row[i]) {
                for (size_t j = 0; j < i; j++) cn_free(row[j]);
                cn_free(row);
                return -1;
            }
        }
    }
    t->rows[t->nrows++] = row;
    rec_free(r);
    return 0;
}

int cn_csv_read(cn_csv_t *t, const char *path, int *exists, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    *exists = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return 0;
        cn_error(err, errlen, CN_EIO, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    *exists = 1;
    int rc = cn_csv_parse(t, f, path, err, errlen);
    fclose(f);
    return rc;
}

int cn_csv_parse(cn_csv_t *t, FILE *f, const char *path, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    buf_t b = {0};
    rec_t r = {0};
    size_t cap = 0, line = 1;
    int quoted = 0, after_quote = 0, rc = -1, have_field = 0;
    for (;;) {
        int c = fgetc(f);
        if (c == EOF) break;
        if (quoted) {
            if (c == '"') {
                int d = fgetc(f);
                if (d == '"') {
                    if (buf_push(&b, '"')) goto oom;
                } else {
                    quoted = 0;
                    after_quote = 1;
                    if (d != EOF) ungetc(d, f);
                }
            } else {
                if (c == '\n') line++;
                if (buf_push(&b, (char)c)) goto oom;
            }
            continue;
        }
        if (c == '"' && b.n == 0 && !after_quote) {
            quoted = 1;
            have_field = 1;
        } else if (c == ',') {
            if (rec_push(&r, &b)) goto oom;
            after_quote = 0;
            have_field = 1;
        } else if (c == '\n' || c == '\r') {
            if (c == '\r') {
                int d = fgetc(f);
                if (d != '\n' && d != EOF) ungetc(d, f);
            }
            if (have_field || b.n > 0 || r.n > 0) {
                if (rec_push(&r, &b)) goto oom;
                if (!t->header) {
                    t->header = r.f;
                    t->ncols = r.n;
                    r.f = NULL;
                    r.n = r.cap = 0;
                } else {
                    if (r.n > t->ncols) {
                        cn_error(err, errlen, CN_EFORMAT,
                                 "%s:%zu: row has %zu fields, header has %zu", path, line, r.n,
                                 t->ncols);
                        goto done;
                    }
                    if (add_row(t, &r, &cap)) goto oom;
                }
            }
            line++;
            after_quote = 0;
            have_field = 0;
        } else {
            if (after_quote) {
                cn_error(err, errlen, CN_EFORMAT, "%s:%zu: text after a closing quote", path,
                         line);
                goto done;
            }
            if (buf_push(&b, (char)c)) goto oom;
            have_field = 1;
        }
    }
    if (quoted) {
        cn_error(err, errlen, CN_EFORMAT, "%s:%zu: unterminated quoted field", path, line);
        goto done;
    }
    if (have_field || b.n > 0 || r.n > 0) { /* last line without newline */
        if (rec_push(&r, &b)) goto oom;
        if (!t->header) {
            t->header = r.f;
            t->ncols = r.n;
            r.f = NULL;
            r.n = 0;
        } else if (r.n > t->ncols) {
            cn_error(err, errlen, CN_EFORMAT, "%s:%zu: row has %zu fields, header has %zu", path,
                     line, r.n, t->ncols);
            goto done;
        } else if (add_row(t, &r, &cap)) {
            goto oom;
        }
    }
    rc = 0;
    goto done;
oom:
    cn_error(err, errlen, CN_ENOMEM, "%s: out of memory", path);
done:
    cn_free(b.p);
    rec_free(&r);
    if (rc == 0 && ferror(f)) {
        cn_error(err, errlen, CN_EIO, "%s: read failed: %s", path, strerror(errno));
        rc = -1;
    }
    if (rc != 0) cn_csv_free(t);
    return rc;
}

void cn_csv_free(cn_csv_t *t) {
    if (!t) return;
    for (size_t i = 0; i < t->nrows; i++) {
        for (size_t j = 0; j < t->ncols; j++) cn_free(t->rows[i][j]);
        cn_free(t->rows[i]);
    }
    cn_free(t->rows);
    for (size_t j = 0; j < t->ncols; j++) cn_free(t->header[j]);
    cn_free(t->header);
    memset(t, 0, sizeof *t);
}

int cn_csv_col(const cn_csv_t *t, const char *name) {
    for (size_t j = 0; j < t->ncols; j++)
        if (strcmp(t->header[j], name) == 0) return (int)j;
    return -1;
}

void cn_csv_put(FILE *f, const char *field, int last) {
    if (!field) field = "";
    if (strpbrk(field, ",\"\r\n")) {
        fputc('"', f);
        for (const char *p = field; *p; p++) {
            if (*p == '"') fputc('"', f);
            fputc(*p, f);
        }
        fputc('"', f);
    } else {
        fputs(field, f);
    }
    fputc(last ? '\n' : ',', f);
}
