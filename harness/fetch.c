/*
 * harness/fetch.c — downloads (see fetch.h) with libcurl and zlib.
 *
 * Files and states. DEST is written only by rename(DEST.part, DEST) after
 * verification, so DEST either does not exist or is complete. A plain file
 * streams into DEST.part; a gzip file's compressed bytes stream into
 * DEST.gz.part and are inflated on the fly into DEST.part. Resuming (a
 * partial left by a killed run, or a connection lost mid-transfer) asks for
 * the rest with an HTTP Range request starting at the size of the raw
 * partial; the checksum is then computed over the partial first. For gzip,
 * the decompressor's state cannot be saved, so DEST.part is rebuilt by
 * re-inflating the compressed partial (a local, fast pass) before the
 * transfer continues: resuming costs a re-read of the compressed bytes, never
 * a re-download. A server that ignores Range (200 instead of 206; libcurl
 * stops with CURLE_RANGE_ERROR before the body) restarts the file from byte 0.
 *
 * Errors. 404 and other HTTP errors, unreachable hosts, write failures (disk
 * full), short transfers, a truncated gzip stream, a size or checksum
 * mismatch: one line naming the URL or file. A partial that failed
 * verification is removed; one that can be resumed is kept and the message
 * says so.
 */
#include "fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "cannoli/common.h"
#include "digest.h"
#include "sysinfo.h"

#define MAX_ATTEMPTS 6
#define BUF_BYTES (1u << 16)

typedef struct fetch {
    const cn_fetch_req_t *r;
    const char *label;   /* file name for progress lines */
    char part[4200];     /* DEST.part */
    char zpart[4200];    /* DEST.gz.part (gzip only) */
    FILE *raw;           /* the remote bytes: part or zpart */
    FILE *out;           /* gzip: the inflated bytes (part) */
    uint64_t have;       /* remote bytes on disk */
    uint64_t total;      /* expected remote bytes, 0 unknown */
    cn_sha256_t sha;
    cn_md5_t md5;
    z_stream z;
    int z_init, z_end;   /* inflater set up; the last member ended exactly */
    int write_errno;     /* errno of a failed write (0: none) */
    const char *write_what;
    char zmsg[128];      /* a gzip error, stops the transfer */
    uint64_t attempt_start;
    /* progress */
    int tty;
    double t0, last;
    uint64_t t0_bytes;
} fetch_t;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void human(double b, char *out, size_t len) {
    const char *u[] = {"B", "KB", "MB", "GB", "TB"};
    int i = 0;
    while (b >= 1000.0 && i < 4) {
        b /= 1000.0;
        i++;
    }
    snprintf(out, len, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

static void progress_line(fetch_t *f, int final) {
    double t = now_s(), el = t - f->t0;
    double rate = el > 0 ? (double)(f->have - f->t0_bytes) / el : 0;
    char hb[32], tb[32], rb[32], eta[32] = "";
    human((double)f->have, hb, sizeof hb);
    human(rate, rb, sizeof rb);
    if (f->total) {
        human((double)f->total, tb, sizeof tb);
        if (rate > 0 && f->total > f->have) {
            long s = (long)((double)(f->total - f->have) / rate);
            snprintf(eta, sizeof eta, "  ETA %ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
        }
        fprintf(stderr, "%s[fetch] %s  %s / %s  %3.0f%%  %s/s%s%s", f->tty ? "\r" : "",
                f->label, hb, tb, 100.0 * (double)f->have / (double)f->total, rb, eta,
                f->tty ? (final ? "\n" : "   ") : "\n");
    } else {
        fprintf(stderr, "%s[fetch] %s  %s  %s/s%s", f->tty ? "\r" : "", f->label, hb, rb,
                f->tty ? (final ? "\n" : "   ") : "\n");
    }
    f->last = t;
}

static int xferinfo(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                    curl_off_t ulnow) {
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    fetch_t *f = user;
    if (!f->total && dltotal > 0) f->total = f->attempt_start + (uint64_t)dltotal;
    double t = now_s();
    if (t - f->last >= (f->tty ? 0.25 : 5.0)) progress_line(f, 0);
    return 0;
}

static int put(FILE *fp, const void *p, size_t n, fetch_t *f, const char *what) {
    if (n && fwrite(p, 1, n, fp) != n) {
        f->write_errno = errno ? errno : EIO;
        f->write_what = what;
        return -1;
    }
    return 0;
}

/* Inflates n compressed bytes into f->out. */
static int inflate_into(fetch_t *f, const unsigned char *p, size_t n) {
    unsigned char buf[BUF_BYTES];
    f->z.next_in = (unsigned char *)p;
    f->z.avail_in = (uInt)n;
    while (f->z.avail_in > 0) {
        if (f->z_end) { /* another gzip member follows (multi-member files) */
            if (inflateReset(&f->z) != Z_OK) goto bad;
            f->z_end = 0;
        }
        f->z.next_out = buf;
        f->z.avail_out = sizeof buf;
        int zr = inflate(&f->z, Z_NO_FLUSH);
        if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) goto bad;
        if (put(f->out, buf, sizeof buf - f->z.avail_out, f, f->part)) return -1;
        if (zr == Z_STREAM_END) f->z_end = 1;
        else if (zr == Z_BUF_ERROR && f->z.avail_out != 0) break;
    }
    return 0;
bad:
    snprintf(f->zmsg, sizeof f->zmsg, "not a valid gzip stream (%s)",
             f->z.msg ? f->z.msg : "inflate failed");
    return -1;
}

/* Takes n remote bytes: hash, keep, inflate. */
static int take(fetch_t *f, const unsigned char *p, size_t n) {
    if (put(f->raw, p, n, f, f->r->gunzip ? f->zpart : f->part)) return -1;
    cn_sha256_update(&f->sha, p, n);
    cn_md5_update(&f->md5, p, n);
    if (f->r->gunzip && inflate_into(f, p, n)) return -1;
    f->have += n;
    return 0;
}

/* Opens the output files from scratch (truncating). */
static int start_fresh(fetch_t *f, char *err, size_t errlen) {
    if (f->raw) fclose(f->raw);
    if (f->out) fclose(f->out);
    f->raw = f->out = NULL;
    cn_sha256_init(&f->sha);
    cn_md5_init(&f->md5);
    f->have = 0;
    f->z_end = 0;
    if (f->r->gunzip) {
        if (f->z_init) inflateEnd(&f->z);
        memset(&f->z, 0, sizeof f->z);
        if (inflateInit2(&f->z, 16 + MAX_WBITS) != Z_OK) {
            cn_error(err, errlen, CN_ENOMEM, "%s: cannot start zlib", f->r->url);
            return -1;
        }
        f->z_init = 1;
        f->raw = fopen(f->zpart, "wb");
        f->out = fopen(f->part, "wb");
    } else {
        f->raw = fopen(f->part, "wb");
    }
    if (!f->raw || (f->r->gunzip && !f->out)) {
        cn_error(err, errlen, CN_EIO, "%s: cannot create: %s", f->part, strerror(errno));
        return -1;
    }
    return 0;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *user) {
    fetch_t *f = user;
    size_t n = size * nmemb;
    return take(f, (const unsigned char *)p, n) ? 0 : n;
}

static int rm_partials(fetch_t *f) {
    unlink(f->part);
    if (f->r->gunzip) unlink(f->zpart);
    return -1;
}

/* Re-reads the raw partial `from` (renamed aside) through take(). */
static int replay(fetch_t *f, const char *from, char *err, size_t errlen) {
    FILE *in = fopen(from, "rb");
    unsigned char buf[BUF_BYTES];
    size_t n;
    if (!in) {
        cn_error(err, errlen, CN_EIO, "%s: %s", from, strerror(errno));
        return -1;
    }
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (take(f, buf, n)) break;
    int bad = ferror(in) || f->write_errno || f->zmsg[0];
    fclose(in);
    if (bad) {
        if (f->zmsg[0])
            cn_error(err, errlen, CN_EFORMAT, "%s: partial download: %s (removed; rerun to "
                     "start over)", from, f->zmsg);
        else
            cn_error(err, errlen, CN_EIO, "%s: %s", f->write_errno ? f->write_what : from,
                     strerror(f->write_errno ? f->write_errno : EIO));
        return -1;
    }
    return 0;
}

int cn_fetch_file(const cn_fetch_req_t *r, char *err, size_t errlen) {
    fetch_t f;
    struct stat sb;
    memset(&f, 0, sizeof f);
    f.r = r;
    const char *slash = strrchr(r->dest, '/');
    f.label = slash ? slash + 1 : r->dest;
    if (stat(r->dest, &sb) == 0 && S_ISREG(sb.st_mode)) {
        fprintf(stderr, "[fetch] %s is already there\n", r->dest);
        return 0;
    }
    snprintf(f.part, sizeof f.part, "%s.part", r->dest);
    snprintf(f.zpart, sizeof f.zpart, "%s.gz.part", r->dest);
    const char *rawp = r->gunzip ? f.zpart : f.part;
    /* A write past RLIMIT_FSIZE fails with EFBIG instead of killing us. */
    signal(SIGXFSZ, SIG_IGN);

    /* Resume: move the raw partial aside, start fresh, replay it. */
    int rc = -1;
    char aside[4300] = "";
    if (stat(rawp, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
        !(r->size && (uint64_t)sb.st_size > r->size)) {
        snprintf(aside, sizeof aside, "%s.resume", rawp);
        if (rename(rawp, aside) != 0) {
            cn_error(err, errlen, CN_EIO, "%s: cannot resume: %s", rawp, strerror(errno));
            return -1;
        }
    }
    if (start_fresh(&f, err, errlen)) goto out;
    if (aside[0]) {
        fprintf(stderr, "[fetch] resuming %s from %llu bytes\n", f.label,
                (unsigned long long)sb.st_size);
        if (replay(&f, aside, err, errlen)) {
            unlink(aside);
            rm_partials(&f);
            goto out;
        }
        unlink(aside);
        aside[0] = 0;
    }
    f.total = r->size;
    f.tty = isatty(2);
    f.t0 = f.last = now_s();
    f.t0_bytes = f.have;

    CURL *c = curl_easy_init();
    if (!c) {
        cn_error(err, errlen, CN_ENOMEM, "%s: cannot start libcurl", r->url);
        goto out;
    }
    char cerr[CURL_ERROR_SIZE];
    int done = 0;
    for (int attempt = 0; attempt < MAX_ATTEMPTS && !done; attempt++) {
        curl_easy_reset(c);
        cerr[0] = 0;
        f.attempt_start = f.have;
        curl_easy_setopt(c, CURLOPT_URL, r->url);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 120L);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "cannoli-fetch");
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &f);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xferinfo);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, &f);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        if (f.have > 0) curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)f.have);
        CURLcode res = curl_easy_perform(c);
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (res == CURLE_OK) {
            done = 1;
            break;
        }
        if (f.write_errno) {
            cn_error(err, errlen, CN_EIO, "%s: write failed: %s (partial download kept; free "
                     "space and rerun to resume)", f.write_what, strerror(f.write_errno));
            goto fail_keep;
        }
        if (f.zmsg[0]) {
            cn_error(err, errlen, CN_EFORMAT, "%s: %s (download removed)", r->url, f.zmsg);
            goto fail_rm;
        }
        if (res == CURLE_RANGE_ERROR && f.have > 0) {
            /* A 200 to a Range request (libcurl stops before the body). */
            fprintf(stderr, "[fetch] %s: the server cannot resume; starting over\n", f.label);
            if (start_fresh(&f, err, errlen)) goto fail_keep;
            f.total = r->size;
            continue;
        }
        if (res == CURLE_HTTP_RETURNED_ERROR && code == 416 && f.have > 0) {
            /* The partial is no prefix the server knows: start over. */
            fprintf(stderr, "[fetch] %s: server refused the range; starting over\n", f.label);
            if (start_fresh(&f, err, errlen)) goto fail_keep;
            f.total = r->size;
            continue;
        }
        if (res == CURLE_HTTP_RETURNED_ERROR) {
            cn_error(err, errlen, CN_ENOTFOUND, "%s: HTTP %ld%s", r->url, code,
                     code == 404 ? " (not found)" : code == 403 ? " (forbidden)" : "");
            if (f.have == 0) goto fail_rm;
            goto fail_keep;
        }
        if (res == CURLE_COULDNT_RESOLVE_HOST || res == CURLE_COULDNT_CONNECT ||
            res == CURLE_COULDNT_RESOLVE_PROXY || res == CURLE_UNSUPPORTED_PROTOCOL ||
            res == CURLE_URL_MALFORMAT) {
            cn_error(err, errlen, CN_EIO, "%s: cannot connect: %s%s", r->url,
                     cerr[0] ? cerr : curl_easy_strerror(res),
                     f.have ? " (partial download kept; rerun to resume)" : "");
            if (f.have == 0) goto fail_rm;
            goto fail_keep;
        }
        /* Lost mid-transfer (partial file, reset, timeout): resume. */
        if (fflush(f.raw) != 0 || (f.out && fflush(f.out) != 0)) {
            f.write_errno = errno;
            f.write_what = f.part;
            cn_error(err, errlen, CN_EIO, "%s: write failed: %s", f.part, strerror(errno));
            goto fail_keep;
        }
        if (attempt + 1 < MAX_ATTEMPTS) {
            if (f.tty) fputc('\n', stderr);
            fprintf(stderr, "[fetch] %s: transfer interrupted at %llu bytes (%s); resuming\n",
                    f.label, (unsigned long long)f.have,
                    cerr[0] ? cerr : curl_easy_strerror(res));
            sleep(attempt ? 1 : 0);
        } else {
            cn_error(err, errlen, CN_EIO, "%s: transfer failed after %d attempts: %s (partial "
                     "download kept; rerun to resume)", r->url, MAX_ATTEMPTS,
                     cerr[0] ? cerr : curl_easy_strerror(res));
            goto fail_keep;
        }
    }
    curl_easy_cleanup(c);
    c = NULL;
    if (!done) goto out; /* err set by start_fresh */
    progress_line(&f, 1);

    /* Verify: size, gzip end, checksums; then publish. */
    if (f.total && f.have != f.total) {
        cn_error(err, errlen, CN_EFORMAT, "%s: got %llu bytes, expected %llu (download removed)",
                 r->url, (unsigned long long)f.have, (unsigned long long)f.total);
        goto fail_rm2;
    }
    if (r->gunzip && (!f.z_end || f.z.avail_in)) {
        cn_error(err, errlen, CN_EFORMAT, "%s: truncated gzip stream (download removed)",
                 r->url);
        goto fail_rm2;
    }
    char hex[65];
    if (r->sha256) {
        cn_sha256_hex(&f.sha, hex);
        if (strcasecmp(hex, r->sha256) != 0) {
            cn_error(err, errlen, CN_EFORMAT, "%s: sha256 mismatch: expected %s, got %s "
                     "(download removed)", r->url, r->sha256, hex);
            goto fail_rm2;
        }
    }
    if (r->md5) {
        cn_md5_hex(&f.md5, hex);
        if (strcasecmp(hex, r->md5) != 0) {
            cn_error(err, errlen, CN_EFORMAT, "%s: md5 mismatch: expected %s, got %s (download "
                     "removed)", r->url, r->md5, hex);
            goto fail_rm2;
        }
    }
    FILE *final = r->gunzip ? f.out : f.raw;
    if (fflush(final) != 0 || fsync(fileno(final)) != 0) {
        cn_error(err, errlen, CN_EIO, "%s: write failed: %s", f.part, strerror(errno));
        goto fail_rm2;
    }
    if (rename(f.part, r->dest) != 0) {
        cn_error(err, errlen, CN_EIO, "%s: cannot rename to %s: %s", f.part, r->dest,
                 strerror(errno));
        goto fail_rm2;
    }
    if (r->gunzip) unlink(f.zpart);
    rc = 0;
    goto out;
fail_rm:
    curl_easy_cleanup(c);
fail_rm2:
    rm_partials(&f);
    goto out;
fail_keep:
    curl_easy_cleanup(c);
out:
    if (f.raw) fclose(f.raw);
    if (f.out) fclose(f.out);
    if (f.z_init) inflateEnd(&f.z);
    return rc;
}

/* ---- names and URLs ----------------------------------------------------------- */

static int is_url(const char *s) { return strstr(s, "://") != NULL; }

static int fetch_one(const char *url, const char *dest, const cn_download_t *d,
                     const char *sha256, const char *md5, int gunzip, char *err, size_t errlen) {
    cn_fetch_req_t r = {url, dest, gunzip, d ? d->size : 0, d ? d->sha256 : sha256,
                        d ? d->md5 : md5};
    fprintf(stderr, "[fetch] %s -> %s\n", url, dest);
    return cn_fetch_file(&r, err, errlen);
}

int cn_fetch(const char *what, const char *dir, const char *sha256, const char *md5, char *err,
             size_t errlen) {
    const char *env = getenv("CANNOLI_DATA");
    if (!dir) dir = env && env[0] ? env : "datasets/data";
    char path[4096], url[4096];
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        cn_error(err, errlen, CN_EIO, "%s: cannot initialise libcurl", what);
        return -1;
    }
    int rc = -1;
    if (is_url(what)) {
        const char *base = strrchr(what, '/');
        base = base && base[1] ? base + 1 : NULL;
        if (!base || strchr(base, '?')) {
            cn_error(err, errlen, CN_EINVAL, "%s: the URL does not end in a file name", what);
            goto out;
        }
        size_t bl = strlen(base);
        int gz = bl > 3 && !strcmp(base + bl - 3, ".gz");
        snprintf(path, sizeof path, "%s/%.*s", dir, (int)(gz ? bl - 3 : bl), base);
        if (cn_mkdirs(dir, err, errlen)) goto out;
        rc = fetch_one(what, path, NULL, sha256, md5, gz, err, errlen);
        if (rc == 0) fprintf(stderr, "cannoli: %s is ready\n", path);
        goto out;
    }
    if (sha256 || md5) {
        cn_error(err, errlen, CN_EINVAL, "%s: --sha256/--md5 go with a URL (catalogue entries "
                 "carry their own)", what);
        goto out;
    }
    cn_download_t files[8];
    size_t n = cn_catalogue_downloads(what, files, 8);
    if (n == 0) {
        cn_error(err, errlen, CN_ENOTFOUND, "%s: not a catalogue dataset with a download (see "
                 "`cannoli list`) and not a URL", what);
        goto out;
    }
    const char *mirror = getenv("CANNOLI_MIRROR");
    for (size_t i = 0; i < n; i++) {
        const cn_download_t *d = &files[i];
        if (mirror && mirror[0]) {
            size_t ml = strlen(mirror);
            snprintf(url, sizeof url, "%s%s%s", mirror, mirror[ml - 1] == '/' ? "" : "/",
                     d->remote);
        } else {
            snprintf(url, sizeof url, "%s%s", d->base, d->remote);
        }
        snprintf(path, sizeof path, "%s/%s", dir, d->file);
        char sub[4096];
        snprintf(sub, sizeof sub, "%s", path);
        char *sl = strrchr(sub, '/');
        if (sl) *sl = 0;
        if (cn_mkdirs(sub, err, errlen)) goto out;
        if (fetch_one(url, path, d, NULL, NULL, d->gunzip, err, errlen)) goto out;
    }
    fprintf(stderr, "cannoli: %s is ready in %s (see `cannoli info %s`)%s\n", what, dir, what,
            env && env[0] && !strcmp(env, dir)   ? ""
            : !strcmp(dir, "datasets/data")        ? ""
                                                   : "; set CANNOLI_DATA to that folder to use it");
    rc = 0;
out:
    curl_global_cleanup();
    return rc;
}
