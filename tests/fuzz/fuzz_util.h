/*
 * tests/fuzz/fuzz_util.h — shared by the libFuzzer targets (tests/fuzz/run.sh)
 * and their replay drivers (replay_main.c, run by ctest on the regression
 * inputs and the generated seeds without libFuzzer).
 */
#ifndef CN_FUZZ_UTIL_H
#define CN_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* The target every fuzz_<name>.c defines. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes data to this process's temporary file ending in suffix (one file
 * per suffix, reused; removed at exit) and returns its path: the loaders
 * under test open files by name. */
const char *cn_fuzz_file(const uint8_t *data, size_t size, const char *suffix);

#endif
