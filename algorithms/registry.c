/*
 * registry.c — the table of components. Adding an index or a quantizer is one
 * file with its ops plus one entry here (or a cn_registry_add() at start-up).
 */
#include <stdio.h>
#include <string.h>

#include "cannoli/registry.h"

/* ---- parameter schemas ---------------------------------------------------- */

static const cn_param_spec_t hnsw_params[] = {
    {"M", CN_PARAM_INT, CN_ROLE_BUILD, 2, 512, "16", NULL,
     "max neighbours per node on upper layers (2M on layer 0)", 0},
    {"ef_construction", CN_PARAM_INT, CN_ROLE_BUILD, 1, 100000, "200", NULL,
     "candidate list size while building", 0},
    {"seed", CN_PARAM_INT, CN_ROLE_BUILD, 0, 9007199254740991.0, "42", NULL,
     "seed of the level generator (build is reproducible with one thread)", 0},
    {"ef", CN_PARAM_INT, CN_ROLE_SEARCH, 1, 1000000, "10", NULL,
     "candidate list size while searching; a search returns at most ef candidates (k, rerank <= ef)",
     CN_PARAM_F_RESULT_POOL},
};

static const cn_param_spec_t pq_params[] = {
    {"subspaces", CN_PARAM_INT, CN_ROLE_BUILD, 1, 65536, "16", NULL,
     "number of sub-spaces M (must divide the dimension); bytes per vector = M", 0},
    {"nbits", CN_PARAM_INT, CN_ROLE_BUILD, 4, 8, "8", NULL,
     "bits per sub-space code (2^nbits centroids); codes are stored one per byte", 0},
    {"train_size", CN_PARAM_INT, CN_ROLE_BUILD, 1, 2147483647.0, "100000", NULL,
     "rows sampled (seeded) to train the codebooks; all rows if fewer", 0},
    {"iterations", CN_PARAM_INT, CN_ROLE_BUILD, 1, 1000, "25", NULL,
     "k-means iterations per sub-space", 0},
    {"seed", CN_PARAM_INT, CN_ROLE_BUILD, 0, 9007199254740991.0, "42", NULL,
     "seed of the training sample and the k-means initialisation", 0},
    {"init", CN_PARAM_STRING, CN_ROLE_BUILD, 0, 0, "kmeans++", "kmeans++|random",
     "k-means initialisation", 0},
};

static const cn_param_spec_t sq8_params[] = {
    {"train_size", CN_PARAM_INT, CN_ROLE_BUILD, 1, 2147483647.0, "1000000", NULL,
     "rows sampled (seeded) to learn the per-dimension ranges; all rows if fewer", 0},
    {"seed", CN_PARAM_INT, CN_ROLE_BUILD, 0, 9007199254740991.0, "42", NULL,
     "seed of the training sample", 0},
};

static const cn_param_spec_t inverted_params[] = {
    {"keep", CN_PARAM_FLOAT, CN_ROLE_SEARCH, 0.0001, 1, "1", NULL,
     "fraction of each posting list scanned, highest weights first (1 = exact)", 0},
    {"query_terms", CN_PARAM_INT, CN_ROLE_SEARCH, 0, 1000000, "0", NULL,
     "keep the N query terms of largest upper bound |q_t| * max weight (0 = all, exact)", 0},
};

static const cn_param_spec_t sparse_params[] = {
    {"values", CN_PARAM_STRING, CN_ROLE_BUILD, 0, 0, "f32", "f32|f16",
     "precision of the stored values (components are u16 when dim <= 65536, else u32)", 0},
};

/* ---- built-in table ---------------------------------------------------------- */

static const cn_component_t builtin[] = {
    {"flat", CN_COMPONENT_INDEX, "exact search by a full scan (ground truth, small sets)", NULL,
     0, cn_index_flat_create, NULL, NULL, NULL},
    {"hnsw", CN_COMPONENT_INDEX,
     "hierarchical navigable small world graph (Malkov & Yashunin), heuristic neighbour selection",
     hnsw_params, sizeof hnsw_params / sizeof hnsw_params[0], cn_index_hnsw_create, NULL, NULL,
     NULL},
    {"inverted", CN_COMPONENT_INDEX,
     "inverted index for sparse vectors: weight-sorted posting lists, term-at-a-time "
     "(exact, or pruned with keep / query_terms)",
     inverted_params, sizeof inverted_params / sizeof inverted_params[0],
     cn_index_inverted_create, NULL, NULL, NULL},
    {"plain", CN_COMPONENT_QUANTIZER, "identity: search the full-precision float32 vectors", NULL,
     0, NULL, cn_quantizer_plain_create, "dense_f32", cn_store_dense_load},
    {"f16", CN_COMPONENT_QUANTIZER,
     "half precision: IEEE binary16 per dimension (2 bytes), widened to float on the fly", NULL,
     0, NULL, cn_quantizer_f16_create, "dense_f16", cn_store_f16_load},
    {"sq8", CN_COMPONENT_QUANTIZER,
     "8-bit scalar quantization: per-dimension min/max ranges, 1 byte per dimension",
     sq8_params, sizeof sq8_params / sizeof sq8_params[0], NULL, cn_quantizer_sq8_create, "sq8",
     cn_store_sq8_load},
    {"pq", CN_COMPONENT_QUANTIZER,
     "product quantization: k-means codebooks per sub-space, ADC lookup tables",
     pq_params, sizeof pq_params / sizeof pq_params[0], NULL, cn_quantizer_pq_create, "pq",
     cn_store_pq_load},
    {"sparse", CN_COMPONENT_QUANTIZER,
     "sparse CSR vectors (inner product): u16/u32 components, f32 or f16 values",
     sparse_params, sizeof sparse_params / sizeof sparse_params[0], NULL,
     cn_quantizer_sparse_create, "sparse_csr", cn_store_sparse_load},
};
#define N_BUILTIN (sizeof builtin / sizeof builtin[0])

#define MAX_EXTRA 64
static const cn_component_t *extra[MAX_EXTRA];
static size_t n_extra;

size_t cn_registry_count(void) { return N_BUILTIN + n_extra; }

const cn_component_t *cn_registry_at(size_t i) {
    if (i < N_BUILTIN) return &builtin[i];
    i -= N_BUILTIN;
    return i < n_extra ? extra[i] : NULL;
}

const cn_component_t *cn_registry_find(const char *name, cn_component_kind_t kind) {
    if (!name) return NULL;
    for (size_t i = 0; i < cn_registry_count(); i++) {
        const cn_component_t *c = cn_registry_at(i);
        if (c->kind == kind && strcmp(c->name, name) == 0) return c;
    }
    return NULL;
}

cn_status_t cn_registry_add(const cn_component_t *c, char *err, size_t errlen) {
    if (!c || !c->name || !*c->name)
        return cn_error(err, errlen, CN_EINVAL, "registry: component has no name");
    if ((c->kind == CN_COMPONENT_INDEX && !c->create_index) ||
        (c->kind == CN_COMPONENT_QUANTIZER && (!c->create_quantizer || !c->store_name)))
        return cn_error(err, errlen, CN_EINVAL, "registry: component '%s' has no constructor",
                        c->name);
    if (cn_registry_find(c->name, c->kind))
        return cn_error(err, errlen, CN_EINVAL, "registry: a%s named '%s' is already registered",
                        c->kind == CN_COMPONENT_INDEX ? "n index" : " quantizer", c->name);
    if (n_extra == MAX_EXTRA)
        return cn_error(err, errlen, CN_ENOMEM, "registry: full (%d extra components)", MAX_EXTRA);
    extra[n_extra++] = c;
    return CN_OK;
}

cn_store_loader_t cn_registry_store_loader(const char *store_name) {
    if (!store_name) return NULL;
    for (size_t i = 0; i < cn_registry_count(); i++) {
        const cn_component_t *c = cn_registry_at(i);
        if (c->kind == CN_COMPONENT_QUANTIZER && c->store_name &&
            strcmp(c->store_name, store_name) == 0 && c->store_load)
            return c->store_load;
    }
    return NULL;
}

cn_status_t cn_quantizer_create(cn_quantizer_t **out, const char *name, cn_metric_t metric,
                                uint32_t dim, const cn_params_t *params, char *err,
                                size_t errlen) {
    *out = NULL;
    const cn_component_t *c = cn_registry_find(name, CN_COMPONENT_QUANTIZER);
    if (!c) return cn_error(err, errlen, CN_ENOTFOUND, "unknown quantizer '%s'", name);
    char what[128];
    snprintf(what, sizeof what, "quantizer '%s'", name);
    cn_status_t st = cn_params_validate(what, c->params, c->n_params, params, CN_ROLE_BUILD, err,
                                        errlen);
    if (st != CN_OK) return st;
    if (dim == 0) return cn_error(err, errlen, CN_EINVAL, "%s: dimension is 0", what);
    return c->create_quantizer(out, metric, dim, params, err, errlen);
}

/* ---- generic store persistence ------------------------------------------------ */

#define MAX_NAME 256

void cn_store_save(const cn_store_t *s, cn_writer_t *w) {
    cn_write_str(w, s->ops->name);
    cn_write_u32(w, (uint32_t)s->metric);
    cn_write_u32(w, s->n);
    cn_write_u32(w, s->dim);
    s->ops->save(s, w);
}

cn_status_t cn_store_load(cn_store_t **out, cn_reader_t *r, char *err, size_t errlen) {
    *out = NULL;
    const char *path = r->path ? r->path : "index file";
    char *name = cn_read_str(r, MAX_NAME);
    uint32_t metric = cn_read_u32(r), n = cn_read_u32(r), dim = cn_read_u32(r);
    if (!name || r->st != CN_OK) {
        cn_free(name);
        return cn_error(err, errlen, CN_EFORMAT, "%s: truncated or malformed store header", path);
    }
    if (metric > CN_METRIC_COSINE || dim == 0) {
        cn_error(err, errlen, CN_EFORMAT, "%s: store '%s' has invalid metric %u or dimension %u",
                 path, name, metric, dim);
        cn_free(name);
        return CN_EFORMAT;
    }
    cn_store_loader_t load = cn_registry_store_loader(name);
    if (!load) {
        cn_error(err, errlen, CN_EFORMAT, "%s: unknown store type '%s' (not in this build)", path,
                 name);
        cn_free(name);
        return CN_EFORMAT;
    }
    cn_free(name);
    return load(out, r, (cn_metric_t)metric, n, dim, err, errlen);
}
