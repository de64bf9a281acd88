#!/usr/bin/env python3
"""AUROC of DASVDD's score and of its two terms, and of the terms re-weighted after training
(docs/fidelity.md, section "Which term of the score carries the AUROC"): the reconstruction
term plus the ratio of the two terms' means over the training split (what eq. (6) computes for
gamma on untrained networks, here on the trained one) times ||z - c||^2.

Each NAME is a pair of files written by `dasvdd score --parts`: NAME.test.csv (the whole
Fashion-MNIST test split of the class) and NAME.train.csv (`--split train`, the class's
training images). Needs numpy and scikit-learn.
Usage: rebalance.py --labels=t10k-labels-idx1-ubyte.gz --class=C NAME..."""
import gzip
import sys

import numpy as np
from sklearn.metrics import roc_auc_score


def main():
    labels_path, normal, names = None, None, []
    for a in sys.argv[1:]:
        if a.startswith("--labels="):
            labels_path = a.split("=", 1)[1]
        elif a.startswith("--class="):
            normal = int(a.split("=", 1)[1])
        else:
            names.append(a)
    if labels_path is None or normal is None or not names:
        sys.exit(__doc__)
    raw = gzip.open(labels_path).read() if labels_path.endswith(".gz") else open(labels_path, "rb").read()
    y = (np.frombuffer(raw[8:], dtype=np.uint8) != normal).astype(int)
    for name in names:
        test = np.genfromtxt(f"{name}.test.csv", delimiter=",", names=True)
        train = np.genfromtxt(f"{name}.train.csv", delimiter=",", names=True)
        if len(test) != len(y):
            sys.exit(f"{name}.test.csv: {len(test)} rows, but {len(y)} labels")
        ratio = train["reconstruction"].mean() / train["svdd"].mean()
        # The model's gamma, read back from score = reconstruction + gamma * svdd.
        gamma = np.median((test["score"] - test["reconstruction"])[test["svdd"] > 0]
                          / test["svdd"][test["svdd"] > 0])
        cells = [
            f"{label} {100 * roc_auc_score(y, s):.2f}"
            for label, s in [
                ("score", test["score"]),
                ("reconstruction", test["reconstruction"]),
                ("svdd", test["svdd"]),
                ("rebalanced", test["reconstruction"] + ratio * test["svdd"]),
            ]
        ]
        print(f"{name}: gamma {gamma:.3g}, trained ratio {ratio:.3g} ({ratio / gamma:.0f}x); "
              + ", ".join(cells))


if __name__ == "__main__":
    main()
