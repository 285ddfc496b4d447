# kANNolo's recipe end to end on the real fixtures: one HNSW graph built on
# the full-precision vectors, searched through PQ codes; re-ranking the best
# candidates at full precision must bring recall@10 to >= 0.95 (SIFT 10k,
# euclidean; GloVe 10k, angular). The graph is built once and reused by every
# quantizer (the log says so); build_on: quantized builds its own; index bytes
# count the full vectors only on rows that re-rank.
source "$(dirname "$0")/lib.sh"
need_fixtures sift-debian-10k_base.bvecs sift-debian-10k_query.bvecs sift-debian-10k_groundtruth.ivecs \
  glove100-10k_base.fvecs glove100-10k_query.fvecs glove100-10k_groundtruth.ivecs

run_one() { # NAME BASE QUERY GT DISTANCE SUBSPACES
  cat >"$WORK/$1.yaml" <<YAML
name: e2e-$1
dataset:
  train: $FIX/$2
  test: $FIX/$3
  neighbors: $FIX/$4
  distance: $5
k: 10
runs: 1
algorithms:
  - name: plain
    index: hnsw
    build: {M: 16, ef_construction: 100}
    search: {ef: [64]}
  - name: pq
    index: hnsw
    quantizer: {name: pq, subspaces: $6, nbits: 8, iterations: 10}
    build: {M: 16, ef_construction: 100, build_on: [original, quantized]}
    search: {ef: [100, 200], rerank: [0, 100]}
YAML
  "$CANNOLI" run "$WORK/$1.yaml" --out "$WORK/$1" --cache-dir "$WORK/cache-$1" 2>"$WORK/$1.log" \
    && ok "$1: run exits 0" || { not_ok "$1: run failed"; cat "$WORK/$1.log"; return; }
  grep -q '^\[pq\] full-precision graph: loaded from cache' "$WORK/$1.log" \
    && ok "$1: PQ reuses the full-precision graph" || { not_ok "$1: graph not reused"; cat "$WORK/$1.log"; }
  csv_check "$WORK/$1/results.csv" "$1: HNSW+PQ with rerank reaches recall@10 >= 0.95; bytes honest" '
def rows_where(**kw):
    return [r for r in rows if all(r[k] == v for k, v in kw.items())]
orig = [r for r in rows if r["algorithm"] == "pq" and "build_on=original" in r["build_params"]]
quant = [r for r in rows if r["algorithm"] == "pq" and "build_on=quantized" in r["build_params"]]
assert len(orig) == 4 and len(quant) == 4, (len(orig), len(quant))
rr = [float(r["recall"]) for r in orig if "rerank=100" in r["search_params"]]
assert max(rr) >= 0.95, rr
no = [float(r["recall"]) for r in orig if "rerank=0" in r["search_params"]]
assert max(rr) > max(no), (rr, no)
plain = [r for r in rows if r["algorithm"] == "plain"][0]
for r in orig:
    b = int(r["index_bytes"])
    if "rerank=0" in r["search_params"]:
        assert b < int(plain["index_bytes"]), (b, plain["index_bytes"])
    else:
        assert b > int(plain["index_bytes"]), (b, plain["index_bytes"])
'
}
run_one sift sift-debian-10k_base.bvecs sift-debian-10k_query.bvecs sift-debian-10k_groundtruth.ivecs euclidean 16
run_one glove glove100-10k_base.fvecs glove100-10k_query.fvecs glove100-10k_groundtruth.ivecs angular 20
finish
