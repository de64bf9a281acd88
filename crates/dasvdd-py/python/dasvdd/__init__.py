"""DASVDD and the baselines of its paper (OCSVM, KDE, Isolation Forest, autoencoder, Deep SVDD)
as PyOD-compatible anomaly detectors, computed by the Rust crates of dasvdd-rs.

>>> from dasvdd import DASVDD
>>> det = DASVDD(epochs=50, contamination=0.1).fit(X_train)      # doctest: +SKIP
>>> scores = det.decision_function(X_test)                        # doctest: +SKIP
>>> det.save("model.safetensors")   # scored identically by `dasvdd score`   # doctest: +SKIP
"""

import os as _os

from . import _native

# As the `dasvdd` binary does first thing: fix the thread count candle would find, so that it
# does not count the cores again before every matrix product. An existing value is kept.
_os.environ.setdefault("RAYON_NUM_THREADS", str(_native.default_num_threads()))

from ._base import BaseDetector, load  # noqa: E402
from ._estimators import DASVDD, KDE, OCSVM, AutoEncoder, DeepSVDD, IForest  # noqa: E402

__version__ = _native.__version__


def methods():
    """The method registry of the Rust crates (the names the `dasvdd` command, config files and
    `cargo xtask bench-all` use): one dict per method with ``name``, ``aliases``,
    ``paper_column``, ``neural``, ``seeded`` and ``settings_keys``, in the paper's order."""
    import json

    return json.loads(_native.methods())


__all__ = [
    "BaseDetector",
    "DASVDD",
    "OCSVM",
    "KDE",
    "IForest",
    "AutoEncoder",
    "DeepSVDD",
    "load",
    "methods",
]
