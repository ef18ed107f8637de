"""TFLite's quantization debugger: every quantized layer of a full-int8 conversion ranked by its own error.

The debugger runs a debug build of the int8 model in which every quantized op has a float twin fed
the same (dequantized) inputs, so each layer's error is its own, not what it inherited. Per layer:
mean-square error, max-abs error, and the RMS error relative to the output's quantization step.
Rounding alone gives 1/sqrt(12) = 0.29 steps; a layer far above that computes something its int8
kernel cannot represent (a weight or activation with a long-tailed range), and is the first to keep
in float. Layers are ranked by that ratio. `edgekit debug-quant` prints the ranking, `tune` searches
along it and `convert` names its head when an int8 file is degraded.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math

import numpy as np

from edgekit.converters import selective
from edgekit.core.lazy_imports import quiet_stderr, tensorflow
from edgekit.measure import pairing

ROUNDING_ONLY = 1 / math.sqrt(12)  # RMS error of uniform rounding, in quantization steps


def layer_errors(calibrated: selective.Calibrated, keep: selective.KeepFloat | None,
                 calibration: dict[str, np.ndarray]) -> list[dict]:
    """Every quantized layer's error on the calibration samples, worst first."""
    tf = tensorflow()
    # float I/O: the debugger feeds the samples as they are (an int8 input refused basic-pitch's float audio);
    # the layers inside are quantized the same either way
    model = selective.quantize(dataclasses.replace(calibrated, io="float"), keep, debug=True)
    order = _input_order(model, calibration)

    def samples():
        for i in range(len(next(iter(calibration.values())))):
            yield [calibration[name][i:i + 1] for name in order]

    with quiet_stderr(replay_on_error=False):
        debugger = tf.lite.experimental.QuantizationDebugger(quant_debug_model_content=model,
                                                             debug_dataset=samples)
        debugger.run()
    dump = io.StringIO()
    debugger.layer_statistics_dump(dump)
    by_tensor = {layer.tensor: layer for layer in calibrated.layers}
    rows = []
    for row in csv.DictReader(io.StringIO(dump.getvalue())):
        mse, scale = float(row["mean_squared_error"]), float(row["scale"])
        layer = by_tensor.get(row["tensor_name"]) or _stripped_match(row["tensor_name"], by_tensor)
        rows.append({
            "layer": layer.name if layer else row["tensor_name"], "op": row["op_name"],
            "tensor": layer.tensor if layer else row["tensor_name"], "elements": int(float(row["num_elements"])),
            "mse": mse, "max_abs_error": float(row["max_abs_error"]), "scale": scale,
            "rmse_per_step": math.sqrt(mse) / scale if scale > 0 else math.inf,
        })
    rows.sort(key=lambda r: -r["rmse_per_step"])
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return rows


def _stripped_match(name: str, by_tensor: dict):
    """The layer whose tensor the debugger names with its last digit cut off ('...:0' -> '...:'),
    which it does to undo the quantizer's renaming."""
    found = [layer for tensor, layer in by_tensor.items() if tensor[:-1] == name and tensor[-1:].isdigit()]
    return found[0] if len(found) == 1 else None


def _input_order(model: bytes, calibration: dict[str, np.ndarray]) -> list[str]:
    """The calibration arrays in the order of the model's inputs, which the debug model names as
    its graph does (serving_default_<name>:0: measure/pairing); in their own order when the
    names do not pair."""
    with quiet_stderr(replay_on_error=False):  # TF's interpreter: it knows the NumericVerify op
        details = tensorflow().lite.Interpreter(model_content=model).get_input_details()
    names = list(calibration)
    found = pairing.pair_names([d["name"] for d in details], names)
    return [found[d["name"]] for d in details] if found else names


# a layer ranked at more than twice rounding's error computes something int8 cannot hold; below, it only rounds
BLAMED = 2 * ROUNDING_ONLY
# a layer among the first half of the graph's layers (in execution order) is taken for part of an
# in-graph front end (a spectrogram, a normalisation): its int8 error usually comes from its input's
# range, set upstream, so the layers before it stay float with it as one block
FRONT_END_SHARE = 0.5


@dataclasses.dataclass(frozen=True)
class Step:
    """One step of the search for the layers to keep in float: the debugger-ranked `layer`, and
    `block`, it with the layers upstream of it when it sits in the front end (else just it)."""

    layer: str
    block: tuple[str, ...]
    rmse_per_step: float


def blamed_steps(ranking: list[dict], calibrated: selective.Calibrated) -> list[Step]:
    """The layers the ranking blames (above BLAMED), worst first, one step each, however many ops
    a layer maps to; a layer in the front end brings the layers upstream of it as its block."""
    order = list(dict.fromkeys(layer.name for layer in calibrated.layers))  # execution order of the ops
    steps, seen = [], set()
    for row in ranking:
        if not row["rmse_per_step"] > BLAMED:
            break
        name = row["layer"]
        if name in seen:
            continue
        seen.add(name)
        position = order.index(name) + 1 if name in order else None
        block = tuple(order[:position]) if position and position <= FRONT_END_SHARE * len(order) else (name,)
        steps.append(Step(name, block, row["rmse_per_step"]))
    return steps
