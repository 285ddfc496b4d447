#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS] — builds the libFuzzer targets (clang,
# -fsanitize=fuzzer,address,undefined, in build/fuzz) and runs each for
# SECONDS (default 30), one after the other. Fails on any finding (crash,
# sanitizer report, leak, timeout, out-of-memory); a finding's input is
# copied to tests/fuzz/regressions/<target>/ so the normal tests replay it
# from then on (ctest -R fuzz_replay). Prints per target the executions,
# coverage (cov: edges, ft: features) and corpus size.
#
# Environment: CN_FUZZ_BUILD (default build/fuzz), CN_FUZZ_JOBS (build jobs,
# default 2), CN_FUZZ_TARGETS (default: all; e.g. "config csv"), CN_FUZZ_TMPDIR
# (where the targets write their input files; default /dev/shm, else /tmp).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-30}
build=${CN_FUZZ_BUILD:-build/fuzz}
jobs=${CN_FUZZ_JOBS:-2}
# The targets (the same names as tests/fuzz/CMakeLists.txt's CN_FUZZ_TARGETS;
# binfmt: the .npy / .fbin / .u8bin / .i8bin / .ibin readers).
targets=${CN_FUZZ_TARGETS:-"config index hdf5 sparse vecs csv binfmt"}

command -v clang >/dev/null || { echo "tests/fuzz/run.sh: clang not found (.ci/install-deps installs it)" >&2; exit 1; }
echo "== fuzz build ($build, clang, -fsanitize=fuzzer,address,undefined)"
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-O1 -g" -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link" \
  -DCN_SANITIZE=ON -DCN_BUILD_FUZZ=ON -DCN_BUILD_TESTS=OFF -DCN_WITH_FAISS=OFF -DCN_WITH_HNSWLIB=OFF >/dev/null
exes=(fuzz_seeds)
for t in $targets; do exes+=("fuzz_$t"); done
cmake --build "$build" -j"$jobs" --target "${exes[@]}" >/dev/null
rm -rf "$build/seeds"
"$build/tests/fuzz/fuzz_seeds" "$build/seeds" >/dev/null

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export OMP_NUM_THREADS=1
printf '\n%-8s %10s %8s %7s %7s %7s  %s\n' target execs exec/s cov ft corpus findings
status=0
summary=()
for t in $targets; do
  corpus=$build/corpus/$t art=$build/artifacts/$t reg=tests/fuzz/regressions/$t
  mkdir -p "$corpus" "$art" "$reg"
  log=$build/fuzz_$t.log
  dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  rc=0
  "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$art/" "${dict[@]}" \
    "$corpus" "$build/seeds/$t" "$reg" >"$log" 2>&1 || rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  ncorp=$(ls "$corpus" | wc -l)
  found=0
  for a in "$art"/*; do
    [ -f "$a" ] || continue
    found=$((found + 1))
    cp "$a" "$reg/$(basename "$a")"
  done
  rm -f "$art"/*
  if [ "$rc" != 0 ] || [ "$found" != 0 ]; then
    status=1
    findings="FOUND $found (exit $rc): see $log; input(s) copied to $reg/"
  else
    findings=none
  fi
  printf '%-8s %10s %8s %7s %7s %7s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$ncorp" "$findings"
done
[ "$status" = 0 ] && echo "fuzz: no findings (${secs}s per target)" || echo "fuzz: FINDINGS (see above)"
exit "$status"
