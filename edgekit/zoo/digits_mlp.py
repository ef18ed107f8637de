"""digits_mlp: a Flatten-Dense(128)-Dense(10) multilayer perceptron classifying scikit-learn's
8x8 handwritten digits."""

from edgekit import datasets

RECIPE = {
    "task": "image classification (10 digits)",
    "data": "scikit-learn digits",
    "split": f"stratified {1 - datasets.TEST_FRACTION:.0%}/{datasets.TEST_FRACTION:.0%} train/test",
    "seed": 0,
    "epochs": 50,
    "batch_size": 32,
    "optimizer": "adam, learning rate 0.001",
    "loss": "sparse categorical cross-entropy",
    "metric": "accuracy",
    "target": 0.95,
    "calibration_samples": 200,
}


def dataset(seed: int, data_path=None) -> datasets.Dataset:
    return datasets.digits(seed)


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


def compile_args(tf_keras) -> dict:
    return {
        "optimizer": tf_keras.optimizers.Adam(learning_rate=1e-3),
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["accuracy"],
    }
