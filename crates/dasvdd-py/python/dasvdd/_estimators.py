"""The six detectors. Each constructor takes the method's hyperparameters under the names of the
project's config files and params structs, with their defaults (``None``: the paper's value for
the data's width, as ``dasvdd train`` chooses it: e.g. the learning rates of a preset), plus
PyOD's ``contamination``, ``random_state``, ``device`` and ``verbose``, and ``scale`` (the CLI's
``--scale``: none, zscore or minmax, fitted on the training data and stored in the model file).

``random_state=None`` is the project's default seed 0, so an unseeded fit is reproducible and
equals ``dasvdd train`` without ``--seed``.
"""

from ._base import _CLASSES, BaseDetector

# The network keys (None: sized from the data, as `dasvdd train` without a config).
_NETWORK = {"preset": None, "hidden": None, "latent": None, "output_activation": None}


class DASVDD(BaseDetector):
    """DASVDD (Hojjati & Armanfard): an autoencoder trained jointly with a hypersphere centre
    in its latent space; score = reconstruction error + gamma * squared distance to the centre.

    Network: ``preset`` (mnist, cifar10, speech, pima) or ``hidden``/``latent``/
    ``output_activation``; all ``None`` sizes it from the data (784 features: mnist). Training:
    Algorithm 1 of the paper with the config file's ``[train]`` keys; ``gamma="auto"`` is the
    heuristic of eq. (6) over ``gamma_trials`` initialisations. ``variant`` is "paper" (the
    paper's text) or "published-code" (the 2021 reference code); the keys left at ``None``
    take that variant's value.
    """

    _method = "dasvdd"
    _hyper = dict(
        _NETWORK,
        epochs=300,
        batch_size=200,
        kappa=0.9,
        lr=None,
        weight_decay=None,
        center_lr=None,
        center_lr_decay=None,
        gamma="auto",
        gamma_trials=10,
        center="trained",
        svdd_term=None,
        center_grad=None,
        gamma_norm=None,
        variant="paper",
    )


class OCSVM(BaseDetector):
    """One-class SVM with an RBF kernel, solved as libsvm (scikit-learn's ``OneClassSVM``)
    solves it; score = minus the decision function. ``gamma``: "scale", "auto" or a number."""

    _method = "ocsvm"
    _hyper = dict(nu=0.5, gamma="scale", tol=1e-3, shrinking=True, cache_mb=512)


class KDE(BaseDetector):
    """Gaussian kernel density estimation; score = minus the log-density. ``bandwidth="cv"``
    picks it from ``bandwidth_grid`` (default ``numpy.logspace(-1, 1, 20)``) by ``folds``-fold
    cross-validated log-likelihood, as the paper; a number fixes it."""

    _method = "kde"
    _hyper = dict(bandwidth="cv", bandwidth_grid=None, folds=5)


class IForest(BaseDetector):
    """Isolation Forest as scikit-learn builds it: ``n_trees`` trees on subsamples of
    ``subsample`` rows; score = 2^(-mean path length / c(subsample))."""

    _method = "iforest"
    _hyper = dict(n_trees=100, subsample=256)


class AutoEncoder(BaseDetector):
    """The autoencoder baseline: DASVDD's network trained on the reconstruction error alone;
    score = the mean squared reconstruction error. ``lr=None`` is DASVDD's for the network."""

    _method = "ae"
    _hyper = dict(_NETWORK, epochs=300, batch_size=200, lr=None, weight_decay=1e-7)


class DeepSVDD(BaseDetector):
    """One-class Deep SVDD (Ruff et al.) on the encoder of the network, after
    ``pretrain_epochs`` of autoencoder pre-training; score = squared distance to the centre.
    ``network="lenet"`` uses Ruff's convolutional network instead (28x28 grey or 32x32 colour
    images, 784 or 3072 features); Ruff's schedule adds ``lr_milestones=(50,)`` and
    ``pretrain_lr_milestones=(50,)``. ``scale="gcn-l1-minmax"`` gives his preprocessing."""

    _method = "deep_svdd"
    _hyper = dict(
        _NETWORK,
        network="mlp",
        epochs=150,
        batch_size=200,
        lr=1e-4,
        weight_decay=0.5e-6,
        lr_milestones=(),
        center_eps=0.1,
        pretrain_epochs=150,
        pretrain_lr=1e-4,
        pretrain_weight_decay=0.5e-6,
        pretrain_lr_milestones=(),
    )


for _cls in (DASVDD, OCSVM, KDE, IForest, AutoEncoder, DeepSVDD):
    _CLASSES[_cls._method] = _cls
