"""Quantization-aware training: fake-quantize weights and activations during fine-tuning so that
the full-int8 conversion loses less. After pruning or clustering it uses the collaborative
schemes that keep the zeros and the shared centroids through training."""

from __future__ import annotations

from edgekit.errors import EdgekitError, first_line
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


QAT_LAYERS = {"QuantizeLayer", "QuantizeWrapper", "QuantizeWrapperV2"}


def is_qat_config(config) -> bool:
    """Whether a stored Keras config holds quantization-aware-training wrappers."""
    from edgekit.trust import config_objects

    return any(node["class_name"] in QAT_LAYERS for node in config_objects(config))


def scope():
    """The custom-object scope that loading a saved QAT model needs (the toolkit's own layers)."""
    import tensorflow_model_optimization as tfmot

    return tfmot.quantization.keras.quantize_scope()
