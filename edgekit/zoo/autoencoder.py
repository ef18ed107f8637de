"""autoencoder: the MLPerf Tiny anomaly-detection fully connected autoencoder (640 inputs, four
Dense 128 layers, a Dense 8 bottleneck, four Dense 128 layers, each with batch norm and ReLU,
and a Dense 640 reconstruction)."""

from edgekit import zoo
from edgekit.data import datasets

NORMAL_CLIPS = 3000  # generated normal training clips

RECIPE = {
    "task": "anomaly detection (reconstruction error)",
    "data": "generated machine sounds",
    "split": "train on normal clips only; test on separate normal and anomalous clips",
    "seed": 0,
    "epochs": 30,
    "batch_size": 64,
    "optimizer": "adam, learning rate 0.001 with cosine decay to 0 over the epochs",
    "loss": "mean squared error (reconstruction)",
    "metric": "roc_auc",
    "target": 0.85,
    "calibration_samples": 200,
}


def dataset(seed: int, data_path=None) -> datasets.Dataset:
    return datasets.machine_sounds(seed, normal=NORMAL_CLIPS)


def build():
    import tf_keras
    from tf_keras import layers

    features = layers.Input((640,), name="features")
    x = features
    for i, units in enumerate((128, 128, 128, 128, 8, 128, 128, 128, 128), start=1):
        x = layers.Dense(units, name=f"dense{i}")(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.Activation("relu", name=f"relu{i}")(x)
    reconstruction = layers.Dense(640, name="reconstruction")(x)
    return tf_keras.Model(features, reconstruction, name="autoencoder")


def compile_args(tf_keras, steps: int) -> dict:
    return {
        "optimizer": zoo.adam(tf_keras, 1e-3, decay_steps=steps),
        "loss": "mse",
    }
