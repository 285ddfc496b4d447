/*
 * harness/merge.c — `cannoli merge` (see merge.h).
 *
 * The inputs are read whole (results files are small: a row per search
 * point), their rows keyed by the key columns of resume.h and sorted to find
 * the points present more than once; the first occurrence in argument order
 * is kept. The new rows are appended to the output in one locked write
 * (results.c), after the output's own points, so merging twice, or merging a
 * folder the shards also wrote into, adds nothing twice.
 */
#include "merge.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cannoli/cannoli.h"
#include "csv.h"
#include "plan.h"
#include "results.h"
#include "resume.h"
#include "rows.h"
#include "sysinfo.h"

#define SHOW_MAX 20

typedef struct input {
    char path[2300];
    cn_csv_t t;
    int self; /* the output file itself */
} input_t;

typedef struct ref {
    char *key;       /* key columns joined by 0x1f (owned) */
    size_t in, row;  /* input and row */
    int keep;
} ref_t;

static int cmp_ref(const void *x, const void *y) {
    const ref_t *a = x, *b = y;
    int c = strcmp(a->key, b->key);
    if (c) return c;
    if (a->in != b->in) return a->in < b->in ? -1 : 1;
    return a->row < b->row ? -1 : a->row > b->row;
}

static char *join(const char *const *f, size_t n) {
    size_t len = 1;
    for (size_t i = 0; i < n; i++) len += strlen(f[i]) + 1;
    char *k = cn_malloc(len), *p = k;
    if (!k) return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(f[i]);
        memcpy(p, f[i], l);
        p[l] = '\x1f';
        p += l + 1;
    }
    *p = 0;
    return k;
}

static void key_fields(const cn_csv_t *t, size_t r, const int *col, const char **f) {
    for (size_t i = 0; i < cn_key_ncolumns; i++) f[i] = t->rows[r][col[i]];
}

static int same_inode(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

static int read_input(input_t *in, const char *arg, const char *out_csv, char *err,
                      size_t errlen) {
    struct stat sb;
    if (stat(arg, &sb) != 0) {
        cn_error(err, errlen, CN_EIO, "%s: cannot read: %s", arg, strerror(errno));
        return -1;
    }
    if (S_ISDIR(sb.st_mode)) snprintf(in->path, sizeof in->path, "%s/results.csv", arg);
    else snprintf(in->path, sizeof in->path, "%s", arg);
    in->self = same_inode(in->path, out_csv);
    cn_done_set_t d;
    int exists;
    /* The same checks as a resume: whole lines only, this version's header. */
    if (cn_results_peek(&d, in->path, &exists, err, errlen)) return -1;
    cn_done_free(&d);
    if (!exists) {
        if (access(in->path, F_OK) != 0) {
            cn_error(err, errlen, CN_EIO, "%s: no results file here (%s)", in->path,
                     strerror(ENOENT));
            return -1;
        }
        fprintf(stderr, "cannoli: merge: %s is empty\n", in->path);
        return 0;
    }
    if (cn_csv_read(&in->t, in->path, &exists, err, errlen)) return -1;
    /* A last line without its newline (a shard killed mid-write) is not a row. */
    FILE *f = fopen(in->path, "rb");
    if (f && fseek(f, -1, SEEK_END) == 0 && fgetc(f) != '\n' && in->t.nrows > 0) {
        fprintf(stderr, "cannoli: merge: %s: last row cut short; not merged\n", in->path);
        in->t.nrows--;
        for (size_t j = 0; j < in->t.ncols; j++) cn_free(in->t.rows[in->t.nrows][j]);
        cn_free(in->t.rows[in->t.nrows]);
    }
    if (f) fclose(f);
    return 0;
}

/* The row r of t as a CSV line. */
static int put_row(FILE *m, const cn_csv_t *t, size_t r) {
    for (size_t j = 0; j < t->ncols; j++) cn_csv_put(m, t->rows[r][j], j + 1 == t->ncols);
    return ferror(m) ? -1 : 0;
}

/* Lists on stderr the points of exp (at its k `k`) that the output lacks on
 * dataset dsname; adds them to *nmissing. */
static int missing_in(const cn_experiment_t *exp, int k, const cn_done_set_t *done,
                      const cn_plan_shape_t *shape, size_t *nmissing, char *err, size_t errlen) {
    cn_experiment_t e = *exp;
    e.k = k;
    cn_plan_t plan;
    if (cn_plan_make(&plan, &e, shape, done, NULL, err, errlen)) return -1;
    for (size_t i = 0; i < plan.n; i++) {
        const cn_build_point_t *b = &plan.points[i];
        for (size_t s = 0; s < b->nsearch; s++) {
            const cn_search_point_t *sp = &b->search[s];
            if (sp->done || sp->skip[0]) continue;
            if (++*nmissing <= SHOW_MAX)
                fprintf(stderr, "cannoli: merge: missing: %s k=%d %s %s{%s} build {%s} "
                                "search {%s} threads=%d\n",
                        shape->dataset, k, b->algo->name, b->algo->quantizer, b->qp.text,
                        b->bp.text, sp->p.text, sp->threads);
        }
    }
    cn_plan_free(&plan);
    return 0;
}

/* The config's points that the output lacks, listed on stderr: for every
 * dataset the rows name (a `dataset:` list's passes) and every k of the
 * config's `k:` list. */
static int list_missing(const cn_experiment_t *exp, const char *out_csv, size_t *nmissing,
                        char *err, size_t errlen) {
    *nmissing = 0;
    cn_csv_t t;
    int exists, rc = -1;
    if (cn_csv_read(&t, out_csv, &exists, err, errlen)) return -1;
    int cd = cn_csv_col(&t, "dataset"), cm = cn_csv_col(&t, "metric"),
        cdim = cn_csv_col(&t, "dim");
    if (t.nrows == 0 || cd < 0 || cm < 0 || cdim < 0) {
        fprintf(stderr, "cannoli: merge: no rows: every point of %s is missing\n", exp->path);
        cn_csv_free(&t);
        return 0;
    }
    cn_done_set_t done;
    if (cn_results_peek(&done, out_csv, &exists, err, errlen)) {
        cn_csv_free(&t);
        return -1;
    }
    size_t nks = exp->nks ? exp->nks : 1;
    for (size_t r = 0; r < t.nrows; r++) {
        size_t first = 0; /* the first row of this dataset name */
        while (first < r && strcmp(t.rows[first][cd], t.rows[r][cd]) != 0) first++;
        if (first < r) continue;
        cn_metric_t metric;
        long dim = strtol(t.rows[r][cdim], NULL, 10);
        if (cn_metric_parse(t.rows[r][cm], &metric) != CN_OK || dim < 1) {
            cn_error(err, errlen, CN_EFORMAT, "%s: row %zu has no valid metric and dim", out_csv,
                     r + 1);
            goto out;
        }
        cn_plan_shape_t shape = {t.rows[r][cd], (uint32_t)dim, metric};
        for (size_t ki = 0; ki < nks; ki++)
            if (missing_in(exp, exp->nks ? exp->ks[ki] : exp->k, &done, &shape, nmissing, err,
                           errlen))
                goto out;
    }
    if (*nmissing > SHOW_MAX)
        fprintf(stderr, "cannoli: merge: ... and %zu more missing points\n",
                *nmissing - SHOW_MAX);
    if (*nmissing)
        fprintf(stderr, "cannoli: merge: %zu point%s of %s %s in no input (rerun the shard that "
                        "failed; a resumed run measures only those)\n",
                *nmissing, *nmissing == 1 ? "" : "s", exp->path,
                *nmissing == 1 ? "is" : "are");
    rc = 0;
out:
    cn_done_free(&done);
    cn_csv_free(&t);
    return rc;
}

static int merge(const cn_experiment_t *exp, char **dirs, size_t ndirs, const char *out_dir,
                 char *err, size_t errlen) {
    char out[2048], out_csv[2300];
    if (out_dir) snprintf(out, sizeof out, "%s", out_dir);
    else snprintf(out, sizeof out, "results/%s", exp->name);
    snprintf(out_csv, sizeof out_csv, "%s/results.csv", out);
    input_t *in = cn_calloc(ndirs, sizeof *in);
    ref_t *refs = NULL;
    size_t nrefs = 0, total = 0, ndup = 0, nthere = 0, nnew = 0, nmissing = 0;
    cn_results_t res = {.fd = -1};
    char *text = NULL;
    size_t tlen = 0;
    FILE *m = NULL;
    int rc = -1;
    if (!in) goto oom;
    for (size_t i = 0; i < ndirs; i++) {
        if (read_input(&in[i], dirs[i], out_csv, err, errlen)) goto out;
        if (!in[i].self) total += in[i].t.nrows;
        else
            fprintf(stderr, "cannoli: merge: %s is the output itself (%zu rows: the shards "
                            "shared it)\n", in[i].path, in[i].t.nrows);
    }
    refs = cn_calloc(total ? total : 1, sizeof *refs);
    if (!refs) goto oom;
    int col[16];
    for (size_t i = 0; i < ndirs; i++) {
        if (in[i].self || in[i].t.nrows == 0) continue;
        for (size_t c = 0; c < cn_key_ncolumns; c++) col[c] = cn_csv_col(&in[i].t, cn_key_columns[c]);
        for (size_t r = 0; r < in[i].t.nrows; r++) {
            const char *f[16];
            key_fields(&in[i].t, r, col, f);
            refs[nrefs] = (ref_t){join(f, cn_key_ncolumns), i, r, 1};
            if (!refs[nrefs].key) goto oom;
            nrefs++;
        }
    }
    qsort(refs, nrefs, sizeof *refs, cmp_ref);
    for (size_t j = 1; j < nrefs; j++) {
        if (strcmp(refs[j].key, refs[j - 1].key) != 0) continue;
        refs[j].keep = 0;
        if (++ndup <= SHOW_MAX) {
            const cn_csv_t *t = &in[refs[j].in].t;
            size_t first = j;
            while (first > 0 && strcmp(refs[first - 1].key, refs[j].key) == 0) first--;
            for (size_t c = 0; c < cn_key_ncolumns; c++) col[c] = cn_csv_col(t, cn_key_columns[c]);
            const char *f[16];
            key_fields(t, refs[j].row, col, f);
            fprintf(stderr, "cannoli: merge: duplicate point %s {%s} {%s} search {%s} k=%s "
                            "threads=%s: in %s and %s (the first kept)\n",
                    f[1], f[2], f[3], f[4], f[5], f[6], in[refs[first].in].path,
                    in[refs[j].in].path);
        }
    }
    if (ndup > SHOW_MAX)
        fprintf(stderr, "cannoli: merge: ... and %zu more duplicate points\n", ndup - SHOW_MAX);

    if (cn_mkdirs(out, err, errlen) || cn_results_open(&res, out_csv, err, errlen)) goto out;
    m = open_memstream(&text, &tlen);
    if (!m) goto oom;
    /* In argument order: keep[] marks by (input, row). */
    for (size_t i = 0; i < ndirs; i++) {
        if (in[i].self) continue;
        for (size_t c = 0; c < cn_key_ncolumns; c++) col[c] = cn_csv_col(&in[i].t, cn_key_columns[c]);
        for (size_t r = 0; r < in[i].t.nrows; r++) {
            const char *f[16];
            key_fields(&in[i].t, r, col, f);
            char *k = join(f, cn_key_ncolumns);
            if (!k) goto oom;
            ref_t probe = {k, i, r, 0};
            ref_t *hit = bsearch(&probe, refs, nrefs, sizeof *refs, cmp_ref);
            cn_free(k);
            if (!hit || !hit->keep) continue;
            if (cn_done_has(&res.done, f)) {
                nthere++;
                continue;
            }
            if (put_row(m, &in[i].t, r)) goto oom;
            nnew++;
        }
    }
    if (fclose(m) != 0) {
        m = NULL;
        goto oom;
    }
    m = NULL;
    int dup = 0;
    if (tlen && cn_results_append(&res, NULL, text, tlen, &dup, err, errlen)) goto out;
    if (cn_results_close(&res, err, errlen)) goto out;
    fprintf(stderr,
            "cannoli: merge: %zu rows from %zu file%s into %s: %zu new, %zu already there, %zu "
            "duplicate%s\n",
            total, ndirs, ndirs == 1 ? "" : "s", out_csv, nnew, nthere, ndup,
            ndup == 1 ? "" : "s");
    if (exp && exp->path && list_missing(exp, out_csv, &nmissing, err, errlen)) goto out;
    rc = 0;
    goto out;
oom:
    cn_error(err, errlen, CN_ENOMEM, "%s: out of memory merging", out_csv);
out:
    if (m) fclose(m);
    free(text);
    cn_results_close(&res, NULL, 0);
    for (size_t j = 0; j < nrefs; j++) cn_free(refs[j].key);
    cn_free(refs);
    for (size_t i = 0; in && i < ndirs; i++) cn_csv_free(&in[i].t);
    cn_free(in);
    return rc;
}

int cn_merge_main(int argc, char **argv, cn_experiment_t *exp, int *have_exp,
                  const char **out_dir, int *plot, char *err, size_t errlen) {
    const char *cfg = NULL;
    *have_exp = 0;
    *out_dir = NULL;
    memset(exp, 0, sizeof *exp);
    char **dirs = cn_calloc((size_t)(argc > 0 ? argc : 1), sizeof *dirs);
    size_t ndirs = 0;
    int rc = 2;
    if (!dirs) {
        cn_error(err, errlen, CN_ENOMEM, "merge: out of memory");
        return 1;
    }
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc) *out_dir = argv[++i];
        else if (!strcmp(argv[i], "--config") && i + 1 < argc) cfg = argv[++i];
        else if (!strcmp(argv[i], "--no-plot")) *plot = 0;
        else if (argv[i][0] == '-') {
            cn_error(err, errlen, CN_EINVAL, "merge: unknown option or missing value '%s'",
                     argv[i]);
            goto out;
        } else dirs[ndirs++] = argv[i];
    }
    if (ndirs == 0) {
        cn_error(err, errlen, CN_EINVAL, "merge: give the shards' result folders (DIR...)");
        goto out;
    }
    if (!cfg && !*out_dir) {
        cn_error(err, errlen, CN_EINVAL,
                 "merge: give --config CONFIG (the results go where its run writes them) or "
                 "--out DIR");
        goto out;
    }
    rc = 1;
    if (cfg) {
        if (cn_config_load(exp, cfg, err, errlen)) goto out;
        *have_exp = 1;
    }
    rc = merge(cfg ? exp : NULL, dirs, ndirs, *out_dir, err, errlen) ? 1 : 0;
out:
    cn_free(dirs);
    return rc;
}
