/*
 * harness/slurm.c — writes (and optionally submits) the Slurm scripts of a
 * sharded sweep (see slurm.h). Nothing here schedules anything: Slurm runs
 * the array, the shards find their part with --shard auto, and the merge
 * job waits for the whole array with afterok.
 */
#include "slurm.h"

#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cannoli/cannoli.h"
#include "config.h"
#include "shard.h"
#include "sysinfo.h"

typedef struct sopts {
    const char *cfg, *partition, *time, *mem, *out, *cache;
    long shards, cpus;
    int submit;
} sopts_t;

/* A value that goes into an #SBATCH line: no spaces, quotes or newlines. */
static int plain_value(const char *v) {
    if (!*v) return 0;
    for (const char *p = v; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+:.,=@",
                    *p))
            return 0;
    return 1;
}

/* The word s, single-quoted for the shell. */
static void sq(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputs("'\\''", f);
        else fputc(*s, f);
    }
    fputc('\'', f);
}

/* An absolute path for p (which need not exist yet: then its folder must). */
static int absolute(const char *p, char *out, size_t len, char *err, size_t errlen) {
    char buf[PATH_MAX];
    if (realpath(p, buf)) {
        snprintf(out, len, "%s", buf);
        return 0;
    }
    if (p[0] == '/') {
        snprintf(out, len, "%s", p);
        return 0;
    }
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) {
        cn_error(err, errlen, CN_EIO, "%s: cannot resolve: %s", p, strerror(errno));
        return -1;
    }
    if ((size_t)snprintf(out, len, "%s/%s", cwd, p) >= len) {
        cn_error(err, errlen, CN_EINVAL, "%s: path too long", p);
        return -1;
    }
    return 0;
}

static int write_file(const char *path, const char *text, size_t n, char *err, size_t errlen) {
    char tmp[2600];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        cn_error(err, errlen, CN_EIO, "%s: cannot create: %s", tmp, strerror(errno));
        return -1;
    }
    int ok = fwrite(text, 1, n, f) == n && fflush(f) == 0;
    int e = errno;
    ok = fclose(f) == 0 && ok;
    if (!ok || chmod(tmp, 0755) != 0 || rename(tmp, path) != 0) {
        cn_error(err, errlen, CN_EIO, "%s: write failed: %s", path, strerror(ok ? errno : e));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Runs `sbatch --parsable [--dependency=afterok:DEP] SCRIPT`; the job id in id. */
static int sbatch(const char *script, const char *dep, char *id, size_t idlen, char *err,
                  size_t errlen) {
    int pfd[2];
    if (pipe(pfd) != 0) {
        cn_error(err, errlen, CN_EIO, "sbatch: pipe: %s", strerror(errno));
        return -1;
    }
    char depopt[128] = "";
    if (dep) snprintf(depopt, sizeof depopt, "--dependency=afterok:%s", dep);
    char *args[5];
    int a = 0;
    args[a++] = "sbatch";
    args[a++] = "--parsable";
    if (dep) args[a++] = depopt;
    args[a++] = (char *)script;
    args[a] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_addclose(&fa, pfd[0]);
    extern char **environ;
    pid_t pid;
    int st = posix_spawnp(&pid, "sbatch", &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    if (st != 0) {
        close(pfd[0]);
        cn_error(err, errlen, CN_EIO, "sbatch: cannot run it: %s (is Slurm installed?)",
                 strerror(st));
        return -1;
    }
    char buf[256];
    size_t n = 0;
    ssize_t r;
    while (n + 1 < sizeof buf && ((r = read(pfd[0], buf + n, sizeof buf - 1 - n)) > 0 ||
                                  (r < 0 && errno == EINTR)))
        if (r > 0) n += (size_t)r;
    buf[n] = 0;
    close(pfd[0]);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {}
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
        cn_error(err, errlen, CN_EIO, "%s: sbatch failed (status %d; its message is above)",
                 script, WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws));
        return -1;
    }
    buf[strcspn(buf, ";\r\n")] = 0; /* "jobid[;cluster]" */
    if (!buf[0] || strspn(buf, "0123456789") != strlen(buf) || strlen(buf) >= idlen) {
        cn_error(err, errlen, CN_EIO, "%s: sbatch printed no job id ('%s')", script, buf);
        return -1;
    }
    memcpy(id, buf, strlen(buf) + 1);
    return 0;
}

static int scripts(const sopts_t *o, const cn_experiment_t *exp, char *err, size_t errlen) {
    char exe[PATH_MAX], cfg[PATH_MAX], cwd[PATH_MAX], out[PATH_MAX], cache[PATH_MAX] = "";
    char dir[PATH_MAX + 16], logs[PATH_MAX + 32], sweep[PATH_MAX + 32], mrg[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        cn_error(err, errlen, CN_EIO, "/proc/self/exe: cannot find the cannoli binary: %s",
                 strerror(errno));
        return -1;
    }
    exe[n] = 0;
    if (absolute(o->cfg, cfg, sizeof cfg, err, errlen)) return -1;
    if (!getcwd(cwd, sizeof cwd)) {
        cn_error(err, errlen, CN_EIO, "cannot get the working folder: %s", strerror(errno));
        return -1;
    }
    char rel[2048];
    if (o->out) snprintf(rel, sizeof rel, "%s", o->out);
    else snprintf(rel, sizeof rel, "results/%s", exp->name);
    if (cn_mkdirs(rel, err, errlen) || absolute(rel, out, sizeof out, err, errlen)) return -1;
    if (o->cache && absolute(o->cache, cache, sizeof cache, err, errlen)) return -1;
    snprintf(dir, sizeof dir, "%s/slurm", out);
    snprintf(logs, sizeof logs, "%s/logs", dir);
    snprintf(sweep, sizeof sweep, "%s/sweep.sbatch", dir);
    snprintf(mrg, sizeof mrg, "%s/merge.sbatch", dir);
    if (cn_mkdirs(logs, err, errlen)) return -1;

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) goto oom;
    fprintf(f, "#!/bin/bash\n# cannoli sweep of %s as a Slurm job array: task K runs shard K of "
               "%ld.\n# Written by `cannoli slurm`; submit with `sbatch %s`\n# (or `cannoli "
               "slurm ... --submit`, which also queues merge.sbatch after it).\n",
            exp->name, o->shards, sweep);
    fprintf(f, "#SBATCH --job-name=cannoli-%s\n", exp->name);
    fprintf(f, "#SBATCH --array=1-%ld\n", o->shards);
    fprintf(f, "#SBATCH --cpus-per-task=%ld\n", o->cpus);
    fprintf(f, "#SBATCH --ntasks=1\n");
    if (o->partition) fprintf(f, "#SBATCH --partition=%s\n", o->partition);
    if (o->time) fprintf(f, "#SBATCH --time=%s\n", o->time);
    if (o->mem) fprintf(f, "#SBATCH --mem=%s\n", o->mem);
    fprintf(f, "#SBATCH --chdir=%s\n", cwd);
    fprintf(f, "#SBATCH --output=%s/sweep-%%A_%%a.log\n", logs);
    fprintf(f, "set -euo pipefail\n");
    fprintf(f, "export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-%ld}\n", o->cpus);
    fprintf(f, "echo \"cannoli: array job ${SLURM_ARRAY_JOB_ID:-?} task "
               "${SLURM_ARRAY_TASK_ID:-?} on $(hostname) with $OMP_NUM_THREADS threads, "
               "started $(date -u +%%FT%%TZ) (epoch $(date +%%s.%%N))\" >&2\n");
    fprintf(f, "rc=0\n");
    sq(f, exe);
    fprintf(f, " run ");
    sq(f, cfg);
    fprintf(f, " --shard auto --no-plot --out ");
    sq(f, out);
    if (cache[0]) {
        fprintf(f, " --cache-dir ");
        sq(f, cache);
    }
    fprintf(f, " || rc=$?\n");
    fprintf(f, "echo \"cannoli: task ${SLURM_ARRAY_TASK_ID:-?} ended $(date -u +%%FT%%TZ) (epoch "
               "$(date +%%s.%%N)) with status $rc\" >&2\nexit $rc\n");
    if (fclose(f) != 0) {
        f = NULL;
        goto oom;
    }
    f = NULL;
    int rc = write_file(sweep, text, len, err, errlen);
    free(text);
    text = NULL;
    if (rc) return -1;

    f = open_memstream(&text, &len);
    if (!f) goto oom;
    fprintf(f, "#!/bin/bash\n# Joins the shards of %s (points missing from the config are "
               "listed) and plots.\n# Submitted by `cannoli slurm --submit` with "
               "--dependency=afterok:<the sweep's array job>.\n",
            exp->name);
    fprintf(f, "#SBATCH --job-name=cannoli-%s-merge\n", exp->name);
    fprintf(f, "#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=1\n");
    if (o->partition) fprintf(f, "#SBATCH --partition=%s\n", o->partition);
    if (o->mem) fprintf(f, "#SBATCH --mem=%s\n", o->mem);
    fprintf(f, "#SBATCH --chdir=%s\n", cwd);
    fprintf(f, "#SBATCH --output=%s/merge-%%j.log\n", logs);
    fprintf(f, "set -euo pipefail\nexec ");
    sq(f, exe);
    fprintf(f, " merge ");
    sq(f, out);
    fprintf(f, " --config ");
    sq(f, cfg);
    fprintf(f, " --out ");
    sq(f, out);
    fprintf(f, "\n");
    if (fclose(f) != 0) {
        f = NULL;
        goto oom;
    }
    f = NULL;
    rc = write_file(mrg, text, len, err, errlen);
    free(text);
    text = NULL;
    if (rc) return -1;
    printf("wrote %s (%ld array task%s, %ld CPU%s each) and %s; logs in %s\n", sweep,
           o->shards, o->shards == 1 ? "" : "s", o->cpus, o->cpus == 1 ? "" : "s", mrg, logs);
    if (o->submit) {
        char sid[64], mid[64];
        if (sbatch(sweep, NULL, sid, sizeof sid, err, errlen)) return -1;
        printf("submitted sweep: job %s (array 1-%ld)\n", sid, o->shards);
        fflush(stdout);
        if (sbatch(mrg, sid, mid, sizeof mid, err, errlen)) return -1;
        printf("submitted merge: job %s (after job %s succeeds)\n", mid, sid);
    }
    if (fflush(stdout) != 0) {
        cn_error(err, errlen, CN_EIO, "<stdout>: write failed: %s", strerror(errno));
        return -1;
    }
    return 0;
oom:
    if (f) fclose(f);
    free(text);
    cn_error(err, errlen, CN_ENOMEM, "out of memory writing the scripts");
    return -1;
}

static int num_opt(const char *name, const char *v, long lo, long hi, long *out, char *err,
                   size_t errlen) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        cn_error(err, errlen, CN_EINVAL, "slurm: %s must be an integer in [%ld, %ld]", name, lo,
                 hi);
        return -1;
    }
    *out = x;
    return 0;
}

int cn_slurm_main(int argc, char **argv, char *err, size_t errlen) {
    sopts_t o = {0};
    o.cpus = 1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int v = i + 1 < argc;
        if (!strcmp(a, "--shards") && v) {
            if (num_opt("--shards", argv[++i], 1, CN_SHARD_MAX, &o.shards, err, errlen)) return 2;
        } else if (!strcmp(a, "--cpus-per-task") && v) {
            if (num_opt("--cpus-per-task", argv[++i], 1, 100000, &o.cpus, err, errlen)) return 2;
        } else if ((!strcmp(a, "--partition") || !strcmp(a, "--time") || !strcmp(a, "--mem")) &&
                   v) {
            const char *x = argv[++i];
            if (!plain_value(x)) {
                cn_error(err, errlen, CN_EINVAL, "slurm: %s '%s': letters, digits and _-+:.,=@ "
                         "only", a, x);
                return 2;
            }
            if (!strcmp(a, "--partition")) o.partition = x;
            else if (!strcmp(a, "--time")) o.time = x;
            else o.mem = x;
        } else if (!strcmp(a, "--out") && v) {
            o.out = argv[++i];
        } else if (!strcmp(a, "--cache-dir") && v) {
            o.cache = argv[++i];
        } else if (!strcmp(a, "--submit")) {
            o.submit = 1;
        } else if (a[0] == '-') {
            cn_error(err, errlen, CN_EINVAL, "slurm: unknown option or missing value '%s'", a);
            return 2;
        } else if (!o.cfg) {
            o.cfg = a;
        } else {
            cn_error(err, errlen, CN_EINVAL, "slurm: only one CONFIG file");
            return 2;
        }
    }
    if (!o.cfg) {
        cn_error(err, errlen, CN_EINVAL, "slurm: missing CONFIG.yaml");
        return 2;
    }
    if (!o.shards) {
        cn_error(err, errlen, CN_EINVAL, "slurm: --shards N is required");
        return 2;
    }
    cn_experiment_t exp;
    if (cn_config_load(&exp, o.cfg, err, errlen)) return 1;
    int rc = scripts(&o, &exp, err, errlen) ? 1 : 0;
    cn_config_free(&exp);
    return rc;
}
