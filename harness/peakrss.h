/*
 * harness/peakrss.h — the process's peak resident set, per build point.
 *
 * Linux keeps a high-water mark of the resident set (VmHWM in
 * /proc/self/status); writing "5" to /proc/self/clear_refs (Linux >= 4.0)
 * resets it to the current resident set. The runner resets it when a build
 * point starts, so a row's peak_rss_bytes is the largest resident set of the
 * process from the start of its build point (dataset and full-precision
 * store included, as they are resident) to the moment the row is written.
 * It resets the mark again when the build is done, so search_rss_bytes is
 * the sweep's own peak (peak_rss_bytes = the larger of the two parts).
 * Where the reset is refused (not Linux, a restricted /proc), the value is
 * the process's peak since it started (getrusage's ru_maxrss as a last
 * resort), i.e. never less than the true per-point peak.
 */
#ifndef CN_HARNESS_PEAKRSS_H
#define CN_HARNESS_PEAKRSS_H

#include <stddef.h>

/* Resets the high-water mark; 0 when done, -1 when the system refused. */
int cn_peak_rss_reset(void);
/* Peak resident bytes since the last reset (or since the start). */
size_t cn_peak_rss_bytes(void);
/* Current resident bytes (VmRSS), 0 when unknown. */
size_t cn_rss_bytes(void);
/* Resident anonymous bytes on transparent huge pages (AnonHugePages of
 * /proc/self/smaps_rollup), 0 when none or unknown. */
size_t cn_huge_rss_bytes(void);

#endif
