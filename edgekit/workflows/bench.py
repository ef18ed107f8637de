"""`edgekit bench` as a library call: every artifact on every target that can run it, measured
the same way and compared with the float model on the same inputs.

Per (artifact, target): cold start, batch-1 latency, throughput at a batch, peak memory,
the task metric on the evaluation data (batched), and fidelity against the float model. With
`repeat` N > 1 the batch-1 latency is timed in N interleaved rounds (every pair once, then every
pair again, ...), so that the drift between rounds, which within-run spread does not show, is
measured too: `compare` gates latency on it. A
target that cannot run here is a skipped record with its reason; one that fails on a model is a
failed record with the error (a runtime that crashes too: every pair but the Keras ones is
measured by a runner, in a worker process here or on a board, `edgekit.runners`). A damaged
artifact is bad input, and stops the run; a .tflite is read from its flatbuffer, never loaded in
LiteRT here, so a file that LiteRT refuses and TFLite Micro runs gets an ok `tflm` row and a failed
LiteRT row with LiteRT's reason (docs/DESIGN.md, pitfall 23).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from edgekit import runners, zoo
from edgekit.converters import onnx as onnx_convert
from edgekit.converters import tflite as tflite_convert
from edgekit.core import interrupts, limits
from edgekit.core.artifacts import COMPILE_NAME, MANIFEST_NAME, TensorSpec, file_sizes, sha256_of
from edgekit.core.config import parse_input_shapes
from edgekit.core.errors import BackendUnavailable, EdgekitError, option, switch
from edgekit.core.files import check_npz
from edgekit.core.outputs import check_output_file
from edgekit.core.progress import Progress
from edgekit.core.version import __version__
from edgekit.data import holdout, shapes
from edgekit.data.calibration import check_calibration, load_calibration
from edgekit.data.metrics import evaluation, score
from edgekit.hardware import mcu
from edgekit.hardware.mcu import Budget
from edgekit.measure import fidelity, pairing, quality, subjects, targets
from edgekit.measure.evaluation import is_classification, task_for
from edgekit.models.inspection import tflite_io
from edgekit.models.loading import load_model
from edgekit.render.table import record_line
from edgekit.results import schema, summary
from edgekit.runners.base import Job
from edgekit.runners.devices import Phone, find, runner_for
from edgekit.runtimes import RUNTIMES, for_format
from edgekit.runtimes.environment import cpu_info, fingerprint
from edgekit.runtimes.messages import failure

logger = logging.getLogger(__name__)  # quiet unless the caller (or the CLI) configures logging

BENCH_KINDS = "a .tflite, .onnx, .keras, .h5 or .hdf5 file, a folder written by convert"  # what bench measures
RANDOM_SAMPLES = 64  # inputs made up for latency when no data is given
# --runs auto: each (file, target)'s share of time; debugging kernels (builtin, reference, and
# int16 activations, which XNNPACK hands to the reference kernels) are slow by design
SHARE_SECONDS = 3.0
DEBUG_SHARE_SECONDS = 1.5


@dataclasses.dataclass(frozen=True)
class BenchSettings:
    runtime: str | None = None  # --runtime, e.g. "litert:xnnpack,onnxruntime:cpu"; None: all
    target_settings: targets.TargetSettings = targets.TargetSettings()
    runs: int | None = None  # timed batch-1 runs; None ("auto"): until the median is known to ±2%
    warmup: int = 20
    batch: int = 32  # for throughput
    data: str | None = None
    reference: str | None = None
    trust_model_code: bool = False
    latency_samples: int = 16  # distinct real samples the latency loop cycles through
    in_process: bool = False  # measure in edgekit's own process, not in a worker per (artifact, target)
    # --device: local (None), ssh://[user@]host[:port], adb[://SERIAL] or a name in devices_file;
    # commas between several: each file and target is measured on each
    device: str | None = None
    devices_file: str | None = None
    remote_python: str | None = None
    benchmark_binary: str | None = None  # an Android phone's benchmark_model
    mcu: Budget | None = None  # --mcu/--mcu-ram/--mcu-flash: TFLite Micro runs, and each file's fit is said
    repeat: int = 1  # --repeat: latency rounds per pair, interleaved across pairs (`latency_us.rounds`)
    input_shape: tuple[str, ...] = ()  # --input-shape NAME:D0,D1,...: sizes of free dimensions (data/shapes.py)
    profile: int = 0  # --profile RUNS: each pair's per-op profile (Runtime.profile) over RUNS calls; 0: none

    def __post_init__(self):
        object.__setattr__(self, "input_shape", tuple(t for t, _, _ in parse_input_shapes(list(self.input_shape))))
        for name, low in (("runs", 2), ("warmup", 0), ("batch", 1), ("repeat", 1), ("profile", 0)):
            if getattr(self, name) is not None and getattr(self, name) < low:
                raise EdgekitError(f"{option(name, getattr(self, name))} must be {low} or more")

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["target_settings"]["delegate_options"] = dict(self.target_settings.delegate_options)
        return data


def bench_settings(runtime: str | list[str] | None = None, threads: int | str | list[int] = "1",
                   runs: int | str | None = "auto", warmup: int = 20, batch: int = 32, *,
                   delegate: str | None = None, delegate_options: list[str] | None = None,
                   dispatch_library: str | None = None, npu_backend: str = "npu", device: str | None = None,
                   devices_file: str | None = None, remote_python: str | None = None,
                   benchmark_binary: str | None = None, in_process: bool = False, **extra) -> BenchSettings:
    """The settings of a benchmark from what the command line or the API gives, each checked now,
    before anything runs: a misspelt runtime, a bad --device, devices file or benchmark binary."""
    if isinstance(runtime, (list, tuple)):
        runtime = ",".join(runtime)
    text = ",".join(map(str, threads)) if isinstance(threads, (list, tuple)) else str(threads)
    target_settings = targets.TargetSettings(
        threads=targets.parse_threads(text), delegate=delegate,
        delegate_options=targets.parse_options(delegate_options, option("delegate_option")),
        dispatch_library=dispatch_library, npu_backend=npu_backend)
    targets.parse(runtime, target_settings, set(targets.ARTIFACT_FORMATS))  # bad names fail now
    if device:
        for each in device.split(","):  # a bad --device, devices file or benchmark binary fails now
            found = find(each.strip(), devices_file, remote_python, benchmark_binary)
            if isinstance(found, Phone):
                check_benchmark_binary(found)
        if in_process:
            raise EdgekitError(f"{switch('in_process')} measures on this machine: leave out {option('device')}, "
                               f"or {switch('in_process')}")
    return BenchSettings(
        runtime=runtime, runs=parse_runs(runs), warmup=warmup, batch=batch, target_settings=target_settings,
        in_process=in_process, device=device, devices_file=devices_file, remote_python=remote_python,
        benchmark_binary=benchmark_binary, **extra)


def parse_runs(runs: int | str | None) -> int | None:
    """--runs: a count, or None for auto."""
    if runs is None or str(runs).strip().lower() == "auto":
        return None
    if isinstance(runs, str):
        with contextlib.suppress(ValueError):
            return int(runs)
    elif isinstance(runs, int) and not isinstance(runs, bool):
        return runs
    raise EdgekitError(f"{option('runs', repr(runs))} is not a count of runs or auto")


def check_benchmark_binary(phone: Phone) -> None:
    """A phone is measured with LiteRT's benchmark_model: the binary for its ABI must be given."""
    if not phone.benchmark_binary:
        raise EdgekitError(f"{option('device', phone.name)} measures with LiteRT's benchmark_model on the phone: "
                           f"give the binary for its ABI with {option('benchmark_binary', 'PATH')} (e.g. "
                           "android_aarch64_benchmark_model, from LiteRT's releases or TensorFlow's nightly builds)")
    binary = Path(phone.benchmark_binary)
    if binary.is_dir():
        raise EdgekitError(f"{option('benchmark_binary', binary)} is a folder: give the benchmark_model binary "
                           f"itself (e.g. {binary / 'android_aarch64_benchmark_model'})")
    if not binary.is_file():
        raise EdgekitError(f"{option('benchmark_binary', binary)}: no such file")


def measure(path: str | Path, settings: BenchSettings, output: str | Path | None = None, log=None,
            progress: bool = True) -> tuple[dict, Path | None]:
    """What `edgekit bench` and `edgekit.bench()` run: `path` (a file, a folder written by convert, or
    a zoo name: its bundled model, on its held-out data) measured with `settings`; the results,
    also written to `output` when given (which may not be any file the run reads), and that file."""
    path = zoo.resolve_model(path, BENCH_KINDS)[0]
    if settings.reference:
        settings = dataclasses.replace(settings, reference=str(zoo.resolve_model(settings.reference)[0]))
    file = check_output_file(output, option("output"), bench_inputs(path, settings.data, settings.reference)) \
        if output is not None else None
    results = run(path, settings, log, progress=progress)
    if file is not None:
        schema.write(file, results)
    return results, file


def run(path: str | Path, settings: BenchSettings, log=None, progress: bool = True) -> dict:
    """Measure what `path` names; `progress` draws a bar on a terminal (else `log` gets a line a step),
    and each record is printed as it is measured. Past the benchmark time limit the record being
    measured is stopped and the rest are not measured; the results say so in `stopped`. The limit
    counts from the start: past it before any row is measured (loading the files and the float
    model, the float model's evaluation), the run stops with limits.TimeLimitExceeded."""
    log = log or logger.info
    # one clock for the whole run: loading the files and the float model and evaluating the float
    # model count against the limit too (each load is bounded by the size and op limits)
    deadline = limits.Deadline(limits.current().bench_seconds, f"the benchmark of {path}")
    subject = subjects.find(path, settings.reference)
    formats = {p.suffix.lstrip(".") for p in subject.artifacts}
    chosen = targets.parse(settings.runtime, settings.target_settings, formats)
    if settings.mcu and "tflite" in formats and not any(t.runtime == "tflm" for t in chosen):
        chosen += targets.parse("tflm", settings.target_settings, formats)  # a budget is judged on TFLite Micro
    if settings.profile and settings.runtime is None and subject.artifacts:  # Keras has no per-op profile:
        chosen = [t for t in chosen if t.runtime != "keras"]  # a profile is of the files
    described = []
    for artifact in subject.artifacts:  # a damaged file is bad input, before any measuring
        deadline.check(f"loading {artifact.name}", before_measuring_fix())
        described.append(_describe(artifact, subject.variant_of(artifact), _file_specs(artifact)))

    reference_model = None
    if subject.reference is not None:
        deadline.check(f"loading the float model {subject.reference.name}", before_measuring_fix())
        log(f"loading the float model {subject.reference}")
        reference_model = load_model(subject.reference, settings.trust_model_code)
    measure = None
    try:
        pairings = _pairings(subject, described, reference_model, log)  # a file that does not pair stops here
        if reference_model is not None:
            described.insert(0, _describe(subject.reference, {"format": "keras", "variant": "float"},
                                          reference_model))
        deadline.check("loading the evaluation data", before_measuring_fix())
        data = _evaluation_data(subject, settings, reference_model)
        log(f"evaluation data: {data.samples} samples from {data.source}")
        fewer = f"give fewer samples with {option('data')}, or " if settings.data else ""
        # on random inputs too, when there are files: their fidelity checks them against the float
        # model (as convert's validation does)
        reference_outputs = (_float_outputs(reference_model, data, deadline, f"{fewer}{before_measuring_fix()}")
                             if reference_model and (subject.artifacts or not data.random) else None)
        broken = 0 if reference_outputs is None else fidelity.non_finite_samples(reference_outputs)
        if broken:  # every score and fidelity figure against it would be NaN
            raise EdgekitError(f"the float model {subject.reference} outputs NaN or inf on {broken} of {data.samples} "
                               "evaluation samples: nothing can be compared with it; check the model and the data")
        float_score = (None if reference_outputs is None or data.metric is None
                       else score(data.metric, _first(reference_outputs), _first(data.inputs), data.labels))
        measure = Measure(settings, data, reference_outputs, float_score, deadline,
                          {d["name"]: tuple(t["name"] for t in d["outputs"]) for d in described}, pairings)
        pairs = [(subject.reference, {"format": "keras", "variant": "float"}, t, measure.in_process)
                 for t in chosen if reference_model is not None and t.runtime == "keras"]
        pairs += [(a, subject.variant_of(a), t, runner) for runner in measure.runners for a in subject.artifacts
                  for t in chosen if t.runtime != "keras" and a.suffix.lstrip(".") in RUNTIMES[t.runtime].formats]
        records, stopped, said = [], None, set()
        with Progress(len(pairs) * settings.repeat, f"benchmarking {subject.name}",
                      enabled=None if progress else False, log=log) as bar:
            for done, (path, kind, target, runner) in enumerate(pairs):
                if stopped is not None or deadline.passed:
                    records.append({**measure.row(path, kind, target, runner), "status": "skipped",
                                    "reason": "not measured: the benchmark's time limit was reached"})
                    continue
                where = target.label + ("" if runner.device == "local" else f" on {runner.device}")
                bar.update(done, f"{path.name} on {where}", message=f"measuring {path.name} on {where}")
                started = time.monotonic()
                try:
                    records.append(measure(path, kind, target, runner))
                except limits.TimeLimitExceeded as exc:
                    stopped = str(exc)
                    records.append({**measure.row(path, kind, target, runner), "status": "failed",
                                    "reason": f"stopped at the time limit ({deadline.seconds:g} s, "
                                              f"{limits.named('bench_seconds')})"})
                _say(records[-1], where, said, bar)
                logger.debug(f"  {path.name} on {where}: {time.monotonic() - started:.2f} s")  # -v
            if settings.repeat > 1:
                stopped = _more_rounds(measure, pairs, records, stopped, bar)
            bar.update(len(pairs) * settings.repeat)
        boards = measure.boards()
        for i, flag in summary.slower_than_float({"records": records}).items():
            records[i]["slower_than_float"] = flag
        flags = cpu_info()["flags"]
        min_sqnr = ((subject.manifest or {}).get("config") or {}).get("min_sqnr")  # convert's, for its folder
        for r in records:
            if r["status"] == "ok" and summary.caveat(r, flags):
                r["caveat"] = summary.caveat(r, flags)
            judged = _quality(r, min_sqnr) if r["status"] == "ok" else None
            if judged is not None:
                r["quality"] = judged
    finally:
        if measure is not None:
            measure.close()
        if reference_model is not None:
            reference_model.close()
    return {
        "schema_version": schema.SCHEMA_VERSION,
        "kind": schema.KIND,
        "edgekit_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "environment": fingerprint(),
        **({"devices": boards} if boards else {}),
        "settings": settings.to_dict(),
        "models": [{
            "name": subject.name,
            "reference": None if subject.reference is None else {
                "artifact": subject.reference.name, "path": str(subject.reference),
                "sha256": described[0]["sha256"], **file_sizes(subject.reference)},
            "reference_note": subject.note,
            "artifacts": described,
            "data": {"source": data.source, "samples": data.samples, "labelled": data.labels is not None,
                     "metric": data.metric, "random": data.random, "input_shapes": data.input_shapes,
                     **({"shapes_from": data.shapes_from} if data.shapes_from else {}),
                     "float_score": None if float_score is None else round(float_score, 6)},
            "records": records,
            **({"stopped": stopped} if stopped else {}),
        }],
    }


def run_on_conversion(folder: Path, final: Path, settings: BenchSettings, log=None, progress: bool = True
                      ) -> tuple[dict | None, str | None]:
    """convert's benchmark of the folder it is staging (to become `final`): (the results, written
    beside the artifacts, None), or (None, why) when the time limit passed before any row was
    measured. The artifacts stand then: a limit too short for the benchmark is no reason to lose them."""
    try:
        results = run(folder, settings, log, progress)
    except limits.TimeLimitExceeded as exc:
        return None, str(exc).replace(str(folder), str(final))  # the staging folder is gone by then
    schema.write(folder / schema.RESULTS_NAME, results)
    return results, None


class Measure:
    """Measures one (model file, target) pair into a record."""

    def __init__(self, settings: BenchSettings, data: subjects.EvalData, reference_outputs, float_score,
                 deadline: limits.Deadline, output_names: dict | None = None, pairings: dict | None = None):
        self.settings, self.data, self.deadline = settings, data, deadline
        self.output_names = output_names or {}  # file name -> its outputs' names: what a runner must return
        # file name -> its tensors paired with those the data and the float outputs are keyed by
        self.pairings: dict[str, pairing.Pairing] = pairings or {}
        self.reference_outputs, self.float_score = reference_outputs, float_score
        self.in_process = runners.runner("in-process")
        devices = dict.fromkeys(d.strip() for d in (settings.device or "local").split(",") if d.strip())
        self.runners = [self.in_process] if settings.in_process else [
            runner_for(d, settings.devices_file, settings.remote_python, settings.benchmark_binary)
            for d in devices]
        count = min(settings.latency_samples, data.samples)
        self.latency_feeds = [shapes.feed(data.inputs, data.fed_whole, i, i + 1) for i in range(count)]

    def runner(self, target: targets.Target, runner=None):
        """Where a pair is measured: Keras here (TensorFlow is too heavy to start once per job),
        the rest on the runner given, else the first device's."""
        return self.in_process if target.runtime == "keras" else runner or self.runners[0]

    def row(self, path: Path, kind: dict, target: targets.Target, runner=None) -> dict:
        """What names a record: the file, its kind, the target and where it ran."""
        runner = self.runner(target, runner)
        return {"artifact": path.name, **kind, "runtime": target.runtime, "target": target.name,
                "threads": target.open_options().get("threads"), "device": runner.device, "runner": runner.kind,
                **file_sizes(path)}

    def __call__(self, path: Path, kind: dict, target: targets.Target, runner=None) -> dict:
        """A record; limits.TimeLimitExceeded when the benchmark's deadline passed while it ran."""
        record = self.row(path, kind, target, runner)
        options = target.open_options()
        if target.runtime == "keras":  # loaded afresh, so that its cold start is the real one
            options["trust_model_code"] = self.settings.trust_model_code
        try:
            found = self._measure(path, kind["variant"], target, options, self.runner(target, runner))
            if target.runtime == "tflm" and self.settings.mcu:
                found["mcu"] = mcu.fit(found["details"]["arena_bytes"], found["details"]["flash_bytes"],
                                       self.settings.mcu)
            return {**record, "status": "ok", **found}
        except BackendUnavailable as exc:
            interrupts.check()
            return {**record, "status": "skipped", **failure(target.runtime, exc)}
        except limits.TimeLimitExceeded:
            raise
        except Exception as exc:  # the runtime failed on this model; the others still run
            interrupts.check()
            if os.environ.get("EDGEKIT_DEBUG"):
                raise
            return {**record, "status": "failed", **failure(target.runtime, exc)}

    def latency_round(self, path: Path, kind: dict, target: targets.Target, runner=None) -> dict:
        """One more round of a pair's batch-1 latency (a job without evaluation inputs), timed as
        its first round was: its `latency_us`."""
        options = target.open_options()
        if target.runtime == "keras":
            options["trust_model_code"] = self.settings.trust_model_code
        found, _ = self.runner(target, runner).measure(self._job(path, kind["variant"], target, options, None),
                                                       self.deadline)
        return found["latency_us"]

    def boards(self) -> dict:
        """Each board's fingerprint, by device name (this machine's is the results' environment)."""
        return {r.device: found for r in self.runners if (found := r.fingerprint())}

    def close(self) -> None:
        for runner in self.runners:
            runner.close()

    def _measure(self, path: Path, variant: str, target: targets.Target, options: dict, runner) -> dict:
        evaluated_on = None if self.data.random and self.reference_outputs is None else self.data.inputs
        found, outputs = runner.measure(self._job(path, variant, target, options, evaluated_on, self.settings.profile),
                                        self.deadline)
        if outputs is None:
            return {**found, "accuracy": None, "fidelity": None}
        paired = self.pairings.get(path.name)
        if paired is not None and paired.outputs:  # keyed and ordered as the float model's
            outputs = paired.float_outputs(outputs)
        evaluated = len(_first(outputs))  # fewer than the data's when the pair's time share ran out
        bad = fidelity.non_finite_samples(outputs)
        if bad:  # a broken file: a failed record with the reason, never NaN in the results
            raise EdgekitError(f"outputs NaN or inf on {bad} of {evaluated} evaluation samples")
        record = {**found, "accuracy": self._accuracy(outputs, evaluated),
                  "fidelity": self._fidelity(outputs, evaluated, path)}
        computed = found["details"].get("precision")  # a backend that computes a float file in less
        if computed and variant == "fp32" and computed != "float32" and record["fidelity"]:
            record["precision_floor"] = {"precision": computed,
                                         "reason": fidelity.outside_floor(record["fidelity"], computed)}
        if evaluated < self.data.samples:
            record["evaluated_samples"] = evaluated
        return record

    def _job(self, path: Path, variant: str, target: targets.Target, options: dict, eval_inputs,
             profile: int = 0) -> Job:
        settings, feeds, paired = self.settings, self.latency_feeds, self.pairings.get(path.name)
        if paired is not None:  # the data is keyed by the float model's names: fed by the file's
            feeds = [paired.file_feeds(feed) for feed in feeds]
            eval_inputs = None if eval_inputs is None else paired.file_feeds(eval_inputs)
        return Job(path, target.runtime, target.label, options, feeds, eval_inputs, settings.runs,
                   settings.warmup, settings.batch, None if settings.runs else time_share(variant, target),
                   self.output_names.get(path.name), profile)

    def _accuracy(self, outputs: dict, evaluated: int) -> dict | None:
        if self.data.metric is None:
            return None
        inputs, labels = _first(self.data.inputs)[:evaluated], self.data.labels[:evaluated]
        value = score(self.data.metric, _first(outputs), inputs, labels)
        if self.float_score is None:
            return {"metric": self.data.metric, "value": round(value, 6)}
        float_score = self.float_score if evaluated == self.data.samples else score(
            self.data.metric, _first(self.reference_outputs)[:evaluated], inputs, labels)  # on the same samples
        return evaluation(self.data.metric, float_score, value)

    def _fidelity(self, outputs: dict, evaluated: int, path: Path) -> dict | None:
        if self.reference_outputs is None or path.suffix.lstrip(".") not in subjects.ARTIFACT_FORMATS:
            return None
        classifier = None if self.data.metric is None else self.data.metric == "accuracy"
        return fidelity.compare({k: v[:evaluated] for k, v in self.reference_outputs.items()}, outputs, classifier)


def _say(record: dict, where: str, said: set, bar: Progress) -> None:
    """Each row as soon as it is measured; a target skipped here is said once with its reason
    (20 files on a missing GPU are one line), and each file it skipped only with -v (and in JSON)."""
    if record["status"] != "skipped":
        bar.note(record_line(record))
        return
    if (where, record["reason"]) not in said:
        said.add((where, record["reason"]))
        bar.note(f"{where}: skipped: {record['reason']}")
    logger.debug(f"  {record_line(record)}")


def _more_rounds(measure: Measure, pairs: list, records: list, stopped: str | None, bar) -> str | None:
    """Rounds 2..N of every pair measured ok, interleaved: each round goes over all the pairs, so
    that a slow spell of the machine lands in one round of each pair rather than in every round
    of one. Each record's `latency_us` becomes its median round's (`with_rounds`). A pair that
    fails in a later round becomes a failed record; the time limit stops the rounds (returned)."""
    repeat = measure.settings.repeat
    rounds = {i: [r["latency_us"]] for i, r in enumerate(records) if r["status"] == "ok"}
    for number in range(2, repeat + 1):
        for i, (path, kind, target, runner) in enumerate(pairs):
            if i not in rounds or stopped is not None:
                continue
            if measure.deadline.passed:
                stopped = f"{measure.deadline.exceeded()} (in latency round {number} of {repeat})"
                continue
            bar.update((number - 1) * len(pairs) + i, f"{path.name} on {target.label}, round {number}/{repeat}",
                       message=f"measuring {path.name} on {target.label}: latency round {number} of {repeat}")
            try:
                rounds[i].append(measure.latency_round(path, kind, target, runner))
            except limits.TimeLimitExceeded as exc:
                stopped = str(exc)
            except Exception as exc:  # a runtime that fails now fails the row, as it would in round 1
                interrupts.check()
                if os.environ.get("EDGEKIT_DEBUG"):
                    raise
                found = failure(target.runtime, exc)
                records[i] = {**measure.row(path, kind, target, runner), "status": "failed", **found,
                              "reason": f"latency round {number} of {repeat}: {found['reason']}"}
                del rounds[i]
    for i, found in rounds.items():
        records[i]["latency_us"] = with_rounds(found)
    return stopped


def with_rounds(rounds: list[dict]) -> dict:
    """A pair's latency from its rounds: every figure of its median round (the round whose typical
    latency, p50 or mean, is the median of the rounds'; the lower middle one for an even count),
    so the figures stay one consistent distribution, and `rounds` with each round's typical latency
    in the order measured."""
    typical = [r["mean"] if r.get("statistic") == "mean" else r["p50"] for r in rounds]
    middle = sorted(range(len(rounds)), key=typical.__getitem__)[(len(rounds) - 1) // 2]
    return {**rounds[middle], "rounds": typical}


def time_share(variant: str, target: targets.Target) -> float:
    """The seconds an adaptive timing of this pair may take."""
    kernels = target.open_options().get("kernels")
    debugging = (kernels in ("builtin", "reference") or target.runtime == "tflm"
                 or (variant == "int16x8" and target.runtime == "litert"))
    return DEBUG_SHARE_SECONDS if debugging else SHARE_SECONDS


def _describe(path: Path, kind: dict, opened) -> dict:
    """A measured file as the report details it: identity, sizes and io specs (quantization too)."""
    return {"name": path.name, **kind, **file_sizes(path), "sha256": sha256_of(path),
            "inputs": [t.to_dict() for t in opened.inputs], "outputs": [t.to_dict() for t in opened.outputs]}


def before_measuring_fix() -> str:
    """The fix for a time limit passed before any row is measured (one line, nothing written)."""
    return f"raise {limits.named('bench_seconds')}"


def _float_outputs(reference_model, data: subjects.EvalData, deadline: limits.Deadline, fix: str) -> dict:
    """The float model's outputs on every evaluation sample, within the time limit: the float
    score and every row's fidelity are judged on them, on the same samples in every row (a row
    with --runs N evaluates them all)."""
    outputs = reference_model.predict(data.inputs, until=deadline.end)
    done = len(_first(outputs))
    if done < data.samples:
        raise deadline.exceeded(f"evaluating the float model on {data.samples} samples ({done} done)", fix)
    return outputs


def _file_specs(path: Path):
    """An artifact's io specs (an object with inputs and outputs), once it is known not damaged. A
    .tflite's are read from its flatbuffer: LiteRT refuses files that other runtimes run (TFLite
    Micro: docs/DESIGN.md, pitfall 23; an NPU's dispatch: a compiled file's DISPATCH_OPs), and says
    so in its own rows. An .onnx opens on onnxruntime's CPU provider, which refuses a damaged one."""
    if path.suffix == ".tflite":
        return SimpleNamespace(**{k: [TensorSpec.from_dict(t) for t in v] for k, v in tflite_io(path).items()})
    with for_format(path.suffix.lstrip(".")).open(path) as session:
        return SimpleNamespace(inputs=session.inputs, outputs=session.outputs)


def _pairings(subject: subjects.Subject, described: list[dict], reference_model, log) -> dict[str, pairing.Pairing]:
    """Each file's tensors paired with its float model's (without one, its inputs with the first
    file's, which the data is keyed by). A pairing other than by exact names is logged and kept
    in the file's entry of the results ("pairing")."""
    if not described:
        return {}
    if reference_model is not None:
        theirs, their_outputs = reference_model.inputs, reference_model.outputs
        label, fix = f"the float model {subject.reference.name}", (
            f"give the float model the file was converted from with {option('reference')}")
    else:
        theirs, their_outputs = _specs(described[0]["inputs"]), None
        label, fix = described[0]["name"], "bench the files one at a time"
    found = {}
    for entry in described:
        paired = pairing.pair(_specs(entry["inputs"]), theirs,
                              None if their_outputs is None else _specs(entry["outputs"]), their_outputs,
                              file=entry["name"], float_model=label, fix=fix)
        if not paired.exact:
            log(f"{entry['name']}: tensors paired with those of {label} {paired.describe()}")
            entry["pairing"] = paired.to_dict()
        found[entry["name"]] = paired
    return found


def _specs(entries: list[dict]) -> list[TensorSpec]:
    return [TensorSpec.from_dict(t) for t in entries]


def _first(named: dict):
    return next(iter(named.values()))


def _evaluation_data(subject: subjects.Subject, settings: BenchSettings, reference_model) -> subjects.EvalData:
    """--data, else the model's held-out split, else the conversion's calibration samples, else
    random inputs (latency only); at the shapes the input-shape rule gives (data/shapes.py), which
    the data keeps."""
    file_specs, defaults = (reference_model.inputs, {}) if reference_model else _artifact_inputs(subject.artifacts[0])
    given = settings.input_shape or tuple(((subject.manifest or {}).get("config") or {}).get("input_shape") or ())
    specs = shapes.declared(subjects.float_specs(file_specs), list(given))
    data = _samples(subject, settings, reference_model, specs, defaults)
    used = shapes.from_samples(specs, data.inputs)
    data.fed_whole, data.input_shapes = frozenset(shapes.fed_whole(specs)), shapes.used_shapes(used)
    free = _free(file_specs)
    if free:  # the file leaves them free: say what sized them
        data.shapes_from = (option("input_shape") if free - _free(specs)
                            else "the model's default" if data.random else "the data")
    return data


def _free(specs) -> set[str]:
    """The inputs with a free dimension other than a batch."""
    whole = shapes.fed_whole(specs)
    return {s.name for s in specs if any(d is None for d in (s.shape if s.name in whole else s.shape[1:]))}


def _samples(subject, settings, reference_model, specs, defaults) -> subjects.EvalData:
    task = _task(subject, reference_model) if reference_model else None
    if settings.data:
        return _user_data(Path(settings.data), specs, task, reference_model, subject)
    if task is not None:
        return subjects.EvalData({specs[0].name: task.data.x_test}, task.data.y_test, task.metric, task.source)
    calibration = Path(((subject.manifest or {}).get("calibration") or {}).get("path") or "")
    if subject.manifest and calibration.is_file():
        inputs = load_calibration(calibration, specs)
        held = (subject.manifest.get("validation") or {}).get("held_out")
        if held and len(_first(inputs)) >= held["of"]:  # the files' quantizers did not see these
            inputs = holdout.held_out_part(inputs, held)
            return subjects.EvalData(inputs, None, None, f"the {len(_first(inputs))} samples convert held out of "
                                                         f"the calibration set {calibration} (no labels)")
        return subjects.EvalData(inputs, None, None, f"the calibration samples {calibration} (no labels)")
    model = subject.reference if reference_model else subject.artifacts[0]
    concrete = shapes.concrete(specs, defaults, model, f"give real samples with {option('data')}")
    said = ("random inputs (no --data: fidelity checks the files against the float model on them, not accuracy on "
            "real data)" if reference_model else "random inputs (give --data for accuracy and fidelity)")
    return subjects.EvalData(subjects.random_inputs(concrete, RANDOM_SAMPLES, model), None, None, said, random=True)


PRECISIONS = {"tflite": tflite_convert.PRECISION, "onnx": onnx_convert.PRECISION}


def _quality(record: dict, min_sqnr: float | None) -> dict | None:
    """The quality verdict on a record's fidelity, by the precision its file computes in (a float
    file run in less, by that: OpenVINO's bf16); None where nothing was compared or the variant is
    not one edgekit makes."""
    computed = (record.get("precision_floor") or {}).get("precision")
    precision = computed or (PRECISIONS.get(record["format"], {}).get(record["variant"]) or (None, None))[1]
    if not record.get("fidelity") or precision not in quality.QUALITY_THRESHOLDS:
        return None
    return quality.verdict(record["fidelity"], precision, min_sqnr)


def _artifact_inputs(path: Path) -> tuple[list[TensorSpec], dict]:
    """A file's inputs as it declares them, and its own default shapes (a .tflite's from its
    flatbuffer, as _file_specs reads it)."""
    if path.suffix == ".tflite":
        inputs = tflite_io(path)["inputs"]
        return ([TensorSpec.from_dict(t) for t in inputs],
                {t["name"]: tuple(t["stored_shape"]) for t in inputs if "stored_shape" in t})
    with for_format(path.suffix.lstrip(".")).open(path) as session:
        return session.declared_inputs(), session.default_shapes()


def _task(subject: subjects.Subject, reference_model):
    train_data = ((subject.manifest or {}).get("config") or {}).get("train_data")
    return task_for(subject.reference, train_data, [t.name for t in reference_model.inputs],
                    lambda x: _first(reference_model.predict({reference_model.inputs[0].name: x})))


def _user_data(path: Path, specs, task, reference_model, subject) -> subjects.EvalData:
    """A labelled .npz (x and y, or x_test and y_test) is scored; anything else gives inputs."""
    if path.suffix == ".npz" and path.is_file():
        check_npz(path)
        try:
            with np.load(path, allow_pickle=False) as npz:
                keys = set(npz.files)
                pair = next(((x, y) for x, y in (("x_test", "y_test"), ("x", "y")) if {x, y} <= keys), None)
                arrays = (npz[pair[0]], npz[pair[1]]) if pair else None
        except (ValueError, OSError, EOFError) as exc:
            raise EdgekitError(f"data {path} is not a readable .npz ({exc})") from None
        if arrays is not None:
            if len(specs) != 1:
                raise EdgekitError(f"data {path}: labelled data (x, y) needs a model with one input")
            inputs = check_calibration(path, {specs[0].name: arrays[0]}, specs)
            labels = arrays[1]
            if labels.dtype.kind not in "fiub" or (labels.dtype.kind == "f" and not np.isfinite(labels).all()):
                raise EdgekitError(f"data {path}: {pair[1]} must be finite numbers (it has dtype {labels.dtype}, "
                                   "or NaN or inf values)")
            if len(labels) != len(next(iter(inputs.values()))):
                raise EdgekitError(f"data {path}: {pair[0]} and {pair[1]} have different sample counts")
            metric = task.metric if task else _metric_for(labels, inputs, reference_model, subject)
            return subjects.EvalData(inputs, labels, metric, f"{path} ({len(labels)} labelled samples)")
    return subjects.EvalData(_load_keyed(path, specs), None, None, f"{path} (no labels)")


def _load_keyed(path: Path, specs: list[TensorSpec]) -> dict:
    """Unlabelled samples keyed by `specs`' names, from a .npz whose arrays may be named as the
    other side names its inputs (a file's `serving_default_x:0` for the float model's `x`, or the
    other way round): paired by name (measure/pairing), read, and keyed back."""
    keys = _npz_keys(path) if len(specs) > 1 else None
    by_key = pairing.pair_names(keys, [s.name for s in specs]) if keys else None
    if not by_key or all(k == name for k, name in by_key.items()):
        return load_calibration(path, specs)
    key_of = {name: key for key, name in by_key.items()}
    found = load_calibration(path, [dataclasses.replace(s, name=key_of[s.name]) for s in specs])
    return {s.name: found[key_of[s.name]] for s in specs}


def _npz_keys(path: Path) -> list[str] | None:
    if path.suffix != ".npz" or not path.is_file():
        return None
    check_npz(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            return list(npz.files)
    except (ValueError, OSError, EOFError):
        return None  # load_calibration says what is wrong with it


def _metric_for(labels: np.ndarray, inputs: dict, reference_model, subject) -> str:
    if labels.dtype.kind not in "iu":
        return "mae"
    if reference_model is not None:
        out = _first(reference_model.predict({k: v[:8] for k, v in inputs.items()}))
    else:  # the file's first output, by its shape alone: no runtime loads it here
        shape = _file_specs(subject.artifacts[0]).outputs[0].shape
        out = np.empty((0, *(d or 1 for d in shape[1:])))
    return "accuracy" if is_classification(labels, out) else "mae"


def bench_inputs(path: str | Path, data: str | None = None, reference: str | None = None
                 ) -> list[tuple[str, Path | None]]:
    """What bench reads, as (what, path), so that --output cannot overwrite any of it: the artifacts
    and manifest of a folder (results.json beside them is its output), or the file given."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    if path.is_dir():
        read = [("manifest", path / MANIFEST_NAME)] + [
            ("model", p) for p in sorted(path.iterdir()) if p.suffix in (".tflite", ".onnx", ".keras", ".h5", ".hdf5")]
    else:
        read = [("model", path), ("manifest", path.parent / MANIFEST_NAME)]
    read.append(("compile record", folder / COMPILE_NAME))  # a compiled file's float model is named there
    return read + [("data", Path(data) if data else None), ("reference model", Path(reference) if reference else None)]
