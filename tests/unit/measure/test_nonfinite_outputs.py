"""A model whose outputs hold NaN or inf is broken, not measured: edgekit never writes a
non-finite figure (the results reader refuses them, issue 15), it records the reason instead."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgekit.cli import main
from edgekit.core.errors import ConversionFailed, EdgekitError
from edgekit.measure import fidelity
from edgekit.results import schema

REFERENCE = {"probs": np.array([[0.1, 0.9], [0.8, 0.2], [0.5, 0.5]], np.float32)}


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_fidelity_refuses_non_finite_outputs_instead_of_recording_them(bad):
    candidate = {"probs": REFERENCE["probs"].copy()}
    candidate["probs"][1, 0] = bad
    with pytest.raises(ConversionFailed, match="outputs NaN or inf on 1 of 3 samples"):
        fidelity.compare(REFERENCE, candidate)
    with pytest.raises(EdgekitError, match="the float model outputs NaN or inf on 1 of 3 samples"):
        fidelity.compare(candidate, REFERENCE)
    assert fidelity.compare(REFERENCE, REFERENCE)["sqnr_db"] == fidelity.SQNR_LIMIT_DB  # finite, as documented


def test_a_nan_figure_is_outside_every_floor():
    """NaN compares false with everything: `sqnr < floor` was false, and the floor passed it."""
    assert "below the 10 dB floor" in fidelity.outside_floor({"sqnr_db": float("nan"), "top1_agreement": None}, "int8")
    assert "below the 80% floor" in fidelity.outside_floor({"sqnr_db": 40.0, "top1_agreement": float("nan")}, "int8")


@pytest.fixture(scope="module")
def nan_model(tmp_path_factory):
    """A real TFLite file whose output is log(x - 2): NaN for every input in [0, 1)."""
    from edgekit.core.lazy_imports import tensorflow

    tf = tensorflow()
    root = tmp_path_factory.mktemp("nan-model")
    run = tf.function(lambda x: tf.math.log(x - 2.0)).get_concrete_function(tf.TensorSpec([1, 4], tf.float32))
    (root / "nan.tflite").write_bytes(tf.lite.TFLiteConverter.from_concrete_functions([run]).convert())
    np.save(root / "inputs.npy", np.random.default_rng(0).random((8, 4), dtype=np.float32))
    return root


def test_bench_records_a_file_with_nan_outputs_as_failed_and_writes_strict_json(nan_model, tmp_path):
    out = tmp_path / "results.json"
    assert main(["bench", str(nan_model / "nan.tflite"), "--data", str(nan_model / "inputs.npy"), "--runtime",
                 "litert:xnnpack", "--runs", "5", "--warmup", "1", "--output", str(out), "-q"]) == 0
    [record] = json.loads(out.read_text(), parse_constant=pytest.fail)["models"][0]["records"]  # no NaN literal
    assert record["status"] == "failed" and record["reason"] == "outputs NaN or inf on 8 of 8 evaluation samples"
    assert schema.read(out)["models"][0]["records"][0]["status"] == "failed"  # and it reads back


def test_labels_with_nan_are_refused_as_data(nan_model, tmp_path, capsys):
    inputs = np.load(nan_model / "inputs.npy")
    np.savez(tmp_path / "labelled.npz", x=inputs, y=np.where(np.arange(8) == 3, np.nan, 1.0))
    assert main(["bench", str(nan_model / "nan.tflite"), "--data", str(tmp_path / "labelled.npz"), "--runs", "5",
                 "-q"]) == 2
    assert "y must be finite numbers" in capsys.readouterr().err
