"""What `edgekit profile` and `edgekit.profile()` run: the benchmark of a file or folder with each
(file, target)'s per-op profile, and for two files of one model (fp32 and int8, say) the time by
op type of each, side by side, on every target both ran on.

The profile comes from a session of its own after the pair is measured (measure/harness.py), so
the latency beside it is the unprofiled one; results/profiles.py turns both into the tables.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from edgekit.core.errors import EdgekitError, option
from edgekit.results import profiles
from edgekit.workflows import bench

DEFAULT_RUNS = 20  # calls each per-op mean is over (the CLI's --profile default too)


def profile(paths: list[str | Path], settings: bench.BenchSettings, output: str | Path | None = None, log=None,
            progress: bool = True) -> tuple[dict, list[dict], Path | None]:
    """(the results, with a `profile` in each record; the differences between two paths, one per
    target both ran on, [] for one path; the file the results were written to, if any)."""
    if not 1 <= len(paths) <= 2:
        raise EdgekitError(f"give one file or folder to profile, or two files of one model to compare "
                           f"(got {len(paths)})")
    if not settings.profile:
        settings = dataclasses.replace(settings, profile=DEFAULT_RUNS)
    if len(paths) == 2 and not all(Path(p).is_file() for p in paths):
        folder = next(p for p in paths if not Path(p).is_file())
        raise EdgekitError(f"{folder} is not a file: two paths compare two files of one model (e.g. its fp32 "
                           "and int8 .tflite); profile a folder alone")
    if len(paths) == 2 and output is not None:
        raise EdgekitError(f"{option('output')} writes one results file: give it with one path, or leave it out "
                           "when comparing two")
    measured = [bench.measure(path, settings, output if len(paths) == 1 else None, log, progress)
                for path in paths]
    results, file = measured[0]
    if len(paths) == 1:
        return results, [], file
    first, second = (r["models"][0] for r, _ in measured)
    results = {**results, "models": [first, second]}
    return results, differences(first, second), None


def differences(first: dict, second: dict) -> list[dict]:
    """Per target both models' records were profiled on: {"target", "threads", "a", "b" (the files),
    "rows": results.profiles.difference(...)}; `first` and `second` are results' model entries."""
    found = []
    for a in _profiled(first):
        for b in _profiled(second):
            if (a["target"], a.get("threads"), a.get("device")) == (b["target"], b.get("threads"), b.get("device")):
                found.append({"target": a["target"], "threads": a.get("threads"), "device": a.get("device"),
                              "a": a["artifact"], "b": b["artifact"],
                              "rows": profiles.difference(a["profile"], b["profile"])})
    return found


def _profiled(model: dict) -> list[dict]:
    return [r for r in model["records"] if r.get("status") == "ok" and "ops" in (r.get("profile") or {})]
