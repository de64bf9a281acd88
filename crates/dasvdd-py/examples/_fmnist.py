"""Fashion-MNIST for the examples (a helper module, not an example): the four `*-ubyte.gz` IDX
files of a folder, by default where Debian's `dataset-fashion-mnist` package puts them."""

import gzip
from pathlib import Path

import numpy as np

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"


def _idx(path):
    """One gzip-compressed IDX file as a uint8 array of the shape in its header."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(root=DEFAULT_DIR):
    """``(x_train, y_train, x_test, y_test)`` from the folder ``root``: the images as float32
    rows of 784 pixels / 255, as the paper, and the labels (uint8, 0 to 9)."""
    root = Path(root)

    def images(name):
        return _idx(root / name).reshape(-1, 784).astype(np.float32) / 255

    return (
        images("train-images-idx3-ubyte.gz"),
        _idx(root / "train-labels-idx1-ubyte.gz"),
        images("t10k-images-idx3-ubyte.gz"),
        _idx(root / "t10k-labels-idx1-ubyte.gz"),
    )
