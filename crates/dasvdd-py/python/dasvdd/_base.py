"""The shared base of the estimators: PyOD's ``BaseDetector`` contract (``fit`` sets
``decision_scores_``, ``threshold_`` and ``labels_``; ``decision_function``, ``predict``,
``predict_proba``, ``fit_predict``) over the Rust extension ``dasvdd._native``, with
scikit-learn's parameter conventions so that ``sklearn.base.clone`` and ``GridSearchCV`` work.
"""

import inspect
import json
import math
import numbers
import sys

import numpy as np

from . import _native

try:  # scikit-learn is optional; with it the estimators are real sklearn estimators.
    from sklearn.base import BaseEstimator as _SklearnBase
except ImportError:  # pragma: no cover - exercised only without scikit-learn
    _SklearnBase = object

# Metadata key under which ``save`` keeps what the Python estimator adds to the model file.
_META_KEY = "python_estimator"
# Metadata key of the decision threshold as `dasvdd train --contamination` stores it (JSON
# ``{"value", "contamination", "n_train"}``), which `dasvdd score --predict` reads.
_THRESHOLD_KEY = "threshold"
# Metadata key of the feature columns' names (a JSON list), as `dasvdd train` stores a CSV
# header's and `dasvdd score` checks a scored file's header against.
_FEATURE_NAMES_KEY = "feature_names"


def _feature_names(X):
    """The column names of a DataFrame whose names are all strings (as scikit-learn's
    ``feature_names_in_``), else None."""
    columns = getattr(X, "columns", None)
    if columns is None:
        return None
    names = list(columns)
    if not names or not all(isinstance(n, str) for n in names):
        return None
    return names


class _ParamsMixin:
    """``get_params``/``set_params`` as scikit-learn defines them, for installs without it."""

    @classmethod
    def _get_param_names(cls):
        sig = inspect.signature(cls.__init__)
        return sorted(p for p in sig.parameters if p != "self")

    def get_params(self, deep=True):
        return {k: getattr(self, k) for k in self._get_param_names()}

    def set_params(self, **params):
        valid = self._get_param_names()
        for k, v in params.items():
            if k not in valid:
                raise ValueError(
                    f"invalid parameter {k!r} for {type(self).__name__}; valid: {valid}"
                )
            setattr(self, k, v)
        return self


_Base = _SklearnBase if _SklearnBase is not object else _ParamsMixin


def _as_array(X):
    """``X`` as a numpy array without copying a native-order float32 or float64 array (lists
    and DataFrames are converted; float32 and float64 in the other byte order are swapped to
    this machine's). Boolean, integer and float16 arrays are converted as scikit-learn's
    ``check_array`` and PyOD convert them, and as ``dasvdd train`` reads such ``.npy`` files:
    to float32 where every value is exact in it (bool, float16, integers of one or two bytes),
    otherwise to float64, which the models then round to float32. An object array (a
    DataFrame whose columns have several dtypes, or pandas' nullable ones, whose missing
    values become NaN and are refused as such) is converted to float64 when its values are
    numbers. Sparse matrices are a ``TypeError`` (pass ``X.toarray()``), complex values a
    ``ValueError``, as in scikit-learn; other dtypes (strings, dates) are left for the
    extension to refuse with a ``TypeError``."""
    if _is_sparse(X):
        raise TypeError(
            "sparse input is not supported: pass a dense array (X.toarray()); the models "
            "compute on dense float32 matrices"
        )
    if not isinstance(X, np.ndarray):
        if hasattr(X, "to_numpy"):
            X = X.to_numpy()
            if X.dtype == object:
                X = _object_to_float(X)
        else:
            X = np.asarray(X)
    if X.dtype == object:
        X = _object_to_float(X)
    kind, size = X.dtype.kind, X.dtype.itemsize
    if kind == "c":
        raise ValueError("Complex data not supported: X has a complex dtype")
    if kind in "biu" or (kind == "f" and size == 2):
        X = X.astype(np.float32 if size <= 2 else np.float64)
    elif kind == "f" and size in (4, 8) and not X.dtype.isnative:
        X = X.astype(X.dtype.newbyteorder("="))
    return X


def _is_sparse(X):
    """Whether ``X`` is a scipy sparse matrix or array (without importing scipy)."""
    return type(X).__module__.startswith("scipy.sparse") or hasattr(X, "tocsr")


def _object_to_float(X):
    """An object array of numbers (and None or pandas' NA, as NaN) as float64; a value that is
    not a number is a ``TypeError`` naming it."""
    try:
        return np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        pass
    try:
        return np.array([[np.nan if _is_missing(v) else v for v in row] for row in X], dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"X has dtype object with values that are not numbers ({e}); pass numbers, e.g. "
            "encode or drop text columns first"
        ) from None


def _is_missing(v):
    """Whether ``v`` is a missing value of pandas (``pd.NA``, ``NaT``) or None."""
    if v is None:
        return True
    try:
        return bool(v != v) or type(v).__name__ in ("NAType", "NaTType")
    except TypeError:
        return type(v).__name__ in ("NAType", "NaTType")


def _seed(random_state):
    """The project's seed for ``random_state``: None is the project's default seed, 0; an int is
    that seed; a ``numpy.random.RandomState`` or ``Generator`` gives one draw, as scikit-learn's
    estimators with compiled cores draw their seed from it (so its state advances, and the
    same instance gives another seed the next time)."""
    if random_state is None:
        return 0
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(np.iinfo(np.int32).max))
    if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral):
        raise TypeError(
            "random_state must be an int, a numpy RandomState or Generator, or None, got "
            f"{type(random_state).__name__}"
        )
    if random_state < 0 or random_state >= 2**64:
        raise ValueError(f"random_state must be in [0, 2**64), got {random_state}")
    return int(random_state)


def _plain(value):
    """``value`` with numpy scalars and tuples turned into JSON-friendly Python values."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, list, np.ndarray)):
        return [_plain(v) for v in value]
    return value


# The keyword arguments every estimator takes after its method's own hyperparameters, and their
# defaults: the CLI's `--scale`, PyOD's contamination, random_state and verbose, and the device.
_COMMON = {
    "scale": "none",
    "contamination": 0.1,
    "random_state": None,
    "device": "cpu",
    "verbose": 0,
}


def _keyword_init(cls, defaults):
    """An ``__init__`` for ``cls`` with the signature ``(self, name=default, ...)`` of
    ``defaults`` that stores every argument unchanged under its name, as scikit-learn requires
    of an estimator (``get_params`` and ``clone`` read the signature)."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    sig = inspect.Signature(
        [inspect.Parameter("self", kind)]
        + [inspect.Parameter(k, kind, default=v) for k, v in defaults.items()]
    )

    def __init__(self, *args, **kwargs):
        try:
            bound = sig.bind(self, *args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{cls.__name__}.__init__() {e}") from None
        bound.apply_defaults()
        for name in defaults:
            setattr(self, name, bound.arguments[name])

    __init__.__signature__ = sig
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    __init__.__module__ = cls.__module__
    return __init__


class BaseDetector(_Base):
    """An anomaly detector trained on (mostly) normal data; higher scores are more anomalous.

    Subclasses set ``_method`` (the registry's method name) and ``_hyper`` (the method's own
    hyperparameters, passed to Rust, mapped to their defaults in constructor order); their
    ``__init__`` is made from ``_hyper`` followed by ``_COMMON``, with the explicit keyword
    arguments scikit-learn requires (see ``_keyword_init``).
    """

    _method = None
    _hyper = {}
    # scikit-learn's estimator type, as PyOD's detectors declare it (`is_outlier_detector`).
    _estimator_type = "outlier_detector"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "outlier_detector"
        return tags

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "_hyper" in cls.__dict__ and "__init__" not in cls.__dict__:
            cls.__init__ = _keyword_init(cls, {**cls._hyper, **_COMMON})

    # -- fitting --------------------------------------------------------------------------

    def _check_contamination(self):
        c = self.contamination
        if isinstance(c, bool) or not isinstance(c, numbers.Real) or not 0.0 < c <= 0.5:
            raise ValueError(f"contamination must be in (0, 0.5], got {c!r}")

    def _native_params(self):
        params = {k: _plain(getattr(self, k)) for k in self._hyper}
        for k, v in params.items():
            for x in v if isinstance(v, list) else [v]:
                if isinstance(x, float) and not math.isfinite(x):
                    raise ValueError(f"{k} must be finite, got {v!r}")
        params["seed"] = _seed(self.random_state)
        return json.dumps(params)

    def _progress(self, phase, epoch, epochs, loss):
        print(
            f"{type(self).__name__} {phase} epoch {epoch}/{epochs}: loss {loss:.6g}",
            file=sys.stdout,
            flush=True,
        )

    def fit(self, X, y=None):
        """Fits the detector on ``X`` (n_samples x n_features, float32 or float64; boolean,
        integer and float16 arrays are converted, see ``_as_array``); ``y`` is
        ignored. Sets ``decision_scores_`` (the training samples' scores), ``threshold_`` (their
        ``1 - contamination`` quantile) and ``labels_`` (1 above the threshold)."""
        self._check_contamination()
        names = _feature_names(X)
        X = _as_array(X)
        progress = self._progress if self.verbose else None
        if self.verbose:
            print(f"{type(self).__name__}: fitting on X of shape {X.shape}", flush=True)
        self.model_ = _native.fit(
            self._method,
            self._native_params(),
            X,
            device=self.device,
            # None, as scikit-learn's estimators spell "no scaling", is the project's "none".
            scale="none" if self.scale is None else self.scale,
            progress=progress,
        )
        self.n_features_in_ = self.model_.n_features
        if names is None:
            self.__dict__.pop("feature_names_in_", None)
        else:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        self.loss_history_ = np.asarray(self.model_.losses, dtype=np.float64)
        # Scored by the native fit, where Ctrl-C is answered: as decision_function(X) would.
        self.decision_scores_ = self.model_.training_scores
        self._process_decision_scores()
        return self

    def _process_decision_scores(self):
        scores = self.decision_scores_
        self.threshold_ = float(np.percentile(scores, 100.0 * (1.0 - self.contamination)))
        self.labels_ = (scores > self.threshold_).astype(int).ravel()
        self._train_stats = {
            "min": float(scores.min()),
            "max": float(scores.max()),
            "mean": float(scores.mean()),
            "std": float(scores.std()),
        }
        return self

    # -- scoring --------------------------------------------------------------------------

    def _check_fitted(self, need_threshold=False):
        if not hasattr(self, "model_"):
            raise _not_fitted(self)
        if need_threshold and getattr(self, "threshold_", None) is None:
            raise _not_fitted(
                self,
                "this model was loaded from a file without a threshold (written by "
                "`dasvdd train`); call fit, or set threshold_",
            )

    def _check_feature_names(self, X):
        """A DataFrame scored by a model fitted on named columns must name the same columns
        in the same order (scikit-learn's rule, and `dasvdd score`'s for a CSV header):
        columns reordered or replaced would be scored silently wrong."""
        fitted = getattr(self, "feature_names_in_", None)
        names = _feature_names(X)
        if fitted is None or names is None or list(fitted) == names:
            return
        if sorted(fitted) == sorted(names):
            problem = "the same columns in another order"
        else:
            first = next(
                (i for i, (a, b) in enumerate(zip(names, fitted)) if a != b),
                min(len(names), len(fitted)),
            )
            got = names[first] if first < len(names) else "(none)"
            want = fitted[first] if first < len(fitted) else "(none)"
            problem = f"column {first + 1} is {got!r} where the fit's is {want!r}"
        raise ValueError(
            f"X has feature names {names}, but {type(self).__name__} was fitted on "
            f"{list(fitted)}: {problem}; give the columns in the fit's order and names"
        )

    def decision_function(self, X):
        """The anomaly score of every row of ``X`` (float64, higher = more anomalous)."""
        self._check_fitted()
        self._check_feature_names(X)
        return self.model_.score(_as_array(X))

    def score_terms(self, X):
        """The terms of ``decision_function`` for every row of ``X``, for methods whose score
        is a weighted sum: a list of ``(name, weight, values)`` in the order the score adds
        them, so that the score is the sum of ``weight * values``. DASVDD's are
        ``reconstruction`` (weight 1: the mean squared reconstruction error) and ``svdd``
        (weight gamma: the squared distance of the code to the centre), eq. (7) of the paper.
        Raises ``ValueError`` for methods whose score is one term."""
        self._check_fitted()
        self._check_feature_names(X)
        terms = self.model_.score_terms(_as_array(X))
        if terms is None:
            raise ValueError(
                f"{type(self).__name__}'s score is one term: score_terms splits DASVDD's"
            )
        return terms

    def predict(self, X, return_confidence=False):
        """1 for rows scoring above ``threshold_``, 0 otherwise; with ``return_confidence``,
        also ``predict_confidence(X)``, as PyOD's ``predict`` returns them."""
        self._check_fitted(need_threshold=True)
        scores = self.decision_function(X)
        prediction = (scores > self.threshold_).astype(int).ravel()
        if return_confidence:
            return prediction, self._confidence(scores, prediction)
        return prediction

    def predict_confidence(self, X):
        """How consistently the model would make the same prediction for each row of ``X`` if
        its training set were perturbed, in [0, 1] (Perini et al., ExCeeD, 2020), computed as
        PyOD's ``predict_confidence`` computes it from ``decision_scores_``. Needs scipy."""
        self._check_fitted(need_threshold=True)
        scores = self.decision_function(X)
        return self._confidence(scores, (scores > self.threshold_).astype(int).ravel())

    def _confidence(self, scores, prediction):
        train = getattr(self, "decision_scores_", None)
        if train is None:
            raise _not_fitted(
                self,
                "this model was loaded from a file without its training scores, from which "
                "predict_confidence derives its confidence; call fit",
            )
        try:
            from scipy.stats import binom
        except ImportError:  # pragma: no cover - scipy comes with scikit-learn
            raise ImportError("predict_confidence needs scipy (pip install scipy)") from None
        n = len(train)
        # Training scores at or below each score, the posterior outlier probability, and the
        # probability that a perturbed training set keeps the prediction.
        at_or_below = np.searchsorted(np.sort(train), scores, side="right")
        posterior = (1.0 + at_or_below) / (2.0 + n)
        confidence = 1.0 - binom.cdf(n - int(n * self.contamination), n, posterior)
        confidence = np.asarray(confidence, dtype=np.float64)
        inliers = prediction == 0
        confidence[inliers] = 1.0 - confidence[inliers]
        return confidence

    def predict_proba(self, X, method="linear", return_confidence=False):
        """Outlier probabilities, shape (n_samples, 2): ``linear`` min-max scales the scores by
        the training scores' range (clipped to [0, 1]); ``unify`` is Kriegel et al.'s Gaussian
        scaling, as PyOD computes them. With ``return_confidence``, also
        ``predict_confidence(X)``."""
        self._check_fitted(need_threshold=True)
        stats = getattr(self, "_train_stats", None)
        if stats is None:
            raise _not_fitted(
                self,
                "this model was loaded from a file without its training scores' statistics "
                "(written by `dasvdd train`), by which predict_proba scales; call fit",
            )
        scores = self.decision_function(X)
        probs = np.zeros((scores.shape[0], 2))
        if method == "linear":
            span = stats["max"] - stats["min"]
            p = (scores - stats["min"]) / span if span > 0 else np.zeros_like(scores)
            probs[:, 1] = p.clip(0, 1)
        elif method == "unify":
            sigma = stats["std"] if stats["std"] > 0 else 1.0
            z = (scores - stats["mean"]) / (sigma * math.sqrt(2.0))
            probs[:, 1] = np.array([math.erf(v) for v in z]).clip(0, 1)
        else:
            raise ValueError(f"method must be 'linear' or 'unify', got {method!r}")
        probs[:, 0] = 1.0 - probs[:, 1]
        if return_confidence:
            prediction = (scores > self.threshold_).astype(int).ravel()
            return probs, self._confidence(scores, prediction)
        return probs

    def fit_predict(self, X, y=None):
        """Fits on ``X`` and returns ``labels_``."""
        return self.fit(X, y).labels_

    # -- pickle and copy ------------------------------------------------------------------

    def __getstate__(self):
        """The estimator's state for ``pickle`` and ``copy.deepcopy``: the fitted native model
        travels as the bytes of its model file (as ``save`` writes it)."""
        state = super().__getstate__() if hasattr(super(), "__getstate__") else None
        state = dict(self.__dict__ if state is None else state)
        model = state.pop("model_", None)
        if model is not None:
            import tempfile

            with tempfile.TemporaryDirectory(prefix="dasvdd-pickle-") as d:
                path = f"{d}/model.safetensors"
                model.save(path)
                with open(path, "rb") as f:
                    state["_model_file"] = f.read()
        return state

    def __setstate__(self, state):
        state = dict(state)
        data = state.pop("_model_file", None)
        if hasattr(super(), "__setstate__"):
            super().__setstate__(state)
        else:
            self.__dict__.update(state)
        if data is not None:
            import tempfile

            with tempfile.TemporaryDirectory(prefix="dasvdd-pickle-") as d:
                path = f"{d}/model.safetensors"
                with open(path, "wb") as f:
                    f.write(data)
                self.model_ = _native.load(path, self.device)

    # -- model files ----------------------------------------------------------------------

    def save(self, path):
        """Writes the fitted model to one safetensors file that ``dasvdd score`` reads; the
        threshold and constructor parameters are kept in its metadata for ``load``."""
        self._check_fitted()
        extra = {
            "params": {k: _plain(v) for k, v in self.get_params(deep=False).items()},
            "threshold": getattr(self, "threshold_", None),
            "train_stats": getattr(self, "_train_stats", None),
        }
        entries = {_META_KEY: json.dumps(extra)}
        names = getattr(self, "feature_names_in_", None)
        if names is not None:
            entries[_FEATURE_NAMES_KEY] = json.dumps([str(n) for n in names])
        threshold = getattr(self, "threshold_", None)
        if threshold is not None:
            scores = getattr(self, "decision_scores_", None)
            # The CLI flags scores at or above its stored value, this class scores above
            # `threshold_`: the next float up gives `dasvdd score --predict` the same rows,
            # ties with the threshold included (s > t is s >= nextafter(t, inf) for floats).
            entries[_THRESHOLD_KEY] = json.dumps(
                {
                    "value": float(np.nextafter(float(threshold), math.inf)),
                    "contamination": float(self.contamination),
                    "n_train": int(len(scores)) if scores is not None else 0,
                }
            )
        self.model_.save(str(path), entries)

    @classmethod
    def load(cls, path, device="cpu"):
        """Reads a model file written by ``save`` or by ``dasvdd train``. Raises ``ValueError``
        when the file holds another method's model."""
        native = _native.load(str(path), device)
        if cls._method is not None and native.method != cls._method:
            raise ValueError(
                f"{path}: holds a `{native.method}` model, not a `{cls._method}` model "
                f"(use dasvdd.load to load any model)"
            )
        return _from_native(_CLASSES[native.method], native, device, path)


def _from_native(cls, native, device, path):
    def invalid(key, problem):
        return ValueError(f"{path}: metadata `{key}` is invalid: {problem}")

    def entry(key):
        text = native.metadata.get(key)
        if text is None:
            return None
        try:
            return json.loads(text)
        except ValueError as e:
            raise invalid(key, e) from None

    def finite(key, value):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise invalid(key, f"expected a number, got {value!r}")
        if not math.isfinite(value):
            raise invalid(key, f"{value!r} is not finite")
        return float(value)

    extra = entry(_META_KEY) or {}
    if not isinstance(extra, dict) or not isinstance(extra.get("params") or {}, dict):
        raise invalid(_META_KEY, "expected an object with `params`, `threshold`, `train_stats`")
    est = cls()
    params = {k: v for k, v in (extra.get("params") or {}).items() if k in est.get_params()}
    for k in ("lr_milestones", "pretrain_lr_milestones", "hidden", "bandwidth_grid"):  # JSON lists, given as tuples
        if isinstance(params.get(k), list):
            params[k] = tuple(params[k])
    est.set_params(**params)
    if not params and "seed" in native.metadata:
        try:
            est.set_params(random_state=int(native.metadata["seed"]))
        except ValueError as e:
            raise invalid("seed", e) from None
    est.set_params(device=device)
    est.model_ = native
    est.n_features_in_ = native.n_features
    names = entry(_FEATURE_NAMES_KEY)
    if names is not None:
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise invalid(_FEATURE_NAMES_KEY, f"expected a list of names, got {names!r}")
        if len(names) != native.n_features:
            raise invalid(
                _FEATURE_NAMES_KEY, f"{len(names)} names for {native.n_features} features"
            )
        est.feature_names_in_ = np.asarray(names, dtype=object)
    est.loss_history_ = np.asarray(native.losses, dtype=np.float64)
    threshold = extra.get("threshold")
    est.threshold_ = None if threshold is None else finite(_META_KEY, threshold)
    stored = entry(_THRESHOLD_KEY) if est.threshold_ is None else None
    if stored is not None:
        # A model of `dasvdd train --contamination q`: its threshold, and q as contamination.
        if not isinstance(stored, dict) or not {"value", "contamination"} <= set(stored):
            raise invalid(_THRESHOLD_KEY, f"expected {{value, contamination, n_train}}, got {stored!r}")
        # Stored for "score >= value"; predict flags scores above threshold_, so the next
        # float down flags the same rows, the training sample at the threshold included.
        est.threshold_ = float(np.nextafter(finite(_THRESHOLD_KEY, stored["value"]), -math.inf))
        if not params:
            est.set_params(contamination=finite(_THRESHOLD_KEY, stored["contamination"]))
    stats = extra.get("train_stats")
    if stats is not None:
        if not isinstance(stats, dict) or not {"min", "max", "mean", "std"} <= set(stats):
            raise invalid(_META_KEY, f"train_stats must hold min, max, mean and std, got {stats!r}")
        est._train_stats = {k: finite(_META_KEY, stats[k]) for k in ("min", "max", "mean", "std")}
    return est


def _not_fitted(est, why=None):
    msg = why or (
        f"this {type(est).__name__} instance is not fitted yet; call fit with appropriate "
        "arguments before using this estimator"
    )
    try:
        from sklearn.exceptions import NotFittedError

        return NotFittedError(msg)
    except ImportError:  # pragma: no cover
        return ValueError(msg)


# Filled in by dasvdd._estimators: method name -> estimator class.
_CLASSES = {}


def load(path, device="cpu"):
    """Loads any model file (any method) as the matching estimator."""
    return BaseDetector.load(path, device)
