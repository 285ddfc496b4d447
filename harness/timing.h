/*
 * harness/timing.h — measuring one search point.
 *
 * The point is timed `runs` times over all test queries, on `threads` query
 * threads, each with its own search context; the pass with the highest QPS is
 * kept (ANN-Benchmarks' best-of). QPS is queries over the wall time of the
 * whole pass; latencies are per query, from the same pass. Recall and the work
 * counters are computed afterwards from that pass's results, so timing never
 * includes them.
 */
#ifndef CN_HARNESS_TIMING_H
#define CN_HARNESS_TIMING_H

#include "cannoli/cannoli.h"
#include "config.h"
#include "dataset.h"
#include "metrics.h"
#include "plan.h"

typedef struct cn_measure {
    double qps;
    cn_latency_t lat;      /* microseconds */
    double recall;
    double dist_per_query, hops_per_query;
    double reranked_per_query; /* candidates re-scored at full precision */
    double dropped_per_query;  /* candidates dropped for lack of memory (should be 0) */
    double ns_per_dist;        /* mean query time / distances per query (NAN if none) */
    size_t index_bytes;        /* cn_search_ctx_bytes at this point's parameters */
} cn_measure_t;

/* ctx: `threads` search contexts of one index. 0, or -1 with err. */
int cn_time_point(const cn_experiment_t *exp, const cn_dataset_t *ds, cn_search_ctx_t **ctx,
                  int threads, const cn_point_t *sp, cn_measure_t *out, char *err,
                  size_t errlen);

#endif
