"""The results schema: a round trip, upgrading version 1, and clear errors for what it cannot read."""

from __future__ import annotations

import json

import pytest

from edgekit.errors import EdgekitError
from edgekit.report import schema
from tests.results_sample import sample_results


def test_round_trip(tmp_path):
    results = sample_results()
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    assert schema.read(path) == results
    assert schema.read(tmp_path) == results  # a folder holding results.json


def test_version_1_is_upgraded():
    v1 = sample_results()
    v1["schema_version"] = 1
    model = v1["models"][0]
    del model["artifacts"]
    model["reference"] = {"path": "models/m/model.keras", "sha256": "0" * 64}
    upgraded = schema.parse(v1)
    assert upgraded["schema_version"] == schema.SCHEMA_VERSION
    model = upgraded["models"][0]
    assert model["reference"]["artifact"] == "model.keras" and model["reference"]["size_bytes"] == 80000
    assert [(a["name"], a["size_bytes"]) for a in model["artifacts"]] == [
        ("model.keras", 80000), ("digits_cnn_fp32.tflite", 60000), ("digits_cnn_int8.tflite", 20000)]


@pytest.mark.parametrize("text, message", [
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "is not an edgekit results file"),
    ('{"kind": "edgekit-bench", "schema_version": "2"}', "no integer schema_version"),
    ('{"kind": "edgekit-bench", "schema_version": 0, "models": []}', "which no edgekit wrote"),
    ('{"kind": "edgekit-bench", "schema_version": 99, "models": []}', "newer than this edgekit reads (up to 2): upgrade edgekit"),
])
def test_unreadable_files_get_one_clear_line(tmp_path, text, message):
    path = tmp_path / "results.json"
    path.write_text(text)
    with pytest.raises(EdgekitError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        schema.read(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_a_damaged_record_is_named():
    results = sample_results()
    del results["models"][0]["records"][2]["latency_us"]["p50"]
    with pytest.raises(EdgekitError, match=r"models\[0\]\.records\[2\]\.latency_us\.p50 is missing"):
        schema.parse(results)
    results = sample_results()
    results["models"][0]["records"][0]["status"] = "great"
    with pytest.raises(EdgekitError, match="status is 'great'"):
        schema.parse(results)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(EdgekitError, match="is not a file"):
        schema.read(tmp_path / "nothing.json")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(EdgekitError, match="not a text file|not valid JSON"):
        schema.read(tmp_path / "binary.json")
