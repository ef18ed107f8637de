"""Magnitude pruning: unstructured to a target sparsity on a polynomial-decay schedule, or
structured M:N (M zeros in every N consecutive input-channel weights, as TFLite lays them out)."""

from __future__ import annotations

import numpy as np

from edgekit.core.errors import EdgekitError, first_line
from edgekit.optimize.fine_tune import FineTuning

LEARNING_RATE = 2e-3  # peak of a cosine decay over the fine-tuning
SCHEDULE_END = 0.4  # the target is reached at 40% of fine-tuning; the rest recovers accuracy
SMALL_LAYER_SHARE = 0.05  # layers with less of the model's weights than this stay dense...
MAX_LAYER_SPARSITY = 0.95  # ...unless the others would have to go past this to make up for them
KERNELS = ("kernel", "depthwise_kernel")  # the weights pruning and clustering act on


def allocate(sizes: dict[str, int], sparsity: float) -> dict[str, float]:
    """Per-layer sparsity that reaches `sparsity` over all the weights while leaving the small
    layers (typically the first convolution and the classifier, the most sensitive ones) dense.
    Pruning them saves little and costs the most accuracy: on digits_cnn at 75%, uniform pruning
    loses 1.1 points, this allocation none."""
    total = sum(sizes.values())
    small = {name for name, size in sizes.items() if size < SMALL_LAYER_SHARE * total}
    rest = total - sum(sizes[name] for name in small)
    if rest and sparsity * total / rest <= MAX_LAYER_SPARSITY:
        return {name: 0.0 if name in small else sparsity * total / rest for name in sizes}
    return {name: sparsity for name in sizes}


def prune(model, tuning: FineTuning, sparsity: float, structure: tuple[int, int] | None):
    """A stripped copy of `model` whose kernels reach `sparsity` overall (or the M:N structure
    in every layer that can take it); returns (model, per-layer targets)."""
    import tensorflow_model_optimization as tfmot
    import tf_keras

    api = tfmot.sparsity.keras
    steps = tuning.steps_per_epoch * tuning.epochs
    end = max(1, int(steps * SCHEDULE_END))
    sizes = {name: kernel.size for name, kernel in kernels(model)}
    targets = {name: structure[0] / structure[1] for name in sizes} if structure else allocate(sizes, sparsity)

    def wrap(layer):
        target = targets.get(layer.name, 0.0)
        if target == 0.0:
            return layer
        if structure:
            return api.prune_low_magnitude(layer, sparsity_m_by_n=structure,
                                           pruning_schedule=api.ConstantSparsity(target, 0, frequency=1))
        return api.prune_low_magnitude(layer, pruning_schedule=api.PolynomialDecay(
            initial_sparsity=0.0, final_sparsity=target, begin_step=0, end_step=end,
            frequency=max(1, end // 20)))

    try:
        wrapped = tf_keras.models.clone_model(model, clone_function=wrap)  # wrapped layers keep weights
    except (ValueError, TypeError) as exc:
        raise EdgekitError(f"model {model.name} cannot be pruned: {first_line(exc)}") from None
    label = f"pruning to {structure[0]}:{structure[1]}" if structure else f"pruning to {sparsity:.0%}"
    schedule = tf_keras.optimizers.schedules.CosineDecay(LEARNING_RATE, steps, alpha=0.01)
    tuning.fit(wrapped, label, schedule, callbacks=[api.UpdatePruningStep()])
    return api.strip_pruning(wrapped), targets


def kernels(model):
    """(layer name, kernel array) for every layer weight that pruning and clustering act on."""
    for layer in model.layers:
        for weight in layer.weights:
            if weight.name.split("/")[-1].split(":")[0] in KERNELS:
                yield layer.name, weight.numpy()


def sparsity_report(model, targets: dict | None = None, structure: tuple[int, int] | None = None) -> dict:
    """Zeros actually reached, per layer and overall, beside each layer's target; with a
    structure, whether each layer has it."""
    layers, zeros, total = {}, 0, 0
    for name, kernel in kernels(model):
        z = int(np.count_nonzero(kernel == 0))
        entry = {"weights": int(kernel.size), "zeros": z, "sparsity": round(z / kernel.size, 4)}
        if targets is not None:
            entry["target"] = round(targets.get(name, 0.0), 4)
        if structure:
            entry["structured"] = has_structure(kernel, structure)
        layers[name] = entry
        zeros, total = zeros + z, total + kernel.size
    return {"overall": round(zeros / max(total, 1), 4), "layers": layers}


def has_structure(kernel: np.ndarray, structure: tuple[int, int]) -> bool:
    """At least M zeros in every group of N along the input channel (TFLite's last axis)."""
    zeros, group = structure
    if kernel.ndim == 4:  # conv HWIO -> rows of input channels
        rows = np.transpose(kernel, (3, 0, 1, 2)).reshape(-1, kernel.shape[2])
    else:  # dense IO -> OI
        rows = kernel.reshape(kernel.shape[0], -1).T
    padded = np.pad(rows, ((0, 0), (0, -rows.shape[1] % group)))  # padding counts as zeros
    blocks = padded.reshape(rows.shape[0], -1, group)
    return bool(np.all(np.count_nonzero(blocks == 0, axis=2) >= zeros))
