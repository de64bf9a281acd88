"""The six detectors. Each constructor takes the method's hyperparameters under the names of the
project's config files and params structs, with their defaults (``None``: the paper's value for
the data's width, as ``dasvdd train`` chooses it: e.g. the learning rates of a preset), plus
PyOD's ``contamination``, ``random_state``, ``device`` and ``verbose``, and ``scale`` (the CLI's
``--scale``: none, zscore or minmax, fitted on the training data and stored in the model file).

``random_state=None`` is the project's default seed 0, so an unseeded fit is reproducible and
equals ``dasvdd train`` without ``--seed``.
"""

from ._base import _CLASSES, BaseDetector

_NETWORK = ("preset", "hidden", "latent", "output_activation")


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
    _hyper = _NETWORK + (
        "epochs",
        "batch_size",
        "kappa",
        "lr",
        "weight_decay",
        "center_lr",
        "center_lr_decay",
        "gamma",
        "gamma_trials",
        "center",
        "svdd_term",
        "center_grad",
        "gamma_norm",
        "variant",
    )

    def __init__(
        self,
        preset=None,
        hidden=None,
        latent=None,
        output_activation=None,
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
        scale="none",
        contamination=0.1,
        random_state=None,
        device="cpu",
        verbose=0,
    ):
        self.preset = preset
        self.hidden = hidden
        self.latent = latent
        self.output_activation = output_activation
        self.epochs = epochs
        self.batch_size = batch_size
        self.kappa = kappa
        self.lr = lr
        self.weight_decay = weight_decay
        self.center_lr = center_lr
        self.center_lr_decay = center_lr_decay
        self.gamma = gamma
        self.gamma_trials = gamma_trials
        self.center = center
        self.svdd_term = svdd_term
        self.center_grad = center_grad
        self.gamma_norm = gamma_norm
        self.variant = variant
        self.scale = scale
        self.contamination = contamination
        self.random_state = random_state
        self.device = device
        self.verbose = verbose


class OCSVM(BaseDetector):
    """One-class SVM with an RBF kernel, solved as libsvm (scikit-learn's ``OneClassSVM``)
    solves it; score = minus the decision function. ``gamma``: "scale", "auto" or a number."""

    _method = "ocsvm"
    _hyper = ("nu", "gamma", "tol", "shrinking", "cache_mb")

    def __init__(
        self,
        nu=0.5,
        gamma="scale",
        tol=1e-3,
        shrinking=True,
        cache_mb=512,
        scale="none",
        contamination=0.1,
        random_state=None,
        device="cpu",
        verbose=0,
    ):
        self.nu = nu
        self.gamma = gamma
        self.tol = tol
        self.shrinking = shrinking
        self.cache_mb = cache_mb
        self.scale = scale
        self.contamination = contamination
        self.random_state = random_state
        self.device = device
        self.verbose = verbose


class KDE(BaseDetector):
    """Gaussian kernel density estimation; score = minus the log-density. ``bandwidth="cv"``
    picks it from ``bandwidth_grid`` (default ``numpy.logspace(-1, 1, 20)``) by ``folds``-fold
    cross-validated log-likelihood, as the paper; a number fixes it."""

    _method = "kde"
    _hyper = ("bandwidth", "bandwidth_grid", "folds")

    def __init__(
        self,
        bandwidth="cv",
        bandwidth_grid=None,
        folds=5,
        scale="none",
        contamination=0.1,
        random_state=None,
        device="cpu",
        verbose=0,
    ):
        self.bandwidth = bandwidth
        self.bandwidth_grid = bandwidth_grid
        self.folds = folds
        self.scale = scale
        self.contamination = contamination
        self.random_state = random_state
        self.device = device
        self.verbose = verbose


class IForest(BaseDetector):
    """Isolation Forest as scikit-learn builds it: ``n_trees`` trees on subsamples of
    ``subsample`` rows; score = 2^(-mean path length / c(subsample))."""

    _method = "iforest"
    _hyper = ("n_trees", "subsample")

    def __init__(
        self,
        n_trees=100,
        subsample=256,
        scale="none",
        contamination=0.1,
        random_state=None,
        device="cpu",
        verbose=0,
    ):
        self.n_trees = n_trees
        self.subsample = subsample
        self.scale = scale
        self.contamination = contamination
        self.random_state = random_state
        self.device = device
        self.verbose = verbose


class AutoEncoder(BaseDetector):
    """The autoencoder baseline: DASVDD's network trained on the reconstruction error alone;
    score = the mean squared reconstruction error. ``lr=None`` is DASVDD's for the network."""

    _method = "ae"
    _hyper = _NETWORK + ("epochs", "batch_size", "lr", "weight_decay")

    def __init__(
        self,
        preset=None,
        hidden=None,
        latent=None,
        output_activation=None,
        epochs=300,
        batch_size=200,
        lr=None,
        weight_decay=1e-7,
        scale="none",
        contamination=0.1,
        random_state=None,
        device="cpu",
        verbose=0,
    ):
        self.preset = preset
        self.hidden = hidden
        self.latent = latent
        self.output_activation = output_activation
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.scale = scale
        self.contamination = contamination
        self.random_state = random_state
        self.device = device
        self.verbose = verbose


class DeepSVDD(BaseDetector):
    """One-class Deep SVDD (Ruff et al.) on the encoder of the network, after
    ``pretrain_epochs`` of autoencoder pre-training; score = squared distance to the centre.
    ``network="lenet"`` uses Ruff's convolutional network instead (28x28 grey or 32x32 colour
    images, 784 or 3072 features; slow on the CPU)."""

    _method = "deep_svdd"
    _hyper = _NETWORK + (
        "network",
        "epochs",
        "batch_size",
        "lr",
        "weight_decay",
        "lr_milestones",
        "center_eps",
        "pretrain_epochs",
        "pretrain_lr",
        "pretrain_weight_decay",
    )

    def __init__(
        self,
        preset=None,
        hidden=None,
        latent=None,
        output_activation=None,
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
        scale="none",
        contamination=0.1,
        random_state=None,
        device="cpu",
        verbose=0,
    ):
        self.network = network
        self.preset = preset
        self.hidden = hidden
        self.latent = latent
        self.output_activation = output_activation
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.lr_milestones = lr_milestones
        self.center_eps = center_eps
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_lr = pretrain_lr
        self.pretrain_weight_decay = pretrain_weight_decay
        self.scale = scale
        self.contamination = contamination
        self.random_state = random_state
        self.device = device
        self.verbose = verbose


for _cls in (DASVDD, OCSVM, KDE, IForest, AutoEncoder, DeepSVDD):
    _CLASSES[_cls._method] = _cls
