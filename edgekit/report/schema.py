"""The results file that `edgekit bench` and `edgekit convert` write (`results.json`) and that
`report` and `compare` read: versioned, checked when read, older versions upgraded.

Versions:
  1  environment, settings, and per model: reference (the float model), data, records.
  2  per model `artifacts` (every measured file: format, variant, sizes, sha256, input and output
     specs with their quantization) and the float model's size in `reference`.

A model's records are keyed by (format, variant, target, threads): `compare` pairs runs on it.
"""

from __future__ import annotations

import json
from pathlib import Path

from edgekit.errors import EdgekitError

SCHEMA_VERSION = 2
KIND = "edgekit-bench"
RESULTS_NAME = "results.json"  # written beside the artifacts by `edgekit convert`
STATUSES = ("ok", "skipped", "failed")

_NUMBER = (int, float)
_WHAT = "a results.json written by edgekit bench or edgekit convert"


def read(path: str | Path) -> dict:
    """A results file (or a folder holding `results.json`), checked and upgraded to this version."""
    path = Path(path)
    if path.is_dir() and (path / RESULTS_NAME).is_file():
        path = path / RESULTS_NAME
    if not path.is_file():
        raise EdgekitError(f"{path} is not a file: give {_WHAT}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise EdgekitError(f"{path} is not a text file: give {_WHAT}") from None
    except json.JSONDecodeError as exc:
        raise EdgekitError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}, column "
                           f"{exc.colno}): give {_WHAT}") from None
    return parse(data, str(path))


def write(path: str | Path, results: dict) -> Path:
    """Write a results file atomically, making its folder: how bench, convert and the suite save one."""
    from edgekit.artifacts import write_output_file

    write_output_file(Path(path), to_text(results))
    return Path(path)


def to_text(results: dict) -> str:
    return json.dumps(results, indent=2) + "\n"


def parse(data, source: str = "results") -> dict:
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise EdgekitError(f"{source} is not an edgekit results file (it lacks \"kind\": \"{KIND}\"): give {_WHAT}")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise EdgekitError(f"{source} has no integer schema_version: the file is damaged; write it again "
                           "with edgekit bench")
    if version > SCHEMA_VERSION:
        raise EdgekitError(f"{source} has results schema version {version}, newer than this edgekit reads "
                           f"(up to {SCHEMA_VERSION}): upgrade edgekit to read it")
    if version < 1:
        raise EdgekitError(f"{source} has results schema version {version}, which no edgekit wrote: "
                           "write it again with edgekit bench")
    _check_outline(data, source)
    for older in range(version, SCHEMA_VERSION):
        data = _UPGRADES[older](data)
    _check(data, source)
    return data


def combine(parts: list[dict]) -> dict:
    """One results file from runs with the same settings on one machine (a suite, model by model)."""
    return {**parts[0], "models": [model for part in parts for model in part["models"]]}


def record_key(record: dict) -> tuple:
    """What a record measured: the same key in two runs means the same file on the same target."""
    return record["format"], record["variant"], record["target"], record["threads"]


def target_label(record: dict) -> str:
    return record["target"] + (f" x{record['threads']}" if record["threads"] else "")


def _v1_to_v2(data: dict) -> dict:
    """Version 1 lacked the artifact list and the float model's size: both come from its records."""
    for model in data["models"]:
        artifacts = {}
        for r in model["records"]:
            artifacts.setdefault(r.get("artifact"), {
                "name": r.get("artifact"), "format": r.get("format"), "variant": r.get("variant"),
                "size_bytes": r.get("size_bytes"), "gzip_bytes": r.get("gzip_bytes"),
                "sha256": None, "inputs": [], "outputs": []})
        reference = model.get("reference")
        if isinstance(reference, dict):
            floats = [a for a in artifacts.values() if a["variant"] == "float"]
            reference.update(artifact=Path(str(reference.get("path"))).name,
                             size_bytes=floats[0]["size_bytes"] if floats else None,
                             gzip_bytes=floats[0]["gzip_bytes"] if floats else None)
        model["artifacts"] = list(artifacts.values())
    return {**data, "schema_version": 2}


_UPGRADES = {1: _v1_to_v2}


class _Checker:
    """Type checks with a path to the bad field, so a damaged file gets a one-line error."""

    def __init__(self, source: str):
        self.source = source

    def need(self, obj: dict, key: str, types, where: str, optional: bool = False):
        value = obj.get(key) if isinstance(obj, dict) else None
        if value is None and optional:
            return None
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in _as_tuple(types)):
            kind = "/".join(t.__name__ for t in _as_tuple(types))
            raise EdgekitError(f"{self.source}: {where}.{key} is missing or not {kind}: the file is damaged "
                               "or was not written by edgekit; write it again with edgekit bench")
        return value


def _as_tuple(types) -> tuple:
    return types if isinstance(types, tuple) else (types,)


def _check_outline(data: dict, source: str) -> None:
    check = _Checker(source)
    for i, model in enumerate(check.need(data, "models", list, "results")):
        where = f"models[{i}]"
        if not isinstance(model, dict):
            raise EdgekitError(f"{source}: {where} is not an object: the file is damaged")
        for j, record in enumerate(check.need(model, "records", list, where)):
            if not isinstance(record, dict):
                raise EdgekitError(f"{source}: {where}.records[{j}] is not an object: the file is damaged")
            check.need(record, "artifact", str, f"{where}.records[{j}]")  # the upgrade keys on it


def _check(data: dict, source: str) -> None:
    check = _Checker(source)
    check.need(data, "environment", dict, "results")
    check.need(data, "settings", dict, "results")
    for i, model in enumerate(data["models"]):
        where = f"models[{i}]"
        check.need(model, "name", str, where)
        for k, artifact in enumerate(check.need(model, "artifacts", list, where)):
            for key in ("name", "format", "variant"):
                check.need(artifact, key, str, f"{where}.artifacts[{k}]")
            check.need(artifact, "size_bytes", int, f"{where}.artifacts[{k}]", optional=True)
        reference = check.need(model, "reference", dict, where, optional=True)
        if reference is not None:
            check.need(reference, "artifact", str, f"{where}.reference")
            check.need(reference, "size_bytes", int, f"{where}.reference", optional=True)
        data_block = check.need(model, "data", dict, where)
        check.need(data_block, "metric", str, f"{where}.data", optional=True)
        check.need(data_block, "float_score", _NUMBER, f"{where}.data", optional=True)
        for j, record in enumerate(model["records"]):
            _check_record(check, record, f"{where}.records[{j}]")


def _check_record(check: _Checker, record: dict, where: str) -> None:
    for key in ("artifact", "format", "variant", "runtime", "target", "status"):
        check.need(record, key, str, where)
    check.need(record, "threads", int, where, optional=True)
    check.need(record, "size_bytes", int, where)
    if record["status"] not in STATUSES:
        raise EdgekitError(f"{check.source}: {where}.status is {record['status']!r}, not one of "
                           f"{', '.join(STATUSES)}: the file is damaged")
    if record["status"] != "ok":
        check.need(record, "reason", str, where)
        return
    latency = check.need(record, "latency_us", dict, where)
    for key in ("p50", "p90", "p99", "robust_cv"):
        check.need(latency, key, _NUMBER, f"{where}.latency_us")
    check.need(latency, "runs", int, f"{where}.latency_us")
    check.need(record, "cold", dict, where)
    check.need(record, "memory", dict, where)
    check.need(record, "throughput", dict, where)
    accuracy = check.need(record, "accuracy", dict, where, optional=True)
    if accuracy is not None:
        check.need(accuracy, "value", _NUMBER, f"{where}.accuracy")
        check.need(accuracy, "drop_points", _NUMBER, f"{where}.accuracy", optional=True)
    check.need(record, "fidelity", dict, where, optional=True)
