/*
 * test_h_results.c — the shared, self-repairing results file
 * (harness/results.c): a row or a header cut short is moved to
 * results.csv.partial and not counted as done (issue 14: it used to be
 * counted done and the next row was glued onto it); a point another process
 * wrote meanwhile is not written twice; processes appending at once (forked,
 * started together on a missing file) leave one header and whole rows only;
 * a failing write (a full disk) is an error naming the file, never a
 * half-written row left behind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "csv.h"
#include "results.h"
#include "resume.h"
#include "rows.h"

/* A row of this version's columns: key columns d, alg, q, b, sp, 10, 1. */
static char *make_row(const char *alg, const char *sp) {
    static char buf[4096];
    size_t n = 0;
    for (size_t j = 0; j < cn_csv_ncolumns; j++) {
        const char *c = cn_csv_columns[j], *v = "1";
        if (!strcmp(c, "dataset")) v = "d";
        else if (!strcmp(c, "algorithm")) v = alg;
        else if (!strcmp(c, "quantizer_params")) v = "q";
        else if (!strcmp(c, "build_params")) v = "b";
        else if (!strcmp(c, "search_params")) v = sp;
        else if (!strcmp(c, "k")) v = "10";
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%c", v,
                              j + 1 == cn_csv_ncolumns ? '\n' : ',');
    }
    return buf;
}

static void key_of(const char *alg, const char *sp, const char *f[7]) {
    f[0] = "d";
    f[1] = alg;
    f[2] = "q";
    f[3] = "b";
    f[4] = sp;
    f[5] = "10";
    f[6] = "1";
}

static char *header(void) {
    static char h[4096];
    char *t;
    size_t n;
    assert_int_equal(cn_rows_header(&t, &n), 0);
    assert_true(n < sizeof h);
    memcpy(h, t, n + 1);
    free(t);
    return h;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static const char *fresh(const char *name) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", cn_test_tmpdir(), name);
    unlink(path);
    char p2[1100];
    snprintf(p2, sizeof p2, "%s.partial", path);
    unlink(p2);
    return path;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void test_cut_row_is_moved_aside(void **state) {
    (void)state;
    const char *path = fresh("cut.csv");
    char text[16384], partial[1100], err[1024];
    /* Two whole rows, then a third cut after its key columns survived. */
    snprintf(text, sizeof text, "%s", header());
    strcat(text, make_row("a", "ef=1"));
    strcat(text, make_row("a", "ef=2"));
    char third[4096];
    snprintf(third, sizeof third, "%s", make_row("a", "ef=3"));
    third[strlen(third) / 2] = 0;
    strcat(text, third);
    write_text(path, text);

    /* A dry run's view: the cut row is not a point done. */
    cn_done_set_t d;
    int exists;
    const char *f[7];
    assert_int_equal(cn_results_peek(&d, path, &exists, err, sizeof err), 0);
    assert_int_equal(exists, 1);
    assert_int_equal(d.n, 2);
    key_of("a", "ef=3", f);
    assert_false(cn_done_has(&d, f));
    cn_done_free(&d);
    assert_string_equal(slurp(path), text); /* peek changes nothing */

    cn_results_t r;
    assert_int_equal(cn_results_open(&r, path, err, sizeof err), 0);
    assert_int_equal(r.done.n, 2);
    assert_false(cn_done_has(&r.done, f));
    snprintf(partial, sizeof partial, "%s.partial", path);
    char want[4200];
    snprintf(want, sizeof want, "%s\n", third);
    assert_string_equal(slurp(partial), want);
    /* The point is measured again and its row starts on a line of its own. */
    int dup;
    const char *row = make_row("a", "ef=3");
    assert_int_equal(cn_results_append(&r, f, row, strlen(row), &dup, err, sizeof err), 0);
    assert_false(dup);
    assert_int_equal(cn_results_close(&r, err, sizeof err), 0);
    cn_csv_t t;
    assert_int_equal(cn_csv_read(&t, path, &exists, err, sizeof err), 0);
    assert_int_equal(t.nrows, 3);
    cn_csv_free(&t);
    char whole[16384];
    snprintf(whole, sizeof whole, "%s%s", header(), make_row("a", "ef=1"));
    strcat(whole, make_row("a", "ef=2"));
    strcat(whole, make_row("a", "ef=3"));
    assert_string_equal(slurp(path), whole);
}

static void test_cut_header_is_moved_aside(void **state) {
    (void)state;
    const char *path = fresh("cuthdr.csv");
    char err[1024], partial[1100];
    write_text(path, "dataset,algorithm,ind");
    cn_results_t r;
    assert_int_equal(cn_results_open(&r, path, err, sizeof err), 0);
    assert_int_equal(r.done.n, 0);
    assert_int_equal(cn_results_close(&r, err, sizeof err), 0);
    assert_string_equal(slurp(path), header());
    snprintf(partial, sizeof partial, "%s.partial", path);
    assert_string_equal(slurp(partial), "dataset,algorithm,ind\n");
    /* A whole header of other columns is never appended to. */
    path = fresh("other.csv");
    write_text(path, "a,b,c\n1,2,3\n");
    assert_int_equal(cn_results_open(&r, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "other columns"));
    assert_string_equal(slurp(path), "a,b,c\n1,2,3\n");
}

static void test_point_written_meanwhile_is_not_repeated(void **state) {
    (void)state;
    const char *path = fresh("dup.csv");
    char err[1024];
    cn_results_t r1, r2;
    assert_int_equal(cn_results_open(&r1, path, err, sizeof err), 0);
    assert_int_equal(cn_results_open(&r2, path, err, sizeof err), 0);
    const char *f[7];
    key_of("a", "ef=1", f);
    const char *row = make_row("a", "ef=1");
    int dup, changed;
    assert_int_equal(cn_results_append(&r1, f, row, strlen(row), &dup, err, sizeof err), 0);
    assert_false(dup);
    assert_int_equal(cn_results_refresh(&r2, &changed, err, sizeof err), 0);
    assert_true(changed);
    assert_true(cn_done_has(&r2.done, f));
    assert_int_equal(cn_results_append(&r2, f, row, strlen(row), &dup, err, sizeof err), 0);
    assert_true(dup);
    assert_int_equal(cn_results_refresh(&r1, &changed, err, sizeof err), 0);
    assert_false(changed); /* only r1 wrote since r1 last looked */
    assert_int_equal(cn_results_close(&r1, err, sizeof err), 0);
    assert_int_equal(cn_results_close(&r2, err, sizeof err), 0);
    assert_int_equal(cn_results_close(&r2, err, sizeof err), 0); /* idempotent */
    char want[8192];
    snprintf(want, sizeof want, "%s%s", header(), row);
    assert_string_equal(slurp(path), want);
}

static void test_concurrent_appends(void **state) {
    (void)state;
    enum { PROCS = 4, ROWS = 150 };
    const char *path = fresh("conc.csv");
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            close(go[1]);
            char c;
            if (read(go[0], &c, 1) < 0) _exit(3); /* all start when the pipe closes */
            char err[1024], alg[16], sp[32];
            cn_results_t r;
            if (cn_results_open(&r, path, err, sizeof err)) _exit(1);
            snprintf(alg, sizeof alg, "p%d", p);
            for (int i = 0; i < ROWS; i++) {
                snprintf(sp, sizeof sp, "ef=%d", i);
                const char *f[7];
                key_of(alg, sp, f);
                const char *row = make_row(alg, sp);
                int dup;
                if (cn_results_append(&r, f, row, strlen(row), &dup, err, sizeof err) || dup)
                    _exit(2);
                /* every process also tries a point all of them write */
                key_of("shared", "ef=0", f);
                row = make_row("shared", "ef=0");
                if (i == ROWS / 2 &&
                    cn_results_append(&r, f, row, strlen(row), &dup, err, sizeof err))
                    _exit(2);
            }
            _exit(cn_results_close(&r, err, sizeof err) ? 1 : 0);
        }
    }
    close(go[0]);
    close(go[1]);
    for (int p = 0; p < PROCS; p++) {
        int st;
        assert_int_equal(waitpid(pids[p], &st, 0), pids[p]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    char err[1024];
    cn_csv_t t;
    int exists;
    assert_int_equal(cn_csv_read(&t, path, &exists, err, sizeof err), 0);
    assert_int_equal(t.ncols, cn_csv_ncolumns);
    assert_int_equal(t.nrows, PROCS * ROWS + 1);
    cn_csv_free(&t);
    /* one header, every line whole */
    const char *text = slurp(path), *h = header();
    size_t hl = strlen(h), lines = 0;
    assert_memory_equal(text, h, hl);
    assert_null(strstr(text + hl, "dataset,algorithm"));
    for (const char *p = text; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, PROCS * ROWS + 2);
}

static void test_failing_write_is_an_error(void **state) {
    (void)state;
    char err[1024];
    cn_results_t r;
    /* Not a regular file: refused, never read forever or written into. */
    if (access("/dev/full", W_OK) == 0) {
        const char *path = fresh("full.csv");
        assert_int_equal(symlink("/dev/full", path), 0);
        assert_int_equal(cn_results_open(&r, path, err, sizeof err), -1);
        assert_non_null(strstr(err, "full.csv: not a regular file"));
        int exists;
        cn_done_set_t d;
        assert_int_equal(cn_results_peek(&d, path, &exists, err, sizeof err), -1);
        unlink(path);
    }
    /* The file system refuses the row half-way (the file size limit stands in
     * for a full disk): an error naming the file, and the file as before. */
    const char *path = fresh("limit.csv");
    assert_int_equal(cn_results_open(&r, path, err, sizeof err), 0);
    assert_int_equal(cn_results_close(&r, err, sizeof err), 0);
    size_t hl = strlen(header());
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim = {(rlim_t)hl + 40, (rlim_t)hl + 40};
        if (setrlimit(RLIMIT_FSIZE, &lim)) _exit(3);
        if (cn_results_open(&r, path, err, sizeof err)) _exit(4);
        const char *f[7];
        key_of("a", "ef=1", f);
        const char *row = make_row("a", "ef=1");
        int dup;
        int rc = cn_results_append(&r, f, row, strlen(row), &dup, err, sizeof err);
        cn_results_close(&r, NULL, 0);
        _exit(rc == -1 && strstr(err, "limit.csv: write failed") ? 0 : 5);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_string_equal(slurp(path), header()); /* no partial row left */
    /* A row that does not end a line is refused (a caller's bug). */
    path = fresh("nl.csv");
    assert_int_equal(cn_results_open(&r, path, err, sizeof err), 0);
    int dup;
    assert_int_equal(cn_results_append(&r, NULL, "x", 1, &dup, err, sizeof err), -1);
    assert_int_equal(cn_results_close(&r, err, sizeof err), 0);
    assert_string_equal(slurp(path), header());
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cut_row_is_moved_aside),
        cmocka_unit_test(test_cut_header_is_moved_aside),
        cmocka_unit_test(test_point_written_meanwhile_is_not_repeated),
        cmocka_unit_test(test_concurrent_appends),
        cmocka_unit_test(test_failing_write_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
