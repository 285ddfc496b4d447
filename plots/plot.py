#!/usr/bin/python3
"""Figures from cannoli results CSVs: any pair of columns, one panel per dataset.

    plots/plot.py RESULTS.csv... [-o OUTDIR] [--k N] [--threads N]
                  [--spec-json FILE]                       # the `plots:` section, as cannoli wrote it
                  [--name N --x COL --y COL [--xscale S] [--yscale S] [--lines algorithm|variant]
                   [--labels KEY=TEXT]... [--formats png,svg,pdf] [--width single|double]
                   [--pareto true|false] [--title TEXT]]   # one figure spec on the command line

Without a spec it draws today's default: per dataset, recall vs QPS (log),
Pareto fronts, PNG and SVG named <dataset>.{png,svg}, next to the first CSV
unless -o is given.

A figure spec (the keys of an experiment file's `plots:` entries; see the
README, "Figures: the plots section") draws one figure with one panel per
dataset and one legend shared by the panels. Its files are
<dataset>-<name>.<fmt> when the rows hold one dataset, else <name>.<fmt>.

Lines. `lines: algorithm` makes one line per algorithm label of the CSV;
`lines: variant` also splits by the quantizer and build parameters and by the
search parameters that are not the swept one (ef, keep), so a re-ranking
variant is a line of its own. In both modes a line whose rows re-rank says so
in its label ("+ rerank"): a re-ranking curve keeps the full-precision
vectors in memory. When several CSVs are given, every label is prefixed with
its run's name (the file's folder, or NAME from CSV=NAME) when two runs
hold the same dataset.

Styles. Colours and markers come from the position of the label in the
natural-sorted list of every label of every input row (all datasets, all
figures), so one label has one style across all figures of a run; pairs
(colour, marker) do not repeat before 10 x 10 lines. The legend is sorted
naturally (M=8 before M=32). The styles used are written to styles.json
next to the figures. Uses only the standard library and matplotlib.
"""
import argparse
import collections
import csv
import json
import math
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

# Columns a figure may put on an axis (numeric columns of the CSV). The C
# side (harness/config.c, plot_columns) holds the same list.
COLUMNS = {
    "recall": "recall@{k}",
    "qps": "queries per second",
    "mean_us": "mean query time (µs)",
    "p50_us": "median query time (µs)",
    "p95_us": "p95 query time (µs)",
    "p99_us": "p99 query time (µs)",
    "build_s": "build time (s)",
    "index_bytes": "index size (bytes)",
    "bytes_per_vector": "bytes per vector",
    "dist_per_query": "distances per query",
    "hops_per_query": "graph hops per query",
    "reranked_per_query": "re-ranked per query",
    "ns_per_dist": "ns per distance",
    "scan_ns_per_vector": "flat-scan ns per vector",
}
HIGHER_IS_BETTER = {"recall", "qps"}
SCALES = ("linear", "log", "logit")
LINES = ("algorithm", "variant")
FORMATS = ("png", "svg", "pdf")
WIDTHS = {"single": 3.3, "double": 7.0}  # inches: one column / two columns
SPEC_KEYS = ("name", "x", "y", "xscale", "yscale", "lines", "labels", "formats", "width",
             "pareto", "title")
# Search parameters that a line sweeps (its points); any other search
# parameter (rerank, query_terms) makes a variant.
SWEPT = ("ef", "keep")
COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
MARKERS = ["o", "s", "^", "v", "D", "<", ">", "p", "h", "*"]
LINESTYLES = ["-", "--", "-.", ":"]


class SpecError(Exception):
    pass


def natural_key(s):
    """'M=8' < 'M=32': digit runs compare as numbers."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t.lower()) for t in re.split(r"(\d+)", s)
            if t != ""]


def params(text, drop=("seed",)):
    """'M=16;seed=42' -> [('M', '16')] without the dropped keys, in order."""
    out = []
    for p in (text or "").split(";"):
        if not p:
            continue
        k, _, v = p.partition("=")
        if k not in drop:
            out.append((k, v))
    return out


def rerank_of(row):
    for k, v in params(row.get("search_params", "")):
        if k == "rerank":
            try:
                return int(float(v))
            except ValueError:
                return 0
    return 0


def num(row, col):
    """The column as a float, or None when empty or not a number."""
    v = row.get(col, "")
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def read_rows(paths, runs=None):
    """Rows of every CSV; each row gets '_run' (the run's name, '' for a
    single file) and '_file'. runs: {path: name} from --run/--label."""
    runs = runs or {}
    rows = []
    names = []
    for p in paths:
        try:
            with open(p, newline="") as f:
                rs = list(csv.DictReader(f))
        except OSError as e:
            raise SpecError(f"{p}: {e.strerror}")
        need = {"dataset", "algorithm", "recall", "qps", "build_params", "search_params", "k",
                "threads"}
        if not rs or not need <= set(rs[0]):
            raise SpecError(f"{p}: no rows, or not a cannoli results file")
        name = runs.get(p) or os.path.basename(os.path.dirname(os.path.abspath(p))) or p
        names.append(name)
        for r in rs:
            r["_file"] = p
            r["_run"] = name
        rows.extend(rs)
    if len(paths) > 1 and len(set(names)) != len(names):
        raise SpecError("two inputs have the same run name: tell them apart with FILE=NAME")
    # Line labels carry the run's name only when runs share a dataset (two
    # commits or machines on one set); '_src' always names the run.
    runs_of = collections.defaultdict(set)
    for r in rows:
        r["_src"] = r["_run"]
        runs_of[r["dataset"]].add(r["_run"])
    if all(len(v) == 1 for v in runs_of.values()):
        for r in rows:
            r["_run"] = ""
    return rows


def line_parts(rows, mode):
    """For each row: (line key, algorithm, suffix parts). A variant names
    only the parameters that vary between rows of the same algorithm on the
    same dataset (so one algorithm keeps one label, and style, across panels)."""
    multi_threads = len({r["threads"] for r in rows}) > 1
    varying = collections.defaultdict(lambda: collections.defaultdict(set))

    def variant_params(r):
        ps = [("q:" + k, v) for k, v in params(r.get("quantizer_params", ""))]
        ps += [("b:" + k, v) for k, v in params(r.get("build_params", ""))]
        ps += [("s:" + k, v) for k, v in params(r.get("search_params", ""), drop=("seed",) + SWEPT)
               if k != "rerank"]
        return ps

    if mode == "variant":
        for r in rows:
            for k, v in variant_params(r):
                varying[(r["_run"], r["dataset"], r["algorithm"])][k].add(v)
    out = []
    for r in rows:
        parts = []
        if mode == "variant":
            vs = varying[(r["_run"], r["dataset"], r["algorithm"])]
            for k, v in variant_params(r):
                if len(vs[k]) > 1:
                    parts.append(f"{k[2:]}={v}")
        rr = rerank_of(r)
        if rr > 0:
            parts.append(f"+ rerank {rr}" if mode == "variant" else "+ rerank")
        if multi_threads:
            parts.append(f"{r['threads']} threads")
        algo = r["algorithm"]
        key = algo + (" (" + ", ".join(parts) + ")" if parts else "")
        if r["_run"]:
            key = f"{r['_run']}: {key}"
        out.append((key, algo, parts))
    return out


def display_label(key, algo, parts, run, labels):
    """labels maps a full line key, or an algorithm name, to display text;
    an algorithm-name label keeps the variant's distinguishing parts. A
    re-ranking line's label always says so."""
    if key in labels:
        text = labels[key]
    else:
        text = labels.get(algo, algo) + (" (" + ", ".join(parts) + ")" if parts else "")
        if run:
            text = f"{run}: {text}"
    if any(p.startswith("+ rerank") for p in parts) and not re.search(r"re-?rank", text, re.I):
        text += " + rerank"
    return text


def assign_lines(rows, mode, labels):
    """Sets row['_line'] (display label) for every row."""
    for r, (key, algo, parts) in zip(rows, line_parts(rows, mode)):
        r["_line"] = display_label(key, algo, parts, r["_run"], labels)


def style_table(rows):
    """label -> (colour, marker, linestyle), over every row of the run."""
    return styles_for({r["_line"] for r in rows})


def styles_for(labels):
    """label -> (colour, marker, linestyle) by position in the natural order."""
    styles = {}
    for i, lab in enumerate(sorted(labels, key=natural_key)):
        c = i % len(COLOURS)
        m = (i + i // len(COLOURS)) % len(MARKERS)  # gcd(11, 10) = 1: no pair repeats
        styles[lab] = (COLOURS[c], MARKERS[m], LINESTYLES[(i // len(COLOURS)) % len(LINESTYLES)])
    return styles


def pareto(points, xcol, ycol):
    """points [(x, y)] -> those not dominated (better in one, no worse in the
    other, each column in its own direction), sorted by x."""
    sx = 1 if xcol in HIGHER_IS_BETTER else -1
    sy = 1 if ycol in HIGHER_IS_BETTER else -1
    front = []
    for p in set(points):
        dominated = any(sx * q[0] >= sx * p[0] and sy * q[1] >= sy * p[1] and q != p
                        for q in points)
        if not dominated:
            front.append(p)
    return sorted(front)


def check_spec(spec, where):
    """Validates one figure spec (a dict) and fills the defaults."""
    if not isinstance(spec, dict):
        raise SpecError(f"{where}: a figure spec must be a map")
    for k in spec:
        if k not in SPEC_KEYS:
            raise SpecError(f"{where}: unknown key '{k}' (expected one of: {', '.join(SPEC_KEYS)})")
    for k in ("name", "x", "y"):
        if not spec.get(k):
            raise SpecError(f"{where}: missing '{k}'")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", str(spec["name"])):
        raise SpecError(f"{where}: 'name' must be a file stem (letters, digits, '_', '-', '.')")
    s = {"xscale": "linear", "yscale": "linear", "lines": "variant", "labels": {},
         "formats": ["png"], "width": "double", "pareto": True, "title": None}
    s.update(spec)
    for ax in ("x", "y"):
        if s[ax] not in COLUMNS:
            raise SpecError(f"{where}: unknown column '{s[ax]}' for {ax} (expected one of: "
                            f"{', '.join(COLUMNS)})")
        sc = s[ax + "scale"]
        if sc not in SCALES:
            raise SpecError(f"{where}: unknown {ax}scale '{sc}' (expected linear, log or logit)")
        if sc == "logit" and s[ax] != "recall":
            raise SpecError(f"{where}: {ax}scale logit needs a column in (0, 1): recall, "
                            f"not '{s[ax]}'")
    if s["lines"] not in LINES:
        raise SpecError(f"{where}: unknown lines '{s['lines']}' (expected algorithm or variant)")
    if isinstance(s["formats"], str):
        s["formats"] = [s["formats"]]
    for f in s["formats"]:
        if f not in FORMATS:
            raise SpecError(f"{where}: unknown format '{f}' (expected png, svg or pdf)")
    if s["width"] not in WIDTHS:
        raise SpecError(f"{where}: unknown width '{s['width']}' (expected single or double)")
    if not isinstance(s["pareto"], bool):
        raise SpecError(f"{where}: 'pareto' must be true or false")
    if not isinstance(s["labels"], dict):
        raise SpecError(f"{where}: 'labels' must be a map")
    return s


LOGIT_EDGE = 1e-4


def logit_clip(v):
    return min(max(v, LOGIT_EDGE), 1.0 - LOGIT_EDGE)


def axis_label(col, k):
    return COLUMNS[col].format(k=k)


def draw(rows, spec, outdir, styles=None, stem=None):
    """One figure for `spec` over `rows` (already filtered): one panel per
    dataset, a shared legend. Returns the written paths."""
    assign_lines(rows, spec["lines"], spec["labels"])
    styles = styles or style_table(rows)
    by_ds = collections.defaultdict(lambda: collections.defaultdict(list))
    for r in rows:
        x, y = num(r, spec["x"]), num(r, spec["y"])
        if x is None or y is None:
            continue  # a missing value is not drawn, never filled in
        by_ds[r["dataset"]][r["_line"]].append((x, y))
    datasets = sorted(by_ds, key=natural_key)
    if not datasets:
        return []
    width = WIDTHS[spec["width"]]
    ncols = 1 if spec["width"] == "single" else min(len(datasets), 3)
    nrows = (len(datasets) + ncols - 1) // ncols
    ph = 2.4 if spec["width"] == "single" else (2.6 if ncols > 1 else 4.2)
    fs = 7 if spec["width"] == "single" or ncols > 1 else 9
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, ph * nrows), squeeze=False)
    handles = {}
    k = rows[0]["k"]
    for i, ds in enumerate(datasets):
        ax = axes[i // ncols][i % ncols]
        for lab in sorted(by_ds[ds], key=natural_key):
            pts = by_ds[ds][lab]
            pts = pareto(pts, spec["x"], spec["y"]) if spec["pareto"] else sorted(pts)
            # a logit axis cannot show 0 or 1: drawn at LOGIT_EDGE from them
            pts = [(logit_clip(p[0]) if spec["xscale"] == "logit" else p[0],
                    logit_clip(p[1]) if spec["yscale"] == "logit" else p[1]) for p in pts]
            colour, marker, ls = styles[lab]
            (h,) = ax.plot([p[0] for p in pts], [p[1] for p in pts], color=colour, marker=marker,
                           linestyle=ls, markersize=3.5, linewidth=1.1, label=lab,
                           gid=f"cnline{i}-" + re.sub(r"[^A-Za-z0-9_.=-]", "_", lab))
            handles.setdefault(lab, h)
        for axis, col in (("x", spec["x"]), ("y", spec["y"])):
            sc = spec[axis + "scale"]
            setter = ax.set_xscale if axis == "x" else ax.set_yscale
            if sc == "logit":
                setter("logit", nonpositive="mask")
                axo = ax.xaxis if axis == "x" else ax.yaxis
                axo.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
                axo.set_minor_formatter(matplotlib.ticker.NullFormatter())
            elif sc == "log":
                setter("log", nonpositive="clip")
                # plain numbers; minor ticks 2 and 5 labelled too when the
                # range spans less than two decades
                axo = ax.xaxis if axis == "x" else ax.yaxis
                lo, hi = ax.get_xlim() if axis == "x" else ax.get_ylim()
                axo.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
                few = lo > 0 and hi / lo < 100
                axo.set_minor_formatter(matplotlib.ticker.FuncFormatter(
                    lambda v, _, few=few: f"{v:g}" if few and f"{v:e}"[0] in "25" else ""))
            else:
                setter("linear")
        ax.set_xlabel(axis_label(spec["x"], k), fontsize=fs)
        ax.set_ylabel(axis_label(spec["y"], k), fontsize=fs)
        ds_rows = [r for r in rows if r["dataset"] == ds]
        shape = f" ({ds_rows[0].get('n_train', '?')} x {ds_rows[0].get('dim', '?')})" \
            if ds_rows[0].get("n_train") else ""
        ax.set_title(spec.get("title") or f"{ds}{shape}", fontsize=fs + 1)
        ax.tick_params(which="both", labelsize=fs - 1)
        ax.grid(True, which="both", alpha=0.3)
    for j in range(len(datasets), nrows * ncols):
        axes[j // ncols][j % ncols].set_visible(False)
    labs = sorted(handles, key=natural_key)
    ncol_leg = 1 if spec["width"] == "single" else min(3, max(1, len(labs)))
    fig.tight_layout()
    fig.legend([handles[lab] for lab in labs], labs, loc="upper center", ncol=ncol_leg,
               fontsize=fs - 1, bbox_to_anchor=(0.5, 0.0), frameon=False)
    if stem is None:
        stem = f"{datasets[0]}-{spec['name']}" if len(datasets) == 1 else spec["name"]
    written = []
    for ext in spec["formats"]:
        path = os.path.join(outdir, f"{stem}.{ext}")
        fig.savefig(path, dpi=150, bbox_inches="tight")
        written.append(path)
    plt.close(fig)
    return written


def default_figures(rows, outdir):
    """Today's default: per dataset, recall vs QPS (log), Pareto fronts,
    <dataset>.png and .svg."""
    spec = check_spec({"name": "recall-qps", "x": "recall", "y": "qps", "yscale": "log",
                       "formats": ["png", "svg"]}, "default")
    assign_lines(rows, spec["lines"], {})
    styles = style_table(rows)
    written = []
    for ds in sorted({r["dataset"] for r in rows}, key=natural_key):
        written += draw([r for r in rows if r["dataset"] == ds], spec, outdir, styles, stem=ds)
    write_styles(outdir, [styles])
    return written


def filter_rows(rows, k=None, threads=None):
    return [r for r in rows if (k is None or int(r["k"]) == k)
            and (threads is None or int(r["threads"]) == threads)]


def write_styles(outdir, tables):
    """styles.json: label -> {colour, marker, linestyle} of every line drawn
    (one style per label; the same label always gets the same style)."""
    merged = {}
    for t in tables:
        for lab, (c, m, ls) in t.items():
            merged.setdefault(lab, {"colour": c, "marker": m, "linestyle": ls})
    path = os.path.join(outdir, "styles.json")
    with open(path, "w") as f:
        json.dump(merged, f, indent=1, sort_keys=True)
    return path


def draw_all(rows, specs, outdir):
    """Every spec, with one style table over the labels of all of them, so
    a label keeps its style in every figure."""
    labels = set()
    for s in specs:
        assign_lines(rows, s["lines"], s["labels"])
        labels |= {r["_line"] for r in rows}
    styles = styles_for(labels)
    written = []
    for s in specs:
        written += draw(rows, s, outdir, styles)
    write_styles(outdir, [styles])
    return written


def parse_bool(v):
    if v in ("true", "yes", "1"):
        return True
    if v in ("false", "no", "0"):
        return False
    raise SpecError(f"--pareto: expected true or false, got '{v}'")


def cli_spec(a):
    spec = {"name": a.name or f"{a.x}-{a.y}", "x": a.x, "y": a.y}
    for k in ("xscale", "yscale", "lines", "width", "title"):
        if getattr(a, k) is not None:
            spec[k] = getattr(a, k)
    if a.formats:
        spec["formats"] = a.formats.split(",")
    if a.pareto is not None:
        spec["pareto"] = parse_bool(a.pareto)
    if a.labels:
        labs = {}
        for kv in a.labels:
            k, eq, v = kv.partition("=")
            if not eq:
                raise SpecError(f"--labels: expected KEY=TEXT, got '{kv}'")
            labs[k] = v
        spec["labels"] = labs
    return check_spec(spec, "command line")


def load_spec_json(path):
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError as e:
        raise SpecError(f"{path}: {e.strerror}")
    except ValueError as e:
        raise SpecError(f"{path}: not JSON: {e}")
    if not isinstance(data, list) or not data:
        raise SpecError(f"{path}: expected a non-empty list of figure specs")
    return [check_spec(s, f"{path}: figure {i + 1}") for i, s in enumerate(data)]


def add_spec_args(ap):
    ap.add_argument("--spec-json", default=None, help="figure specs (the plots: section as JSON)")
    ap.add_argument("--name", default=None)
    ap.add_argument("--x", default=None)
    ap.add_argument("--y", default=None)
    ap.add_argument("--xscale", default=None)
    ap.add_argument("--yscale", default=None)
    ap.add_argument("--lines", default=None)
    ap.add_argument("--labels", action="append", default=[], metavar="KEY=TEXT")
    ap.add_argument("--formats", default=None, help="comma-separated: png,svg,pdf")
    ap.add_argument("--width", default=None)
    ap.add_argument("--pareto", default=None, help="true (default) or false (all points)")
    ap.add_argument("--title", default=None)


def specs_from_args(a):
    """[] means: the default figure."""
    specs = []
    if a.spec_json:
        specs += load_spec_json(a.spec_json)
    if a.x or a.y:
        specs.append(cli_spec(a))
    elif any(getattr(a, k) for k in ("name", "xscale", "yscale", "lines", "labels", "formats",
                                     "width", "pareto", "title")):
        raise SpecError("command line: a figure spec needs --x and --y")
    names = [s["name"] for s in specs]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise SpecError(f"figure name '{sorted(dup)[0]}' used twice")
    return specs


def split_run(arg):
    """'FILE=NAME' -> (FILE, NAME); a plain FILE -> (FILE, None)."""
    if "=" in arg and not os.path.exists(arg):
        f, _, n = arg.rpartition("=")
        return f, n
    return arg, None


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv", nargs="+", help="results CSV, or CSV=NAME to name its run")
    ap.add_argument("-o", "--outdir", default=None)
    ap.add_argument("--k", type=int, default=None, help="only rows with this k")
    ap.add_argument("--threads", type=int, default=None, help="only rows with this thread count")
    add_spec_args(ap)
    a = ap.parse_args(argv)
    try:
        files = [split_run(c) for c in a.csv]
        rows = read_rows([f for f, _ in files], {f: n for f, n in files if n})
        specs = specs_from_args(a)
        rows = filter_rows(rows, a.k, a.threads)
        if not rows:
            raise SpecError(f"{files[0][0]}: no rows left after --k/--threads")
        outdir = a.outdir or os.path.dirname(os.path.abspath(files[0][0]))
        os.makedirs(outdir, exist_ok=True)
        written = draw_all(rows, specs, outdir) if specs else default_figures(rows, outdir)
    except SpecError as e:
        print(f"plot.py: {e}", file=sys.stderr)
        return 1
    for p in written:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
