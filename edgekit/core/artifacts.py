"""Artifacts, the manifest that lists them, and the atomic writes that produce both.

An artifact never changes once written: a step reads artifacts and makes new ones. Every file
is written under a temporary name and renamed, and a whole run is staged in a sibling folder
that replaces the output folder only when the run has succeeded (edgekit/core/outputs.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gzip
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from edgekit.core.version import __version__

MANIFEST_NAME = "manifest.json"
MANIFEST_SCHEMA_VERSION = 1
# The files whose presence marks a folder as one edgekit wrote (convert, optimize, tune, compile, sweep)
OPTIMIZATION_NAME = "optimization.json"
TUNE_NAME = "tune.json"
COMPILE_NAME = "compile.json"
SWEEP_NAME = "sweep.json"  # edgekit sweep: where each job ran
OWN_MANIFESTS = (MANIFEST_NAME, OPTIMIZATION_NAME, TUNE_NAME, COMPILE_NAME, SWEEP_NAME)


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """One model input or output as a runtime sees it. `None` in `shape` is a free dimension."""

    name: str
    dtype: str
    shape: tuple[int | None, ...]
    scale: tuple[float, ...] = ()  # quantization: one value per tensor or per channel
    zero_point: tuple[int, ...] = ()
    quantized_dimension: int | None = None

    @property
    def quantized(self) -> bool:
        return bool(self.scale) and any(s != 0 for s in self.scale)

    @classmethod
    def from_dict(cls, data: dict) -> TensorSpec:
        return cls(name=data["name"], dtype=data["dtype"], shape=tuple(data["shape"]),
                   scale=tuple(data.get("scale", ())), zero_point=tuple(data.get("zero_point", ())),
                   quantized_dimension=data.get("quantized_dimension"))

    def to_dict(self) -> dict:
        data = {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}
        if self.quantized:
            data.update(scale=list(self.scale), zero_point=list(self.zero_point))
            if len(self.scale) > 1:
                data["quantized_dimension"] = self.quantized_dimension
        return data


@dataclasses.dataclass(frozen=True)
class Artifact:
    path: str  # relative to the output folder
    format: str  # "tflite" | "onnx"
    variant: str  # "fp32", "int8", "int8-static", ...
    precision: str  # what is stored in which type, in words
    size_bytes: int
    sha256: str
    parent: str  # sha256 of the model it was converted from
    recipe: dict  # the converter options that made it
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    fidelity: dict = dataclasses.field(default_factory=dict)
    gzip_bytes: int | None = None  # size after gzip -9 (where sparsity and clustering pay off)
    evaluation: dict | None = None  # task metric on held-out data beside the float model's
    pairing: dict | None = None  # its tensors paired with the float model's, when not by their exact names
    quality: dict | None = None  # the verdict on its fidelity: degraded or not, output by output (measure/quality.py)

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["inputs"] = [t.to_dict() for t in self.inputs]
        data["outputs"] = [t.to_dict() for t in self.outputs]
        for optional in ("pairing", "quality"):
            if data[optional] is None:
                del data[optional]
        return data


def sha256_of(path: str | Path) -> str:
    """sha256 of a file, or of a folder's files (names and contents, in sorted order)."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with open(file, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def size_of(path: str | Path) -> int:
    path = Path(path)
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def gzip_size(data: bytes) -> int:
    """Bytes after gzip -9: what a sparse or clustered model costs to download."""
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def file_sizes(path: Path) -> dict:
    """{"size_bytes", and "gzip_bytes" for a file}. gzip -9 takes 3 s on a 100 MB file (ResNet50)
    and validation and every benchmark record want it, so a file is compressed once a process (or
    again when it changed)."""
    stat = path.stat()
    return dict(_sizes(path.resolve(), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=256)
def _sizes(path: Path, mtime_ns: int, size: int) -> tuple:
    if not path.is_file():
        return (("size_bytes", size_of(path)),)
    return ("size_bytes", size), ("gzip_bytes", gzip_size(path.read_bytes()))


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` through a temporary file in the same folder and a rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~umask())  # mkstemp makes 0600; give the file a normal mode
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None:  # a failed write names no file
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    return path


def atomic_write_json(path: str | Path, data: dict) -> Path:
    return atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=False) + "\n").encode())


def atomic_save_model(model, path: Path) -> Path:
    """Save a tf-keras model without optimizer state (all a converter needs), atomically.

    Re-compiling gives the model a fresh optimizer with no variables to save: the .keras format
    has no include_optimizer=False. Training is over by then, so nothing is lost."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        model.compile()
        model.save(tmp / path.name)
        os.replace(tmp / path.name, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def new_manifest(**fields) -> dict:
    return {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "edgekit_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **fields,
    }
