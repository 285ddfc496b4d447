/*
 * harness/resume.c — the set of points a results file already holds (see
 * resume.h). Keys are the key columns joined with the unit separator 0x1f
 * (which no field can hold unquoted), kept sorted for binary search.
 */
#include "resume.h"

#include <stdlib.h>
#include <string.h>

#include "cannoli/common.h"
#include "csv.h"
#include "rows.h"

const char *const cn_key_columns[] = {"dataset",       "algorithm",     "quantizer_params",
                                      "build_params",  "search_params", "k",
                                      "threads"};
const size_t cn_key_ncolumns = sizeof cn_key_columns / sizeof cn_key_columns[0];

static char *join_key(const char *const *fields) {
    size_t len = 1;
    for (size_t i = 0; i < cn_key_ncolumns; i++) len += strlen(fields[i]) + 1;
    char *k = cn_malloc(len), *p = k;
    if (!k) return NULL;
    for (size_t i = 0; i < cn_key_ncolumns; i++) {
        size_t l = strlen(fields[i]);
        memcpy(p, fields[i], l);
        p[l] = '\x1f';
        p += l + 1;
    }
    *p = 0;
    return k;
}

static int cmp_key(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int cn_done_has(const cn_done_set_t *d, const char *const *fields) {
    if (!d || d->n == 0) return 0;
    char *key = join_key(fields);
    if (!key) return 0;
    int found = bsearch(&key, d->keys, d->n, sizeof *d->keys, cmp_key) != NULL;
    cn_free(key);
    return found;
}

void cn_done_free(cn_done_set_t *d) {
    for (size_t i = 0; i < d->n; i++) cn_free(d->keys[i]);
    cn_free(d->keys);
    d->keys = NULL;
    d->n = 0;
}

int cn_done_load(cn_done_set_t *d, const char *csv_path, int *exists, char *err, size_t errlen) {
    memset(d, 0, sizeof *d);
    cn_csv_t t;
    if (cn_csv_read(&t, csv_path, exists, err, errlen)) return -1;
    if (!*exists) return 0;
    int rc = cn_done_from_csv(d, &t, csv_path, exists, err, errlen);
    cn_csv_free(&t);
    return rc;
}

int cn_done_from_csv(cn_done_set_t *d, const cn_csv_t *tp, const char *csv_path, int *exists,
                     char *err, size_t errlen) {
    memset(d, 0, sizeof *d);
    const cn_csv_t t = *tp;
    int rc = -1;
    if (t.ncols == 0 && t.nrows == 0) { /* empty file: as new */
        *exists = 0;
        rc = 0;
        goto out;
    }
    int same = t.ncols == cn_csv_ncolumns;
    for (size_t j = 0; same && j < t.ncols; j++)
        same = strcmp(t.header[j], cn_csv_columns[j]) == 0;
    if (!same) {
        cn_error(err, errlen, CN_EFORMAT,
                 "%s: existing file has other columns than this version writes; "
                 "use --out DIR or --force (the old file is then kept as a .bak)",
                 csv_path);
        goto out;
    }
    int col[16];
    for (size_t i = 0; i < cn_key_ncolumns; i++) col[i] = cn_csv_col(&t, cn_key_columns[i]);
    d->keys = cn_calloc(t.nrows ? t.nrows : 1, sizeof *d->keys);
    if (!d->keys) goto oom;
    for (size_t r = 0; r < t.nrows; r++) {
        const char *f[16];
        for (size_t i = 0; i < cn_key_ncolumns; i++) f[i] = t.rows[r][col[i]];
        if (!(d->keys[d->n] = join_key(f))) goto oom;
        d->n++;
    }
    qsort(d->keys, d->n, sizeof *d->keys, cmp_key);
    rc = 0;
    goto out;
oom:
    cn_error(err, errlen, CN_ENOMEM, "%s: out of memory", csv_path);
    cn_done_free(d);
out:
    return rc;
}
