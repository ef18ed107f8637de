"""Samples set aside from a calibration set, so that the files quantized with the rest are judged
on inputs their quantizer never saw (a quantizer judged on the data it was fitted to looks better
than it is: 22.4 dB on the calibration samples, 23.7 dB held out, on one real CNN; 10.0 against
9.5 dB on another model's output)."""

from __future__ import annotations

import dataclasses

import numpy as np

HELD_OUT_FRACTION = 0.2
HELD_OUT_SEED = 0  # the same set is held out on every run, so that runs compare


@dataclasses.dataclass(frozen=True)
class Split:
    fit: dict  # name -> samples the quantizer calibrates on
    held_out: dict  # name -> samples it is judged on
    given: int  # how many samples the set had
    fraction: float = HELD_OUT_FRACTION
    seed: int = HELD_OUT_SEED

    def describe(self) -> str:
        """'40 held-out calibration samples (80/20 split of 200, seed 0; the quantizer saw the other 160)'."""
        held, fit = _count(self.held_out), _count(self.fit)
        return (f"{held} held-out calibration samples ({100 - round(self.fraction * 100)}/{round(self.fraction * 100)} "
                f"split of {self.given}, seed {self.seed}; the quantizer saw the other {fit})")

    def to_dict(self) -> dict:
        return {"of": self.given, "fraction": self.fraction, "seed": self.seed, "calibration_samples": _count(self.fit),
                "held_out_samples": _count(self.held_out)}


def held_out_indices(count: int, fraction: float = HELD_OUT_FRACTION, seed: int = HELD_OUT_SEED) -> np.ndarray:
    """The sorted indices of the samples held out of `count`: round(fraction x count), at least one."""
    held = max(1, round(count * fraction))
    return np.sort(np.random.default_rng(seed).permutation(count)[:held])


def split(samples: dict, min_fit: int, fraction: float = HELD_OUT_FRACTION, seed: int = HELD_OUT_SEED) -> Split | None:
    """`samples` (name -> array, one row per sample) split into the part a quantizer calibrates on
    and the part it is judged on, each in the set's order; None when the calibration part would
    keep fewer than `min_fit` samples (too few to spare any)."""
    count = _count(samples)
    held = held_out_indices(count, fraction, seed)
    if count - len(held) < min_fit:
        return None
    kept = np.ones(count, bool)
    kept[held] = False
    return Split({name: value[kept] for name, value in samples.items()},
                 {name: value[held] for name, value in samples.items()}, count, fraction, seed)


def held_out_part(samples: dict, recorded: dict) -> dict:
    """The held-out part of `samples` as a manifest's split (`Split.to_dict`) recorded it: the
    same indices of the set's first `of` samples."""
    held = held_out_indices(recorded["of"], recorded["fraction"], recorded["seed"])
    return {name: value[:recorded["of"]][held] for name, value in samples.items()}


def _count(samples: dict) -> int:
    return len(next(iter(samples.values())))
