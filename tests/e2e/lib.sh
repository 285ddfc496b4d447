# tests/e2e/lib.sh — shared helpers of the end-to-end tests (sourced).
# Each test is run by ctest as: bash tests/e2e/test_X.sh CANNOLI_BINARY SOURCE_DIR
set -euo pipefail
CANNOLI=${1:?usage: test_X.sh CANNOLI_BINARY SOURCE_DIR}
SRC=${2:?usage: test_X.sh CANNOLI_BINARY SOURCE_DIR}
cd "$SRC"
FIX=../shared/datasets/fixtures
PY=/usr/bin/python3
# `cannoli run` plots after every run; the tests plot only where they check it.
export CANNOLI_NO_PLOT=1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cannoli-e2e-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
failures=0

# Exit 77 (ctest: skipped) when the shared fixtures are absent.
need_fixtures() {
  for f in "$@"; do
    if [ ! -r "$FIX/$f" ]; then
      echo "SKIP: fixture $FIX/$f not found (../shared/datasets is absent)"
      exit 77
    fi
  done
}

# The sift-debian-10k fixture (texmex: 10,000 x 128 bytes, 100 queries, their
# true neighbours), the data set of most experiment configs below.
SIFT10K=(sift-debian-10k_base.bvecs sift-debian-10k_query.bvecs sift-debian-10k_groundtruth.ivecs)

# sift10k_config FILE NAME [DIR] < REST: writes an experiment YAML over the
# sift-debian-10k fixture (files under DIR, default $FIX): name NAME, the
# dataset map, k: 10, runs: 1, then REST (algorithms and any other keys).
sift10k_config() {
  local file=$1 name=$2 dir=${3:-$FIX}
  {
    cat <<YAML
name: $name
dataset:
  train: $dir/${SIFT10K[0]}
  test: $dir/${SIFT10K[1]}
  neighbors: $dir/${SIFT10K[2]}
k: 10
runs: 1
YAML
    cat
  } >"$file"
}

# sweep_config FILE [DIR]: the 20-point sweep `sweep` of the shard tests (7
# build points: three HNSW graphs, sq8 and pq over the M=8 one, flat), built
# single-threaded and seeded, so every run gives the same recall.
sweep_config() {
  sift10k_config "$1" sweep "${2:-$FIX}" <<YAML
build_threads: 1
algorithms:
  - name: plain
    index: hnsw
    build: {M: [8, 12, 16], ef_construction: 40}
    search: {ef: [10, 20, 40]}
  - name: sq8
    index: hnsw
    quantizer: sq8
    build: {M: 8, ef_construction: 40}
    search: {ef: [10, 40]}
  - name: pq
    index: hnsw
    quantizer: {name: pq, subspaces: 16, nbits: 6, iterations: 4, train_size: 3000}
    build: {M: 8, ef_construction: 40, build_on: [original, quantized]}
    search: {ef: [10, 40], rerank: [0, 10]}
  - name: flat
    index: flat
YAML
}

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failures=$((failures + 1)); }

# expect_fail LABEL SUBSTRING... -- COMMAND...
# The command must exit non-zero (not by a signal), print exactly one line on
# stderr, and that line must contain every SUBSTRING.
expect_fail() {
  local label=$1; shift
  local subs=()
  while [ "$1" != "--" ]; do subs+=("$1"); shift; done
  shift
  local rc=0
  "$@" >"$WORK/out.txt" 2>"$WORK/err.txt" || rc=$?
  # progress lines start with "cannoli: loading" or "[": drop them
  grep -v -E '^(cannoli: (loading|computing|dataset )|\[)' "$WORK/err.txt" >"$WORK/err1.txt" || true
  local lines
  lines=$(wc -l <"$WORK/err1.txt")
  if [ "$rc" -eq 0 ]; then not_ok "$label: exit status 0"; return; fi
  if [ "$rc" -ge 128 ]; then not_ok "$label: killed by signal (status $rc)"; cat "$WORK/err.txt"; return; fi
  if [ "$lines" -ne 1 ]; then not_ok "$label: $lines error lines"; cat "$WORK/err.txt"; return; fi
  for s in "${subs[@]}"; do
    if ! grep -q -F -- "$s" "$WORK/err1.txt"; then
      not_ok "$label: message lacks '$s': $(cat "$WORK/err1.txt")"; return
    fi
  done
  ok "$label: $(cat "$WORK/err1.txt")"
}

# csv_check CSV PYTHON-EXPRESSION-LINES: runs python with `rows` (list of
# dicts) and `hdr` bound; assertion failures fail the test.
csv_check() {
  local csv=$1 label=$2 code=$3
  if $PY - "$csv" <<PYEOF
import csv, sys
with open(sys.argv[1], newline="") as f:
    rd = csv.DictReader(f)
    hdr = rd.fieldnames
    rows = list(rd)
$code
PYEOF
  then ok "$label"; else not_ok "$label"; fi
}

# same_rows_as LABEL CSV REF: the sweep's 20 points (sweep_config) in CSV are
# those of REF (a results file of the unsharded run), each once, with the
# same recall; one header, whole rows.
same_rows_as() {
  csv_check "$2" "$1" "
ref = list(csv.DictReader(open('$3', newline='')))
key = lambda r: (r['dataset'], r['algorithm'], r['quantizer_params'], r['build_params'], r['search_params'], r['k'], r['threads'])
keys = [key(r) for r in rows]
assert len(keys) == len(set(keys)), 'a point written twice'
a = {key(r): r['recall'] for r in rows}; b = {key(r): r['recall'] for r in ref}
assert set(a) == set(b), (set(a) ^ set(b))
bad = [k for k in a if a[k] != b[k]]
assert not bad, [(k, a[k], b[k]) for k in bad]
assert len(rows) == len(ref) == 20, (len(rows), len(ref))
with open(sys.argv[1], 'rb') as f: data = f.read()
assert data.endswith(b'\n') and data.count(b'dataset,algorithm') == 1, 'header count or cut line'"
}

finish() {
  if [ "$failures" -ne 0 ]; then echo "$failures check(s) failed"; exit 1; fi
  echo "all checks passed"
}
