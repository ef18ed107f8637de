"""`compare`: each gate passes and fails where it should, and latency changes within the noise
both runs recorded are flagged, not failed."""

from __future__ import annotations

import json

import pytest

from edgekit.cli import main
from edgekit.report.compare import FAIL, FLAG, Gates, compare, render
from tests.results_sample import sample_results


def int8(results: dict) -> dict:
    return results["models"][0]["records"][3]


def levels(comparison) -> list[tuple[str, str]]:
    return [(f.level, f.where) for f in comparison.findings if f.level in (FAIL, FLAG)]


def test_identical_runs_pass():
    comparison = compare(sample_results(), sample_results())
    assert comparison.passed and levels(comparison) == []
    assert render(comparison, "base.json", "now.json").startswith("## edgekit compare: pass (0 failed, 0 flagged)")


def test_accuracy_gate():
    current = sample_results()
    int8(current)["accuracy"]["value"] = 0.969  # 0.6 points below the baseline's 0.975
    comparison = compare(sample_results(), current)
    assert levels(comparison) == [(FAIL, "digits_cnn tflite int8 on litert:xnnpack x1")]
    assert "accuracy fell 0.60 points (0.9750 → 0.9690), over the 0.5-point gate" in comparison.failures[0].message
    int8(current)["accuracy"]["value"] = 0.971  # 0.4 points: inside the gate
    assert compare(sample_results(), current).passed


def test_latency_gate_fails_beyond_noise_and_flags_within_it():
    current = sample_results()
    int8(current)["latency_us"]["p50"] = 5.0  # +25%; noise 2 x hypot(0.02 x 4, 0.02 x 5) = 0.26 us
    comparison = compare(sample_results(), current)
    assert not comparison.passed and "p50 +25.0% (4.0 → 5.0 us), over the 10% limit, beyond the noise" \
        in comparison.failures[0].message
    int8(current)["latency_us"]["robust_cv"] = 0.3  # a noisy run: the same change is inside its spread
    comparison = compare(sample_results(), current)
    assert comparison.passed and levels(comparison) == [(FLAG, "digits_cnn tflite int8 on litert:xnnpack x1")]
    assert "within the noise both runs recorded" in comparison.findings[0].message
    assert compare(sample_results(), current, Gates(max_latency_regression=None)).passed
    int8(current)["latency_us"].update(p50=4.3, robust_cv=0.02)  # +7.5%: under the limit
    assert levels(compare(sample_results(), current)) == []


def test_latency_on_another_machine_is_flagged():
    current = sample_results()
    current["environment"]["cpu"]["name"] = "Other CPU"
    int8(current)["latency_us"]["p50"] = 8.0
    comparison = compare(sample_results(), current)
    assert comparison.passed and "on a different machine (name Test CPU → Other CPU)" in comparison.findings[0].message


def test_size_gate():
    current = sample_results()
    current["models"][0]["artifacts"][2]["size_bytes"] = 21100  # +5.5%
    comparison = compare(sample_results(), current)
    assert levels(comparison) == [(FAIL, "digits_cnn tflite int8")]
    assert "grew +5.5%" in comparison.failures[0].message
    current["models"][0]["artifacts"][2]["size_bytes"] = 20900  # +4.5%
    assert compare(sample_results(), current).passed


def test_rows_that_stop_running():
    current = sample_results()
    current["models"][0]["records"].pop(2)  # fp32 no longer measured; int8 is now at index 2
    current["models"][0]["records"][2].update(status="failed", reason="RuntimeError: boom")
    comparison = compare(sample_results(), current)
    messages = [f.message for f in comparison.failures]
    assert "not measured in the current run" in messages[0]
    assert "ran in the baseline, failed now: RuntimeError: boom" in messages[1]
    current = sample_results()
    int8(current).update(status="skipped", reason="no XNNPACK")
    comparison = compare(sample_results(), current)
    assert comparison.passed and "skipped now" in comparison.findings[0].message
    current = sample_results()
    current["models"][0]["name"] = "renamed"
    assert [f.message for f in compare(sample_results(), current).failures] == [
        "the model is not in the current results"]


def test_cli_exit_codes_and_markdown(tmp_path, capsys):
    base, now = tmp_path / "base.json", tmp_path / "now.json"
    base.write_text(json.dumps(sample_results()))
    current = sample_results()
    int8(current)["accuracy"]["value"] = 0.95
    now.write_text(json.dumps(current))
    assert main(["compare", str(base), str(base)]) == 0
    assert "## edgekit compare: pass" in capsys.readouterr().out
    assert main(["compare", str(base), str(now), "--output", str(tmp_path / "verdict.md")]) == 1
    captured = capsys.readouterr()
    assert "### Failed" in captured.out and "| FAIL |" not in captured.out and "| fail |" in captured.out
    assert captured.err.count("\n") == 1 and "1 gate(s) failed" in captured.err
    assert (tmp_path / "verdict.md").read_text().startswith("## edgekit compare: FAIL")
    assert main(["compare", str(base), str(now), "--max-accuracy-drop", "3"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("args, message", [
    (["--max-latency-regression", "fast"], "is not a percentage"),
    (["--max-size-growth=-5%"], "is not a percentage"),
    (["--max-accuracy-drop", "-1"], "must be 0 or more"),
])
def test_cli_bad_gates_exit_2(tmp_path, capsys, args, message):
    base = tmp_path / "base.json"
    base.write_text(json.dumps(sample_results()))
    assert main(["compare", str(base), str(base), *args]) == 2
    assert message in capsys.readouterr().err


def test_cli_bad_files_exit_2(tmp_path, capsys):
    base, future = tmp_path / "base.json", tmp_path / "future.json"
    base.write_text(json.dumps(sample_results()))
    future.write_text(json.dumps({**sample_results(), "schema_version": 7}))
    assert main(["compare", str(base), str(future)]) == 2
    assert "schema version 7, newer than this edgekit reads" in capsys.readouterr().err
    (tmp_path / "broken.json").write_text('{"kind": "edgekit-bench", ')
    assert main(["compare", str(tmp_path / "broken.json"), str(base)]) == 2
    err = capsys.readouterr().err
    assert "is not valid JSON" in err and err.count("\n") == 1


@pytest.mark.parametrize("field", ["accuracy.value", "latency_us.p50", "latency_us.robust_cv"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), "fast", None, -1.0])
def test_a_current_figure_that_is_no_number_fails_its_row(field, value):
    """compare may get dicts that never went through the reader: a NaN compares false with every
    limit, so without this check the gate would pass (and Infinity was only flagged)."""
    current = sample_results()
    block, key = field.split(".")
    int8(current)[block][key] = value
    comparison = compare(sample_results(), current)
    assert not comparison.passed
    [failure] = comparison.failures
    assert failure.where == "digits_cnn tflite int8 on litert:xnnpack x1"
    assert f"the current {field} is {repr(value)}" in failure.message and "no gate can pass on it" in failure.message
    assert comparison.tables["digits_cnn"][-1][-1] == FAIL


def test_a_baseline_figure_or_a_size_that_is_no_number_fails_too():
    baseline = sample_results()
    int8(baseline)["latency_us"]["p50"] = 0.0  # a baseline of zero makes any change unmeasurable
    assert "the baseline latency_us.p50 is 0.0, not above zero" in compare(baseline, sample_results()).failures[0].message
    current = sample_results()
    current["models"][0]["artifacts"][2]["size_bytes"] = float("nan")
    [failure] = compare(sample_results(), current).failures
    assert failure.where == "digits_cnn tflite int8" and "current size_bytes is nan" in failure.message


def test_metrics_compare_does_not_know_fail_and_no_metric_skips_accuracy():
    baseline, current = sample_results(), sample_results()
    for results in (baseline, current):
        results["models"][0]["data"]["metric"] = "bleu"
    comparison = compare(baseline, current)
    assert not comparison.passed and "the metric 'bleu' is not one edgekit scores" in comparison.failures[0].message
    for results in (baseline, current):
        results["models"][0]["data"]["metric"] = None  # records with values, but no metric to judge them by
    assert compare(baseline, current).passed
    current["environment"]["cpu"] = "a string"  # a caller's own dict: no crash, a different machine
    assert compare(baseline, current).machines_differ == "name Test CPU → None, cores 2 → None"


def test_the_cli_refuses_a_non_finite_current_file_naming_the_field(tmp_path, capsys):
    base, now = tmp_path / "base.json", tmp_path / "now.json"
    base.write_text(json.dumps(sample_results()))
    current = sample_results()
    int8(current)["latency_us"]["p50"] = float("nan")
    now.write_text(json.dumps(current))  # Python writes NaN as the JSON literal NaN
    assert main(["compare", str(base), str(now)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert "models[0].records[3].latency_us.p50 is NaN, not a finite number" in captured.err
