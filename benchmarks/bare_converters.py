"""The eight conversions of `edgekit convert`'s default, done the way a user would without edgekit:
the converters' own documented calls, nothing validated, nothing benchmarked.

    python benchmarks/bare_converters.py MODEL.keras CALIB.npy OUT_DIR [--opset 17]

TFLite fp32, fp16, dynamic, int8 and int16x8 from the model's exported SavedModel
(`TFLiteConverter.from_saved_model`, calibrated with the samples, int8/int16 inputs and outputs);
ONNX fp32 with tf2onnx's command line (run in this process, so no second interpreter start is
counted), then onnxruntime's `quantize_dynamic` and `quantize_static` (QDQ, per channel, int8)
on it. The same settings as edgekit's; `benchmarks/architectures.py` times this script against
`edgekit convert` on the same model and samples.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def tflite_variants(saved_model: Path, samples: np.ndarray, out: Path, log) -> None:
    import tensorflow as tf

    def representative():
        for i in range(len(samples)):
            yield [samples[i:i + 1]]

    for variant in ("fp32", "fp16", "dynamic", "int8", "int16x8"):
        started = time.perf_counter()
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
        if variant != "fp32":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if variant == "fp16":
            converter.target_spec.supported_types = [tf.float16]
        if variant == "int8":
            converter.representative_dataset = representative
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = converter.inference_output_type = tf.int8
        if variant == "int16x8":
            converter.representative_dataset = representative
            converter.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
            converter.inference_input_type = converter.inference_output_type = tf.int16
        try:
            (out / f"model_{variant}.tflite").write_bytes(converter.convert())
            log(f"tflite {variant}: {time.perf_counter() - started:.1f} s")
        except Exception as exc:  # a user's script would see the converter's error and go on
            log(f"tflite {variant} failed after {time.perf_counter() - started:.1f} s: "
                f"{str(exc).strip().splitlines()[-1][:200]}")


def onnx_variants(saved_model: Path, samples: np.ndarray, out: Path, opset: int, log) -> None:
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from tf2onnx import convert

    started = time.perf_counter()
    fp32 = out / "model_fp32.onnx"
    argv, sys.argv = sys.argv, ["tf2onnx.convert", "--saved-model", str(saved_model), "--output", str(fp32),
                                "--opset", str(opset)]
    try:
        convert.main()
    finally:
        sys.argv = argv
    log(f"onnx fp32: {time.perf_counter() - started:.1f} s")
    prepared = out / "model_fp32_prepared.onnx"
    quant_pre_process(str(fp32), str(prepared))
    started = time.perf_counter()
    quantize_dynamic(str(prepared), str(out / "model_int8-dynamic.onnx"), weight_type=QuantType.QInt8)
    log(f"onnx int8-dynamic: {time.perf_counter() - started:.1f} s")

    import onnx
    input_name = onnx.load(str(prepared), load_external_data=False).graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.rows = iter(range(len(samples)))

        def get_next(self):
            i = next(self.rows, None)
            return None if i is None else {input_name: samples[i:i + 1]}

    started = time.perf_counter()
    quantize_static(str(prepared), str(out / "model_int8-static.onnx"), Reader(), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    log(f"onnx int8-static: {time.perf_counter() - started:.1f} s")


def peak_gb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("calib")
    parser.add_argument("out")
    parser.add_argument("--opset", type=int, default=17)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def log(message):  # with the peak memory so far: where it grows
        print(f"{message} (peak {peak_gb():.2f} GB)", file=sys.stderr, flush=True)

    import keras

    started = time.perf_counter()
    samples = np.load(args.calib).astype(np.float32)
    model = keras.models.load_model(args.model)
    saved_model = out / "saved_model"
    model.export(str(saved_model), verbose=False)
    log(f"load and export: {time.perf_counter() - started:.1f} s")
    tflite_variants(saved_model, samples, out, log)
    onnx_variants(saved_model, samples, out, args.opset, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
