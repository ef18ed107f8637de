"""Ctrl-C and SIGTERM: a run stops at any point, and never between the two renames of a swap.

The handler raises KeyboardInterrupt, but that exception can be lost, and each way was seen here:

- Raised inside a finalizer (`__del__`, e.g. TF's `ConcreteFunction.__del__` while the TFLite
  converter runs) or a weakref callback, Python prints "Exception ignored" and goes on: the run
  finished and replaced its output, exit 0. So the handler does not raise inside a `__del__`: it
  sends the signal again a moment later, once the finalizer is done; what still ends up
  "ignored" is left out of stderr (`sys.unraisablehook`).
- A native module being imported (pybind11 turns it into ImportError) or a backend's broad
  `except` turns it into an ordinary failure. So the request is also remembered: every place
  that records a failure and goes on calls `check()`, a run calls it between its steps, an
  output folder is swapped in only after a last `check()` (`deferred`), and the CLI exits 130
  whenever an interrupt was requested.
- Python runs handlers in the main thread between bytecodes, so a long native call (a
  converter) holds them back. The C-level handler also wakes a watchdog thread; if the process
  still runs GRACE_SECONDS after the signal, the watchdog removes what the run staged
  (`on_abort`) and ends the process with exit 130 (for native calls that release the GIL, as
  TF's and onnxruntime's long ones do).
- A KeyboardInterrupt that escapes Python source that C code runs (PyRun_String, inside TF's
  import) makes CPython end the process with SIGINT at exit, whatever the exit code: the
  program's `uninstall(keep_recording=True)` clears that.

Blocking the signals (pthread_sigmask) would not protect a critical section: it covers the
calling thread only, TF's threads take the signal instead, and the handler still runs in the
main thread. Inside `deferred()` the handler only records the request.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)
EXIT_CODE = 130  # 128 + SIGINT, what shells report for Ctrl-C
GRACE_SECONDS = 5.0  # CI runners send SIGKILL some seconds after SIGTERM (GitHub: 7.5 s after SIGINT)
REDELIVER_SECONDS = 0.05

_requested = False
_raising = False  # the handler raises (installed, and no interrupt reported yet)
_deferring = 0
_label = "edgekit"
_reported = False
_report_lock = threading.Lock()
_aborts: list = []  # what the watchdog removes before it ends the process
_installed: dict = {}  # what install() replaced, for uninstall()


def install(label: str = "edgekit") -> None:
    """Take over SIGINT and SIGTERM for one run (from the main thread; elsewhere, a no-op)."""
    global _requested, _raising, _deferring, _reported, _label
    if threading.current_thread() is not threading.main_thread():
        return
    uninstall()
    _requested = _reported = False
    _deferring = 0
    _label = label
    _aborts.clear()
    _installed["handlers"] = {signum: signal.signal(signum, _request) for signum in SIGNALS}
    _installed["unraisablehook"] = sys.unraisablehook
    sys.unraisablehook = _unraisable
    _installed["watchdog"] = _Watchdog()
    _raising = True


def set_label(label: str) -> None:
    """The name the interrupt line starts with, e.g. 'edgekit convert'."""
    global _label
    _label = label


def uninstall(keep_recording: bool = False) -> None:
    """Stop the watchdog and give the signals back. With `keep_recording` (the process is about
    to exit) the handler stays and only records, so a late signal prints no traceback."""
    global _raising, _requested
    _raising = False
    watchdog = _installed.pop("watchdog", None)
    if watchdog is not None:
        watchdog.close()
    if keep_recording:
        _forget_escaped_interrupts()
        return
    for signum, handler in _installed.pop("handlers", {}).items():
        signal.signal(signum, handler)
    if "unraisablehook" in _installed:
        sys.unraisablehook = _installed.pop("unraisablehook")
    _requested = False
    _aborts.clear()


def _forget_escaped_interrupts() -> None:
    """CPython remembers a KeyboardInterrupt that escaped Python source run from C (PyRun_String;
    seen while TF imports) and at exit kills the process with SIGINT, whatever exit code was
    asked for (-2, not 130, and after the run has reported). Any PyRun_String that succeeds
    resets that memory."""
    import ctypes

    ctypes.pythonapi.PyRun_SimpleString(b"")


def requested() -> bool:
    return _requested


def check() -> None:
    """Raise KeyboardInterrupt if an interrupt arrived, even if its exception was swallowed."""
    if _requested:
        raise KeyboardInterrupt


@contextlib.contextmanager
def deferred():
    """A block no interrupt splits (the renames of a swap, a cleanup): inside it, a signal is
    recorded only; call `check()` inside to refuse to start, or after it to stop then."""
    global _deferring
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1


@contextlib.contextmanager
def on_abort(cleanup):
    """Run `cleanup()` if the watchdog has to end the process while this block runs."""
    _aborts.append(cleanup)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            _aborts.remove(cleanup)


def report() -> int:
    """Print the one line that says the run was interrupted (once), and return the exit code."""
    global _raising, _reported
    _raising = False  # a second Ctrl-C while this prints is recorded only
    with _report_lock:
        if not _reported:
            _reported = True
            print(f"{_label}: interrupted; no output was left half-written", file=sys.stderr, flush=True)
    return EXIT_CODE


def _request(signum, frame):
    global _requested
    _requested = True
    if not _raising or _deferring:
        return
    if _in_finalizer(frame):  # Python would print and drop the exception there: raise it later
        timer = threading.Timer(REDELIVER_SECONDS, signal.pthread_kill, (threading.main_thread().ident, signum))
        timer.daemon = True
        timer.start()
        return
    raise KeyboardInterrupt


def _in_finalizer(frame, depth: int = 64) -> bool:
    while frame is not None and depth:
        if frame.f_code.co_name == "__del__":
            return True
        frame, depth = frame.f_back, depth - 1
    return False


def _unraisable(unraisable):
    """A KeyboardInterrupt that Python could not raise (a weakref callback, a finalizer) is
    already recorded; showing its traceback would only break the one-line contract."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt) and _requested:
        return
    _installed.get("unraisablehook", sys.__unraisablehook__)(unraisable)


class _Watchdog:
    """Ends the process GRACE_SECONDS after a signal if the main thread has not: it is woken by
    the C-level handler (signal.set_wakeup_fd), which runs even while the main thread is in
    native code."""

    def __init__(self):
        self.reader, self.writer = socket.socketpair()
        self.writer.setblocking(False)
        self.stop = threading.Event()
        self.stderr = os.dup(2)  # fd 2 may be redirected (heavy.quiet_stderr) when it fires
        self.previous_fd = signal.set_wakeup_fd(self.writer.fileno(), warn_on_full_buffer=False)
        self.thread = threading.Thread(target=self._watch, name="edgekit-interrupt-watchdog", daemon=True)
        self.thread.start()

    def _watch(self):
        global _requested
        ours = {int(s) for s in SIGNALS}
        while True:
            try:
                data = self.reader.recv(64)
            except OSError:
                return
            if self.stop.is_set() or not data:
                return
            if ours & set(data):
                break
        _requested = True
        if self.stop.wait(GRACE_SECONDS):
            return
        while _deferring and not self.stop.wait(0.05):  # never end the process inside a swap
            pass
        if not self.stop.is_set():
            _abort(self.stderr)

    def close(self):
        self.stop.set()
        signal.set_wakeup_fd(self.previous_fd)
        with contextlib.suppress(OSError):
            self.writer.send(b"\0")
        self.thread.join(timeout=1)
        self.reader.close()
        self.writer.close()
        os.close(self.stderr)


def _abort(stderr_fd: int) -> None:
    for cleanup in reversed(list(_aborts)):
        try:
            cleanup()
        except BaseException:  # noqa: BLE001 - the process ends next; clean what can be cleaned
            pass
    if _report_lock.acquire(timeout=1):
        if not _reported:
            with contextlib.suppress(OSError):
                os.write(stderr_fd, f"{_label}: interrupted; no output was left half-written\n".encode())
    os._exit(EXIT_CODE)
