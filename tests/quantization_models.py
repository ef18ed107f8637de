"""Small Keras models whose int8 files are known to lose accuracy, and why, built here (issue 34)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def fine_detail(root: Path):
    """A model whose output is 50x the difference of neighbouring inputs that differ by ~0.006:
    int8's input step (1/255 over [0, 1]) is a third of that signal, so its int8 file gives about
    15 dB, past the 10 dB sanity floor and below the 20 dB quality threshold. The output is 3-D,
    so no shape heuristic takes it for class scores. (the tf_keras model, its .keras file, the
    .npz of 100 calibration samples, the samples)"""
    import tf_keras

    weights = np.zeros((8, 7), np.float32)
    for i in range(7):
        weights[i, i], weights[i + 1, i] = 50.0, -50.0
    model = tf_keras.Sequential([tf_keras.layers.InputLayer((8,), name="x"),
                                 tf_keras.layers.Dense(7, use_bias=False, name="diff"),
                                 tf_keras.layers.Reshape((7, 1), name="y")])
    model.get_layer("diff").set_weights([weights])
    model.save(root / "fine.keras")
    rng = np.random.default_rng(0)
    x = np.clip(rng.uniform(0.1, 0.9, (100, 1)) + rng.normal(0, 0.006, (100, 8)), 0, 1).astype(np.float32)
    np.savez(root / "calib.npz", x=x)
    return model, root / "fine.keras", root / "calib.npz", x
