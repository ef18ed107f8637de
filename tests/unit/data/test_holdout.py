import numpy as np
import pytest

from edgekit.data import holdout


def test_a_fifth_is_held_out_seeded_disjoint_and_in_order():
    samples = {"x": np.arange(200)[:, None], "y": -np.arange(200)[:, None]}
    split = holdout.split(samples, min_fit=10, min_held=20)
    held, fit = split.held_out["x"][:, 0], split.fit["x"][:, 0]
    assert len(held) == 40 and len(fit) == 160 and not set(held) & set(fit)
    assert (np.diff(held) > 0).all() and (np.diff(fit) > 0).all()  # the set's order, not the draw's
    assert (split.held_out["y"][:, 0] == -held).all()  # every input splits at the same rows
    assert (holdout.split(samples, 10, 20).held_out["x"] == split.held_out["x"]).all()  # the same every run
    assert held.tolist() != list(range(160, 200))  # drawn, not the tail (a set sorted by class would lose one)
    assert split.to_dict() == {"of": 200, "seed": 0, "calibration_samples": 160, "held_out_samples": 40}
    assert split.describe() == ("40 calibration samples held out of 200 (drawn with seed 0; the quantizers "
                                "calibrated on the other 160)")


@pytest.mark.parametrize("count, held", [(200, 40), (100, 20), (64, 20), (32, 20), (16, 6), (11, 1), (10, None)])
def test_at_least_min_held_are_held_out_while_min_fit_stay(count, held):
    """A fifth of a small set is a handful, where one flipped decision moves top-1 agreement by a
    sixth: at least 20 are held out while 10 stay to calibrate on; none when none can be spared."""
    assert holdout.held_out_count(count, min_fit=10, min_held=20) == held
    found = holdout.split({"x": np.zeros((count, 1))}, min_fit=10, min_held=20)
    assert (found is None) if held is None else len(found.held_out["x"]) == held


def test_the_recorded_split_gives_the_same_held_out_rows_of_a_longer_set():
    samples = {"x": np.arange(50)[:, None]}
    split = holdout.split({"x": samples["x"][:40]}, min_fit=10, min_held=20)
    again = holdout.held_out_part(samples, split.to_dict())
    assert (again["x"] == split.held_out["x"]).all()
