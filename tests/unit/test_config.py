import json

import pytest

from edgekit.config import ONNX_VARIANTS, TFLITE_VARIANTS, ConvertConfig
from edgekit.errors import EdgekitError


def test_defaults_are_every_variant():
    config = ConvertConfig()
    assert config.tflite == list(TFLITE_VARIANTS) and config.onnx == list(ONNX_VARIANTS)


def test_comma_lists_all_and_none():
    config = ConvertConfig(tflite="int8, fp16,int8", onnx="none")
    assert config.tflite == ["int8", "fp16"] and config.onnx == []
    assert ConvertConfig(onnx="all").onnx == list(ONNX_VARIANTS)


@pytest.mark.parametrize("kwargs, message", [
    ({"tflite": "int4"}, "unknown variant int4"),
    ({"onnx": "fp8"}, "unknown variant fp8"),
    ({"tflite": "none", "onnx": "none"}, "no variants requested"),
    ({"opset": 19}, "out of range"),
    ({"opset": 12}, "out of range"),
    ({"io": "uint8"}, "--io"),
    ({"max_calib_samples": 0}, "positive integer"),
    ({"image_range": "0,2"}, "--image-range"),
    ({"prune": 0}, "between 0 and 1"),
    ({"prune": 1.0}, "between 0 and 1"),
    ({"prune_structure": "2-4"}, "M:N"),
    ({"prune_structure": "0:4"}, "M:N"),
    ({"cluster": 300}, "2 to 256"),
    ({"fine_tune_epochs": 0}, "at least 1"),
    ({"tflite": "int8-qat"}, "add --qat"),
])
def test_invalid_values_are_clear_errors(kwargs, message):
    with pytest.raises(EdgekitError, match=message):
        ConvertConfig(**kwargs)


def test_file_round_trip_and_errors(tmp_path):
    config = ConvertConfig(tflite="int8", onnx="fp32", opset=18)
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config.to_dict()))
    assert ConvertConfig.from_file(path) == config
    path.write_text('{"tflite": ["int8"], "colour": "red"}')
    with pytest.raises(EdgekitError, match="unknown config key"):
        ConvertConfig.from_file(path)
    path.write_text("{not json")
    with pytest.raises(EdgekitError, match="not readable JSON"):
        ConvertConfig.from_file(path)
    with pytest.raises(EdgekitError, match="does not exist"):
        ConvertConfig.from_file(tmp_path / "missing.json")


def test_qat_adds_its_variant_and_structure_alone_means_pruning():
    config = ConvertConfig(qat=True, tflite="int8")
    assert config.tflite == ["int8", "int8-qat"] and config.optimizes
    assert ConvertConfig(prune_structure="2:4").optimizes and not ConvertConfig().optimizes
    assert "int8-qat" not in ConvertConfig(tflite="all").tflite
    again = ConvertConfig.from_dict(config.to_dict())  # a dumped config reproduces the run
    assert again.tflite == ["int8", "int8-qat"]
