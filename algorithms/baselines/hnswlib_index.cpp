/*
 * algorithms/baselines/hnswlib_index.cpp — hnswlib (Debian libhnswlib-dev,
 * header-only) behind cannoli's index interface, registered as `hnswlib`.
 *
 * A baseline is only worth something when it runs in the same process, on the
 * same data, timed by the same loop as cannoli's own indexes; this adapter
 * makes that so. It copies the vectors of a dense_f32 store into hnswlib
 * (which keeps its own copy next to the links, hnswlib's layout), builds with
 * addPoint in an OpenMP loop (hnswlib's documented parallel insert), and
 * searches like searchKnn but with each context's own ef (hl_search: the
 * shared index is never written by a query, so query threads do not race).
 * Cosine uses hnswlib's inner-product space over the
 * store's normalised rows; queries are normalised here.
 *
 * hnswlib 0.6.2 chooses AVX/AVX-512 kernels only when the compiler targets
 * them, so this file is compiled with the flags of the machine (see
 * algorithms/baselines/CMakeLists.txt): the baseline runs at its best.
 *
 * Internal scores: hnswlib's L2 space returns the squared distance (ours
 * too); its inner-product space returns 1 - <q,x>, ours is -<q,x>.
 */
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <queue>
#include <string>
#include <vector>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <omp.h>

extern "C" {
#include "cannoli/cannoli.h"
#include "baselines.h"
}

namespace {

struct hl_index {
    cn_index_t base; /* first member: cn_index_t */
    size_t M, efc, seed;
    hnswlib::SpaceInterface<float> *space;
    hnswlib::HierarchicalNSW<float> *alg;
};

struct hl_ctx {
    std::vector<float> q;
    size_t ef;
};

hl_index *cast(const cn_index_t *ix) { return (hl_index *)ix; }

cn_status_t hl_build(cn_index_t *ix, const cn_store_t *store, int threads, char *err,
                     size_t errlen) {
    hl_index *h = cast(ix);
    if (!cn_store_is_dense_f32(store))
        return cn_error(err, errlen, CN_EUNSUPPORTED,
                        "hnswlib: needs a dense_f32 store (quantizer 'plain'), got '%s'",
                        store->ops->name);
    try {
        if (store->metric == CN_METRIC_L2)
            h->space = new hnswlib::L2Space(store->dim);
        else
            h->space = new hnswlib::InnerProductSpace(store->dim);
        h->alg = new hnswlib::HierarchicalNSW<float>(h->space, store->n, h->M, h->efc, h->seed);
    } catch (const std::exception &e) {
        return cn_error(err, errlen, CN_ENOMEM, "hnswlib: %s", e.what());
    }
    if (store->n == 0) return CN_OK;
    h->alg->addPoint(cn_store_dense_row(store, 0), 0);
    int failed = 0;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 64)
    for (long i = 1; i < (long)store->n; i++) {
        try {
            h->alg->addPoint(cn_store_dense_row(store, (uint32_t)i), (size_t)i);
        } catch (...) {
#pragma omp atomic write
            failed = 1;
        }
    }
    if (failed) return cn_error(err, errlen, CN_ENOMEM, "hnswlib: addPoint failed");
    return CN_OK;
}

cn_status_t hl_ctx_init(const cn_index_t *ix, cn_search_ctx_t *ctx, char *err, size_t errlen) {
    hl_ctx *c = new (std::nothrow) hl_ctx();
    if (!c) return cn_error(err, errlen, CN_ENOMEM, "hnswlib: out of memory");
    c->q.resize(ix->dim);
    c->ef = 10;
    ctx->priv = c;
    return CN_OK;
}

void hl_ctx_free(cn_search_ctx_t *ctx) {
    delete (hl_ctx *)ctx->priv;
    ctx->priv = nullptr;
}

cn_status_t hl_ctx_set_params(cn_search_ctx_t *ctx, const cn_params_t *p, char *, size_t) {
    hl_ctx *c = (hl_ctx *)ctx->priv;
    c->ef = (size_t)cn_params_get_int(p, "ef");
    return CN_OK;
}

/* One query at this context's ef, without writing to the shared index.
 *
 * hnswlib 0.6.2's searchKnn reads ef from the index (ef_, a plain size_t that
 * setEf writes): calling setEf from the query threads is a data race (TSan
 * reports it even when every thread writes the same value) and, with two
 * contexts at different ef, a wrong answer. 0.6.2 has no per-call ef (later
 * versions' SearchStopCondition came with 0.8), so this is searchKnn's body
 * (hnswalg.h, 0.6.2) with ef passed in: the greedy descent written out, then
 * the library's own searchBaseLayerST, the same kernels, the same work. The
 * shared index is only read; ef_ is never touched after the build.
 *
 * Stats: the descent is counted here; the base layer through hnswlib's
 * atomic counters (metric_*), as a before/after difference — exact with one
 * query thread, but with several it also counts the other threads' work in
 * that window (hnswlib keeps no per-query counter). Allocation failure
 * (std::bad_alloc from the library's queues) cannot cross into C: it is
 * caught and the query returns nothing, counted in ndropped. */
size_t hl_search(const cn_index_t *ix, cn_search_ctx_t *ctx, size_t k, uint32_t *ids,
                 float *scores) {
    const hl_index *h = cast(ix);
    hl_ctx *c = (hl_ctx *)ctx->priv;
    const hnswlib::HierarchicalNSW<float> *a = h->alg;
    if (!a || !ctx->query || !ctx->query->dense || k == 0 || a->cur_element_count == 0) return 0;
    const float *q = ctx->query->dense;
    if (ix->metric == CN_METRIC_COSINE) {
        double s = 0;
        for (uint32_t j = 0; j < ix->dim; j++) s += (double)q[j] * q[j];
        float inv = s > 0 ? (float)(1.0 / std::sqrt(s)) : 0.f;
        for (uint32_t j = 0; j < ix->dim; j++) c->q[j] = q[j] * inv;
        q = c->q.data();
    }
    uint64_t ndist = 1, nhops = 0;
    hnswlib::tableint cur = a->enterpoint_node_;
    float dcur = a->fstdistfunc_(q, a->getDataByInternalId(cur), a->dist_func_param_);
    for (int level = a->maxlevel_; level > 0; level--) {
        bool changed = true;
        while (changed) {
            changed = false;
            const unsigned int *l = a->get_linklist(cur, level);
            int size = a->getListCount(const_cast<unsigned int *>(l));
            const hnswlib::tableint *nb = (const hnswlib::tableint *)(l + 1);
            nhops++;
            ndist += (uint64_t)size;
            for (int i = 0; i < size; i++) {
                if (nb[i] >= a->cur_element_count) continue; /* searchKnn throws "cand error" */
                float d = a->fstdistfunc_(q, a->getDataByInternalId(nb[i]), a->dist_func_param_);
                if (d < dcur) {
                    dcur = d;
                    cur = nb[i];
                    changed = true;
                }
            }
        }
    }
    size_t ef = std::max(c->ef, k);
    long d0 = a->metric_distance_computations.load(std::memory_order_relaxed);
    long h0 = a->metric_hops.load(std::memory_order_relaxed);
    std::priority_queue<std::pair<float, hnswlib::tableint>,
                        std::vector<std::pair<float, hnswlib::tableint>>,
                        hnswlib::HierarchicalNSW<float>::CompareByFirst>
        top;
    try {
        top = a->num_deleted_ ? a->searchBaseLayerST<true, true>(cur, q, ef)
                              : a->searchBaseLayerST<false, true>(cur, q, ef);
    } catch (const std::bad_alloc &) {
        ctx->stats.ndropped += k;
        return 0;
    }
    ndist += (uint64_t)(a->metric_distance_computations.load(std::memory_order_relaxed) - d0);
    nhops += (uint64_t)(a->metric_hops.load(std::memory_order_relaxed) - h0);
    ctx->stats.ndist += ndist;
    ctx->stats.nhops += nhops;
    while (top.size() > k) top.pop();
    size_t n = top.size();
    for (size_t i = n; i > 0; i--) {
        float d = top.top().first;
        ids[i - 1] = (uint32_t)a->getExternalLabel(top.top().second);
        scores[i - 1] = ix->metric == CN_METRIC_L2 ? d : d - 1.0f;
        top.pop();
    }
    return n;
}

size_t hl_bytes(const cn_index_t *ix) {
    const hl_index *h = cast(ix);
    if (!h->alg) return sizeof *h;
    size_t b = h->alg->max_elements_ * h->alg->size_data_per_element_;
    for (size_t i = 0; i < h->alg->cur_element_count; i++)
        if (h->alg->element_levels_[i] > 0)
            b += h->alg->size_links_per_element_ * (size_t)h->alg->element_levels_[i];
    /* hnswlib stores its own copy of the vectors inside data_level0_memory_;
     * the store the generic layer also holds is counted there, so subtract
     * the copy here to count the vectors once. */
    size_t vec = (size_t)ix->n * ix->dim * sizeof(float);
    return b > vec ? b - vec : b;
}

/* hnswlib serialises to a path only: go through a temporary file and embed
 * its bytes (length-prefixed) in cannoli's checksummed file, so the index
 * cache works for the baseline too. */
std::string temp_path() {
    const char *dir = getenv("TMPDIR");
    std::string t = std::string(dir && *dir ? dir : "/tmp") + "/cannoli-hnswlib-XXXXXX";
    std::vector<char> buf(t.begin(), t.end());
    buf.push_back('\0');
    int fd = mkstemp(buf.data());
    if (fd < 0) return std::string();
    close(fd);
    return std::string(buf.data());
}

void hl_save(const cn_index_t *ix, cn_writer_t *w) {
    const hl_index *h = cast(ix);
    std::string tmp = temp_path();
    if (!h->alg || tmp.empty()) {
        w->st = CN_EIO;
        return;
    }
    try {
        h->alg->saveIndex(tmp);
    } catch (...) {
        w->st = CN_EIO;
        unlink(tmp.c_str());
        return;
    }
    FILE *f = fopen(tmp.c_str(), "rb");
    if (!f) {
        w->st = CN_EIO;
        unlink(tmp.c_str());
        return;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    cn_write_u64(w, (uint64_t)len);
    std::vector<char> chunk(1 << 20);
    size_t got;
    while ((got = fread(chunk.data(), 1, chunk.size(), f)) > 0) cn_write(w, chunk.data(), got);
    fclose(f);
    unlink(tmp.c_str());
}

cn_status_t hl_load(cn_index_t *ix, cn_reader_t *r, char *err, size_t errlen) {
    hl_index *h = cast(ix);
    uint64_t len = cn_read_u64(r);
    if (r->st != CN_OK || len > cn_reader_remaining(r))
        return cn_error(err, errlen, CN_EFORMAT, "%s: truncated hnswlib payload", r->path);
    std::string tmp = temp_path();
    FILE *f = tmp.empty() ? nullptr : fopen(tmp.c_str(), "wb");
    if (!f) return cn_error(err, errlen, CN_EIO, "hnswlib: cannot create a temporary file");
    std::vector<char> chunk(1 << 20);
    uint64_t left = len;
    while (left > 0 && r->st == CN_OK) {
        size_t n = left < chunk.size() ? (size_t)left : chunk.size();
        if (cn_read(r, chunk.data(), n) != CN_OK || fwrite(chunk.data(), 1, n, f) != n) break;
        left -= n;
    }
    fclose(f);
    if (left > 0) {
        unlink(tmp.c_str());
        return cn_error(err, errlen, CN_EFORMAT, "%s: truncated hnswlib payload", r->path);
    }
    try {
        if (ix->metric == CN_METRIC_L2)
            h->space = new hnswlib::L2Space(ix->dim);
        else
            h->space = new hnswlib::InnerProductSpace(ix->dim);
        h->alg = new hnswlib::HierarchicalNSW<float>(h->space, tmp);
    } catch (const std::exception &e) {
        unlink(tmp.c_str());
        return cn_error(err, errlen, CN_EFORMAT, "%s: hnswlib could not load its index: %s",
                        r->path, e.what());
    }
    unlink(tmp.c_str());
    if (h->alg->cur_element_count != ix->n || h->alg->data_size_ != ix->dim * sizeof(float))
        return cn_error(err, errlen, CN_EFORMAT, "%s: hnswlib index does not match the header",
                        r->path);
    return CN_OK;
}

void hl_destroy(cn_index_t *ix) {
    hl_index *h = cast(ix);
    delete h->alg;
    delete h->space; /* build_params and the stores are the generic layer's */
    delete h;
}

const cn_index_ops_t hl_ops = {
    "hnswlib", hl_build, hl_ctx_init, hl_ctx_free, hl_ctx_set_params, hl_search,
    hl_bytes,  hl_save,  hl_load,     hl_destroy, nullptr, /* no bind */
};

cn_status_t hl_create(cn_index_t **out, cn_metric_t metric, uint32_t dim, const cn_params_t *p,
                      char *err, size_t errlen) {
    hl_index *h = new (std::nothrow) hl_index();
    if (!h) return cn_error(err, errlen, CN_ENOMEM, "hnswlib: out of memory");
    h->base.ops = &hl_ops;
    h->base.metric = metric;
    h->base.dim = dim;
    h->M = (size_t)cn_params_get_int(p, "M"); /* defaults filled in from hl_params */
    h->efc = (size_t)cn_params_get_int(p, "ef_construction");
    h->seed = (size_t)cn_params_get_int(p, "seed");
    *out = &h->base;
    return CN_OK;
}

const cn_param_spec_t hl_params[] = {
    {"M", CN_PARAM_INT, CN_ROLE_BUILD, 2, 512, "16", nullptr, "links per node (2M on level 0)", 0},
    {"ef_construction", CN_PARAM_INT, CN_ROLE_BUILD, 1, 100000, "200", nullptr,
     "candidate list size while building", 0},
    {"seed", CN_PARAM_INT, CN_ROLE_BUILD, 0, 9007199254740991.0, "100", nullptr,
     "random seed of the level generator", 0},
    {"ef", CN_PARAM_INT, CN_ROLE_SEARCH, 1, 1000000, "10", nullptr, "candidate list size (a search returns at most ef candidates)",
     CN_PARAM_F_RESULT_POOL},
};

const cn_component_t hl_component = {
    "hnswlib",
    CN_COMPONENT_INDEX,
    "baseline: hnswlib " "0.6.2 (Debian libhnswlib-dev), same process and timing loop",
    hl_params,
    sizeof hl_params / sizeof hl_params[0],
    hl_create,
    nullptr,
    nullptr,
    nullptr,
};

} // namespace

extern "C" cn_status_t cn_baseline_hnswlib_register(char *err, size_t errlen) {
    return cn_registry_add(&hl_component, err, errlen);
}
