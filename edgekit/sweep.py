"""A benchmark suite's jobs and where they run: each model named in a suite (benchmarks/suite.json)
is converted into the suite's variants, then its folder is measured on the suite's runtimes and
thread counts; the parts merge into one results file. The jobs run one after another here, or as
Ray tasks on a cluster: conversions on CPU workers, measurements only on a node whose Ray
resources name the suite's device (`device:host`). Artifacts move through the output folder, so
every node must see it at the same path (one machine, or a shared file system)."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from edgekit.errors import EdgekitError, first_line
from edgekit.progress import Progress

REPO = Path(__file__).resolve().parents[1]
FIELDS = {"models": list, "tflite": list, "onnx": list, "runtimes": list, "threads": list,
          "runs": int, "warmup": int, "batch": int, "quick": dict}
DEFAULT_DEVICE = "host"  # a suite's "device": the Ray resource device:<name> its measurements need
RETRIES = 2  # a task whose worker or node dies is run again this many times, then its rows fail
INSTALL_RAY = 'Ray is not installed: pip install -e ".[ray]"'


def load_suite(path: Path, quick: bool) -> dict:
    try:
        suite = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise EdgekitError(f"suite {path} cannot be read ({exc}): give a JSON file like benchmarks/suite.json") from None
    for key, kind in FIELDS.items():
        if not isinstance(suite.get(key), kind):
            raise EdgekitError(f"suite {path}: {key!r} is missing or not a {kind.__name__}")
    if not isinstance(suite.get("device", DEFAULT_DEVICE), str):
        raise EdgekitError(f"suite {path}: 'device' is not a string (a name such as \"host\" or \"pi5\")")
    return {**suite, **suite["quick"]} if quick else suite


@contextlib.contextmanager
def _in_repo():
    """Models and data are recorded by their paths in the repository, on every node alike."""
    before = os.getcwd()
    os.chdir(REPO)
    try:
        yield
    finally:
        os.chdir(before)


def _settings(suite: dict, repeat: int):
    from edgekit.bench.engine import BenchSettings
    from edgekit.bench.targets import TargetSettings

    return BenchSettings(runtime=",".join(suite["runtimes"]), runs=suite["runs"], warmup=suite["warmup"],
                         batch=suite["batch"], target_settings=TargetSettings(threads=tuple(suite["threads"])),
                         repeat=repeat)


def convert_model(suite: dict, name: str, out: Path) -> Path:
    """One conversion job: the zoo model `name` into the suite's variants; its folder."""
    from edgekit import zoo
    from edgekit.config import ConvertConfig
    from edgekit.convert.pipeline import convert

    with _in_repo():
        model, calib = zoo.bundled(name)
        convert(ConvertConfig(model=str(model.relative_to(REPO)), calib=str(calib.relative_to(REPO)),
                              out=str(out / "artifacts"), tflite=",".join(suite["tflite"]),
                              onnx=",".join(suite["onnx"])), log=lambda message: None, verbose=False)
    return out / "artifacts" / name


def measure_model(suite: dict, folder: Path, repeat: int = 1) -> dict:
    """One measurement job: a converted folder on the suite's runtimes and thread counts."""
    from edgekit.bench.engine import run as bench

    with _in_repo():
        return bench(folder, _settings(suite, repeat), log=lambda message: None, progress=False)


def run_suite(suite: dict, out: Path, log, repeat: int = 1) -> dict:
    """The suite's jobs one after another on this machine."""
    from edgekit.report.schema import combine

    parts = []
    with Progress(2 * len(suite["models"]), "suite", log=log) as bar:
        for i, name in enumerate(suite["models"]):
            bar.update(2 * i, f"{name}: converting", message=f"converting {name}")
            folder = convert_model(suite, name, out)
            bar.update(2 * i + 1, f"{name}: benchmarking", message=f"benchmarking {name}")
            parts.append(measure_model(suite, folder, repeat))
        bar.update(2 * len(suite["models"]))
    return combine(parts)


def unmeasured(suite: dict, folder: Path, status: str, reason: str) -> dict:
    """The results of a folder that was not measured: a row per file, target and thread count."""
    from edgekit import __version__
    from edgekit.artifacts import file_sizes
    from edgekit.bench import subjects, targets
    from edgekit.environment import fingerprint
    from edgekit.report import schema
    from edgekit.runtimes import RUNTIMES

    subject = subjects.find(folder, None)
    chosen = targets.parse(",".join(suite["runtimes"]), _settings(suite, 1).target_settings,
                           {p.suffix.lstrip(".") for p in subject.artifacts})
    records = [{"artifact": a.name, **subject.variant_of(a), "runtime": t.runtime, "target": t.name,
                "threads": t.open_options().get("threads"), **file_sizes(a), "status": status, "reason": reason}
               for a in subject.artifacts for t in chosen
               if t.runtime != "keras" and a.suffix.lstrip(".") in RUNTIMES[t.runtime].formats]
    return {"schema_version": schema.SCHEMA_VERSION, "kind": schema.KIND, "edgekit_version": __version__,
            "environment": fingerprint(), "settings": _settings(suite, 1).to_dict(),
            "models": [{"name": subject.name, "reference": None, "reference_note": reason, "artifacts": [],
                        "data": {"source": "not measured", "samples": 0, "labelled": False, "metric": None,
                                 "random": False, "float_score": None}, "records": records}]}


def import_ray():
    try:
        import ray
    except ImportError:
        raise EdgekitError(INSTALL_RAY) from None
    return ray


def run_on_ray(suite: dict, out: Path, log, address: str | None, repeat: int = 1) -> dict:
    """The suite's jobs as Ray tasks on the cluster at `address` (None: RAY_ADDRESS, else a new
    one on this machine whose node offers device:host)."""
    from edgekit.report.schema import combine

    ray = import_ray()
    device = f"device:{suite.get('device', DEFAULT_DEVICE)}"
    local = not address and not os.environ.get("RAY_ADDRESS")
    ray.init(address=address or None, resources={f"device:{DEFAULT_DEVICE}": 1} if local else None,
             log_to_driver=False, configure_logging=False)
    try:
        offered = device in ray.cluster_resources()
        log(f"ray: {len(suite['models'])} conversions; measurements "
            + ("on " + device if offered else f"skipped: no node offers {device}"))
        convert_task = ray.remote(num_cpus=1, max_retries=RETRIES)(convert_model)
        measure_task = ray.remote(num_cpus=1, resources={device: 1}, max_retries=RETRIES)(measure_model)
        folders = [convert_task.remote(suite, name, out) for name in suite["models"]]
        jobs = [measure_task.remote(suite, folder, repeat) if offered else None for folder in folders]
        parts = []
        for name, folder, job in zip(suite["models"], folders, jobs):
            folder = _get(ray, folder, f"converting {name}")
            if job is None:
                parts.append(unmeasured(suite, folder, "skipped", f"no node offers {device}"))
                continue
            try:
                parts.append(_get(ray, job, f"measuring {name}"))
            except _Lost as lost:
                parts.append(unmeasured(suite, folder, "failed", str(lost)))
        return combine(parts)
    finally:
        ray.shutdown()


class _Lost(EdgekitError):
    """A task whose worker or node died more than RETRIES times."""


def _get(ray, ref, what: str):
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:  # the job itself failed: its own error, as here
        cause = exc.cause
        raise cause if isinstance(cause, EdgekitError) else EdgekitError(f"{what}: {first_line(cause)}")
    except ray.exceptions.RayError as exc:
        raise _Lost(f"{what}: lost after {RETRIES} retries ({first_line(exc)})") from None


def write_results(results: dict, out: Path, log) -> None:
    """results.json with its Markdown and HTML reports."""
    from edgekit.outputs import write_output_file
    from edgekit.report import html, markdown, schema

    schema.write(out / schema.RESULTS_NAME, results)
    write_output_file(out / "report.md", markdown.render(results))
    write_output_file(out / "report.html", html.render(results))
    log(f"wrote {out / schema.RESULTS_NAME}, report.md and report.html")
