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
 * Faiss also has inputs it does not survive: factory strings with a size of
 * 0 (SIGFPE), PQ codes wider than 16 bits, HNSW with M < 2 (SIGSEGV or an
 * endless loop), an IVF with 0 lists (assertion, abort). So (1) the numbers
 * of a factory string are checked before Faiss sees it (check_factory), and
 * (2) Faiss runs isolated: index_factory is first tried in a child process,
 * and the build (train + add) happens in a forked child that streams the
 * finished index back through a pipe (write_index / read_index); the parent
 * waits at most CANNOLI_FAISS_TIMEOUT seconds (default 14400, 0 = no limit).
 * A signal, an abort or the time limit becomes an error of this index
 * ("build crashed inside Faiss (SIGFPE)"), never the end of the run. The
 * child does its work in a fresh thread: libgomp's thread pool does not
 * survive fork() in the thread that created it (the child's first parallel
 * region would wait for workers that do not exist), while a new thread
 * starts a new pool. Consequences: build_s includes the index's trip through
 * the pipe, and the process's peak RSS does not see Faiss's build memory
 * (it is the child's). CANNOLI_FAISS_CHECK=0 skips the checks of (1), so
 * the isolation itself can be tested with strings that do crash Faiss.
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

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* ---- factory-string checks ------------------------------------------------ */

/* Refuses the numbers Faiss 1.7.3 does not survive (see the file comment):
 * any size of 0 ("PQ0", "IVF0", "PQ128x0"), more than 16 bits per code
 * ("PQ16x99": 2^99 centroids), HNSW or NSG with fewer than 2 links, and
 * numbers beyond int. Everything else is left to Faiss's own checks. */
cn_status_t check_factory(const std::string &s, char *err, size_t errlen) {
    const char *env = std::getenv("CANNOLI_FAISS_CHECK");
    if (env && std::strcmp(env, "0") == 0) return CN_OK;
    for (size_t i = 0; i < s.size(); i++) {
        if (!std::isdigit((unsigned char)s[i]) || (i > 0 && std::isdigit((unsigned char)s[i - 1])))
            continue;
        size_t j = i;
        unsigned long long v = 0;
        while (j < s.size() && std::isdigit((unsigned char)s[j])) {
            v = v > 1000000000000ull ? v : v * 10 + (unsigned long long)(s[j] - '0');
            j++;
        }
        size_t w = i;
        while (w > 0 && std::isalpha((unsigned char)s[w - 1])) w--;
        std::string word = s.substr(w, i - w), tok = s.substr(w, j - w);
        bool nbits = i >= 2 && s[i - 1] == 'x' && std::isdigit((unsigned char)s[i - 2]);
        const char *why = nullptr;
        if (v == 0)
            why = "a size of 0";
        else if (v > 2147483647ull)
            why = "a number larger than Faiss takes";
        else if (nbits && v > 16)
            why = "more than 16 bits per code";
        else if ((word == "HNSW" || word == "NSG") && v < 2)
            why = "fewer than 2 links per node";
        if (why) {
            if (nbits) tok = s.substr(i - 1, j - i + 1);
            return cn_error(err, errlen, CN_EINVAL, "faiss: bad factory string '%s': '%s' asks for %s",
                            s.c_str(), tok.c_str(), why);
        }
        i = j - 1;
    }
    return CN_OK;
}

/* ---- isolation: Faiss work in a child process ----------------------------- */

double now_s() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CANNOLI_FAISS_TIMEOUT in seconds (0: none); the default, 4 hours, is far
 * above any build of this project's datasets (1M SIFT HNSW32: ~20 min). */
double build_timeout() {
    const char *e = std::getenv("CANNOLI_FAISS_TIMEOUT");
    if (e && *e) {
        char *end;
        double t = std::strtod(e, &end);
        if (!*end && std::isfinite(t) && t >= 0) return t;
    }
    return 14400;
}

const char *signal_name(int sig) {
    switch (sig) {
    case SIGFPE: return "SIGFPE";
    case SIGSEGV: return "SIGSEGV";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGILL: return "SIGILL";
    case SIGKILL: return "SIGKILL, out of memory?";
    case SIGTERM: return "SIGTERM";
    default: return "a signal";
    }
}

/* The pipe's reading end for read_index, never waiting past the deadline. */
struct fd_reader : faiss::IOReader {
    int fd;
    double deadline; /* 0: none */
    bool timed_out = false;
    fd_reader(int f, double d) : fd(f), deadline(d) {}
    size_t operator()(void *p, size_t size, size_t nitems) override {
        if (size == 0 || nitems == 0) return 0;
        if (nitems > SIZE_MAX / size) return 0;
        size_t want = size * nitems, got = 0;
        char *c = (char *)p;
        while (got < want) {
            int ms = -1;
            if (deadline > 0) {
                double left = deadline - now_s();
                if (left <= 0) {
                    timed_out = true;
                    break;
                }
                ms = left > 3600 ? 3600000 : (int)(left * 1000) + 1;
            }
            struct pollfd pf = {fd, POLLIN, 0};
            int r = poll(&pf, 1, ms);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) break;
            if (r == 0) continue; /* the deadline is checked above */
            ssize_t k = read(fd, c + got, want - got);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) break;
            got += (size_t)k;
        }
        return got / size;
    }
};

/* The pipe's writing end for write_index, in the child. */
struct fd_writer : faiss::IOWriter {
    int fd;
    explicit fd_writer(int f) : fd(f) {}
    size_t operator()(const void *p, size_t size, size_t nitems) override {
        size_t want = size * nitems, done = 0;
        const char *c = (const char *)p;
        while (done < want) {
            ssize_t k = write(fd, c + done, want - done);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) return done / (size ? size : 1);
            done += (size_t)k;
        }
        return nitems;
    }
};

/* What a child does: throws on failure (the message goes back to the
 * parent); on success the job writes its payload to out after the 'O'. */
struct child_job {
    virtual ~child_job() = default;
    virtual void run(fd_writer &out) = 0;
};

struct child_thread_arg {
    child_job *job;
    int fd;
};

void write_all(int fd, const std::string &s) {
    fd_writer w(fd);
    w(s.data(), 1, s.size());
}

/* Runs in a fresh thread of the child (see the file comment on libgomp). */
void *child_thread(void *p) {
    child_thread_arg *a = (child_thread_arg *)p;
    fd_writer out(a->fd);
    try {
        a->job->run(out);
    } catch (const std::bad_alloc &) {
        write_all(a->fd, "Eout of memory");
    } catch (const std::exception &e) {
        write_all(a->fd, std::string("E") + e.what());
    } catch (...) {
        write_all(a->fd, "Eunknown error");
    }
    return nullptr;
}

/* In the child: closes every descriptor but 0-2 and the pipe. The parent's
 * open files (an index being loaded, a dataset) share their offsets with
 * the child's copies; a child that synced a read stream on its way out (as
 * glibc's stdio cleanup does under valgrind, which runs __libc_freeres)
 * would move the parent's read position. */
void close_inherited(int keep) {
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536) max = 65536;
    for (int fd = 3; fd < (int)max; fd++)
        if (fd != keep) close(fd);
}

/* Runs job in a child process. Its reply on the pipe is 'O' + payload (read
 * by consume, if any) or 'E' + message; its stderr (Faiss's warnings and
 * assertion messages) goes to a temporary file, the last line of which
 * explains a crash. Returns CN_OK, or an error "faiss: '<factory>': <what>
 * crashed inside Faiss (SIGFPE[: last stderr line])", "... timed out after
 * N s", or Faiss's exception text. */
cn_status_t run_isolated(const fx_index *f, const char *what, double timeout, child_job &job,
                         faiss::Index **consumed, char *err, size_t errlen) {
    int fds[2];
    FILE *errf = tmpfile();
    if (!errf || pipe(fds) != 0) {
        if (errf) fclose(errf);
        return cn_error(err, errlen, CN_EIO, "faiss: '%s': cannot start the %s process: %s",
                        f->factory.c_str(), what, std::strerror(errno));
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        fclose(errf);
        return cn_error(err, errlen, CN_EIO, "faiss: '%s': cannot fork for the %s: %s",
                        f->factory.c_str(), what, std::strerror(e));
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(fds[0]);
        dup2(fileno(errf), 2);
        close_inherited(fds[1]);
        signal(SIGPIPE, SIG_DFL);
        child_thread_arg a = {&job, fds[1]};
        pthread_t th;
        if (pthread_create(&th, nullptr, child_thread, &a) != 0) _exit(3);
        pthread_join(th, nullptr);
        /* LLVM's libomp (clang builds: the TSan stage) registers each process
         * in /dev/shm/__KMP_REGISTERED_LIB_<pid>_<uid> and removes the file
         * only in its exit handler, which _exit skips. */
        char reg[96];
        snprintf(reg, sizeof reg, "/dev/shm/__KMP_REGISTERED_LIB_%d_%d", (int)getpid(),
                 (int)getuid());
        unlink(reg);
        _exit(0); /* never the parent's atexit handlers or stdio buffers */
    }
    close(fds[1]);
    double deadline = timeout > 0 ? now_s() + timeout : 0;
    fd_reader in(fds[0], deadline);
    char tag = 0;
    std::string msg;
    bool ok = false;
    if (in(&tag, 1, 1) == 1 && tag == 'O') {
        ok = true;
        if (consumed) {
            try {
                *consumed = faiss::read_index(&in);
            } catch (...) {
                ok = false; /* the child died or timed out mid-stream: its status says which */
            }
        }
    } else if (tag == 'E') {
        char buf[512];
        size_t k;
        while (msg.size() < 4096 && (k = in(buf, 1, sizeof buf)) > 0) msg.append(buf, k);
    }
    if (in.timed_out) kill(pid, SIGKILL);
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    /* the last line the child wrote on stderr */
    std::string last;
    fflush(errf);
    long size = (fseek(errf, 0, SEEK_END) == 0) ? ftell(errf) : 0;
    if (size > 0) {
        long from = size > 400 ? size - 400 : 0;
        std::string tail((size_t)(size - from), '\0');
        if (fseek(errf, from, SEEK_SET) == 0 && fread(&tail[0], 1, tail.size(), errf) == tail.size()) {
            while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r')) tail.pop_back();
            size_t nl = tail.find_last_of('\n');
            last = nl == std::string::npos ? tail : tail.substr(nl + 1);
        }
    }
    fclose(errf);
    if (ok && !in.timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0) return CN_OK;
    if (consumed && *consumed) {
        delete *consumed;
        *consumed = nullptr;
    }
    const char *fs = f->factory.c_str();
    if (in.timed_out)
        return cn_error(err, errlen, CN_EINVAL,
                        "faiss: '%s': %s timed out inside Faiss after %g s "
                        "(CANNOLI_FAISS_TIMEOUT)",
                        fs, what, timeout);
    if (tag == 'E') /* Faiss threw: its message, as before the isolation */
        return fail(err, errlen, msg == "out of memory" ? CN_ENOMEM : CN_EINVAL,
                    (std::string(std::strcmp(what, "build") ? what : "building") + " '" + f->factory +
                     "'").c_str(),
                    msg.c_str());
    if (WIFSIGNALED(status))
        return cn_error(err, errlen, CN_EINVAL, "faiss: '%s': %s crashed inside Faiss (%s%s%s)",
                        fs, what, signal_name(WTERMSIG(status)), last.empty() ? "" : ": ",
                        last.c_str());
    return cn_error(err, errlen, CN_EINVAL,
                    "faiss: '%s': %s crashed inside Faiss (exit status %d%s%s)", fs, what,
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1, last.empty() ? "" : ": ",
                    last.c_str());
}

/* Child job: index_factory alone (does this string survive it?). */
struct factory_job : child_job {
    int d;
    const std::string &factory;
    faiss::MetricType metric;
    factory_job(int dd, const std::string &fs, faiss::MetricType m) : d(dd), factory(fs), metric(m) {}
    void run(fd_writer &out) override {
        try {
            delete faiss::index_factory(d, factory.c_str(), metric);
        } catch (...) {
            /* an exception is safe in the parent: it reports it itself */
        }
        out("O", 1, 1);
    }
};

cn_status_t make_faiss(fx_index *f, char *err, size_t errlen) {
    faiss::MetricType want = faiss_metric(f->base.metric);
    cn_status_t cst = check_factory(f->factory, err, errlen);
    if (cst != CN_OK) return cst;
    {
        factory_job probe((int)f->base.dim, f->factory, want);
        double t = build_timeout();
        cst = run_isolated(f, "index_factory", t > 0 && t < 120 ? t : 120, probe, nullptr, err,
                           errlen);
        if (cst != CN_OK) return cst;
    }
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

/* Child job: train (on train_size rows drawn with seed) and add, with
 * Faiss's OpenMP on `threads`, then the finished index down the pipe. */
struct build_job : child_job {
    fx_index *f;
    const float *x;
    size_t n, d;
    int threads;
    build_job(fx_index *ff, const float *xx, size_t nn, size_t dd, int t)
        : f(ff), x(xx), n(nn), d(dd), threads(t) {}
    void run(fd_writer &out) override {
        omp_set_num_threads(threads > 0 ? threads : 1);
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
        out("O", 1, 1);
        faiss::write_index(f->index, &out);
    }
};

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
    build_job job(f, x, n, d, threads);
    faiss::Index *built = nullptr;
    cn_status_t st = run_isolated(f, "build", build_timeout(), job, &built, err, errlen);
    if (st != CN_OK) return st;
    delete f->index;
    f->index = built;
    configure(f);
    try {
        measure(f);
    } catch (...) {
        return cn_error(err, errlen, CN_ENOMEM, "faiss: out of memory measuring '%s'",
                        f->factory.c_str());
    }
    return CN_OK;
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
