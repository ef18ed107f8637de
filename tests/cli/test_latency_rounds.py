"""`bench --repeat N`: latency in interleaved rounds, each round's p50 stored, and `compare` gating
on them (the gate's rules on constructed records are in tests/unit/results/test_compare.py; whether it
holds between real runs is benchmarks/latency_gate.py)."""

import json
import shutil

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


def test_repeat_below_one_is_bad_input(converted, capsys):
    assert main(["bench", str(converted["folder"]), "--repeat", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--repeat 0 must be 1 or more" in err


def test_the_time_limit_stops_the_rounds_and_keeps_those_measured(converted, tmp_path):
    results, files = tmp_path / "stopped.json", tmp_path / "files"
    files.mkdir()  # the files alone: no float model to load (the limit counts loading too)
    for name in ("digits_cnn_fp32.tflite", "digits_cnn_int8.tflite", "digits_cnn_fp16.tflite", "digits_cnn_dynamic.tflite"):
        shutil.copyfile(converted["folder"] / name, files / name)
    code, _, stderr = run_cli("bench", files, "--runtime", "litert:xnnpack", "--runs", "2000",
                              "--repeat", "1000", "--max-bench-time", "6s", "--output", results, "-q")
    assert code == 1, stderr
    assert "ran past its 6 s limit" in stderr.strip().splitlines()[-1]
    model = schema.read(results)["models"][0]
    assert "ran past its 6 s limit" in model["stopped"]
    rounds = [len(r["latency_us"]["rounds"]) for r in model["records"] if r["status"] == "ok"]
    assert len(rounds) >= 4 and min(rounds) >= 1 and max(rounds) < 1000  # each row keeps its rounds so far
