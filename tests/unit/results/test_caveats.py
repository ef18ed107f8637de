"""Files whose purpose a CPU target defeats are marked where they run, whatever their timing
(issue 31): int16x8 on LiteRT's reference kernels, fp16 computed in fp32."""

from __future__ import annotations

import json

import pytest

from edgekit.core.errors import EdgekitError
from edgekit.render import markdown
from edgekit.render.table import bench_table
from edgekit.results import schema, summary
from tests.results_sample import record
from tests.unit.results.test_report_summary import model_with

NO_FP16 = {"avx2": True, "avx512_fp16": False}


@pytest.mark.parametrize(("variant", "target", "flags", "expected"), [
    ("int16x8", "litert:xnnpack", NO_FP16, summary.REFERENCE_KERNELS),
    ("int16x8", "litert:builtin", {}, summary.REFERENCE_KERNELS),
    ("int16x8", "tflm", NO_FP16, None),  # a microcontroller's own kernels: what the file is for
    ("fp16", "litert-compiled:cpu", NO_FP16, summary.FP16_AS_FP32 + " (and it has no fp16 arithmetic)"),
    ("fp16", "litert:xnnpack", {"asimd": True, "asimdhp": True}, summary.FP16_AS_FP32),
    ("fp16", "litert-compiled:gpu", NO_FP16, None),
    ("int8", "litert:xnnpack", NO_FP16, None),
])
def test_the_caveat_by_variant_and_target(variant, target, flags, expected):
    assert summary.caveat(record(f"m_{variant}.tflite", "tflite", variant, target, 1, 1000, 10.0, 0.9),
                          flags) == expected


def test_a_board_s_record_is_not_judged_by_this_machine_s_cpu():
    board = {**record("m_int16x8.tflite", "tflite", "int16x8", "litert:xnnpack", 1, 1000, 10.0, 0.9), "device": "pi"}
    assert summary.caveat(board, NO_FP16) is None


def test_the_caveat_is_a_note_in_the_tables_and_reads_back_through_the_schema():
    results, model = model_with(
        record("m_fp32.tflite", "tflite", "fp32", "litert:xnnpack", 1, 60000, 100.0, 0.98),
        record("m_int16x8.tflite", "tflite", "int16x8", "litert:xnnpack", 1, 30000, 3000.0, 0.98),
        record("m_int16x8.tflite", "tflite", "int16x8", "litert:xnnpack", 2, 30000, 1600.0, 0.98))
    for r in model["records"]:  # the sample's Keras row first: no caveat
        if summary.caveat(r, NO_FP16):
            r["caveat"] = summary.caveat(r, NO_FP16)
    line = f"tflite int16x8 on litert:xnnpack x1, litert:xnnpack x2: {summary.REFERENCE_KERNELS}"
    assert line in " ".join(bench_table(model).split()) and line in markdown.render(results)
    assert schema.parse(json.loads(schema.to_text(results)))["models"][0]["records"][2]["caveat"] == \
        summary.REFERENCE_KERNELS
    model["records"][2]["caveat"] = 3
    with pytest.raises(EdgekitError, match=r"records\[2\]\.caveat"):
        schema.parse(results)
