# configs/msmarco-splade.yaml (kANNolo's SPLADE setting: HNSW M=32,
# ef_construction 2000 over f16 sparse values, and the inverted index) runs
# end to end on the shared SPLADE-v3 fixture through --set dataset=...; with
# its default dataset (msmarco-splade-small) absent, the error gives the
# exact fetch command.
source "$(dirname "$0")/lib.sh"
need_fixtures splade-v3-8k.base.csr splade-v3-8k.query.csr splade-v3-8k_groundtruth.ivecs
export CANNOLI_DATA=$WORK/empty
mkdir -p "$CANNOLI_DATA"
if [ ! -e datasets/data/msmarco-splade/base_small.csr ]; then
  "$CANNOLI" run configs/msmarco-splade.yaml --out "$WORK/o0" --dry-run >/dev/null 2>"$WORK/miss.txt" \
    && not_ok "default dataset absent but the run succeeded" \
    || { grep -q -F '`cannoli fetch msmarco-splade-small`' "$WORK/miss.txt" \
         && ok "default dataset absent: $(tail -1 "$WORK/miss.txt")" || not_ok "no fetch command: $(cat "$WORK/miss.txt")"; }
fi
if "$CANNOLI" run configs/msmarco-splade.yaml --set dataset=splade-v3-8k --set runs=1 \
     --out "$WORK/out" --no-cache >"$WORK/run.log" 2>&1; then
  csv_check "$WORK/out/results.csv" "msmarco-splade.yaml on the fixture: kANNolo setting, recall" '
h = [r for r in rows if r["algorithm"] == "hnsw-f16"]
inv = [r for r in rows if r["algorithm"] == "inverted"]
assert len(h) == 7 and len(inv) == 12, (len(h), len(inv))
assert all(r["dataset"] == "splade-v3-8k" and r["metric"] == "ip" and r["k"] == "10" for r in rows)
assert all("M=32" in r["build_params"] and "ef_construction=2000" in r["build_params"] for r in h)
assert all(r["quantizer_params"] == "values=f16" for r in h), h[0]["quantizer_params"]
best = max(float(r["recall"]) for r in h)
assert best >= 0.99, best
exact = [r for r in inv if r["search_params"] == "keep=1;query_terms=0"]
assert len(exact) == 1 and float(exact[0]["recall"]) >= 0.999, exact'
else not_ok "run failed: $(tail -1 "$WORK/run.log")"; fi
finish
