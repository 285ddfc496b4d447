/*
 * harness/main.c — the `cannoli` command line.
 *
 *   cannoli run CONFIG.yaml [--out DIR] [--force] [--dry-run] [--no-cache] [--no-plot]
 *               [--keep-going] [--only NAME[,NAME]] [--cache-dir DIR] [--shard K/N|auto]
 *               [--set KEY=VALUE]...
 *   cannoli plan CONFIG.yaml [--shards N] [--only NAME[,NAME]]
 *   cannoli merge DIR... [--config CONFIG.yaml] [--out DIR] [--no-plot]
 *   cannoli slurm CONFIG.yaml --shards N [--partition P] [--time T] [--cpus-per-task C]
 *                 [--mem M] [--out DIR] [--cache-dir DIR] [--submit]
 *   cannoli cache list|remove [--component NAME] [--dataset NAME] [--stale] [--cache-dir DIR]
 *   cannoli list
 *   cannoli info DATASET            (an HDF5 path or a catalogue name)
 *   cannoli convert --train F --test F [--neighbors F] [--distance M] [--k N] -o OUT.hdf5
 *           (dense texmex files, or sparse big-ann .csr / kANNolo .bin with .ivecs / .gt100)
 *   cannoli groundtruth IN.hdf5 [-o OUT.hdf5] [--k N] [--threads N]
 *   cannoli fetch NAME|URL [--dir DIR] [--sha256 HEX] [--md5 HEX]
 *   cannoli report RESULTS.csv... [--out DIR] [--label FILE=NAME] [--baseline NAME] [--latex]
 *
 * Every failure prints exactly one line "cannoli: <file>: <problem>" on
 * stderr and exits with status 1 (2 for usage errors).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "baselines.h"
#include "cache.h"
#include "cannoli/cannoli.h"
#include "config.h"
#include "dataset.h"
#include "fetch.h"
#include "merge.h"
#include "runner.h"
#include "shard.h"
#include "slurm.h"

/* Most OpenMP threads a command line may ask for. */
#define CN_MAX_THREADS 1024


static const char usage[] =
    "usage: cannoli <command> [options]\n"
    "\n"
    "commands:\n"
    "  run CONFIG.yaml [--out DIR] [--force] [--dry-run] [--no-cache] [--no-plot]\n"
    "                  [--keep-going] [--only NAME[,NAME]] [--cache-dir DIR]\n"
    "                  [--shard K/N|auto] [--set KEY=VALUE]...\n"
    "        run an experiment; rows go to results/<name>/results.csv (or DIR), then\n"
    "        plots/plot.py draws the recall/QPS plot (or the plots: figures) next to it\n"
    "        (unless --no-plot);\n"
    "        --force reruns every point and rebuilds every index; --keep-going goes on\n"
    "        past an algorithm whose build or search fails (and exits non-zero); --set\n"
    "        overrides a top-level key of the file (YAML value: --set k=[10,100],\n"
    "        --set dataset=msmarco-splade-1m); a dataset or k list runs the sweep for each;\n"
    "        --shard K/N runs only the K-th of N cost-balanced parts (build points), and\n"
    "        --shard auto takes K and N from a Slurm job array (SLURM_ARRAY_TASK_*);\n"
    "        shards may append to one results file (it is locked); a shard does not\n"
    "        plot (merge does)\n"
    "  plan CONFIG.yaml [--shards N] [--only NAME[,NAME]]\n"
    "        each shard's build points, its share of the estimated cost, the makespan\n"
    "  merge DIR... [--config CONFIG.yaml] [--out DIR] [--no-plot]\n"
    "        join the results.csv of shards that wrote separate folders into the config's\n"
    "        results/<name>/ (or DIR): duplicates and points missing from the config are\n"
    "        listed, then the plot is drawn\n"
    "  slurm CONFIG.yaml --shards N [--partition P] [--time T] [--cpus-per-task C]\n"
    "        [--mem M] [--out DIR] [--cache-dir DIR] [--submit]\n"
    "        write results/<name>/slurm/sweep.sbatch (a job array, one task per shard) and\n"
    "        merge.sbatch (afterok on the array); --submit submits both with sbatch\n"
    "  cache list|remove [--component NAME] [--dataset NAME] [--stale] [--cache-dir DIR]\n"
    "        the saved indexes (default folder results/cache): list them, or remove the\n"
    "        matching ones (--stale: only those written by other sources)\n"
    "  list  registered components, their parameters, and catalogue datasets\n"
    "  info DATASET\n"
    "        shapes, metric and ground truth of an HDF5 file or catalogue name\n"
    "  convert --train F --test F [--neighbors F] [--distance METRIC] [--k N] -o OUT.hdf5\n"
    "        texmex .fvecs/.bvecs (+ .ivecs) -> ANN-Benchmarks HDF5; sparse big-ann .csr or\n"
    "        kANNolo .bin (+ .ivecs or .gt100) -> the sparse HDF5 layout (ground-truth\n"
    "        distances recomputed; computed exactly with --k N when no neighbours are given)\n"
    "  groundtruth IN.hdf5 [-o OUT.hdf5] [--k N] [--threads N]\n"
    "        recompute exact top-N (default 100) neighbours with the flat index\n"
    "  fetch NAME|URL [--dir DIR] [--sha256 HEX] [--md5 HEX]\n"
    "        download a catalogue dataset (or a URL; .gz is inflated while streaming) into\n"
    "        DIR (default $CANNOLI_DATA, else ./datasets/data), resuming a partial\n"
    "        download; CANNOLI_MIRROR=URL fetches catalogue files from that base URL\n"
    "  report RESULTS.csv... [--out DIR] [--label FILE=NAME] [--baseline NAME]... [--latex]\n"
    "                  [--recall R...]\n"
    "        report.md (setting, figures, best QPS at recall targets, ratios, headlines)\n"
    "        from results CSVs, by plots/report.py; --latex adds booktabs tables + PDFs\n"
    "  version\n";

static int fail(const char *msg) {
    fprintf(stderr, "cannoli: %s\n", msg);
    return 1;
}

static int usage_error(const char *msg) {
    fprintf(stderr, "cannoli: %s (see 'cannoli help')\n", msg);
    return 2;
}

static int parse_int(const char *s, long *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end) return -1;
    *out = v;
    return 0;
}

/* After a run: the recall/QPS plot next to the CSV (plots/plot.py of this
 * source tree, with Debian's python3 and matplotlib). --no-plot or
 * CANNOLI_NO_PLOT=1 skips it; a missing or failing plotter is a warning only,
 * never a failed run. */
/* The experiment's `plots:` section (validated, as JSON) goes next to the CSV
 * as plots.json, for plot.py now and `cannoli report` later. Returns 0 when
 * written, -1 without a section or on failure (a warning). */
static int write_plots_json(const cn_experiment_t *exp, const cn_run_opts_t *o, char *path,
                            size_t len) {
    if (!exp->plots_json) return -1;
    if (o->out_dir) snprintf(path, len, "%s/plots.json", o->out_dir);
    else snprintf(path, len, "results/%s/plots.json", exp->name);
    FILE *f = fopen(path, "w");
    int ok = f && fputs(exp->plots_json, f) >= 0;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok) fprintf(stderr, "cannoli: warning: %s: cannot write the figure specs\n", path);
    return ok ? 0 : -1;
}

static void auto_plot(const cn_experiment_t *exp, const cn_run_opts_t *o, const char *specs) {
    const char *script = CN_SOURCE_DIR "/plots/plot.py", *py = "/usr/bin/python3";
    char csv[2300];
    if (o->out_dir) snprintf(csv, sizeof csv, "%s/results.csv", o->out_dir);
    else snprintf(csv, sizeof csv, "results/%s/results.csv", exp->name);
    if (access(script, R_OK) != 0 || access(py, X_OK) != 0 || access(csv, R_OK) != 0) {
        fprintf(stderr, "cannoli: no plot (%s or %s not found)\n", script, py);
        return;
    }
    pid_t pid;
    char *args[] = {(char *)py, (char *)script, csv, specs ? "--spec-json" : NULL,
                    (char *)specs, NULL};
    extern char **environ;
    if (posix_spawn(&pid, py, NULL, NULL, args, environ) != 0) {
        fprintf(stderr, "cannoli: no plot: cannot start %s\n", py);
        return;
    }
    int st = 0;
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fprintf(stderr, "cannoli: warning: %s %s failed (is python3-matplotlib installed?)\n",
                script, csv);
}

static int cmd_run(int argc, char **argv) {
    cn_run_opts_t o = {0};
    o.use_cache = 1;
    const char *cfg = NULL;
    const char *np = getenv("CANNOLI_NO_PLOT");
    int plot = !(np && strcmp(np, "0") != 0);
    char **sets = NULL;
    size_t nsets = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc) o.out_dir = argv[++i];
        else if (!strcmp(argv[i], "--cache-dir") && i + 1 < argc) o.cache_dir = argv[++i];
        else if (!strcmp(argv[i], "--force")) o.force = 1;
        else if (!strcmp(argv[i], "--dry-run")) o.dry_run = 1;
        else if (!strcmp(argv[i], "--no-cache")) o.use_cache = 0;
        else if (!strcmp(argv[i], "--no-plot")) plot = 0;
        else if (!strcmp(argv[i], "--keep-going")) o.keep_going = 1;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) o.only = argv[++i];
        else if (!strcmp(argv[i], "--shard") && i + 1 < argc) {
            char m[512];
            cn_shard_sel_t sel;
            if (cn_shard_parse(argv[++i], &sel, m, sizeof m)) {
                cn_free(sets);
                return usage_error(m);
            }
            o.shard_k = sel.k;
            o.shard_n = sel.n;
        } else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
            char **ns = cn_realloc(sets, (nsets + 1) * sizeof *sets);
            if (!ns) {
                cn_free(sets);
                return fail("out of memory");
            }
            sets = ns;
            sets[nsets++] = argv[++i];
        } else if (argv[i][0] == '-') {
            char m[256];
            snprintf(m, sizeof m, "run: unknown option '%s'", argv[i]);
            cn_free(sets);
            return usage_error(m);
        } else if (!cfg) cfg = argv[i];
        else {
            cn_free(sets);
            return usage_error("run: only one CONFIG file");
        }
    }
    if (!cfg) {
        cn_free(sets);
        return usage_error("run: missing CONFIG.yaml");
    }
    char err[1024];
    cn_experiment_t exp;
    if (cn_config_load_set(&exp, cfg, (const char *const *)sets, nsets, err, sizeof err)) {
        cn_free(sets);
        return fail(err);
    }
    cn_free(sets);
    /* One pass per (dataset, k), all into the same CSV (rows say which). */
    size_t nd = 1 + exp.nmore_datasets, npass = nd * exp.nks, pass = 0;
    int rc = 0;
    char first_err[1024] = "";
    for (size_t d = 0; d < nd && (rc == 0 || o.keep_going); d++) {
        cn_dataset_spec_t keep = exp.dataset;
        if (d > 0) exp.dataset = exp.more_datasets[d - 1];
        for (size_t ki = 0; ki < exp.nks && (rc == 0 || o.keep_going); ki++, pass++) {
            exp.k = exp.ks[ki];
            o.appending = pass > 0;
            if (npass > 1)
                fprintf(stderr, "[pass %zu/%zu] dataset %s, k = %d\n", pass + 1, npass,
                        exp.dataset.name ? exp.dataset.name : exp.dataset.train, exp.k);
            if (cn_run(&exp, &o, err, sizeof err)) {
                if (!first_err[0]) snprintf(first_err, sizeof first_err, "%s", err);
                if (o.keep_going && npass > 1) fprintf(stderr, "cannoli: %s\n", err);
                rc = -1;
            }
        }
        if (d > 0) {
            exp.more_datasets[d - 1] = exp.dataset;
            exp.dataset = keep;
        }
    }
    /* With --keep-going the rows that were measured are still plotted; a shard
     * holds part of the rows (and shards may share the file): `merge` plots. */
    char specs[2300];
    int have_specs = (rc == 0 || o.keep_going) && !o.dry_run &&
                     write_plots_json(&exp, &o, specs, sizeof specs) == 0;
    if ((rc == 0 || o.keep_going) && plot && !o.dry_run && !o.shard_n)
        auto_plot(&exp, &o, have_specs ? specs : NULL);
    cn_config_free(&exp);
    return rc ? fail(first_err) : 0;
}

/* plan, merge and slurm live in shard.c, merge.c and slurm.c: 0, 1 or 2. */
static int finish_cmd(int rc, const char *err) {
    return rc == 2 ? usage_error(err) : rc ? fail(err) : 0;
}

static int cmd_merge(int argc, char **argv) {
    cn_experiment_t exp;
    cn_run_opts_t o = {0};
    const char *np = getenv("CANNOLI_NO_PLOT");
    int have = 0, plot = !(np && strcmp(np, "0") != 0);
    char err[1024];
    int rc = cn_merge_main(argc, argv, &exp, &have, &o.out_dir, &plot, err, sizeof err);
    char specs[2300];
    int have_specs = rc == 0 && have && write_plots_json(&exp, &o, specs, sizeof specs) == 0;
    if (rc == 0 && plot) auto_plot(&exp, &o, have_specs ? specs : NULL);
    if (have) cn_config_free(&exp);
    return finish_cmd(rc, err);
}

/* `cannoli report ...`: plots/report.py with the same arguments (it parses
 * and checks them); its exit status is ours. */
static int cmd_report(int argc, char **argv) {
    const char *script = CN_SOURCE_DIR "/plots/report.py", *py = "/usr/bin/python3";
    if (access(script, R_OK) != 0 || access(py, X_OK) != 0) {
        fprintf(stderr, "cannoli: %s: not found (report needs %s and python3-matplotlib)\n",
                script, py);
        return 1;
    }
    char **args = calloc((size_t)argc + 3, sizeof *args);
    if (!args) return fail("report: out of memory");
    args[0] = (char *)py;
    args[1] = (char *)script;
    for (int i = 0; i < argc; i++) args[i + 2] = argv[i];
    pid_t pid;
    extern char **environ;
    int st = 0, rc = posix_spawn(&pid, py, NULL, NULL, args, environ);
    free(args);
    if (rc != 0) {
        fprintf(stderr, "cannoli: %s: cannot start\n", py);
        return 1;
    }
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st)) return fail("report: report.py was killed");
    return WEXITSTATUS(st);
}

static int cmd_cache(int argc, char **argv) {
    if (argc < 1 || (strcmp(argv[0], "list") != 0 && strcmp(argv[0], "remove") != 0))
        return usage_error("cache: expected 'list' or 'remove'");
    int remove = !strcmp(argv[0], "remove"), stale = 0;
    const char *dir = "results/cache", *comp = NULL, *dataset = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (!strcmp(a, "--component") && has_value) comp = argv[++i];
        else if (!strcmp(a, "--dataset") && has_value) dataset = argv[++i];
        else if (!strcmp(a, "--cache-dir") && has_value) dir = argv[++i];
        else if (!strcmp(a, "--stale")) stale = 1;
        else {
            char m[256];
            snprintf(m, sizeof m, "cache: unknown option or missing value '%s'", a);
            return usage_error(m);
        }
    }
    if (stale && !remove) return usage_error("cache: --stale goes with 'remove'");
    char err[1024];
    int rc = remove ? cn_cache_remove(dir, comp, dataset, stale, stdout, err, sizeof err)
                    : cn_cache_list(dir, comp, dataset, stdout, err, sizeof err);
    return rc ? fail(err) : 0;
}

static void print_specs(const cn_param_spec_t *specs, size_t n) {
    for (size_t p = 0; p < n; p++) {
        const cn_param_spec_t *s = &specs[p];
        const char *type = s->type == CN_PARAM_INT     ? "int"
                           : s->type == CN_PARAM_FLOAT ? "float"
                                                       : "string";
        char range[96] = "";
        if (s->type == CN_PARAM_INT)
            snprintf(range, sizeof range, " [%.0f, %.0f]", s->min, s->max);
        else if (s->type == CN_PARAM_FLOAT)
            snprintf(range, sizeof range, " [%g, %g]", s->min, s->max);
        else if (s->choices)
            snprintf(range, sizeof range, " {%s}", s->choices);
        printf("      %-16s %-6s %-7s%s default %s  %s\n", s->name,
               s->role == CN_ROLE_BUILD ? "build" : "search", type, range,
               s->def ? s->def : "(required)", s->help ? s->help : "");
    }
}

static int cmd_list(void) {
    printf("cannoli %s (commit %s, build %s), SIMD level in use: %s (best on this CPU: %s)\n\n",
           CN_VERSION_STRING, cn_build_commit(), cn_build_id(), cn_simd_name(cn_simd_level()),
           cn_simd_name(cn_simd_detect()));
    for (int kind = 0; kind < 2; kind++) {
        printf("%s:\n", kind == CN_COMPONENT_INDEX ? "indexes" : "quantizers");
        for (size_t i = 0; i < cn_registry_count(); i++) {
            const cn_component_t *c = cn_registry_at(i);
            if ((int)c->kind != kind) continue;
            printf("  %-12s %s\n", c->name, c->help ? c->help : "");
            print_specs(c->params, c->n_params);
        }
        if (kind == CN_COMPONENT_INDEX) {
            printf("  (every index)  generic parameters:\n");
            print_specs(cn_index_generic_params, cn_index_generic_nparams);
        }
        if (kind == CN_COMPONENT_INDEX && *cn_baselines_missing())
            printf("  (baselines not in this build: %s)\n", cn_baselines_missing());
        printf("\n");
    }
    printf("datasets (catalogue names; any other value is a path):\n");
    for (size_t i = 0; i < cn_catalogue_count(); i++)
        printf("  %-28s %s\n", cn_catalogue_name(i), cn_catalogue_help(i));
    return 0;
}

static int cmd_info(int argc, char **argv) {
    if (argc != 1) return usage_error("info: expected one DATASET");
    char err[1024];
    cn_dataset_t ds;
    cn_dataset_spec_t spec = {0};
    spec.name = argv[0];
    spec.config_dir = ".";
    if (cn_dataset_open(&ds, &spec, 0, err, sizeof err)) return fail(err);
    printf("dataset    %s\nsource     %s\nmetric     %s\ndimension  %u\ntrain      %u\n"
           "test       %u\nneighbors  %u per query%s\n",
           ds.name, ds.source, cn_metric_name(ds.metric), ds.dim, ds.n_train, ds.n_test, ds.gt_k,
           ds.distances ? " (with distances)" : "");
    cn_dataset_free(&ds);
    return 0;
}

static int cmd_convert(int argc, char **argv) {
    const char *train = NULL, *test = NULL, *nb = NULL, *dist = NULL, *out = NULL;
    long k = 100;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) return usage_error("convert: option without a value");
        if (!strcmp(a, "--train")) train = argv[++i];
        else if (!strcmp(a, "--test")) test = argv[++i];
        else if (!strcmp(a, "--neighbors")) nb = argv[++i];
        else if (!strcmp(a, "--distance")) dist = argv[++i];
        else if (!strcmp(a, "-o") || !strcmp(a, "--out")) out = argv[++i];
        else if (!strcmp(a, "--k")) {
            if (parse_int(argv[++i], &k) || k < 1 || k > 100000)
                return usage_error("convert: --k must be an integer in [1, 100000]");
        } else {
            char m[256];
            snprintf(m, sizeof m, "convert: unknown option '%s'", a);
            return usage_error(m);
        }
    }
    if (!train || !test || !out) return usage_error("convert: --train, --test and -o are required");
    char err[1024];
    cn_dataset_t ds;
    if (cn_dataset_load_files(&ds, train, test, nb, dist, err, sizeof err)) return fail(err);
    int rc = 0;
    if (cn_dataset_validate(&ds, err, sizeof err)) rc = fail(err);
    if (!rc && !nb) {
        if ((uint32_t)k > ds.n_train) k = (long)ds.n_train;
        fprintf(stderr, "cannoli: computing exact top-%ld ground truth ...\n", k);
        if (cn_dataset_groundtruth(&ds, (uint32_t)k, 0, err, sizeof err)) rc = fail(err);
    }
    if (!rc && nb && !ds.distances && cn_dataset_fill_distances(&ds, err, sizeof err))
        rc = fail(err);
    if (!rc && cn_dataset_save_hdf5(&ds, out, err, sizeof err)) rc = fail(err);
    if (!rc)
        printf("wrote %s: %u train, %u test, dim %u, %s, %u neighbours per query\n", out,
               ds.n_train, ds.n_test, ds.dim, cn_metric_name(ds.metric), ds.gt_k);
    cn_dataset_free(&ds);
    return rc;
}

static int cmd_groundtruth(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    long k = 100, threads = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-o") || !strcmp(a, "--out")) {
            if (i + 1 >= argc) return usage_error("groundtruth: -o needs a value");
            out = argv[++i];
        } else if (!strcmp(a, "--k")) {
            if (i + 1 >= argc || parse_int(argv[++i], &k) || k < 1 || k > 100000)
                return usage_error("groundtruth: --k must be an integer in [1, 100000]");
        } else if (!strcmp(a, "--threads")) {
            /* libgomp overflows its stack starting 100000 threads */
            if (i + 1 >= argc || parse_int(argv[++i], &threads) || threads < 0 ||
                threads > CN_MAX_THREADS)
                return usage_error("groundtruth: --threads must be an integer in [0, 1024] "
                                   "(0 = all cores)");
        } else if (a[0] == '-') {
            char m[256];
            snprintf(m, sizeof m, "groundtruth: unknown option '%s'", a);
            return usage_error(m);
        } else if (!in) in = a;
        else return usage_error("groundtruth: only one input file");
    }
    if (!in) return usage_error("groundtruth: missing IN.hdf5");
    if (!out) out = in;
    char err[1024];
    cn_dataset_t ds;
    if (cn_dataset_load_hdf5(&ds, in, err, sizeof err)) return fail(err);
    int rc = 0;
    if (cn_dataset_validate(&ds, err, sizeof err)) rc = fail(err);
    if (!rc && (uint32_t)k > ds.n_train) k = (long)ds.n_train;
    if (!rc) fprintf(stderr, "cannoli: computing exact top-%ld for %u queries ...\n", k, ds.n_test);
    if (!rc && cn_dataset_groundtruth(&ds, (uint32_t)k, (int)threads, err, sizeof err))
        rc = fail(err);
    if (!rc && cn_dataset_save_hdf5(&ds, out, err, sizeof err)) rc = fail(err);
    if (!rc) printf("wrote %s: top-%u ground truth for %u queries\n", out, ds.gt_k, ds.n_test);
    cn_dataset_free(&ds);
    return rc;
}

static int cmd_fetch(int argc, char **argv) {
    const char *what = NULL, *dir = NULL, *sha = NULL, *md5 = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (!strcmp(a, "--dir") && has_value) dir = argv[++i];
        else if (!strcmp(a, "--sha256") && has_value) sha = argv[++i];
        else if (!strcmp(a, "--md5") && has_value) md5 = argv[++i];
        else if (a[0] == '-') {
            char m[256];
            snprintf(m, sizeof m, "fetch: unknown option or missing value '%s'", a);
            return usage_error(m);
        } else if (!what) what = a;
        else return usage_error("fetch: one NAME or URL at a time");
    }
    if (!what) return usage_error("fetch: missing NAME or URL");
    char err[1024];
    return cn_fetch(what, dir, sha, md5, err, sizeof err) ? fail(err) : 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    char berr[512];
    if (cn_baselines_register(berr, sizeof berr) != CN_OK)
        fprintf(stderr, "cannoli: warning: baselines not registered: %s\n", berr);
    if (!strcmp(cmd, "run")) return cmd_run(argc - 2, argv + 2);
    if (!strcmp(cmd, "list")) return cmd_list();
    if (!strcmp(cmd, "cache")) return cmd_cache(argc - 2, argv + 2);
    if (!strcmp(cmd, "merge")) return cmd_merge(argc - 2, argv + 2);
    if (!strcmp(cmd, "plan") || !strcmp(cmd, "slurm")) {
        char err[1024];
        int rc = cmd[0] == 'p' ? cn_shard_plan_main(argc - 2, argv + 2, err, sizeof err)
                               : cn_slurm_main(argc - 2, argv + 2, err, sizeof err);
        return finish_cmd(rc, err);
    }
    if (!strcmp(cmd, "report")) return cmd_report(argc - 2, argv + 2);
    if (!strcmp(cmd, "info")) return cmd_info(argc - 2, argv + 2);
    if (!strcmp(cmd, "convert")) return cmd_convert(argc - 2, argv + 2);
    if (!strcmp(cmd, "groundtruth")) return cmd_groundtruth(argc - 2, argv + 2);
    if (!strcmp(cmd, "fetch")) return cmd_fetch(argc - 2, argv + 2);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("cannoli %s (commit %s, build %s, simd %s)\n", CN_VERSION_STRING,
               cn_build_commit(), cn_build_id(), cn_simd_name(cn_simd_level()));
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        fputs(usage, stdout);
        return 0;
    }
    char m[256];
    snprintf(m, sizeof m, "unknown command '%s'", cmd);
    return usage_error(m);
}
