"""Deep SVDD on Fashion-MNIST: dasvdd's LeNet (Ruff's network, through the `dasvdd` CLI) beside
PyOD's `DeepSVDD`, same normal class, same epochs, same test images; AUROC by scikit-learn.

    python deep_svdd_vs_pyod.py --dasvdd target/debug/dasvdd --classes 0 --epochs 30 --seeds 0

Needs torch, pyod and scikit-learn in the Python that runs it, and Fashion-MNIST's four IDX gz
files in --data (default /usr/share/datasets/fashion-mnist). dasvdd trains with Ruff's
preprocessing (global contrast normalisation, l1, then min-max on the normal class:
`--scale gcn-l1-minmax`, the default) or on the pixels in [0, 1] (`--scale none`),
`--pretrain` autoencoder epochs first (default: as many as --epochs)
and `--epochs` one-class epochs; PyOD gets the pixels in [0, 1] (its own standard scaling on
top, by default) and `--epochs` epochs, without pre-training (its default `use_ae=False`).
"""
import argparse
import csv
import gzip
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from sklearn.metrics import roc_auc_score


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def run_dasvdd(args, c, seed, pretrain, labels, env):
    """Trains and scores dasvdd's LeNet Deep SVDD through the CLI: (AUROC %, training s)."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "lenet.toml")
        with open(cfg, "w") as f:
            # configs/fmnist.toml's Deep SVDD (Ruff's MNIST settings) with these epochs.
            f.write('[baselines.deep_svdd]\nnetwork = "lenet"\nlr_milestones = [50]\n')
            f.write("pretrain_lr_milestones = [50]\npretrain_weight_decay = 0.5e-3\n")
            f.write(f"epochs = {args.epochs}\npretrain_epochs = {pretrain}\n")
        model, scores = os.path.join(tmp, "m.safetensors"), os.path.join(tmp, "s.csv")
        t = time.time()
        subprocess.run([args.dasvdd, "train", "--method", "deep_svdd", "--dataset", "fmnist",
                        "--class", str(c), "--seed", str(seed), "--config", cfg, "--scale",
                        args.scale, "--out", model, "--quiet"], check=True, env=env)
        secs = time.time() - t
        subprocess.run([args.dasvdd, "score", "--model", model, "--dataset", "fmnist",
                        "--class", str(c), "--out", scores, "--quiet"], check=True, env=env)
        with open(scores) as f:
            s = np.array([float(r["score"]) for r in csv.DictReader(f)])
    return 100 * roc_auc_score(labels, s), secs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dasvdd", default="target/debug/dasvdd", help="the dasvdd binary")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--classes", default="0")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--pretrain", type=int, default=None)
    ap.add_argument("--scale", default="gcn-l1-minmax",
                    help="dasvdd's preprocessing: gcn-l1-minmax (Ruff's) or none (pixels in [0, 1])")
    ap.add_argument("--skip-pyod", action="store_true")
    ap.add_argument("--skip-dasvdd", action="store_true",
                    help="PyOD only (e.g. beside a `cargo xtask bench-all` run of the same classes)")
    args = ap.parse_args()
    pretrain = args.epochs if args.pretrain is None else args.pretrain

    x_train = idx(os.path.join(args.data, "train-images-idx3-ubyte.gz")).reshape(-1, 784) / 255.0
    y_train = idx(os.path.join(args.data, "train-labels-idx1-ubyte.gz"))
    x_test = idx(os.path.join(args.data, "t10k-images-idx3-ubyte.gz")).reshape(-1, 784) / 255.0
    y_test = idx(os.path.join(args.data, "t10k-labels-idx1-ubyte.gz"))
    env = dict(os.environ, DASVDD_DATA=os.path.dirname(args.data.rstrip("/")))
    print("class,seed,method,epochs,pretrain_epochs,auroc,seconds", flush=True)
    for c in [int(v) for v in args.classes.split(",")]:
        labels = (y_test != c).astype(int)
        for seed in [int(v) for v in args.seeds.split(",")]:
            if not args.skip_dasvdd:
                auroc, secs = run_dasvdd(args, c, seed, pretrain, labels, env)
                print(f"{c},{seed},dasvdd-lenet-{args.scale},{args.epochs},{pretrain},"
                      f"{auroc:.2f},{secs:.1f}", flush=True)
            if args.skip_pyod:
                continue
            from pyod.models.deep_svdd import DeepSVDD
            import torch
            torch.manual_seed(seed)
            det = DeepSVDD(n_features=784, epochs=args.epochs, random_state=seed, verbose=0)
            t = time.time()
            det.fit(x_train[y_train == c])
            secs = time.time() - t
            s = det.decision_function(x_test)
            print(f"{c},{seed},pyod-deepsvdd,{args.epochs},0,"
                  f"{100 * roc_auc_score(labels, s):.2f},{secs:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
