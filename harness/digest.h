/*
 * harness/digest.h — SHA-256 and MD5 of a byte stream (digest.c), to verify
 * downloaded files against a catalogue's checksum.
 *
 *   cn_sha256_t s; cn_sha256_init(&s); cn_sha256_update(&s, p, n); ...
 *   char hex[65]; cn_sha256_hex(&s, hex);   // lower-case hex; s is spent
 */
#ifndef CN_HARNESS_DIGEST_H
#define CN_HARNESS_DIGEST_H

#include <stddef.h>
#include <stdint.h>

typedef struct cn_sha256 {
    uint32_t h[8];
    uint64_t len;
    unsigned char buf[64];
    size_t fill;
} cn_sha256_t;

typedef struct cn_md5 {
    uint32_t h[4];
    uint64_t len;
    unsigned char buf[64];
    size_t fill;
} cn_md5_t;

void cn_sha256_init(cn_sha256_t *s);
void cn_sha256_update(cn_sha256_t *s, const void *data, size_t n);
void cn_sha256_hex(cn_sha256_t *s, char out[65]);

void cn_md5_init(cn_md5_t *s);
void cn_md5_update(cn_md5_t *s, const void *data, size_t n);
void cn_md5_hex(cn_md5_t *s, char out[33]);

#endif
