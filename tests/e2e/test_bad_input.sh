# Every bad input of the developers' brief: a clear one-line error naming the
# file and the problem, a non-zero exit, no crash, and earlier results intact.
source "$(dirname "$0")/lib.sh"
need_fixtures sift-ngt-5k_base.bvecs sift-ngt-5k_query.bvecs sift-ngt-5k_groundtruth.ivecs

BASE=$FIX/sift-ngt-5k_base.bvecs; QUERY=$FIX/sift-ngt-5k_query.bvecs; GT=$FIX/sift-ngt-5k_groundtruth.ivecs
cfg() { # cfg FILE DATASET-BLOCK ALGO-BLOCK [k]
  cat >"$1" <<YAML
name: bad
dataset:
$2
k: ${4:-10}
runs: 1
algorithms:
$3
YAML
}
DS="  train: $BASE
  test: $QUERY
  neighbors: $GT"
HNSW="  - name: h
    index: hnsw
    build: {M: 8, ef_construction: 40}
    search: {ef: [20]}"

# Malformed YAML.
printf 'name: x\nalgorithms: [\n  - {index: flat\n' >"$WORK/malformed.yaml"
expect_fail "malformed YAML" "malformed.yaml" "YAML" -- "$CANNOLI" run "$WORK/malformed.yaml" --out "$WORK/o1"

# Unknown component.
cfg "$WORK/unknown.yaml" "$DS" "  - name: h
    index: hnws"
expect_fail "unknown index" "unknown.yaml:" "hnws" -- "$CANNOLI" run "$WORK/unknown.yaml" --out "$WORK/o2"
cfg "$WORK/unknownq.yaml" "$DS" "  - name: h
    index: hnsw
    quantizer: pqq"
expect_fail "unknown quantizer" "unknownq.yaml:" "pqq" -- "$CANNOLI" run "$WORK/unknownq.yaml" --out "$WORK/o2"

# Unknown / out-of-range parameter.
cfg "$WORK/param.yaml" "$DS" "  - name: h
    index: hnsw
    build: {M: 1}"
expect_fail "M out of range" "param.yaml:" "'M'" -- "$CANNOLI" run "$WORK/param.yaml" --out "$WORK/o3"
cfg "$WORK/param2.yaml" "$DS" "  - name: h
    index: hnsw
    build: {MM: 16}"
expect_fail "unknown parameter" "param2.yaml:" "MM" -- "$CANNOLI" run "$WORK/param2.yaml" --out "$WORK/o3"
cfg "$WORK/param3.yaml" "$DS" "  - name: h
    index: hnsw
    build: {M: 8, build_on: [original, sideways]}"
expect_fail "bad build_on" "param3.yaml:11:" "build_on" "sideways" -- "$CANNOLI" run "$WORK/param3.yaml" --out "$WORK/o3"
cfg "$WORK/param4.yaml" "$DS" "  - name: h
    index: hnsw
    build: {M: 8}
    search: {ef: 20, rerank: -3}"
expect_fail "negative rerank" "param4.yaml:12:" "rerank" -- "$CANNOLI" run "$WORK/param4.yaml" --out "$WORK/o3"
cfg "$WORK/param5.yaml" "$DS" "  - name: h
    index: hnsw
    build: {M: 8, ef_construction: 40}
    search: {ef: 20, rerank: 50}"
expect_fail "rerank without a lossy quantizer" "param5.yaml" "rerank" -- "$CANNOLI" run "$WORK/param5.yaml" --out "$WORK/o3b" --no-cache

# Missing config, missing dataset.
expect_fail "missing config file" "nope.yaml" -- "$CANNOLI" run "$WORK/nope.yaml"
cfg "$WORK/missing.yaml" "  train: $WORK/absent_base.fvecs
  test: $QUERY" "$HNSW"
expect_fail "missing dataset file" "absent_base.fvecs" -- "$CANNOLI" run "$WORK/missing.yaml" --out "$WORK/o4"
cat >"$WORK/missing2.yaml" <<YAML
dataset: no-such-dataset-name
algorithms: [{index: flat}]
YAML
expect_fail "unknown dataset name" "no-such-dataset-name" -- "$CANNOLI" run "$WORK/missing2.yaml" --out "$WORK/o4"

# Wrong dimensions: queries of another dimension than the base.
$PY - "$WORK/q64.fvecs" <<'PYEOF'
import struct, sys
with open(sys.argv[1], "wb") as f:
    for i in range(10):
        f.write(struct.pack("<i", 64) + struct.pack("<64f", *([0.5] * 64)))
PYEOF
cfg "$WORK/dims.yaml" "  train: $BASE
  test: $WORK/q64.fvecs" "$HNSW"
expect_fail "wrong dimensions" "64" "128" -- "$CANNOLI" run "$WORK/dims.yaml" --out "$WORK/o5"

# Truncated file: the base cut in the middle of a record.
head -c 100000 "$BASE" >"$WORK/trunc_base.bvecs"
cfg "$WORK/trunc.yaml" "  train: $WORK/trunc_base.bvecs
  test: $QUERY" "$HNSW"
expect_fail "truncated vectors file" "trunc_base.bvecs" -- "$CANNOLI" run "$WORK/trunc.yaml" --out "$WORK/o6"

# Corrupt HDF5 (garbage bytes with the right extension).
head -c 4096 /dev/urandom >"$WORK/garbage.hdf5"
cat >"$WORK/garbage.yaml" <<YAML
dataset: $WORK/garbage.hdf5
algorithms: [{index: flat}]
YAML
expect_fail "corrupt HDF5" "garbage.hdf5" -- "$CANNOLI" run "$WORK/garbage.yaml" --out "$WORK/o7"

# NaN in the data.
$PY - "$WORK/nan_base.fvecs" <<'PYEOF'
import struct, sys
with open(sys.argv[1], "wb") as f:
    for i in range(50):
        v = [float(i)] * 8
        if i == 17: v[3] = float("nan")
        f.write(struct.pack("<i", 8) + struct.pack("<8f", *v))
PYEOF
$PY - "$WORK/nan_query.fvecs" <<'PYEOF'
import struct, sys
with open(sys.argv[1], "wb") as f:
    for i in range(5):
        f.write(struct.pack("<i", 8) + struct.pack("<8f", *([1.0] * 8)))
PYEOF
cfg "$WORK/nan.yaml" "  train: $WORK/nan_base.fvecs
  test: $WORK/nan_query.fvecs" "  - name: f
    index: flat"
expect_fail "NaN in vectors" "nan_base.fvecs" "NaN" -- "$CANNOLI" run "$WORK/nan.yaml" --out "$WORK/o8"

# k larger than n, and k larger than the ground truth.
cfg "$WORK/bigk.yaml" "  train: $WORK/nan_query.fvecs
  test: $WORK/nan_query.fvecs" "  - name: f
    index: flat" 10
expect_fail "k larger than n" "bigk.yaml" "k = 10" -- "$CANNOLI" run "$WORK/bigk.yaml" --out "$WORK/o9"
cfg "$WORK/bigk2.yaml" "$DS" "$HNSW" 101
expect_fail "k larger than ground truth" "k = 101" -- "$CANNOLI" run "$WORK/bigk2.yaml" --out "$WORK/o9"

# ef below k.
cfg "$WORK/ef.yaml" "$DS" "  - name: h
    index: hnsw
    search: {ef: [5, 20]}"
expect_fail "ef smaller than k" "ef.yaml:" "ef = 5" -- "$CANNOLI" run "$WORK/ef.yaml" --out "$WORK/o10"

# Never destroys earlier results: a CSV of another layout is left untouched.
mkdir -p "$WORK/o11"
printf 'a,b\n1,2\n' >"$WORK/o11/results.csv"
cp "$WORK/o11/results.csv" "$WORK/before.csv"
cfg "$WORK/good.yaml" "$DS" "$HNSW"
expect_fail "foreign CSV is not appended to" "results.csv" "columns" -- "$CANNOLI" run "$WORK/good.yaml" --out "$WORK/o11"
cmp -s "$WORK/o11/results.csv" "$WORK/before.csv" && ok "foreign CSV unchanged" || not_ok "foreign CSV was modified"

# A failing run keeps the rows of an earlier successful one.
"$CANNOLI" run "$WORK/good.yaml" --out "$WORK/o12" --no-cache 2>/dev/null && ok "good run" || not_ok "good run failed"
cp "$WORK/o12/results.csv" "$WORK/good.csv"
cat >>"$WORK/good.yaml" <<YAML
  - name: h2
    index: hnsw
    search: {ef: [4]}
YAML
expect_fail "later bad config" "ef = 4" -- "$CANNOLI" run "$WORK/good.yaml" --out "$WORK/o12"
cmp -s "$WORK/o12/results.csv" "$WORK/good.csv" && ok "earlier results intact" || not_ok "earlier results changed"

# Corrupt / truncated saved index in the cache is rebuilt, not trusted.
cfg "$WORK/good2.yaml" "$DS" "$HNSW"
"$CANNOLI" run "$WORK/good2.yaml" --out "$WORK/o14" --cache-dir "$WORK/cache" 2>/dev/null || true
for f in "$WORK"/cache/*.cnidx; do
  [ -e "$f" ] || continue
  sz=$(stat -c %s "$f"); head -c $((sz / 2)) "$f" >"$f.t" && mv "$f.t" "$f"
done
rm -rf "$WORK/o14"
"$CANNOLI" run "$WORK/good2.yaml" --out "$WORK/o14" --cache-dir "$WORK/cache" 2>"$WORK/cache.log" \
  && grep -q "not used" "$WORK/cache.log" && ok "truncated cached index is detected and rebuilt" \
  || { not_ok "truncated cache entry"; cat "$WORK/cache.log"; }

# Usage errors.
expect_fail "unknown command" "frobnicate" -- "$CANNOLI" frobnicate
expect_fail "unknown option" "--bogus" -- "$CANNOLI" run "$WORK/good.yaml" --bogus
finish
