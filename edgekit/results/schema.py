"""The results file that `edgekit bench` and `edgekit convert` write (`results.json`) and that
`report` and `compare` read: versioned, checked when read, older versions upgraded.

Versions:
  1  environment, settings, and per model: reference (the float model), data, records.
  2  per model `artifacts` (every measured file: format, variant, sizes, sha256, input and output
     specs with their quantization) and the float model's size in `reference`.
     Added since, optional (older files read as they are): a record's `latency_us.rounds`, the
     typical latency of each round of `bench --repeat N`, its other figures being the median
     round's. A reduced-precision record's `slower_than_float` ({"than": variant, "ratio": p50 over
     it}), where it ran slower than its float sibling on the same target, and a TFLite record's
     `caveat`, why the file does not do on that CPU target what its precision is for (int16x8 on
     reference kernels, fp16 computed in fp32) (results/summary.py). A record's `quality`, the
     verdict on its fidelity ({"degraded": bool, "outputs": {name: why}, ...}: measure/quality.py).
  3  a record's optional `profile`: where the time of one call goes, op by op, and which executor ran
     each op (runtimes/base.py's contract: method, runs, ops, partitions, fully_delegated,
     left_on_cpu, and optionally not_timed, note; with the seconds it took, wall_seconds), or
     {"skipped": reason} where the target has no per-op profile, {"failed": reason} where it broke.
     A version 2 file reads as it is (it has none).

A model's records are keyed by (format, variant, target, threads): `compare` pairs runs on it.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from edgekit.core.errors import EdgekitError, first_line, unreadable
from edgekit.core.outputs import write_output_file
from edgekit.data.metrics import METRICS

SCHEMA_VERSION = 3
KIND = "edgekit-bench"
RESULTS_NAME = "results.json"  # written beside the artifacts by `edgekit convert`
STATUSES = ("ok", "skipped", "failed")
PROFILE_METHODS = ("profiler", "isolated")  # runtimes/base.py's, not imported: that loads every runtime

_NUMBER = (int, float)
_WHAT = "a results.json written by edgekit bench or edgekit convert"


def read(path: str | Path) -> dict:
    """A results file (or a folder holding `results.json`), checked and upgraded to this version."""
    path = results_path(path)
    if not path.is_file():  # a FIFO or a device too: reading one would block or never end
        raise EdgekitError(f"{path} is not a file: give {_WHAT}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise EdgekitError(f"{path} is not a text file: give {_WHAT}") from None
    except json.JSONDecodeError as exc:
        raise EdgekitError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}, column "
                           f"{exc.colno}): give {_WHAT}") from None
    except RecursionError:
        raise EdgekitError(f"{path} nests deeper than any results file edgekit writes: the file is damaged; "
                           f"give {_WHAT}") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise EdgekitError(f"{path} is not readable JSON ({first_line(exc)}): give {_WHAT}") from None
    except OSError as exc:
        raise unreadable(path, exc) from None
    return parse(data, str(path))


def results_path(path: str | Path) -> Path:
    """The file a results argument names: a folder stands for the results.json in it."""
    path = Path(path)
    return path / RESULTS_NAME if path.is_dir() and (path / RESULTS_NAME).is_file() else path


def write(path: str | Path, results: dict) -> Path:
    """Write a results file atomically, making its folder: how bench, convert and the suite save one."""
    write_output_file(Path(path), to_text(results))
    return Path(path)


def to_text(results: dict) -> str:
    """Strict JSON: a NaN or Infinity is a bug in what measured it (a model's non-finite outputs
    make a failed record instead), never a figure to write."""
    return json.dumps(results, indent=2, allow_nan=False) + "\n"


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
    _check_numbers(data, source)
    _check_outline(data, source)
    for older in range(version, SCHEMA_VERSION):
        data = _UPGRADES[older](data)
    _check(data, source)
    return data


def combine(parts: list[dict]) -> dict:
    """One results file from runs with the same settings (a suite, model by model), with the
    fingerprints of every board they measured on."""
    boards = {device: found for part in parts for device, found in part.get("devices", {}).items()}
    return {**parts[0], **({"devices": boards} if boards else {}),
            "models": [model for part in parts for model in part["models"]]}


def record_key(record: dict) -> tuple:
    """What a record measured: the same key in two runs means the same file on the same target
    of the same device (records before devices were measured here: local)."""
    return record.get("device", "local"), record["format"], record["variant"], record["target"], record.get("threads")


def target_label(record: dict) -> str:
    device = record.get("device", "local")
    return (record["target"] + (f" x{record['threads']}" if record.get("threads") else "")
            + ("" if device == "local" else f" on {device}"))


def typical_latency(record: dict) -> float:
    """A measured record's typical batch-1 latency in us: its p50, or its mean where the tool that
    timed it reports no percentiles (LiteRT's benchmark_model on a phone: `statistic` "mean")."""
    latency = record["latency_us"]
    return latency["mean"] if latency.get("statistic") == "mean" else latency["p50"]


def latency_cell(record: dict, spec: str = ",.1f") -> str:
    """That latency for a table: a mean is marked with MEAN_MARK."""
    return format(typical_latency(record), spec) + (MEAN_MARK if is_mean(record) else "")


def is_mean(record: dict) -> bool:
    return record.get("status") == "ok" and record["latency_us"].get("statistic") == "mean"


MEAN_MARK = "*"
MEAN_NOTE = "* the mean: benchmark_model, which timed it, reports no percentiles"


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


def _v2_to_v3(data: dict) -> dict:
    """Version 3 added an optional per-op profile to a record: a version 2 file has none."""
    return {**data, "schema_version": 3}


_UPGRADES = {1: _v1_to_v2, 2: _v2_to_v3}


# No figure edgekit records comes near this: the largest integer every JSON reader keeps exact.
# Bounding them keeps the renderers' arithmetic (sizes, log axes) from overflowing.
LARGEST = 2**53


def _check_numbers(data, source: str) -> None:
    """Every number in the file finite and within LARGEST: Python's json reads the literals NaN,
    Infinity and -Infinity (and 1e999 as Infinity), and no gate may pass on them. Walked without
    recursion, so a deep file gets this line and not a RecursionError."""
    pending = [(data, "")]
    while pending:
        node, where = pending.pop()
        if isinstance(node, dict):
            pending += [(value, _field(where, key)) for key, value in reversed(list(node.items()))]
        elif isinstance(node, list):
            pending += [(value, f"{where}[{i}]") for i, value in reversed(list(enumerate(node)))]
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            if isinstance(node, float) and not math.isfinite(node):
                shown = "NaN" if math.isnan(node) else "Infinity" if node > 0 else "-Infinity"
                raise EdgekitError(f"{source}: {where or 'the file'} is {shown}, not a finite number: the file "
                                   "is damaged (an older edgekit could record a broken model's NaN outputs); "
                                   "measure again with edgekit bench")
            if abs(node) > LARGEST:
                raise EdgekitError(f"{source}: {where or 'the file'} is {node:.3g}, beyond any figure edgekit "
                                   "records: the file is damaged; measure again with edgekit bench")


def _field(where: str, key) -> str:
    """`where.key`, or `where["key"]` for a key that would not read as one (quoted, so one line)."""
    key = str(key)
    if re.fullmatch(r"[A-Za-z_][\w-]*", key):
        return f"{where}.{key}" if where else key
    return f"{where}[{json.dumps(key)[:60]}]"


class _Checker:
    """Type checks with a path to the bad field, so a damaged file gets a one-line error."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, where: str, problem: str):
        raise EdgekitError(f"{self.source}: {where} {problem}: the file is damaged or was not written by "
                           "edgekit; write it again with edgekit bench")

    def need(self, obj: dict, key: str, types, where: str, optional: bool = False, minimum=None):
        """obj[key] of `types` (None or absent too when optional), and at least `minimum` if given."""
        value = obj.get(key) if isinstance(obj, dict) else None
        if value is None and optional:
            return None
        if not _is(value, types):
            found = f"is {_json_kind(value)}" if isinstance(obj, dict) and key in obj else "is missing"
            self.fail(_field(where, key), f"{found}, not {_kind(types)}")
        if minimum is not None and value < minimum:
            self.fail(_field(where, key), f"is {value}, below {minimum}")
        return value

    def items(self, obj: dict, key: str, types, where: str, optional: bool = False) -> list:
        """obj[key], a list of `types` (an absent or null optional list: empty)."""
        values = self.need(obj, key, list, where, optional) or []
        for i, value in enumerate(values):
            if not _is(value, types):
                self.fail(f"{_field(where, key)}[{i}]", f"is {_json_kind(value)}, not {_kind(types)}")
        return values


_NAMES = {dict: "an object", list: "a list", str: "a string", int: "an integer", float: "a number",
          bool: "true/false", type(None): "null"}


def _is(value, types) -> bool:
    """isinstance, except that true and false are not numbers."""
    return isinstance(value, types) and (not isinstance(value, bool) or bool in _as_tuple(types))


def _json_kind(value) -> str:
    """What a value is, in JSON's words."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return "a number"
    return _NAMES.get(type(value), type(value).__name__)


def _kind(types) -> str:
    """What a field must be, in words: "a number", "an integer or null", ..."""
    if types == _NUMBER:
        return "a number"
    return " or ".join(_NAMES.get(t, t.__name__) for t in _as_tuple(types))


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
    """Every field `report` and `compare` read (and the renderers under them), of the type they
    use it as: what is checked here is what the readers may rely on without a guard."""
    check = _Checker(source)
    check.need(data, "created", str, "results", optional=True)
    _check_environment(check, check.need(data, "environment", dict, "results"))
    boards = check.need(data, "devices", dict, "results", optional=True) or {}
    for name in boards:
        _check_environment(check, check.need(boards, name, dict, "devices"))
    settings = check.need(data, "settings", dict, "results")
    for key in ("runs", "warmup", "batch"):
        check.need(settings, key, int, "settings", optional=True, minimum=0)
    target_settings = check.need(settings, "target_settings", dict, "settings", optional=True)
    if target_settings is not None:
        check.items(target_settings, "threads", int, "settings.target_settings", optional=True)
    for i, model in enumerate(data["models"]):
        _check_model(check, model, f"models[{i}]")


def _check_environment(check: _Checker, env: dict) -> None:
    cpu = check.need(env, "cpu", dict, "environment", optional=True)
    if cpu is not None:
        check.need(cpu, "name", str, "environment.cpu", optional=True)
        check.need(cpu, "cores", int, "environment.cpu", optional=True, minimum=0)
    for key in ("platform", "python"):
        check.need(env, key, str, "environment", optional=True)
    versions = check.need(env, "versions", dict, "environment", optional=True) or {}
    for name in versions:
        check.need(versions, name, str, "environment.versions", optional=True)


def _check_model(check: _Checker, model: dict, where: str) -> None:
    check.need(model, "name", str, where)
    check.need(model, "reference_note", str, where, optional=True)
    for k, artifact in enumerate(check.items(model, "artifacts", dict, where)):
        _check_artifact(check, artifact, f"{where}.artifacts[{k}]")
    reference = check.need(model, "reference", dict, where, optional=True)
    if reference is not None:
        check.need(reference, "artifact", str, f"{where}.reference")
        for key in ("size_bytes", "gzip_bytes"):
            check.need(reference, key, int, f"{where}.reference", optional=True, minimum=0)
    data_block = check.need(model, "data", dict, where)
    metric = check.need(data_block, "metric", str, f"{where}.data", optional=True)
    if metric is not None:
        if metric not in METRICS:
            check.fail(f"{where}.data.metric", f"is {json.dumps(metric)[:60]}, not a metric edgekit scores "
                                               f"({', '.join(METRICS)})")
    check.need(data_block, "source", str, f"{where}.data")
    check.need(data_block, "samples", int, f"{where}.data", minimum=0)
    check.need(data_block, "float_score", _NUMBER, f"{where}.data", optional=True)
    shapes = check.need(data_block, "input_shapes", dict, f"{where}.data", optional=True) or {}
    for name in shapes:
        check.items(shapes, name, int, f"{where}.data.input_shapes")
    check.need(data_block, "shapes_from", str, f"{where}.data", optional=True)
    for j, record in enumerate(model["records"]):
        _check_record(check, record, f"{where}.records[{j}]")


def _check_artifact(check: _Checker, artifact: dict, where: str) -> None:
    for key in ("name", "format", "variant"):
        check.need(artifact, key, str, where)
    for key in ("size_bytes", "gzip_bytes"):
        check.need(artifact, key, int, where, optional=True, minimum=0)
    check.need(artifact, "sha256", str, where, optional=True)
    for kind in ("inputs", "outputs"):
        for n, spec in enumerate(check.items(artifact, kind, dict, where, optional=True)):
            at = f"{where}.{kind}[{n}]"
            check.need(spec, "name", str, at, optional=True)
            check.need(spec, "dtype", str, at, optional=True)
            check.items(spec, "shape", (int, type(None)), at, optional=True)
            for key in ("scale", "zero_point"):
                check.items(spec, key, _NUMBER, at, optional=True)


def _check_record(check: _Checker, record: dict, where: str) -> None:
    for key in ("artifact", "format", "variant", "runtime", "target", "status"):
        check.need(record, key, str, where)
    check.need(record, "threads", int, where, optional=True, minimum=0)
    check.need(record, "device", str, where, optional=True)
    check.need(record, "size_bytes", int, where, minimum=0)
    if record["status"] not in STATUSES:
        raise EdgekitError(f"{check.source}: {where}.status is {json.dumps(record['status'])[:60]}, not one of "
                           f"{', '.join(STATUSES)}: the file is damaged")
    profile = check.need(record, "profile", dict, where, optional=True)
    if profile is not None:
        _check_profile(check, profile, f"{where}.profile")
    if record["status"] != "ok":
        check.need(record, "reason", str, where)
        return
    latency = check.need(record, "latency_us", dict, where)
    check.need(latency, "statistic", str, f"{where}.latency_us", optional=True)
    for key in ("mean", "std", "min", "max") if latency.get("statistic") == "mean" else ("p50", "p90", "p99",
                                                                                       "robust_cv"):
        check.need(latency, key, _NUMBER, f"{where}.latency_us", minimum=0)
    check.need(latency, "runs", int, f"{where}.latency_us", minimum=0)
    check.need(latency, "high_spread", bool, f"{where}.latency_us", optional=True)
    check.need(latency, "stopped_by", str, f"{where}.latency_us", optional=True)  # --runs auto
    check.need(latency, "median_ci", _NUMBER, f"{where}.latency_us", optional=True, minimum=0)
    for n, value in enumerate(check.items(latency, "rounds", _NUMBER, f"{where}.latency_us", optional=True)):
        if value <= 0:
            check.fail(f"{where}.latency_us.rounds[{n}]", f"is {value}, not above zero")
    check.need(record, "evaluated_samples", int, where, optional=True, minimum=1)
    for key in ("cold", "memory", "throughput"):
        check.need(record, key, dict, where)
    check.need(record, "details", dict, where, optional=True)
    slower = check.need(record, "slower_than_float", dict, where, optional=True)
    if slower is not None:
        check.need(slower, "than", str, f"{where}.slower_than_float")
        check.need(slower, "ratio", _NUMBER, f"{where}.slower_than_float", minimum=0)
    check.need(record, "caveat", str, where, optional=True)
    judged = check.need(record, "quality", dict, where, optional=True)  # measure/quality.py's verdict
    if judged is not None:
        check.need(judged, "degraded", bool, f"{where}.quality")
    accuracy = check.need(record, "accuracy", dict, where, optional=True)
    if accuracy is not None:
        check.need(accuracy, "metric", str, f"{where}.accuracy", optional=True)
        check.need(accuracy, "value", _NUMBER, f"{where}.accuracy")
        check.need(accuracy, "drop_points", _NUMBER, f"{where}.accuracy", optional=True)
    fidelity = check.need(record, "fidelity", dict, where, optional=True)
    if fidelity is not None:
        at = f"{where}.fidelity"
        for key in ("max_abs", "sqnr_db"):
            check.need(fidelity, key, _NUMBER, at)
        check.need(fidelity, "top1_agreement", _NUMBER, at, optional=True)
        outputs = check.need(fidelity, "outputs", dict, at, optional=True) or {}
        for name in outputs:
            output = check.need(outputs, name, dict, f"{at}.outputs")
            check.items(output, "flipped_samples", int, _field(f"{at}.outputs", name), optional=True)


def _check_profile(check: _Checker, profile: dict, where: str) -> None:
    """A record's per-op profile (runtimes/base.py's contract), or {"skipped": reason} or {"failed": reason}."""
    for missing in ("skipped", "failed"):
        if missing in profile:
            check.need(profile, missing, str, where)
            return
    method = check.need(profile, "method", str, where)
    if method not in PROFILE_METHODS:
        check.fail(f"{where}.method", f"is {json.dumps(method)[:60]}, not one of {', '.join(PROFILE_METHODS)}")
    check.need(profile, "runs", int, where, minimum=1)
    for n, op in enumerate(check.items(profile, "ops", dict, where)):
        at = f"{where}.ops[{n}]"
        check.need(op, "index", int, at, minimum=0)
        for key in ("name", "type", "executor"):
            check.need(op, key, str, at)
        check.need(op, "us", _NUMBER, at, minimum=0)
        check.need(op, "calls", int, at, optional=True, minimum=0)  # a phone's row timed more than once a run
    check.need(profile, "partitions", int, where, optional=True, minimum=0)
    check.need(profile, "fully_delegated", bool, where, optional=True)
    for kind in ("left_on_cpu", "not_timed"):  # ops listed apart, each with why
        for n, op in enumerate(check.items(profile, kind, dict, where, optional=kind == "not_timed")):
            at = f"{where}.{kind}[{n}]"
            check.need(op, "index", int, at, minimum=0)
            for key in ("name", "type", "reason"):
                check.need(op, key, str, at)
    check.need(profile, "note", str, where, optional=True)
    check.need(profile, "fused", int, where, optional=True, minimum=0)  # OpenVINO's nodes it fused (NOT_RUN)
    check.need(profile, "wall_seconds", _NUMBER, where, optional=True, minimum=0)
