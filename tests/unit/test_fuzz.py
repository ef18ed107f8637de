"""Property-based fuzzing of everything that reads a file a user hands edgekit, and of what a
worker (a board's, or a local one) sends back.

The contract: every input gets a result or an `EdgekitError` (a one-line message), never another
exception type, never a crash of the process, never a hang. Each target feeds its entry point
random bytes with the right extension (some behind the format's magic number, so they get past the
first check) and damaged copies of small valid files built here: byte flips, truncation, inserted,
deleted, repeated and copied spans, 4-byte little-endian integers overwritten with extreme values;
for zip files also one member damaged and re-zipped with good checksums; for .tflite and .onnx
also the parsed model rebuilt with a field removed or set to an extreme value (what passes the
format's own checks and reaches the runtime); for results files also a damaged JSON tree; for
the runner protocol, a worker's messages damaged, reordered and cut (see worker_streams).

Environment:
  EDGEKIT_FUZZ_EXAMPLES  examples per target (default 100)
  EDGEKIT_FUZZ_SEED      an integer: random instead of the fixed (derandomized) sequence CI runs
  EDGEKIT_FUZZ_TIMEOUT   seconds one example may take before the process is killed, loudly (60)
  EDGEKIT_FUZZ_SAVE_DIR  a folder: each input is written there (TARGET.last) before it runs, so
                         the one that crashed or hung the process is left behind to reproduce it;
                         an input that raised another exception is saved there too (by default
                         in edgekit-fuzz-failures in the temporary folder)

More examples, in a child process so that a native crash shows as a signal exit status:
  python tests/unit/test_fuzz.py --examples 2000 [--keep-going] [TARGET ...]
(--keep-going records each kind of failure with its smallest input and goes on.)
"""

from __future__ import annotations

import contextlib
import copy
import faulthandler
import functools
import io
import itertools
import json
import math
import os
import shutil
import struct
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import pytest

from tests.require import require

require("hypothesis")
import hypothesis  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from edgekit.core.errors import EdgekitError  # noqa: E402

EXAMPLES = int(os.environ.get("EDGEKIT_FUZZ_EXAMPLES", "100"))
SEED = os.environ.get("EDGEKIT_FUZZ_SEED")
TIMEOUT_S = float(os.environ.get("EDGEKIT_FUZZ_TIMEOUT", "60"))
SAVE_DIR = os.environ.get("EDGEKIT_FUZZ_SAVE_DIR")

# Values a damaged length, offset or count field is likely to hold.
EXTREME_U32 = (0, 1, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000,
               0xFFFFFFFE, 0xFFFFFFFF)
# Bytes that mean something to one of the parsers (JSON nesting and numbers, NULs, high bits).
SPECIAL_BYTES = b"\x00\xff\x7f\x80[{\"9-e. "


# ---------------------------------------------------------------------------------------------
# Seeds: small valid files, built once per process.

def _workdir() -> Path:
    return _tmp_root() / "inputs"


@functools.cache
def _tmp_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="edgekit-fuzz-"))
    (root / "inputs").mkdir()
    import atexit

    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


@functools.cache
def keras_seeds() -> dict[str, bytes]:
    """A tiny tf-keras model saved as .keras (a zip) and .h5, the same bytes in every process
    (every name given, the save date and zip times fixed), so a failing input reproduces."""
    from edgekit.core.lazy_imports import tensorflow

    tensorflow()
    import tf_keras

    tf_keras.utils.set_random_seed(0)
    model = tf_keras.Sequential([
        tf_keras.layers.InputLayer((8, 8, 1), name="pixels"),
        tf_keras.layers.Flatten(name="flatten"),
        tf_keras.layers.Dense(2, name="scores"),
    ], name="fuzz_seed")
    folder = _tmp_root() / "seeds"
    folder.mkdir(exist_ok=True)
    seeds = {}
    for suffix in (".keras", ".h5"):
        path = folder / f"model{suffix}"
        model.save(path)
        seeds[suffix] = path.read_bytes()
    seeds[".keras"] = _fixed_zip(seeds[".keras"])
    return seeds


def _fixed_zip(archive: bytes) -> bytes:
    """A Keras zip with its save date and member times fixed."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "metadata.json":
                data = json.dumps({**json.loads(data), "date_saved": "2026-01-01@00:00:00"}).encode()
            target.writestr(zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return out.getvalue()


@functools.cache
def tflite_seeds() -> tuple[bytes, ...]:
    """Small .tflite files (1 to 5 KB): a float graph without signatures, and a Keras model
    with a signature and a dozen kinds of op (convolutions, pooling, add, concatenate, reshape,
    fully connected, softmax), in float and in full int8 with quantization parameters."""
    from edgekit.core.lazy_imports import quiet_stderr, tensorflow

    tf = tensorflow()
    import tf_keras

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32, name="x")])
    def small(x):
        w = tf.constant([[1.0, -2.0], [3.0, 4.0], [-5.0, 6.0], [7.0, 8.0]])
        return {"y": tf.nn.relu(tf.matmul(x, w) + 1.0)}

    layers = tf_keras.layers
    tf_keras.utils.set_random_seed(0)
    pixels = layers.Input((8, 8, 1), name="pixels")
    a = layers.Conv2D(2, 3, padding="same", activation="relu", name="conv")(pixels)
    b = layers.DepthwiseConv2D(3, padding="same", name="depthwise")(a)
    h = layers.MaxPooling2D(2, name="pool")(layers.Add(name="add")([a, b]))
    h = layers.Concatenate(name="concat")([h, layers.AveragePooling2D(2, name="avg")(a)])
    h = layers.Reshape((64,), name="flat")(h)
    scores = layers.Dense(3, activation="softmax", name="scores")(h)
    model = tf_keras.Model(pixels, scores, name="fuzz_seed_ops")

    def convert(converter, int8=False):
        if int8:
            samples = np.random.default_rng(0).random((8, 1, 8, 8, 1), dtype=np.float32)
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: ([s] for s in samples)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = converter.inference_output_type = tf.int8
        with quiet_stderr(replay_on_error=True):  # the converter logs each step
            return converter.convert()

    return (convert(tf.lite.TFLiteConverter.from_concrete_functions([small.get_concrete_function()], None)),
            convert(tf.lite.TFLiteConverter.from_keras_model(model)),
            convert(tf.lite.TFLiteConverter.from_keras_model(model), int8=True))


@functools.cache
def onnx_seeds() -> tuple[bytes, ...]:
    """Two small ONNX models built by hand: a float MatMul-Add-Relu, and a QDQ one."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.arange(8, dtype=np.float32).reshape(4, 2) / 8, "w")
    b = numpy_helper.from_array(np.array([0.5, -0.5], dtype=np.float32), "b")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 2])
    float_graph = helper.make_graph([
        helper.make_node("MatMul", ["x", "w"], ["xw"]),
        helper.make_node("Add", ["xw", "b"], ["xwb"]),
        helper.make_node("Relu", ["xwb"], ["y"]),
    ], "small", [x], [y], [w, b])

    scale = numpy_helper.from_array(np.array(0.02, dtype=np.float32), "scale")
    zero = numpy_helper.from_array(np.array(-3, dtype=np.int8), "zero")
    qdq_graph = helper.make_graph([
        helper.make_node("QuantizeLinear", ["x", "scale", "zero"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "scale", "zero"], ["xd"]),
        helper.make_node("MatMul", ["xd", "w"], ["y"]),
    ], "qdq", [x], [y], [w, scale, zero])

    seeds = []
    for graph in (float_graph, qdq_graph):
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="fuzz")
        model.ir_version = 8
        onnx.checker.check_model(model)
        seeds.append(model.SerializeToString())
    return tuple(seeds)


@functools.cache
def numpy_seeds() -> dict[str, tuple[bytes, ...]]:
    """Calibration sets shaped (N, 8, 8, 1): .npy, and .npz both stored and compressed."""
    x = np.random.default_rng(0).random((2, 8, 8, 1), dtype=np.float32)
    npy, stored, compressed = io.BytesIO(), io.BytesIO(), io.BytesIO()
    np.save(npy, x)
    np.savez(stored, pixels=x)
    np.savez_compressed(compressed, pixels=x)
    return {".npy": (npy.getvalue(),), ".npz": (stored.getvalue(), compressed.getvalue())}


@functools.cache
def results_seeds() -> tuple[dict, ...]:
    """The sample results file (this schema version) and its version-1 form."""
    from tests.results_sample import sample_results

    v2 = sample_results()
    v1 = sample_results()
    v1["schema_version"] = 1
    del v1["models"][0]["artifacts"]
    v1["models"][0]["reference"] = {"path": "models/m/model.keras", "sha256": "0" * 64}
    return v2, v1


@functools.cache
def results_seed_bytes() -> tuple[bytes, ...]:
    """The seeds as `edgekit.results.schema.write` writes them."""
    from edgekit.results import schema

    folder = _tmp_root() / "seeds"
    folder.mkdir(exist_ok=True)
    out = []
    for i, results in enumerate(results_seeds()):
        out.append(schema.write(folder / f"results{i}.json", results).read_bytes())
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# Strategies.

@st.composite
def mutate(draw, data: bytes, max_steps: int = 4) -> bytes:
    """`data` damaged in one to `max_steps` ways."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, max_steps))):
        kind = draw(st.sampled_from(("flip", "byte", "u32", "truncate", "delete", "insert", "repeat", "copy")))
        size = len(buf)
        if kind == "truncate" or size == 0:
            del buf[draw(st.integers(0, max(size - 1, 0))):]
        elif kind == "flip":
            buf[draw(st.integers(0, size - 1))] ^= draw(st.integers(1, 255))
        elif kind == "byte":
            buf[draw(st.integers(0, size - 1))] = draw(st.sampled_from(SPECIAL_BYTES))
        elif kind == "u32":
            if size < 4:
                continue
            at = draw(st.integers(0, size - 4))
            if draw(st.booleans()):  # flatbuffer and protobuf fixed fields are 4-byte aligned
                at -= at % 4
            value = draw(st.sampled_from(EXTREME_U32) | st.integers(0, 0xFFFFFFFF))
            struct.pack_into("<I", buf, at, value)
        elif kind == "delete":
            at = draw(st.integers(0, size - 1))
            del buf[at:at + draw(st.integers(1, 256))]
        elif kind == "insert":
            at = draw(st.integers(0, size))
            buf[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "repeat":  # a long run of one byte: deep nesting, huge numbers, long names
            at = draw(st.integers(0, size))
            buf[at:at] = bytes([draw(st.sampled_from(SPECIAL_BYTES))]) * draw(st.integers(1, 5000))
        elif kind == "copy":  # a span of the file again, elsewhere: plausible but wrong structure
            start = draw(st.integers(0, size - 1))
            span = bytes(buf[start:start + draw(st.integers(1, 128))])
            at = draw(st.integers(0, size))
            buf[at:at] = span
    return bytes(buf)


def mutated(seeds: Callable[[], tuple[bytes, ...]]) -> st.SearchStrategy[bytes]:
    """Damaged copies of the valid files `seeds()` builds (lazily: at the first example)."""
    return st.deferred(lambda: st.sampled_from(seeds()).flatmap(lambda data: mutate(data)))


def random_bytes(*magics: bytes) -> st.SearchStrategy[bytes]:
    """Random bytes, alone or behind one of the format's magic numbers."""
    tails = st.binary(max_size=2048)
    return (tails | st.tuples(st.sampled_from(magics), tails).map(b"".join)) if magics else tails


@st.composite
def rezipped(draw, archive: bytes) -> bytes:
    """A valid zip with one member damaged (the zip's checksums are right, so the damage reaches
    the parser of the member), or a member dropped or added."""
    with zipfile.ZipFile(io.BytesIO(archive)) as source:
        members = [(info, source.read(info)) for info in source.infolist()]
    index = draw(st.integers(0, len(members) - 1))
    action = draw(st.sampled_from(("mutate", "mutate", "mutate", "drop", "add")))
    if action == "drop":
        del members[index]
    elif action == "add":
        name = draw(st.sampled_from([info.filename for info, _ in members] + ["extra.npy", "x/../y"]))
        members.append((zipfile.ZipInfo(name), draw(st.binary(max_size=64))))
    else:
        info, data = members[index]
        members[index] = (info, draw(mutate(data, max_steps=3)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info, data in members:
            with warnings_ignored():  # adding a duplicate name warns
                target.writestr(info, data)
    return out.getvalue()


@contextlib.contextmanager
def warnings_ignored():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def rezipped_from(seeds: Callable[[], tuple[bytes, ...]]) -> st.SearchStrategy[bytes]:
    return st.deferred(lambda: st.sampled_from(seeds()).flatmap(rezipped))


# Structure-aware damage: the file parses, but what it says is wrong (a field missing, an index
# out of range, a length that disagrees): what gets past a format's own checks into the runtime.

EXTREME_INTS = (0, 1, -1, 2, 127, 255, 0x7FFF, 0xFFFF, 2**31 - 1, -2**31, 2**32 - 1, 2**63 - 1)
EXTREME_FLOATS = (0.0, -1.0, 1e-45, 3.4e38, float("inf"), float("-inf"), float("nan"))


def _replacement(value, others: list):
    """Values to put where `value` was: of its own kind, but extreme, empty or borrowed."""
    if isinstance(value, bool):
        return st.just(not value)
    if isinstance(value, int):
        return st.sampled_from(EXTREME_INTS) | st.integers(-300, 300)
    if isinstance(value, float):
        return st.sampled_from(EXTREME_FLOATS)
    if isinstance(value, (bytes, str)):
        texts = [o for o in others if isinstance(o, type(value))]
        special = [b"", b"\xff\xfe", b"A" * 300] if isinstance(value, bytes) else ["", "\u0000", "A" * 300]
        return st.sampled_from(special + texts[:50])
    if isinstance(value, np.ndarray):
        return st.sampled_from(("empty", "truncate", "extend", "extreme")).flatmap(
            lambda how: _array_replacement(value, how))
    if isinstance(value, list):
        return st.sampled_from(("empty", "drop", "duplicate")).flatmap(lambda how: _list_replacement(value, how))
    return st.just(None)  # a whole table or message: absent


def _array_replacement(array: np.ndarray, how: str):
    if how == "empty" or array.size == 0:
        return st.just(array[:0])
    if how == "truncate":
        return st.integers(0, array.size - 1).map(lambda n: array.ravel()[:n].copy())
    if how == "extend":
        return st.integers(1, 64).map(lambda n: np.concatenate([array.ravel(), array.ravel()[:1].repeat(n)]))
    info = np.iinfo(array.dtype) if array.dtype.kind in "iu" else np.finfo(array.dtype)

    def extreme(args):
        index, value = args
        out = array.ravel().copy()
        out[index] = value
        return out
    values = st.sampled_from([info.min, info.max, 0, -1 if array.dtype.kind != "u" else 1])
    return st.tuples(st.integers(0, array.size - 1), values).map(extreme)


def _list_replacement(items: list, how: str):
    if how == "empty" or not items:
        return st.just([])
    index = st.integers(0, len(items) - 1)
    if how == "drop":
        return index.map(lambda i: items[:i] + items[i + 1:])
    return index.map(lambda i: items[:i + 1] + items[i:])


def _object_slots(obj, slots: list, leaves: list):
    """Every attribute (and list element) of a flatbuffers object-API tree, parents first."""
    for name, value in vars(obj).items():
        slots.append((obj, name))
        if isinstance(value, (bytes, str)):
            leaves.append(value)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if hasattr(item, "__dict__"):
                    _object_slots(item, slots, leaves)
                else:
                    slots.append((value, i))
        elif hasattr(value, "__dict__"):
            _object_slots(value, slots, leaves)
    return slots


@st.composite
def mutated_flatbuffer(draw, data: bytes) -> bytes:
    """A .tflite rebuilt from its parsed tables with one to three fields changed: a table or
    vector removed, an index, count or type set to an extreme value, a name borrowed."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(data, 0))
    for _ in range(draw(st.integers(1, 3))):
        leaves: list = []
        slots = _object_slots(model, [], leaves)
        owner, key = draw(st.sampled_from(slots))
        old = owner[key] if isinstance(owner, list) else getattr(owner, key)
        new = draw(_replacement(old, leaves))
        if isinstance(owner, list):
            owner[key] = new
        else:
            setattr(owner, key, new)
    builder = flatbuffers.Builder(1024)
    try:
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    except (struct.error, TypeError, ValueError, AttributeError, OverflowError):  # a value its field cannot hold
        hypothesis.reject()
    return bytes(builder.Output())


def _repeated(field) -> bool:
    return field.is_repeated if hasattr(field, "is_repeated") else field.label == field.LABEL_REPEATED


def _proto_slots(message, slots: list, leaves: list):
    """Every field (and repeated element) set in a protobuf message tree, parents first."""
    for field, value in message.ListFields():
        if _repeated(field):
            slots.append((message, field, None))
            for i, item in enumerate(value):
                if field.message_type is not None:
                    _proto_slots(item, slots, leaves)
                else:
                    slots.append((message, field, i))
                    if isinstance(item, str):
                        leaves.append(item)
        elif field.message_type is not None:
            slots.append((message, field, None))
            _proto_slots(value, slots, leaves)
        else:
            slots.append((message, field, None))
            if isinstance(value, str):
                leaves.append(value)
    return slots


@st.composite
def mutated_protobuf(draw, data: bytes) -> bytes:
    """An .onnx re-serialized with one to three fields changed: a message or repeated field
    cleared or an element dropped or duplicated, a number set to an extreme value, a name
    borrowed from elsewhere in the graph (dangling or cyclic edges, duplicate names)."""
    import onnx

    model = onnx.ModelProto()
    model.ParseFromString(data)
    for _ in range(draw(st.integers(1, 3))):
        leaves: list = []
        message, field, index = draw(st.sampled_from(_proto_slots(model, [], leaves)))
        container = getattr(message, field.name)
        if _repeated(field) and index is None:
            how = draw(st.sampled_from(("clear", "drop", "duplicate")))
            items = list(container)
            if how == "clear" or not items:
                message.ClearField(field.name)
                continue
            at = draw(st.integers(0, len(items) - 1))
            items = items[:at] + items[at + 1:] if how == "drop" else items[:at + 1] + items[at:]
            message.ClearField(field.name)
            getattr(message, field.name).extend(items)
        elif field.message_type is not None:
            message.ClearField(field.name)
        else:
            old = container[index] if index is not None else container
            new = draw(_replacement(old, leaves))
            try:
                if index is not None:
                    container[index] = new
                else:
                    setattr(message, field.name, new)
            except (ValueError, TypeError):  # out of the field's range
                hypothesis.reject()
    return model.SerializeToString()


def restructured(seeds: Callable[[], tuple[bytes, ...]], mutator) -> st.SearchStrategy[bytes]:
    return st.deferred(lambda: st.sampled_from(seeds()).flatmap(mutator))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**64) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _slots(tree):
    """Every (container, key) in a JSON tree, parents first."""
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else ()
    for key, value in items:
        yield tree, key
        yield from _slots(value)


@st.composite
def mutated_tree(draw) -> bytes:
    """A results file whose JSON is valid but whose contents are not: values replaced with
    values of other types, keys deleted."""
    data = copy.deepcopy(draw(st.sampled_from(results_seeds())))
    for _ in range(draw(st.integers(1, 3))):
        slots = list(_slots(data))
        container, key = draw(st.sampled_from(slots))
        if draw(st.booleans()):
            del container[key]
        else:
            container[key] = draw(JSON_VALUES | st.sampled_from([0, 1, 2, 3, -1, "", [], {}, "ok", "failed"]))
    return json.dumps(data).encode()


JSON_TOKENS = st.lists(st.sampled_from([
    "{", "}", "[", "]", ",", ":", '"', '"kind"', '"edgekit-bench"', '"schema_version"', '"models"',
    '"records"', "1", "2", "0", "-1", "1e999", "NaN", "null", "true", " ", "\\u0000", "\\ud800", "\ufeff",
]), max_size=64).map(lambda tokens: "".join(tokens).encode("utf-8", errors="surrogatepass"))


# The runner protocol from the host's side: what a broken or hostile worker sends back. A stream
# is a hello and a result (well formed, or their JSON damaged: values of other types, keys gone;
# in another order, twice, or one missing), each result with its arrays (real ones, or .npy
# headers that lie: 10^13 elements, negative sizes, objects, records, strings), and sometimes
# byte-level damage (truncation above all). Stored behind 4 bytes: how much of it the worker
# sends before it reads the job.

@functools.cache
def worker_seeds() -> dict:
    """A worker's hello (this machine's fingerprint) and the results a worker gives (ok with its
    figures, skipped, failed, stopped), as headers."""
    from edgekit.runtimes.environment import fingerprint

    found = {"details": {"threads": 1, "kernels": "xnnpack"},
             "cold": {"load_us": 900.0, "first_inference_us": 80.5, "cold_start_us": 980.5},
             "latency_us": {"p50": 10.0, "p90": 12.0, "p99": 15.0, "mean": 10.5, "std": 1.0, "min": 9.0,
                            "max": 16.0, "cv": 0.0952, "robust_cv": 0.05, "runs": 10, "high_spread": False,
                            "stopped_by": "precise", "median_ci": 0.01, "share_seconds": 3.0},
             "memory": {"peak_rss_bytes": 1 << 20, "scope": "this run", "peak_over_start_bytes": 0},
             "throughput": {"batch": 2, "samples_per_s": 9000.0, "batch_p50_us": 20.0},
             "evaluation_seconds": 0.01}
    return {"hello": {"fingerprint": fingerprint()},
            "results": ({"status": "ok", "found": found}, {"status": "ok", "found": found},
                        {"status": "skipped", "reason": "onnxruntime is not installed"},
                        {"status": "failed", "reason": "LiteRT failed: bad model", "detail": "line 1\nline 2"},
                        {"status": "stopped", "reason": "stopped at the time limit"})}


NPY_DESCRS = ("'<f4'", "'<f8'", "'|u1'", "'|i1'", "'<i8'", "'|b1'", "'>f4'", "'<c16'", "'|O'", "'|V8'", "'<U3'",
              "'|S2'", "'<M8[s]'", "[('a', '<f4')]", "('<f4', (3,))", "5", "'bogus'", "None")
NPY_SHAPES = ("(3, 10)", "(2, 10)", "(4, 10)", "(0, 10)", "(3,)", "()", "(10000000000000,)", "(-1, 10)",
              "(1180591620717411303424,)", "(True, 10)", "[3, 10]", "(1.5,)", "(3, 10, 1, 1, 1)",
              "(" + "1, " * 40 + ")")


def npy_header(descr: str, fortran: str, shape: str) -> bytes:
    """A .npy version 1.0 header saying what it is told, padded as numpy pads it."""
    text = "{'descr': %s, 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
    text += " " * (-(10 + len(text) + 1) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin-1")


@st.composite
def npy_arrays(draw) -> bytes:
    """An array as a worker may send it: real (the outputs a job expects, or others), or a header
    that lies about its type and size, followed by as many bytes as it says or not."""
    how = draw(st.sampled_from(("real", "real", "forged", "damaged")))
    dtype = draw(st.sampled_from(("float32", "float64", "int64", "uint8", "bool")))
    shape = draw(st.sampled_from(((3, 10), (2, 10), (4, 10), (0, 10), (3,), (1, 10))))
    real = np.arange(math.prod(shape)).reshape(shape)
    out = io.BytesIO()
    np.lib.format.write_array(out, real.astype(dtype), allow_pickle=False)
    if how == "real":
        return out.getvalue()
    if how == "damaged":
        return draw(mutate(out.getvalue(), max_steps=2))
    header = npy_header(draw(st.sampled_from(NPY_DESCRS)), draw(st.sampled_from(("False", "True", "0", "'no'"))),
                        draw(st.sampled_from(NPY_SHAPES)))
    return header + draw(st.sampled_from((real.astype(dtype).tobytes(), b"", b"\x00" * 120)) | st.binary(max_size=300))


@st.composite
def damaged_json(draw, header: dict) -> dict:
    """`header` (a deep copy) with up to three values replaced by values of any type, or deleted."""
    data = copy.deepcopy(header)
    for _ in range(draw(st.sampled_from((0, 0, 1, 1, 2, 3)))):
        slots = list(_slots(data))
        if not slots:
            break
        container, key = draw(st.sampled_from(slots))
        if draw(st.booleans()):
            del container[key]
        else:
            container[key] = draw(JSON_VALUES | st.sampled_from([0, -1, 10**30, "", [], {}, "ok", "x86", 1e308]))
    return data


@st.composite
def worker_message(draw, kind: str) -> bytes:
    """One message of `kind` as a worker's bytes: length, JSON header, arrays."""
    seeds = worker_seeds()
    header = dict(seeds["hello"] if kind == "hello" else draw(st.sampled_from(seeds["results"])))
    names = ["outputs/probs"] if header.get("status") == "ok" else []
    names = draw(st.sampled_from((names, names, names, [], ["outputs/prob"], ["outputs/probs", "outputs/probs"],
                                  ["eval/x"], names + ["outputs/other"])))
    header = draw(damaged_json({**header, "type": kind, "protocol": 1, "arrays": names}))
    body = json.dumps(header).encode()  # NaN and Infinity too, as a hostile worker may write them
    sent = len(names) + draw(st.sampled_from((0, 0, 0, -1, 1)))
    return struct.pack(">I", len(body)) + body + b"".join(draw(npy_arrays()) for _ in range(max(0, sent)))


@st.composite
def worker_streams(draw) -> bytes:
    order = draw(st.sampled_from((("hello", "result"),) * 4 + (("result", "hello"), ("hello", "hello", "result"),
                                                               ("hello",), ("result",), ("hello", "result", "result"))))
    messages = [draw(worker_message(kind)) for kind in order]
    stream = b"".join(messages)
    split = len(messages[0]) if draw(st.integers(0, 4)) else draw(st.integers(0, len(stream)))
    if not draw(st.integers(0, 3)):  # byte damage: a truncation, a flipped length, ...
        stream = draw(mutate(stream, max_steps=2))
    return struct.pack(">I", split) + stream


# ---------------------------------------------------------------------------------------------
# Checks: each takes the bytes of one input and runs an entry point on them as a file.

_inputs = itertools.count()


@contextlib.contextmanager
def input_file(data: bytes, suffix: str, target: str):
    """`data` as a file with `suffix`, a fresh name each time (a runtime may still map the last
    one), removed afterwards."""
    if SAVE_DIR:
        Path(SAVE_DIR).mkdir(parents=True, exist_ok=True)
        saved = Path(SAVE_DIR) / f"{target}.last"
        saved.write_bytes(data)
    path = _workdir() / f"{target}-{next(_inputs)}{suffix}"  # left behind by a crash or a hang
    path.write_bytes(data)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def expect_result_or_edgekit_error(call, *args):
    """The result, or None for an EdgekitError, whose message is what the user reads: one line
    (the command prints it as it is), not empty, with no Python internals in it."""
    try:
        return call(*args)
    except EdgekitError as exc:
        check_one_line(str(exc))
        return None


def check_one_line(message: str) -> None:
    assert message.strip() and not any(c in message for c in "\n\r\x85\u2028\u2029"), f"not one line: {message!r}"
    assert "Traceback (most recent call last)" not in message, message


def check_inspect(suffix):
    def check(data: bytes):
        from edgekit.models.inspection import inspect_model

        with input_file(data, suffix, f"inspect{suffix}") as path:
            info = expect_result_or_edgekit_error(inspect_model, path)
            if info is not None:
                json.dumps(info)  # what `edgekit inspect --json` prints
    return check


def check_load(suffix):
    def check(data: bytes):
        from edgekit.models.loading import detect_flavour, load_model, model_config

        with input_file(data, suffix, f"load{suffix}") as path:
            expect_result_or_edgekit_error(detect_flavour, path)
            expect_result_or_edgekit_error(model_config, path)
            model = expect_result_or_edgekit_error(load_model, path)
            if model is not None:
                model.close()
    return check


def check_calibration(suffix):
    def check(data: bytes):
        from edgekit.core.artifacts import TensorSpec
        from edgekit.data.calibration import load_calibration

        with input_file(data, suffix, f"calibration{suffix}") as path:
            expect_result_or_edgekit_error(load_calibration, path, [TensorSpec("pixels", "float32", (None, 8, 8, 1))])
    return check


def check_results(data: bytes):
    from edgekit.results import schema

    with input_file(data, ".json", "results") as path:
        expect_result_or_edgekit_error(schema.read, path)


def check_open(fmt, runtime: str | None = None):
    """Open the file in the runtime that `edgekit bench` validates `fmt` with (or in `runtime`)."""
    def check(data: bytes):
        from edgekit.runtimes import RUNTIMES, for_format

        with input_file(data, f".{fmt}", f"open.{runtime or fmt}") as path:
            session = expect_result_or_edgekit_error((RUNTIMES[runtime] if runtime else for_format(fmt)).open, path)
            if session is not None:
                session.close()
    return check


# A worker that sends what it is given: the first part, then (once the host's job arrives, or
# soon without it: the host may be waiting for the rest of a hello) the rest; then it exits.
REPLAYING_WORKER = """
import os, select, struct, sys
data = open(sys.argv[1], "rb").read()
split = struct.unpack(">I", data[:4])[0] if len(data) >= 4 else 0
stream = data[4:]
def send(part):
    while part:
        part = part[os.write(1, part):]
try:
    send(stream[:split])
    if select.select([0], [], [], 0.05)[0]:
        os.read(0, 1 << 16)
    send(stream[split:])
except OSError:  # the host has refused it and gone
    pass
"""


def check_worker_reply(data: bytes):
    """The host's side of a job (LocalRunner.measure: the hello, the job, the reply) against a
    worker that says `data`: figures the results file can hold and outputs the engine can score,
    or a row-failing EdgekitError."""
    from edgekit.core import limits
    from edgekit.runners.base import Job
    from edgekit.runners.local import LocalRunner

    class Replaying(LocalRunner):
        def command(self):
            return [sys.executable, "-I", "-S", "-c", REPLAYING_WORKER, str(path)]

    with input_file(data, ".bin", "worker-protocol") as path:
        artifact = path.with_suffix(".tflite")  # never opened: the worker only replies
        job = Job(artifact, "litert", "litert:xnnpack x1", {"kernels": "xnnpack", "threads": 1},
                  [{"x": np.zeros((1, 4), np.float32)}], {"x": np.zeros((3, 4), np.float32)}, 10, 1, 2,
                  outputs=("probs",))
        got = expect_result_or_edgekit_error(Replaying().measure, job, limits.Deadline(30, "the fuzz"))
    if got is not None:
        found, outputs = got
        json.dumps(found, allow_nan=False)  # what the results file will hold
        assert set(outputs) == {"probs"} and 1 <= len(outputs["probs"]) <= 3, outputs
        assert outputs["probs"].dtype.kind in "biuf"


class Target(NamedTuple):
    strategy: st.SearchStrategy[bytes]
    check: Callable[[bytes], None]
    cost: int = 1  # the tests run EDGEKIT_FUZZ_EXAMPLES / cost examples of a slow target


TFLITE_MAGIC = (b"\x1c\x00\x00\x00TFL3", b"\x18\x00\x00\x00TFL3", b"\x00\x00\x00\x00TFL3", b"\xff\xff\xff\x7fTFL3")
ONNX_MAGIC = (b"\x08\x08\x12",)  # ir_version 8, then the producer name's tag
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
HDF5_MAGIC = (b"\x89HDF\r\n\x1a\n",)
NPY_MAGIC = (b"\x93NUMPY\x01\x00", b"\x93NUMPY\x02\x00", b"\x93NUMPY\x03\x00")

TFLITE_INPUTS = random_bytes(*TFLITE_MAGIC) | mutated(tflite_seeds) | restructured(tflite_seeds, mutated_flatbuffer)
ONNX_INPUTS = random_bytes(*ONNX_MAGIC) | mutated(onnx_seeds) | restructured(onnx_seeds, mutated_protobuf)
KERAS_ZIP = lambda: (keras_seeds()[".keras"],)  # noqa: E731
KERAS_H5 = lambda: (keras_seeds()[".h5"],)  # noqa: E731

TARGETS: dict[str, Target] = {
    "inspect-tflite": Target(TFLITE_INPUTS, check_inspect(".tflite")),
    "inspect-onnx": Target(ONNX_INPUTS, check_inspect(".onnx")),
    "load-keras": Target(random_bytes(*ZIP_MAGIC) | mutated(KERAS_ZIP) | rezipped_from(KERAS_ZIP), check_load(".keras")),
    # every HDF5 read starts a child process (loading.py: a damaged file can hang the library)
    "load-h5": Target(random_bytes(*HDF5_MAGIC) | mutated(KERAS_H5), check_load(".h5"), cost=5),
    "calibration-npy": Target(random_bytes(*NPY_MAGIC) | mutated(lambda: numpy_seeds()[".npy"]),
                              check_calibration(".npy")),
    "calibration-npz": Target(random_bytes(*ZIP_MAGIC) | mutated(lambda: numpy_seeds()[".npz"])
                              | rezipped_from(lambda: numpy_seeds()[".npz"]), check_calibration(".npz")),
    "results-json": Target(random_bytes(b"{") | JSON_TOKENS | mutated(results_seed_bytes) | mutated_tree(),
                           check_results),
    "open-tflite": Target(TFLITE_INPUTS, check_open("tflite")),  # LiteRT's interpreter, as bench validates
    "open-tflite-compiled": Target(TFLITE_INPUTS, check_open("tflite", "litert-compiled")),  # bench's litert-compiled:cpu
    "open-onnx": Target(ONNX_INPUTS, check_open("onnx")),
    # a hostile worker against the host's reader and the runner's checks (real processes and pipes)
    "worker-protocol": Target(worker_streams(), check_worker_reply),
}


# ---------------------------------------------------------------------------------------------
# The driver that the tests and the command line share.

@contextlib.contextmanager
def watchdog(seconds: float, report_fd: int):
    """Kill the process, printing every thread's stack to `report_fd`, when the block takes longer
    than `seconds`: a hang fails the run loudly instead of stalling it."""
    faulthandler.dump_traceback_later(seconds, exit=True, file=report_fd)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


class Blob(bytes):
    """An input, shown by its size and first bytes: the whole of it is saved to a file instead."""

    def __repr__(self):
        return f"<{len(self)} bytes: {bytes(self[:24])!r}{'...' if len(self) > 24 else ''}>"


def failures_dir() -> Path:
    return Path(SAVE_DIR) if SAVE_DIR else Path(tempfile.gettempdir()) / "edgekit-fuzz-failures"


def save_failure(name: str, data: bytes, exc: BaseException) -> Path:
    """The input that raised `exc`, kept to reproduce it (overwritten while Hypothesis shrinks
    it, so it ends as the smallest one)."""
    folder = failures_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{type(exc).__name__}.bin"
    path.write_bytes(data)
    return path


def failure_key(exc: BaseException) -> str:
    """What went wrong and where: the exception type and the innermost frame in edgekit (or the
    innermost at all)."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/edgekit/" in f.filename] or frames
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    return f"{type(exc).__name__} at {where}"


def fuzz(name: str, examples: int = EXAMPLES, report_fd: int = 2, failures: dict | None = None) -> int:
    """Run target `name` on `examples` generated inputs; returns how many inputs it ran (more
    than `examples` when a failure is being shrunk).

    Any exception other than EdgekitError fails it, with the smallest input Hypothesis finds,
    saved under `failures_dir()`. Given a dict `failures`, it goes on instead and records each
    kind of failure there (`failure_key` -> [count, message, saved smallest input]). A hang
    kills the process after EDGEKIT_FUZZ_TIMEOUT seconds, its stacks written to `report_fd`."""
    strategy, check = TARGETS[name].strategy, TARGETS[name].check
    count = 0

    @settings(max_examples=examples, deadline=None, database=None, derandomize=SEED is None,
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False, print_blob=True)
    @given(strategy.map(Blob))
    def run(data: Blob):
        nonlocal count
        count += 1
        with watchdog(TIMEOUT_S, report_fd):
            try:
                check(data)
            except Exception as exc:
                if failures is None:
                    exc.add_note(f"the input is saved as {save_failure(name, data, exc)}")
                    raise
                key = failure_key(exc)
                seen = failures.setdefault(key, [0, f"{type(exc).__name__}: {exc}"[:300], None, None])
                seen[0] += 1
                if seen[3] is None or len(data) < seen[3]:
                    seen[2], seen[3] = save_failure(f"{name}-{len(failures)}", data, exc), len(data)

    run.__name__ = run.__qualname__ = f"fuzz_{name.replace('-', '_')}"  # a derandomized seed per target
    if SEED is not None:
        run = hypothesis.seed(int(SEED))(run)
    run()
    return count


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_input_gets_a_result_or_an_edgekit_error(name, capfd):
    with capfd.disabled():  # the terminal's stderr, not pytest's capture: a hang's report must show
        report_fd = os.dup(2)
    examples = max(10, EXAMPLES // TARGETS[name].cost)
    try:
        assert fuzz(name, examples, report_fd) >= examples
    finally:
        os.close(report_fd)


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Fuzz edgekit's file readers (see this file's docstring).")
    parser.add_argument("targets", nargs="*", metavar="TARGET", help=f"any of {', '.join(TARGETS)} (default: all)")
    parser.add_argument("--examples", type=int, default=EXAMPLES)
    parser.add_argument("--keep-going", action="store_true",
                        help="record each kind of failure and go on, instead of stopping at the first")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.targets) - set(TARGETS))
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}: choose from {', '.join(TARGETS)}")
    status = 0
    for name in args.targets or list(TARGETS):
        start = time.perf_counter()
        failures = {} if args.keep_going else None
        count = fuzz(name, args.examples, failures=failures)
        print(f"{name}: {count} inputs in {time.perf_counter() - start:.1f} s, "
              f"{len(failures or {})} kinds of failure", flush=True)
        for key, (times, message, saved, _) in (failures or {}).items():
            print(f"  {times} x {key}\n    {message}\n    smallest input: {saved}", flush=True)
            status = 1
    return status


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `tests.results_sample`
    sys.exit(main(sys.argv[1:]))
