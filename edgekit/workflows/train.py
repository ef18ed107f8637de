"""`edgekit train` as a library call: a reference model trained from scratch in a child process
(workflows/tensorflow_child.py), so that TensorFlow's native crash costs a line, not the run, and
a crash in its oneDNN kernels is retried without them (docs/DESIGN.md, pitfall 25)."""

from __future__ import annotations

import sys
from pathlib import Path

from edgekit.workflows import tensorflow_child
from edgekit.zoo.training import train

CHILD_MODULE = "edgekit.workflows.train"


def train_in_child(name: str, root: Path, epochs: int | None, seed: int | None, verbose: bool,
                   data_path: str | None, log, onednn: bool = True) -> dict:
    """Train `name` as zoo.training.train does, in a child; returns its card."""
    # absolute, not resolved: resolving a dangling symlink in --root hides it from the check that refuses it
    request = {"name": name, "root": str(Path(root).absolute()), "epochs": epochs, "seed": seed, "verbose": verbose,
               "data_path": data_path}
    with tensorflow_child.run(CHILD_MODULE, request, log, verbose, onednn) as child:
        return child.result


def _work(request: dict, scratch: Path, reporter: tensorflow_child.Reporter) -> dict:
    reporter.step(f"training {request['name']}")
    notes = {"onednn_retry": request["onednn_retry"]} if "onednn_retry" in request else None
    return train(request["name"], root=Path(request["root"]), epochs=request["epochs"], seed=request["seed"],
                 verbose=request["verbose"], data_path=request["data_path"], log=reporter.log, notes=notes)


if __name__ == "__main__":
    sys.exit(tensorflow_child.serve(_work))
