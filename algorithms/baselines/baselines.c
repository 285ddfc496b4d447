/*
 * algorithms/baselines/baselines.c — registers the adapters this build has.
 */
#include "baselines.h"

cn_status_t cn_baselines_register(char *err, size_t errlen) {
    static int done;
    if (done) return CN_OK;
    done = 1;
    cn_status_t st = CN_OK;
#ifdef CN_HAVE_HNSWLIB
    st = cn_baseline_hnswlib_register(err, errlen);
    if (st != CN_OK) return st;
#endif
    (void)err;
    (void)errlen;
    return st;
}

const char *cn_baselines_missing(void) {
#ifndef CN_HAVE_HNSWLIB
    return "hnswlib (install libhnswlib-dev and rebuild)";
#else
    return "";
#endif
}
