"""Fit + score time of the Python package against the `dasvdd` command line on the same data
and seed, alternating the two, and whether their scores are bit-identical.

    python crates/dasvdd-py/examples/bench_vs_cli.py --cli target/debug/dasvdd \\
        [--method dasvdd] [--epochs 10] [--repeats 3]

Data: Fashion-MNIST class 1 (6,000 x 784 training images, the 10,000 test images) from
/usr/share/datasets/fashion-mnist. The same work on both sides: train, score the training data
(PyOD's `fit` sets `decision_scores_`), score the test data. The CLI's time includes its process
starts and reading the `.npy` files; Python's includes nothing but the calls.
"""

import argparse
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

import _fmnist  # examples/_fmnist.py, next to this script
import dasvdd

p = argparse.ArgumentParser()
p.add_argument("--cli", required=True)
p.add_argument("--method", default="dasvdd")
p.add_argument("--epochs", type=int, default=10)
p.add_argument("--repeats", type=int, default=3)
p.add_argument("--data", default=_fmnist.DEFAULT_DIR)
args = p.parse_args()


x_tr, y_tr, x_te, _ = _fmnist.load(args.data)
train = np.ascontiguousarray(x_tr[y_tr == 1])

cls = {c._method: c for c in (dasvdd.DASVDD, dasvdd.OCSVM, dasvdd.KDE, dasvdd.IForest,
                              dasvdd.AutoEncoder, dasvdd.DeepSVDD)}[args.method]
kw = {"random_state": 0}
if args.method in ("dasvdd", "ae"):
    kw["epochs"] = args.epochs
if args.method == "deep_svdd":
    kw["epochs"] = kw["pretrain_epochs"] = args.epochs

# The CLI takes only the flags a method uses: epochs for the neural ones, a seed where the fit
# draws random numbers (OCSVM and KDE are deterministic).
cli_flags = []
if args.method in ("dasvdd", "ae", "deep_svdd"):
    cli_flags += ["--epochs", str(args.epochs)]
if args.method not in ("ocsvm", "kde"):
    cli_flags += ["--seed", "0"]

tmp = Path(tempfile.mkdtemp())
np.save(tmp / "train.npy", train)
np.save(tmp / "test.npy", x_te)


def cli_run():
    started = time.perf_counter()
    subprocess.run([args.cli, "train", "--method", args.method, "--data", str(tmp / "train.npy"),
                    "--out", str(tmp / "m.safetensors"), "--force", "--quiet", *cli_flags], check=True)
    for name in ("train", "test"):
        subprocess.run([args.cli, "score", "--model", str(tmp / "m.safetensors"),
                        "--data", str(tmp / f"{name}.npy"), "--out", str(tmp / f"{name}.csv")],
                       check=True)
    took = time.perf_counter() - started
    scores = np.array([float(v) for v in (tmp / "test.csv").read_text().split()[1:]])
    return took, scores


def py_run():
    started = time.perf_counter()
    det = cls(**kw).fit(train)
    scores = det.decision_function(x_te)
    return time.perf_counter() - started, scores


cli_t, py_t = [], []
for r in range(args.repeats):
    a, cli_scores = cli_run()
    b, py_scores = py_run()
    cli_t.append(a)
    py_t.append(b)
    print(f"run {r + 1}: CLI {a:.2f} s, Python {b:.2f} s, ratio {b / a:.3f}", flush=True)

cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
            if line.startswith("model name")), platform.processor())
epochs = f", {args.epochs} epochs" if args.method in ("dasvdd", "ae", "deep_svdd") else ""
print(f"{args.method}{epochs}, {len(train)} x 784 train, {len(x_te)} test; {cpu}")
print(f"median CLI {statistics.median(cli_t):.2f} s, Python {statistics.median(py_t):.2f} s, "
      f"Python / CLI {statistics.median(py_t) / statistics.median(cli_t):.3f}")
print("scores bit-identical:", bool(np.array_equal(cli_scores, py_scores)))
