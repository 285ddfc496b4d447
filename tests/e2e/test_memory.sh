# Memory that fits: on Fashion-MNIST (60000 x 784 float32 = 188 MB, the shared
# HDF5), an hnsw + plain run peaks at no more than 1.25 x its index_bytes +
# 64 MiB -- the dataset's float array moves into the store instead of being
# copied (before, both copies were resident: about 2 x the vectors). Checked
# on the CSV's peak_rss_bytes (this build point) and on the process's own
# peak (getrusage of the child: since the last reset of the high-water
# mark, i.e. the sweep's peak). Also: every row has peak_rss_bytes > 0.
# Searching through codes: in a run ordered plain -> sq8 (no rerank) ->
# plain, the sq8 point's search_rss_bytes (the sweep's own peak) is below its
# peak_rss_bytes by most of the float32 array (n x dim x 4 bytes: the runner
# released it after the build), a plain point's is not, and the last plain
# point -- whose float32 rows were read again from the file -- finds the
# same neighbours as the first.
source "$(dirname "$0")/lib.sh"
H5=../shared/datasets/fashion-mnist-784-euclidean.hdf5
[ -r "$H5" ] || { echo "SKIP: $H5 not found"; exit 77; }
# Sanitizers add shadow memory, redzones and a quarantine: no RSS bound there.
# (ldd's output is read whole first: `ldd | grep -q` under pipefail fails
# when grep exits before ldd has written everything.)
libs=$(ldd "$CANNOLI" 2>/dev/null || true)
if grep -qE 'lib(asan|tsan|msan)' <<<"$libs"; then
  echo "SKIP: $CANNOLI is a sanitizer build (its resident set is not the program's)"; exit 77
fi
cat >"$WORK/mem.yaml" <<YAML
name: mem
dataset: $(pwd)/$H5
k: 10
runs: 1
build_threads: 2
algorithms:
  - index: hnsw
    build: {M: 16, ef_construction: 40}
    search: {ef: [20]}
YAML
if $PY - "$CANNOLI" "$WORK" >"$WORK/peak.txt" 2>"$WORK/run.log" <<'PYEOF'
import resource, subprocess, sys
cannoli, w = sys.argv[1], sys.argv[2]
r = subprocess.run([cannoli, "run", f"{w}/mem.yaml", "--out", f"{w}/out", "--no-cache"],
                   stderr=sys.stderr)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
sys.exit(r.returncode)
PYEOF
then
  PEAK=$(cat "$WORK/peak.txt")
  csv_check "$WORK/out/results.csv" "peak RSS <= 1.25 x index_bytes + 64 MiB (row and process)" "
r = rows[0]
ib, pk, proc = int(r['index_bytes']), int(r['peak_rss_bytes']), $PEAK
bound = 1.25 * ib + 64 * 2**20
print(f'index_bytes {ib/2**20:.1f} MiB, row peak {pk/2**20:.1f} MiB, process peak {proc/2**20:.1f} MiB, bound {bound/2**20:.1f} MiB')
assert ib > 180e6, ib
assert 0 < pk <= bound, (pk, bound)
assert proc <= bound, (proc, bound)
# The runner resets the high-water mark (which ru_maxrss reads too) after
# the build, so the child's ru_maxrss is its sweep's peak: search_rss_bytes.
assert int(r['search_rss_bytes']) <= proc * 1.01, (r['search_rss_bytes'], proc)"
else not_ok "run failed: $(tail -1 "$WORK/run.log")"; fi

cat >"$WORK/order.yaml" <<YAML
name: order
dataset: $(pwd)/$H5
k: 10
runs: 1
build_threads: 2
algorithms:
  - name: first-plain
    index: hnsw
    build: {M: 12, ef_construction: 40}
    search: {ef: [40]}
  - name: codes-sq8
    index: hnsw
    quantizer: sq8
    build: {M: 12, ef_construction: 40}
    search: {ef: [40]}
  - name: last-plain
    index: hnsw
    build: {M: 12, ef_construction: 40}
    search: {ef: [40]}
YAML
if "$CANNOLI" run "$WORK/order.yaml" --out "$WORK/order" --no-cache --no-plot 2>"$WORK/order.log"; then
  if grep -q "reading the train vectors of fashion-mnist-784-euclidean again" "$WORK/order.log"
  then ok "the last plain point read the float32 rows again"
  else not_ok "no reload message in the log"; fi
  csv_check "$WORK/order/results.csv" "search_rss_bytes: sq8 without rerank drops the float32 array, plain keeps it; recall after the reload" "
assert hdr[hdr.index('peak_rss_bytes') + 1] == 'search_rss_bytes', hdr
by = {r['algorithm']: r for r in rows}
f32 = int(by['first-plain']['n_train']) * int(by['first-plain']['dim']) * 4
for name, r in by.items():
    pk, sr = int(r['peak_rss_bytes']), int(r['search_rss_bytes'])
    print(f'{name}: peak {pk/2**20:.1f} MiB, search {sr/2**20:.1f} MiB, float32 array {f32/2**20:.1f} MiB, recall {r[\"recall\"]}')
    assert 0 < sr <= pk, (name, sr, pk)
q = by['codes-sq8']
assert int(q['peak_rss_bytes']) - int(q['search_rss_bytes']) >= 0.75 * f32, q
for name in ('first-plain', 'last-plain'):
    r = by[name]
    assert int(r['peak_rss_bytes']) - int(r['search_rss_bytes']) < 0.5 * f32, r
    assert int(r['search_rss_bytes']) > f32, r
r1, r3 = float(by['first-plain']['recall']), float(by['last-plain']['recall'])
assert r3 > 0.8 and abs(r1 - r3) <= 0.02, (r1, r3)
assert by['first-plain']['index_bytes'] == by['last-plain']['index_bytes']"
else not_ok "ordered run failed: $(tail -1 "$WORK/order.log")"; fi
finish
