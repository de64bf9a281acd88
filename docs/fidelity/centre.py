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
Usage: centre.py RESULTS_DIR [--epochs=1,10,100] [--cells]
(--cells adds one line per cell: class, seed, AUROC and the last epoch's offset and spread)."""
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


def main():
    roots = [a for a in sys.argv[1:] if not a.startswith("--")]
    epochs = [int(e) for e in arg("epochs", "1,10,100").split(",")]
    per_cell = "--cells" in sys.argv
    for root in roots:
        au = aurocs(root)
        by = defaultdict(list)
        for f in sorted((Path(root) / "details").glob("*.json")):
            d = json.loads(f.read_text())
            k = d["key"]
            h = [r for r in d.get("history", []) if r.get("center_offset") is not None]
            key = (k["dataset"], k["method"], k["class"], k["seed"])
            if h and key in au:
                by[key[:2]].append((key, h, au[key]))
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
            corr = (statistics.correlation(last, a)
                    if len(rows) > 2 and len(set(last)) > 1 and len(set(a)) > 1 else float("nan"))
            print(f"| {dataset} | {method} | {len(rows)} | {statistics.mean(a):.2f} | "
                  + " | ".join(parts) + f" | {corr:+.2f} |")
            if per_cell:
                for (_, _, k, s), h, x in sorted(rows):
                    r = h[-1]
                    print(f"|  | class {k} seed {s} |  | {x:.2f} | offset {r['center_offset']:.4g}, "
                          f"spread {r['code_spread']:.4g} (epoch {r['epoch']}) |")
        print()


if __name__ == "__main__":
    main()
