/*
 * harness/results.h — a results CSV that several processes append to.
 *
 * Shards of one sweep (`cannoli run --shard K/N`, on one machine or on a
 * shared file system) append to the same results.csv. Every change to the
 * file happens under an exclusive flock(2) on it: the header is written by
 * whichever process finds the file empty, so exactly once; a row is one
 * write(2) of whole lines; and before each append the writer re-reads the
 * points in the file when its size is not what this process last saw (some
 * other process wrote), so a point another process already wrote is not
 * written again (cn_results_append reports it as a duplicate).
 *
 * Appends that survive anything (issue 14): under the lock the file is first
 * checked to end in a newline. A last line without one (a row or a header
 * cut short by a full disk, a kill or a crash) is moved aside — appended to
 * `results.csv.partial`, reported in one line on stderr — and the file is
 * truncated to its last whole line, so the cut row's point is not counted as
 * done and is measured again. A write that fails is undone (the file is
 * truncated back to its size before it); every write, fsync and truncate is
 * checked.
 *
 * Rows are located by their last newline: cannoli never writes a newline
 * inside a field. On NFS, Linux implements flock as a whole-file POSIX lock
 * held through the lock manager, so the same holds on a shared file system
 * that supports locking.
 */
#ifndef CN_HARNESS_RESULTS_H
#define CN_HARNESS_RESULTS_H

#include <stddef.h>
#include <sys/types.h>

#include "resume.h"

typedef struct cn_results {
    char path[2300];
    int fd;             /* O_RDWR | O_APPEND; -1 when closed */
    off_t seen;         /* the file's size when this process last read or wrote it */
    cn_done_set_t done; /* the points in the file as of `seen` */
    size_t nforeign;    /* rows found written by other processes since open */
} cn_results_t;

/* The points of csv_path without changing anything (for --dry-run and
 * planning): a last line without its newline is ignored. *exists = 0 when
 * there is no file or it holds no complete line. 0, or -1 with err (a header
 * other than this version's is an error). */
int cn_results_peek(cn_done_set_t *done, const char *csv_path, int *exists, char *err,
                    size_t errlen);

/* Opens csv_path for appending, creating it: under the lock, a cut last line
 * is moved aside, the header is written when the file is empty (or checked
 * when it is not), and the points present are loaded into r->done. 0, or -1
 * with err (nothing left open). */
int cn_results_open(cn_results_t *r, const char *csv_path, char *err, size_t errlen);

/* Re-reads r->done under the lock when another process changed the file.
 * *changed = 1 then. 0 or -1 with err. */
int cn_results_refresh(cn_results_t *r, int *changed, char *err, size_t errlen);

/* Appends `row` (len bytes, whole lines ending in '\n') under the lock,
 * unless the point `key` (cn_key_ncolumns fields; NULL: no check) is in the file already:
 * then nothing is written and *dup = 1. The row is on disk (fsync) when this
 * returns 0; on -1 (err) the file is as it was. */
int cn_results_append(cn_results_t *r, const char *const *key, const char *row, size_t len,
                      int *dup, char *err, size_t errlen);

/* Closes the file (NULL-safe, idempotent); frees the done set. 0 or -1. */
int cn_results_close(cn_results_t *r, char *err, size_t errlen);

#endif
