"""`compare`: each gate passes and fails where it should; latency is gated on the noise between
rounds (`bench --repeat`), and a row timed in one round is flagged, never failed."""

from __future__ import annotations

import json

import pytest

from edgekit.cli import main
from edgekit.core.config import DEFAULT_MAX_ACCURACY_DROP
from edgekit.render.comparison import render
from edgekit.results.compare import FAIL, FLAG, ONE_ROUND_HINT, Gates, compare, round_spread
from tests.profile_samples import onnxruntime_profile, with_op_on_cpu, xnnpack_profile
from tests.results_sample import sample_results


def int8(results: dict) -> dict:
    return results["models"][0]["records"][3]


def levels(comparison) -> list[tuple[str, str]]:
    return [(f.level, f.where) for f in comparison.findings if f.level in (FAIL, FLAG)]


def in_rounds(results: dict, rounds: list[float]) -> dict:
    """The int8 row as `bench --repeat` records it: each round's p50, the median round's figures."""
    int8(results)["latency_us"].update(rounds=rounds, p50=sorted(rounds)[(len(rounds) - 1) // 2])
    return results


def test_identical_runs_pass():
    comparison = compare(sample_results(), sample_results())
    assert comparison.passed and levels(comparison) == []
    assert render(comparison, "base.json", "now.json").startswith("## edgekit compare: pass (0 failed, 0 flagged)")


def test_accuracy_gate():
    assert Gates().max_accuracy_drop == DEFAULT_MAX_ACCURACY_DROP == 1.0  # one tolerance everywhere
    current = sample_results()
    int8(current)["accuracy"]["value"] = 0.963  # 1.2 points below the baseline's 0.975
    comparison = compare(sample_results(), current)
    assert levels(comparison) == [(FAIL, "digits_cnn tflite int8 on litert:xnnpack x1")]
    assert "accuracy fell 1.20 points (0.9750 → 0.9630), over the 1-point gate" in comparison.failures[0].message
    int8(current)["accuracy"]["value"] = 0.969  # 0.6 points: inside the gate
    assert compare(sample_results(), current).passed
    assert not compare(sample_results(), current, Gates(max_accuracy_drop=0.5)).passed


def test_round_spread_is_robust_to_one_disturbed_round():
    assert round_spread([4.0, 4.0, 4.0]) == 0.0
    assert round_spread([3.9, 4.0, 4.2]) == pytest.approx(1.4826 * 0.1 / 4.0)  # 1.4826 x MAD over the median
    assert round_spread([3.6, 5.4, 3.6]) == 0.0  # one round at +50%: the median round is not moved either
    assert round_spread([3.6, 4.0]) == pytest.approx(1.4826 * 0.2 / 3.8)


def test_rounds_within_their_noise_pass():
    """Two runs of unchanged code whose rounds drift as a shared machine's do: no failure, though
    the medians differ by more than the limit and by more than the within-run spread."""
    baseline = in_rounds(sample_results(), [4.0, 4.6, 3.7])
    current = in_rounds(sample_results(), [4.5, 3.9, 4.8])  # +12.5%; noise 2 x hypot(0.3, 0.3) x 1.4826 us
    comparison = compare(baseline, current)
    assert comparison.passed and levels(comparison) == [(FLAG, "digits_cnn tflite int8 on litert:xnnpack x1")]
    assert "+12.5% (4.0 → 4.5 us), over the 10% limit, but within the noise between rounds (±1.3 us)" \
        in comparison.findings[0].message


def test_a_real_slowdown_with_tight_rounds_fails():
    baseline = in_rounds(sample_results(), [4.0, 4.05, 3.98])
    current = in_rounds(sample_results(), [4.8, 4.82, 4.78])  # 20% slower, every round
    comparison = compare(baseline, current)
    assert not comparison.passed
    [failure] = comparison.failures
    assert failure.where == "digits_cnn tflite int8 on litert:xnnpack x1"
    # the noise is the within-run floor here: the rounds agree more closely than each run's timings
    assert "p50 +20.0% (4.0 → 4.8 us), over the 10% limit, beyond the noise (±0.2 us)" in failure.message
    assert compare(baseline, current, Gates(max_latency_regression=None)).passed
    assert compare(baseline, in_rounds(sample_results(), [4.3, 4.32, 4.28])).passed  # +7.5%: under the limit
    disturbed = in_rounds(sample_results(), [4.0, 6.0, 3.98])  # one round the machine slowed: still caught
    assert [f.where for f in compare(disturbed, current).failures] == [failure.where]


def test_the_within_run_spread_is_the_floor_of_the_noise():
    baseline = in_rounds(sample_results(), [4.0, 4.0, 4.0])
    current = in_rounds(sample_results(), [5.0, 5.0, 5.0])
    int8(current)["latency_us"]["robust_cv"] = 0.3  # rounds agree, but each is spread wide
    comparison = compare(baseline, current)
    assert comparison.passed and "within the noise between rounds (±3.0 us)" in comparison.findings[0].message


@pytest.mark.parametrize("rounded", ["neither", "baseline", "current"])
def test_a_row_timed_in_one_round_is_flagged_not_failed(rounded):
    """What two back-to-back default runs (no --repeat) give: no run-to-run noise to judge by."""
    baseline, current = sample_results(), sample_results()
    int8(current)["latency_us"]["p50"] = 8.0  # +100%, with a tight within-run spread
    if rounded == "baseline":
        in_rounds(baseline, [4.0, 4.0, 4.0])
    if rounded == "current":
        in_rounds(current, [8.0, 8.0, 8.0])
    comparison = compare(baseline, current)
    assert comparison.passed and levels(comparison) == [(FLAG, "digits_cnn tflite int8 on litert:xnnpack x1")]
    which = {"neither": "both runs", "baseline": "the current run", "current": "the baseline"}[rounded]
    assert f"+100.0% (4.0 → 8.0 us), over the 10% limit, but {which} measured it in one round" \
        in comparison.findings[0].message and ONE_ROUND_HINT in comparison.findings[0].message


def test_latency_on_another_machine_is_flagged():
    current = sample_results()
    current["environment"]["cpu"]["name"] = "Other CPU"
    in_rounds(current, [8.0, 8.1, 7.9])
    comparison = compare(in_rounds(sample_results(), [4.0, 4.0, 4.0]), current)
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


def test_cli_json(tmp_path, capsys):
    base, now = tmp_path / "base.json", tmp_path / "now.json"
    base.write_text(json.dumps(in_rounds(sample_results(), [4.0, 4.02, 3.99])))
    current = in_rounds(sample_results(), [5.0, 5.02, 4.99])
    int8(current)["accuracy"]["value"] = 0.95
    now.write_text(json.dumps(current))
    assert main(["compare", str(base), str(base), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["passed"] is True and found["findings"] == [] and found["gates"]["max_accuracy_drop"] == 1.0
    assert main(["compare", str(base), str(now), "--json"]) == 1  # exit codes as without --json
    captured = capsys.readouterr()
    found = json.loads(captured.out)
    assert "## edgekit compare" not in captured.out and "1 gate(s) failed" not in captured.out
    assert captured.err.count("\n") == 1 and "2 gate(s) failed" in captured.err
    assert found["passed"] is False and found["failed"] == 2 and found["baseline"] == str(base)
    assert [(f["level"], f["where"]) for f in found["findings"]] == [
        ("fail", "digits_cnn tflite int8 on litert:xnnpack x1")] * 2
    assert "accuracy fell 2.50 points" in found["findings"][0]["message"]
    [row] = [r for r in found["models"]["digits_cnn"] if r["variant"] == "tflite int8"]
    assert row["verdict"] == "fail" and row["accuracy"]["drop_points"] == 2.5
    assert row["latency_us"]["baseline"] == 4.0 and row["latency_us"]["current"] == 5.0
    assert row["latency_us"]["change"] == 0.25 and row["latency_us"]["rounds"] == {"baseline": 3, "current": 3}
    skipped = [r for r in found["models"]["digits_cnn"] if r["target"] == "keras:gpu"]
    assert skipped == []  # skipped in both: not a row


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


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "fast", None, 0.0])
def test_a_round_that_is_no_number_fails_its_row(value):
    current = in_rounds(sample_results(), [4.0, 4.1, 4.0])
    int8(current)["latency_us"]["rounds"][1] = value
    [failure] = compare(sample_results(), current).failures
    assert f"the current latency_us.rounds[1] is {repr(value)}" in failure.message
    int8(current)["latency_us"]["rounds"] = "4.0, 4.1"
    assert "latency_us.rounds is '4.0, 4.1', not a list" in compare(sample_results(), current).failures[0].message


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


def profiled(results: dict, profile: dict, row: int = 2) -> dict:
    """The sample with `profile` on its fp32 XNNPACK row."""
    results["models"][0]["records"][row]["profile"] = profile
    return results


def test_placement_gate_passes_when_unchanged_and_is_not_applied_without_profiles():
    baseline, current = profiled(sample_results(), xnnpack_profile()), profiled(sample_results(), xnnpack_profile())
    current["models"][0]["records"][2]["profile"]["ops"][0]["us"] *= 3  # the times are not gated, the placement is
    comparison = compare(baseline, current)
    assert comparison.passed and comparison.placement_gated == 1 and levels(comparison) == []
    assert "placement: no rise in partitions and no op moved from an accelerator to the CPU, on the 1 row(s) " \
           "profiled in both runs." in render(comparison, "base.json", "now.json")
    plain = compare(sample_results(), sample_results())
    assert plain.placement_gated == 0
    assert "placement: no row was profiled in both runs (bench --profile), not applied." in render(
        plain, "base.json", "now.json")


def test_placement_gate_fails_when_an_op_leaves_the_accelerator():
    baseline = profiled(sample_results(), xnnpack_profile())
    current = profiled(sample_results(), with_op_on_cpu(xnnpack_profile(), 7, "ADD with this broadcast"))
    comparison = compare(baseline, current)
    assert not comparison.passed
    [failure] = comparison.failures
    assert failure.where == "digits_cnn tflite fp32 on litert:xnnpack x1"
    assert failure.message == ("placement: partitions rose 1 → 2; 1 op(s) moved from the accelerator to the CPU: "
                               "resnet8/stack2_add/add (ADD, XNNPACK partition 0 → builtin)")
    assert comparison.tables["digits_cnn"][1][-1] == FAIL
    row = comparison.to_dict()["models"]["digits_cnn"][1]
    assert row["placement"] == {"partitions": {"baseline": 1, "current": 2}, "moved_to_cpu": ["resnet8/stack2_add/add"]}
    assert "### Failed" in render(comparison, "base.json", "now.json")
    assert compare(current, baseline).passed  # back on the accelerator: better, not a failure


def test_placement_gate_on_partitions_alone_and_on_full_delegation():
    baseline = profiled(sample_results(), xnnpack_profile())
    split = xnnpack_profile()
    for op in split["ops"][8:]:
        op["executor"] = "XNNPACK partition 1"
    split["partitions"] = 2
    [failure] = compare(baseline, profiled(sample_results(), split)).failures
    assert failure.message == "placement: partitions rose 1 → 2"
    renamed = with_op_on_cpu(xnnpack_profile(), 3)
    for op in renamed["ops"]:
        op.update(name=f"node {op['index']}", type=op["type"].lower())  # matched by neither name nor type
    renamed["partitions"] = 1
    [failure] = compare(baseline, profiled(sample_results(), renamed)).failures
    assert failure.message == "placement: no longer fully delegated: left on the CPU resnet8/stack1_add/add (ADD)"


def test_placement_many_moved_ops_are_counted_and_a_one_sided_profile_is_noted():
    everything = xnnpack_profile()
    for op in everything["ops"]:
        op["executor"] = "builtin"
    [failure] = compare(profiled(sample_results(), xnnpack_profile()), profiled(sample_results(), everything)).failures
    assert "16 op(s) moved from the accelerator to the CPU: resnet8/relu0/Relu (CONV_2D" in failure.message
    assert failure.message.endswith("and 6 more")
    skipped = profiled(sample_results(), {"skipped": "litert:xnnpack has no per-op profile here"})
    comparison = compare(profiled(sample_results(), xnnpack_profile()), skipped)
    assert comparison.passed and comparison.placement_gated == 0
    assert [f.message for f in comparison.findings] == [
        ("placement not compared: the current run has no per-op profile of this row (litert:xnnpack has no per-op "
         "profile here)")]
    comparison = compare(sample_results(), profiled(sample_results(), onnxruntime_profile()))
    assert comparison.passed and "the baseline has no per-op profile of this row (bench --profile)" in \
        comparison.findings[0].message


def test_cli_exits_1_when_an_op_leaves_the_accelerator(tmp_path, capsys):
    base, now = tmp_path / "base.json", tmp_path / "now.json"
    base.write_text(json.dumps(profiled(sample_results(), xnnpack_profile())))
    now.write_text(json.dumps(profiled(sample_results(), with_op_on_cpu(xnnpack_profile(), 11))))
    assert main(["compare", str(base), str(base)]) == 0
    capsys.readouterr()
    assert main(["compare", str(base), str(now)]) == 1
    out = capsys.readouterr().out
    assert "resnet8/stack3_add/add (ADD, XNNPACK partition 0 → builtin)" in out and "partitions rose 1 → 2" in out
