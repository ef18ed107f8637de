"""`edgekit report` on the results a real `edgekit convert` wrote, and the benchmark suite runner
end to end on a small suite, compared with its own baseline."""

from __future__ import annotations

import importlib.util
import json
import re

import pytest

from edgekit.results import summary
from tests.conftest import REPO, folder_state, run_cli

pytestmark = pytest.mark.slow


def test_report_formats(converted, tmp_path):
    folder = converted["folder"]
    code, stdout, stderr = run_cli("report", folder / "results.json")
    assert code == 0, stderr
    assert stdout.startswith("## edgekit benchmark") and "### digits_cnn" in stdout
    assert "| keras float | keras:cpu |" in stdout and "**recommended: digits_cnn_" in stdout
    # every figure measured, and speed-up against the fp32 TFLite file on the same target
    assert "| p50 us | p99 us | speed-up | cold ms | peak memory | samples/s |" in stdout
    assert re.search(r"\| tflite fp32 \| litert:xnnpack x1 \|[^\n]*\| 1\.00x \| [\d,.]+ \| [\d.]+ [KMG]?B \| [\d,]+ \|",
                     stdout)
    assert re.search(r"\| keras float \| keras:cpu \|[^\n]* \| - \| [\d,.]+ \|", stdout)  # no TFLite on Keras
    assert "speed-up: the p50 of the fp32 TFLite file on the same target and threads over the row's" in stdout
    # targets nobody asked for that cannot run here: one line, none on its own
    results = json.loads((folder / "results.json").read_text())
    folded = summary.unrequested(results["models"][0], results["settings"])
    if folded:
        line = next(line for line in stdout.splitlines() if summary.FOLDED in line)
        assert all(target in line for target, _ in folded)
        assert not any(line.startswith(f"- {target} ") for line in stdout.splitlines() for target, _ in folded)

    code, _, stderr = run_cli("report", folder, "--format", "html", "--output", tmp_path / "page" / "report.html")
    assert code == 0, stderr
    page = (tmp_path / "page" / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "digits_cnn_int8.tflite" in page

    code, stdout, _ = run_cli("report", folder / "results.json", "--format", "json")
    assert code == 0 and json.loads(stdout) == json.loads((folder / "results.json").read_text())


def test_report_appends_to_the_job_summary(converted, tmp_path, monkeypatch):
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, stdout, _ = run_cli("report", converted["folder"], "--output", tmp_path / "report.md")
    assert code == 0 and stdout == ""
    assert summary.read_text().startswith("## edgekit benchmark")
    assert (tmp_path / "report.md").read_text().rstrip() == summary.read_text().rstrip()


def test_report_bad_input(converted, tmp_path):
    before = folder_state(tmp_path)
    cases = [
        (["report", tmp_path / "missing.json"], "is not a file"),
        (["report", converted["folder"], "--output", tmp_path], "is a folder"),
        (["report", converted["folder"] / "manifest.json"], "is not an edgekit results file"),
        (["report", converted["folder"], "--max-accuracy-drop", "-1"], "--max-accuracy-drop"),
        (["report", converted["folder"], "--format", "pdf"], "invalid choice"),
    ]
    for args, message in cases:
        code, stdout, stderr = run_cli(*args)
        assert code == 2 and message in stderr, (args, stderr)
        assert stderr.count("\n") == 1 and "Traceback" not in stderr
    assert folder_state(tmp_path) == before


def _suite_runner():
    spec = importlib.util.spec_from_file_location("suite_runner", REPO / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_suite_runs_reports_and_gates_against_a_baseline(tmp_path, monkeypatch, capsys):
    runner = _suite_runner()
    committed = json.loads((REPO / "benchmarks" / "suite.json").read_text())
    suite = {**committed, "models": ["digits_mlp"], "tflite": ["int8"], "onnx": [],
             "runtimes": ["keras:cpu", "litert:xnnpack"], "threads": [1], "quick": {"runs": 10, "warmup": 2}}
    (tmp_path / "suite.json").write_text(json.dumps(suite))
    monkeypatch.chdir(tmp_path)  # the runner works from the repository; this puts the cwd back after
    first = tmp_path / "first"
    assert runner.main(["--suite", str(tmp_path / "suite.json"), "--quick", "--out", str(first), "--no-compare"]) == 0
    assert {p.name for p in first.iterdir()} >= {"results.json", "report.md", "report.html"}
    results = json.loads((first / "results.json").read_text())
    assert [m["name"] for m in results["models"]] == ["digits_mlp"]
    assert {(r["target"], r["status"]) for r in results["models"][0]["records"]} == {
        ("keras:cpu", "ok"), ("litert:xnnpack", "ok")}
    assert all(r["latency_us"]["runs"] == 10 for r in results["models"][0]["records"])

    # the same suite again passes against the first run; a baseline claiming better accuracy fails it
    second = tmp_path / "second"
    args = ["--suite", str(tmp_path / "suite.json"), "--quick", "--out", str(second)]
    assert runner.main([*args, "--baseline", str(first / "results.json"), "--gate-latency"]) == 0
    assert "## edgekit compare: pass" in (second / "compare.md").read_text()
    second_results = json.loads((second / "results.json").read_text())
    assert all(len(r["latency_us"]["rounds"]) == 3 for r in second_results["models"][0]["records"])  # --repeat 3
    for record in results["models"][0]["records"]:
        record["accuracy"]["value"] += 0.02
    (tmp_path / "better.json").write_text(json.dumps(results))
    assert runner.main([*args, "--baseline", str(tmp_path / "better.json")]) == 1
    assert "over the 1-point gate" in capsys.readouterr().out

    (tmp_path / "bad-suite.json").write_text(json.dumps({**suite, "runtimes": "litert"}))
    assert runner.main(["--suite", str(tmp_path / "bad-suite.json"), "--out", str(tmp_path / "x")]) == 2
