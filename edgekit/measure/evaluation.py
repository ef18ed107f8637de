"""The held-out data and task metric a model is judged by, and the loss it is fine-tuned with.

A zoo model brings its recipe's data and metric (found through the card.json beside it); any
other model is judged on the labelled `.npz` its user gives (`--train-data`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edgekit import zoo
from edgekit.core.errors import EdgekitError, option
from edgekit.data import datasets
from edgekit.data.metrics import evaluation, score


@dataclasses.dataclass
class Task:
    data: datasets.Dataset
    metric: str  # a key of bench.accuracy.METRICS
    make_loss: Callable  # tf_keras -> the loss to fine-tune with
    recipe: dict | None  # the zoo recipe, when the model is a reference model
    source: str  # where the data comes from, in words
    float_outputs: np.ndarray | None = None  # the float model's on the held-out inputs, once run

    def score(self, outputs: np.ndarray) -> float:
        """The metric on the first len(outputs) held-out samples."""
        n = len(outputs)
        return score(self.metric, outputs, self.data.x_test[:n], self.data.y_test[:n])

    def evaluate_session(self, session, input_name: str, until: float | None = None, at_least: int = 0) -> dict:
        """A runtime session's metric on the held-out inputs beside the float model's on the same
        ones: all of them, or those it got through by `until` (`at_least` of them), for kernels so
        slow that the whole set would take minutes (int16x8 in LiteRT's reference kernels)."""
        outputs = next(iter(session.predict({input_name: self.data.x_test}, until=until,
                                            at_least=at_least).values()))
        found = evaluation(self.metric, self.score(self.float_outputs[:len(outputs)]), self.score(outputs))
        return found if len(outputs) == len(self.data.x_test) else {**found, "samples": len(outputs)}


def zoo_name(model_path: Path) -> str | None:
    """The reference model a file is, from the card.json that `edgekit train` writes beside it."""
    card = Path(model_path).parent / "card.json"
    if not card.is_file():
        return None
    try:
        name = json.loads(card.read_text()).get("name")
    except (OSError, ValueError, AttributeError):
        return None
    return name if name in zoo.RECIPES else None


def task_for(model_path: Path, train_data: str | None, input_names: list[str],
             predict: Callable[[np.ndarray], np.ndarray]) -> Task | None:
    """The model's task, or None when there is no labelled data for it.

    For user data, the model's outputs on a few training inputs (`predict`) tell a classifier
    from a regressor: integer labels and several output columns mean classification."""
    if train_data:
        data = datasets.load_labelled(train_data, input_names)
        outputs = predict(data.x_train[:64]) if data.y_train.dtype.kind in "iu" else None
        if outputs is not None and is_classification(data.y_train, outputs):
            logits = not (outputs.min() >= 0 and np.allclose(outputs.sum(axis=1), 1, atol=1e-3))
            return Task(data, "accuracy", lambda tf_keras: tf_keras.losses.SparseCategoricalCrossentropy(
                from_logits=logits), None, data.description)
        return Task(data, "mae", lambda tf_keras: "mse", None, data.description)
    name = zoo_name(model_path)
    if name is None:
        return None
    module = zoo.recipe_module(name)
    data = module.dataset(module.RECIPE["seed"])
    return Task(data, module.RECIPE["metric"], lambda tf_keras: module.compile_args(tf_keras, 1)["loss"],
                {"name": name, **module.RECIPE}, f"{name}'s held-out split of {_short(data.description)}")


def is_classification(labels: np.ndarray, outputs: np.ndarray) -> bool:
    """Integer labels and several output columns mean a classifier; anything else, regression."""
    return labels.dtype.kind in "iu" and outputs.ndim == 2 and outputs.shape[1] > 1


def _short(description: str) -> str:
    """The name of a data set without its details: 'generated sine: 2500 x ...' -> 'generated sine'."""
    return description.split(" (")[0].split(":")[0]


def require_task(task: Task | None, model_path: Path, why: str) -> Task:
    if task is None:
        raise EdgekitError(f"model {model_path} has no training data, which {why} needs: give "
                           f"{option('train_data', 'PATH')} (an .npz with x and y)")
    return task
