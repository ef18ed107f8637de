"""A TFLite conversion at a pinned shape, for a model whose free dimensions rule out builtin ops.

A Keras 3 model with free height and width and an UpSampling/resize layer exports a conv whose
channel dimension is unknown, and the TFLite converter then asks for Flex (docs/DESIGN.md pitfall
20); a free file with a valid 3x3 conv may not load in LiteRT, which allocates it at the 1x1 the
converter stores. Traced again at one fixed shape, both convert to builtins and run. The free
conversion is tried first; the pin is the shape given, else the shape of the real samples the
variant is checked on (at batch 1), never a made-up one.
"""

from __future__ import annotations

import re

import numpy as np

from edgekit.core.artifacts import TensorSpec
from edgekit.core.errors import ConversionFailed, EdgekitError
from edgekit.core.units import shape_text

DOES_NOT_RUN = "built, but does not run: "  # how the convert workflow words a file that fails validation


def free_beyond_batch(inputs: list[TensorSpec]) -> list[str]:
    """The inputs with a free dimension other than the batch: the ones a pin fixes."""
    return [t.name for t in inputs if None in t.shape[1:]]


def pin_shapes(inputs: list[TensorSpec], shapes: dict[str, tuple[int, ...]] | None,
               samples: dict[str, np.ndarray] | None) -> dict[str, tuple[int, ...]] | None:
    """The whole shape of every input to convert at: `shapes` where it names the input, else a
    sample's shape at batch 1; None when neither gives every input (random samples do not count:
    their free dimensions are made up)."""
    pinned = {}
    for spec in inputs:
        if shapes and spec.name in shapes:
            shape = tuple(int(d) for d in shapes[spec.name])
            if len(shape) != len(spec.shape) or any(d is not None and d != s for d, s in zip(spec.shape[1:], shape[1:])):
                raise EdgekitError(f"input {spec.name} cannot be converted at {shape_text(shape)}: the model takes "
                                   f"{shape_text(spec.shape)}; give a shape that fills only its free dimensions")
        elif samples is not None and spec.name in samples:  # samples that do not fit fail their validation
            shape = (1, *samples[spec.name].shape[1:])
        else:
            return None
        pinned[spec.name] = shape
    return pinned


def pins_text(pinned: dict[str, tuple[int, ...]]) -> str:
    """The pinned shapes in words: one input by its shape alone, several by name."""
    if len(pinned) == 1:
        return shape_text(next(iter(pinned.values())))
    return ", ".join(f"{name} {shape_text(shape)}" for name, shape in pinned.items())


def converted_at_text(converted_at: dict) -> str:
    """A recipe's `converted_at` in words: "converted at 1x64x64x3: the model's free dimensions need Flex ..."."""
    return f"converted at {pins_text(converted_at['shapes'])}: {converted_at['why']}"


def pinned_because(reason: str) -> str:
    """Why the free conversion was given up, from its failure, for the manifest and the table."""
    if reason.startswith("needs Flex"):
        return "the model's free dimensions need Flex" + reason.removeprefix("needs Flex").split(", which", 1)[0]
    if reason.startswith(DOES_NOT_RUN):  # LiteRT allocates at the stored 1x1, which a 3x3 conv cannot take
        return "at its free dimensions the file does not run: " + re.sub(
            r" \(input .* has a dynamic shape beyond the batch.*\)$", "", reason.removeprefix(DOES_NOT_RUN))
    return f"at its free dimensions the conversion failed: {reason}"


def cannot_pin(reason: str, free: list[str]) -> ConversionFailed:
    """The failure of a free conversion that no shape was given to pin, with the fix."""
    if reason.startswith("needs Flex"):  # its own advice (builtin ops) is not the fix here
        reason = reason.split(", which", 1)[0]
    return ConversionFailed(f"{reason} at the free dimensions of input {', '.join(free)}: {PIN_FIX}")


PIN_FIX = "give --input-shape or --calib with real inputs to convert at a fixed shape"
