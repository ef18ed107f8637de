"""The LiteRT interpreter (`ai_edge_litert`), which runs `.tflite` files.

XNNPACK is on by default; `kernels="builtin"` turns it off and `kernels="reference"` selects
the reference kernels (DESIGN pitfall 6). An external delegate (Edge TPU, Hexagon, a vendor's
library) is loaded from a path with its options; a library that will not load makes the
runtime unavailable for that run, with the loader's message.
"""

from __future__ import annotations

import math
import mmap
import os
import struct
import sys
from pathlib import Path

import numpy as np

from edgekit.artifacts import TensorSpec
from edgekit.errors import BackendUnavailable, EdgekitError, first_line
from edgekit.heavy import quiet_stderr
from edgekit.runtimes.base import Runtime, Session, dequantize, quantize

KERNELS = ("xnnpack", "builtin", "reference")


class LiteRTRuntime(Runtime):
    name = "litert"
    formats = ("tflite",)

    def _available_impl(self) -> str:
        try:
            from ai_edge_litert import interpreter  # noqa: F401
        except ImportError as exc:
            raise BackendUnavailable(f"ai_edge_litert is not installed ({exc})") from None
        from importlib.metadata import version

        return f"ai-edge-litert {version('ai-edge-litert')}"

    def _open_impl(self, path: Path, threads: int | None = None, kernels: str = "xnnpack",
                   delegate: str | None = None, delegate_options: dict | None = None) -> Session:
        return LiteRTSession(path, threads, kernels, delegate, delegate_options or {})


def load_delegate(library: str, options: dict):
    """The external delegate in `library`, or BackendUnavailable with the loader's reason.

    A delegate that fails to load is left half-made, and LiteRT's destructor then raises in the
    garbage collector, printing a traceback: that one report is dropped."""
    from ai_edge_litert import interpreter as litert

    previous_hook = sys.unraisablehook

    def hook(unraisable):
        if "Delegate.__del__" not in repr(unraisable.object):
            previous_hook(unraisable)

    sys.unraisablehook = hook
    try:
        with quiet_stderr(replay_on_error=False) as written:
            try:
                return litert.load_delegate(library, options)
            except (OSError, ValueError, RuntimeError) as exc:
                reason = first_line(exc) if str(exc).strip() else first_line(RuntimeError(written()))
        raise BackendUnavailable(f"delegate {library} did not load: {reason}")
    finally:
        sys.unraisablehook = previous_hook


_CHECKED: dict[tuple, bool] = {}  # file identity -> whether the builtin kernels checked it too


def check_model(path: Path, builtin_kernels: bool) -> None:
    """Refuse a .tflite that would crash LiteRT (`check_flatbuffer`, and with `builtin_kernels`,
    `check_with_builtin_kernels`). A file is checked once per process: artifacts are never
    changed in place, and a benchmark opens each file before it times an open, so the checks
    stay out of the measured load time."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if _CHECKED.get(key) is True or (key in _CHECKED and not builtin_kernels):
        return
    check_flatbuffer(path)
    if builtin_kernels:
        check_with_builtin_kernels(path)
    _CHECKED[key] = builtin_kernels or _CHECKED.get(key, False)


def check_flatbuffer(path: Path) -> None:
    """Refuse a .tflite that LiteRT's native loader would crash on instead of rejecting.

    LiteRT's flatbuffer verifier accepts a model whose `subgraphs` vector is absent, and a
    signature whose subgraph index is out of range; the Interpreter and CompiledModel then
    read through a null or out-of-range subgraph and the process dies with SIGSEGV (found by
    tests/unit/test_fuzz.py, ai-edge-litert 2.3). Quantization parameters that abort the
    kernels are refused too (`_quantization_problem`). Reads the tables through a memory map,
    never the weights: about a millisecond for a model of a few hundred ops."""
    from ai_edge_litert import schema_py_generated as schema

    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size < 8:
            raise EdgekitError(f"LiteRT cannot load {path}: it is {size} bytes, too short for a TFLite "
                               "flatbuffer: the file is damaged")
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            problem = _flatbuffer_problem(buf, schema)
    if problem:
        raise EdgekitError(f"LiteRT cannot load {path}: {problem}: the file is damaged")


def _flatbuffer_problem(buf, schema) -> str | None:
    try:
        if not schema.Model.ModelBufferHasIdentifier(buf, 0):
            return "it is not a TFLite flatbuffer (no TFL3 identifier)"
        model = schema.Model.GetRootAs(buf, 0)
        subgraphs = 0 if model.SubgraphsIsNone() else model.SubgraphsLength()
        if subgraphs == 0:
            return "it has no subgraphs"
        for i in range(model.SignatureDefsLength()):
            index = model.SignatureDefs(i).SubgraphIndex()
            if index >= subgraphs:
                return f"signature {i} runs subgraph {index}, but the model has {subgraphs}"
        return _quantization_problem(model, schema)
    except (struct.error, IndexError, ValueError, TypeError) as exc:  # offsets past the end
        return f"its flatbuffer is damaged ({first_line(exc)})"


def _quantization_problem(model, schema) -> str | None:
    """Quantization parameters that abort LiteRT's builtin kernels (a failed TFLITE_CHECK in
    QuantizeMultiplierSmallerThanOneExp: SIGABRT, found by tests/unit/test_fuzz.py) instead of
    failing to prepare: a quantized op's output without a scale, or with a scale that is not
    finite and positive, and an ADD or SUB whose output scale is so much smaller than its
    inputs' that the output multiplier is 1 or more. No converter writes such a file."""
    left_shift = {schema.TensorType.INT8: 20, schema.TensorType.UINT8: 20, schema.TensorType.INT16: 15}
    codes = [max(c.BuiltinCode(), c.DeprecatedBuiltinCode())
             for c in (model.OperatorCodes(i) for i in range(model.OperatorCodesLength()))]
    add_sub = {schema.BuiltinOperator.ADD, schema.BuiltinOperator.SUB}
    for g in range(model.SubgraphsLength()):
        graph = model.Subgraphs(g)
        count = graph.TensorsLength()

        def tensor_type(i):
            return graph.Tensors(i).Type() if 0 <= i < count else None

        def scale(i):  # the first scale of a quantized-type tensor; None when it has none
            q = graph.Tensors(i).Quantization()
            values = q.ScaleAsNumpy() if q is not None and not q.ScaleIsNone() else ()
            return float(values[0]) if len(values) else None

        for k in range(graph.OperatorsLength()):
            op = graph.Operators(k)
            ins = [int(i) for i in (op.InputsAsNumpy() if not op.InputsIsNone() else ())]
            outs = [int(i) for i in (op.OutputsAsNumpy() if not op.OutputsIsNone() else ())]
            quantized_in = any(tensor_type(i) in left_shift and scale(i) is not None for i in ins)
            for o in outs:
                if tensor_type(o) not in left_shift:
                    continue
                value = scale(o)
                if value is None and quantized_in:
                    return f"operator {k} has quantized inputs but its output tensor {o} has no scale"
                if value is not None and not (math.isfinite(value) and value > 0):
                    return f"tensor {o} has quantization scale {value}, which is not positive"
            code = codes[op.OpcodeIndex()] if op.OpcodeIndex() < len(codes) else None
            if code in add_sub and len(ins) >= 2 and outs and tensor_type(outs[0]) in left_shift:
                values = [scale(i) if 0 <= i < count else None for i in (ins[0], ins[1], outs[0])]
                if any(v is None or not (math.isfinite(v) and v > 0) for v in values):
                    return f"operator {k} adds quantized tensors without positive scales"
                if 2 * max(values[:2]) >= (1 << left_shift[tensor_type(outs[0])]) * values[2]:
                    return f"operator {k}'s output scale {values[2]} is too small for its inputs' scales"
    return None


def check_with_builtin_kernels(path: Path) -> None:
    """Refuse a .tflite whose nodes LiteRT's builtin kernels reject, before XNNPACK or an
    external delegate sees them.

    A delegate takes its nodes before the builtin kernels have checked them, and XNNPACK trusts
    what it takes: a node whose inputs do not fit its op (too few, a required one marked
    optional, another op's options) crashes its node visitors (SIGSEGV in
    VisitStridedSliceNode and VisitFullyConnectedNode, found by tests/unit/test_fuzz.py,
    ai-edge-litert 2.3). The builtin kernels check every node when tensors are allocated, so
    the model is allocated with them first: a fraction of XNNPACK's own load time."""
    from ai_edge_litert import interpreter as litert

    try:
        with quiet_stderr(replay_on_error=False):
            probe = litert.Interpreter(
                model_path=str(path), experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
            probe.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise EdgekitError(f"LiteRT cannot load {path}: {first_line(exc)}") from None
    del probe


class LiteRTSession(Session):
    def __init__(self, path: Path, threads: int | None, kernels: str, delegate: str | None,
                 delegate_options: dict):
        from ai_edge_litert import interpreter as litert

        if kernels not in KERNELS:
            raise EdgekitError(f"litert kernels {kernels!r} is not one of {', '.join(KERNELS)}")
        resolver = {
            "xnnpack": litert.OpResolverType.AUTO,
            "builtin": litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
            "reference": litert.OpResolverType.BUILTIN_REF,
        }[kernels]
        check_model(path, builtin_kernels=kernels == "xnnpack" or bool(delegate))
        delegates = [load_delegate(delegate, delegate_options)] if delegate else None
        try:
            with quiet_stderr(replay_on_error=False):  # "Created XNNPACK delegate" and the like
                self._interp = litert.Interpreter(
                    model_path=str(path), num_threads=threads, experimental_op_resolver_type=resolver,
                    experimental_delegates=delegates)
                self._interp.allocate_tensors()
            # a damaged file can load and still fail here: a tensor index out of range, a name
            # that is not UTF-8 (UnicodeDecodeError is a ValueError)
            signatures = self._interp.get_signature_list()
            if signatures:  # named as the source model names them
                key = next(iter(signatures))
                runner = self._interp.get_signature_runner(key)
                in_names, out_names = list(signatures[key]["inputs"]), list(signatures[key]["outputs"])
                in_details = [runner.get_input_details()[n] for n in in_names]
                out_details = [runner.get_output_details()[n] for n in out_names]
            else:
                in_details, out_details = self._interp.get_input_details(), self._interp.get_output_details()
                in_names = [d["name"] for d in in_details]
                out_names = [d["name"] for d in out_details]
        except UnicodeDecodeError:
            raise EdgekitError(f"LiteRT cannot load {path}: a name in it is not UTF-8 text: the file is damaged") from None
        except (ValueError, RuntimeError, KeyError) as exc:
            raise EdgekitError(f"LiteRT cannot load {path}: {first_line(exc)}") from None
        self.inputs = [tensor_spec(n, d) for n, d in zip(in_names, in_details)]
        self.outputs = [tensor_spec(n, d) for n, d in zip(out_names, out_details)]
        self._in_index = [d["index"] for d in in_details]
        self._out_index = [d["index"] for d in out_details]
        # the converter writes batch 1 with a free batch in the signature: resizable
        self._free_batch = all(len(d.get("shape_signature", ())) and d["shape_signature"][0] == -1
                               for d in in_details)
        self.batch = self.inputs[0].shape[0] if self.inputs and self.inputs[0].shape else None
        self.threads, self.kernels, self.delegate = threads, kernels, delegate
        self.delegate_options = delegate_options

    def _prepare_impl(self, feeds):
        return [np.ascontiguousarray(quantize(feeds[s.name], s)) for s in self.inputs]

    def _bind_impl(self, prepared):
        # recurrent ops (UNIDIRECTIONAL_SEQUENCE_LSTM) keep their state in variable tensors
        # across invocations; each feed is a new sequence, as in the Keras model
        self._interp.reset_all_variables()
        for index, value in zip(self._in_index, prepared):
            self._interp.set_tensor(index, value)

    def _invoke_impl(self):
        self._interp.invoke()

    def _fetch_impl(self):
        return [self._interp.get_tensor(i) for i in self._out_index]

    def _finish_impl(self, raw):
        return {s.name: dequantize(v, s) for s, v in zip(self.outputs, raw)}

    def _resize_impl(self, batch: int) -> str | None:
        if not self._free_batch:
            return "the model's inputs have a fixed batch size"
        for index, spec in zip(self._in_index, self.inputs):
            self._interp.resize_tensor_input(index, [batch, *spec.shape[1:]])
        try:
            self._interp.allocate_tensors()
        except RuntimeError as exc:
            return first_line(exc)
        self.batch = batch
        return None

    def details(self) -> dict:
        found = {"threads": self.threads, "kernels": self.kernels}
        if self.delegate:
            found.update(delegate=self.delegate, delegate_options=self.delegate_options)
        return found


def tensor_spec(name: str, detail: dict) -> TensorSpec:
    params = detail.get("quantization_parameters", {})
    scales = tuple(float(s) for s in params.get("scales", ()))
    return TensorSpec(
        name=name,
        dtype=np.dtype(detail["dtype"]).name,
        shape=tuple(int(d) for d in detail["shape"]),
        scale=scales,
        zero_point=tuple(int(z) for z in params.get("zero_points", ())),
        quantized_dimension=int(params.get("quantized_dimension", 0)) if len(scales) > 1 else None,
    )
