"""Ctrl-C and SIGTERM, made to stop a run even where a library swallows them.

The handler raises KeyboardInterrupt, but a native module being imported (pybind11 turns it
into ImportError) or a broad `except` in a backend can turn that into an ordinary failure that
edgekit would record and carry on past (a runtime "unavailable", a variant "failed"). So the
request is also remembered, and every place that records a failure and goes on calls `check()`.
"""

from __future__ import annotations

import signal

_requested = False


def install() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _request)


def requested() -> bool:
    return _requested


def check() -> None:
    """Raise KeyboardInterrupt if an interrupt arrived, even if its exception was swallowed."""
    if _requested:
        raise KeyboardInterrupt


def _request(signum, frame):
    global _requested
    _requested = True
    raise KeyboardInterrupt
