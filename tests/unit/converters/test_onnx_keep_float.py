"""--keep-float reaches the ONNX int8 recipe (issue 34, item 4): Keras layer names, ONNX and TFLite op
types map to nodes of the graph, passed to onnxruntime's nodes_to_exclude; a name that maps to
nothing is refused, never dropped."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgekit.converters import onnx as onnx_convert
from edgekit.core.errors import EdgekitError
from tests.shaped_models import _save


def _tf2onnx_like(path):
    """input [N, 3, 8, 8] -> conv (scope m/conv) -> depthwise conv (m/depthwise) -> pool -> dense (m/dense),
    named as tf2onnx names a Keras model's nodes: model/layer/op."""
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float32), "m/conv/kernel:0"),
               numpy_helper.from_array(rng.normal(size=(4, 1, 3, 3)).astype(np.float32), "m/depthwise/kernel:0"),
               numpy_helper.from_array(rng.normal(size=(4, 2)).astype(np.float32), "m/dense/kernel:0"),
               numpy_helper.from_array(rng.normal(size=(2,)).astype(np.float32), "m/dense/bias:0")]
    nodes = [helper.make_node("Conv", ["input", "m/conv/kernel:0"], ["m/conv/BiasAdd:0"], pads=[1, 1, 1, 1],
                              name="m/conv/BiasAdd"),
             helper.make_node("Relu", ["m/conv/BiasAdd:0"], ["m/conv/Relu:0"], name="m/conv/Relu"),
             helper.make_node("Conv", ["m/conv/Relu:0", "m/depthwise/kernel:0"], ["m/depthwise/BiasAdd:0"],
                              pads=[1, 1, 1, 1], group=4, name="m/depthwise/BiasAdd"),
             helper.make_node("GlobalAveragePool", ["m/depthwise/BiasAdd:0"], ["m/pool/Mean:0"], name="m/pool/Mean"),
             helper.make_node("Flatten", ["m/pool/Mean:0"], ["m/flatten/Reshape:0"], name="m/flatten/Reshape"),
             helper.make_node("MatMul", ["m/flatten/Reshape:0", "m/dense/kernel:0"], ["m/dense/MatMul:0"],
                              name="m/dense/MatMul"),
             helper.make_node("Add", ["m/dense/MatMul:0", "m/dense/bias:0"], ["output"], name="m/dense/BiasAdd")]
    graph = helper.make_graph(
        nodes, "m", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 2])], weights)
    return _save(graph, path)


@pytest.fixture
def graph(tmp_path):
    return onnx.load(str(_tf2onnx_like(tmp_path / "m.onnx"))).graph


def test_a_keras_layer_maps_to_its_nodes(graph):
    assert onnx_convert.kept_in_float(graph, ("dense",)) == {
        "layers": ["dense"], "ops": [], "nodes": ["m/dense/MatMul", "m/dense/BiasAdd"]}


def test_op_types_map_to_nodes_and_a_tflite_depthwise_is_only_the_grouped_convolution(graph):
    kept = onnx_convert.kept_in_float(graph, ("DEPTHWISE_CONV_2D", "MatMul"))
    assert kept == {"layers": [], "ops": ["DEPTHWISE_CONV_2D", "MatMul"],
                    "nodes": ["m/depthwise/BiasAdd", "m/dense/MatMul"]}
    assert onnx_convert.kept_in_float(graph, ("CONV_2D",))["nodes"] == ["m/conv/BiasAdd"]
    assert onnx_convert.kept_in_float(graph, ()) is None


def test_a_name_that_maps_to_nothing_is_refused_with_the_layers_there_are(graph):
    with pytest.raises(EdgekitError, match=r"keep_float='probs' maps to no node of the ONNX graph: give a layer "
                                           r"\(conv, dense, depthwise, flatten, pool\) or an ONNX op type"):
        onnx_convert.kept_in_float(graph, ("probs",))


def test_the_quantized_file_leaves_the_layer_in_float_and_the_recipe_says_so(tmp_path):
    calibration = {"input": np.random.default_rng(1).random((8, 3, 8, 8), dtype=np.float32)}
    payload, recipe = onnx_convert.quantize(_tf2onnx_like(tmp_path / "m.onnx"), "int8-static", calibration,
                                            keep_float=("dense",))
    assert recipe["keep_float"]["layers"] == ["dense"]
    nodes = onnx.load_from_string(payload).graph.node
    dense = [n for n in nodes if n.op_type in ("Gemm", "MatMul")]  # pre-processing fused MatMul and Add
    assert dense and not any(n.op_type in ("MatMulInteger", "DynamicQuantizeLinear") for n in nodes)
    floats = {t.name for t in onnx.load_from_string(payload).graph.initializer if t.data_type == TensorProto.FLOAT}
    assert dense[0].input[1] in floats  # its weights stay float32


def test_a_dynamic_file_with_its_only_dense_layer_kept_float_is_unavailable(tmp_path):
    from edgekit.core.errors import Unavailable

    with pytest.raises(Unavailable, match="keep_float leaves every MatMul, Gemm, attention and LSTM op in float"):
        onnx_convert.quantize(_tf2onnx_like(tmp_path / "m.onnx"), "int8-dynamic", {}, keep_float=("dense",))
