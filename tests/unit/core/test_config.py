import dataclasses
import json
import os
import re

import pytest

from edgekit.core.config import MAX_CONFIG_BYTES, ONNX_VARIANTS, TFLITE_VARIANTS, ConvertConfig
from edgekit.core.errors import EdgekitError


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
    ({"io": "uint8"}, "io='uint8' is not one of"),  # from Python: the parameter, not --io
    ({"max_calib_samples": 0}, "positive integer"),
    ({"image_range": "0,2"}, "image_range='0,2'"),
    ({"prune": 0}, "between 0 and 1"),
    ({"prune": 1.0}, "between 0 and 1"),
    ({"prune_structure": "2-4"}, "M:N"),
    ({"prune_structure": "0:4"}, "M:N"),
    ({"cluster": 300}, "2 to 256"),
    ({"fine_tune_epochs": 0}, "at least 1"),
    ({"tflite": "int8-qat"}, "add qat=True"),
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


WRONG_VALUES = [True, 5, 2.5, -1, [1], ["int8"], "x", {}, None, float("nan")]


@pytest.mark.parametrize("key", [f.name for f in dataclasses.fields(ConvertConfig)])
def test_any_value_of_any_key_in_a_config_file_is_read_or_refused_in_one_line(tmp_path, key):
    """Every key with every JSON type: a config or one line naming the file (and the key when
    its type is wrong), never another exception (an exit 70)."""
    path = tmp_path / "c.json"
    refused = 0
    for value in WRONG_VALUES:
        path.write_text(json.dumps({key: value}))
        try:
            ConvertConfig.from_file(path)
        except EdgekitError as exc:
            refused += 1
            assert "\n" not in str(exc) and str(path) in str(exc)
            assert f'"{key}"' in str(exc) or key in str(exc), str(exc)
    assert refused >= 5  # each key takes one or two JSON types of the ten


@pytest.mark.parametrize("text, message", [
    ('{"tflite": 5}', '"tflite" is 5, not a list of strings or a string'),
    ('{"opset": true}', '"opset" is true, not an integer'),
    ('{"opset": 17.0}', '"opset" is 17.0, not an integer'),
    ('{"trust_model_code": "yes"}', '"trust_model_code" is "yes", not true or false'),
    ('{"prune": NaN}', '"prune" is NaN, not a number or null'),
    ('{"image_range": [0, 1]}', '"image_range" is a list, not a string'),
    ('{"keep_float": ["a", 1]}', '"keep_float" is a list, not a list of strings or a string'),
    ('{"model": "a\\u0000b"}', '"model" holds a NUL character'),
    ('{"tflite": ' + "[" * 100_000 + "]" * 100_000 + "}", "nests deeper than any config"),
    ('{"opset": 1' + "0" * 5000 + "}", "is not readable JSON"),
    ("[]", "must hold a JSON object"),
])
def test_config_file_errors_name_the_key(tmp_path, text, message):
    path = tmp_path / "c.json"
    path.write_text(text)
    with pytest.raises(EdgekitError, match=re.escape(message)) as caught:
        ConvertConfig.from_file(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_a_config_that_is_not_a_regular_file_is_refused_before_reading(tmp_path):
    fifo = tmp_path / "config.json"
    os.mkfifo(fifo)  # reading it would wait for a writer for ever
    with pytest.raises(EdgekitError, match="is not a regular file"):
        ConvertConfig.from_file(fifo)
    with pytest.raises(EdgekitError, match="is a folder"):
        ConvertConfig.from_file(tmp_path)
    big = tmp_path / "big.json"
    big.write_text(" " * (MAX_CONFIG_BYTES + 1) + "{}")
    with pytest.raises(EdgekitError, match="far more than a config"):
        ConvertConfig.from_file(big)


@pytest.mark.parametrize("bad", [0, -3, float("nan"), float("inf"), 1e9, True, "20"])
def test_min_sqnr_must_be_a_positive_number_of_db(bad):
    with pytest.raises(EdgekitError, match="min_sqnr"):
        ConvertConfig.from_dict({"min_sqnr": bad})
    assert ConvertConfig(min_sqnr=20).min_sqnr == 20
