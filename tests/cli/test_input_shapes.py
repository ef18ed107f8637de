"""Models whose inputs are not fixed, batch-first floats (issue 30, items 1 and 2), measured as a
user would: free height and width, a recurrent state and a sample-rate scalar, integer ids. Each
model is built here (tests/shaped_models.py)."""

import json

import numpy as np
import pytest

from tests.conftest import run_cli
from tests.shaped_models import free_hw_onnx, token_ids_onnx, vad_like_onnx

FAST = ("--runtime", "onnxruntime:cpu", "--runs", "5", "--warmup", "1", "--batch", "4")


def bench(*args):
    code, stdout, stderr = run_cli("bench", *args, *FAST, "--json", timeout=300)
    assert code == 0, stderr
    (model,) = json.loads(stdout)["models"]
    (record,) = model["records"]
    assert record["status"] == "ok", record
    return model, record


@pytest.mark.slow
def test_a_free_height_and_width_nothing_sizes_is_refused_in_one_line(tmp_path):
    model = free_hw_onnx(tmp_path / "detector.onnx")
    code, stdout, stderr = run_cli("bench", model, *FAST, "--output", tmp_path / "r.json")
    assert code == 2 and not stdout and not (tmp_path / "r.json").exists()
    (line,) = stderr.strip().splitlines()
    assert line == (f"edgekit bench: error: model {model} has free dimensions (input axis 2, input axis 3) and nothing "
                    "gives their sizes: give them, e.g. --input-shape input:1,3,?,? (each ? a size), or give real "
                    "samples with --data")
    code, _, stderr = run_cli("bench", model, *FAST, "--input-shape", "input:1,3,64")
    assert code == 2 and stderr.strip().splitlines() == [(
        "edgekit bench: error: --input-shape input:1,3,64 does not fit input input [?, 3, ?, ?]: give 4 sizes, the "
        "fixed ones as they are")]
    code, _, stderr = run_cli("bench", model, *FAST, "--input-shape", "input:1x3x64x64")
    assert code == 2 and "--input-shape input:1x3x64x64 is not NAME:D0,D1,..." in stderr


@pytest.mark.slow
def test_a_free_height_and_width_is_measured_at_the_shape_given_or_the_datas(tmp_path):
    model = free_hw_onnx(tmp_path / "detector.onnx")
    found, _ = bench(model, "--input-shape", "input:1,3,64,64")
    assert found["data"]["input_shapes"] == {"input": [1, 3, 64, 64]}
    assert found["data"]["shapes_from"] == "--input-shape" and found["data"]["random"]
    small, _ = bench(model, "--input-shape", "1,3,8,8")  # one input: no name needed
    assert small["data"]["input_shapes"] == {"input": [1, 3, 8, 8]}
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((6, 3, 40, 48), dtype=np.float32))
    from_data, _ = bench(model, "--data", tmp_path / "x.npy")
    assert from_data["data"]["input_shapes"] == {"input": [1, 3, 40, 48]} and from_data["data"]["shapes_from"] == "the data"
    # the table says at which shape, since the file does not
    code, stdout, stderr = run_cli("bench", model, *FAST, "--input-shape", "input:1,3,64,64")
    assert code == 0, stderr
    assert "at input [1, 3, 64, 64] (sized by --input-shape; the file leaves them free)" in " ".join(stdout.split())


@pytest.mark.slow
def test_a_voice_activity_detector_runs_with_its_state_and_rate_given_once_or_at_random(tmp_path):
    model = vad_like_onnx(tmp_path / "vad.onnx")
    rng = np.random.default_rng(0)
    frames = rng.random((7, 512), dtype=np.float32)
    np.savez(tmp_path / "once.npz", input=frames, state=np.zeros((2, 1, 128), np.float32), sr=np.array(16000))
    found, record = bench(model, "--data", tmp_path / "once.npz")
    assert found["data"]["samples"] == 7
    assert found["data"]["input_shapes"] == {"input": [1, 512], "state": [2, 1, 128], "sr": []}
    assert record["throughput"]["batch"] == 1 and "fed whole" in record["throughput"]["note"]
    np.savez(tmp_path / "each.npz", input=frames, state=rng.random((7, 2, 1, 128), dtype=np.float32),
             sr=np.full(7, 8000, np.int64))
    found, _ = bench(model, "--data", tmp_path / "each.npz")
    assert found["data"]["samples"] == 7 and found["data"]["input_shapes"]["state"] == [2, 1, 128]
    found, _ = bench(model, "--input-shape", "input:1,256", "--input-shape", "state:2,1,128")
    assert found["data"]["random"] and found["data"]["input_shapes"] == {"input": [1, 256], "state": [2, 1, 128],
                                                                          "sr": []}
    code, _, stderr = run_cli("bench", model, *FAST)
    assert code == 2 and ("free dimensions (input axis 1, state axis 1)" in stderr
                          and "--input-shape input:1,? --input-shape state:2,?,128" in stderr)


@pytest.mark.slow
def test_integer_inputs_get_small_non_negative_ids(tmp_path):
    """Gather fails on an id outside its table: random ids that run are in [0, 10)."""
    model = token_ids_onnx(tmp_path / "ids.onnx", vocabulary=10)
    found, _ = bench(model)
    assert found["data"]["random"] and found["data"]["input_shapes"] == {"ids": [1, 6]}
    np.save(tmp_path / "ids.npy", np.arange(24, dtype=np.int64).reshape(4, 6) % 10)  # int64 data, int32 input
    found, _ = bench(model, "--data", tmp_path / "ids.npy")
    assert found["data"]["samples"] == 4
    np.save(tmp_path / "float.npy", np.zeros((4, 6), np.float32))
    code, _, stderr = run_cli("bench", model, *FAST, "--data", tmp_path / "float.npy")
    assert code == 2 and "is float32 but input 'ids' takes int32" in stderr
