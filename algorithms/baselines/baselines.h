/*
 * algorithms/baselines/baselines.h — outside libraries behind cannoli's index
 * interface, so a comparison runs in the same process, on the same data, timed
 * by the same loop. Each adapter is a thin C++ file built only when its
 * package is found (see CMakeLists.txt here); the registry learns about them
 * through cn_baselines_register(), which the harness calls at start-up.
 */
#ifndef CN_BASELINES_H
#define CN_BASELINES_H

#include "cannoli/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Registers every adapter this build has. Idempotent. CN_OK or the first error. */
cn_status_t cn_baselines_register(char *err, size_t errlen);
/* One line naming the baselines this build lacks and why ("" if none). */
const char *cn_baselines_missing(void);

cn_status_t cn_baseline_hnswlib_register(char *err, size_t errlen);
cn_status_t cn_baseline_faiss_register(char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
