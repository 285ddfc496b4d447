# Faiss factory strings that crash, abort or hang inside Faiss 1.7.3 (issue
# 14, item 3): each is refused by the adapter's checks with one line, and -
# with the checks off (CANNOLI_FAISS_CHECK=0) - the crash, abort or hang of
# the isolated build process is one error line of that algorithm, never the
# end of the run: exit status below 128, within a time bound, and with
# --keep-going the other algorithms' rows are written.
source "$(dirname "$0")/lib.sh"
need_fixtures sift-ngt-5k_base.bvecs sift-ngt-5k_query.bvecs sift-ngt-5k_groundtruth.ivecs
listing=$("$CANNOLI" list)
if ! grep -q '^  faiss ' <<<"$listing"; then
  echo "SKIP: this build has no faiss baseline"; exit 77
fi
ds="dataset:
  train: $PWD/$FIX/sift-ngt-5k_base.bvecs
  test: $PWD/$FIX/sift-ngt-5k_query.bvecs"
one() { # one FILE FACTORY
  cat >"$1" <<YAML
name: fx
$ds
  neighbors: $PWD/$FIX/sift-ngt-5k_groundtruth.ivecs
k: 10
runs: 1
algorithms:
  - name: fx
    index: faiss
    build: {factory: "$2"}
YAML
}
# timed LIMIT LABEL SUBSTRING... -- CMD: expect_fail within LIMIT seconds
timed() {
  local limit=$1; shift
  local t0=$SECONDS
  expect_fail "$@"
  [ $((SECONDS - t0)) -le "$limit" ] && ok "$1: within ${limit}s" || not_ok "$1: took $((SECONDS - t0))s"
}
for fs in PQ0 OPQ0,PQ8 HNSW32_PQ0 PQ128x0 IVF0,Flat PQ16x99 HNSW0 HNSW1 NSG0,Flat; do
  one "$WORK/f.yaml" "$fs"
  timed 20 "checked: $fs" "f.yaml:" "'fx'" "bad factory string '$fs'" -- \
    timeout -s KILL 60 "$CANNOLI" run "$WORK/f.yaml" --out "$WORK/o" --no-cache
  CANNOLI_FAISS_CHECK=0 CANNOLI_FAISS_TIMEOUT=4 timed 30 "isolated: $fs" "f.yaml:" "'fx'" "'$fs'" "inside Faiss" -- \
    timeout -s KILL 60 "$CANNOLI" run "$WORK/f.yaml" --out "$WORK/o" --no-cache
done
[ ! -s "$WORK/o/results.csv" ] || [ "$(wc -l <"$WORK/o/results.csv")" -le 1 ] && ok "no rows from failed builds" \
  || not_ok "rows from failed builds"

# The time limit on a build that would succeed: it is stopped and reported.
one "$WORK/t.yaml" "HNSW32,Flat"
CANNOLI_FAISS_TIMEOUT=0.05 timed 20 "time limit" "'HNSW32,Flat'" "timed out inside Faiss after 0.05 s" -- \
  "$CANNOLI" run "$WORK/t.yaml" --out "$WORK/t" --no-cache

# --keep-going: rows before and after the crashing build are written, and a
# crash in a later run leaves the earlier rows untouched.
cat >"$WORK/k.yaml" <<YAML
name: k
$ds
k: 10
runs: 1
build_threads: 2
algorithms:
  - name: before
    index: faiss
    build: {factory: "HNSW16,Flat", ef_construction: 40}
    search: {ef: [20]}
  - name: crash
    index: faiss
    build: {factory: "IVF0,Flat"}
  - name: after
    index: faiss
    build: {factory: "Flat"}
YAML
rc=0
t0=$SECONDS
CANNOLI_FAISS_CHECK=0 timeout -s KILL 120 "$CANNOLI" run "$WORK/k.yaml" --out "$WORK/k" --no-cache --keep-going \
  2>"$WORK/k.log" || rc=$?
[ "$rc" = 1 ] && ok "--keep-going past an aborting Faiss build exits 1 ($((SECONDS - t0))s)" \
  || { not_ok "--keep-going exit $rc"; cat "$WORK/k.log"; }
grep -q "crashed inside Faiss (SIGABRT" "$WORK/k.log" && ok "the abort is named: $(grep -o "crashed inside Faiss (SIGABRT[^)]*)" "$WORK/k.log")" \
  || { not_ok "abort not reported"; cat "$WORK/k.log"; }
csv_check "$WORK/k/results.csv" "rows of the other algorithms (the parent had used OpenMP for the ground truth)" "
assert sorted(r['algorithm'] for r in rows) == ['after', 'before'], [r['algorithm'] for r in rows]
assert float([r for r in rows if r['algorithm'] == 'before'][0]['recall']) > 0.8
"
sum_before=$(sha256sum <"$WORK/k/results.csv")
sed -i 's/name: after/name: after2/' "$WORK/k.yaml"
sed -i 's/factory: "Flat"/factory: "HNSW1"/' "$WORK/k.yaml"
CANNOLI_FAISS_CHECK=0 CANNOLI_FAISS_TIMEOUT=3 timeout -s KILL 120 "$CANNOLI" run "$WORK/k.yaml" --out "$WORK/k" \
  --no-cache --keep-going 2>"$WORK/k2.log" || true
[ "$(sha256sum <"$WORK/k/results.csv")" = "$sum_before" ] \
  && ok "earlier rows untouched by a run whose Faiss builds hang and abort" \
  || { not_ok "results changed"; cat "$WORK/k2.log"; }
finish
