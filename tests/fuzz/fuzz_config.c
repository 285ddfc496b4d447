/*
 * tests/fuzz/fuzz_config.c — the YAML experiment loader (harness/config.c).
 * Any input must load or fail with one line naming the file; never crash,
 * leak or hang (deep nesting is refused before libyaml's loader).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = cn_fuzz_file(data, size, ".yaml");
    cn_experiment_t e;
    char err[1024] = "";
    if (cn_config_load(&e, path, err, sizeof err) == 0) {
        cn_config_free(&e);
        return 0;
    }
    /* the contract: one line, naming the file */
    if (!err[0] || strchr(err, '\n') || strncmp(err, path, strlen(path)) != 0) {
        fprintf(stderr, "fuzz_config: bad error message: '%s'\n", err);
        abort();
    }
    return 0;
}
