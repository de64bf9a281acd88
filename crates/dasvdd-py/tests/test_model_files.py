"""Model files as the rest of the project writes them: saves that are atomic (written beside
the destination, then renamed), thresholds shared with `dasvdd train --contamination` and
`dasvdd score --predict`, and estimators that survive pickle and copy.deepcopy."""

import copy
import json
import pickle
import subprocess
import threading

import numpy as np
import pytest

import dasvdd
from dasvdd import DASVDD, KDE, OCSVM, AutoEncoder, DeepSVDD, IForest

FAST = {
    "dasvdd": lambda: DASVDD(epochs=2, batch_size=50),
    "ocsvm": lambda: OCSVM(),
    "kde": lambda: KDE(),
    "iforest": lambda: IForest(n_trees=20),
    "ae": lambda: AutoEncoder(epochs=2, batch_size=50),
    "deep_svdd": lambda: DeepSVDD(epochs=2, pretrain_epochs=1, batch_size=50),
}


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


@pytest.mark.parametrize("method", sorted(FAST))
def test_fitted_estimators_survive_pickle_and_deepcopy(method, train_test):
    X, X_test, _ = train_test
    det = FAST[method]().fit(X)
    ref = det.decision_function(X_test)
    for twin in (pickle.loads(pickle.dumps(det)), copy.deepcopy(det)):
        assert type(twin) is type(det)
        assert twin.get_params() == det.get_params()
        np.testing.assert_array_equal(twin.decision_function(X_test), ref)
        np.testing.assert_array_equal(twin.decision_scores_, det.decision_scores_)
        assert twin.threshold_ == det.threshold_
        np.testing.assert_array_equal(twin.predict(X_test), det.predict(X_test))
        np.testing.assert_array_equal(twin.predict_proba(X_test), det.predict_proba(X_test))
    if method == "dasvdd":
        twin_terms = pickle.loads(pickle.dumps(det)).score_terms(X_test)
        for (n1, w1, v1), (n2, w2, v2) in zip(twin_terms, det.score_terms(X_test)):
            assert (n1, w1) == (n2, w2)
            np.testing.assert_array_equal(v1, v2)
    unfitted = pickle.loads(pickle.dumps(FAST[method]()))
    assert not hasattr(unfitted, "model_")
    assert unfitted.get_params() == FAST[method]().get_params()


def test_cli_thresholds_are_read_and_written(cli, train_test, tmp_path):
    from sklearn.exceptions import NotFittedError

    X, X_test, _ = train_test
    # Every training row five times: scores tie in groups of five, so thresholds taken from
    # the training scores fall on ties, where "score > t" (Python) and "score >= t" (the CLI)
    # would flag different rows.
    X = np.repeat(X[:60], 5, axis=0)
    np.save(tmp_path / "train.npy", X)
    np.save(tmp_path / "test.npy", X_test)

    def run(*args):
        done = subprocess.run([cli, *args], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done

    def cli_predictions(model, data, out):
        run("score", "--model", str(model), "--data", str(tmp_path / data), "--predict",
            "--out", str(tmp_path / out))
        rows = (tmp_path / out).read_text().split()
        assert rows[0] == "score,prediction"
        return np.array([int(r.split(",")[1]) for r in rows[1:]])

    # A model of `dasvdd train --contamination` keeps its threshold in Python ...
    cli_model = tmp_path / "cli.safetensors"
    run("train", "--method", "iforest", "--data", str(tmp_path / "train.npy"), "--out",
        str(cli_model), "--contamination", "0.05", "--quiet")
    stored = json.loads(_metadata(cli_model)["threshold"])
    det = IForest.load(cli_model)
    # ... as the float just below the CLI's, since the CLI flags scores at or above its value.
    assert det.threshold_ == np.nextafter(stored["value"], -np.inf)
    assert det.contamination == 0.05
    scores = det.decision_function(X_test)
    np.testing.assert_array_equal(det.predict(X_test), (scores >= stored["value"]).astype(int))
    # On the training rows the threshold is one of their scores, tied five times: the CLI and
    # Python flag the same rows, the tied ones included.
    train_scores = det.decision_function(X)
    assert (train_scores == stored["value"]).sum() >= 5
    np.testing.assert_array_equal(det.predict(X), cli_predictions(cli_model, "train.npy", "c.csv"))
    # The training scores' range, by which predict_proba scales, is not in the file.
    with pytest.raises(NotFittedError, match="predict_proba"):
        det.predict_proba(X_test)
    # ... and one saved by Python gives `dasvdd score --predict` the estimator's threshold, as
    # the float just above it, so that "score >= value" flags what predict does.
    py = IForest(n_trees=20, contamination=0.203).fit(X)
    assert (py.decision_scores_ == py.threshold_).sum() >= 2  # the quantile falls on a tie
    py_model = tmp_path / "py.safetensors"
    py.save(py_model)
    stored = json.loads(_metadata(py_model)["threshold"])
    assert stored == {
        "value": np.nextafter(py.threshold_, np.inf), "contamination": 0.203, "n_train": len(X)
    }
    np.testing.assert_array_equal(cli_predictions(py_model, "test.npy", "p.csv"), py.predict(X_test))
    np.testing.assert_array_equal(cli_predictions(py_model, "train.npy", "t.csv"), py.predict(X))
    np.testing.assert_array_equal(py.predict(X), py.labels_)
    # Loaded back, the estimator keeps its own threshold exactly.
    assert IForest.load(py_model).threshold_ == py.threshold_


@pytest.mark.parametrize(
    "key, value",
    [
        ("python_estimator", "{not json"),
        ("python_estimator", "[1, 2]"),
        ("python_estimator", '{"params": {}, "threshold": "high"}'),
        ("python_estimator", '{"params": {}, "threshold": 0.5, "train_stats": {"min": 0}}'),
        ("threshold", "{not json"),
        ("threshold", '{"contamination": 0.1}'),
        ("threshold", '{"value": "a", "contamination": 0.1, "n_train": 3}'),
    ],
)
def test_broken_metadata_entries_are_value_errors_naming_them(key, value, tmp_path):
    # As `dasvdd score` reports them: "<file>: metadata `<key>` is invalid: ...", not a
    # JSONDecodeError, KeyError or AttributeError without the file's name.
    det = IForest(n_trees=5).fit(np.random.default_rng(2).normal(size=(40, 3)))
    entries = {"python_estimator": json.dumps({"params": det.get_params(), "threshold": None})}
    entries[key] = value
    path = tmp_path / "m.safetensors"
    det.model_.save(str(path), entries)
    with pytest.raises(ValueError, match=rf"m\.safetensors: metadata `{key}` is invalid"):
        dasvdd.load(path)


@pytest.mark.skipif(not __import__("os").path.exists("/dev/zero"), reason="needs /dev/zero")
def test_loading_a_device_is_an_os_error():
    # Read whole, /dev/zero filled memory until the process was killed.
    with pytest.raises(OSError, match="a device, not a file"):
        DASVDD.load("/dev/zero")


def _rewrite(path, out, edit_header=None, flip_in=None):
    """Writes the safetensors file at `path` to `out`, its header JSON passed through
    `edit_header` and one low bit flipped in the first data byte of tensor `flip_in`."""
    data = bytearray(path.read_bytes())
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    body = data[8 + n :]
    if flip_in is not None:
        body[header[flip_in]["data_offsets"][0]] ^= 1
    if edit_header is not None:
        edit_header(header)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    out.write_bytes(len(text).to_bytes(8, "little") + text + bytes(body))


def test_a_flipped_bit_in_a_weight_is_refused_and_metadata_edits_are_not(tmp_path):
    X = np.random.default_rng(3).normal(size=(60, 5)).astype(np.float32)
    det = DASVDD(epochs=1, batch_size=20, gamma=1.0, contamination=0.1).fit(X)
    path = tmp_path / "m.safetensors"
    det.save(path)
    # Python's own metadata is written after the tensors: the checksum still holds.
    assert len(_metadata(path)["dasvdd_sha256"]) == 64
    want = dasvdd.load(path).decision_function(X)

    _rewrite(path, tmp_path / "damaged.safetensors", flip_in="encoder.0.weight")
    with pytest.raises(
        ValueError,
        match=r"damaged\.safetensors: damaged: its weights do not match the checksum stored "
        r"when it was written",
    ):
        dasvdd.load(tmp_path / "damaged.safetensors")

    def drop_checksum(h):
        del h["__metadata__"]["dasvdd_sha256"]

    def add_note(h):
        h["__metadata__"]["note"] = "edited by hand"

    for name, edit in [("old.safetensors", drop_checksum), ("noted.safetensors", add_note)]:
        _rewrite(path, tmp_path / name, edit_header=edit)
        np.testing.assert_array_equal(dasvdd.load(tmp_path / name).decision_function(X), want)
