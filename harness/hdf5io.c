/*
 * harness/hdf5io.c — ANN-Benchmarks HDF5 files: load and save.
 *
 * Layout (Aumüller, Bernhardsson & Faithfull, "ANN-Benchmarks", Information
 * Systems 87, 2020; ann_benchmarks/datasets.py): root datasets `train` [n,d],
 * `test` [q,d], `neighbors` int [q,k] (true ids, best first), `distances`
 * float [q,k] (user-facing distances), and a root attribute `distance`
 * naming the metric (euclidean, angular, ip/dot). Files written by h5py
 * store that attribute as a variable-length UTF-8 string; other writers use
 * fixed-length strings, so both are read.
 *
 * Vectors are read through HDF5's type conversion: H5Dread with a native
 * float memory type gives float32 whatever the stored numeric type (the
 * shared SIFT/MNIST files store uint8 in gzip chunks, ANN-Benchmarks' own
 * files float32). Neighbour ids are read as native int the same way.
 *
 * HDF5 prints its whole error stack to stderr by default; we switch that off
 * once (H5Eset_auto2) and report one line "PATH: problem" instead.
 *
 * Saving writes a fresh PATH.tmpXXXXXX (mkstemp) beside PATH and renames it
 * over PATH, so a failure (disk full, interrupted run) never destroys an
 * existing file; PATH must be absent or a regular file (never a device, a
 * folder or a FIFO, which rename would replace).
 *
 * Invariants: on failure the output dataset is left zeroed and every HDF5
 * handle opened here is closed (goto-fail with handles initialised to -1).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "dataset_internal.h"

/* Anything larger is treated as a corrupt header rather than a real shape. */
#define MAX_DIM (1u << 24)

/* Silences HDF5's error stack, and keeps HDF5 from closing its files at
 * process exit: after a failed write (a full disk) H5Fclose fails and leaves
 * the file half-closed in HDF5's tables, and libhdf5 1.10's exit handler
 * then crashes on it (SIGSEGV after the one-line error). H5dont_atexit works
 * only before the library's first use; a later call is a harmless no-op. */
static void quiet_hdf5(void) {
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

/* File stem of path: "/a/b/sift-128-euclidean.hdf5" -> "sift-128-euclidean". */
static char *path_stem(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    char *s = cn_malloc(len + 1);
    if (!s) return NULL;
    memcpy(s, base, len);
    s[len] = 0;
    return s;
}

/*
 * Reads 2-D dataset `name` of file f converted to memtype (elem bytes per
 * value) into a new cn_malloc'd buffer. *present = 0 (and success) when the
 * dataset is absent and optional.
 */
static int read_matrix(hid_t f, const char *path, const char *name, hid_t memtype, size_t elem,
                       int optional, void **out, uint32_t *rows, uint32_t *cols, int *present,
                       char *err, size_t errlen) {
    hid_t d = -1, sp = -1, ty = -1;
    void *buf = NULL;
    int rc = -1;
    *out = NULL;
    *rows = *cols = 0;
    if (present) *present = 0;

    htri_t ex = H5Lexists(f, name, H5P_DEFAULT);
    if (ex <= 0) {
        if (optional) return 0;
        cn_error(err, errlen, CN_EFORMAT, "%s: missing dataset '%s'", path, name);
        return -1;
    }
    if ((d = H5Dopen2(f, name, H5P_DEFAULT)) < 0) {
        cn_error(err, errlen, CN_EFORMAT, "%s: cannot open dataset '%s'", path, name);
        goto fail;
    }
    if ((ty = H5Dget_type(d)) < 0) goto bad;
    H5T_class_t cls = H5Tget_class(ty);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) {
        cn_error(err, errlen, CN_EFORMAT, "%s: '%s' is not numeric", path, name);
        goto fail;
    }
    if ((sp = H5Dget_space(d)) < 0) goto bad;
    int nd = H5Sget_simple_extent_ndims(sp);
    if (nd != 2) {
        cn_error(err, errlen, CN_EFORMAT, "%s: '%s' must be 2-D, it has %d dimension%s", path,
                 name, nd, nd == 1 ? "" : "s");
        goto fail;
    }
    hsize_t dims[2];
    if (H5Sget_simple_extent_dims(sp, dims, NULL) < 0) goto bad;
    if (dims[0] > UINT32_MAX || dims[1] > MAX_DIM) {
        cn_error(err, errlen, CN_EFORMAT, "%s: '%s' has an unsupported shape %llu x %llu", path,
                 name, (unsigned long long)dims[0], (unsigned long long)dims[1]);
        goto fail;
    }
    size_t count = (size_t)dims[0] * (size_t)dims[1];
    if (count > SIZE_MAX / elem) {
        cn_error(err, errlen, CN_ENOMEM, "%s: '%s' is too large", path, name);
        goto fail;
    }
    buf = cn_malloc(count ? count * elem : 1);
    if (!buf) {
        cn_error(err, errlen, CN_ENOMEM, "%s: out of memory reading '%s' (%llu x %llu)", path,
                 name, (unsigned long long)dims[0], (unsigned long long)dims[1]);
        goto fail;
    }
    if (count && H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        cn_error(err, errlen, CN_EFORMAT, "%s: cannot read dataset '%s' (corrupt data or "
                 "unsupported filter)", path, name);
        goto fail;
    }
    *out = buf;
    buf = NULL;
    *rows = (uint32_t)dims[0];
    *cols = (uint32_t)dims[1];
    if (present) *present = 1;
    rc = 0;
    goto fail;
bad:
    cn_error(err, errlen, CN_EFORMAT, "%s: cannot read the shape of dataset '%s'", path, name);
fail:
    cn_free(buf);
    if (sp >= 0) H5Sclose(sp);
    if (ty >= 0) H5Tclose(ty);
    if (d >= 0) H5Dclose(d);
    return rc;
}

/* Reads root string attribute `name` into buf (NUL-terminated, truncated to
 * buflen - 1). Returns 1 if read, 0 if absent, -1 on error. */
static int read_str_attr(hid_t f, const char *path, const char *name, char *buf, size_t buflen,
                         char *err, size_t errlen) {
    hid_t a = -1, ty = -1, mt = -1, sp = -1;
    int rc = -1;
    htri_t ex = H5Aexists(f, name);
    if (ex == 0) return 0;
    if (ex < 0 || (a = H5Aopen(f, name, H5P_DEFAULT)) < 0 || (ty = H5Aget_type(a)) < 0 ||
        (sp = H5Aget_space(a)) < 0) {
        cn_error(err, errlen, CN_EFORMAT, "%s: cannot read attribute '%s'", path, name);
        goto out;
    }
    if (H5Tget_class(ty) != H5T_STRING || H5Sget_simple_extent_npoints(sp) != 1) {
        cn_error(err, errlen, CN_EFORMAT, "%s: attribute '%s' is not a single string", path,
                 name);
        goto out;
    }
    if ((mt = H5Tcopy(H5T_C_S1)) < 0) goto bad;
    H5Tset_cset(mt, H5Tget_cset(ty));
    if (H5Tis_variable_str(ty) > 0) {
        char *s = NULL;
        if (H5Tset_size(mt, H5T_VARIABLE) < 0 || H5Aread(a, mt, &s) < 0) goto bad;
        snprintf(buf, buflen, "%s", s ? s : "");
        H5free_memory(s);
    } else {
        size_t sz = H5Tget_size(ty);
        char *tmp = cn_malloc(sz + 1);
        if (!tmp) goto bad;
        if (H5Tset_size(mt, sz) < 0 || H5Tset_strpad(mt, H5T_STR_NULLPAD) < 0 ||
            H5Aread(a, mt, tmp) < 0) {
            cn_free(tmp);
            goto bad;
        }
        tmp[sz] = 0;
        snprintf(buf, buflen, "%s", tmp);
        cn_free(tmp);
    }
    rc = 1;
    goto out;
bad:
    cn_error(err, errlen, CN_EFORMAT, "%s: cannot read attribute '%s'", path, name);
out:
    if (mt >= 0) H5Tclose(mt);
    if (sp >= 0) H5Sclose(sp);
    if (ty >= 0) H5Tclose(ty);
    if (a >= 0) H5Aclose(a);
    return rc;
}

/* Reads 1-D dataset `name` converted to memtype into a new buffer (*len values). */
static int read_array(hid_t f, const char *path, const char *name, hid_t memtype, size_t elem,
                      void **out, uint64_t *len, char *err, size_t errlen) {
    hid_t d = -1, sp = -1;
    void *buf = NULL;
    int rc = -1;
    *out = NULL;
    *len = 0;
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) {
        cn_error(err, errlen, CN_EFORMAT, "%s: missing dataset '%s' (sparse layout)", path, name);
        return -1;
    }
    hsize_t dims[1];
    if ((d = H5Dopen2(f, name, H5P_DEFAULT)) < 0 || (sp = H5Dget_space(d)) < 0 ||
        H5Sget_simple_extent_ndims(sp) != 1 || H5Sget_simple_extent_dims(sp, dims, NULL) < 0) {
        cn_error(err, errlen, CN_EFORMAT, "%s: '%s' must be a 1-D dataset", path, name);
        goto out;
    }
    if (dims[0] > (hsize_t)(SIZE_MAX / elem / 2)) {
        cn_error(err, errlen, CN_EFORMAT, "%s: '%s' is too large", path, name);
        goto out;
    }
    buf = cn_malloc(dims[0] ? (size_t)dims[0] * elem : 1);
    if (!buf) {
        cn_error(err, errlen, CN_ENOMEM, "%s: out of memory reading '%s'", path, name);
        goto out;
    }
    if (dims[0] && H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        cn_error(err, errlen, CN_EFORMAT, "%s: cannot read dataset '%s'", path, name);
        goto out;
    }
    *out = buf;
    buf = NULL;
    *len = (uint64_t)dims[0];
    rc = 0;
out:
    cn_free(buf);
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    return rc;
}

/* Root integer attribute; 1 read, 0 absent, -1 error. */
static int read_int_attr(hid_t f, const char *name, long long *v) {
    if (H5Aexists(f, name) <= 0) return 0;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t ty = H5Aget_type(a);
    int rc = -1;
    if (ty >= 0 && H5Tget_class(ty) == H5T_INTEGER && H5Aread(a, H5T_NATIVE_LLONG, v) >= 0) rc = 1;
    if (ty >= 0) H5Tclose(ty);
    H5Aclose(a);
    return rc;
}

/* One CSR block of the sparse layout: <p>_indptr, <p>_indices, <p>_data. */
static int read_csr_h5(hid_t f, const char *path, const char *p, cn_csr_t *c, uint32_t *maxc,
                       char *err, size_t errlen) {
    char n1[64], n2[64], n3[64];
    snprintf(n1, sizeof n1, "%s_indptr", p);
    snprintf(n2, sizeof n2, "%s_indices", p);
    snprintf(n3, sizeof n3, "%s_data", p);
    void *a = NULL, *b = NULL, *v = NULL;
    uint64_t la, lb, lv;
    memset(c, 0, sizeof *c);
    /* Read signed and checked: HDF5 converts a negative value to an unsigned
     * memory type as 0 (clamped), which would pass every later check. */
    if (read_array(f, path, n1, H5T_NATIVE_INT64, 8, &a, &la, err, errlen) ||
        read_array(f, path, n2, H5T_NATIVE_INT64, 8, &b, &lb, err, errlen) ||
        read_array(f, path, n3, H5T_NATIVE_FLOAT, 4, &v, &lv, err, errlen))
        goto fail;
    for (uint64_t i = 0; i < la; i++)
        if ((int64_t)((const uint64_t *)a)[i] < 0) {
            cn_error(err, errlen, CN_EFORMAT, "%s: '%s' has a negative entry (%lld at %llu)",
                     path, n1, (long long)((const uint64_t *)a)[i], (unsigned long long)i);
            goto fail;
        }
    {
        /* narrowed in place: bytes [4k, 4k+4) are written after entries
         * 0..k (bytes [0, 8k+8)) were read; memcpy, no aliasing */
        unsigned char *raw = b;
        for (uint64_t k = 0; k < lb; k++) {
            int64_t x;
            memcpy(&x, raw + 8 * k, 8);
            if (x < 0 || x > (int64_t)UINT32_MAX - 1) {
                cn_error(err, errlen, CN_EFORMAT, "%s: '%s' entry %llu is %lld, outside [0, %u)",
                         path, n2, (unsigned long long)k, (long long)x, UINT32_MAX);
                goto fail;
            }
            uint32_t x32 = (uint32_t)x;
            memcpy(raw + 4 * k, &x32, 4);
        }
    }
    c->indptr = a;
    c->indices = b;
    c->values = v;
    if (la < 2 || la - 1 > UINT32_MAX || lb != lv) {
        cn_error(err, errlen, CN_EFORMAT,
                 "%s: '%s' has %llu entries, '%s' %llu and '%s' %llu (need rows + 1 >= 2 and "
                 "equal lengths)",
                 path, n1, (unsigned long long)la, n2, (unsigned long long)lb, n3,
                 (unsigned long long)lv);
        goto fail;
    }
    c->rows = (uint32_t)(la - 1);
    if (c->indptr[0] != 0 || c->indptr[c->rows] != lb) {
        cn_error(err, errlen, CN_EFORMAT, "%s: '%s' must rise from 0 to %llu", path, n1,
                 (unsigned long long)lb);
        goto fail;
    }
    for (uint32_t i = 0; i < c->rows; i++)
        if (c->indptr[i + 1] < c->indptr[i]) {
            cn_error(err, errlen, CN_EFORMAT, "%s: '%s' decreases at row %u", path, n1, i);
            goto fail;
        }
    *maxc = 0;
    for (uint64_t k = 0; k < lb; k++)
        if (c->indices[k] >= *maxc) *maxc = c->indices[k] + 1;
    return 0;
fail:
    if (!c->indptr) {
        cn_free(a);
        cn_free(b);
        cn_free(v);
    }
    cn_csr_free(c);
    return -1;
}

/* The sparse layout (see datasets/README.md). */
static int load_sparse_h5(hid_t f, const char *path, cn_dataset_t *d, char *err, size_t errlen) {
    uint32_t m1 = 0, m2 = 0;
    if (d->metric != CN_METRIC_IP) {
        cn_error(err, errlen, CN_EFORMAT, "%s: sparse vectors need distance 'ip', not '%s'", path,
                 cn_metric_name(d->metric));
        return -1;
    }
    if (read_csr_h5(f, path, "train", &d->strain, &m1, err, errlen) ||
        read_csr_h5(f, path, "test", &d->stest, &m2, err, errlen))
        return -1;
    d->sparse = 1;
    d->n_train = d->strain.rows;
    d->n_test = d->stest.rows;
    long long dim = 0;
    int has = read_int_attr(f, "dimension", &dim);
    if (has < 0 || (has && (dim <= 0 || dim > UINT32_MAX))) {
        cn_error(err, errlen, CN_EFORMAT, "%s: invalid attribute 'dimension'", path);
        return -1;
    }
    d->dim = has ? (uint32_t)dim : (m1 > m2 ? m1 : m2);
    char what[600];
    snprintf(what, sizeof what, "%s: train", path);
    if (cn_csr_normalise(&d->strain, d->dim, what, err, errlen)) return -1;
    snprintf(what, sizeof what, "%s: test", path);
    if (cn_csr_normalise(&d->stest, d->dim, what, err, errlen)) return -1;
    return 0;
}

int cn_dataset_load_hdf5(cn_dataset_t *ds, const char *path, char *err, size_t errlen) {
    cn_dataset_t d = {0};
    hid_t f = -1;
    int rc = -1;
    struct stat sb;
    memset(ds, 0, sizeof *ds);
    quiet_hdf5();

    if (stat(path, &sb) != 0) {
        cn_error(err, errlen, CN_EIO, "%s: %s", path,
                 errno == ENOENT ? "no such file" : strerror(errno));
        return -1;
    }
    if (S_ISDIR(sb.st_mode)) {
        cn_error(err, errlen, CN_EIO, "%s: is a directory, not an HDF5 file", path);
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) { /* a FIFO would block HDF5's open */
        cn_error(err, errlen, CN_EIO, "%s: not a regular file", path);
        return -1;
    }
    if (access(path, R_OK) != 0) {
        cn_error(err, errlen, CN_EIO, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (H5Fis_hdf5(path) <= 0) {
        cn_error(err, errlen, CN_EFORMAT, "%s: not an HDF5 file", path);
        return -1;
    }
    if ((f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        cn_error(err, errlen, CN_EFORMAT, "%s: cannot open HDF5 file (corrupt?)", path);
        return -1;
    }

    char dist[64];
    int has = read_str_attr(f, path, "distance", dist, sizeof dist, err, errlen);
    if (has < 0) goto fail;
    d.metric = CN_METRIC_L2;
    if (has && cn_metric_parse(dist, &d.metric) != CN_OK) {
        cn_error(err, errlen, CN_EUNSUPPORTED, "%s: unknown distance '%s'", path, dist);
        goto fail;
    }

    void *p;
    uint32_t r, c, tr_dim, te_dim;
    if (H5Lexists(f, "train_indptr", H5P_DEFAULT) > 0) {
        if (!has) d.metric = CN_METRIC_IP;
        if (load_sparse_h5(f, path, &d, err, errlen)) goto fail;
        goto neighbours;
    }
    if (read_matrix(f, path, "train", H5T_NATIVE_FLOAT, sizeof(float), 0, &p, &r, &tr_dim, NULL,
                    err, errlen))
        goto fail;
    d.train = p;
    d.n_train = r;
    if (read_matrix(f, path, "test", H5T_NATIVE_FLOAT, sizeof(float), 0, &p, &r, &te_dim, NULL,
                    err, errlen))
        goto fail;
    d.test = p;
    d.n_test = r;
    if (te_dim != tr_dim) {
        cn_error(err, errlen, CN_EFORMAT, "%s: 'test' has dimension %u but 'train' has %u", path,
                 te_dim, tr_dim);
        goto fail;
    }
    d.dim = tr_dim;

neighbours:;
    int present;
    if (read_matrix(f, path, "neighbors", H5T_NATIVE_INT32, sizeof(int32_t), 1, &p, &r, &c,
                    &present, err, errlen))
        goto fail;
    d.neighbors = p;
    if (present) {
        if (r != d.n_test) {
            cn_error(err, errlen, CN_EFORMAT, "%s: 'neighbors' has %u rows but 'test' has %u",
                     path, r, d.n_test);
            goto fail;
        }
        d.gt_k = c;
        if (c == 0) {
            cn_free(d.neighbors);
            d.neighbors = NULL;
        }
        if (read_matrix(f, path, "distances", H5T_NATIVE_FLOAT, sizeof(float), 1, &p, &r, &c,
                        &present, err, errlen))
            goto fail;
        d.distances = p;
        if (present && (r != d.n_test || c != d.gt_k)) {
            cn_error(err, errlen, CN_EFORMAT,
                     "%s: 'distances' is %u x %u but 'neighbors' is %u x %u", path, r, c,
                     d.n_test, d.gt_k);
            goto fail;
        }
        if (d.gt_k == 0) {
            cn_free(d.distances);
            d.distances = NULL;
        }
    }

    d.name = path_stem(path);
    d.source = cn_strdup(path);
    if (!d.name || !d.source) {
        cn_error(err, errlen, CN_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    *ds = d;
    memset(&d, 0, sizeof d);
    rc = 0;
fail:
    if (f >= 0) H5Fclose(f);
    cn_dataset_free(&d);
    return rc;
}

/* The train rows only (cn_dataset_reload_train): read by the same code as
 * cn_dataset_load_hdf5, so the floats are the same. */
int cn_ds_read_hdf5_train(const char *path, float **data, uint32_t *n, uint32_t *dim, char *err,
                          size_t errlen) {
    void *p = NULL;
    int rc = -1;
    *data = NULL;
    quiet_hdf5();
    if (H5Fis_hdf5(path) <= 0) {
        cn_error(err, errlen, CN_EFORMAT, "%s: not an HDF5 file", path);
        return -1;
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        cn_error(err, errlen, CN_EFORMAT, "%s: cannot open HDF5 file (corrupt?)", path);
        return -1;
    }
    if (read_matrix(f, path, "train", H5T_NATIVE_FLOAT, sizeof(float), 0, &p, n, dim, NULL, err,
                    errlen) == 0) {
        *data = p;
        rc = 0;
    }
    H5Fclose(f);
    return rc;
}

/* ---- saving ------------------------------------------------------------- */

static int write_matrix(hid_t f, const char *name, hid_t filetype, hid_t memtype,
                        const void *data, uint32_t rows, uint32_t cols) {
    hsize_t dims[2] = {rows, cols};
    hid_t sp = H5Screate_simple(2, dims, NULL);
    if (sp < 0) return -1;
    hid_t d = H5Dcreate2(f, name, filetype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = -1;
    if (d >= 0 && ((size_t)rows * cols == 0 ||
                   H5Dwrite(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0))
        rc = 0;
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    return rc;
}

static int write_array(hid_t f, const char *name, hid_t filetype, hid_t memtype,
                       const void *data, uint64_t len) {
    hsize_t dims[1] = {len};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    if (sp < 0) return -1;
    hid_t d = H5Dcreate2(f, name, filetype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = -1;
    if (d >= 0 && (len == 0 || H5Dwrite(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0))
        rc = 0;
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    return rc;
}

/* <p>_indptr int64 [rows+1], <p>_indices int32 [nnz], <p>_data float32 [nnz]. */
static int write_csr(hid_t f, const char *p, const cn_csr_t *c) {
    char n1[64], n2[64], n3[64];
    snprintf(n1, sizeof n1, "%s_indptr", p);
    snprintf(n2, sizeof n2, "%s_indices", p);
    snprintf(n3, sizeof n3, "%s_data", p);
    uint64_t nnz = c->indptr[c->rows];
    if (write_array(f, n1, H5T_STD_I64LE, H5T_NATIVE_UINT64, c->indptr, (uint64_t)c->rows + 1) ||
        write_array(f, n2, H5T_STD_I32LE, H5T_NATIVE_UINT32, c->indices, nnz) ||
        write_array(f, n3, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, c->values, nnz))
        return -1;
    return 0;
}

/* Variable-length UTF-8 scalar string, as h5py writes `f.attrs[k] = "..."`. */
static int write_str_attr(hid_t f, const char *name, const char *value) {
    hid_t ty = H5Tcopy(H5T_C_S1), sp = -1, a = -1;
    int rc = -1;
    if (ty < 0) return -1;
    if (H5Tset_size(ty, H5T_VARIABLE) < 0 || H5Tset_cset(ty, H5T_CSET_UTF8) < 0) goto out;
    if ((sp = H5Screate(H5S_SCALAR)) < 0) goto out;
    if ((a = H5Acreate2(f, name, ty, sp, H5P_DEFAULT, H5P_DEFAULT)) < 0) goto out;
    if (H5Awrite(a, ty, &value) < 0) goto out;
    rc = 0;
out:
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    H5Tclose(ty);
    return rc;
}

static int write_i64_attr(hid_t f, const char *name, long long value) {
    hid_t sp = H5Screate(H5S_SCALAR), a = -1;
    int rc = -1;
    if (sp < 0) return -1;
    if ((a = H5Acreate2(f, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT)) >= 0 &&
        H5Awrite(a, H5T_NATIVE_LLONG, &value) >= 0)
        rc = 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return rc;
}

/* ANN-Benchmarks' spelling of a metric. */
static const char *annb_metric(cn_metric_t m) {
    switch (m) {
    case CN_METRIC_COSINE: return "angular";
    case CN_METRIC_IP: return "ip";
    case CN_METRIC_L2:
    default: return "euclidean";
    }
}

int cn_dataset_save_hdf5(const cn_dataset_t *ds, const char *path, char *err, size_t errlen) {
    size_t plen = strlen(path);
    char *tmp = cn_malloc(plen + 12);
    hid_t f = -1;
    int rc = -1, created = 0;
    struct stat sb;
    if (!tmp) {
        cn_error(err, errlen, CN_ENOMEM, "%s: out of memory", path);
        return -1;
    }
    /* Only a regular file is replaced: never a device (as root, rename over
     * /dev/full works), a folder or a FIFO. */
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        cn_error(err, errlen, CN_EIO, "%s: %s; the output must be a regular file", path,
                 S_ISDIR(sb.st_mode) ? "is a directory" : "not a regular file");
        cn_free(tmp);
        return -1;
    }
    /* A fresh temporary name beside it (mkstemp: never an existing file). */
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmpXXXXXX", 11);
    quiet_hdf5();
    errno = 0;
    int tfd = mkstemp(tmp);
    if (tfd < 0) {
        cn_error(err, errlen, CN_EIO, "%s: cannot create a temporary file beside it: %s", path,
                 strerror(errno));
        cn_free(tmp);
        return -1;
    }
    mode_t um = umask(0);
    umask(um);
    (void)fchmod(tfd, 0666 & ~um); /* not mkstemp's 0600: the mode a plain create gives */
    close(tfd);
    created = 1;

    if ((f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)) < 0) {
        cn_error(err, errlen, CN_EIO, "%s: cannot create file (%s)", tmp,
                 errno ? strerror(errno) : "HDF5 error");
        goto fail;
    }
    created = 1;
    const char *what = "train";
    if (ds->sparse) {
        if (write_csr(f, "train", &ds->strain)) goto wfail;
        what = "test";
        if (write_csr(f, "test", &ds->stest)) goto wfail;
    } else {
        if (write_matrix(f, "train", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, ds->train, ds->n_train,
                         ds->dim))
            goto wfail;
        what = "test";
        if (write_matrix(f, "test", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, ds->test, ds->n_test,
                         ds->dim))
            goto wfail;
    }
    if (ds->neighbors && ds->gt_k) {
        what = "neighbors";
        if (write_matrix(f, "neighbors", H5T_STD_I32LE, H5T_NATIVE_INT32, ds->neighbors,
                         ds->n_test, ds->gt_k))
            goto wfail;
        what = "distances";
        if (ds->distances && write_matrix(f, "distances", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                                          ds->distances, ds->n_test, ds->gt_k))
            goto wfail;
    }
    what = "attributes";
    if (write_str_attr(f, "distance", annb_metric(ds->metric)) ||
        write_i64_attr(f, "dimension", ds->dim) || write_str_attr(f, "point_type", ds->sparse ? "sparse" : "float"))
        goto wfail;
    herr_t cl = H5Fclose(f);
    f = -1;
    if (cl < 0) {
        cn_error(err, errlen, CN_EIO, "%s: cannot finish writing (disk full?)", path);
        goto fail;
    }
    if (rename(tmp, path) != 0) {
        cn_error(err, errlen, CN_EIO, "%s: cannot rename %s over it: %s", path, tmp,
                 strerror(errno));
        goto fail;
    }
    rc = 0;
    goto fail;
wfail:
    cn_error(err, errlen, CN_EIO, "%s: cannot write %s (disk full?)", path, what);
fail:
    if (f >= 0) H5Fclose(f);
    if (rc && created) unlink(tmp); /* only a file we made, never a folder */
    cn_free(tmp);
    return rc;
}
