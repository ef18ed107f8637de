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
    expected, why = onnx_convert.quant_format_for()
    recipe = {a["path"]: a for a in json.loads((folder / "manifest.json").read_text())["artifacts"]}[
        "digits_cnn_int8-static.onnx"]["recipe"]
    assert recipe["quant_format"] == expected.upper() and recipe["quant_format_why"] == why
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
