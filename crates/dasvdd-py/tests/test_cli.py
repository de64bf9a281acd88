"""Scores from Python equal the command line's bit for bit, for the same seed and data: models
trained by `dasvdd train` and by `fit`, each scored by the other side, for every method."""

import subprocess

import numpy as np
import pytest

import dasvdd
from dasvdd import DASVDD, KDE, OCSVM, AutoEncoder, DeepSVDD, IForest

EPOCHS = 3
SEED = 11

# The Python estimator that `dasvdd train --method M --epochs 3 --seed 11` trains.
PY_EQUIVALENT = {
    "dasvdd": lambda: DASVDD(epochs=EPOCHS, random_state=SEED),
    "ocsvm": lambda: OCSVM(random_state=SEED),
    "kde": lambda: KDE(random_state=SEED),
    "iforest": lambda: IForest(random_state=SEED),
    "ae": lambda: AutoEncoder(epochs=EPOCHS, random_state=SEED),
    # `--epochs` sets both phases of Deep SVDD.
    "deep_svdd": lambda: DeepSVDD(epochs=EPOCHS, pretrain_epochs=EPOCHS, random_state=SEED),
}


def read_scores(path):
    lines = path.read_text().split()
    assert lines[0] == "score"
    return np.array([float(v) for v in lines[1:]], dtype=np.float64)


@pytest.fixture(scope="module")
def files(train_test, tmp_path_factory):
    X, X_test, _ = train_test
    d = tmp_path_factory.mktemp("cli")
    # 400 rows with a batch size of 200: two batches per epoch, as the CLI's defaults.
    np.save(d / "train.npy", X)
    np.save(d / "test.npy", X_test)
    return d


def run(cli, *args):
    done = subprocess.run([cli, *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.parametrize("method", sorted(PY_EQUIVALENT))
def test_python_and_cli_scores_are_bit_identical(method, cli, files, train_test):
    X, X_test, _ = train_test
    d = files
    cli_model = d / f"cli-{method}.safetensors"
    # The CLI rejects flags a method does not take: --epochs is for the networks only, and
    # OCSVM and KDE draw nothing at random.
    flags = ["--epochs", str(EPOCHS)] if method in ("dasvdd", "ae", "deep_svdd") else []
    flags += [] if method in ("ocsvm", "kde") else ["--seed", str(SEED)]
    run(cli, "train", "--method", method, "--data", str(d / "train.npy"), "--out", str(cli_model),
        *flags, "--quiet")
    run(cli, "score", "--model", str(cli_model), "--data", str(d / "test.npy"),
        "--out", str(d / f"cli-{method}.csv"))
    cli_scores = read_scores(d / f"cli-{method}.csv")

    det = PY_EQUIVALENT[method]().fit(X)
    py_scores = det.decision_function(X_test)
    np.testing.assert_array_equal(py_scores, cli_scores)

    # A model trained in Python scores the same with `dasvdd score` ...
    py_model = d / f"py-{method}.safetensors"
    det.save(py_model)
    run(cli, "score", "--model", str(py_model), "--data", str(d / "test.npy"),
        "--out", str(d / f"py-{method}.csv"))
    np.testing.assert_array_equal(read_scores(d / f"py-{method}.csv"), py_scores)
    # ... and a model trained by the CLI the same in Python.
    back = dasvdd.load(cli_model)
    assert back._method == method
    np.testing.assert_array_equal(back.decision_function(X_test), cli_scores)


@pytest.mark.parametrize("scale", ["zscore", "minmax"])
def test_scaling_matches_the_cli(scale, cli, files, train_test):
    X, X_test, _ = train_test
    d = files
    model = d / f"cli-ae-{scale}.safetensors"
    run(cli, "train", "--method", "ae", "--data", str(d / "train.npy"), "--out", str(model),
        "--epochs", "2", "--seed", "3", "--scale", scale, "--quiet")
    run(cli, "score", "--model", str(model), "--data", str(d / "test.npy"),
        "--out", str(d / f"cli-ae-{scale}.csv"))
    det = AutoEncoder(epochs=2, random_state=3, scale=scale).fit(X)
    cli_scores = read_scores(d / f"cli-ae-{scale}.csv")
    np.testing.assert_array_equal(det.decision_function(X_test), cli_scores)
    np.testing.assert_array_equal(dasvdd.load(model).decision_function(X_test), cli_scores)


def test_cli_models_without_a_threshold_say_so(cli, files, train_test):
    from sklearn.exceptions import NotFittedError

    d = files
    model = d / "cli-iforest-thr.safetensors"
    run(cli, "train", "--method", "iforest", "--data", str(d / "train.npy"), "--out", str(model),
        "--quiet")
    det = IForest.load(model)
    assert det.decision_function(train_test[1]).shape == (len(train_test[1]),)
    with pytest.raises(NotFittedError, match="threshold"):
        det.predict(train_test[1])


@pytest.mark.parametrize("dtype", ["<i8", ">i4", "<i2", "|u1", "|b1", "<f2"])
def test_integer_boolean_and_float16_arrays_are_read_as_their_values(dtype, cli, tmp_path,
                                                                      train_test):
    # As scikit-learn's check_array and PyOD read them, and as `dasvdd train` reads such a
    # `.npy` file: each value as the number it is (float32 where exact, else float64, which
    # the models round to float32), so the scores are those of the same values in float64,
    # and those of the CLI on the saved array.
    X, X_test, _ = train_test
    values = (lambda a: a > 0.5) if dtype == "|b1" else (lambda a: (a - 0.5) * 40)
    Xi, Xt = values(X).astype(dtype), values(X_test).astype(dtype)
    assert np.ptp(Xi.astype(np.float64)) > 0
    det = IForest(random_state=SEED).fit(Xi)
    ref = IForest(random_state=SEED).fit(Xi.astype(np.float64))
    np.testing.assert_array_equal(det.decision_scores_, ref.decision_scores_)
    scores = det.decision_function(Xt)
    np.testing.assert_array_equal(scores, ref.decision_function(Xt.astype(np.float64)))
    assert np.ptp(scores) > 0
    np.save(tmp_path / "train.npy", Xi)
    np.save(tmp_path / "test.npy", Xt)
    model = tmp_path / "m.safetensors"
    run(cli, "train", "--method", "iforest", "--data", str(tmp_path / "train.npy"),
        "--out", str(model), "--seed", str(SEED), "--quiet")
    run(cli, "score", "--model", str(model), "--data", str(tmp_path / "test.npy"),
        "--out", str(tmp_path / "s.csv"))
    np.testing.assert_array_equal(read_scores(tmp_path / "s.csv"), scores)


def test_feature_names_are_kept_checked_and_shared_with_the_cli(cli, tmp_path, train_test):
    # A DataFrame's column names are kept (scikit-learn's feature_names_in_), a DataFrame
    # scored with its columns reordered or renamed is a ValueError (it would be scored
    # silently wrong), and the names travel in the model file as `dasvdd train` stores a CSV
    # header's, so that `dasvdd score` checks a scored file's header against them too.
    pd = pytest.importorskip("pandas")
    X, X_test, _ = train_test
    names = [f"f{i}" for i in range(X.shape[1])]
    df, df_test = pd.DataFrame(X, columns=names), pd.DataFrame(X_test, columns=names)
    det = IForest(random_state=SEED).fit(df)
    assert list(det.feature_names_in_) == names
    scores = det.decision_function(df_test)
    np.testing.assert_array_equal(scores, det.decision_function(X_test))  # arrays: no names
    with pytest.raises(ValueError, match="the same columns in another order"):
        det.decision_function(df_test[names[::-1]])
    with pytest.raises(ValueError, match="column 2 is 'g1' where the fit's is 'f1'"):
        det.decision_function(df_test.rename(columns={"f1": "g1"}))
    assert not hasattr(IForest().fit(X), "feature_names_in_")

    model = tmp_path / "named.safetensors"
    det.save(model)
    df_test.to_csv(tmp_path / "test.csv", index=False)
    run(cli, "score", "--model", str(model), "--data", str(tmp_path / "test.csv"),
        "--out", str(tmp_path / "s.csv"))
    np.testing.assert_array_equal(read_scores(tmp_path / "s.csv"), scores)
    df_test[names[::-1]].to_csv(tmp_path / "swapped.csv", index=False)
    done = subprocess.run([cli, "score", "--model", str(model), "--data",
                           str(tmp_path / "swapped.csv"), "--out", str(tmp_path / "x.csv")],
                          capture_output=True, text=True)
    assert done.returncode != 0 and "another order" in done.stderr, done.stderr
    back = dasvdd.load(model)
    assert list(back.feature_names_in_) == names
    # A model `dasvdd train` made from a CSV with a header: its names, checked in Python.
    df.to_csv(tmp_path / "train.csv", index=False)
    cli_model = tmp_path / "cli.safetensors"
    run(cli, "train", "--method", "iforest", "--data", str(tmp_path / "train.csv"),
        "--out", str(cli_model), "--seed", str(SEED), "--quiet")
    from_cli = dasvdd.load(cli_model)
    assert list(from_cli.feature_names_in_) == names
    np.testing.assert_array_equal(from_cli.decision_function(df_test), scores)
    with pytest.raises(ValueError, match="another order"):
        from_cli.decision_function(df_test[names[::-1]])
