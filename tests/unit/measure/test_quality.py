import numpy as np
import pytest

from edgekit.measure.fidelity import FIDELITY_FLOORS, compare, outside_floor
from edgekit.measure.quality import QUALITY_THRESHOLDS, is_degraded, reason, verdict


def _noisy(ref: np.ndarray, sqnr_db: float) -> np.ndarray:
    """`ref` plus noise at exactly `sqnr_db`."""
    noise = np.random.default_rng(0).standard_normal(ref.shape)
    noise *= np.sqrt(np.sum(ref ** 2) / np.sum(noise ** 2) / 10 ** (sqnr_db / 10))
    return ref + noise


def test_every_precision_has_a_threshold_at_or_above_its_sanity_floor_with_a_reason():
    assert set(QUALITY_THRESHOLDS) == set(FIDELITY_FLOORS)
    for precision, threshold in QUALITY_THRESHOLDS.items():
        floor_sqnr, floor_top1 = FIDELITY_FLOORS[precision]
        assert threshold.sqnr_db >= floor_sqnr and threshold.top1_agreement >= floor_top1 and threshold.why


def test_an_int8_output_between_floor_and_threshold_is_degraded_not_rejected():
    ref = np.random.default_rng(1).standard_normal((40, 30, 1))  # 3-D: judged by SQNR
    fid = compare({"onset": ref, "note": ref}, {"onset": _noisy(ref, 12.0), "note": _noisy(ref, 30.0)})
    assert outside_floor(fid, "int8") is None  # the 10 dB floor passes it
    found = verdict(fid, "int8")
    assert found["degraded"] and list(found["outputs"]) == ["onset"]  # per output: note is fine
    assert reason(found) == "output onset: SQNR 12.0 dB is below 20 dB (the int8 threshold)"
    assert not verdict(fid, "int8", min_sqnr=11.0)["degraded"]  # --min-sqnr lowers the bar
    assert verdict(fid, "int8", min_sqnr=31.0)["outputs"].keys() == {"onset", "note"}
    assert not verdict(compare({"y": ref}, {"y": _noisy(ref, 25.0)}), "int8")["degraded"]
    assert verdict(compare({"y": ref}, {"y": _noisy(ref, 25.0)}), "float16")["degraded"]  # fp16 is held higher


def test_a_classifier_is_judged_by_top1_agreement_unless_min_sqnr_is_given():
    ref = np.eye(10)[np.arange(40) % 10] + 0.01
    flipped = ref.copy()
    flipped[:3] = np.roll(flipped[:3], 1, axis=1)  # 3 of 40 decisions change: 92.5%
    fid = compare({"probs": ref}, {"probs": flipped})
    found = verdict(fid, "int8")
    assert found["degraded"] and "top-1 agreement 92.5% is below 98%" in found["outputs"]["probs"]
    logits = 10 * np.eye(10)[np.arange(40) % 10]  # a wide margin: noise at 15 dB flips no decision
    noisy = compare({"logits": logits}, {"logits": _noisy(logits, 15.0)}, classifier=True)
    assert noisy["top1_agreement"] == 1.0 and noisy["sqnr_db"] == pytest.approx(15.0)
    assert not verdict(noisy, "int8")["degraded"]  # noisy logits whose decisions hold are fine by default...
    assert verdict(noisy, "int8", min_sqnr=20.0)["degraded"]  # ...not when an SQNR is asked for


def test_constant_outputs_are_left_to_the_floor_and_nan_is_degraded():
    ref = np.full((8, 1, 1), 0.5)
    fid = compare({"c": ref}, {"c": ref + 1e-6})
    assert not verdict(fid, "int8")["degraded"]
    nan = {"outputs": {"y": {"sqnr_db": float("nan")}}}
    assert verdict(nan, "int8")["degraded"]


@pytest.mark.parametrize("entry, degraded", [({}, False), ({"quality": None}, False),
                                             ({"quality": {"degraded": True}}, True)])
def test_is_degraded_reads_old_and_new_files(entry, degraded):
    assert is_degraded(entry) is degraded
