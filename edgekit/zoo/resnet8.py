"""resnet8: the MLPerf Tiny image-classification ResNet-8 (32x32x3 input, a 16-filter stem and
three residual stacks of 16, 32 and 64 filters, average pool, Dense 10 softmax)."""

from edgekit import zoo
from edgekit.data import datasets

GENERATED_PER_CLASS = 600
CIFAR_NOTE = ("CIFAR-10 not found in ~/.keras/datasets (or --data): using the generated 10-class "
              "image set")
GENERATED_TARGET = 0.90

RECIPE = {
    "task": "image classification (10 classes)",
    "data": "CIFAR-10, else a generated 10-class image set",
    "split": "CIFAR-10's own 50000/10000 train/test; the generated set: random 80%/20% train/test",
    "seed": 0,
    "epochs": 20,
    "batch_size": 32,
    "optimizer": "adam, learning rate 0.001 with cosine decay to 0 over the epochs",
    "loss": "sparse categorical cross-entropy",
    "metric": "accuracy",
    "target": 0.80,  # on CIFAR-10; the generated set's is GENERATED_TARGET
    "calibration_samples": 200,
    "real_data": "CIFAR-10 (a cifar-10-batches-py folder or cifar-10-python.tar.gz)",  # for --data
}

def dataset(seed: int, data_path=None) -> datasets.Dataset:
    """CIFAR-10 from `data_path` or the local Keras cache; the generated image set otherwise."""
    data = datasets.cifar10(data_path)
    if data is None:
        data = datasets.shapes(seed, per_class=GENERATED_PER_CLASS)
        data.target, data.note = GENERATED_TARGET, CIFAR_NOTE
    else:
        data.target = RECIPE["target"]
    return data


def build():
    import tf_keras
    from tf_keras import layers, regularizers

    def conv(filters, kernel, strides, name):
        return layers.Conv2D(filters, kernel, strides=strides, padding="same",
                             kernel_initializer="he_normal", kernel_regularizer=regularizers.l2(1e-4),
                             name=name)

    image = layers.Input((32, 32, 3), name="image")
    x = conv(16, 3, 1, "conv0")(image)
    x = layers.BatchNormalization(name="bn0")(x)
    x = layers.Activation("relu", name="relu0")(x)
    for stack, filters in enumerate((16, 32, 64), start=1):
        strides = 1 if stack == 1 else 2
        y = conv(filters, 3, strides, f"stack{stack}_conv1")(x)
        y = layers.BatchNormalization(name=f"stack{stack}_bn1")(y)
        y = layers.Activation("relu", name=f"stack{stack}_relu1")(y)
        y = conv(filters, 3, 1, f"stack{stack}_conv2")(y)
        y = layers.BatchNormalization(name=f"stack{stack}_bn2")(y)
        if stack > 1:  # a 1x1 strided convolution matches the shortcut to the branch
            x = conv(filters, 1, strides, f"stack{stack}_shortcut")(x)
        x = layers.Add(name=f"stack{stack}_add")([x, y])
        x = layers.Activation("relu", name=f"stack{stack}_relu2")(x)
    x = layers.AveragePooling2D(pool_size=8, name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    probs = layers.Dense(10, activation="softmax", kernel_initializer="he_normal", name="probs")(x)
    return tf_keras.Model(image, probs, name="resnet8")


def compile_args(tf_keras, steps: int) -> dict:
    return zoo.classifier_args(tf_keras, 1e-3, decay_steps=steps)
