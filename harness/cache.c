/*
 * harness/cache.c — the index cache (see cache.h for what an entry is and
 * when it is trusted).
 *
 * Metadata format, one `key=value` per line: build_s, build_id, run, commit,
 * dataset, data_hash, n, dim, metric, algorithm, index, index_params,
 * quantizer, quantizer_params, build_on, created. Unknown keys are ignored;
 * a missing build_id or build_s, or a build_s that is not a finite number >= 0,
 * makes the entry unusable.
 *
 * Concurrent processes (shards, or two runs sharing a cache folder): an
 * entry's two files are written under unique temporary names (fsync'ed),
 * then renamed into place together while an exclusive flock is held on
 * `<key>.cnidx.lock`; a load reads both under a shared lock on it, so it sees
 * a whole, matching pair or nothing — never a half-written file, never new
 * data with old metadata. A process about to build an entry claims it
 * (cn_cache_claim: the exclusive lock, held through the build); a second
 * process wanting the same entry waits for it, with one line saying so,
 * and then loads what the first one saved. Lock files stay in the folder
 * (removing one while it is held would let a second holder in).
 */
#include "cache.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sysinfo.h"

#define FORMAT_TAG "format-3"

static uint64_t hash_str(uint64_t h, const char *s) {
    h = cn_checksum(h, s, strlen(s));
    return cn_checksum(h, "\x1f", 1);
}

uint64_t cn_cache_data_hash(const cn_dataset_t *ds) {
    uint64_t h = CN_CHECKSUM_INIT;
    uint32_t meta[3] = {ds->n_train, ds->dim, (uint32_t)ds->metric};
    h = cn_checksum(h, meta, sizeof meta);
    if (ds->sparse) {
        uint64_t nnz = ds->strain.indptr[ds->n_train];
        h = cn_checksum(h, "sparse", 6);
        h = cn_checksum(h, ds->strain.indptr, ((size_t)ds->n_train + 1) * sizeof(uint64_t));
        h = cn_checksum(h, ds->strain.indices, (size_t)nnz * sizeof(uint32_t));
        h = cn_checksum(h, ds->strain.values, (size_t)nnz * sizeof(float));
    } else {
        h = cn_checksum(h, ds->train, (size_t)ds->n_train * ds->dim * sizeof(float));
    }
    return h;
}

static uint64_t entry_key(const cn_cache_t *c, const cn_cache_entry_t *e) {
    uint64_t h = c->data_hash;
    h = hash_str(h, e->index);
    h = hash_str(h, e->quantizer);
    h = hash_str(h, e->quantizer_params);
    h = hash_str(h, e->index_params);
    h = hash_str(h, e->on_quantized ? "on-quantized" : "on-original");
    return hash_str(h, FORMAT_TAG);
}

static void entry_paths(const cn_cache_t *c, const cn_cache_entry_t *e, char *path, size_t plen,
                        char *meta, size_t mlen) {
    snprintf(path, plen, "%s/%016llx.cnidx", c->dir, (unsigned long long)entry_key(c, e));
    snprintf(meta, mlen, "%s.meta", path);
}

/* ---- metadata ------------------------------------------------------------- */

typedef struct meta {
    char build_id[64], run[64], dataset[256], index[128], index_params[1024], quantizer[128],
        quantizer_params[1024], build_on[32], algorithm[256], created[32];
    double build_s;
    int has_build_s;
} meta_t;

static void copy_field(char *dst, size_t len, const char *v) { snprintf(dst, len, "%s", v); }

/* 0 when read (fields absent stay empty), -1 when the file cannot be read. */
static int meta_read(const char *path, meta_t *m) {
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = 0;
        const char *k = line, *v = eq + 1;
        if (!strcmp(k, "build_s")) {
            char *end;
            m->build_s = strtod(v, &end);
            m->has_build_s = *v && !*end && isfinite(m->build_s) && m->build_s >= 0;
        }
#define F(name) else if (!strcmp(k, #name)) copy_field(m->name, sizeof m->name, v)
        F(build_id); F(run); F(dataset); F(index); F(index_params); F(quantizer);
        F(quantizer_params); F(build_on); F(algorithm); F(created);
#undef F
    }
    fclose(f);
    return 0;
}

/* ---- locks ------------------------------------------------------------------ */

/* Locks this process holds (claims), by lock path: a load or save of a
 * claimed entry must not lock it again (two flocks of one process on two
 * descriptors of a file conflict). */
static struct {
    char path[2600];
    int fd;
} held[8];

static int held_fd(const char *lpath) {
    for (size_t i = 0; i < sizeof held / sizeof *held; i++)
        if (held[i].fd > 0 && strcmp(held[i].path, lpath) == 0) return held[i].fd;
    return -1;
}

/* Opens and locks lpath (how: LOCK_SH or LOCK_EX, maybe | LOCK_NB). -1 when
 * it cannot (a read-only cache folder: the rename protocol alone then
 * keeps readers from half-written files). */
static int lock_path(const char *lpath, int how) {
    int fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    while (flock(fd, how) != 0) {
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
    }
    return fd;
}

static void unlock_fd(int fd) {
    if (fd >= 0) close(fd); /* closing the only descriptor releases the flock */
}

static void lock_name(const char *path, char *lpath, size_t len) {
    snprintf(lpath, len, "%s.lock", path);
}

static int meta_write(const char *tmp, const cn_cache_t *c, const cn_cache_entry_t *e,
                      double build_s) {
    char ts[32];
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    cn_utc_now(ts, sizeof ts);
    fprintf(f,
            "build_s=%.6f\nbuild_id=%s\nrun=%s\ncommit=%s\ndataset=%s\ndata_hash=%016llx\nn=%u\ndim=%u\n"
            "metric=%s\nalgorithm=%s\nindex=%s\nindex_params=%s\nquantizer=%s\n"
            "quantizer_params=%s\nbuild_on=%s\ncreated=%s\n",
            build_s, cn_build_id(), c->run ? c->run : "", cn_build_commit(), c->dataset,
            (unsigned long long)c->data_hash, c->n, c->dim, cn_metric_name(c->metric),
            e->algorithm, e->index, e->index_params, e->quantizer, e->quantizer_params,
            e->on_quantized ? "quantized" : "original", ts);
    int ok = !ferror(f) && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* ---- load / save ---------------------------------------------------------- */

static int load_pair(const cn_cache_t *c, const char *path, const char *mpath, const char *as,
                     const char *label, const char *what, cn_index_t **ix, double *build_s);

int cn_cache_load(const cn_cache_t *c, const cn_cache_entry_t *e, const char *label,
                  const char *what, cn_index_t **ix, double *build_s) {
    *ix = NULL;
    if (!c->dir) return -1;
    char path[2400], mpath[2500];
    entry_paths(c, e, path, sizeof path, mpath, sizeof mpath);
    if (access(path, F_OK) != 0) return -1;
    char lpath[2600];
    lock_name(path, lpath, sizeof lpath);
    int lfd = held_fd(lpath) >= 0 ? -1 : lock_path(lpath, LOCK_SH);
    int rc = load_pair(c, path, mpath, e->load_params, label, what, ix, build_s);
    unlock_fd(lfd);
    return rc;
}

/* Loads the entry's files (the lock, when there is one, held). */
static int load_pair(const cn_cache_t *c, const char *path, const char *mpath, const char *as,
                     const char *label, const char *what, cn_index_t **ix, double *build_s) {
    char lerr[600];
    meta_t m;
    const char *why = NULL;
    char whybuf[800];
    int this_run = meta_read(mpath, &m) == 0 && c->run && m.run[0] && !strcmp(m.run, c->run);
    /* --force rebuilds every entry once; one this run wrote (the shared
     * full-precision graph) is reused, not rebuilt per quantizer. */
    if (c->rebuild && !this_run) return -1;
    if (!m.build_id[0]) {
        why = "its metadata is missing";
    } else if (!m.has_build_s) {
        why = "its metadata has no valid build time";
    } else if (strcmp(m.build_id, cn_build_id()) != 0) {
        snprintf(whybuf, sizeof whybuf,
                 "it was written by build %s and this is build %s (the library's sources changed)",
                 m.build_id, cn_build_id());
        why = whybuf;
    } else if (cn_index_load_as(ix, path, as, lerr, sizeof lerr) != CN_OK) {
        snprintf(whybuf, sizeof whybuf, "%s", lerr);
        why = whybuf;
    } else if ((*ix)->n != c->n || (*ix)->dim != c->dim || (*ix)->metric != c->metric) {
        snprintf(whybuf, sizeof whybuf,
                 "it holds %u x %u (%s) and the dataset %s is %u x %u (%s)", (*ix)->n,
                 (*ix)->dim, cn_metric_name((*ix)->metric), c->dataset, c->n, c->dim,
                 cn_metric_name(c->metric));
        why = whybuf;
        cn_index_destroy(*ix);
        *ix = NULL;
    }
    if (why) {
        fprintf(stderr, "[%s] %s: cache %s not used: %s; rebuilding\n", label, what, path, why);
        return -1;
    }
    *build_s = m.build_s;
    fprintf(stderr, "[%s] %s: loaded from cache %s (built in %.1f s by build %s%s)\n", label,
            what, path, m.build_s, m.build_id, this_run ? ", earlier in this run" : "");
    return 0;
}

/* fsync of a file by name (cn_index_save closes its file without one). */
static int sync_path(const char *p) {
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

void cn_cache_save(const cn_cache_t *c, const cn_cache_entry_t *e, const char *label,
                   const cn_index_t *ix, double build_s) {
    if (!c->dir) return;
    char path[2400], mpath[2500], serr[600], tdata[2600], tmeta[2700], lpath[2600];
    entry_paths(c, e, path, sizeof path, mpath, sizeof mpath);
    snprintf(tdata, sizeof tdata, "%s.%ld.part", path, (long)getpid());
    snprintf(tmeta, sizeof tmeta, "%s.%ld.part", mpath, (long)getpid());
    lock_name(path, lpath, sizeof lpath);
    if (cn_mkdirs(c->dir, serr, sizeof serr) != 0 ||
        cn_index_save(ix, tdata, serr, sizeof serr) != CN_OK) {
        fprintf(stderr, "[%s] warning: index not cached: %s\n", label, serr);
        return;
    }
    if (sync_path(tdata) != 0 || meta_write(tmeta, c, e, build_s) != 0) {
        fprintf(stderr, "[%s] warning: index not cached: %s: %s\n", label, tmeta,
                strerror(errno));
        unlink(tdata);
        return;
    }
    int lfd = held_fd(lpath) >= 0 ? -1 : lock_path(lpath, LOCK_EX);
    if (rename(tdata, path) != 0 || rename(tmeta, mpath) != 0) {
        fprintf(stderr, "[%s] warning: index not cached: %s: %s\n", label, path,
                strerror(errno));
        unlink(tdata);
        unlink(tmeta);
        unlink(path); /* data without its metadata would be rebuilt anyway */
    }
    unlock_fd(lfd);
}

int cn_cache_claim(const cn_cache_t *c, const cn_cache_entry_t *e, const char *label,
                   const char *what, int *waited) {
    *waited = 0;
    if (!c->dir) return -1;
    char path[2400], mpath[2500], lpath[2600], serr[600];
    entry_paths(c, e, path, sizeof path, mpath, sizeof mpath);
    lock_name(path, lpath, sizeof lpath);
    if (held_fd(lpath) >= 0 || cn_mkdirs(c->dir, serr, sizeof serr) != 0) return -1;
    size_t slot = 0;
    while (slot < sizeof held / sizeof *held && held[slot].fd > 0) slot++;
    if (slot == sizeof held / sizeof *held) return -1;
    int fd = lock_path(lpath, LOCK_EX | LOCK_NB);
    if (fd < 0 && errno == EWOULDBLOCK) {
        fprintf(stderr, "[%s] %s: another process is building it (%s); waiting for it\n", label,
                what, lpath);
        fd = lock_path(lpath, LOCK_EX);
        *waited = fd >= 0;
    }
    if (fd < 0) return -1;
    snprintf(held[slot].path, sizeof held[slot].path, "%s", lpath);
    held[slot].fd = fd;
    return (int)slot;
}

void cn_cache_release(int claim) {
    if (claim < 0 || (size_t)claim >= sizeof held / sizeof *held) return;
    unlock_fd(held[claim].fd);
    held[claim].fd = 0;
    held[claim].path[0] = 0;
}

/* ---- cannoli cache list | remove ------------------------------------------- */

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static int walk(const char *dir, const char *component, const char *dataset, int remove,
                int stale_only, FILE *out, char *err, size_t errlen) {
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) {
            fprintf(out, "%s: no cache folder (nothing cached yet)\n", dir);
            return 0;
        }
        cn_error(err, errlen, CN_EIO, "%s: cannot read the cache folder: %s", dir,
                 strerror(errno));
        return -1;
    }
    size_t shown = 0, removed = 0;
    double bytes = 0;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        if (!ends_with(de->d_name, ".cnidx")) continue;
        char path[2400], mpath[2500];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        snprintf(mpath, sizeof mpath, "%s.meta", path);
        meta_t m;
        int has_meta = meta_read(mpath, &m) == 0 && m.build_id[0];
        if (!has_meta) memset(&m, 0, sizeof m);
        if (component && (!has_meta || (strcmp(m.index, component) != 0 &&
                                        strcmp(m.quantizer, component) != 0)))
            continue;
        if (dataset && (!has_meta || strcmp(m.dataset, dataset) != 0)) continue;
        int stale = !has_meta || strcmp(m.build_id, cn_build_id()) != 0;
        if (stale_only && !stale) continue;
        struct stat sb;
        double mb = stat(path, &sb) == 0 ? (double)sb.st_size / 1e6 : 0;
        bytes += mb;
        shown++;
        if (has_meta)
            fprintf(out, "%s  %-24s %s{%s} %s{%s} build_on=%s  build %s%s  %.1f MB  %.1f s  %s\n",
                    de->d_name, m.dataset, m.index, m.index_params, m.quantizer,
                    m.quantizer_params, m.build_on, m.build_id, stale ? " (other sources)" : "",
                    mb, m.build_s, m.created);
        else
            fprintf(out, "%s  (no metadata: unusable)  %.1f MB\n", de->d_name, mb);
        if (remove) {
            if (unlink(path) != 0 && errno != ENOENT) {
                cn_error(err, errlen, CN_EIO, "%s: cannot remove: %s", path, strerror(errno));
                rc = -1;
                break;
            }
            unlink(mpath);
            removed++;
        }
    }
    closedir(d);
    if (rc == 0) {
        if (remove)
            fprintf(out, "%zu entries removed (%.1f MB) from %s\n", removed, bytes, dir);
        else
            fprintf(out, "%zu entries (%.1f MB) in %s; this is build %s\n", shown, bytes, dir,
                    cn_build_id());
    }
    return rc;
}

int cn_cache_list(const char *dir, const char *component, const char *dataset, FILE *out,
                  char *err, size_t errlen) {
    return walk(dir, component, dataset, 0, 0, out, err, errlen);
}

int cn_cache_remove(const char *dir, const char *component, const char *dataset, int stale_only,
                    FILE *out, char *err, size_t errlen) {
    return walk(dir, component, dataset, 1, stale_only, out, err, errlen);
}
