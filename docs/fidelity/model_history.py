#!/usr/bin/env python3
"""Prints chosen epochs of the training history stored in dasvdd-rs model files (the
`history` metadata that `dasvdd inspect --json` also shows): the reconstruction loss, the SVDD
term, the codes' spread and the centre's offset (docs/fidelity.md, section "Which term of the
score carries the AUROC").
Usage: model_history.py [--epochs=1,10,100,300] MODEL.safetensors..."""
import json
import sys

from weight_norms import tensors

FIELDS = ("reconstruction", "svdd", "code_spread", "center_offset")


def main():
    epochs = [1, 2, 10, 100, 300]
    paths = []
    for a in sys.argv[1:]:
        if a.startswith("--epochs="):
            epochs = [int(e) for e in a.split("=", 1)[1].split(",")]
        else:
            paths.append(a)
    if not paths:
        sys.exit(__doc__)
    for path in paths:
        _, meta = tensors(path)
        history = json.loads(meta["history"])
        by_epoch = {r["epoch"]: r for r in history}
        print(f"{path}: gamma {float(meta['gamma']):.4g}, {len(history)} epochs")
        print("  epoch " + "".join(f"{f:>16}" for f in FIELDS))
        for e in epochs:
            r = by_epoch.get(e)
            if r is None:
                continue
            cells = "".join(
                f"{r[f]:>16.4g}" if r.get(f) is not None else f"{'-':>16}" for f in FIELDS
            )
            print(f"  {e:>5} {cells}")


if __name__ == "__main__":
    main()
