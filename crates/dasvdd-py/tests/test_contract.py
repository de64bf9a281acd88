"""PyOD's BaseDetector contract and scikit-learn conventions for every estimator: shapes and
dtypes, thresholds by contamination, clone/get_params/set_params, grid search, float32/float64
and memory layouts, determinism, training that learns, verbose progress, Ctrl-C, save/load."""

import _thread
import signal
import threading
import time

import numpy as np
import pytest

import dasvdd
from dasvdd import DASVDD, KDE, OCSVM, AutoEncoder, DeepSVDD, IForest

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedKFold  # noqa: E402

# Small settings that fit in well under a second each on 2 cores.
FAST = {
    "dasvdd": lambda **kw: DASVDD(epochs=5, batch_size=50, **kw),
    "ocsvm": lambda **kw: OCSVM(**kw),
    "kde": lambda **kw: KDE(**kw),
    "iforest": lambda **kw: IForest(n_trees=50, **kw),
    "ae": lambda **kw: AutoEncoder(epochs=5, batch_size=50, **kw),
    "deep_svdd": lambda **kw: DeepSVDD(
        epochs=5, pretrain_epochs=2, batch_size=50, lr=1e-3, pretrain_lr=1e-3, **kw
    ),
}
NEURAL = ["dasvdd", "ae", "deep_svdd"]
# Rows of data on which one OCSVM or KDE fit takes seconds (3.5 s and 4.1 s with 32 features,
# dev-profile wheel, Intel(R) Xeon(R) Processor).
CLASSICAL_ROWS = 12000


@pytest.mark.parametrize("method", sorted(FAST))
def test_fit_sets_scores_threshold_and_labels(method, train_test):
    X, X_test, y_test = train_test
    det = FAST[method](contamination=0.05, random_state=3)
    assert det.fit(X) is det
    s = det.decision_scores_
    assert s.shape == (len(X),) and s.dtype == np.float64
    assert np.all(np.isfinite(s)) and s.std() > 0, "scores do not vary"
    assert det.threshold_ == pytest.approx(np.percentile(s, 95))
    assert det.labels_.shape == (len(X),)
    assert set(np.unique(det.labels_)) <= {0, 1}
    assert abs(det.labels_.mean() - 0.05) <= 0.01
    scores = det.decision_function(X_test)
    assert scores.shape == (len(X_test),) and scores.dtype == np.float64
    np.testing.assert_array_equal(det.predict(X_test), (scores > det.threshold_).astype(int))
    proba = det.predict_proba(X_test)
    assert proba.shape == (len(X_test), 2)
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    unify = det.predict_proba(X_test, method="unify")
    assert unify.shape == (len(X_test), 2) and np.all((unify >= 0) & (unify <= 1))
    with pytest.raises(ValueError):
        det.predict_proba(X_test, method="softmax")
    assert roc_auc_score(y_test, scores) > 0.8, f"{method} does not separate anomalies"
    np.testing.assert_array_equal(clone(det).fit_predict(X), det.labels_)


@pytest.mark.parametrize("method", ["iforest", "dasvdd"])
def test_confidence_is_pyods(method, train_test):
    # PyOD's predict_confidence (ExCeeD), predict(return_confidence=True) and
    # predict_proba(return_confidence=True); compared with PyOD's own code run on this
    # estimator where PyOD is installed, else with its formula written out.
    from scipy.stats import binom
    from sklearn.base import is_outlier_detector

    X, X_test, _ = train_test
    det = FAST[method](contamination=0.1, random_state=3).fit(X)
    assert is_outlier_detector(det)
    conf = det.predict_confidence(X_test)
    assert conf.shape == (len(X_test),) and np.all((conf >= 0) & (conf <= 1))
    assert conf.std() > 0, "confidence does not vary"
    try:
        from pyod.models.base import BaseDetector as PyodBase

        want = PyodBase.predict_confidence(det, X_test)
    except ImportError:
        n = len(det.decision_scores_)
        scores = det.decision_function(X_test)
        count = np.array([np.count_nonzero(det.decision_scores_ <= x) for x in scores])
        want = 1 - binom.cdf(n - int(n * 0.1), n, (1 + count) / (2 + n))
        inliers = scores <= det.threshold_
        want[inliers] = 1 - want[inliers]
    np.testing.assert_allclose(conf, want, rtol=0, atol=1e-12)
    labels, c2 = det.predict(X_test, return_confidence=True)
    np.testing.assert_array_equal(labels, det.predict(X_test))
    np.testing.assert_array_equal(c2, conf)
    probs, c3 = det.predict_proba(X_test, return_confidence=True)
    np.testing.assert_array_equal(probs, det.predict_proba(X_test))
    np.testing.assert_array_equal(c3, conf)


@pytest.mark.parametrize("contamination", [0.01, 0.1, 0.3])
def test_threshold_follows_contamination(contamination, train_test):
    X, _, _ = train_test
    det = IForest(contamination=contamination).fit(X)
    assert det.labels_.mean() == pytest.approx(contamination, abs=0.005)


@pytest.mark.parametrize("method", sorted(FAST))
def test_clone_and_params_follow_sklearn(method, train_test):
    X, X_test, _ = train_test
    det = FAST[method](random_state=5)
    params = det.get_params()
    for key in ("contamination", "random_state", "device", "verbose", "scale"):
        assert key in params
    twin = clone(det)
    assert twin.get_params() == params and not hasattr(twin, "model_")
    det.fit(X)
    twin.fit(X)
    # Same seed, same data, same device: the same scores, bit for bit.
    np.testing.assert_array_equal(det.decision_function(X_test), twin.decision_function(X_test))
    assert det.set_params(contamination=0.2) is det and det.contamination == 0.2
    with pytest.raises(ValueError):
        det.set_params(no_such_parameter=1)


def test_defaults_are_the_registry_defaults():
    """The constructors' defaults resolve to exactly what `dasvdd train` uses without flags."""
    import json

    from dasvdd import _native

    for cls, d in [(DASVDD, 784), (DASVDD, 400), (DASVDD, 20), (OCSVM, 20), (KDE, 20),
                   (IForest, 20), (AutoEncoder, 784), (AutoEncoder, 400), (DeepSVDD, 20)]:
        det = cls(random_state=4)
        got = json.loads(_native.resolve(cls._method, det._native_params(), d))
        want = json.loads(_native.registry_defaults(cls._method, d, 4))
        assert got == want, f"{cls.__name__} on {d} features"


def test_grid_search_runs(train_test):
    X, X_test, y_test = train_test
    Xy = np.vstack([X[:200], X_test])
    yy = np.r_[np.zeros(200, int), y_test]

    def auroc(est, X, y):
        return roc_auc_score(y, est.decision_function(X))

    folds = StratifiedKFold(2, shuffle=True, random_state=0)
    grid = {"nu": [0.1, 0.5], "gamma": ["scale", 0.5]}
    search = GridSearchCV(OCSVM(), grid, scoring=auroc, cv=folds)
    search.fit(Xy, yy)
    assert set(search.best_params_) == {"nu", "gamma"}
    assert search.best_estimator_.decision_function(X_test).shape == (len(X_test),)


def test_float32_float64_and_layouts_give_the_same_scores(train_test):
    X, X_test, _ = train_test
    det = AutoEncoder(epochs=3, batch_size=50).fit(X)
    ref = det.decision_function(X_test)
    # float32 values are exact in float64, so the conversion back is exact.
    np.testing.assert_array_equal(det.decision_function(X_test.astype(np.float64)), ref)
    np.testing.assert_array_equal(det.decision_function(np.asfortranarray(X_test)), ref)
    wide = np.repeat(X_test, 2, axis=1)[:, ::2]
    assert not wide.flags.c_contiguous
    np.testing.assert_array_equal(det.decision_function(wide), ref)
    np.testing.assert_array_equal(det.decision_function(X_test.tolist()), ref)
    twin = AutoEncoder(epochs=3, batch_size=50).fit(X.astype(np.float64))
    np.testing.assert_array_equal(twin.decision_function(X_test), ref)


@pytest.mark.parametrize("method", NEURAL)
def test_neural_training_lowers_the_loss(method, train_test):
    X, _, _ = train_test
    det = FAST[method]().set_params(epochs=20).fit(X)
    h = det.loss_history_
    assert len(h) == 20
    assert h[-1] < h[0], f"{method}: loss did not fall: {h}"


def test_seeds_change_neural_results(train_test):
    X, X_test, _ = train_test
    a = DASVDD(epochs=3, batch_size=50, random_state=1).fit(X).decision_function(X_test)
    b = DASVDD(epochs=3, batch_size=50, random_state=2).fit(X).decision_function(X_test)
    assert not np.array_equal(a, b)


def test_verbose_prints_every_epoch(train_test, capsys):
    X, _, _ = train_test
    DASVDD(epochs=3, batch_size=50, verbose=1).fit(X)
    out = capsys.readouterr().out
    for e in (1, 2, 3):
        assert f"epoch {e}/3" in out
    DeepSVDD(epochs=2, pretrain_epochs=2, batch_size=50, verbose=1).fit(X)
    out = capsys.readouterr().out
    assert "pretrain epoch 2/2" in out and "train epoch 2/2" in out
    OCSVM().fit(X)
    assert capsys.readouterr().out == ""


def _seconds_until_interrupted(det, X, after):
    """Fits `det` on `X` with a Ctrl-C sent `after` seconds in; the fit must raise
    KeyboardInterrupt. Returns the seconds from the start to the exception.

    Python's own SIGINT handler is installed for the duration: a process started as a
    background job of a non-interactive shell inherits SIGINT ignored, and then
    `_thread.interrupt_main` does nothing, as it would for a user's Ctrl-C."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(after, _thread.interrupt_main)
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            det.fit(X)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    return time.monotonic() - started


@pytest.mark.parametrize("method", NEURAL)
def test_ctrl_c_interrupts_training(method, train_test):
    X, X_test, _ = train_test
    det = FAST[method]().set_params(epochs=100_000)
    assert _seconds_until_interrupted(det, X, after=0.5) < 10
    assert not hasattr(det, "model_")
    # The estimator and the interpreter are still usable afterwards.
    det.set_params(epochs=2).fit(X)
    assert det.decision_function(X_test).shape == (len(X_test),)


def test_ctrl_c_interrupts_the_gamma_heuristic():
    # DASVDD's gamma heuristic (eq. 6) runs before the first epoch, where Ctrl-C was first
    # checked: with the older package, Ctrl-C after 0.3 s raised only after its 65,536 trials on
    # these rows, 25 s later (2 cores). Ctrl-C is now checked between trials.
    X = np.random.default_rng(7).uniform(size=(4000, 20)).astype(np.float32)
    det = DASVDD(gamma="auto", gamma_trials=2**16, epochs=1, batch_size=50)
    assert _seconds_until_interrupted(det, X, after=0.3) < 3
    assert not hasattr(det, "model_")


@pytest.mark.parametrize("method", NEURAL)
def test_huge_epoch_counts_train_until_interrupted(method, train_test):
    # 2^62 epochs: reserving room for every epoch's record panicked ("capacity overflow",
    # pyo3's PanicException) before the first epoch; now training runs until Ctrl-C.
    X = train_test[0]
    det = FAST[method]().set_params(epochs=2**62)
    if method == "deep_svdd":
        det.set_params(pretrain_epochs=2**62)
    assert _seconds_until_interrupted(det, X, after=0.3) < 10


@pytest.mark.parametrize("method", ["ocsvm", "kde"])
def test_ctrl_c_interrupts_a_classical_fit(method):
    # One fit call with no epochs (about 3.5 s here on these rows): Ctrl-C after 0.2 s must
    # return control at once. Were the fit not interruptible, KeyboardInterrupt would still be
    # raised, but only once the fit ended, and the time check would fail.
    X = np.random.default_rng(5).normal(size=(CLASSICAL_ROWS, 32)).astype(np.float32)
    det = FAST[method]()
    assert _seconds_until_interrupted(det, X, after=0.2) < 0.8
    assert not hasattr(det, "model_")


@pytest.mark.parametrize(
    "det", [IForest(n_trees=10_000), KDE(bandwidth=1.0)], ids=["iforest", "kde-fixed"]
)
def test_ctrl_c_interrupts_the_scoring_of_the_training_data(det):
    # fit ends by scoring the training samples (decision_scores_): for these settings that is
    # nearly all of its time (Isolation Forest, 3,000 rows: 0.13 s of trees, 2.4 s of scores;
    # KDE without cross-validation: no fit at all). Ctrl-C must return at once there too.
    X = np.random.default_rng(6).normal(size=(3000 if det._method == "iforest" else 12000, 16))
    assert _seconds_until_interrupted(det, X.astype(np.float32), after=0.5) < 1.1
    assert not hasattr(det, "model_")


@pytest.mark.parametrize("scale", ["none", "zscore", "minmax"])
@pytest.mark.parametrize("method", sorted(FAST))
def test_decision_scores_are_the_training_samples_decision_function(method, scale, train_test):
    X = train_test[0] * 3.0 + 1.0
    det = FAST[method](scale=scale).fit(X)
    np.testing.assert_array_equal(det.decision_scores_, det.decision_function(X))


@pytest.mark.parametrize("method", sorted(FAST))
def test_save_load_round_trip(method, train_test, tmp_path):
    X, X_test, _ = train_test
    det = FAST[method](random_state=9, contamination=0.07).fit(X)
    path = tmp_path / f"{method}.safetensors"
    det.save(path)
    back = type(det).load(path)
    assert type(back) is type(det)
    assert back.get_params() == det.get_params()
    np.testing.assert_array_equal(back.decision_function(X_test), det.decision_function(X_test))
    assert back.threshold_ == det.threshold_
    np.testing.assert_array_equal(back.predict(X_test), det.predict(X_test))
    np.testing.assert_array_equal(back.predict_proba(X_test), det.predict_proba(X_test))
    any_back = dasvdd.load(path)
    assert type(any_back) is type(det)


def test_scaling_is_stored_in_the_model(train_test, tmp_path):
    X, X_test, _ = train_test
    shifted = X * 40.0 + 7.0
    det = IForest(scale="zscore").fit(shifted)
    det.save(tmp_path / "m.safetensors")
    back = dasvdd.load(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(
        back.decision_function(X_test * 40.0 + 7.0), det.decision_function(X_test * 40.0 + 7.0)
    )
    plain = IForest().fit(X)
    np.testing.assert_allclose(det.decision_scores_, plain.decision_scores_, rtol=0, atol=0.1)


def test_every_registry_method_has_one_estimator_and_the_neural_ones_match():
    registry = dasvdd.methods()
    names = [m["name"] for m in registry]
    classes = [DASVDD, OCSVM, KDE, IForest, AutoEncoder, DeepSVDD]
    assert sorted(c._method for c in classes) == sorted(names)
    assert sorted(FAST) == sorted(names)
    assert sorted(NEURAL) == sorted(m["name"] for m in registry if m["neural"])
    assert [m["paper_column"] for m in registry] == ["OCSVM", "KDE", "IF", "AE", "DSVDD", "DASVDD"]



def test_dasvdd_score_terms_sum_to_its_score_and_survive_save_load(train_test, tmp_path):
    X, X_test, _ = train_test
    det = FAST["dasvdd"](random_state=4).fit(X)
    terms = det.score_terms(X_test)
    assert [(name, type(w)) for name, w, _ in terms] == [
        ("reconstruction", float),
        ("svdd", float),
    ]
    assert terms[0][1] == 1.0 and terms[1][1] > 0.0
    summed = np.zeros(len(X_test))
    for _, weight, values in terms:
        assert values.dtype == np.float64 and values.shape == (len(X_test),)
        assert (values >= 0).all() and np.ptp(values) > 0
        summed = summed + weight * values
    np.testing.assert_array_equal(summed, det.decision_function(X_test))
    det.save(tmp_path / "m.safetensors")
    back = dasvdd.load(tmp_path / "m.safetensors")
    for (n, w, v), (nb, wb, vb) in zip(terms, back.score_terms(X_test)):
        assert (n, w) == (nb, wb)
        np.testing.assert_array_equal(v, vb)


@pytest.mark.parametrize("method", sorted(set(FAST) - {"dasvdd"}))
def test_one_term_scores_refuse_score_terms(method, train_test):
    X, X_test, _ = train_test
    det = FAST[method](random_state=1).fit(X)
    with pytest.raises(ValueError, match="one term"):
        det.score_terms(X_test)
