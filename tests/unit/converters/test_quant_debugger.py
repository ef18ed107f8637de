"""The steps of the int8-keep search, from the debugger's ranking: one per Keras layer however many
ops it maps to, and a front-end layer with the layers upstream of it as one block."""

from edgekit.converters.quant_debugger import BLAMED, blamed_steps
from edgekit.converters.selective import Calibrated, Layer

# execution order: a spectrogram front end (two layers, many ops), then the network
OPS = [("cqt", "CONV_2D"), ("cqt", "CONV_2D"), ("cqt", "MUL"), ("log", "LOG"), ("log", "MUL"), ("conv1", "CONV_2D"),
       ("conv2", "CONV_2D"), ("conv3", "CONV_2D"), ("dense", "FULLY_CONNECTED"), ("probs", "SOFTMAX")]
CALIBRATED = Calibrated(b"", "int", {}, [Layer(name, op, f"m/{name}/{op}{i}") for i, (name, op) in enumerate(OPS)])


def ranked(*pairs):
    return [{"layer": name, "rmse_per_step": error} for name, error in pairs]


def test_a_front_end_layer_brings_the_layers_upstream_and_each_layer_is_one_step():
    steps = blamed_steps(ranked(("log", float("inf")), ("log", 4.0), ("dense", 3.0), ("cqt", 2.0)), CALIBRATED)
    assert [(s.layer, s.block) for s in steps] == [("log", ("cqt", "log")), ("dense", ("dense",)),
                                                   ("cqt", ("cqt",))]


def test_layers_that_only_round_are_not_steps():
    steps = blamed_steps(ranked(("conv3", 6.0), ("conv1", BLAMED), ("probs", 0.3)), CALIBRATED)
    assert [s.layer for s in steps] == ["conv3"]  # past the front end's half: alone
    assert steps[0].block == ("conv3",)
