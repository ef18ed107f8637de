"""digits_outlier: digits_cnn with one planted outlier, made to lose accuracy under full int8.
After training, one hidden unit of `dense` is switched off (zero weights, negative bias: its ReLU
is always 0) and its outgoing weights in `probs` are set 100 times larger than any other. The
float model computes exactly what it did, but int8's weight scale for `probs` now spans the
outlier, and its real weights round to a few steps: the layer the quantization debugger should
rank first, and the one to keep in float."""

import numpy as np

from edgekit.zoo import digits_cnn
from edgekit.zoo.digits_cnn import compile_args, dataset  # noqa: F401 (same data and training)

# keep_float: the layer that full int8 cannot represent, for `convert --keep-float`
RECIPE = {**digits_cnn.RECIPE, "target": 0.97, "keep_float": ["probs"]}
OUTLIER_UNIT = 0
OUTLIER_FACTOR = 100.0


def build():
    return digits_cnn.build("digits_outlier")


def after_training(model) -> None:
    """Plant the outlier; the float outputs do not change."""
    dense, probs = model.get_layer("dense"), model.get_layer("probs")
    kernel, bias = dense.get_weights()
    kernel[:, OUTLIER_UNIT], bias[OUTLIER_UNIT] = 0.0, -1.0
    dense.set_weights([kernel, bias])
    kernel, bias = probs.get_weights()
    signs = np.where(np.arange(kernel.shape[1]) % 2, 1.0, -1.0)
    kernel[OUTLIER_UNIT] = OUTLIER_FACTOR * np.abs(kernel).max() * signs
    probs.set_weights([kernel, bias])
