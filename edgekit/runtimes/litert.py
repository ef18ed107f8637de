"""The LiteRT interpreter (`ai_edge_litert`), which runs `.tflite` files.

XNNPACK is on by default; `kernels="builtin"` turns it off and `kernels="reference"` selects
the reference kernels (docs/DESIGN.md, pitfall 6). An external delegate (Edge TPU, Hexagon, a vendor's
library) is loaded from a path with its options; a library that will not load makes the
runtime unavailable for that run, with the loader's message.
"""

from __future__ import annotations

import ctypes
import dataclasses
import sys
from pathlib import Path

import numpy as np

from edgekit.core.artifacts import TensorSpec
from edgekit.core.errors import BackendUnavailable, EdgekitError, first_line
from edgekit.core.lazy_imports import quiet_stderr
from edgekit.core.units import shape_text
from edgekit.runtimes import delegation
from edgekit.runtimes.base import Runtime, Session, dequantize, quantize
from edgekit.runtimes.isolated_ops import isolated_profile
from edgekit.runtimes.litert_guard import check_model
from edgekit.runtimes.messages import explain, with_detail

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

    def _profile_impl(self, path: Path, feed: dict[str, np.ndarray], runs: int, threads: int | None = None,
                      kernels: str = "xnnpack", delegate: str | None = None,
                      delegate_options: dict | None = None) -> dict:
        """No profiler is reachable from Python: each op is timed as a one-op model on the same
        kernels and delegate (runtimes/isolated_ops.py); where each node ran comes from the whole
        model's interpreter after delegation."""
        with self._open_impl(path, threads, kernels, delegate, delegate_options) as whole:
            placed = whole.placement()
        return isolated_profile(path, feed, runs, lambda one: self._open_impl(one, threads, kernels, delegate,
                                                                              delegate_options),
                                placed["executors"], placed)


def load_delegate(library: str, options: dict):
    """The external delegate in `library`, or BackendUnavailable with the loader's reason.

    A delegate that fails to load is left half-made, and LiteRT's destructor then raises in the
    garbage collector, printing a traceback: that one report is dropped."""
    from ai_edge_litert import interpreter as litert

    previous_hook = sys.unraisablehook

    def hook(unraisable):
        if "Delegate.__del__" not in repr(unraisable.object):
            previous_hook(unraisable)

    _check_exports_delegate(library)
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


def _check_exports_delegate(library: str) -> None:
    """A shared library that is not a delegate makes LiteRT raise AttributeError (and again in the
    half-made delegate's destructor): refuse it first. One that does not open is left to LiteRT,
    which says why in the loader's words."""
    try:
        handle = ctypes.CDLL(library)
    except OSError:
        return
    if not hasattr(handle, "tflite_plugin_create_delegate"):
        raise BackendUnavailable(f"delegate {library} did not load: it is not a TFLite delegate "
                                 "(it exports no tflite_plugin_create_delegate)")


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
            with quiet_stderr(replay_on_error=False) as written:  # "Created XNNPACK delegate" and the like
                self._interp = litert.Interpreter(
                    model_path=str(path), num_threads=threads, experimental_op_resolver_type=resolver,
                    experimental_delegates=delegates)
                # the given delegate is applied by now, XNNPACK in allocate_tensors (runtimes/delegation.py)
                self._given_nodes = self._interp._interpreter.NumNodes()
                self._interp.allocate_tensors()
                self._delegation_log = written()
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
            reason, said = explain("litert", exc, f"to load {path}")
            raise EdgekitError(reason, detail=said) from None
        self.inputs = [tensor_spec(n, d) for n, d in zip(in_names, in_details)]
        self.outputs = [tensor_spec(n, d) for n, d in zip(out_names, out_details)]
        self._in_index = [d["index"] for d in in_details]
        self._out_index = [d["index"] for d in out_details]
        # the converter writes batch 1 with a free batch in the signature: resizable
        self._free_batch = all(len(d.get("shape_signature", ())) and d["shape_signature"][0] == -1
                               for d in in_details)
        self._signatures = [tuple(int(x) for x in d.get("shape_signature", d["shape"])) for d in in_details]
        self._allocated = [tuple(s.shape) for s in self.inputs]  # what each input is sized for now
        self.batch = self.inputs[0].shape[0] if self.inputs and self.inputs[0].shape else None
        self.threads, self.kernels, self.delegate = threads, kernels, delegate
        self.delegate_options = delegate_options

    def _prepare_impl(self, feeds):
        return [np.ascontiguousarray(quantize(feeds[s.name], s)) for s in self.inputs]

    def _bind_impl(self, prepared):
        # recurrent ops (UNIDIRECTIONAL_SEQUENCE_LSTM) keep their state in variable tensors
        # across invocations; each feed is a new sequence, as in the Keras model
        self._interp.reset_all_variables()
        if any(v.shape != a for v, a in zip(prepared, self._allocated)):
            self._size_for([v.shape for v in prepared])
        for index, value in zip(self._in_index, prepared):
            self._interp.set_tensor(index, value)

    def _size_for(self, wanted: list[tuple]) -> None:
        """Size the inputs for a feed at other sizes in the dimensions the signature leaves free
        (--input-shape, or data, for a model with free H and W); a fixed one that differs is
        refused by name."""
        for i, (index, shape, signature) in enumerate(zip(self._in_index, wanted, self._signatures)):
            first = 1 if self._free_batch else 0  # a free batch is sized by _reshape
            fixed = zip(signature[first:], shape[first:])
            if len(shape) != len(signature) or any(s not in (-1, w) for s, w in fixed):
                raise EdgekitError(f"input {self.inputs[i].name} of this file takes {shape_text(self.inputs[i].shape)}, "
                                   f"the feed gives {shape_text((None, *shape[1:]))} per call: "
                                   "feed inputs of the file's shape")
            self._interp.resize_tensor_input(index, list(shape), strict=True)
        self._interp.allocate_tensors()
        self._allocated = [tuple(shape) for shape in wanted]

    def _invoke_impl(self):
        self._interp.invoke()

    def _fetch_impl(self):
        return [self._interp.get_tensor(i) for i in self._out_index]

    def _finish_impl(self, raw):
        return {s.name: dequantize(v, s) for s, v in zip(self.outputs, raw)}

    def _resize_impl(self, batch: int) -> str | None:
        if not self._free_batch:
            return "the model's inputs have a fixed batch size"
        try:
            self._reshape(batch)
        except RuntimeError as exc:
            _, said = explain("litert", exc)
            self._reshape(self.batch)  # back to the shapes that ran
            return with_detail(f"LiteRT could not be resized to batch {batch} (LiteRT refused the new shape: "
                               "an op in the model may keep a fixed batch)", said)
        self.batch = batch
        return None

    def _reshape(self, batch: int) -> None:
        for index, shape in zip(self._in_index, self._allocated):
            self._interp.resize_tensor_input(index, [batch, *shape[1:]])
        self._interp.allocate_tensors()
        self._allocated = [(batch, *shape[1:]) for shape in self._allocated]

    def declared_inputs(self) -> list[TensorSpec]:
        return [dataclasses.replace(s, shape=tuple(None if d < 0 else s.shape[i] for i, d in enumerate(signature)))
                for s, signature in zip(self.inputs, self._signatures)]

    def default_shapes(self) -> dict[str, tuple[int, ...]]:
        return {s.name: tuple(s.shape) for s, signature in zip(self.inputs, self._signatures) if -1 in signature[1:]}

    def placement(self) -> dict:
        """Where each node of the main graph runs in this session (delegation.placement)."""
        wrapper = self._interp._interpreter
        nodes = wrapper.NumNodes()
        original = nodes
        while original and wrapper.NodeName(original - 1) == "DELEGATE":  # one per partition, after the graph's
            original -= 1
        return delegation.placement(wrapper, original, self._given_nodes, Path(self.delegate).name if self.delegate
                                    else None, self.kernels, self._delegation_log)

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
