"""Sessions run any number of samples, whatever batch their model fixes (real onnxruntime)."""

import numpy as np
import onnx
from onnx import TensorProto, helper

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
