"""The optimization chain: rebuild a Keras 3 model in tf-keras, then prune, cluster and
quantization-aware train (in that order, each step keeping what the one before it did), and
measure the task metric after every step against the float model's.

The chain runs in a child process (workflows/optimize_child.py): fine-tuning runs TensorFlow's
native kernels for minutes on a user's model, and their crash must cost the step, not the run
(docs/DESIGN.md, pitfall 25). The child saves the models it made; this process loads them back."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from edgekit import zoo
from edgekit.converters.inputs import model_name, run_inputs
from edgekit.core import interrupts
from edgekit.core.artifacts import OPTIMIZATION_NAME, atomic_save_model, atomic_write_json, new_manifest, sha256_of
from edgekit.core.config import ConvertConfig, structure_of
from edgekit.core.lazy_imports import tensorflow
from edgekit.core.outputs import staged_folder
from edgekit.data.metrics import evaluation
from edgekit.measure.evaluation import Task, require_task, task_for
from edgekit.models.loading import KERAS3, load_keras_model, load_model, scope
from edgekit.optimize.clustering import cluster, cluster_report
from edgekit.optimize.fine_tune import FineTuning
from edgekit.optimize.fold import dense_batch_norms, fold_dense_batch_norm
from edgekit.optimize.pruning import prune, sparsity_report
from edgekit.optimize.qat import quantize_aware
from edgekit.optimize.rebuild import to_tf_keras
from edgekit.workflows import tensorflow_child

CHILD_MODULE = "edgekit.workflows.optimize_child"
MODEL_FILE, QAT_FILE = "optimized.keras", "qat.h5"  # what the child writes to its scratch folder


@dataclasses.dataclass
class Optimized:
    model: object  # tf-keras float model, pruned and/or clustered, wrappers stripped
    qat_model: object | None  # with fake-quant wrappers, for the int8-qat TFLite variant
    report: dict  # what each step did and cost, for the manifest


def optimize(model_path: Path, config: ConvertConfig, task: Task | None, log, verbose=True) -> Optimized:
    """The chain, run in a child process on the same model, config and data (the child finds `task`
    again from them); retried there without oneDNN if TensorFlow crashes natively."""
    require_task(task, model_path, "fine-tuning during pruning, clustering and quantization-aware training")
    request = {"model": str(Path(model_path).resolve()), "config": config.to_dict(), "verbose": verbose}
    with tensorflow_child.run(CHILD_MODULE, request, log, verbose, onednn=not config.no_onednn) as child:
        _, model = load_keras_model(child.scratch / MODEL_FILE, config.trust_model_code)
        qat_model = None
        if child.result["qat"]:
            import tf_keras

            with scope():  # the QAT wrappers are the toolkit's layers
                qat_model = tf_keras.models.load_model(child.scratch / QAT_FILE, compile=False)
    report = {**child.result["report"], "tensorflow_onednn": child.onednn}
    if child.note:
        report["onednn_retry"] = child.note
    return Optimized(model, qat_model, report)


def optimize_here(model_path: Path, config: ConvertConfig, task: Task | None, log, verbose=True,
                  on_fit=None) -> Optimized:
    """The chain in this process: only a child runs it (`optimize` starts one). `on_fit(label)` is
    told each fine-tuning as it starts."""
    flavour, model = load_keras_model(model_path, config.trust_model_code)
    task = require_task(task, model_path, "fine-tuning during pruning, clustering and "
                                          "quantization-aware training")
    rebuilt = flavour == KERAS3
    if rebuilt:  # the optimization toolkit accepts only tf-keras models (docs/DESIGN.md, pitfall 2)
        log("rebuilding the Keras 3 model in tf-keras (outputs checked to 1e-5)")
        model = to_tf_keras(model)
    folded = []
    if config.qat:  # QAT of batch norm after Dense converts wrongly: fold it first (see fold.py)
        folded = sorted(dense_batch_norms(model))
        if folded:
            log(f"folding batch norm {', '.join(folded)} into the Dense layers before them "
                "(outputs checked)")
            model = fold_dense_batch_norm(model)
    tuning = FineTuning.for_task(task, config.fine_tune_epochs, verbose, on_fit)
    _seed((task.recipe or {}).get("seed", 0))
    baseline = tuning.score(model)
    steps = []

    def record(step: str, options: dict, result, **measured):
        entry = {"step": step, "options": options,
                 **evaluation(task.metric, baseline, tuning.score(result)), **measured}
        steps.append(entry)
        log(f"  after {step}: {task.metric} {entry['value']:.4f} (float {baseline:.4f}, "
            f"drop {entry['drop_points']:+.2f} points)")

    pruned = bool(config.prune or config.prune_structure)
    if pruned:
        structure = structure_of(config.prune_structure) if config.prune_structure else None
        sparsity = structure[0] / structure[1] if structure else config.prune
        log(f"pruning to {config.prune_structure or f'{sparsity:.0%}'} sparsity, fine-tuning "
            f"{tuning.epochs} epochs")
        model, targets = prune(model, tuning, sparsity, structure)
        record("prune", {"sparsity": sparsity, "structure": config.prune_structure, "schedule":
                         "constant M:N" if structure else "polynomial decay from 0, small layers dense"},
               model, sparsity=sparsity_report(model, targets, structure))
    if config.cluster:
        log(f"clustering weights to {config.cluster} centroids per layer, fine-tuning {tuning.epochs} epochs")
        model = cluster(model, tuning, config.cluster, preserve_sparsity=pruned)
        record("cluster", {"clusters": config.cluster, "preserve_sparsity": pruned}, model,
               distinct_values=cluster_report(model), sparsity=sparsity_report(model))
    qat_model = None
    if config.qat:
        scheme = ("cluster- and sparsity-preserving" if config.cluster and pruned else
                  "cluster-preserving" if config.cluster else "sparsity-preserving" if pruned else "default")
        log(f"quantization-aware training ({scheme} 8-bit scheme), {tuning.epochs} epochs")
        qat_model = quantize_aware(model, tuning, pruned, bool(config.cluster))
        record("qat", {"scheme": f"{scheme} 8-bit"}, qat_model)
    report = {"data": task.source, "metric": task.metric, "float": round(baseline, 6),
              "fine_tune_epochs": tuning.epochs, "rebuilt_from_keras3": rebuilt,
              "folded_batch_norm": folded, "steps": steps}
    return Optimized(model, qat_model, report)


def _seed(seed: int) -> None:
    """Same model, data and seed: the same optimized weights (on the same machine)."""
    import tf_keras

    tf_keras.utils.set_random_seed(seed)
    tensorflow().config.experimental.enable_op_determinism()


def optimize_to_folder(config: ConvertConfig, log=None, verbose: bool = True) -> dict:
    """`edgekit optimize`: write OUT/<name>/ with the optimized Keras model(s) and a report."""
    log = log or logging.getLogger(__name__).info
    model_path, zoo_model = zoo.resolve_model(config.model, ".keras, .h5 or .hdf5 file")
    name = zoo_model or model_name(model_path)
    out_dir = Path(config.out) / name
    # the output folder is checked, locked and staged before the model loads
    with staged_folder(out_dir, run_inputs(config, model_path)) as stage:
        log(f"loading {model_path}")
        with load_model(model_path, config.trust_model_code) as original:
            interrupts.check()  # between steps: an interrupt a library swallowed stops the run here
            first = original.inputs[0].name
            task = task_for(model_path, config.train_data, [t.name for t in original.inputs],
                            lambda x: next(iter(original.predict({first: x}).values())))
            optimized = optimize(model_path, config, task, log, verbose)
            interrupts.check()
            files = {"model": atomic_save_model(optimized.model, stage / f"{name}_optimized.keras")}
            if optimized.qat_model is not None:
                files["qat_model"] = atomic_save_model(optimized.qat_model, stage / f"{name}_qat.h5")
            report = new_manifest(
                name=name, source={"path": str(model_path), "flavour": original.flavour, "sha256": original.sha256},
                config={k: v for k, v in config.to_dict().items() if k not in ("tflite", "onnx", "io", "opset")},
                optimization={**optimized.report,
                              **{k: p.name for k, p in files.items()},
                              **{f"{k}_sha256": sha256_of(p) for k, p in files.items()}})
            atomic_write_json(stage / OPTIMIZATION_NAME, report)
    log(f"wrote {', '.join(p.name for p in files.values())} to {out_dir}")
    return report
