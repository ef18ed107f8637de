"""A sweep's two kinds of job, the same wherever they run (here or on a Ray worker): converting one
model into the suite's variants, and measuring one converted folder; and the rows of a folder
that was not measured."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from edgekit import zoo
from edgekit.core.artifacts import file_sizes
from edgekit.core.config import ConvertConfig
from edgekit.core.errors import naming_suite_fields
from edgekit.core.version import __version__
from edgekit.measure import subjects, targets
from edgekit.measure.targets import TargetSettings
from edgekit.results import schema
from edgekit.runtimes import RUNTIMES
from edgekit.runtimes.environment import fingerprint
from edgekit.workflows.bench import BenchSettings, parse_runs
from edgekit.workflows.bench import run as bench
from edgekit.workflows.convert import convert

REPO = zoo.REPO_ROOT
DEFAULT_DEVICE = "host"  # a suite's "device": the Ray resource device:<name> its measurements need


@contextlib.contextmanager
def _in_repo():
    """Models and data are recorded by their paths in the repository, on every node alike."""
    before = os.getcwd()
    os.chdir(REPO)
    try:
        yield
    finally:
        os.chdir(before)


def _settings(suite: dict, repeat: int, device: str | None = None):
    # ["all"]: every runtime that applies, as bench without --runtime; "auto" runs: as --runs auto
    runtime = None if suite["runtimes"] == ["all"] else ",".join(suite["runtimes"])
    return BenchSettings(runtime=runtime, runs=parse_runs(suite["runs"]), warmup=suite["warmup"],
                         batch=suite["batch"], target_settings=TargetSettings(threads=tuple(suite["threads"])),
                         trust_model_code=suite.get("trust_model_code", False), repeat=repeat, device=device,
                         devices_file=os.environ.get("EDGEKIT_DEVICES") if device else None)


def convert_model(suite: dict, name: str, out: Path) -> Path:
    """One conversion job: the zoo model `name` into the suite's variants; its folder."""
    with _in_repo(), naming_suite_fields():
        source = suite.get("sources", {}).get(name)
        if source:
            model, calib = source["model"], source["calib"]
        else:
            model, calib = (str(p.relative_to(REPO)) for p in zoo.bundled(name))
        convert(ConvertConfig(model=model, calib=calib, input_shape=(source or {}).get("input_shape") or [],
                              out=str(out / "artifacts"), tflite=",".join(suite["tflite"]),
                              onnx=",".join(suite["onnx"]), trust_model_code=suite.get("trust_model_code", False)),
                log=lambda message: None, verbose=False)
    return out / "artifacts" / name


def measure_model(suite: dict, folder: Path, repeat: int = 1, shown: Path | None = None) -> dict:
    """One measurement job: a converted folder on the suite's runtimes and thread counts. The
    rows name the folder as `shown` (where the user finds it): the one measured is a staging or
    temporary folder, gone when the sweep ends."""
    with _in_repo(), naming_suite_fields():
        results = bench(folder, _settings(suite, repeat, os.environ.get("EDGEKIT_DEVICE") or None),
                        log=lambda message: None, progress=False)
    return _renamed(results, str(folder), str(shown)) if shown is not None else results


def _renamed(value, old: str, new: str):
    """`value` (JSON-like) with `old` replaced by `new` in every string it holds."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {key: _renamed(item, old, new) for key, item in value.items()}
    if isinstance(value, list):
        return [_renamed(item, old, new) for item in value]
    return value


def unmeasured(suite: dict, folder: Path, status: str, reason: str) -> dict:
    """The results of a folder that was not measured: a row per file, target and thread count."""
    subject = subjects.find(folder, None)
    settings = _settings(suite, 1)
    chosen = targets.parse(settings.runtime, settings.target_settings,
                           {p.suffix.lstrip(".") for p in subject.artifacts})
    device = suite.get("device", DEFAULT_DEVICE)
    records = [{"artifact": a.name, **subject.variant_of(a), "runtime": t.runtime, "target": t.name,
                "threads": t.open_options().get("threads"), "device": "local" if device == DEFAULT_DEVICE else device,
                "runner": None, **file_sizes(a), "status": status, "reason": reason}
               for a in subject.artifacts for t in chosen
               if t.runtime != "keras" and a.suffix.lstrip(".") in RUNTIMES[t.runtime].formats]
    return {"schema_version": schema.SCHEMA_VERSION, "kind": schema.KIND, "edgekit_version": __version__,
            "environment": fingerprint(), "settings": settings.to_dict(),
            "models": [{"name": subject.name, "reference": None, "reference_note": reason, "artifacts": [],
                        "data": {"source": "not measured", "samples": 0, "labelled": False, "metric": None,
                                 "random": False, "float_score": None}, "records": records}]}
