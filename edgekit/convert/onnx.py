"""ONNX variants: fp32 by tf2onnx, int8 by onnxruntime's quantizers on that fp32 graph.

tf2onnx writes a graph even when an op did not convert (DESIGN pitfall 4), so every graph is
checked with `onnx.checker` here and run by onnxruntime in validation.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from edgekit.errors import ConversionFailed, first_line

PRECISION = {
    "fp32": ("float32 weights and activations", "float32"),
    "int8-static": ("int8 weights (per-channel) and activations, QDQ", "int8"),
    "int8-dynamic": ("int8 weights, activations quantized at run time", "dynamic"),
}


def convert_fp32(source, opset: int) -> tuple[bytes, dict]:
    """Trace the source model's serving function, freeze it, and convert it with tf2onnx.

    tf2onnx's `from_function` takes every non-resource input of the concrete function for a graph
    input, and that includes the tensors it captures: Keras 3's Normalization computes its mean
    and variance once, eagerly, so EfficientNet's ONNX asked for them as inputs. Only the
    signature's own inputs are named here, so the captures are frozen into constants."""
    import onnx
    import tf2onnx
    from tf2onnx import tf_loader

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    try:
        concrete = source.serve.get_concrete_function()
        inputs = [t.name for t in concrete.inputs[:len(source.serve.input_signature)]]  # then the captures
        outputs = [t.name for t in concrete.outputs]
        names = tf2onnx.convert.tensor_names_from_structed(concrete, inputs, outputs)  # the signature's names
        frozen = tf_loader.from_function(concrete, inputs, outputs)

        def from_graph_def():
            return tf2onnx.convert.from_graph_def(frozen, name=concrete.name, input_names=inputs,
                                                  output_names=outputs, opset=opset, tensors_to_rename=names)[0]

        try:
            with _optimizers_unguarded():
                proto = from_graph_def()
        except Exception:  # an optimizer failed: the guarded way skips it
            proto = from_graph_def()
        onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:  # tf2onnx and the checker raise many types
        raise ConversionFailed(f"tf2onnx: {first_line(exc)}") from exc
    recipe = {"converter": f"tf2onnx {tf2onnx.__version__}", "opset": opset}
    return proto.SerializeToString(), recipe


CATCH_ERRORS = "TF2ONNX_CATCH_ERRORS"


@contextlib.contextmanager
def _optimizers_unguarded():
    """tf2onnx deep-copies the whole graph before each of its optimizers, so that a failing one can
    be undone; on ResNet50 that peaked at 8.3 GB and took 30 s, against 4.9 GB and 16 s without.
    Setting TF2ONNX_CATCH_ERRORS turns the copies off (tf2onnx 1.17 reads only whether it is set):
    a failing optimizer then raises, and the caller converts again the guarded way."""
    previous = os.environ.get(CATCH_ERRORS)
    os.environ[CATCH_ERRORS] = "FALSE"
    try:
        yield
    finally:
        if previous is None:
            del os.environ[CATCH_ERRORS]
        else:
            os.environ[CATCH_ERRORS] = previous


def quantize(fp32_path: Path, variant: str, calibration: dict[str, np.ndarray], on_sample=None
             ) -> tuple[bytes, dict]:
    """int8 ONNX from the fp32 file: static QDQ per-channel (calibrated) or dynamic.
    `on_sample(done, total)` follows calibration."""
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory(prefix="edgekit-onnxq-") as tmp:
        prepared, out = Path(tmp) / "prepared.onnx", Path(tmp) / "quantized.onnx"
        try:
            quant_pre_process(str(fp32_path), str(prepared))
            if variant == "int8-static":
                recipe = {"quantizer": "onnxruntime quantize_static", "format": "QDQ", "per_channel": True,
                          "activation_type": "QInt8", "weight_type": "QInt8",
                          "calibration_samples": len(next(iter(calibration.values())))}
                # one sample per call: at 6 per call MobileNetV2's calibration took 3.6 s and 0.87 GB
                # against 3.0 s and 0.34 GB (the calibrator keeps each call's outputs)
                quantize_static(str(prepared), str(out), _reader(calibration, on_sample), quant_format=QuantFormat.QDQ,
                                per_channel=True, activation_type=QuantType.QInt8,
                                weight_type=QuantType.QInt8)
            else:
                recipe = {"quantizer": "onnxruntime quantize_dynamic", "weight_type": "QInt8"}
                quantize_dynamic(str(prepared), str(out), weight_type=QuantType.QInt8)
            onnx.checker.check_model(str(out), full_check=True)
        except Exception as exc:  # the quantizers raise many types
            raise ConversionFailed(f"onnxruntime quantization: {first_line(exc)}") from exc
        return out.read_bytes(), recipe


def _reader(calibration: dict[str, np.ndarray], on_sample=None):
    """Calibration samples one at a time, as onnxruntime's calibrators read them."""
    from onnxruntime.quantization import CalibrationDataReader

    count = len(next(iter(calibration.values())))

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._next = 0

        def get_next(self):
            if self._next >= count:
                return None
            i, self._next = self._next, self._next + 1
            if on_sample:
                on_sample(i + 1, count)
            return {k: v[i:i + 1] for k, v in calibration.items()}

    return Reader()
