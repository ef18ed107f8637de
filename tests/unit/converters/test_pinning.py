"""The shape a TFLite variant is pinned at when the model's free dimensions fail (docs/DESIGN.md
pitfall 20): the one given, else the real samples' at batch 1, never a made-up one."""

import numpy as np
import pytest

from edgekit.converters import pinning
from edgekit.core.artifacts import TensorSpec
from edgekit.core.errors import ConversionFailed, EdgekitError

IMAGE = TensorSpec(name="image", dtype="float32", shape=(None, None, None, 3))
SCALE = TensorSpec(name="scale", dtype="float32", shape=(None, 1))
SAMPLES = {"image": np.zeros((16, 64, 48, 3), np.float32), "scale": np.ones((16, 1), np.float32)}


def test_only_inputs_free_beyond_the_batch_are_pinned():
    assert pinning.free_beyond_batch([IMAGE, SCALE]) == ["image"]


def test_the_samples_give_the_pin_at_batch_1():
    assert pinning.pin_shapes([IMAGE, SCALE], None, SAMPLES) == {"image": (1, 64, 48, 3), "scale": (1, 1)}


def test_a_given_shape_comes_before_the_samples():
    pinned = pinning.pin_shapes([IMAGE, SCALE], {"image": (1, 128, 96, 3)}, SAMPLES)
    assert pinned == {"image": (1, 128, 96, 3), "scale": (1, 1)}
    assert pinning.pins_text(pinned) == "image 1x128x96x3, scale 1x1"
    assert pinning.pins_text({"image": (1, 64, 48, 3)}) == "1x64x48x3"


def test_without_a_shape_or_real_samples_there_is_no_pin():
    assert pinning.pin_shapes([IMAGE], None, None) is None
    assert pinning.pin_shapes([IMAGE, SCALE], {"image": (1, 8, 8, 3)}, None) is None  # scale is not given


@pytest.mark.parametrize("shape", [(1, 64, 64), (1, 64, 64, 4)])
def test_a_shape_that_changes_a_fixed_dimension_or_the_rank_is_refused(shape):
    with pytest.raises(EdgekitError, match=r"input image cannot be converted at .*: the model takes \?x\?x\?x3"):
        pinning.pin_shapes([IMAGE], {"image": shape}, None)


def test_why_names_the_flex_ops_or_keeps_the_failure():
    flex = ("needs Flex (SELECT_TF_OPS) kernels for Conv2D, which the LiteRT interpreter does not run; replace "
            "them with builtin ops")
    assert pinning.pinned_because(flex) == "the model's free dimensions need Flex (SELECT_TF_OPS) kernels for Conv2D"
    assert pinning.pinned_because("boom") == "at its free dimensions the conversion failed: boom"
    does_not_run = (f"{pinning.DOES_NOT_RUN}LiteRT cannot load the file: Node number 0 (CONV_2D) failed to prepare. "
                    f"(input image has a dynamic shape beyond the batch: {pinning.PIN_FIX}, or export the model with one)")
    assert pinning.pinned_because(does_not_run) == (
        "at its free dimensions the file does not run: LiteRT cannot load the file: Node number 0 (CONV_2D) failed "
        "to prepare.")
    converted_at = {"shapes": {"image": [1, 64, 64, 3]}, "why": pinning.pinned_because(flex)}
    assert pinning.converted_at_text(converted_at) == (
        "converted at 1x64x64x3: the model's free dimensions need Flex (SELECT_TF_OPS) kernels for Conv2D")


def test_no_pin_fails_the_variant_naming_the_fix():
    failure = pinning.cannot_pin("needs Flex (SELECT_TF_OPS) kernels for Conv2D, which the LiteRT interpreter does "
                                 "not run; replace them with builtin ops", ["image"])
    assert isinstance(failure, ConversionFailed)
    assert str(failure) == ("needs Flex (SELECT_TF_OPS) kernels for Conv2D at the free dimensions of input image: "
                            "give --input-shape or --calib with real inputs to convert at a fixed shape")
    assert str(pinning.cannot_pin("boom", ["a", "b"])).startswith("boom at the free dimensions of input a, b: give")
