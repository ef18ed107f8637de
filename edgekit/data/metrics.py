"""Task metrics on held-out data: top-1 accuracy for classifiers, mean absolute error for
regressors, ROC AUC of the reconstruction error for anomaly-detecting autoencoders.

A metric takes the model's outputs, the inputs that produced them and the held-out labels.
"""

from __future__ import annotations

import numpy as np


def accuracy(outputs: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(outputs.reshape(len(y), -1).argmax(axis=1) == y.reshape(-1)))


def mae(outputs: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.abs(outputs.reshape(y.shape).astype(np.float64) - y)))


def roc_auc(outputs: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    """`y` is 1 for an anomaly; the score is the mean squared reconstruction error."""
    from sklearn.metrics import roc_auc_score

    error = np.mean((outputs.reshape(x.shape).astype(np.float64) - x) ** 2,
                    axis=tuple(range(1, x.ndim)))
    return float(roc_auc_score(y, error))


# name -> (function, True when higher is better, scale of one "point")
METRICS = {
    "accuracy": (accuracy, True, 100.0),  # a point is one percent
    "roc_auc": (roc_auc, True, 100.0),
    "mae": (mae, False, 100.0),  # a point is 0.01 in the target's unit
}


def score(metric: str, outputs: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    return METRICS[metric][0](outputs, x, y)


def drop_points(metric: str, baseline: float, value: float) -> float:
    """How much worse `value` is than `baseline`, in points (negative: better)."""
    _, higher_is_better, scale = METRICS[metric]
    return (baseline - value) * scale if higher_is_better else (value - baseline) * scale


def meets(metric: str, value: float, target: float) -> bool:
    return value >= target if METRICS[metric][1] else value <= target


def evaluation(metric: str, baseline: float, value: float) -> dict:
    """The manifest's record of one model's metric beside the float model's."""
    return {"metric": metric, "value": round(value, 6), "float": round(baseline, 6),
            "drop_points": round(drop_points(metric, baseline, value), 4)}
