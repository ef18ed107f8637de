"""The interface every runtime shares.

A `Runtime` says whether it can run here (and why not) and opens an artifact into a `Session`.
A `Session` runs a feed in three steps so a harness can time only the middle one:
`prepare` (check and quantize inputs), `invoke` (the runtime's own call), `finish` (dequantize).
Public methods check; `_impl` methods in each runtime do the work.
"""

from __future__ import annotations

import abc
import functools
from pathlib import Path

import numpy as np

from edgekit.artifacts import TensorSpec
from edgekit.errors import BackendUnavailable, EdgekitError


class Runtime(abc.ABC):
    name: str = ""
    formats: tuple[str, ...] = ()

    @functools.cache
    def available(self) -> tuple[bool, str]:
        """(True, detail) when this runtime can run here, else (False, the reason)."""
        try:
            return True, self._available_impl()
        except BackendUnavailable as exc:
            return False, str(exc)

    def open(self, path: str | Path, **options) -> Session:
        path = Path(path)
        ok, reason = self.available()
        if not ok:
            raise BackendUnavailable(f"{self.name}: {reason}")
        if path.suffix.lstrip(".") not in self.formats:
            raise EdgekitError(f"{self.name} cannot open {path}: it runs {', '.join(self.formats)} files")
        return self._open_impl(path, **options)

    @abc.abstractmethod
    def _available_impl(self) -> str: ...

    @abc.abstractmethod
    def _open_impl(self, path: Path, **options) -> Session: ...


class Session(abc.ABC):
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    max_batch: int | None = None  # None: any batch size in one call

    def prepare(self, feeds: dict[str, np.ndarray]):
        missing = [t.name for t in self.inputs if t.name not in feeds]
        if missing:
            raise EdgekitError(f"feed lacks input(s) {', '.join(missing)}")
        return self._prepare_impl(feeds)

    def invoke(self, prepared):
        return self._invoke_impl(prepared)

    def finish(self, raw) -> dict[str, np.ndarray]:
        return self._finish_impl(raw)

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self.finish(self.invoke(self.prepare(feeds)))

    def predict(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run a whole set of samples, in batches the session accepts, float outputs by name."""
        count = len(next(iter(feeds.values())))
        step = self.max_batch or count
        chunks = [self.run({k: v[i:i + step] for k, v in feeds.items()}) for i in range(0, count, step)]
        return {t.name: np.concatenate([c[t.name] for c in chunks]) for t in self.outputs}

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @abc.abstractmethod
    def _prepare_impl(self, feeds): ...

    @abc.abstractmethod
    def _invoke_impl(self, prepared): ...

    def _finish_impl(self, raw) -> dict[str, np.ndarray]:
        return raw


def quantize(values: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """Float values to the integer type of a per-tensor quantized input (round, then clip)."""
    if not spec.quantized:
        return values.astype(spec.dtype, copy=False)
    info = np.iinfo(spec.dtype)
    q = np.round(values / spec.scale[0]) + spec.zero_point[0]
    return np.clip(q, info.min, info.max).astype(spec.dtype)


def dequantize(values: np.ndarray, spec: TensorSpec) -> np.ndarray:
    if not spec.quantized:
        return values.astype(np.float32, copy=False)
    return ((values.astype(np.float32) - spec.zero_point[0]) * spec.scale[0]).astype(np.float32)
