"""`edgekit tune` as a library call: the fastest variant on this machine whose accuracy drop is
within a tolerance, or, without labels, whose every output clears the quality threshold on
held-out samples.

Candidates are built one at a time and measured as `edgekit bench` measures (batch-1 latency on
each thread count, the task metric on the held-out data, the fidelity to the float model on the
same samples), likely-fast ones first, so that a search the budget stops early has the most useful
rows. Without labelled data the samples are a seeded fifth of the calibration set, which the
quantizers then do not see, and a candidate is judged by its quality verdict (`--min-sqnr` or the
precision's threshold, measure/quality.py); with labels by its accuracy drop (and by `--min-sqnr`
too when it is given). "int8-keep" is full int8 with the fewest of the quantization debugger's
worst layers kept in float that clears that judgement (workflows/mixed_precision.py), found when
plain int8 does not; it shares one calibration with plain int8, and its layers reach the ONNX
int8-static candidate too. Every candidate's numbers are kept, whether or not any meets the
tolerance; only the pick's file is written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import tempfile
import time
from pathlib import Path

from edgekit.converters import onnx as onnx_convert
from edgekit.converters import selective
from edgekit.converters import tflite as tflite_convert
from edgekit.converters.inputs import needs_calibration, resolve_inputs, run_inputs, without_calibration
from edgekit.converters.quant_debugger import layer_errors
from edgekit.core import interrupts, limits
from edgekit.core.artifacts import TUNE_NAME, atomic_write_bytes, atomic_write_json, new_manifest
from edgekit.core.config import ConvertConfig
from edgekit.core.errors import ConversionFailed, EdgekitError, Unavailable, option
from edgekit.core.outputs import staged_folder
from edgekit.data.metrics import evaluation, score
from edgekit.hardware.mcu import Budget
from edgekit.measure import fidelity, pairing, quality, subjects, targets
from edgekit.models.loading import load_model
from edgekit.runtimes import for_format
from edgekit.workflows import mixed_precision
from edgekit.workflows.bench import BenchSettings, Measure
from edgekit.workflows.convert import pin_for, plan, prepare, validation_samples

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
    max_keep_float: int = 5  # ranked layers (a front-end block counts as one) the int8-keep search tries
    min_sqnr: float | None = None  # dB every output must reach on held-out samples (None: the precision's threshold)
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
        if task is None and calib_path is None:
            raise EdgekitError(f"tune judges each candidate on real samples: give {option('calib')} (a fifth is held "
                               f"out to judge fidelity on) or labelled data with {option('train_data')}")
        data, calibration, held_out = _judged_on(config, calib_path, task, calibration, source)
        reference = source.predict(data.inputs)
        measure = Measure(BenchSettings(runs=settings.runs, warmup=settings.warmup, mcu=settings.mcu), data,
                          reference, float_score, budget)
        micro = targets.parse("tflm", targets.TargetSettings(), {"tflite"})[0] if settings.mcu else None
        rows, stopped = list(skipped), False
        judge = _Judge(settings, source, data, reference, float_score)
        searched: dict = {}
        candidates = _candidates(config, settings, source, calibration, stage, log, judge, searched,
                                 lambda: budget.passed)
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
                rows.append(_row(fmt, variant, recipe, record, judge))
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
        closest = None if pick or not measured else min(measured, key=_shortfall)
        for path in stage.iterdir():  # only the pick is an output; every candidate's numbers stay
            if pick is None or path.name != pick["file"]:
                path.unlink()
        report = new_manifest(  # the manifest fields mark the folder as edgekit's, to be replaced next time
            kind="edgekit tune", name=name, model=str(model_path),
            calibration=None if calib_path is None else {"path": str(calib_path), "samples": len(_first(calibration))},
            evaluation=None if task is None else {"metric": task.metric, "data": task.source,
                                                  "samples": data.samples, "float": round(float_score, 6)},
            judged_on={"data": data.source, "samples": data.samples, "by": judge.by(),
                       **({"held_out": held_out.to_dict()} if held_out else {})},
            settings=dataclasses.asdict(settings),
            config={k: v for k, v in config.to_dict().items() if k not in ("tflite", "onnx", "keep_float")},
            seconds=round(time.monotonic() - started, 1), stopped_at_budget=stopped,
            pick=pick, closest=closest, candidates=rows,
            mixed_precision=_mixed_precision(searched, rows) if searched else None)
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


def _candidates(config: ConvertConfig, settings: TuneSettings, source, calibration, stage: Path, log,
                judge: _Judge, searched: dict, stop):
    """(format, variant, build) in search order; build() -> (flatbuffer or graph bytes, recipe).
    `searched` receives the int8-keep search's outcome (mixed_precision.Found) when it runs."""
    shared: list = []

    def calibrated() -> selective.Calibrated:  # one calibration for int8 and int8-keep
        if not shared:
            shared.append(selective.calibrate(source.saved_model_dir(), calibration, config.io))
        return shared[0]

    def quantized(keep=None):
        return lambda: (selective.quantize(calibrated(), keep), selective.recipe(calibrated(), keep))

    for variant in settings.tflite:
        if variant == "int8":
            yield "tflite", variant, quantized()
        elif variant == "int8-keep":
            found = _search(calibrated, calibration, judge, settings, log, stop)
            if isinstance(found, str):  # plain int8 clears, or nothing to keep: a row that says why
                yield "tflite", variant, _skipped(found)
                continue
            searched["found"] = found
            yield "tflite", f"int8-keep{len(found.keep.layers)}", _with_io(calibrated(), found)
        else:
            yield from _planned(config, [variant], [], source, calibration, stage)
    if settings.onnx:  # together: the int8 graphs are quantized from one fp32 conversion
        found = searched.get("found")
        keep = list(found.keep.layers) if found and found.cleared else []
        yield from _planned(config, [], list(settings.onnx), source, calibration, stage, keep)


def _search(calibrated, calibration: dict, judge: _Judge, settings: TuneSettings, log, stop):
    """The int8-keep search (mixed_precision.Found), or why there is none (a string). When no set
    clears with int8 inputs and outputs, it searches again with float ones (the layers inside still
    int8): an int8 input can be what caps the fidelity (basic-pitch's audio: 17 dB on its onset
    output with its front end in float, 27 dB with float I/O as well)."""
    cleared, _ = judge.trial(calibrated(), None)
    if cleared:
        return "plain int8 already clears the bar: nothing to keep in float"
    log("ranking the layers with TFLite's quantization debugger")
    ranking = layer_errors(calibrated(), None, calibration)
    found = mixed_precision.search(calibrated(), ranking, lambda keep: judge.trial(calibrated(), keep),
                                   settings.max_keep_float, log, stop)
    if found.keep is None:
        return "the quantization debugger blames no layer beyond rounding: nothing to keep in float"
    if not found.cleared and calibrated().io == "int" and not stop():
        log("no set cleared with int8 inputs and outputs: searching again with float ones")
        floated = dataclasses.replace(calibrated(), io="float")
        again = mixed_precision.search(floated, ranking, lambda keep: judge.trial(floated, keep),
                                       settings.max_keep_float, log, stop)
        if again.cleared:
            return dataclasses.replace(again, io="float", trials=found.trials + again.trials)
    return found


def _with_io(calibrated: selective.Calibrated, found: mixed_precision.Found):
    """The build of the search's pick, with the I/O type it was found at."""
    recipe = calibrated.recipe if found.io == calibrated.io else {**calibrated.recipe, "io": "float32"}
    chosen = dataclasses.replace(calibrated, io=found.io, recipe=recipe)
    return lambda: (selective.quantize(chosen, found.keep), selective.recipe(chosen, found.keep))


def _skipped(why: str):
    def build():
        raise Unavailable(why)
    return build


def _planned(config: ConvertConfig, tflite: list[str], onnx: list[str], source, calibration, stage: Path,
             keep_float: list[str] | None = None):
    """Variants built as `edgekit convert` builds them; ONNX int8-static with `keep_float` in float
    (the int8-keep search's layers: onnxruntime's nodes_to_exclude, converters/onnx.kept_in_float)."""
    plain = [v for v in onnx if v != "int8-static" or not keep_float]
    pin = pin_for(config, source, calibration, real=True)  # tune's samples are the task's, real ones
    if tflite or plain:
        chosen = dataclasses.replace(config, tflite=tflite, onnx=plain, keep_float=[])
        for fmt, variant, make, _ in plan(chosen, source, None, calibration, stage, pin):
            yield fmt, variant, (lambda make=make: make(None))
    if keep_float and "int8-static" in onnx:
        kept = dataclasses.replace(config, tflite=[], onnx=["int8-static"], keep_float=keep_float)
        for fmt, variant, make, _ in plan(kept, source, None, calibration, stage, pin):
            yield fmt, variant, (lambda make=make: _onnx_kept(make))


def _onnx_kept(make):
    """ONNX int8-static with the searched layers in float; a layer with no ONNX node fails the candidate, not the search."""
    try:
        return make(None)
    except ConversionFailed:
        raise
    except EdgekitError as exc:
        raise ConversionFailed(str(exc)) from exc


class _Judge:
    """Whether a candidate is good enough: its accuracy drop within max_drop when the task is known
    (and, with --min-sqnr, its quality verdict too), else its quality verdict on the held-out samples."""

    def __init__(self, settings: TuneSettings, source, data: subjects.EvalData, reference: dict, float_score):
        self.settings, self.source, self.data, self.reference, self.float_score = (
            settings, source, data, reference, float_score)

    def by(self) -> str:
        sqnr = "the precision's quality threshold" if self.settings.min_sqnr is None else \
            f"--min-sqnr {self.settings.min_sqnr:g} dB"
        if self.data.metric is None:
            return f"fidelity on held-out samples: every output must clear {sqnr}"
        return f"{self.data.metric} drop within {self.settings.max_drop:g} points" + (
            f" and every output at {sqnr}" if self.settings.min_sqnr is not None else "")

    def __call__(self, fidelity_found: dict, accuracy: dict | None, precision_class: str) -> tuple[bool, dict]:
        verdict = quality.verdict(fidelity_found, precision_class, self.settings.min_sqnr)
        if accuracy is not None and "drop_points" in accuracy:
            within = accuracy["drop_points"] <= self.settings.max_drop and (
                self.settings.min_sqnr is None or not verdict["degraded"])
        else:
            within = not verdict["degraded"]
        return within, verdict

    def trial(self, calibrated: selective.Calibrated, keep: selective.KeepFloat | None) -> tuple[bool, dict]:
        """Full int8 with `keep` in float, run in LiteRT on the held-out samples and judged (no timing)."""
        with tempfile.TemporaryDirectory(prefix="edgekit-tune-") as folder:
            path = Path(folder) / "trial.tflite"
            path.write_bytes(selective.quantize(calibrated, keep))
            with for_format("tflite").open(path) as session:
                paired = pairing.pair(session.inputs, self.source.inputs, session.outputs, self.source.outputs,
                                      file="the int8 model", float_model=self.source.path.name,
                                      fix="the converter renamed them; report it")
                outputs = paired.float_outputs(session.predict(paired.file_feeds(self.data.inputs)))
        classifier = None if self.data.metric is None else self.data.metric == "accuracy"
        found = fidelity.compare(self.reference, outputs, classifier)
        accuracy = None
        if self.data.metric is not None:
            value = score(self.data.metric, _first(outputs), _first(self.data.inputs), self.data.labels)
            accuracy = evaluation(self.data.metric, self.float_score, value)
        within, verdict = self(found, accuracy, "int8")
        summary = {"sqnr_db": _per_output_sqnr(found), "degraded": verdict["outputs"]}
        if accuracy is not None:
            summary["drop_points"] = accuracy["drop_points"]
        return within, summary


def _judged_on(config: ConvertConfig, calib_path, task, calibration: dict, source
               ) -> tuple[subjects.EvalData, dict, object]:
    """(the samples every candidate is judged on, the calibration the quantizers get, the held-out
    split or None): the task's held-out data with its labels, else a seeded fifth of the
    calibration set held out of it (as convert validates)."""
    if task is not None:
        return (subjects.EvalData({source.inputs[0].name: task.data.x_test}, task.data.y_test, task.metric,
                                  task.source), calibration, None)
    calibration, validation, described, held_out = validation_samples(config, calib_path, task, calibration, source)
    return subjects.EvalData(validation, None, None, described), calibration, held_out


def _precision_class(fmt: str, variant: str) -> str:
    if fmt == "tflite" and variant.startswith("int8-keep"):
        return "int8"
    return (tflite_convert if fmt == "tflite" else onnx_convert).PRECISION[variant][1]


def _row(fmt: str, variant: str, recipe: dict, record: dict, judge: _Judge) -> dict:
    row = {"format": fmt, "variant": variant, "file": record["artifact"], "size_bytes": record["size_bytes"],
           "kept_float": (recipe.get("keep_float") or {}).get("layers"), "target": record["target"],
           "threads": record["threads"], "status": record["status"]}
    if record["status"] != "ok":
        return {**row, "reason": record.get("reason")}
    accuracy = record.get("accuracy")
    within, verdict = judge(record["fidelity"], accuracy, _precision_class(fmt, variant))
    return {**row, "p50_us": record["latency_us"]["p50"], "metric": accuracy and accuracy["metric"],
            "value": accuracy and accuracy["value"], "drop_points": accuracy and accuracy.get("drop_points"),
            "sqnr_db": _per_output_sqnr(record["fidelity"]), "quality": verdict, "within_tolerance": within,
            "measured": record}


def _shortfall(row: dict) -> float:
    """How far a measured row is from passing: its accuracy drop, else its worst output's SQNR, negated."""
    if row.get("drop_points") is not None:
        return row["drop_points"]
    return -min(row["sqnr_db"].values(), default=0.0)


def _per_output_sqnr(found: dict | None) -> dict:
    return {name: round(entry["sqnr_db"], 2) for name, entry in (found or {}).get("outputs", {}).items()}


def _mixed_precision(searched: dict, rows: list[dict]) -> dict:
    """What the int8-keep search found: the layers, each set it tried, and the measured file beside fp32."""
    found = searched["found"]
    report = found.to_dict()
    kept = next((r for r in rows if r["variant"].startswith("int8-keep") and r["status"] == "ok"), None)
    fp32 = next((r for r in rows if r["format"] == "tflite" and r["variant"] == "fp32" and r["status"] == "ok"
                 and kept and r["threads"] == kept["threads"]), None)
    if kept:
        report["held_out_sqnr_db"] = kept["sqnr_db"]
        report.update(file=kept["file"], p50_us=kept["p50_us"], size_bytes=kept["size_bytes"])
    if fp32:
        report.update(fp32_p50_us=fp32["p50_us"], fp32_size_bytes=fp32["size_bytes"],
                      speedup=round(fp32["p50_us"] / kept["p50_us"], 2))
    return report


def _fit(record: dict, board: Budget) -> dict:
    """A candidate's fit on the board, from its TFLite Micro record (one it cannot run fits nowhere)."""
    if record["status"] == "ok":
        return {**record["mcu"], "arena_bytes": record["details"]["arena_bytes"]}
    return {"board": board.name, "fits": False, "reason": record.get("reason")}


def _first(outputs: dict):
    return next(iter(outputs.values()))
