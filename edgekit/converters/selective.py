"""Full-int8 TFLite with chosen layers left in float (selective quantization).

The converter calibrates once; TFLite's MLIR quantizer then quantizes that calibrated model as
often as needed: with a denylist of layers and op types that stay float, and, for the
quantization debugger, with NumericVerify ops that compare each quantized op with its float twin.
This is the path `QuantizationDebugger.get_nondebug_quantized_model` takes; with nothing kept
float it is the same quantizer call as the converter's own int8 conversion.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from edgekit.converters import tflite
from edgekit.core.errors import EdgekitError, option
from edgekit.models.inspection import tflite_ops


@dataclasses.dataclass(frozen=True)
class Layer:
    name: str  # the Keras layer the op comes from (its tensor's name when that cannot be told)
    op: str  # TFLite op type, e.g. FULLY_CONNECTED
    tensor: str  # the op's output tensor: what the quantizer's denylist names


@dataclasses.dataclass(frozen=True)
class KeepFloat:
    """What stays float: whole layers (by their output tensors) and op types."""

    layers: tuple[str, ...] = ()
    ops: tuple[str, ...] = ()
    tensors: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.tensors or self.ops)

    def to_dict(self) -> dict:
        return {"layers": list(self.layers), "ops": list(self.ops), "tensors": list(self.tensors)}


@dataclasses.dataclass
class Calibrated:
    content: bytes  # the float model with the calibration statistics in it
    io: str  # "int": int8 inputs and outputs, "float": float32
    recipe: dict
    layers: list[Layer]


def calibrate(saved_model_dir: Path, calibration: dict[str, np.ndarray], io: str = "int",
              on_sample=None) -> Calibrated:
    content = tflite.calibrate(saved_model_dir, calibration, io, on_sample)
    recipe = tflite.recipe_for("int8", calibration, io)
    layers = [Layer(_keras_layer(names[0]), op, names[0]) for op, names in tflite_ops(content) if names]
    return Calibrated(content, io, recipe, layers)


def resolve(calibrated: Calibrated, names: list[str]) -> KeepFloat:
    """`--keep-float` names: TFLite op types (FULLY_CONNECTED), Keras layer names or tensor names."""
    op_types = {layer.op for layer in calibrated.layers}
    layers, ops, tensors = [], [], []
    for name in names:
        if name in op_types:
            ops.append(name)
            continue
        matched = [layer for layer in calibrated.layers if name in (layer.name, layer.tensor)
                   or name in name_components(layer.tensor)]
        if not matched:
            known = list(dict.fromkeys(layer.name for layer in calibrated.layers))
            raise EdgekitError(f"{option('keep_float', repr(name))} is neither a layer nor an op type of this model: "
                               f"layers are {', '.join(known)}; op types are {', '.join(sorted(op_types))}")
        layers.append(name)
        tensors += [layer.tensor for layer in matched if layer.tensor not in tensors]
    return KeepFloat(tuple(layers), tuple(ops), tuple(tensors))


def quantize(calibrated: Calibrated, keep: KeepFloat | None = None, debug: bool = False) -> bytes:
    """The int8 flatbuffer with `keep` in float; `debug` adds the NumericVerify ops."""
    keep = keep or KeepFloat()
    return tflite.quantize(calibrated.content, "int8", calibrated.io, list(keep.tensors) or None,
                           list(keep.ops) or None, debug)


def recipe(calibrated: Calibrated, keep: KeepFloat | None) -> dict:
    found = dict(calibrated.recipe)
    if keep:
        found["keep_float"] = keep.to_dict()
    return found


def name_components(tensor: str) -> set[str]:
    """The scopes a converter's tensor or node name is made of: 'm/probs/MatMul;m/probs/BiasAdd' -> m, probs, ..."""
    return {part for piece in tensor.split(";") for part in piece.split("/")}


def _keras_layer(tensor: str) -> str:
    """'digits_cnn/probs/MatMul;digits_cnn/probs/BiasAdd' -> 'probs' (model/layer/op)."""
    parts = tensor.split(";")[0].split("/")
    return parts[1] if len(parts) >= 3 else tensor
