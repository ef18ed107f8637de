import numpy as np
import pytest

from edgekit.core.lazy_imports import tensorflow


@pytest.fixture(scope="module")
def tf_keras():
    tensorflow()
    import tf_keras

    return tf_keras


def with_random_statistics(model, rng):
    """Non-trivial weights everywhere, batch-norm moving statistics included."""
    model.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32) if "variance" in w.name
                       else rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.weights])
    return model


def test_batch_norm_after_dense_is_folded_with_the_same_outputs(tf_keras):
    from edgekit.optimize.fold import dense_batch_norms, fold_dense_batch_norm

    L = tf_keras.layers
    inp = L.Input((6,), name="x")
    h = L.ReLU(name="r1")(L.BatchNormalization(name="bn1")(L.Dense(8, name="d1")(inp)))
    h = L.BatchNormalization(name="bn2", center=False)(L.Dense(8, use_bias=False, name="d2")(h))
    shared = L.Dense(4, name="d3")(h)  # feeds two layers: its batch norm cannot be folded away
    out = L.Add(name="add")([L.BatchNormalization(name="bn3")(shared), shared])
    model = with_random_statistics(tf_keras.Model(inp, out), np.random.default_rng(0))
    assert dense_batch_norms(model) == {"bn1": "d1", "bn2": "d2"}

    folded = fold_dense_batch_norm(model)
    assert [layer.name for layer in folded.layers] == ["x", "d1", "r1", "d2", "d3", "bn3", "add"]
    x = np.random.default_rng(1).random((32, 6), dtype=np.float32)
    np.testing.assert_allclose(folded(x, training=False), model(x, training=False), atol=1e-4)


def test_convolution_batch_norm_and_models_without_the_pattern_are_left_alone(tf_keras):
    from edgekit.optimize.fold import fold_dense_batch_norm

    L = tf_keras.layers
    model = tf_keras.Sequential([L.InputLayer((6, 6, 1)), L.Conv2D(4, 3), L.BatchNormalization(),
                                 L.Flatten(), L.Dense(3)])
    assert fold_dense_batch_norm(model) is model


def test_sequential_dense_batch_norm_folds(tf_keras):
    from edgekit.optimize.fold import fold_dense_batch_norm

    L = tf_keras.layers
    model = tf_keras.Sequential([L.InputLayer((5,)), L.Dense(7, name="d"), L.BatchNormalization(name="bn"),
                                 L.ReLU(), L.Dense(2, name="out")])
    model = with_random_statistics(model, np.random.default_rng(2))
    folded = fold_dense_batch_norm(model)
    assert "bn" not in [layer.name for layer in folded.layers]
    x = np.random.default_rng(3).random((16, 5), dtype=np.float32)
    np.testing.assert_allclose(folded(x, training=False), model(x, training=False), atol=1e-4)
