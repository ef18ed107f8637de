"""`edgekit inspect` says what a mobile developer needs: how the weights are stored (fp16 or int8
behind DEQUANTIZE), the MACs per op and in total, and the activation arena LiteRT allocates,
checked against LiteRT's own allocation."""

import json

import numpy as np
import pytest

from tests.conftest import run_cli

# digits_cnn: 8x8x1 -> conv 3x3x16 (same) -> pool -> conv 3x3x32 (same) -> pool -> dense 64 -> dense 10
DIGITS_CNN_MACS = {"CONV_2D": 8 * 8 * 16 * 3 * 3 * 1 + 4 * 4 * 32 * 3 * 3 * 16, "FULLY_CONNECTED": 2 * 2 * 32 * 64 + 64 * 10}


def inspect_json(path) -> dict:
    code, stdout, stderr = run_cli("inspect", path, "--json")
    assert code == 0, stderr
    return json.loads(stdout)


def test_fp16_weights_behind_dequantize_are_said(converted):
    path = converted["folder"] / "digits_cnn_fp16.tflite"
    info = inspect_json(path)
    (weights,) = info["weights"]
    assert weights["stored_as"] == "float16" and weights["how"] == "dequantize"
    assert weights["ops"] == info["ops"]["DEQUANTIZE"] and weights["float32_bytes"] == 2 * weights["bytes"]
    code, stdout, _ = run_cli("inspect", path)
    text = " ".join(stdout.split())  # long lines are folded at 100 columns
    assert code == 0 and "weights stored as float16, dequantized to float32" in text
    assert f"({weights['ops']} DEQUANTIZE ops" in text and "(weights stored as float16)" in stdout
    assert max(len(line) for line in stdout.splitlines() if str(path) not in line) <= 100
    assert inspect_json(converted["folder"] / "digits_cnn_fp32.tflite")["weights"] == []
    (dynamic,) = inspect_json(converted["folder"] / "digits_cnn_dynamic.tflite")["weights"]
    assert dynamic["stored_as"] == "int8" and dynamic["how"] == "dynamic"


@pytest.mark.slow
def test_macs_per_op_and_in_total_agree_across_formats(converted):
    for path in sorted(converted["folder"].glob("digits_cnn_*")):
        if path.suffix not in (".tflite", ".onnx"):
            continue
        macs = inspect_json(path)["macs"]
        assert macs["total"] == sum(DIGITS_CNN_MACS.values()), path.name
        if path.suffix == ".tflite":
            assert {k: v["macs"] for k, v in macs["by_op"].items()} == DIGITS_CNN_MACS
            assert macs["batch"] == 1 and len(macs["per_op"]) == 4
        assert sum(e["macs"] for e in macs["per_op"]) == macs["total"]
    code, stdout, _ = run_cli("inspect", converted["folder"] / "digits_cnn_int8.tflite")
    assert code == 0 and "MACs at batch 1: 91.8 K" in stdout and "CONV_2D" in stdout


def litert_arena_bytes(path) -> int:
    """The extent of LiteRT's arena as its builtin kernels allocate it: the span of the addresses
    of the tensors it placed there (not the weights in the file, not the dequantized weights)."""
    from ai_edge_litert import interpreter as litert
    from ai_edge_litert import schema_py_generated as schema

    interpreter = litert.Interpreter(model_path=str(path),
                                     experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(path.read_bytes(), 0))
    graph = model.subgraphs[0]
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    weights = {i for i, t in enumerate(graph.tensors) if model.buffers[t.buffer].data is not None
               and len(model.buffers[t.buffer].data)}
    dequantized = {int(op.outputs[0]) for op in graph.operators
                   if codes[op.opcodeIndex] == schema.BuiltinOperator.DEQUANTIZE and int(op.inputs[0]) in weights}
    spans = []
    for detail in interpreter.get_tensor_details():  # the kernels' scratch tensors come after the file's
        index = detail["index"]
        if index in weights or index in dequantized:
            continue
        values = interpreter.tensor(index)()
        spans.append((values.ctypes.data, values.nbytes))
    return max(a + n for a, n in spans) - min(a for a, _ in spans)


@pytest.mark.parametrize("variant", ["fp32", "fp16", "int8", "int16x8"])
def test_the_activation_arena_is_the_one_litert_allocates(converted, variant):
    path = converted["folder"] / f"digits_cnn_{variant}.tflite"
    memory = inspect_json(path)["activations"]
    assert memory["arena_bytes"] == litert_arena_bytes(path)
    assert 0 < memory["peak_bytes"] <= memory["arena_bytes"]
    assert (memory["persistent_bytes"] > 0) == (variant == "fp16")  # the dequantized weights


@pytest.fixture(scope="module")
def converter_fp16(tmp_path_factory):
    """A float16 file as TensorFlow's converter writes them for MediaPipe-style models, not
    through edgekit: a strided conv, a depthwise conv and a matmul, weights behind DEQUANTIZE."""
    from edgekit.core.lazy_imports import tensorflow

    tf = tensorflow()
    rng = np.random.default_rng(0)
    conv = tf.constant(rng.standard_normal((3, 3, 3, 8)).astype(np.float32))
    depthwise = tf.constant(rng.standard_normal((3, 3, 8, 1)).astype(np.float32))
    dense = tf.constant(rng.standard_normal((8, 5)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([1, 16, 16, 3], tf.float32, name="image")])
    def model(image):
        x = tf.nn.relu(tf.nn.conv2d(image, conv, strides=2, padding="SAME"))  # 8x8x8
        y = tf.nn.depthwise_conv2d(x, depthwise, strides=[1, 1, 1, 1], padding="SAME")  # 8x8x8
        y = tf.tanh(x + y) * tf.sigmoid(y) - x  # ADD, MUL, SUB: LiteRT writes them over an input
        return tf.matmul(tf.reduce_mean(y, axis=[1, 2]), dense)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([model.get_concrete_function()], model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    path = tmp_path_factory.mktemp("fp16") / "face_detector_fp16.tflite"
    path.write_bytes(converter.convert())
    return path


def test_a_converter_written_fp16_file(converter_fp16):
    info = inspect_json(converter_fp16)
    assert [w["stored_as"] for w in info["weights"]] == ["float16"]
    assert info["weights"][0]["ops"] == info["ops"]["DEQUANTIZE"] >= 3
    by_op = {k: v["macs"] for k, v in info["macs"]["by_op"].items()}
    assert by_op["CONV_2D"] == 8 * 8 * 8 * 3 * 3 * 3 and by_op["DEPTHWISE_CONV_2D"] == 8 * 8 * 8 * 3 * 3
    assert sum(by_op.values()) == info["macs"]["total"] == by_op["CONV_2D"] + by_op["DEPTHWISE_CONV_2D"] + 8 * 5
    assert info["activations"]["arena_bytes"] == litert_arena_bytes(converter_fp16)
    assert info["activations"]["in_place"] >= 2


# the tiny fixture's model: conv 3x3x1x4 (+4 biases), then dense 64 -> 5 (+5 biases)
TINY_PARAMETERS = 3 * 3 * 1 * 4 + 4 + 4 * 4 * 4 * 5 + 5


@pytest.mark.slow  # a TensorFlow start per command
@pytest.mark.parametrize("key, name", [("tf_keras_h5", "tfk.hdf5"), ("keras3_keras", "k3.keras"),
                                       ("savedmodel", None)])
def test_inspect_takes_keras_files_and_savedmodels(tiny, tmp_path, key, name):
    path = tiny["paths"][key]
    if name:  # .hdf5 is a Keras file like .h5
        (tmp_path / name).write_bytes(path.read_bytes())
        path = tmp_path / name
    info = inspect_json(path)
    assert [(t["name"], t["shape"]) for t in info["inputs"]] == [("pixels", [None, 6, 6, 1])]
    assert [t["shape"] for t in info["outputs"]] == [[None, 5]]
    assert info["parameters"] == {"total": TINY_PARAMETERS, "trainable": TINY_PARAMETERS}
    if key == "savedmodel":
        assert info["format"] == "savedmodel" and {"Conv2D", "MatMul"} <= set(info["ops"])
    else:
        assert info["format"] == "keras" and info["layers"]["Conv2D"] == info["layers"]["Dense"] == 1
    code, stdout, stderr = run_cli("inspect", path)
    assert code == 0, stderr
    assert f"parameters: {TINY_PARAMETERS} ({TINY_PARAMETERS} trainable)" in stdout and "pixels: float32 [?, 6, 6, 1]" in stdout


@pytest.mark.slow  # a TensorFlow start per command
def test_inspect_loads_a_keras_file_under_the_trust_checks(tiny):
    path = tiny["paths"]["lambda_h5"]
    code, stdout, stderr = run_cli("inspect", path)
    assert code == 2 and not stdout and len(stderr.strip().splitlines()) == 1, stderr
    assert "Lambda layer" in stderr and "--trust-model-code" in stderr
    code, stdout, stderr = run_cli("inspect", path, "--trust-model-code")
    assert code == 0 and "Lambda" in stdout, stderr
    code, _, stderr = run_cli("inspect", path, "--delegates")  # LiteRT's delegates run .tflite files only
    assert code == 2 and "--delegates applies to .tflite files" in stderr, stderr


@pytest.mark.slow  # a TensorFlow start and a benchmark
def test_bench_runs_a_keras_hdf5_and_a_keras_file_named_otherwise(tiny, tmp_path):
    for name in ("tfk.hdf5", "tfk.model"):
        path = tmp_path / name
        path.write_bytes(tiny["paths"]["tf_keras_h5"].read_bytes())
        code, _, stderr = run_cli("bench", path, "--runtime", "keras:cpu", "--runs", "5", "--output",
                                  tmp_path / f"{name}.json")
        assert code == 0, stderr
        (row,) = json.loads((tmp_path / f"{name}.json").read_text())["models"][0]["records"]
        assert row["status"] == "ok", row
