"""How the audits measure predictability: the ROC AUC of out-of-fold predictions, with folds of whole
streams, so that a model has to guess decisions in streams it has not seen (within a stream, a talker's
level, voice and sentences repeat)."""

from __future__ import annotations

from typing import Any

import numpy as np

FOLDS = 5


def measurable(y: np.ndarray) -> bool:
    """Whether both decisions occur often enough for ``FOLDS`` stratified folds."""
    return len(set(y.tolist())) == 2 and min(np.bincount(y)) >= FOLDS


def cross_validated_auc(model: Any, x: Any, y: np.ndarray, groups: np.ndarray) -> float:
    """Out-of-fold AUC of ``model`` (a scikit-learn classifier or pipeline) predicting ``y`` from ``x``;
    folds by stream (``groups``) when there are enough streams, else by decision."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_val_predict

    if len(set(groups.tolist())) >= FOLDS:
        folds = StratifiedGroupKFold(FOLDS, shuffle=True, random_state=0)
    else:
        folds, groups = StratifiedKFold(FOLDS, shuffle=True, random_state=0), None
    scores = cross_val_predict(model, x, y, groups=groups, cv=folds, method="predict_proba")
    return float(roc_auc_score(y, scores[:, 1]))
