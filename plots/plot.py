#!/usr/bin/python3
"""Recall-vs-QPS Pareto plots from a cannoli results CSV.

    plots/plot.py results/<name>/results.csv [-o OUTDIR] [--k 10] [--threads 1]

One figure per dataset (PNG and SVG, written next to the CSV unless -o is
given), one line per configuration family: algorithm label + quantizer and
build parameters (the search parameters are what the line sweeps). Each line
is the Pareto front of its points: a point is kept when no other point of the
family has both higher recall and higher QPS, as in ANN-Benchmarks' plots.
QPS is on a log axis. Uses only the standard library and matplotlib.
"""
import argparse
import collections
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def pareto(points):
    """points: [(recall, qps, label)] -> front sorted by recall ascending."""
    front, best_qps = [], -1.0
    for r, q, lab in sorted(points, key=lambda p: (-p[0], -p[1])):
        if q > best_qps:
            front.append((r, q, lab))
            best_qps = q
    return sorted(front)


def family(row):
    parts = [row["algorithm"]]
    if row.get("quantizer_params"):
        parts.append(row["quantizer"] + "{" + row["quantizer_params"].replace("seed=", "s=") + "}")
    bp = ";".join(p for p in row.get("build_params", "").split(";") if p and not p.startswith("seed="))
    if bp:
        parts.append(bp)
    return " ".join(parts)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    ap.add_argument("-o", "--outdir", default=None)
    ap.add_argument("--k", type=int, default=None, help="only rows with this k")
    ap.add_argument("--threads", type=int, default=None, help="only rows with this thread count")
    a = ap.parse_args(argv)
    try:
        with open(a.csv, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        print(f"plot.py: {a.csv}: {e.strerror}", file=sys.stderr)
        return 1
    need = {"dataset", "algorithm", "recall", "qps", "build_params", "k", "threads"}
    if not rows or not need <= set(rows[0]):
        print(f"plot.py: {a.csv}: no rows, or not a cannoli results file", file=sys.stderr)
        return 1
    outdir = a.outdir or os.path.dirname(os.path.abspath(a.csv))
    os.makedirs(outdir, exist_ok=True)
    by_ds = collections.defaultdict(lambda: collections.defaultdict(list))
    for r in rows:
        if a.k is not None and int(r["k"]) != a.k:
            continue
        if a.threads is not None and int(r["threads"]) != a.threads:
            continue
        by_ds[r["dataset"]][family(r)].append(
            (float(r["recall"]), float(r["qps"]), r["search_params"]))
    written = []
    for ds, fams in sorted(by_ds.items()):
        fig, ax = plt.subplots(figsize=(9, 6))
        markers = "os^vD<>ph*x+"
        for i, (fam, pts) in enumerate(sorted(fams.items())):
            front = pareto(pts)
            ax.plot([p[0] for p in front], [p[1] for p in front], marker=markers[i % len(markers)],
                    markersize=4, linewidth=1.4, label=fam)
        k = rows[0]["k"]
        ax.set_yscale("log")
        ax.set_xlabel(f"recall@{k}")
        ax.set_ylabel("queries per second (log)")
        thr = sorted({r["threads"] for r in rows if r["dataset"] == ds})
        simd = sorted({r.get("simd", "?") for r in rows if r["dataset"] == ds})
        ax.set_title(f"{ds}: recall vs QPS (Pareto fronts; threads {','.join(thr)}; simd {','.join(simd)})",
                     fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        for ext in ("png", "svg"):
            path = os.path.join(outdir, f"{ds}.{ext}")
            fig.savefig(path, dpi=120)
            written.append(path)
        plt.close(fig)
    for p in written:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
