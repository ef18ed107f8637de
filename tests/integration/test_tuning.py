"""Quantization debugging and tuning on digits_outlier, the zoo model with a planted int8 outlier:
the debugger ranks the planted layer first, keeping it float restores accuracy, and `tune` keeps
to its tolerance and budget."""

import json
import math

import pytest

from edgekit import zoo
from edgekit.core.errors import EdgekitError
from edgekit.workflows.tune import parse_budget
from tests.conftest import run_cli

pytestmark = pytest.mark.slow  # each test converts several variants

MODEL = zoo.model_path("digits_outlier")
(PLANTED,) = zoo.recipe_module("digits_outlier").RECIPE["keep_float"]  # where the outlier is planted


def debug_quant(tmp_path, *extra):
    report_path = tmp_path / "debug.json"
    code, stdout, stderr = run_cli("debug-quant", MODEL, "--output", report_path, "-q", *extra)
    assert code == 0, stderr
    return json.loads(report_path.read_text()), stdout


def test_debugger_ranks_the_planted_layer_first_and_keeping_it_float_restores_accuracy(tmp_path):
    report, stdout = debug_quant(tmp_path)
    worst, *rest = report["layers"]
    assert worst["layer"] == PLANTED and worst["rank"] == 1 and worst["op"] == "FULLY_CONNECTED"
    assert worst["rmse_per_step"] > 5 and all(r["rmse_per_step"] < 1 for r in rest)  # the rest only round
    assert worst["mse"] > 100 * max(r["mse"] for r in rest)
    plain = report["whole_model"]["evaluation"]
    assert plain["metric"] == "accuracy" and plain["drop_points"] > 1.0  # the outlier costs accuracy
    assert stdout.splitlines()[2].split()[:2] == ["1", PLANTED]

    kept, stdout = debug_quant(tmp_path, "--keep-float", PLANTED)
    assert kept["keep_float"]["layers"] == [PLANTED] and PLANTED not in {r["layer"] for r in kept["layers"]}
    restored = kept["whole_model"]["evaluation"]
    assert restored["drop_points"] <= 0.5 < plain["drop_points"]
    assert kept["whole_model"]["fidelity"]["sqnr_db"] > report["whole_model"]["fidelity"]["sqnr_db"] + 10
    assert "kept in float: probs" in stdout


def test_convert_keeps_named_layers_float_and_records_them(tmp_path):
    code, stdout, stderr = run_cli("convert", MODEL, "--tflite", "int8", "--onnx", "int8-static", "--keep-float",
                                   PLANTED, "--out", tmp_path, "--no-bench", "-q")
    assert code == 0, stderr
    artifact, onnx_file = json.loads((tmp_path / "digits_outlier" / "manifest.json").read_text())["artifacts"]
    # the ONNX file too (issue 34): the layer's nodes excluded from quantization, its weights float
    assert onnx_file["recipe"]["keep_float"]["layers"] == [PLANTED]
    assert onnx_file["recipe"]["keep_float"]["nodes"] and all(
        PLANTED in node.split("/") for node in onnx_file["recipe"]["keep_float"]["nodes"])
    assert "except probs in float" in onnx_file["precision"]
    assert artifact["recipe"]["keep_float"]["layers"] == [PLANTED]
    assert all(PLANTED in t.split("/") for t in artifact["recipe"]["keep_float"]["tensors"])
    assert "except probs in float" in artifact["precision"]
    assert artifact["evaluation"]["drop_points"] <= 0.5
    code, stdout, stderr = run_cli("inspect", tmp_path / "digits_outlier" / "digits_outlier_int8.tflite", "--json")
    assert code == 0, stderr
    ops = json.loads(stdout)["ops"]
    assert ops["DEQUANTIZE"] >= 1 and ops["QUANTIZE"] >= 1  # int8 into the float layer and back out


@pytest.mark.parametrize("args, message", [
    (["--keep-float", "nosuch"], "--keep-float 'nosuch' is neither a layer nor an op type of this model: "
                                 "layers are conv1, pool1"),
    (["--keep-float", "probs", "--tflite", "fp32"], "--keep-float applies to the TFLite int8 and ONNX int8 variants"),
    (["--keep-float", "nosuch", "--tflite", "none", "--onnx", "int8-static"],
     ("--keep-float 'nosuch' maps to no node of the ONNX graph: give a layer (conv1, conv2, dense, flatten, pool1, "
      "pool2, probs) or an ONNX op type")),
])
def test_keep_float_names_that_do_not_apply_are_refused(tmp_path, args, message):
    code, stdout, stderr = run_cli("convert", MODEL, "--no-bench", "--out", tmp_path, "-q",
                                   *(args if "--tflite" in args else [*args, "--tflite", "int8"]),
                                   *([] if "--onnx" in args else ["--onnx", "none"]))
    assert code == 2 and message in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert not (tmp_path / "digits_outlier").exists()


def tune(tmp_path, *args):
    code, stdout, stderr = run_cli("tune", MODEL, "--out", tmp_path, "--onnx", "none", "--runs", "30",
                                   "--warmup", "3", "-q", *args)
    return code, stdout, stderr, json.loads((tmp_path / "digits_outlier-tuned" / "tune.json").read_text())


def test_tune_picks_the_fastest_candidate_within_tolerance(tmp_path):
    code, stdout, stderr, report = tune(tmp_path, "--max-accuracy-drop", "0.5", "--tflite", "int8,int8-keep,fp32",
                                        "--max-keep-float", "2", "--threads", "1,2")
    assert code == 0, stderr
    rows = report["candidates"]
    # the search stops at the first set that clears: the planted layer alone
    assert {(r["variant"], r["threads"]) for r in rows} == {(v, t) for v in ("int8", "int8-keep1", "fp32")
                                                            for t in (1, 2)}
    assert all(r["status"] == "ok" and r["within_tolerance"] == (r["drop_points"] <= 0.5) for r in rows)
    assert not any(r["within_tolerance"] for r in rows if r["variant"] == "int8")  # the outlier costs int8
    keep1 = next(r for r in rows if r["variant"] == "int8-keep1")
    assert keep1["kept_float"] == [PLANTED] and keep1["within_tolerance"]
    found = report["mixed_precision"]
    assert found["layers"] == [PLANTED] and found["cleared"] and [t["layers"] for t in found["trials"]] == [[PLANTED]]
    assert found["trials"][0]["drop_points"] <= 0.5 and found["speedup"] > 0
    pick = report["pick"]
    assert pick["p50_us"] == min(r["p50_us"] for r in rows if r["within_tolerance"])
    folder = tmp_path / "digits_outlier-tuned"
    assert sorted(p.name for p in folder.iterdir()) == sorted([pick["file"], "tune.json"])
    assert f"picked: {pick['file']}" in " ".join(stdout.split()) and not report["stopped_at_budget"]


def test_tune_reports_the_closest_candidate_when_none_meets_the_tolerance(tmp_path):
    code, stdout, stderr, report = tune(tmp_path, "--max-accuracy-drop", "0.5", "--tflite", "int8,int16x8")
    assert code == 1 and len(stderr.strip().splitlines()) == 1, stderr
    assert report["pick"] is None and [r["variant"] for r in report["candidates"]] == ["int8", "int16x8"]
    closest = min(report["candidates"], key=lambda r: r["drop_points"])
    assert report["closest"]["file"] == closest["file"] and closest["drop_points"] > 0.5
    assert f"no candidate is within 0.5 points of the float model; the closest is {closest['file']}" in stderr
    assert all(r["measured"]["latency_us"]["p50"] > 0 for r in report["candidates"])  # numbers kept
    assert sorted(p.name for p in (tmp_path / "digits_outlier-tuned").iterdir()) == ["tune.json"]


def test_tune_stops_at_its_budget_with_what_it_has(tmp_path):
    # the budget counts loading and building too: it is set from a whole search of the first
    # candidate on this machine now, with as much again to spare before its timing loop starts
    code, _, stderr, whole = tune(tmp_path / "whole", "--tflite", "fp32")
    assert code == 0, stderr
    budget = math.ceil(2 * whole["seconds"]) + 1
    # a candidate that would take hours to measure: the budget stops it inside the timing loop
    code, stdout, stderr, report = tune(tmp_path, "--tflite", "fp32,int8", "--runs", "100000000",
                                        "--budget", f"{budget}s")
    assert code == 1 and "none could be measured" in stderr, stderr
    assert report["stopped_at_budget"] and report["seconds"] < budget + whole["seconds"]  # stopped, not finished
    assert report["candidates"] == [{"format": "tflite", "variant": "fp32", "threads": 1, "status": "stopped",
                                     "reason": "the budget ran out while it was measured"}]
    assert "stopped at the budget" in " ".join(stdout.split())


@pytest.mark.parametrize("text, seconds", [("10m", 600), ("90s", 90), ("1.5h", 5400), ("45", 45)])
def test_budget_durations(text, seconds):
    assert parse_budget(text) == seconds


@pytest.mark.parametrize("text", ["0", "-1m", "ten", "5x", ""])
def test_bad_budgets_are_refused(text):
    with pytest.raises(EdgekitError, match="is not a duration"):
        parse_budget(text)


def test_a_candidate_the_toolchain_cannot_build_for_the_model_is_skipped_with_its_reason(tmp_path):
    """A convolution-only classifier has nothing int8-dynamic ONNX quantizes (issue 33, item 1): that
    candidate is a skipped row with the reason, not a failure, and the others are still measured."""
    import keras
    import numpy as np

    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Activation("softmax")])
    model.save(tmp_path / "cv.keras")
    rng = np.random.default_rng(0)
    x = rng.random((64, 8, 8, 1), dtype=np.float32)
    np.savez(tmp_path / "train.npz", x=x, y=model.predict(x, verbose=0).argmax(axis=1))
    np.save(tmp_path / "calib.npy", x[:32])
    code, _, stderr = run_cli("tune", tmp_path / "cv.keras", "--train-data", tmp_path / "train.npz", "--calib",
                                   tmp_path / "calib.npy", "--tflite", "none", "--onnx", "int8-dynamic,fp32",
                                   "--runs", "20", "--warmup", "2", "--out", tmp_path / "out", "-q")
    assert code == 0, stderr
    rows = {r["variant"]: r for r in json.loads((tmp_path / "out" / "cv-tuned" / "tune.json").read_text())["candidates"]}
    assert rows["int8-dynamic"]["status"] == "skipped"
    assert rows["int8-dynamic"]["reason"].startswith("int8-dynamic is unavailable: the model has no MatMul")
    assert rows["fp32"]["status"] == "ok"
