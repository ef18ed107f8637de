"""Samples set aside from a calibration set, so that the files quantized with the rest are judged
on inputs their quantizer never saw (a quantizer judged on the data it was fitted to looks better
than it is: 22.4 dB on the calibration samples, 23.7 dB held out, on one real CNN; 10.0 against
9.5 dB on another model's output)."""

from __future__ import annotations

import dataclasses

import numpy as np

HELD_OUT_FRACTION = 0.2
HELD_OUT_SEED = 0  # the same samples are held out on every run, so that runs compare


@dataclasses.dataclass(frozen=True)
class Split:
    fit: dict  # name -> samples the quantizer calibrates on
    held_out: dict  # name -> samples it is judged on
    given: int  # how many samples the set had
    seed: int = HELD_OUT_SEED

    def describe(self) -> str:
        """'40 calibration samples held out of 200 (drawn with seed 0; the quantizers calibrated on the other 160)'."""
        return (f"{_count(self.held_out)} calibration samples held out of {self.given} (drawn with seed {self.seed}; "
                f"the quantizers calibrated on the other {_count(self.fit)})")

    def to_dict(self) -> dict:
        return {"of": self.given, "seed": self.seed, "calibration_samples": _count(self.fit),
                "held_out_samples": _count(self.held_out)}


def held_out_count(count: int, min_fit: int, min_held: int) -> int | None:
    """How many of `count` samples to hold out: a fifth, raised to `min_held` (so that one flipped
    decision is not a tenth of the verdict) while `min_fit` stay to calibrate on; None when not
    even one can be spared."""
    spare = count - min_fit
    return min(spare, max(round(count * HELD_OUT_FRACTION), min_held)) if spare >= 1 else None


def held_out_indices(count: int, held: int, seed: int = HELD_OUT_SEED) -> np.ndarray:
    """The sorted indices of the `held` samples of `count` held out (a seeded draw, so that a set
    sorted by class does not lose one class to the held-out part)."""
    return np.sort(np.random.default_rng(seed).permutation(count)[:held])


def split(samples: dict, min_fit: int, min_held: int, seed: int = HELD_OUT_SEED) -> Split | None:
    """`samples` (name -> array, one row per sample) split into the part a quantizer calibrates on
    and the part it is judged on, each in the set's order; None when too few to spare any."""
    count = _count(samples)
    held = held_out_count(count, min_fit, min_held)
    if held is None:
        return None
    kept = np.ones(count, bool)
    kept[held_out_indices(count, held, seed)] = False
    return Split({name: value[kept] for name, value in samples.items()},
                 {name: value[~kept] for name, value in samples.items()}, count, seed)


def held_out_part(samples: dict, recorded: dict) -> dict:
    """The held-out part of `samples` as a manifest recorded it (`Split.to_dict`): the same rows
    of the set's first `of` samples."""
    held = held_out_indices(recorded["of"], recorded["held_out_samples"], recorded["seed"])
    return {name: value[:recorded["of"]][held] for name, value in samples.items()}


def _count(samples: dict) -> int:
    return len(next(iter(samples.values())))
