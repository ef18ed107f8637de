"""The arena search on real TFLite Micro: a model whose kernel runs short of memory in Prepare
(which TFLite Micro reports as 'failed to prepare' too), or whose loading crashes right after an
allocation failed, needs a larger arena; that is not a file TFLite Micro refuses."""

import numpy as np
import pytest

from edgekit.runtimes import RUNTIMES, tflm
from tests.require import require

pytestmark = pytest.mark.slow  # converts a model and runs the arena search, a child process per try


def _converted(model, folder, name, int8=False):
    from edgekit.core.lazy_imports import tensorflow

    tf = tensorflow()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        shape = (1, *model.inputs[0].shape[1:])
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([np.random.default_rng(i).random(shape, np.float32)]
                                                    for i in range(10))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int8
    path = folder / name
    path.write_bytes(converter.convert())
    return path


@pytest.fixture(scope="module")
def wide_conv(tmp_path_factory):
    """A 1x1 int8 conv with 8192 output channels: Prepare copies its per-channel zero points into a
    32 KB temporary, and the model loads in about 75 KB."""
    require("tflite-micro")
    import tf_keras

    model = tf_keras.Sequential([tf_keras.layers.Input((1, 1, 8)), tf_keras.layers.Conv2D(8192, 1)])
    return _converted(model, tmp_path_factory.mktemp("tflm-arena"), "wide_conv.tflite", int8=True)


@pytest.fixture(scope="module")
def large_activations(tmp_path_factory):
    """Two float convs on 32x32x8 activations: 64 KB of them live at once, more than the first
    arena tried (TFLite Micro: "Failed to resize buffer. Requested: 65536, available 64432")."""
    require("tflite-micro")
    import tf_keras

    model = tf_keras.Sequential([tf_keras.layers.Input((32, 32, 3)), tf_keras.layers.Conv2D(8, 3, padding="same"),
                                 tf_keras.layers.Conv2D(8, 3, padding="same")])
    return _converted(model, tmp_path_factory.mktemp("tflm-arena"), "large_activations.tflite")


def test_running_short_in_prepare_is_said_as_a_failed_prepare(wide_conv):
    allocates, said = tflm._try_arena(wide_conv, 1 << 14)
    assert not allocates
    assert "Failed to allocate temp memory" in said and "failed to prepare" in said, said


def test_the_search_grows_past_a_short_prepare_and_a_crash_to_the_smallest_arena(wide_conv):
    """From 64 KB (where this model's loading crashes) the search grows the arena and settles on
    the smallest one that allocates: one byte less does not."""
    session = RUNTIMES["tflm"].open(wide_conv)
    arena = session.arena_bytes
    assert 1 << 16 < arena < 1 << 18
    assert tflm._try_arena(wide_conv, arena)[0] and not tflm._try_arena(wide_conv, arena - 1)[0]


def test_a_buffer_that_does_not_fit_grows_the_arena(large_activations):
    allocates, said = tflm._try_arena(large_activations, 1 << 16)
    assert not allocates and "Failed to resize buffer" in said, said
    session = RUNTIMES["tflm"].open(large_activations)
    assert 1 << 16 < session.arena_bytes < 1 << 18
    assert not tflm._try_arena(large_activations, session.arena_bytes - 1)[0]
