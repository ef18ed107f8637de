"""convert judges every file on samples its quantizer never saw (a fifth of the calibration set,
seeded, when there is no held-out data), and marks a file below its precision's quality threshold
"degraded": kept, benchmarked, exit 0; --strict refuses it (issue 34)."""

import dataclasses

import numpy as np
import pytest

from edgekit.core.config import ConvertConfig
from edgekit.core.errors import EdgekitError
from edgekit.data import holdout
from edgekit.render.table import conversion_table
from edgekit.workflows.convert import convert

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fine_detail(tmp_path_factory):
    """A model whose output is 50x the difference of neighbouring inputs that differ by ~0.006:
    int8's input step (1/255 over [0, 1]) is a third of that signal, so its int8 file gives about
    15 dB, past the 10 dB sanity floor and below the 20 dB quality threshold. The output is 3-D,
    so no shape heuristic takes it for class scores."""
    import tf_keras

    root = tmp_path_factory.mktemp("fine-detail")
    weights = np.zeros((8, 7), np.float32)
    for i in range(7):
        weights[i, i], weights[i + 1, i] = 50.0, -50.0
    model = tf_keras.Sequential([tf_keras.layers.InputLayer((8,), name="x"),
                                 tf_keras.layers.Dense(7, use_bias=False, name="diff"),
                                 tf_keras.layers.Reshape((7, 1), name="y")])
    model.get_layer("diff").set_weights([weights])
    model.save(root / "fine.keras")
    rng = np.random.default_rng(0)
    x = np.clip(rng.uniform(0.1, 0.9, (100, 1)) + rng.normal(0, 0.006, (100, 8)), 0, 1).astype(np.float32)
    np.savez(root / "calib.npz", x=x)
    config = ConvertConfig(model=str(root / "fine.keras"), calib=str(root / "calib.npz"), out=str(root / "out"),
                           tflite=["fp32", "int8"], onnx=[])
    return {"root": root, "x": x, "model": model, "config": config, "manifest": convert(config, verbose=False)}


def test_the_split_is_stated_and_the_figures_are_those_of_the_held_out_samples(fine_detail):
    from ai_edge_litert.interpreter import Interpreter

    manifest = fine_detail["manifest"]
    assert manifest["calibration"]["samples"] == 80
    validation = manifest["validation"]
    assert validation["samples"] == 20 and validation["held_out"] == {
        "of": 100, "fraction": 0.2, "seed": 0, "calibration_samples": 80, "held_out_samples": 20}
    assert validation["data"].startswith("20 held-out calibration samples (80/20 split of 100, seed 0")
    assert "80/20 split of 100" in conversion_table(manifest)
    held = holdout.held_out_part({"x": fine_detail["x"]}, validation["held_out"])["x"]
    reference = fine_detail["model"].predict(held, verbose=0).astype(np.float64)
    artifact = next(a for a in manifest["artifacts"] if a["variant"] == "int8")
    interpreter = Interpreter(model_path=str(fine_detail["root"] / "out" / "fine" / artifact["path"]))
    interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], held.shape)
    interpreter.allocate_tensors()
    [inp], [out] = interpreter.get_input_details(), interpreter.get_output_details()
    scale, zero = inp["quantization"]
    interpreter.set_tensor(inp["index"], np.clip(np.round(held / scale) + zero, -128, 127).astype(np.int8))
    interpreter.invoke()
    scale, zero = out["quantization"]
    outputs = (interpreter.get_tensor(out["index"]).astype(np.float64) - zero) * scale
    sqnr = 10 * np.log10(np.sum(reference ** 2) / np.sum((outputs - reference) ** 2))
    assert artifact["fidelity"]["samples"] == 20
    assert artifact["fidelity"]["outputs"]["y"]["sqnr_db"] == pytest.approx(sqnr, abs=0.05)


def test_an_int8_file_below_the_quality_threshold_is_kept_and_marked_degraded(fine_detail):
    manifest = fine_detail["manifest"]
    by_variant = {a["variant"]: a for a in manifest["artifacts"]}
    assert manifest["rejected"] == [] and set(by_variant) == {"fp32", "int8"}  # kept: above the 10 dB floor
    int8 = by_variant["int8"]
    assert 10 < int8["fidelity"]["sqnr_db"] < 20
    assert int8["quality"]["degraded"] and list(int8["quality"]["outputs"]) == ["y"]
    assert int8["quality"]["min_sqnr_db"] == 20.0 and not by_variant["fp32"]["quality"]["degraded"]
    table = conversion_table(manifest)
    assert "int8 DEGRADED" in table and "fp32 DEGRADED" not in table
    assert "fine_int8.tflite degraded (kept and benchmarked, below the quality threshold): output y: SQNR" in table


def test_min_sqnr_moves_the_threshold_and_strict_refuses_a_degraded_file(fine_detail):
    config = fine_detail["config"]
    lowered = convert(dataclasses.replace(config, out=str(fine_detail["root"] / "lowered"), min_sqnr=10.0),
                      verbose=False)
    int8 = next(a for a in lowered["artifacts"] if a["variant"] == "int8")
    assert not int8["quality"]["degraded"] and int8["quality"]["by"] == "min_sqnr=10"
    strict = dataclasses.replace(config, out=str(fine_detail["root"] / "strict"), strict=True)
    with pytest.raises(EdgekitError, match=r"fine_int8.tflite is degraded: output y: SQNR .* below 20 dB.*min_sqnr"):
        convert(strict, verbose=False)
    assert not (fine_detail["root"] / "strict" / "fine").exists()  # all or nothing

