import numpy as np
import pytest

from edgekit.measure import fidelity
from edgekit.measure.fidelity import FIDELITY_FLOORS, SQNR_LIMIT_DB, compare, outside_floor


def test_identical_outputs():
    ref = {"p": np.eye(4, dtype=np.float32)}
    fid = compare(ref, {"p": ref["p"].copy()})
    assert fid["max_abs"] == 0 and fid["sqnr_db"] == SQNR_LIMIT_DB and fid["top1_agreement"] == 1.0
    assert outside_floor(fid, "float32") is None


def test_known_error_gives_known_sqnr_and_flips():
    ref = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    out = ref.copy()
    out[2] = [0.0, 1.0]  # one flipped prediction
    fid = compare({"p": ref}, {"p": out})
    assert fid["top1_agreement"] == 0.75 and fid["outputs"]["p"]["flipped_samples"] == [2]
    # signal 4, noise 2: SQNR = 10 log10(2) = 3.01 dB
    assert abs(fid["sqnr_db"] - 10 * np.log10(2)) < 1e-9
    assert "below" in outside_floor(fid, "int8")


def test_regression_output_has_no_top1_and_worst_output_counts():
    ref = {"y": np.linspace(1, 2, 10)[:, None], "z": np.linspace(1, 3, 10)[:, None]}
    out = {"y": ref["y"] + 1e-3, "z": ref["z"] + 1.0}
    fid = compare(ref, out)
    assert fid["top1_agreement"] is None
    assert fid["max_abs"] == pytest.approx(1.0) and fid["sqnr_db"] < 10
    assert outside_floor(fid, "float16") is not None


def test_every_precision_has_a_floor():
    from edgekit.converters import onnx, tflite

    classes = {c for _, c in tflite.PRECISION.values()} | {c for _, c in onnx.PRECISION.values()}
    assert classes <= set(FIDELITY_FLOORS)


def test_a_known_regression_output_has_no_top1_agreement():
    ref = {"reconstruction": np.random.default_rng(0).random((8, 640), dtype=np.float32)}
    assert compare(ref, {"reconstruction": ref["reconstruction"] + 0.01})["top1_agreement"] is not None
    fid = compare(ref, {"reconstruction": ref["reconstruction"] + 0.01}, classifier=False)
    assert fid["top1_agreement"] is None and "flipped_samples" not in fid["outputs"]["reconstruction"]


def test_a_constant_float_output_is_judged_by_max_abs_against_its_range():
    """A randomly initialised 1000-class softmax gives 0.001 for every class on every input: there
    is no signal, so SQNR (0 dB for int8's 1/256 steps) and top-1 agreement mean nothing."""
    reference = {"probs": np.full((20, 1000), 0.001, dtype=np.float32)}
    int8 = {"probs": np.where(np.arange(1000) % 2, 0.0, 1 / 256).astype(np.float32)[None].repeat(20, 0)}
    found = fidelity.compare(reference, int8, classifier=True)
    assert found["constant_outputs"] == ["probs"] and found["top1_agreement"] is None
    constant = found["outputs"]["probs"]["constant"]
    assert constant["spread"] == 0.0 and constant["range"] == 1.0  # rows of probabilities
    assert constant["relative_max_abs"] == pytest.approx(1 / 256 - 0.001)
    assert fidelity.judged_by_max_abs(found)
    assert fidelity.outside_floor(found, "int8") is None  # 0.29% of the range, within int8's 31.6%
    assert "is (near-)constant on these samples" in fidelity.outside_floor(found, "float32")  # over 0.1%


def test_a_constant_output_beside_a_varying_one_leaves_the_varying_one_judged():
    rng = np.random.default_rng(0)
    varying = rng.random((30, 4)).astype(np.float32)
    reference = {"a": varying, "b": np.full((30, 3), 5.0, dtype=np.float32)}
    candidate = {"a": varying + 0.5, "b": reference["b"] + 1e-4}
    found = fidelity.compare(reference, candidate)
    assert found["constant_outputs"] == ["b"] and not fidelity.judged_by_max_abs(found)
    assert found["sqnr_db"] == found["outputs"]["a"]["sqnr_db"]  # the worst of the judged outputs
    assert found["outputs"]["b"]["constant"]["range"] == 5.0  # not probabilities: its magnitude
    assert "SQNR" in fidelity.outside_floor(found, "int8")


def test_outputs_that_vary_are_not_constant():
    rng = np.random.default_rng(1)
    reference = {"probs": rng.dirichlet(np.ones(10), size=50).astype(np.float32)}
    assert "constant_outputs" not in fidelity.compare(reference, reference)
