"""Typed, validated configuration for `edgekit convert`, with presets and JSON round trip.

A config written by `--dump-config` reproduces the run when given back with `--config`.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from edgekit.errors import EdgekitError

TFLITE_VARIANTS = ("fp32", "fp16", "dynamic", "int8", "int16x8")
ONNX_VARIANTS = ("fp32", "int8-static", "int8-dynamic")
IO_TYPES = ("int", "float")
IMAGE_RANGES = {"0,1": (0.0, 1.0), "-1,1": (-1.0, 1.0), "0,255": (0.0, 255.0)}
MAX_ONNX_OPSET = 18  # tf2onnx 1.17 converts up to opset 18
MIN_ONNX_OPSET = 13  # onnxruntime's QDQ per-channel quantization needs opset 13

PRESETS = {
    "all": {"tflite": list(TFLITE_VARIANTS), "onnx": list(ONNX_VARIANTS)},
    "float": {"tflite": ["fp32"], "onnx": ["fp32"]},
    "fp16": {"tflite": ["fp16"], "onnx": []},
    "int8-full": {"tflite": ["int8"], "onnx": ["int8-static"]},
    "dynamic": {"tflite": ["dynamic"], "onnx": ["int8-dynamic"]},
}


@dataclasses.dataclass
class ConvertConfig:
    model: str | None = None  # None: the bundled default reference model
    calib: str | None = None  # None: calibration_data/<model name>.npz for a bundled model
    out: str = "edgekit-out"
    tflite: list[str] = dataclasses.field(default_factory=lambda: list(TFLITE_VARIANTS))
    onnx: list[str] = dataclasses.field(default_factory=lambda: list(ONNX_VARIANTS))
    io: str = "int"  # full-integer TFLite variants: integer I/O ("int") or float I/O ("float")
    opset: int = 17
    max_calib_samples: int = 500  # calibration and validation use at most this many samples
    image_range: str = "0,1"  # pixel range that an image-folder calibration set is scaled to
    trust_model_code: bool = False

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        self.tflite = _variant_list(self.tflite, TFLITE_VARIANTS, "--tflite")
        self.onnx = _variant_list(self.onnx, ONNX_VARIANTS, "--onnx")
        if not self.tflite and not self.onnx:
            raise EdgekitError("no variants requested: give at least one of --tflite or --onnx")
        if self.io not in IO_TYPES:
            raise EdgekitError(f"--io {self.io!r} is not one of {', '.join(IO_TYPES)}")
        if not isinstance(self.opset, int) or not MIN_ONNX_OPSET <= self.opset <= MAX_ONNX_OPSET:
            raise EdgekitError(
                f"--opset {self.opset!r} is out of range: tf2onnx supports "
                f"{MIN_ONNX_OPSET} to {MAX_ONNX_OPSET}"
            )
        if not isinstance(self.max_calib_samples, int) or self.max_calib_samples < 1:
            raise EdgekitError(
                f"--max-calib-samples {self.max_calib_samples!r} must be a positive integer"
            )
        if self.image_range not in IMAGE_RANGES:
            raise EdgekitError(
                f"--image-range {self.image_range!r} is not one of {', '.join(IMAGE_RANGES)}"
            )

    @classmethod
    def from_dict(cls, data: dict) -> ConvertConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise EdgekitError(
                f"unknown config key(s) {', '.join(unknown)}: valid keys are {', '.join(sorted(known))}"
            )
        return cls(**data)

    @classmethod
    def from_file(cls, path: str | Path) -> ConvertConfig:
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise EdgekitError(f"config file {path} does not exist") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EdgekitError(f"config file {path} is not readable JSON ({exc}): "
                               "write one with --dump-config") from None
        if not isinstance(data, dict):
            raise EdgekitError(f"config file {path} must hold a JSON object")
        return cls.from_dict(data)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _variant_list(value, allowed: tuple[str, ...], flag: str) -> list[str]:
    if isinstance(value, str):
        value = [v for v in value.split(",")]
    names = [str(v).strip() for v in value if str(v).strip()]
    if names in (["none"], ["-"]):
        return []
    if names == ["all"]:
        return list(allowed)
    bad = [n for n in names if n not in allowed]
    if bad:
        raise EdgekitError(
            f"{flag}: unknown variant {', '.join(bad)}; choose from {','.join(allowed)} (or all, none)"
        )
    return list(dict.fromkeys(names))  # keep order, drop repeats
