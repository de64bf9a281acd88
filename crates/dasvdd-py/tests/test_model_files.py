"""Model files as the rest of the project writes them: saves that are atomic (written beside
the destination, then renamed), and errors that name the path."""

import json
import threading

import numpy as np
import pytest

import dasvdd
from dasvdd import AutoEncoder, IForest


def _metadata(path):
    """The `__metadata__` of the safetensors file at `path`."""
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + n]).get("__metadata__", {})


def test_saves_are_atomic(tmp_path):
    # A model file is written whole beside the destination and renamed onto it: a reader never
    # sees the destination missing, or a model without its preprocessing or the estimator's
    # metadata (which the file would lack between two separate writes).
    X = np.random.default_rng(0).normal(size=(200, 300)).astype(np.float32)
    det = AutoEncoder(epochs=1, batch_size=100, scale="zscore").fit(X)
    path = tmp_path / "m.safetensors"
    det.save(path)
    seen = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            try:
                meta = _metadata(path)
            except FileNotFoundError:
                seen.append("missing")
                continue
            missing = {"preprocessing", "python_estimator"} - set(meta)
            if missing:
                seen.append(f"without {sorted(missing)}")

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for _ in range(40):
            det.save(path)
    finally:
        stop.set()
        watcher.join()
    assert not seen, f"the destination was seen incomplete: {sorted(set(seen))}"
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_failed_saves_name_the_destination_and_leave_nothing_behind(tmp_path):
    det = IForest(n_trees=5).fit(np.random.default_rng(1).normal(size=(50, 4)))
    target = tmp_path / "missing-folder" / "m.safetensors"
    with pytest.raises(OSError, match="missing-folder"):
        det.save(target)
    folder = tmp_path / "a-folder"
    folder.mkdir()
    with pytest.raises(OSError, match="a-folder"):
        det.save(folder)
    assert folder.is_dir() and not any(folder.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-folder"]


def test_loading_a_folder_is_an_os_error(tmp_path):
    with pytest.raises(OSError):
        dasvdd.load(tmp_path)
