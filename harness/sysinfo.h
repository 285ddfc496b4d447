/*
 * harness/sysinfo.h — what a result row records about the machine and the
 * build: CPU model, UTC time, the build id (a hash of the library's sources
 * taken at build time, cmake/buildinfo.cmake), the commit (with "-dirty"),
 * peak resident memory; and small file-system helpers.
 */
#ifndef CN_HARNESS_SYSINFO_H
#define CN_HARNESS_SYSINFO_H

#include <stddef.h>

/* The build id: 16 hex digits of SHA-256 over the library's source files. */
const char *cn_build_id(void);
/* `git rev-parse --short=12 HEAD` at build time, "-dirty" appended when the
 * tree had uncommitted changes to tracked files; "unknown" outside git. */
const char *cn_build_commit(void);

/* "model name" of the CPU (static storage). */
const char *cn_cpu_model(void);
/* Current UTC time, ISO 8601 with seconds ("2026-12-02T17:04:15Z"). */
void cn_utc_now(char *buf, size_t len);

/* Creates a folder and its parents (like mkdir -p). 0 or -1 with err. */
int cn_mkdirs(const char *path, char *err, size_t errlen);

#endif
