"""A reduced-precision file slower than its float sibling on the same target is flagged in the
results, the terminal and markdown tables, and is never recommended over that sibling (issue 31)."""

from __future__ import annotations

import json

import pytest

from edgekit.core.errors import EdgekitError
from edgekit.render import markdown
from edgekit.render.table import bench_table
from edgekit.results import schema, summary
from tests.results_sample import record
from tests.unit.results.test_report_summary import model_with


def test_an_int8_onnx_slower_than_its_fp32_sibling_is_flagged_in_the_results_and_tables():
    results, model = model_with(
        record("m_fp32.onnx", "onnx", "fp32", "onnxruntime:cpu", 1, 60000, 100.0, 0.98, robust_cv=0.01),
        record("m_int8-static.onnx", "onnx", "int8-static", "onnxruntime:cpu", 1, 20000, 124.0, 0.98,
               robust_cv=0.01),
        record("m_fp32.tflite", "tflite", "fp32", "litert:xnnpack", 1, 60000, 100.0, 0.98),
        record("m_int8.tflite", "tflite", "int8", "litert:xnnpack", 1, 20000, 40.0, 0.975),  # faster: no flag
        # slower, but within the noise its 20% spread leaves: no flag
        record("m_fp16.tflite", "tflite", "fp16", "litert:xnnpack", 1, 30000, 104.0, 0.98, robust_cv=0.2))
    flags = summary.slower_than_float(model)
    assert {model["records"][i]["artifact"]: flag for i, flag in flags.items()} == {
        "m_int8-static.onnx": {"than": "fp32", "ratio": 1.24}}
    line = "onnx int8-static is 1.24x slower than onnx fp32 on onnxruntime:cpu x1: prefer the float file there"
    assert line in bench_table(model) and line in markdown.render(results)
    # the field bench writes on the record reads back through the schema; a damaged one is named
    for i, flag in flags.items():
        model["records"][i]["slower_than_float"] = flag
    assert schema.parse(json.loads(schema.to_text(results)))["models"][0]["records"][2]["slower_than_float"] == {
        "than": "fp32", "ratio": 1.24}
    model["records"][2]["slower_than_float"] = {"than": "fp32", "ratio": "slow"}
    with pytest.raises(EdgekitError, match=r"records\[2\]\.slower_than_float\.ratio is a string, not a number"):
        schema.parse(results)


def test_the_recommendation_never_picks_a_flagged_file_over_its_float_sibling():
    def recommended(int8_p50: float) -> str:
        _, model = model_with(
            # the fastest, with so wide a spread that the ONNX files tie with it; the largest file
            record("m_int8.tflite", "tflite", "int8", "litert:xnnpack", 1, 90000, 100.0, 0.98, robust_cv=0.3),
            record("m_fp32.onnx", "onnx", "fp32", "onnxruntime:cpu", 1, 60000, 101.0, 0.98, robust_cv=0.001),
            record("m_int8-static.onnx", "onnx", "int8-static", "onnxruntime:cpu", 1, 20000, int8_p50, 0.98,
                   robust_cv=0.001))
        return summary.recommend(model).row.record["artifact"]

    assert recommended(101.0) == "m_int8-static.onnx"  # as fast as its sibling: the tie goes to the smaller file
    assert recommended(104.0) == "m_fp32.onnx"  # slower than its sibling: flagged, the sibling instead
