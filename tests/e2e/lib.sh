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

finish() {
  if [ "$failures" -ne 0 ]; then echo "$failures check(s) failed"; exit 1; fi
  echo "all checks passed"
}
