import numpy as np
import pytest

from edgekit.data.metrics import drop_points, evaluation, meets, score
from edgekit.optimize.pruning import allocate


def test_accuracy_mae_and_roc_auc_on_known_values():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    assert score("accuracy", probs, None, np.array([0, 1, 1, 1])) == 0.75
    assert score("mae", np.array([[1.0], [2.0]]), None, np.array([[1.5], [2.0]])) == 0.25
    x = np.zeros((4, 3))
    recon = np.array([[0, 0, 0], [0.1, 0, 0], [1, 1, 1], [0.5, 0.5, 0.5]])
    assert score("roc_auc", recon, x, np.array([0, 0, 1, 1])) == 1.0  # anomalies reconstruct worst
    assert score("roc_auc", recon, x, np.array([1, 1, 0, 0])) == 0.0


def test_drop_is_in_points_and_signed_by_what_is_better():
    assert drop_points("accuracy", 0.99, 0.98) == pytest.approx(1.0)
    assert drop_points("mae", 0.05, 0.06) == pytest.approx(1.0)  # higher error is a drop
    assert drop_points("roc_auc", 0.90, 0.95) == pytest.approx(-5.0)
    assert meets("mae", 0.08, 0.1) and not meets("accuracy", 0.94, 0.95)
    assert evaluation("accuracy", 0.99, 0.98)["drop_points"] == pytest.approx(1.0)


def test_pruning_allocation_keeps_small_layers_dense_and_reaches_the_target_overall():
    sizes = {"conv1": 144, "conv2": 4608, "dense": 8192, "probs": 640}  # digits_cnn
    targets = allocate(sizes, 0.75)
    assert targets["conv1"] == 0 and targets["probs"] == 0
    reached = sum(sizes[n] * t for n, t in targets.items()) / sum(sizes.values())
    assert reached == pytest.approx(0.75)
    # when the big layers cannot make up for the small ones, every layer takes the target
    assert set(allocate(sizes, 0.93).values()) == {0.93}
