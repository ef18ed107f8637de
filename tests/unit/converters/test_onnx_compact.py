"""A quantized ONNX file is written without what only makes it bigger (issue 34, item 4): the names
the quantizer derives from tf2onnx's long ones, and pre-processing's shape annotations. An audio
model's int8-static file was 390 KB against 221 KB fp32, 40 KB of it weights."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

from edgekit.converters import onnx as onnx_convert
from tests.shaped_models import _save

LONG = "StatefulPartitionedCall/StatefulPartitionedCall/model_1/a_layer_with_a_long_name_{}/Conv2D:0"


def _long_named(path):
    """input [N, 3, 8, 8] -> three 3x3 convolutions with ReLU, every tensor named as tf2onnx names them."""
    rng = np.random.default_rng(0)
    weights, nodes, previous = [], [], "input"
    for i in range(3):
        weights.append(numpy_helper.from_array(rng.normal(size=(3, 3, 3, 3)).astype(np.float32) * 0.3, LONG.format(f"w{i}")))
        nodes += [helper.make_node("Conv", [previous, LONG.format(f"w{i}")], [LONG.format(f"conv{i}")], pads=[1, 1, 1, 1],
                                   name=LONG.format(f"node{i}")),
                  helper.make_node("Relu", [LONG.format(f"conv{i}")], [LONG.format(f"relu{i}") if i < 2 else "output"],
                                   name=LONG.format(f"relu_node{i}"))]
        previous = LONG.format(f"relu{i}")
    graph = helper.make_graph(nodes, "long", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 8, 8])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3, 8, 8])], weights)
    return _save(graph, path)


def test_the_quantized_file_is_smaller_computes_the_same_and_keeps_every_fp32_name(tmp_path):
    fp32 = _long_named(tmp_path / "m.onnx")
    calibration = np.random.default_rng(1).random((8, 3, 8, 8), dtype=np.float32)

    class Reader:
        def __init__(self):
            self.samples = iter(calibration[i:i + 1] for i in range(len(calibration)))

        def get_next(self):
            sample = next(self.samples, None)
            return None if sample is None else {"input": sample}

    bare = tmp_path / "bare.onnx"
    quantize_static(str(fp32), str(bare), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    compacted = tmp_path / "compacted.onnx"
    compacted.write_bytes(bare.read_bytes())
    onnx_convert.compact(compacted, fp32)

    assert compacted.stat().st_size < 0.6 * bare.stat().st_size
    onnx.checker.check_model(str(compacted), full_check=True)
    x = {"input": calibration[:2]}
    assert np.array_equal(ort.InferenceSession(str(bare)).run(None, x)[0],
                          ort.InferenceSession(str(compacted)).run(None, x)[0])
    def names(graph) -> set[str]:
        return {name for node in graph.node for name in (*node.input, *node.output)} | {t.name for t in graph.initializer}

    graph, before, source = (onnx.load(str(path)).graph for path in (compacted, bare, fp32))
    # the fp32 graph's names the quantizer kept stay, and its nodes are still found by name
    assert names(source) & names(before) <= names(graph) and len(names(source) & names(graph)) >= 4
    assert {n.name for n in source.node} & {n.name for n in before.node} <= {n.name for n in graph.node}
    assert not graph.value_info
    assert max(map(len, names(graph) - names(source))) < 8  # the quantizer's own names are short
