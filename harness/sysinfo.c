/*
 * harness/sysinfo.c — the environment a row records (see sysinfo.h). The
 * build id and commit come from a file generated at build time
 * (build/generated/cn_buildinfo.c), so a row can never carry the commit of
 * an earlier configure.
 */
#include "sysinfo.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cannoli/common.h"

extern const char cn_build_id_str[];
extern const char cn_build_commit_str[];

const char *cn_build_id(void) { return cn_build_id_str; }
const char *cn_build_commit(void) { return cn_build_commit_str; }

void cn_utc_now(char *buf, size_t len) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

const char *cn_cpu_model(void) {
    static char model[256];
    if (model[0]) return model;
    snprintf(model, sizeof model, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return model;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0) continue;
        char *p = strchr(line, ':');
        if (p) {
            p++;
            while (*p == ' ' || *p == '\t') p++;
            p[strcspn(p, "\n")] = 0;
            snprintf(model, sizeof model, "%s", p);
        }
        break;
    }
    fclose(f);
    return model;
}

int cn_mkdirs(const char *path, char *err, size_t errlen) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        cn_error(err, errlen, CN_EINVAL, "%s: path too long", path);
        return -1;
    }
    for (char *p = tmp + 1;; p++) {
        int end = *p == 0;
        if (!end && *p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST) {
            cn_error(err, errlen, CN_EIO, "%s: cannot create folder: %s", tmp, strerror(errno));
            return -1;
        }
        if (end) break;
        *p = '/';
    }
    struct stat sb;
    if (stat(tmp, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        cn_error(err, errlen, CN_EIO, "%s: exists and is not a folder", path);
        return -1;
    }
    return 0;
}
