/*
 * cannoli/common.h — status codes, metrics, error buffers and the allocator hook.
 *
 * Every fallible library call returns a cn_status_t and, on failure, writes one
 * human-readable line into a caller-provided buffer (err, errlen). There is no
 * global "last error": with OpenMP that would be confusing. The library never
 * calls exit/abort; assert() is used for programmer invariants only.
 *
 * Scores inside the library are "smaller is better" everywhere:
 *   l2     -> squared euclidean distance
 *   ip     -> negated inner product
 *   cosine -> negated inner product of unit vectors (stores normalise on insert)
 * cn_metric_external() converts an internal score into the user-facing value
 * (euclidean distance, inner product, angular distance 1 - cos).
 */
#ifndef CANNOLI_COMMON_H
#define CANNOLI_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cn_status {
    CN_OK = 0,
    CN_EINVAL,       /* bad argument or parameter value */
    CN_ENOMEM,       /* allocation failed */
    CN_EIO,          /* open/read/write failed */
    CN_EFORMAT,      /* file is malformed, truncated, corrupt or of another version */
    CN_ENOTFOUND,    /* unknown component, key or file */
    CN_EUNSUPPORTED  /* valid request this build or component cannot do */
} cn_status_t;

/* Static string naming a status ("invalid argument", ...). */
const char *cn_status_str(cn_status_t st);

typedef enum cn_metric {
    CN_METRIC_L2 = 0,  /* euclidean; internal score = squared distance */
    CN_METRIC_IP = 1,  /* inner product; internal score = -<a,b> */
    CN_METRIC_COSINE = 2 /* angular; vectors normalised, internal = -<a,b> */
} cn_metric_t;

/* Canonical name: "l2", "ip", "cosine". */
const char *cn_metric_name(cn_metric_t m);

/* Parses "l2"/"euclidean", "ip"/"dot"/"inner_product", "cosine"/"angular".
 * Returns CN_EINVAL for anything else. */
cn_status_t cn_metric_parse(const char *s, cn_metric_t *out);

/* Internal score -> user-facing value: sqrt(max(s,0)) for l2, -s for ip,
 * 1 + s (i.e. 1 - cos) for cosine. */
float cn_metric_external(cn_metric_t m, float internal_score);

/* snprintf into err (if err != NULL and errlen > 0). Always returns st so a
 * call site can write `return cn_error(err, errlen, CN_EINVAL, "...")`. */
cn_status_t cn_error(char *err, size_t errlen, cn_status_t st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/*
 * Allocator hook. All library allocations go through cn_malloc & co so that a
 * test can install a counting allocator and assert that nothing leaks. The
 * hook is process-wide; set it before creating any object and restore it
 * (cn_set_allocator(NULL)) only after all objects are destroyed.
 */
typedef struct cn_allocator {
    void *(*malloc_fn)(size_t size, void *ctx);
    void *(*realloc_fn)(void *ptr, size_t size, void *ctx);
    void (*free_fn)(void *ptr, void *ctx);
    void *ctx;
} cn_allocator_t;

void cn_set_allocator(const cn_allocator_t *a); /* NULL -> libc */
void *cn_malloc(size_t size);
void *cn_calloc(size_t count, size_t size); /* overflow-checked, zeroed */
void *cn_realloc(void *ptr, size_t size);
void cn_free(void *ptr); /* NULL-safe */
/* 64-byte (cache line) aligned allocation through the same hook; free with
 * cn_aligned_free. size may be 0 (returns a valid unique pointer). */
void *cn_aligned_alloc(size_t size);
void cn_aligned_free(void *ptr);
/* After a large block has been filled at once (an index or store read from
 * a file): asks the kernel to put its whole 2 MiB extents on huge pages now
 * (Linux MADV_COLLAPSE) instead of whenever khugepaged gets to them, so a
 * loaded index is searched as fast as a freshly built one from its first
 * query. Blocks under 8 MiB, CANNOLI_HUGEPAGES=0, other systems and a
 * refusal (no free huge page) leave everything as it was: only speed is at
 * stake. Returns the bytes the call covered (0 when it did nothing). */
size_t cn_mem_settle(void *p, size_t size);
/* strdup through the hook. */
char *cn_strdup(const char *s);

/*
 * Progress hook. Long operations (index builds) call cn_progress() now and
 * then with the work done so far; a front end installs a callback to show it.
 * The callback may be called from any thread (serialise inside it if needed)
 * and must be cheap. Process-wide; NULL (the default) disables it.
 */
typedef void (*cn_progress_fn)(void *user, const char *what, uint64_t done, uint64_t total);
void cn_set_progress(cn_progress_fn fn, void *user);
void cn_progress(const char *what, uint64_t done, uint64_t total);

#ifdef __cplusplus
}
#endif
#endif
