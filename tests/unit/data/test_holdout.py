import numpy as np

from edgekit.data import holdout


def test_a_fifth_is_held_out_seeded_disjoint_and_in_order():
    samples = {"x": np.arange(100)[:, None], "y": -np.arange(100)[:, None]}
    split = holdout.split(samples, min_fit=10)
    held, fit = split.held_out["x"][:, 0], split.fit["x"][:, 0]
    assert len(held) == 20 and len(fit) == 80 and not set(held) & set(fit)
    assert (np.diff(held) > 0).all() and (np.diff(fit) > 0).all()  # the set's order, not the draw's
    assert (split.held_out["y"][:, 0] == -held).all()  # every input splits at the same rows
    assert (holdout.split(samples, min_fit=10).held_out["x"] == split.held_out["x"]).all()  # the same every run
    assert held.tolist() != list(range(80, 100))  # drawn, not the tail (a set sorted by class would hold out one)
    assert split.to_dict() == {"of": 100, "fraction": 0.2, "seed": 0, "calibration_samples": 80,
                               "held_out_samples": 20}
    assert split.describe().startswith("20 held-out calibration samples (80/20 split of 100, seed 0")


def test_too_few_samples_are_not_split():
    assert holdout.split({"x": np.zeros((11, 1))}, min_fit=10) is None  # 2 held out would leave 9
    assert len(holdout.split({"x": np.zeros((12, 1))}, min_fit=10).fit["x"]) == 10
    assert holdout.split({"x": np.zeros((13, 1))}, min_fit=11) is None
    assert len(holdout.split({"x": np.zeros((13, 1))}, min_fit=10).held_out["x"]) == 3


def test_the_recorded_split_gives_the_same_held_out_rows_of_a_longer_set():
    samples = {"x": np.arange(50)[:, None]}
    split = holdout.split({"x": samples["x"][:40]}, min_fit=10)
    again = holdout.held_out_part(samples, split.to_dict())
    assert (again["x"] == split.held_out["x"]).all()
