/*
 * harness/resume.h — the points a results file already holds.
 *
 * A point is identified by the key columns (dataset, algorithm, quantizer,
 * build and search parameters, k, threads); rerunning a config skips every
 * point whose key is present, so an interrupted sweep continues where it
 * stopped. A file whose header is not this version's is never appended to.
 */
#ifndef CN_HARNESS_RESUME_H
#define CN_HARNESS_RESUME_H

#include <stddef.h>

typedef struct cn_done_set {
    char **keys; /* sorted, owned */
    size_t n;
} cn_done_set_t;

/* The key columns, in order. */
extern const char *const cn_key_columns[];
extern const size_t cn_key_ncolumns;

/* Reads csv_path. *exists = 0 when there is no file (or an empty one). A
 * header other than cn_csv_columns is an error. 0 or -1. */
int cn_done_load(cn_done_set_t *d, const char *csv_path, int *exists, char *err, size_t errlen);
/* The same from a parsed table (borrowed); *exists is set to 0 when it is
 * empty. */
struct cn_csv;
int cn_done_from_csv(cn_done_set_t *d, const struct cn_csv *t, const char *csv_path, int *exists,
                     char *err, size_t errlen);
/* fields: cn_key_ncolumns values in cn_key_columns order. */
int cn_done_has(const cn_done_set_t *d, const char *const *fields);
void cn_done_free(cn_done_set_t *d);

#endif
