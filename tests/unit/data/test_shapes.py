"""The input-shape rule (edgekit/data/shapes.py): --input-shape's text, the sizes it gives, the
refusal of a free dimension nothing sizes, and samples given once or per sample."""

import numpy as np
import pytest

from edgekit.core.artifacts import TensorSpec
from edgekit.core.config import ConvertConfig, parse_input_shapes
from edgekit.core.errors import EdgekitError
from edgekit.data import shapes
from edgekit.data.calibration import check_calibration

IMAGE = TensorSpec("input", "float32", (None, 3, None, None))
VAD = [TensorSpec("input", "float32", (None, None)), TensorSpec("state", "float32", (2, None, 128)),
       TensorSpec("sr", "int64", ())]


def test_the_text_is_name_colon_sizes_and_the_name_may_hold_colons():
    assert parse_input_shapes(["input:1,3,64,64"]) == [("input:1,3,64,64", "input", (1, 3, 64, 64))]
    assert parse_input_shapes("1,3, 64,64") == [("1,3, 64,64", None, (1, 3, 64, 64))]
    assert parse_input_shapes(["serving_default_x:0:1,8"])[0][1:] == ("serving_default_x:0", (1, 8))
    assert parse_input_shapes(None) == []


@pytest.mark.parametrize("bad", ["input:", "input:1,x,3", "input:1,-3", "input:0,3", ":1,2", "input:1,,2", ""])
def test_bad_text_is_one_line_naming_the_form(bad):
    with pytest.raises(EdgekitError, match=r"input_shape=.* is not NAME:D0,D1,\.\.\. with positive integer sizes "
                                           r"\(e\.g\. input:1,3,320,320"):
        parse_input_shapes([bad])


def test_a_nameless_shape_is_for_one_input_and_an_input_is_given_once():
    with pytest.raises(EdgekitError, match="gives no input name, and there are 2"):
        parse_input_shapes(["1,2", "x:3"])
    with pytest.raises(EdgekitError, match="gives input x twice"):
        parse_input_shapes(["x:1,2", "x:1,3"])
    with pytest.raises(EdgekitError, match="input_shape=x:1,a is not NAME"):
        ConvertConfig(input_shape=["x:1,a"])
    assert ConvertConfig(input_shape="x:1,2").input_shape == ["x:1,2"]


def test_given_sizes_fill_free_dimensions_and_must_fit_the_fixed_ones():
    (spec,) = shapes.declared([IMAGE], ["1,3,64,48"])
    assert spec.shape == (None, 3, 64, 48)  # the batch stays free: latency is batch 1
    assert shapes.used_shapes([spec]) == {"input": [1, 3, 64, 48]}
    with pytest.raises(EdgekitError, match=r"input_shape=input:1,4,64,64 does not fit input input \[\?, 3, \?, \?\]"):
        shapes.declared([IMAGE], ["input:1,4,64,64"])
    with pytest.raises(EdgekitError, match="does not fit"):
        shapes.declared([IMAGE], ["input:1,3,64"])
    with pytest.raises(EdgekitError, match="input_shape=image:1,3,8,8 names no input of the model: its inputs are "
                                           "input"):
        shapes.declared([IMAGE], ["image:1,3,8,8"])
    with pytest.raises(EdgekitError, match=r"gives no input name and the model has 3 inputs \(input, state, sr\)"):
        shapes.declared(VAD, ["1,512"])


def test_a_free_dimension_nothing_sizes_is_refused_in_one_line_naming_each():
    with pytest.raises(EdgekitError) as caught:
        shapes.concrete(VAD, None, "vad.onnx", "give real samples with --data")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("model vad.onnx has free dimensions (input axis 1, state axis 1)")
    assert "input_shape=input:1,? input_shape=state:2,?,128" in message and message.endswith("--data")
    # the model's own default sizes it, unless it stores 1 there
    (spec,) = shapes.concrete([IMAGE], {"input": (1, 3, 320, 256)}, "m", "")
    assert spec.shape == (None, 3, 320, 256)
    with pytest.raises(EdgekitError, match=r"\(input axis 2, input axis 3\)"):
        shapes.concrete([IMAGE], {"input": (1, 3, 1, 1)}, "m", "")


def test_which_inputs_are_fed_whole():
    assert shapes.fed_whole(VAD) == {"state", "sr"}
    assert shapes.fed_whole([IMAGE]) == set()
    assert shapes.fed_whole([TensorSpec("x", "float32", (1, 224, 224, 3))]) == set()  # a TFLite batch of 1
    # a model exported at batch 8: that axis is the batch, as before
    assert shapes.fed_whole([TensorSpec("a", "float32", (8, 4)), TensorSpec("b", "float32", (8, 2))]) == set()


def test_random_samples_respect_dtypes_and_fixed_dimensions():
    specs = [TensorSpec("ids", "int32", (None, 6)), TensorSpec("mask", "bool", (None, 6)),
             TensorSpec("sr", "int64", ()), TensorSpec("state", "float32", (2, 1, 128))]
    made = shapes.random_samples(specs, 50, np.random.default_rng(0))
    assert made["ids"].shape == (50, 6) and made["ids"].dtype == np.int32
    assert made["ids"].min() >= 0 and made["ids"].max() < shapes.RANDOM_INT_HIGH
    assert len(np.unique(made["ids"])) > 1
    assert made["mask"].dtype == bool and made["mask"].any() and not made["mask"].all()
    assert made["sr"].shape == (50,) and made["sr"].dtype == np.int64  # a scalar per sample
    assert made["state"].shape == (50, 2, 1, 128)
    one = shapes.feed(made, shapes.fed_whole(specs), 3, 4)
    assert one["ids"].shape == (1, 6) and one["sr"].shape == () and one["state"].shape == (2, 1, 128)


def test_data_gives_an_input_fed_whole_once_or_per_sample():
    frames = np.random.default_rng(0).random((5, 512), dtype=np.float32)
    once = check_calibration("d.npz", {"input": frames, "state": np.zeros((2, 1, 128), np.float32),
                                       "sr": np.array(16000)}, VAD)
    assert once["state"].shape == (5, 2, 1, 128) and once["sr"].shape == (5,) and once["sr"].dtype == np.int64
    assert not once["state"].flags.writeable  # broadcast, not copied five times
    per_sample = check_calibration("d.npz", {"input": frames, "state": np.zeros((5, 2, 1, 128), np.float32),
                                             "sr": np.full(5, 8000, np.int32)}, VAD)
    assert per_sample["sr"].dtype == np.int64 and per_sample["sr"][0] == 8000
    sized = shapes.from_samples(VAD, once)
    assert shapes.used_shapes(sized) == {"input": [1, 512], "state": [2, 1, 128], "sr": []}
    with pytest.raises(EdgekitError, match=r"\[state\] has shape \(3, 128\); model input 'state' is fed whole: give "
                                           r"it once as \[2, \?, 128\] or per sample as \(N, 2, \?, 128\)"):
        check_calibration("d.npz", {"input": frames, "state": np.zeros((3, 128)), "sr": np.array(1)}, VAD)
    with pytest.raises(EdgekitError, match=r"\[sr\] is float64 but input 'sr' takes int64"):
        check_calibration("d.npz", {"input": frames, "state": np.zeros((2, 1, 128)), "sr": np.array(1.5)}, VAD)
    with pytest.raises(EdgekitError, match=r"different sample counts \[4, 5\]"):
        check_calibration("d.npz", {"input": frames, "state": np.zeros((4, 2, 1, 128)), "sr": np.array(1)}, VAD)
