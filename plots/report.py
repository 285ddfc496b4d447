#!/usr/bin/python3
"""A report (Markdown, optionally LaTeX) from one or more cannoli results CSVs.

    cannoli report RESULTS.csv... [--out DIR] [--label FILE=NAME]... [--baseline NAME]...
                   [--recall 0.90 0.95 0.99] [--lines variant|algorithm] [--latex]
                   [--spec-json FILE] [--published FILE] [--title TEXT]

Writes DIR/report.md (default: report/ next to the first CSV) with
  - the setting: per run and dataset, the shapes (train, test, dim), metric,
    k, query and build threads, best-of runs, SIMD level, CPU, commit and
    build id, all read from the CSV columns;
  - the figures (PNG; plus PDF with --latex): the specs of --spec-json, else
    the paper's figure types: recall vs mean query time (µs, log) and recall
    vs QPS (log), Pareto fronts, one panel per dataset, shared legend;
  - per dataset, the best QPS of every line at each recall target, its ratio
    to each --baseline, and the bytes per vector and build time of the rows
    that gave those QPS;
  - headline sentences "X is N.Nx faster than Y at recall R" (the best line
    that is not a baseline against the best line of the baseline), as a table
    too, next to published numbers when --published names them.
--latex writes the same tables as booktabs tabulars (tables/*.tex, bodies to
\\input into a table environment) and every figure as PDF.

Rules. A line that never reaches a target has no value there: "—" (never
interpolated). bytes/vector and build time are those of the rows that won
the targets; when those differ (a line over several builds, or an index
whose size depends on the search), the range "a–b" is shown. A value is
marked noisy (*) when (a) the same point (run, dataset, line, search
parameters, threads) was measured more than once and the QPS differ by more
than 10%, or (b) its timed pass was shorter than 0.2 s (n_test / qps: a
pass that short is dominated by timer and scheduling noise); a ratio is
noisy when either side is. Headline sentences of noisy values say so.

--label FILE=NAME names a run (default: the CSV's folder name); with more
than one CSV every line is prefixed "NAME: ". --baseline NAME names a line
(its display label), an algorithm, an algorithm prefix ("faiss" matches
faiss-hnsw-flat and faiss-hnsw-pq), or a run: against a run, each line is
compared with the same line of that run (two commits of one quantizer).
"""
import argparse
import collections
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plot  # noqa: E402  (plots/plot.py: reading, lines, figures)

NOISE_SPREAD = 0.10   # repeated measurements differing by more than 10%
NOISE_MIN_S = 0.2     # a timed pass shorter than this
DASH = "—"


class ReportError(Exception):
    pass


# ---- measurements ----------------------------------------------------------

def point_key(r):
    return (r["_run"], r["dataset"], r["_line"], r["search_params"], r["threads"])


def noise_table(rows):
    """point -> True when its repeated QPS spread exceeds NOISE_SPREAD."""
    qps = collections.defaultdict(list)
    for r in rows:
        q = plot.num(r, "qps")
        if q:
            qps[point_key(r)].append(q)
    return {k: len(v) > 1 and max(v) / min(v) - 1.0 > NOISE_SPREAD for k, v in qps.items()}


def is_noisy(r, spread):
    q, n = plot.num(r, "qps"), plot.num(r, "n_test")
    short = bool(q and n and n / q < NOISE_MIN_S)
    return short or spread.get(point_key(r), False)


def best_at(rows, target):
    """The row with the highest QPS among rows with recall >= target, or None."""
    ok = [r for r in rows if (plot.num(r, "recall") or 0.0) >= target and plot.num(r, "qps")]
    return max(ok, key=lambda r: plot.num(r, "qps")) if ok else None


def span(values, fmt, rel=0.01):
    """One value, or 'a–b' when they differ by more than rel."""
    vs = sorted(v for v in values if v is not None)
    if not vs:
        return DASH
    if vs[-1] <= vs[0] * (1 + rel) or vs[-1] - vs[0] < 1e-9:
        return fmt(vs[0])
    return f"{fmt(vs[0])}–{fmt(vs[-1])}"


def fmt_qps(q):
    return f"{q:,.0f}"


def fmt_ratio(x):
    return f"{x:.2f}x"


def fmt_speedup(x):
    """1.4x; below 1 two significant digits (0.036x), never 0.0x."""
    return f"{x:.1f}x" if x >= 1 else f"{x:.2g}x"


# ---- baselines --------------------------------------------------------------

def baseline_lines(rows, name):
    """Display labels of the lines NAME designates (see the module doc)."""
    labels = {r["_line"] for r in rows}
    if name in labels:
        return {name}
    algos = {r["algorithm"] for r in rows}
    if name in algos:
        return {r["_line"] for r in rows if r["algorithm"] == name}
    pre = {r["_line"] for r in rows if r["algorithm"].startswith(name + "-")}
    return pre


class Baseline:
    def __init__(self, rows, name):
        self.name = name
        runs = {r["_src"] for r in rows}
        self.is_run = name in runs and len(runs) > 1
        self.lines = set() if self.is_run else baseline_lines(rows, name)
        if not self.is_run and not self.lines:
            raise ReportError(f"--baseline {name}: no line, algorithm or run of that name "
                              f"(algorithms: {', '.join(sorted({r['algorithm'] for r in rows}))})")

    def rows_for(self, rows, ds, line_rows):
        """The baseline rows to compare `line_rows` (one line of dataset ds) with."""
        if self.is_run:
            r0 = line_rows[0]
            bare = r0["_line"][len(r0["_run"]) + 2:] if r0["_run"] else r0["_line"]
            want = f"{self.name}: {bare}"
            if r0["_src"] == self.name:
                return []
            return [r for r in rows if r["dataset"] == ds and r["_line"] == want]
        run = line_rows[0]["_src"]
        mine = [r for r in rows if r["dataset"] == ds and r["_line"] in self.lines]
        same_run = [r for r in mine if r["_src"] == run]
        return same_run or mine


# ---- tables -----------------------------------------------------------------

class Table:
    """A table as cells (text, noisy); rendered to Markdown and LaTeX."""

    def __init__(self, title, head, note=""):
        self.title, self.head, self.rows, self.note = title, head, [], note

    def add(self, cells):
        self.rows.append([c if isinstance(c, tuple) else (c, False) for c in cells])

    def markdown(self):
        out = [f"**{self.title}**", "", "| " + " | ".join(self.head) + " |",
               "|" + "|".join("---" if i == 0 else "---:" for i in range(len(self.head))) + "|"]
        for row in self.rows:
            out.append("| " + " | ".join(md_escape(t) + ("\\*" if n else "") for t, n in row)
                       + " |")
        if self.note:
            out += ["", self.note]
        return "\n".join(out) + "\n"

    def latex(self):
        spec = "l" + "r" * (len(self.head) - 1)
        out = [f"% {self.title}", f"\\begin{{tabular}}{{{spec}}}", "\\toprule",
               " & ".join(tex_escape(h) for h in self.head) + " \\\\", "\\midrule"]
        for row in self.rows:
            out.append(" & ".join(tex_escape(t) + ("$^*$" if n else "") for t, n in row)
                       + " \\\\")
        out += ["\\bottomrule", "\\end{tabular}"]
        return "\n".join(out) + "\n"


def md_escape(s):
    return str(s).replace("|", "\\|")


TEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
               "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
               "^": r"\textasciicircum{}", "—": "---", "–": "--", "µ": r"$\mu$",
               "×": r"$\times$", "≥": r"$\geq$"}


def tex_escape(s):
    return "".join(TEX_SPECIAL.get(ch, ch) for ch in str(s))


def target_tables(rows, targets, baselines, spread):
    tables = []
    for ds in sorted({r["dataset"] for r in rows}, key=plot.natural_key):
        dsr = [r for r in rows if r["dataset"] == ds]
        # a baseline without rows on this dataset gets no columns here
        here = [b for b in baselines if b.is_run or any(r["_line"] in b.lines for r in dsr)]
        head = ["line", "bytes/vector", "build s"]
        for t in targets:
            head.append(f"QPS @{t:g}")
            head += [f"x {b.name}" for b in here]
        head.append("max recall")
        tab = Table(f"{ds}: best QPS at recall >= target", head)
        by_line = collections.defaultdict(list)
        for r in dsr:
            by_line[r["_line"]].append(r)
        for line in sorted(by_line, key=plot.natural_key):
            lr = by_line[line]
            winners = [best_at(lr, t) for t in targets]
            used = [w for w in winners if w] or [max(lr, key=lambda r: plot.num(r, "recall") or 0)]
            cells = [line, span([plot.num(w, "bytes_per_vector") for w in used], lambda v: f"{v:,.0f}"),
                     span([plot.num(w, "build_s") for w in used], lambda v: f"{v:,.1f}", rel=0.0)]
            for t, w in zip(targets, winners):
                if w is None:
                    cells.append(DASH)
                else:
                    cells.append((fmt_qps(plot.num(w, "qps")), is_noisy(w, spread)))
                for b in here:
                    bw = best_at(b.rows_for(rows, ds, lr), t)
                    if w is None or bw is None or line in b.lines:
                        cells.append(DASH)
                    else:
                        cells.append((fmt_ratio(plot.num(w, "qps") / plot.num(bw, "qps")),
                                      is_noisy(w, spread) or is_noisy(bw, spread)))
            cells.append(f"{max(plot.num(r, 'recall') or 0 for r in lr):.4f}")
            tab.add(cells)
        tables.append((ds, tab))
    return tables


def headlines(rows, targets, baselines, spread, published):
    """Sentences and a table: per dataset, target and baseline, the best
    non-baseline line against the best baseline line."""
    tab = Table("Headline: best line vs each baseline at each recall target",
                ["dataset", "recall", "line", "QPS", "baseline", "baseline QPS", "speedup",
                 "published"])
    sentences = []
    base_lines = set().union(*[b.lines for b in baselines]) if baselines else set()
    for ds in sorted({r["dataset"] for r in rows}, key=plot.natural_key):
        dsr = [r for r in rows if r["dataset"] == ds]
        for b in baselines:
            pub = published_for(published, ds, b.name)
            if b.is_run:
                cand = [r for r in dsr if r["_src"] != b.name]
            else:
                cand = [r for r in dsr if r["_line"] not in base_lines]
            for t in targets:
                w = best_at(cand, t)
                bw = best_at(b.rows_for(rows, ds, [w]) if (w and b.is_run) else
                             (b.rows_for(rows, ds, cand[:1]) if cand else []), t)
                if not b.is_run and not [r for r in dsr if r["_line"] in b.lines]:
                    continue  # this baseline has no rows on this dataset
                if w is None and bw is None:
                    continue
                noisy = bool(w and bw and (is_noisy(w, spread) or is_noisy(bw, spread)))
                ratio = plot.num(w, "qps") / plot.num(bw, "qps") if w and bw else None
                tab.add([ds, f"{t:g}", w["_line"] if w else DASH,
                         (fmt_qps(plot.num(w, "qps")), is_noisy(w, spread)) if w else DASH,
                         bw["_line"] if bw else b.name,
                         (fmt_qps(plot.num(bw, "qps")), is_noisy(bw, spread)) if bw else DASH,
                         (fmt_speedup(ratio), noisy) if ratio else DASH, pub or DASH])
                if ratio is None:
                    who = b.name if bw is None else "no other line"
                    sentences.append(f"On {ds}, {who} never reaches recall {t:g}.")
                    continue
                word = "faster" if ratio >= 1 else "slower"
                n = ratio if ratio >= 1 else 1 / ratio
                sentences.append(
                    f"On {ds}, {w['_line']} is {n:.1f}x {word} than {bw['_line']} at recall "
                    f"{t:g} ({fmt_qps(plot.num(w, 'qps'))} vs {fmt_qps(plot.num(bw, 'qps'))} QPS"
                    + (", noisy" if noisy else "") + ").")
    return tab, sentences


def published_for(published, ds, baseline):
    """The text of the first published entry whose dataset (a substring of
    the dataset name) and baseline (a prefix of the baseline name) match;
    entries without both are listed only, never put next to a row."""
    for p in published:
        if p.get("dataset") and p.get("baseline") and p["dataset"] in ds \
                and baseline.startswith(p["baseline"]):
            return p.get("value") or p.get("text")
    return None


def setting_table(rows):
    tab = Table("Setting", ["run", "dataset", "train", "test", "dim", "metric", "k", "threads",
                            "build threads", "best of", "SIMD", "CPU", "commit", "build id"])
    seen = collections.OrderedDict()
    for r in rows:
        seen.setdefault((r["_src"], r["dataset"]), []).append(r)

    def vals(rs, col):
        return ", ".join(sorted({r.get(col, "") or "?" for r in rs}, key=plot.natural_key))

    for (run, ds), rs in seen.items():
        tab.add([run or "-", ds] + [vals(rs, c) for c in
                ("n_train", "n_test", "dim", "metric", "k", "threads", "build_threads", "runs",
                 "simd", "cpu", "commit", "build_id")])
    return tab


# ---- main -------------------------------------------------------------------

def default_specs(latex):
    fmts = ["png", "pdf"] if latex else ["png"]
    return [plot.check_spec({"name": "query-time", "x": "recall", "y": "mean_us", "yscale": "log",
                             "formats": fmts}, "default"),
            plot.check_spec({"name": "qps", "x": "recall", "y": "qps", "yscale": "log",
                             "formats": fmts}, "default")]


def main(argv):
    ap = argparse.ArgumentParser(prog="cannoli report", description=__doc__.splitlines()[0])
    ap.add_argument("csv", nargs="+")
    ap.add_argument("--out", default=None)
    ap.add_argument("--label", action="append", default=[], metavar="FILE=NAME")
    ap.add_argument("--baseline", action="append", default=[], metavar="NAME")
    ap.add_argument("--recall", type=float, nargs="+", default=[0.90, 0.95, 0.99])
    ap.add_argument("--lines", choices=plot.LINES, default="variant")
    ap.add_argument("--latex", action="store_true")
    ap.add_argument("--spec-json", default=None)
    ap.add_argument("--published", default=None,
                    help="JSON list of {dataset, baseline, value, text, source}: published "
                         "numbers to show")
    ap.add_argument("--title", default="cannoli report")
    a = ap.parse_args(argv)
    try:
        runs = {}
        for kv in a.label:
            f, eq, n = kv.rpartition("=")
            if not eq or not f or not n:
                raise ReportError(f"--label: expected FILE=NAME, got '{kv}'")
            if f not in a.csv:
                raise ReportError(f"--label {kv}: {f} is not one of the RESULTS files")
            runs[f] = n
        for t in a.recall:
            if not 0.0 < t <= 1.0:
                raise ReportError(f"--recall: {t:g} is not in (0, 1]")
        rows = plot.read_rows(a.csv, runs)
        plot.assign_lines(rows, a.lines, {})
        baselines = [Baseline(rows, b) for b in a.baseline]
        published = []
        if a.published:
            try:
                with open(a.published) as f:
                    published = json.load(f)
            except (OSError, ValueError) as e:
                raise ReportError(f"{a.published}: {getattr(e, 'strerror', None) or e}")
        specs = plot.load_spec_json(a.spec_json) if a.spec_json else default_specs(a.latex)
        if a.latex:
            for s in specs:
                if "pdf" not in s["formats"]:
                    s["formats"].append("pdf")
        out = a.out or os.path.join(os.path.dirname(os.path.abspath(a.csv[0])), "report")
        os.makedirs(out, exist_ok=True)
        figs = plot.draw_all(rows, specs, out)
        plot.assign_lines(rows, a.lines, {})  # the tables use the report's own line mode
        spread = noise_table(rows)
        tables = target_tables(rows, a.recall, baselines, spread)
        head_tab, sentences = headlines(rows, a.recall, baselines, spread, published)
        setting = setting_table(rows)
    except (ReportError, plot.SpecError) as e:
        print(f"cannoli: {e}", file=sys.stderr)
        return 1

    md = [f"# {a.title}", "",
          "Inputs: " + ", ".join(f"`{f}`" + (f" ({runs[f]})" if f in runs else "") for f in a.csv),
          "", "## Setting", "", setting.markdown(), "## Figures", ""]
    for p in figs:
        if p.endswith(".png"):
            md.append(f"![{os.path.basename(p)}]({os.path.basename(p)})")
            md.append("")
    md += ["## Best QPS at recall targets", "",
           "A line's best QPS among its rows with recall >= the target; "
           "— = the line never reaches it (no interpolation). "
           f"\\* = noisy: repeated measurements more than {NOISE_SPREAD:.0%} apart, or a timed "
           f"pass under {NOISE_MIN_S:g} s (n_test / qps). bytes/vector and build time are those "
           "of the winning rows (a range when they differ).", ""]
    for _, t in tables:
        md += [t.markdown(), ""]
    if baselines:
        md += ["## Headlines", ""] + [f"- {s}" for s in sentences] + ["", head_tab.markdown()]
    if published:
        md += ["## Published numbers", "",
               "As published, measured on the publication's hardware, not ours; for reference "
               "only (the column 'published' above shows the matching entry).", ""]
        listed = []
        for p in published:
            item = f"- {p.get('text', '')}" + (f" (source: {p['source']})" if p.get("source") else "")
            if item not in listed:
                listed.append(item)
        md += listed + [""]
    try:
        with open(os.path.join(out, "report.md"), "w") as f:
            f.write("\n".join(md) + "\n")
        written = [os.path.join(out, "report.md")]
        if a.latex:
            td = os.path.join(out, "tables")
            os.makedirs(td, exist_ok=True)
            texs = [("setting", setting)] + [(f"targets-{ds}", t) for ds, t in tables]
            if baselines:
                texs.append(("headline", head_tab))
            for name, t in texs:
                p = os.path.join(td, re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".tex")
                with open(p, "w") as f:
                    f.write(t.latex())
                written.append(p)
    except OSError as e:
        print(f"cannoli: {e.filename}: {e.strerror}", file=sys.stderr)
        return 1
    for p in written + figs:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
