"""Fold batch normalization into the Dense layer before it, so that quantization-aware training
gives a correct int8 file.

The TFLite converter folds batch norm after a convolution but not after a Dense layer once QAT
has wrapped both: on the zoo's autoencoder the int8-qat file's SQNR against its own QAT model
is below 1 dB (tensorflow/model-optimization#363). Folding first removes the pattern: with
s = gamma / sqrt(var + eps), the Dense kernel becomes W * s and its bias (b - mean) * s + beta.
"""

from __future__ import annotations

import numpy as np

from edgekit.core.errors import EdgekitError

ATOL = 1e-4  # float32 rounding of the folded weights, on outputs of order 1


def dense_batch_norms(model) -> dict[str, str]:
    """{batch norm layer: the Dense layer it follows} for every pattern that can be folded: the
    batch norm normalizes the last axis and is the only consumer of the Dense output."""
    found = {}
    for layer in model.layers:
        if type(layer).__name__ != "BatchNormalization" or len(layer.inbound_nodes) != 1:
            continue
        parents = layer.inbound_nodes[0].inbound_layers
        parent = parents[0] if isinstance(parents, (list, tuple)) and len(parents) == 1 else parents
        axis = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
        if (type(parent).__name__ == "Dense" and len(parent.outbound_nodes) == 1
                and list(axis) in ([-1], [len(layer.input_shape) - 1])):
            found[layer.name] = parent.name
    return found


def fold_dense_batch_norm(model):
    """A copy of `model` without the batch norms that follow Dense layers, outputs unchanged."""
    import tf_keras

    pairs = dense_batch_norms(model)
    if not pairs:
        return model
    config = model.get_config()
    sequential = isinstance(model, tf_keras.Sequential)
    config["layers"] = [entry for entry in config["layers"] if entry["config"]["name"] not in pairs]
    for entry in config["layers"]:
        if entry["config"]["name"] in pairs.values():
            entry["config"]["use_bias"] = True
        if not sequential:  # consumers of a removed batch norm read its Dense layer instead
            entry["inbound_nodes"] = _renamed(entry.get("inbound_nodes", []), pairs)
    if not sequential:
        config["output_layers"] = _renamed(config["output_layers"], pairs)
    folded = type(model).from_config(config)
    by_name = {layer.name: layer for layer in model.layers}
    norm_of = {dense: norm for norm, dense in pairs.items()}
    for layer in folded.layers:
        if layer.name in norm_of:
            layer.set_weights(_folded(by_name[layer.name], by_name[norm_of[layer.name]]))
        elif layer.weights:
            layer.set_weights(by_name[layer.name].get_weights())
    _check_same_outputs(model, folded)
    return folded


def _folded(dense, norm) -> list[np.ndarray]:
    weights = dense.get_weights()
    kernel = weights[0]
    bias = weights[1] if dense.use_bias else np.zeros(kernel.shape[-1], kernel.dtype)
    values = iter(norm.get_weights())
    gamma = next(values) if norm.scale else 1.0
    beta = next(values) if norm.center else 0.0
    mean, var = next(values), next(values)
    scale = gamma / np.sqrt(var + norm.epsilon)
    return [kernel * scale, (bias - mean) * scale + beta]


def _renamed(value, pairs: dict[str, str]):
    if isinstance(value, list):
        return [_renamed(v, pairs) for v in value]
    return pairs.get(value, value) if isinstance(value, str) else value


def _check_same_outputs(model, folded) -> None:
    rng = np.random.default_rng(0)
    x = rng.random((16, *model.inputs[0].shape[1:]), dtype=np.float32)
    diff = float(np.max(np.abs(model(x, training=False).numpy() - folded(x, training=False).numpy())))
    if not diff <= ATOL:
        raise EdgekitError(f"model {model.name}: folding batch norm into Dense layers changed the "
                           f"outputs by {diff:.2e}; leave out --qat")
