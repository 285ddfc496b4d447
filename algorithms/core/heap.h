/*
 * core/heap.h — bounded binary heaps of (score, id) pairs, header-only.
 *
 * Graph search keeps two heaps (Malkov & Yashunin, Alg. 2): a min-heap of
 * candidates still to expand and a max-heap of the best `ef` results found so
 * far, whose top is the current worst result (the pruning bound). Scores are
 * internal (smaller is better). Storage is two parallel arrays so the hot
 * comparisons touch only the score array.
 *
 * Both heaps are allocated once per search context with their capacity
 * (sized for the context's ef). A search may still need more room (k above
 * ef, or a long candidate queue) and grows a heap with cn_heap_reserve; if
 * that fails the heap keeps its contents and capacity, and the caller must
 * say what it gave up (HNSW counts it in cn_search_stats_t.ndropped).
 */
#ifndef CN_CORE_HEAP_H
#define CN_CORE_HEAP_H

#include <stddef.h>
#include <stdint.h>

#include "cannoli/common.h"

typedef struct cn_heap {
    float *score;    /* cap entries */
    uint32_t *id;    /* cap entries */
    size_t size;
    size_t cap;
} cn_heap_t;

static inline cn_status_t cn_heap_init(cn_heap_t *h, size_t cap) {
    h->size = 0;
    h->cap = cap;
    h->score = (float *)cn_malloc((cap ? cap : 1) * sizeof(float));
    h->id = (uint32_t *)cn_malloc((cap ? cap : 1) * sizeof(uint32_t));
    if (!h->score || !h->id) {
        cn_free(h->score);
        cn_free(h->id);
        h->score = NULL;
        h->id = NULL;
        return CN_ENOMEM;
    }
    return CN_OK;
}

/* Grows capacity (contents kept). */
static inline cn_status_t cn_heap_reserve(cn_heap_t *h, size_t cap) {
    if (cap <= h->cap) return CN_OK;
    float *s = (float *)cn_realloc(h->score, cap * sizeof(float));
    if (!s) return CN_ENOMEM;
    h->score = s;
    uint32_t *i = (uint32_t *)cn_realloc(h->id, cap * sizeof(uint32_t));
    if (!i) return CN_ENOMEM;
    h->id = i;
    h->cap = cap;
    return CN_OK;
}

static inline void cn_heap_free(cn_heap_t *h) {
    cn_free(h->score);
    cn_free(h->id);
    h->score = NULL;
    h->id = NULL;
    h->size = h->cap = 0;
}

static inline void cn_heap_clear(cn_heap_t *h) { h->size = 0; }

/* ---- max-heap: top is the largest score (the worst result) ------------- */

static inline void cn_maxheap_sift_down(cn_heap_t *h, size_t i) {
    float s = h->score[i];
    uint32_t id = h->id[i];
    size_t n = h->size;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && h->score[c + 1] > h->score[c]) c++;
        if (h->score[c] <= s) break;
        h->score[i] = h->score[c];
        h->id[i] = h->id[c];
        i = c;
    }
    h->score[i] = s;
    h->id[i] = id;
}

/* Inserts; the caller guarantees size < cap. */
static inline void cn_maxheap_push(cn_heap_t *h, float s, uint32_t id) {
    size_t i = h->size++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->score[p] >= s) break;
        h->score[i] = h->score[p];
        h->id[i] = h->id[p];
        i = p;
    }
    h->score[i] = s;
    h->id[i] = id;
}

static inline void cn_maxheap_pop(cn_heap_t *h) {
    if (--h->size > 0) {
        h->score[0] = h->score[h->size];
        h->id[0] = h->id[h->size];
        cn_maxheap_sift_down(h, 0);
    }
}

/* Keeps the `cap` smallest scores seen: pushes while not full, otherwise
 * replaces the top if s is smaller. Returns 1 if (s, id) was kept. */
static inline int cn_maxheap_offer(cn_heap_t *h, float s, uint32_t id) {
    if (h->size < h->cap) {
        cn_maxheap_push(h, s, id);
        return 1;
    }
    if (s >= h->score[0]) return 0;
    h->score[0] = s;
    h->id[0] = id;
    cn_maxheap_sift_down(h, 0);
    return 1;
}

/* Empties the heap into ids/scores sorted ascending by score; returns count. */
static inline size_t cn_maxheap_drain_sorted(cn_heap_t *h, uint32_t *ids, float *scores) {
    size_t n = h->size;
    for (size_t i = n; i > 0; i--) {
        ids[i - 1] = h->id[0];
        scores[i - 1] = h->score[0];
        cn_maxheap_pop(h);
    }
    return n;
}

/* Sorts the heap's own arrays ascending in place (heapsort), for a heap laid
 * over caller-owned output arrays; returns the number of entries. The heap is
 * left with size 0 (its arrays now hold the sorted results). */
static inline size_t cn_maxheap_sort_inplace(cn_heap_t *h) {
    size_t n = h->size;
    for (size_t end = n; end > 1; end--) {
        float ts = h->score[0];
        uint32_t ti = h->id[0];
        h->score[0] = h->score[end - 1];
        h->id[0] = h->id[end - 1];
        h->score[end - 1] = ts;
        h->id[end - 1] = ti;
        h->size = end - 1;
        cn_maxheap_sift_down(h, 0);
    }
    h->size = 0;
    return n;
}

/* ---- min-heap: top is the smallest score (the next candidate) ---------- */

static inline void cn_minheap_push(cn_heap_t *h, float s, uint32_t id) {
    size_t i = h->size++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->score[p] <= s) break;
        h->score[i] = h->score[p];
        h->id[i] = h->id[p];
        i = p;
    }
    h->score[i] = s;
    h->id[i] = id;
}

static inline void cn_minheap_pop(cn_heap_t *h) {
    if (--h->size == 0) return;
    float s = h->score[h->size];
    uint32_t id = h->id[h->size];
    size_t n = h->size, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && h->score[c + 1] < h->score[c]) c++;
        if (h->score[c] >= s) break;
        h->score[i] = h->score[c];
        h->id[i] = h->id[c];
        i = c;
    }
    h->score[i] = s;
    h->id[i] = id;
}

#endif
