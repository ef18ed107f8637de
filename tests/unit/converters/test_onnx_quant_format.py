"""int8-static ONNX's activation/weight types by where the file will run (issue 31): U8S8 for
onnxruntime's CPU provider on x86-64, S8S8 on ARM64, as its quantization guide says."""

from __future__ import annotations

import pytest

from edgekit.converters import onnx as onnx_convert
from edgekit.core.config import ONNX_QUANT_FORMATS, ONNX_QUANT_TARGETS, ConvertConfig
from edgekit.core.errors import EdgekitError


@pytest.mark.parametrize(("machine", "expected"), [("x86_64", "u8s8"), ("AMD64", "u8s8"), ("aarch64", "s8s8"),
                                                   ("arm64", "s8s8")])
def test_each_cpu_gets_the_format_its_onnxruntime_kernels_want(machine, expected):
    chosen = onnx_convert.quant_format_for(None, machine)
    assert chosen["quant_format"] == expected.upper()
    assert ("x86-64" if expected == "u8s8" else "ARM64") in chosen["quant_format_why"]
    assert "quantization guide" in chosen["quant_format_why"]
    assert chosen["reduce_range"] == (expected == "u8s8")  # 7-bit weights for x86's int8 kernels only


def test_the_choice_overrides_the_cpu_and_an_unknown_cpu_is_said_so():
    chosen = onnx_convert.quant_format_for("s8s8", "x86_64")
    assert (chosen["quant_format"], chosen["quant_format_why"]) == ("S8S8", "chosen with onnx_quant_format=s8s8")
    unknown = onnx_convert.quant_format_for(None, "riscv64")
    assert unknown["quant_format"] == "U8S8" and unknown["quant_format_why"].startswith("no default for riscv64; ")


@pytest.mark.parametrize(("where", "types"), [("aarch64", ("QInt8", "QInt8", False)),
                                             ("openvino", ("QUInt8", "QInt8", False)),
                                             ("qnn", ("QUInt8", "QUInt8", False)),
                                             ("tensorrt", ("QInt8", "QInt8", True))])
def test_a_file_for_a_named_board_or_provider_takes_its_types_not_this_cpu_s(where, types):
    chosen = onnx_convert.quant_format_for(where, "x86_64")
    assert (chosen["activation_type"], chosen["weight_type"], chosen["activation_symmetric"]) == types
    assert chosen["quant_format_why"].startswith(f"for {where}, onnx_quant_format={where}: ")
    assert not chosen["reduce_range"]


def test_the_tables_give_types_for_every_name_the_config_takes():
    assert set(onnx_convert.QUANT_FORMATS) == set(ONNX_QUANT_FORMATS)
    assert set(onnx_convert.QUANT_TARGETS) == set(ONNX_QUANT_TARGETS)
    assert {name for name, _ in onnx_convert.QUANT_TARGETS.values()} <= set(ONNX_QUANT_FORMATS)
    assert onnx_convert.QUANT_FORMATS["u8s8"][:2] == ("QUInt8", "QInt8")
    assert onnx_convert.QUANT_FORMATS["s8s8"][:2] == ("QInt8", "QInt8")


def test_the_config_takes_a_known_format_or_place_and_names_a_wrong_one():
    assert ConvertConfig(onnx_quant_format="s8s8").onnx_quant_format == "s8s8"
    assert ConvertConfig(onnx_quant_format="tensorrt").onnx_quant_format == "tensorrt"
    assert ConvertConfig().onnx_quant_format is None  # the CPU's default
    with pytest.raises(EdgekitError, match=r"onnx_quant_format='u4s4' is neither a format \(u8s8, s8s8, u8u8, "
                                           r"s8s8-symmetric\) nor where the file will run \(x86_64, aarch64"):
        ConvertConfig.from_dict({"onnx_quant_format": "u4s4"})
