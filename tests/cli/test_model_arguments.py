"""Model arguments as users write them: a zoo name wherever a model path is taken, "no such file"
for anything else, and a user's model without --calib converted into the variants that need no
calibration, the others listed as skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

ZOO_CALIB = REPO / "calibration_data" / "digits_cnn.npz"


def one_error_line(code: int, stderr: str) -> str:
    assert code == 2, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.mark.parametrize("argv", [
    ("convert", "no_such_file.keras"),
    ("tune", "no_such_file.keras"),
    ("debug-quant", "no_such_file.keras"),
    ("optimize", "no_such_file.keras", "--prune", "0.5"),
    ("bench", "no_such_file.keras"),
])
def test_a_missing_model_is_no_such_file(argv, tmp_path):
    line = one_error_line(*run_cli(*argv, cwd=tmp_path)[::2])
    assert "no such file: no_such_file.keras" in line and "digits_cnn" in line, line
    assert "did you mean" not in line, line  # nothing in the zoo is close
    assert not (tmp_path / "edgekit-out").exists()


def test_a_near_zoo_name_gets_did_you_mean(tmp_path):
    for name in ("digit_cnn", "digits_cnn.keras"):
        line = one_error_line(*run_cli("convert", name, cwd=tmp_path)[::2])
        assert line.startswith(f"edgekit convert: error: no such file: {name}: give a SavedModel folder")
        assert line.endswith("(did you mean digits_cnn?)"), line


@pytest.mark.slow
def test_convert_a_zoo_name_brings_its_calibration_and_held_out_data(tmp_path):
    code, stdout, stderr = run_cli("convert", "digits_cnn", "--tflite", "fp32,int8", "--onnx", "none", "--no-bench",
                                   "--out", tmp_path, "-q", cwd=tmp_path)
    assert code == 0, stderr
    manifest = json.loads((tmp_path / "digits_cnn" / "manifest.json").read_text())
    assert manifest["calibration"]["path"] == str(ZOO_CALIB)
    assert manifest["evaluation"]["metric"] == "accuracy" and manifest["skipped"] == []
    assert [a["variant"] for a in manifest["artifacts"]] == ["fp32", "int8"]
    said = " ".join(stdout.split())  # the notes are folded to the terminal's width
    assert "fidelity against the float model on 360 samples of digits_cnn's held-out split" in said
    assert "(held out: the quantizers calibrated on 200 others)" in said and "accuracy on 360 held-out samples" in said


@pytest.mark.slow
def test_bench_a_zoo_name_measures_the_bundled_model_on_its_held_out_data(tmp_path):
    code, stdout, stderr = run_cli("bench", "digits_cnn", "--runtime", "keras:cpu", "--runs", "20", "--warmup", "2",
                                   "--output", tmp_path / "results.json", "-q", cwd=tmp_path)
    assert code == 0, stderr
    results = json.loads((tmp_path / "results.json").read_text())
    model = results["models"][0]
    assert "digits_cnn's held-out split" in json.dumps(model) and "model.keras" in stdout
    assert any(r["status"] == "ok" and r["accuracy"]["metric"] == "accuracy" for r in model["records"]), model


@pytest.mark.slow
def test_tune_a_zoo_name(tmp_path):
    code, stdout, stderr = run_cli("tune", "digits_cnn", "--budget", "60s", "--tflite", "fp32,int8", "--onnx", "none",
                                   "--runs", "20", "--out", tmp_path, "-q", cwd=tmp_path)
    assert code == 0, stderr
    report = json.loads((tmp_path / "digits_cnn-tuned" / "tune.json").read_text())
    assert report["calibration"]["path"] == str(ZOO_CALIB) and report["pick"] is not None
    assert {r["variant"] for r in report["candidates"]} == {"fp32", "int8"}


@pytest.mark.slow
def test_debug_quant_a_zoo_name(tmp_path):
    code, stdout, stderr = run_cli("debug-quant", "digits_cnn", "--output", tmp_path / "debug.json", "-q", cwd=tmp_path)
    assert code == 0, stderr
    report = json.loads((tmp_path / "debug.json").read_text())
    assert report["calibration"]["path"] == str(ZOO_CALIB) and report["layers"]


@pytest.mark.slow
def test_convert_a_user_model_without_calib_skips_the_calibrated_variants(tiny, tmp_path):
    model = tiny["paths"]["keras3_keras"]
    code, stdout, stderr = run_cli("convert", model, "--no-bench", "--out", tmp_path, "-q")
    assert code == 0, stderr  # a skip for want of --calib is not a failure
    manifest = json.loads((tmp_path / "k3" / "manifest.json").read_text())
    built = {(a["format"], a["variant"]) for a in manifest["artifacts"]}
    assert built == {("tflite", "fp32"), ("tflite", "fp16"), ("tflite", "dynamic"), ("onnx", "fp32"),
                     ("onnx", "int8-dynamic")}
    assert manifest["skipped"] == [{"format": "tflite", "variant": "int8", "reason": "needs --calib"},
                                   {"format": "tflite", "variant": "int16x8", "reason": "needs --calib"},
                                   {"format": "onnx", "variant": "int8-static", "reason": "needs --calib"}]
    assert manifest["calibration"] is None and manifest["failed"] == [] and manifest["rejected"] == []
    assert manifest["validation"]["samples"] == 64 and "random inputs" in manifest["validation"]["data"]
    assert all(a["fidelity"]["samples"] == 64 for a in manifest["artifacts"])
    rows = {line.split()[0] + " " + line.split()[1]: line for line in stdout.splitlines() if "skipped" in line}
    assert {"tflite int8", "tflite int16x8", "onnx int8-static"} <= set(rows), stdout
    assert "skipped (needs --calib): tflite int8, tflite int16x8, onnx int8-static" in stdout
    assert "fidelity against the float model on 64 random inputs" in stdout


def test_a_calibrated_variant_asked_for_by_name_needs_calib(tiny, tmp_path):
    model = tiny["paths"]["keras3_keras"]
    for argv, named in [(("convert", model, "--tflite", "int8"), "--tflite int8"),
                        (("convert", model, "--preset", "int8-full"), "--tflite int8, --onnx int8-static"),
                        (("tune", model, "--tflite", "int8"), "--tflite int8")]:
        line = one_error_line(*run_cli(*argv, "--out", tmp_path)[::2])
        assert named in line and "give --calib" in line, line
    line = one_error_line(*run_cli("debug-quant", model, "--output", tmp_path / "d.json")[::2])
    assert "needs calibration samples" in line and "give --calib" in line, line
    assert list(tmp_path.iterdir()) == []


def test_an_existing_path_wins_over_a_zoo_name_unless_it_is_a_folder_without_a_model(tmp_path, monkeypatch):
    from edgekit import zoo

    monkeypatch.chdir(tmp_path)
    (tmp_path / "digits_cnn").mkdir()  # e.g. an earlier `convert --out .`
    assert zoo.resolve_model("digits_cnn") == (zoo.model_path("digits_cnn"), "digits_cnn")
    (tmp_path / "digits_cnn" / "saved_model.pb").write_bytes(b"")
    assert zoo.resolve_model("digits_cnn") == (Path("digits_cnn"), None)
    assert zoo.resolve_model(None) == (zoo.model_path(zoo.DEFAULT_MODEL), zoo.DEFAULT_MODEL)
