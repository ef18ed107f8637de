"""TFLite variants, converted from a SavedModel with the TFLite converter.

Only builtin ops are allowed: a model that needs Flex (SELECT_TF_OPS) kernels would not run in
the LiteRT interpreter, so such a variant fails with the list of ops that need them.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from edgekit.core.errors import ConversionFailed, Unavailable
from edgekit.core.lazy_imports import quiet_stderr, tensorflow

# variant -> (what is stored in which type, the fidelity class it is checked against)
PRECISION = {
    "fp32": ("float32 weights and activations", "float32"),
    "fp16": ("float16 weights, float32 activations", "float16"),
    "dynamic": ("int8 weights, float32 activations (dynamic range)", "dynamic"),
    "int8": ("int8 weights and activations", "int8"),
    "int16x8": ("int8 weights, int16 activations", "int16x8"),
    "int8-qat": ("int8 weights and activations, quantization-aware trained", "int8"),
}
CALIBRATED = {"int8", "int16x8"}


def convert(saved_model_dir: Path, variant: str, calibration: dict[str, np.ndarray] | None,
            io: str = "int", on_sample=None) -> tuple[bytes, dict]:
    """Convert to one variant; returns the flatbuffer and the recipe that made it.
    `on_sample(done, total)` follows calibration."""
    if variant in CALIBRATED:
        return quantize(calibrate(saved_model_dir, calibration, io, on_sample), variant, io), \
            recipe_for(variant, calibration, io)
    converter, recipe = converter_for(saved_model_dir, variant, calibration, io, on_sample)
    return run(converter), recipe


def converter_for(saved_model_dir: Path, variant: str, calibration: dict[str, np.ndarray] | None,
                  io: str = "int", on_sample=None):
    """The TFLiteConverter set up for `variant`, and the recipe that describes it."""
    tf = tensorflow()
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    if variant != "fp32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    if variant in CALIBRATED:
        converter.representative_dataset = _representative(calibration, on_sample)
        ops, io_type = _calibrated_types(variant)
        converter.target_spec.supported_ops = [ops]
        if io == "int":
            converter.inference_input_type = converter.inference_output_type = io_type
    return converter, recipe_for(variant, calibration, io)


def recipe_for(variant: str, calibration: dict[str, np.ndarray] | None, io: str = "int") -> dict:
    """What made a variant: the converter and the options that differ from its defaults."""
    tf = tensorflow()
    recipe: dict = {"converter": f"tensorflow {tf.__version__} TFLiteConverter.from_saved_model"}
    if variant != "fp32":
        recipe["optimizations"] = ["DEFAULT"]
    if variant == "fp16":
        recipe["supported_types"] = ["float16"]
    if variant in CALIBRATED:
        ops, io_type = _calibrated_types(variant)
        recipe.update(calibration_samples=len(next(iter(calibration.values()))), supported_ops=[ops.name],
                      io=io_type.name if io == "int" else "float32",
                      quantizer=QUANTIZERS[variant])
    return recipe


def _calibrated_types(variant: str):
    tf = tensorflow()
    return {
        "int8": (tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.int8),
        "int16x8": (tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8, tf.int16),
    }[variant]


# The converter runs the calibration samples once per calibrated variant, and twice for int16x8
# (it calibrates for the MLIR quantizer, then again inside the older quantizer that int16 still
# needs). Calibrating once and quantizing that model with the quantizer the converter itself would
# pick gives the same tensors, scales and outputs (only the conversion metadata differs), in a
# third of the time when both variants are asked for.
QUANTIZERS = {"int8": "calibrated once, then TFLite's MLIR quantizer (the converter's own for int8)",
              "int16x8": "calibrated once, then TFLite's older quantizer (the converter's own for 16x8)"}


def calibrate(saved_model_dir: Path, calibration: dict[str, np.ndarray], io: str = "int", on_sample=None) -> bytes:
    """The float model with the min and max of every tensor over the samples in it."""
    converter, _ = converter_for(saved_model_dir, "int8", calibration, io, on_sample)
    converter._experimental_calibrate_only = True  # quantized by `quantize`, as often as needed
    return run(converter)


def quantize(calibrated: bytes, variant: str, io: str = "int", denylisted_nodes=None, denylisted_ops=None,
             debug: bool = False) -> bytes:
    """`variant` (int8 or int16x8) from a calibrated model, as the converter would quantize it;
    int8 can leave nodes and op types in float and add NumericVerify ops (`debug`)."""
    tf = tensorflow()
    # what the converter itself calls after calibrating
    from tensorflow.lite.python import convert as tflite_internals
    from tensorflow.lite.python import lite as converter_internals
    from tensorflow.lite.python.optimize import calibrator

    io_type = _calibrated_types(variant)[1] if io == "int" else tf.float32
    try:
        with quiet_stderr(replay_on_error=False):
            if variant == "int8":
                model = tflite_internals.mlir_quantize(
                    calibrated, input_data_type=io_type, output_data_type=io_type, enable_numeric_verify=debug,
                    denylisted_nodes=denylisted_nodes, denylisted_ops=denylisted_ops)
            else:  # no samples are fed: the statistics in the model stay as calibrated
                wrapper = calibrator.Calibrator(calibrated)._calibrator
                model = wrapper.QuantizeModel(*(np.dtype(t.as_numpy_dtype).num for t in (io_type, io_type)), False,
                                              np.dtype(np.int16).num, np.dtype(np.int64).num, False, False)
                model = converter_internals._modify_model_io_type(model, io_type, io_type)
            return converter_internals._deduplicate_readonly_buffers(model)
    except Exception as exc:  # the quantizers raise ConverterError and plain RuntimeErrors
        raise failure(str(exc)) from exc


def run(converter) -> bytes:
    """`converter.convert()`, its failure explained in one line."""
    try:
        with quiet_stderr(replay_on_error=False):  # the converter's errors are in the exception
            return converter.convert()
    except Exception as exc:  # the converter raises ConverterError and plain RuntimeErrors
        raise failure(str(exc)) from exc


def needs_fixed_batch(reason: str) -> bool:
    """Whether a conversion failed only for want of a static batch (Keras recurrent layers keep
    their state in TensorLists, which lower to builtins only at a fixed batch)."""
    return "element_shape to be static" in reason


def _representative(calibration: dict[str, np.ndarray], on_sample=None):
    count = len(next(iter(calibration.values())))

    def samples():
        for i in range(count):
            yield {name: array[i:i + 1] for name, array in calibration.items()}
            if on_sample:
                on_sample(i + 1, count)

    return samples


def failure(message: str) -> ConversionFailed:
    """The converter's failure as one line; Unavailable when an op of the model rules the variant out."""
    return (Unavailable if NO_16X8.search(message) else ConversionFailed)(explain_failure(message))


NO_16X8 = re.compile(r"Quantization to 16x8-bit not yet supported for op: '?(\w+)")


def explain_failure(message: str) -> str:
    """One line from the converter's many: which ops are the problem, and what to do."""
    select = re.search(r"TF Select ops: (.+)", message)
    if select or "ERROR_NEEDS_FLEX_OPS" in message:
        ops = select.group(1).strip() if select else "some ops"
        return (f"needs Flex (SELECT_TF_OPS) kernels for {ops}, which the LiteRT interpreter does not "
                "run; replace them with builtin ops (recurrent layers: unroll=True with a fixed batch)")
    unsupported = NO_16X8.search(message)
    if unsupported:
        return unavailable_in_16x8(unsupported.group(1), "the converter has no 16x8 quantization for it")
    custom = re.search(r"Custom ops: (.+)", message)
    if custom:
        return f"TFLite has no kernel for {custom.group(1).strip()} (neither builtin nor Flex); replace it"
    errors = [line.split("error:", 1)[1].strip() for line in message.splitlines() if "error:" in line]
    errors = [e.rsplit("): ", 1)[-1] if e.startswith("loc(") else e for e in errors]  # drop MLIR locations
    useful = [e for e in errors if e and not e.startswith("failed while converting")]
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return (useful[0] if useful else lines[-1] if lines else "the converter failed without a message")[:300]


def unavailable_in_16x8(op: str, why: str) -> str:
    """The one-line reason for an int16x8 variant that an op of the model rules out."""
    return f"int16x8 is unavailable for op {op}: {why}; leave int16x8 out"


def failed_to_prepare(message: str) -> str | None:
    """The op whose kernel refused the file at load ("Node number 3 (DEPTHWISE_CONV_2D) failed to
    prepare"), or None."""
    found = re.search(r"\((\w+)\) failed to prepare", message)
    return found.group(1) if found else None
