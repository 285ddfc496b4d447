# Sweeps across datasets and k, and --set: a `dataset:` list with a `k:`
# list writes every (dataset, k) pass into one CSV; a rerun resumes (nothing
# new); --set overrides the dataset and k from the command line; a bad --set
# is one line naming the config. --force with several passes keeps one backup.
source "$(dirname "$0")/lib.sh"
need_fixtures sift-ngt-5k_base.bvecs sift-debian-10k_base.bvecs
cat >"$WORK/sw.yaml" <<'YAML'
name: sweeps
dataset: [sift-ngt-5k, sift-debian-10k]
k: [1, 10]
runs: 1
algorithms:
  - index: hnsw
    build: {M: 8, ef_construction: 40}
    search: {ef: [20]}
YAML
if "$CANNOLI" run "$WORK/sw.yaml" --out "$WORK/o1" --no-cache >"$WORK/run1.log" 2>&1; then
  csv_check "$WORK/o1/results.csv" "dataset list x k list: 4 rows, one per (dataset, k)" '
got = sorted((r["dataset"], r["k"]) for r in rows)
assert got == [("sift-debian-10k", "1"), ("sift-debian-10k", "10"), ("sift-ngt-5k", "1"), ("sift-ngt-5k", "10")], got
assert all(float(r["recall"]) > 0.5 for r in rows), [r["recall"] for r in rows]'
  grep -q -F "[pass 4/4] dataset sift-debian-10k, k = 10" "$WORK/run1.log" && ok "passes announced" || not_ok "no pass line"
else not_ok "dataset/k list run failed: $(tail -1 "$WORK/run1.log")"; fi
"$CANNOLI" run "$WORK/sw.yaml" --out "$WORK/o1" --no-cache >"$WORK/run2.log" 2>&1
[ "$(grep -c "0 rows written" "$WORK/run2.log")" = 4 ] && ok "rerun resumes: every pass writes 0 rows" || not_ok "rerun: $(grep 'rows written' "$WORK/run2.log")"
"$CANNOLI" run "$WORK/sw.yaml" --out "$WORK/o1" --no-cache --force >"$WORK/run3.log" 2>&1
n_bak=$(ls "$WORK/o1" | grep -c '\.bak$' || true)
[ "$n_bak" = 1 ] && ok "--force over 4 passes: one backup" || not_ok "--force made $n_bak backups"
csv_check "$WORK/o1/results.csv" "--force: a fresh CSV with the 4 rows" 'assert len(rows) == 4, len(rows)'

if "$CANNOLI" run "$WORK/sw.yaml" --out "$WORK/o2" --no-cache --set dataset=sift-ngt-5k --set 'k=[5]' \
     --set name=other >"$WORK/run4.log" 2>&1; then
  csv_check "$WORK/o2/results.csv" "--set dataset=... k=[5]: one row" '
assert [(r["dataset"], r["k"]) for r in rows] == [("sift-ngt-5k", "5")], rows'
else not_ok "--set run failed: $(tail -1 "$WORK/run4.log")"; fi
expect_fail "--set unknown key" "sw.yaml: --set: unknown top-level key 'kk'" -- \
  "$CANNOLI" run "$WORK/sw.yaml" --out "$WORK/o3" --set kk=1
expect_fail "--set bad k" "sw.yaml: --set: 'k' must be" -- \
  "$CANNOLI" run "$WORK/sw.yaml" --out "$WORK/o3" --set k=zero
expect_fail "--set unknown dataset" "nope-dataset" "not a catalogue dataset" -- \
  "$CANNOLI" run "$WORK/sw.yaml" --out "$WORK/o3" --set dataset=nope-dataset
finish
