"""What a conversion reads: the model and its calibration set, which variants need one, and the
name its files are written under."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from edgekit import zoo
from edgekit.converters import tflite as tflite_convert
from edgekit.core.config import ONNX_VARIANTS, QAT_VARIANT, TFLITE_VARIANTS, ConvertConfig
from edgekit.core.errors import EdgekitError, option, switch
from edgekit.measure.evaluation import zoo_name


def resolve_inputs(config: ConvertConfig) -> tuple[Path, Path | None, str]:
    """The model path, calibration path and run name that `config` means: a zoo name (or no model)
    brings its bundled calibration set; a user's model has none without --calib (None), and then
    only the variants that need no calibration are built (see `calibration_plan`)."""
    model, zoo_model = zoo.resolve_model(config.model)
    name = zoo_model or model_name(model)
    if config.calib:
        return model, Path(config.calib), name
    if zoo_model:
        return model, zoo.calibration_path(zoo_model), name
    if zoo_name(model) == name:  # <root>/models/<name>/model.keras from `edgekit train`
        bundled_calib = zoo.calibration_path(name, root=model.resolve().parents[2])
        if bundled_calib.is_file():
            return model, bundled_calib, name
    return model, None, name


NEEDS_CALIB = "needs --calib"  # why a variant is skipped when no calibration samples were given


def needs_calibration(fmt: str, variant: str) -> bool:
    """Whether a variant quantizes activations, and so needs representative samples."""
    if fmt == "tflite":
        return variant in tflite_convert.CALIBRATED or variant == QAT_VARIANT
    return variant == "int8-static"


def calibration_plan(config: ConvertConfig, calib_path: Path | None) -> tuple[ConvertConfig, list[dict]]:
    """The config to build and the variants skipped for want of calibration samples (see
    `without_calibration`); --keep-float, which only int8 takes, counts as asking for int8."""
    if calib_path is None and config.keep_float:
        raise calibration_asked_for([option("keep_float")], "build only the variants that need none")
    if calib_path is not None:
        return config, []
    kept, skipped = without_calibration({"tflite": config.tflite, "onnx": config.onnx},
                                        {"tflite": TFLITE_VARIANTS, "onnx": ONNX_VARIANTS},
                                        "build only the variants that need none")
    return dataclasses.replace(config, **kept), skipped


def without_calibration(requested: dict, defaults: dict, otherwise: str, calibrated=needs_calibration):
    """Without calibration samples: the requested variants ({format: names}) that need none, and
    the others as skipped entries (format, variant, reason). Only a default list (or `all`) is
    thinned so; a calibrated variant asked for by name is an error naming --calib."""
    named = []
    for fmt, variants in requested.items():
        by_default = tuple(v for v in variants if v != QAT_VARIANT) == tuple(defaults[fmt])  # --qat adds one
        named += [switch("qat") if v == QAT_VARIANT else option(fmt, v) for v in variants
                  if calibrated(fmt, v) and (v == QAT_VARIANT or not by_default)]
    if named:
        raise calibration_asked_for(named, otherwise)
    kept = {fmt: [v for v in variants if not calibrated(fmt, v)] for fmt, variants in requested.items()}
    skipped = [{"format": fmt, "variant": v, "reason": NEEDS_CALIB}
               for fmt, variants in requested.items() for v in variants if calibrated(fmt, v)]
    return kept, skipped


def calibration_asked_for(named: list[str], otherwise: str) -> EdgekitError:
    """The error for calibrated variants asked for by name when no calibration samples were given."""
    named = list(dict.fromkeys(named))
    return EdgekitError(f"{', '.join(named)} need{'s' if len(named) == 1 else ''} calibration samples: give {option('calib')} "
                        f"(a .npz, .npy or image folder of real inputs), or leave {'it' if len(named) == 1 else 'them'} "
                        f"out to {otherwise}")


def require_calibration(calib_path: Path | None, model_path: Path, why: str) -> Path:
    """For steps that cannot run without calibration samples (debug-quant)."""
    if calib_path is None:
        raise EdgekitError(f"{why} needs calibration samples, and {model_path} is not a zoo model that brings its "
                           f"own: give {option('calib')} (a .npz, .npy or image folder of real inputs)")
    return calib_path


def run_inputs(config: ConvertConfig, model_path: Path, calib_path: Path | None = None) -> list[tuple[str, Path]]:
    """What a run reads, as (what, path): its output must not be, hold or lie inside any of them."""
    return [("model", model_path), ("calibration data", calib_path),
            ("training data", Path(config.train_data) if config.train_data else None)]


def model_name(model: Path) -> str:
    """The run's name: a zoo model's folder, a file's stem, or a SavedModel folder's name."""
    return model.parent.name if model.name == "model.keras" else (model.stem if model.is_file() else model.name)
