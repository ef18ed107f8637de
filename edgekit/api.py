"""edgekit from Python: convert, bench, report and compare, with typed results.

    import edgekit
    result = edgekit.convert(tflite="fp32,int8", onnx="none", bench=False)
    measured = edgekit.bench(result.folder, runtime="litert:xnnpack", runs=50)
    print(edgekit.report(measured))
    assert edgekit.compare(measured, measured).passed

Each call does what the command of its name does, with the same defaults, and returns dataclasses
whose `to_dict()` is plain JSON. A file is always `file` here (the manifest says `path`, the results
`artifact` or `name`). Messages go to the `edgekit` logger (nothing shows until logging is
configured, e.g. `logging.basicConfig(level=logging.INFO)`); errors are `EdgekitError`s that name
the parameters (`opset=99`), not the command's flags. Heavy backends load on the first call.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from edgekit.core.config import DEFAULT_MAX_ACCURACY_DROP, PRESETS, ConvertConfig
from edgekit.core.errors import EdgekitError, GateFailed, option
from edgekit.core.outputs import check_output_file, write_output_file
from edgekit.render import html, markdown
from edgekit.results import schema
from edgekit.results.compare import Comparison, Gates
from edgekit.results.compare import compare as run_comparison
from edgekit.workflows.bench import bench_settings, measure
from edgekit.workflows.convert import convert_and_measure
from edgekit.workflows.profile import DEFAULT_RUNS as DEFAULT_PROFILE_RUNS
from edgekit.workflows.profile import profile as run_profile

__all__ = ["convert", "bench", "profile", "report", "compare", "ConversionResult", "ConvertedFile", "FailedVariant",
           "BenchResults", "ModelResults", "Record", "Profiled", "Comparison", "EdgekitError", "GateFailed"]

logger = logging.getLogger(__name__)
REPORT_FORMATS = ("md", "html", "json")


class _Result:
    """`to_dict()`: the fields as JSON values (paths as strings), less those marked raw (kept on
    disk already, e.g. the manifest)."""
    def to_dict(self) -> dict:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)
                if not f.metadata.get("raw")}


def _plain(value):
    if isinstance(value, _Result):
        return value.to_dict()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _raw(**kwargs):
    return dataclasses.field(repr=False, metadata={"raw": True}, **kwargs)


@dataclasses.dataclass(frozen=True)
class ConvertedFile(_Result):
    """One validated file (or one rejected for diverging from the float model: `reason` says why)."""
    file: Path
    format: str  # "tflite" | "onnx"
    variant: str  # "fp32", "int8", "int8-static", ...
    precision: str
    size_bytes: int
    gzip_bytes: int | None
    sha256: str
    fidelity: dict  # against the float model on held-out samples: max_abs, sqnr_db, top1_agreement, per output...
    evaluation: dict | None  # the task metric on held-out data, where the model has it
    reason: str | None = None
    quality: dict | None = None  # {"degraded": bool, "outputs": {name: why}, ...}: below its precision's threshold?

    @classmethod
    def from_manifest(cls, entry: dict, folder: Path) -> ConvertedFile:
        return cls(file=folder / entry["path"], format=entry["format"], variant=entry["variant"],
                   precision=entry.get("precision", ""), size_bytes=entry["size_bytes"],
                   gzip_bytes=entry.get("gzip_bytes"), sha256=entry["sha256"], fidelity=entry.get("fidelity") or {},
                   evaluation=entry.get("evaluation"), reason=entry.get("reason"), quality=entry.get("quality"))


@dataclasses.dataclass(frozen=True)
class FailedVariant(_Result):
    """A variant not built: why it failed, or why it was left out."""
    format: str
    variant: str
    reason: str


@dataclasses.dataclass(frozen=True)
class Record(_Result):
    """One (file, target) measurement; `status` "ok", "skipped" or "failed" (then `reason`)."""
    file: str  # the file's name, as in the folder measured
    format: str
    variant: str
    runtime: str
    target: str
    threads: int | None
    status: str
    reason: str | None
    size_bytes: int | None
    latency_us: dict | None  # p50, p90, p99, robust_cv, runs...
    throughput: dict | None
    memory: dict | None
    cold: dict | None
    accuracy: dict | None
    fidelity: dict | None
    details: dict  # everything else the record holds (device, runner, precision floor...)
    # the per-op profile (bench/convert with profile=, or edgekit.profile): method, runs, ops
    # [{index, name, type, executor, us}], placement; or {"skipped": why}; None when not asked for
    profile: dict | None = None

    @property
    def p50_us(self) -> float | None:
        return (self.latency_us or {}).get("p50")

    @classmethod
    def from_record(cls, record: dict) -> Record:
        named = {"artifact", *(f.name for f in dataclasses.fields(cls))} - {"file", "details"}  # profile is named
        return cls(file=record["artifact"], **{f.name: record.get(f.name) for f in dataclasses.fields(cls)
                                               if f.name not in ("file", "details")},
                   details={key: value for key, value in record.items() if key not in named})


@dataclasses.dataclass(frozen=True)
class ModelResults(_Result):
    name: str
    reference: Path | None  # the float model the files were compared with
    data: dict  # the evaluation data: source, samples, metric, float_score
    records: list[Record]
    stopped: str | None = None  # why measuring stopped early (the time limit), if it did


@dataclasses.dataclass(frozen=True)
class BenchResults(_Result):
    models: list[ModelResults]
    file: Path | None  # where the results were written, if they were
    results: dict = _raw()  # the versioned results.json content, as report and compare read it

    @property
    def records(self) -> list[Record]:
        return [record for model in self.models for record in model.records]

    @classmethod
    def from_results(cls, results: dict, file: Path | None = None) -> BenchResults:
        models = [ModelResults(name=m["name"], reference=None if not m.get("reference") else
                               Path(m["reference"]["path"]), data=m["data"],
                               records=[Record.from_record(r) for r in m["records"]], stopped=m.get("stopped"))
                  for m in results["models"]]
        return cls(models=models, file=file, results=results)


@dataclasses.dataclass(frozen=True)
class Profiled(_Result):
    """`edgekit.profile`: the results, each record with its `profile`; for two files of one model,
    per target both ran on, the time by op type of each and the difference (B - A)."""
    results: BenchResults
    differences: list[dict]

    @property
    def records(self) -> list[Record]:
        return self.results.records


@dataclasses.dataclass(frozen=True)
class ConversionResult(_Result):
    name: str
    folder: Path  # OUT/<name>/, with manifest.json (and results.json when benchmarked)
    artifacts: list[ConvertedFile]
    rejected: list[ConvertedFile]  # diverged from the float model: kept apart in folder/rejected/
    failed: list[FailedVariant]  # could not be built
    # left out: the calibrated ones without calib ("needs --calib"), and default ones the toolchain cannot
    # build or run for this model (reason "... is unavailable ...")
    skipped: list[FailedVariant]
    bench: BenchResults | None
    manifest: dict = _raw()

    @property
    def passed(self) -> bool:
        """Every variant asked for was built and validated (the command exits 1 otherwise)."""
        return not self.failed and not self.rejected


def convert(model: str | Path | None = None, calib: str | Path | None = None, out: str | Path = "edgekit-out", *,
            tflite: str | list[str] | None = None, onnx: str | list[str] | None = None, preset: str | None = None,
            bench: bool = True, runtime: str | list[str] | None = None, threads: int | str | list[int] = 1,
            runs: int | str | None = "auto", warmup: int = 20, batch: int = 32, repeat: int = 1, progress: bool = False,
            **options) -> ConversionResult:
    """`edgekit convert`: `model` (default: the bundled digits_cnn) to the TFLite and ONNX variants
    asked for, each validated against it, written to OUT/<name>/; with `bench`, measured too.
    `options` are the other fields of `ConvertConfig` (io, opset, max_calib_samples, keep_float,
    prune, qat, strict, min_sqnr, input_shape: ["NAME:D0,D1,..."] for free dimensions...); `progress` draws bars
    on a terminal."""
    config = _convert_config(preset, dict(model=model, calib=calib, out=out, tflite=tflite, onnx=onnx), options)
    settings = bench_settings(runtime, threads, runs, warmup, batch, repeat=repeat,
                              trust_model_code=config.trust_model_code,
                              input_shape=tuple(config.input_shape)) if bench else None
    manifest, measured, why = convert_and_measure(config, settings, verbose=progress, progress=progress)
    if why:  # the time limit passed before the first row: the files are written, not measured
        logger.warning(f"{why}; the files are written, not measured")
    folder = Path(config.out) / manifest["name"]
    return ConversionResult(
        name=manifest["name"], folder=folder,
        artifacts=[ConvertedFile.from_manifest(a, folder) for a in manifest["artifacts"]],
        rejected=[ConvertedFile.from_manifest(r, folder) for r in manifest["rejected"]],
        failed=[FailedVariant(f["format"], f["variant"], f["reason"]) for f in manifest["failed"]],
        skipped=[FailedVariant(f["format"], f["variant"], f["reason"]) for f in manifest.get("skipped", [])],
        bench=BenchResults.from_results(measured, folder / schema.RESULTS_NAME) if measured else None,
        manifest=manifest)


def bench(path: str | Path, *, runtime: str | list[str] | None = None, threads: int | str | list[int] = 1,
          runs: int | str | None = "auto", warmup: int = 20, batch: int = 32, repeat: int = 1,
          data: str | Path | None = None, reference: str | Path | None = None, trust_model_code: bool = False,
          output: str | Path | None = None, input_shape: str | list[str] | None = None,
          progress: bool = False) -> BenchResults:
    """`edgekit bench`: every file `path` names (a file, a folder written by convert, or a zoo model) on every
    runtime that applies (or those in `runtime`, e.g. "litert:xnnpack"); `repeat` times latency in
    that many interleaved rounds (what `compare` gates latency on); `output` also writes the
    results JSON there; `input_shape` ("NAME:D0,D1,...", or a list) sizes the inputs' free dimensions."""
    settings = bench_settings(runtime, threads, runs, warmup, batch, repeat=repeat, trust_model_code=trust_model_code,
                              input_shape=tuple([input_shape] if isinstance(input_shape, str) else input_shape or ()),
                              data=None if data is None else str(data),
                              reference=None if reference is None else str(reference))
    results, file = measure(path, settings, output, progress=progress)
    return BenchResults.from_results(results, file)


def profile(path: str | Path, other: str | Path | None = None, *, runtime: str | list[str] | None = None,
            threads: int | str | list[int] = 1, runs: int = DEFAULT_PROFILE_RUNS, data: str | Path | None = None,
            reference: str | Path | None = None, trust_model_code: bool = False, output: str | Path | None = None,
            input_shape: str | list[str] | None = None, progress: bool = False) -> Profiled:
    """`edgekit profile`: every file `path` names on every runtime that applies (or those in
    `runtime`), each with its per-op profile over `runs` calls beside its unprofiled latency; with
    `other` (a second file of the same model, e.g. its int8 file), where their times differ."""
    settings = bench_settings(runtime, threads, "auto", trust_model_code=trust_model_code, profile=runs,
                              input_shape=tuple([input_shape] if isinstance(input_shape, str) else input_shape or ()),
                              data=None if data is None else str(data),
                              reference=None if reference is None else str(reference))
    paths = [path] if other is None else [path, other]
    results, differences, file = run_profile(paths, settings, output, progress=progress)
    return Profiled(results=BenchResults.from_results(results, file), differences=differences)


def report(results, format: str = "md", *, max_accuracy_drop: float = DEFAULT_MAX_ACCURACY_DROP,
           output: str | Path | None = None) -> str:
    """`edgekit report`: results (BenchResults, a ConversionResult that was benchmarked, a results
    dict, or a results.json path) as Markdown, a self-contained HTML page, or JSON; the text, also
    written to `output` when given."""
    if format not in REPORT_FORMATS:
        raise EdgekitError(f"{option('format', repr(format))} is not one of {', '.join(REPORT_FORMATS)}")
    if max_accuracy_drop < 0:
        raise EdgekitError(f"{option('max_accuracy_drop', f'{max_accuracy_drop:g}')} must be 0 or more (points)")
    file = check_output_file(output, option("output"), _inputs(results)) if output is not None else None
    data = _results_of(results, "results")
    if format == "json":
        text = schema.to_text(data)
    else:
        text = (html if format == "html" else markdown).render(data, max_accuracy_drop)
    if file is not None:
        write_output_file(file, text if text.endswith("\n") else text + "\n")
        logger.info(f"wrote {file}")
    return text


def compare(baseline, current, *, max_accuracy_drop: float = DEFAULT_MAX_ACCURACY_DROP,
            max_latency_regression: float | None = 0.10, max_size_growth: float = 0.05) -> Comparison:
    """`edgekit compare`: `current` against `baseline` (each as `report` takes results). Fractions
    (0.10 is 10%); `max_latency_regression=None` reports latency without gating it. The verdict
    is `.passed`, the reasons `.failures`; nothing is raised when a gate fails."""
    if max_accuracy_drop < 0:
        raise EdgekitError(f"{option('max_accuracy_drop', f'{max_accuracy_drop:g}')} must be 0 or more (points)")
    for name, value in (("max_latency_regression", max_latency_regression), ("max_size_growth", max_size_growth)):
        if value is not None and not 0 <= value < 100:
            raise EdgekitError(f"{option(name, value)} is not a fraction: give e.g. 0.10 for 10%")
    gates = Gates(max_accuracy_drop=max_accuracy_drop, max_latency_regression=max_latency_regression,
                  max_size_growth=max_size_growth)
    return run_comparison(_results_of(baseline, "baseline"), _results_of(current, "current"), gates)


def _convert_config(preset: str | None, given: dict, options: dict) -> ConvertConfig:
    """The config as the command builds it: a preset's variants, then what is given."""
    fields = {f.name for f in dataclasses.fields(ConvertConfig)}
    unknown = sorted(set(options) - fields)
    if unknown:
        raise TypeError(f"convert() got unexpected keyword argument(s) {', '.join(unknown)}; "
                        f"it takes {', '.join(sorted(fields - set(given)))}")
    if preset is not None and preset not in PRESETS:
        raise EdgekitError(f"{option('preset', repr(preset))} is not one of {', '.join(sorted(PRESETS))}")
    data = dict(PRESETS[preset]) if preset else {}
    data.update({key: str(value) if isinstance(value, Path) else value
                 for key, value in {**given, **options}.items() if value is not None})
    return ConvertConfig(**data)


def _results_of(value, what: str) -> dict:
    """The results dict that report and compare read, from what a caller has."""
    if isinstance(value, ConversionResult):
        if value.bench is None:
            raise EdgekitError(f"{what}: the conversion of {value.name} was not benchmarked (bench=False): "
                               f"convert with bench=True, or call edgekit.bench({str(value.folder)!r})")
        value = value.bench
    if isinstance(value, BenchResults):
        return value.results
    if isinstance(value, dict):
        return schema.parse(value, what)
    if isinstance(value, (str, Path)):
        return schema.read(value)
    raise TypeError(f"{what} must be BenchResults, a benchmarked ConversionResult, a results dict or the path of a "
                    f"results.json, not {type(value).__name__}")


def _inputs(results) -> list[tuple[str, Path]]:
    """The results file a report reads, which its output must not overwrite."""
    file = results.file if isinstance(results, BenchResults) else \
        results.bench.file if isinstance(results, ConversionResult) and results.bench else \
        Path(results) if isinstance(results, (str, Path)) else None
    return [("results file", schema.results_path(file))] if file else []
