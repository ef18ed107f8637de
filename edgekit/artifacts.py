"""Artifacts, the manifest that lists them, and the atomic writes that produce both.

An artifact never changes once written: a step reads artifacts and makes new ones. Every file
is written under a temporary name and renamed, and a whole run is staged in a sibling folder
that replaces the output folder only when the run has succeeded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

from edgekit import __version__
from edgekit.errors import EdgekitError

MANIFEST_NAME = "manifest.json"
MANIFEST_SCHEMA_VERSION = 1


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

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["inputs"] = [t.to_dict() for t in self.inputs]
        data["outputs"] = [t.to_dict() for t in self.outputs]
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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` through a temporary file in the same folder and a rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file a normal mode
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
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


def check_output_parent(out: Path, option: str = "--out") -> None:
    """Fail early, before any heavy work, when the output folder cannot be written. Writability
    is probed with a real file: permission bits do not tell (root ignores them, an immutable or
    read-only-mounted folder refuses even root)."""
    for parent in [out, *out.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise EdgekitError(f"output path {parent} is a file, not a folder: give {option} another path")
            try:
                fd, probe = tempfile.mkstemp(prefix=".edgekit-probe-", dir=parent)
                os.close(fd)
                os.unlink(probe)
            except OSError as exc:
                raise EdgekitError(f"output folder {parent} is not writable ({exc.strerror}): "
                                   f"give {option} another path") from None
            return


def check_output_file(path: str | Path, option: str) -> Path:
    """Fail early when a file option (--json, --out) names a folder or an unwritable place."""
    path = Path(path)
    if path.is_dir():
        raise EdgekitError(f"{option} {path} is a folder: give a file name, e.g. {path / 'results.json'}")
    check_output_parent(path.parent, option)
    return path


def write_output_file(path: Path, text: str) -> None:
    """Write a report or results file, making its folder, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def staged_folder(final: Path):
    """Yield an empty staging folder beside `final`; on success it replaces `final` whole.

    On any failure or interrupt the staging folder is removed and `final` is left as it was.
    """
    check_output_parent(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{final.name}.staging-", dir=final.parent))
    os.chmod(stage, 0o777 & ~_umask())  # mkdtemp makes 0700; the result is an ordinary folder
    try:
        yield stage
        with _interrupts_held():  # the two renames must not be split by Ctrl-C
            if final.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
                os.replace(final, old / final.name)
                os.replace(stage, final)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(stage, final)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)


@contextlib.contextmanager
def _interrupts_held():
    """Hold SIGINT and SIGTERM until the block is done; they are delivered after it."""
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def new_manifest(**fields) -> dict:
    return {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "edgekit_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **fields,
    }
