"""Notebook-style tour of the `dasvdd` package on Fashion-MNIST: fit DASVDD and two baselines on
one class, print their AUROCs, save DASVDD to a model file and reload it.

    python crates/dasvdd-py/examples/fashion_mnist.py [--class 1] [--epochs 10] [--data DIR]

The data are the four `*-ubyte.gz` files of Fashion-MNIST (Debian: `apt-get install
dataset-fashion-mnist`, which puts them in /usr/share/datasets/fashion-mnist).
"""

# %% Imports and arguments
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

import _fmnist  # examples/_fmnist.py, next to this script
import dasvdd

parser = argparse.ArgumentParser()
parser.add_argument("--data", default=_fmnist.DEFAULT_DIR)
parser.add_argument("--class", dest="normal", type=int, default=1)
parser.add_argument("--epochs", type=int, default=10)
args = parser.parse_args()

# %% Load Fashion-MNIST: pixels / 255 as float32 rows of 784, as the paper
x_train, y_train, x_test, y_test = _fmnist.load(args.data)

# One-class setting: train on the normal class only; every other class is an anomaly.
train = x_train[y_train == args.normal]
labels = (y_test != args.normal).astype(int)
print(f"class {args.normal}: {len(train)} training images, {len(x_test)} test images")

# %% Fit DASVDD and two baselines, print AUROCs
detectors = {
    "DASVDD": dasvdd.DASVDD(epochs=args.epochs, random_state=0, verbose=1),
    "IForest": dasvdd.IForest(random_state=0),
    "AutoEncoder": dasvdd.AutoEncoder(epochs=args.epochs, random_state=0),
}
for name, det in detectors.items():
    started = time.perf_counter()
    det.fit(train)
    auroc = roc_auc_score(labels, det.decision_function(x_test))
    print(f"{name:12s} AUROC {auroc:.4f}  ({time.perf_counter() - started:.1f} s)")

# %% Save DASVDD to one safetensors file and load it back: the same scores, bit for bit.
# The file is also what `dasvdd score --model FILE --data test.npy --out scores.csv` reads.
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "dasvdd-fmnist.safetensors"
    detectors["DASVDD"].save(path)
    back = dasvdd.load(path)
    same = np.array_equal(back.decision_function(x_test), detectors["DASVDD"].decision_function(x_test))
    print(f"reloaded {type(back).__name__} from {path.name}: identical scores: {same}")
    print("predicted anomalies in the test set:", int(back.predict(x_test).sum()))
