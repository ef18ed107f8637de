"""The isolated per-op profile of LiteRT's Interpreter and TFLite Micro: real small models built
here, each op cut out as a one-op model and timed on the real runtimes."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.models.inspection import tflite_io, tflite_ops
from edgekit.runtimes import RUNTIMES, isolated_ops
from edgekit.runtimes.base import check_profile
from tests.require import c_compiler, require
from tests.tflite_models import conv_pair


@pytest.fixture(scope="module")
def no_tensorflow_models(tmp_path_factory):
    return conv_pair(tmp_path_factory.mktemp("flatbuffer-models"))


def test_an_op_xnnpack_leaves_is_timed_on_the_cpu_between_two_partitions(no_tensorflow_models):
    """The fast tier's check (no TensorFlow): CONV_2D | CUMSUM | CONV_2D on XNNPACK."""
    path = no_tensorflow_models["mixed"]
    found = RUNTIMES["litert"].profile(path, feed_for(path), 3, kernels="xnnpack")
    check_profile(found)
    assert [(op["type"], op["executor"]) for op in found["ops"]] == [
        ("CONV_2D", "XNNPACK partition 0"), ("CUMSUM", "builtin"), ("CONV_2D", "XNNPACK partition 1")]
    assert found["partitions"] == 2 and found["fully_delegated"] is False
    assert [op["type"] for op in found["left_on_cpu"]] == ["CUMSUM"] and all(op["us"] > 0 for op in found["ops"])
    whole = RUNTIMES["litert"].profile(no_tensorflow_models["conv"], feed_for(path), 3, kernels="xnnpack")
    assert whole["partitions"] == 1 and whole["fully_delegated"] is True and whole["left_on_cpu"] == []


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A small CNN in float and int8, and float graphs whose delegation is known."""
    from edgekit.core.lazy_imports import tensorflow

    tf = tensorflow()
    import tf_keras

    root = tmp_path_factory.mktemp("isolated-models")
    tf_keras.utils.set_random_seed(1)
    cnn = tf_keras.Sequential([
        tf_keras.layers.InputLayer((8, 8, 2)),
        tf_keras.layers.Conv2D(4, 3, activation="relu"),
        tf_keras.layers.MaxPooling2D(),
        tf_keras.layers.Flatten(),
        tf_keras.layers.Dense(5, activation="softmax"),
    ])
    (root / "cnn.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(cnn).convert())
    converter = tf.lite.TFLiteConverter.from_keras_model(cnn)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    samples = np.random.default_rng(0).random((8, 1, 8, 8, 2), dtype=np.float32)
    converter.representative_dataset = lambda: ([s] for s in samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    (root / "cnn_int8.tflite").write_bytes(converter.convert())
    converter = tf.lite.TFLiteConverter.from_keras_model(cnn)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    (root / "cnn_fp16.tflite").write_bytes(converter.convert())

    spec = tf.TensorSpec([1, 8], tf.float32)

    @tf.function(input_signature=[spec])
    def cumsum(x):  # MUL ADD | CUMSUM (XNNPACK has no cumulative sum) | TANH ADD
        return tf.tanh(tf.math.cumsum(tf.nn.relu(x * 2.0 + 1.0), axis=1)) + 1.0

    @tf.function(input_signature=[spec])
    def loop(x):  # WHILE runs its condition and body in two more subgraphs
        _, y = tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, tf.tanh(y) + 1.0), [tf.constant(0), x * 2.0])
        return y * 3.0

    for name, fn in (("cumsum", cumsum), ("while", loop)):
        converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn)
        (root / f"{name}.tflite").write_bytes(converter.convert())
    return {name: root / f"{name}.tflite" for name in ("cnn", "cnn_int8", "cnn_fp16", "cumsum", "while")}


def feed_for(path, seed=0):
    rng = np.random.default_rng(seed)
    return {t["name"]: rng.random([d or 1 for d in t["shape"]], dtype=np.float32) for t in tflite_io(path)["inputs"]}


@pytest.mark.slow  # TensorFlow converts its models
@pytest.mark.parametrize("name", ["cnn", "cnn_int8"])
@pytest.mark.parametrize("kernels", ["xnnpack", "builtin", "reference"])
def test_every_op_of_the_file_is_timed_in_order_on_the_targets_kernels(models, name, kernels):
    path = models[name]
    profile = RUNTIMES["litert"].profile(path, feed_for(path), 5, kernels=kernels, threads=1)
    check_profile(profile)
    assert profile["method"] == "isolated" and profile["runs"] == 5 and "one-op model" in profile["note"]
    assert [op["type"] for op in profile["ops"]] == [t for t, _ in tflite_ops(path.read_bytes())]
    assert [op["index"] for op in profile["ops"]] == list(range(len(profile["ops"])))
    assert all(op["us"] > 0 for op in profile["ops"])
    assert "not_timed" not in profile
    if kernels == "xnnpack":  # XNNPACK takes the whole float CNN; an int8 softmax it has no kernel for
        left = [] if name == "cnn" else ["SOFTMAX"]
        assert profile["partitions"] == 1 and profile["fully_delegated"] is (not left)
        assert [op["type"] for op in profile["left_on_cpu"]] == left
        assert [op["executor"] for op in profile["ops"]] == [
            "builtin" if op["type"] in left else "XNNPACK partition 0" for op in profile["ops"]]
    else:
        assert (profile["partitions"], profile["fully_delegated"], profile["left_on_cpu"]) == (0, None, [])
        assert {op["executor"] for op in profile["ops"]} == {kernels}


@pytest.mark.slow  # TensorFlow converts its models
@pytest.mark.parametrize("name", ["cnn", "cnn_int8", "cumsum"])
def test_a_one_op_model_gives_what_the_op_gave_in_the_whole_model(models, name):
    from ai_edge_litert import interpreter as litert
    from ai_edge_litert.tools import flatbuffer_utils

    path = models[name]
    model = flatbuffer_utils.read_model(str(path))
    values = isolated_ops.whole_model_values(path, model, feed_for(path, seed=3))
    graph = model.subgraphs[0]
    for index, op in enumerate(graph.operators):
        fed = isolated_ops.fed_inputs(model, op)
        one = litert.Interpreter(model_content=isolated_ops.one_op_model(model, index, {}),
                                 experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        one.allocate_tensors()
        assert [d["index"] for d in one.get_input_details()] == list(range(len(fed)))
        for position, tensor in enumerate(fed):
            one.set_tensor(position, values[tensor])
        one.invoke()
        outputs = [one.get_tensor(d["index"]) for d in one.get_output_details()]
        assert len(outputs) == len(op.outputs)
        for tensor, found in zip(op.outputs, outputs):
            expected = values[int(tensor)]
            assert found.dtype == expected.dtype and found.shape == expected.shape
            np.testing.assert_array_equal(found, expected)


@pytest.mark.slow  # TensorFlow converts its models
def test_xnnpack_placement_names_the_op_it_left_between_two_partitions(models):
    path = models["cumsum"]
    profile = RUNTIMES["litert"].profile(path, feed_for(path), 3, kernels="xnnpack")
    assert profile["partitions"] == 2 and profile["fully_delegated"] is False
    [left] = profile["left_on_cpu"]
    assert left["type"] == "CUMSUM" and left["index"] == 2 and "XNNPACK" in left["reason"]
    assert [(op["type"], op["executor"]) for op in profile["ops"]] == [
        ("MUL", "XNNPACK partition 0"), ("ADD", "XNNPACK partition 0"), ("CUMSUM", "builtin"),
        ("TANH", "XNNPACK partition 1"), ("ADD", "XNNPACK partition 1")]


@pytest.mark.slow  # TensorFlow converts its models
def test_an_op_that_runs_other_subgraphs_is_listed_as_not_timed(models):
    path = models["while"]
    profile = RUNTIMES["litert"].profile(path, feed_for(path), 3, kernels="builtin")
    types = [t for t, _ in tflite_ops(path.read_bytes())]
    [skipped] = profile["not_timed"]
    assert skipped["type"] == "WHILE" and "subgraphs" in skipped["reason"]
    assert [op["type"] for op in profile["ops"]] == [t for i, t in enumerate(types) if i != skipped["index"]]
    assert all(op["us"] > 0 for op in profile["ops"])


@pytest.fixture(scope="module")
def probe_delegate(tmp_path_factory):
    import subprocess

    from tests.unit.hardware.test_delegates import PROBE_DELEGATE_C

    require("cc")  # builds the probe delegate
    root = tmp_path_factory.mktemp("probe-delegate")
    (root / "probe.c").write_text(PROBE_DELEGATE_C)
    library = root / "libprobe_delegate.so"
    subprocess.run([c_compiler(), "-shared", "-fPIC", "-O1", "-o", library, root / "probe.c"], check=True)
    return str(library)


@pytest.mark.slow  # TensorFlow converts its models
def test_a_given_delegate_is_told_apart_from_xnnpack_which_takes_what_it_leaves(models, probe_delegate):
    from ai_edge_litert import schema_py_generated as schema

    path = models["cumsum"]
    codes = ",".join(str(getattr(schema.BuiltinOperator, n)) for n in ("ADD", "TANH"))
    placement = RUNTIMES["litert"].open(path, delegate=probe_delegate,
                                        delegate_options={"builtin_codes": codes}).placement()
    # the probe delegate claims its ops but never runs them: only where they run is checked
    assert placement["executors"] == ["XNNPACK partition 0", "libprobe_delegate.so partition 0", "builtin",
                                      "libprobe_delegate.so partition 1", "libprobe_delegate.so partition 1"]
    assert placement["partitions"] == 2 and placement["fully_delegated"] is False
    assert [(left["type"], left["reason"]) for left in placement["left_on_cpu"]] == [
        ("MUL", "libprobe_delegate.so did not take this op (XNNPACK ran it)"),
        ("CUMSUM", "libprobe_delegate.so did not take this op")]


@pytest.mark.slow
def test_tflite_micro_times_each_op_on_its_reference_kernels_as_host_time(models):
    require("tflite-micro")
    path = models["cnn_int8"]
    profile = RUNTIMES["tflm"].profile(path, feed_for(path), 3)
    assert [op["type"] for op in profile["ops"]] == [t for t, _ in tflite_ops(path.read_bytes())]
    assert all(op["us"] > 0 and op["executor"] == "tflm reference kernels" for op in profile["ops"])
    assert "not MCU time" in profile["note"] and "one-op model" in profile["note"]
    assert (profile["partitions"], profile["fully_delegated"], profile["left_on_cpu"]) == (0, None, [])


@pytest.mark.slow  # TensorFlow converts its models
def test_weights_dequantized_once_at_load_are_constants_of_the_ops_that_read_them(models):
    """An fp16 file: its DEQUANTIZE ops turn constant weights into float once, when the model
    loads; timed alone, a convolution fed its weights as an input would run XNNPACK's slow path."""
    path = models["cnn_fp16"]
    found = RUNTIMES["litert"].profile(path, feed_for(path), 5, kernels="xnnpack")
    check_profile(found)
    types = [t for t, _ in tflite_ops(path.read_bytes())]
    assert [op["type"] for op in found["ops"]] == [t for t in types if t != "DEQUANTIZE"]
    assert [op["type"] for op in found["not_timed"]] == ["DEQUANTIZE"] * types.count("DEQUANTIZE") != []
    assert all("once, when the model loads" in op["reason"] for op in found["not_timed"])
    fp32 = RUNTIMES["litert"].profile(models["cnn"], feed_for(models["cnn"]), 5, kernels="xnnpack")
    conv = next(op for op in found["ops"] if op["type"] == "CONV_2D")
    assert conv["executor"] == next(op for op in fp32["ops"] if op["type"] == "CONV_2D")["executor"]
