#!/usr/bin/env bash
# Builds cannoli four times and runs the tests in each build:
#   build/release : -O3, unit (cmocka) + end-to-end (CLI on fixtures) tests
#   build/asan    : AddressSanitizer + UndefinedBehaviorSanitizer, same tests
#   build/tsan    : ThreadSanitizer (clang + libomp + archer): a deliberate-race
#                   self-check, the threaded unit tests and a 2-thread CLI run
#                   (tests/tsan/run.sh; skip with CN_TESTS_SKIP_TSAN=1)
#   build/fuzz    : libFuzzer (clang + ASan + UBSan): every fuzz target for
#                   CN_FUZZ_SECONDS seconds (default 30; tests/fuzz/run.sh;
#                   skip with CN_TESTS_SKIP_FUZZ=1)
# and finally runs the unit tests under valgrind (memcheck, leaks = errors).
# Set CN_TESTS_SKIP_VALGRIND=1 or CN_TESTS_SKIP_ASAN=1 to skip a stage.
set -euo pipefail
cd "$(dirname "$0")"
.ci/install-deps
jobs=$(nproc)

echo "== release build"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DCN_BUILD_TESTS=ON >/dev/null
cmake --build build/release -j"$jobs"
ctest --test-dir build/release --output-on-failure -j"$jobs"

if [ "${CN_TESTS_SKIP_ASAN:-0}" != 1 ]; then
  echo "== ASan + UBSan build"
  cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DCN_SANITIZE=ON -DCN_BUILD_TESTS=ON >/dev/null
  cmake --build build/asan -j"$jobs"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build/asan --output-on-failure -j"$jobs"
fi

if [ "${CN_TESTS_SKIP_TSAN:-0}" != 1 ]; then
  echo "== ThreadSanitizer build (clang, libomp + archer)"
  bash tests/tsan/run.sh build/tsan "$jobs"
fi

if [ "${CN_TESTS_SKIP_FUZZ:-0}" != 1 ]; then
  echo "== libFuzzer (${CN_FUZZ_SECONDS:-30} s per target)"
  CN_FUZZ_JOBS="$jobs" bash tests/fuzz/run.sh "${CN_FUZZ_SECONDS:-30}"
fi

if [ "${CN_TESTS_SKIP_VALGRIND:-0}" != 1 ]; then
  echo "== valgrind (unit tests, release build; $jobs at a time)"
  vg_one() {
    local log
    log=$(mktemp)
    if CN_TEST_UNDER_VALGRIND=1 valgrind -q --error-exitcode=1 --leak-check=full \
         --errors-for-leak-kinds=definite --show-leak-kinds=definite "$1" >"$log" 2>&1; then
      echo "-- $(basename "$1"): ok"
      rm -f "$log"
    else
      echo "-- $(basename "$1"): FAILED"
      cat "$log"
      rm -f "$log"
      return 1
    fi
  }
  export -f vg_one
  find build/release/tests -maxdepth 1 -name 'test_*' -type f -perm -u+x -print0 | sort -z |
    xargs -0 -r -n1 -P"$jobs" bash -c 'vg_one "$0"'
fi
echo "all tests passed"
