"""Deterministic training of a reference model, and the files it leaves: the model, its card,
and a calibration set drawn from the training split."""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

from edgekit import zoo
from edgekit.core import native_abort
from edgekit.core.artifacts import atomic_save_model, atomic_write_bytes, atomic_write_json, sha256_of
from edgekit.core.lazy_imports import tensorflow
from edgekit.core.outputs import check_output_parent
from edgekit.core.progress import Progress, keras_callback
from edgekit.core.version import __version__
from edgekit.data.metrics import meets, score


def train(name: str, root: Path = zoo.REPO_ROOT, epochs: int | None = None, seed: int | None = None,
          verbose: bool = True, data_path: str | None = None, log=None, notes: dict | None = None) -> dict:
    """Train `name` from scratch; write model.keras, card.json and its calibration .npz under `root`.
    `notes`: more fields for the card (how TensorFlow ran, when that was not as usual)."""
    module = zoo.recipe_module(name)
    for folder in (zoo.model_path(name, root).parent, zoo.calibration_path(name, root).parent):
        check_output_parent(folder, "--root")  # now, not after minutes of training
    recipe = dict(module.RECIPE)
    recipe["epochs"] = epochs or recipe["epochs"]
    recipe["seed"] = recipe["seed"] if seed is None else seed

    tf = tensorflow()
    import tf_keras

    tf_keras.utils.set_random_seed(recipe["seed"])
    tf.config.experimental.enable_op_determinism()  # same seed, same machine: same weights
    data = module.dataset(recipe["seed"], data_path)
    if data.note:
        (log or logging.getLogger(__name__).info)(f"{name}: {data.note}")
    target = recipe["target"] if data.target is None else data.target

    model = module.build()
    steps = recipe["epochs"] * math.ceil(len(data.x_train) / recipe["batch_size"])
    model.compile(**module.compile_args(tf_keras, steps))
    started = time.perf_counter()
    label = f"training {name}"
    with Progress(recipe["epochs"], label, enabled=None if verbose else False) as bar:
        model.fit(data.x_train, data.y_train, epochs=recipe["epochs"], batch_size=recipe["batch_size"],
                  verbose=0, shuffle=True,
                  callbacks=[keras_callback(bar, tf_keras), *native_abort.callbacks(label, tf_keras)])
    seconds = time.perf_counter() - started
    if hasattr(module, "after_training"):
        module.after_training(model)
    metric = score(recipe["metric"], model.predict(data.x_test, batch_size=256, verbose=0),
                   data.x_test, data.y_test)

    calibration = data.x_train[: recipe["calibration_samples"]]
    model_file, calib_file = zoo.model_path(name, root), zoo.calibration_path(name, root)
    model_file.parent.mkdir(parents=True, exist_ok=True)
    calib_file.parent.mkdir(parents=True, exist_ok=True)
    atomic_save_model(model, model_file)
    _save_npz(calib_file, **{model.input_names[0]: calibration})

    card = {
        "name": name,
        "architecture": module.__doc__.strip().replace("\n", " "),
        "task": recipe["task"],
        "framework": f"tf-keras {version('tf-keras')} on tensorflow {tf.__version__}",
        "data": data.description,
        "split": recipe["split"],
        "train_samples": int(len(data.x_train)),
        "test_samples": int(len(data.x_test)),
        "seed": recipe["seed"],
        "epochs": recipe["epochs"],
        "batch_size": recipe["batch_size"],
        "optimizer": recipe["optimizer"],
        "loss": recipe["loss"],
        "metric": {"name": recipe["metric"], "split": "test", "value": round(float(metric), 4),
                   "target": target, "met": meets(recipe["metric"], metric, target)},
        "parameters": int(model.count_params()),
        "inputs": {n: list(t.shape[1:]) for n, t in zip(model.input_names, model.inputs)},
        "outputs": {n: list(t.shape[1:]) for n, t in zip(model.output_names, model.outputs)},
        "training_time_s": round(seconds, 1),
        "trained_on": f"{platform.machine()}, {os.cpu_count()} cores",
        "model_sha256": sha256_of(model_file),
        "calibration": {"path": f"calibration_data/{calib_file.name}", "samples": int(len(calibration)),
                        "drawn_from": "the first samples of the (shuffled) training split"},
        "edgekit_version": __version__,
        **(notes or {}),
    }
    atomic_write_json(model_file.parent / "card.json", card)
    return card


def _save_npz(path: Path, **arrays) -> None:
    import io

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def load_card(name: str, root: Path = zoo.REPO_ROOT) -> dict:
    return json.loads((zoo.model_path(name, root).parent / "card.json").read_text())
