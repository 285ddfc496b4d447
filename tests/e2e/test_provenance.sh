# Rows say exactly what ran (issue 9): the build id is a hash of the library's
# sources taken at build time and changes with any source byte; commit carries
# -dirty; a cached index written by other sources (or for another shape) is
# rebuilt with one line saying why; --force rebuilds and keeps every old CSV;
# `cache list|remove` filter by component and dataset; index_bytes is the same
# fresh and cached; no two rows of one build point are the same search; shape
# errors fail at --dry-run with file:line; --keep-going goes on and fails at
# the end.
source "$(dirname "$0")/lib.sh"
need_fixtures sift-ngt-5k_base.bvecs sift-ngt-5k_query.bvecs sift-ngt-5k_groundtruth.ivecs \
  glove100-10k_base.fvecs glove100-10k_query.fvecs glove100-10k_groundtruth.ivecs

DS="dataset:
  train: $FIX/sift-ngt-5k_base.bvecs
  test: $FIX/sift-ngt-5k_query.bvecs
  neighbors: $FIX/sift-ngt-5k_groundtruth.ivecs"

# ---- 1. build id and commit, computed by cmake/buildinfo.cmake -------------
T="$WORK/tree"
mkdir -p "$T/algorithms/core"
printf 'int f(void) { return 1; }\n' >"$T/algorithms/core/a.c"
printf '#define X 1\n' >"$T/algorithms/core/a.h"
bid() { cmake -DSRC="$T" -DOUT="$WORK/bi.c" -P cmake/buildinfo.cmake && sed -n 's/.*build_id_str\[\] = "\(.*\)";/\1/p' "$WORK/bi.c"; }
com() { sed -n 's/.*commit_str\[\] = "\(.*\)";/\1/p' "$WORK/bi.c"; }
id1=$(bid)
[ "$(com)" = unknown ] && ok "outside git: commit unknown" || not_ok "commit outside git: $(com)"
id1b=$(bid)
[ -n "$id1" ] && [ "$id1" = "$id1b" ] && ok "build id is stable: $id1" || not_ok "build id unstable: $id1 / $id1b"
printf 'int f(void) { return 2; }\n' >"$T/algorithms/core/a.c"
id2=$(bid)
[ "$id2" != "$id1" ] && ok "a changed source byte changes the build id ($id2)" || not_ok "build id did not change"
printf '#define X 2\n' >"$T/algorithms/core/a.h"
id3=$(bid)
[ "$id3" != "$id2" ] && ok "a changed header changes the build id" || not_ok "header change ignored"
if command -v git >/dev/null; then
  git -C "$T" init -q && git -C "$T" add -A &&
    git -C "$T" -c user.email=t@t -c user.name=t commit -q -m t
  bid >/dev/null
  head=$(git -C "$T" rev-parse --short=12 HEAD)
  [ "$(com)" = "$head" ] && ok "clean tree: commit $head" || not_ok "clean commit: $(com) vs $head"
  printf '#define X 3\n' >"$T/algorithms/core/a.h"
  bid >/dev/null
  [ "$(com)" = "$head-dirty" ] && ok "uncommitted change: commit $head-dirty" || not_ok "dirty not marked: $(com)"
fi

# The binary's own id is what its rows carry.
ver=$("$CANNOLI" version)
BUILD=$(echo "$ver" | sed -n 's/.*build \([0-9a-f]*\),.*/\1/p')
[ ${#BUILD} -eq 16 ] && ok "cannoli version names build $BUILD" || not_ok "version: $ver"

# ---- 2. rows, cache provenance, bytes --------------------------------------
cat >"$WORK/p.yaml" <<YAML
name: prov
$DS
k: 10
runs: 1
algorithms:
  - name: plain
    index: hnsw
    build: {M: 12, ef_construction: 60}
    search: {ef: [20, 64]}
  - name: sq8
    index: hnsw
    quantizer: sq8
    build: {M: 12, ef_construction: 60}
    search: {ef: [20, 64], rerank: [0, 20]}
  - name: pq
    index: hnsw
    quantizer: {name: pq, subspaces: 16, nbits: 8, iterations: 5}
    build: {M: 12, ef_construction: 60, build_on: [original, quantized]}
    search: {ef: [10, 20, 64, 128], rerank: [0, 20, 50, 100]}
YAML
C="$WORK/cache"
"$CANNOLI" run "$WORK/p.yaml" --out "$WORK/a" --cache-dir "$C" 2>"$WORK/a.log" \
  && ok "fresh run" || { not_ok "fresh run failed"; cat "$WORK/a.log"; }
grep -q "skipped: rerank = 100 exceeds ef = 20" "$WORK/a.log" \
  && ok "rerank > ef is skipped with one line" || not_ok "no skip line"
"$CANNOLI" run "$WORK/p.yaml" --out "$WORK/b" --cache-dir "$C" 2>"$WORK/b.log" \
  && ok "cached run" || { not_ok "cached run failed"; cat "$WORK/b.log"; }
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && [ -n "$(git status --porcelain --untracked-files=no)" ]; then commit="$commit-dirty"; fi
csv_check "$WORK/a/results.csv" "rows carry build_id and commit" "
assert all(r['build_id'] == '$BUILD' for r in rows), set(r['build_id'] for r in rows)
assert all(r['commit'] == '$commit' for r in rows), (set(r['commit'] for r in rows), '$commit')
"
$PY - "$WORK/a/results.csv" "$WORK/b/results.csv" <<'PY' && ok "index_bytes equal fresh and cached, every row" || not_ok "index_bytes differ fresh/cached"
import csv, sys
a = list(csv.DictReader(open(sys.argv[1]))); b = list(csv.DictReader(open(sys.argv[2])))
key = lambda r: (r["algorithm"], r["build_params"], r["search_params"])
A = {key(r): r for r in a}; B = {key(r): r for r in b}
assert A.keys() == B.keys() and len(A) == len(a), (len(A), len(B))
assert all(r["cached"] == "0" for r in a) and all(r["cached"] == "1" for r in b)
for k in A:
    assert A[k]["index_bytes"] == B[k]["index_bytes"], (k, A[k]["index_bytes"], B[k]["index_bytes"])
    assert A[k]["recall"] == B[k]["recall"], k
PY
csv_check "$WORK/a/results.csv" "no two rows of one build point are the same search; rerank <= ef; bytes by variant" "
from collections import defaultdict
g = defaultdict(list)
for r in rows: g[(r['algorithm'], r['build_params'])].append(r)
for bp, rs in g.items():
    seen = {}
    for r in rs:
        p = dict(kv.split('=') for kv in r['search_params'].split(';'))
        ef, rr = int(p['ef']), int(p.get('rerank', 0))
        assert rr <= ef, r['search_params']
        assert float(r['reranked_per_query']) == float(rr), (r['search_params'], r['reranked_per_query'])
        sig = (r['dist_per_query'], r['reranked_per_query'], r['recall'])
        assert sig not in seen, (bp, r['search_params'], seen[sig])
        seen[sig] = r['search_params']
    plain = [r for r in rows if r['algorithm'] == 'plain'][0]
    for r in rs:
        if r['algorithm'] == 'plain': continue
        rr = 'rerank=0' not in r['search_params']
        assert (int(r['index_bytes']) > int(plain['index_bytes'])) == rr, (r['search_params'], r['index_bytes'])
assert len([r for r in rows if r['algorithm'] == 'pq']) == 2 * 10, len(rows)
"

# A cache entry written by other sources is rebuilt, with one line saying why.
meta=$(grep -l "^quantizer=sq8" "$C"/*.meta | head -1)
sed -i 's/^build_id=.*/build_id=0123456789abcdef/' "$meta"
"$CANNOLI" run "$WORK/p.yaml" --out "$WORK/c" --cache-dir "$C" 2>"$WORK/c.log" || not_ok "run after tamper failed"
[ "$(grep -c 'written by build 0123456789abcdef' "$WORK/c.log")" = 1 ] \
  && ok "stale entry named once: $(grep 'written by build' "$WORK/c.log")" \
  || { not_ok "stale entry not reported"; cat "$WORK/c.log"; }
csv_check "$WORK/c/results.csv" "stale entry rebuilt (cached=0 for sq8 only)" "
assert all(r['cached'] == ('0' if r['algorithm'] == 'sq8' else '1') for r in rows), [(r['algorithm'], r['cached']) for r in rows]
"
# An entry whose index does not match the dataset's shape is not trusted.
pmeta=$(grep -l "^quantizer=plain" "$C"/*.meta | head -1); pidx=${pmeta%.meta}
qidx=$(grep -l "^build_on=quantized" "$C"/*.meta | head -1); qidx=${qidx%.meta}
cp "$pidx" "$WORK/plain.keep"
cat >"$WORK/other.yaml" <<YAML
name: other
dataset: glove100-10k
k: 10
runs: 1
algorithms:
  - name: plain
    index: hnsw
    build: {M: 12, ef_construction: 60}
    search: {ef: [20]}
YAML
"$CANNOLI" run "$WORK/other.yaml" --out "$WORK/o" --cache-dir "$WORK/c2" 2>/dev/null || not_ok "synthetic run failed"
cp "$WORK"/c2/*.cnidx "$pidx"
"$CANNOLI" run "$WORK/p.yaml" --out "$WORK/d" --cache-dir "$C" 2>"$WORK/d.log" || not_ok "run after swap failed"
grep -q "holds 10000 x 100 (cosine) and the dataset" "$WORK/d.log" \
  && ok "an index of another shape is rebuilt: $(grep "holds 10000" "$WORK/d.log" | head -1)" \
  || { not_ok "foreign index trusted"; cat "$WORK/d.log"; }

# --force reruns rows *and* rebuilds indexes; two quick --force runs keep both old files.
"$CANNOLI" run "$WORK/p.yaml" --out "$WORK/b" --cache-dir "$C" --force 2>"$WORK/f1.log" || not_ok "--force run failed"
"$CANNOLI" run "$WORK/p.yaml" --out "$WORK/b" --cache-dir "$C" --force 2>"$WORK/f2.log" || not_ok "--force run 2 failed"
# (the full-precision graph the pq variant shares is built once per run and reused)
if grep "loaded from cache" "$WORK/f1.log" | grep -qv "earlier in this run"; then
  not_ok "--force loaded an index of an earlier run"; grep "loaded from cache" "$WORK/f1.log"
else ok "--force rebuilds every index (reusing only what this run built)"; fi
[ "$(grep -c "building hnsw {M=12;ef_construction=60;seed=42} on 4900 vectors (dense_f32)" "$WORK/f1.log")" = 1 ] \
  && ok "--force builds the float graph once (plain); sq8 and pq reuse it" \
  || { not_ok "--force graph builds"; grep building "$WORK/f1.log"; }
csv_check "$WORK/b/results.csv" "--force rows are fresh (cached=0)" "assert all(r['cached'] == '0' for r in rows)"
[ "$(ls "$WORK"/b/results.csv.*.bak | wc -l)" = 2 ] && ok "two --force runs keep two backups" \
  || { not_ok "backups: $(ls "$WORK"/b)"; }

# cache list / remove
"$CANNOLI" cache list --cache-dir "$C" >"$WORK/l.txt"
[ "$(grep -c '\.cnidx ' "$WORK/l.txt")" = 4 ] && ok "cache list shows 4 entries" || { not_ok "cache list"; cat "$WORK/l.txt"; }
"$CANNOLI" cache list --cache-dir "$C" --component pq >"$WORK/l2.txt"
[ "$(grep -c '\.cnidx ' "$WORK/l2.txt")" = 2 ] && ok "cache list --component pq: 2" || { not_ok "filter"; cat "$WORK/l2.txt"; }
"$CANNOLI" cache list --cache-dir "$C" --dataset nosuch >"$WORK/l3.txt"
grep -q "^0 entries" "$WORK/l3.txt" && ok "cache list --dataset filters" || { not_ok "dataset filter"; cat "$WORK/l3.txt"; }
"$CANNOLI" cache remove --cache-dir "$C" --component pq --dataset sift-ngt-5k >/dev/null
left=$(ls "$C"/*.cnidx | wc -l)
[ "$left" = 2 ] && ok "cache remove --component pq leaves the other 2 entries" || not_ok "remove left $left"
"$CANNOLI" run "$WORK/p.yaml" --out "$WORK/e" --cache-dir "$C" 2>"$WORK/e.log" || not_ok "run after remove"
grep -q "\[plain\] index: loaded from cache" "$WORK/e.log" && ok "the plain graph survived the removal" \
  || { not_ok "plain graph rebuilt"; cat "$WORK/e.log"; }
sed -i 's/^build_id=.*/build_id=fedcba9876543210/' "$meta"
"$CANNOLI" cache remove --cache-dir "$C" --stale >"$WORK/r.txt"
grep -q "^1 entries removed" "$WORK/r.txt" && ok "cache remove --stale removes only the stale entry" \
  || { not_ok "stale removal"; cat "$WORK/r.txt"; }
expect_fail "cache: bad subcommand" "cache" -- "$CANNOLI" cache frob

# ---- 3. shape checks at --dry-run, --keep-going -----------------------------
cat >"$WORK/bad.yaml" <<YAML
name: bad
$DS
k: 10
algorithms:
  - name: flat
    index: flat
  - name: pq7
    index: hnsw
    quantizer: {name: pq, subspaces: 7}
    search: {ef: [20]}
YAML
expect_fail "PQ sub-spaces that do not divide the dimension fail at --dry-run" "bad.yaml:12:" "pq7" "divide" \
  -- "$CANNOLI" run "$WORK/bad.yaml" --out "$WORK/bad" --dry-run
[ ! -e "$WORK/bad" ] && ok "dry run wrote nothing" || not_ok "dry run wrote files"

# (inverted needs sparse vectors: a failure of the build itself, on a dense
# inner-product set)
cat >"$WORK/kg.yaml" <<YAML
name: kg
$DS
  distance: ip
k: 10
runs: 1
algorithms:
  - name: flat
    index: flat
  - name: inv
    index: inverted
  - name: hnsw
    index: hnsw
    build: {M: 8, ef_construction: 40}
    search: {ef: [20]}
YAML
expect_fail "without --keep-going a failed build stops the run" "inv" -- \
  "$CANNOLI" run "$WORK/kg.yaml" --out "$WORK/kg1" --no-cache
rc=0
"$CANNOLI" run "$WORK/kg.yaml" --out "$WORK/kg2" --no-cache --keep-going 2>"$WORK/kg.log" || rc=$?
[ "$rc" = 1 ] && ok "--keep-going exits 1 at the end" || not_ok "--keep-going exit $rc"
grep -q "cannoli: failed: .*'inv'" "$WORK/kg.log" && grep -q "1 build point failed" "$WORK/kg.log" \
  && ok "--keep-going lists the failure" || { not_ok "failure list"; cat "$WORK/kg.log"; }
csv_check "$WORK/kg2/results.csv" "--keep-going measured the others" "
assert sorted(r['algorithm'] for r in rows) == ['flat', 'hnsw'], [r['algorithm'] for r in rows]
"
finish
