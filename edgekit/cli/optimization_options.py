"""The optimization options shared by `edgekit convert` and `edgekit optimize`."""

from __future__ import annotations

OPTIMIZATION_KEYS = ("prune", "prune_structure", "qat", "cluster", "train_data", "fine_tune_epochs", "no_onednn")


def add_optimization_arguments(parser) -> None:
    group = parser.add_argument_group("optimization (fine-tunes on the model's training data)")
    group.add_argument("--prune", type=float, metavar="SPARSITY",
                       help="magnitude-prune to this sparsity, e.g. 0.75, on a polynomial-decay schedule")
    group.add_argument("--prune-structure", metavar="M:N",
                       help="structured pruning: M zeros in every N consecutive weights, e.g. 2:4")
    group.add_argument("--qat", action="store_true", default=None,
                       help="quantization-aware training; adds the int8-qat TFLite variant")
    group.add_argument("--cluster", type=int, metavar="N", help="cluster each layer's weights to N centroids")
    group.add_argument("--train-data", metavar="NPZ",
                       help="training data for a model outside the zoo: .npz with x and y "
                            "(optionally x_test and y_test; otherwise a fifth is held out)")
    group.add_argument("--fine-tune-epochs", type=int, metavar="N",
                       help="epochs of fine-tuning per step (default: a tenth of the recipe's, at least 2; "
                            "5 for user data)")
    group.add_argument("--no-onednn", action="store_true", default=None,
                       help="fine-tune without TensorFlow's oneDNN CPU kernels (TF_ENABLE_ONEDNN_OPTS=0): slower; "
                            "edgekit retries so by itself when they crash")


def optimization_values(args) -> dict:
    return {key: getattr(args, key) for key in OPTIMIZATION_KEYS if getattr(args, key) is not None}
