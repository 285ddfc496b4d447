# Sparse vectors end to end (issue 4): the CLI reads big-ann .csr files and
# texmex ground truth directly (the `dataset:` map form), builds the same
# HNSW code over the sparse store, the exact and pruned inverted index and
# flat, and the CSV must show HNSW recall@10 >= 0.9, exact inverted and flat
# recall 1.0 (ties judged by score), on the SPLADE and BM25 fixtures.
# `cannoli convert` must turn .csr and kANNolo .bin into the sparse HDF5
# layout that loads back with the same recall; malformed sparse files must
# fail with one line naming the file and the problem.
source "$(dirname "$0")/lib.sh"
need_fixtures splade-v3-8k.base.csr splade-v3-8k.query.csr splade-v3-8k_groundtruth.ivecs \
  debian-bm25-8k.base.csr debian-bm25-8k.query.csr debian-bm25-8k_groundtruth.ivecs

run_one() { # NAME STEM
  cat >"$WORK/$1.yaml" <<YAML
name: e2e-$1
dataset:
  train: $FIX/$2.base.csr
  test: $FIX/$2.query.csr
  neighbors: $FIX/$2_groundtruth.ivecs
  distance: ip
k: 10
runs: 1
algorithms:
  - name: flat
    index: flat
  - name: inverted
    index: inverted
    search: {keep: [1, 0.3]}
  - name: hnsw
    index: hnsw
    build: {M: 16, ef_construction: 100}
    search: {ef: [40, 100, 200]}
YAML
  "$CANNOLI" run "$WORK/$1.yaml" --out "$WORK/$1" --cache-dir "$WORK/cache" 2>"$WORK/$1.log" \
    && ok "$1: run exits 0" || { not_ok "$1: run failed"; cat "$WORK/$1.log"; return; }
  csv_check "$WORK/$1/results.csv" "$1: hnsw >= 0.9, exact inverted and flat 1.0" '
rec = lambda alg, sp=None: [float(r["recall"]) for r in rows if r["algorithm"] == alg and (sp is None or r["search_params"] == sp)]
assert all(r["metric"] == "ip" for r in rows)
assert min(rec("flat")) >= 0.999, rec("flat")
assert min(rec("inverted", "keep=1")) >= 0.999, rec("inverted", "keep=1")
assert max(rec("hnsw")) >= 0.9, rec("hnsw")
pruned = [r for r in rows if r["search_params"] == "keep=0.3"][0]
exact = [r for r in rows if r["search_params"] == "keep=1"][0]
assert float(pruned["dist_per_query"]) < float(exact["dist_per_query"]), (pruned, exact)
'
}
run_one splade splade-v3-8k
run_one bm25 debian-bm25-8k

# convert .csr -> sparse HDF5, and the catalogue name; both load with recall 1.0 for flat
"$CANNOLI" convert --train "$FIX/debian-bm25-8k.base.csr" --test "$FIX/debian-bm25-8k.query.csr" \
  --neighbors "$FIX/debian-bm25-8k_groundtruth.ivecs" -o "$WORK/bm25.hdf5" >"$WORK/conv.txt" 2>&1 \
  && ok "convert .csr -> HDF5" || { not_ok "convert .csr failed"; cat "$WORK/conv.txt"; }
"$CANNOLI" info "$WORK/bm25.hdf5" | grep -q "train      8000" && ok "sparse HDF5 info" || not_ok "sparse HDF5 info"

# kANNolo .bin (u32 count; per vector u32 nnz, u32 components, f32 values) from the fixture
$PY - "$FIX/debian-bm25-8k.base.csr" "$WORK/base.bin" "$FIX/debian-bm25-8k.query.csr" "$WORK/query.bin" <<'PY'
import struct, sys
for src, dst in ((sys.argv[1], sys.argv[2]), (sys.argv[3], sys.argv[4])):
    b = open(src, "rb").read()
    nrow, ncol, nnz = struct.unpack_from("<3q", b, 0)
    ptr = struct.unpack_from("<%dq" % (nrow + 1), b, 24)
    ind = struct.unpack_from("<%di" % nnz, b, 24 + 8 * (nrow + 1))
    val = struct.unpack_from("<%df" % nnz, b, 24 + 8 * (nrow + 1) + 4 * nnz)
    out = [struct.pack("<I", nrow)]
    for i in range(nrow):
        a, e = ptr[i], ptr[i + 1]
        out.append(struct.pack("<I", e - a) + struct.pack("<%dI" % (e - a), *ind[a:e]) + struct.pack("<%df" % (e - a), *val[a:e]))
    open(dst, "wb").write(b"".join(out))
PY
"$CANNOLI" convert --train "$WORK/base.bin" --test "$WORK/query.bin" --k 10 -o "$WORK/bin.hdf5" >"$WORK/conv2.txt" 2>&1 \
  && ok "convert kANNolo .bin -> HDF5 (exact ground truth computed)" || { not_ok "convert .bin failed"; cat "$WORK/conv2.txt"; }
cat >"$WORK/h5.yaml" <<YAML
name: e2e-h5
dataset: $WORK/bin.hdf5
k: 10
runs: 1
algorithms:
  - name: inverted
    index: inverted
  - name: flat
    index: flat
YAML
"$CANNOLI" run "$WORK/h5.yaml" --out "$WORK/h5" --no-cache 2>"$WORK/h5.log" \
  && csv_check "$WORK/h5/results.csv" "sparse HDF5 from .bin: exact recall 1.0" '
assert len(rows) == 2 and all(float(r["recall"]) >= 0.999 for r in rows), [r["recall"] for r in rows]
' || { not_ok "run on converted HDF5 failed"; cat "$WORK/h5.log"; }

# malformed sparse input: one line, naming the file and the problem
head -c 1000 "$FIX/debian-bm25-8k.base.csr" >"$WORK/trunc.csr"
expect_fail "truncated .csr" "trunc.csr" "truncated" -- \
  "$CANNOLI" convert --train "$WORK/trunc.csr" --test "$FIX/debian-bm25-8k.query.csr" -o "$WORK/x.hdf5"
$PY - "$WORK/dup.csr" <<'PY'
import struct, sys
ptr = [0, 3, 5]; ind = [1, 7, 7, 2, 4]; val = [1.0] * 5
open(sys.argv[1], "wb").write(struct.pack("<3q", 2, 10, 5) + struct.pack("<3q", *ptr) + struct.pack("<5i", *ind) + struct.pack("<5f", *val))
PY
expect_fail "duplicate component" "dup.csr" "vector 0: duplicate component 7" -- \
  "$CANNOLI" convert --train "$WORK/dup.csr" --test "$WORK/dup.csr" -o "$WORK/x.hdf5"
$PY - "$WORK/oor.csr" <<'PY'
import struct, sys
open(sys.argv[1], "wb").write(struct.pack("<3q", 1, 10, 2) + struct.pack("<2q", 0, 2) + struct.pack("<2i", 3, 12) + struct.pack("<2f", 1, 1))
PY
expect_fail "out-of-range component" "oor.csr" "component 12 is outside the 10 columns" -- \
  "$CANNOLI" convert --train "$WORK/oor.csr" --test "$WORK/oor.csr" -o "$WORK/x.hdf5"
head -c 5000 "$WORK/base.bin" >"$WORK/trunc.bin"
expect_fail "truncated kANNolo .bin" "trunc.bin" "truncated" -- \
  "$CANNOLI" convert --train "$WORK/trunc.bin" --test "$WORK/query.bin" -o "$WORK/x.hdf5"
cat >"$WORK/bad.yaml" <<YAML
dataset: {train: $WORK/dup.csr, test: $WORK/dup.csr}
algorithms:
  - {name: flat, index: flat}
YAML
expect_fail "run on a duplicate component" "dup.csr" "duplicate component" -- \
  "$CANNOLI" run "$WORK/bad.yaml" --out "$WORK/bad"
cat >"$WORK/l2.yaml" <<YAML
dataset: {train: $FIX/debian-bm25-8k.base.csr, test: $FIX/debian-bm25-8k.query.csr, distance: euclidean}
algorithms:
  - {name: flat, index: flat}
YAML
expect_fail "sparse with a euclidean metric" "not supported for sparse vectors" -- \
  "$CANNOLI" run "$WORK/l2.yaml" --out "$WORK/l2"
finish
