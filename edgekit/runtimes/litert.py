"""The LiteRT interpreter (`ai_edge_litert`), which runs `.tflite` files.

XNNPACK is on by default; `kernels="builtin"` turns it off and `kernels="reference"` selects
the reference kernels (DESIGN pitfall 6).
"""

from __future__ import annotations

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

    def _open_impl(self, path: Path, threads: int | None = None, kernels: str = "xnnpack") -> Session:
        return LiteRTSession(path, threads, kernels)


class LiteRTSession(Session):
    def __init__(self, path: Path, threads: int | None, kernels: str):
        from ai_edge_litert import interpreter as litert

        if kernels not in KERNELS:
            raise EdgekitError(f"litert kernels {kernels!r} is not one of {', '.join(KERNELS)}")
        resolver = {
            "xnnpack": litert.OpResolverType.AUTO,
            "builtin": litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
            "reference": litert.OpResolverType.BUILTIN_REF,
        }[kernels]
        try:
            with quiet_stderr(replay_on_error=False):  # "Created XNNPACK delegate" and the like
                self._interp = litert.Interpreter(
                    model_path=str(path), num_threads=threads, experimental_op_resolver_type=resolver
                )
                self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise EdgekitError(f"LiteRT cannot load {path}: {first_line(exc)}") from None
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
        self.inputs = [_spec(n, d) for n, d in zip(in_names, in_details)]
        self.outputs = [_spec(n, d) for n, d in zip(out_names, out_details)]
        self._in_index = [d["index"] for d in in_details]
        self._out_index = [d["index"] for d in out_details]
        self.max_batch = 1 if all(s.shape[0] == 1 for s in self.inputs) else None
        self.threads, self.kernels = threads, kernels

    def _prepare_impl(self, feeds):
        return [np.ascontiguousarray(quantize(feeds[s.name], s)) for s in self.inputs]

    def _invoke_impl(self, prepared):
        for index, value in zip(self._in_index, prepared):
            self._interp.set_tensor(index, value)
        self._interp.invoke()
        return [self._interp.get_tensor(i) for i in self._out_index]

    def _finish_impl(self, raw):
        return {s.name: dequantize(v, s) for s, v in zip(self.outputs, raw)}


def _spec(name: str, detail: dict) -> TensorSpec:
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
