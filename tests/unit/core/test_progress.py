"""The progress bar draws on a terminal and stays out of logs."""

from __future__ import annotations

import io
import types

from edgekit.core import progress
from edgekit.core.progress import Progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_bar_draws_on_a_terminal_only():
    terminal, logged = Terminal(), []
    with Progress(4, "converting", stream=terminal, log=logged.append) as bar:
        bar.update(1, "tflite int8", message="converting tflite int8")
        bar.note("tflite int8 failed: no kernel")
        bar.update(4)
    drawn = terminal.getvalue()
    assert "\r\x1b[Ktflite int8 failed: no kernel\n\rconverting [" in drawn
    assert "\rconverting [######..................] 1/4" in drawn and "tflite int8" in drawn
    assert "] 4/4" in drawn and drawn.endswith("\n") and logged == []

    log_file, logged = io.StringIO(), []
    with Progress(4, "converting", stream=log_file, log=logged.append) as bar:
        bar.update(1, "tflite int8", message="converting tflite int8")
        bar.update(2, "calibrating 10/200")
        bar.note("tflite int8 failed: no kernel")
    assert log_file.getvalue() == "" and logged == ["converting tflite int8", "tflite int8 failed: no kernel"]


def test_fast_updates_are_throttled(monkeypatch):
    """On the bar's own clock (not this machine's speed): 500 updates within 0.2 s draw a few
    times; 500 updates 10 ms apart (5 s) redraw about ten times a second."""
    clock = types.SimpleNamespace(now=0.0)
    monkeypatch.setattr(progress, "time", types.SimpleNamespace(perf_counter=lambda: clock.now))
    terminal = Terminal()
    bar = Progress(2, "calibrating", stream=terminal)
    for sample in range(500):
        clock.now += 0.2 / 500
        bar.update(0, f"{sample}/500")
    bar.close()
    assert terminal.getvalue().count("\r") < 5

    terminal = Terminal()
    bar = Progress(2, "calibrating", stream=terminal)
    for sample in range(500):
        clock.now += 0.01
        bar.update(0, f"{sample}/500")
    bar.close()
    assert 45 <= terminal.getvalue().count("\r") <= 51
