"""onnxruntime's per-op profile: the parser on captured real profiles (tests/data/onnxruntime), the
placement read from the providers of the nodes, and the real profiler on a small graph, whose op
types are those of the graph ORT runs after its fusions."""

import json
import statistics
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgekit.core.errors import BackendUnavailable
from edgekit.runtimes import RUNTIMES
from edgekit.runtimes.onnxruntime import parse_profile, placement

DATA = Path(__file__).resolve().parents[2] / "data" / "onnxruntime"
CUDA = "CUDAExecutionProvider"
FEED = {"x": np.random.default_rng(0).random((1, 1, 8, 8), dtype=np.float32)}


def tiny_graph(path: Path) -> Path:
    """Conv, Relu, MaxPool, Reshape, MatMul, Softmax: the graph tests/data/onnxruntime was captured on."""
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.standard_normal((4, 1, 3, 3)).astype(np.float32), "W"),
               numpy_helper.from_array(np.zeros(4, np.float32), "B"),
               numpy_helper.from_array(rng.standard_normal((64, 5)).astype(np.float32), "W2"),
               numpy_helper.from_array(np.array([1, 64], np.int64), "shape")]
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Reshape", ["p", "shape"], ["f"], name="flat"),
             helper.make_node("MatMul", ["f", "W2"], ["m"], name="dense"),
             helper.make_node("Softmax", ["m"], ["y"], name="softmax")]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def int8_qdq(path: Path, out: Path) -> Path:
    """The graph quantized to int8 in QDQ format, as onnxruntime's quantizer writes it."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Samples(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(1)
            self.samples = iter([{"x": rng.random((1, 1, 8, 8), dtype=np.float32)} for _ in range(4)])

        def get_next(self):
            return next(self.samples, None)

    quantize_static(path, out, Samples(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8)
    return out


def captured(name: str) -> list[dict]:
    return json.loads((DATA / name).read_text())


def test_the_captured_profile_gives_each_fused_node_its_mean_over_the_runs_after_the_warm_up():
    ops = parse_profile(captured("cpu_profile.json"), runs=2)
    assert [(op["name"], op["type"]) for op in ops] == [
        ("r_nchwc", "Conv"), ("ReorderOutput", "ReorderOutput"), ("pool", "MaxPool"), ("flat", "Reshape"),
        ("dense", "MatMul"), ("softmax", "Softmax")]
    assert [op["index"] for op in ops] == list(range(6))
    assert {op["executor"] for op in ops} == {"CPUExecutionProvider"}
    assert ops[0]["us"] == (37 + 19) / 2  # the warm-up call's 227 µs is not in it
    assert placement(ops, "CPUExecutionProvider") == {"partitions": 0, "fully_delegated": None, "left_on_cpu": []}


def test_a_profile_of_other_calls_than_asked_for_is_refused_with_the_reason():
    with pytest.raises(BackendUnavailable, match="3 model_run events for 6 calls"):
        parse_profile(captured("cpu_profile.json"), runs=5)


def test_placement_counts_the_accelerators_partitions_and_names_the_ops_left_on_the_cpu():
    """An edited copy of the captured profile (no GPU here): every node on CUDA but the Reshape."""
    ops = parse_profile(captured("cuda_edited_profile.json"), runs=2)
    found = placement(ops, CUDA)
    assert found["partitions"] == 2 and found["fully_delegated"] is False
    assert found["left_on_cpu"] == [{
        "index": 3, "name": "flat", "type": "Reshape",
        "reason": "onnxruntime placed it on CPUExecutionProvider: CUDAExecutionProvider did not claim it"}]
    on_cuda = [{**op, "executor": CUDA} for op in ops]
    assert placement(on_cuda, CUDA) == {"partitions": 1, "fully_delegated": True, "left_on_cpu": []}
    on_cpu = parse_profile(captured("cpu_profile.json"), runs=2)
    assert placement(on_cpu, CUDA)["partitions"] == 0 and len(placement(on_cpu, CUDA)["left_on_cpu"]) == 6


def optimized_op_types(path: Path, out: Path, level) -> list[str]:
    """The op types of the graph onnxruntime runs, as it writes it out at optimization `level`."""
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = level
    options.optimized_model_filepath = str(out)
    onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return sorted(node.op_type for node in onnx.load(out).graph.node)


@pytest.mark.parametrize("variant", ["fp32", "int8-qdq"])
def test_the_profile_has_the_op_types_of_the_optimized_graph_and_writes_nowhere_else(variant, tmp_path,
                                                                                     monkeypatch):
    models = tmp_path / "models"
    models.mkdir()
    path = tiny_graph(models / "tiny.onnx")
    if variant == "int8-qdq":
        path = int8_qdq(path, models / "tiny_int8.onnx")
    before = sorted(models.iterdir())
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # onnxruntime writes its profile into the working folder without a prefix

    found = RUNTIMES["onnxruntime"].profile(path, FEED, runs=3, threads=1)

    assert sorted(models.iterdir()) == before and not any(work.iterdir())
    assert found["method"] == "profiler" and found["runs"] == 3
    types = sorted(op["type"] for op in found["ops"])
    assert types == optimized_op_types(path, tmp_path / "optimized.onnx", onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL)
    if variant == "int8-qdq":  # DequantizeLinear -> Conv -> QuantizeLinear runs as one integer kernel
        assert "QLinearConv" in types and "Conv" not in types
    assert sum(op["us"] for op in found["ops"]) > 0
    assert found["partitions"] == 0 and found["fully_delegated"] is None and found["left_on_cpu"] == []


def test_without_optimizations_the_profiled_op_types_are_the_files_own(tmp_path):
    path = tiny_graph(tmp_path / "tiny.onnx")
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.enable_profiling = True
    options.profile_file_prefix = str(tmp_path / "profile")
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    for _ in range(3):
        session.run(None, FEED)
    ops = parse_profile(json.loads(Path(session.end_profiling()).read_text()), runs=2)
    assert [op["type"] for op in ops] == [node.op_type for node in onnx.load(path).graph.node]
    assert [op["name"] for op in ops] == ["conv", "relu", "pool", "flat", "dense", "softmax"]


def if_graph(path: Path) -> Path:
    """ReduceSum, Greater, then an If whose branches hold one node each (Add when the sum is > 0)."""
    out = helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 4])
    then = helper.make_graph([helper.make_node("Add", ["x", "x"], ["b"], name="twice")], "then", [], [out])
    otherwise = helper.make_graph([helper.make_node("Mul", ["x", "x"], ["b"], name="square")], "else", [], [out])
    nodes = [helper.make_node("ReduceSum", ["x"], ["s"], name="sum", keepdims=0),
             helper.make_node("Greater", ["s", "zero"], ["c"], name="positive"),
             helper.make_node("If", ["c"], ["y"], name="branch", then_branch=then, else_branch=otherwise)]
    graph = helper.make_graph(nodes, "if", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def test_a_subgraphs_nodes_are_ops_of_their_own_and_not_counted_twice_in_their_if(tmp_path):
    options = onnxruntime.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = str(tmp_path / "profile")
    session = onnxruntime.InferenceSession(str(if_graph(tmp_path / "if.onnx")), options,
                                           providers=["CPUExecutionProvider"])
    for _ in range(4):
        session.run(None, {"x": np.ones((1, 4), np.float32)})
    events = json.loads(Path(session.end_profiling()).read_text())
    ops = parse_profile(events, runs=3)
    assert [(op["name"], op["type"]) for op in ops] == [
        ("sum", "ReduceSum"), ("positive", "Greater"), ("branch", "If"), ("twice", "Add")]
    # each op is its median over the 3 calls after the warm-up; the If's event spans its branch's
    calls = sorted((e for e in events if e["name"] == "model_run"), key=lambda e: e["ts"])

    def durations(name):
        return [e["dur"] for e in events if e["ts"] >= calls[1]["ts"] and e["name"] == f"{name}_kernel_time"]

    assert ops[0]["us"] == statistics.median(durations("sum"))
    assert ops[3]["us"] == statistics.median(durations("twice"))
    assert 0 <= ops[2]["us"] <= statistics.median(durations("branch")) - min(durations("twice")) + 1
