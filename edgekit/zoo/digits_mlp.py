"""digits_mlp: a Flatten-Dense(128)-Dense(10) multilayer perceptron classifying scikit-learn's
8x8 handwritten digits."""

from edgekit.zoo import digits_cnn
from edgekit.zoo.digits_cnn import compile_args, dataset  # noqa: F401 (same data and training)

RECIPE = {**digits_cnn.RECIPE, "epochs": 50, "target": 0.95}


def build():
    import tf_keras
    from tf_keras import layers

    return tf_keras.Sequential(
        [
            layers.InputLayer((8, 8, 1), name="image"),
            layers.Flatten(name="flatten"),
            layers.Dense(128, activation="relu", name="hidden"),
            layers.Dense(10, activation="softmax", name="probs"),
        ],
        name="digits_mlp",
    )

