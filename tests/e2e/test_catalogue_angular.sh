# Catalogue names: the GloVe fixture (angular, .fvecs) by name, and the
# synthetic embedded default that cannoli generates itself with exact ground
# truth. Checks recall thresholds and that `list` and `info` work.
source "$(dirname "$0")/lib.sh"
need_fixtures glove100-10k_base.fvecs glove100-10k_query.fvecs glove100-10k_groundtruth.ivecs

"$CANNOLI" list >"$WORK/list.txt" && grep -q "hnsw" "$WORK/list.txt" && grep -q "ef_construction" "$WORK/list.txt" \
  && grep -q "synth-20k-64-euclidean" "$WORK/list.txt" && ok "list shows components, parameters and catalogue" || not_ok "list"
"$CANNOLI" info glove100-10k >"$WORK/info.txt" && grep -q "cosine" "$WORK/info.txt" && grep -q "10000" "$WORK/info.txt" \
  && ok "info on a catalogue fixture" || { not_ok "info"; cat "$WORK/info.txt"; }

cat >"$WORK/glove.yaml" <<YAML
name: e2e-glove
dataset: glove100-10k
k: 10
runs: 1
algorithms:
  - name: flat
    index: flat
  - name: hnsw
    index: hnsw
    build: {M: 16, ef_construction: 200}
    search: {ef: [20, 100, 400]}
YAML
"$CANNOLI" run "$WORK/glove.yaml" --out "$WORK/glove" --no-cache 2>"$WORK/glove.log" && ok "glove run" || { not_ok "glove run"; cat "$WORK/glove.log"; }
csv_check "$WORK/glove/results.csv" "angular: flat exact, hnsw ef=400 >= 0.95" '
f = [r for r in rows if r["algorithm"] == "flat"][0]
assert float(f["recall"]) == 1.0, f["recall"]
h = [r for r in rows if r["search_params"] == "ef=400"][0]
assert float(h["recall"]) >= 0.95, h["recall"]
assert all(r["metric"] == "cosine" for r in rows)
assert all(r["dataset"] == "glove100-10k" for r in rows)'

# The synthetic default, generated into a private cache folder.
mkdir -p "$WORK/gen" && cd "$WORK/gen"
cat >"$WORK/gen/synth.yaml" <<YAML
dataset: synth-20k-64-euclidean
k: 10
runs: 1
threads: 2
algorithms:
  - name: flat
    index: flat
  - name: hnsw
    index: hnsw
    build: {M: 12, ef_construction: 100}
    search: {ef: [10, 64, 256]}
YAML
"$CANNOLI" run synth.yaml --no-cache 2>"$WORK/synth.log" && ok "synthetic run (name defaults to file stem)" || { not_ok "synthetic run"; cat "$WORK/synth.log"; }
[ -s datasets/cache/synth-20k-64-euclidean.hdf5 ] && ok "synthetic set cached as HDF5" || not_ok "no cached synthetic set"
csv_check results/synth/results.csv "synthetic: flat exact, hnsw ef=256 >= 0.95, threads recorded" '
f = [r for r in rows if r["algorithm"] == "flat"][0]
assert float(f["recall"]) == 1.0, f["recall"]
h = [r for r in rows if r["search_params"] == "ef=256"][0]
assert float(h["recall"]) >= 0.95, h["recall"]
assert all(r["threads"] == "2" for r in rows)
assert all(int(r["n_train"]) == 20000 and int(r["dim"]) == 64 for r in rows)'
cd "$SRC"
finish
