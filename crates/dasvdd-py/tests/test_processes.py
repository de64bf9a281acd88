"""The estimators in child processes, as scikit-learn's and PyOD's users run them: forked
children of a process that has already fitted and scored (`multiprocessing`'s fork start
method, joblib's multiprocessing backend). rayon's global thread pool does not survive a fork;
the extension's pool is made again in the child, so the child neither hangs nor scores
differently."""

import multiprocessing as mp

import numpy as np
import pytest

from dasvdd import DASVDD, KDE, OCSVM, AutoEncoder, DeepSVDD, IForest

X = np.random.default_rng(0).random((200, 8), dtype=np.float32)
MAKERS = {
    "dasvdd": lambda: DASVDD(epochs=2, random_state=3),
    "ae": lambda: AutoEncoder(epochs=2, random_state=3),
    "deep_svdd": lambda: DeepSVDD(epochs=2, pretrain_epochs=2, random_state=3),
    "ocsvm": lambda: OCSVM(),
    "kde": lambda: KDE(),
    "iforest": lambda: IForest(random_state=3),
}


def fit_and_score(method):
    return MAKERS[method]().fit(X).decision_function(X[:20])


@pytest.mark.skipif(
    "fork" not in mp.get_all_start_methods(), reason="no fork start method on this platform"
)
def test_forked_children_of_a_fitted_process_fit_and_score():
    # The parent computes first, so that its thread pool exists when it forks.
    here = {m: fit_and_score(m) for m in MAKERS}
    with mp.get_context("fork").Pool(2) as pool:
        # A timeout instead of a hang if a child waits for threads it does not have.
        there = pool.map_async(fit_and_score, list(MAKERS)).get(timeout=300)
    for m, scores in zip(MAKERS, there):
        np.testing.assert_array_equal(scores, here[m], err_msg=m)
    # And the parent still computes after its children have gone.
    np.testing.assert_array_equal(fit_and_score("iforest"), here["iforest"])
