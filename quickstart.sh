#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: install what is missing, build in
# Release, run the embedded default experiment (configs/quickstart.yaml, a
# synthetic dataset cannoli generates itself), and plot it.
set -euo pipefail
cd "$(dirname "$0")"
.ci/install-deps
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DCN_BUILD_TESTS=OFF >/dev/null
cmake --build build/release -j"$(nproc)" >/dev/null
./build/release/cannoli run configs/quickstart.yaml "$@"   # writes the CSV, then the plot
echo "CSV:  results/quickstart/results.csv"
echo "plot: results/quickstart/$(ls results/quickstart | grep -m1 '\.png$')"
