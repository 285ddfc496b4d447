/*
 * tests/fuzz/fuzz_csv.c — the results CSV parser and the resume set built
 * from it (harness/csv.c, resume.c). With the first byte odd, the current
 * header line is put before the input, so the fuzzer reaches the rows
 * rather than only the header check.
 */
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "fuzz_util.h"
#include "resume.h"
#include "rows.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > (1u << 20)) return 0;
    static char *header;
    static size_t hlen;
    if (!header) {
        for (size_t i = 0; i < cn_csv_ncolumns; i++) hlen += strlen(cn_csv_columns[i]) + 1;
        header = malloc(hlen + 1);
        if (!header) return 0;
        size_t at = 0;
        for (size_t i = 0; i < cn_csv_ncolumns; i++) {
            size_t l = strlen(cn_csv_columns[i]);
            memcpy(header + at, cn_csv_columns[i], l);
            at += l;
            header[at++] = i + 1 < cn_csv_ncolumns ? ',' : '\n';
        }
        header[at] = 0;
    }
    int with_header = data[0] & 1;
    size_t n = (with_header ? hlen : 0) + size - 1;
    unsigned char *b = malloc(n ? n : 1);
    if (!b) return 0;
    if (with_header) memcpy(b, header, hlen);
    memcpy(b + (with_header ? hlen : 0), data + 1, size - 1);
    const char *path = cn_fuzz_file(b, n, ".csv");
    free(b);

    char err[1024];
    int exists;
    cn_csv_t t;
    if (cn_csv_read(&t, path, &exists, err, sizeof err) == 0) {
        if (t.nrows && t.ncols) (void)cn_csv_col(&t, "recall");
        cn_csv_free(&t);
    }
    cn_done_set_t d;
    if (cn_done_load(&d, path, &exists, err, sizeof err) == 0) {
        const char *fields[64];
        if (cn_key_ncolumns <= 64) {
            for (size_t i = 0; i < cn_key_ncolumns; i++) fields[i] = "x";
            (void)cn_done_has(&d, fields);
        }
        cn_done_free(&d);
    }
    return 0;
}
