"""digits_cnn: the default reference model, a Conv-Pool-Conv-Pool-Dense classifier of
scikit-learn's 8x8 handwritten digits."""

from edgekit import zoo
from edgekit.data import datasets

RECIPE = {
    "task": "image classification (10 digits)",
    "data": "scikit-learn digits",
    "split": f"stratified {1 - datasets.TEST_FRACTION:.0%}/{datasets.TEST_FRACTION:.0%} train/test",
    "seed": 0,
    "epochs": 60,
    "fine_tune_epochs": 20,  # per optimization step (pruning, clustering, QAT)
    "batch_size": 32,
    "optimizer": "adam, learning rate 0.001",
    "loss": "sparse categorical cross-entropy",
    "metric": "accuracy",
    "target": 0.97,
    "calibration_samples": 200,
}


def dataset(seed: int, data_path=None) -> datasets.Dataset:
    return datasets.digits(seed)


def build(name: str = "digits_cnn"):
    import tf_keras
    from tf_keras import layers

    return tf_keras.Sequential(
        [
            layers.InputLayer((8, 8, 1), name="image"),
            layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
            layers.MaxPooling2D(name="pool1"),
            layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
            layers.MaxPooling2D(name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dropout(0.25, name="dropout"),
            layers.Dense(64, activation="relu", name="dense"),
            layers.Dense(10, activation="softmax", name="probs"),
        ],
        name=name,
    )


def compile_args(tf_keras, steps: int) -> dict:
    return zoo.classifier_args(tf_keras, 1e-3)
