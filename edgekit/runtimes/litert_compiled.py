"""LiteRT's CompiledModel API, which runs `.tflite` files on the accelerators LiteRT registers:
CPU (XNNPACK), GPU (with CPU fallback for the ops the GPU does not take) and NPU (through a
vendor's dispatch library, with CPU fallback). On Linux this, not an interpreter delegate, is
LiteRT's GPU and NPU path (docs/DESIGN.md, pitfall 6). Each session says whether the accelerator took
the whole model.
"""

from __future__ import annotations

import functools
import re
import time
from pathlib import Path

import numpy as np

from edgekit.core.artifacts import TensorSpec
from edgekit.core.errors import BackendUnavailable, EdgekitError
from edgekit.core.lazy_imports import quiet_stderr, silence_stderr_at_exit
from edgekit.models.inspection import tflite_io
from edgekit.runtimes.base import Runtime, Session, dequantize, quantize
from edgekit.runtimes.litert_guard import check_model
from edgekit.runtimes.litert_profiler import ProfiledModel, compiled_profile, intel_openvino_options
from edgekit.runtimes.messages import explain, with_detail
from edgekit.runtimes.openvino_profile import profile_openvino

ACCELERATORS = ("cpu", "gpu", "npu")


class LiteRTCompiledRuntime(Runtime):
    name = "litert-compiled"
    formats = ("tflite",)

    def _available_impl(self) -> str:
        try:
            from ai_edge_litert import compiled_model  # noqa: F401
        except ImportError as exc:
            raise BackendUnavailable(f"ai_edge_litert has no CompiledModel API ({exc})") from None
        from importlib.metadata import version

        return f"ai-edge-litert {version('ai-edge-litert')}"

    def _check_target_impl(self, accelerator: str = "cpu", threads: int | None = None,
                           dispatch_library: str | None = None, npu_backend: str = "npu") -> None:
        if accelerator not in ACCELERATORS:
            raise EdgekitError(f"litert-compiled accelerator {accelerator!r} is not one of "
                               f"{', '.join(ACCELERATORS)}")
        if npu_backend not in NPU_BACKENDS:
            raise EdgekitError(f"--npu-backend {npu_backend!r} is not one of {', '.join(NPU_BACKENDS)}")
        if accelerator == "npu" and not (dispatch_library or intel_dispatch()):
            raise BackendUnavailable("the NPU needs its vendor's dispatch library: give --dispatch-library PATH "
                                     "(a libLiteRtDispatch_*.so), or pip install -e \".[npu]\" for Intel "
                                     "OpenVINO's, which LiteRT's wheel carries")
        if dispatch_library and not Path(dispatch_library).exists():
            raise BackendUnavailable(f"dispatch library {dispatch_library} does not exist")

    def _open_impl(self, path: Path, accelerator: str = "cpu", threads: int | None = None,
                   dispatch_library: str | None = None, npu_backend: str = "npu") -> Session:
        if accelerator == "npu" and not dispatch_library:
            dispatch_library = str(intel_dispatch())
        return CompiledSession(path, accelerator, threads, dispatch_library, npu_backend)

    def _profile_impl(self, path: Path, feed: dict[str, np.ndarray], runs: int, accelerator: str = "cpu",
                      threads: int | None = None, dispatch_library: str | None = None,
                      npu_backend: str = "npu") -> dict:
        if accelerator == "npu" and _is_intel(dispatch_library):
            # LiteRT's profiler times a dispatch partition as one node: where it runs is LiteRT's to say,
            # what runs inside it OpenVINO's
            if npu_backend.upper() not in _openvino_devices():
                raise BackendUnavailable(f"Intel OpenVINO has no {npu_backend.upper()} device here (it sees "
                                         f"{', '.join(_openvino_devices())})")
            placement = _profile_compiled(path, feed, runs, "npu", threads, dispatch_library or str(intel_dispatch()),
                                          npu_backend)
            if not placement["partitions"]:
                raise BackendUnavailable(f"LiteRT ran {path.name} on XNNPACK, not through Intel OpenVINO's dispatch "
                                         f"({npu_backend.upper()} backend)")
            return profile_openvino(path, feed, runs, npu_backend, placement,
                                    _plain_median(path, feed, runs, threads, dispatch_library, npu_backend))
        return _profile_compiled(path, feed, runs, accelerator, threads, dispatch_library)


class CompiledSession(Session):
    def __init__(self, path: Path, accelerator: str, threads: int | None, dispatch_library: str | None,
                 npu_backend: str = "npu"):
        from ai_edge_litert.compiled_model import CompiledModel, CpuOptions, HardwareAccelerator, Options

        # what would crash LiteRT, refused before it (on the CPU, what its kernels would refuse: an
        # NPU or GPU may take custom ops that they do not know)
        check_model(path, builtin_kernels=accelerator == "cpu")
        flags = {"cpu": HardwareAccelerator.CPU,
                 "gpu": HardwareAccelerator.GPU | HardwareAccelerator.CPU,
                 "npu": HardwareAccelerator.NPU | HardwareAccelerator.CPU}[accelerator]
        dispatch = Path(dispatch_library) if dispatch_library else None
        if dispatch is not None and dispatch.is_file():  # LiteRT takes the folder that holds it
            dispatch = dispatch.parent
        self.path, self.accelerator, self.threads = path, accelerator, threads
        self.intel = accelerator == "npu" and dispatch is not None and (dispatch / INTEL_DISPATCH).is_file()
        extra = {}
        if self.intel and npu_backend.upper() not in _openvino_devices():
            raise BackendUnavailable(f"Intel OpenVINO has no {npu_backend.upper()} device here (it sees "
                                     f"{', '.join(_openvino_devices())}): --npu-backend cpu runs its dispatch on the CPU")
        if self.intel:  # which device OpenVINO compiles the partitions for: without it, an NPU that may not be there
            from ai_edge_litert.options import IntelOpenVinoGraphBackend, IntelOpenVinoOptions

            extra["intel_openvino_options"] = IntelOpenVinoOptions(
                graph_backend=IntelOpenVinoGraphBackend[npu_backend.upper()])
        self._model, self.dispatched_to, said = None, None, None
        with quiet_stderr(replay_on_error=False) as written:  # LiteRT logs every step at INFO
            try:
                self._model = CompiledModel.from_file(
                    str(path), environment=_environment(str(dispatch or "")),
                    options=Options(hardware_accelerators=flags, cpu_options=CpuOptions(num_threads=threads or 0),
                                    **extra))
                self._open_signature()
                # the first run sets LiteRT's runtime up and logs it: done here, where that is
                # hidden, so it counts as loading (cold start is the sum either way)
                self._model.run_by_name(self._key, self._in, self._out)
                failure = None
                if self.intel:  # the dispatch's own line is the proof it ran there, not XNNPACK
                    found = _OPENVINO_DEVICE.search(written())
                    self.dispatched_to = found.group(1) if found else None
                    failure = None if found else (
                        f"LiteRT ran {path.name} on XNNPACK, not through Intel OpenVINO's dispatch "
                        f"({npu_backend.upper()} backend): OpenVINO sees {', '.join(_openvino_devices())}")
                elif accelerator == "npu":
                    failure = _npu_missing(written(), str(dispatch))
            except (RuntimeError, ValueError) as exc:
                failure, said = explain("litert-compiled", _native_reason(written(), exc),
                                        f"to compile {path.name} for the {accelerator.upper()}")
                self._model = None
        if failure and not said:  # edgekit's own finding, not LiteRT's words
            failure = f"LiteRT's {accelerator.upper()} accelerator failed: {failure}"
        if failure and accelerator == "cpu":  # CPU always exists: the model is what failed
            raise EdgekitError(failure, detail=said)
        if failure:
            raise BackendUnavailable(failure, detail=said)
        self.fully_accelerated = self._model.is_fully_accelerated()

    def _open_signature(self):
        signatures = self._model.get_signature_list()
        if not signatures:
            raise EdgekitError(f"{self.path} has no signature, which LiteRT's CompiledModel needs")
        self._key = next(iter(signatures))
        self._in_names = list(signatures[self._key]["inputs"])
        self._out_names = list(signatures[self._key]["outputs"])
        details = self._model.get_input_tensor_details(self._key)
        self._in_shapes = [[int(d) for d in details[n]["shape"]] for n in self._in_names]
        self.batch = self._in_shapes[0][0] if self._in_shapes and self._in_shapes[0] else None  # a scalar: none
        self._make_buffers()

    @functools.cached_property
    def _specs(self):
        """Quantization parameters, which the CompiledModel API does not expose: from the file."""
        info = tflite_io(self.path)  # the first signature's tensors, as CompiledModel runs
        return ([TensorSpec.from_dict(t) for t in info["inputs"]],
                [TensorSpec.from_dict(t) for t in info["outputs"]])

    @property
    def inputs(self):
        return self._specs[0]

    @property
    def outputs(self):
        return self._specs[1]

    def _make_buffers(self):
        self._in = {n: self._model.create_input_buffer_by_name(self._key, n) for n in self._in_names}
        self._out = {n: self._model.create_output_buffer_by_name(self._key, n) for n in self._out_names}
        details = self._model.get_output_tensor_details(self._key)
        self._out_shapes = {n: [int(d) for d in details[n]["shape"]] for n in self._out_names}

    def _prepare_impl(self, feeds):
        return {s.name: np.ascontiguousarray(quantize(feeds[s.name], s)) for s in self.inputs}

    def _bind_impl(self, prepared):
        for name, buffer in self._in.items():
            buffer.write(prepared[name])

    def _invoke_impl(self):
        self._model.run_by_name(self._key, self._in, self._out)

    def _fetch_impl(self):
        dtypes = {s.name: np.dtype(s.dtype) for s in self.outputs}
        return {n: self._out[n].read(int(np.prod(self._out_shapes[n])), dtypes[n]).reshape(self._out_shapes[n])
                for n in self._out_names}

    def _finish_impl(self, raw):
        return {s.name: dequantize(raw[s.name], s) for s in self.outputs}

    def _resize_impl(self, batch: int) -> str | None:
        if self.accelerator == "npu":  # its partitions were compiled at this batch: resized, the outputs keep it
            return f"the NPU's partitions are compiled for batch {self.batch}"
        if any(s.shape and s.shape[0] is not None for s in self.inputs):
            return f"the model's inputs have a fixed batch size of {self.batch}"
        try:
            self._reshape(batch)
        except (RuntimeError, ValueError) as exc:
            _, said = explain("litert-compiled", exc)
            self._reshape(self.batch)  # back to the shapes that ran
            return with_detail(f"LiteRT's CompiledModel could not be resized to batch {batch} (LiteRT refused "
                               "the new shape: an op in the model may keep a fixed batch)", said)
        self.batch = batch
        return None

    def _reshape(self, batch: int) -> None:
        for index, shape in enumerate(self._in_shapes):
            self._model.resize_input_tensor(index, [batch, *shape[1:]])
        self._make_buffers()  # where LiteRT allocates for the new shapes, and can refuse them

    def details(self) -> dict:
        found = {"accelerator": self.accelerator, "threads": self.threads,
                 "fully_accelerated": self.fully_accelerated}
        if self.dispatched_to:
            found.update(dispatch=f"Intel OpenVINO dispatch, {self.dispatched_to} backend",
                         dispatch_library_loaded=_mapped(INTEL_DISPATCH),
                         precision=_openvino_precision(self.dispatched_to))
        return found

    def close(self):
        self._in = self._out = None
        if self._model is not None:
            self._model.close()
        self._model = None


INTEL_DISPATCH = "libLiteRtDispatch_IntelOpenvino.so"
NPU_BACKENDS = ("npu", "gpu", "cpu")  # the device Intel OpenVINO's dispatch compiles partitions for
_OPENVINO_DEVICE = re.compile(r"Using Intel OpenVINO device: (\w+)")


@functools.cache
def intel_dispatch() -> Path | None:
    """The folder of Intel OpenVINO's dispatch library in LiteRT's wheel, when the `openvino` it
    links against is installed (the [npu] extra); else None."""
    import importlib.util

    if importlib.util.find_spec("ai_edge_litert") is None or importlib.util.find_spec("openvino") is None:
        return None
    folder = Path(importlib.util.find_spec("ai_edge_litert").origin).parent / "vendors" / "intel_openvino" / "dispatch"
    return folder if (folder / INTEL_DISPATCH).is_file() else None


def _plain_median(path: Path, feed: dict[str, np.ndarray], runs: int, threads: int | None,
                  dispatch_library: str | None, npu_backend: str) -> float:
    """The median µs of `runs` plain (unprofiled) runs through Intel OpenVINO's dispatch."""
    with CompiledSession(path, "npu", threads, dispatch_library or str(intel_dispatch()), npu_backend) as session:
        session.bind(session.prepare(feed))
        session.invoke()
        spent = []
        for _ in range(runs):
            started = time.perf_counter()
            session.invoke()
            spent.append((time.perf_counter() - started) * 1e6)
    return float(np.median(spent))


def _is_intel(dispatch_library: str | None) -> bool:
    """Whether the NPU runs through Intel OpenVINO's dispatch: the wheel's, or one given by path."""
    if not dispatch_library:
        return intel_dispatch() is not None
    folder = Path(dispatch_library)
    return (folder.parent if folder.is_file() else folder).joinpath(INTEL_DISPATCH).is_file()


def _profile_compiled(path: Path, feed: dict[str, np.ndarray], runs: int, accelerator: str, threads: int | None,
                      dispatch_library: str | None, intel_backend: str | None = None) -> dict:
    """LiteRT's own profiler over `runs` runs of a CompiledModel made for it (created with the
    runtime option that turns the profiler on, which the Python API cannot set). `intel_backend`:
    the device Intel OpenVINO's dispatch compiles its partitions for."""
    check_model(path, builtin_kernels=accelerator == "cpu")
    specs = {t["name"]: TensorSpec.from_dict(t) for t in tflite_io(path)["inputs"]}
    dispatch = Path(dispatch_library) if dispatch_library else None
    if dispatch is not None and dispatch.is_file():
        dispatch = dispatch.parent
    if accelerator == "npu" and not (dispatch and any(dispatch.glob("libLiteRtDispatch*.so"))):
        # LiteRT's C library registers its NPU without one, and runs the whole model on the CPU
        raise BackendUnavailable(f"LiteRT's NPU accelerator failed: no dispatch library (libLiteRtDispatch_*.so) "
                                 f"in {dispatch}")
    plugins, vendor = None, {}
    if intel_backend:  # the wheel's Intel compiler plugin sits beside its dispatch library
        plugins = str(dispatch.parent / "compiler")
        vendor = intel_openvino_options(intel_backend)
    with quiet_stderr(replay_on_error=False) as written:
        try:
            with ProfiledModel(path, accelerator, threads, str(dispatch) if dispatch else None, plugins,
                               vendor) as model:
                for index, name in enumerate(model.input_names):
                    if name not in feed:
                        raise EdgekitError(f"feed lacks input {name}")
                    model.write(index, quantize(feed[name], specs[name]))
                model.run()  # the first run registers the buffers: not a run like the others
                events = []
                for _ in range(runs):  # read after each run: LiteRT's event buffer wraps around when full
                    model.start()
                    model.run()
                    model.stop()
                    events += model.events()
        except RuntimeError as exc:
            reason, said = explain("litert-compiled", _native_reason(written(), exc),
                                   f"to profile {path.name} on the {accelerator.upper()}")
            raise (EdgekitError if accelerator == "cpu" else BackendUnavailable)(reason, detail=said) from None
    return compiled_profile(events, runs, accelerator)


def _mapped(library: str) -> bool | None:
    """Whether this process has `library` loaded (None where /proc cannot say)."""
    try:
        return library in Path("/proc/self/maps").read_text()
    except OSError:
        return None


def _openvino_devices() -> list[str]:
    import openvino

    return openvino.Core().available_devices


def _openvino_precision(device: str) -> str:
    """The precision OpenVINO computes float ops in on `device` (bf16 on CPUs with AVX512_BF16 or
    AMX, whatever the file's float32 says)."""
    import openvino

    hint = str(openvino.Core().get_property(device, "INFERENCE_PRECISION_HINT"))  # "<Type: 'float32'>"
    name = hint.split("'")[1] if "'" in hint else hint
    # OpenVINO names a type by its short name on some CPUs (f32) and its long one on others (float32)
    return {"bf16": "bfloat16", "f16": "float16", "f32": "float32"}.get(name, name)


@functools.cache
def _environment(dispatch_library_dir: str):
    """One LiteRT environment per dispatch library, shared by every session and kept to the end:
    it registers the accelerators, and logs each one as it is created and destroyed."""
    import ai_edge_litert
    from ai_edge_litert.compiled_model import Environment, EnvironmentOptions

    with quiet_stderr(replay_on_error=False):
        environment = Environment.create(options=EnvironmentOptions(
            runtime_path=str(Path(ai_edge_litert.__file__).parent), dispatch_library_path=dispatch_library_dir))
    silence_stderr_at_exit()
    return environment


_NPU_MISSING: dict[str, str] = {}  # dispatch folder -> why no NPU registered from it


def _npu_missing(log: str, dispatch: str) -> str | None:
    """LiteRT runs everything on the CPU, without a word, when no NPU registers: its log says so,
    once per process, so the answer is kept for the sessions after."""
    lines = [line for line in log.splitlines() if "NPU accelerator could not be loaded" in line]
    if lines:
        _NPU_MISSING[dispatch] = re.sub(r"^\w+: \[[^\]]*\]\s*", "", lines[0]).strip() + \
            f" (from the dispatch library folder {dispatch})"
    return _NPU_MISSING.get(dispatch)


def _native_reason(log: str, exc: BaseException) -> str:
    """LiteRT raises with a bare source location and logs the reason: find the reason (the
    first error line that says more than where it was raised), and any library it lacked."""
    errors, missing = [], []
    for line in log.splitlines():
        text = re.sub(r"^(ERROR|E\d{4} [\d:.]+\s+\d+ \S+)\]?:?\s*(\[[^\]]*\]\s*)?", "", line.strip())
        if line.startswith(("ERROR", "E0")) and text and "litert_compiled_model.h" not in line:
            errors.append(text)
        elif "cannot open shared object file" in line and "Couldn't load" in line:
            missing.append(line.split("Couldn't load", 1)[1].strip(" :"))
    reason = errors[0] if errors else str(exc)  # the whole chain: its cause comes last
    return (reason + (f" ({missing[0]})" if missing else ""))[:1000]
