"""On real Fashion-MNIST (skipped where it is not installed): DASVDD and two baselines trained
on class 1 (trouser) detect the other classes, AUROC by scikit-learn's roc_auc_score; the
CLI's `dasvdd eval` computes the same AUROC; and side by side with PyOD's own OCSVM and
IForest where PyOD is installed."""

import subprocess

import numpy as np
import pytest

from dasvdd import DASVDD, OCSVM, IForest

roc_auc_score = pytest.importorskip("sklearn.metrics").roc_auc_score

NORMAL = 1
N_TRAIN = 6000  # the whole class
N_TEST = 2000


@pytest.fixture(scope="module")
def split(fmnist):
    x_tr, y_tr, x_te, y_te = fmnist
    train = x_tr[y_tr == NORMAL][:N_TRAIN]
    test, labels = x_te[:N_TEST], (y_te[:N_TEST] != NORMAL).astype(int)
    return train, test, labels


@pytest.fixture(scope="module")
def dasvdd_scores(split):
    train, test, _ = split
    det = DASVDD(epochs=10, random_state=1).fit(train)
    assert det.loss_history_[-1] < det.loss_history_[0]
    return det.decision_function(test)


def test_dasvdd_auroc_on_the_trouser_class(split, dasvdd_scores):
    _, _, labels = split
    auroc = roc_auc_score(labels, dasvdd_scores)
    print(f"Fashion-MNIST class {NORMAL}: DASVDD (10 epochs) AUROC {auroc:.4f}")
    # The bar of the Rust acceptance test (crates/dasvdd-cli/tests/fmnist.rs), same setting.
    assert auroc >= 0.95, auroc


def test_cli_eval_gives_sklearns_auroc(split, dasvdd_scores, cli, tmp_path):
    _, _, labels = split
    scores = tmp_path / "scores.csv"
    scores.write_text("score\n" + "".join(f"{repr(float(s))}\n" for s in dasvdd_scores))
    lab = tmp_path / "labels.csv"
    lab.write_text("label\n" + "".join(f"{v}\n" for v in labels))
    out = subprocess.run(
        [cli, "eval", "--scores", str(scores), "--labels", str(lab), "--json"],
        capture_output=True, text=True, check=True,
    )
    import json

    assert json.loads(out.stdout)["auroc"] == pytest.approx(
        roc_auc_score(labels, dasvdd_scores), abs=1e-12
    )


@pytest.mark.parametrize("ours,theirs", [("OCSVM", "OCSVM"), ("IForest", "IForest")])
def test_side_by_side_with_pyod(split, ours, theirs):
    pyod_models = pytest.importorskip("pyod.models." + theirs.lower())
    train, test, labels = split
    if ours == "OCSVM":
        mine = OCSVM(nu=0.5, gamma="scale").fit(train)
        other = pyod_models.OCSVM(nu=0.5, gamma="scale").fit(train)
    else:
        mine = IForest(n_trees=100, subsample=256, random_state=0).fit(train)
        other = pyod_models.IForest(n_estimators=100, max_samples=256, random_state=0).fit(train)
    a = roc_auc_score(labels, mine.decision_function(test))
    b = roc_auc_score(labels, other.decision_function(test))
    print(f"{ours}: dasvdd AUROC {a:.4f}, PyOD AUROC {b:.4f}")
    if ours == "OCSVM":
        # The same libsvm problem solved to the same tolerance: the same scores to ~1e-3.
        np.testing.assert_allclose(
            mine.decision_function(test), other.decision_function(test), rtol=0, atol=2e-3
        )
        assert abs(a - b) < 1e-3
        assert np.mean(mine.labels_ == other.labels_) > 0.99
    else:
        # Different random streams: the same method, not the same trees.
        assert abs(a - b) < 0.03
    assert mine.threshold_ == pytest.approx(np.percentile(mine.decision_scores_, 90))
