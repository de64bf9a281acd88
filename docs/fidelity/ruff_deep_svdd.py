"""One-class Deep SVDD trained as Ruff's released code trains it, in PyTorch, on Fashion-MNIST.

A side-by-side reference for docs/fidelity.md (the paper's Deep SVDD column), never a
dependency of the project. It re-implements what lukasruff/Deep-SVDD-PyTorch does for MNIST
with the settings of its README (REFERENCE.md and the section "Deep SVDD on Ruff's LeNet" of
docs/fidelity.md), on Fashion-MNIST, which that code has no loader for:

- preprocessing: pixels / 255, global contrast normalisation with the l1 norm per image, then
  one min-max scaling whose constants are the minimum and maximum over the normal class's
  training images (Ruff's code hard-codes them per MNIST digit; here they are computed the
  same way for the Fashion-MNIST class);
- networks: `MNIST_LeNet` (bias-free 5x5 convolutions 1->8->4 with padding 2, batch
  normalisation without affine parameters and eps 1e-4, leaky ReLU, 2x2 max pooling, a
  bias-free linear layer to a 32-dimensional code) and its autoencoder (the code reshaped to
  2x4x4, leaky ReLU and nearest 2x upsampling before each of three bias-free transposed
  convolutions, batch normalisation after the first two, sigmoid output);
- pre-training: the autoencoder, Adam lr 1e-4, weight decay 0.5e-3, 150 epochs, lr x 0.1 at
  epoch 50, batch 200, loss the batch mean of each image's summed squared error; the encoder's
  weights then start the one-class network;
- the centre: the mean code of the training images with the network in evaluation mode, each
  coordinate under 0.1 in magnitude pushed to +-0.1;
- one-class training: Adam lr 1e-4, weight decay 0.5e-6, 150 epochs, lr x 0.1 at epoch 50,
  batch 200 (the last smaller batch kept, as Ruff's loaders do), loss the batch mean of
  ||phi(x) - c||^2, network in training mode;
- score: ||phi(x) - c||^2 in evaluation mode on the whole test split; scikit-learn's AUROC.

Usage (a venv with torch, numpy and scikit-learn):
    python docs/fidelity/ruff_deep_svdd.py --data /usr/share/datasets/fashion-mnist \
        --classes 8 --seeds 0 [--epochs 150] [--pretrain-epochs 150] [--threads 2]
Prints one JSON line per (class, seed): AUROC in %, training seconds.
"""

import json
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

from authors_loop import arguments, load


def gcn_l1(x):
    """Global contrast normalisation with the l1 norm, per image (rows of x)."""
    x = x - x.mean(dim=1, keepdim=True)
    return x / x.abs().mean(dim=1, keepdim=True)


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 5, bias=False, padding=2)
        self.bn1 = nn.BatchNorm2d(8, eps=1e-4, affine=False)
        self.conv2 = nn.Conv2d(8, 4, 5, bias=False, padding=2)
        self.bn2 = nn.BatchNorm2d(4, eps=1e-4, affine=False)
        self.fc1 = nn.Linear(4 * 7 * 7, 32, bias=False)

    def forward(self, x):
        x = F.max_pool2d(F.leaky_relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.leaky_relu(self.bn2(self.conv2(x))), 2)
        return self.fc1(x.flatten(1))


class Autoencoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder()
        self.deconv1 = nn.ConvTranspose2d(2, 4, 5, bias=False, padding=2)
        self.bn3 = nn.BatchNorm2d(4, eps=1e-4, affine=False)
        self.deconv2 = nn.ConvTranspose2d(4, 8, 5, bias=False, padding=3)
        self.bn4 = nn.BatchNorm2d(8, eps=1e-4, affine=False)
        self.deconv3 = nn.ConvTranspose2d(8, 1, 5, bias=False, padding=2)

    def forward(self, x):
        z = self.encoder(x).view(-1, 2, 4, 4)
        x = F.interpolate(F.leaky_relu(z), scale_factor=2)
        x = F.interpolate(F.leaky_relu(self.bn3(self.deconv1(x))), scale_factor=2)
        x = F.interpolate(F.leaky_relu(self.bn4(self.deconv2(x))), scale_factor=2)
        return torch.sigmoid(self.deconv3(x))


def train(model, x, loss_of, epochs, weight_decay, gen, batch=200):
    """Ruff's loop: Adam lr 1e-4, lr x 0.1 from epoch 50, shuffled batches of 200."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[50], gamma=0.1)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch):
            xb = x[perm[i : i + batch]]
            opt.zero_grad()
            loss = loss_of(model, xb)
            loss.backward()
            opt.step()
        sched.step()


def main():
    ap = arguments(__doc__.splitlines()[0], "8", "0", 150)
    ap.add_argument("--pretrain-epochs", type=int, default=150)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    xtr, ytr, xte, yte = load(a.data)
    xtr, xte = gcn_l1(xtr), gcn_l1(xte)
    for cls in a.classes:
        x = xtr[ytr == cls].contiguous()
        lo, hi = x.min(), x.max()
        x = ((x - lo) / (hi - lo)).view(-1, 1, 28, 28)
        test = ((xte - lo) / (hi - lo)).view(-1, 1, 28, 28)
        labels = (yte != cls).astype(np.int64)
        for seed in a.seeds:
            torch.manual_seed(seed)
            gen = torch.Generator().manual_seed(seed)
            t0 = time.time()
            ae = Autoencoder()
            recon = lambda m, xb: torch.mean(torch.sum((m(xb) - xb) ** 2, dim=(1, 2, 3)))
            train(ae, x, recon, a.pretrain_epochs, 0.5e-3, gen)
            net = Encoder()
            net.load_state_dict(ae.encoder.state_dict())
            net.eval()
            with torch.no_grad():
                c = torch.cat([net(x[i : i + 200]) for i in range(0, len(x), 200)]).mean(dim=0)
            c[(c.abs() < 0.1) & (c < 0)] = -0.1
            c[(c.abs() < 0.1) & (c > 0)] = 0.1
            dist = lambda m, xb: torch.mean(torch.sum((m(xb) - c) ** 2, dim=1))
            train(net, x, dist, a.epochs, 0.5e-6, gen)
            fit = time.time() - t0
            net.eval()
            with torch.no_grad():
                s = torch.cat([torch.sum((net(test[i : i + 1000]) - c) ** 2, dim=1)
                               for i in range(0, len(test), 1000)]).numpy()
            auc = 100.0 * roc_auc_score(labels, s)
            print(json.dumps({"class": cls, "seed": seed, "epochs": a.epochs,
                              "pretrain_epochs": a.pretrain_epochs, "auroc": round(auc, 2),
                              "fit_seconds": round(fit, 1)}), flush=True)


if __name__ == "__main__":
    main()
