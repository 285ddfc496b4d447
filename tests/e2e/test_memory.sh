# Memory that fits: on Fashion-MNIST (60000 x 784 float32 = 188 MB, the shared
# HDF5), an hnsw + plain run peaks at no more than 1.25 x its index_bytes +
# 64 MiB -- the dataset's float array moves into the store instead of being
# copied (before, both copies were resident: about 2 x the vectors). Checked
# on the CSV's peak_rss_bytes (this build point) and on the process's own
# peak (getrusage of the child). Also: every row has peak_rss_bytes > 0.
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
assert pk <= proc * 1.01, (pk, proc)  # VmHWM vs ru_maxrss: separate counters"
else not_ok "run failed: $(tail -1 "$WORK/run.log")"; fi
finish
