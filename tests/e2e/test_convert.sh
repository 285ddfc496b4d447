# `cannoli convert` (texmex -> ANN-Benchmarks HDF5) and `cannoli groundtruth`:
# the HDF5 written must hold the same vectors, the fixture's neighbours with
# recomputed true distances, and a recomputed ground truth must agree with
# the shipped one (by distance: ties may reorder ids).
source "$(dirname "$0")/lib.sh"
need_fixtures fashion-mnist-5k_base.bvecs fashion-mnist-5k_query.bvecs fashion-mnist-5k_groundtruth.ivecs
B=$FIX/fashion-mnist-5k_base.bvecs; Q=$FIX/fashion-mnist-5k_query.bvecs; G=$FIX/fashion-mnist-5k_groundtruth.ivecs

"$CANNOLI" convert --train "$B" --test "$Q" --neighbors "$G" --distance euclidean -o "$WORK/fm.hdf5" >/dev/null \
  && ok "convert" || not_ok "convert failed"
"$CANNOLI" info "$WORK/fm.hdf5" >"$WORK/info.txt" && grep -q "784" "$WORK/info.txt" && ok "info on converted file" || not_ok "info"
cp "$WORK/fm.hdf5" "$WORK/fm-gt.hdf5"
"$CANNOLI" groundtruth "$WORK/fm-gt.hdf5" --k 100 >/dev/null 2>&1 && ok "groundtruth" || not_ok "groundtruth failed"
# No neighbours given: convert computes them.
"$CANNOLI" convert --train "$B" --test "$Q" --k 20 -o "$WORK/fm-nogt.hdf5" >/dev/null 2>&1 && ok "convert without neighbours" || not_ok "convert without neighbours"

if $PY - "$WORK" "$B" <<'PYEOF'
import sys, h5py, numpy as np
w, base = sys.argv[1], sys.argv[2]
raw = np.fromfile(base, dtype=np.uint8)
d = int(raw[:4].view(np.int32)[0])
X = raw.reshape(-1, d + 4)[:, 4:].astype(np.float32)
with h5py.File(f"{w}/fm.hdf5", "r") as f:
    assert f.attrs["distance"] in ("euclidean", b"euclidean"), f.attrs["distance"]
    tr, te = f["train"][:], f["test"][:]
    nb, di = f["neighbors"][:], f["distances"][:]
    assert tr.shape == (5000, 784) and tr.dtype == np.float32 and np.array_equal(tr, X)
    assert te.shape == (100, 784) and nb.shape == (100, 100) and di.shape == (100, 100)
    true = np.sqrt(((te[:, None, :].astype(np.float64) - tr[nb].astype(np.float64)) ** 2).sum(-1))
    assert np.allclose(true, di, rtol=1e-5, atol=1e-3), np.abs(true - di).max()
with h5py.File(f"{w}/fm-gt.hdf5", "r") as f:
    assert f["neighbors"].shape == (100, 100)
    assert np.allclose(f["distances"][:], di, rtol=1e-5, atol=1e-2), np.abs(f["distances"][:] - di).max()
with h5py.File(f"{w}/fm-nogt.hdf5", "r") as f:
    assert f["neighbors"].shape == (100, 20)
    assert np.allclose(f["distances"][:], di[:, :20], rtol=1e-5, atol=1e-2)
PYEOF
then ok "HDF5 contents: vectors, neighbours, true distances, recomputed ground truth"; else not_ok "HDF5 contents"; fi

expect_fail "convert: missing input" "absent.fvecs" -- "$CANNOLI" convert --train "$WORK/absent.fvecs" --test "$Q" -o "$WORK/x.hdf5"
[ ! -e "$WORK/x.hdf5" ] && ok "no output on failure" || not_ok "output written on failure"
finish
