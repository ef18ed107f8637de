"""int8-dynamic ONNX quantizes only the ops where dynamic quantization pays (issue 31): MatMul, Gemm,
attention and LSTM. Convolutions stay float (onnxruntime's ConvInteger is slower than float), and a
model with none of those ops gets no dynamic variant, with the reason."""

from __future__ import annotations

import collections

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgekit.converters import onnx as onnx_convert
from edgekit.core.errors import Unavailable
from tests.shaped_models import _save, free_hw_onnx


def _conv_then_dense(path):
    """input [N, 3, 8, 8] -> 3x3 convolution (4 channels) -> global average pool -> MatMul and Add to [N, 2]
    (a Dense layer as tf2onnx writes it)."""
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float32), "w"),
               numpy_helper.from_array(rng.normal(size=(4, 2)).astype(np.float32), "dense"),
               numpy_helper.from_array(rng.normal(size=(2,)).astype(np.float32), "bias")]
    nodes = [helper.make_node("Conv", ["input", "w"], ["conv"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["conv"], ["relu"]),
             helper.make_node("GlobalAveragePool", ["relu"], ["pool"]),
             helper.make_node("Flatten", ["pool"], ["flat"]),
             helper.make_node("MatMul", ["flat", "dense"], ["matmul"]),
             helper.make_node("Add", ["matmul", "bias"], ["output"])]
    graph = helper.make_graph(
        nodes, "conv_dense", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 2])], weights)
    return _save(graph, path)


def _ops(payload: bytes) -> collections.Counter:
    return collections.Counter(node.op_type for node in onnx.load_from_string(payload).graph.node)


def test_a_conv_model_s_dynamic_variant_quantizes_its_dense_layer_and_leaves_the_convolution_float(tmp_path):
    payload, recipe = onnx_convert.quantize(_conv_then_dense(tmp_path / "m.onnx"), "int8-dynamic", {})
    ops = _ops(payload)
    assert ops["MatMulInteger"] == 1 and ops["MatMul"] == ops["Gemm"] == 0
    assert ops["Conv"] == 1 and ops["ConvInteger"] == 0
    assert recipe["op_types"] == {"MatMul": 1} and recipe["left_float"] == {"Conv": 1}


def test_a_model_with_no_matmul_attention_or_lstm_has_no_dynamic_variant(tmp_path):
    with pytest.raises(Unavailable, match="int8-dynamic is unavailable: the model has no MatMul, Gemm, attention or LSTM"):
        onnx_convert.quantize(free_hw_onnx(tmp_path / "conv.onnx"), "int8-dynamic", {})


def test_the_precision_line_says_convolutions_stay_float():
    assert "convolutions stay float" in onnx_convert.PRECISION["int8-dynamic"][0]

