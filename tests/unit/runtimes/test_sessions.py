"""Sessions run any number of samples, whatever batch their model fixes (real onnxruntime), and
LiteRT runs a resolution-free file at the feed's resolution."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from edgekit.core.errors import EdgekitError
from edgekit.runtimes import RUNTIMES


def add_one_model(path, batch):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 3])
    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    graph = helper.make_graph([helper.make_node("Add", ["x", "one"], ["y"])], "add_one", [x], [y], [one])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def test_a_fixed_batch_model_predicts_any_count_by_padding_the_last_call(tmp_path):
    path = add_one_model(tmp_path / "fixed.onnx", 4)
    x = np.arange(30, dtype=np.float32).reshape(10, 3)
    with RUNTIMES["onnxruntime"].open(path) as session:
        assert session.batch == 4
        assert session.resize(8) is not None  # the reason it cannot
        out = session.predict({"x": x})["y"]
        assert session.batch == 4
    np.testing.assert_array_equal(out, x + 1)


def test_a_free_batch_model_runs_in_one_call(tmp_path):
    path = add_one_model(tmp_path / "free.onnx", "n")
    x = np.ones((7, 3), dtype=np.float32)
    with RUNTIMES["onnxruntime"].open(path, threads=1) as session:
        assert session.batch is None and session.resize(32) is None
        np.testing.assert_array_equal(session.predict({"x": x}, batch=5)["y"], x + 1)
        assert session.details()["threads"] == 1


def doubling_tflite(path, shape):
    """A real TFLite file computing 2x over an input of `shape` (None: a free dimension)."""
    from edgekit.core.lazy_imports import tensorflow

    tf = tensorflow()
    double = tf.function(lambda image: image * 2.0,
                         input_signature=[tf.TensorSpec(shape, tf.float32, name="image")])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([double.get_concrete_function()], double)
    path.write_bytes(converter.convert())
    return path


@pytest.mark.slow  # TensorFlow's import and a conversion
def test_litert_runs_a_resolution_free_file_at_the_feeds_resolution(tmp_path):
    """Free height and width (shape_signature -1) take the feed's, as the model was made to; the
    converter stores 1 there, which is not the size to run at (docs/DESIGN.md pitfall 20)."""
    path = doubling_tflite(tmp_path / "free.tflite", [None, None, None, 3])
    x = np.random.default_rng(0).random((5, 6, 7, 3), dtype=np.float32)
    with RUNTIMES["litert"].open(path, threads=1) as session:
        (out,) = session.predict({"image": x}, batch=2).values()
        np.testing.assert_allclose(out, x * 2)
        (out,) = session.predict({"image": x[:, :4, :3]}).values()
        np.testing.assert_allclose(out, x[:, :4, :3] * 2)


@pytest.mark.slow
def test_litert_refuses_a_feed_that_changes_a_fixed_dimension_by_name(tmp_path):
    path = doubling_tflite(tmp_path / "fixed.tflite", [1, 4, 4, 3])
    with RUNTIMES["litert"].open(path, threads=1) as session:
        with pytest.raises(EdgekitError, match=r"input image of this file takes 1x4x4x3, the feed gives \?x6x7x3"):
            session.predict({"image": np.zeros((2, 6, 7, 3), np.float32)})
        (out,) = session.predict({"image": np.ones((2, 4, 4, 3), np.float32)}).values()
        assert out.shape == (2, 4, 4, 3)
