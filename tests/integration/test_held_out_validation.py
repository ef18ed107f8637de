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
from tests import quantization_models

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fine_detail(tmp_path_factory):
    """The fine-detail model (its int8 file gives about 15 dB) converted to fp32 and int8 TFLite."""
    root = tmp_path_factory.mktemp("fine-detail")
    model, path, calib, x = quantization_models.fine_detail(root)
    config = ConvertConfig(model=str(path), calib=str(calib), out=str(root / "out"), tflite=["fp32", "int8"], onnx=[])
    return {"root": root, "x": x, "model": model, "config": config, "manifest": convert(config, verbose=False)}


def test_the_split_is_stated_and_the_figures_are_those_of_the_held_out_samples(fine_detail):
    from ai_edge_litert.interpreter import Interpreter

    manifest = fine_detail["manifest"]
    assert manifest["calibration"]["samples"] == 80
    validation = manifest["validation"]
    assert validation["samples"] == 20 and validation["held_out"] == {
        "of": 100, "seed": 0, "calibration_samples": 80, "held_out_samples": 20}
    said = ("20 calibration samples held out of 100 (drawn with seed 0; the quantizers calibrated on the other 80)")
    assert validation["data"] == said and said in " ".join(conversion_table(manifest).split())
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



def test_the_benchmark_judges_the_held_out_samples_and_never_recommends_the_degraded_file(fine_detail):
    from edgekit.results.summary import recommend
    from edgekit.workflows.bench import BenchSettings
    from edgekit.workflows.convert import convert_and_measure

    config = dataclasses.replace(fine_detail["config"], out=str(fine_detail["root"] / "benched"))
    settings = BenchSettings(runtime="litert:xnnpack", runs=20, warmup=2, in_process=True)
    manifest, results, _ = convert_and_measure(config, settings, log=lambda m: None, verbose=False, progress=False)
    [model] = results["models"]
    assert model["data"]["samples"] == 20 and "held out of the calibration set" in model["data"]["source"]
    by_variant = {r["variant"]: r for r in model["records"] if r["status"] == "ok"}
    assert set(by_variant) == {"fp32", "int8"}
    assert by_variant["int8"]["quality"]["degraded"] and not by_variant["fp32"]["quality"]["degraded"]
    # the same samples as convert's validation: the same figure
    int8 = next(a for a in manifest["artifacts"] if a["variant"] == "int8")
    assert by_variant["int8"]["fidelity"]["sqnr_db"] == pytest.approx(int8["fidelity"]["sqnr_db"], abs=0.01)
    picked = recommend(model)
    assert picked.row.record["artifact"] == "fine_fp32.tflite" and "not degraded" in picked.line()
