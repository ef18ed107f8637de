"""TFLite Micro as a target: the exact arena, failures that name their cause, and board budgets."""

import json

import numpy as np
import pytest

from edgekit.core.errors import EdgekitError
from edgekit.runtimes import RUNTIMES
from edgekit.runtimes.tflm import _try_arena
from tests.conftest import run_cli
from tests.require import require

pytestmark = pytest.mark.slow  # each test converts and runs TFLite Micro's arena search
require("tflite-micro")


@pytest.fixture(scope="module")
def odd_models(tmp_path_factory):
    """Two tiny TFLite files TFLite Micro cannot run: one with an op it has no kernel for (sort is
    TOPK_V2), one int8 softmax whose input scale is so small that its kernel aborts the process
    (as MobileNetV2 with random weights does)."""
    from edgekit.core.lazy_imports import tensorflow

    tf = tensorflow()
    root = tmp_path_factory.mktemp("micro")

    def save(fn, name, calibrate=False):
        concrete = tf.function(fn, input_signature=[tf.TensorSpec([1, 8], tf.float32)]).get_concrete_function()
        converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete])
        if calibrate:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: ([np.random.default_rng(i).random((1, 8), np.float32)]
                                                        for i in range(20))
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = converter.inference_output_type = tf.int8
        (root / name).write_bytes(converter.convert())
        return root / name

    flat = np.random.default_rng(0).normal(size=(8, 10)).astype(np.float32) * 1e-9
    return {"sort": save(lambda x: tf.sort(x), "sort.tflite"),
            "abort": save(lambda x: tf.nn.softmax(tf.matmul(x, flat)), "flat_softmax_int8.tflite", calibrate=True)}


def test_the_arena_is_the_smallest_that_allocates_and_outputs_match_litert(converted):
    model = converted["folder"] / "digits_cnn_int8.tflite"
    with RUNTIMES["tflm"].open(model) as micro:
        details = micro.details()
        x = {micro.inputs[0].name: np.random.default_rng(0).random((20, 8, 8, 1), np.float32) * 16}
        got = micro.predict(x)
    arena = details["arena_bytes"]
    assert arena == details["arena_reported_bytes"]  # the interpreter's own recording allocator agrees
    assert _try_arena(model, arena)[0] and not _try_arena(model, arena - 1)[0]  # one byte less fails
    assert details["flash_bytes"] == model.stat().st_size and "not MCU time" in details["time"]
    with RUNTIMES["litert"].open(model, kernels="builtin") as litert:
        expected = litert.predict(x)
    name = next(iter(got))
    scale = micro.outputs[0].scale[0]
    assert np.abs(got[name] - expected[name]).max() <= 2 * scale + 1e-9  # within 2 LSB of LiteRT


def test_an_op_without_a_kernel_and_an_abort_are_named_failures(odd_models):
    with pytest.raises(EdgekitError, match="no kernel for op.* TOPK_V2"):
        RUNTIMES["tflm"].open(odd_models["sort"])
    code, stdout, stderr = run_cli("bench", odd_models["abort"], "--runtime", "tflm", "--output",
                                   odd_models["abort"].parent / "abort.json")
    assert code == 0, stderr
    record = json.loads((odd_models["abort"].parent / "abort.json").read_text())["models"][0]["records"][0]
    assert record["status"] == "failed" and "crashed with SIGABRT" in record["reason"], record


def test_a_board_budget_says_which_files_fit_with_the_headroom(converted, tmp_path):
    folder = converted["folder"]
    code, stdout, stderr = run_cli("bench", folder, "--runtime", "tflm", "--mcu", "arduino-nano-33-ble-sense",
                                   "--output", tmp_path / "fits.json")
    assert code == 0, stderr
    rows = {r["artifact"]: r for r in json.loads((tmp_path / "fits.json").read_text())["models"][0]["records"]}
    int8 = rows["digits_cnn_int8.tflite"]
    assert int8["mcu"] == {"board": "arduino-nano-33-ble-sense", "fits": True,
                           "ram_headroom_bytes": 256 * 1024 - int8["details"]["arena_bytes"],
                           "flash_headroom_bytes": 1024 * 1024 - int8["details"]["flash_bytes"]}
    assert "fits arduino-nano-33-ble-sense" in " ".join(stdout.split())  # notes wrap at the width
    for fmt in ("md", "html"):  # the reports say it too
        code, _, stderr = run_cli("report", tmp_path / "fits.json", "--format", fmt, "--output", tmp_path / f"r.{fmt}")
        assert code == 0, stderr
        assert "fits arduino-nano-33-ble-sense: RAM" in (tmp_path / f"r.{fmt}").read_text()
    assert rows["digits_cnn_fp16.tflite"]["status"] == "failed"  # float16 weights: not for TFLite Micro

    arena = int8["details"]["arena_bytes"]
    code, stdout, stderr = run_cli("bench", folder / "digits_cnn_int8.tflite", "--mcu-ram", f"{arena - 1}",
                                   "--mcu-flash", "1MB", "--output", tmp_path / "tight.json")
    assert code == 0, stderr
    record = next(r for r in json.loads((tmp_path / "tight.json").read_text())["models"][0]["records"]
                  if r["runtime"] == "tflm")
    assert record["mcu"]["fits"] is False and record["mcu"]["ram_headroom_bytes"] == -1
    assert "does NOT fit custom: RAM 1 B short" in " ".join(stdout.split())


@pytest.mark.parametrize("args, expected", [
    (["--mcu", "arduino-nano"], "did you mean arduino-nano-33-ble-sense"),
    (["--mcu-ram", "256KB"], "go together"),
    (["--mcu-ram", "lots", "--mcu-flash", "1MB"], "is not a size"),
])
def test_a_bad_budget_is_one_line(converted, args, expected):
    code, _, stderr = run_cli("bench", converted["folder"] / "digits_cnn_int8.tflite", *args)
    assert code == 2 and expected in stderr and "Traceback" not in stderr


def test_tune_for_a_board_picks_only_a_file_that_fits(tmp_path):
    code, stdout, stderr = run_cli("tune", "--mcu", "sparkfun-edge", "--tflite", "fp16,int8", "--runs", "20",
                                   "--out", tmp_path / "fits")
    assert code == 0, stderr
    report = json.loads((tmp_path / "fits" / "digits_cnn-tuned" / "tune.json").read_text())
    rows = {r["variant"]: r for r in report["candidates"]}
    assert rows["fp16"]["mcu"]["fits"] is False and rows["fp16"]["within_tolerance"] is False  # no TFLite Micro kernel
    assert report["pick"]["variant"] == "int8" and report["pick"]["mcu"]["fits"] is True
    assert "fits sparkfun-edge" in " ".join(stdout.split())

    code, stdout, stderr = run_cli("tune", "--mcu-ram", "4KB", "--mcu-flash", "1MB", "--tflite", "int8",
                                   "--runs", "20", "--out", tmp_path / "tight")
    assert code == 1 and "and fits custom" in stderr, stderr
