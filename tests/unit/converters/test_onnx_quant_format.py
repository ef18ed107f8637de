"""int8-static ONNX's activation/weight types by where the file will run (issue 31): U8S8 for
onnxruntime's CPU provider on x86-64, S8S8 on ARM64, as its quantization guide says."""

from __future__ import annotations

import pytest

from edgekit.converters import onnx as onnx_convert
from edgekit.core.config import ONNX_QUANT_FORMATS, ConvertConfig
from edgekit.core.errors import EdgekitError


@pytest.mark.parametrize(("machine", "expected"), [("x86_64", "u8s8"), ("AMD64", "u8s8"), ("aarch64", "s8s8"),
                                                   ("arm64", "s8s8")])
def test_each_cpu_gets_the_format_its_onnxruntime_kernels_want(machine, expected):
    name, why = onnx_convert.quant_format_for(None, machine)
    assert name == expected
    assert why == onnx_convert.QUANT_FORMATS[expected][2]
    assert ("x86-64" if expected == "u8s8" else "ARM64") in why and "quantization guide" in why


def test_the_choice_overrides_the_cpu_and_an_unknown_cpu_is_said_so():
    assert onnx_convert.quant_format_for("s8s8", "x86_64") == ("s8s8", "chosen with onnx_quant_format=s8s8")
    name, why = onnx_convert.quant_format_for(None, "riscv64")
    assert name == "u8s8" and why.startswith("no default for riscv64; ")


def test_the_table_gives_activation_and_weight_types_for_every_format_the_config_takes():
    assert set(onnx_convert.QUANT_FORMATS) == set(ONNX_QUANT_FORMATS)
    assert set(onnx_convert.DEFAULT_QUANT_FORMAT.values()) <= set(ONNX_QUANT_FORMATS)
    assert onnx_convert.QUANT_FORMATS["u8s8"][:2] == ("QUInt8", "QInt8")
    assert onnx_convert.QUANT_FORMATS["s8s8"][:2] == ("QInt8", "QInt8")


def test_the_config_takes_a_known_format_and_names_a_wrong_one():
    assert ConvertConfig(onnx_quant_format="s8s8").onnx_quant_format == "s8s8"
    assert ConvertConfig().onnx_quant_format is None  # the CPU's default
    with pytest.raises(EdgekitError, match=r"onnx_quant_format='u8u8' is not one of u8s8, s8s8"):
        ConvertConfig.from_dict({"onnx_quant_format": "u8u8"})
