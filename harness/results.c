/*
 * harness/results.c — the shared, self-repairing results CSV (see results.h).
 *
 * Every operation that reads the file for a decision or changes it runs as
 * one critical section under flock(LOCK_EX) on the file itself:
 *
 *   1. read the whole file through the locked descriptor (pread: another
 *      open/close of the file in this process cannot drop a flock, unlike a
 *      POSIX record lock);
 *   2. if it does not end in '\n', move the bytes after the last '\n' to
 *      `<file>.partial` and truncate there (a header cut short leaves an
 *      empty file, which gets a new header);
 *   3. write the header when the file is empty;
 *   4. parse the whole lines into the done set (the header must be ours);
 *   5. (append) skip a point already present; else write the row with one
 *      write(2) on an O_APPEND descriptor and fsync; a failed or short write
 *      is truncated away before the lock is released.
 *
 * Steps 1-4 are skipped while the file's size is the one this process saw
 * last: only this process wrote since, so the file is known whole.
 */
#include "results.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cannoli/common.h"
#include "csv.h"
#include "rows.h"

static int lock_fd(int fd, int how) {
    while (flock(fd, how) != 0)
        if (errno != EINTR) return -1;
    return 0;
}

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (w == 0) {
            errno = ENOSPC;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The whole file into *buf (malloc'ed, NUL-terminated), its length in *len. */
static int read_all(int fd, const char *path, char **buf, size_t *len, char *err,
                    size_t errlen) {
    *buf = NULL;
    *len = 0;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        cn_error(err, errlen, CN_EIO, "%s: cannot stat: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *b = malloc(cap + 1);
    if (!b) {
        cn_error(err, errlen, CN_ENOMEM, "%s: out of memory reading it", path);
        return -1;
    }
    for (;;) {
        if (n == cap) {
            char *nb = realloc(b, 2 * cap + 1);
            if (!nb) {
                free(b);
                cn_error(err, errlen, CN_ENOMEM, "%s: out of memory reading it", path);
                return -1;
            }
            b = nb;
            cap *= 2;
        }
        ssize_t r = pread(fd, b + n, cap - n, (off_t)n);
        if (r < 0) {
            if (errno == EINTR) continue;
            cn_error(err, errlen, CN_EIO, "%s: read failed: %s", path, strerror(errno));
            free(b);
            return -1;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return 0;
}

/* Length of the prefix of buf made of whole lines. */
static size_t whole_lines(const char *buf, size_t len) {
    while (len > 0 && buf[len - 1] != '\n') len--;
    return len;
}

/* The done set of the whole lines buf[0, n). */
static int parse_done(const char *buf, size_t n, const char *path, cn_done_set_t *done,
                      int *exists, char *err, size_t errlen) {
    memset(done, 0, sizeof *done);
    *exists = 0;
    if (n == 0) return 0;
    FILE *m = fmemopen((void *)buf, n, "r");
    if (!m) {
        cn_error(err, errlen, CN_ENOMEM, "%s: out of memory parsing it", path);
        return -1;
    }
    cn_csv_t t;
    int rc = cn_csv_parse(&t, m, path, err, errlen);
    fclose(m);
    if (rc) return -1;
    *exists = 1;
    rc = cn_done_from_csv(done, &t, path, exists, err, errlen);
    cn_csv_free(&t);
    return rc;
}

/* A results file is a regular file: a FIFO would block, a device (/dev/full,
 * /dev/zero) would read forever or swallow the rows. */
static int regular(int fd, const char *path, char *err, size_t errlen) {
    struct stat st;
    if (fstat(fd, &st) != 0) {
        cn_error(err, errlen, CN_EIO, "%s: cannot stat: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        cn_error(err, errlen, CN_EIO, "%s: not a regular file%s", path,
                 S_ISDIR(st.st_mode) ? " (a folder)" : "");
        return -1;
    }
    return 0;
}

int cn_results_peek(cn_done_set_t *done, const char *csv_path, int *exists, char *err,
                    size_t errlen) {
    memset(done, 0, sizeof *done);
    *exists = 0;
    int fd = open(csv_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        cn_error(err, errlen, CN_EIO, "%s: cannot open: %s", csv_path, strerror(errno));
        return -1;
    }
    if (regular(fd, csv_path, err, errlen)) {
        close(fd);
        return -1;
    }
    char *buf;
    size_t len;
    int rc = read_all(fd, csv_path, &buf, &len, err, errlen);
    close(fd);
    if (rc) return -1;
    rc = parse_done(buf, whole_lines(buf, len), csv_path, done, exists, err, errlen);
    free(buf);
    return rc;
}

/* Step 2: moves buf[cut, len) to <path>.partial and truncates the file to cut. */
static int move_tail_aside(cn_results_t *r, const char *buf, size_t cut, size_t len, char *err,
                           size_t errlen) {
    char ppath[2400];
    snprintf(ppath, sizeof ppath, "%s.partial", r->path);
    int pfd = open(ppath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (pfd < 0) {
        cn_error(err, errlen, CN_EIO, "%s: cannot open to keep a cut row: %s", ppath,
                 strerror(errno));
        return -1;
    }
    int ok = write_all(pfd, buf + cut, len - cut) == 0 && write_all(pfd, "\n", 1) == 0 &&
             fsync(pfd) == 0;
    int e = errno;
    ok = close(pfd) == 0 && ok;
    if (!ok) {
        cn_error(err, errlen, CN_EIO, "%s: write failed: %s", ppath, strerror(e ? e : errno));
        return -1;
    }
    if (ftruncate(r->fd, (off_t)cut) != 0 || fsync(r->fd) != 0) {
        cn_error(err, errlen, CN_EIO, "%s: cannot truncate the cut last line: %s", r->path,
                 strerror(errno));
        return -1;
    }
    fprintf(stderr,
            "cannoli: %s: the last %s was cut short (%zu bytes without a newline); moved to %s%s\n",
            r->path, cut == 0 ? "line (the header)" : "row", len - cut, ppath,
            cut == 0 ? "" : "; its point is measured again");
    return 0;
}

/* Steps 1-4 (the lock held): the file made whole, with a header, and read. */
static int load_locked(cn_results_t *r, char *err, size_t errlen) {
    char *buf = NULL;
    size_t len;
    int rc = -1, exists;
    if (read_all(r->fd, r->path, &buf, &len, err, errlen)) return -1;
    size_t cut = whole_lines(buf, len);
    if (cut < len && move_tail_aside(r, buf, cut, len, err, errlen)) goto out;
    if (cut == 0) {
        char *h;
        size_t hl;
        if (cn_rows_header(&h, &hl)) {
            cn_error(err, errlen, CN_ENOMEM, "%s: out of memory", r->path);
            goto out;
        }
        int w = write_all(r->fd, h, hl) == 0 && fsync(r->fd) == 0;
        int e = errno;
        free(h);
        if (!w) {
            if (ftruncate(r->fd, 0) != 0) { /* the next open moves the rest aside */ }
            cn_error(err, errlen, CN_EIO, "%s: cannot write the header: %s", r->path,
                     strerror(e));
            goto out;
        }
        free(buf);
        if (read_all(r->fd, r->path, &buf, &len, err, errlen)) return -1;
        cut = len;
    }
    cn_done_set_t done;
    if (parse_done(buf, cut, r->path, &done, &exists, err, errlen)) goto out;
    cn_done_free(&r->done);
    r->done = done;
    r->seen = (off_t)cut;
    rc = 0;
out:
    free(buf);
    return rc;
}

/* The descriptor still names r->path (another process's --force renames the
 * file away; rows appended to the old one would be lost from view). */
static int same_file(const cn_results_t *r, char *err, size_t errlen) {
    struct stat a, b;
    if (fstat(r->fd, &a) != 0 || stat(r->path, &b) != 0 || a.st_dev != b.st_dev ||
        a.st_ino != b.st_ino) {
        cn_error(err, errlen, CN_EIO,
                 "%s: the file was moved or replaced by another process while this run "
                 "appended to it",
                 r->path);
        return -1;
    }
    return 0;
}

int cn_results_open(cn_results_t *r, const char *csv_path, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    r->fd = -1;
    if (snprintf(r->path, sizeof r->path, "%s", csv_path) >= (int)sizeof r->path) {
        cn_error(err, errlen, CN_EINVAL, "%.80s...: path too long", csv_path);
        return -1;
    }
    r->fd = open(csv_path, O_RDWR | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0644);
    if (r->fd < 0) {
        cn_error(err, errlen, CN_EIO, "%s: cannot open for append: %s", csv_path,
                 strerror(errno));
        return -1;
    }
    if (regular(r->fd, csv_path, err, errlen)) goto fail;
    if (lock_fd(r->fd, LOCK_EX) != 0) {
        cn_error(err, errlen, CN_EIO, "%s: cannot lock: %s", csv_path, strerror(errno));
        goto fail;
    }
    int rc = load_locked(r, err, errlen);
    lock_fd(r->fd, LOCK_UN);
    if (rc == 0) return 0;
fail:
    close(r->fd);
    r->fd = -1;
    cn_done_free(&r->done);
    return -1;
}

/* With the lock held: re-reads when the size is not the one last seen. */
static int refresh_locked(cn_results_t *r, int *changed, char *err, size_t errlen) {
    *changed = 0;
    struct stat st;
    if (same_file(r, err, errlen)) return -1;
    if (fstat(r->fd, &st) != 0) {
        cn_error(err, errlen, CN_EIO, "%s: cannot stat: %s", r->path, strerror(errno));
        return -1;
    }
    if (st.st_size == r->seen) return 0;
    size_t before = r->done.n;
    if (load_locked(r, err, errlen)) return -1;
    if (r->done.n > before) r->nforeign += r->done.n - before;
    *changed = 1;
    return 0;
}

int cn_results_refresh(cn_results_t *r, int *changed, char *err, size_t errlen) {
    if (lock_fd(r->fd, LOCK_EX) != 0) {
        cn_error(err, errlen, CN_EIO, "%s: cannot lock: %s", r->path, strerror(errno));
        return -1;
    }
    int rc = refresh_locked(r, changed, err, errlen);
    lock_fd(r->fd, LOCK_UN);
    return rc;
}

int cn_results_append(cn_results_t *r, const char *const *key, const char *row, size_t len,
                      int *dup, char *err, size_t errlen) {
    *dup = 0;
    if (len == 0 || row[len - 1] != '\n') {
        cn_error(err, errlen, CN_EINVAL, "%s: internal: a row must end in a newline", r->path);
        return -1;
    }
    if (lock_fd(r->fd, LOCK_EX) != 0) {
        cn_error(err, errlen, CN_EIO, "%s: cannot lock: %s", r->path, strerror(errno));
        return -1;
    }
    int rc = -1, changed;
    if (refresh_locked(r, &changed, err, errlen)) goto out;
    if (key && cn_done_has(&r->done, key)) {
        *dup = 1;
        rc = 0;
        goto out;
    }
    off_t before = r->seen;
    if (write_all(r->fd, row, len) != 0 || fsync(r->fd) != 0) {
        int e = errno;
        if (ftruncate(r->fd, before) == 0) (void)fsync(r->fd);
        cn_error(err, errlen, CN_EIO, "%s: write failed: %s", r->path, strerror(e));
        goto out;
    }
    r->seen = before + (off_t)len;
    rc = 0;
out:
    lock_fd(r->fd, LOCK_UN);
    return rc;
}

int cn_results_close(cn_results_t *r, char *err, size_t errlen) {
    int rc = 0;
    if (r->fd >= 0 && close(r->fd) != 0) {
        cn_error(err, errlen, CN_EIO, "%s: close failed: %s", r->path, strerror(errno));
        rc = -1;
    }
    r->fd = -1;
    cn_done_free(&r->done);
    return rc;
}
