"""Small ONNX models with the input signatures of models from the wild (issue 30), built here:
an image model with free height and width, and a voice-activity detector's (audio frames, a
recurrent state whose batch is its second axis, an int64 sample-rate scalar)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

OPSET = 17


def _save(graph, path: Path) -> Path:
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8  # what onnxruntime of this workplace reads
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def free_hw_onnx(path: Path) -> Path:
    """input [N, 3, H, W] -> a 3x3 convolution with 4 channels -> global average pool -> [N, 4]."""
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(np.random.default_rng(0).normal(size=(4, 3, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["input", "w"], ["conv"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["conv"], ["relu"]),
             helper.make_node("GlobalAveragePool", ["relu"], ["pool"]),
             helper.make_node("Flatten", ["pool"], ["output"])]
    graph = helper.make_graph(
        nodes, "free_hw", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 4])], [weights])
    return _save(graph, path)


def vad_like_onnx(path: Path) -> Path:
    """input [N, T] float, state [2, N, 128] float, sr int64 scalar -> output [N, 1] and stateN
    [2, N, 128]; the state's N must be the input's (they are added), and sr is used."""
    from onnx import TensorProto, helper, numpy_helper

    consts = [numpy_helper.from_array(np.array([1], np.int64), "one"),
              numpy_helper.from_array(np.array([0], np.int64), "zero"),
              numpy_helper.from_array(np.array(1e-5, np.float32), "per_hz")]
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["level"], axes=[1], keepdims=1),  # [N, 1]
        helper.make_node("ReduceMean", ["state"], ["memory"], axes=[0, 2], keepdims=0),  # [N]
        helper.make_node("Unsqueeze", ["memory", "one"], ["memory2"]),  # [N, 1]
        helper.make_node("Cast", ["sr"], ["srf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["srf", "per_hz"], ["rate"]),
        helper.make_node("Add", ["level", "memory2"], ["sum"]),
        helper.make_node("Add", ["sum", "rate"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["output"]),
        helper.make_node("Unsqueeze", ["level", "zero"], ["level3"]),  # [1, N, 1]
        helper.make_node("Add", ["state", "level3"], ["stateN"]),  # [2, N, 128]
    ]
    graph = helper.make_graph(
        nodes, "vad_like",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", "T"]),
         helper.make_tensor_value_info("state", TensorProto.FLOAT, [2, "N", 128]),
         helper.make_tensor_value_info("sr", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 1]),
         helper.make_tensor_value_info("stateN", TensorProto.FLOAT, [2, "N", 128])], consts)
    return _save(graph, path)


def token_ids_onnx(path: Path, vocabulary: int = 10) -> Path:
    """ids [N, 6] int32 -> Gather from a (vocabulary, 4) table -> mean -> [N, 4]: an id outside
    [0, vocabulary) fails in onnxruntime, so random ids that run are in range."""
    from onnx import TensorProto, helper, numpy_helper

    table = numpy_helper.from_array(np.arange(vocabulary * 4, dtype=np.float32).reshape(vocabulary, 4), "table")
    nodes = [helper.make_node("Gather", ["table", "ids"], ["vectors"], axis=0),
             helper.make_node("ReduceMean", ["vectors"], ["output"], axes=[1], keepdims=0)]
    graph = helper.make_graph(
        nodes, "token_ids", [helper.make_tensor_value_info("ids", TensorProto.INT32, ["N", 6])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 4])], [table])
    return _save(graph, path)
