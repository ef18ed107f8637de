import numpy as np

from edgekit.bench.fidelity import FIDELITY_FLOORS, SQNR_LIMIT_DB, compare, outside_floor


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
    ref = {"y": np.linspace(1, 2, 10)[:, None], "z": np.ones((10, 1))}
    out = {"y": ref["y"] + 1e-3, "z": ref["z"] + 0.5}
    fid = compare(ref, out)
    assert fid["top1_agreement"] is None
    assert fid["max_abs"] == 0.5 and fid["sqnr_db"] < 10
    assert outside_floor(fid, "float16") is not None


def test_every_precision_has_a_floor():
    from edgekit.convert import onnx, tflite

    classes = {c for _, c in tflite.PRECISION.values()} | {c for _, c in onnx.PRECISION.values()}
    assert classes <= set(FIDELITY_FLOORS)


def test_a_known_regression_output_has_no_top1_agreement():
    ref = {"reconstruction": np.random.default_rng(0).random((8, 640), dtype=np.float32)}
    assert compare(ref, {"reconstruction": ref["reconstruction"] + 0.01})["top1_agreement"] is not None
    fid = compare(ref, {"reconstruction": ref["reconstruction"] + 0.01}, classifier=False)
    assert fid["top1_agreement"] is None and "flipped_samples" not in fid["outputs"]["reconstruction"]
