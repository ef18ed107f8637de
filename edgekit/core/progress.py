"""A progress bar for long steps that draws only on a terminal (CI logs stay clean).

Off a terminal, a step's message (when given) goes to the log instead, so a CI log still says
what ran. The bar writes to its own copy of the terminal's descriptor: backends' noise is hidden
by redirecting descriptor 2 while they work (`heavy.quiet_stderr`), and the bar must still show.
"""

from __future__ import annotations

import io
import os
import sys
import time


class Progress:
    def __init__(self, total: int, label: str, stream=None, enabled: bool | None = None, log=None):
        self.total, self.label, self.done = max(total, 1), label, 0
        stream = stream or sys.stderr
        self.enabled = _is_terminal(stream) if enabled is None else enabled
        self.log = log
        self._owned = self.enabled and _has_fileno(stream)  # the bar closes only its own copy
        self.stream = _own_copy(stream) if self._owned else stream
        self.started = time.perf_counter()
        self._closed = False
        self._drawn = 0.0

    def update(self, done: int, detail: str = "", message: str | None = None) -> None:
        """Draw the bar at `done` steps; without a bar, log `message` if one is given."""
        done = min(done, self.total)
        if not self.enabled:
            if message and self.log:
                self.log(message)
            return
        now = time.perf_counter()
        if done == self.done and now - self._drawn < 0.1:  # a fast inner loop: redraw 10 times a second
            return
        self.done, self._drawn = done, now
        width = 24
        filled = int(width * self.done / self.total)
        elapsed = now - self.started
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
                          f"{self.done}/{self.total} {elapsed:4.0f}s {detail}\x1b[K")
        self.stream.flush()

    def note(self, message: str) -> None:
        """A line that must stay (a failure): above the bar on a terminal, else in the log."""
        if self.enabled and not self._closed:
            self.stream.write(f"\r\x1b[K{message}\n")
            self.stream.flush()
            self._drawn = 0.0  # the next update redraws the bar below it
        elif self.log:
            self.log(message)

    def close(self) -> None:
        if self.enabled and not self._closed:
            self._closed = True
            self.stream.write("\n")
            self.stream.flush()
            if self._owned:
                self.stream.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _is_terminal(stream) -> bool:
    return hasattr(stream, "isatty") and stream.isatty()


def _has_fileno(stream) -> bool:
    try:
        stream.fileno()
        return True
    except (OSError, io.UnsupportedOperation, AttributeError):
        return False


def _own_copy(stream):
    """A stream on a duplicate of `stream`'s descriptor."""
    stream.flush()
    return os.fdopen(os.dup(stream.fileno()), "w", encoding="utf-8", errors="replace")


def keras_callback(progress: Progress, tf_keras):
    """A tf-keras callback that moves `progress` one step per epoch and shows the loss."""

    class EpochProgress(tf_keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            loss = (logs or {}).get("loss")
            progress.update(epoch + 1, "" if loss is None else f"loss {loss:.4f}")

    return EpochProgress()
