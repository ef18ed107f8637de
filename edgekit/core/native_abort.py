"""Test-only: a real native abort on demand in a training loop, so that the plumbing that survives
TensorFlow's oneDNN crashes (docs/DESIGN.md, pitfall 25; workflows/tensorflow_child.py) is
exercised for real, on any CPU.

EDGEKIT_TEST_ABORT_TRAINING="LABEL_START:BATCH" makes the training whose progress label starts so
("pruning", "clustering", "quantization-aware", "training sine") call os.abort() at that batch
while oneDNN is on, as those kernels do; "LABEL_START:BATCH:always" aborts with oneDNN off too.
Unset (every real run), it adds nothing.
"""

from __future__ import annotations

import os

ABORT_ENV = "EDGEKIT_TEST_ABORT_TRAINING"


def callbacks(label: str, tf_keras) -> list:
    """The tf-keras callback ABORT_ENV asks for, if it names the training `label`; else none."""
    start, _, rest = os.environ.get(ABORT_ENV, "").partition(":")
    batch, _, when = rest.partition(":")
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1") != "0"
    if not start or not label.startswith(start) or not (onednn or when == "always"):
        return []

    class Abort(tf_keras.callbacks.Callback):
        def on_train_batch_begin(self, index, logs=None):
            if index >= int(batch or 0):
                os.abort()

    return [Abort()]
