/*
 * test_io.c — cannoli/io.h: checksummed binary files. Round trips of every
 * scalar type, the on-disk layout (magic, version, little-endian payload,
 * trailer checksum), bounds-checked reads (sticky CN_EFORMAT, zero-filled
 * buffers), rejection of corrupt / truncated / foreign / future files, the
 * write-to-temporary-then-rename atomicity, the incremental checksum, and
 * leak-freedom (and ENOMEM behaviour) under the counting allocator.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>
#include <cmocka.h>

#include "testutil.h"

#include "cannoli/common.h"
#include "cannoli/io.h"

#define HDR 12u
#define TRL 8u

static int setup(void **state) {
    (void)state;
    cn_test_alloc_install();
    return 0;
}

static int teardown(void **state) {
    (void)state;
    long live = cn_test_alloc_live();
    cn_test_alloc_uninstall();
    assert_int_equal(live, 0);
    return 0;
}

/* ---- helpers ------------------------------------------------------------------ */

static void make_path(char *out, size_t cap, const char *name) {
    const char *dir = cn_test_tmpdir();
    assert_non_null(dir);
    int n = snprintf(out, cap, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < cap);
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

static int tmp_exists(const char *path) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    return exists(tmp);
}

/* Whole file into a malloc'd buffer (libc, not the hook). */
static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long sz = ftell(f);
    assert_true(sz >= 0);
    rewind(f);
    unsigned char *b = malloc((size_t)sz + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *len = (size_t)sz;
    return b;
}

static void spit(const char *path, const void *b, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (len) assert_int_equal(fwrite(b, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p) {
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void put_le32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void put_le64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Recomputes the trailer so that only deliberate edits make a file invalid. */
static void fix_trailer(unsigned char *b, size_t len) {
    assert_true(len >= HDR + TRL);
    put_le64(b + len - TRL, cn_checksum(CN_CHECKSUM_INIT, b, len - TRL));
}

/* A small valid file: u32 0x11223344, u64 7, str "abc". Payload 4+8+4+3 = 19. */
#define SMALL_PAYLOAD 19u
static void write_small(const char *path) {
    cn_writer_t w;
    char err[256] = "";
    assert_int_equal(cn_writer_open(&w, path, err, sizeof err), CN_OK);
    cn_write_u32(&w, 0x11223344u);
    cn_write_u64(&w, 7u);
    cn_write_str(&w, "abc");
    assert_int_equal(cn_writer_close(&w, err, sizeof err), CN_OK);
}

static void expect_small(const char *path) {
    cn_reader_t r;
    char err[256] = "";
    cn_status_t st = cn_reader_open(&r, path, err, sizeof err);
    if (st != CN_OK) {
        print_error("cn_reader_open(%s): %d %s\n", path, st, err);
        fail();
    }
    assert_int_equal(cn_reader_remaining(&r), SMALL_PAYLOAD);
    assert_int_equal(cn_read_u32(&r), 0x11223344u);
    assert_int_equal(cn_read_u64(&r), 7u);
    char *s = cn_read_str(&r, 100);
    assert_non_null(s);
    assert_string_equal(s, "abc");
    cn_free(s);
    assert_int_equal(cn_reader_remaining(&r), 0);
    assert_int_equal(r.st, CN_OK);
    cn_reader_close(&r);
}

/* Expects cn_reader_open to fail with `want` (or any error when want == CN_OK)
 * and a message naming the path, without leaking. */
static void expect_open_fails(const char *path, cn_status_t want) {
    cn_reader_t r;
    char err[4400];
    memset(err, 0, sizeof err);
    long live = cn_test_alloc_live();
    cn_status_t st = cn_reader_open(&r, path, err, sizeof err);
    if (st == CN_OK) {
        cn_reader_close(&r);
        print_error("cn_reader_open(%s) unexpectedly succeeded\n", path);
        fail();
    }
    if (want != CN_OK && st != want) {
        print_error("cn_reader_open(%s): got %d (%s), want %d\n", path, st, err, want);
        fail();
    }
    if (!strstr(err, path)) {
        print_error("message '%s' should name the path %s\n", err, path);
        fail();
    }
    /* a failed open keeps nothing allocated */
    assert_int_equal(cn_test_alloc_live(), live);
}

/* ---- round trips ---------------------------------------------------------------- */

static void test_roundtrip_scalars(void **state) {
    (void)state;
    char path[4096], err[256] = "";
    make_path(path, sizeof path, "scalars.bin");
    unsigned char raw[100];
    uint64_t rs = 99;
    for (size_t i = 0; i < sizeof raw; i++) raw[i] = (unsigned char)cn_test_rand(&rs);

    static const double dv[] = {-3.25, 0.0, -0.0, 1e300, -DBL_MIN, DBL_MAX, 4.9e-324, 0.1};
    size_t ndv = sizeof dv / sizeof dv[0];

    cn_writer_t w;
    assert_int_equal(cn_writer_open(&w, path, err, sizeof err), CN_OK);
    cn_write_u32(&w, 0xdeadbeefu);
    cn_write_u32(&w, 0);
    cn_write_u32(&w, UINT32_MAX);
    cn_write_u64(&w, 0x0123456789abcdefull);
    cn_write_u64(&w, UINT64_MAX);
    for (size_t i = 0; i < ndv; i++) cn_write_f64(&w, dv[i]);
    cn_write_f64(&w, NAN);
    cn_write_str(&w, "hello");
    cn_write_str(&w, "");
    cn_write(&w, raw, sizeof raw);
    cn_write(&w, raw, 0);
    cn_write_str(&w, "tail \xc3\xa9");
    assert_int_equal(cn_writer_close(&w, err, sizeof err), CN_OK);
    assert_true(exists(path));
    assert_false(tmp_exists(path));

    size_t payload = 3 * 4 + 2 * 8 + (ndv + 1) * 8 + (4 + 5) + 4 + sizeof raw + (4 + 7);

    cn_reader_t r;
    assert_int_equal(cn_reader_open(&r, path, err, sizeof err), CN_OK);
    assert_int_equal(cn_reader_remaining(&r), payload);
    assert_int_equal(cn_read_u32(&r), 0xdeadbeefu);
    assert_int_equal(cn_reader_remaining(&r), payload - 4);
    assert_int_equal(cn_read_u32(&r), 0);
    assert_int_equal(cn_read_u32(&r), UINT32_MAX);
    assert_int_equal(cn_reader_remaining(&r), payload - 12);
    assert_int_equal(cn_read_u64(&r), 0x0123456789abcdefull);
    assert_int_equal(cn_reader_remaining(&r), payload - 20);
    assert_int_equal(cn_read_u64(&r), UINT64_MAX);
    for (size_t i = 0; i < ndv; i++) {
        double d = cn_read_f64(&r);
        assert_memory_equal(&d, &dv[i], sizeof d); /* bit-exact, incl. -0.0 */
    }
    assert_true(isnan(cn_read_f64(&r)));
    uint64_t before = cn_reader_remaining(&r);
    char *s = cn_read_str(&r, 5);
    assert_non_null(s);
    assert_string_equal(s, "hello");
    cn_free(s);
    assert_int_equal(cn_reader_remaining(&r), before - 9);
    s = cn_read_str(&r, 0);
    assert_non_null(s);
    assert_string_equal(s, "");
    cn_free(s);
    unsigned char back[100];
    assert_int_equal(cn_read(&r, back, sizeof back), CN_OK);
    assert_memory_equal(back, raw, sizeof raw);
    assert_int_equal(cn_read(&r, back, 0), CN_OK);
    s = cn_read_str(&r, 64);
    assert_non_null(s);
    assert_string_equal(s, "tail \xc3\xa9");
    cn_free(s);
    assert_int_equal(cn_reader_remaining(&r), 0);
    assert_int_equal(r.st, CN_OK);
    cn_reader_close(&r);
}

static void test_layout_on_disk(void **state) {
    (void)state;
    char path[4096];
    make_path(path, sizeof path, "layout.bin");
    write_small(path);
    size_t len;
    unsigned char *b = slurp(path, &len);
    assert_int_equal(len, HDR + SMALL_PAYLOAD + TRL);
    assert_memory_equal(b, "CNNOLI\x01\x00", 8);
    assert_int_equal(le32(b + 8), CN_IO_VERSION);
    /* payload is little-endian */
    assert_int_equal(le32(b + 12), 0x11223344u);
    assert_int_equal(b[12], 0x44);
    assert_int_equal(le64(b + 16), 7u);
    assert_int_equal(le32(b + 24), 3u);
    assert_memory_equal(b + 28, "abc", 3);
    /* trailer: checksum of every byte before it */
    assert_int_equal(le64(b + len - TRL), cn_checksum(CN_CHECKSUM_INIT, b, len - TRL));
    free(b);
    expect_small(path);
}

static void test_empty_payload(void **state) {
    (void)state;
    char path[4096], err[256] = "";
    make_path(path, sizeof path, "empty_payload.bin");
    cn_writer_t w;
    assert_int_equal(cn_writer_open(&w, path, err, sizeof err), CN_OK);
    assert_int_equal(cn_writer_close(&w, err, sizeof err), CN_OK);
    size_t len;
    unsigned char *b = slurp(path, &len);
    assert_int_equal(len, HDR + TRL);
    free(b);
    cn_reader_t r;
    assert_int_equal(cn_reader_open(&r, path, err, sizeof err), CN_OK);
    assert_int_equal(cn_reader_remaining(&r), 0);
    unsigned char x = 0xAA;
    assert_int_equal(cn_read(&r, &x, 1), CN_EFORMAT);
    assert_int_equal(x, 0);
    assert_int_equal(r.st, CN_EFORMAT);
    cn_reader_close(&r);
}

static void test_roundtrip_large_chunked(void **state) {
    (void)state;
    char path[4096], err[256] = "";
    make_path(path, sizeof path, "large.bin");
    size_t n = (5u << 19) + 13; /* 2.5 MiB + odd: spans several I/O buffers */
    unsigned char *data = malloc(n), *back = malloc(n);
    uint64_t rs = 12345;
    for (size_t i = 0; i < n; i++) data[i] = (unsigned char)cn_test_rand(&rs);

    cn_writer_t w;
    assert_int_equal(cn_writer_open(&w, path, err, sizeof err), CN_OK);
    for (size_t off = 0; off < n;) {
        size_t c = 1 + (size_t)(cn_test_rand(&rs) % 70000);
        if (c > n - off) c = n - off;
        cn_write(&w, data + off, c);
        off += c;
    }
    assert_int_equal(cn_writer_close(&w, err, sizeof err), CN_OK);

    cn_reader_t r;
    assert_int_equal(cn_reader_open(&r, path, err, sizeof err), CN_OK);
    assert_int_equal(cn_reader_remaining(&r), n);
    memset(back, 0, n);
    for (size_t off = 0; off < n;) {
        size_t c = 1 + (size_t)(cn_test_rand(&rs) % 50000);
        if (c > n - off) c = n - off;
        assert_int_equal(cn_read(&r, back + off, c), CN_OK);
        off += c;
        assert_int_equal(cn_reader_remaining(&r), n - off);
    }
    assert_memory_equal(back, data, n);
    assert_int_equal(r.st, CN_OK);
    cn_reader_close(&r);

    /* single-byte corruption anywhere in a large file is caught, notably
     * around power-of-two offsets where a reader's buffers may split */
    size_t len;
    unsigned char *file = slurp(path, &len);
    assert_int_equal(len, HDR + n + TRL);
    size_t spots[] = {HDR,           len / 2,       (1u << 16) - 1, (1u << 20) - 9,
                      (1u << 20) - 8, (1u << 20) - 1, 1u << 20,       (1u << 20) + 7,
                      (2u << 20) - 4, len - TRL - 1, len - TRL,      len - 1};
    for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
        file[spots[i]] ^= 0x10;
        spit(path, file, len);
        expect_open_fails(path, CN_EFORMAT);
        file[spots[i]] ^= 0x10;
    }
    spit(path, file, len - 1);
    expect_open_fails(path, CN_EFORMAT);
    free(file);
    free(data);
    free(back);
}

/* ---- bounds-checked reads ---------------------------------------------------------- */

static void test_read_past_end(void **state) {
    (void)state;
    char path[4096], err[256] = "";
    make_path(path, sizeof path, "short.bin");
    cn_writer_t w;
    assert_int_equal(cn_writer_open(&w, path, err, sizeof err), CN_OK);
    cn_write_u32(&w, 0xA1B2C3D4u);
    cn_write_u32(&w, 0x55667788u);
    cn_write(&w, "\x7f\x7f\x7f", 3);
    assert_int_equal(cn_writer_close(&w, err, sizeof err), CN_OK);

    cn_reader_t r;
    assert_int_equal(cn_reader_open(&r, path, err, sizeof err), CN_OK);
    assert_int_equal(cn_reader_remaining(&r), 11);
    assert_int_equal(cn_read_u32(&r), 0xA1B2C3D4u);
    assert_int_equal(r.st, CN_OK);
    assert_int_equal(cn_reader_remaining(&r), 7);
    /* 8 bytes wanted, 7 left: short read, whole buffer zero-filled */
    unsigned char buf[8];
    memset(buf, 0xEE, sizeof buf);
    assert_int_equal(cn_read(&r, buf, sizeof buf), CN_EFORMAT);
    for (size_t i = 0; i < sizeof buf; i++) assert_int_equal(buf[i], 0);
    assert_int_equal(r.st, CN_EFORMAT);
    /* sticky: even a read that would fit now fails and zero-fills */
    memset(buf, 0xEE, sizeof buf);
    assert_int_equal(cn_read(&r, buf, 2), CN_EFORMAT);
    assert_int_equal(buf[0], 0);
    assert_int_equal(buf[1], 0);
    assert_int_equal(buf[2], 0xEE);
    assert_int_equal(r.st, CN_EFORMAT);
    assert_int_equal(cn_read_u32(&r), 0);
    assert_int_equal(cn_read_u64(&r), 0);
    assert_true(cn_read_f64(&r) == 0.0);
    assert_null(cn_read_str(&r, 100));
    assert_int_equal(r.st, CN_EFORMAT);
    cn_reader_close(&r);

    /* typed reads past the end return 0 */
    assert_int_equal(cn_reader_open(&r, path, err, sizeof err), CN_OK);
    assert_int_equal(cn_read_u64(&r), 0x55667788A1B2C3D4ull);
    assert_int_equal(cn_read_u32(&r), 0); /* 3 bytes left */
    assert_int_equal(r.st, CN_EFORMAT);
    cn_reader_close(&r);

    assert_int_equal(cn_reader_open(&r, path, err, sizeof err), CN_OK);
    assert_int_equal(cn_read_u64(&r), 0x55667788A1B2C3D4ull);
    assert_int_equal(cn_read_u64(&r), 0);
    assert_int_equal(r.st, CN_EFORMAT);
    cn_reader_close(&r);

    assert_int_equal(cn_reader_open(&r, path, err, sizeof err), CN_OK);
    assert_int_equal(cn_read_u64(&r), 0x55667788A1B2C3D4ull);
    assert_true(cn_read_f64(&r) == 0.0);
    assert_int_equal(r.st, CN_EFORMAT);
    cn_reader_close(&r);
}

static void test_read_str_limits(void **state) {
    (void)state;
    char path[4096], err[256] = "";
    make_path(path, sizeof path, "str.bin");
    cn_writer_t w;
    assert_int_equal(cn_writer_open(&w, path, err, sizeof err), CN_OK);
    cn_write_str(&w, "hello world"); /* 11 bytes */
    assert_int_equal(cn_writer_close(&w, err, sizeof err), CN_OK);

    cn_reader_t r;
    assert_int_equal(cn_reader_open(&r, path, err, sizeof err), CN_OK);
    assert_null(cn_read_str(&r, 5));
    cn_reader_close(&r);

    assert_int_equal(cn_reader_open(&r, path, err, sizeof err), CN_OK);
    assert_null(cn_read_str(&r, 10));
    cn_reader_close(&r);

    /* exactly maxlen is fine */
    assert_int_equal(cn_reader_open(&r, path, err, sizeof err), CN_OK);
    char *s = cn_read_str(&r, 11);
    assert_non_null(s);
    assert_string_equal(s, "hello world");
    assert_int_equal(strlen(s), 11);
    cn_free(s);
    assert_int_equal(cn_reader_remaining(&r), 0);
    cn_reader_close(&r);

    /* a string whose length prefix exceeds the file (valid checksum) */
    make_path(path, sizeof path, "str_long.bin");
    assert_int_equal(cn_writer_open(&w, path, err, sizeof err), CN_OK);
    cn_write_u32(&w, 1000);
    cn_write(&w, "abc", 3);
    assert_int_equal(cn_writer_close(&w, err, sizeof err), CN_OK);
    assert_int_equal(cn_reader_open(&r, path, err, sizeof err), CN_OK);
    assert_null(cn_read_str(&r, 100000));
    assert_int_equal(r.st, CN_EFORMAT);
    cn_reader_close(&r);

    /* ... and one absurdly long (must not try to allocate 4 GiB first) */
    make_path(path, sizeof path, "str_huge.bin");
    assert_int_equal(cn_writer_open(&w, path, err, sizeof err), CN_OK);
    cn_write_u32(&w, UINT32_MAX);
    assert_int_equal(cn_writer_close(&w, err, sizeof err), CN_OK);
    assert_int_equal(cn_reader_open(&r, path, err, sizeof err), CN_OK);
    /* an allocation attempt would fail: the answer must still be "malformed" */
    cn_test_alloc_fail_after(0);
    assert_null(cn_read_str(&r, SIZE_MAX));
    cn_test_alloc_fail_after(-1);
    assert_int_equal(r.st, CN_EFORMAT);
    cn_reader_close(&r);
}

/* ---- rejected files -------------------------------------------------------------- */

static void test_flipped_byte(void **state) {
    (void)state;
    char path[4096];
    make_path(path, sizeof path, "flip.bin");
    write_small(path);
    size_t len;
    unsigned char *orig = slurp(path, &len);
    unsigned char *b = malloc(len);
    /* every byte position, payload and trailer, one bit at a time */
    for (size_t pos = HDR; pos < len; pos++) {
        for (int bit = 0; bit < 8; bit += 3) {
            memcpy(b, orig, len);
            b[pos] ^= (unsigned char)(1u << bit);
            spit(path, b, len);
            expect_open_fails(path, CN_EFORMAT);
        }
    }
    /* restoring the file makes it readable again */
    spit(path, orig, len);
    expect_small(path);
    free(orig);
    free(b);
}

static void test_truncated(void **state) {
    (void)state;
    char path[4096];
    make_path(path, sizeof path, "trunc.bin");
    write_small(path);
    size_t len;
    unsigned char *orig = slurp(path, &len);
    size_t cuts[] = {len - 1, len - 8, HDR + TRL, HDR + 1, HDR, 11, 8, 5, 1, 0};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        spit(path, orig, cuts[i]);
        expect_open_fails(path, CN_EFORMAT);
    }
    /* extra bytes appended are not silently ignored */
    unsigned char *longer = malloc(len + 1);
    memcpy(longer, orig, len);
    longer[len] = 0;
    spit(path, longer, len + 1);
    expect_open_fails(path, CN_EFORMAT);
    free(longer);
    free(orig);
}

static void test_wrong_magic(void **state) {
    (void)state;
    char path[4096];
    make_path(path, sizeof path, "magic.bin");
    write_small(path);
    size_t len;
    unsigned char *orig = slurp(path, &len);
    unsigned char *b = malloc(len);

    /* control: recomputing the trailer of an untouched file keeps it valid */
    memcpy(b, orig, len);
    fix_trailer(b, len);
    assert_memory_equal(b, orig, len);
    spit(path, b, len);
    expect_small(path);

    for (size_t pos = 0; pos < 8; pos++) {
        memcpy(b, orig, len);
        b[pos] ^= 0x20; /* e.g. "cNNOLI" */
        fix_trailer(b, len);
        spit(path, b, len);
        expect_open_fails(path, CN_EFORMAT);
    }
    free(orig);
    free(b);
}

static void test_wrong_version(void **state) {
    (void)state;
    char path[4096];
    make_path(path, sizeof path, "version.bin");
    write_small(path);
    size_t len;
    unsigned char *orig = slurp(path, &len);
    unsigned char *b = malloc(len);
    static const uint32_t versions[] = {0, CN_IO_VERSION + 1, 0x01000000u, UINT32_MAX};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        memcpy(b, orig, len);
        put_le32(b + 8, versions[i]);
        fix_trailer(b, len);
        spit(path, b, len);
        expect_open_fails(path, CN_EFORMAT);
    }
    /* the same fix-up with the right version is accepted */
    memcpy(b, orig, len);
    put_le32(b + 8, CN_IO_VERSION);
    fix_trailer(b, len);
    spit(path, b, len);
    expect_small(path);
    free(orig);
    free(b);
}

static void test_missing_file(void **state) {
    (void)state;
    char path[4096];
    make_path(path, sizeof path, "does_not_exist.bin");
    assert_false(exists(path));
    cn_reader_t r;
    char err[4400] = "";
    cn_status_t st = cn_reader_open(&r, path, err, sizeof err);
    assert_true(st == CN_EIO || st == CN_ENOTFOUND);
    assert_non_null(strstr(err, path));
    assert_int_equal(cn_test_alloc_live(), 0);
    /* a directory is not a cannoli file either */
    expect_open_fails(cn_test_tmpdir(), CN_OK);
}

/* ---- atomic writes ------------------------------------------------------------------ */

static void test_abort_keeps_old_file(void **state) {
    (void)state;
    char path[4096], err[256] = "";
    make_path(path, sizeof path, "atomic.bin");
    write_small(path);
    size_t len0;
    unsigned char *orig = slurp(path, &len0);

    cn_writer_t w;
    assert_int_equal(cn_writer_open(&w, path, err, sizeof err), CN_OK);
    assert_true(tmp_exists(path)); /* writes go to <path>.tmp */
    cn_write_u32(&w, 0xBADBADu);
    cn_write_str(&w, "a different and longer content");
    /* the old file is untouched while the new one is being written */
    expect_small(path);
    cn_writer_abort(&w);
    assert_false(tmp_exists(path));
    expect_small(path);
    size_t len1;
    unsigned char *now = slurp(path, &len1);
    assert_int_equal(len1, len0);
    assert_memory_equal(now, orig, len0);
    free(now);
    free(orig);

    /* abort of a brand-new file leaves nothing behind */
    make_path(path, sizeof path, "atomic_new.bin");
    assert_int_equal(cn_writer_open(&w, path, err, sizeof err), CN_OK);
    cn_write_u64(&w, 1);
    cn_writer_abort(&w);
    assert_false(exists(path));
    assert_false(tmp_exists(path));
}

static void test_close_replaces_old_file(void **state) {
    (void)state;
    char path[4096], err[256] = "";
    make_path(path, sizeof path, "replace.bin");
    cn_writer_t w;
    assert_int_equal(cn_writer_open(&w, path, err, sizeof err), CN_OK);
    cn_write_str(&w, "old old old old old old old old");
    assert_int_equal(cn_writer_close(&w, err, sizeof err), CN_OK);
    write_small(path); /* shorter content over a longer file */
    assert_false(tmp_exists(path));
    expect_small(path);
}

/* A write error (file size limit exceeded) is sticky and reported by close,
 * which removes the temporary and leaves the earlier file alone. */
static void test_write_error_keeps_old_file(void **state) {
    (void)state;
    char path[4096], err[4400];
    make_path(path, sizeof path, "fsize.bin");
    write_small(path);

    struct rlimit old_lim, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old_lim), 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old_lim;
    lim.rlim_cur = 64 * 1024;
    if (old_lim.rlim_max != RLIM_INFINITY && old_lim.rlim_max < lim.rlim_cur) skip();
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);

    size_t n = 4u << 20;
    unsigned char *junk = calloc(n, 1);
    cn_writer_t w;
    memset(err, 0, sizeof err);
    cn_status_t st = cn_writer_open(&w, path, err, sizeof err);
    if (st == CN_OK) {
        for (int i = 0; i < 4; i++) cn_write(&w, junk, n / 4);
        cn_write_u32(&w, 5);
        st = cn_writer_close(&w, err, sizeof err);
    }
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old_lim), 0);
    signal(SIGXFSZ, old_handler);
    free(junk);

    assert_int_equal(st, CN_EIO);
    assert_true(strlen(err) > 0);
    assert_false(tmp_exists(path));
    expect_small(path);
    assert_int_equal(cn_test_alloc_live(), 0);
}

static void test_writer_bad_directory(void **state) {
    (void)state;
    char path[4096], err[4400];
    make_path(path, sizeof path, "no/such/dir/file.bin");
    memset(err, 0, sizeof err);
    cn_writer_t w;
    cn_status_t st = cn_writer_open(&w, path, err, sizeof err);
    assert_int_not_equal(st, CN_OK);
    assert_true(strlen(err) > 0);
    assert_int_equal(cn_test_alloc_live(), 0);
    assert_false(exists(path));
}

static void test_writer_enomem(void **state) {
    (void)state;
    char path[4096], err[256];
    make_path(path, sizeof path, "enomem_w.bin");
    int succeeded = 0;
    for (long k = 0; k < 16 && !succeeded; k++) {
        cn_writer_t w;
        err[0] = 0;
        cn_test_alloc_fail_after(k);
        cn_status_t st = cn_writer_open(&w, path, err, sizeof err);
        if (st == CN_OK) {
            cn_write_u32(&w, 0x11223344u);
            cn_write_u64(&w, 7u);
            cn_write_str(&w, "abc");
            st = cn_writer_close(&w, err, sizeof err);
        }
        cn_test_alloc_fail_after(-1);
        if (st == CN_OK) {
            succeeded = 1;
            expect_small(path);
        } else {
            assert_int_equal(st, CN_ENOMEM);
            assert_false(exists(path));
        }
        assert_false(tmp_exists(path));
        assert_int_equal(cn_test_alloc_live(), 0);
    }
    assert_true(succeeded);
}

static void test_reader_enomem(void **state) {
    (void)state;
    char path[4096], err[256];
    make_path(path, sizeof path, "enomem_r.bin");
    write_small(path);
    int succeeded = 0;
    for (long k = 0; k < 16 && !succeeded; k++) {
        cn_reader_t r;
        err[0] = 0;
        cn_test_alloc_fail_after(k);
        cn_status_t st = cn_reader_open(&r, path, err, sizeof err);
        cn_test_alloc_fail_after(-1);
        if (st == CN_OK) {
            succeeded = 1;
            cn_reader_close(&r);
        } else {
            assert_int_equal(st, CN_ENOMEM);
        }
        assert_int_equal(cn_test_alloc_live(), 0);
    }
    assert_true(succeeded);
}

static void test_writer_reader_free_everything(void **state) {
    (void)state;
    char path[4096], err[256] = "";
    make_path(path, sizeof path, "leaks.bin");
    cn_writer_t w;
    assert_int_equal(cn_writer_open(&w, path, err, sizeof err), CN_OK);
    assert_true(cn_test_alloc_live() > 0); /* path copies go through the hook */
    cn_write_str(&w, "x");
    assert_int_equal(cn_writer_close(&w, err, sizeof err), CN_OK);
    assert_int_equal(cn_test_alloc_live(), 0);

    cn_reader_t r;
    assert_int_equal(cn_reader_open(&r, path, err, sizeof err), CN_OK);
    assert_true(cn_test_alloc_live() > 0);
    char *s = cn_read_str(&r, 10);
    assert_non_null(s);
    cn_free(s);
    cn_reader_close(&r);
    assert_int_equal(cn_test_alloc_live(), 0);

    assert_int_equal(cn_writer_open(&w, path, err, sizeof err), CN_OK);
    cn_writer_abort(&w);
    assert_int_equal(cn_test_alloc_live(), 0);
}

/* ---- checksum -------------------------------------------------------------------------- */

static void test_checksum(void **state) {
    (void)state;
    unsigned char a[37];
    uint64_t rs = 4242;
    for (size_t i = 0; i < sizeof a; i++) a[i] = (unsigned char)cn_test_rand(&rs);
    uint64_t h = cn_checksum(CN_CHECKSUM_INIT, a, sizeof a);
    assert_int_equal(cn_checksum(CN_CHECKSUM_INIT, a, sizeof a), h); /* deterministic */
    assert_int_not_equal(h, CN_CHECKSUM_INIT);

    /* any single-bit change changes it */
    for (size_t pos = 0; pos < sizeof a; pos++) {
        for (int bit = 0; bit < 8; bit++) {
            a[pos] ^= (unsigned char)(1u << bit);
            uint64_t h2 = cn_checksum(CN_CHECKSUM_INIT, a, sizeof a);
            a[pos] ^= (unsigned char)(1u << bit);
            if (h2 == h) {
                print_error("flip of byte %zu bit %d not detected\n", pos, bit);
                fail();
            }
        }
    }
    assert_int_equal(cn_checksum(CN_CHECKSUM_INIT, a, sizeof a), h);

    /* order matters (not a plain sum / xor) */
    unsigned char sw[37];
    memcpy(sw, a, sizeof a);
    sw[3] = a[4];
    sw[4] = a[3];
    assert_true(a[3] != a[4]);
    assert_int_not_equal(cn_checksum(CN_CHECKSUM_INIT, sw, sizeof sw), h);

    /* length matters: a trailing zero byte is not ignored */
    unsigned char z[38];
    memcpy(z, a, sizeof a);
    z[37] = 0;
    assert_int_not_equal(cn_checksum(CN_CHECKSUM_INIT, z, sizeof z), h);

    /* incremental: every split point gives the one-shot result */
    for (size_t n1 = 0; n1 <= sizeof a; n1++) {
        uint64_t part = cn_checksum(CN_CHECKSUM_INIT, a, n1);
        uint64_t whole = cn_checksum(part, a + n1, sizeof a - n1);
        if (whole != h) {
            print_error("split at %zu: %llx != %llx\n", n1, (unsigned long long)whole,
                        (unsigned long long)h);
            fail();
        }
    }
    /* three pieces too */
    for (size_t n1 = 0; n1 <= sizeof a; n1 += 5)
        for (size_t n2 = n1; n2 <= sizeof a; n2 += 3) {
            uint64_t x = cn_checksum(CN_CHECKSUM_INIT, a, n1);
            x = cn_checksum(x, a + n1, n2 - n1);
            x = cn_checksum(x, a + n2, sizeof a - n2);
            assert_int_equal(x, h);
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip_scalars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_layout_on_disk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_payload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip_large_chunked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_past_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_str_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_magic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_keeps_old_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_replaces_old_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_error_keeps_old_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_bad_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_enomem, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_enomem, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_reader_free_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checksum, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
