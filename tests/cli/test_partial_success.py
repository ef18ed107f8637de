"""A variant that cannot be built or diverges from the float model costs that variant, not the
run: the others are written, validated and benchmarked, the diverging file is kept apart in
rejected/, and the exit status is 1 (a gate failed). --strict keeps all-or-nothing."""

import json

import numpy as np
import pytest

from tests import quantization_models
from tests.conftest import run_cli

pytestmark = pytest.mark.slow  # each test converts a model


@pytest.fixture(scope="module")
def cancelling(tmp_path_factory):
    """A model whose output is the difference of two activations near 1000 (y = x1): exact in
    float, lost in int8, where those activations get a step of about 8."""
    import keras

    root = tmp_path_factory.mktemp("cancelling")
    inputs = keras.Input((4,))
    big = keras.layers.Dense(1, name="big_plus_x1")(inputs)
    same = keras.layers.Dense(1, name="big")(inputs)
    model = keras.Model(inputs, keras.layers.Subtract(name="x1")([big, same]))
    model.get_layer("big_plus_x1").set_weights([np.array([[1000.0], [1.0], [0.0], [0.0]]), np.zeros(1)])
    model.get_layer("big").set_weights([np.array([[1000.0], [0.0], [0.0], [0.0]]), np.zeros(1)])
    model.save(root / "cancelling.keras")
    np.save(root / "c.npy", np.random.default_rng(0).random((64, 4), dtype=np.float32))
    return root


def test_a_diverging_variant_is_kept_apart_and_the_others_are_written(cancelling, tmp_path):
    code, stdout, stderr = run_cli("convert", cancelling / "cancelling.keras", "--calib", cancelling / "c.npy",
                                   "--tflite", "fp32,int8", "--onnx", "fp32", "--runtime", "litert:xnnpack",
                                   "--runs", "20", "--out", tmp_path)
    assert code == 1, stderr
    folder = tmp_path / "cancelling"
    assert sorted(p.name for p in folder.iterdir()) == [
        "cancelling_fp32.onnx", "cancelling_fp32.tflite", "manifest.json", "rejected", "results.json"]
    assert [p.name for p in (folder / "rejected").iterdir()] == ["cancelling_int8.tflite"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [a["variant"] for a in manifest["artifacts"]] == ["fp32", "fp32"]
    (rejected,) = manifest["rejected"]
    assert rejected["path"] == "rejected/cancelling_int8.tflite" and rejected["variant"] == "int8"
    assert rejected["reason"].startswith("SQNR ") and "below the 10 dB floor for int8" in rejected["reason"]
    assert rejected["fidelity"]["sqnr_db"] < 10 and rejected["sha256"]
    results = json.loads((folder / "results.json").read_text())
    assert {r["artifact"] for r in results["models"][0]["records"]} == {"cancelling_fp32.tflite"}  # not benched
    assert "int8 REJECTED" in stdout and "rejected/cancelling_int8.tflite rejected" in stdout
    assert stderr.strip().splitlines()[-1] == (
        "edgekit convert: 1 of 3 variants left out (1 diverged from the float model, kept in rejected/; reasons in "
        "the table and manifest.json): for TFLite, `edgekit debug-quant MODEL --calib DATA` ranks the layers to "
        "keep in float with --keep-float")


def test_strict_keeps_all_or_nothing(cancelling, tmp_path):
    code, stdout, stderr = run_cli("convert", cancelling / "cancelling.keras", "--calib", cancelling / "c.npy",
                                   "--tflite", "fp32,int8", "--onnx", "none", "--no-bench", "--strict",
                                   "--out", tmp_path)
    assert code == 2 and stdout == ""
    assert stderr.strip().splitlines()[-1].startswith(
        "edgekit convert: error: --strict: rejected/cancelling_int8.tflite diverges from the float model: SQNR ")
    assert list(tmp_path.iterdir()) == []


def test_an_op_without_a_16x8_kernel_names_the_op(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4), keras.layers.Activation("hard_swish"),
                              keras.layers.Dense(2)])
    model.save(tmp_path / "hs.keras")
    np.save(tmp_path / "c.npy", np.random.default_rng(1).random((32, 6), dtype=np.float32))
    code, stdout, stderr = run_cli("convert", tmp_path / "hs.keras", "--calib", tmp_path / "c.npy", "--tflite",
                                   "fp32,int16x8", "--onnx", "none", "--no-bench", "--out", tmp_path / "out")
    assert code == 1, stderr
    assert "tflite int16x8 failed: int16x8 is unavailable for op HARD_SWISH: the converter has no 16x8 " \
           "quantization for it; leave int16x8 out" in " ".join(stdout.split())  # notes wrap at the width
    assert stderr.strip().splitlines()[-1].endswith("leave int16x8 out (--tflite fp32,fp16,dynamic,int8): TFLite "
                                                    "has no 16x8 kernel for an op the model uses")
    assert (tmp_path / "out" / "hs" / "hs_fp32.tflite").is_file()


@pytest.mark.slow
def test_a_default_variant_the_toolchain_cannot_build_is_unavailable_not_failed(tmp_path):
    """A convolution-only model with HARD_SWISH: int16x8 (no 16x8 kernel) and ONNX int8-dynamic (no
    MatMul, Gemm, attention or LSTM) are listed as unavailable when they were only defaults, failures when named."""
    import keras

    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3), keras.layers.Activation("hard_swish"),
                              keras.layers.GlobalAveragePooling2D()])
    model.save(tmp_path / "cv.keras")
    np.save(tmp_path / "c.npy", np.random.default_rng(1).random((32, 8, 8, 3), dtype=np.float32))
    code, stdout, stderr = run_cli("convert", tmp_path / "cv.keras", "--calib", tmp_path / "c.npy", "--no-bench",
                                   "--out", tmp_path / "out")
    assert code == 0, stderr
    manifest = json.loads((tmp_path / "out" / "cv" / "manifest.json").read_text())
    assert manifest["failed"] == []
    unavailable = {(s["format"], s["variant"]): s["reason"] for s in manifest["skipped"] if s["status"] == "unavailable"}
    assert set(unavailable) == {("tflite", "int16x8"), ("onnx", "int8-dynamic")}
    assert unavailable["onnx", "int8-dynamic"].startswith("int8-dynamic is unavailable: the model has no MatMul")
    assert {(a["format"], a["variant"]) for a in manifest["artifacts"]} >= {("onnx", "int8-static"), ("tflite", "int8")}
    text = " ".join(stdout.split())
    assert "onnx int8-dynamic not built: int8-dynamic is unavailable" in text
    assert not (tmp_path / "out" / "cv" / "cv_int8-dynamic.onnx").exists()

    code, stdout, stderr = run_cli("convert", tmp_path / "cv.keras", "--calib", tmp_path / "c.npy", "--tflite", "none",
                                   "--onnx", "fp32,int8-dynamic", "--no-bench", "--out", tmp_path / "named")
    assert code == 1, stderr  # asked for by name: a failure
    assert "onnx int8-dynamic failed: int8-dynamic is unavailable" in " ".join(stdout.split())


def test_a_normalization_layer_s_constants_stay_constants_in_onnx(tmp_path):
    """Keras 3's Normalization computes its mean and variance eagerly, once; tf2onnx made them
    graph inputs (EfficientNet's 'feed lacks input(s) …/normalization/Sub/y:0')."""
    import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Normalization(axis=-1, mean=[0.4, 0.5, 0.6], variance=[0.05, 0.06, 0.07])(x)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    keras.Model(inputs, outputs).save(tmp_path / "norm.keras")
    np.save(tmp_path / "c.npy", (np.random.default_rng(2).random((32, 8, 8, 3)) * 255).astype(np.float32))
    code, stdout, stderr = run_cli("convert", tmp_path / "norm.keras", "--calib", tmp_path / "c.npy", "--tflite",
                                   "none", "--onnx", "all", "--no-bench", "--out", tmp_path / "out")
    assert code == 0, stderr
    manifest = json.loads((tmp_path / "out" / "norm" / "manifest.json").read_text())
    assert [a["variant"] for a in manifest["artifacts"]] == ["fp32", "int8-static", "int8-dynamic"]
    assert all(len(a["inputs"]) == 1 for a in manifest["artifacts"])
    assert manifest["artifacts"][0]["fidelity"]["sqnr_db"] > 100


def test_a_degraded_variant_is_written_and_marked_with_exit_0_and_min_sqnr_moves_the_bar(tmp_path):
    _, model, calib, _ = quantization_models.fine_detail(tmp_path)
    options = ("convert", model, "--calib", calib, "--tflite", "fp32,int8", "--onnx", "none", "--no-bench")
    code, stdout, stderr = run_cli(*options, "--out", tmp_path / "out")
    assert code == 0, stderr  # kept: the sanity floor passes it
    said = " ".join(stdout.split())
    assert "int8 DEGRADED" in said and "fine_int8.tflite degraded (kept and benchmarked, below the quality " \
           "threshold): output y: SQNR" in said and "(the int8 threshold)" in said
    assert "on 20 calibration samples held out of 100 (drawn with seed 0; the quantizers calibrated on the other " \
           "80)" in said
    code, stdout, stderr = run_cli(*options, "--min-sqnr", "12", "--out", tmp_path / "lowered")
    assert code == 0 and "DEGRADED" not in stdout, stderr
    code, stdout, stderr = run_cli(*options, "--strict", "--out", tmp_path / "strict")
    assert code == 2 and stdout == "" and not (tmp_path / "strict" / "fine").exists()  # nothing written
    assert stderr.strip().splitlines()[-1].startswith(
        "edgekit convert: error: --strict: fine_int8.tflite is degraded: output y: SQNR ")
    assert stderr.strip().endswith("or lower the quality threshold with --min-sqnr")
