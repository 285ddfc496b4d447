# The Faiss baseline (built when libfaiss-dev is present) on the 10k SIFT
# fixture: each index type reaches a plausible recall, rows record the
# generic Faiss build, a bad factory string is one error line, and the index
# cache reloads Faiss indexes with the same results.
source "$(dirname "$0")/lib.sh"
need_fixtures sift-debian-10k_base.bvecs sift-debian-10k_query.bvecs sift-debian-10k_groundtruth.ivecs
listing=$("$CANNOLI" list)
if ! grep -q '^  faiss ' <<<"$listing"; then
  echo "SKIP: this build has no faiss baseline (libfaiss-dev absent or CN_WITH_FAISS=OFF)"
  exit 77
fi
grep -q '^      factory ' <<<"$listing" && ok "cannoli list shows faiss with its parameters" \
  || not_ok "cannoli list lacks the faiss parameters"

ds="dataset:
  train: $FIX/sift-debian-10k_base.bvecs
  test: $FIX/sift-debian-10k_query.bvecs
  neighbors: $FIX/sift-debian-10k_groundtruth.ivecs"
cat >"$WORK/f.yaml" <<YAML
name: e2e-faiss
$ds
k: 10
runs: 1
build_threads: 1
algorithms:
  - name: faiss-hnsw
    index: faiss
    build: {factory: "HNSW16,Flat", ef_construction: 100}
    search: {ef: [20, 120]}
  - name: faiss-hnsw-named
    index: faiss
    build: {type: hnsw_flat, M: 16, ef_construction: 100}
    search: {ef: 20}
  - name: faiss-flat
    index: faiss
    build: {factory: Flat}
  - name: faiss-hnsw-pq
    index: faiss
    build: {type: hnsw_pq, M: 16, pq_m: 32, ef_construction: 100, train_size: 10000}
    search: {ef: 80}
  - name: faiss-ivfpq
    index: faiss
    build: {factory: "IVF32,PQ32", train_size: 10000}
    search: {nprobe: [1, 16]}
YAML
"$CANNOLI" run "$WORK/f.yaml" --out "$WORK/o1" --cache-dir "$WORK/cache" 2>"$WORK/r1.log" \
  && ok "run with faiss exits 0" || { not_ok "run failed"; cat "$WORK/r1.log"; finish; }
csv_check "$WORK/o1/results.csv" "faiss rows: HNSWFlat >= 0.9, Flat 1.0, PQ > 0.3, generic build recorded" '
by = {}
for r in rows:
    by.setdefault(r["algorithm"], []).append(r)
    assert r["index"] == "faiss" and r["simd"] == "faiss-generic", r
    assert float(r["qps"]) > 0 and int(r["index_bytes"]) > 0
assert max(float(r["recall"]) for r in by["faiss-hnsw"]) >= 0.9
# the same index by factory string and by named parameters
named = by["faiss-hnsw-named"][0]
fac = [r for r in by["faiss-hnsw"] if r["search_params"] == "ef=20"][0]
assert named["index_bytes"] == fac["index_bytes"], (named["index_bytes"], fac["index_bytes"])
assert float(by["faiss-flat"][0]["recall"]) == 1.0
assert float(by["faiss-flat"][0]["dist_per_query"]) == 10000
assert float(by["faiss-hnsw-pq"][0]["recall"]) > 0.3
assert max(float(r["recall"]) for r in by["faiss-ivfpq"]) > 0.3
# what Faiss keeps: full vectors + links for HNSWFlat, codes + links for HNSWPQ
hb, pb = int(fac["index_bytes"]), int(by["faiss-hnsw-pq"][0]["index_bytes"])
assert hb > 10000 * 128 * 4 and pb < 10000 * 128 * 4 // 2, (hb, pb)
for r in by["faiss-hnsw"]:
    assert float(r["dist_per_query"]) > 0
'
"$CANNOLI" run "$WORK/f.yaml" --out "$WORK/o2" --cache-dir "$WORK/cache" 2>"$WORK/r2.log" \
  && ok "second run exits 0" || { not_ok "second run failed"; cat "$WORK/r2.log"; }
n=$(grep -c '^\[faiss-.*loaded from cache' "$WORK/r2.log" || true)
[ "$n" -eq 5 ] && ok "all 5 faiss indexes reloaded from the cache" \
  || { not_ok "$n of 5 faiss indexes reloaded from the cache"; cat "$WORK/r2.log"; }
csv_check "$WORK/o2/results.csv" "reloaded faiss indexes give the same recall and bytes" "
import csv
first = {(r['algorithm'], r['search_params']): r for r in csv.DictReader(open('$WORK/o1/results.csv'))}
for r in rows:
    f = first[(r['algorithm'], r['search_params'])]
    assert r['recall'] == f['recall'] and r['index_bytes'] == f['index_bytes'], (r, f)
    assert r['cached'] == '1'
"

# The run must fail (not by a signal) with exactly one error line (the one
# naming the config file) containing SUBSTRING; progress lines may precede it.
fails_with() {
  local label=$1 sub=$2 rc=0
  "$CANNOLI" run "$WORK/bad.yaml" --out "$WORK/ob" --no-cache >"$WORK/out.txt" 2>"$WORK/err.txt" || rc=$?
  grep "^cannoli: $WORK/bad.yaml" "$WORK/err.txt" >"$WORK/err1.txt" || true
  if [ "$rc" -eq 0 ] || [ "$rc" -ge 128 ]; then not_ok "$label: exit status $rc"; cat "$WORK/err.txt"
  elif [ "$(wc -l <"$WORK/err1.txt")" -ne 1 ] || ! grep -q -F -- "$sub" "$WORK/err1.txt"; then
    not_ok "$label: expected one line with '$sub'"; cat "$WORK/err.txt"
  else ok "$label: $(cat "$WORK/err1.txt")"; fi
}
bad() {
  cat >"$WORK/bad.yaml" <<YAML
name: e2e-faiss-bad
$ds
k: 10
algorithms:
  - name: bad
    index: faiss
    build: {$1}
    search: {$2}
YAML
}
bad 'factory: "HNSW16,Bogus"' ''
fails_with "bad factory string" "bad factory string 'HNSW16,Bogus': could not parse"
bad 'factory: "HNSW16,Flat", M: 32' ''
fails_with "factory and named parameters together" "either 'factory' or the named"
bad 'type: flat' 'ef: 20'
fails_with "ef on a non-HNSW index" "'ef' applies to HNSW"
finish
