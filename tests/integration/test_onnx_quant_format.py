"""The int8-static ONNX of a zoo model carries the format chosen for this CPU in its graph and
its manifest recipe; --onnx-quant-format overrides it (issue 31)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from edgekit import zoo
from edgekit.converters import onnx as onnx_convert
from tests.conftest import run_cli


def activation_zero_point_types(path) -> set[str]:
    """The element types of the zero points of every QuantizeLinear in the graph: the activations'."""
    model = onnx.load(str(path))
    constants = {t.name: t for t in model.graph.initializer}
    found = {constants[node.input[2]].data_type for node in model.graph.node
             if node.op_type == "QuantizeLinear" and len(node.input) > 2 and node.input[2] in constants}
    return {onnx.TensorProto.DataType.Name(t) for t in found}


@pytest.mark.slow
def test_int8_static_onnx_takes_the_cpus_format_and_the_override(tmp_path):
    code, _, stderr = run_cli("convert", "digits_cnn", "--tflite", "none", "--onnx", "fp32,int8-static",
                              "--max-calib-samples", "32", "--no-bench", "--out", tmp_path)
    assert code == 0, stderr
    folder = tmp_path / "digits_cnn"
    chosen = onnx_convert.quant_format_for()
    expected = chosen["quant_format"].lower()
    recipe = {a["path"]: a for a in json.loads((folder / "manifest.json").read_text())["artifacts"]}[
        "digits_cnn_int8-static.onnx"]["recipe"]
    assert {key: recipe[key] for key in chosen} == chosen
    assert activation_zero_point_types(folder / "digits_cnn_int8-static.onnx") == (
        {"UINT8"} if expected == "u8s8" else {"INT8"})

    calibration = {"image": np.load(zoo.calibration_path("digits_cnn"))["image"][:8]}
    other = "s8s8" if expected == "u8s8" else "u8s8"
    payload, recipe = onnx_convert.quantize(folder / "digits_cnn_fp32.onnx", "int8-static", calibration,
                                            quant_format=other)
    (tmp_path / "other.onnx").write_bytes(payload)
    assert recipe["activation_type"] == onnx_convert.QUANT_FORMATS[other][0]
    assert recipe["quant_format_why"] == f"chosen with onnx_quant_format={other}"
    assert activation_zero_point_types(tmp_path / "other.onnx") == ({"UINT8"} if other == "u8s8" else {"INT8"})


@pytest.mark.slow
def test_a_file_for_tensorrt_has_symmetric_int8_activations_and_one_for_qnn_uint8_weights(tmp_path):
    from tests.shaped_models import free_hw_onnx

    model = free_hw_onnx(tmp_path / "conv.onnx")
    calibration = {"input": np.random.default_rng(0).random((8, 3, 8, 8), dtype=np.float32)}
    payload, recipe = onnx_convert.quantize(model, "int8-static", calibration, quant_format="tensorrt")
    (tmp_path / "trt.onnx").write_bytes(payload)
    assert recipe["quant_format"] == "S8S8-SYMMETRIC" and recipe["quant_format_why"].startswith(
        "for tensorrt, onnx_quant_format=tensorrt: TensorRT")
    graph = onnx.load(str(tmp_path / "trt.onnx")).graph
    constants = {t.name: onnx.numpy_helper.to_array(t) for t in graph.initializer}
    zero_points = [constants[n.input[2]] for n in graph.node if n.op_type == "QuantizeLinear" and n.input[2] in constants]
    assert zero_points and all(z.dtype == np.int8 and not z.any() for z in zero_points)

    payload, recipe = onnx_convert.quantize(model, "int8-static", calibration, quant_format="qnn")
    (tmp_path / "qnn.onnx").write_bytes(payload)
    assert (recipe["activation_type"], recipe["weight_type"], recipe["reduce_range"]) == ("QUInt8", "QUInt8", False)
    assert activation_zero_point_types(tmp_path / "qnn.onnx") == {"UINT8"}
