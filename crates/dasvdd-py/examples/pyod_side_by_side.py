"""PyOD's IForest and dasvdd's DASVDD side by side in one loop: the README's 10-line example."""
import numpy as np
from pyod.models.iforest import IForest
from sklearn.metrics import roc_auc_score
from dasvdd import DASVDD

rng = np.random.default_rng(0)
X_train = rng.normal(size=(2000, 16)).astype(np.float32)
X_test = np.vstack([rng.normal(size=(500, 16)), rng.normal(0.8, 1, size=(50, 16))])
y_test = np.r_[np.zeros(500), np.ones(50)]
for det in (IForest(contamination=0.1, random_state=0), DASVDD(epochs=30, contamination=0.1)):
    det.fit(X_train)
    print(type(det).__name__, roc_auc_score(y_test, det.decision_function(X_test)))
