"""Convert-then-compare: real conversions, checked against the float model by real runtimes."""

import hashlib
import json

import numpy as np
import pytest

from edgekit.core.config import ConvertConfig
from edgekit.core.errors import EdgekitError
from edgekit.runtimes import RUNTIMES
from edgekit.workflows.convert import convert

pytestmark = pytest.mark.slow

EXPECTED_FILES = {f"digits_cnn_{v}.tflite" for v in ("fp32", "fp16", "dynamic", "int8", "int16x8")} | {
    f"digits_cnn_{v}.onnx" for v in ("fp32", "int8-static", "int8-dynamic")}


def test_default_model_converts_into_every_variant(converted):
    manifest = converted["manifest"]
    assert {a["path"] for a in manifest["artifacts"]} == EXPECTED_FILES
    assert manifest["failed"] == []
    assert sorted(p.name for p in converted["folder"].iterdir()) == sorted(EXPECTED_FILES | {"manifest.json", "results.json"})
    assert manifest["source"]["flavour"] == "tf_keras" and manifest["calibration"]["samples"] == 200


def test_manifest_fidelity_numbers(converted):
    by_name = {a["path"]: a for a in converted["manifest"]["artifacts"]}
    for artifact in by_name.values():
        fid = artifact["fidelity"]
        assert fid["samples"] == 360  # the held-out split, which the quantizers did not calibrate on
        assert fid["max_abs"] >= 0 and fid["mean_abs"] <= fid["max_abs"]
        assert fid["top1_agreement"] >= 0.98, artifact["path"]
    assert by_name["digits_cnn_fp32.tflite"]["fidelity"]["max_abs"] < 1e-5
    assert by_name["digits_cnn_fp32.onnx"]["fidelity"]["max_abs"] < 1e-5
    assert by_name["digits_cnn_int8.tflite"]["fidelity"]["max_abs"] > 0  # really quantized
    assert by_name["digits_cnn_fp16.tflite"]["fidelity"]["sqnr_db"] > by_name["digits_cnn_int8.tflite"]["fidelity"]["sqnr_db"]


def test_manifest_records_files_io_and_quantization(converted):
    folder = converted["folder"]
    by_name = {a["path"]: a for a in converted["manifest"]["artifacts"]}
    for name, artifact in by_name.items():
        data = (folder / name).read_bytes()
        assert artifact["size_bytes"] == len(data)
        assert artifact["sha256"] == hashlib.sha256(data).hexdigest()
        assert artifact["parent"] == converted["manifest"]["source"]["sha256"]
        assert [t["name"] for t in artifact["inputs"]] == ["image"]
        assert [t["name"] for t in artifact["outputs"]] == ["probs"]
    int8 = by_name["digits_cnn_int8.tflite"]
    assert int8["inputs"][0]["dtype"] == "int8" and int8["outputs"][0]["dtype"] == "int8"
    assert 0 < int8["inputs"][0]["scale"][0] < 1 and int8["inputs"][0]["zero_point"] == [-128]
    assert by_name["digits_cnn_int16x8.tflite"]["inputs"][0]["dtype"] == "int16"
    assert by_name["digits_cnn_fp16.tflite"]["inputs"][0]["dtype"] == "float32"
    assert by_name["digits_cnn_int8-static.onnx"]["recipe"]["format"] == "QDQ"


def test_int8_artifact_keeps_accuracy_on_the_held_out_split(converted):
    """Beyond the calibration set: the shipped int8 file classifies the test split correctly."""
    from edgekit.data.datasets import digits

    data = digits(0)
    with RUNTIMES["litert"].open(converted["folder"] / "digits_cnn_int8.tflite") as session:
        probs = session.predict({"image": data.x_test})["probs"]
    accuracy = (probs.argmax(axis=1) == data.y_test).mean()
    assert accuracy >= 0.97
    # the manifest's evaluation is the same measurement, beside the float model's
    record = next(a for a in converted["manifest"]["artifacts"] if a["variant"] == "int8"
                  and a["format"] == "tflite")["evaluation"]
    assert record["metric"] == "accuracy" and record["value"] == pytest.approx(accuracy, abs=1e-6)
    assert record["drop_points"] == pytest.approx((record["float"] - record["value"]) * 100, abs=1e-3)


def test_terminal_table_lists_every_artifact(converted):
    for name in EXPECTED_FILES:
        assert name in converted["stdout"]
    assert "1.00x" in converted["stdout"] and "SQNR" in converted["stdout"]


def test_float_io_option_and_rerun_replaces_cleanly(tmp_path):
    out = tmp_path / "out"
    convert(ConvertConfig(out=str(out), tflite="int8,fp16", onnx="none"), log=lambda m: None)
    manifest = convert(ConvertConfig(out=str(out), tflite="int8", onnx="none", io="float"), log=lambda m: None)
    folder = out / "digits_cnn"
    assert sorted(p.name for p in folder.iterdir()) == ["digits_cnn_int8.tflite", "manifest.json"]
    assert manifest["artifacts"][0]["inputs"][0]["dtype"] == "float32"
    assert sorted(p.name for p in out.iterdir()) == ["digits_cnn"]


def test_an_onnx_file_has_the_same_bytes_whatever_the_process_converted_before(converted, tmp_path):
    """tf2onnx and TF number names from process-wide counters: a sweep's worker converting its
    third model wrote other bytes than a fresh process."""
    for run in ("first", "second"):  # the second in a process that has converted it already
        convert(ConvertConfig(out=str(tmp_path / run), tflite="none", onnx="fp32"), log=lambda m: None)
    fresh = (converted["folder"] / "digits_cnn_fp32.onnx").read_bytes()  # from a process of its own
    for run in ("first", "second"):
        assert (tmp_path / run / "digits_cnn" / "digits_cnn_fp32.onnx").read_bytes() == fresh, run


@pytest.mark.parametrize("key", ["keras3_keras", "savedmodel", "tf_keras_h5"])
def test_other_flavours_convert(tiny, tmp_path, key):
    config = ConvertConfig(model=str(tiny["paths"][key]), calib=str(tiny["root"] / "calib_tiny.npz"),
                           out=str(tmp_path), tflite="fp32,int8", onnx="fp32,int8-static")
    manifest = convert(config, log=lambda m: None)
    assert len(manifest["artifacts"]) == 4 and manifest["failed"] == []
    # judged on 20 held-out samples of a random classifier's near-tied scores: one flip is 5 points of
    # top-1 agreement (k3's int8 file: 85% at 39.6 dB), so the SQNR says whether the file computes the model
    assert all(a["fidelity"]["sqnr_db"] >= 30 for a in manifest["artifacts"])


def test_two_inputs_two_outputs_keep_their_names(tiny, tmp_path):
    config = ConvertConfig(model=str(tiny["paths"]["two_io"]), calib=str(tiny["root"] / "calib_two.npz"),
                           out=str(tmp_path), tflite="fp32,int8", onnx="fp32")
    manifest = convert(config, log=lambda m: None)
    for artifact in manifest["artifacts"]:
        assert sorted(t["name"] for t in artifact["inputs"]) == ["a", "b"]
        assert sorted(t["name"] for t in artifact["outputs"]) == ["first", "second"]
        assert set(artifact["fidelity"]["outputs"]) == {"first", "second"}


def test_flex_op_fails_its_variants_with_the_reason_while_the_rest_build(tiny, tmp_path):
    config = ConvertConfig(model=str(tiny["paths"]["needs_flex"]), calib=str(tiny["root"] / "calib_det.npz"),
                           out=str(tmp_path), tflite="fp32,dynamic", onnx="fp32")
    manifest = convert(config, log=lambda m: None)
    assert [a["path"] for a in manifest["artifacts"]] == ["needs_flex_fp32.onnx"]
    assert [f["variant"] for f in manifest["failed"]] == ["fp32", "dynamic"]
    for failure in manifest["failed"]:
        assert "Flex" in failure["reason"] and "MatrixDeterminant" in failure["reason"]
    on_disk = json.loads((tmp_path / "needs_flex" / "manifest.json").read_text())
    assert on_disk["failed"] == manifest["failed"]
    from edgekit.render.table import conversion_table

    assert "tflite fp32 failed: needs Flex" in conversion_table(manifest)


def test_nothing_buildable_is_an_error_and_writes_nothing(tiny, tmp_path):
    config = ConvertConfig(model=str(tiny["paths"]["needs_flex"]), calib=str(tiny["root"] / "calib_det.npz"),
                           out=str(tmp_path), tflite="fp32", onnx="none")
    with pytest.raises(EdgekitError, match="no variant could be built.*Flex"):
        convert(config, log=lambda m: None)
    assert list(tmp_path.iterdir()) == []


def test_a_diverging_artifact_is_kept_apart_and_strict_fails_the_run(tiny, tmp_path, monkeypatch):
    """A broken converter output (here: the largest weight tensor negated) is rejected: kept in
    rejected/ with its numbers; with --strict the whole run fails and nothing is written."""
    from edgekit.converters import tflite

    real = tflite.convert

    def scrambled(*args, **kwargs):
        payload, recipe = real(*args, **kwargs)
        from ai_edge_litert.tools import flatbuffer_utils

        model = flatbuffer_utils.convert_bytearray_to_object(bytearray(payload))
        largest = max(model.buffers, key=lambda b: 0 if b.data is None else len(b.data))
        largest.data = (-np.frombuffer(bytes(largest.data), np.float32)).view(np.uint8)
        return bytes(flatbuffer_utils.convert_object_to_bytearray(model)), recipe

    monkeypatch.setattr(tflite, "convert", scrambled)
    options = dict(model=str(tiny["paths"]["tf_keras_keras"]), calib=str(tiny["root"] / "calib_tiny.npz"),
                   tflite="fp32", onnx="none")
    manifest = convert(ConvertConfig(out=str(tmp_path / "kept"), **options), log=lambda m: None)
    [rejected] = manifest["rejected"]
    assert manifest["artifacts"] == [] and rejected["path"] == "rejected/tfk_fp32.tflite"
    assert rejected["fidelity"]["sqnr_db"] < 20 and "SQNR" in rejected["reason"]
    assert (tmp_path / "kept" / "tfk" / "rejected" / "tfk_fp32.tflite").is_file()
    with pytest.raises(EdgekitError, match="strict=True: rejected/tfk_fp32.tflite diverges from the float model"):
        convert(ConvertConfig(out=str(tmp_path / "strict"), strict=True, **options), log=lambda m: None)
    assert not (tmp_path / "strict").exists() or list((tmp_path / "strict").iterdir()) == []


def test_validation_runs_in_the_real_runtimes(converted):
    """The numbers in the manifest can be reproduced by opening the files independently."""
    from edgekit.zoo import calibration_path, model_path

    images = np.load(calibration_path("digits_cnn"))["image"]
    with RUNTIMES["keras"].open(model_path("digits_cnn")) as session:
        reference = session.predict({"image": images})["probs"]
    outputs = {}
    for name in ("digits_cnn_fp32.tflite", "digits_cnn_int8.tflite", "digits_cnn_int8-static.onnx"):
        fmt = name.rsplit(".", 1)[1]
        runtime = RUNTIMES["litert" if fmt == "tflite" else "onnxruntime"]
        with runtime.open(converted["folder"] / name) as session:
            outputs[name] = session.predict({"image": images})["probs"]
    assert outputs["digits_cnn_int8.tflite"].shape == (200, 10)
    np.testing.assert_allclose(outputs["digits_cnn_fp32.tflite"], reference, atol=1e-5)
    agree = (outputs["digits_cnn_int8.tflite"].argmax(1) == outputs["digits_cnn_int8-static.onnx"].argmax(1)).mean()
    assert agree >= 0.98
    reproduced = _fidelity_reproduced_independently(converted["folder"], converted["manifest"])
    assert {"digits_cnn_fp32.tflite", "digits_cnn_int8.tflite", "digits_cnn_int8-static.onnx"} <= set(reproduced)
    for name, (mine, theirs) in reproduced.items():
        # The same file on the same samples: what differs from the validation run is the thread count
        # (it used every core) and how the batch is fed, which change only float32 rounding of
        # probabilities in [0, 1] (~6e-8 a step). So top-1 agreement must be equal; max-abs error within
        # 1e-6; SQNR within 0.5 dB where quantization sets the noise (a 1e-6 shift moves a noise of
        # ~5e-3 by far less), and where the noise is itself float rounding (fp32, SQNR > 100 dB),
        # both must show that level (the figure is only rounding there, so its value is not stable).
        assert mine["samples"] == theirs["samples"], name
        assert mine["top1_agreement"] == theirs["top1_agreement"], name
        assert mine["max_abs"] == pytest.approx(theirs["max_abs"], abs=1e-6), name
        if theirs["sqnr_db"] > 100:
            assert mine["sqnr_db"] > 100, name
        else:
            assert mine["sqnr_db"] == pytest.approx(theirs["sqnr_db"], abs=0.5), name


def _fidelity_reproduced_independently(folder, manifest) -> dict:
    """{file: (fidelity recomputed here, the manifest's)} for every artifact: the files opened with
    ai_edge_litert, onnxruntime and tf_keras directly, the figures in plain numpy."""
    import onnxruntime
    import tf_keras
    from ai_edge_litert.interpreter import Interpreter

    [given] = manifest["source"]["inputs"]
    # convert.validation_samples: a zoo model is validated on its task's held-out split (at most
    # --max-calib-samples; the first fidelity["samples"] of them when the time limit cut it short)
    assert manifest["validation"]["data"].startswith("360 samples of digits_cnn's held-out split")
    from edgekit.zoo import recipe_module

    recipe = recipe_module("digits_cnn")
    samples = recipe.dataset(recipe.RECIPE["seed"]).x_test[:manifest["config"]["max_calib_samples"]].astype(np.float32)
    assert len(samples) == manifest["validation"]["samples"] == 360
    with open(manifest["calibration"]["path"], "rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == manifest["calibration"]["sha256"]
    with np.load(manifest["calibration"]["path"]) as npz:  # none of them calibrated the quantizers
        calibrated = npz[given["name"]].reshape(len(npz[given["name"]]), -1)
    assert not {row.tobytes() for row in samples.reshape(len(samples), -1)} & {row.tobytes() for row in calibrated}
    float_model = tf_keras.models.load_model(manifest["source"]["path"], compile=False)
    reference = np.asarray(float_model(samples, training=False), np.float64)

    # Runtimes.predict with a time limit runs MIN_VALIDATION_SAMPLES // 2 = 10 samples a call where the
    # file's batch is free (else its fixed batch): int8-dynamic quantizes activations with each call's
    # range, so its figures depend on those calls, and the same calls are made here
    chunk = 10

    def run_tflite(path, x):
        interpreter = Interpreter(model_path=str(path))
        [inp] = interpreter.get_input_details()
        step = chunk if inp["shape_signature"][0] == -1 else int(inp["shape"][0])
        interpreter.resize_tensor_input(inp["index"], [step, *inp["shape"][1:]])
        interpreter.allocate_tensors()
        [inp], [out] = interpreter.get_input_details(), interpreter.get_output_details()
        rows = []
        for start in range(0, len(x), step):
            part = x[start:start + step]
            if inp["dtype"] != np.float32:  # quantized input: x / scale + zero point, rounded, clipped
                scale, zero = inp["quantization"]
                info = np.iinfo(inp["dtype"])
                part = np.clip(np.round(part / scale) + zero, info.min, info.max).astype(inp["dtype"])
            assert len(part) == step  # 360 samples: no padded last call
            interpreter.set_tensor(inp["index"], part)
            interpreter.invoke()
            values = interpreter.get_tensor(out["index"]).astype(np.float64)
            if out["dtype"] != np.float32:  # quantized output: (q - zero point) * scale
                scale, zero = out["quantization"]
                values = (values - zero) * scale
            rows.append(values)
        return np.concatenate(rows)

    def run_onnx(path, x):
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        [inp], [out] = session.get_inputs(), session.get_outputs()
        assert inp.type == "tensor(float)" and out.type == "tensor(float)"
        step = chunk if not isinstance(inp.shape[0], int) else inp.shape[0]
        return np.concatenate([session.run([out.name], {inp.name: x[i:i + step]})[0]
                               for i in range(0, len(x), step)]).astype(np.float64)

    found = {}
    for artifact in manifest["artifacts"]:
        theirs = artifact["fidelity"]
        n = theirs["samples"]
        run = run_tflite if artifact["format"] == "tflite" else run_onnx
        out, ref = run(folder / artifact["path"], samples[:n]), reference[:n]
        error = out - ref
        mine = {"samples": len(out), "max_abs": float(np.abs(error).max()),
                "sqnr_db": float(10 * np.log10(np.sum(ref ** 2) / np.sum(error ** 2))),
                "top1_agreement": float(np.mean(out.argmax(1) == ref.argmax(1)))}
        found[artifact["path"]] = (mine, theirs)
    return found


def test_one_calibration_gives_the_converters_own_int8_and_int16x8(tiny):
    """int8 and int16x8 are quantized from one calibration; each must hold the tensors, scales and
    outputs that TFLiteConverter's own conversion gives (only the conversion metadata differs)."""
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from edgekit.models.loading import load_model
    from edgekit.workflows import convert as pipeline

    saved, x = tiny["paths"]["savedmodel"], tiny["x"]
    calls = []
    with load_model(saved, False) as source:
        shared = {}
        built = {v: pipeline._tflite(source, v, {"pixels": x}, "int", lambda done, total: calls.append(done),
                                     calibrated=shared)[0] for v in ("int8", "int16x8")}
    assert calls == list(range(1, len(x) + 1))  # the samples ran once, for both variants

    def by_converter(ops, io_type):
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([x[i:i + 1]] for i in range(len(x)))
        converter.target_spec.supported_ops = [ops]
        converter.inference_input_type = converter.inference_output_type = io_type
        return converter.convert()

    own = {"int8": by_converter(tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.int8),
           "int16x8": by_converter(tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
                                   tf.int16)}

    def tensors_and_outputs(content):
        interpreter = Interpreter(model_content=content)
        interpreter.allocate_tensors()
        tensors = [(t["name"], t["dtype"], tuple(t["shape"]), t["quantization"]) for t in interpreter.get_tensor_details()]
        [given], [taken] = interpreter.get_input_details(), interpreter.get_output_details()
        scale, zero = given["quantization"]
        interpreter.set_tensor(given["index"], np.round(x[:1] / scale + zero).astype(given["dtype"]))
        interpreter.invoke()
        return tensors, interpreter.get_tensor(taken["index"])

    for variant in ("int8", "int16x8"):
        mine, theirs = tensors_and_outputs(built[variant]), tensors_and_outputs(own[variant])
        assert mine[0] == theirs[0], variant
        np.testing.assert_array_equal(mine[1], theirs[1])
