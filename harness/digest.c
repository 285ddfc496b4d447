/*
 * harness/digest.c — SHA-256 (FIPS 180-4) and MD5 (RFC 1321), written for
 * cannoli to verify downloads (fetch.c). Straightforward one-block-at-a-time
 * implementations: the network, not the hash, bounds a download's speed.
 *
 * The round constants are computed once from their definitions instead of
 * being typed in: SHA-256's K[i] is the first 32 fractional bits of the cube
 * root of the i-th prime, its initial state the fractional bits of the square
 * roots of the first 8 primes; MD5's T[i] = floor(|sin(i + 1)| * 2^32). The
 * unit tests check both against the published test vectors.
 */
#include "digest.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static uint32_t sha_k[64], sha_h0[8], md5_t[64];
static int consts_ready;

static uint32_t frac32(double x) {
    double f = x - floor(x);
    return (uint32_t)(f * 4294967296.0);
}

/* Called from the init functions; idempotent (same values every time). */
static void init_consts(void) {
    if (consts_ready) return;
    int primes[64], n = 0;
    for (int c = 2; n < 64; c++) {
        int prime = 1;
        for (int d = 2; d * d <= c; d++)
            if (c % d == 0) prime = 0;
        if (prime) primes[n++] = c;
    }
    for (int i = 0; i < 64; i++) sha_k[i] = frac32(cbrt((double)primes[i]));
    for (int i = 0; i < 8; i++) sha_h0[i] = frac32(sqrt((double)primes[i]));
    for (int i = 0; i < 64; i++) md5_t[i] = (uint32_t)(fabs(sin((double)(i + 1))) * 4294967296.0);
    consts_ready = 1;
}

static uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
static uint32_t rotl(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

/* ---- SHA-256 -------------------------------------------------------------- */

static void sha_block(cn_sha256_t *s, const unsigned char *b) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
               (uint32_t)b[4 * i + 2] << 8 | (uint32_t)b[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = s->h[0], bb = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4], f = s->h[5],
             g = s->h[6], h = s->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) +
                      sha_k[i] + w[i];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & bb) ^ (a & c) ^ (bb & c));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = bb;
        bb = a;
        a = t1 + t2;
    }
    s->h[0] += a;
    s->h[1] += bb;
    s->h[2] += c;
    s->h[3] += d;
    s->h[4] += e;
    s->h[5] += f;
    s->h[6] += g;
    s->h[7] += h;
}

void cn_sha256_init(cn_sha256_t *s) {
    init_consts();
    memcpy(s->h, sha_h0, sizeof s->h);
    s->len = 0;
    s->fill = 0;
}

void cn_sha256_update(cn_sha256_t *s, const void *data, size_t n) {
    const unsigned char *p = data;
    s->len += n;
    while (n > 0) {
        size_t m = 64 - s->fill < n ? 64 - s->fill : n;
        memcpy(s->buf + s->fill, p, m);
        s->fill += m;
        p += m;
        n -= m;
        if (s->fill == 64) {
            sha_block(s, s->buf);
            s->fill = 0;
        }
    }
}

void cn_sha256_hex(cn_sha256_t *s, char out[65]) {
    uint64_t bits = s->len * 8;
    unsigned char pad = 0x80, zero = 0, lenb[8];
    cn_sha256_update(s, &pad, 1);
    while (s->fill != 56) cn_sha256_update(s, &zero, 1);
    for (int i = 0; i < 8; i++) lenb[i] = (unsigned char)(bits >> (56 - 8 * i));
    cn_sha256_update(s, lenb, 8);
    for (int i = 0; i < 8; i++) snprintf(out + 8 * i, 9, "%08x", s->h[i]);
}

/* ---- MD5 ------------------------------------------------------------------ */

static void md5_block(cn_md5_t *s, const unsigned char *b) {
    static const int r[4][4] = {{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};
    uint32_t m[16];
    for (int i = 0; i < 16; i++)
        m[i] = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 | (uint32_t)b[4 * i + 2] << 16 |
               (uint32_t)b[4 * i + 3] << 24;
    uint32_t a = s->h[0], bb = s->h[1], c = s->h[2], d = s->h[3];
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g;
        if (i < 16) {
            f = (bb & c) | (~bb & d);
            g = i;
        } else if (i < 32) {
            f = (d & bb) | (~d & c);
            g = (5 * i + 1) % 16;
        } else if (i < 48) {
            f = bb ^ c ^ d;
            g = (3 * i + 5) % 16;
        } else {
            f = c ^ (bb | ~d);
            g = (7 * i) % 16;
        }
        uint32_t tmp = d;
        d = c;
        c = bb;
        bb = bb + rotl(a + f + md5_t[i] + m[g], r[i / 16][i % 4]);
        a = tmp;
    }
    s->h[0] += a;
    s->h[1] += bb;
    s->h[2] += c;
    s->h[3] += d;
}

void cn_md5_init(cn_md5_t *s) {
    init_consts();
    s->h[0] = 0x67452301u;
    s->h[1] = 0xefcdab89u;
    s->h[2] = 0x98badcfeu;
    s->h[3] = 0x10325476u;
    s->len = 0;
    s->fill = 0;
}

void cn_md5_update(cn_md5_t *s, const void *data, size_t n) {
    const unsigned char *p = data;
    s->len += n;
    while (n > 0) {
        size_t m = 64 - s->fill < n ? 64 - s->fill : n;
        memcpy(s->buf + s->fill, p, m);
        s->fill += m;
        p += m;
        n -= m;
        if (s->fill == 64) {
            md5_block(s, s->buf);
            s->fill = 0;
        }
    }
}

void cn_md5_hex(cn_md5_t *s, char out[33]) {
    uint64_t bits = s->len * 8;
    unsigned char pad = 0x80, zero = 0, lenb[8];
    cn_md5_update(s, &pad, 1);
    while (s->fill != 56) cn_md5_update(s, &zero, 1);
    for (int i = 0; i < 8; i++) lenb[i] = (unsigned char)(bits >> (8 * i));
    cn_md5_update(s, lenb, 8);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            snprintf(out + 8 * i + 2 * j, 3, "%02x", (unsigned)(s->h[i] >> (8 * j)) & 0xffu);
}
