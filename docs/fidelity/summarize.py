#!/usr/bin/env python3
"""Summarises the fidelity study's results stores (docs/fidelity.md): per results folder and
method, the mean AUROC (%) over every class and seed, the std over seeds of the class average,
the mean over classes of the per-class std over seeds, the mean gamma, and the number of cells.
Usage: summarize.py RESULTS_DIR... [--classes] [--pair=A,B] [--seeds=S,...] [--terms]
(--classes adds one line per class; --pair=A,B the mean and std of AUROC(A) - AUROC(B) over the
cells (class, seed) both methods finished; --seeds=0,1 keeps only the cells of those seeds;
--terms the mean AUROC of each term of the score alone, for the methods whose cells record it:
DASVDD's reconstruction error and ||z - c||^2, since 2026-12-03)."""
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path


def seed_filter():
    """The seeds of --seeds=S,..., or None for every seed."""
    for a in sys.argv[1:]:
        if a.startswith("--seeds="):
            return {int(s) for s in a[len("--seeds="):].split(",")}
    return None


def cells(root):
    keep = seed_filter()
    for f in sorted((Path(root) / "cells").glob("*.jsonl")):
        for line in f.read_text().splitlines():
            line = line.strip()
            if line:
                try:
                    c = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line being written
                if keep is None or c["seed"] in keep:
                    yield c


def std(v):
    return statistics.stdev(v) if len(v) > 1 else float("nan")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    per_class = "--classes" in sys.argv
    for root in args:
        by = defaultdict(list)
        for c in cells(root):
            by[(c["dataset"], c["method"])].append(c)
        print(f"## {root}")
        print("| dataset | method | AUROC mean | std over seeds (class avg) | mean per-class std | gamma | train | cells |")
        print("|---|---|---|---|---|---|---|---|")
        for (d, m), recs in sorted(by.items()):
            au = [100 * r["auroc"] for r in recs]
            seeds = defaultdict(list)
            classes = defaultdict(list)
            for r in recs:
                seeds[r["seed"]].append(100 * r["auroc"])
                classes[r["class"]].append(100 * r["auroc"])
            # Seed spread only over seeds that cover the same classes.
            ncls = max(len(v) for v in seeds.values())
            seed_means = [statistics.mean(v) for v in seeds.values() if len(v) == ncls]
            cls_std = [std(v) for v in classes.values() if len(v) > 1]
            g = [r["gamma"] for r in recs if r.get("gamma") is not None]
            print(
                f"| {d} | {m} | {statistics.mean(au):.2f} | {std(seed_means):.2f} | "
                f"{statistics.mean(cls_std) if cls_std else float('nan'):.2f} | "
                f"{statistics.mean(g) if g else float('nan'):.4g} | {recs[0]['train']} | {len(recs)} |"
            )
            if per_class:
                for k in sorted(classes):
                    v = classes[k]
                    print(f"|  | class {k} | {statistics.mean(v):.2f} | {std(v):.2f} |  |  |  | {len(v)} |")
        if "--terms" in sys.argv:
            for (d, m), recs in sorted(by.items()):
                # (term's AUROC, the score's) per cell that records the term.
                terms = defaultdict(list)
                for r in recs:
                    for name, a in (r.get("term_auroc") or {}).items():
                        terms[name].append((100 * a, 100 * r["auroc"]))
                if terms:
                    score = statistics.mean(100 * r["auroc"] for r in recs if r.get("term_auroc"))
                    alone = ", ".join(
                        f"{name} {statistics.mean(t for t, _ in v):.2f} (above the score in "
                        f"{sum(t > a for t, a in v)} of {len(v)})"
                        for name, v in sorted(terms.items())
                    )
                    print(f"\n{d} {m}: score {score:.2f}; each term alone: {alone}")
        for a in sys.argv[1:]:
            if a.startswith("--pair="):
                ma, mb = a[len("--pair="):].split(",")
                got = {}
                for c in cells(root):
                    got[(c["dataset"], c["class"], c["seed"], c["method"])] = 100 * c["auroc"]
                diffs = [
                    v - got[(d, k, s, mb)]
                    for (d, k, s, m), v in got.items()
                    if m == ma and (d, k, s, mb) in got
                ]
                if diffs:
                    print(
                        f"\n{ma} - {mb}: {statistics.mean(diffs):+.2f} (std {std(diffs):.2f}, "
                        f"{sum(x > 0 for x in diffs)} of {len(diffs)} paired cells above)"
                    )
        print()


if __name__ == "__main__":
    main()
