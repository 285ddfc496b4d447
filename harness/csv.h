/*
 * harness/csv.h — the results CSV: RFC 4180 fields, append-only, resumable.
 *
 * A results file is written one row at a time and flushed to disk after each
 * row, so an interrupted sweep keeps every finished point. On restart the
 * runner reads the existing file (cn_csv_read) and skips points already
 * present; a file whose header differs from ours is never appended to.
 */
#ifndef CN_HARNESS_CSV_H
#define CN_HARNESS_CSV_H

#include <stddef.h>
#include <stdio.h>

/* A parsed CSV table: header + rows of fields (all strings owned). */
typedef struct cn_csv {
    char **header;
    size_t ncols;
    char ***rows;   /* nrows x ncols (short rows are padded with "") */
    size_t nrows;
} cn_csv_t;

/* Parses path. A missing file is not an error: *t is left empty and
 * *exists = 0. Quoted fields with commas, quotes and newlines are handled. */
int cn_csv_read(cn_csv_t *t, const char *path, int *exists, char *err, size_t errlen);
/* Parses an open stream (not closed); `path` names it in messages. */
int cn_csv_parse(cn_csv_t *t, FILE *f, const char *path, char *err, size_t errlen);
void cn_csv_free(cn_csv_t *t);
/* Column index of name, or -1. */
int cn_csv_col(const cn_csv_t *t, const char *name);

/* Writes one field, quoted when it holds a comma, quote, CR or LF. */
void cn_csv_put(FILE *f, const char *field, int last);

#endif
