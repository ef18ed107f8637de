"""Weight clustering: each kernel's weights share N centroid values (k-means++ initialised),
fine-tuned; with pruning before it, the zeros are kept as zeros."""

from __future__ import annotations

import numpy as np

from edgekit.core.errors import EdgekitError, first_line
from edgekit.optimize.fine_tune import FineTuning
from edgekit.optimize.pruning import kernels

LEARNING_RATE = 1e-4
MIN_WEIGHTS_PER_CLUSTER = 4  # a kernel with fewer (non-zero) weights than this per centroid is left as it is


def cluster(model, tuning: FineTuning, clusters: int, preserve_sparsity: bool):
    """A stripped copy of `model` whose big enough kernels hold at most `clusters` values each."""
    import tensorflow_model_optimization as tfmot
    import tf_keras

    api = tfmot.clustering.keras
    chosen = {name for name, kernel in kernels(model)
              if (np.count_nonzero(kernel) if preserve_sparsity else kernel.size)
              >= MIN_WEIGHTS_PER_CLUSTER * clusters}

    def wrap(layer):
        if layer.name not in chosen:
            return layer
        return api.cluster_weights(layer, number_of_clusters=clusters, preserve_sparsity=preserve_sparsity,
                                   cluster_centroids_init=api.CentroidInitialization.KMEANS_PLUS_PLUS)

    try:
        wrapped = tf_keras.models.clone_model(model, clone_function=wrap)  # wrapped layers keep weights
    except (ValueError, TypeError) as exc:
        raise EdgekitError(f"model {model.name} cannot be clustered: {first_line(exc)}") from None
    tuning.fit(wrapped, f"clustering to {clusters} centroids", LEARNING_RATE)
    return api.strip_clustering(wrapped)


def cluster_report(model) -> dict:
    """Distinct weight values per kernel (at most the cluster count once clustered)."""
    return {name: int(len(np.unique(kernel))) for name, kernel in kernels(model)}
