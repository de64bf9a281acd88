#!/usr/bin/env python3
"""Finds shared jumps in a results store's training histories (docs/gpu.md, section 5): epochs
at which the reconstruction error of several cells rose over RATIO times the previous epoch's.
A model alone can jump now and then; independent models (other seeds, classes, batches) jumping
at one epoch means part of a stacked tensor was overwritten, as on the H200 on 2026-12-04.
Prints every jump, then a verdict, and exits 1 when some epoch has jumps of at least MIN cells
(2 on bad arguments or an unreadable store).
Usage: shared-jumps.py RESULTS_DIR [--ratio=1.5] [--min=3] | --self-test
"""
import glob
import json
import os
import subprocess
import sys
import tempfile


def fail(message):
    print(message, file=sys.stderr)
    return 2


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    opts = dict(a[2:].split("=", 1) for a in argv if a.startswith("--") and "=" in a)
    if len(args) != 1:
        return fail(__doc__)
    ratio = float(opts.get("ratio", 1.5))
    least = int(opts.get("min", 3))
    files = sorted(glob.glob(os.path.join(args[0], "details", "*.json")))
    if not files:
        return fail(f"{args[0]}: no details/*.json (not a bench-all results folder?)")
    by_epoch = {}
    for f in files:
        try:
            history = json.load(open(f)).get("history") or []
        except (OSError, ValueError) as e:
            return fail(f"{f}: {e}")
        rec = [h.get("reconstruction") for h in history]
        for i in range(1, len(rec)):
            a, b = rec[i - 1], rec[i]
            # The first ten epochs fall steeply and may bounce: not counted.
            if i >= 10 and a and b and b > ratio * a:
                cell = os.path.basename(f).rsplit("-", 1)[0]
                by_epoch.setdefault(history[i].get("epoch", i + 1), []).append((cell, b / a))
    shared = {e: c for e, c in by_epoch.items() if len(c) >= least}
    for epoch in sorted(by_epoch):
        cells = by_epoch[epoch]
        names = ", ".join(f"{c} {r:.1f}x" for c, r in cells)
        print(f"epoch {epoch}: {len(cells)} cell(s): {names}")
    print(
        f"{len(files)} cells; {sum(len(c) for c in by_epoch.values())} jumps over {ratio}x; "
        f"{len(shared)} epoch(s) with jumps of >= {least} cells"
        + (": corrupted steps (docs/gpu.md, section 5)" if shared else "")
    )
    return 1 if shared else 0


def self_test():
    """Runs this script on made-up stores: one lone jump passes, three cells jumping at one
    epoch fail, a folder without details is an error. Part of .ci/run."""

    def store(root, jumps):
        os.makedirs(os.path.join(root, "details"))
        for cell in range(5):
            rec = [1.0 / (e + 1) for e in range(40)]
            if cell in jumps:
                rec[jumps[cell] - 1] = rec[jumps[cell] - 2] * 3
            history = [{"epoch": e + 1, "reconstruction": r} for e, r in enumerate(rec)]
            with open(os.path.join(root, "details", f"ds-m-c0-s{cell}-abc.json"), "w") as f:
                json.dump({"history": history}, f)

    def run(root):
        return subprocess.run(
            [sys.executable, __file__, root], capture_output=True, text=True
        ).returncode

    with tempfile.TemporaryDirectory() as tmp:
        lone, shared = os.path.join(tmp, "lone"), os.path.join(tmp, "shared")
        store(lone, {2: 25})
        store(shared, {0: 30, 1: 30, 3: 30, 4: 12})
        got = (run(lone), run(shared), run(os.path.join(tmp, "none")))
    if got != (0, 1, 2):
        sys.exit(f"shared-jumps self-test failed: exit codes {got}, expected 0, 1 and an error")
    print("shared-jumps self-test: ok")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(self_test())
    sys.exit(main(sys.argv[1:]))
