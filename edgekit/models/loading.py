"""Load a user's model safely and present every flavour as one `SourceModel`.

Flavours are told apart by their contents, not their names: a SavedModel folder, a Keras 3
`.keras`/`.h5` file, or a tf-keras (Keras 2) `.keras`/`.h5` file. Whatever the flavour, the
model is reduced to one serving function (named inputs in, a dict of named outputs out) that
gives the float reference outputs, is traced by tf2onnx, and is exported as the SavedModel that
the TFLite converter reads (the reliable route, see docs/DESIGN.md pitfall 3).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import re
import shutil
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np

from edgekit.core import limits, python_child
from edgekit.core.archives import check_zip
from edgekit.core.artifacts import TensorSpec, sha256_of, size_of
from edgekit.core.errors import EdgekitError, first_line, unreadable
from edgekit.core.files import special_kind
from edgekit.core.lazy_imports import tensorflow
from edgekit.models import trust
from edgekit.models.trust import config_objects

SAVEDMODEL = "savedmodel"
KERAS3 = "keras3"
TF_KERAS = "tf_keras"

CONVERTED_SUFFIXES = {".tflite", ".onnx"}
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")  # what Keras's own loaders take; other names are read by content
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
MAX_SAVEDMODEL_ENTRIES = 100_000  # files and folders; a real SavedModel has a handful


def detect_flavour(path: Path) -> str:
    """Tell which flavour of model `path` holds, from its contents."""
    try:
        return _detect_flavour(path)
    except OSError as exc:  # unreadable, a link loop, ...: the user's path, not a bug here
        raise unreadable(path, exc, "model") from None


def _detect_flavour(path: Path) -> str:
    if not path.exists():
        raise EdgekitError(f"no such file: {path}: give a SavedModel folder, .keras, .h5 or .hdf5 file")
    if path.is_dir():
        graphs = [path / "saved_model.pb", path / "saved_model.pbtxt"]
        if any(os.path.lexists(graph) for graph in graphs):
            check_savedmodel_files(path)
        if any(graph.is_file() for graph in graphs):
            limits.check_model_size(path, size_of(path))
            return SAVEDMODEL
        inside = sorted(p for p in itertools.islice(path.iterdir(), 1000)  # a folder of SavedModels, say
                        if p.is_dir() and (p / "saved_model.pb").is_file())[:3]
        hint = f": give the SavedModel folder in it, {', '.join(map(str, inside))}" if inside else ""
        raise EdgekitError(f"model folder {path} is not a SavedModel (no saved_model.pb in it){hint}")
    kind = special_kind(path)
    if kind:  # reading a FIFO, socket or device blocks or never ends
        raise EdgekitError(f"model {path} is {kind}, not a regular file: give a .keras/.h5 file or a SavedModel folder")
    if path.suffix in CONVERTED_SUFFIXES:
        raise EdgekitError(
            f"model {path} is already converted: convert takes a Keras model or SavedModel "
            f"(use `edgekit inspect {path}` to look inside it)"
        )
    if path.stat().st_size == 0:
        raise EdgekitError(f"model {path} is an empty file")
    limits.check_model_size(path, path.stat().st_size)
    if zipfile.is_zipfile(path):
        # Keras unpacks the archive: its members must stay inside, and unpack to a bounded size
        check_zip(path, "model", limits.current().model_bytes, limits.named("model_bytes"))
        version = _keras_zip_version(path)
    elif _is_hdf5(path):
        version = _h5_attr(path, "keras_version") or "2"
    else:
        raise EdgekitError(
            f"model {path} is neither a Keras zip (.keras) nor an HDF5 (.h5) file: "
            "it may be truncated or not a model"
        )
    return KERAS3 if version.startswith("3") else TF_KERAS


def is_keras_file(path: Path) -> bool:
    """Whether `path` is a Keras model file: a regular file named .keras, .h5 or .hdf5, or whatever
    its name, one that holds an HDF5 file or a zip with a config.json (read, never loaded)."""
    if not path.is_file() or special_kind(path):
        return False
    if path.suffix in KERAS_SUFFIXES:
        return True
    try:
        if _is_hdf5(path):
            return True
        if not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as archive:
            return "config.json" in archive.namelist()
    except (OSError, zipfile.BadZipFile, ValueError):
        return False


def model_config(path: Path) -> dict:
    """The architecture config stored in a Keras file, read without deserializing anything."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                text = archive.read("config.json")
        elif _is_hdf5(path):
            text = _h5_attr(path, "model_config")
            if text is None:
                raise EdgekitError(f"model {path} is an HDF5 file without a model config: "
                                   "it holds weights only; save the whole model")
        else:
            raise EdgekitError(f"model {path} is neither a Keras zip (.keras) nor an HDF5 (.h5) file: "
                               "it may be truncated or not a model")
        config = json.loads(text)
    except EdgekitError:
        raise
    except (KeyError, ValueError, OSError, EOFError, zlib.error, zipfile.BadZipFile, RecursionError,
            NotImplementedError) as exc:
        raise EdgekitError(f"model {path} has no readable config ({first_line(exc)}): the file is damaged") from None
    if not isinstance(config, dict):
        raise EdgekitError(f"model {path} has a config that is not a JSON object: the file is damaged")
    return config


def check_savedmodel_files(path: Path) -> None:
    """Refuse a SavedModel folder holding anything but files and folders (TensorFlow would block
    reading a FIFO for ever) or a dangling link, before anything reads or hashes it. Linked
    folders are followed (TensorFlow follows them), each once."""
    seen, count = set(), 0
    for folder, dirs, files in os.walk(path, followlinks=True):
        info = os.stat(folder)
        key = (info.st_dev, info.st_ino)
        if key in seen:  # a link back up the tree
            dirs[:] = []
            continue
        seen.add(key)
        count += len(dirs) + len(files)
        if count > MAX_SAVEDMODEL_ENTRIES:
            raise EdgekitError(f"model folder {path} holds more than {MAX_SAVEDMODEL_ENTRIES} files and folders: "
                               "not a SavedModel")
        for name in files:
            entry = Path(folder) / name
            if not entry.exists():
                raise EdgekitError(f"model folder {path} holds {entry}, a link to nothing: remove it")
            kind = special_kind(entry)
            if kind:
                raise EdgekitError(f"model folder {path} holds {entry}, {kind}, not a regular file: "
                                   "a SavedModel holds only files and folders")


def load_model(path: str | Path, trust_model_code: bool = False) -> SourceModel:
    path = Path(path)
    flavour = detect_flavour(path)
    if flavour == SAVEDMODEL:
        if not trust_model_code:  # the graph is a program: check it before TensorFlow reads it
            trust.check_saved_model(path)
        tf = tensorflow()
        try:
            return _from_saved_model(path, tf)
        except EdgekitError:
            raise
        except Exception as exc:  # the loaders raise many types; all mean "this file will not load"
            raise EdgekitError(f"model {path} could not be loaded as {flavour}: {first_line(exc)}") from exc
    model = _load_keras(path, flavour, trust_model_code)
    return from_keras(path, flavour, model, *io_names(flavour, model))


def io_names(flavour: str, model) -> tuple[list[str], list[str]]:
    """The names of a loaded Keras model's inputs and outputs, as its layers name them."""
    if flavour == KERAS3:
        return ([t._keras_history.operation.name for t in model.inputs],
                [t._keras_history.operation.name for t in model.outputs])
    return list(model.input_names), list(model.output_names)


def load_keras_model(path: str | Path, trust_model_code: bool = False):
    """The Keras model object in a `.keras`/`.h5` file (Keras 3 or tf-keras), for steps that need
    its layers; returns (flavour, model)."""
    path = Path(path)
    flavour = detect_flavour(path)
    if flavour == SAVEDMODEL:
        raise EdgekitError(f"model {path} is a SavedModel, which has no Keras layers to optimize: "
                           "give the .keras, .h5 or .hdf5 file it was exported from")
    return flavour, _load_keras(path, flavour, trust_model_code)


def _load_keras(path: Path, flavour: str, trust_model_code: bool):
    config = model_config(path)
    if not trust_model_code:  # before Keras deserializes anything
        trust.check_keras_config(path, config)
    tensorflow()
    hdf5 = _is_hdf5(path)
    try:
        with _named_for_keras(path, hdf5) as loadable:
            if flavour == KERAS3:
                import keras

                model = keras.saving.load_model(loadable, compile=False, safe_mode=not trust_model_code)
            else:
                import tf_keras

                kwargs = {} if hdf5 else {"safe_mode": not trust_model_code}
                # a QAT model (e.g. from `edgekit optimize --qat`) needs the toolkit's layer classes
                with scope() if is_qat_config(config) else contextlib.nullcontext():
                    model = tf_keras.models.load_model(loadable, compile=False, **kwargs)
    except Exception as exc:  # the loaders raise many types; all mean "this file will not load"
        raise EdgekitError(f"model {path} could not be loaded as {flavour}: {first_line(exc)}") from exc
    if not hasattr(model, "inputs"):  # tf-keras hands back a damaged config as a plain dict
        raise EdgekitError(f"model {path} holds no model in its config ({type(model).__name__}): the file is damaged")
    return model


@contextlib.contextmanager
def _named_for_keras(path: Path, hdf5: bool):
    """`path` under a name Keras's loaders take: they pick the format by the name's suffix
    (.keras: the zip; .h5, .hdf5: HDF5), so a file whose name does not say what it holds is
    loaded through a link named for its content."""
    if path.suffix in ((".h5", ".hdf5") if hdf5 else (".keras",)):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="edgekit-model-") as folder:
        link = Path(folder) / ("model.h5" if hdf5 else "model.keras")
        link.symlink_to(path.resolve())
        yield link


class SourceModel:
    """A loaded float model: its named inputs and outputs and one serving function."""

    def __init__(self, path, flavour, serve, inputs, outputs, keepalive=None, body=None):
        self.path = Path(path)
        self.flavour = flavour
        self.serve = serve  # tf.function: positional tensors in input order -> dict of outputs
        self.inputs: list[TensorSpec] = inputs
        self.outputs: list[TensorSpec] = outputs
        self._keepalive = keepalive  # the Keras model or loaded SavedModel that `serve` calls
        self._body = body  # the Python function `serve` traces, to trace again at fixed shapes
        self._export_dirs: dict[tuple | None, Path] = {}  # by the input shapes traced; None: the model's own
        self.sha256 = sha256_of(self.path)
        self.size_bytes = size_of(self.path)

    def predict(self, feeds: dict[str, np.ndarray], batch_size: int | None = None,
                until: float | None = None) -> dict[str, np.ndarray]:
        """The outputs on every sample; with `until` (a time.monotonic() value), on the first samples
        only when a call ends after it."""
        tf = tensorflow()
        batch_size = batch_size or predict_batch(feeds)
        count = len(next(iter(feeds.values())))
        chunks = []
        for start in range(0, count, batch_size):
            args = [tf.constant(feeds[t.name][start:start + batch_size]) for t in self.inputs]
            chunks.append({k: v.numpy() for k, v in self.serve(*args).items()})
            if until is not None and time.monotonic() >= until:
                break
        return {t.name: np.concatenate([c[t.name] for c in chunks]) for t in self.outputs}

    @property
    def traceable(self) -> bool:
        """Whether `saved_model_dir` can trace the model again at a fixed batch or shapes."""
        return self._body is not None

    def saved_model_dir(self, batch: int | None = None,
                        shapes: dict[str, tuple[int, ...]] | None = None) -> Path | None:
        """A SavedModel with a `serving_default` signature, exported once when needed. With
        `batch`, the signature is traced at that fixed batch (recurrent layers convert to TFLite
        builtins only so); with `shapes` (input name -> whole shape), at those shapes (a model
        whose free dimensions need Flex converts to builtins at a fixed shape). None when the
        model cannot be traced again (a SavedModel source)."""
        fixed = None
        if batch is not None or shapes:
            fixed = tuple(tuple(shapes[t.name]) if shapes and t.name in shapes
                          else (batch if batch is not None else t.shape[0], *t.shape[1:]) for t in self.inputs)
        if fixed is None and self.flavour == SAVEDMODEL:
            return self.path
        if fixed is not None and not self.traceable:
            return None
        if fixed not in self._export_dirs:
            tf = tensorflow()
            serve = self.serve if fixed is None else tf.function(self._body, input_signature=[
                tf.TensorSpec(shape, t.dtype, name=t.name) for shape, t in zip(fixed, self.inputs)])
            export_dir = Path(tempfile.mkdtemp(prefix="edgekit-savedmodel-"))
            self._export_dirs[fixed] = export_dir
            if self.flavour == KERAS3:
                # Keras 3 variables saved through a plain tf.Module convert to a TFLite model
                # that outputs NaN; Keras's own export archive tracks them properly.
                import keras

                archive = keras.export.ExportArchive()
                archive.track(self._keepalive)
                archive.add_endpoint("serving_default", serve)
                archive.write_out(str(export_dir), verbose=False)
            else:
                module = tf.Module()
                module.model = self._keepalive
                tf.saved_model.save(module, str(export_dir),
                                    signatures={"serving_default": serve.get_concrete_function()})
        return self._export_dirs[fixed]

    def close(self) -> None:
        for export_dir in self._export_dirs.values():
            shutil.rmtree(export_dir, ignore_errors=True)
        self._export_dirs.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def from_keras(path, flavour, model, names_in, names_out) -> SourceModel:
    """A SourceModel over a Keras model in memory; `path` is the file it was saved to."""
    tf = tensorflow()
    names_in, names_out = _clean_names(names_in, "input"), _clean_names(names_out, "output")
    specs = [tf.TensorSpec([None, *t.shape[1:]], t.dtype, name=n) for n, t in zip(names_in, model.inputs)]

    def body(*args):
        outs = model(list(args) if len(args) > 1 else args[0], training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        return dict(zip(names_out, outs))

    serve = tf.function(body, input_signature=specs)
    outputs = serve.get_concrete_function().structured_outputs
    return SourceModel(path, flavour, serve, [_spec(s, s.name) for s in specs],
                       [_spec(outputs[n], n) for n in names_out], keepalive=model, body=body)


def _from_saved_model(path: Path, tf) -> SourceModel:
    loaded = tf.saved_model.load(str(path))
    if "serving_default" not in loaded.signatures:
        raise EdgekitError(f"SavedModel {path} has no serving_default signature: export it with one")
    signature = loaded.signatures["serving_default"]
    named = signature.structured_input_signature[1]
    names_in = sorted(named)
    specs = [tf.TensorSpec(named[n].shape, named[n].dtype, name=n) for n in names_in]

    @tf.function(input_signature=specs)
    def serve(*args):
        return signature(**dict(zip(names_in, args)))

    outputs = signature.structured_outputs
    if not isinstance(outputs, dict):
        raise EdgekitError(f"SavedModel {path}: serving_default must return a dict of named outputs")
    return SourceModel(path, SAVEDMODEL, serve, [_spec(s, s.name) for s in specs],
                       [_spec(outputs[n], n) for n in sorted(outputs)], keepalive=loaded)


def _spec(tensor_spec, name) -> TensorSpec:
    shape = tuple(None if d is None else int(d) for d in tensor_spec.shape)
    return TensorSpec(name=name, dtype=tensor_spec.dtype.name, shape=shape)


def _clean_names(names: list[str], kind: str) -> list[str]:
    """Names that are valid signature keys, unique, and readable."""
    cleaned = []
    for i, name in enumerate(names):
        name = re.sub(r"[^A-Za-z0-9_.\-]", "_", name or "")
        if not name or name.startswith(("keras_tensor", "_")) or name in cleaned:
            name = f"{kind}_{i}"
        cleaned.append(name)
    return cleaned


def _keras_zip_version(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "config.json" not in names:
                raise EdgekitError(f"model {path} is a zip without config.json: not a Keras model file")
            if "metadata.json" in names:
                metadata = json.loads(archive.read("metadata.json"))
                if not isinstance(metadata, dict):
                    raise EdgekitError(f"model {path} has a metadata.json that is not a JSON object: "
                                       "the file is damaged")
                return str(metadata.get("keras_version", "3"))
    except EdgekitError:
        raise
    except RecursionError:
        raise EdgekitError(f"model {path} has a metadata.json nested too deep to read: the file is damaged") from None
    except (ValueError, OSError, EOFError, zlib.error, zipfile.BadZipFile, NotImplementedError) as exc:
        raise EdgekitError(f"model {path} is a damaged zip ({first_line(exc)})") from None
    return "3"


def _is_hdf5(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(8) == HDF5_MAGIC


# Reads the Keras attributes of an HDF5 file in a child process: a damaged file can send the
# HDF5 library into an endless loop (found by tests/unit/test_fuzz.py), which no timer in this
# process can stop. Once the child has read them, reading them here is safe.
_H5_PROBE = """
import json, sys, h5py
with h5py.File(sys.argv[1], "r") as h5:
    values = {k: h5.attrs.get(k) for k in ("keras_version", "model_config")}
print(json.dumps({k: v.decode(errors="replace") if isinstance(v, bytes) else v if isinstance(v, str) else None
                  for k, v in values.items()}))
"""
H5_PROBE_SECONDS = 10  # a real model.h5 is read in well under a second


@functools.cache
def _h5_attrs(path: Path, size: int, mtime: int) -> dict:
    import subprocess

    try:
        probe = subprocess.run(python_child.command("-c", _H5_PROBE, str(path)), capture_output=True, text=True,
                               timeout=H5_PROBE_SECONDS, env=python_child.environment())
    except subprocess.TimeoutExpired:
        raise EdgekitError(f"model {path} is a damaged HDF5 file (reading it did not finish in "
                           f"{H5_PROBE_SECONDS} s)") from None
    if probe.returncode != 0:
        reason = first_line(RuntimeError(probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else "no output"))
        raise EdgekitError(f"model {path} is a damaged HDF5 file ({reason})")
    return json.loads(probe.stdout)


def _h5_attr(path: Path, name: str) -> str | None:
    stat = path.stat()
    return _h5_attrs(path, stat.st_size, stat.st_mtime_ns)[name]


QAT_LAYERS = {"QuantizeLayer", "QuantizeWrapper", "QuantizeWrapperV2"}


def is_qat_config(config) -> bool:
    """Whether a stored Keras config holds quantization-aware-training wrappers."""
    return any(node["class_name"] in QAT_LAYERS for node in config_objects(config))


def scope():
    """The custom-object scope that loading a saved QAT model needs (the toolkit's own layers)."""
    import tensorflow_model_optimization as tfmot

    return tfmot.quantization.keras.quantize_scope()


# Many samples run a few at a time: a call's activations grow with its batch, and a 224x224 image
# model at batch 100 took gigabytes (MobileNetV2 in LiteRT ran faster at batch 8, too).
PREDICT_INPUT_BYTES = 4 * 2**20

MAX_PREDICT_BATCH = 256


def predict_batch(feeds: dict[str, np.ndarray]) -> int:
    """Samples per call when running many: calls of about PREDICT_INPUT_BYTES of inputs."""
    per_sample = sum(v[:1].nbytes for v in feeds.values()) or 1
    return max(1, min(MAX_PREDICT_BATCH, PREDICT_INPUT_BYTES // per_sample))
