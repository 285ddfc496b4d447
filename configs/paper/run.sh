#!/usr/bin/env bash
# Reproduces the kANNolo paper's experiments (arXiv 2501.06121) on this
# project's data, cannoli next to hnswlib and Faiss, and writes the report:
#
#   configs/paper/run.sh [--quick] [--out DIR] [--cannoli PATH]
#
# Runs configs/paper/{sift,fashion-pq,splade}.yaml (--quick: the 10k SIFT
# fixture, configs/paper/quick/sift-10k.yaml, instead of the 1M set) into
# DIR/<config>/ (default results/paper), each with its own figure, then
# `cannoli report` over the three CSVs into DIR/report/: report.md, the
# paper's figure (recall vs query time in µs, log axis, one panel per
# dataset; PNG + PDF), the best-QPS tables and the speedup table next to the
# paper's published numbers (tables/*.tex, booktabs). Runs resume: rows
# already in a CSV are not measured again.
set -euo pipefail
cd "$(dirname "$0")/../.."
CANNOLI=build/release/cannoli
OUT=results/paper
sift=configs/paper/sift.yaml
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) sift=configs/paper/quick/sift-10k.yaml ;;
    --out) OUT=${2:?--out needs a folder}; shift ;;
    --cannoli) CANNOLI=${2:?--cannoli needs a path}; shift ;;
    *) echo "usage: configs/paper/run.sh [--quick] [--out DIR] [--cannoli PATH]" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$CANNOLI" ] || { echo "cannoli: $CANNOLI: not built (cmake --build build/release)" >&2; exit 1; }
csvs=()
for cfg in "$sift" configs/paper/fashion-pq.yaml configs/paper/splade.yaml; do
  name=$(basename "$cfg" .yaml)
  echo "== $cfg -> $OUT/$name" >&2
  "$CANNOLI" run "$cfg" --out "$OUT/$name"
  csvs+=("$OUT/$name/results.csv")
done
"$CANNOLI" report "${csvs[@]}" --out "$OUT/report" --latex \
  --baseline hnswlib --baseline faiss --baseline inverted \
  --spec-json configs/paper/figures.json --published configs/paper/published.json \
  --title "The kANNolo paper's experiments, as run by cannoli"
