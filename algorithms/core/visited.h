/*
 * core/visited.h — epoch-tagged visited table, header-only.
 *
 * A graph search must remember which nodes it has already scored. Clearing an
 * n-byte bitmap per query costs O(n) and dominates small searches, so (like
 * hnswlib's VisitedListPool and Faiss's VisitedTable) each node gets a 16-bit
 * tag and a query gets a fresh epoch number: node i is visited iff
 * tag[i] == epoch. Starting a query is then one increment; only when the
 * 16-bit epoch wraps (every 65535 queries) is the table zeroed.
 *
 * Invariant: epoch != 0 and no tag is larger than epoch after
 * cn_visited_next(); tag 0 therefore always means "never visited".
 *
 * One table per thread (per search context / build thread); not thread-safe.
 */
#ifndef CN_CORE_VISITED_H
#define CN_CORE_VISITED_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cannoli/common.h"

typedef struct cn_visited {
    uint16_t *tag; /* n entries */
    size_t n;
    uint16_t epoch;
} cn_visited_t;

/* Allocates a table for node ids 0..n-1 (all unvisited). */
static inline cn_status_t cn_visited_init(cn_visited_t *v, size_t n) {
    v->n = n;
    v->epoch = 1;
    v->tag = (uint16_t *)cn_calloc(n ? n : 1, sizeof(uint16_t));
    return v->tag ? CN_OK : CN_ENOMEM;
}

static inline void cn_visited_free(cn_visited_t *v) {
    cn_free(v->tag);
    v->tag = NULL;
    v->n = 0;
    v->epoch = 0;
}

/* Starts a new search: forgets every mark in O(1) (O(n) once per 65535). */
static inline void cn_visited_next(cn_visited_t *v) {
    if (++v->epoch == 0) {
        memset(v->tag, 0, (v->n ? v->n : 1) * sizeof(uint16_t));
        v->epoch = 1;
    }
}

static inline int cn_visited_get(const cn_visited_t *v, uint32_t i) {
    return v->tag[i] == v->epoch;
}

static inline void cn_visited_set(cn_visited_t *v, uint32_t i) { v->tag[i] = v->epoch; }

/* Marks i; returns 1 if it was already marked in this epoch. */
static inline int cn_visited_test_and_set(cn_visited_t *v, uint32_t i) {
    int was = v->tag[i] == v->epoch;
    v->tag[i] = v->epoch;
    return was;
}

#endif
