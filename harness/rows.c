/*
 * harness/rows.c — writing result rows (see rows.h). `index_bytes` is the
 * library's account of what this row's search needs (cn_search_ctx_bytes at
 * the row's parameters), never the runner's arithmetic. `peak_rss_bytes` is
 * the process's resident high-water mark since its build point started
 * (peakrss.h); `search_rss_bytes` its high-water mark from the end of the
 * build (the high-water mark is reset there) to the row: what searching
 * alone keeps resident.
 */
#include "rows.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv.h"
#include "sysinfo.h"

const char *const cn_csv_columns[] = {
    "dataset",       "algorithm",      "index",          "quantizer",
    "quantizer_params", "build_params", "search_params", "k",
    "threads",       "recall",         "qps",            "mean_us",
    "p50_us",        "p95_us",         "p99_us",         "build_s",
    "index_bytes",   "bytes_per_vector", "peak_rss_bytes", "search_rss_bytes", "dist_per_query", "hops_per_query",
    "reranked_per_query", "dropped_per_query", "ns_per_dist", "scan_ns_per_vector",
    "n_train",       "n_test",         "dim",            "metric",
    "runs",          "build_threads",  "cached",         "simd",
    "seed",          "commit",         "build_id",       "cpu",
    "timestamp"};
const size_t cn_csv_ncolumns = sizeof cn_csv_columns / sizeof cn_csv_columns[0];

static int sync_or_fail(FILE *f, const char *csv_path, char *err, size_t errlen) {
    if (ferror(f) || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        cn_error(err, errlen, CN_EIO, "%s: write failed: %s", csv_path,
                 errno ? strerror(errno) : "I/O error");
        return -1;
    }
    return 0;
}

int cn_rows_open(const char *csv_path, int exists, FILE **out, char *err, size_t errlen) {
    *out = NULL;
    FILE *f = fopen(csv_path, "a");
    if (!f) {
        cn_error(err, errlen, CN_EIO, "%s: cannot open for append: %s", csv_path,
                 strerror(errno));
        return -1;
    }
    if (!exists) {
        for (size_t j = 0; j < cn_csv_ncolumns; j++)
            cn_csv_put(f, cn_csv_columns[j], j + 1 == cn_csv_ncolumns);
        if (sync_or_fail(f, csv_path, err, errlen)) {
            fclose(f);
            return -1;
        }
    }
    *out = f;
    return 0;
}

/* Writes the row's fields on f (no flush). 0, or -1 with err. */
static int emit(FILE *f, const cn_row_t *r, char *err, size_t errlen) {
    char v[48][96];
    const char *cols[48];
    size_t i = 0;
    const cn_index_t *ix = r->built->ix;
    const cn_measure_t *m = r->m;
    const cn_algo_cfg_t *a = r->b->algo;
    char ts[32];
    cn_utc_now(ts, sizeof ts);
    cols[i++] = r->ds->name;
    cols[i++] = a->name;
    cols[i++] = a->index;
    cols[i++] = a->quantizer;
    cols[i++] = r->b->qp.text;
    cols[i++] = r->b->bp.text;
    cols[i++] = r->s->p.text;
#define NUM(fmt, x) (snprintf(v[i], sizeof v[i], fmt, x), cols[i] = v[i], i++)
#define OPT(fmt, x) (isnan(x) ? (void)(cols[i++] = "") : (void)NUM(fmt, x))
    NUM("%d", r->exp->k);
    NUM("%d", r->s->threads);
    NUM("%.6f", m->recall);
    NUM("%.3f", m->qps);
    NUM("%.3f", m->lat.mean);
    NUM("%.3f", m->lat.p50);
    NUM("%.3f", m->lat.p95);
    NUM("%.3f", m->lat.p99);
    NUM("%.3f", r->built->build_s);
    NUM("%zu", m->index_bytes);
    NUM("%.2f", (double)m->index_bytes / (double)(r->ds->n_train ? r->ds->n_train : 1));
    NUM("%zu", r->peak_rss_bytes);
    NUM("%zu", r->search_rss_bytes);
    NUM("%.1f", m->dist_per_query);
    NUM("%.1f", m->hops_per_query);
    NUM("%.1f", m->reranked_per_query);
    NUM("%.3f", m->dropped_per_query);
    OPT("%.2f", m->ns_per_dist);
    OPT("%.3f", r->scan_ns);
    NUM("%u", r->ds->n_train);
    NUM("%u", r->ds->n_test);
    NUM("%u", r->ds->dim);
    cols[i++] = cn_metric_name(r->ds->metric);
    NUM("%d", r->exp->runs);
    NUM("%d", r->build_threads);
    NUM("%d", r->built->cached);
    /* A baseline searching with its own kernels records them instead of
     * cannoli's level (Debian's Faiss: "faiss-generic", no AVX2 kernels). */
    cols[i++] = ix->kernels ? ix->kernels : cn_simd_name(cn_simd_level());
    NUM("%llu", (unsigned long long)r->exp->seed);
    cols[i++] = cn_build_commit();
    cols[i++] = cn_build_id();
    cols[i++] = cn_cpu_model();
    cols[i++] = ts;
#undef OPT
#undef NUM
    if (i != cn_csv_ncolumns) {
        cn_error(err, errlen, CN_EINVAL, "internal: %zu fields for %zu columns", i,
                 cn_csv_ncolumns);
        return -1;
    }
    for (size_t j = 0; j < i; j++) cn_csv_put(f, cols[j], j + 1 == i);
    return 0;
}

int cn_rows_write(FILE *f, const char *csv_path, const cn_row_t *r, char *err, size_t errlen) {
    if (emit(f, r, err, errlen)) return -1;
    return sync_or_fail(f, csv_path, err, errlen);
}

int cn_rows_format(const cn_row_t *r, char **text, size_t *len, char *err, size_t errlen) {
    *text = NULL;
    *len = 0;
    FILE *m = open_memstream(text, len);
    if (!m) {
        cn_error(err, errlen, CN_ENOMEM, "out of memory for a row");
        return -1;
    }
    int rc = emit(m, r, err, errlen);
    if (fclose(m) != 0 && rc == 0) {
        cn_error(err, errlen, CN_ENOMEM, "out of memory for a row");
        rc = -1;
    }
    if (rc) {
        free(*text);
        *text = NULL;
        *len = 0;
    }
    return rc;
}

int cn_rows_header(char **text, size_t *len) {
    *text = NULL;
    *len = 0;
    FILE *m = open_memstream(text, len);
    if (!m) return -1;
    for (size_t j = 0; j < cn_csv_ncolumns; j++)
        cn_csv_put(m, cn_csv_columns[j], j + 1 == cn_csv_ncolumns);
    if (fclose(m) != 0) {
        free(*text);
        *text = NULL;
        return -1;
    }
    return 0;
}
