/*
 * harness/probe.h — the streaming limit next to a graph walk: the time per
 * vector of an exact single-query scan (the `flat` index) over the store an
 * index is searched through.
 */
#ifndef CN_HARNESS_PROBE_H
#define CN_HARNESS_PROBE_H

#include "cannoli/cannoli.h"
#include "dataset.h"

/* Test vector i of the dataset as the library's query type (borrows ds). */
cn_vec_t cn_dataset_query(const cn_dataset_t *ds, size_t i);

/* ns per vector of a flat scan over `store` on the first test queries
 * (enough for about 2e7 distances; at least one, at most 100), or NAN with a
 * warning prefixed [label] when it cannot run. */
double cn_probe_scan_ns(const cn_dataset_t *ds, cn_store_t *store, const char *label);

#endif
