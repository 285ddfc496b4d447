/*
 * core/visited.h — visited set for graph searches, header-only.
 *
 * A graph search must remember which nodes it has already scored. Clearing an
 * n-entry table per query costs O(n) and dominates small searches; hnswlib and
 * Faiss therefore tag every node with a 16-bit query epoch (2 bytes per node:
 * 2 MB at 1M nodes, read at random, mostly missing the L2 cache).
 *
 * This set is a bitmap (1 bit per node: 125 KB at 1M nodes, which stays in
 * L2) plus the list of 64-bit words the current search has made non-zero.
 * Starting a new search clears exactly those words, so the reset costs
 * O(words touched) <= O(nodes visited), never O(n).
 *
 * Invariant: a word of `bits` is non-zero only if its index is in
 * touched[0 .. ntouched); after cn_visited_next() every bit is zero.
 *
 * One set per thread (per search context / build thread); not thread-safe.
 */
#ifndef CN_CORE_VISITED_H
#define CN_CORE_VISITED_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cannoli/common.h"

typedef struct cn_visited {
    uint64_t *bits;    /* ceil(n / 64) words */
    uint32_t *touched; /* indices of the non-zero words, ceil(n / 64) entries */
    size_t ntouched;
    size_t n;
} cn_visited_t;

/* Allocates a set for node ids 0..n-1 (all unvisited). */
static inline cn_status_t cn_visited_init(cn_visited_t *v, size_t n) {
    size_t words = (n + 63) / 64;
    if (words == 0) words = 1;
    v->n = n;
    v->ntouched = 0;
    v->bits = (uint64_t *)cn_calloc(words, sizeof(uint64_t));
    v->touched = (uint32_t *)cn_malloc(words * sizeof(uint32_t));
    if (!v->bits || !v->touched) {
        cn_free(v->bits);
        cn_free(v->touched);
        v->bits = NULL;
        v->touched = NULL;
        return CN_ENOMEM;
    }
    return CN_OK;
}

static inline void cn_visited_free(cn_visited_t *v) {
    cn_free(v->bits);
    cn_free(v->touched);
    v->bits = NULL;
    v->touched = NULL;
    v->n = 0;
    v->ntouched = 0;
}

/* Starts a new search: forgets every mark, in O(words touched). */
static inline void cn_visited_next(cn_visited_t *v) {
    for (size_t i = 0; i < v->ntouched; i++) v->bits[v->touched[i]] = 0;
    v->ntouched = 0;
}

static inline int cn_visited_get(const cn_visited_t *v, uint32_t i) {
    return (int)((v->bits[i >> 6] >> (i & 63)) & 1u);
}

/* Marks i; returns 1 if it was already marked in this search. */
static inline int cn_visited_test_and_set(cn_visited_t *v, uint32_t i) {
    uint64_t *w = v->bits + (i >> 6);
    const uint64_t b = (uint64_t)1 << (i & 63), x = *w;
    if (x & b) return 1;
    if (x == 0) v->touched[v->ntouched++] = i >> 6;
    *w = x | b;
    return 0;
}

static inline void cn_visited_set(cn_visited_t *v, uint32_t i) {
    (void)cn_visited_test_and_set(v, i);
}

#endif
