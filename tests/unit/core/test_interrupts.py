"""SIGTERM and Ctrl-C where Python would lose them: inside a finalizer, inside a long native
call, inside a block that must not be split. Each runs in a child process (a signal to pytest
itself would stop the test run if the handler were broken)."""

import hashlib
import subprocess
import sys
import time

PRELUDE = """
import os, signal, sys, time
from edgekit.core import interrupts
interrupts.install("edgekit test")
"""


def child(body: str, timeout: float = 60):
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", PRELUDE + body], capture_output=True, text=True, timeout=timeout)
    return result, time.monotonic() - started


def test_a_signal_inside_a_finalizer_is_raised_once_the_finalizer_is_done():
    """Raised inside __del__, the KeyboardInterrupt would be printed as "Exception ignored" and
    dropped, and the run would go on (what made convert ignore SIGTERM, issue 15)."""
    result, _ = child("""
class Resource:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)  # the handler runs here, inside the finalizer
        print("finalizer finished")

try:
    Resource()
    for _ in range(200):
        time.sleep(0.01)
    print("the run went on")
except KeyboardInterrupt:
    print("stopped")
""")
    assert result.stdout.split() == ["finalizer", "finished", "stopped"], result.stdout + result.stderr
    assert result.stderr == ""  # no "Exception ignored", no traceback


LIBRARY = """
import time, traceback

def work(seconds):
    try:
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            pass  # the handler runs here, inside the library
    except BaseException:
        traceback.print_exc()  # what TF did with the SystemError its C++ made of the interrupt
    return "library finished"
"""


def test_a_signal_inside_a_library_is_raised_once_the_run_s_own_code_runs_again(tmp_path):
    """Raised inside library code, the KeyboardInterrupt is the library's to mishandle: in CI,
    TF printed it with a traceback (issue 15). It is raised in the run's own frame instead, also
    when that frame returns straight after the library call."""
    library = tmp_path / "site-packages"
    library.mkdir()
    (library / "fakelib.py").write_text(LIBRARY)
    result, _ = child(f"""
sys.path.insert(0, {str(library)!r})
import fakelib, threading

def step():
    return fakelib.work(1.0)  # the frame ends right after the library returns

try:
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM)).start()
    print(step())
    print("the run went on")
except KeyboardInterrupt:
    print("stopped")
""")
    assert result.stdout.splitlines() == ["library finished", "stopped"], result.stdout + result.stderr
    assert result.stderr == ""


def test_an_interrupt_a_library_swallowed_still_stops_the_run():
    result, _ = child("""
try:
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)
    except BaseException:
        pass  # what a broad `except` in a backend does
    print("swallowed")
    interrupts.check()
    print("the run went on")
except KeyboardInterrupt:
    print("stopped")
""")
    assert result.stdout.split() == ["swallowed", "stopped"], result.stdout + result.stderr


def test_a_deferred_block_is_not_split_and_the_interrupt_counts_after_it():
    result, _ = child("""
with interrupts.deferred():
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.2)
    print("block finished")
print("requested", interrupts.requested())
try:
    interrupts.check()
except KeyboardInterrupt:
    print("stopped")
""")
    assert result.stdout.split() == ["block", "finished", "requested", "True", "stopped"], result.stderr


def test_the_watchdog_ends_a_process_stuck_in_native_code_cleanly():
    """The handler cannot run while the main thread is inside one long C call; the watchdog,
    woken by the C-level handler, removes what the run staged, prints the one line, exits 130."""
    result, seconds = child("""
import hashlib, tempfile
interrupts.GRACE_SECONDS = 1
staged = tempfile.mkdtemp()
open(os.path.join(staged, "half.tflite"), "wb").close()
print(staged, flush=True)
import shutil
with interrupts.on_abort(lambda: shutil.rmtree(staged)):
    threading = __import__("threading")
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
    hashlib.pbkdf2_hmac("sha256", b"x", b"y", 50_000_000)  # one C call of many seconds
print("the run went on")
""")
    staged = result.stdout.split()[0]
    assert result.returncode == 130, result.stdout + result.stderr
    started = time.monotonic()  # a hundredth of the C call, on this machine now
    hashlib.pbkdf2_hmac("sha256", b"x", b"y", 500_000)
    assert "the run went on" not in result.stdout and seconds < 100 * (time.monotonic() - started)  # not its end
    assert result.stderr.splitlines() == ["edgekit test: interrupted; no output was left half-written"]
    assert not __import__("os").path.exists(staged)


def test_after_uninstall_the_signals_are_the_callers_again():
    result, _ = child("""
before = signal.getsignal(signal.SIGTERM)
interrupts.uninstall()
print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, signal.set_wakeup_fd(-1))
""")
    assert result.stdout.split() == ["True", "-1"], result.stderr


ESCAPED = """
import ctypes
run_source = ctypes.pythonapi.PyRun_String  # what C code that runs Python source calls (seen in TF's import)
run_source.restype, run_source.argtypes = ctypes.py_object, [ctypes.c_char_p, ctypes.c_int, ctypes.py_object,
                                                             ctypes.py_object]
try:
    run_source(b"raise KeyboardInterrupt", 257, {}, {})
except KeyboardInterrupt:
    pass  # handled: the run reports the interrupt itself
"""


def test_an_interrupt_that_escaped_python_source_run_from_c_does_not_change_the_exit_code(tmp_path):
    """CPython would end the process with SIGINT at exit (-2), not the 130 the run returns. Run
    as `python -m`, as `python -m edgekit` is (with -c, SystemExit takes another way out)."""
    codes = {}
    for keep_recording in (False, True):
        ending = f"interrupts.uninstall(keep_recording={keep_recording})\nraise SystemExit(130)\n"
        (tmp_path / "escaped.py").write_text(PRELUDE + ESCAPED + ending)
        result = subprocess.run([sys.executable, "-m", "escaped"], cwd=tmp_path, capture_output=True, text=True,
                                timeout=60)
        codes[keep_recording] = result.returncode
    assert codes == {False: -2, True: 130}  # False: the CPython behaviour this guards against
