/*
 * algorithms/baselines/faiss_index.cpp — Faiss (Debian libfaiss-dev 1.7.3)
 * behind cannoli's index interface, registered as `faiss`.
 *
 * Which Faiss index: either a Faiss factory string (`factory: "HNSW32,Flat"`,
 * "HNSW32_PQ16", "HNSW32,SQ8", "IVF1024,PQ16", "Flat", anything
 * faiss::index_factory accepts) or named parameters (`type`, `M`, `pq_m`,
 * `nbits`, `nlist`) that this file turns into the factory string, so both
 * routes build the index the same way. `ef_construction`, `train_size` and
 * `seed` apply to either. The index is made in the constructor, so a bad
 * factory string fails before any work.
 *
 * Build: the rows of the dense_f32 build store go to Faiss as they are (the
 * store is one contiguous block; copied only if it is not); Faiss keeps its
 * own representation (full vectors, PQ or SQ codes, inverted lists), the
 * graph of an HNSW*PQ index is built on the PQ codes (Faiss's way). Indexes
 * that need training are trained on `train_size` rows drawn with `seed`.
 * Faiss's OpenMP runs with the build's thread count.
 *
 * Search: HNSW indexes are searched one query at a time with Faiss's own
 * HNSW::search, each cannoli search context holding the DistanceComputer and
 * VisitedTable that IndexHNSW::search would otherwise allocate per call (a
 * VisitedTable is n bytes): this is Faiss's per-thread batch loop with the
 * batch being one query, and it yields per-query work counters without the
 * global hnsw_stats (dist_per_query counts level-0 distances; hops are not
 * reported). Other indexes go through Index::search with one query
 * and Faiss's OpenMP pinned to one thread for the call, so queries never
 * oversubscribe the harness's own OpenMP loop. `nprobe` is passed per call
 * (SearchParametersIVF); `ef` is HNSW's efSearch, which Faiss 1.7.3 reads
 * from the index itself (see fx_ctx_set_params). IVF rows count distances
 * (codes scanned + nlist coarse) from Faiss's global indexIVF_stats, so only
 * with one query thread; with more, IVF dist_per_query is 0.
 *
 * Metrics: l2 -> METRIC_L2, ip -> METRIC_INNER_PRODUCT, cosine -> METRIC_L2
 * over the store's normalised rows (queries normalised here): for unit
 * vectors |q-x|^2 = 2 - 2<q,x>, the same ranking, and every Faiss index
 * type supports L2 (1.7.3's HNSWPQ supports nothing else). Internal scores
 * (smaller is better): l2 the squared distance, ip -<q,x>, cosine -<q,x> =
 * |q-x|^2/2 - 1.
 *
 * Memory: the index is self_contained (index.h): `bytes` is what Faiss keeps,
 * measured as the size of its serialised form (write_index into a counting
 * writer; vectors, codes, graph links, lists), and the cannoli store held
 * for the interface is not counted. An HNSW*PQ row thus counts codes + links,
 * not full vectors.
 *
 * Debian builds Faiss for baseline x86-64 (no AVX2 kernels, the "generic"
 * opt level): every row of this index records simd = "faiss-generic".
 *
 * Errors: Faiss throws (FaissException, std::bad_alloc); every entry point
 * catches everything and returns a cn_status_t with a one-line message.
 */
#include <faiss/Index.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexPQ.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/DistanceComputer.h>
#include <faiss/impl/HNSW.h>
#include <faiss/impl/io.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>
#include <faiss/utils/Heap.h>
#include <faiss/utils/random.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include <stdio.h>

#include <omp.h>

extern "C" {
#include "cannoli/cannoli.h"
#include "baselines.h"
}

namespace {

const char *const kernels_note = "faiss-generic";

struct fx_index {
    cn_index_t base; /* first member: cn_index_t */
    std::string factory;
    bool from_factory = false; /* the user gave `factory` (named parameters then refused) */
    long long efc, train_size, seed;
    faiss::Index *index;
    faiss::IndexHNSW *hnsw; /* index viewed as HNSW, or nullptr */
    faiss::IndexIVF *ivf;   /* index viewed as IVF, or nullptr */
    size_t bytes;           /* serialised size, measured after build/load */
};

/* Faiss's IP distance computers return similarities; HNSW::search wants
 * smaller-is-better, as IndexHNSW does internally. */
struct negated_dc : faiss::DistanceComputer {
    faiss::DistanceComputer *dc;
    explicit negated_dc(faiss::DistanceComputer *d) : dc(d) {}
    ~negated_dc() override { delete dc; }
    void set_query(const float *x) override { dc->set_query(x); }
    float operator()(idx_t i) override { return -(*dc)(i); }
    float symmetric_dis(idx_t i, idx_t j) override { return -dc->symmetric_dis(i, j); }
};

struct fx_ctx {
    std::vector<float> q, D;
    std::vector<faiss::Index::idx_t> I;
    faiss::DistanceComputer *dc = nullptr; /* HNSW only */
    faiss::VisitedTable *vt = nullptr;     /* HNSW only */
    int ef = 16, nprobe = 1;
    ~fx_ctx() {
        delete dc;
        delete vt;
    }
};

fx_index *cast(const cn_index_t *ix) { return (fx_index *)ix; }

/* Faiss messages read "Error in <C++ signature> at <file>:<line>: [Error:
 * '<cond>' failed: ]<text>": keep <text>, on one line. */
cn_status_t fail(char *err, size_t errlen, cn_status_t st, const char *what, const char *msg) {
    std::string m(msg ? msg : "unknown error");
    if (m.compare(0, 9, "Error in ") == 0) {
        size_t at = m.find(" at ./");
        if (at == std::string::npos) at = m.find(" at /");
        size_t colon = at == std::string::npos ? at : m.find(": ", at);
        if (colon != std::string::npos) m = m.substr(colon + 2);
        size_t failed = m.compare(0, 8, "Error: '") == 0 ? m.find("' failed: ") : std::string::npos;
        if (failed != std::string::npos) m = m.substr(failed + 10);
    }
    for (char &ch : m)
        if (ch == '\n' || ch == '\r') ch = ' ';
    return cn_error(err, errlen, st, "faiss: %s: %s", what, m.c_str());
}

faiss::MetricType faiss_metric(cn_metric_t m) {
    return m == CN_METRIC_IP ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2;
}

/* Counts the bytes write_index produces without keeping them. */
struct count_writer : faiss::IOWriter {
    size_t n = 0;
    size_t operator()(const void *, size_t size, size_t nitems) override {
        n += size * nitems;
        return nitems;
    }
};

/* write_index straight into cannoli's checksummed writer. */
struct cn_io_writer : faiss::IOWriter {
    cn_writer_t *w;
    explicit cn_io_writer(cn_writer_t *ww) : w(ww) {}
    size_t operator()(const void *p, size_t size, size_t nitems) override {
        cn_write(w, p, size * nitems);
        return w->st == CN_OK ? nitems : 0;
    }
};

/* read_index from cannoli's reader, never past `left` bytes. */
struct cn_io_reader : faiss::IOReader {
    cn_reader_t *r;
    uint64_t left;
    cn_io_reader(cn_reader_t *rr, uint64_t len) : r(rr), left(len) {}
    size_t operator()(void *p, size_t size, size_t nitems) override {
        if (size == 0 || nitems == 0) return 0;
        uint64_t want = (uint64_t)size * nitems;
        if (want / size != nitems || want > left) return 0;
        if (cn_read(r, p, (size_t)want) != CN_OK) return 0;
        left -= want;
        return nitems;
    }
};

void measure(fx_index *f) {
    count_writer cw;
    faiss::write_index(f->index, &cw);
    f->bytes = cw.n;
}

/* Sets what the factory string does not carry: HNSW's efConstruction and
 * level seed, the k-means seeds of PQ and IVF training. Polysemous training
 * (which IndexHNSWPQ and the factory's IVF..,PQ switch on) only permutes the
 * PQ centroid ids so that Hamming distances between codes approximate true
 * distances, for polysemous filtering, which none of these searches uses
 * (polysemous_ht = 0); its simulated annealing is slow without a popcnt
 * instruction (Debian's generic build) and takes minutes even on 10k
 * vectors, so it is switched off: the codes' distances are the same. */
void configure(fx_index *f) {
    f->hnsw = dynamic_cast<faiss::IndexHNSW *>(f->index);
    f->ivf = dynamic_cast<faiss::IndexIVF *>(f->index);
    int seed = (int)(f->seed & 0x7fffffff);
    if (f->hnsw) {
        f->hnsw->hnsw.efConstruction = (int)f->efc;
        f->hnsw->hnsw.rng = faiss::RandomGenerator(f->seed);
        if (auto *pq = dynamic_cast<faiss::IndexPQ *>(f->hnsw->storage)) {
            pq->pq.cp.seed = seed;
            pq->do_polysemous_training = false;
        }
    }
    if (f->ivf) {
        f->ivf->cp.seed = seed;
        if (auto *ivfpq = dynamic_cast<faiss::IndexIVFPQ *>(f->index)) {
            ivfpq->pq.cp.seed = seed;
            ivfpq->do_polysemous_training = false;
        }
    }
}

cn_status_t make_faiss(fx_index *f, char *err, size_t errlen) {
    faiss::MetricType want = faiss_metric(f->base.metric);
    try {
        f->index = faiss::index_factory((int)f->base.dim, f->factory.c_str(), want);
    } catch (const std::exception &e) {
        return fail(err, errlen, CN_EINVAL, ("bad factory string '" + f->factory + "'").c_str(),
                    e.what());
    } catch (...) {
        return fail(err, errlen, CN_EINVAL, ("bad factory string '" + f->factory + "'").c_str(),
                    nullptr);
    }
    if (f->index->metric_type != want) {
        delete f->index;
        f->index = nullptr;
        return cn_error(err, errlen, CN_EUNSUPPORTED,
                        "faiss: '%s' has no inner-product version in Faiss 1.7.3 "
                        "(use metric l2 or cosine, or another index)",
                        f->factory.c_str());
    }
    configure(f);
    return CN_OK;
}

/* 1 when "k=v;k=v" text names key. */
bool text_has_key(const char *text, const char *key) {
    size_t n = std::strlen(key);
    for (const char *p = text; p && *p;) {
        if (std::strncmp(p, key, n) == 0 && p[n] == '=') return true;
        const char *semi = std::strchr(p, ';');
        p = semi ? semi + 1 : nullptr;
    }
    return false;
}

cn_status_t fx_build(cn_index_t *ix, const cn_store_t *store, int threads, char *err,
                     size_t errlen) {
    fx_index *f = cast(ix);
    /* A factory string replaces the named parameters: a row naming both
     * would claim a value that was not used. */
    static const char *const named[] = {"type", "M", "pq_m", "nbits", "nlist"};
    for (const char *k : named)
        if (f->from_factory && text_has_key(ix->build_params, k))
            return cn_error(err, errlen, CN_EINVAL,
                            "faiss: give either 'factory' or the named parameters "
                            "(type, M, pq_m, nbits, nlist), not both ('%s')",
                            k);
    if (!cn_store_is_dense_f32(store))
        return cn_error(err, errlen, CN_EUNSUPPORTED,
                        "faiss: needs a dense_f32 store (quantizer 'plain'; choose Faiss's "
                        "encoding with the factory string), got '%s'",
                        store->ops->name);
    size_t n = store->n, d = store->dim;
    ix->n = store->n;
    std::vector<float> copy;
    const float *x = n ? cn_store_dense_row(store, 0) : nullptr;
    if (n > 1 && cn_store_dense_row(store, (uint32_t)(n - 1)) != x + (n - 1) * d) {
        copy.resize(n * d);
        for (size_t i = 0; i < n; i++)
            std::memcpy(&copy[i * d], cn_store_dense_row(store, (uint32_t)i), d * sizeof(float));
        x = copy.data();
    }
    int saved = omp_get_max_threads();
    omp_set_num_threads(threads > 0 ? threads : 1);
    cn_status_t st = CN_OK;
    try {
        if (!f->index->is_trained && n > 0) {
            size_t nt = f->train_size > 0 && (size_t)f->train_size < n ? (size_t)f->train_size : n;
            if (nt == n) {
                f->index->train((faiss::Index::idx_t)n, x);
            } else {
                /* Seeded partial Fisher-Yates: nt distinct rows. */
                std::vector<uint32_t> perm(n);
                for (size_t i = 0; i < n; i++) perm[i] = (uint32_t)i;
                uint64_t s = (uint64_t)f->seed * 0x9E3779B97F4A7C15ull + 1;
                std::vector<float> sample(nt * d);
                for (size_t i = 0; i < nt; i++) {
                    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
                    size_t j = i + (size_t)(s % (n - i));
                    std::swap(perm[i], perm[j]);
                    std::memcpy(&sample[i * d], x + (size_t)perm[i] * d, d * sizeof(float));
                }
                f->index->train((faiss::Index::idx_t)nt, sample.data());
            }
        }
        if (n > 0) f->index->add((faiss::Index::idx_t)n, x);
        measure(f);
    } catch (const std::bad_alloc &) {
        st = cn_error(err, errlen, CN_ENOMEM, "faiss: out of memory building '%s'",
                      f->factory.c_str());
    } catch (const std::exception &e) {
        st = fail(err, errlen, CN_EINVAL, ("building '" + f->factory + "'").c_str(), e.what());
    } catch (...) {
        st = fail(err, errlen, CN_EINVAL, ("building '" + f->factory + "'").c_str(), nullptr);
    }
    omp_set_num_threads(saved);
    return st;
}

cn_status_t fx_ctx_init(const cn_index_t *ix, cn_search_ctx_t *ctx, char *err, size_t errlen) {
    const fx_index *f = cast(ix);
    if (!cn_store_is_dense_f32(ix->store) || ix->rerank_store)
        return cn_error(err, errlen, CN_EUNSUPPORTED,
                        "faiss: searches its own codes; use quantizer 'plain' and choose the "
                        "encoding with the factory string (e.g. 'HNSW32_PQ16')");
    fx_ctx *c = new (std::nothrow) fx_ctx();
    if (!c) return cn_error(err, errlen, CN_ENOMEM, "faiss: out of memory");
    try {
        c->q.resize(ix->dim);
        if (f->hnsw) {
            faiss::DistanceComputer *dc = f->hnsw->storage->get_distance_computer();
            c->dc = f->hnsw->storage->metric_type == faiss::METRIC_INNER_PRODUCT
                            ? new negated_dc(dc)
                            : dc;
            c->vt = new faiss::VisitedTable((int)f->index->ntotal);
        }
    } catch (const std::exception &e) {
        delete c;
        return fail(err, errlen, CN_ENOMEM, "search context", e.what());
    }
    ctx->priv = c;
    return CN_OK;
}

void fx_ctx_free(cn_search_ctx_t *ctx) {
    delete (fx_ctx *)ctx->priv;
    ctx->priv = nullptr;
}

cn_status_t fx_ctx_set_params(cn_search_ctx_t *ctx, const cn_params_t *p, char *err,
                              size_t errlen) {
    const fx_index *f = cast(ctx->ix);
    fx_ctx *c = (fx_ctx *)ctx->priv;
    /* A swept parameter the index does not read would produce identical rows
     * that claim different settings: refuse it. */
    if (cn_params_find(ctx->given, "ef") && !f->hnsw)
        return cn_error(err, errlen, CN_EINVAL,
                        "faiss: 'ef' applies to HNSW indexes, '%s' is not one",
                        f->factory.c_str());
    if (cn_params_find(ctx->given, "nprobe") && !f->ivf)
        return cn_error(err, errlen, CN_EINVAL,
                        "faiss: 'nprobe' applies to IVF indexes, '%s' is not one",
                        f->factory.c_str());
    c->ef = (int)cn_params_get_int(p, "ef");
    c->nprobe = (int)cn_params_get_int(p, "nprobe");
    /* Faiss 1.7.3's HNSW::search sizes its candidate list with the index's
     * own efSearch (SearchParametersHNSW only reaches the stopping rule), so
     * ef is set on the shared index here, never during a search: the harness
     * applies one search point to every context before its query loop. Two
     * contexts searching at once with different ef would share the last. */
    if (f->hnsw) f->hnsw->hnsw.efSearch = c->ef;
    return CN_OK;
}

size_t fx_search(const cn_index_t *ix, cn_search_ctx_t *ctx, size_t k, uint32_t *ids,
                 float *scores) {
    const fx_index *f = cast(ix);
    fx_ctx *c = (fx_ctx *)ctx->priv;
    if (!f->index || !ctx->query || !ctx->query->dense || k == 0) return 0;
    const float *q = ctx->query->dense;
    if (ix->metric == CN_METRIC_COSINE) {
        double s = 0;
        for (uint32_t j = 0; j < ix->dim; j++) s += (double)q[j] * q[j];
        float inv = s > 0 ? (float)(1.0 / std::sqrt(s)) : 0.f;
        for (uint32_t j = 0; j < ix->dim; j++) c->q[j] = q[j] * inv;
        q = c->q.data();
    }
    size_t n = 0;
    try {
        if (c->D.size() < k) {
            c->D.resize(k);
            c->I.resize(k);
        }
        float *D = c->D.data();
        faiss::Index::idx_t *I = c->I.data();
        if (f->hnsw) {
            /* IndexHNSW::search's loop body for one query, with this
             * context's distance computer and visited table. */
            faiss::SearchParametersHNSW sp;
            sp.efSearch = c->ef;
            c->dc->set_query(q);
            faiss::maxheap_heapify(k, D, I);
            faiss::HNSWStats hs = f->hnsw->hnsw.search(*c->dc, (int)k, I, D, *c->vt, &sp);
            faiss::maxheap_reorder(k, D, I);
            ctx->stats.ndist += hs.n3; /* distances computed on level 0 */
        } else {
            int saved = omp_get_max_threads();
            omp_set_num_threads(1);
            /* indexIVF_stats is one global: its difference is this query's
             * work only when no other thread searches (threads: 1). */
            int alone = omp_get_num_threads() == 1;
            size_t ndis0 = faiss::indexIVF_stats.ndis;
            if (f->ivf) {
                faiss::SearchParametersIVF sp;
                sp.nprobe = (size_t)c->nprobe;
                f->index->search(1, q, (faiss::Index::idx_t)k, D, I, &sp);
                if (alone)
                    ctx->stats.ndist += (uint64_t)(faiss::indexIVF_stats.ndis - ndis0) +
                                        (uint64_t)f->ivf->nlist; /* + coarse quantizer */
            } else {
                f->index->search(1, q, (faiss::Index::idx_t)k, D, I);
                ctx->stats.ndist += (uint64_t)f->index->ntotal;
            }
            omp_set_num_threads(saved);
        }
        int sim = !f->hnsw && ix->metric == CN_METRIC_IP; /* Faiss returned <q,x> */
        for (size_t i = 0; i < k && I[i] >= 0; i++, n++) {
            ids[n] = (uint32_t)I[i];
            float s = D[i];
            scores[n] = sim ? -s : ix->metric == CN_METRIC_COSINE ? 0.5f * s - 1.0f : s;
        }
    } catch (...) {
        return 0; /* no error channel here; nothing Faiss throws is expected after ctx_init */
    }
    return n;
}

size_t fx_bytes(const cn_index_t *ix) {
    const fx_index *f = cast(ix);
    return f->bytes ? f->bytes : sizeof *f;
}

void fx_save(const cn_index_t *ix, cn_writer_t *w) {
    const fx_index *f = cast(ix);
    if (!f->index) {
        w->st = CN_EIO;
        return;
    }
    try {
        count_writer cw;
        faiss::write_index(f->index, &cw);
        cn_write_u64(w, (uint64_t)cw.n);
        cn_io_writer out(w);
        faiss::write_index(f->index, &out);
    } catch (...) {
        if (w->st == CN_OK) w->st = CN_EIO;
    }
}

cn_status_t fx_load(cn_index_t *ix, cn_reader_t *r, char *err, size_t errlen) {
    fx_index *f = cast(ix);
    uint64_t len = cn_read_u64(r);
    if (r->st != CN_OK || len > cn_reader_remaining(r))
        return cn_error(err, errlen, CN_EFORMAT, "%s: truncated faiss payload", r->path);
    faiss::Index *loaded = nullptr;
    cn_io_reader in(r, len);
    try {
        loaded = faiss::read_index(&in);
    } catch (const std::exception &e) {
        std::string what = std::string(r->path) + ": faiss could not load its index";
        return fail(err, errlen, CN_EFORMAT, what.c_str(), e.what());
    } catch (...) {
        return cn_error(err, errlen, CN_EFORMAT, "%s: faiss could not load its index", r->path);
    }
    if (in.left != 0 || loaded->d != (int)ix->dim || loaded->ntotal != (faiss::Index::idx_t)ix->n ||
        loaded->metric_type != faiss_metric(ix->metric)) {
        delete loaded;
        return cn_error(err, errlen, CN_EFORMAT, "%s: faiss index does not match the header",
                        r->path);
    }
    delete f->index;
    f->index = loaded;
    f->hnsw = dynamic_cast<faiss::IndexHNSW *>(loaded);
    f->ivf = dynamic_cast<faiss::IndexIVF *>(loaded);
    f->bytes = (size_t)len;
    return CN_OK;
}

void fx_destroy(cn_index_t *ix) {
    fx_index *f = cast(ix);
    delete f->index;
    delete f;
}

const cn_index_ops_t fx_ops = {
    "faiss", fx_build, fx_ctx_init, fx_ctx_free, fx_ctx_set_params, fx_search,
    fx_bytes, fx_save, fx_load,     fx_destroy, nullptr, /* no bind */
};

const cn_param_spec_t fx_params[] = {
    {"factory", CN_PARAM_STRING, CN_ROLE_BUILD, 0, 0, "", nullptr,
     "Faiss index_factory string ('HNSW32,Flat', 'HNSW32_PQ16', 'HNSW32,SQ8', 'IVF1024,PQ16', "
     "'Flat'); replaces type/M/pq_m/nbits/nlist", 0},
    {"type", CN_PARAM_STRING, CN_ROLE_BUILD, 0, 0, "hnsw_flat",
     "hnsw_flat|hnsw_pq|hnsw_sq|ivfpq|flat", "index when no factory string is given", 0},
    {"M", CN_PARAM_INT, CN_ROLE_BUILD, 2, 512, "32", nullptr, "HNSW links per node (2M on level 0)", 0},
    {"pq_m", CN_PARAM_INT, CN_ROLE_BUILD, 1, 4096, "16", nullptr,
     "PQ subspaces (hnsw_pq, ivfpq); must divide the dimension", 0},
    {"nbits", CN_PARAM_INT, CN_ROLE_BUILD, 1, 16, "8", nullptr,
     "bits per PQ code (ivfpq; hnsw_pq: 8) or SQ bits 4|6|8|16 (hnsw_sq)", 0},
    {"nlist", CN_PARAM_INT, CN_ROLE_BUILD, 1, 16777216, "1024", nullptr, "IVF lists (ivfpq)", 0},
    {"ef_construction", CN_PARAM_INT, CN_ROLE_BUILD, 1, 100000, "200", nullptr,
     "HNSW candidate list size while building (also with a factory string)", 0},
    {"train_size", CN_PARAM_INT, CN_ROLE_BUILD, 0, 2147483647, "100000", nullptr,
     "rows (drawn with seed) that train PQ/SQ/IVF; 0 = all", 0},
    {"seed", CN_PARAM_INT, CN_ROLE_BUILD, 0, 9007199254740991.0, "1234", nullptr,
     "HNSW level generator, k-means and training sample", 0},
    {"ef", CN_PARAM_INT, CN_ROLE_SEARCH, 1, 1000000, "16", nullptr, "HNSW efSearch (a search returns at most ef candidates)", CN_PARAM_F_RESULT_POOL},
    {"nprobe", CN_PARAM_INT, CN_ROLE_SEARCH, 1, 16777216, "1", nullptr, "IVF lists visited", 0},
};


/* The factory string of the named parameters. */
cn_status_t named_factory(const cn_params_t *p, std::string *out, char *err, size_t errlen) {
    std::string type = cn_params_get_str(p, "type");
    long long M = cn_params_get_int(p, "M"), pq_m = cn_params_get_int(p, "pq_m");
    long long nbits = cn_params_get_int(p, "nbits"), nlist = cn_params_get_int(p, "nlist");
    char buf[128];
    if (type == "hnsw_flat") {
        snprintf(buf, sizeof buf, "HNSW%lld,Flat", M);
    } else if (type == "hnsw_pq") {
        if (nbits != 8)
            return cn_error(err, errlen, CN_EINVAL,
                            "faiss: type hnsw_pq has 8-bit codes in Faiss 1.7.3 (nbits = %lld)",
                            nbits);
        snprintf(buf, sizeof buf, "HNSW%lld_PQ%lld", M, pq_m);
    } else if (type == "hnsw_sq") {
        if (nbits != 4 && nbits != 6 && nbits != 8 && nbits != 16)
            return cn_error(err, errlen, CN_EINVAL,
                            "faiss: type hnsw_sq takes nbits 4, 6, 8 or 16 (fp16), not %lld",
                            nbits);
        if (nbits == 16)
            snprintf(buf, sizeof buf, "HNSW%lld,SQfp16", M);
        else
            snprintf(buf, sizeof buf, "HNSW%lld,SQ%lld", M, nbits);
    } else if (type == "ivfpq") {
        snprintf(buf, sizeof buf, "IVF%lld,PQ%lldx%lld", nlist, pq_m, nbits);
    } else {
        snprintf(buf, sizeof buf, "Flat");
    }
    *out = buf;
    return CN_OK;
}

cn_status_t fx_create(cn_index_t **out, cn_metric_t metric, uint32_t dim, const cn_params_t *p,
                      char *err, size_t errlen) {
    *out = nullptr;
    const char *factory = cn_params_get_str(p, "factory");
    std::string fs;
    if (factory && *factory) {
        /* The constructor sees defaults filled in; whether the user also
         * gave a named parameter is checked against the parameters as given
         * (ix->build_params) when the index is built: fx_build. */
        fs = factory;
    } else {
        cn_status_t st = named_factory(p, &fs, err, errlen);
        if (st != CN_OK) return st;
    }
    fx_index *f = new (std::nothrow) fx_index();
    if (!f) return cn_error(err, errlen, CN_ENOMEM, "faiss: out of memory");
    f->base.ops = &fx_ops;
    f->base.metric = metric;
    f->base.dim = dim;
    f->base.kernels = kernels_note;
    f->base.self_contained = 1;
    f->factory = fs;
    f->from_factory = factory && *factory;
    f->efc = cn_params_get_int(p, "ef_construction");
    f->train_size = cn_params_get_int(p, "train_size");
    f->seed = cn_params_get_int(p, "seed");
    cn_status_t st = make_faiss(f, err, errlen);
    if (st != CN_OK) {
        delete f;
        return st;
    }
    *out = &f->base;
    return CN_OK;
}


const cn_component_t fx_component = {
    "faiss",
    CN_COMPONENT_INDEX,
    "baseline: Faiss 1.7.3 (Debian libfaiss-dev, generic build without AVX2 kernels: "
    "simd column 'faiss-generic')",
    fx_params,
    sizeof fx_params / sizeof fx_params[0],
    fx_create,
    nullptr,
    nullptr,
    nullptr,
};

} // namespace

extern "C" cn_status_t cn_baseline_faiss_register(char *err, size_t errlen) {
    return cn_registry_add(&fx_component, err, errlen);
}
