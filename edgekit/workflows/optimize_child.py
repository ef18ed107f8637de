"""The child process the optimization chain runs in (`python -P -m edgekit.workflows.optimize_child
SCRATCH`, started by workflows/optimize.py through workflows/tensorflow_child.py): it loads the
model and its task again from the request, runs the chain and saves the models it made."""

from __future__ import annotations

import sys
from pathlib import Path

from edgekit.core.artifacts import atomic_save_model
from edgekit.core.config import ConvertConfig
from edgekit.measure.evaluation import task_for
from edgekit.models.loading import load_model
from edgekit.workflows import tensorflow_child
from edgekit.workflows.optimize import MODEL_FILE, QAT_FILE, optimize_here


def work(request: dict, scratch: Path, reporter: tensorflow_child.Reporter) -> dict:
    config = ConvertConfig.from_dict(request["config"])
    model_path = Path(request["model"])
    reporter.step("loading the model for the optimization")
    with load_model(model_path, config.trust_model_code) as original:  # the task as the host found it
        first = original.inputs[0].name
        task = task_for(model_path, config.train_data, [t.name for t in original.inputs],
                        lambda x: next(iter(original.predict({first: x}).values())))
    optimized = optimize_here(model_path, config, task, reporter.log, request["verbose"],
                              on_fit=lambda label: reporter.step(f"fine-tuning ({label})"))
    reporter.step("saving the optimized model")
    atomic_save_model(optimized.model, scratch / MODEL_FILE)
    if optimized.qat_model is not None:
        atomic_save_model(optimized.qat_model, scratch / QAT_FILE)
    return {"report": optimized.report, "qat": optimized.qat_model is not None}


if __name__ == "__main__":
    sys.exit(tensorflow_child.serve(work))
