"""Peak memory of this process while a model loads and runs, and memory freed by one step handed
back before the next.

On Linux the kernel keeps a high-water mark of resident memory (VmHWM) that writing "5" to
/proc/self/clear_refs resets, so the peak of one model's run can be read in a process that
has run others before it. Elsewhere only the lifetime peak exists, and the record says so.
"""

from __future__ import annotations

import ctypes
import gc
import resource
import sys
from pathlib import Path

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(key: str) -> int | None:
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


class PeakMemory:
    """`with PeakMemory() as peak:` ... then `peak.record()`."""

    def __enter__(self):
        self.before = _status_kib("VmRSS")
        try:
            CLEAR_REFS.write_text("5")
            self.scoped = True
        except OSError:  # not Linux, or a kernel without it
            self.scoped = False
        return self

    def __exit__(self, *exc):
        self.peak = _status_kib("VmHWM") if self.scoped else None
        if self.peak is None:
            self.scoped = False
            maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            self.peak = maxrss // 1024 if sys.platform == "darwin" else maxrss  # bytes on macOS

    def record(self) -> dict:
        data = {"peak_rss_bytes": self.peak * 1024,
                "scope": "this run" if self.scoped else "process lifetime (no per-run peak on this OS)"}
        if self.scoped and self.before is not None:
            data["peak_over_start_bytes"] = max(0, self.peak - self.before) * 1024
        return data


def return_freed_memory() -> None:
    """Hand what the C allocator kept after a step back to the system (glibc's malloc_trim).
    glibc keeps memory freed by a thread in that thread's arena, where the next step's threads do
    not reuse it: after tf2onnx on ResNet50 0.8 GB stayed resident, and the next step's peak came
    on top. A collection first frees the cycles that hold converters' graphs and sessions.
    Elsewhere (another libc, macOS) only the collection happens."""
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # no malloc_trim here
        pass
