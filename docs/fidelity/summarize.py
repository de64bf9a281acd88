#!/usr/bin/env python3
"""Summarises the fidelity study's results stores (docs/fidelity.md): per results folder and
method, the mean AUROC (%) over every class and seed, the std over seeds of the class average,
the mean over classes of the per-class std over seeds, the mean gamma, and the number of cells.
Usage: summarize.py RESULTS_DIR... [--classes] [--pair=A,B] [--seeds=S,...] [--terms] [--centre]
(--classes adds one line per class; --pair=A,B the mean and std of AUROC(A) - AUROC(B) over the
cells (class, seed) both methods finished; --seeds=0,1 keeps only the cells of those seeds;
--terms the mean AUROC of each term of the score alone, for the methods whose cells record it:
DASVDD's reconstruction error and ||z - c||^2, since 2026-12-03; --centre the correlation of the
centre's norm after the first epoch with the AUROC, from the cells' details files)."""
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


def pearson(a, b):
    ma, mb = statistics.mean(a), statistics.mean(b)
    num = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    den = (sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b)) ** 0.5
    return num / den if den else float("nan")


def centre_correlation(root, by):
    """For each DASVDD method: ||c|| after the first epoch (the cell's details file, history[0])
    against the cell's AUROC, as Pearson's r over the cells after taking out each class's mean,
    and over the seeds' averages across classes; and each seed's mean ||c|| after epoch 1."""
    for (d, m), recs in sorted(by.items()):
        norm, auroc = {}, {}
        for r in recs:
            prefix = f"{d}-{m}-c{r['class']}-s{r['seed']}-"
            files = [f for f in (Path(root) / "details").glob(prefix + "*.json")]
            if len(files) != 1:
                continue
            hist = json.loads(files[0].read_text()).get("history") or []
            if hist and hist[0].get("center_norm") is not None:
                norm[(r["class"], r["seed"])] = hist[0]["center_norm"]
                auroc[(r["class"], r["seed"])] = 100 * r["auroc"]
        if len(norm) < 3:
            continue
        a, b = [], []
        for k in sorted({k for k, _ in norm}):
            ks = [key for key in norm if key[0] == k]
            mn = statistics.mean(norm[x] for x in ks)
            ma = statistics.mean(auroc[x] for x in ks)
            a += [norm[x] - mn for x in ks]
            b += [auroc[x] - ma for x in ks]
        seeds = sorted({s for _, s in norm})
        sn = [statistics.mean(v for (k, s), v in norm.items() if s == seed) for seed in seeds]
        sa = [statistics.mean(v for (k, s), v in auroc.items() if s == seed) for seed in seeds]
        per_seed = ", ".join(f"{seed}: {v:.2f}" for seed, v in zip(seeds, sn))
        print(
            f"\n{d} {m}: ||c|| after epoch 1 against AUROC, r = {pearson(a, b):.2f} within "
            f"classes ({len(a)} cells), {pearson(sn, sa):.2f} over the seeds' averages; "
            f"mean ||c|| after epoch 1 per seed: {per_seed}"
        )


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
        if "--centre" in sys.argv:
            centre_correlation(root, by)
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
