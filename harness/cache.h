/*
 * harness/cache.h — the index cache: built indexes saved between runs.
 *
 * An entry is one index file (`<key>.cnidx`, written by cn_index_save:
 * magic, version, checksum) and its metadata (`<key>.cnidx.meta`, key=value
 * lines). The key hashes what the index is a function of: the dataset's
 * vectors, the index and quantizer names and parameters, and which store the
 * structure was built on. The metadata records the build id (a hash of the
 * library's sources, sysinfo.h) of the code that wrote it: an entry written
 * by other sources is not loaded but rebuilt and overwritten, with one line
 * saying why; so is an entry whose index does not match the dataset's shape
 * (n, dim, metric), whose metadata is missing or malformed, or whose file is
 * corrupt. Files are written to a temporary name and renamed; concurrent
 * processes are safe (see cache.c: a lock file per entry).
 */
#ifndef CN_HARNESS_CACHE_H
#define CN_HARNESS_CACHE_H

#include <stdint.h>
#include <stdio.h>

#include "cannoli/cannoli.h"
#include "dataset.h"

typedef struct cn_cache {
    const char *dir;       /* NULL: no cache */
    int rebuild;           /* --force: load only entries written by this run (`run`);
                              build and overwrite the rest */
    const char *run;       /* identifies this process's run (recorded in the metadata) */
    uint64_t data_hash;    /* content hash of the dataset's train vectors */
    const char *dataset;   /* dataset name (metadata, `cache list`) */
    uint32_t n, dim;       /* the dataset's shape: a loaded index must match it */
    cn_metric_t metric;
} cn_cache_t;

/* What an entry is an index of. */
typedef struct cn_cache_entry {
    const char *index, *index_params;         /* build params without build_on */
    const char *quantizer, *quantizer_params; /* "plain", "" for the full-precision graph */
    int on_quantized;                         /* structure built on the codes */
    const char *algorithm;                    /* label, for the metadata only */
    /* Build params to load the entry with (cn_index_load_as: they may differ
     * from the saved ones in derived parameters, HNSW's layout and order,
     * when index_params is their structure_params); NULL = as saved. */
    const char *load_params;
} cn_cache_entry_t;

/* Content hash of a dataset's train vectors (dense or CSR) and shape. */
uint64_t cn_cache_data_hash(const cn_dataset_t *ds);

/* Loads the entry into *ix with its original build time. 0 when loaded; -1
 * when absent or unusable (the reason is printed on stderr, prefixed with
 * "[label] what:"; nothing is left allocated). */
int cn_cache_load(const cn_cache_t *c, const cn_cache_entry_t *e, const char *label,
                  const char *what, cn_index_t **ix, double *build_s);
/* Saves ix under the entry (a failure is a warning only). */
void cn_cache_save(const cn_cache_t *c, const cn_cache_entry_t *e, const char *label,
                   const cn_index_t *ix, double build_s);

/* Claims the entry before building it: an exclusive lock held until
 * cn_cache_release, which loads of the entry by other processes wait for.
 * When another process holds it, prints one line and waits; *waited = 1
 * then (try cn_cache_load again: it probably saved the entry). Returns a
 * claim (>= 0), or -1 with no lock (no cache, a read-only folder): build
 * anyway. Loads and saves of a claimed entry by this process do not lock it
 * again. Not thread-safe (the runner obtains indexes one at a time). */
int cn_cache_claim(const cn_cache_t *c, const cn_cache_entry_t *e, const char *label,
                   const char *what, int *waited);
void cn_cache_release(int claim);

/* `cannoli cache list|remove`: entries of dir whose index or quantizer is
 * `component` and whose dataset is `dataset` (NULL = any); remove deletes
 * them (stale_only: only entries of other build ids or without metadata).
 * Prints one line per entry on out. 0 or -1 with err. */
int cn_cache_list(const char *dir, const char *component, const char *dataset, FILE *out,
                  char *err, size_t errlen);
int cn_cache_remove(const char *dir, const char *component, const char *dataset, int stale_only,
                    FILE *out, char *err, size_t errlen);

#endif
