"""Mixed precision found automatically (issue 34, item 3) on a small model whose graph computes its
own log-power front end, as an audio model's in-graph spectrogram does: a fixed filterbank, its
power, log(power + eps), a normalisation, then a small conv head. Full int8 breaks the front end
(the power's int8 range rounds the quiet frames to zero before the log); `convert` names the layers
and the command, and `tune`, without labels, finds the front end to keep in float by the held-out
fidelity alone."""

import json

import numpy as np
import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow  # each test converts and measures several variants

FRAMES, WIDTH, BANDS = 24, 16, 12


def front_end_model(folder):
    """Built-in Keras layers and ops only (no Lambda): it loads without --trust-model-code."""
    import keras

    audio = keras.Input((FRAMES, WIDTH), name="audio")
    t = np.arange(WIDTH)
    basis = np.stack([np.cos(np.pi * (k + 0.5) * (t + 0.5) / WIDTH) for k in range(BANDS)], 1).astype("float32")
    bank = keras.layers.Dense(BANDS, use_bias=False, trainable=False, name="filterbank")
    bands = bank(audio)
    bank.set_weights([basis])
    power = keras.layers.Multiply(name="power")([bands, bands])
    log_power = keras.ops.log(power + 1e-6)  # the front end's log: int8 cannot hold its input's range
    features = keras.layers.LayerNormalization(name="norm")(log_power)
    hidden = keras.layers.Conv1D(16, 3, activation="relu", name="conv")(features)
    hidden = keras.layers.Conv1D(16, 3, activation="relu", name="conv2")(hidden)
    levels = keras.layers.Dense(4, name="level")(hidden)  # per frame: not class scores
    path = folder / "front_end.keras"
    keras.Model(audio, levels).save(path)
    # frames at levels from -60 dB to 0 dB: the quiet ones are what an int8 power rounds away
    rng = np.random.default_rng(0)
    loudness = 10 ** rng.uniform(-3, 0, (100, FRAMES, 1))
    np.save(folder / "calib.npy", (rng.normal(size=(100, FRAMES, WIDTH)) * loudness).astype("float32"))
    return path, folder / "calib.npy"


FRONT_END = {"filterbank", "power", "Add", "Log"}  # the layers up to the log, as the converter names them


def short(name: str) -> str:
    """'functional_1/Log' -> 'Log', 'power_1' -> 'power': the converter's scope and call suffix dropped."""
    name = name.split("/")[-1]
    return name.rsplit("_", 1)[0] if name.rsplit("_", 1)[-1].isdigit() else name


def test_tune_keeps_the_front_end_float_and_clears_the_threshold(tmp_path):
    model, calib = front_end_model(tmp_path)
    # plain int8 is what breaks: convert says so, ranks the log worst and names the command that fixes it
    code, stdout, stderr = run_cli("convert", model, "--calib", calib, "--tflite", "int8",
                                   "--onnx", "none", "--no-bench", "--out", tmp_path / "convert")
    manifest = json.loads((tmp_path / "convert" / "front_end" / "manifest.json").read_text())
    [judged] = manifest["artifacts"] + manifest["rejected"]
    assert judged["fidelity"]["sqnr_db"] < 20  # below the int8 quality threshold (or its floor)
    hint = (judged.get("quality") or {}).get("hint") or judged.get("hint")
    assert short(hint["worst_layers"][0]) == "Log", hint
    assert hint["command"] == f"edgekit tune {model} --calib {calib} --tflite int8,int8-keep,fp32"
    assert {short(n) for n in hint["keep_float"]} == FRONT_END
    assert hint["command"] in " ".join(stderr.split()) + " ".join(stdout.split())

    code, stdout, stderr = run_cli(*hint["command"].split()[1:], "--onnx", "int8-static", "--runs", "20", "--warmup",
                                   "2", "--out", tmp_path, "-q")
    report = json.loads((tmp_path / "front_end-tuned" / "tune.json").read_text())
    assert code == 0, stderr
    assert report["evaluation"] is None and report["judged_on"]["held_out"]["held_out_samples"] == 20
    rows = {r["variant"]: r for r in report["candidates"]}
    assert not rows["int8"]["within_tolerance"] and rows["int8"]["quality"]["degraded"]
    found = report["mixed_precision"]
    assert found["cleared"] and {short(n) for n in found["layers"]} == FRONT_END  # the front end is one step
    assert short(found["trials"][0]["layers"][0]) == "Log" and not found["trials"][0]["cleared"]  # alone first
    # int8 inputs round the quiet frames away before any layer: the set is found with float I/O
    assert found["io"] == "float" and not any(t["cleared"] for t in found["trials"] if t["io"] == "int")
    kept = rows[f"int8-keep{len(found['layers'])}"]
    assert kept["within_tolerance"] and kept["kept_float"] == found["layers"]
    assert min(kept["sqnr_db"].values()) >= 20 and found["held_out_sqnr_db"] == kept["sqnr_db"]
    assert found["fp32_p50_us"] > 0 and found["p50_us"] > 0 and found["size_bytes"] < found["fp32_size_bytes"]
    # ONNX int8-static gets the same layers, by onnxruntime's nodes_to_exclude
    onnx_row = rows["int8-static"]
    assert onnx_row["kept_float"] == found["layers"] and onnx_row["within_tolerance"], onnx_row
    assert f"int8 with {', '.join(found['layers'])} in float and float inputs and outputs clears the bar" in " ".join(
        stdout.split())


def test_a_tune_without_labels_judges_by_held_out_sqnr(tmp_path):
    """No labelled data: a fifth of the calibration set is held out, and a candidate passes when every
    output reaches --min-sqnr there; set between int8's and fp32's fidelity, only fp32 passes."""
    import keras

    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(3)])
    model.save(tmp_path / "mlp.keras")
    np.save(tmp_path / "calib.npy", np.random.default_rng(0).normal(size=(60, 16)).astype("float32"))
    code, stdout, stderr = run_cli("tune", tmp_path / "mlp.keras", "--calib", tmp_path / "calib.npy", "--tflite",
                                   "int8,fp32", "--onnx", "none", "--min-sqnr", "60", "--runs", "10", "--warmup", "1",
                                   "--out", tmp_path, "-q")
    assert code == 0, stderr
    report = json.loads((tmp_path / "mlp-tuned" / "tune.json").read_text())
    assert report["evaluation"] is None
    assert report["judged_on"]["held_out"] == {"of": 60, "seed": 0, "calibration_samples": 40,
                                               "held_out_samples": 20}
    assert "--min-sqnr 60 dB" in report["judged_on"]["by"]
    rows = {r["variant"]: r for r in report["candidates"]}
    for row in rows.values():
        assert row["measured"]["fidelity"]["samples"] == 20 and row["drop_points"] is None
        assert row["within_tolerance"] == (min(row["sqnr_db"].values()) >= 60)
    assert not rows["int8"]["within_tolerance"] and rows["fp32"]["within_tolerance"]
    assert report["pick"]["variant"] == "fp32" and "worst SQNR dB" in stdout

    # with a bar int8 clears, int8 is judged fine (and faster or not, it may be picked)
    code, stdout, stderr = run_cli("tune", tmp_path / "mlp.keras", "--calib", tmp_path / "calib.npy", "--tflite",
                                   "int8", "--onnx", "none", "--min-sqnr", "15", "--runs", "10", "--warmup", "1",
                                   "--out", tmp_path / "low", "-q")
    assert code == 0, stderr
    [row] = json.loads((tmp_path / "low" / "mlp-tuned" / "tune.json").read_text())["candidates"]
    assert row["within_tolerance"] and min(row["sqnr_db"].values()) >= 15


def test_a_tune_without_labels_or_calibration_is_refused(tmp_path):
    import keras

    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save(tmp_path / "tiny.keras")
    code, _, stderr = run_cli("tune", tmp_path / "tiny.keras", "--tflite", "fp32", "--onnx", "none",
                              "--out", tmp_path, "-q")
    assert code == 2 and "give --calib" in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert not (tmp_path / "tiny-tuned").exists()
