"""Ctrl-C and SIGTERM: a run stops at any point, and never between the two renames of a swap.

The handler raises KeyboardInterrupt, but raised in the wrong frame that exception is lost or
printed, and each way was seen here:

- Raised inside a finalizer (`__del__`, e.g. TF's `ConcreteFunction.__del__` while the TFLite
  converter runs) or a weakref callback, Python prints "Exception ignored" and goes on: the run
  finished and replaced its output, exit 0.
- Raised in Python that native library code called (TF's C++ `nest.flatten` calling `__import__`;
  a pybind11 module being imported), it comes back as a SystemError or ImportError, which the
  library may print with its traceback.

So the handler raises only where the run's own code is running: when a library, an import or a
finalizer is between the run (the caller of `install`) and the current frame, it marks the
run's frame just below them, and raises on that frame's next line (a trace function: what
debuggers use to stop in a frame). What still ends up "ignored" is left out of stderr
(`sys.unraisablehook`), and the request is also remembered, for a backend's broad `except`:
every place that records a failure and goes on calls `check()`, a run calls it between its
steps, an output folder is swapped in only after a last `check()` (`deferred`), and the CLI
exits 130 whenever an interrupt was requested.
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
_run_frame = None  # the frame that called install(): the run is what runs inside it


def install(label: str = "edgekit") -> None:
    """Take over SIGINT and SIGTERM for one run (from the main thread; elsewhere, a no-op)."""
    global _requested, _raising, _deferring, _reported, _label, _run_frame
    if threading.current_thread() is not threading.main_thread():
        return
    uninstall()
    _run_frame = sys._getframe(1)
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
    global _raising, _requested, _run_frame
    _raising = False
    _run_frame = None
    if "trace" in _installed:
        sys.settrace(_installed.pop("trace"))
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
    target = _own_frame(frame)
    if target is frame:
        raise KeyboardInterrupt
    if target is not None:
        _raise_on_next_line(target)
        return
    # no frame of the run's own below (a finalizer the run did not call): send the signal again
    timer = threading.Timer(REDELIVER_SECONDS, signal.pthread_kill, (threading.main_thread().ident, signum))
    timer.daemon = True
    timer.start()


def _own_frame(frame):
    """The innermost frame, between `frame` and the run's, that no library, import machinery or
    finalizer runs above: where a KeyboardInterrupt travels only through the run's own code."""
    target, current = frame, frame
    while current is not None:
        if _foreign(current):
            target = current.f_back
        if current is _run_frame:
            return target
        current = current.f_back
    return None if _in_finalizer(frame) else frame  # not inside the run (e.g. a late signal)


def _foreign(frame) -> bool:
    code = frame.f_code
    if code.co_name == "__del__" or code.co_filename.startswith("<frozen"):
        return True
    if frame.f_globals.get("__name__", "").partition(".")[0] == "edgekit":
        return False  # even when edgekit itself is installed in site-packages
    return f"{os.sep}site-packages{os.sep}" in code.co_filename or f"{os.sep}dist-packages{os.sep}" in code.co_filename


def _raise_on_next_line(frame) -> None:
    frame.f_trace = _raise_here
    if "trace" not in _installed:
        _installed["trace"] = sys.gettrace()
    sys.settrace(_no_new_frames)  # line events reach `frame.f_trace` only while a trace is set


def _no_new_frames(frame, event, arg):
    return None


def _raise_here(frame, event, arg):
    if event == "return":  # the frame ends without another line: raise in its caller instead
        if frame.f_back is not None:
            frame.f_back.f_trace = _raise_here
        return None
    if event == "line" and _raising and not _deferring:
        raise KeyboardInterrupt  # CPython then switches the trace off
    return _raise_here


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
