/*
 * core/common.c — status strings, metric names, error buffers, allocator hook,
 * aligned (huge-page) blocks, progress hook.
 *
 * Threads: everything here may be called from OpenMP threads at once
 * (build threads and query threads allocate). The one lazily computed value,
 * the CANNOLI_HUGEPAGES switch, is a C11 atomic: several threads may compute
 * it the first time, all get the same answer, and none reads a torn or
 * unsynchronised value (it was a plain `static int`: a data race, undefined
 * behaviour even though every writer stores the same value). The allocator and progress hooks are set once by the
 * host before any thread starts (cn_set_allocator / cn_set_progress are not
 * thread-safe, by contract).
 */
#define _DEFAULT_SOURCE /* madvise */
#include "cannoli/common.h"

#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

const char *cn_status_str(cn_status_t st) {
    switch (st) {
    case CN_OK: return "ok";
    case CN_EINVAL: return "invalid argument";
    case CN_ENOMEM: return "out of memory";
    case CN_EIO: return "input/output error";
    case CN_EFORMAT: return "malformed file";
    case CN_ENOTFOUND: return "not found";
    case CN_EUNSUPPORTED: return "unsupported";
    }
    return "unknown status";
}

const char *cn_metric_name(cn_metric_t m) {
    switch (m) {
    case CN_METRIC_L2: return "l2";
    case CN_METRIC_IP: return "ip";
    case CN_METRIC_COSINE: return "cosine";
    }
    return "unknown";
}

cn_status_t cn_metric_parse(const char *s, cn_metric_t *out) {
    static const struct {
        const char *name;
        cn_metric_t m;
    } names[] = {
        {"l2", CN_METRIC_L2},         {"euclidean", CN_METRIC_L2},
        {"ip", CN_METRIC_IP},         {"dot", CN_METRIC_IP},
        {"inner_product", CN_METRIC_IP}, {"cosine", CN_METRIC_COSINE},
        {"angular", CN_METRIC_COSINE},
    };
    if (!s) return CN_EINVAL;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(s, names[i].name) == 0) {
            if (out) *out = names[i].m;
            return CN_OK;
        }
    }
    return CN_EINVAL;
}

float cn_metric_external(cn_metric_t m, float s) {
    switch (m) {
    case CN_METRIC_L2: return s > 0.0f ? sqrtf(s) : 0.0f;
    case CN_METRIC_IP: return -s;
    case CN_METRIC_COSINE: return 1.0f + s;
    }
    return s;
}

cn_status_t cn_error(char *err, size_t errlen, cn_status_t st, const char *fmt, ...) {
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* ---- allocator hook ---------------------------------------------------- */

static void *libc_malloc(size_t size, void *ctx) {
    (void)ctx;
    return malloc(size);
}
static void *libc_realloc(void *p, size_t size, void *ctx) {
    (void)ctx;
    return realloc(p, size);
}
static void libc_free(void *p, void *ctx) {
    (void)ctx;
    free(p);
}

static const cn_allocator_t libc_allocator = {libc_malloc, libc_realloc, libc_free, NULL};
static cn_allocator_t current = {libc_malloc, libc_realloc, libc_free, NULL};

void cn_set_allocator(const cn_allocator_t *a) { current = a ? *a : libc_allocator; }

void *cn_malloc(size_t size) { return current.malloc_fn(size ? size : 1, current.ctx); }

void *cn_calloc(size_t count, size_t size) {
    if (size && count > SIZE_MAX / size) return NULL;
    size_t total = count * size;
    void *p = cn_malloc(total);
    if (p) memset(p, 0, total);
    return p;
}

void *cn_realloc(void *ptr, size_t size) {
    return current.realloc_fn(ptr, size ? size : 1, current.ctx);
}

void cn_free(void *ptr) {
    if (ptr) current.free_fn(ptr, current.ctx);
}

/* The raw block pointer is stored just below the aligned address.
 *
 * Large blocks (vectors, codes, the level-0 graph: hundreds of MB that an
 * index reads at random) are aligned to 2 MiB and, on Linux, marked with
 * MADV_HUGEPAGE: with transparent huge pages in "madvise" mode (Debian's
 * default) this is what puts them on 2 MiB pages, so a random access costs
 * far fewer TLB misses. The advice is only a hint; where it is unavailable
 * or refused, nothing changes but speed. CANNOLI_HUGEPAGES=0 turns it off
 * (for measuring what it is worth). */
#define CN_ALIGN 64u
#define CN_HUGE_ALIGN ((size_t)2 << 20)
#define CN_HUGE_MIN ((size_t)8 << 20)

static int hugepages_wanted(void) {
    /* -1 = not read yet. Relaxed is enough: the value depends on nothing
     * else in memory, and a thread that sees -1 recomputes the same answer. */
    static atomic_int wanted = -1;
    int w = atomic_load_explicit(&wanted, memory_order_relaxed);
    if (w < 0) {
        const char *e = getenv("CANNOLI_HUGEPAGES");
        w = !(e && strcmp(e, "0") == 0);
        atomic_store_explicit(&wanted, w, memory_order_relaxed);
    }
    return w;
}

void *cn_aligned_alloc(size_t size) {
    size_t align = CN_ALIGN;
    int huge = size >= CN_HUGE_MIN && hugepages_wanted();
    if (huge) align = CN_HUGE_ALIGN;
    if (size > SIZE_MAX - align - sizeof(void *)) return NULL;
    unsigned char *raw = cn_malloc(size + align + sizeof(void *));
    if (!raw) return NULL;
    uintptr_t a = ((uintptr_t)(raw + sizeof(void *)) + align - 1) & ~(uintptr_t)(align - 1);
    unsigned char *p = (unsigned char *)a;
    memcpy(p - sizeof(void *), &raw, sizeof raw);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    /* p is 2 MiB aligned; advise whole 2 MiB pages inside the block only. */
    if (huge) (void)madvise(p, size & ~(CN_HUGE_ALIGN - 1), MADV_HUGEPAGE);
#endif
    return p;
}

size_t cn_mem_settle(void *p, size_t size) {
#if defined(__linux__)
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25 /* Linux 6.1; glibc 2.36's headers lack it */
#endif
    if (!p || size < CN_HUGE_MIN || !hugepages_wanted()) return 0;
    uintptr_t a = ((uintptr_t)p + CN_HUGE_ALIGN - 1) & ~(uintptr_t)(CN_HUGE_ALIGN - 1);
    uintptr_t e = ((uintptr_t)p + size) & ~(uintptr_t)(CN_HUGE_ALIGN - 1);
    if (e <= a) return 0;
    /* EINVAL on kernels without it, EAGAIN/ENOMEM when no huge page can be
     * had: the block stays as it is. */
    if (madvise((void *)a, e - a, MADV_COLLAPSE) != 0) return 0;
    return e - a;
#else
    (void)p;
    (void)size;
    return 0;
#endif
}

void cn_aligned_free(void *ptr) {
    if (!ptr) return;
    void *raw;
    memcpy(&raw, (unsigned char *)ptr - sizeof(void *), sizeof raw);
    cn_free(raw);
}

char *cn_strdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = cn_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* ---- progress hook ------------------------------------------------------ */

static cn_progress_fn progress_fn;
static void *progress_user;

void cn_set_progress(cn_progress_fn fn, void *user) {
    progress_fn = fn;
    progress_user = user;
}

void cn_progress(const char *what, uint64_t done, uint64_t total) {
    cn_progress_fn fn = progress_fn;
    if (fn) fn(progress_user, what, done, total);
}
