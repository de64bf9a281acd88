"""CIFAR-10's Python version, pickled here by Python 3's `pickle` with NumPy's own array
reduction at protocols 2 to 5 (as a user who re-saved the batches would have them; the
official files are Python 2 `cPickle`, which the Rust tests write opcode for opcode): `dasvdd
train` and `dasvdd score --dataset cifar10` on them give the scores, to the bit, that they give
on the binary version of the same images."""

import os
import pickle
import subprocess

import numpy as np
import pytest

PER_IMAGE = 3 * 32 * 32
TRAIN = [f"data_batch_{k}" for k in range(1, 6)]
TEST = "test_batch"


def batches(seed):
    """Six batches (five training, one test) of 30 images: class 0 images around one pattern,
    the others noise, so that a detector trained on class 0 has something to find."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, PER_IMAGE)
    out = []
    for _ in range(6):
        labels = rng.integers(0, 10, 30)
        labels[:5] = 0
        data = rng.integers(0, 256, (30, PER_IMAGE))
        normal = labels == 0
        data[normal] = np.clip(base + rng.integers(-20, 21, (normal.sum(), PER_IMAGE)), 0, 255)
        out.append((data.astype(np.uint8), labels))
    return out


def write_binary(folder, parts):
    folder.mkdir(parents=True)
    for name, (data, labels) in zip([n + ".bin" for n in TRAIN] + [TEST + ".bin"], parts):
        rec = np.concatenate([labels.astype(np.uint8)[:, None], data], axis=1)
        (folder / name).write_bytes(rec.tobytes())


def write_python(folder, parts, protocol, fortran=False, labels_array=False):
    folder.mkdir(parents=True)
    for k, (name, (data, labels)) in enumerate(zip(TRAIN + [TEST], parts)):
        batch = {
            b"batch_label": f"batch {k}".encode(),
            b"labels": labels.astype(np.int64) if labels_array else [int(v) for v in labels],
            b"data": np.asfortranarray(data) if fortran else data,
            b"filenames": [f"img_{i}.png".encode() for i in range(len(labels))],
        }
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f, protocol=protocol)


def scores(cli, data_root, tmp_path, tag):
    env = dict(os.environ, DASVDD_DATA=str(data_root))
    model = tmp_path / f"{tag}.safetensors"
    out = tmp_path / f"{tag}.txt"
    common = ["--dataset", "cifar10", "--class", "0"]
    for args in (
        ["train", *common, "--method", "iforest", "--seed", "3", "--out", str(model), "--quiet"],
        ["score", *common, "--model", str(model), "--out", str(out)],
    ):
        done = subprocess.run([cli, *args], capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr
    return out.read_text()


@pytest.mark.parametrize(
    "protocol,fortran,labels_array",
    [(2, False, False), (3, False, False), (4, False, False), (5, False, False),
     (2, True, False), (5, True, True), (4, False, True)],
)
def test_python_version_scores_as_the_binary_one(cli, tmp_path, protocol, fortran, labels_array):
    parts = batches(7)
    write_binary(tmp_path / "bin" / "cifar10" / "cifar-10-batches-bin", parts)
    write_python(tmp_path / "py" / "cifar10" / "cifar-10-batches-py", parts, protocol,
                 fortran=fortran, labels_array=labels_array)
    from_bin = scores(cli, tmp_path / "bin", tmp_path, "bin")
    from_py = scores(cli, tmp_path / "py", tmp_path, "py")
    lines = from_bin.split()
    assert lines[0] == "score" and len(lines) == 31
    assert len(set(lines[1:])) > 1, "constant scores"
    assert from_py == from_bin


def test_a_truncated_batch_is_an_error_naming_it(cli, tmp_path):
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    write_python(folder, batches(1), protocol=4)
    raw = (folder / "data_batch_3").read_bytes()
    (folder / "data_batch_3").write_bytes(raw[: len(raw) // 2])
    env = dict(os.environ, DASVDD_DATA=str(tmp_path))
    done = subprocess.run(
        [cli, "train", "--dataset", "cifar10", "--method", "iforest",
         "--out", str(tmp_path / "m.safetensors")],
        capture_output=True, text=True, env=env,
    )
    assert done.returncode != 0
    assert "data_batch_3" in done.stderr and "truncated" in done.stderr, done.stderr
    assert "panicked" not in done.stderr


def test_many_python3_bytes_at_protocol_2(cli, tmp_path):
    """Python 3 writes each bytes object at protocol 2 as a call (`_codecs.encode`), so a full
    batch's 10,000 file names are 10,000 calls: read like any other batch (30 images, 5,000
    names here)."""
    parts = batches(5)
    folder = tmp_path / "py" / "cifar10" / "cifar-10-batches-py"
    write_python(folder, parts, protocol=2)
    for name in TRAIN + [TEST]:
        batch = pickle.loads((folder / name).read_bytes(), encoding="bytes")
        batch[b"filenames"] = [b"img_%d.png" % i for i in range(5000)]
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    write_binary(tmp_path / "bin" / "cifar10" / "cifar-10-batches-bin", parts)
    from_py = scores(cli, tmp_path / "py", tmp_path, "py")
    assert from_py == scores(cli, tmp_path / "bin", tmp_path, "bin")
