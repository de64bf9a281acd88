#!/usr/bin/env python3
"""Summarises how far DASVDD's centre c is from the codes during training (docs/fidelity.md,
section "Where the centre is"), from a results folder's per-cell side files
(details/*.json, whose training history records, per epoch, the mean over the centre steps of
||c - mean code||^2 and of the codes' own spread, mean ||z - mean code||^2).

Per method: the mean over cells of the offset ||c - mean code||^2 and of the spread at the
epochs asked for, the offset's share of the two (the part of the SVDD term that moving c could
still remove), the SVDD term's share of the training loss (gamma * svdd / total, from the same
history), the AUROC, and the correlation over cells of the last epoch's offset share with
AUROC.
Usage: centre.py RESULTS_DIR [--epochs=1,10,100] [--cells] [--first-norm]
(--cells adds one line per cell: class, seed, AUROC and the last epoch's offset and spread;
--first-norm adds, per method, the correlation of ||c|| after the first epoch with AUROC, over the
cells once each class's mean is taken out and over the seeds' averages across classes, and each
seed's mean ||c|| after epoch 1)."""
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from summarize import cells


def arg(name, default):
    for a in sys.argv[1:]:
        if a.startswith(f"--{name}="):
            return a[len(name) + 3:]
    return default


def aurocs(root):
    """(dataset, method, class, seed) -> AUROC % from the cell records (read by summarize.py's
    reader, beside this file)."""
    return {(c["dataset"], c["method"], c["class"], c["seed"]): 100 * c["auroc"]
            for c in cells(root)}


def corr(a, b):
    """Pearson's r, or nan where either side is constant or there are fewer than three values."""
    if len(a) > 2 and len(set(a)) > 1 and len(set(b)) > 1:
        return statistics.correlation(a, b)
    return float("nan")


def first_norm_line(rows):
    """--first-norm for one method: rows of (key, ||c|| after epoch 1, AUROC)."""
    norm = {key[2:]: n for key, n, _ in rows}
    auroc = {key[2:]: x for key, _, x in rows}
    a, b = [], []
    for k in sorted({k for k, _ in norm}):
        ks = [key for key in norm if key[0] == k]
        mn = statistics.mean(norm[x] for x in ks)
        ma = statistics.mean(auroc[x] for x in ks)
        a += [norm[x] - mn for x in ks]
        b += [auroc[x] - ma for x in ks]
    seeds = sorted({s for _, s in norm})
    sn = [statistics.mean(v for (_, s), v in norm.items() if s == seed) for seed in seeds]
    sa = [statistics.mean(v for (_, s), v in auroc.items() if s == seed) for seed in seeds]
    per_seed = ", ".join(f"{seed}: {v:.2f}" for seed, v in zip(seeds, sn))
    return (f"||c|| after epoch 1 against AUROC, r = {corr(a, b):.2f} within classes "
            f"({len(a)} cells), {corr(sn, sa):.2f} over the seeds' averages; mean ||c|| after "
            f"epoch 1 per seed: {per_seed}")


def main():
    roots = [a for a in sys.argv[1:] if not a.startswith("--")]
    epochs = [int(e) for e in arg("epochs", "1,10,100").split(",")]
    per_cell = "--cells" in sys.argv
    for root in roots:
        au = aurocs(root)
        by = defaultdict(list)
        first = defaultdict(list)
        for f in sorted((Path(root) / "details").glob("*.json")):
            d = json.loads(f.read_text())
            k = d["key"]
            history = d.get("history", [])
            h = [r for r in history if r.get("center_offset") is not None]
            key = (k["dataset"], k["method"], k["class"], k["seed"])
            if h and key in au:
                by[key[:2]].append((key, h, au[key]))
            if history and history[0].get("center_norm") is not None and key in au:
                first[key[:2]].append((key, history[0]["center_norm"], au[key]))
        print(f"## {root}")
        cols = " | ".join(f"epoch {e}: offset / spread (share); SVDD share of loss" for e in epochs)
        print(f"| dataset | method | cells | AUROC | {cols} | corr(last share, AUROC) |")
        print("|---|---|---:|---:|" + "---|" * len(epochs) + "---:|")
        for (dataset, method), rows in sorted(by.items()):
            parts = []
            for e in epochs:
                recs = [h[e - 1] for _, h, _ in rows if len(h) >= e]
                if not recs:
                    parts.append("-")
                    continue
                off = statistics.mean(r["center_offset"] for r in recs)
                spr = statistics.mean(r["code_spread"] for r in recs)
                share = statistics.mean(
                    r["center_offset"] / (r["center_offset"] + r["code_spread"]) for r in recs
                )
                svdd = statistics.mean(
                    (r["total"] - r["reconstruction"]) / r["total"] for r in recs
                )
                parts.append(f"{off:.3g} / {spr:.3g} ({100 * share:.0f}%); {100 * svdd:.0f}%")
            last = [h[-1]["center_offset"] / (h[-1]["center_offset"] + h[-1]["code_spread"])
                    for _, h, _ in rows]
            a = [x for _, _, x in rows]
            print(f"| {dataset} | {method} | {len(rows)} | {statistics.mean(a):.2f} | "
                  + " | ".join(parts) + f" | {corr(last, a):+.2f} |")
            if per_cell:
                for (_, _, k, s), h, x in sorted(rows):
                    r = h[-1]
                    print(f"|  | class {k} seed {s} |  | {x:.2f} | offset {r['center_offset']:.4g}, "
                          f"spread {r['code_spread']:.4g} (epoch {r['epoch']}) |")
        if "--first-norm" in sys.argv:
            for (dataset, method), rows in sorted(first.items()):
                print(f"\n{dataset} {method}: {first_norm_line(rows)}")
        print()


if __name__ == "__main__":
    main()
