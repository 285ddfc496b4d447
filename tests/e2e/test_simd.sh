# The SIMD level: chosen once from the CPU, pinned lower with CANNOLI_SIMD,
# recorded in every CSV row; every level must give the same search results
# (one build per level on the GloVe fixture, angular, dimension 100 which is
# not a multiple of any vector width, so the kernel tails are exercised).
source "$(dirname "$0")/lib.sh"
need_fixtures glove100-10k_base.fvecs glove100-10k_query.fvecs glove100-10k_groundtruth.ivecs

best=$("$CANNOLI" version | sed -n 's/.*simd \([a-z0-9]*\)).*/\1/p')
[ -n "$best" ] && ok "version reports the SIMD level ($best)" || not_ok "no SIMD level in: $("$CANNOLI" version)"
v=$(CANNOLI_SIMD=scalar "$CANNOLI" version)
case "$v" in *"simd scalar"*) ok "CANNOLI_SIMD=scalar pins the scalar kernels" ;; *) not_ok "CANNOLI_SIMD=scalar ignored: $v" ;; esac
v=$(CANNOLI_SIMD=bogus "$CANNOLI" version 2>"$WORK/warn.txt")
case "$v" in *"simd $best"*) ok "unknown CANNOLI_SIMD value falls back to $best" ;; *) not_ok "CANNOLI_SIMD=bogus: $v" ;; esac
grep -q "CANNOLI_SIMD" "$WORK/warn.txt" && ok "unknown value is warned about" || not_ok "no warning for CANNOLI_SIMD=bogus"

cat >"$WORK/glove.yaml" <<YAML
name: e2e-simd
dataset:
  train: $FIX/glove100-10k_base.fvecs
  test: $FIX/glove100-10k_query.fvecs
  neighbors: $FIX/glove100-10k_groundtruth.ivecs
  distance: angular
k: 10
runs: 1
algorithms:
  - name: flat
    index: flat
  - name: hnsw
    index: hnsw
    build: {M: 12, ef_construction: 80}
    search: {ef: [40]}
YAML
levels="scalar"
case "$best" in avx2) levels="scalar avx2" ;; avx512) levels="scalar avx2 avx512" ;; esac
for l in $levels; do
  CANNOLI_SIMD=$l "$CANNOLI" run "$WORK/glove.yaml" --out "$WORK/$l" --no-cache 2>"$WORK/$l.log" \
    || { not_ok "run at $l failed"; cat "$WORK/$l.log"; }
done
for l in $levels; do
  csv_check "$WORK/$l/results.csv" "$l: rows record simd=$l; flat exact" "
assert all(r['simd'] == '$l' for r in rows), [r['simd'] for r in rows]
flat = [r for r in rows if r['index'] == 'flat'][0]
assert float(flat['recall']) >= 0.999, flat['recall']
"
  if [ "$l" != scalar ]; then
    csv_check "$WORK/scalar/results.csv" "$l: hnsw recall within 0.01 of scalar" "
import csv
other = list(csv.DictReader(open('$WORK/$l/results.csv')))
a = [float(r['recall']) for r in rows if r['index'] == 'hnsw'][0]
b = [float(r['recall']) for r in other if r['index'] == 'hnsw'][0]
assert abs(a - b) <= 0.01, (a, b)
assert a >= 0.8, a
"
  fi
done
finish
