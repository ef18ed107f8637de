"""A benchmark suite (benchmarks/suite.json) and its jobs: each model it names is converted into
the suite's variants, then its folder is measured on the suite's runtimes and thread counts; the
parts merge into one results file, written with its reports, the artifacts and sweep.json (where
each job ran, and how long the phases took) into an output folder that is replaced whole only when
everything is done. The jobs run one after another here, or as Ray tasks (sweep_on_ray).

A measurement runs through this machine's runner: the board or phone EDGEKIT_DEVICE names
(with EDGEKIT_DEVICES, a devices file), as `bench --device` would, else this machine."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from edgekit import zoo
from edgekit.converters.inputs import model_name, needs_calibration
from edgekit.core.artifacts import SWEEP_NAME, new_manifest
from edgekit.core.errors import EdgekitError
from edgekit.core.outputs import check_output_folder, staged_folder, write_output_file
from edgekit.core.progress import Progress
from edgekit.render import html, markdown
from edgekit.results import schema
from edgekit.results.schema import combine
from edgekit.workflows import suite as suite_file
from edgekit.workflows import sweep_ray as sweep_on_ray
from edgekit.workflows.sweep_jobs import DEFAULT_DEVICE, REPO, convert_model, measure_model


def load_suite(path: Path, quick: bool) -> dict:
    """The suite's fields (edgekit/workflows/suite.py: each checked), its models by name, and the model
    files and calibration sets of those that are not zoo models ("sources")."""
    suite = suite_file.read(path, quick)
    suite = {**suite, **_sources(suite["models"], path)}
    # as convert does: the default lists lose the variants that need calibration, named ones do not
    calibrated = [v for fmt in ("tflite", "onnx") if suite[fmt] != suite_file.DEFAULTS[fmt] for v in suite[fmt]
                  if needs_calibration(fmt, v)]
    for name, source in suite["sources"].items():
        if calibrated and not source["calib"]:
            raise EdgekitError(f"suite {path}: {name} has no calibration set, and {', '.join(calibrated)} "
                               f'need{"s" if len(calibrated) == 1 else ""} one: give {{"model": PATH, "calib": PATH}}, '
                               f"or leave {'it' if len(calibrated) == 1 else 'them'} out of the suite")
    return suite


def _sources(entries: list[dict], path: Path) -> dict:
    """The suite's models by name, and the model files of those that are not zoo models: each
    entry is a zoo name or a model's path, with its calibration set, paths being relative to the
    suite's folder (on a cluster, every node must see them at that path). A zoo model is found on
    each node, in its own installation."""
    names, sources = [], {}
    for entry in entries:
        given, calib, shape = entry["model"], entry["calib"], entry.get("input_shape") or []
        if given in zoo.names() and calib is None and not shape:
            name = given
        else:
            try:
                model, _ = zoo.resolve_model(path.parent / given)  # an absolute `given` stays itself
            except EdgekitError as exc:
                raise EdgekitError(f"suite {path}: {exc}") from None
            name = model_name(model)
            if calib and not (path.parent / calib).exists():
                raise EdgekitError(f"suite {path}: {name}'s calibration set {calib} does not exist: give "
                                   "a .npz, .npy or image folder, relative to the suite's folder")
            sources[name] = {"model": str(model.resolve()),
                             "calib": str((path.parent / calib).resolve()) if calib else None,
                             **({"input_shape": shape} if shape else {})}
        if name in names:
            raise EdgekitError(f"suite {path}: two models are named {name}: give each a file of its own name")
        names.append(name)
    return {"models": names, "sources": sources}


def run(suite: dict, out: Path, log, ray_address: str | None = None, repeat: int = 1,
        suite_path: Path | None = None, option: str = "--out") -> dict:
    """The suite here (ray_address None) or on the Ray cluster at ray_address ("": RAY_ADDRESS,
    else a new one here); its results, with everything written to `out`."""
    if ray_address is not None:
        sweep_on_ray.import_ray()  # before any work: say how to install it
    inputs = read_paths(suite, suite_path)
    check_output_folder(out, inputs, option)  # before connecting; staged_folder checks once more
    with contextlib.ExitStack() as stack:
        if ray_address is not None:  # connected before the staging folder points tempfile at itself
            cluster = stack.enter_context(sweep_on_ray.connect(ray_address or None))
        stage = stack.enter_context(staged_folder(out, inputs, option))
        if ray_address is None:
            results, record = run_here(suite, stage, log, repeat, shown=out)
        else:
            results, record = cluster.run(suite, stage, log, repeat, shown=out)
        write_results(results, record, stage)
    log(f"wrote {out / 'results.json'}, report.md, report.html and {SWEEP_NAME}")
    return results


def read_paths(suite: dict, suite_path: Path | None) -> list[tuple[str, Path | None]]:
    """Every path the sweep reads, as (what, path): the output folder may neither be nor hold one
    of them, since it is replaced whole."""
    sources = suite.get("sources", {}).items()
    devices = os.environ.get("EDGEKIT_DEVICES")
    return [("suite", suite_path), ("bundled models", REPO / "models"),
            ("bundled calibration sets", REPO / "calibration_data"),
            *((f"model {name}", Path(source["model"])) for name, source in sources),
            *((f"calibration set of {name}", Path(source["calib"])) for name, source in sources if source["calib"]),
            ("devices file (EDGEKIT_DEVICES)", Path(devices) if devices else None)]


def run_here(suite: dict, out: Path, log, repeat: int = 1, shown: Path | None = None) -> tuple[dict, dict]:
    """The suite's jobs one after another on this machine; its results and where they ran (the
    rows name the artifacts in `shown`, where `out` will be moved)."""
    import socket
    import time

    parts, start, converting = [], time.monotonic(), 0.0
    with Progress(2 * len(suite["models"]), "suite", log=log) as bar:
        for i, name in enumerate(suite["models"]):
            bar.update(2 * i, f"{name}: converting", message=f"converting {name}")
            began = time.monotonic()
            folder = convert_model(suite, name, out)
            converting += time.monotonic() - began
            bar.update(2 * i + 1, f"{name}: benchmarking", message=f"benchmarking {name}")
            parts.append(measure_model(suite, folder, repeat, (shown or out) / "artifacts" / name))
        bar.update(2 * len(suite["models"]))
    here = socket.gethostname()
    record = {"runner": "here", "address": None, "device": f"device:{suite.get('device', DEFAULT_DEVICE)}",
              "artifacts": "this machine", "conversion_seconds": round(converting, 2),
              "seconds": round(time.monotonic() - start, 2),
              "jobs": [{"model": name, "converted_on": here, "measured_on": here} for name in suite["models"]]}
    return combine(parts), record


def write_results(results: dict, record: dict, out: Path) -> None:
    """results.json with its Markdown and HTML reports, and sweep.json."""
    schema.write(out / schema.RESULTS_NAME, results)
    write_output_file(out / "report.md", markdown.render(results))
    write_output_file(out / "report.html", html.render(results))
    write_output_file(out / SWEEP_NAME, json.dumps(new_manifest(kind="edgekit sweep", **record), indent=2) + "\n")
