"""Every limit bounds the whole run (issue 28): a 240k-op file is refused in one line by --max-ops
before anything parses an op; random inputs of a 2^40-element input are refused by
--max-data-size before they are allocated; --max-bench-time bounds the float model's evaluation
too. Outcomes are asserted; the time bounds are generous ones that the code before the limits
broke by minutes."""

import numpy as np
import pytest

from tests.conftest import run_cli
from tests.corpus.cases import CORPUS
from tests.corpus.make_corpus import MANY_OPS, chain_tflite


@pytest.fixture(scope="module")
def many_ops(tmp_path_factory):
    """A real .tflite of 240k RELUs, 9.6 MB (bench took 179 s on it, inspect 50 s and more)."""
    path = tmp_path_factory.mktemp("many-ops") / "many_ops.tflite"
    path.write_bytes(chain_tflite(MANY_OPS))
    return path


def test_a_240k_op_file_is_refused_by_the_op_limit_in_one_line(many_ops, tmp_path):
    for argv in (("bench", many_ops, "--max-bench-time", "10s", "--output", tmp_path / "r.json"),
                 ("inspect", many_ops), ("export", many_ops, "--out", tmp_path / "c")):
        code, _, stderr = run_cli(*argv, "-q" if argv[0] != "inspect" else "--json", timeout=120)
        assert code == 2, stderr
        assert stderr.splitlines() == [
            f"edgekit {argv[0]}: error: model {many_ops} holds 240,000 ops, over the 100,000 limit: raise it with "
            "--max-ops (or EDGEKIT_MAX_OPS) if that is expected"]
    assert not list(tmp_path.iterdir())


def test_the_op_limit_is_an_option_and_an_environment_variable(tmp_path):
    path = tmp_path / "chain.tflite"
    path.write_bytes(chain_tflite(2000))
    code, stdout, stderr = run_cli("inspect", path)
    assert code == 0 and "RELU                         2000" in stdout, stderr  # a real file, read whole
    code, _, stderr = run_cli("inspect", path, env={"EDGEKIT_MAX_OPS": "1000"})
    assert code == 2 and "holds 2,000 ops, over the 1,000 limit" in stderr
    code, _, stderr = run_cli("inspect", path, "--max-ops", "2000", env={"EDGEKIT_MAX_OPS": "1000"})
    assert code == 0, stderr  # the option wins


def test_random_inputs_of_a_2_40_element_input_are_refused_before_they_are_allocated(tmp_path):
    model = CORPUS / "limits" / "huge_input.onnx"
    code, stdout, stderr = run_cli("bench", model, "--output", tmp_path / "r.json")
    assert code == 2, stderr  # was exit 70: MemoryError, 256 TiB
    (line,) = [line for line in stderr.splitlines() if "error" in line]
    assert line.startswith(f"edgekit bench: error: model {model}: 64 random samples for its input 't0' "
                           "(each [1099511627776] float32) would take")
    assert line.endswith("over the 4.0 GB data limit: give real samples with --data, or raise --max-data-size if "
                         "that is expected")
    assert "Traceback" not in stderr and not (tmp_path / "r.json").exists()


@pytest.mark.slow
def test_the_float_models_evaluation_counts_against_the_time_limit(tmp_path):
    """40,000 samples of 8x8x1 (10 MB) through a float model of 3.5 GFLOP a sample (48 convolutions
    of 64 channels on 32x32): over 20 minutes of evaluation on 2 cores, minutes on 16, before the
    first row. The run stops at the limit, in one line; the code before counted none of it."""
    import keras

    layers = [keras.Input((8, 8, 1)), keras.layers.UpSampling2D(4), keras.layers.Conv2D(64, 3, padding="same")]
    layers += [keras.layers.Conv2D(64, 3, padding="same", activation="relu") for _ in range(48)]
    model = keras.Sequential(layers + [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)])
    model.save(tmp_path / "slow.keras")
    np.save(tmp_path / "many.npy", np.random.default_rng(0).random((40_000, 8, 8, 1), dtype=np.float32))
    code, _, stderr = run_cli("bench", tmp_path / "slow.keras", "--data", tmp_path / "many.npy", "--max-bench-time",
                              "30s", "-q", timeout=400)
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert lines[-1].startswith(f"edgekit bench: error: the benchmark of {tmp_path / 'slow.keras'} ran past its 30 s "
                                "limit while evaluating the float model on 40000 samples ("), stderr
    assert lines[-1].endswith(" done): give fewer samples with --data, or raise --max-bench-time")


@pytest.mark.slow
def test_a_convert_whose_benchmark_cannot_start_within_the_limit_keeps_its_files(tmp_path):
    """Loading the float model counts against --max-bench-time: a limit it passes before the first
    row leaves the benchmark unmeasured (exit 1, one line naming the folder), never the files lost."""
    code, _, stderr = run_cli("convert", "digits_mlp", "--tflite", "fp32", "--onnx", "none", "--max-bench-time", "0.01s",
                              "--out", tmp_path, "-q")
    assert code == 1, stderr
    folder = tmp_path / "digits_mlp"
    assert sorted(p.name for p in folder.iterdir()) == ["digits_mlp_fp32.tflite", "manifest.json"]
    (line,) = stderr.strip().splitlines()
    assert line.startswith(f"edgekit convert: the benchmark of {folder} ran past its 0.01 s limit while loading")
    assert line.endswith(f"the files are written to {folder}, not measured: "
                                                                 f"edgekit bench {folder} measures them")
