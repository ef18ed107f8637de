"""Quantization-aware training: fake-quantize weights and activations during fine-tuning so that
the full-int8 conversion loses less. After pruning or clustering it uses the collaborative
schemes that keep the zeros and the shared centroids through training."""

from __future__ import annotations

from edgekit.core.errors import EdgekitError, first_line
from edgekit.optimize.fine_tune import FineTuning

LEARNING_RATE = 1e-5  # small: the weights are trained; the fake-quant ranges need to settle


def quantize_aware(model, tuning: FineTuning, pruned: bool, clustered: bool):
    """The QAT model (with its fake-quant wrappers: the TFLite converter reads them)."""
    import tensorflow_model_optimization as tfmot

    api = tfmot.quantization.keras
    try:
        if clustered:
            scheme = tfmot.experimental.combine.Default8BitClusterPreserveQuantizeScheme(
                preserve_sparsity=pruned)
        elif pruned:
            scheme = tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme()
        else:
            scheme = None
        annotated = api.quantize_annotate_model(model)
        wrapped = api.quantize_apply(annotated, scheme) if scheme else api.quantize_apply(annotated)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise EdgekitError(f"model {model.name} cannot be quantization-aware trained: "
                           f"{first_line(exc)}") from None
    tuning.fit(wrapped, "quantization-aware training", LEARNING_RATE)
    return wrapped
