"""Bad input gives ValueError or TypeError (never a panic or an abort): wrong shapes, NaN,
empty arrays, wrong dtypes, bad hyperparameters, and model files that are missing, broken or of
another method."""

import numpy as np
import pytest

import dasvdd
from dasvdd import DASVDD, KDE, OCSVM, AutoEncoder, DeepSVDD, IForest


@pytest.fixture(scope="module")
def fitted(train_test):
    X, _, _ = train_test
    return AutoEncoder(epochs=2, batch_size=50).fit(X)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros(20, np.float32),  # 1-D
        np.zeros((2, 3, 20), np.float32),  # 3-D
        np.zeros((0, 20), np.float32),  # no samples
        np.zeros((5, 0), np.float32),  # no features
    ],
    ids=["1d", "3d", "no-rows", "no-columns"],
)
@pytest.mark.parametrize("cls", [DASVDD, OCSVM, KDE, IForest, AutoEncoder, DeepSVDD])
def test_bad_shapes_are_value_errors(cls, bad):
    with pytest.raises(ValueError):
        cls().fit(bad)


@pytest.mark.parametrize("cls", [DASVDD, OCSVM, IForest])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_values_are_value_errors(cls, value, train_test):
    X = train_test[0].copy()
    X[7, 3] = value
    with pytest.raises(ValueError, match="row 7, column 3"):
        cls().fit(X)
    with pytest.raises(ValueError):
        cls(scale="zscore").fit(X)


@pytest.mark.parametrize("dtype", [np.longdouble, "U8", "datetime64[s]"])
def test_wrong_dtypes_are_type_errors(dtype, train_test):
    X = train_test[0][:50]
    X = (X * 1e6).astype(np.int64).astype(dtype) if dtype == "datetime64[s]" else X.astype(dtype)
    if dtype is np.longdouble and np.dtype(np.longdouble).itemsize == 8:
        pytest.skip("longdouble is float64 on this platform")
    with pytest.raises(TypeError, match="float32 or float64"):
        IForest().fit(X)


def test_object_sparse_and_complex_inputs(train_test):
    X = train_test[0][:50]
    ref = IForest(random_state=1).fit(X.astype(np.float64)).decision_scores_
    # Numbers in an object array (a DataFrame of mixed column dtypes turns into one) are read
    # as float64, as scikit-learn's check_array reads them.
    np.testing.assert_array_equal(IForest(random_state=1).fit(X.astype(object)).decision_scores_, ref)
    # Text among them is a TypeError naming what is wrong.
    text = X.astype(object)
    text[3, 2] = "abc"
    with pytest.raises(TypeError, match="not numbers"):
        IForest().fit(text)
    # A missing value (None) is NaN, refused with its place.
    missing = X.astype(object)
    missing[4, 1] = None
    with pytest.raises(ValueError, match="row 4, column 1"):
        IForest().fit(missing)
    # Complex values: scikit-learn's ValueError.
    with pytest.raises(ValueError, match="Complex data not supported"):
        IForest().fit(X.astype(np.complex64))
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="sparse input is not supported"):
        IForest().fit(sparse.csr_matrix(X))


def test_dataframes_of_mixed_and_nullable_dtypes(train_test):
    pd = pytest.importorskip("pandas")
    X = train_test[0][:60]
    df = pd.DataFrame(
        {
            "a": X[:, 0].astype(np.float64),
            "n": (X[:, 1] * 10).astype(np.int64),
            "flag": X[:, 2] > 0.5,
        }
    )
    as_float = df.to_numpy(dtype=np.float64)
    ref = IForest(random_state=2).fit(as_float)
    got = IForest(random_state=2).fit(df)
    np.testing.assert_array_equal(got.decision_scores_, ref.decision_scores_)
    np.testing.assert_array_equal(got.decision_function(df), ref.decision_function(as_float))
    nullable = df.astype({"n": "Int64"})
    np.testing.assert_array_equal(
        IForest(random_state=2).fit(nullable).decision_scores_, ref.decision_scores_
    )
    nullable.loc[5, "n"] = pd.NA
    with pytest.raises(ValueError, match="row 5, column 1"):
        IForest().fit(nullable)


def test_non_arrays_are_type_errors():
    with pytest.raises(TypeError):
        IForest().fit([["a", "b"], ["c", "d"]])
    with pytest.raises((TypeError, ValueError)):
        IForest().fit(None)


def test_scoring_errors(fitted, train_test):
    X_test = train_test[1]
    with pytest.raises(ValueError, match="19 features but the ae model was fitted on 20"):
        fitted.decision_function(X_test[:, :19])
    bad = X_test.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="row 0, column 0"):
        fitted.decision_function(bad)
    with pytest.raises(ValueError, match="Complex"):
        fitted.decision_function(X_test.astype(np.complex64))
    with pytest.raises(ValueError):
        fitted.decision_function(X_test[0])


def test_unfitted_estimators_refuse_to_score(train_test):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        DASVDD().decision_function(train_test[1])
    with pytest.raises(NotFittedError):
        IForest().predict(train_test[1])


@pytest.mark.parametrize(
    "det",
    [
        DASVDD(epochs=0),
        DASVDD(kappa=1.5),
        DASVDD(gamma="big"),
        DASVDD(gamma=-1.0),
        DASVDD(preset="vgg"),
        DASVDD(preset="mnist"),  # 784 inputs, data has 20
        DASVDD(center="moving"),
        DASVDD(svdd_term="first"),
        DASVDD(batch_size=0),
        OCSVM(nu=2.0),
        OCSVM(gamma="wide"),
        OCSVM(gamma=-0.1),
        KDE(bandwidth=0.0),
        KDE(bandwidth="silverman"),
        KDE(folds=1),
        KDE(bandwidth=1.0, bandwidth_grid=[0.5, 1.0]),
        IForest(n_trees=0),
        AutoEncoder(lr=-1.0),
        AutoEncoder(epochs=2.5),
        DeepSVDD(hidden=[0]),
        DeepSVDD(center_eps=0.0),
        IForest(contamination=0.7),
        IForest(contamination=0.0),
        IForest(random_state=-1),
        IForest(scale="robust"),
        IForest(device="tpu"),
    ],
    ids=lambda d: repr(d),
)
def test_bad_hyperparameters_are_value_errors(det, train_test):
    with pytest.raises(ValueError):
        det.fit(train_test[0])


def test_scale_none_is_no_scaling(train_test):
    X = train_test[0]
    np.testing.assert_array_equal(
        IForest(scale=None, random_state=1).fit(X).decision_scores_,
        IForest(scale="none", random_state=1).fit(X).decision_scores_,
    )


def test_random_state_takes_numpy_generators_as_scikit_learn_does(train_test):
    X = train_test[0]
    # A RandomState (or Generator) gives its next draw as the seed: the same state, the same
    # model; its state advances, so the instance's next fit differs.
    a = IForest(random_state=np.random.RandomState(0)).fit(X).decision_scores_
    rs = np.random.RandomState(0)
    b = IForest(random_state=rs).fit(X).decision_scores_
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(IForest(random_state=rs).fit(X).decision_scores_, a)
    c = IForest(random_state=np.random.default_rng(5)).fit(X).decision_scores_
    np.testing.assert_array_equal(c, IForest(random_state=np.random.default_rng(5)).fit(X).decision_scores_)
    with pytest.raises(TypeError, match="random_state"):
        IForest(random_state="seven").fit(X)


def test_model_files_of_another_method_are_value_errors(fitted, tmp_path):
    path = tmp_path / "ae.safetensors"
    fitted.save(path)
    with pytest.raises(ValueError, match="holds a `ae` model, not a `dasvdd` model"):
        DASVDD.load(path)
    with pytest.raises(ValueError):
        OCSVM.load(path)
    assert isinstance(dasvdd.load(path), AutoEncoder)


def test_missing_and_broken_model_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        DASVDD.load(tmp_path / "nothing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(ValueError, match="junk.safetensors"):
        dasvdd.load(junk)
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    with pytest.raises(ValueError):
        dasvdd.load(empty)


@pytest.mark.parametrize(
    "det, name",
    [
        (AutoEncoder(epochs=1, lr=float("nan")), "lr"),
        (DASVDD(epochs=1, kappa=float("inf")), "kappa"),
        (KDE(bandwidth=float("nan")), "bandwidth"),
        (KDE(bandwidth_grid=[0.5, float("inf")]), "bandwidth_grid"),
        (OCSVM(gamma=float("-inf")), "gamma"),
    ],
    ids=lambda v: v if isinstance(v, str) else type(v).__name__,
)
def test_non_finite_hyperparameters_are_named(det, name, train_test):
    # Not "hyperparameters are not valid JSON", which is how they reached Rust.
    with pytest.raises(ValueError, match=f"^{name} must be finite"):
        det.fit(train_test[0][:50])


@pytest.mark.parametrize("cls", [AutoEncoder, DASVDD, DeepSVDD])
def test_networks_too_large_to_allocate_are_value_errors(cls, train_test):
    # Each width is below the limit on one layer (2^24), but two such layers would need 10^14
    # weights: the allocation used to abort the interpreter.
    with pytest.raises(ValueError, match="parameters; at most"):
        cls(epochs=1, hidden=(10**7, 10**7)).fit(train_test[0][:50])


def test_float64_beyond_float32_range_is_named(fitted, train_test):
    X = train_test[1].astype(np.float64)
    X[4, 2] = 1e39
    for call in (fitted.decision_function, IForest().fit):
        with pytest.raises(ValueError, match=r"row 4, column 2 is 1e39, beyond the range of float32"):
            call(X)
    X[4, 2] = -3e38  # within range: fine
    assert np.isfinite(fitted.decision_function(X)).all()


def test_big_endian_floats_score_as_native_ones(fitted, train_test):
    X_test = train_test[1]
    ref = fitted.decision_function(X_test)
    for dtype in (">f4", ">f8"):
        np.testing.assert_array_equal(fitted.decision_function(X_test.astype(dtype)), ref)


def test_predict_proba_without_training_statistics_is_not_fitted(fitted, tmp_path, train_test):
    # A model loaded from a file without the estimator's metadata (as `dasvdd train` writes
    # them) given a threshold by hand, as the NotFittedError of predict suggests: predict works,
    # predict_proba says what it lacks instead of raising AttributeError.
    from sklearn.exceptions import NotFittedError

    path = tmp_path / "m.safetensors"
    fitted.model_.save(str(path))
    det = dasvdd.load(path)
    with pytest.raises(NotFittedError, match="threshold"):
        det.predict(train_test[1])
    det.threshold_ = fitted.threshold_
    np.testing.assert_array_equal(det.predict(train_test[1]), fitted.predict(train_test[1]))
    with pytest.raises(NotFittedError, match="predict_proba"):
        det.predict_proba(train_test[1])


@pytest.mark.parametrize(
    "det, name",
    [
        (IForest(n_trees=10**12), "n_trees"),  # 8 TB of tree seeds: the allocation aborted
        (DASVDD(epochs=1, gamma_trials=2**62), "gamma_trials"),  # panicked: capacity overflow
    ],
    ids=["iforest-trees", "dasvdd-gamma-trials"],
)
def test_counts_too_large_to_allocate_are_value_errors(det, name, train_test):
    with pytest.raises(ValueError, match=f"`{name}`"):
        det.fit(train_test[0][:50])
