/*
 * test_h_csv.c — the results CSV reader/writer: quoting round trip, CRLF,
 * short rows, malformed files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "csv.h"
#include "testutil.h"

static const char *write_file(const char *name, const char *text) {
    static char path[4200];
    snprintf(path, sizeof path, "%s/%s", cn_test_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_roundtrip(void **state) {
    (void)state;
    char path[4200];
    snprintf(path, sizeof path, "%s/rt.csv", cn_test_tmpdir());
    FILE *f = fopen(path, "wb");
    const char *fields[] = {"plain", "has,comma", "has \"quote\"", "line\nbreak", ""};
    for (int i = 0; i < 5; i++) cn_csv_put(f, fields[i], i == 4);
    for (int i = 0; i < 5; i++) cn_csv_put(f, fields[4 - i], i == 4);
    fclose(f);
    cn_csv_t t;
    int exists;
    char err[256];
    assert_int_equal(cn_csv_read(&t, path, &exists, err, sizeof err), 0);
    assert_int_equal(exists, 1);
    assert_int_equal(t.ncols, 5);
    assert_int_equal(t.nrows, 1);
    for (int i = 0; i < 5; i++) {
        assert_string_equal(t.header[i], fields[i]);
        assert_string_equal(t.rows[0][i], fields[4 - i]);
    }
    assert_int_equal(cn_csv_col(&t, "has,comma"), 1);
    assert_int_equal(cn_csv_col(&t, "nope"), -1);
    cn_csv_free(&t);
}

static void test_crlf_short_rows_missing(void **state) {
    (void)state;
    const char *p = write_file("crlf.csv", "a,b,c\r\n1,2,3\r\n4\r\n\r\n5,6,7");
    cn_csv_t t;
    int exists;
    char err[256];
    assert_int_equal(cn_csv_read(&t, p, &exists, err, sizeof err), 0);
    assert_int_equal(t.nrows, 3);
    assert_string_equal(t.rows[1][0], "4");
    assert_string_equal(t.rows[1][2], "");
    assert_string_equal(t.rows[2][2], "7");
    cn_csv_free(&t);
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/absent.csv", cn_test_tmpdir());
    assert_int_equal(cn_csv_read(&t, missing, &exists, err, sizeof err), 0);
    assert_int_equal(exists, 0);
    assert_int_equal(t.nrows, 0);
}

static void test_malformed(void **state) {
    (void)state;
    cn_csv_t t;
    int exists;
    char err[256];
    const char *p = write_file("long.csv", "a,b\n1,2,3\n");
    assert_int_equal(cn_csv_read(&t, p, &exists, err, sizeof err), -1);
    assert_non_null(strstr(err, "long.csv:2: row has 3 fields, header has 2"));
    p = write_file("quote.csv", "a,b\n\"1,2\n");
    assert_int_equal(cn_csv_read(&t, p, &exists, err, sizeof err), -1);
    assert_non_null(strstr(err, "unterminated quoted field"));
    p = write_file("after.csv", "a,b\n\"1\"x,2\n");
    assert_int_equal(cn_csv_read(&t, p, &exists, err, sizeof err), -1);
    assert_non_null(strstr(err, "after.csv:2: text after a closing quote"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_crlf_short_rows_missing),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
