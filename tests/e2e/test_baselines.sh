# Baselines run in the same process and timing loop as cannoli's own indexes:
# the hnswlib adapter (built when libhnswlib-dev is present) must reach the
# recall hnswlib reaches, be cached and reloaded like any index, and record
# the same columns.
source "$(dirname "$0")/lib.sh"
need_fixtures "${SIFT10K[@]}"
listing=$("$CANNOLI" list)
if ! grep -q '^  hnswlib ' <<<"$listing"; then
  echo "SKIP: this build has no hnswlib baseline (libhnswlib-dev absent)"
  exit 77
fi

sift10k_config "$WORK/b.yaml" e2e-baselines <<YAML
algorithms:
  - name: cannoli-hnsw
    index: hnsw
    build: {M: 16, ef_construction: 100}
    search: {ef: [20, 120]}
  - name: hnswlib
    index: hnswlib
    build: {M: 16, ef_construction: 100}
    search: {ef: [20, 120]}
YAML
"$CANNOLI" run "$WORK/b.yaml" --out "$WORK/o1" --cache-dir "$WORK/cache" 2>"$WORK/r1.log" \
  && ok "run with hnswlib exits 0" || { not_ok "run failed"; cat "$WORK/r1.log"; finish; }
csv_check "$WORK/o1/results.csv" "hnswlib rows: recall at ef=120 >= 0.98, sane metrics" '
hl = [r for r in rows if r["index"] == "hnswlib"]
assert len(hl) == 2, len(hl)
best = max(float(r["recall"]) for r in hl)
assert best >= 0.98, best
for r in hl:
    assert float(r["qps"]) > 0 and int(r["index_bytes"]) > 10000 * 128 * 4
    assert float(r["dist_per_query"]) > 0
'
"$CANNOLI" run "$WORK/b.yaml" --out "$WORK/o2" --cache-dir "$WORK/cache" 2>"$WORK/r2.log" \
  && ok "second run exits 0" || { not_ok "second run failed"; cat "$WORK/r2.log"; }
grep -q '^\[hnswlib\].*loaded from cache' "$WORK/r2.log" && ok "hnswlib index reloaded from the cache" \
  || { not_ok "hnswlib not reloaded from cache"; cat "$WORK/r2.log"; }
csv_check "$WORK/o2/results.csv" "reloaded hnswlib gives the same recall" "
import csv
first = {(r['index'], r['search_params']): r['recall'] for r in csv.DictReader(open('$WORK/o1/results.csv'))}
for r in rows:
    assert r['recall'] == first[(r['index'], r['search_params'])], r
    assert r['cached'] == '1'
"
finish
