/*
 * harness/fetch.h — `cannoli fetch`: downloading catalogue datasets (or any
 * URL) with libcurl, verified, resumable, decompressing .gz while streaming.
 */
#ifndef CN_HARNESS_FETCH_H
#define CN_HARNESS_FETCH_H

#include <stddef.h>
#include <stdint.h>

/* One file of a catalogue entry's download. */
typedef struct cn_download {
    const char *file;   /* path on disk under the data folder (decompressed name) */
    const char *remote; /* file name at the source; also its name on a mirror */
    const char *base;   /* base URL, ending in '/' */
    int gunzip;         /* remote is gzip: decompressed while streaming into `file` */
    uint64_t size;      /* bytes of the remote file, 0 = unknown */
    const char *sha256; /* hex of the remote bytes, or NULL */
    const char *md5;    /* hex of the remote bytes, or NULL */
} cn_download_t;

/* The files catalogue entry `name` downloads (into out[0..max)); returns how
 * many, 0 when the entry has no download (or no such entry). catalogue.c. */
size_t cn_catalogue_downloads(const char *name, cn_download_t *out, size_t max);

/* One download. */
typedef struct cn_fetch_req {
    const char *url;
    const char *dest;   /* final path; written only once complete and verified */
    int gunzip;         /* inflate the (gzip) remote bytes into dest */
    uint64_t size;      /* expected remote bytes, 0 = unknown */
    const char *sha256; /* expected digest of the remote bytes, or NULL */
    const char *md5;
} cn_fetch_req_t;

/*
 * Downloads r->url to r->dest. The remote bytes go to DEST.part (for gzip:
 * the compressed bytes to DEST.gz.part, the inflated ones to DEST.part); a
 * partial file left by an interrupted run is resumed with an HTTP Range
 * request (for gzip: the compressed partial is re-inflated, then the
 * transfer goes on), and a connection lost mid-transfer is resumed the same
 * way (up to 5 times). Once the transfer is complete, the size (Content-
 * Length and r->size), the gzip stream's end and the checksum are verified,
 * then DEST.part is renamed to DEST. An existing DEST is left alone (returns
 * 0). Progress on stderr: a rewritten line on a terminal, a line every few
 * seconds otherwise. 0, or -1 with a one-line "URL-or-FILE: problem" in err;
 * nothing is ever left under DEST on failure (a partial that can be resumed
 * is kept under .part; one that failed verification is removed).
 */
int cn_fetch_file(const cn_fetch_req_t *r, char *err, size_t errlen);

/*
 * `cannoli fetch NAME|URL`: a catalogue name downloads its files into
 * DIR/<file> (CANNOLI_MIRROR=BASE replaces every file's base URL: the file is
 * fetched as BASE/<remote>); a URL downloads to DIR/<its file name> (".gz"
 * removed and the stream inflated). dir NULL: $CANNOLI_DATA, else
 * ./datasets/data. sha256/md5 (may be NULL) check a URL's download.
 */
int cn_fetch(const char *what, const char *dir, const char *sha256, const char *md5, char *err,
             size_t errlen);

#endif
