"""`edgekit convert` as a library call: load, check, convert every variant, validate each one
against the float model on samples its quantizer never saw (the held-out data, else a fifth of the
calibration set held out), judge each file's quality, and write the folder atomically."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import shlex
import time
from pathlib import Path

from edgekit.converters import onnx as onnx_convert
from edgekit.converters import pinning, selective
from edgekit.converters import tflite as tflite_convert
from edgekit.converters.inputs import calibration_plan, resolve_inputs, run_inputs
from edgekit.converters.quant_debugger import blamed_steps, layer_errors
from edgekit.core import interrupts
from edgekit.core.artifacts import (MANIFEST_NAME, Artifact, atomic_save_model, atomic_write_bytes, atomic_write_json,
                                    file_sizes, new_manifest, sha256_of)
from edgekit.core.config import IMAGE_RANGES, ONNX_VARIANTS, QAT_VARIANT, TFLITE_VARIANTS, ConvertConfig
from edgekit.core.errors import ConversionFailed, EdgekitError, Unavailable, option, switch
from edgekit.core.outputs import staged_folder
from edgekit.core.progress import Progress
from edgekit.data import holdout, shapes
from edgekit.data.calibration import load_calibration
from edgekit.measure import fidelity, pairing, quality
from edgekit.measure.evaluation import task_for
from edgekit.measure.harness import MIN_EVALUATED
from edgekit.measure.memory import return_freed_memory
from edgekit.measure.subjects import random_inputs
from edgekit.models.inspection import check_op_count
from edgekit.models.loading import TF_KERAS, SourceModel, from_keras, is_qat_config, load_model, model_config
from edgekit.runtimes import for_format
from edgekit.runtimes.environment import package_versions, usable_cores
from edgekit.workflows.bench import BenchSettings, run_on_conversion
from edgekit.workflows.optimize import optimize

logger = logging.getLogger(__name__)  # quiet unless the caller (or the CLI) configures logging


# int8 scales from a handful of samples do not represent the data, and validation on them means little
MIN_CALIBRATION_SAMPLES = 10


def convert(config: ConvertConfig, log=None, verbose: bool = True, finish=None) -> dict:
    """Run the whole conversion; returns the manifest written to <out>/<name>/manifest.json.
    Messages go to `log` (default: the `edgekit` logger at INFO; step timings at DEBUG). A TFLite
    variant that cannot keep the model's free dimensions is converted at the shape --input-shape
    gives, else the real samples' at batch 1 (converters/pinning.py).

    `finish(folder, manifest)`, when given, runs on the staged folder before it replaces the
    output (the benchmark does): if it fails or is interrupted, the previous output stays."""
    log = log or logger.info
    model_path, calib_path, name = resolve_inputs(config)
    requested = config
    config, skipped = calibration_plan(config, calib_path)
    out_dir = Path(config.out) / name

    # the output folder is checked, locked and staged before any heavy work
    with staged_folder(out_dir, run_inputs(config, model_path, calib_path)) as stage, \
            contextlib.ExitStack() as opened:
        log(f"loading {model_path}")
        seconds = {"started": time.monotonic()}  # where the run's time goes, kept in the manifest
        original = opened.enter_context(load_model(model_path, config.trust_model_code))
        interrupts.check()  # between steps: an interrupt a library swallowed stops the run here
        calibration, task, float_score = prepare(config, model_path, calib_path, original)
        calibration, validation, validated_on, held_out = validation_samples(config, calib_path, task, calibration,
                                                                             original)
        samples = len(_first(calibration))
        seconds["load and prepare"] = time.monotonic() - seconds.pop("started")
        interrupts.check()

        source, qat_source, optimization = original, None, None
        # a QAT model computes in simulated int8 whatever the file format: judge it as int8
        simulated_int8 = {id(original)} if _is_qat(model_path, original) else set()
        if config.optimizes:
            optimized = optimize(model_path, config, task, log, verbose)
            source = opened.enter_context(_saved(optimized.model, stage / f"{name}_optimized.keras", original))
            optimization = {**optimized.report, "model": source.path.name, "model_sha256": source.sha256}
            if optimized.qat_model is not None:
                qat_source = opened.enter_context(_saved(optimized.qat_model, stage / f"{name}_qat.h5",
                                                         original))
                optimization.update(qat_model=qat_source.path.name, qat_model_sha256=qat_source.sha256)
                simulated_int8.add(id(qat_source))

        drawn_from_calibration = calib_path is not None and (held_out is not None or validation is calibration)
        log(f"running the float model on {validated_on}" + (f" from {calib_path}" if drawn_from_calibration else ""))
        references: dict = {}
        artifacts, failed, rejected, degraded = [], [], [], []
        bar = opened.enter_context(Progress(len(config.tflite) + len(config.onnx), f"converting {name}",
                                            enabled=None if verbose else False, log=log))
        pin = pin_for(config, source, calibration, real=calib_path is not None or task is not None)
        pinned_noted = False
        calibrated: dict = {}  # the int8 calibration, which a degraded int8 file's hint ranks the layers of
        for step, (fmt, variant, make, parent) in enumerate(plan(config, source, qat_source, calibration, stage, pin,
                                                                 calibrated)):
            interrupts.check()
            return_freed_memory()  # the last step's, so that this one's peak does not come on top
            bar.update(step, f"{fmt} {variant}", message=f"converting {fmt} {variant}")
            path = stage / f"{name}_{variant}.{fmt}"

            def on_sample(done, total, step=step, label=f"{fmt} {variant}"):
                interrupts.check()
                bar.update(step, f"{label}: calibrating {done}/{total}")

            try:
                started = time.monotonic()
                payload, recipe = make(on_sample)
                converted = time.monotonic()
                if id(parent) not in references:
                    references[id(parent)] = parent.predict(validation)
                    seconds["float model on the samples"] = time.monotonic() - converted
                    converted = time.monotonic()
                atomic_write_bytes(path, payload)
                try:
                    artifact = _validate(path, fmt, variant, recipe, parent, validation, references[id(parent)], task)
                except ConversionFailed as exc:  # a free file that LiteRT cannot run at its stored 1x1 (a conv)
                    if not _pinnable(fmt, variant, recipe, parent, pin):
                        raise
                    payload, recipe = make(on_sample, pinning.pinned_because(str(exc).replace(path.name, "the file")))
                    atomic_write_bytes(path, payload)
                    artifact = _validate(path, fmt, variant, recipe, parent, validation, references[id(parent)], task)
                if "converted_at" in recipe and not pinned_noted:  # once: the table lists every such file
                    bar.note(f"  {fmt} {variant} {pinning.converted_at_text(recipe['converted_at'])}")
                    pinned_noted = True
                seconds[f"{fmt} {variant}: convert"] = converted - started
                seconds[f"{fmt} {variant}: validate"] = time.monotonic() - converted
            except ConversionFailed as exc:  # not built, or built but its runtime cannot run it
                interrupts.check()
                seconds[f"{fmt} {variant}: failed"] = time.monotonic() - started
                path.unlink(missing_ok=True)
                if isinstance(exc, Unavailable) and not _named(requested, fmt, variant):  # only a default: listed
                    skipped.append({"format": fmt, "variant": variant, "reason": str(exc), "status": UNAVAILABLE})
                    bar.note(f"  {fmt} {variant} unavailable: {exc}")
                    continue
                failed.append({"format": fmt, "variant": variant, "reason": str(exc)})
                bar.note(f"  {fmt} {variant} failed: {exc}")
                continue
            precision_class = "int8" if id(parent) in simulated_int8 else _precision(fmt, variant)[1]
            reason = fidelity.outside_floor(artifact.fidelity, precision_class)
            if reason:  # kept apart, so that nobody ships it by mistake
                (stage / REJECTED).mkdir(exist_ok=True)
                path.rename(stage / REJECTED / path.name)
                rejected.append({**artifact.to_dict(), "path": f"{REJECTED}/{path.name}", "reason": reason})
                bar.note(f"  {fmt} {variant} rejected: {reason}")
                hint = _timed(seconds, f"{fmt} {variant}: rank the layers for the hint", keep_float_hint, requested,
                              model_path, fmt, variant, recipe, calibrated, calibration)
                if hint:
                    rejected[-1]["hint"] = hint
                    bar.note(f"  {hint['line']}")
                continue
            # kept and benchmarked, but marked: a file past the sanity floor may still be too coarse to use
            artifact = dataclasses.replace(artifact, quality=quality.verdict(artifact.fidelity, precision_class,
                                                                             config.min_sqnr))
            if artifact.quality["degraded"]:
                bar.note(f"  {fmt} {variant} degraded: {quality.reason(artifact.quality)}")
                hint = _timed(seconds, f"{fmt} {variant}: rank the layers for the hint", keep_float_hint, requested,
                              model_path, fmt, variant, recipe, calibrated, calibration)
                if hint:
                    artifact = dataclasses.replace(artifact, quality={**artifact.quality, "hint": hint})
                    bar.note(f"  {hint['line']}")
                degraded.append(artifact.to_dict())
            artifacts.append(artifact)
            bar.update(step + 1, f"{fmt} {variant}: validated")
        bar.close()
        if config.strict and (failed or rejected or degraded):
            raise EdgekitError(f"{switch('strict')}: " + "; ".join(
                [f"{r['path']} diverges from the float model: {r['reason']}" for r in rejected]
                + [f"{d['path']} is degraded: {quality.reason(d['quality'])}" for d in degraded]
                + [f"{f['format']} {f['variant']} could not be built: {f['reason']}" for f in failed])
                + f"; {fix_hint(failed, rejected + degraded)}" + (
                    f", or lower the quality threshold with {option('min_sqnr')}" if degraded else ""))
        if not artifacts and not rejected:
            raise EdgekitError("no variant could be built: " +
                               "; ".join(f"{f['format']} {f['variant']}: {f['reason']}" for f in failed))
        manifest = new_manifest(
            name=name,
            source={"path": str(model_path), "flavour": original.flavour, "sha256": original.sha256,
                    "size_bytes": original.size_bytes,
                    "inputs": [t.to_dict() for t in original.inputs],
                    "outputs": [t.to_dict() for t in original.outputs]},
            calibration=None if calib_path is None else {
                "path": str(calib_path), "samples": samples, "sha256": sha256_of(calib_path)},
            validation={"data": validated_on, "samples": len(_first(validation)),
                        "input_shapes": shapes.used_shapes(shapes.from_samples(original.inputs, validation)),
                        **({"held_out": held_out.to_dict()} if held_out else {})},
            evaluation=None if task is None else {
                "metric": task.metric, "data": task.source, "samples": int(len(task.data.x_test)),
                "float": round(float_score, 6)},
            optimization=optimization,
            config=requested.to_dict(),
            versions=package_versions(),
            artifacts=[a.to_dict() for a in artifacts],
            failed=failed,
            rejected=rejected,
            skipped=skipped,
            seconds={step: round(value, 2) for step, value in seconds.items()},
        )
        atomic_write_json(stage / MANIFEST_NAME, manifest)
        if finish is not None and artifacts:
            return_freed_memory()
            finish(stage, manifest)
    for step, value in manifest["seconds"].items():  # -v: where the time went
        logger.debug(f"  {step}: {value:.2f} s")
    log(f"wrote {len(artifacts)} artifacts to {out_dir}"
        + (f" and {len(rejected)} rejected one(s) to {out_dir / REJECTED}" if rejected else ""))
    return manifest


def convert_and_measure(config: ConvertConfig, settings: BenchSettings | None, log=None, verbose: bool = True,
                        progress: bool = True) -> tuple[dict, dict | None, str | None]:
    """What `edgekit convert` and `edgekit.convert()` run: the conversion, then, with `settings`,
    the benchmark of its files inside the staged folder (a failure keeps the previous output).
    (the manifest, the results or None, why nothing was measured or None: the time limit passed
    before the first row; the files are written then)."""
    log = log or logger.info
    measured = {"results": None, "why": None}

    def benchmark(folder, manifest):
        log(f"benchmarking the artifacts of {manifest['name']}")
        measured["results"], measured["why"] = run_on_conversion(folder, Path(config.out) / manifest["name"],
                                                                 settings, log, progress=progress)

    manifest = convert(config, log=log, verbose=verbose, finish=None if settings is None else benchmark)
    return manifest, measured["results"], measured["why"]


REJECTED = "rejected"  # OUT/NAME/rejected/: files that diverge from the float model

# the hint's ranking runs the debugger on this many calibration samples at most: convert stays fast
HINT_SAMPLES = 32


def keep_float_hint(config: ConvertConfig, model_path: Path, fmt: str, variant: str, recipe: dict, calibrated: dict,
                    calibration: dict) -> dict | None:
    """For a degraded full-int8 TFLite file: the layers the quantization debugger ranks worst and the
    command that searches for the fewest to keep in float (`edgekit tune`; convert itself does not
    search), with a --keep-float that tries the worst step. None for any other file, one with
    layers already kept float, or one whose ranking blames nothing beyond rounding."""
    if (fmt, variant) != ("tflite", "int8") or recipe.get("keep_float") or len(calibrated) != 1:
        return None
    [found] = calibrated.values()
    samples = {name: value[:HINT_SAMPLES] for name, value in calibration.items()}
    try:
        steps = blamed_steps(layer_errors(found, None, samples), found)
    except Exception as exc:  # a hint is extra: a debugger that cannot rank this model must not fail the run
        interrupts.check()
        logger.debug(f"no keep-float hint for {variant}: the debugger could not rank the layers ({exc})")
        return None
    if not steps:
        return None
    worst = [s.layer for s in steps[:3]]
    first = list(steps[0].block)
    given = [str(config.model or model_path)] + (["--calib", str(config.calib)] if config.calib else []) + (
        ["--io", config.io] if config.io != "int" else []) + (
        ["--min-sqnr", f"{config.min_sqnr:g}"] if config.min_sqnr is not None else [])
    command = " ".join(["edgekit", "tune", *map(_quoted, given), "--tflite", "int8,int8-keep,fp32"])
    keep = f"{option('keep_float', _quoted(','.join(first)))}"
    return {"worst_layers": worst, "ranked_by": f"TFLite's quantization debugger on {len(_first(samples))} "
                                                "calibration samples",
            "command": command, "keep_float": first,
            "line": f"the debugger ranks {', '.join(worst)} worst: `{command}` finds the fewest layers to keep in "
                    f"float, or convert again with {keep}"}


def _timed(seconds: dict, step: str, function, *args):
    started = time.monotonic()
    found = function(*args)
    if found:
        seconds[step] = time.monotonic() - started
    return found


def _quoted(text: str) -> str:
    return shlex.quote(text)  # a path with spaces, pasted back into a shell


def fix_hint(failed: list[dict], rejected: list[dict]) -> str:
    """What to do about the variants left out, in the words that fit each format."""
    hints = []
    if any(r["format"] == "tflite" and r["variant"] != "fp32" for r in rejected):
        hints.append("for TFLite, `edgekit debug-quant MODEL --calib DATA` ranks the layers to keep in float with "
                     + option("keep_float"))
    if any(r["format"] == "onnx" and r["variant"] == "int8-static" for r in rejected):
        hints.append("for ONNX int8-static, the nodes that diverge (debug-quant ranks them on the TFLite file) are "
                     "the ones to exclude from quantization; or use int8-dynamic")
    if any(pinning.PIN_FIX in f["reason"] for f in failed):
        hints.append(f"for TFLite at the model's free dimensions, {pinning.PIN_FIX}")
    if any(f["variant"] == "int16x8" and "int16x8" in f["reason"] for f in failed):
        hints.append(f"leave int16x8 out ({option('tflite', 'fp32,fp16,dynamic,int8')}): TFLite has no 16x8 kernel "
                     "for an op the model uses")
    return "; ".join(hints) or f"leave the variant out ({option('tflite')}/{option('onnx')})"


def prepare(config: ConvertConfig, model_path: Path, calib_path: Path | None, source: SourceModel):
    """The calibration samples, the model's task (None without labelled data) and the float
    model's score on its held-out data: what convert, debug-quant and tune all start from.
    Without calibration data the samples that stand in for validation are the held-out inputs
    when the task has them, else random inputs (see `samples_description`)."""
    task = task_for(model_path, config.train_data, [t.name for t in source.inputs],
                    lambda x: _first(source.predict({source.inputs[0].name: x})))
    specs = shapes.declared(source.inputs, config.input_shape)  # --input-shape sizes free dimensions
    if calib_path is not None:
        calibration = load_calibration(calib_path, specs, IMAGE_RANGES[config.image_range],
                                       config.max_calib_samples, MIN_CALIBRATION_SAMPLES)
    elif task is not None:
        calibration = {source.inputs[0].name: task.data.x_test[:config.max_calib_samples]}
    else:
        calibration = random_inputs(specs, min(config.max_calib_samples, RANDOM_VALIDATION_SAMPLES), model_path,
                                    option("calib"))
    if calib_path is None:
        calibration = {s.name: calibration[s.name].astype(s.dtype) for s in source.inputs}
    if task:
        task.float_outputs = _first(source.predict(_test_feeds(task, source)))
    float_score = task.score(task.float_outputs) if task else None
    return calibration, task, float_score


def pin_for(config: ConvertConfig, source: SourceModel, calibration: dict, real: bool) -> dict | None:
    """Where a TFLite variant that cannot keep the model's free dimensions is converted: at the
    --input-shape sizes, else the real samples' (random ones are made up), else nowhere (None)."""
    if not pinning.free_beyond_batch(source.inputs):
        return None
    given = {s.name: (1, *s.shape[1:]) for s in shapes.declared(source.inputs, config.input_shape)
             if None not in s.shape[1:]} if config.input_shape else None
    return pinning.pin_shapes(source.inputs, given, calibration if real else None)


RANDOM_VALIDATION_SAMPLES = 64  # made-up inputs, when neither --calib nor held-out data gives real ones


def validation_samples(config: ConvertConfig, calib_path: Path | None, task, calibration: dict, source: SourceModel
                       ) -> tuple[dict, dict, str, holdout.Split | None]:
    """(the samples the quantizers calibrate on, those every file is validated on, what the latter
    are in words, the split when they were held out of the calibration set). A quantizer judged on
    the samples it was fitted to looks better than it is: the task's held-out inputs validate when
    the model has a task (a zoo model's calibration set is drawn from its training split), else a
    seeded fifth of the calibration set (MIN_VALIDATION_SAMPLES at least, while MIN_CALIBRATION_SAMPLES
    stay), which the quantizers then do not see."""
    count = len(_first(calibration))
    if calib_path is None:  # no quantizer calibrates: what stands in for calibration saw no fitting
        return calibration, calibration, samples_description(task, count), None
    if task is not None and len(source.inputs) == 1:
        [spec] = source.inputs
        held = {spec.name: task.data.x_test[:config.max_calib_samples].astype(spec.dtype)}
        return calibration, held, (f"{len(_first(held))} samples of {task.source} (held out: the quantizers "
                                   f"calibrated on {count} others)"), None
    split = holdout.split(calibration, MIN_CALIBRATION_SAMPLES, MIN_VALIDATION_SAMPLES)
    if split is None:
        return calibration, calibration, (
            f"{count} calibration samples (too few to hold any out: {MIN_CALIBRATION_SAMPLES} must stay for "
            "calibration, so the files are judged on the samples their quantizer saw, which flatters them)"), None
    return split.fit, split.held_out, split.describe(), split


def samples_description(task, samples: int) -> str:
    """What the conversions were checked on without calibration samples, in words for the table and the manifest."""
    if task is not None:
        return f"{samples} held-out samples of {task.source} (no --calib)"
    return (f"{samples} random inputs in [0, 1) (no --calib and no held-out data: checks the conversion, "
            "not accuracy on real data)")


def _is_qat(model_path: Path, source) -> bool:
    return source.flavour == TF_KERAS and is_qat_config(model_config(model_path))


def _first(outputs: dict):
    return next(iter(outputs.values()))


def _test_feeds(task, source) -> dict:
    return {source.inputs[0].name: task.data.x_test}


def _saved(model, path: Path, original) -> SourceModel:
    """Save an optimized tf-keras model into the output and serve it under the original's names."""
    atomic_save_model(model, path)
    return from_keras(path, TF_KERAS, model, [t.name for t in original.inputs],
                      [t.name for t in original.outputs])


def plan(config: ConvertConfig, source, qat_source, calibration, stage: Path, pin=None, calibrated: dict | None = None):
    """(format, variant, thunk, source it is checked against) for every requested variant; the
    thunk takes a calibration progress callback, on_sample(done, total). `pin`: the input shapes
    a TFLite variant is converted at when the model's free dimensions fail (None: not known); a
    TFLite thunk given a reason as well converts at `pin` straight away, for that reason.
    `calibrated` receives each SavedModel folder's int8 calibration (selective.Calibrated)."""
    calibrated = {} if calibrated is None else calibrated  # shared by int8 and int16x8
    pinned: dict = {}  # why the first variant was pinned: the others start at the pin (same graph, same cause)

    def tflite_variant(variant, on_sample, because=None):
        payload, recipe = _tflite(source, variant, calibration, config.io, on_sample, config.keep_float, calibrated,
                                  pin, because or pinned.get("why"))
        if "converted_at" in recipe:
            pinned.setdefault("why", recipe["converted_at"]["why"])
        return payload, recipe

    for variant in config.tflite:
        if variant == QAT_VARIANT:  # the fake-quant ranges learned in training set the scales
            yield "tflite", variant, (lambda on_sample: tflite_convert.convert(
                qat_source.saved_model_dir(), "int8", calibration, config.io, on_sample)), qat_source
            continue
        yield "tflite", variant, functools.partial(tflite_variant, variant), source
    if not config.onnx:
        return
    fp32: dict = {}

    def onnx_fp32(on_sample=None):
        if not fp32:  # the int8 variants are quantized from this graph
            payload, recipe = onnx_convert.convert_fp32(source, config.opset)
            fp32.update(path=atomic_write_bytes(stage / ".fp32-source.onnx", payload), recipe=recipe)
        return fp32["path"].read_bytes(), fp32["recipe"]

    for variant in config.onnx:
        if variant == "fp32":
            yield "onnx", variant, onnx_fp32, source
        else:
            def quantized(on_sample, v=variant):
                _, base = onnx_fp32()
                payload, recipe = onnx_convert.quantize(fp32["path"], v, calibration, on_sample,
                                                        config.onnx_quant_format, tuple(config.keep_float))
                return payload, {**base, **recipe}
            yield "onnx", variant, quantized, source
    # the staging copy of the fp32 graph is not an artifact unless asked for
    if "path" in fp32:
        fp32["path"].unlink(missing_ok=True)


def _tflite(source: SourceModel, variant: str, calibration, io: str, on_sample, keep_float=(),
            calibrated: dict | None = None, pin: dict | None = None, because: str | None = None) -> tuple[bytes, dict]:
    """One TFLite variant; a model that converts to builtins only at a fixed batch (an LSTM,
    docs/DESIGN.md pitfall 5) is converted again at batch 1, and one whose free dimensions beyond
    the batch fail (pitfall 20) again at the shapes `pin` gives (at once when `because` says why);
    its recipe says so. With `keep_float`, int8 leaves those layers or op types in float. The
    calibrated variants quantize one calibration, kept in `calibrated`."""
    calibrated = {} if calibrated is None else calibrated

    def build(saved_model: Path) -> tuple[bytes, dict]:
        if variant not in tflite_convert.CALIBRATED:
            return tflite_convert.convert(saved_model, variant, calibration, io, on_sample)
        if saved_model not in calibrated:
            calibrated[saved_model] = selective.calibrate(saved_model, calibration, io, on_sample)
        found = calibrated[saved_model]
        if variant != "int8" or not keep_float:
            return tflite_convert.quantize(found.content, variant, io), tflite_convert.recipe_for(
                variant, calibration, io)
        keep = selective.resolve(found, list(keep_float))
        return selective.quantize(found, keep), selective.recipe(found, keep)

    def pinned(why: str) -> tuple[bytes, dict]:
        payload, recipe = build(source.saved_model_dir(shapes=pin))
        return payload, {**recipe, "converted_at": {"shapes": {name: list(shape) for name, shape in pin.items()},
                                                    "why": why}}

    if because:
        return pinned(because)
    try:
        return build(source.saved_model_dir())
    except ConversionFailed as exc:
        fixed = tflite_convert.needs_fixed_batch(str(exc)) and source.saved_model_dir(batch=1)
        if fixed:
            payload, recipe = build(fixed)
            return payload, {**recipe, "batch": 1, "fixed_batch_because": str(exc)}
        free = pinning.free_beyond_batch(source.inputs)
        if not free or not source.traceable:  # nothing to pin, or a SavedModel source (not traced again)
            raise
        if pin is None:
            raise pinning.cannot_pin(str(exc), free) from exc
        return pinned(pinning.pinned_because(str(exc)))


def _pinnable(fmt: str, variant: str, recipe: dict, source: SourceModel, pin: dict | None) -> bool:
    """Whether a TFLite file built at the model's free dimensions can be built again at `pin`."""
    return (fmt == "tflite" and variant != QAT_VARIANT and pin is not None and "converted_at" not in recipe
            and bool(pinning.free_beyond_batch(source.inputs)) and source.traceable)


UNAVAILABLE = "unavailable"  # a skipped entry's status: the toolchain cannot build or run it for this model


def _named(config: ConvertConfig, fmt: str, variant: str) -> bool:
    """Whether the user asked for this variant by name rather than through the default list (or `all`)."""
    asked = [v for v in getattr(config, fmt) if v != QAT_VARIANT]  # --qat adds one to the default list
    return variant == QAT_VARIANT or asked != list(TFLITE_VARIANTS if fmt == "tflite" else ONNX_VARIANTS)


def _precision(fmt: str, variant: str) -> tuple[str, str]:
    return (tflite_convert if fmt == "tflite" else onnx_convert).PRECISION[variant]


# Validation is not a timing, so it uses every core; a variant whose kernels are slow (int16x8 runs
# LiteRT's reference integer kernels: 14 s for 100 MobileNetV2 samples) is judged on the samples
# it gets through in VALIDATION_SECONDS, MIN_VALIDATION_SAMPLES at least; its held-out score too,
# on MIN_EVALUATED at least (as a benchmark pair's), beside the float model's on the same samples.
VALIDATION_SECONDS = 15.0
MIN_VALIDATION_SAMPLES = 20


def _validate(path: Path, fmt, variant, recipe, source, validation, reference, task) -> Artifact:
    """Load the file in its real runtime, run the validation samples, compare with float, and
    score it on the held-out data when the task is known."""
    try:
        check_op_count(path)  # before the runtime loads it
        with for_format(fmt).open(path, threads=usable_cores()) as session:
            paired = _paired(session, source, path)
            outputs = paired.float_outputs(session.predict(
                paired.file_feeds(validation), until=time.monotonic() + VALIDATION_SECONDS,
                at_least=MIN_VALIDATION_SAMPLES))
            inputs_spec, outputs_spec = tuple(session.inputs), tuple(session.outputs)
            scored = None if task is None else task.evaluate_session(
                session, paired.file_input(source.inputs[0].name), until=time.monotonic() + VALIDATION_SECONDS,
                at_least=MIN_EVALUATED)
    except ConversionFailed:
        raise
    except EdgekitError as exc:  # name the artifact, not its staging path
        op = tflite_convert.failed_to_prepare(str(exc)) if variant == "int16x8" else None
        if op:
            raise Unavailable(tflite_convert.unavailable_in_16x8(
                op, "LiteRT's 16x8 kernel for it failed to prepare on this model")) from exc
        dynamic = [t.name for t in source.inputs if None in t.shape[1:]]
        hint = (f" (input {', '.join(dynamic)} has a dynamic shape beyond the batch: {pinning.PIN_FIX}, or export "
                "the model with one)" if dynamic else "")
        raise ConversionFailed(f"{pinning.DOES_NOT_RUN}{str(exc).replace(str(path), path.name)}{hint}") from exc
    validated = len(next(iter(outputs.values())))
    reference = {name: value[:validated] for name, value in reference.items()}
    missing = set(reference) - set(outputs)
    if missing:
        raise EdgekitError(f"{path.name} lacks output(s) {', '.join(sorted(missing))} of the float model")
    kept = recipe.get("keep_float")
    precision = _precision(fmt, variant)[0] + (
        f", except {', '.join(kept['layers'] + kept['ops'])} in float" if kept else "")
    return Artifact(
        path=path.name, format=fmt, variant=variant, precision=precision,
        size_bytes=path.stat().st_size, sha256=sha256_of(path), parent=source.sha256, recipe=recipe,
        inputs=inputs_spec, outputs=outputs_spec,
        fidelity=fidelity.compare(reference, outputs, None if task is None else task.metric == "accuracy"),
        gzip_bytes=file_sizes(path)["gzip_bytes"],  # the benchmark after reuses it
        evaluation=scored,
        pairing=None if paired.exact else paired.to_dict(),
    )


def _paired(session, source: SourceModel, path: Path) -> pairing.Pairing:
    """The file's tensors paired with the float model's: a file that does not pair is a failed variant."""
    try:
        found = pairing.pair(session.inputs, source.inputs, session.outputs, source.outputs, file=path.name,
                             float_model=source.path.name, fix="the converter renamed them; report it")
    except EdgekitError as exc:
        raise ConversionFailed(f"built, but {exc}") from None
    if not found.exact:
        logger.info(f"{path.name}: tensors paired with those of the float model {found.describe()}")
    return found
