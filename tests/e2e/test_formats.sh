# NumPy .npy and big-ann .fbin/.u8bin/.ibin datasets: the sift-debian-10k
# fixture re-saved in those formats (numpy) runs end to end through a
# `dataset:` map and converts to HDF5 with the same vectors; broken files are
# one-line errors naming the file.
source "$(dirname "$0")/lib.sh"
need_fixtures sift-debian-10k_base.bvecs sift-debian-10k_query.bvecs sift-debian-10k_groundtruth.ivecs
$PY -c "import numpy" 2>/dev/null || { echo "SKIP: python3-numpy not installed"; exit 77; }
$PY - "$FIX" "$WORK" <<'PYEOF'
import sys, numpy as np
fix, w = sys.argv[1], sys.argv[2]
def xvecs(p, dt):
    raw = np.fromfile(p, dtype=np.uint8)
    d = int(raw[:4].view(np.int32)[0])
    size = np.dtype(dt).itemsize
    return raw.reshape(-1, 4 + d * size)[:, 4:].copy().view(dt)
B = xvecs(f"{fix}/sift-debian-10k_base.bvecs", np.uint8)
Q = xvecs(f"{fix}/sift-debian-10k_query.bvecs", np.uint8)
G = xvecs(f"{fix}/sift-debian-10k_groundtruth.ivecs", np.int32)
np.save(f"{w}/sift_base.npy", B.astype(np.float32))
np.save(f"{w}/sift_query.npy", Q)                      # uint8
np.save(f"{w}/sift_gt.npy", G.astype(np.int64))
np.save(f"{w}/sift_base16.npy", B.astype(np.float16))  # exact for 0..255
def binfile(p, a):
    with open(p, "wb") as f:
        np.array(a.shape, dtype=np.uint32).tofile(f); a.tofile(f)
binfile(f"{w}/sift_base.u8bin", B)
binfile(f"{w}/sift_query.fbin", Q.astype(np.float32))
binfile(f"{w}/sift_gt.ibin", G)
open(f"{w}/broken.npy", "wb").write(open(f"{w}/sift_query.npy", "rb").read()[:-7])
PYEOF
cfg() { # name train test neighbors
  cat >"$WORK/$1.yaml" <<YAML
name: $1
dataset: {train: $2, test: $3, neighbors: $4}
k: 10
runs: 1
algorithms:
  - index: hnsw
    build: {M: 8, ef_construction: 60}
    search: {ef: [40]}
YAML
}
cfg npy "$WORK/sift_base.npy" "$WORK/sift_query.npy" "$WORK/sift_gt.npy"
cfg npy16 "$WORK/sift_base16.npy" "$WORK/sift_query.npy" "$WORK/sift_gt.npy"
cfg bigann "$WORK/sift_base.u8bin" "$WORK/sift_query.fbin" "$WORK/sift_gt.ibin"
for c in npy npy16 bigann; do
  if "$CANNOLI" run "$WORK/$c.yaml" --out "$WORK/out-$c" --no-cache >"$WORK/$c.log" 2>&1; then
    csv_check "$WORK/out-$c/results.csv" "$c dataset runs: 10000 x 128, recall > 0.8" '
assert len(rows) == 1, rows
r = rows[0]
assert r["n_train"] == "10000" and r["n_test"] == "100" and r["dim"] == "128", r
assert float(r["recall"]) > 0.8, r["recall"]'
  else not_ok "$c run failed: $(tail -1 "$WORK/$c.log")"; fi
done
"$CANNOLI" convert --train "$WORK/sift_base.npy" --test "$WORK/sift_query.npy" --neighbors "$WORK/sift_gt.npy" \
  -o "$WORK/sift.hdf5" >/dev/null 2>&1 && ok "convert .npy -> HDF5" || not_ok "convert .npy"
if $PY - "$WORK" <<'PYEOF'
import sys, h5py, numpy as np
w = sys.argv[1]
with h5py.File(f"{w}/sift.hdf5", "r") as f:
    assert np.array_equal(f["train"][:], np.load(f"{w}/sift_base.npy"))
    assert np.array_equal(f["test"][:], np.load(f"{w}/sift_query.npy").astype(np.float32))
    assert np.array_equal(f["neighbors"][:], np.load(f"{w}/sift_gt.npy").astype(np.int32))
PYEOF
then ok "converted HDF5 holds the .npy contents"; else not_ok "converted HDF5 contents"; fi
expect_fail "truncated .npy" "broken.npy" "truncated" -- \
  "$CANNOLI" convert --train "$WORK/sift_base.npy" --test "$WORK/broken.npy" -o "$WORK/x.hdf5"
expect_fail "ids as vectors" "sift_gt.npy" "holds ids" -- \
  "$CANNOLI" convert --train "$WORK/sift_gt.npy" --test "$WORK/sift_query.npy" -o "$WORK/x.hdf5"
expect_fail "vectors as ids" "sift_base.npy" "int32 or int64" -- \
  "$CANNOLI" convert --train "$WORK/sift_base.npy" --test "$WORK/sift_query.npy" --neighbors "$WORK/sift_base.npy" -o "$WORK/x.hdf5"
[ ! -e "$WORK/x.hdf5" ] && ok "no output on failure" || not_ok "output written on failure"
finish
