"""Reference models: their architectures, training recipes, and where the trained files live.

Trained models are committed under `models/<name>/` (model.keras + card.json) with their
calibration sets under `calibration_data/<name>.npz`, at the top of the repository.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from edgekit.core.errors import EdgekitError, did_you_mean

DEFAULT_MODEL = "digits_cnn"
# name -> module with RECIPE, build(), dataset(seed, data_path) and compile_args(tf_keras, steps),
# where steps is the number of optimizer steps the training will take (for learning-rate decay),
# and optionally after_training(model), which changes the trained model before it is scored and saved
RECIPES = {name: f"edgekit.zoo.{name}"
           for name in ("digits_mlp", "digits_cnn", "sine", "resnet8", "ds_cnn", "autoencoder", "digits_outlier")}

REPO_ROOT = Path(__file__).resolve().parents[2]


def adam(tf_keras, learning_rate: float, decay_steps: int | None = None):
    """Adam, with the learning rate decaying to 0 on a cosine over `decay_steps` when given
    (it steadies the last epochs: without it test accuracy swings from epoch to epoch)."""
    if decay_steps:
        learning_rate = tf_keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps)
    return tf_keras.optimizers.Adam(learning_rate=learning_rate)


def classifier_args(tf_keras, learning_rate: float, decay_steps: int | None = None) -> dict:
    """compile() arguments of the zoo's classifiers: integer labels, softmax outputs."""
    return {"optimizer": adam(tf_keras, learning_rate, decay_steps),
            "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}


def names() -> list[str]:
    return list(RECIPES)


def recipe_module(name: str):
    if name not in RECIPES:
        raise EdgekitError(f"unknown reference model {name!r}: choose from {', '.join(names())}")
    return importlib.import_module(RECIPES[name])


def model_path(name: str, root: Path = REPO_ROOT) -> Path:
    return root / "models" / name / "model.keras"


def calibration_path(name: str, root: Path = REPO_ROOT) -> Path:
    return root / "calibration_data" / f"{name}.npz"


def bundled(name: str = DEFAULT_MODEL) -> tuple[Path, Path]:
    """The committed model and calibration set of a reference model."""
    recipe_module(name)
    model, calib = model_path(name), calibration_path(name)
    if not model.is_file() or not calib.is_file():
        raise EdgekitError(
            f"bundled model {name} is not at {model.parent}: install edgekit from a clone with "
            f"`pip install -e .`, run `edgekit train {name}`, or give a model path"
        )
    return model, calib


MODEL_KINDS = "a SavedModel folder, .keras, .h5 or .hdf5 file"


def resolve_model(argument: str | Path | None, kinds: str = MODEL_KINDS) -> tuple[Path, str | None]:
    """The model file a user's argument means, and the zoo name when it names one: nothing is the
    default model, an existing path is itself, and a zoo name (`digits_cnn`) is its bundled model.
    Anything else is one line naming the argument and what to give (`kinds`), before any heavy
    import. A folder that happens to share a zoo name but holds no SavedModel (an earlier run's
    output, say) does not hide the zoo model."""
    if argument is None:
        return bundled(DEFAULT_MODEL)[0], DEFAULT_MODEL
    text = str(argument)
    path = Path(text)
    exists = os.path.lexists(path)  # a dangling link is the loader's to explain
    if exists and not (text in RECIPES and path.is_dir() and not (path / "saved_model.pb").is_file()):
        return path, None
    if text in RECIPES:
        return bundled(text)[0], text
    raise EdgekitError(no_such_file(text, kinds))


def no_such_file(argument: str, kinds: str = MODEL_KINDS) -> str:
    """`no such file: X: give ...`, with the closest zoo name when one is close."""
    return (f"no such file: {argument}: give {kinds}, or a zoo model name: {', '.join(names())}"
            + did_you_mean(Path(argument).stem if Path(argument).suffix else argument, names()))


def catalogue(root: Path = REPO_ROOT) -> list[dict]:
    """Every reference model: task, input shape, parameters, data, target, and the committed
    model's held-out metric (None when it has not been trained here)."""
    import json

    entries = []
    for name in names():
        recipe = recipe_module(name).RECIPE
        card_file = model_path(name, root).parent / "card.json"
        card = json.loads(card_file.read_text()) if card_file.is_file() else None
        if card:
            shape, parameters = next(iter(card["inputs"].values())), card["parameters"]
        else:  # not trained here: build the architecture to describe it
            model = recipe_module(name).build()
            shape, parameters = list(model.inputs[0].shape[1:]), int(model.count_params())
        entries.append({
            "name": name, "task": recipe["task"], "input_shape": shape, "parameters": parameters,
            "data": recipe["data"], "metric": recipe["metric"],
            "target": card["metric"]["target"] if card else recipe["target"],
            "trained": card["metric"] if card else None,
        })
    return entries
