/*
 * tests/fuzz/fuzz_util.c — temporary files for the fuzz targets.
 */
#include "fuzz_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_FILES 8

static char paths[MAX_FILES][256];
static char suffixes[MAX_FILES][32];
static int nfiles, registered;

static void cleanup(void) {
    for (int i = 0; i < nfiles; i++) unlink(paths[i]);
}

const char *cn_fuzz_file(const uint8_t *data, size_t size, const char *suffix) {
    int at = 0;
    while (at < nfiles && strcmp(suffixes[at], suffix)) at++;
    if (at == nfiles) {
        if (nfiles == MAX_FILES || strlen(suffix) >= sizeof suffixes[0]) abort();
        /* memory-backed when possible: rewriting a file on disk per input
         * made /tmp the bottleneck (250 vs 6000 executions per second) */
        const char *dir = getenv("CN_FUZZ_TMPDIR");
        if (!dir || !*dir) dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(paths[at], sizeof paths[at], "%s/cn-fuzz-XXXXXX%s", dir, suffix);
        int fd = mkstemps(paths[at], (int)strlen(suffix));
        if (fd < 0) abort();
        close(fd);
        snprintf(suffixes[at], sizeof suffixes[at], "%s", suffix);
        nfiles++;
        if (!registered) {
            atexit(cleanup);
            registered = 1;
        }
    }
    int fd = open(paths[at], O_WRONLY | O_TRUNC);
    if (fd < 0) abort();
    size_t done = 0;
    while (done < size) {
        ssize_t k = write(fd, data + done, size - done);
        if (k <= 0) abort();
        done += (size_t)k;
    }
    close(fd);
    return paths[at];
}
