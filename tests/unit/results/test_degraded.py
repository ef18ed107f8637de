"""Without a task metric the recommendation is the fastest file whose fidelity was judged and not
degraded, never a degraded one; the verdict reads back through the schema and the table says
which files are degraded (issue 34)."""

from __future__ import annotations

import json

import pytest

from edgekit.core.errors import EdgekitError
from edgekit.render.table import bench_table
from edgekit.results import schema, summary
from tests.results_sample import record
from tests.unit.results.test_report_summary import model_with

FINE = {"degraded": False, "outputs": {}, "min_sqnr_db": 20.0, "min_top1_agreement": 0.98, "by": "the int8 threshold"}
DEGRADED = {**FINE, "degraded": True, "outputs": {"probs": "SQNR 12.0 dB is below 20 dB"}}


def unlabelled(*records) -> tuple[dict, dict]:
    results, model = model_with(*records)
    model["data"].update(metric=None, labelled=False, float_score=None, source="the calibration samples held out")
    for r in model["records"]:
        if r["status"] == "ok":
            r["accuracy"] = None
    return results, model


def judged(r: dict, verdict: dict | None) -> dict:
    if verdict is not None:
        r["quality"] = verdict
    return r


def test_without_labels_the_fastest_file_not_degraded_is_recommended():
    results, model = unlabelled(
        judged(record("m_fp32.tflite", "tflite", "fp32", "litert:xnnpack", 1, 60000, 100.0, 0), FINE),
        judged(record("m_int8.tflite", "tflite", "int8", "litert:xnnpack", 1, 20000, 40.0, 0), DEGRADED),
        judged(record("m_dynamic.tflite", "tflite", "dynamic", "litert:xnnpack", 1, 30000, 60.0, 0), FINE),
        judged(record("m_fp16.tflite", "tflite", "fp16", "litert:xnnpack", 1, 30000, 50.0, 0), None))  # not judged
    found = summary.recommend(model)
    assert found.row.record["artifact"] == "m_dynamic.tflite"
    assert found.line().startswith("recommended: m_dynamic.tflite on litert:xnnpack x1, the fastest file not degraded "
                                   "against the float model (no labels, so judged by fidelity, not accuracy)")
    table = bench_table(model)
    assert "m_int8.tflite degraded (below the quality threshold): output probs: SQNR 12.0 dB is below 20 dB" in table
    assert schema.parse(json.loads(schema.to_text(results)))["models"][0]["records"][2]["quality"] == DEGRADED
    model["records"][2]["quality"] = {"degraded": "yes"}
    with pytest.raises(EdgekitError, match=r"records\[2\]\.quality\.degraded is a string"):
        schema.parse(results)


def test_without_labels_and_with_every_file_degraded_there_is_no_recommendation():
    _, model = unlabelled(
        judged(record("m_int8.tflite", "tflite", "int8", "litert:xnnpack", 1, 20000, 40.0, 0), DEGRADED))
    found = summary.recommend(model)
    assert found.row is None and "no file's fidelity was judged fine" in found.line()


def test_with_labels_the_task_metric_decides_even_for_a_degraded_file():
    _, model = model_with(
        judged(record("m_fp32.tflite", "tflite", "fp32", "litert:xnnpack", 1, 60000, 100.0, 0.98), FINE),
        judged(record("m_int8.tflite", "tflite", "int8", "litert:xnnpack", 1, 20000, 40.0, 0.979), DEGRADED))
    assert summary.recommend(model).row.record["artifact"] == "m_int8.tflite"
