"""The benchmark engine on the default model's real artifacts, through the CLI as users run it."""

import json
import math

import numpy as np
import pytest

from edgekit.measure import timing
from edgekit.models.loading import predict_batch
from edgekit.results import schema
from edgekit.runtimes import RUNTIMES
from tests.conftest import NPU_SKIP, REPO, folder_state, run_cli

pytestmark = pytest.mark.slow

CARD_ACCURACY = json.loads((REPO / "models/digits_cnn/card.json").read_text())["metric"]["value"]
RUNS_EVERYWHERE = {"keras:cpu", "litert:xnnpack", "litert:builtin", "litert-compiled:cpu", "onnxruntime:cpu"}


@pytest.fixture(scope="module")
def results(converted):
    """What `edgekit convert` measured at its end (every default target, runs chosen by the median's precision)."""
    return json.loads((converted["folder"] / "results.json").read_text())


def records(results):
    return results["models"][0]["records"]


def test_convert_benchmarks_every_artifact_on_every_runtime(results, converted):
    by_target = {}
    for r in records(results):
        by_target.setdefault(r["target"], []).append(r)
    assert RUNS_EVERYWHERE <= set(by_target)
    files = {a["path"] for a in converted["manifest"]["artifacts"]}
    for target in RUNS_EVERYWHERE - {"keras:cpu"}:
        fmt = "onnx" if target.startswith("onnx") else "tflite"
        ran = {r["artifact"] for r in by_target[target] if r["status"] == "ok"}
        expected = {f for f in files if f.endswith(fmt)}
        if target == "litert-compiled:cpu":  # its Python buffers take no int16 tensors
            expected.discard("digits_cnn_int16x8.tflite")
        assert ran == expected, target
    assert [r["status"] for r in by_target["keras:cpu"]] == ["ok"]
    assert "the benchmark" not in converted["stdout"] and "p50" in converted["stdout"]
    assert "\nrecommended: digits_cnn_" in converted["stdout"]  # the fastest file within 1 point


def test_files_a_cpu_target_defeats_are_marked_where_they_ran(results, converted):
    """int16x8 on LiteRT's reference kernels, fp16 computed in fp32 (issue 31); none else."""
    marked = {(r["artifact"], r["target"]): r["caveat"] for r in records(results) if r.get("caveat")}
    assert marked[("digits_cnn_int16x8.tflite", "litert:xnnpack")].startswith("reference kernels on this CPU")
    assert marked[("digits_cnn_fp16.tflite", "litert:xnnpack")].startswith("computes in fp32 on this CPU")
    assert {artifact.rsplit("_", 1)[1] for artifact, _ in marked} == {"int16x8.tflite", "fp16.tflite"}
    assert "tflite int16x8 on litert:xnnpack" in " ".join(converted["stdout"].split())


def test_every_record_that_did_not_run_says_why(results):
    for r in records(results):
        if r["status"] != "ok":
            assert r["status"] in ("skipped", "failed") and len(r["reason"]) > 10, r
    compiled_int16 = next(r for r in records(results) if r["target"] == "litert-compiled:cpu"
                          and r["artifact"] == "digits_cnn_int16x8.tflite")
    assert compiled_int16["status"] == "failed" and "int16" in compiled_int16["reason"]
    npu = [r for r in records(results) if r["target"] == "litert-compiled:npu"]
    assert npu and all(r["status"] == "skipped" and NPU_SKIP in r["reason"] for r in npu)


def test_accuracy_matches_the_card_and_fidelity_is_against_the_float_model(results):
    model = results["models"][0]
    assert model["data"]["samples"] == 360 and model["data"]["metric"] == "accuracy"
    assert model["data"]["float_score"] == pytest.approx(CARD_ACCURACY, abs=1e-4)
    for r in records(results):
        if r["status"] != "ok":
            continue
        assert r["accuracy"]["value"] == pytest.approx(CARD_ACCURACY, abs=0.006), (r["artifact"], r["target"])
        if r["format"] == "keras":
            assert r["accuracy"]["drop_points"] == 0 and r["fidelity"] is None
            continue
        fid = r["fidelity"]
        assert fid["samples"] == 360 and fid["top1_agreement"] >= 0.99
        assert fid["sqnr_db"] > (100 if r["variant"] == "fp32" else 30), (r["artifact"], r["target"])
        assert isinstance(fid["outputs"]["probs"]["flipped_samples"], list)


def test_latency_throughput_memory_and_environment_are_recorded(results):
    env = results["environment"]
    assert env["cpu"]["cores"] >= 1 and env["versions"]["ai-edge-litert"] and env["versions"]["onnxruntime"]
    assert results["schema_version"] == schema.SCHEMA_VERSION and results["settings"]["runs"] is None
    assert schema.parse(results) == results  # what the engine writes is what the readers check
    files = {a["name"]: a for a in results["models"][0]["artifacts"]}
    assert files["digits_cnn_int8.tflite"]["inputs"][0]["dtype"] == "int8"
    assert files["digits_cnn_int8.tflite"]["inputs"][0]["scale"][0] > 0
    assert results["models"][0]["reference"]["size_bytes"] == files["model.keras"]["size_bytes"]
    for r in records(results):
        if r["status"] != "ok":
            continue
        lat = r["latency_us"]
        assert lat["stopped_by"] in ("precise", "share") and lat["runs"] >= timing.MIN_SHARE_RUNS
        if lat["stopped_by"] == "precise":  # --runs auto: until the median is known to ±2%
            assert lat["median_ci"] <= timing.PRECISION and lat["runs"] >= timing.MIN_AUTO_RUNS
        assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
        assert r["cold"]["cold_start_us"] >= r["cold"]["first_inference_us"] > 0
        assert r["memory"]["peak_rss_bytes"] > 0
        assert r["size_bytes"] > 0 and r["details"]
        if r["runtime"] != "keras":
            assert r["threads"] == 1 and r["details"]["threads"] == 1
    int8 = next(r for r in records(results) if r["target"] == "litert:xnnpack"
                and r["artifact"] == "digits_cnn_int8.tflite")
    assert int8["throughput"]["batch"] == 32 and "note" not in int8["throughput"]  # resized
    assert int8["gzip_bytes"] < int8["size_bytes"]


def test_the_held_out_samples_run_in_a_few_calls_not_one_each(converted):
    """Evaluation is batched: the file's session runs the 360 samples predict_batch at a time."""
    samples = {"image": np.zeros((360, 8, 8, 1), np.float32)}
    with RUNTIMES["litert"].open(converted["folder"] / "digits_cnn_int8.tflite", threads=1) as session:
        calls, invoke = [], session.invoke
        session.invoke = lambda: (calls.append(session.batch), invoke())
        outputs = session.predict(samples)
    assert len(outputs["probs"]) == 360
    assert len(calls) == math.ceil(360 / predict_batch(samples)) < 360 and sum(calls) >= 360  # batches, maybe padded


def test_bench_a_file_with_named_kernels_threads_and_unlabelled_data(converted, tmp_path):
    out = tmp_path / "r.json"
    code, stdout, stderr = run_cli(
        "bench", converted["folder"] / "digits_cnn_int8.tflite", "--runtime",
        "litert:xnnpack,litert:default-kernels", "--threads", "1,2", "--data",
        REPO / "calibration_data/digits_cnn.npz", "--runs", "30", "--warmup", "5", "--output", out)
    assert code == 0, stderr
    found = json.loads(out.read_text())
    rows = found["models"][0]["records"]
    assert [(r["target"], r["threads"]) for r in rows] == [
        ("litert:xnnpack", 1), ("litert:xnnpack", 2), ("litert:builtin", 1), ("litert:builtin", 2)]
    assert all(r["status"] == "ok" and r["latency_us"]["runs"] == 30 for r in rows)
    assert rows[1]["details"] == {"threads": 2, "kernels": "xnnpack"}
    data = found["models"][0]["data"]
    assert data["samples"] == 200 and not data["labelled"] and data["metric"] is None
    assert all(r["accuracy"] is None and r["fidelity"]["sqnr_db"] > 30 for r in rows)  # vs the manifest's float
    assert "litert:builtin x2" in stdout


def test_reference_kernels_onnx_batch_a_missing_delegate_and_no_npu(converted, tmp_path):
    code, stdout, stderr = run_cli(
        "bench", converted["folder"], "--runtime",
        "litert:reference,litert:delegate,onnxruntime:cpu,litert-compiled:npu", "--dispatch-library", tmp_path,
        "--delegate", "libedgetpu.so.1", "--delegate-option", "device=usb", "--runs", "10",
        "--warmup", "1", "--batch", "8", "--output", tmp_path / "r.json")
    assert code == 0, stderr
    rows = json.loads((tmp_path / "r.json").read_text())["models"][0]["records"]
    reference = [r for r in rows if r["target"] == "litert:reference"]
    assert reference and all(r["status"] == "ok" for r in reference)
    delegate = [r for r in rows if r["target"] == "litert:delegate"]
    assert delegate and all(r["status"] == "skipped" and "cannot open shared object file" in r["reason"]
                            for r in delegate)  # the loader's own message
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
    npu = [r for r in rows if r["target"] == "litert-compiled:npu" and r["artifact"] != "digits_cnn_int16x8.tflite"]
    assert npu and all(r["status"] == "skipped" and "NPU accelerator could not be loaded" in r["reason"]
                       for r in npu)  # not a silent run on the CPU
    onnx = [r for r in rows if r["target"] == "onnxruntime:cpu"]
    assert onnx and all(r["throughput"]["batch"] == 8 for r in onnx)
    assert "litert:delegate x1 skipped" in " ".join(stdout.split())


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
@pytest.mark.parametrize("suffix", ["tflite", "onnx"])
def test_a_damaged_model_is_a_clear_error(converted, tmp_path, damage, suffix):
    good = (converted["folder"] / f"digits_cnn_fp32.{suffix}").read_bytes()
    bad = tmp_path / f"model.{suffix}"
    bad.write_bytes(good[: len(good) // 3] if damage == "truncated" else b"\x00garbage" * 64)
    out = tmp_path / "results"
    before = folder_state(out)
    code, stdout, stderr = run_cli("bench", bad, "--output", out / "r.json")
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "model." + suffix in lines[0] and "Traceback" not in stderr, stderr
    assert folder_state(out) == before


def test_bad_bench_arguments(converted, tmp_path):
    cases = [
        (["bench", tmp_path / "none.tflite"], "no such file"),
        (["bench", converted["folder"], "--threads", "0"], "--threads"),
        (["bench", converted["folder"], "--runtime", "tpu"], "unknown runtime"),
        (["bench", converted["folder"], "--runs", "1"], "--runs"),
        (["bench", REPO / "README.md"], "bench takes"),
    ]
    for argv, words in cases:
        code, _, stderr = run_cli(*argv)
        assert code == 2 and words in stderr and "Traceback" not in stderr, (argv, stderr)
        assert len(stderr.strip().splitlines()) == 1, stderr
