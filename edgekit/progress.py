"""A progress bar for long steps that draws only on a terminal (CI logs stay clean)."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, label: str, stream=None, enabled: bool | None = None):
        self.total, self.label, self.done = max(total, 1), label, 0
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.started = time.perf_counter()

    def update(self, done: int, detail: str = "") -> None:
        self.done = min(done, self.total)
        if not self.enabled:
            return
        width = 24
        filled = int(width * self.done / self.total)
        elapsed = time.perf_counter() - self.started
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
                          f"{self.done}/{self.total} {elapsed:4.0f}s {detail}\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def keras_callback(progress: Progress, tf_keras):
    """A tf-keras callback that moves `progress` one step per epoch and shows the loss."""

    class EpochProgress(tf_keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            loss = (logs or {}).get("loss")
            progress.update(epoch + 1, "" if loss is None else f"loss {loss:.4f}")

    return EpochProgress()
