"""What `edgekit bench` measures: the artifacts a path names, the float model they came from,
and the data they are judged on.

A folder written by `edgekit convert` brings its manifest, which names the artifacts, the float
source model and (for a zoo model or `--train-data`) the held-out data; one written by `edgekit
compile` from a converted file brings the same in its compile.json. A lone file or an
unmanaged folder is benchmarked on what the user gives (`--reference`, `--data`), or on random
inputs when nothing is given.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np

from edgekit.core import limits
from edgekit.core.artifacts import COMPILE_NAME, MANIFEST_NAME, TensorSpec, sha256_of
from edgekit.core.errors import EdgekitError, unreadable
from edgekit.core.files import special_kind
from edgekit.core.units import human_size
from edgekit.data import shapes
from edgekit.measure.targets import ARTIFACT_FORMATS
from edgekit.models.inspection import check_op_count
from edgekit.models.loading import detect_flavour, is_keras_file

FLOAT_FORMATS = ("keras", "h5", "hdf5")


@dataclasses.dataclass
class Subject:
    name: str
    artifacts: list[Path]
    reference: Path | None  # the float model every artifact is compared with
    manifest: dict | None
    note: str | None = None  # why there is no reference, when there is none

    def variant_of(self, path: Path) -> dict:
        """format and variant of an artifact, from the manifest when it lists the file."""
        for a in (self.manifest or {}).get("artifacts", []):
            if a["path"] == path.name:
                return {"format": a["format"], "variant": a["variant"]}
        return {"format": path.suffix.lstrip("."), "variant": path.stem}


@dataclasses.dataclass
class EvalData:
    inputs: dict[str, np.ndarray]  # float samples by input name
    labels: np.ndarray | None
    metric: str | None  # a key of bench.accuracy.METRICS, when labels exist
    source: str  # where the samples come from, in words
    random: bool = False  # made up from the input specs: only latency means anything
    # the layout and shapes of the samples (data/shapes.py): inputs fed whole, each input's shape
    # as one sample is fed, and what sized the free dimensions (None: the file fixes them all)
    fed_whole: frozenset = frozenset()
    input_shapes: dict | None = None
    shapes_from: str | None = None

    @property
    def samples(self) -> int:
        return int(len(next(iter(self.inputs.values()))))


def find(path: str | Path, reference: str | Path | None) -> Subject:
    path = Path(path)
    try:
        return _find(path, reference)
    except OSError as exc:  # permissions, a link loop, a name too long: the user's path, not a bug
        raise unreadable(path, exc) from None


def _find(path: Path, reference: str | Path | None) -> Subject:
    if not path.exists():
        raise EdgekitError(f"{path} does not exist: give a .tflite or .onnx file, or a folder of them")
    folder = path if path.is_dir() else path.parent
    manifest = _manifest(folder)
    if path.is_dir():
        listed = [folder / a["path"] for a in manifest["artifacts"]] if manifest else []
        artifacts = listed or sorted(p for p in path.iterdir() if p.suffix.lstrip(".") in ARTIFACT_FORMATS)
        if not artifacts and not reference:
            raise EdgekitError(f"{path} holds no .tflite or .onnx file to benchmark")
        name = manifest["name"] if manifest else path.name
    elif path.suffix.lstrip(".") in ARTIFACT_FORMATS:
        artifacts, name = [path], path.stem
        if manifest and path.name not in {a["path"] for a in manifest["artifacts"]}:
            manifest = None  # a stray file beside a manifest is not one of its artifacts
        if manifest:
            name = manifest["name"]
    elif path.suffix.lstrip(".") in FLOAT_FORMATS or is_keras_file(path):
        artifacts, name, manifest = [], path.stem if path.name != "model.keras" else path.parent.name, None
        reference = reference or path
    else:
        raise EdgekitError(f"{path}: bench takes .tflite, .onnx, .keras, .h5 or .hdf5 files, or a folder of them")
    for artifact in artifacts:
        if not artifact.exists():
            raise EdgekitError(f"{artifact} is listed in {folder / MANIFEST_NAME} but missing: convert again")
        kind = special_kind(artifact)
        if kind or artifact.is_dir():  # a FIFO blocks whoever opens it; a device never ends
            raise EdgekitError(f"{artifact} is {kind or 'a folder'}, not a model file: give a .tflite or .onnx file")
        limits.check_model_size(artifact, artifact.stat().st_size)
        check_op_count(artifact)
    ref, note = _reference(reference, manifest, folder)
    return Subject(name, artifacts, ref, manifest, note)


# what a file made from a converted one (compiled for an NPU) keeps of its manifest: what bench follows
CONVERSION_FIELDS = ("source", "calibration", "config")


def conversion_of(path: Path) -> dict:
    """The manifest's float model (path and sha256), calibration set and options of the convert
    folder that lists `path`; {} for a file no manifest lists."""
    manifest = _manifest(path.parent)
    if not manifest or path.name not in {a["path"] for a in manifest["artifacts"]}:
        return {}
    return {key: manifest[key] for key in CONVERSION_FIELDS if manifest.get(key) is not None}


def _manifest(folder: Path) -> dict | None:
    """The folder's manifest: convert's, else one made from compile's record of a converted file."""
    file = folder / MANIFEST_NAME
    if not file.is_file():
        return _compiled_manifest(folder / COMPILE_NAME)
    try:
        manifest = json.loads(file.read_text())
        _check_manifest(manifest)
        return manifest
    except (ValueError, OSError, RecursionError) as exc:
        raise EdgekitError(f"{file} is not a readable edgekit manifest ({exc}): convert again or "
                           "remove it") from None


def _compiled_manifest(file: Path) -> dict | None:
    """compile.json as a manifest of its compiled files, when the file it compiled was converted
    (it then records that conversion's float model); else None: no float model to follow."""
    if not file.is_file():
        return None
    try:
        record = json.loads(file.read_text())
        if not isinstance(record, dict) or "source" not in record:
            return None
        targets = record.get("targets")
        manifest = {"name": record.get("name"), **{key: record.get(key) for key in CONVERSION_FIELDS},
                    "artifacts": [{"path": t["file"], "format": "tflite", "variant": Path(str(t["file"])).stem}
                                  for t in targets if t.get("status") == "ok"] if isinstance(targets, list) else None}
        _check_manifest(manifest)
        return manifest
    except (ValueError, OSError, RecursionError, TypeError, KeyError, AttributeError) as exc:
        raise EdgekitError(f"{file} is not a readable edgekit compile record ({exc}): compile again or "
                           "remove it") from None


def _check_manifest(manifest) -> None:
    """The fields bench reads, with artifact names that stay inside the manifest's folder."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("artifacts"), list):
        raise ValueError("no artifact list")
    for entry in manifest["artifacts"]:
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("path", "format", "variant")):
            raise ValueError("an artifact entry lacks path, format or variant")
        if Path(entry["path"]).name != entry["path"] or entry["path"] in ("", ".", ".."):
            raise ValueError(f"artifact path {entry['path']!r} is not a file name in the folder")
    source = manifest.get("source")
    if not isinstance(source, dict) or not all(isinstance(source.get(k), str) for k in ("path", "sha256")):
        raise ValueError("no source model path and sha256")
    if not isinstance(manifest.get("name"), str):
        raise ValueError("no name")
    for key in ("calibration", "config"):
        if not isinstance(manifest.get(key) or {}, dict):
            raise ValueError(f"{key} is not an object")


def _reference(given, manifest, folder: Path) -> tuple[Path | None, str | None]:
    if given:
        path = Path(given)
        if not path.exists():
            raise EdgekitError(f"reference model {path} does not exist: give the float .keras, .h5, .hdf5 or SavedModel")
        return path, None
    if not manifest:
        return None, "no float model to compare with: give --reference MODEL"
    source = Path(manifest["source"]["path"])
    if not source.exists():
        return None, f"the float model {source} named in the manifest is not here: give --reference MODEL"
    try:  # a model, checked as one before it is hashed: hashing a FIFO blocks, hashing "/" never ends
        detect_flavour(source)
    except EdgekitError as exc:
        raise EdgekitError(f"{folder / MANIFEST_NAME} names a float model edgekit cannot use ({exc}): give "
                           "--reference MODEL, or convert again") from None
    if sha256_of(source) != manifest["source"]["sha256"]:
        return None, f"the float model {source} changed since conversion: give --reference MODEL"
    return source, None


def float_specs(specs: list[TensorSpec]) -> list[TensorSpec]:
    """The tensors a user's samples are given as: a quantized or float input as float32, an integer
    or bool one (token ids, a sample rate, a mask) in its own dtype; a batch-first input's batch
    free (data/shapes.py)."""
    whole = shapes.fed_whole(specs)
    return [TensorSpec(s.name, "float32" if s.quantized or np.dtype(s.dtype).kind == "f" else s.dtype,
                       s.shape if s.name in whole else (None, *s.shape[1:])) for s in specs]


def random_inputs(specs: list[TensorSpec], count: int, model: Path, samples_option: str = "--data",
                  seed: int = 0) -> dict[str, np.ndarray]:
    """`count` random samples for each input of `model`, in its dtype (shapes.random_samples),
    sized from the specs and checked against the data limit before any is allocated: the shapes
    come from the file, which may declare 2^40 elements. Every free dimension but a batch must be
    filled (shapes.concrete) first; `samples_option` gives real samples."""
    specs = shapes.concrete(specs, None, model, f"give real samples with {samples_option}")
    whole = shapes.fed_whole(specs)
    sample_shapes = {s.name: shapes.sample_shape(s, count, whole) for s in specs}
    if any(d < 0 for shape in sample_shapes.values() for d in shape):
        raise EdgekitError(f"model {model} declares an input with a negative dimension "
                           f"({', '.join(f'{s.name} {shapes.shown(s.shape)}' for s in specs)}): the file is damaged")
    sizes = {s.name: math.prod(sample_shapes[s.name]) * np.dtype(s.dtype).itemsize for s in specs}
    total, limit = sum(sizes.values()), limits.current().data_bytes
    if total > limit:
        name = max(sizes, key=sizes.get)
        spec = next(s for s in specs if s.name == name)
        each = ", ".join(map(str, sample_shapes[name][1:]))
        raise EdgekitError(f"model {model}: {count} random samples for its input {name!r} (each [{each}] {spec.dtype}) "
                           f"would take {human_size(total)}, over the {human_size(limit)} data limit: give real "
                           f"samples with {samples_option}, or raise {limits.named('data_bytes')} if that is expected")
    return shapes.random_samples(specs, count, np.random.default_rng(seed))
