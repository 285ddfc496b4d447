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
#ifdef CN_HAVE_FAISS
    st = cn_baseline_faiss_register(err, errlen);
    if (st != CN_OK) return st;
#endif
    (void)err;
    (void)errlen;
    return st;
}

const char *cn_baselines_missing(void) {
#if !defined(CN_HAVE_HNSWLIB) && !defined(CN_HAVE_FAISS)
    return "hnswlib (install libhnswlib-dev and rebuild), faiss (install libfaiss-dev and rebuild)";
#elif !defined(CN_HAVE_HNSWLIB)
    return "hnswlib (install libhnswlib-dev and rebuild)";
#elif !defined(CN_HAVE_FAISS)
    return "faiss (install libfaiss-dev and rebuild)";
#else
    return "";
#endif
}
