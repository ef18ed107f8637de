"""Lazy, quiet imports of the heavy backends.

TensorFlow costs seconds to import and logs a great deal at start-up; every module that needs
it calls `tensorflow()` so that the CLI starts without it and the log noise is turned down once.
"""

import atexit
import contextlib
import functools
import os
import sys
import tempfile
import warnings

VERBOSE_ENV = "EDGEKIT_DEBUG"  # set by --debug: backend logs are shown, not hidden


def tensorflow():
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore", module=r"(tensorflow|tf_keras|keras|tf2onnx)(\.|$)")
    with quiet_stderr():
        import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:  # absl ships with TF; guard only against odd installs
        pass
    return tf


@contextlib.contextmanager
def quiet_stderr(replay_on_error: bool = True):
    """Hide what native code writes to stderr (TF's start-up logs ignore TF_CPP_MIN_LOG_LEVEL).
    If the block fails, what it wrote is shown after all, unless the exception carries it.
    Yields a function that returns what was written so far (backends that raise an empty
    exception put their reason there)."""
    if os.environ.get(VERBOSE_ENV):
        yield lambda: ""
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)

        def written() -> str:
            _flush_native_streams()
            sink.seek(0)
            return sink.read().decode(errors="replace")

        try:
            yield written
        except BaseException:
            _flush_native_streams()
            os.dup2(saved, 2)
            if replay_on_error:
                sink.seek(0)
                sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            _flush_native_streams()
            os.dup2(saved, 2)
            os.close(saved)


@functools.cache
def silence_stderr_at_exit() -> None:
    """Hide what native libraries log while Python tears their objects down at exit (LiteRT
    logs every accelerator it destroys). Registered handlers run after an uncaught traceback
    has been printed, so no error is hidden."""
    if os.environ.get(VERBOSE_ENV):
        return

    def silence():
        _flush_native_streams()
        sys.stderr.flush()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)

    atexit.register(silence)


def _flush_native_streams() -> None:
    """Flush C stdio buffers, where some backends (LiteRT) leave their logs until exit, so what
    they wrote inside a quiet block is not printed after it."""
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # no C library to call: nothing buffered there either
        pass
