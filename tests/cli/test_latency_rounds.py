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
from edgekit.results.compare import round_spread
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

    # the gate on a changed file: an unchanged copy passes; a copy with one row slower by a fixed cost
    # per run fails on that row's latency alone. The cost is set from the spread this run measured
    # (a loaded machine widens it): the row's deviations stay as measured, so both runs' noise is
    # 2 sigmas x hypot(s x old, s x old) = 2.83 s x old, and the change, (k - 1) x old, is 6 s x old
    # or more (and at least +200%)
    raw = json.loads(results.read_text())
    unchanged, slower = tmp_path / "unchanged.json", tmp_path / "slower.json"
    unchanged.write_text(json.dumps(raw))
    [slowed] = [r for r in raw["models"][0]["records"] if r["status"] == "ok"][:1]
    latency = slowed["latency_us"]
    spread = max(latency["robust_cv"], round_spread(latency["rounds"]))
    k = max(3.0, 1 + 6 * spread)
    old, added = latency["p50"], (k - 1) * latency["p50"]
    for key in ("p50", "p90", "p99"):  # the figures in us, each a fixed cost later
        latency[key] += added
    latency["robust_cv"] *= old / latency["p50"]  # the same deviations in us, around a larger median
    latency["rounds"] = [r + added for r in latency["rounds"]]
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
    assert f"p50 {latency['p50'] / old - 1:+.1%}" in failure["message"] and "beyond the noise" in failure["message"]
    changed = [r for r in compared["models"]["digits_cnn"] if r["latency_us"]["change"] != 0]
    assert [r["variant"] for r in changed] == [f"{slowed['format']} {slowed['variant']}"]
    assert changed[0]["verdict"] == "fail" and changed[0]["latency_us"]["change"] == pytest.approx(k - 1, abs=1e-4)


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
