/*
 * tests/tsan/race_check.c — proves the ThreadSanitizer stage can see a race,
 * and that its OpenMP set-up does not cry wolf.
 *
 *   tsan_race_check racy    two OpenMP threads increment one int with no
 *                           synchronisation: TSan MUST report a data race
 *                           (if it does not, TSan is not really on, and a
 *                           clean run of cannoli would prove nothing);
 *   tsan_race_check clean   the constructs cannoli's threads rely on — a
 *                           worksharing loop and its implied barrier (writes
 *                           before it, reads of everything after it), a
 *                           reduction, critical, atomic, omp locks: TSan
 *                           must report NOTHING (with GCC's libgomp, which
 *                           TSan cannot see into, the barrier alone gives
 *                           false reports; with LLVM's libomp + libarcher it
 *                           is clean).
 * run-tests.sh runs both before the real multi-threaded run.
 */
#include <omp.h>
#include <stdio.h>
#include <string.h>

#define N 4096

static int counter, by_critical, by_atomic, by_lock; /* one variable per kind of
                                                       guard: mixing them is a race */
static int a[N];

int main(int argc, char **argv) {
    int racy = argc > 1 && strcmp(argv[1], "racy") == 0;
    long sum = 0, check = 0;
    omp_lock_t lock;
    omp_init_lock(&lock);
#pragma omp parallel num_threads(2) reduction(+ : check)
    {
        if (racy) {
            for (int i = 0; i < 1000; i++) counter++; /* the deliberate race */
        } else {
#pragma omp for schedule(dynamic, 64)
            for (int i = 0; i < N; i++) a[i] = i; /* implied barrier after */
            for (int i = 0; i < N; i++) check += a[i]; /* reads the other thread's writes */
#pragma omp for reduction(+ : sum)
            for (int i = 0; i < N; i++) sum += a[i];
#pragma omp critical
            by_critical++;
#pragma omp atomic
            by_atomic++;
            omp_set_lock(&lock);
            by_lock++;
            omp_unset_lock(&lock);
        }
    }
    omp_destroy_lock(&lock);
    printf("race_check %s: %d %d %d %d sum=%ld check=%ld\n", racy ? "racy" : "clean", counter,
           by_critical, by_atomic, by_lock, sum, check);
    return 0;
}
