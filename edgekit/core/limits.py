"""Bounds on the work one run may do, so that a bad or hostile input cannot fill a CI machine's
memory or hang its job: how big a model file may be (and what its archive may unpack to), how
many ops a .tflite or .onnx graph may hold, how big a calibration or evaluation set may be, and
how long a benchmark may run.

Each bound has a default, an environment variable and a command-line option; the option wins.
They are process-wide: the CLI sets them once, before any work starts.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from pathlib import Path

from edgekit.core.errors import EdgekitError, naming_cli, option
from edgekit.core.units import human_size

GIB = 1 << 30


class TimeLimitExceeded(EdgekitError):
    """The benchmark ran past its wall-time limit: the row measured then is stopped, and the
    rows after it are not measured."""


@dataclasses.dataclass(frozen=True)
class Limits:
    model_bytes: int = 2 * GIB  # a model file, or what a .keras archive unpacks to
    data_bytes: int = 4 * GIB  # a calibration or evaluation set, decoded into arrays
    bench_seconds: float = 3600.0  # the whole benchmark of one run
    # ops in a .tflite (every subgraph) or nodes in an .onnx graph: the largest real graphs (LLMs,
    # unrolled RNNs) hold tens of thousands; a file of 240k ops took minutes to load and inspect
    ops: int = 100_000


# field -> (command-line option, environment variable, parser)
SETTINGS = {
    "model_bytes": ("--max-model-size", "EDGEKIT_MAX_MODEL_SIZE", "size"),
    "data_bytes": ("--max-data-size", "EDGEKIT_MAX_DATA_SIZE", "size"),
    "bench_seconds": ("--max-bench-time", "EDGEKIT_MAX_BENCH_TIME", "duration"),
    "ops": ("--max-ops", "EDGEKIT_MAX_OPS", "count"),
}
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "g": GIB, "gb": GIB,
          "t": 1 << 40, "tb": 1 << 40}
_SECONDS = {"": 1, "s": 1, "m": 60, "min": 60, "h": 3600}
_current: Limits | None = None


def named(setting: str, with_variable: bool = False) -> str:
    """How a user raises a limit, in the words of what they ran: its flag on the command line
    ("--max-ops", or "--max-ops (or EDGEKIT_MAX_OPS)"); its environment variable elsewhere (a
    sweep's suite and the Python API take no limits of their own)."""
    flag, variable, _ = SETTINGS[setting]
    if not naming_cli():
        return variable
    return f"{flag} (or {variable})" if with_variable else flag


def current() -> Limits:
    """The limits in force: those the CLI set, else the environment's, else the defaults."""
    return _current if _current is not None else from_environment()


def from_environment() -> Limits:
    values = {}
    for field, (_, env, kind) in SETTINGS.items():
        if os.environ.get(env):
            values[field] = parse(kind, os.environ[env], env)
    return Limits(**values)


def configure(options: dict[str, str | None]) -> Limits:
    """Set the process's limits from command-line values (field -> text, None: not given)."""
    global _current
    base = from_environment()
    given = {field: parse(SETTINGS[field][2], text, SETTINGS[field][0])
             for field, text in options.items() if text is not None}
    _current = dataclasses.replace(base, **given)
    return _current


def add_arguments(parser, *fields: str) -> None:
    """The limit options a command honours (all of them when none are named)."""
    group = parser.add_argument_group("limits (so that bad input cannot hang a CI job)")
    defaults = Limits()
    helps = {
        "model_bytes": f"largest model file to load, e.g. 500MB (default: {human_size(defaults.model_bytes)})",
        "data_bytes": "largest calibration or evaluation set, as decoded arrays "
                      f"(default: {human_size(defaults.data_bytes)})",
        "bench_seconds": "stop the benchmark (loading, the float model's evaluation and the measuring) after this "
                         f"long, e.g. 90s or 10m (default: {defaults.bench_seconds / 60:g}m)",
        "ops": f"most ops a .tflite or .onnx file may hold (default: {defaults.ops:,})",
    }
    for field in fields or SETTINGS:
        option, _, kind = SETTINGS[field]
        group.add_argument(option, metavar=kind.upper() if kind != "size" else "SIZE", help=helps[field])


def from_arguments(args) -> Limits:
    return configure({field: getattr(args, option[2:].replace("-", "_"), None)
                      for field, (option, _, _) in SETTINGS.items()})


def parse(kind: str, text: str, where: str) -> float:
    if kind == "count":
        digits = str(text).strip().replace("_", "").replace(",", "")
        if not digits.isdigit() or int(digits) <= 0:
            raise EdgekitError(f"{where} {text!r} is not a positive whole number: give e.g. 300000")
        return int(digits)
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(text))
    units = _UNITS if kind == "size" else _SECONDS
    unit = match.group(2).lower() if match else None
    if not match or unit not in units or float(match.group(1)) <= 0:
        example = "500MB or 2GB" if kind == "size" else "90s, 10m or 1h"
        raise EdgekitError(f"{where} {text!r} is not a positive {kind}: give e.g. {example}")
    value = float(match.group(1)) * units[unit]
    return int(value) if kind == "size" else value


def check_model_size(path: Path, size: int, what: str = "model") -> None:
    """Refuse a model (file, or unpacked archive) larger than the model limit."""
    limit = current().model_bytes
    if size > limit:
        raise EdgekitError(f"{what} {path} is {human_size(size)}, over the {human_size(limit)} limit: "
                           f"raise it with {named('model_bytes', with_variable=True)} if that is expected")


def check_data_size(path: Path, size: int) -> None:
    """Refuse a data set whose arrays would take more than the data limit."""
    limit = current().data_bytes
    if size > limit:
        raise EdgekitError(f"data {path} would take {human_size(size)} decoded, over the {human_size(limit)} "
                           f"limit: use fewer samples or raise it with {named('data_bytes')}")


def check_ops(path: Path, count: int, complete: bool = True, tensors: int = 0) -> None:
    """Refuse a model file holding more ops than the op limit (`complete` False: at least `count`),
    or more than TENSORS_PER_OP times as many tensors (each one LiteRT allocates a struct for and
    inspect reads)."""
    limit, fix = current().ops, f"raise it with {named('ops', with_variable=True)} if that is expected"
    if count > limit:
        raise EdgekitError(f"model {path} holds {count:,}{'' if complete else ' or more'} ops, over the {limit:,} "
                           f"limit: {fix}")
    if tensors > TENSORS_PER_OP * limit:
        raise EdgekitError(f"model {path} holds {tensors:,} tensors, over the {TENSORS_PER_OP * limit:,} limit "
                           f"({TENSORS_PER_OP} per op of the op limit): {fix}")


TENSORS_PER_OP = 10  # real graphs hold two or three: weights, activations


class Deadline:
    """A point in time that long loops check between steps (a timer signal instead would raise
    wherever the program happens to be, e.g. in a first import, and break the module)."""

    def __init__(self, seconds: float, what: str, fix: str | None = None):
        self.seconds, self.what = seconds, what
        self.fix = fix or f"lower {option('runs')} or raise {named('bench_seconds')}"
        self.end = time.monotonic() + seconds

    @property
    def passed(self) -> bool:
        return time.monotonic() > self.end

    def check(self, during: str | None = None, fix: str | None = None) -> None:
        if self.passed:
            raise self.exceeded(during, fix)

    def exceeded(self, during: str | None = None, fix: str | None = None) -> TimeLimitExceeded:
        """The error; `during`: what the run was doing (e.g. "loading x.tflite"), `fix`: a fix for that."""
        return TimeLimitExceeded(f"{self.what} ran past its {self.seconds:g} s limit"
                                 f"{f' while {during}' if during else ''}: {fix or self.fix}")
