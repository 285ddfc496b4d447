/*
 * harness/rows.h — the results CSV's columns and its rows.
 *
 * One row per (algorithm, quantizer point, build point, search point,
 * query thread count). Rows are appended, flushed and fsync'ed one at a
 * time, so an interrupted sweep keeps every finished point.
 */
#ifndef CN_HARNESS_ROWS_H
#define CN_HARNESS_ROWS_H

#include <stddef.h>
#include <stdio.h>

#include "dataset.h"
#include "plan.h"
#include "recipe.h"
#include "timing.h"

/* The CSV columns, in order. */
extern const char *const cn_csv_columns[];
extern const size_t cn_csv_ncolumns;

/* Opens csv_path for appending; writes the header when `exists` is 0.
 * 0, or -1 with err (every write checked). */
int cn_rows_open(const char *csv_path, int exists, FILE **out, char *err, size_t errlen);

/* Everything one row says. */
typedef struct cn_row {
    const cn_experiment_t *exp;
    const cn_dataset_t *ds;
    const cn_build_point_t *b;
    const cn_search_point_t *s;
    const cn_built_t *built;
    double scan_ns;       /* flat scan over the same store (NAN: not measured) */
    int build_threads;
    const cn_measure_t *m;
    size_t peak_rss_bytes; /* the process's peak resident set in this build point */
    size_t search_rss_bytes; /* its peak during the sweep only (after the build) */
} cn_row_t;

/* Appends one row and syncs it. 0, or -1 with err. */
int cn_rows_write(FILE *f, const char *csv_path, const cn_row_t *r, char *err, size_t errlen);

/* The row as CSV text ending in '\n', malloc'ed (free() it). 0, or -1 with
 * err. The shared-file appender (results.h) writes it under a lock. */
int cn_rows_format(const cn_row_t *r, char **text, size_t *len, char *err, size_t errlen);
/* The header line, malloc'ed (free() it). 0, or -1 when out of memory. */
int cn_rows_header(char **text, size_t *len);

#endif
