"""Pairing a converted file's tensors with its float model's: the names below are those TFLite's
converter and tf2onnx give files converted from a SavedModel (seen on TF 2.21, tf2onnx 1.17,
and in the basic-pitch authors' nmp.onnx)."""

import numpy as np
import pytest

from edgekit.core.artifacts import TensorSpec
from edgekit.core.errors import EdgekitError
from edgekit.measure.pairing import EXACT, INDEX, POSITION, UNDECORATED, output_index, pair, pair_names, undecorated


def spec(name, *shape, dtype="float32", **extra):
    return TensorSpec(name, dtype, tuple(shape), **extra)


@pytest.mark.parametrize("name, plain", [
    ("serving_default_input_2:0", "input_2"), ("input_1:0", "input_1"), ("audio", "audio"),
    ("serving_default_x:12", "x"), ("serving_default_", "serving_default_"), ("a:b:0", "a:b")])
def test_undecorated_removes_what_exporters_add(name, plain):
    assert undecorated(name) == plain


@pytest.mark.parametrize("name, index", [
    ("StatefulPartitionedCall:2", 2), ("StatefulPartitionedCall_1:0", 0), ("PartitionedCall:3", 3),
    ("Identity:0", 0), ("Identity_4:0", 4), ("Identity:1", None), ("contour", None), ("Identity_x:0", None)])
def test_output_index(name, index):
    assert output_index(name) == index


def test_same_names_pair_exactly():
    found = pair([spec("x", None, 4)], [spec("x", None, 4)], [spec("y", None, 2)], [spec("y", None, 2)])
    assert found.exact and found.inputs == {"x": "x"} and found.outputs == {"y": "y"}


def test_authors_tf2onnx_file_pairs_with_its_savedmodel():
    """nmp.onnx: `serving_default_input_2:0` in, `StatefulPartitionedCall:2, :1, :0` out in that
    order; the SavedModel's outputs (listed in name order) are contour (172x264), note, onset
    (172x88 both): position alone would pair :2 with contour."""
    file_in = [spec("serving_default_input_2:0", None, 43844, 1)]
    file_out = [spec("StatefulPartitionedCall:2", None, 172, 88), spec("StatefulPartitionedCall:1", None, 172, 88),
                spec("StatefulPartitionedCall:0", None, 172, 264)]
    float_in = [spec("input_2", None, 43844, 1)]
    float_out = [spec("contour", None, 172, 264), spec("note", None, 172, 88), spec("onset", None, 172, 88)]
    found = pair(file_in, float_in, file_out, float_out)
    assert found.inputs == {"serving_default_input_2:0": "input_2"}
    assert found.outputs == {"StatefulPartitionedCall:0": "contour", "StatefulPartitionedCall:1": "note",
                             "StatefulPartitionedCall:2": "onset"}
    assert list(found.outputs.values()) == ["contour", "note", "onset"]  # the float model's order
    assert not found.exact
    assert found.rules[("input", "serving_default_input_2:0")] == UNDECORATED
    assert found.rules[("output", "StatefulPartitionedCall:2")] == INDEX
    assert found.describe().startswith("by name without exporter decorations: serving_default_input_2:0 -> input_2; "
                                       "by the exporter's output index: StatefulPartitionedCall:2 -> onset")
    assert found.to_dict()["rules"] == sorted([UNDECORATED, INDEX])
    # feeds and outputs renamed both ways
    x = np.zeros((1, 43844, 1), np.float32)
    assert list(found.file_feeds({"input_2": x})) == ["serving_default_input_2:0"]
    outs = {t.name: np.full((1, *t.shape[1:]), i) for i, t in enumerate(file_out)}
    back = found.float_outputs(outs)
    assert list(back) == ["contour", "note", "onset"] and back["contour"].shape == (1, 172, 264)
    assert back["onset"][0, 0, 0] == 0  # StatefulPartitionedCall:2, the first of the file's outputs


def test_keras3_export_outputs_index_the_model_order():
    """A Keras 3 model exported and frozen by tf2onnx --use-graph-names: `audio:0`, `Identity_1:0`;
    the N-th output is the Keras model's N-th, not the N-th in name order."""
    found = pair([spec("audio:0", None, 8), spec("gain:0", None, 4)], [spec("audio", None, 8), spec("gain", None, 4)],
                 [spec("Identity:0", None, 3), spec("Identity_1:0", None, 3)],
                 [spec("zeta_out", None, 3), spec("alpha_out", None, 3)])
    assert found.outputs == {"Identity:0": "zeta_out", "Identity_1:0": "alpha_out"}


def test_index_falls_back_to_name_order_when_shapes_say_so():
    found = pair([spec("x:0", None, 8)], [spec("x", None, 8)],
                 [spec("Identity:0", None, 2), spec("Identity_1:0", None, 3)],
                 [spec("zeta", None, 3), spec("alpha", None, 2)])
    assert found.outputs == {"Identity_1:0": "zeta", "Identity:0": "alpha"}


def test_position_when_names_differ_but_count_rank_dtype_agree():
    """tf.saved_model.save of a Keras 3 model renames its inputs `inputs`, `inputs_1`; a quantized
    file input counts as float."""
    quantized = spec("inputs_1", 1, 4, dtype="int8", scale=(0.1,), zero_point=(3,))
    found = pair([spec("inputs", 1, 8), quantized], [spec("audio", None, 8), spec("gain", None, 4)],
                 [spec("output_0", 1, 3)], [spec("dense", None, 3)])
    assert found.inputs == {"inputs": "audio", "inputs_1": "gain"}
    assert found.outputs == {"output_0": "dense"}
    assert {found.rules[("input", "inputs")], found.rules[("output", "output_0")]} == {POSITION}


def test_exact_names_first_then_position_for_the_rest():
    found = pair([spec("mask", None, 5, dtype="bool"), spec("tokens", None, 5, dtype="int64")],
                 [spec("tokens", None, 5, dtype="int32"), spec("attention", None, 5, dtype="bool")])
    assert found.inputs == {"mask": "attention", "tokens": "tokens"}
    assert found.rules[("input", "tokens")] == EXACT and found.rules[("input", "mask")] == POSITION


@pytest.mark.parametrize("file_in, float_in, named", [
    ([spec("a", None, 8)], [spec("b", None, 8, 1)], "a of the file and b of the float model"),  # rank
    ([spec("a", None, 8, dtype="int64")], [spec("b", None, 8)], "a of the file and b of the float model"),  # dtype
    ([spec("a", None, 8)], [spec("b", None, 9)], "a of the file and b of the float model"),  # a fixed size
    ([spec("x", None, 8), spec("a", None, 8)], [spec("x", None, 8)], "a of the file match"),  # count
])
def test_unpaired_is_one_line_naming_them_and_the_fix(file_in, float_in, named):
    with pytest.raises(EdgekitError) as caught:
        pair(file_in, float_in, file="m.onnx", float_model="saved", fix="give --reference MODEL")
    message = str(caught.value)
    assert "\n" not in message and named in message and message.startswith("cannot pair the inputs of m.onnx with those of saved: ")
    assert message.endswith(": give --reference MODEL")


def test_ambiguous_undecorated_names_pair_neither_by_name():
    """`x:0` and `serving_default_x:0` both read `x`: no name rule may choose; position does."""
    found = pair([spec("x:0", None, 2), spec("serving_default_x:0", None, 3)], [spec("x", None, 2), spec("y", None, 3)])
    assert found.inputs == {"x:0": "x", "serving_default_x:0": "y"}
    assert set(found.rules.values()) == {POSITION}


def test_data_keys_pair_by_name_only():
    assert pair_names(["input_2"], ["serving_default_input_2:0"]) == {"input_2": "serving_default_input_2:0"}
    assert pair_names(["serving_default_a:0", "b"], ["a", "b"]) == {"serving_default_a:0": "a", "b": "b"}
    assert pair_names(["a", "c"], ["a", "b"]) is None
    assert pair_names(["a"], ["a", "b"]) is None
