"""Resolution-free Keras and TFLite models measured at a stated shape (issue 30, item 1): the
Keras model itself on keras:cpu, its ONNX conversion validated at --input-shape, and a .tflite
whose signature leaves height and width free, resized by LiteRT to the shape given."""

import json

import numpy as np
import pytest

from tests.conftest import run_cli


def free_hw_keras(path):
    import keras

    inputs = keras.Input((None, None, 3), name="x")
    features = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(features))
    keras.Model(inputs, outputs).save(path)
    return path


def free_hw_tflite(path):
    """A builtin-only .tflite whose signature is [-1, -1, -1, 3] (the converter stores 1s)."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="x")])
    def serve(x):
        return {"y": tf.reduce_mean(x * 2.0 + 1.0, axis=[1, 2])}

    converter = tf.lite.TFLiteConverter.from_concrete_functions([serve.get_concrete_function()], serve)
    path.write_bytes(converter.convert())
    return path


@pytest.mark.slow
def test_a_resolution_free_keras_model_is_measured_and_converted_at_the_shape_given(tmp_path):
    model = free_hw_keras(tmp_path / "fcn.keras")
    code, _, stderr = run_cli("bench", model, "--runs", "5", "--warmup", "1")
    assert code == 2 and "free dimensions (x axis 1, x axis 2)" in stderr and "--input-shape x:1,?,?,3" in stderr
    code, stdout, stderr = run_cli("bench", model, "--runs", "5", "--warmup", "1", "--batch", "2",
                                   "--input-shape", "x:1,32,24,3", "--json")
    assert code == 0, stderr
    (found,) = json.loads(stdout)["models"]
    assert found["data"]["input_shapes"] == {"x": [1, 32, 24, 3]}
    assert [r["status"] for r in found["records"] if r["runtime"] == "keras"][:1] == ["ok"]

    code, stdout, stderr = run_cli("convert", model, "--tflite", "none", "--onnx", "fp32", "--no-bench",
                                   "--input-shape", "x:1,32,24,3", "--out", tmp_path / "out")
    assert code == 0, stderr
    manifest = json.loads((tmp_path / "out" / "fcn" / "manifest.json").read_text())
    assert manifest["validation"]["input_shapes"] == {"x": [1, 32, 24, 3]}
    assert manifest["config"]["input_shape"] == ["x:1,32,24,3"]
    assert "at x [1, 32, 24, 3]" in " ".join(stdout.split())
    # the folder remembers the shape: bench of it needs no --input-shape
    code, stdout, stderr = run_cli("bench", tmp_path / "out" / "fcn", "--runtime", "onnxruntime:cpu", "--runs", "5",
                                   "--warmup", "1", "--json")
    assert code == 0, stderr
    (found,) = json.loads(stdout)["models"]
    assert found["data"]["input_shapes"] == {"x": [1, 32, 24, 3]}
    assert all(r["status"] == "ok" for r in found["records"]), found["records"]


@pytest.mark.slow
def test_a_tflite_with_a_free_signature_is_resized_to_the_shape_given(tmp_path):
    model = free_hw_tflite(tmp_path / "free.tflite")
    code, _, stderr = run_cli("bench", model, "--runtime", "litert:xnnpack", "--runs", "5")
    assert code == 2 and "free dimensions (x axis 1, x axis 2)" in stderr  # its stored 1x1 is no default
    np.save(tmp_path / "x.npy", np.full((3, 20, 16, 3), 0.5, np.float32))
    for given in (["--input-shape", "x:1,20,16,3"], ["--data", tmp_path / "x.npy"]):
        code, stdout, stderr = run_cli("bench", model, "--runtime", "litert:xnnpack", "--runs", "5", "--warmup", "1",
                                       "--batch", "2", "--json", *given)
        assert code == 0, stderr
        (found,) = json.loads(stdout)["models"]
        (record,) = found["records"]
        assert record["status"] == "ok", record
        assert found["data"]["input_shapes"] == {"x": [1, 20, 16, 3]}
        assert record["throughput"]["batch"] == 2 and "note" not in record["throughput"]


@pytest.mark.slow
def test_the_api_takes_the_shapes_and_names_a_bad_one_as_python_does(tmp_path):
    import edgekit
    from edgekit.core.errors import EdgekitError
    from tests.shaped_models import free_hw_onnx

    model = free_hw_onnx(tmp_path / "detector.onnx")
    results = edgekit.bench(model, runtime="onnxruntime:cpu", runs=5, warmup=1, batch=2,
                            input_shape="input:1,3,16,16")
    assert results.results["models"][0]["data"]["input_shapes"] == {"input": [1, 3, 16, 16]}
    with pytest.raises(EdgekitError, match=r"model .*detector.onnx has free dimensions \(input axis 2, input axis 3\).*"
                                           r"input_shape=input:1,3,\?,\?"):
        edgekit.bench(model, runtime="onnxruntime:cpu", runs=5)
