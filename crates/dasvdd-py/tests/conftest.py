"""Shared fixtures of the pytest suite of the `dasvdd` package: small synthetic data, the
`dasvdd` command-line binary (for comparisons with the CLI), and real Fashion-MNIST."""

import gzip
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[3]
FMNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


def synthetic(n_normal, n_anomalous, seed, d=20):
    """Normal rows near a 3-dimensional subspace of R^d (values around 0.5), anomalies uniform
    in [0, 1]^d; float32. Returns (X, y) with y = 1 for anomalies."""
    rng = np.random.default_rng(seed)
    basis = np.random.default_rng(12345).uniform(-1, 1, size=(3, d))
    w = rng.uniform(-1, 1, size=(n_normal, 3))
    normal = 0.5 + 0.15 * (w @ basis) + rng.uniform(-0.01, 0.01, size=(n_normal, d))
    anomalous = rng.uniform(0, 1, size=(n_anomalous, d))
    X = np.vstack([normal, anomalous]).astype(np.float32)
    y = np.r_[np.zeros(n_normal, int), np.ones(n_anomalous, int)]
    return X, y


@pytest.fixture(scope="session")
def train_test():
    """(X_train, X_test, y_test): 400 normal training rows; 100 normal + 100 anomalous test rows."""
    X_train, _ = synthetic(400, 0, 1)
    X_test, y_test = synthetic(100, 100, 2)
    return X_train, X_test, y_test


@pytest.fixture(scope="session")
def cli():
    """Path of the `dasvdd` binary: $DASVDD_BIN, else built with cargo (a no-op after
    `cargo test --workspace`); the test is skipped where neither is available."""
    if os.environ.get("DASVDD_BIN"):
        return os.environ["DASVDD_BIN"]
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("cargo is not installed and DASVDD_BIN is not set: no CLI to compare with")
    subprocess.run(
        [cargo, "build", "-q", "-p", "dasvdd-cli"], cwd=REPO, check=True
    )
    meta = subprocess.run(
        [cargo, "metadata", "--format-version", "1", "--no-deps"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    return str(Path(json.loads(meta.stdout)["target_directory"]) / "debug" / "dasvdd")


def _idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


@pytest.fixture(scope="session")
def fmnist():
    """Fashion-MNIST as (train images, train labels, test images, test labels), pixels / 255 as
    float32 rows of 784; skipped where Debian's dataset-fashion-mnist is not installed."""
    if not (FMNIST_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"{FMNIST_DIR} is absent (apt-get install -y dataset-fashion-mnist)")

    def images(name):
        x = _idx(FMNIST_DIR / name).reshape(-1, 784).astype(np.float32)
        return x / np.float32(255.0)

    return (
        images("train-images-idx3-ubyte.gz"),
        _idx(FMNIST_DIR / "train-labels-idx1-ubyte.gz").astype(int),
        images("t10k-images-idx3-ubyte.gz"),
        _idx(FMNIST_DIR / "t10k-labels-idx1-ubyte.gz").astype(int),
    )
