"""DASVDD trained and scored as the authors' 2021 code does it, in PyTorch, on Fashion-MNIST.

A side-by-side reference for docs/fidelity.md, never a dependency of the project: it
re-implements, from ../shared/reference/REFERENCE.md, what the published 2021 code
(Armanfard-Lab/DASVDD: Source/Trainer.py, Source/GammaTune.py, Source/Tester.py,
Network/MNISTNet.py) does, so that the paper's Table 2 can be compared with the authors' own
procedure on this machine:

- network 784-1024-256-256 / 256-256-1024-784, leaky ReLU (slope 0.01) after every hidden
  layer and the code layer, sigmoid output, PyTorch's default initialisation;
- pixels / 255, no other preprocessing; train = the normal class of the official train split,
  test = the whole official test split (normal = 0, anomaly = 1);
- gamma: T = 10 fresh networks, no training, c = 0: the sum over batches of 200 of the batch's
  mean squared reconstruction error, over the sum of the first sample's ||z||^2, averaged over
  the ten networks;
- training: Adam (lr 1e-3, no weight decay) on the first ceil(0.9 * 200) = 180 samples of each
  shuffled batch (last incomplete batch dropped) with the loss MSE + gamma * ||z_first - c||^2,
  c not detached; then c's loss MSE(c, mean code of the other 20 samples) through the updated
  network, and AdaGrad (lr 1, lr_decay 0.01) on c, whose gradient is never cleared; 300 epochs;
- score: per test image, its mean squared reconstruction error + gamma * ||z - c||^2; AUROC by
  scikit-learn's roc_auc_score.

Usage (a venv with torch, numpy and scikit-learn):
    python docs/fidelity/authors_loop.py --data /usr/share/datasets/fashion-mnist \
        --classes 5,8 --seeds 0,1,2 [--epochs 300] [--threads 2]
Prints one JSON line per (class, seed): AUROC in %, gamma, training seconds.
"""

import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score


def read_idx(path):
    """The array of an IDX file (gzip-compressed or not)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        sys.exit(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        sys.exit(f"{path}: {body.size} values where the header says {dims}")
    return body.reshape(dims)


def load(folder):
    """(train images, train labels, test images, test labels), images as float32 in [0, 1]."""
    def find(stem):
        for name in (stem + ".gz", stem):
            p = os.path.join(folder, name)
            if os.path.exists(p):
                return p
        sys.exit(f"{folder}: no {stem}[.gz]")

    xs = [read_idx(find(s)) for s in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte")]
    ys = [read_idx(find(s)) for s in ("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte")]
    to_float = lambda a: torch.from_numpy(a.reshape(len(a), -1).astype(np.float32) / 255.0)
    return to_float(xs[0]), torch.from_numpy(ys[0].astype(np.int64)), to_float(xs[1]), ys[1]


class Net(torch.nn.Module):
    """The 2021 code's MNIST / Fashion-MNIST autoencoder."""

    def __init__(self):
        super().__init__()
        L = torch.nn.Linear
        self.e1, self.e2, self.e3 = L(784, 1024), L(1024, 256), L(256, 256)
        self.d1, self.d2, self.d3 = L(256, 256), L(256, 1024), L(1024, 784)

    def forward(self, x):
        f = F.leaky_relu
        code = f(self.e3(f(self.e2(f(self.e1(x))))))
        out = torch.sigmoid(self.d3(f(self.d2(f(self.d1(code))))))
        return out, code


def batches(n, size, gen):
    """The index batches of one shuffled epoch, the last incomplete one dropped."""
    perm = torch.randperm(n, generator=gen)
    return [perm[i : i + size] for i in range(0, n - size + 1, size)]


def gamma_of(x, gen, trials=10, batch=200):
    """Eq. (6) as the 2021 code computes it (first sample's ||z||^2 per batch)."""
    total = 0.0
    with torch.no_grad():
        for _ in range(trials):
            model = Net()
            re, r = 0.0, 0.0
            for idx in batches(len(x), batch, gen):
                xb = x[idx]
                out, code = model(xb)
                r += float(torch.sum(code**2, dim=1)[0])
                re += float(F.mse_loss(out, xb))
            total += re / r
    return total / trials


def train(x, gamma, epochs, gen, batch=200, kappa=0.9):
    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    c = torch.randn(256, generator=gen, requires_grad=True)
    copt = torch.optim.Adagrad([c], lr=1.0, lr_decay=0.01)
    n_net = math.ceil(kappa * batch)
    for _ in range(epochs):
        for idx in batches(len(x), batch, gen):
            xb = x[idx]
            opt.zero_grad()
            out, code = model(xb[:n_net])
            loss = F.mse_loss(out, xb[:n_net]) + gamma * torch.sum((code - c) ** 2, dim=1)[0]
            loss.backward()
            opt.step()
            _, c_code = model(xb[n_net:])
            F.mse_loss(c, torch.mean(c_code, dim=0)).backward()
            copt.step()
    return model, c


def scores(model, c, gamma, x):
    with torch.no_grad():
        out, code = model(x)
        return (torch.mean((out - x) ** 2, dim=1) + gamma * torch.sum((code - c) ** 2, dim=1)).numpy()


def int_list(text):
    """`"5,8"` -> `[5, 8]`."""
    return [int(v) for v in text.split(",")]


def arguments(description, classes, seeds, epochs):
    """The options both reference scripts take (this one and ruff_deep_svdd.py), with their
    defaults: the data folder, the normal classes, the seeds, the epochs, the threads."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--data", default=os.path.join(os.environ.get("DASVDD_DATA", "."), "fashion-mnist"))
    ap.add_argument("--classes", type=int_list, default=classes)
    ap.add_argument("--seeds", type=int_list, default=seeds)
    ap.add_argument("--epochs", type=int, default=epochs)
    ap.add_argument("--threads", type=int, default=2)
    return ap


def main():
    a = arguments(__doc__.splitlines()[0], "5,8", "0,1,2", 300).parse_args()
    torch.set_num_threads(a.threads)
    xtr, ytr, xte, yte = load(a.data)
    for cls in a.classes:
        x = xtr[ytr == cls].contiguous()
        labels = (yte != cls).astype(np.int64)
        for seed in a.seeds:
            torch.manual_seed(seed)
            gen = torch.Generator().manual_seed(seed)
            t0 = time.time()
            gamma = gamma_of(x, gen)
            model, c = train(x, gamma, a.epochs, gen)
            fit = time.time() - t0
            auc = 100.0 * roc_auc_score(labels, scores(model, c.detach(), gamma, xte))
            print(json.dumps({"class": cls, "seed": seed, "epochs": a.epochs, "auroc": round(auc, 2),
                              "gamma": round(gamma, 4), "fit_seconds": round(fit, 1)}), flush=True)


if __name__ == "__main__":
    main()
