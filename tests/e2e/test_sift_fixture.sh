# End to end on the real 10k SIFT fixture, read straight from texmex files:
# flat must be exact, HNSW must reach recall@10 >= 0.95, the CSV must follow
# the contract, and resuming / --force must never lose rows.
source "$(dirname "$0")/lib.sh"
need_fixtures sift-debian-10k_base.bvecs sift-debian-10k_query.bvecs sift-debian-10k_groundtruth.ivecs

cat >"$WORK/sift.yaml" <<YAML
name: e2e-sift
dataset:
  train: $FIX/sift-debian-10k_base.bvecs
  test: $FIX/sift-debian-10k_query.bvecs
  neighbors: $FIX/sift-debian-10k_groundtruth.ivecs
  distance: euclidean
k: 10
runs: 2
algorithms:
  - name: flat
    index: flat
  - name: hnsw-plain
    index: hnsw
    quantizer: plain
    build: {M: [8, 16], ef_construction: 100}
    search: {ef: [10, 40, 160]}
YAML
OUT="$WORK/out"
"$CANNOLI" run "$WORK/sift.yaml" --out "$OUT" --cache-dir "$WORK/cache" 2>"$WORK/run.log" \
  && ok "run exits 0" || { not_ok "run failed"; cat "$WORK/run.log"; finish; }
CSV="$OUT/results.csv"

csv_check "$CSV" "contract columns present" '
need = "dataset,algorithm,index,quantizer,build_params,search_params,k,threads,recall,qps,mean_us,p50_us,p95_us,p99_us,build_s,index_bytes,dist_per_query".split(",")
missing = [c for c in need if c not in hdr]
assert not missing, missing'
csv_check "$CSV" "7 rows: flat + 2 builds x 3 ef" '
assert len(rows) == 7, len(rows)
assert sum(r["algorithm"] == "hnsw-plain" for r in rows) == 6'
csv_check "$CSV" "flat is exact (recall 1.0)" '
r = [r for r in rows if r["algorithm"] == "flat"][0]
assert float(r["recall"]) == 1.0, r["recall"]
assert float(r["dist_per_query"]) == 10000, r["dist_per_query"]'
csv_check "$CSV" "hnsw M=16 ef=160 reaches recall >= 0.95" '
r = [r for r in rows if "M=16" in r["build_params"] and r["search_params"] == "ef=160"][0]
assert float(r["recall"]) >= 0.95, r["recall"]'
csv_check "$CSV" "recall grows with ef, metrics sane" '
for m in ("M=8", "M=16"):
    rs = {r["search_params"]: float(r["recall"]) for r in rows if m in r["build_params"]}
    assert rs["ef=10"] <= rs["ef=40"] + 0.02 <= rs["ef=160"] + 0.04, rs
for r in rows:
    assert 0 <= float(r["recall"]) <= 1
    assert float(r["qps"]) > 0 and float(r["p50_us"]) <= float(r["p99_us"])
    assert int(r["k"]) == 10 and int(r["threads"]) == 1
    assert r["simd"] in ("scalar", "avx2", "avx512")
    assert "seed=42" in r["build_params"] or r["index"] == "flat"
    assert int(r["index_bytes"]) >= 10000 * 128 * 4'
csv_check "$CSV" "search efficiency: ns per distance and the flat scan ns per vector" '
for r in rows:
    nd, sc = float(r["ns_per_dist"]), float(r["scan_ns_per_vector"])
    assert 0 < sc < 1e4 and 0 < nd < 1e5, (nd, sc)
    # ns_per_dist is the mean query time spread over its distances
    expect = float(r["mean_us"]) * 1e3 / float(r["dist_per_query"])
    assert abs(nd - expect) <= 0.01 * expect + 0.01, (nd, expect)
# one flat scan per built index: equal within a build, so 3 values for 3 builds
assert len({(r["build_params"], r["scan_ns_per_vector"]) for r in rows}) == 3'

# Resume: a rerun adds nothing; a lost last row is re-measured, alone.
"$CANNOLI" run "$WORK/sift.yaml" --out "$OUT" --cache-dir "$WORK/cache" 2>"$WORK/run2.log"
[ "$(wc -l <"$CSV")" -eq 8 ] && ok "rerun adds no rows" || not_ok "rerun changed the CSV: $(wc -l <"$CSV") lines"
grep -q "loaded from cache" "$WORK/run2.log" && not_ok "rerun of a finished sweep should not even load an index" || ok "finished builds are skipped"
head -n 7 "$CSV" >"$WORK/cut.csv" && cp "$WORK/cut.csv" "$CSV"
"$CANNOLI" run "$WORK/sift.yaml" --out "$OUT" --cache-dir "$WORK/cache" 2>"$WORK/run3.log"
[ "$(wc -l <"$CSV")" -eq 8 ] && ok "interrupted sweep resumes with the missing row only" || not_ok "resume wrote $(wc -l <"$CSV") lines"
grep -q "loaded from cache" "$WORK/run3.log" && ok "resumed build came from the index cache" || not_ok "index cache not used on resume"

# --force keeps the old file.
"$CANNOLI" run "$WORK/sift.yaml" --out "$OUT" --cache-dir "$WORK/cache" --force 2>/dev/null
ls "$OUT"/results.csv.*.bak >/dev/null 2>&1 && ok "--force keeps the previous CSV as .bak" || not_ok "--force lost the old CSV"
[ "$(wc -l <"$CSV")" -eq 8 ] && ok "--force rewrote all rows" || not_ok "--force wrote $(wc -l <"$CSV") lines"

# Dry run touches nothing.
"$CANNOLI" run "$WORK/sift.yaml" --out "$WORK/dry" --dry-run >"$WORK/dry.txt" 2>/dev/null
[ ! -e "$WORK/dry" ] && grep -q "hnsw-plain" "$WORK/dry.txt" && ok "--dry-run prints the plan, writes nothing" || not_ok "--dry-run"

# Query threads as a list: every point at each count, same answers.
sed 's/^runs: 2$/runs: 1\nthreads: [1, 2]/' "$WORK/sift.yaml" >"$WORK/thr.yaml"
CANNOLI_NO_PLOT=0 "$CANNOLI" run "$WORK/thr.yaml" --out "$WORK/thr" --cache-dir "$WORK/cache" \
  2>"$WORK/thr.log" && ok "threads [1, 2] run" || { not_ok "threads run failed"; cat "$WORK/thr.log"; }
ls "$WORK"/thr/*.png >/dev/null 2>&1 && ok "run drew the plot next to the CSV" \
  || { not_ok "no plot after run"; ls "$WORK/thr"; cat "$WORK/thr.log"; }
csv_check "$WORK/thr/results.csv" "threads: each point at 1 and 2 threads, identical recall" '
assert len(rows) == 14, len(rows)
by = {}
for r in rows:
    by.setdefault((r["algorithm"], r["build_params"], r["search_params"]), {})[r["threads"]] = r["recall"]
assert len(by) == 7 and all(sorted(v) == ["1", "2"] for v in by.values()), by
assert all(v["1"] == v["2"] for v in by.values()), by'

# The plot.
$PY plots/plot.py "$CSV" -o "$WORK/plots" >/dev/null && ls "$WORK"/plots/*.png >/dev/null 2>&1 \
  && ok "plot written" || { not_ok "plot"; ls "$WORK/plots" || true; }
finish
