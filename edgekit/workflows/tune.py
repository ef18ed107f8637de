"""`edgekit tune` as a library call: the fastest variant on this machine whose accuracy drop is
within a tolerance.

Candidates are built one at a time and measured as `edgekit bench` measures (batch-1 latency on
each thread count, the task metric on the held-out data), likely-fast ones first, so that a search
the budget stops early has the most useful rows. "int8-keep" is full int8 with the k worst layers
of the quantization debugger's ranking kept in float, k = 1..max_keep_float; it shares one
calibration with plain int8. Every candidate's numbers are kept, whether or not any meets the
tolerance; only the pick's file is written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from pathlib import Path

from edgekit.converters import selective
from edgekit.converters.inputs import needs_calibration, resolve_inputs, run_inputs, without_calibration
from edgekit.core import interrupts, limits
from edgekit.core.artifacts import TUNE_NAME, atomic_write_bytes, atomic_write_json, new_manifest
from edgekit.core.config import ConvertConfig
from edgekit.core.errors import ConversionFailed, EdgekitError, Unavailable
from edgekit.core.outputs import staged_folder
from edgekit.hardware.mcu import Budget
from edgekit.measure import subjects, targets
from edgekit.measure.evaluation import require_task
from edgekit.models.loading import load_model
from edgekit.workflows.bench import BenchSettings, Measure
from edgekit.workflows.convert import pin_for, plan, prepare
from edgekit.workflows.debug_quant import layer_errors

TFLITE_CANDIDATES = ("int8", "int8-keep", "dynamic", "int16x8", "fp16", "fp32")
ONNX_CANDIDATES = ("int8-static", "int8-dynamic", "fp32")
TARGET_OF = {"tflite": "litert:xnnpack", "onnx": "onnxruntime:cpu"}
REPORT_NAME = TUNE_NAME


@dataclasses.dataclass(frozen=True)
class TuneSettings:
    max_drop: float = 1.0  # points of the task metric (bench.accuracy.drop_points)
    budget_seconds: float = 600.0
    tflite: tuple[str, ...] = TFLITE_CANDIDATES
    onnx: tuple[str, ...] = ONNX_CANDIDATES
    max_keep_float: int = 3
    threads: tuple[int, ...] = (1,)
    runs: int = 100
    warmup: int = 10
    mcu: Budget | None = None  # pick only a .tflite file that fits it, as TFLite Micro runs it

    def __post_init__(self):
        for flag, names, allowed in (("--tflite", self.tflite, TFLITE_CANDIDATES),
                                     ("--onnx", self.onnx, ONNX_CANDIDATES)):
            bad = [n for n in names if n not in allowed]
            if bad:
                raise EdgekitError(f"{flag}: unknown candidate {', '.join(bad)}; choose from {','.join(allowed)}")
        if not self.tflite and not self.onnx:
            raise EdgekitError("no candidates: give at least one of --tflite or --onnx")
        if self.budget_seconds <= 0:
            raise EdgekitError(f"--budget {self.budget_seconds:g} s must be more than 0, e.g. 10m")
        if not 1 <= self.max_keep_float <= 50:
            raise EdgekitError(f"--max-keep-float {self.max_keep_float} must be from 1 to 50")


def parse_budget(text: str) -> float:
    """'10m' -> 600.0; also 's', 'h' and plain seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    text = str(text).strip().lower()
    try:
        value = float(text[:-1]) * units[text[-1]] if text[-1:] in units else float(text)
    except ValueError:
        value = -1
    if not value > 0:
        raise EdgekitError(f"--budget {text!r} is not a duration: give e.g. 90s, 10m or 1h")
    return value


def tune(config: ConvertConfig, settings: TuneSettings, log=None) -> dict:
    """Search, write <out>/<name>-tuned/ (the pick's file and tune.json), return the report."""
    log = log or logging.getLogger(__name__).info
    started = time.monotonic()
    budget = limits.Deadline(settings.budget_seconds, "the search", "raise --budget")
    model_path, calib_path, name = resolve_inputs(config)
    settings, skipped = _without_calibration(settings) if calib_path is None else (settings, [])
    out_dir = Path(config.out) / f"{name}-tuned"
    # the output folder is checked, locked and staged before any heavy work
    with staged_folder(out_dir, run_inputs(config, model_path, calib_path)) as stage, \
            contextlib.ExitStack() as opened:
        log(f"loading {model_path}")
        source = opened.enter_context(load_model(model_path, config.trust_model_code))
        interrupts.check()  # between steps: an interrupt a library swallowed stops the run here
        calibration, task, float_score = prepare(config, model_path, calib_path, source)
        task = require_task(task, model_path, "tune")
        data = subjects.EvalData({source.inputs[0].name: task.data.x_test}, task.data.y_test, task.metric,
                                 task.source)
        reference = source.predict(data.inputs)
        measure = Measure(BenchSettings(runs=settings.runs, warmup=settings.warmup, mcu=settings.mcu), data,
                          reference, float_score, budget)
        micro = targets.parse("tflm", targets.TargetSettings(), {"tflite"})[0] if settings.mcu else None
        rows, stopped = list(skipped), False
        candidates = _candidates(config, settings, source, calibration, stage, log)
        while not stopped:
            interrupts.check()
            if budget.passed:
                stopped = True
                break
            try:
                fmt, variant, build = next(candidates)
            except StopIteration:
                break
            path = stage / f"{name}_{variant}.{fmt}"
            log(f"building {fmt} {variant}")
            try:
                payload, recipe = build()
            except ConversionFailed as exc:  # a candidate the toolchain cannot build for this model is skipped
                interrupts.check()
                rows.append({"format": fmt, "variant": variant, "reason": str(exc),
                             "status": "skipped" if isinstance(exc, Unavailable) else "failed"})
                continue
            atomic_write_bytes(path, payload)
            for threads in settings.threads:
                target = targets.parse(TARGET_OF[fmt], targets.TargetSettings(threads=(threads,)), {fmt})[0]
                try:
                    record = measure(path, {"format": fmt, "variant": variant}, target)
                except limits.TimeLimitExceeded:
                    rows.append({"format": fmt, "variant": variant, "threads": threads, "status": "stopped",
                                 "reason": "the budget ran out while it was measured"})
                    stopped = True
                    break
                rows.append(_row(fmt, variant, recipe, record, settings.max_drop))
            if micro is not None and fmt == "tflite" and not stopped:
                try:
                    fitted = _fit(measure(path, {"format": fmt, "variant": variant}, micro), settings.mcu)
                except limits.TimeLimitExceeded:
                    fitted, stopped = {"board": settings.mcu.name, "fits": False,
                                       "reason": "the budget ran out while TFLite Micro ran it"}, True
                for row in rows:
                    if row.get("file") == path.name:
                        row["mcu"] = fitted
                        row["within_tolerance"] = bool(row.get("within_tolerance")) and fitted["fits"]
        pick = min((r for r in rows if r.get("within_tolerance")), key=lambda r: r["p50_us"], default=None)
        measured = [r for r in rows if r["status"] == "ok"]
        closest = None if pick or not measured else min(measured, key=lambda r: r["drop_points"])
        for path in stage.iterdir():  # only the pick is an output; every candidate's numbers stay
            if pick is None or path.name != pick["file"]:
                path.unlink()
        report = new_manifest(  # the manifest fields mark the folder as edgekit's, to be replaced next time
            kind="edgekit tune", name=name, model=str(model_path),
            calibration=None if calib_path is None else {"path": str(calib_path), "samples": len(_first(calibration))},
            evaluation={"metric": task.metric, "data": task.source, "samples": data.samples,
                        "float": round(float_score, 6)},
            settings=dataclasses.asdict(settings),
            config={k: v for k, v in config.to_dict().items() if k not in ("tflite", "onnx", "keep_float")},
            seconds=round(time.monotonic() - started, 1), stopped_at_budget=stopped,
            pick=pick, closest=closest, candidates=rows)
        atomic_write_json(stage / REPORT_NAME, report)
    log(f"wrote {out_dir}")
    return report


def _without_calibration(settings: TuneSettings) -> tuple[TuneSettings, list[dict]]:
    """Without calibration samples, the candidates that need none, and a row for each left out."""
    kept, skipped = without_calibration(
        {"tflite": settings.tflite, "onnx": settings.onnx}, {"tflite": TFLITE_CANDIDATES, "onnx": ONNX_CANDIDATES},
        "try only the candidates that need none", lambda fmt, v: v == "int8-keep" or needs_calibration(fmt, v))
    return (dataclasses.replace(settings, **{fmt: tuple(names) for fmt, names in kept.items()}),
            [{**entry, "status": "skipped"} for entry in skipped])


def _candidates(config: ConvertConfig, settings: TuneSettings, source, calibration, stage: Path, log):
    """(format, variant, build) in search order; build() -> (flatbuffer or graph bytes, recipe)."""
    shared: list = []

    def calibrated() -> selective.Calibrated:  # one calibration for int8 and every int8-keep
        if not shared:
            shared.append(selective.calibrate(source.saved_model_dir(), calibration, config.io))
        return shared[0]

    def quantized(keep=None):
        return lambda: (selective.quantize(calibrated(), keep), selective.recipe(calibrated(), keep))

    for variant in settings.tflite:
        if variant == "int8":
            yield "tflite", variant, quantized()
        elif variant == "int8-keep":
            log("ranking the layers with TFLite's quantization debugger")
            worst = [r["layer"] for r in layer_errors(calibrated(), None, calibration)]
            for k in range(1, min(settings.max_keep_float, len(worst)) + 1):
                yield "tflite", f"int8-keep{k}", quantized(selective.resolve(calibrated(), worst[:k]))
        else:
            yield from _planned(config, [variant], [], source, calibration, stage)
    if settings.onnx:  # together: the int8 graphs are quantized from one fp32 conversion
        yield from _planned(config, [], list(settings.onnx), source, calibration, stage)


def _planned(config: ConvertConfig, tflite: list[str], onnx: list[str], source, calibration, stage: Path):
    """Variants built as `edgekit convert` builds them."""
    chosen = dataclasses.replace(config, tflite=tflite, onnx=onnx, keep_float=[])
    pin = pin_for(config, source, calibration, real=True)  # tune's samples are the task's, real ones
    for fmt, variant, make, _ in plan(chosen, source, None, calibration, stage, pin):
        yield fmt, variant, (lambda make=make: make(None))


def _row(fmt: str, variant: str, recipe: dict, record: dict, max_drop: float) -> dict:
    row = {"format": fmt, "variant": variant, "file": record["artifact"], "size_bytes": record["size_bytes"],
           "kept_float": (recipe.get("keep_float") or {}).get("layers"), "target": record["target"],
           "threads": record["threads"], "status": record["status"]}
    if record["status"] != "ok":
        return {**row, "reason": record.get("reason")}
    drop = record["accuracy"]["drop_points"]
    return {**row, "p50_us": record["latency_us"]["p50"], "metric": record["accuracy"]["metric"],
            "value": record["accuracy"]["value"], "drop_points": drop, "within_tolerance": drop <= max_drop,
            "measured": record}


def _fit(record: dict, board: Budget) -> dict:
    """A candidate's fit on the board, from its TFLite Micro record (one it cannot run fits nowhere)."""
    if record["status"] == "ok":
        return {**record["mcu"], "arena_bytes": record["details"]["arena_bytes"]}
    return {"board": board.name, "fits": False, "reason": record.get("reason")}


def _first(outputs: dict):
    return next(iter(outputs.values()))
