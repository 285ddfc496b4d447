# Appends that survive anything (issue 14, item 1): a results file whose last
# row was cut short (full disk, kill) is repaired on the next run — the cut
# row is moved to results.csv.partial (reported in one line) and its point
# measured again, instead of the next row being glued onto it and the point
# counted as done; a header without its newline is handled the same; a write
# the file system refuses half-way fails with one line and leaves whole rows
# only; a results "file" that is a device is refused.
source "$(dirname "$0")/lib.sh"
need_fixtures "${SIFT10K[@]}"

sift10k_config "$WORK/r.yaml" repair <<YAML
algorithms:
  - name: h
    index: hnsw
    build: {M: 8, ef_construction: 40}
    search: {ef: [10, 20, 40, 80]}
YAML
O="$WORK/o"
C="$WORK/cache"
run() { "$CANNOLI" run "$WORK/r.yaml" --out "$O" --cache-dir "$C" "$@"; }
whole() { # every line has the header's field count, 1 header, N rows
  csv_check "$O/results.csv" "$1" "
assert len(rows) == $2, len(rows)
assert all(None not in r and all(v is not None for v in r.values()) for r in rows), 'short or long row'
assert sorted(r['search_params'] for r in rows) == sorted(['ef=10', 'ef=20', 'ef=40', 'ef=80'][:$2]) or $2 != 4
assert all(r['algorithm'] == 'h' for r in rows)
with open(sys.argv[1], 'rb') as f: data = f.read()
assert data.endswith(b'\n') and data.count(b'dataset,algorithm') == 1"
}

run 2>"$WORK/a.log" && ok "first run" || { not_ok "first run"; cat "$WORK/a.log"; }
whole "4 whole rows" 4
cp "$O/results.csv" "$WORK/full.csv"

# ---- a row cut short after its key columns ---------------------------------
size=$(stat -c %s "$O/results.csv")
truncate -s $((size - 40)) "$O/results.csv"
cut_tail=$(tail -c +1 "$O/results.csv" | tail -n 1)
run 2>"$WORK/b.log" && ok "resume after a cut row" || { not_ok "resume after a cut row"; cat "$WORK/b.log"; }
grep -q "results.csv: the last row was cut short (.* bytes without a newline); moved to .*results.csv.partial; its point is measured again" "$WORK/b.log" \
  && ok "the cut row is reported in one line" || { not_ok "no report of the cut row"; cat "$WORK/b.log"; }
grep -q "1 rows written, 3 already present" "$WORK/b.log" \
  && ok "its point is measured again (1 row written)" || { not_ok "point not remeasured"; grep "rows written" "$WORK/b.log"; }
whole "after the repair: 4 whole rows, nothing glued" 4
[ "$(cat "$O/results.csv.partial")" = "$cut_tail" ] \
  && ok "results.csv.partial keeps the cut row" || not_ok "partial file: $(cat "$O/results.csv.partial" 2>&1)"
run 2>"$WORK/c.log" && grep -q "0 rows written, 4 already present" "$WORK/c.log" \
  && ok "the next run finds everything done" || { not_ok "next run"; cat "$WORK/c.log"; }

# ---- a header without its newline -----------------------------------------
rm -f "$O/results.csv.partial"
head -n 1 "$WORK/full.csv" | tr -d '\n' >"$O/results.csv"
run 2>"$WORK/d.log" && ok "resume after a cut header" || { not_ok "cut header"; cat "$WORK/d.log"; }
grep -q "the last line (the header) was cut short" "$WORK/d.log" \
  && ok "the cut header is reported" || { not_ok "cut header not reported"; cat "$WORK/d.log"; }
whole "after a cut header: one header, 4 rows" 4
# and a header cut in the middle of a column name
printf 'dataset,algorithm,ind' >"$O/results.csv"
run 2>"$WORK/d2.log" && ok "resume after a header cut mid-name" || { not_ok "mid-name header"; cat "$WORK/d2.log"; }
whole "after a header cut mid-name: 4 rows" 4

# ---- the file system refuses a write half-way ------------------------------
# (a file size limit stands in for a full disk; SIGXFSZ ignored so write(2)
# returns EFBIG, as ENOSPC would). 1 KiB holds the header and about two rows.
rm -f "$O/results.csv" "$O/results.csv.partial"
rc=0
(trap '' XFSZ; ulimit -f 1; run) >"$WORK/e.out" 2>"$WORK/e.log" || rc=$?
grep -v -E '^(cannoli: (loading|dataset )|\[)' "$WORK/e.log" >"$WORK/e1.log" || true
if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && [ "$(wc -l <"$WORK/e1.log")" -eq 1 ] &&
  grep -q "results.csv: write failed: File too large" "$WORK/e1.log"; then
  ok "a refused write fails with one line: $(cat "$WORK/e1.log")"
else
  not_ok "refused write: status $rc: $(cat "$WORK/e.log")"
fi
n=$(($(wc -l <"$O/results.csv") - 1))
[ "$n" -ge 1 ] && [ "$n" -lt 4 ] && ok "$n whole rows kept" || not_ok "$n rows after the refused write"
whole "only whole rows after the refused write" "$n"
run 2>"$WORK/f.log" && whole "the rerun completes the sweep" 4 || { not_ok "rerun"; cat "$WORK/f.log"; }

# ---- a device is not a results file ----------------------------------------
if [ -w /dev/full ]; then
  mkdir -p "$WORK/dev"
  ln -s /dev/full "$WORK/dev/results.csv"
  expect_fail "results.csv -> /dev/full" "results.csv: not a regular file" -- \
    timeout 60 "$CANNOLI" run "$WORK/r.yaml" --out "$WORK/dev" --cache-dir "$C"
  expect_fail "--dry-run on it too" "results.csv: not a regular file" -- \
    timeout 60 "$CANNOLI" run "$WORK/r.yaml" --out "$WORK/dev" --cache-dir "$C" --dry-run
fi
finish
