"""ds_cnn: the MLPerf Tiny keyword-spotting DS-CNN (49x10x1 spectrogram input, Conv 64 (10,4)
stride 2, four depthwise-separable blocks of 64 channels, global average pool, Dense 12
softmax)."""

from edgekit import zoo
from edgekit.data import datasets

PER_CLASS = 500  # generated spectrograms per class; a fifth is held out

RECIPE = {
    "task": "keyword spotting (12 classes)",
    "data": "generated 12-class spectrograms",
    "split": f"random {1 - datasets.TEST_FRACTION:.0%}/{datasets.TEST_FRACTION:.0%} train/test",
    "seed": 0,
    "epochs": 20,
    "batch_size": 32,
    "optimizer": "adam, learning rate 0.001 with cosine decay to 0 over the epochs",
    "loss": "sparse categorical cross-entropy",
    "metric": "accuracy",
    "target": 0.90,
    "calibration_samples": 200,
}


def dataset(seed: int, data_path=None) -> datasets.Dataset:
    return datasets.spectrograms(seed, per_class=PER_CLASS)


def build():
    import tf_keras
    from tf_keras import layers, regularizers

    l2 = regularizers.l2(1e-4)
    spectrogram = layers.Input((49, 10, 1), name="spectrogram")
    x = layers.Conv2D(64, (10, 4), strides=2, padding="same", kernel_regularizer=l2,
                      name="conv0")(spectrogram)
    x = layers.BatchNormalization(name="bn0")(x)
    x = layers.Activation("relu", name="relu0")(x)
    x = layers.Dropout(0.2, name="dropout0")(x)
    for block in range(1, 5):
        x = layers.DepthwiseConv2D(3, padding="same", depthwise_regularizer=l2,
                                   name=f"ds{block}_depthwise")(x)
        x = layers.BatchNormalization(name=f"ds{block}_bn1")(x)
        x = layers.Activation("relu", name=f"ds{block}_relu1")(x)
        x = layers.Conv2D(64, 1, kernel_regularizer=l2, name=f"ds{block}_pointwise")(x)
        x = layers.BatchNormalization(name=f"ds{block}_bn2")(x)
        x = layers.Activation("relu", name=f"ds{block}_relu2")(x)
    x = layers.Dropout(0.4, name="dropout1")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    probs = layers.Dense(12, activation="softmax", name="probs")(x)
    return tf_keras.Model(spectrogram, probs, name="ds_cnn")


def compile_args(tf_keras, steps: int) -> dict:
    return zoo.classifier_args(tf_keras, 1e-3, decay_steps=steps)
