"""A long TensorFlow step on a user's model (fine-tuning) in a child process, retried once without
oneDNN when TensorFlow's native code crashes.

TensorFlow's oneDNN CPU kernels corrupt the heap while training some real models (docs/DESIGN.md,
pitfall 25): the process dies of SIGABRT with no Python exception. In a child, that costs the step,
not the run: the output folder stays as it was, and the step runs again with
TF_ENABLE_ONEDNN_OPTS=0 (read when TensorFlow is imported, so only a new process can turn it off).

The child is `python -P -m MODULE SCRATCH` (core/python_child.py), in a session of its own (a
Ctrl-C reaches edgekit, which kills it). It reads SCRATCH/request.json (with "onednn_retry", the
note, when it is the retry), writes one JSON object a line on stdout ({"log": text} to relay,
{"step": words} as each part starts, for a crash's message), and ends by writing SCRATCH/result.json: its result, or {"error": line} for an EdgekitError. Its
stderr (where native code writes, glibc's abort message too) goes to a file read after a crash;
Python's stderr (the progress bar) goes to this process's terminal when there is one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path

from edgekit.core import interrupts, python_child
from edgekit.core.errors import EdgekitError, last_line, switch
from edgekit.runners.worker_process import how_it_ended

ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"
TERMINAL_FD_ENV = "EDGEKIT_CHILD_TERMINAL_FD"  # where the child's Python writes its progress bar
# the signals by which a process ends from outside (the user, the OOM killer): no retry helps
FROM_OUTSIDE = {signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
FAILED_IN_CHILD = 2  # the child's exit status after it wrote an EdgekitError to its result
BUG_IN_CHILD = 70  # after an unexpected exception: the host raises it as a bug (exit 70) with its last line


@dataclasses.dataclass
class ChildResult:
    result: dict  # what the child wrote to result.json
    scratch: Path  # the child's files, removed when the `run` block ends
    onednn: str  # "on", "off (--no-onednn)" or "off after a crash (SIGABRT)"
    note: str | None  # the retry, in words, for the log, the table and the report


def onednn_off_in_environment() -> bool:
    """Whether this process's environment already turns oneDNN off (as TensorFlow reads it)."""
    return os.environ.get(ONEDNN_ENV, "").strip().lower() in ("0", "false", "off")


@contextlib.contextmanager
def run(module: str, request: dict, log: Callable[[str], None], verbose: bool, onednn: bool = True):
    """Run `module`'s child on `request`; yields a ChildResult (its files live until the block ends).
    A crash with oneDNN on is retried once with it off; any other end but success is one line.
    `onednn=False`: off from the start (--no-onednn)."""
    scratch = Path(tempfile.mkdtemp(prefix="edgekit-child-"))
    try:
        (scratch / "request.json").write_text(json.dumps(request))
        off_here = onednn_off_in_environment()
        state = "on" if onednn and not off_here else f"off ({ONEDNN_ENV}=0)" if off_here else \
            f"off ({switch('no_onednn')})"
        onednn = onednn and not off_here
        crashed = _attempt(module, scratch, log, verbose, onednn)
        note = None
        if crashed is not None:
            step, how, tail = crashed
            if not onednn:
                raise EdgekitError(f"{step} {how} in TensorFlow's native code{_quoted(tail)}, with oneDNN off: "
                                   "the output folder is unchanged; try another TensorFlow version")
            note = (f"TensorFlow's oneDNN kernels crashed on this model ({how.removeprefix('crashed with ')}); "
                    "retried without them: slower, same results")
            log(f"  {note}")
            (scratch / "request.json").write_text(json.dumps({**request, "onednn_retry": note}))  # for its records
            again = _attempt(module, scratch, log, verbose, onednn=False)
            if again is not None:
                second = "again" if again[:2] == (step, how) else f"{again[0]} {again[1]}"
                raise EdgekitError(f"{step} {how} in TensorFlow's native code with oneDNN on{_quoted(tail)}, and "
                                   f"{second} with it off{_quoted(again[2])}: the output folder is unchanged; try "
                                   "another TensorFlow version")
            state = f"off after a crash ({how.removeprefix('crashed with ')})"
        yield ChildResult(json.loads((scratch / "result.json").read_text()), scratch, state, note)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _attempt(module: str, scratch: Path, log, verbose: bool, onednn: bool) -> tuple[str, str, str] | None:
    """One run of the child: None when it succeeded; (step, how it ended, stderr's last line) when a
    native crash ended it. Raises EdgekitError for the child's own error, RuntimeError for a bug."""
    (scratch / "result.json").unlink(missing_ok=True)
    extra = {"LIBC_FATAL_STDERR_": "1"}  # glibc's abort message into the child's stderr, not the terminal
    if not onednn:
        extra[ONEDNN_ENV] = "0"
    terminal = _terminal_copy() if verbose else None
    if terminal is not None:
        extra[TERMINAL_FD_ENV] = str(terminal)
    step = "starting TensorFlow"  # until the child names its step
    with tempfile.TemporaryFile() as stderr:
        try:
            process = subprocess.Popen(python_child.command("-m", module, str(scratch)), stdout=subprocess.PIPE,
                                       stderr=stderr, start_new_session=True, env=python_child.environment(**extra),
                                       pass_fds=() if terminal is None else (terminal,))
        finally:
            if terminal is not None:
                os.close(terminal)
        with interrupts.on_abort(lambda: _kill(process)):
            try:
                for raw in process.stdout:
                    message = _message(raw)
                    if "log" in message:
                        log(str(message["log"]))
                    if "step" in message:
                        step = str(message["step"])
                code = process.wait()
            finally:
                _kill(process)
                process.stdout.close()
        stderr.seek(0)
        said = stderr.read().decode(errors="replace")
    if code == 0:
        return None
    if code == FAILED_IN_CHILD and (scratch / "result.json").is_file():
        raise EdgekitError(json.loads((scratch / "result.json").read_text())["error"])
    if code < 0 and signal.Signals(-code) not in FROM_OUTSIDE:
        return step, how_it_ended(code), last_line(said)
    if code < 0:
        raise EdgekitError(f"{step} was ended by {signal.Signals(-code).name} from outside edgekit "
                           "(out of memory?): the output folder is unchanged")
    raise RuntimeError(f"the child for {step} {how_it_ended(code)}: {last_line(said)}")


def _message(raw: bytes) -> dict:
    """A line the child wrote on stdout; one that is not edgekit's JSON (a library's print) is relayed."""
    text = raw.decode(errors="replace").rstrip("\n")
    try:
        message = json.loads(text)
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}


def _terminal_copy() -> int | None:
    """A descriptor on this process's terminal for the child's progress bar; None off a terminal."""
    try:
        if not sys.stderr.isatty():
            return None
        sys.stderr.flush()
        return os.dup(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):
        return None


def _kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _quoted(tail: str) -> str:
    return f" ({tail})" if tail and tail != "no message" else ""


# The child's side --------------------------------------------------------------------------------

class Reporter:
    """What the child says to its host: log lines and the step it is in, one JSON object a line."""

    def __init__(self):
        self._out = os.fdopen(os.dup(1), "w", buffering=1)
        os.dup2(2, 1)  # what a library prints goes to stderr, never into the messages
        fd = os.environ.pop(TERMINAL_FD_ENV, None)
        if fd is not None:  # Python's writes (the progress bar) to the host's terminal; native ones stay in the file
            sys.stderr = os.fdopen(int(fd), "w", buffering=1)

    def log(self, text: str) -> None:
        self._out.write(json.dumps({"log": text}) + "\n")

    def step(self, words: str) -> None:
        self._out.write(json.dumps({"step": words}) + "\n")


def serve(work: Callable[[dict, Path, Reporter], dict]) -> int:
    """The child's main: `work(request, scratch, reporter)` -> the result to write."""
    scratch = Path(sys.argv[1])
    reporter = Reporter()
    try:
        result = work(json.loads((scratch / "request.json").read_text()), scratch, reporter)
    except EdgekitError as exc:
        (scratch / "result.json").write_text(json.dumps({"error": str(exc)}))
        return FAILED_IN_CHILD
    except Exception:  # noqa: BLE001 - a bug: its traceback to the file the host reads, not the terminal
        traceback.print_exc(file=sys.__stderr__)
        return BUG_IN_CHILD
    (scratch / "result.json").write_text(json.dumps(result))
    return 0
