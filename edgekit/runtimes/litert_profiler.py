"""LiteRT CompiledModel's own profiler, through the C API of the wheel's `libLiteRt.so` (ctypes).

The Python wrapper neither exposes the profiler nor passes runtime options, and LiteRT creates a
profiler only when the runtime option `enable_profiling = true` is set as the compiled model is
created (docs/DESIGN.md, pitfall 22): so this module creates the environment, model, options,
compiled model and buffers itself. Every struct layout and signature here is taken from the C
headers of LiteRT 2.3.0 (litert/c/litert_profiler_event.h, litert_compiled_model.h,
litert_options.h, litert_opaque_options.h, options/litert_runtime_options.cc, litert_layout.h,
litert_model_types.h, litert_any.h, litert_environment_options.h). A wheel of another version may lay
them out otherwise and crash the process, so `abi_mismatch` refuses it before anything is called.
"""

from __future__ import annotations

import ctypes
import functools
import re
from pathlib import Path

import numpy as np

from edgekit.core.errors import BackendUnavailable, EdgekitError

WRITTEN_FOR = "2.3.0"  # the ai-edge-litert whose C headers the layouts below come from

# the C functions called below: a wheel that lacks one has another API
REQUIRED_SYMBOLS = (
    "LiteRtCreateEnvironment", "LiteRtDestroyEnvironment", "LiteRtCreateModelFromFile", "LiteRtDestroyModel",
    "LiteRtGetNumModelSignatures", "LiteRtGetModelSignature", "LiteRtGetNumSignatureInputs",
    "LiteRtGetNumSignatureOutputs", "LiteRtGetSignatureInputName", "LiteRtGetSignatureInputTensorByIndex",
    "LiteRtGetSignatureOutputTensorByIndex", "LiteRtGetRankedTensorType", "LiteRtCreateOptions",
    "LiteRtDestroyOptions", "LiteRtSetOptionsHardwareAccelerators", "LiteRtCreateOpaqueOptions",
    "LiteRtAddOpaqueOptions", "LiteRtCreateCompiledModel", "LiteRtDestroyCompiledModel",
    "LiteRtGetCompiledModelInputBufferRequirements", "LiteRtGetCompiledModelOutputBufferRequirements",
    "LiteRtGetCompiledModelInputTensorLayout", "LiteRtGetCompiledModelOutputTensorLayouts",
    "LiteRtCreateManagedTensorBufferFromRequirements", "LiteRtDestroyTensorBuffer", "LiteRtLockTensorBuffer",
    "LiteRtUnlockTensorBuffer", "LiteRtGetTensorBufferPackedSize", "LiteRtRunCompiledModel",
    "LiteRtCompiledModelIsFullyAccelerated", "LiteRtCompiledModelGetProfiler", "LiteRtStartProfiler",
    "LiteRtStopProfiler", "LiteRtGetNumProfilerEvents", "LiteRtGetProfilerEvents",
)

# litert_common.h: LiteRtHwAccelerators
HW_ACCELERATORS = {"cpu": 1, "gpu": 2 | 1, "npu": 4 | 1}  # GPU and NPU fall back to the CPU, as in litert_compiled
# litert_environment_options.h: LiteRtEnvOptionTag
_ENV_COMPILER_PLUGIN_DIR, _ENV_DISPATCH_LIBRARY_DIR, _ENV_RUNTIME_LIBRARY_DIR = 0, 1, 22
_ANY_STRING = 8  # litert_any.h: kLiteRtAnyTypeString
_LOCK_WRITE = 1  # litert_common.h: kLiteRtTensorBufferLockModeWrite
# the opaque options' identifiers and TOML payloads (options/litert_runtime_options.cc, litert_cpu_options.cc)
_RUNTIME_OPTIONS, _CPU_OPTIONS = b"runtime_options_string", b"xnnpack"
_INTEL_GRAPH_BACKENDS = {"cpu": 0, "gpu": 1, "npu": 2}  # litert_intel_openvino_options.h

# litert_profiler_event.h: LiteRtProfilerEventType and ProfiledEventSource
EVENT_TYPES = {1: "default", 2: "operator", 4: "delegate_operator", 8: "delegate_profiled_operator",
               16: "runtime_instrumentation", 32: "telemetry", 64: "telemetry_settings",
               128: "telemetry_delegate", 256: "telemetry_delegate_settings"}
EVENT_SOURCES = {0: "litert", 1: "interpreter", 2: "delegate"}


class _MemoryUsage(ctypes.Structure):
    _fields_ = [("total_allocated_bytes", ctypes.c_size_t), ("in_use_allocated_bytes", ctypes.c_size_t),
                ("private_footprint_bytes", ctypes.c_size_t)]


class _ProfiledEventData(ctypes.Structure):
    _fields_ = [("tag", ctypes.c_char_p), ("event_type", ctypes.c_int), ("start_timestamp_us", ctypes.c_uint64),
                ("elapsed_time_us", ctypes.c_uint64), ("begin_mem_usage", _MemoryUsage),
                ("end_mem_usage", _MemoryUsage), ("event_metadata1", ctypes.c_uint64),
                ("event_metadata2", ctypes.c_uint64), ("event_source", ctypes.c_int)]


class _Layout(ctypes.Structure):  # 68 bytes: the rank and has_strides bit fields share one unsigned int
    _fields_ = [("rank", ctypes.c_uint, 7), ("has_strides", ctypes.c_uint, 1),
                ("dimensions", ctypes.c_int32 * 8), ("strides", ctypes.c_uint32 * 8)]


class _RankedTensorType(ctypes.Structure):  # 72 bytes
    _fields_ = [("element_type", ctypes.c_int), ("layout", _Layout)]


class _Any(ctypes.Structure):  # 16 bytes: the type, then a union whose widest member is 8 bytes
    _fields_ = [("type", ctypes.c_int), ("value", ctypes.c_void_p)]


class _EnvOption(ctypes.Structure):
    _fields_ = [("tag", ctypes.c_int), ("value", _Any)]


_LAYOUT_SIZES = {_ProfiledEventData: 104, _Layout: 68, _RankedTensorType: 72, _Any: 16, _EnvOption: 24}


def abi_mismatch(version: str, exported: set[str]) -> str | None:
    """Why this module cannot drive the libLiteRt.so of ai-edge-litert `version` that exports
    `exported`, or None when it can: the struct layouts are the headers' of WRITTEN_FOR alone."""
    differs = f"ai-edge-litert {version}: its C profiler API differs from the one edgekit reads (written for " \
              f"{WRITTEN_FOR})"
    if version.split("+")[0] != WRITTEN_FOR:
        return differs
    missing = [name for name in REQUIRED_SYMBOLS if name not in exported]
    if missing:
        return f"{differs}: libLiteRt.so lacks {', '.join(missing[:3])}"
    wrong = [cls.__name__ for cls, size in _LAYOUT_SIZES.items() if ctypes.sizeof(cls) != size]
    if wrong:  # a platform whose C layout differs from the headers' 64-bit one
        return f"{differs}: {', '.join(wrong)} has another size on this platform"
    return None


def library_path() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("ai_edge_litert")
    if spec is None or spec.origin is None:
        raise BackendUnavailable("ai_edge_litert is not installed")
    return Path(spec.origin).parent / "libLiteRt.so"


def installed_version() -> str:
    from importlib.metadata import version

    return version("ai-edge-litert")


@functools.cache
def library() -> ctypes.CDLL:
    """libLiteRt.so with the signatures this module calls, once the installed wheel is the one
    they were written for; else BackendUnavailable with the reason."""
    path = library_path()
    if not path.is_file():
        raise BackendUnavailable(f"ai-edge-litert {installed_version()} has no libLiteRt.so, whose C API "
                                 "the CompiledModel profiler needs")
    lib = ctypes.CDLL(str(path))
    reason = abi_mismatch(installed_version(), {n for n in REQUIRED_SYMBOLS if hasattr(lib, n)})
    if reason:
        raise BackendUnavailable(reason)
    p, size, i = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int
    pp = ctypes.POINTER(ctypes.c_void_p)
    signatures = {
        "LiteRtCreateEnvironment": (i, ctypes.POINTER(_EnvOption), pp),
        "LiteRtDestroyEnvironment": (p,),
        "LiteRtCreateModelFromFile": (p, ctypes.c_char_p, pp),
        "LiteRtDestroyModel": (p,),
        "LiteRtGetNumModelSignatures": (p, ctypes.POINTER(size)),
        "LiteRtGetModelSignature": (p, size, pp),
        "LiteRtGetNumSignatureInputs": (p, ctypes.POINTER(size)),
        "LiteRtGetNumSignatureOutputs": (p, ctypes.POINTER(size)),
        "LiteRtGetSignatureInputName": (p, size, ctypes.POINTER(ctypes.c_char_p)),
        "LiteRtGetSignatureInputTensorByIndex": (p, size, pp),
        "LiteRtGetSignatureOutputTensorByIndex": (p, size, pp),
        "LiteRtGetRankedTensorType": (p, ctypes.POINTER(_RankedTensorType)),
        "LiteRtCreateOptions": (pp,),
        "LiteRtDestroyOptions": (p,),
        "LiteRtSetOptionsHardwareAccelerators": (p, i),
        "LiteRtCreateOpaqueOptions": (ctypes.c_char_p, p, p, pp),
        "LiteRtAddOpaqueOptions": (p, p),
        "LiteRtCreateCompiledModel": (p, p, p, pp),
        "LiteRtDestroyCompiledModel": (p,),
        "LiteRtGetCompiledModelInputBufferRequirements": (p, size, size, pp),
        "LiteRtGetCompiledModelOutputBufferRequirements": (p, size, size, pp),
        "LiteRtGetCompiledModelInputTensorLayout": (p, size, size, ctypes.POINTER(_Layout)),
        "LiteRtGetCompiledModelOutputTensorLayouts": (p, size, size, ctypes.POINTER(_Layout), ctypes.c_bool),
        "LiteRtCreateManagedTensorBufferFromRequirements": (p, ctypes.POINTER(_RankedTensorType), p, pp),
        "LiteRtDestroyTensorBuffer": (p,),
        "LiteRtLockTensorBuffer": (p, pp, i),
        "LiteRtUnlockTensorBuffer": (p,),
        "LiteRtGetTensorBufferPackedSize": (p, ctypes.POINTER(size)),
        "LiteRtRunCompiledModel": (p, size, size, pp, size, pp),
        "LiteRtCompiledModelIsFullyAccelerated": (p, ctypes.POINTER(ctypes.c_bool)),
        "LiteRtCompiledModelGetProfiler": (p, pp),
        "LiteRtStartProfiler": (p,),
        "LiteRtStopProfiler": (p,),
        "LiteRtGetNumProfilerEvents": (p, ctypes.POINTER(i)),
        "LiteRtGetProfilerEvents": (p, i, ctypes.POINTER(_ProfiledEventData)),
    }
    for name, argtypes in signatures.items():
        function = getattr(lib, name)
        function.argtypes = list(argtypes)
        function.restype = None if name.startswith("LiteRtDestroy") else ctypes.c_int  # LiteRtStatus
    return lib


def _call(lib: ctypes.CDLL, name: str, *args) -> None:
    status = getattr(lib, name)(*args)
    if status != 0:  # kLiteRtStatusOk; LiteRT logs the reason to stderr
        raise RuntimeError(f"{name} failed (LiteRtStatus {status})")


def _payload(toml: str) -> ctypes.c_void_p:
    """A TOML payload LiteRT owns and frees with free() (the destructor handed over with it)."""
    libc = ctypes.CDLL(None)
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    data = toml.encode() + b"\0"
    address = libc.malloc(len(data))
    ctypes.memmove(address, data, len(data))
    return ctypes.c_void_p(address)


@functools.cache
def _free() -> ctypes.c_void_p:
    return ctypes.cast(ctypes.CDLL(None).free, ctypes.c_void_p)


def intel_openvino_options(backend: str) -> dict[bytes, str]:
    """ProfiledModel's vendor options that make Intel OpenVINO's dispatch compile every partition
    (graph -1) for `backend` (options/litert_intel_openvino_options.cc's TOML)."""
    return {b"intel_openvino": f"graph.-1.graph_backend = {_INTEL_GRAPH_BACKENDS[backend]}\n"}


class ProfiledModel:
    """A LiteRT CompiledModel created with its profiler on: `write` the inputs (the first
    signature's, in its order), `run`, then `events` of the runs since `start`."""

    def __init__(self, path: Path, accelerator: str = "cpu", threads: int | None = None,
                 dispatch_library_dir: str | None = None, compiler_plugin_dir: str | None = None,
                 vendor_options: dict[bytes, str] | None = None):
        self._lib = library()
        self._env = self._model = self._options = self._compiled = None
        self._inputs: list[ctypes.c_void_p] = []
        self._outputs: list[ctypes.c_void_p] = []
        try:
            self._open(path, accelerator, threads, dispatch_library_dir, compiler_plugin_dir, vendor_options or {})
        except BaseException:
            self.close()
            raise

    def _open(self, path: Path, accelerator: str, threads: int | None, dispatch_library_dir: str | None,
              compiler_plugin_dir: str | None, vendor_options: dict[bytes, str]) -> None:
        lib = self._lib
        folders = {_ENV_RUNTIME_LIBRARY_DIR: str(library_path().parent),
                   _ENV_DISPATCH_LIBRARY_DIR: dispatch_library_dir, _ENV_COMPILER_PLUGIN_DIR: compiler_plugin_dir}
        keep = {tag: folder.encode() for tag, folder in folders.items() if folder}  # alive until LiteRT copies them
        options = [_EnvOption(tag, _Any(_ANY_STRING, ctypes.cast(text, ctypes.c_void_p))) for tag, text in keep.items()]
        self._env = ctypes.c_void_p()
        _call(lib, "LiteRtCreateEnvironment", len(options), (_EnvOption * len(options))(*options),
              ctypes.byref(self._env))
        self._model = ctypes.c_void_p()
        _call(lib, "LiteRtCreateModelFromFile", self._env, str(path).encode(), ctypes.byref(self._model))
        count = ctypes.c_size_t()
        _call(lib, "LiteRtGetNumModelSignatures", self._model, ctypes.byref(count))
        if count.value == 0:
            raise EdgekitError(f"{path} has no signature, which LiteRT's CompiledModel needs")
        signature = ctypes.c_void_p()
        _call(lib, "LiteRtGetModelSignature", self._model, 0, ctypes.byref(signature))

        self._options = ctypes.c_void_p()
        _call(lib, "LiteRtCreateOptions", ctypes.byref(self._options))
        _call(lib, "LiteRtSetOptionsHardwareAccelerators", self._options, HW_ACCELERATORS[accelerator])
        tomls = [(_RUNTIME_OPTIONS, "enable_profiling = true\n"), *vendor_options.items()]
        if threads:
            tomls.append((_CPU_OPTIONS, f"num_threads = {int(threads)}\n"))
        for identifier, toml in tomls:
            opaque = ctypes.c_void_p()
            _call(lib, "LiteRtCreateOpaqueOptions", identifier, _payload(toml), _free(), ctypes.byref(opaque))
            _call(lib, "LiteRtAddOpaqueOptions", self._options, opaque)  # the options own it from here
        self._compiled = ctypes.c_void_p()
        _call(lib, "LiteRtCreateCompiledModel", self._env, self._model, self._options, ctypes.byref(self._compiled))
        self._profiler = ctypes.c_void_p()
        status = lib.LiteRtCompiledModelGetProfiler(self._compiled, ctypes.byref(self._profiler))
        if status != 0 or not self._profiler.value:  # a wheel that ignores the option: not the model's fault
            raise BackendUnavailable("LiteRT created the compiled model without its profiler "
                                     "(the runtime option enable_profiling was not taken)")
        self._make_buffers(signature)

    def _make_buffers(self, signature: ctypes.c_void_p) -> None:
        lib = self._lib
        count = ctypes.c_size_t()
        _call(lib, "LiteRtGetNumSignatureInputs", signature, ctypes.byref(count))
        self.input_names = []
        for index in range(count.value):
            name = ctypes.c_char_p()
            _call(lib, "LiteRtGetSignatureInputName", signature, index, ctypes.byref(name))
            self.input_names.append(name.value.decode())
            layout = _Layout()
            _call(lib, "LiteRtGetCompiledModelInputTensorLayout", self._compiled, 0, index, ctypes.byref(layout))
            self._inputs.append(self._buffer(signature, "Input", index, layout))
        _call(lib, "LiteRtGetNumSignatureOutputs", signature, ctypes.byref(count))
        layouts = (_Layout * max(count.value, 1))()
        _call(lib, "LiteRtGetCompiledModelOutputTensorLayouts", self._compiled, 0, count.value, layouts, False)
        self._outputs = [self._buffer(signature, "Output", index, layouts[index]) for index in range(count.value)]

    def _buffer(self, signature: ctypes.c_void_p, side: str, index: int, layout: _Layout) -> ctypes.c_void_p:
        """A buffer LiteRT allocates as the compiled model requires, for the tensor's element type
        at the compiled model's shape (a free dimension resolved)."""
        lib = self._lib
        tensor, tensor_type, requirements = ctypes.c_void_p(), _RankedTensorType(), ctypes.c_void_p()
        _call(lib, f"LiteRtGetSignature{side}TensorByIndex", signature, index, ctypes.byref(tensor))
        _call(lib, "LiteRtGetRankedTensorType", tensor, ctypes.byref(tensor_type))
        tensor_type.layout = layout
        # requirements belong to the compiled model: not destroyed here
        _call(lib, f"LiteRtGetCompiledModel{side}BufferRequirements", self._compiled, 0, index,
              ctypes.byref(requirements))
        buffer = ctypes.c_void_p()
        _call(lib, "LiteRtCreateManagedTensorBufferFromRequirements", self._env, ctypes.byref(tensor_type),
              requirements, ctypes.byref(buffer))
        return buffer

    @property
    def fully_accelerated(self) -> bool:
        found = ctypes.c_bool()
        _call(self._lib, "LiteRtCompiledModelIsFullyAccelerated", self._compiled, ctypes.byref(found))
        return found.value

    def write(self, index: int, values: np.ndarray) -> None:
        """The `index`th input's bytes (its element type and shape already)."""
        lib, buffer = self._lib, self._inputs[index]
        size = ctypes.c_size_t()
        _call(lib, "LiteRtGetTensorBufferPackedSize", buffer, ctypes.byref(size))
        values = np.ascontiguousarray(values)
        if values.nbytes != size.value:
            raise EdgekitError(f"input {self.input_names[index]} takes {size.value} bytes, not {values.nbytes} "
                               f"({values.dtype} {values.shape})")
        address = ctypes.c_void_p()
        _call(lib, "LiteRtLockTensorBuffer", buffer, ctypes.byref(address), _LOCK_WRITE)
        try:
            ctypes.memmove(address, values.ctypes.data, values.nbytes)
        finally:
            _call(lib, "LiteRtUnlockTensorBuffer", buffer)

    def run(self) -> None:
        inputs = (ctypes.c_void_p * max(len(self._inputs), 1))(*self._inputs)
        outputs = (ctypes.c_void_p * max(len(self._outputs), 1))(*self._outputs)
        _call(self._lib, "LiteRtRunCompiledModel", self._compiled, 0, len(self._inputs), inputs,
              len(self._outputs), outputs)

    def start(self) -> None:
        """Record from now on (starting clears what was recorded)."""
        _call(self._lib, "LiteRtStartProfiler", self._profiler)

    def stop(self) -> None:
        _call(self._lib, "LiteRtStopProfiler", self._profiler)

    def events(self) -> list[dict]:
        """What the profiler recorded, in order: tag, type, source, start and elapsed µs, and the
        two metadata words (an operator event's first is its node index)."""
        count = ctypes.c_int()
        _call(self._lib, "LiteRtGetNumProfilerEvents", self._profiler, ctypes.byref(count))
        if count.value == 0:
            return []
        raw = (_ProfiledEventData * count.value)()
        _call(self._lib, "LiteRtGetProfilerEvents", self._profiler, count.value, raw)
        return [{"tag": (e.tag or b"").decode(errors="replace"),
                 "type": EVENT_TYPES.get(e.event_type, str(e.event_type)),
                 "source": EVENT_SOURCES.get(e.event_source, str(e.event_source)),
                 "start_us": e.start_timestamp_us, "us": e.elapsed_time_us,
                 "metadata1": ctypes.c_int64(e.event_metadata1).value,
                 "metadata2": ctypes.c_int64(e.event_metadata2).value} for e in raw]

    def close(self) -> None:
        lib = self._lib
        for buffer in self._inputs + self._outputs:
            lib.LiteRtDestroyTensorBuffer(buffer)
        self._inputs, self._outputs = [], []
        if self._compiled:
            lib.LiteRtDestroyCompiledModel(self._compiled)  # and its profiler
        if self._options:
            lib.LiteRtDestroyOptions(self._options)
        if self._model:
            lib.LiteRtDestroyModel(self._model)
        if self._env:
            lib.LiteRtDestroyEnvironment(self._env)
        self._env = self._model = self._options = self._compiled = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# what LiteRT itself times around the interpreter each run (compiled_model.cc): the fixed cost of a
# CompiledModel run that no op carries
_RUN_EVENTS = ("LiteRT::Run[buffer registration]", "Invoke", "LiteRT::Run[Buffer sync]")
_OP_EVENTS = ("operator", "delegate_operator", "delegate_profiled_operator")
_XNNPACK_TAG = re.compile(r"\((N\w*)(, \w+)*\)")  # XNNPACK names its operators "Convolution (NHWC, F32) IGEMM"
ACCELERATOR_NAMES = {"cpu": "XNNPACK", "gpu": "GPU", "npu": "NPU"}
# a partition whose delegate times no ops of its own is timed as its one node: "DELEGATE" (the dispatch),
# else the delegate's kernel name ("TfLiteGpuDelegateV2"); tflite/core/subgraph.cc, GetTFLiteOpName
_DELEGATE_NODE = re.compile(r"^DELEGATE$|Delegate")
def compiled_profile(events: list[dict], runs: int, accelerator: str = "cpu") -> dict:
    """The per-op profile (base.PROFILE_METHODS' dict) of `runs` CompiledModel runs from their
    profiler `events` (ProfiledModel.events). An interpreter op event carries its TFLite node index;
    a delegate's op event carries the delegate's own operator index, restarting in each partition
    (XNNPACK's operators are its own: a TFLite op may be several of them, or fused into one), so a
    delegate's op is named by its partition and index there."""
    per_run = _split_runs(events)
    if len(per_run) != runs:
        raise ValueError(f"LiteRT's profiler recorded {len(per_run)} runs, not {runs}")
    first = per_run[0]
    if any([_key(e) for e in run] != [_key(e) for e in first] for run in per_run):
        raise ValueError("LiteRT's profiler recorded other ops in another run")
    kept = _uninterrupted(per_run)
    asked = ACCELERATOR_NAMES[accelerator]
    ops, left, partitions, previous = [], [], {}, None  # partitions: how many each delegate ran
    for position, event in enumerate(first):
        if event["type"] not in _OP_EVENTS:
            continue
        us = sum(run[position]["us"] for run in kept) / len(kept)
        if event["type"] == "operator" and _DELEGATE_NODE.search(event["tag"]):  # a partition timed as one node
            partitions[asked] = partitions.get(asked, 0) + 1
            index, executor = event["metadata1"], f"{asked} partition {partitions[asked] - 1}"
            name = f"{executor} (node {index})"
        elif event["type"] == "operator":  # the interpreter ran it with its builtin kernel
            index, executor, name = event["metadata1"], "builtin", f"node {event['metadata1']}"
            left.append({"index": index, "name": name, "type": event["tag"],
                         "reason": f"{asked} did not take it: LiteRT ran it with its builtin kernel"})
        else:
            kind = "XNNPACK" if _XNNPACK_TAG.search(event["tag"]) else asked
            if previous is None or previous[0] != kind or event["metadata1"] <= previous[1]:
                partitions[kind] = partitions.get(kind, 0) + 1
            index, partition = event["metadata1"], partitions[kind] - 1
            executor, name = f"{kind} partition {partition}", f"{kind} partition {partition} op {index}"
            if kind != asked:
                left.append({"index": index, "name": name, "type": event["tag"],
                             "reason": f"{asked} did not take it: XNNPACK ran it on the CPU"})
        ops.append({"index": index, "name": name, "type": event["tag"], "executor": executor, "us": us})
        previous = (executor.split()[0], index)
    outside = sum(e["us"] for run in kept for e in run if e["type"] not in _OP_EVENTS) / len(kept) \
        - sum(op["us"] for op in ops)
    left_out = f", {runs - len(kept)} interrupted runs left out" if len(kept) < runs else ""
    return {"method": "profiler", "runs": len(kept), "ops": ops, "partitions": partitions.get(asked, 0),
            "fully_delegated": not left, "left_on_cpu": left,
            "note": f"LiteRT's CompiledModel profiler (µs resolution{left_out}); with it on, a run also spends "
                    f"{outside:.0f} µs outside the ops (buffer registration and sync, the interpreter's invoke)"}


def _key(event: dict) -> tuple:
    return event["type"], event["tag"], event["metadata1"]


def _uninterrupted(per_run: list[list[dict]]) -> list[list[dict]]:
    """The runs whose ops took no more than 1.5 times the median run's: on a busy machine a run the
    OS interrupted would make a mean no op ever takes (a latency's p50 leaves them out too)."""
    totals = [sum(e["us"] for e in run if e["type"] in _OP_EVENTS) for run in per_run]
    limit = 1.5 * float(np.median(totals)) + 2  # + 2 µs: the resolution, for a model of few µs
    return [run for run, total in zip(per_run, totals) if total <= limit]


def _split_runs(events: list[dict]) -> list[list[dict]]:
    """The op and run events of each run: a run begins at LiteRT's buffer registration."""
    runs: list[list[dict]] = []
    for event in events:
        if event["tag"] == _RUN_EVENTS[0] and event["type"] == "default":
            runs.append([])
        if runs and (event["type"] in _OP_EVENTS or (event["tag"] in _RUN_EVENTS and event["type"] == "default")):
            runs[-1].append(event)
    return runs
