/*
 * cannoli/io.h — checksummed binary files for saved indexes and stores.
 *
 * Layout of every file written through cn_writer:
 *   bytes 0..7    magic "CNNOLI\x01\x00"
 *   bytes 8..11   u32 format version (CN_IO_VERSION)
 *   bytes 12..    payload written by the caller (little-endian scalars)
 *   last 8 bytes  u64 checksum of every byte before it
 * The writer writes to "<path>.tmp" and renames over <path> only on success,
 * so a failed or interrupted save never destroys an earlier file.
 *
 * cn_reader_open() checks magic, version and the checksum over the whole file
 * before returning, so parsers never see corrupt bytes; every read is still
 * bounds-checked (a short read is CN_EFORMAT "truncated"), and
 * cn_reader_remaining() lets a parser reject an array length larger than the
 * file before allocating it.
 */
#ifndef CANNOLI_IO_H
#define CANNOLI_IO_H

#include <stdio.h>
#include "cannoli/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CN_IO_VERSION 1u

typedef struct cn_writer {
    FILE *f;
    char *path;     /* final path (owned) */
    char *tmp_path; /* path being written (owned) */
    uint64_t hash;  /* running checksum state */
    cn_status_t st; /* first error, sticky */
} cn_writer_t;

typedef struct cn_reader {
    FILE *f;
    char *path;         /* owned */
    uint64_t size;      /* payload bytes (file size - header - trailer) */
    uint64_t pos;       /* payload bytes consumed */
    cn_status_t st;     /* first error, sticky */
} cn_reader_t;

/* Opens <path>.tmp for writing and writes the header. */
cn_status_t cn_writer_open(cn_writer_t *w, const char *path, char *err, size_t errlen);
/* Appends n bytes; errors are sticky and reported by cn_writer_close. */
void cn_write(cn_writer_t *w, const void *p, size_t n);
void cn_write_u32(cn_writer_t *w, uint32_t v);
void cn_write_u64(cn_writer_t *w, uint64_t v);
void cn_write_f64(cn_writer_t *w, double v);
void cn_write_str(cn_writer_t *w, const char *s); /* u32 length + bytes */
/* Writes the trailer, flushes, closes and renames; on any earlier error
 * removes the temporary file instead. Frees the writer's memory either way. */
cn_status_t cn_writer_close(cn_writer_t *w, char *err, size_t errlen);
/* Abandons the file (removes the temporary). */
void cn_writer_abort(cn_writer_t *w);

/* Opens and fully verifies the file (magic, version, checksum). */
cn_status_t cn_reader_open(cn_reader_t *r, const char *path, char *err, size_t errlen);
/* Reads n bytes; on a short read sets r->st = CN_EFORMAT and zero-fills p. */
cn_status_t cn_read(cn_reader_t *r, void *p, size_t n);
uint32_t cn_read_u32(cn_reader_t *r);
uint64_t cn_read_u64(cn_reader_t *r);
double cn_read_f64(cn_reader_t *r);
/* Reads a string written by cn_write_str into a new cn_malloc'd buffer
 * (NUL-terminated); NULL on error or if longer than maxlen. */
char *cn_read_str(cn_reader_t *r, size_t maxlen);
uint64_t cn_reader_remaining(const cn_reader_t *r);
void cn_reader_close(cn_reader_t *r);

/* 64-bit checksum of a buffer, continuing from state h (start with
 * CN_CHECKSUM_INIT). Exposed for tests. */
#define CN_CHECKSUM_INIT 0xcbf29ce484222325ull
uint64_t cn_checksum(uint64_t h, const void *p, size_t n);

#ifdef __cplusplus
}
#endif
#endif
