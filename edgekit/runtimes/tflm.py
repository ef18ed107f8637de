"""TensorFlow Lite for Microcontrollers (the `tflite-micro` wheel): a `.tflite` file as a
microcontroller runs it, on TFLite Micro's reference kernels, from one fixed memory arena.

What an embedded team asks first is whether the model fits, so opening a file finds the exact
arena it needs: the smallest `arena_size` that allocates, found by search and checked against
the interpreter's own recording allocator. Flash is the file's bytes; the interpreter's code and
the kernels linked in come on top. The time measured here is the reference kernels' on this
host, which says nothing of a microcontroller's speed; details() says so for every record.
TFLite Micro aborts the process on some models (softmax parameters of MobileNetV2 int8,
docs/DESIGN.md pitfall 11), so it runs in a worker like every native runtime.
"""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

import numpy as np

from edgekit.core import python_child
from edgekit.core.artifacts import TensorSpec
from edgekit.core.errors import BackendUnavailable, EdgekitError, last_line
from edgekit.core.lazy_imports import quiet_stderr
from edgekit.models.inspection import tflite_io
from edgekit.runtimes.base import Runtime, Session, dequantize, quantize
from edgekit.runtimes.isolated_ops import NOTE, isolated_profile
from edgekit.runtimes.messages import explain, plain

HOST_TIME = "reference kernels on the host, not MCU time"
EXECUTOR = "tflm reference kernels"
FLASH_NOTE = "the model's bytes; the interpreter's code and kernels come on top"
MAX_ARENA = 1 << 30  # past this nothing on a microcontroller could hold it
_REPORTED = re.compile(r"Arena allocation total (\d+) bytes")
# what TFLite Micro says when the arena is too small: "Failed to allocate temp memory", "Failed to
# resize buffer. Requested: 552960, available 191392, missing: 361568" (MobileNetV2 at 256 KB)
_SHORT = re.compile(r"Failed to (allocate|resize buffer)|Requested: \d+, available \d+", re.IGNORECASE)
_UNPREPARED = re.compile(r"Node ([A-Z0-9_]+) \(number (\d+)\) failed to prepare")
_MISSING_OP = re.compile(r"Didn't find op for builtin opcode '([A-Z0-9_]+)'")


class TFLMRuntime(Runtime):
    name = "tflm"
    formats = ("tflite",)

    def _available_impl(self) -> str:
        try:
            from tflite_micro.python.tflite_micro import runtime  # noqa: F401
        except ImportError as exc:
            raise BackendUnavailable(f"TFLite Micro is not installed ({exc}): pip install tflite-micro") from None
        from importlib.metadata import version

        return f"tflite-micro {version('tflite-micro')}"

    def _open_impl(self, path: Path, threads: int | None = None) -> Session:
        return TFLMSession(path)

    def _profile_impl(self, path: Path, feed: dict[str, np.ndarray], runs: int, threads: int | None = None) -> dict:
        """Each op timed as a one-op model on the reference kernels (runtimes/isolated_ops.py), in
        an arena of the whole model's size: an op alone needs no more than the whole model, whose
        arena holds its tensors at once (a short one is grown)."""
        whole = TFLMSession(path)
        arena = whole.arena_bytes
        whole.close()
        return isolated_profile(path, feed, runs, lambda one: _one_op_session(one, arena), EXECUTOR,
                                note=f"{NOTE}; {HOST_TIME}")


class TFLMSession(Session):
    batch = 1  # a microcontroller's model has fixed shapes; TFLite Micro cannot resize them

    def __init__(self, path: Path, arena_bytes: int | None = None):
        """`arena_bytes`: the arena to use, known to be enough (else the smallest is searched for)."""
        self.path = path
        self.content = path.read_bytes()
        info = tflite_io(path)  # its specs only: the costs inspect adds are no part of loading it
        self.inputs = [TensorSpec.from_dict(t) for t in info["inputs"]]
        self.outputs = [TensorSpec.from_dict(t) for t in info["outputs"]]
        self.arena_bytes, self.reported_bytes = (arena_bytes, None) if arena_bytes else self._smallest_arena()
        from tflite_micro.python.tflite_micro import runtime

        with quiet_stderr():
            self._interpreter = runtime.Interpreter.from_bytes(self.content, arena_size=self.arena_bytes)

    def _smallest_arena(self) -> tuple[int, int | None]:
        """(the smallest arena that allocates, what the recording allocator reported using). The
        interpreter's own report is checked: its size allocates and one byte less does not. Each
        try runs in a child process, since TFLite Micro can crash on an arena that is too small
        (SIGSEGV at 4,096 bytes for a model that needs 4,640)."""
        arena = 1 << 16
        while True:
            allocates, said = _try_arena(self.path, arena, report=True)
            if allocates:
                break
            # a crash right after an allocation failed is a matter of size too (SIGSEGV at 64 KB, seen
            # on a 1x1 conv of 8192 int8 channels that loads in 75 KB): grow; any other crash is the file's
            if said.startswith(CRASHED) and not _SHORT.search(said):
                raise EdgekitError(f"TFLite Micro {said} while loading {self.path.name}")
            missing = sorted(set(_MISSING_OP.findall(said)))
            if missing:
                raise EdgekitError(f"TFLite Micro has no kernel for op(s) {', '.join(missing)}")
            unprepared = _UNPREPARED.search(said)
            short = bool(_SHORT.search(said))  # a kernel that runs out of arena in Prepare says so first
            if unprepared and not short:
                raise EdgekitError(f"TFLite Micro's {unprepared.group(1)} kernel refused node {unprepared.group(2)} "
                                   f"of {self.path.name} (it runs float32, int8 and int16x8 files; float16 or "
                                   "dynamic-range weights it does not)")
            if not (short or "allocate" in said.lower()) or arena >= MAX_ARENA:  # not a matter of size
                reason, raw = explain("tflm", last_line(said), f"to load {self.path.name}")
                raise EdgekitError(reason, detail=raw)
            arena *= 4
        found = _REPORTED.search(said)
        reported = int(found.group(1)) if found else None
        if reported and _try_arena(self.path, reported)[0] and not _try_arena(self.path, reported - 1)[0]:
            return reported, reported
        low, high = 0, arena  # the report is not the edge: search for it, to the byte
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (low, middle) if _try_arena(self.path, middle)[0] else (middle, high)
        return high, reported

    def details(self) -> dict:
        return {"kernels": "reference (TFLite Micro)", "time": HOST_TIME, "arena_bytes": self.arena_bytes,
                "arena_reported_bytes": self.reported_bytes, "flash_bytes": len(self.content),
                "flash": FLASH_NOTE}

    def _prepare_impl(self, feeds):
        return [np.ascontiguousarray(quantize(feeds[s.name], s)) for s in self.inputs]

    def _bind_impl(self, prepared):
        for index, values in enumerate(prepared):
            self._interpreter.set_input(values, index)

    def _invoke_impl(self):
        self._interpreter.invoke()

    def _fetch_impl(self):
        return {s.name: np.array(self._interpreter.get_output(i)) for i, s in enumerate(self.outputs)}

    def _finish_impl(self, raw):
        return {s.name: dequantize(raw[s.name], s) for s in self.outputs}

    def close(self):
        self._interpreter = None


def _one_op_session(path: Path, arena: int) -> TFLMSession:
    """A session of a one-op model in `arena` bytes, grown while TFLite Micro says it is short."""
    while True:
        try:
            return TFLMSession(path, arena_bytes=arena)
        except RuntimeError:
            if arena >= MAX_ARENA:
                raise
            arena *= 2


# one try: exit 0 when the model allocates in the arena (printing the allocator's report), 3 when not
_TRY = """
import sys
from tflite_micro.python.tflite_micro import runtime
try:
    interpreter = runtime.Interpreter.from_file(sys.argv[1], arena_size=int(sys.argv[2]))
except RuntimeError:
    sys.exit(3)
if sys.argv[3] == "report":
    interpreter.print_allocations()
"""


CRASHED = "crashed with"


def _try_arena(path: Path, arena: int, report: bool = False) -> tuple[bool, str]:
    """(whether `path` allocates in `arena` bytes, what TFLite Micro printed: from CRASHED on
    when it killed the process, with the signal and its last line)."""
    done = subprocess.run(python_child.command("-c", _TRY, str(path), str(arena), "report" if report else "-"),
                          capture_output=True, text=True, errors="replace", timeout=300, env=python_child.environment())
    said = done.stdout + done.stderr
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        words = plain(last_line(said))
        return False, f"{CRASHED} {name}" + (f" ({words})" if words else "")
    return done.returncode == 0, said
