# Hostile inputs through the CLI (issue 14), complementing test_bad_input.sh
# (which covers the developers' brief: malformed YAML, unknown components,
# wrong dimensions, truncated and corrupt files, NaN, k > n, missing files).
# Each case must end as exactly one stderr line "cannoli: ..." naming the
# file, an exit status in 1..127, within a wall-time bound; a run's bad
# input must leave the rows of an earlier run untouched (checksum); the
# sparse files that declare a dimension of 4e9 must run in under 512 MiB.
source "$(dirname "$0")/lib.sh"
need_fixtures sift-ngt-5k_base.bvecs sift-ngt-5k_query.bvecs sift-ngt-5k_groundtruth.ivecs
MKH5=$(dirname "$CANNOLI")/tests/cn_mkh5
[ -x "$MKH5" ] || { echo "SKIP: $MKH5 not built"; exit 77; }
BASE=$PWD/$FIX/sift-ngt-5k_base.bvecs; QUERY=$PWD/$FIX/sift-ngt-5k_query.bvecs
GT=$PWD/$FIX/sift-ngt-5k_groundtruth.ivecs
W=$WORK

# Earlier rows that no bad run may touch.
KEEP=$W/keep
cat >"$W/good.yaml" <<YAML
name: good
dataset: {train: $BASE, test: $QUERY, neighbors: $GT}
k: 10
runs: 1
algorithms: [{name: flat, index: flat}]
YAML
"$CANNOLI" run "$W/good.yaml" --out "$KEEP" --no-cache 2>/dev/null || { not_ok "good run"; finish; }
SUM=$(sha256sum <"$KEEP/results.csv")

# bad SECONDS LABEL SUBSTRING... -- COMMAND...: expect_fail (one line, exit
# 1..127, every substring) within SECONDS, and the earlier rows intact.
bad() {
  local limit=$1 label=$2; shift
  local t0; t0=$(date +%s%N)
  expect_fail "$@"
  local ms=$((($(date +%s%N) - t0) / 1000000))
  if [ "$ms" -gt $((limit * 1000)) ]; then not_ok "$label: took ${ms} ms (bound ${limit} s)"; fi
  [ "$(sha256sum <"$KEEP/results.csv")" = "$SUM" ] || not_ok "$label: earlier rows changed"
}
run_cfg() { timeout -s KILL 60 "$CANNOLI" run "$1" --out "$KEEP" --no-cache; }
cfg_ds() { # cfg_ds FILE DATASET-VALUE
  printf 'name: good\ndataset: %s\nk: 1\nruns: 1\nalgorithms: [{name: flat, index: flat}]\n' "$2" >"$1"
}

# ---- experiment files ------------------------------------------------------
$PY -c "print('name: good\nalgorithms: ' + '[' * 200000 + ']' * 200000)" >"$W/deep.yaml"
bad 2 "400 KB of nested lists" "deep.yaml:2:" "nested more than 64" -- run_cfg "$W/deep.yaml"
$PY -c "print('name: good\ndataset: ' + '{a: ' * 60000 + '1' + '}' * 60000)" >"$W/deepmap.yaml"
bad 2 "nested maps" "deepmap.yaml:2:" "nested more than 64" -- run_cfg "$W/deepmap.yaml"
$PY -c "print('algorithms:\n' + '- ' * 100000 + 'x')" >"$W/deepblock.yaml"
bad 2 "nested block lists" "deepblock.yaml:2:" "nested more than 64" -- run_cfg "$W/deepblock.yaml"
mkfifo "$W/fifo.yaml"
bad 5 "config is a FIFO" "fifo.yaml" "not a regular file" -- run_cfg "$W/fifo.yaml"
mkdir "$W/dir.yaml"
bad 5 "config is a directory" "dir.yaml" "is a directory" -- run_cfg "$W/dir.yaml"
: >"$W/empty.yaml"
bad 5 "empty config" "empty.yaml:1:" "empty document" -- run_cfg "$W/empty.yaml"
printf 'name: good\n\xff\xfe: [1\n' >"$W/binary.yaml"
bad 5 "invalid UTF-8" "binary.yaml" -- run_cfg "$W/binary.yaml"
# (run from a sandbox two levels down, so a binary that lets a name escape
# writes inside $W, not beside the source tree)
mkdir -p "$W/sb/a/b"
CANNOLI_ABS=$(realpath "$CANNOLI")
in_sb() { (cd "$W/sb/a/b" && exec timeout -s KILL 60 "$CANNOLI_ABS" run "$1" --no-cache); }
for n in '../../x' '/tmp/x' '.hidden' 'a/b' '..'; do
  printf 'name: "%s"\ndataset: {train: %s, test: %s}\nalgorithms: [{index: flat}]\n' "$n" "$BASE" "$QUERY" >"$W/name.yaml"
  bad 5 "name '$n'" "name.yaml:1:" "one folder name" -- in_sb "$W/name.yaml"
done
[ -z "$(find "$W/sb" -name results.csv)" ] && ok "no results written for a name outside results/" \
  || not_ok "a name escaped results/: $(find "$W/sb" -name results.csv)"

# ---- dataset paths -----------------------------------------------------------
cfg_ds "$W/dsdir.yaml" "$W"
bad 5 "dataset is a directory" "$W" "is a directory" -- run_cfg "$W/dsdir.yaml"
cfg_ds "$W/dsdev.yaml" /dev/zero
bad 5 "dataset is a device" "/dev/zero" "not a regular file" -- run_cfg "$W/dsdev.yaml"
mkfifo "$W/fifo_base.fvecs"
cfg_ds "$W/dsfifo.yaml" "{train: $W/fifo_base.fvecs, test: $QUERY}"
bad 5 "dataset file is a FIFO" "fifo_base.fvecs" "not a regular file" -- run_cfg "$W/dsfifo.yaml"
for ext in npy fbin u8bin; do
  mkfifo "$W/fifo_base.$ext"
  cfg_ds "$W/dsfifo_$ext.yaml" "{train: $W/fifo_base.$ext, test: $QUERY}"
  bad 5 "dataset .$ext is a FIFO" "fifo_base.$ext" "not a regular file" -- run_cfg "$W/dsfifo_$ext.yaml"
done
cfg_ds "$W/dsmapdir.yaml" "{train: $BASE, test: $QUERY, neighbors: $W}"
bad 5 "neighbours file is a directory" "$W" "is a directory" -- run_cfg "$W/dsmapdir.yaml"
bad 5 "info on a device" "/dev/null" "not a regular file" -- "$CANNOLI" info /dev/null

# ---- convert / groundtruth -------------------------------------------------------
bad 5 "convert from a FIFO" "fifo_base.fvecs" "not a regular file" -- \
  timeout -s KILL 30 "$CANNOLI" convert --train "$W/fifo_base.fvecs" --test "$QUERY" -o "$W/c.hdf5"
bad 5 "convert from a .npy FIFO" "fifo_base.npy" "not a regular file" -- \
  timeout -s KILL 30 "$CANNOLI" convert --train "$W/fifo_base.npy" --test "$QUERY" -o "$W/c.hdf5"
mkfifo "$W/out_fifo.hdf5"
bad 20 "convert -o a FIFO" "out_fifo.hdf5" "not a regular file" -- \
  "$CANNOLI" convert --train "$BASE" --test "$QUERY" --neighbors "$GT" -o "$W/out_fifo.hdf5"
[ -p "$W/out_fifo.hdf5" ] && ok "the FIFO is still a FIFO" || not_ok "convert replaced the FIFO"
mkdir "$W/out_dir.hdf5"
bad 20 "convert -o a directory" "out_dir.hdf5" "is a directory" -- \
  "$CANNOLI" convert --train "$BASE" --test "$QUERY" --neighbors "$GT" -o "$W/out_dir.hdf5"
[ -z "$(ls "$W" | grep -F 'hdf5.tmp')" ] && ok "no temporary files left" || not_ok "temporary files: $(ls "$W")"
"$CANNOLI" convert --train "$BASE" --test "$QUERY" --neighbors "$GT" -o "$W/ok.hdf5" >/dev/null 2>&1 \
  && ok "convert to a regular file" || not_ok "convert to a regular file"
# A full disk (writes fail: a file-size limit with SIGXFSZ ignored) while
# converting over an existing file: one line, exit 1 (HDF5's exit handler
# used to crash on the half-closed file: SIGSEGV), the old file intact.
sum_ok=$(sha256sum <"$W/ok.hdf5")
full() { (trap '' XFSZ; ulimit -f 8; exec "$CANNOLI" convert --train "$BASE" --test "$QUERY" --neighbors "$GT" -o "$W/ok.hdf5"); }
bad 20 "convert onto a full disk" "ok.hdf5" "disk full" -- full
[ "$(sha256sum <"$W/ok.hdf5")" = "$sum_ok" ] && [ -z "$(ls "$W" | grep -F 'hdf5.tmp')" ] \
  && ok "the existing output is intact, no temporary file left" || not_ok "full disk: output changed or temporary left"
bad 5 "groundtruth --threads 100000" "--threads" "1024" -- "$CANNOLI" groundtruth "$W/ok.hdf5" --threads 100000

# ---- sparse files ------------------------------------------------------------------
$PY - "$W" <<'PYEOF'
import struct, sys
w = sys.argv[1]
def kbin(path, rows):
    with open(path, "wb") as f:
        f.write(struct.pack("<I", len(rows)))
        for r in rows:
            f.write(struct.pack("<I", len(r)))
            f.write(struct.pack("<%dI" % len(r), *[c for c, _ in r]))
            f.write(struct.pack("<%df" % len(r), *[v for _, v in r]))
kbin(f"{w}/huge.bin", [[(3, 0.5), (4000000000, 2.0)]])          # 24 bytes, dimension 4e9
assert len(open(f"{w}/huge.bin", "rb").read()) == 24
kbin(f"{w}/hq.bin", [[(3, 1.0)], [(5, 1.0), (4000000000, 1.0)]])
kbin(f"{w}/ok.bin", [[(1, 1.0), (2, 1.0)], [(2, 1.0)]])
def csr(path, ncol, ptr, idx, val, nnz=None):
    with open(path, "wb") as f:
        f.write(struct.pack("<3q", len(ptr) - 1, ncol, len(idx) if nnz is None else nnz))
        f.write(struct.pack("<%dq" % len(ptr), *ptr))
        f.write(struct.pack("<%di" % len(idx), *idx))
        f.write(struct.pack("<%df" % len(val), *val))
csr(f"{w}/huge.csr", 4000000000, [0, 2], [3, 2000000000], [0.5, 2.0])
csr(f"{w}/hq.csr", 4000000000, [0, 1], [3], [1.0])
csr(f"{w}/negptr.csr", 10, [0, -1, 2], [1, 2], [1.0, 1.0])
csr(f"{w}/negidx.csr", 10, [0, 2], [1, -2], [1.0, 1.0])
csr(f"{w}/lies.csr", 10, [0, 2], [1, 2], [1.0, 1.0], nnz=1 << 40)
# .gt100 whose nq * k * 8 wraps 2^64 to the file's own size (1263665316 x
# 1824726041 = 2^61 + 4: 32 bytes of entries): the old check passed and the
# allocation failed ("out of memory").
nq, k = 1263665316, 1824726041
assert (nq * k * 8) % (1 << 64) == 32
with open(f"{w}/wrap.gt100", "wb") as f:
    f.write(struct.pack("<2i", nq, k) + b"\0" * 32)
with open(f"{w}/short.gt100", "wb") as f:
    f.write(struct.pack("<2i", 2, 10) + b"\0" * 16)
with open(f"{w}/lies.bin", "wb") as f:
    f.write(struct.pack("<II", 1000000000, 4000000000))
PYEOF
sp() { # sp FILE TRAIN TEST [NEIGHBORS]
  printf 'name: sp\ndataset: {train: %s, test: %s%s}\nk: 1\nruns: 1\nalgorithms:\n  - {name: flat, index: flat}\n  - {name: inv, index: inverted}\n  - {name: h, index: hnsw, search: {ef: [10]}}\n' \
    "$2" "$3" "${4:+, neighbors: $4}" >"$1"
}
asan=0
libs=$(ldd "$CANNOLI" 2>/dev/null || true)  # read whole: `ldd | grep -q` races under pipefail
grep -q 'libasan\|libclang_rt.asan' <<<"$libs" && asan=1
# ok_mem LABEL -- COMMAND: exit 0 in under 512 MiB (ulimit -v outside ASan,
# which reserves terabytes of shadow; peak RSS measured in both).
ok_mem() {
  local label=$1; shift 2
  local rc=0
  # peak RSS of the command (KiB), by python (GNU time may be absent)
  local peak=(python3 -c 'import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
open(sys.argv[1], "w").write("%d\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(rc)' "$W/rss")
  if [ "$asan" = 1 ]; then
    "${peak[@]}" "$@" >"$W/mem.out" 2>"$W/mem.err" || rc=$?
  else
    (ulimit -v 524288; exec "${peak[@]}" "$@") >"$W/mem.out" 2>"$W/mem.err" || rc=$?
  fi
  local kb; kb=$(tail -1 "$W/rss" 2>/dev/null || echo 0)
  if [ "$rc" = 0 ] && [ "$kb" -lt 524288 ]; then ok "$label: peak RSS $((kb / 1024)) MiB"
  else not_ok "$label: exit $rc, peak RSS ${kb} KiB"; cat "$W/mem.err"; fi
}
sp "$W/huge.yaml" "$W/huge.bin" "$W/hq.bin"
ok_mem "24-byte kANNolo .bin declaring dimension 4e9 (flat, inverted, hnsw)" -- \
  "$CANNOLI" run "$W/huge.yaml" --out "$W/huge" --no-cache
csv_check "$W/huge/results.csv" "the 4e9-dimension set is searched exactly" "
assert sorted(r['algorithm'] for r in rows) == ['flat', 'h', 'inv'], rows
assert all(float(r['recall']) == 1.0 for r in rows), [r['recall'] for r in rows]
"
sp "$W/hugecsr.yaml" "$W/huge.csr" "$W/hq.csr"
ok_mem ".csr declaring 4e9 columns" -- "$CANNOLI" run "$W/hugecsr.yaml" --out "$W/hugecsr" --no-cache
"$MKH5" "$W/dim.hdf5" 4000000000 "0,2" "1,3999999999" "1,1" "0,1" "1" "1"
printf 'name: dimh5\ndataset: %s\nk: 1\nruns: 1\nalgorithms: [{name: inv, index: inverted}, {name: h, index: hnsw}]\n' \
  "$W/dim.hdf5" >"$W/dimh5.yaml"
ok_mem "sparse HDF5 with 'dimension' 4e9" -- "$CANNOLI" run "$W/dimh5.yaml" --out "$W/dimh5" --no-cache
ok_mem "groundtruth on it" -- "$CANNOLI" groundtruth "$W/dim.hdf5" --k 1
ok_mem "convert of the 24-byte file (ground truth computed)" -- \
  "$CANNOLI" convert --train "$W/huge.bin" --test "$W/hq.bin" --k 1 -o "$W/huge.hdf5"

"$MKH5" "$W/negidx.hdf5" 0 "0,2" "1,-3" "1,1" "0,1" "1" "1"
cfg_ds "$W/negidx.yaml" "$W/negidx.hdf5"
bad 5 "negative indices in sparse HDF5" "negidx.hdf5" "train_indices" "-3" -- run_cfg "$W/negidx.yaml"
"$MKH5" "$W/negptr.hdf5" 0 "0,2" "1,3" "1,1" "0,-1" "1" "1"
cfg_ds "$W/negptr.yaml" "$W/negptr.hdf5"
bad 5 "negative indptr in sparse HDF5" "negptr.hdf5" "test_indptr" "negative" -- run_cfg "$W/negptr.yaml"
"$MKH5" "$W/bigidx.hdf5" 0 "0,1" "4294967296" "1" "0,1" "1" "1"
cfg_ds "$W/bigidx.yaml" "$W/bigidx.hdf5"
bad 5 "component 2^32 in sparse HDF5" "bigidx.hdf5" "train_indices" -- run_cfg "$W/bigidx.yaml"
for f in negptr negidx lies; do
  cfg_ds "$W/csr_$f.yaml" "{train: $W/$f.csr, test: $W/ok.bin}"
  bad 5 ".csr: $f" "$f.csr" -- run_cfg "$W/csr_$f.yaml"
done
cfg_ds "$W/binlies.yaml" "{train: $W/lies.bin, test: $W/ok.bin}"
bad 5 "kANNolo .bin announcing 1e9 vectors" "lies.bin" "truncated" -- run_cfg "$W/binlies.yaml"
cfg_ds "$W/wrap.yaml" "{train: $W/ok.bin, test: $W/ok.bin, neighbors: $W/wrap.gt100}"
bad 5 ".gt100 whose size wraps 2^64" "wrap.gt100" "too many entries" -- run_cfg "$W/wrap.yaml"
cfg_ds "$W/short.yaml" "{train: $W/ok.bin, test: $W/ok.bin, neighbors: $W/short.gt100}"
bad 5 "truncated .gt100" "short.gt100" -- run_cfg "$W/short.yaml"

# ---- dense files -------------------------------------------------------------------
$PY - "$W" <<'PYEOF'
import struct, sys
w = sys.argv[1]
open(f"{w}/negdim.fvecs", "wb").write(struct.pack("<i", -4) + b"\0" * 16)
open(f"{w}/hugedim.fvecs", "wb").write(struct.pack("<i", 2**31 - 1) + b"\0" * 16)
open(f"{w}/tiny.fvecs", "wb").write(b"\1\0")
with open(f"{w}/inf_q.fvecs", "wb") as f:
    for i in range(3):
        f.write(struct.pack("<i", 128) + struct.pack("<128f", *([float("inf") if i == 1 else 1.0] * 128)))
with open(f"{w}/badgt.ivecs", "wb") as f:
    for i in range(100):
        f.write(struct.pack("<i", 1) + struct.pack("<i", 999999))
PYEOF
for f in negdim hugedim tiny; do
  cfg_ds "$W/d_$f.yaml" "{train: $W/$f.fvecs, test: $QUERY}"
  bad 5 ".fvecs: $f" "$f.fvecs" -- run_cfg "$W/d_$f.yaml"
done
cfg_ds "$W/infq.yaml" "{train: $BASE, test: $W/inf_q.fvecs}"
bad 10 "infinite value in the queries" "inf_q.fvecs" "infinite" -- run_cfg "$W/infq.yaml"
cfg_ds "$W/badgt.yaml" "{train: $BASE, test: $QUERY, neighbors: $W/badgt.ivecs}"
bad 10 "neighbour ids beyond n" "badgt.ivecs" "999999" -- run_cfg "$W/badgt.yaml"
printf 'name: good\ndataset: {train: %s, test: %s, neighbors: %s}\nk: 6000\nruns: 1\nalgorithms: [{name: flat, index: flat}]\n' \
  "$BASE" "$QUERY" "$GT" >"$W/bigk.yaml"
bad 10 "k larger than n" "bigk.yaml" "6000" -- run_cfg "$W/bigk.yaml"

# ---- the index cache: a .meta with an impossible build time is not trusted --------
cat >"$W/c.yaml" <<YAML
name: c
dataset: {train: $BASE, test: $QUERY, neighbors: $GT}
k: 10
runs: 1
algorithms: [{name: h, index: hnsw, build: {M: 8, ef_construction: 40}, search: {ef: [20]}}]
YAML
"$CANNOLI" run "$W/c.yaml" --out "$W/c1" --cache-dir "$W/cache" 2>/dev/null || not_ok "cache run"
for v in -1e308 nan inf; do
  sed -i "s/^build_s=.*/build_s=$v/" "$W"/cache/*.meta
  rm -rf "$W/c2"
  "$CANNOLI" run "$W/c.yaml" --out "$W/c2" --cache-dir "$W/cache" 2>"$W/c2.log" || not_ok "cache run 2"
  if grep -q "loaded from cache" "$W/c2.log" || ! grep -q "^h,.*,0,\|cached" "$W/c2/results.csv"; then
    not_ok "a .meta with build_s=$v was trusted"; cat "$W/c2.log"
  else
    csv_check "$W/c2/results.csv" ".meta build_s=$v: index rebuilt (cached=0, build_s >= 0)" "
assert rows[0]['cached'] == '0' and float(rows[0]['build_s']) >= 0, rows[0]
"
  fi
done
# ---- --force three times within a second: every earlier file is kept ----------
# (the .bak name has one-second resolution; it used to be renamed over, so the
# second of two --force runs in one second lost the first's backup)
$PY - "$W/tiny_base.fvecs" "$W/tiny_query.fvecs" <<'PYEOF'
import struct, sys
for path, n in ((sys.argv[1], 30), (sys.argv[2], 3)):
    with open(path, "wb") as f:
        for i in range(n):
            f.write(struct.pack("<i", 4) + struct.pack("<4f", i, 1.0, -i, 0.5))
PYEOF
printf 'name: t\ndataset: {train: %s, test: %s}\nk: 1\nruns: 1\nalgorithms: [{name: flat, index: flat}]\n' \
  "$W/tiny_base.fvecs" "$W/tiny_query.fvecs" >"$W/tiny.yaml"
"$CANNOLI" run "$W/tiny.yaml" --out "$W/f" --no-cache 2>/dev/null || not_ok "tiny run"
echo "original" >>"$W/f/results.csv" # marks the first file's content
orig=$(sha256sum <"$W/f/results.csv")
t0=$(date +%s%N)
for i in 1 2 3; do "$CANNOLI" run "$W/tiny.yaml" --out "$W/f" --force --no-cache 2>/dev/null || not_ok "--force run $i"; done
dt=$((($(date +%s%N) - t0) / 1000000))
nbak=$(ls "$W/f" | grep -c '\.bak$' || true)
found=0
for b in "$W"/f/*.bak; do [ "$(sha256sum <"$b")" = "$orig" ] && found=1; done
[ "$nbak" = 3 ] && [ "$found" = 1 ] && ok "three --force runs in ${dt} ms keep three backups, the original among them" \
  || not_ok "--force backups: $nbak files, original kept: $found ($(ls "$W/f"))"
finish
