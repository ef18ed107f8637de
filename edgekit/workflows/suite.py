"""A benchmark suite's file (benchmarks/suite.json) as a declared schema: every field is checked
before anything runs, and a bad one is one line naming the suite, the field and the fix
(edgekit/core/schemas.py). Only `models` is needed: every other field left out has the default
the command line uses (`edgekit sweep --dump-suite` prints them). `quick` holds the same fields,
each optional: what `--quick` changes.

    {"models": ["digits_mlp", "mine.keras", {"model": "net.h5", "calib": "calib.npz", "input_shape": ["x:1,64,64,3"]}],
     "tflite": ["fp32", "int8"], "onnx": ["none"], "runtimes": ["litert:xnnpack"],
     "threads": [1, 2], "runs": 300, "warmup": 30, "batch": 32, "quick": {"runs": 60},
     "device": "host", "shared": "/mnt/sweeps", "trust_model_code": false, "about": "..."}
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, create_model

from edgekit.core.config import ONNX_VARIANTS, QAT_VARIANT, TFLITE_VARIANTS, parse_input_shapes
from edgekit.core.errors import EdgekitError, did_you_mean
from edgekit.core.schemas import read_json, validate
from edgekit.measure import targets
from edgekit.workflows.bench import BenchSettings
from edgekit.zoo import DEFAULT_MODEL

STRICT = ConfigDict(strict=True, extra="forbid")
CORES = os.cpu_count() or 1
MAX_THREADS = 4 * CORES  # more threads than that only slows a measurement (100000 crashed LiteRT)
MODELS_FIX = 'give zoo names, model paths (relative to the suite) or {"model": PATH, "calib": PATH}'


def _input_shapes(texts: list[str]) -> list[str]:
    try:
        parse_input_shapes(texts)
    except EdgekitError:
        raise ValueError("is not a list of NAME:D0,D1,... texts with positive sizes, each input once") from None
    return texts


class ModelEntry(BaseModel):
    """A model of the suite: a zoo name or a model's path, with its calibration set."""

    model_config = STRICT
    model: str = Field(description=MODELS_FIX)
    calib: str | None = Field(None, description="give the calibration set's path (.npz, .npy or an image folder), "
                                                "relative to the suite's folder")
    input_shape: Annotated[list[str], AfterValidator(_input_shapes)] = Field([], description='give the shapes of its inputs\' free dimensions, e.g. '
                                                   '["images:1,3,320,320"] (as --input-shape)')


def _model_entry(value):
    """"digits_mlp" stands for {"model": "digits_mlp"}."""
    if isinstance(value, str):
        return {"model": value}
    if not isinstance(value, dict):
        raise ValueError('is not a zoo name, a path, or {"model": PATH, "calib": PATH}')
    return value


def _variant(fmt: str, known: tuple[str, ...]):
    def check(name: str) -> str:
        if name not in (*known, "none", "all"):
            raise ValueError(f"is not a {fmt} variant{did_you_mean(name, known)}")
        return name
    return Annotated[str, AfterValidator(check)]


def _alone(names: list[str]) -> list[str]:  # [] builds none, as ["none"]
    if len(names) > 1 and {"none", "all"} & set(names):
        raise ValueError('mixes "none" or "all" with variant names')
    return names


def _runtime(name: str) -> str:
    if name == "all":
        return name
    try:
        targets.parse(name, targets.TargetSettings(), set(targets.ARTIFACT_FORMATS))
    except EdgekitError:
        raise ValueError(f"is not a runtime a suite can name{did_you_mean(name, _RUNTIME_EXAMPLES)}") from None
    return name


def _runtimes(names: list[str]) -> list[str]:
    if len(names) > 1 and "all" in names:
        raise ValueError('mixes "all" with runtime names')
    return names


def _runs(value):
    """A count of timed runs, or "auto" (until the median is known to ±2%, as --runs auto)."""
    if value == "auto":
        return value
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError('should be an integer or "auto"')  # noqa: TRY004 (pydantic reports ValueError only)
    return _at_least(2)(value)


def _thread_count(count: int) -> int:
    if not 1 <= count <= MAX_THREADS:
        raise ValueError(f"is not from 1 to {MAX_THREADS} (4 x this machine's {CORES} cores)")
    return count


def _at_least(low: int):
    def check(value: int) -> int:
        if value < low:
            raise ValueError(f"is less than {low}")
        return value
    return check


def _not_empty(items: list) -> list:
    if not items:
        raise ValueError("is empty")
    return items


_RUNTIME_EXAMPLES = ("keras:cpu", "litert:xnnpack", "litert:builtin", "litert-compiled:cpu", "onnxruntime:cpu", "tflm")
# the fields `quick` may change too: (type, fix)
SETTINGS = {
    "models": (Annotated[list[Annotated[ModelEntry, BeforeValidator(_model_entry)]],
                         AfterValidator(_not_empty)], MODELS_FIX),
    "tflite": (Annotated[list[_variant("TFLite", (*TFLITE_VARIANTS, QAT_VARIANT))], AfterValidator(_alone)],
               f"give some of {', '.join(TFLITE_VARIANTS)} (or [\"all\"], or [\"none\"])"),
    "onnx": (Annotated[list[_variant("ONNX", ONNX_VARIANTS)], AfterValidator(_alone)],
             f"give some of {', '.join(ONNX_VARIANTS)} (or [\"all\"], or [\"none\"])"),
    "runtimes": (Annotated[list[Annotated[str, AfterValidator(_runtime)]], AfterValidator(_not_empty),
                           AfterValidator(_runtimes)],
                 f"give runtime:variant names, e.g. {', '.join(_RUNTIME_EXAMPLES)} (or [\"all\"])"),
    "threads": (Annotated[list[Annotated[int, AfterValidator(_thread_count)]], AfterValidator(_not_empty)],
                f"give thread counts from 1 to {MAX_THREADS}, e.g. [1, 2]"),
    "runs": (Annotated[Any, AfterValidator(_runs)], 'give the timed runs per row: a whole number, 2 or more, or "auto"'),
    "warmup": (Annotated[int, AfterValidator(_at_least(0))], "give the untimed runs first: a whole number, 0 or more"),
    "batch": (Annotated[int, AfterValidator(_at_least(1))], "give the throughput batch size: a whole number, 1 or more"),
}

# what a field left out of a suite is: the command line's default ("all": every runtime that
# applies here, as convert and bench measure without --runtime); models have none
_BENCH = BenchSettings()
DEFAULTS = {"tflite": list(TFLITE_VARIANTS), "onnx": list(ONNX_VARIANTS), "runtimes": ["all"],
            "threads": list(_BENCH.target_settings.threads), "runs": "auto", "warmup": _BENCH.warmup,
            "batch": _BENCH.batch}

# each optional, but not null: a field left out keeps the suite's value
Quick = create_model("Quick", __config__=STRICT,
                     **{name: (kind, Field(None, description=fix)) for name, (kind, fix) in SETTINGS.items()})
Suite = create_model(
    "Suite", __config__=STRICT,
    models=(SETTINGS["models"][0], Field(description=MODELS_FIX)),
    **{name: (kind, Field(DEFAULTS[name], description=fix)) for name, (kind, fix) in SETTINGS.items()
       if name != "models"},
    quick=(Quick, Field(Quick(), description="give the fields --quick changes, e.g. {\"runs\": 60}, or {}")),
    device=(str, Field("host", min_length=1, description='give the name of the device its measurements need, '
                                                         'e.g. "host" or "pi5"')),
    shared=(str, Field("", description="give a folder every Ray node sees at that path")),
    trust_model_code=(bool, Field(False, description="give true to load models whose layers run Python (Lambda) "
                                                     "or reach files, only if you trust their source")),
    about=(str, Field("", description="give a sentence on what the suite measures")),
)


def read(path, quick: bool) -> dict[str, Any]:
    """The suite at `path` as a dict of its fields (`quick`: with its quick fields in place), each
    model as {"model": ..., "calib": ...}; one line and exit 2 for anything that does not fit."""
    suite = _validated(path)[1]
    fields = suite.model_dump(exclude={"quick", "about"})
    if quick:
        fields.update(suite.quick.model_dump(include=suite.quick.model_fields_set))  # only what it names
    return fields


def filled(path=None) -> dict[str, Any]:
    """The suite at `path` as JSON with every field it leaves out at its default (its models as it
    gives them); without `path`, a suite of the default model with every default."""
    if path is None:
        models, suite = [DEFAULT_MODEL], Suite.model_validate({"models": [DEFAULT_MODEL]})
    else:
        data, suite = _validated(path)
        models = data["models"]
    return {"models": models, **suite.model_dump(mode="json", exclude={"models", "quick"}),
            "quick": suite.quick.model_dump(include=suite.quick.model_fields_set)}


def _validated(path) -> tuple[Any, Any]:
    """The suite's JSON as read, and as checked against the schema."""
    source, fix = f"suite {path}", "give a JSON file like benchmarks/suite.json"
    data = read_json(path, source, fix)
    return data, validate(Suite, data, source, fix)
