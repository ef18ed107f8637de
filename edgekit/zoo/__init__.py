"""Reference models: their architectures, training recipes, and where the trained files live.

Trained models are committed under `models/<name>/` (model.keras + card.json) with their
calibration sets under `calibration_data/<name>.npz`, at the top of the repository.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from edgekit.errors import EdgekitError

DEFAULT_MODEL = "digits_cnn"
RECIPES = {"digits_cnn": "edgekit.zoo.digits_cnn"}  # name -> module with build() and RECIPE

REPO_ROOT = Path(__file__).resolve().parents[2]


def names() -> list[str]:
    return sorted(RECIPES)


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
