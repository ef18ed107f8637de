"""`edgekit debug-quant` as a library call: which layers of the full-int8 conversion lose the most.

TFLite's quantization debugger runs a debug build of the int8 model in which every quantized op
has a float twin fed the same (dequantized) inputs, so each layer's error is its own, not what
it inherited. Per layer: mean-square error, max-abs error, and the RMS error relative to the
output's quantization step. Rounding alone gives 1/sqrt(12) = 0.29 steps; a layer far above that
computes something its int8 kernel cannot represent (a weight or activation with a long-tailed
range), and is the first to keep in float. Layers are ranked by that ratio.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import tempfile
from pathlib import Path

import numpy as np

from edgekit.converters import selective
from edgekit.converters.inputs import require_calibration, resolve_inputs
from edgekit.core.lazy_imports import quiet_stderr, tensorflow
from edgekit.measure import fidelity, pairing
from edgekit.models.loading import load_model
from edgekit.runtimes import for_format
from edgekit.workflows.convert import prepare

logger = logging.getLogger(__name__)  # quiet unless the caller (or the CLI) configures logging

ROUNDING_ONLY = 1 / math.sqrt(12)  # RMS error of uniform rounding, in quantization steps


def run(config, log=None) -> dict:
    """Rank the layers of `config.model`'s full-int8 conversion by their quantization error."""
    log = log or logger.info
    model_path, calib_path, name = resolve_inputs(config)
    require_calibration(calib_path, model_path, "debug-quant ranks layers by their int8 error on real inputs, so it")
    log(f"loading {model_path}")
    with load_model(model_path, config.trust_model_code) as source:
        calibration, task, _ = prepare(config, model_path, calib_path, source)
        reference = source.predict(calibration)
        log(f"calibrating on {len(next(iter(calibration.values())))} samples from {calib_path}")
        calibrated = selective.calibrate(source.saved_model_dir(), calibration, config.io)
        keep = selective.resolve(calibrated, config.keep_float)
        log("running TFLite's quantization debugger")
        layers = layer_errors(calibrated, keep, calibration)
        model = whole_model(selective.quantize(calibrated, keep), calibration, reference, task, source)
    return {"kind": "edgekit quantization debug", "name": name, "model": str(model_path),
            "calibration": {"path": str(calib_path), "samples": len(next(iter(calibration.values())))},
            "evaluation_data": None if task is None else task.source, "io": config.io,
            "keep_float": keep.to_dict() if keep else None, "whole_model": model,
            "rounding_only_rmse_per_step": round(ROUNDING_ONLY, 4), "layers": layers}


def layer_errors(calibrated: selective.Calibrated, keep: selective.KeepFloat | None,
                 calibration: dict[str, np.ndarray]) -> list[dict]:
    """Every quantized layer's error on the calibration samples, worst first."""
    tf = tensorflow()
    model = selective.quantize(calibrated, keep, debug=True)
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


def whole_model(content: bytes, calibration: dict[str, np.ndarray], reference: dict[str, np.ndarray],
                task, source) -> dict:
    """The int8 model in its real runtime: fidelity against the float model (`source`) on the
    calibration samples, and the task metric on the held-out data when there is one."""
    with tempfile.TemporaryDirectory(prefix="edgekit-debug-quant-") as folder:
        path = Path(folder) / "int8.tflite"
        path.write_bytes(content)
        with for_format("tflite").open(path) as session:
            paired = pairing.pair(session.inputs, source.inputs, session.outputs, source.outputs,
                                  file="the int8 model", float_model=source.path.name,
                                  fix="the converter renamed them; report it")
            outputs = paired.float_outputs(session.predict(paired.file_feeds(calibration)))
            scored = None if task is None else task.evaluate_session(
                session, paired.file_input(source.inputs[0].name))
    classifier = None if task is None else task.metric == "accuracy"
    return {"fidelity": fidelity.compare(reference, outputs, classifier),
            "evaluation": scored}


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
