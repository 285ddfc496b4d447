/*
 * tests/fuzz/replay_main.c — runs a fuzz target's LLVMFuzzerTestOneInput on
 * files, without libFuzzer: `replay_<target> PATH...` (a folder: every file
 * in it, sorted). ctest replays tests/fuzz/regressions/<target>/ (inputs the
 * fuzzer once found) and the generated seed corpus this way, in the normal
 * and the ASan builds. Fails when no input was found at all (a wrong path
 * must not pass silently).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
    if (!b || (n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n)) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    LLVMFuzzerTestOneInput(b, (size_t)n);
    free(b);
    return 1;
}

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
    int count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) != 0) continue; /* a target may have no regressions yet */
        if (!S_ISDIR(sb.st_mode)) {
            count += run_file(argv[i]);
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (!d) continue;
        char **names = NULL;
        size_t n = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            names = realloc(names, (n + 1) * sizeof *names);
            size_t len = strlen(argv[i]) + strlen(e->d_name) + 2;
            names[n] = malloc(len);
            snprintf(names[n++], len, "%s/%s", argv[i], e->d_name);
        }
        closedir(d);
        if (n) qsort(names, n, sizeof *names, cmp);
        for (size_t j = 0; j < n; j++) {
            struct stat fb;
            if (stat(names[j], &fb) == 0 && S_ISREG(fb.st_mode)) count += run_file(names[j]);
            free(names[j]);
        }
        free(names);
    }
    printf("replayed %d inputs\n", count);
    return count > 0 ? 0 : 1;
}
