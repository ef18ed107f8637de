"""Keras 3 models rebuilt in tf-keras: same layers, same weights, same outputs; clear refusals."""

import numpy as np
import pytest

from edgekit.core.errors import EdgekitError


@pytest.fixture(scope="module")
def k():
    from edgekit.core.lazy_imports import tensorflow

    tensorflow()
    import keras
    import tf_keras

    return keras, tf_keras


def cnn(keras):
    L = keras.layers
    return keras.Sequential([
        keras.Input((10, 10, 1), name="pixels"),
        L.Conv2D(4, 3, activation="relu", name="conv"),
        L.BatchNormalization(name="bn"),
        L.MaxPooling2D(name="pool"),
        L.Dropout(0.3, name="drop"),
        L.Flatten(name="flat"),
        L.Dense(3, activation="softmax", name="scores"),
    ], name="cnn")


def branchy(keras):
    """A residual Add, a two-branch Concatenate, a DepthwiseConv2D and a nested Sequential."""
    L = keras.layers
    inp = keras.Input((8, 8, 3), name="image")
    stem = L.Conv2D(4, 3, padding="same", name="stem")(inp)
    depthwise = L.DepthwiseConv2D(3, padding="same", depth_multiplier=1, name="dw")(stem)
    residual = L.Add(name="residual")([stem, L.BatchNormalization(name="dw_bn")(depthwise)])
    wide = L.Conv2D(2, 1, name="wide")(residual)
    narrow = L.Conv2D(2, 3, padding="same", activation="relu", name="narrow")(residual)
    joined = L.Concatenate(name="join")([wide, narrow])
    head = keras.Sequential([keras.Input((4,)), L.Dense(5, activation="relu", name="hidden")],
                            name="head")
    pooled = L.GlobalAveragePooling2D(name="gap")(joined)
    return keras.Model(inp, L.Dense(2, name="logits")(head(pooled)), name="branchy")


def randomize(model, seed=0):
    """Non-trivial weights everywhere, BatchNorm moving statistics included (variances > 0)."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        value = rng.normal(0.0, 0.5, weight.shape).astype("float32")
        weight.assign(np.abs(value) + 0.5 if "variance" in weight.path else value)


def layer_names(model):
    names = []
    for layer in model.layers:
        names += layer_names(layer) if hasattr(layer, "layers") else [layer.name]
    return names


@pytest.mark.parametrize("build", [cnn, branchy])
def test_round_trip_keeps_layers_weights_and_outputs(k, build):
    keras, tf_keras = k
    from edgekit.optimize.rebuild import is_keras3, to_tf_keras

    model = build(keras)
    randomize(model)
    rebuilt = to_tf_keras(model)

    assert isinstance(rebuilt, tf_keras.Model) and not is_keras3(rebuilt) and is_keras3(model)
    assert type(rebuilt).__name__ == type(model).__name__
    assert layer_names(rebuilt) == layer_names(model)
    x = np.random.default_rng(7).random((5, *model.inputs[0].shape[1:]), dtype=np.float32)
    expected = np.asarray(model(x, training=False))
    np.testing.assert_allclose(rebuilt(x, training=False).numpy(), expected, atol=1e-5, rtol=0)
    assert np.ptp(expected) > 1e-2  # the outputs carry signal: the comparison means something


def test_batchnorm_moving_statistics_are_copied(k):
    keras, _ = k
    from edgekit.optimize.rebuild import to_tf_keras

    model = cnn(keras)
    rng = np.random.default_rng(1)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(rng.random((32, 10, 10, 1), dtype=np.float32), rng.integers(0, 3, 32), epochs=1,
              batch_size=16, verbose=0)
    original = model.get_layer("bn").get_weights()  # gamma, beta, moving mean, moving variance
    assert not np.allclose(original[2], 0.0) and not np.allclose(original[3], 1.0)
    copied = to_tf_keras(model).get_layer("bn").get_weights()
    for want, got in zip(original, copied, strict=True):
        np.testing.assert_array_equal(got, want)


def test_a_tf_keras_model_is_returned_as_it_is(k):
    _, tf_keras = k
    from edgekit.optimize.rebuild import is_keras3, to_tf_keras

    model = tf_keras.Sequential([tf_keras.Input((3,)), tf_keras.layers.Dense(2)])
    assert not is_keras3(model)
    assert to_tf_keras(model) is model


def test_layers_tf_keras_lacks_are_all_named(k):
    keras, tf_keras = k
    from edgekit.optimize.rebuild import to_tf_keras

    assert not hasattr(tf_keras.layers, "RMSNormalization")  # Keras 3 only

    @keras.saving.register_keras_serializable("edgekit_test")
    class Doubler(keras.layers.Layer):
        def call(self, x):
            return x * 2

    L = keras.layers
    model = keras.Sequential([keras.Input((4,)), L.Dense(4, name="d"),
                              L.RMSNormalization(name="rms"), Doubler(name="twice"),
                              L.Lambda(lambda t: t + 1, name="plus_one")])
    with pytest.raises(EdgekitError) as err:
        to_tf_keras(model)
    message = str(err.value)
    assert "\n" not in message
    assert "layer 'rms' (RMSNormalization) cannot be rebuilt in tf-keras" in message
    assert "layer 'twice' (Doubler)" in message and "custom" in message
    assert "layer 'plus_one' (Lambda)" in message and "code" in message
    assert "'d'" not in message


def test_keras_ops_calls_and_unsupported_arguments_are_refused_by_layer(k):
    keras, _ = k
    from edgekit.optimize.rebuild import to_tf_keras

    inp = keras.Input((4,))
    with pytest.raises(EdgekitError, match=r"layer 'add(_\d+)?' \(Add\).*keras\.ops call"):
        to_tf_keras(keras.Model(inp, keras.layers.Dense(2)(inp) + 1.0))
    resize = keras.Sequential([keras.Input((8, 6, 3)),
                               keras.layers.Resizing(4, 4, pad_to_aspect_ratio=True, name="fit")])
    with pytest.raises(EdgekitError, match=r"layer 'fit' \(Resizing\).*pad_to_aspect_ratio=True"):
        to_tf_keras(resize)


def test_unbuilt_and_subclassed_models_are_refused(k):
    keras, _ = k
    from edgekit.optimize.rebuild import to_tf_keras

    with pytest.raises(EdgekitError, match="not built"):
        to_tf_keras(keras.Sequential([keras.layers.Dense(2)]))

    class Custom(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    model = Custom()
    model(np.zeros((1, 3), np.float32))
    with pytest.raises(EdgekitError, match="only Keras 3 Sequential and functional"):
        to_tf_keras(model)


@pytest.mark.slow
def test_rebuilt_model_can_be_pruned(k):
    keras, tf_keras = k
    from edgekit.optimize.rebuild import to_tf_keras

    rebuilt = to_tf_keras(branchy(keras))
    import tensorflow_model_optimization as tfmot

    sparsity = tfmot.sparsity.keras
    pruned = sparsity.prune_low_magnitude(
        rebuilt, pruning_schedule=sparsity.ConstantSparsity(0.5, begin_step=0, frequency=1))
    assert isinstance(pruned, tf_keras.Model)
    wrapped = {layer.layer.name for layer in pruned.layers if hasattr(layer, "pruning_vars")}
    assert {"stem", "dw", "wide", "narrow", "logits"} <= wrapped
    # one training step really prunes: half of each wrapped kernel is zero afterwards
    rng = np.random.default_rng(2)
    pruned.compile("sgd", "mse")
    pruned.fit(rng.random((8, 8, 8, 3), dtype=np.float32), rng.random((8, 2), dtype=np.float32),
               epochs=1, verbose=0, callbacks=[sparsity.UpdatePruningStep()])
    kernel = sparsity.strip_pruning(pruned).get_layer("stem").kernel.numpy()
    assert np.mean(kernel == 0) == pytest.approx(0.5, abs=0.05)
