"""sine: the 3-layer regressor of TensorFlow Lite Micro's hello_world example (Dense 16 ReLU,
Dense 16 ReLU, Dense 1) approximating y = sin(x) for x in [0, 2π]."""

from edgekit import zoo
from edgekit.data import datasets

SAMPLES = 2500  # generated; a fifth is held out

RECIPE = {
    "task": "regression (y = sin x)",
    "data": "generated noisy sine",
    "split": f"random {1 - datasets.TEST_FRACTION:.0%}/{datasets.TEST_FRACTION:.0%} train/test; "
             "noisy training targets, clean held-out targets",
    "seed": 0,
    "epochs": 100,
    "batch_size": 32,
    "optimizer": "adam, learning rate 0.005 with cosine decay to 0 over the epochs",
    "loss": "mean squared error",
    "metric": "mae",
    "target": 0.1,
    "calibration_samples": 200,
}


def dataset(seed: int, data_path=None) -> datasets.Dataset:
    return datasets.sine(seed, samples=SAMPLES)


def build():
    import tf_keras
    from tf_keras import layers

    return tf_keras.Sequential(
        [
            layers.InputLayer((1,), name="x"),
            layers.Dense(16, activation="relu", name="dense1"),
            layers.Dense(16, activation="relu", name="dense2"),
            layers.Dense(1, name="y"),
        ],
        name="sine",
    )


def compile_args(tf_keras, steps: int) -> dict:
    return {
        "optimizer": zoo.adam(tf_keras, 5e-3, decay_steps=steps),
        "loss": "mse",
        "metrics": ["mae"],
    }
