"""onnxruntime, which runs `.onnx` files on the execution providers it lists.

onnxruntime falls back from a requested provider to CPU without a word; the session's actual
providers are checked so a fall-back is reported, not hidden.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np

from edgekit.core.artifacts import TensorSpec
from edgekit.core.errors import BackendUnavailable, EdgekitError, first_line
from edgekit.data import shapes
from edgekit.runtimes.base import Runtime, Session

ORT_TYPES = {
    "tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
    "tensor(int8)": "int8", "tensor(uint8)": "uint8", "tensor(int16)": "int16",
    "tensor(int32)": "int32", "tensor(int64)": "int64", "tensor(bool)": "bool",
}


class OnnxRuntime(Runtime):
    name = "onnxruntime"
    formats = ("onnx",)

    def _available_impl(self) -> str:
        try:
            import onnxruntime
        except ImportError as exc:
            raise BackendUnavailable(f"onnxruntime is not installed ({exc})") from None
        return f"onnxruntime {onnxruntime.__version__}: {', '.join(onnxruntime.get_available_providers())}"

    def providers(self) -> list[str]:
        import onnxruntime

        return onnxruntime.get_available_providers()

    def _check_target_impl(self, threads: int | None = None, provider: str = "CPUExecutionProvider") -> None:
        if provider not in self.providers():
            raise BackendUnavailable(f"onnxruntime here has no {provider} (it has {', '.join(self.providers())})")

    def _open_impl(self, path: Path, threads: int | None = None,
                   provider: str = "CPUExecutionProvider") -> Session:
        return OnnxSession(path, threads, provider)


class OnnxSession(Session):
    def __init__(self, path: Path, threads: int | None, provider: str):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        try:
            # when a provider fails, onnxruntime prints a banner to stdout and retries on the CPU
            with contextlib.redirect_stdout(io.StringIO()):
                self._session = onnxruntime.InferenceSession(str(path), options, providers=[provider])
        except UnicodeDecodeError:  # the message it raised names something in the file that is not UTF-8
            raise EdgekitError(f"onnxruntime cannot load {path}: a name in it is not UTF-8 text: "
                               "the file is damaged") from None
        except Exception as exc:  # onnxruntime raises its own unexported exception types
            raise EdgekitError(f"onnxruntime cannot load {path}: {_reason(exc)}") from None
        actual = self._session.get_providers()
        if actual[0] != provider:
            raise BackendUnavailable(f"onnxruntime fell back from {provider} to {actual[0]} for {path}")
        self.provider, self.threads = provider, threads
        try:
            self.inputs = [_spec(i) for i in self._session.get_inputs()]
            self.outputs = [_spec(o) for o in self._session.get_outputs()]
        except UnicodeDecodeError:  # a dimension or tensor name that is not UTF-8
            raise EdgekitError(f"onnxruntime cannot load {path}: a name in it is not UTF-8 text: "
                               "the file is damaged") from None

        whole = shapes.fed_whole(self.inputs)  # a state (2, N, 128) or a scalar has no batch axis
        fixed = {s.shape[0] for s in self.inputs if s.name not in whole and s.shape[0] is not None}
        self.batch = fixed.pop() if len(fixed) == 1 else None  # None: a free batch dimension
        self._feed, self._raw = None, None

    def _prepare_impl(self, feeds):
        return {s.name: np.ascontiguousarray(feeds[s.name], dtype=s.dtype) for s in self.inputs}

    def _bind_impl(self, prepared):
        self._feed = prepared

    def _invoke_impl(self):
        self._raw = self._session.run(None, self._feed)

    def _fetch_impl(self):
        return self._raw

    def _finish_impl(self, raw):
        return {s.name: np.asarray(v, dtype=np.float32) for s, v in zip(self.outputs, raw)}

    def _resize_impl(self, batch: int) -> str | None:
        return f"the model's inputs have a fixed batch size of {self.batch}"

    def details(self) -> dict:
        return {"threads": self.threads, "provider": self.provider,
                "providers": self._session.get_providers()}


def _spec(node) -> TensorSpec:
    if node.type not in ORT_TYPES:
        raise EdgekitError(f"onnxruntime: tensor {node.name!r} has unsupported type {node.type}")
    shape = tuple(d if isinstance(d, int) else None for d in node.shape)
    return TensorSpec(name=node.name, dtype=ORT_TYPES[node.type], shape=shape)


def _reason(exc: Exception) -> str:
    """onnxruntime's message without its status prefix, the path it repeats, or the C++ source
    location and signature it names before the reason."""
    text = first_line(exc, limit=2000)
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : (Load model from .*? failed:)?", "", text)
    text = re.sub(r"^/\S+\.(cc|h):\d+ [^(]*\([^)]*\) ", "", text)  # file:line Class::Method(args)
    return text.strip()[:300]
