"""A child for tests/unit/workflows/test_tensorflow_child.py, served as edgekit serves its
TensorFlow steps, without TensorFlow: it does what its request says, for real (os.abort() is a
native abort, as TensorFlow's oneDNN kernels end a process)."""

import os
import sys

from edgekit.core.errors import EdgekitError
from edgekit.workflows import tensorflow_child


def work(request, scratch, reporter):
    onednn = os.environ.get(tensorflow_child.ONEDNN_ENV) != "0"
    reporter.log(f"oneDNN {'on' if onednn else 'off'}")
    reporter.step("fine-tuning (pruning to 50%)")
    print("a library's print")  # must not be taken for a message
    if request["do"] == "abort" and (onednn or request.get("always")):
        os.write(2, b"munmap_chunk(): invalid pointer\n")  # what glibc writes before it aborts
        os.abort()
    if request["do"] == "refuse":
        raise EdgekitError("model m cannot be pruned: give another")
    if request["do"] == "bug":
        raise KeyError("a bug")
    (scratch / "made.txt").write_text("made")
    return {"onednn": onednn}


if __name__ == "__main__":
    sys.exit(tensorflow_child.serve(work))
