"""`bench --repeat N`: latency in interleaved rounds, each round's p50 stored, and `compare` gating
on them (the gate's rules on constructed records are in tests/unit/results/test_compare.py; whether it
holds between real runs is benchmarks/latency_gate.py)."""

import json
import math
import shutil
import time

import pytest

from edgekit.cli import main
from edgekit.results import schema
from tests.conftest import run_cli

pytestmark = pytest.mark.slow  # each test benchmarks in rounds


def test_bench_repeat_stores_each_rounds_p50_and_compare_gates_on_them(converted, tmp_path):
    results = tmp_path / "rounds.json"
    code, _, stderr = run_cli("bench", converted["folder"], "--runtime", "litert:xnnpack", "--runs", "40",
                              "--warmup", "5", "--repeat", "2", "--output", results, "-q")
    assert code == 0, stderr
    read = schema.read(results)  # the rounds are in the schema
    assert read["settings"]["repeat"] == 2
    records = [r for r in read["models"][0]["records"] if r["status"] == "ok"]
    assert len(records) >= 4  # every .tflite the conversion wrote, on XNNPACK
    for record in records:
        latency = record["latency_us"]
        assert len(latency["rounds"]) == 2 and all(r > 0 for r in latency["rounds"])
        assert latency["p50"] == min(latency["rounds"])  # the median round: the lower middle one of two
        assert record["accuracy"] and record["fidelity"]  # measured once, in the first round

    code, stdout, stderr = run_cli("compare", results, results, "--json")
    assert code == 0, stderr
    compared = json.loads(stdout)
    assert compared["passed"] is True and compared["failed"] == 0
    rows = compared["models"]["digits_cnn"]
    assert len(rows) == len(records)
    assert {json.dumps(r["latency_us"]["rounds"]) for r in rows} == {'{"baseline": 2, "current": 2}'}
    assert all(r["latency_us"]["change"] == 0 for r in rows)

    # the gate on a changed file: an unchanged copy passes; a copy with one row three times slower in
    # every round fails on that row's latency alone. x3 is +200% against the 10% limit, and beyond
    # the noise band while the runs' relative spreads (robust_cv, the rounds' spread: both unchanged
    # by scaling) stay under ~0.3: the band is 2 x hypot(s x old, s x 3 old) = 6.3 s x old < 2 x old
    raw = json.loads(results.read_text())
    unchanged, slower = tmp_path / "unchanged.json", tmp_path / "slower.json"
    unchanged.write_text(json.dumps(raw))
    [slowed] = [r for r in raw["models"][0]["records"] if r["status"] == "ok"][:1]
    latency = slowed["latency_us"]
    for key in ("p50", "p90", "p99", "median_ci"):  # the figures in us; robust_cv is relative
        if key in latency:
            latency[key] *= 3
    latency["rounds"] = [r * 3 for r in latency["rounds"]]
    slower.write_text(json.dumps(raw))

    code, stdout, stderr = run_cli("compare", results, unchanged, "--json")
    assert code == 0, stderr
    assert json.loads(stdout)["passed"] is True

    code, stdout, stderr = run_cli("compare", results, slower, "--json")
    assert code == 1, stderr
    compared = json.loads(stdout)
    assert compared["passed"] is False and compared["failed"] == 1
    [failure] = [f for f in compared["findings"] if f["level"] == "fail"]
    assert failure["where"].startswith(f"digits_cnn {slowed['format']} {slowed['variant']} on ")
    assert "p50 +200.0%" in failure["message"] and "beyond the noise" in failure["message"]
    changed = [r for r in compared["models"]["digits_cnn"] if r["latency_us"]["change"] != 0]
    assert [r["variant"] for r in changed] == [f"{slowed['format']} {slowed['variant']}"]
    assert changed[0]["verdict"] == "fail" and changed[0]["latency_us"]["change"] == pytest.approx(2.0)


def test_repeat_below_one_is_bad_input(converted, capsys):
    assert main(["bench", str(converted["folder"]), "--repeat", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--repeat 0 must be 1 or more" in err


def test_the_time_limit_stops_the_rounds_and_keeps_those_measured(converted, tmp_path):
    results, files = tmp_path / "stopped.json", tmp_path / "files"
    files.mkdir()  # the files alone: no float model to load (the limit counts loading too)
    for name in ("digits_cnn_fp32.tflite", "digits_cnn_int8.tflite", "digits_cnn_fp16.tflite", "digits_cnn_dynamic.tflite"):
        shutil.copyfile(converted["folder"] / name, files / name)
    # the limit is set from one round of the same run on this machine now, with that again to spare:
    # every row has a round or more when it stops, none has all of its rounds
    started = time.monotonic()
    code, _, stderr = run_cli("bench", files, "--runtime", "litert:xnnpack", "--runs", "2000",
                              "--output", tmp_path / "one-round.json", "-q")
    assert code == 0, stderr
    limit = math.ceil(2 * (time.monotonic() - started)) + 1
    code, _, stderr = run_cli("bench", files, "--runtime", "litert:xnnpack", "--runs", "2000",
                              "--repeat", "1000", "--max-bench-time", f"{limit}s", "--output", results, "-q")
    assert code == 1, stderr
    assert f"ran past its {limit} s limit" in stderr.strip().splitlines()[-1]
    model = schema.read(results)["models"][0]
    assert f"ran past its {limit} s limit" in model["stopped"]
    rounds = [len(r["latency_us"]["rounds"]) for r in model["records"] if r["status"] == "ok"]
    assert len(rounds) >= 4 and min(rounds) >= 1 and max(rounds) < 1000  # each row keeps its rounds so far
