/*
 * harness/peakrss.c — reading and resetting the peak resident set (see
 * peakrss.h).
 */
#include "peakrss.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

int cn_peak_rss_reset(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return -1;
    int ok = fputs("5", f) >= 0;
    if (fclose(f) != 0) ok = 0;
    return ok ? 0 : -1;
}

/* The "Key:   N kB" line of a /proc/self file, in bytes (0: absent). */
static size_t proc_kb(const char *file, const char *key) {
    FILE *f = fopen(file, "r");
    char line[256];
    size_t kl = strlen(key), v = 0;
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ':') {
            unsigned long long kb;
            if (sscanf(line + kl + 1, "%llu", &kb) == 1) v = (size_t)kb * 1024;
            break;
        }
    fclose(f);
    return v;
}

static size_t status_kb(const char *key) { return proc_kb("/proc/self/status", key); }

size_t cn_peak_rss_bytes(void) {
    size_t v = status_kb("VmHWM");
    if (v) return v;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) return (size_t)ru.ru_maxrss * 1024; /* kB on Linux */
    return 0;
}

size_t cn_rss_bytes(void) { return status_kb("VmRSS"); }

size_t cn_huge_rss_bytes(void) { return proc_kb("/proc/self/smaps_rollup", "AnonHugePages"); }
