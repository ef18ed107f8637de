"""`edgekit debug-quant` as a library call: which layers of the full-int8 conversion lose the most.

The ranking is converters/quant_debugger.py's (TFLite's quantization debugger); this adds the
whole int8 model's fidelity and task metric, with or without the layers kept in float.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np

from edgekit.converters import selective
from edgekit.converters.inputs import require_calibration, resolve_inputs
from edgekit.converters.quant_debugger import ROUNDING_ONLY, layer_errors
from edgekit.measure import fidelity, pairing
from edgekit.models.loading import load_model
from edgekit.runtimes import for_format
from edgekit.workflows.convert import prepare

logger = logging.getLogger(__name__)  # quiet unless the caller (or the CLI) configures logging

__all__ = ["ROUNDING_ONLY", "layer_errors", "run", "whole_model"]  # the ranking is the debugger's


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
