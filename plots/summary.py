#!/usr/bin/python3
"""Best QPS at fixed recall, per algorithm configuration, from a results CSV.

    plots/summary.py results/<name>/results.csv [--recall 0.9 0.95 0.99]
                     [--baseline LABEL] [--by algorithm|family|variant] [--threads N] [--markdown]

For each group (by default the algorithm label; `--by family` also splits by
quantizer and build parameters, `--by variant` also by search parameters
other than ef, such as rerank) it prints, for every recall target, the
highest QPS among rows with recall >= target (and the search parameters that
gave it), plus the build time and bytes per vector of that row. With
--baseline LABEL, each QPS is followed by its ratio to the baseline's QPS at
the same target, measured in the same file (so on the same machine); the
baseline built with the same build parameters (e.g. the same M) is used when
there is one. The build time and bytes per vector are those of the rows that
won the targets; when they differ (`--by algorithm` over several builds, e.g.
M=16 and M=32) the range "a-b" is printed instead of one winner's value.
For a full report (figures, LaTeX, several CSVs) see `cannoli report`.
"""
import argparse
import collections
import csv
import sys


def build_of(r):
    return ";".join(p for p in r.get("build_params", "").split(";")
                    if p and not p.startswith("seed=") and not p.startswith("build_on="))


def family(r, by):
    if by == "algorithm":
        return r["algorithm"]
    bp = ";".join(p for p in r.get("build_params", "").split(";") if p and not p.startswith("seed="))
    qp = ";".join(p for p in r.get("quantizer_params", "").split(";") if p and not p.startswith("seed="))
    parts = [r["algorithm"], qp and f"{r['quantizer']}{{{qp}}}", bp]
    if by == "variant":
        # search parameters other than ef (e.g. rerank) change what a row
        # keeps in memory and how it trades speed for recall: own family
        sp = ";".join(p for p in r.get("search_params", "").split(";") if p and not p.startswith("ef="))
        parts.append(sp)
    return " ".join(x for x in parts if x)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    ap.add_argument("--recall", type=float, nargs="+", default=[0.90, 0.95, 0.99])
    ap.add_argument("--baseline", default=None)
    ap.add_argument("--by", choices=("algorithm", "family", "variant"), default="algorithm")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args(argv)
    try:
        with open(a.csv, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        print(f"summary.py: {a.csv}: {e.strerror}", file=sys.stderr)
        return 1
    if a.threads is not None:
        rows = [r for r in rows if int(r["threads"]) == a.threads]
    if not rows:
        print(f"summary.py: {a.csv}: no rows", file=sys.stderr)
        return 1
    groups = collections.OrderedDict()
    for r in rows:
        groups.setdefault((r["dataset"], family(r, a.by)), []).append(r)

    def best(rs, t):
        ok = [r for r in rs if float(r["recall"]) >= t]
        return max(ok, key=lambda r: float(r["qps"])) if ok else None

    base = {}
    if a.baseline:
        keys = [g for g in groups if g[1] == a.baseline
                or all(r["algorithm"] == a.baseline for r in groups[g])]
        if not keys:
            print(f"summary.py: {a.csv}: no rows with algorithm '{a.baseline}'", file=sys.stderr)
            return 1
        # A row is compared with the baseline built with the same build
        # parameters (e.g. M) when there is one, else with the dataset's first.
        for g in keys:
            bt = {t: best(groups[g], t) for t in a.recall}
            base.setdefault(g[0], bt)
            base[(g[0], build_of(groups[g][0]))] = bt

    head = ["dataset", "algorithm"]
    for t in a.recall:
        head += [f"QPS@{t:g}", "at"] + ([f"x{a.baseline}"] if a.baseline else [])
    head += ["build_s", "bytes/vec", "max recall"]
    # Search efficiency (newer CSVs): ns per distance at the row reported for
    # the last recall target, next to the flat scan's ns per vector.
    eff = "ns_per_dist" in rows[0]
    if eff:
        head += ["ns/dist", "scan ns/vec"]
    out = []
    for (ds, fam), rs in groups.items():
        line = [ds, fam]
        last = None
        won = []
        for t in a.recall:
            b = best(rs, t)
            if b is None:
                line += ["-", "-"] + (["-"] if a.baseline else [])
                continue
            last = b
            won.append(b)
            line += [f"{float(b['qps']):.0f}", b["search_params"] or "-"]
            if a.baseline:
                bb = base.get((ds, build_of(rs[0])), base.get(ds, {})).get(t)
                line.append(f"{float(b['qps']) / float(bb['qps']):.2f}" if bb else "-")
        ref = last or max(rs, key=lambda r: float(r["recall"]))
        won = won or [ref]

        def rng(col, fmt):
            vs = sorted({fmt(float(r[col])) for r in won if r.get(col)}, key=float)
            return "-" if not vs else vs[0] if len(vs) == 1 else f"{vs[0]}-{vs[-1]}"
        line += [rng("build_s", lambda v: f"{v:.1f}"), rng("bytes_per_vector", lambda v: f"{v:.2f}"),
                 f"{max(float(r['recall']) for r in rs):.4f}"]
        if eff:
            line += [ref.get("ns_per_dist") or "-", ref.get("scan_ns_per_vector") or "-"]
        out.append(line)
    if a.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for l in out:
            print("| " + " | ".join(l) + " |")
    else:
        w = [max(len(str(x)) for x in col) for col in zip(head, *out)]
        for l in [head] + out:
            print("  ".join(str(x).ljust(n) for x, n in zip(l, w)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
