# Figure specs (plots: section, plot.py options), `cannoli report` and the
# paper configs. The report's numbers are checked against values worked out
# by hand from a small CSV written here (comments give the arithmetic).
source "$(dirname "$0")/lib.sh"
if ! $PY -c 'import matplotlib' 2>/dev/null; then
  echo "SKIP: $PY has no matplotlib"; exit 77
fi

# ---- a hand-made results CSV ------------------------------------------------
# alpha (10,000 queries: long timed passes):
#   cannoli-hnsw M=8 : ef10 .85/20000  ef20 .92/15000  ef40 .96/9000   600 B/vec, build 10 s
#   cannoli-hnsw M=32: ef10 .91/12000  ef20 .955/11000 ef40 .991/5000  700 B/vec, build 20 s
#   hnswlib M=16     : ef10 .88/10000  ef20 .93/8000   ef40 .97/4000, and ef40 again at 4500
#                      (same point twice, 12.5% apart: noisy)       650 B/vec, build 15 s
#   cannoli-hnsw-pq  : ef10 .70/30000  ef40 .80/20000 (100 B/vec); ef40 rerank20 .95/16000 (800 B/vec)
# beta (100 queries: 100 / 10000 QPS = 0.01 s passes: noisy):
#   cannoli-hnsw M=16 ef10 .95/10000; hnswlib M=16 ef10 .95/5000
mk_csv() {
  $PY - "$1" <<'PYEOF'
import csv, sys
cols = ("dataset,algorithm,index,quantizer,quantizer_params,build_params,search_params,k,threads,"
        "recall,qps,mean_us,p50_us,p95_us,p99_us,build_s,index_bytes,bytes_per_vector,"
        "dist_per_query,hops_per_query,reranked_per_query,dropped_per_query,ns_per_dist,"
        "scan_ns_per_vector,n_train,n_test,dim,metric,runs,build_threads,cached,simd,seed,commit,"
        "build_id,cpu,timestamp").split(",")
pts = [
  ("alpha", "cannoli-hnsw", "hnsw", "plain", "", "M=8;ef_construction=100;seed=42", "ef=10", .85, 20000, 10, 600),
  ("alpha", "cannoli-hnsw", "hnsw", "plain", "", "M=8;ef_construction=100;seed=42", "ef=20", .92, 15000, 10, 600),
  ("alpha", "cannoli-hnsw", "hnsw", "plain", "", "M=8;ef_construction=100;seed=42", "ef=40", .96, 9000, 10, 600),
  ("alpha", "cannoli-hnsw", "hnsw", "plain", "", "M=32;ef_construction=100;seed=42", "ef=10", .91, 12000, 20, 700),
  ("alpha", "cannoli-hnsw", "hnsw", "plain", "", "M=32;ef_construction=100;seed=42", "ef=20", .955, 11000, 20, 700),
  ("alpha", "cannoli-hnsw", "hnsw", "plain", "", "M=32;ef_construction=100;seed=42", "ef=40", .991, 5000, 20, 700),
  ("alpha", "hnswlib", "hnswlib", "plain", "", "M=16;ef_construction=100;seed=100", "ef=10", .88, 10000, 15, 650),
  ("alpha", "hnswlib", "hnswlib", "plain", "", "M=16;ef_construction=100;seed=100", "ef=20", .93, 8000, 15, 650),
  ("alpha", "hnswlib", "hnswlib", "plain", "", "M=16;ef_construction=100;seed=100", "ef=40", .97, 4000, 15, 650),
  ("alpha", "hnswlib", "hnswlib", "plain", "", "M=16;ef_construction=100;seed=100", "ef=40", .97, 4500, 15, 650),
  ("alpha", "cannoli-hnsw-pq", "hnsw", "pq", "subspaces=16;nbits=8;seed=42", "M=16;ef_construction=100;seed=42", "ef=10;rerank=0", .70, 30000, 30, 100),
  ("alpha", "cannoli-hnsw-pq", "hnsw", "pq", "subspaces=16;nbits=8;seed=42", "M=16;ef_construction=100;seed=42", "ef=40;rerank=0", .80, 20000, 30, 100),
  ("alpha", "cannoli-hnsw-pq", "hnsw", "pq", "subspaces=16;nbits=8;seed=42", "M=16;ef_construction=100;seed=42", "ef=40;rerank=20", .95, 16000, 30, 800),
  ("beta", "cannoli-hnsw", "hnsw", "plain", "", "M=16;ef_construction=100;seed=42", "ef=10", .95, 10000, 1, 500),
  ("beta", "hnswlib", "hnswlib", "plain", "", "M=16;ef_construction=100;seed=100", "ef=10", .95, 5000, 1, 500),
]
with open(sys.argv[1], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(cols)
    for ds, algo, ix, q, qp, bp, sp, rec, qps, bs, bpv in pts:
        n_test = 10000 if ds == "alpha" else 100
        row = dict(dataset=ds, algorithm=algo, index=ix, quantizer=q, quantizer_params=qp,
                   build_params=bp, search_params=sp, k=10, threads=1, recall=rec, qps=qps,
                   mean_us=1e6 / qps, p50_us=0.9e6 / qps, p95_us=1.5e6 / qps, p99_us=2e6 / qps,
                   build_s=bs, index_bytes=bpv * 1000, bytes_per_vector=bpv,
                   dist_per_query=1000 * rec, hops_per_query=50, reranked_per_query=0,
                   dropped_per_query=0, ns_per_dist=50 + rec, scan_ns_per_vector=40,
                   n_train=1000, n_test=n_test, dim=16, metric="l2", runs=3, build_threads=2,
                   cached=0, simd="avx2", seed=42, commit="abc123", build_id="b1", cpu="Test CPU",
                   timestamp="2026-01-01T00:00:00Z")
        w.writerow([row[c] for c in cols])
PYEOF
}
mkdir -p "$WORK/r1" "$WORK/r2"
mk_csv "$WORK/r1/results.csv"

# ---- every axis/scale combination renders -------------------------------------
$PY - "$WORK/all.json" <<'PYEOF'
import json, sys
sys.path.insert(0, "plots")
import plot
specs, n = [], 0
for col in plot.COLUMNS:
    for sc in ("linear", "log") + (("logit",) if col == "recall" else ()):
        for axis, other in (("x", "qps"), ("y", "recall")):
            n += 1
            s = {"name": f"f{n}", axis: col, axis + "scale": sc, "formats": ["png"], "width": "single"}
            s["y" if axis == "x" else "x"] = other
            specs.append(s)
json.dump(specs, open(sys.argv[1], "w"))
print(len(specs))
PYEOF
if $PY plots/plot.py "$WORK/r1/results.csv" -o "$WORK/all" --spec-json "$WORK/all.json" >"$WORK/all.txt" 2>"$WORK/err.txt"; then
  n=$($PY -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$WORK/all.json")
  good=0
  for f in $(cat "$WORK/all.txt"); do
    if [ -s "$f" ] && [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '211PNG' ]; then good=$((good + 1)); fi
  done
  if [ "$good" -eq "$n" ]; then ok "all $n axis/scale combinations rendered as PNG"
  else not_ok "$good of $n figures are PNG files"; fi
else
  not_ok "axis/scale combinations: $(tail -1 "$WORK/err.txt")"
fi

# ---- a plots: section through cannoli run ------------------------------------
need_fixtures sift-debian-10k_base.bvecs sift-debian-10k_query.bvecs sift-debian-10k_groundtruth.ivecs
cat >"$WORK/run.yaml" <<EOF
name: figs
dataset: sift-debian-10k
k: 10
runs: 1
algorithms:
  - name: hnsw-a
    index: hnsw
    build: {M: [8, 32], ef_construction: 60}
    search: {ef: [10, 40]}
  - name: hnsw-pq
    index: hnsw
    quantizer: {name: pq, subspaces: 16, nbits: 8}
    build: {M: 8, ef_construction: 60}
    search: {ef: [20, 40], rerank: [0, 20]}
plots:
  - name: latency
    x: recall
    y: mean_us
    xscale: logit
    yscale: log
    lines: variant
    labels: {hnsw-pq: "cannoli PQ16"}
    formats: [png, pdf, svg]
  - {name: mem, x: bytes_per_vector, y: qps, yscale: log, pareto: false, width: single, formats: svg, lines: algorithm}
EOF
if CANNOLI_NO_PLOT=0 "$CANNOLI" run "$WORK/run.yaml" --out "$WORK/run" >"$WORK/run.txt" 2>"$WORK/err.txt"; then
  for f in sift-debian-10k-latency.png sift-debian-10k-latency.pdf sift-debian-10k-latency.svg \
           sift-debian-10k-mem.svg plots.json styles.json; do
    if [ -s "$WORK/run/$f" ]; then ok "run with plots: wrote $f"; else not_ok "run with plots: no $f"; fi
  done
  if [ "$(head -c 4 "$WORK/run/sift-debian-10k-latency.pdf")" = "%PDF" ]; then ok "PDF has a %PDF header"
  else not_ok "PDF header: $(head -c 8 "$WORK/run/sift-debian-10k-latency.pdf" | od -c | head -1)"; fi
  if [ ! -e "$WORK/run/sift-debian-10k.png" ]; then ok "a plots: section replaces the default figure"
  else not_ok "default figure drawn next to the plots: figures"; fi
  # labels, re-ranking lines, legend order and colours, read back from the SVGs
  if $PY - "$WORK/run" <<'PYEOF'
import re, sys, json
d = sys.argv[1]
lat = open(f"{d}/sift-debian-10k-latency.svg").read()
mem = open(f"{d}/sift-debian-10k-mem.svg").read()
def strokes(svg):
    out = {}
    for m in re.finditer(r'<g id="cnline\d+-([^"]*)">\s*<path [^>]*?style="[^"]*stroke: (#[0-9a-f]{6})', svg, re.S):
        out.setdefault(m.group(1), set()).add(m.group(2))
    return out
san = lambda s: re.sub(r"[^A-Za-z0-9_.=-]", "_", s)
lab = strokes(lat)
assert san("cannoli PQ16 (+ rerank 20)") in lab, sorted(lab)  # display label + its variant, says rerank
assert san("cannoli PQ16") in lab, sorted(lab)                # the PQ line without re-ranking
assert san("hnsw-a (M=8)") in lab and san("hnsw-a (M=32)") in lab, sorted(lab)
assert all(len(v) == 1 for v in lab.values()), lab
legend = [m.group(1) for m in re.finditer(r"<!-- (hnsw-a \(M=\d+\)) -->", lat)]
assert legend.index("hnsw-a (M=8)") < legend.index("hnsw-a (M=32)"), legend   # natural order
styles = json.load(open(f"{d}/styles.json"))
# lines: algorithm in the second figure: one line per algorithm, + rerank its own
lab2 = strokes(mem)
assert "hnsw-a" in lab2 and san("hnsw-pq (+ rerank)") in lab2 and "hnsw-pq" in lab2, sorted(lab2)
# every line of both figures has the colour styles.json gives its label
for fig in (lab, lab2):
    for k, v in fig.items():
        orig = [s for s in styles if san(s) == k]
        assert len(orig) == 1 and v == {styles[orig[0]]["colour"]}, (k, v)
PYEOF
  then ok "labels (display map, + rerank), natural legend order, colours as in styles.json"
  else not_ok "labels/colours in the rendered SVG"; fi
else
  not_ok "run with a plots: section: $(tail -1 "$WORK/err.txt")"
fi

# Colours are stable across figures and inputs: a label keeps its colour when
# drawn from a subset of the rows, and 25 lines never repeat colour+marker.
if $PY - "$WORK/r1/results.csv" <<'PYEOF'
import sys
sys.path.insert(0, "plots")
import plot
rows = plot.read_rows([sys.argv[1]])
plot.assign_lines(rows, "variant", {})
full = plot.style_table(rows)
for lines in ("variant", "algorithm"):
    plot.assign_lines(rows, lines, {})
    t1 = plot.style_table(rows)
    t2 = plot.style_table(list(reversed(rows)))
    assert t1 == t2, "style depends on row order"
many = [dict(r, algorithm=f"algo{i}", _line=f"algo{i}") for i, r in enumerate(rows * 2)]
t = plot.style_table(many)
pairs = [(c, m) for c, m, _ in t.values()]
assert len(t) == 30 and len(set(pairs)) == len(pairs), "colour+marker pairs repeat"
assert sorted(["M=32", "M=8", "M=16"], key=plot.natural_key) == ["M=8", "M=16", "M=32"]
PYEOF
then ok "styles independent of row order; 30 lines, no repeated colour+marker pair"
else not_ok "style table"; fi

# ---- plots: section errors, with file:line --------------------------------------
bad() {  # bad LABEL LINE 'yaml lines of the figure' SUBSTRING
  printf 'name: b\ndataset: synth-20k-64-euclidean\nalgorithms:\n  - index: flat\nplots:\n%b' "$3" >"$WORK/bad.yaml"
  expect_fail "$1" "$WORK/bad.yaml:$2:" "$4" -- "$CANNOLI" run "$WORK/bad.yaml" --dry-run
}
bad "plots: unknown key" 9 '  - name: a\n    x: recall\n    y: qps\n    colour: red\n' "unknown key 'colour'"
bad "plots: bad scale" 9 '  - name: a\n    x: recall\n    y: qps\n    yscale: logg\n' "unknown yscale 'logg'"
bad "plots: unknown column" 8 '  - name: a\n    x: recall\n    y: qqps\n' "unknown column 'qqps'"
bad "plots: logit on qps" 9 '  - name: a\n    x: recall\n    y: qps\n    yscale: logit\n' "logit"
bad "plots: bad format" 9 '  - name: a\n    x: recall\n    y: qps\n    formats: [png, jpg]\n' "unknown format 'jpg'"
bad "plots: bad lines" 9 '  - name: a\n    x: recall\n    y: qps\n    lines: family\n' "unknown lines 'family'"
bad "plots: bad width" 9 '  - name: a\n    x: recall\n    y: qps\n    width: triple\n' "unknown width"
bad "plots: missing y" 6 '  - name: a\n    x: recall\n' "no 'y'"
bad "plots: duplicate name" 7 '  - {name: a, x: recall, y: qps}\n  - {name: a, x: recall, y: p99_us}\n' "duplicate figure name 'a'"
bad "plots: not a list" 6 '  name: a\n' "'plots' must be a non-empty list"
bad "plots: name not a stem" 6 '  - name: a/b\n    x: recall\n    y: qps\n' "file stem"
expect_fail "plot.py: bad scale on the command line" "unknown xscale 'cubic'" -- \
  $PY plots/plot.py "$WORK/r1/results.csv" -o "$WORK/x" --x recall --y qps --xscale cubic

# ---- cannoli report: tables match the CSV -----------------------------------
if "$CANNOLI" report "$WORK/r1/results.csv" --out "$WORK/rep" --baseline hnswlib --latex \
     >"$WORK/rep.txt" 2>"$WORK/err.txt"; then
  ok "report ran"
  if $PY - "$WORK/rep/report.md" <<'PYEOF'
import sys
md = open(sys.argv[1]).read()
rows = {}
for line in md.splitlines():
    if line.startswith("| ") and not line.startswith("| line") and not line.startswith("| run") \
            and not line.startswith("| dataset"):
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        rows.setdefault(cells[0], cells)
# line | bytes/vector | build s | QPS@.9 | x | QPS@.95 | x | QPS@.99 | x | max recall
exp = {
 # M=8: 15000 (.92) / 9000 (.96) / never .99; vs hnswlib 8000 / 4500 (noisy pair) -> 1.88x, 2.00x*
 "cannoli-hnsw (M=8)": ["600", "10.0", "15,000", "1.88x", "9,000", "2.00x\\*", "—", "—", "0.9600"],
 # M=32: 12000 / 11000 / 5000; hnswlib never reaches .99 -> —
 "cannoli-hnsw (M=32)": ["700", "20.0", "12,000", "1.50x", "11,000", "2.44x\\*", "5,000", "—", "0.9910"],
 "hnswlib": ["650", "15.0", "8,000", "—", "4,500\\*", "—", "—", "—", "0.9700"],
 "cannoli-hnsw-pq": ["100", "30.0", "—", "—", "—", "—", "—", "—", "0.8000"],
 "cannoli-hnsw-pq (+ rerank 20)": ["800", "30.0", "16,000", "2.00x", "16,000", "3.56x\\*", "—", "—", "0.9500"],
}
for k, v in exp.items():
    assert k in rows, (k, sorted(rows))
    assert rows[k][1:] == v, (k, rows[k][1:], v)
# beta: 100 queries at 10000 QPS: a 0.01 s pass, noisy
beta = [l for l in md.splitlines() if l.startswith("| beta | 0.9 |")]
assert beta and "2.0x\\*" in beta[0], beta
assert "On alpha, cannoli-hnsw-pq (+ rerank 20) is 2.0x faster than hnswlib at recall 0.9 (16,000 vs 8,000 QPS)." in md
assert "On alpha, cannoli-hnsw-pq (+ rerank 20) is 3.6x faster than hnswlib at recall 0.95 (16,000 vs 4,500 QPS, noisy)." in md
assert "On alpha, hnswlib never reaches recall 0.99." in md
assert "| r1 | alpha | 1000 | 10000 | 16 | l2 | 10 | 1 | 2 | 3 | avx2 | Test CPU | abc123 | b1 |" in md
assert "![query-time.png](query-time.png)" in md   # two datasets: one figure, two panels
PYEOF
  then ok "report.md: best QPS, ratios, bytes, build, noise marks, headlines, setting match the CSV"
  else not_ok "report.md tables"; fi
  for f in query-time.png query-time.pdf qps.pdf tables/setting.tex tables/targets-alpha.tex tables/headline.tex; do
    [ -s "$WORK/rep/$f" ] && ok "report --latex wrote $f" || not_ok "report --latex: no $f"
  done
  [ "$(head -c 4 "$WORK/rep/qps.pdf")" = "%PDF" ] && ok "report PDF header" || not_ok "report PDF header"
else
  not_ok "report: $(tail -1 "$WORK/err.txt")"
fi

# --latex: each table is a booktabs tabular body whose rows have as many cells
# as the column spec, with TeX specials escaped; compiled when pdflatex is here.
if $PY - "$WORK/rep/tables" <<'PYEOF'
import glob, re, sys
files = glob.glob(sys.argv[1] + "/*.tex")
assert len(files) == 4, files   # setting, targets-alpha, targets-beta, headline
for f in files:
    lines = [l for l in open(f).read().splitlines() if not l.startswith("%")]
    m = re.fullmatch(r"\\begin\{tabular\}\{(l[r]*)\}", lines[0])
    assert m, (f, lines[0])
    ncol = len(m.group(1))
    assert lines[1] == "\\toprule" and lines[3] == "\\midrule", f
    assert lines[-2] == "\\bottomrule" and lines[-1] == "\\end{tabular}", f
    body = [lines[2]] + lines[4:-2]
    assert len(body) >= 2, f
    for l in body:
        assert l.endswith(" \\\\"), (f, l)
        cells = re.split(r"(?<!\\)&", l[:-3])
        assert len(cells) == ncol, (f, len(cells), ncol, l)
        bare = re.sub(r"\$[^$]*\$", "", l)                # outside math
        assert not re.search(r"(?<!\\)[_%#]", bare), (f, l)
        assert "—" not in l and "µ" not in l, (f, l)       # pdflatex-safe ASCII
    assert open(f).read().count("{") == open(f).read().count("}"), f
PYEOF
then ok "--latex tables: booktabs structure, cell counts, escaping"
else not_ok "--latex table structure"; fi
if command -v pdflatex >/dev/null && kpsewhich booktabs.sty >/dev/null 2>&1; then
  printf '\\documentclass{article}\\usepackage{booktabs}\\begin{document}\n\\input{%s}\n\\input{%s}\n\\end{document}\n' \
    "$WORK/rep/tables/targets-alpha.tex" "$WORK/rep/tables/headline.tex" >"$WORK/doc.tex"
  if (cd "$WORK" && pdflatex -interaction=nonstopmode -halt-on-error doc.tex >/dev/null 2>&1); then
    ok "--latex tables compile with pdflatex + booktabs"
  else not_ok "--latex tables do not compile"; fi
else
  echo "note: pdflatex/booktabs not installed: LaTeX checked by structure only"
fi

# ---- two CSVs with labels: a second run of the same lines, 20% faster --------
$PY - "$WORK/r1/results.csv" "$WORK/r2/results.csv" <<'PYEOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
with open(sys.argv[2], "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader()
    for r in rows:
        r["qps"] = f"{float(r['qps']) * 1.2:.3f}"
        r["commit"] = "def456"
        w.writerow(r)
PYEOF
if "$CANNOLI" report "$WORK/r1/results.csv" "$WORK/r2/results.csv" --label "$WORK/r1/results.csv=old" \
     --label "$WORK/r2/results.csv=new" --baseline old --recall 0.9 --out "$WORK/rep2" \
     >/dev/null 2>"$WORK/err.txt"; then
  if $PY - "$WORK/rep2/report.md" <<'PYEOF'
import sys
md = open(sys.argv[1]).read()
# new M=8 at .9: 15000 * 1.2 = 18000, 1.20x the old run's same line; the old run's lines have no ratio
assert "| new: cannoli-hnsw (M=8) | 600 | 10.0 | 18,000 | 1.20x | 0.9600 |" in md, md
assert "| old: cannoli-hnsw (M=8) | 600 | 10.0 | 15,000 | — | 0.9600 |" in md, md
assert "| old | alpha |" in md and "| new | alpha |" in md and "def456" in md
assert "On alpha, new: cannoli-hnsw-pq (+ rerank 20) is 1.2x faster than old: cannoli-hnsw-pq (+ rerank 20) at recall 0.9" in md, md
PYEOF
  then ok "two labelled CSVs: prefixed lines, per-line ratio against the baseline run"
  else not_ok "two labelled CSVs"; fi
else
  not_ok "report with two CSVs: $(tail -1 "$WORK/err.txt")"
fi
expect_fail "report: unknown baseline" "--baseline nosuch" -- \
  "$CANNOLI" report "$WORK/r1/results.csv" --baseline nosuch --out "$WORK/rep3"
expect_fail "report: missing CSV" "$WORK/none.csv" -- "$CANNOLI" report "$WORK/none.csv"

# summary.py --by algorithm: bytes and build time of the winning rows (M=8
# wins at .90, M=32 at .95 and .99): a range, not one row's value
if $PY plots/summary.py "$WORK/r1/results.csv" --by algorithm | grep -E '^alpha +cannoli-hnsw ' | grep -qE '10.0-20.0 +600.00-700.00'; then
  ok "summary.py --by algorithm: bytes/build of the winning rows as a range"
else not_ok "summary.py --by algorithm bytes: $($PY plots/summary.py "$WORK/r1/results.csv" --by algorithm | grep '^alpha  *cannoli-hnsw ')"; fi

# ---- every paper config is valid ---------------------------------------------
for cfg in configs/paper/*.yaml configs/paper/quick/*.yaml; do
  if "$CANNOLI" run "$cfg" --dry-run --out "$WORK/dry" >"$WORK/plan.txt" 2>"$WORK/err.txt" \
       && grep -q "search points" "$WORK/plan.txt"; then
    ok "$cfg: --dry-run"
  else
    not_ok "$cfg: $(tail -1 "$WORK/err.txt")"
  fi
done
finish
