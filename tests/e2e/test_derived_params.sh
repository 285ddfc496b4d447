# Derived build parameters (issue 13): HNSW `layout` and `order` shape only
# what the index derives from the built graph and its stores, so points
# that differ only in them share ONE graph build -- in the index cache (the
# full-precision graph entry is keyed without them and loaded as each point
# asks; with the same quantizer, the whole index entry) and in the shard
# planner (they stay in one unit) -- and each row
# still names the layout it ran.
source "$(dirname "$0")/lib.sh"
need_fixtures "${SIFT10K[@]}"

sift10k_config "$WORK/d.yaml" derived <<YAML
build_threads: 1
algorithms:
  - name: adj
    index: hnsw
    quantizer: {name: pq4fs, subspaces: 32, iterations: 4}
    build: {M: 8, ef_construction: 40}
    search: {ef: [20, 40], rerank: 20}
  - name: colo
    index: hnsw
    quantizer: {name: pq4fs, subspaces: 32, iterations: 4}
    build: {M: 8, ef_construction: 40, layout: colocated, order: [none, bfs]}
    search: {ef: [20, 40]}
YAML

# the planner: three build points, one graph
"$CANNOLI" plan "$WORK/d.yaml" --shards 2 >"$WORK/plan.txt" 2>&1 || true
if grep -q "3 build points in 1 unit" "$WORK/plan.txt"; then
  ok "plan: the three layouts are one unit (one graph)"
else
  not_ok "plan: $(grep -E 'build point' "$WORK/plan.txt" | head -1)"
fi

rc=0
"$CANNOLI" run "$WORK/d.yaml" --out "$WORK/out" --cache-dir "$WORK/cache" --no-plot \
  2>"$WORK/run.txt" || rc=$?
[ "$rc" -eq 0 ] && ok "run exits 0" || { not_ok "run exit $rc"; cat "$WORK/run.txt"; }
built=$(grep -c "graph built in" "$WORK/run.txt" || true)
# the same quantizer too: the whole index entry (graph + codes) is shared
shared=$(grep -c "^\[colo\] index: loaded from cache" "$WORK/run.txt" || true)
[ "$built" -eq 1 ] && ok "one graph built" || not_ok "$built graph builds"
[ "$shared" -eq 2 ] && ok "the two co-located points load it" || not_ok "$shared loads of the index"
csv_check "$WORK/out/results.csv" "rows name the layout and order they ran" "
assert len(rows) == 6, len(rows)
bp = sorted(set(r['build_params'] for r in rows))
assert any('layout=colocated' in b and 'order=bfs' in b for b in bp), bp
assert any('layout=colocated' in b and 'order=none' in b for b in bp), bp
assert any('layout' not in b for b in bp), bp
colo = [float(r['recall']) for r in rows if 'layout=colocated' in r['build_params']]
assert min(colo) > 0.5, colo
# order renumbers blocks only: none and bfs give the same recall
rec = {(r['build_params'], r['search_params']): r['recall'] for r in rows}
for s in ('ef=20', 'ef=40'):
    a = [v for (b, sp), v in rec.items() if sp == s and 'order=none' in b]
    c = [v for (b, sp), v in rec.items() if sp == s and 'order=bfs' in b]
    assert a == c, (s, a, c)"

# a second run loads every point from the cache (whole indexes, any layout)
rm -f "$WORK/out/results.csv"
"$CANNOLI" run "$WORK/d.yaml" --out "$WORK/out" --cache-dir "$WORK/cache" --no-plot \
  2>"$WORK/run2.txt" || not_ok "second run failed"
if grep -q "graph built in" "$WORK/run2.txt"; then
  not_ok "second run rebuilt a graph"
else
  ok "second run builds nothing"
fi
finish
