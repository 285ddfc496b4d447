/*
 * test_h_fetch.c — the pieces of `cannoli fetch` that need no network: the
 * SHA-256 and MD5 implementations against the published test vectors (FIPS
 * 180-4 examples, RFC 1321 suite), fed whole and byte-split, and the
 * catalogue's download lists (ANN-Benchmarks HDF5, MS MARCO SPLADE .csr.gz).
 * The transfers themselves are tested against a local server in
 * tests/e2e/test_fetch.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "digest.h"
#include "fetch.h"

static void sha_of(const void *p, size_t n, size_t step, char out[65]) {
    cn_sha256_t s;
    cn_sha256_init(&s);
    for (size_t i = 0; i < n; i += step)
        cn_sha256_update(&s, (const char *)p + i, n - i < step ? n - i : step);
    cn_sha256_hex(&s, out);
}

static void md5_of(const void *p, size_t n, size_t step, char out[33]) {
    cn_md5_t s;
    cn_md5_init(&s);
    for (size_t i = 0; i < n; i += step)
        cn_md5_update(&s, (const char *)p + i, n - i < step ? n - i : step);
    cn_md5_hex(&s, out);
}

static void test_sha256(void **state) {
    (void)state;
    static const struct { const char *in, *hex; } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    char hex[65];
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        for (size_t step = 1; step <= 64; step *= 4) {
            sha_of(v[i].in, strlen(v[i].in), step, hex);
            assert_string_equal(hex, v[i].hex);
        }
    size_t n = 1000000;
    char *a = malloc(n);
    assert_non_null(a);
    memset(a, 'a', n);
    sha_of(a, n, 4099, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

static void test_md5(void **state) {
    (void)state;
    static const struct { const char *in, *hex; } v[] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    char hex[33];
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        for (size_t step = 1; step <= 64; step *= 4) {
            md5_of(v[i].in, strlen(v[i].in), step, hex);
            assert_string_equal(hex, v[i].hex);
        }
}

static void test_catalogue_downloads(void **state) {
    (void)state;
    cn_download_t d[8];
    assert_int_equal(cn_catalogue_downloads("sift-128-euclidean", d, 8), 1);
    assert_string_equal(d[0].base, "http://ann-benchmarks.com/");
    assert_string_equal(d[0].remote, "sift-128-euclidean.hdf5");
    assert_string_equal(d[0].file, "sift-128-euclidean.hdf5");
    assert_int_equal(d[0].gunzip, 0);
    assert_int_equal(cn_catalogue_downloads("deep-image-96-angular", d, 8), 1);
    assert_int_equal(cn_catalogue_downloads("msmarco-splade-full", d, 8), 3);
    assert_string_equal(d[0].base,
                        "https://storage.googleapis.com/ann-challenge-sparse-vectors/csr/");
    assert_string_equal(d[0].remote, "base_full.csr.gz");
    assert_string_equal(d[0].file, "msmarco-splade/base_full.csr");
    assert_int_equal(d[0].gunzip, 1);
    assert_string_equal(d[1].remote, "queries.dev.csr.gz");
    assert_string_equal(d[2].remote, "base_full.dev.gt");
    assert_string_equal(d[2].file, "msmarco-splade/base_full.dev.gt");
    assert_int_equal(d[2].gunzip, 0);
    assert_int_equal(cn_catalogue_downloads("msmarco-splade-1m", d, 8), 3);
    assert_string_equal(d[0].remote, "base_1M.csr.gz");
    assert_string_equal(d[2].remote, "base_1M.dev.gt");
    /* Local-only entries and unknown names have no download. */
    assert_int_equal(cn_catalogue_downloads("sift-debian", d, 8), 0);
    assert_int_equal(cn_catalogue_downloads("synth-20k-64-euclidean", d, 8), 0);
    assert_int_equal(cn_catalogue_downloads("no-such-set", d, 8), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_md5),
        cmocka_unit_test(test_catalogue_downloads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
