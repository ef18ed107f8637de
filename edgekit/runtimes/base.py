"""The interface every runtime shares.

A `Runtime` says whether it can run here (and why not) and opens an artifact into a `Session`.
A `Session` runs a feed in steps so that a harness can time the runtime's own call alone.
Public methods check; `_impl` methods in each runtime do the work.
"""

from __future__ import annotations

import abc
import functools
import time
from pathlib import Path

import numpy as np

from edgekit.core import interrupts
from edgekit.core.artifacts import TensorSpec
from edgekit.core.errors import BackendUnavailable, EdgekitError
from edgekit.data import shapes
from edgekit.models.loading import predict_batch


class Runtime(abc.ABC):
    name: str = ""
    formats: tuple[str, ...] = ()

    @functools.cache
    def available(self) -> tuple[bool, str]:
        """(True, detail) when this runtime can run here, else (False, the reason)."""
        try:
            return True, self._available_impl()
        except BackendUnavailable as exc:
            interrupts.check()  # an interrupt during a backend's import surfaces as ImportError
            return False, str(exc)

    def check_target(self, **options) -> None:
        """BackendUnavailable when these options cannot run here, as far as that is known without
        opening a model (a missing provider or library): no native model code runs."""
        ok, reason = self.available()
        if not ok:
            raise BackendUnavailable(f"{self.name}: {reason}")
        self._check_target_impl(**options)

    def open(self, path: str | Path, **options) -> Session:
        path = Path(path)
        self.check_target(**options)
        if not self.takes(path):
            raise EdgekitError(f"{self.name} cannot open {path}: it runs {', '.join(self.formats)} files")
        return self._open_impl(path, **options)

    def profile(self, path: str | Path, feed: dict[str, np.ndarray], runs: int, **options) -> dict:
        """Where the time of one call goes: `feed` (one batch-1 sample, by input name) run `runs`
        times in a session of its own, never the one latency is timed in (a profiler costs time).
        Returns a PROFILE dict (below); BackendUnavailable when this runtime or target has no
        per-op profile here, with the reason."""
        path = Path(path)
        self.check_target(**options)
        if not self.takes(path):
            raise EdgekitError(f"{self.name} cannot open {path}: it runs {', '.join(self.formats)} files")
        if runs < 1:
            raise EdgekitError(f"a profile needs at least 1 run, not {runs}")
        found = self._profile_impl(path, feed, runs, **options)
        check_profile(found)
        return found

    def _profile_impl(self, path: Path, feed: dict[str, np.ndarray], runs: int, **options) -> dict:
        raise BackendUnavailable(f"{self.name} has no per-op profile")

    def takes(self, path: Path) -> bool:
        """Whether `path` is a file of a format this runtime runs (by its suffix unless said otherwise)."""
        return path.suffix.lstrip(".") in self.formats

    @abc.abstractmethod
    def _available_impl(self) -> str: ...

    @abc.abstractmethod
    def _open_impl(self, path: Path, **options) -> Session: ...

    def _check_target_impl(self, **options) -> None:
        pass


# What Runtime.profile returns (results.json keeps it as a record's "profile"):
#   method          "profiler" (the runtime's own per-node timer) or "isolated" (each op timed as
#                   a one-op model of its own: no fusion or cache effects)
#   runs            how many calls the per-op figures are over
#   ops             in execution order: {"index": node id, "name", "type": op type as the runtime
#                   runs it, "executor": what ran it ("XNNPACK partition 0", "builtin",
#                   "CPUExecutionProvider", "OpenVINO CPU jit_avx2_FP32"...), "us": median µs a call
#                   (a median: one call the OS paused would move a mean far from the p50 beside it)}
#   partitions      accelerator/delegate partitions (0: none took any op); None: not known
#   fully_delegated whether one accelerator took every op; None where no accelerator is asked for
#   left_on_cpu     ops the asked-for accelerator did not take: {"index", "name", "type", "reason"}
#   note            optional: what the figures are not (e.g. "host time, not MCU cycles")
#   not_timed       optional: ops left out of `ops`, with why (an isolated op that cannot run alone)
#   fused           optional: how many nodes the runtime fused into others (OpenVINO's NOT_RUN)
PROFILE_METHODS = ("profiler", "isolated")


def check_profile(found: dict) -> None:
    """A runtime's profile has the shape above (a bug in edgekit otherwise, not the user's input)."""
    if found.get("method") not in PROFILE_METHODS:
        raise ValueError(f"profile method {found.get('method')!r} is not one of {PROFILE_METHODS}")
    for op in found.get("ops", []):
        missing = {"index", "name", "type", "executor", "us"} - set(op)
        if missing:
            raise ValueError(f"profiled op {op} lacks {sorted(missing)}")
    for key in ("runs", "ops", "partitions", "fully_delegated", "left_on_cpu"):
        if key not in found:
            raise ValueError(f"profile lacks {key!r}")


class Session(abc.ABC):
    """An open artifact. A feed runs in five steps so that a harness can time `invoke` alone:
    `prepare` (check, quantize, lay out the inputs), `bind` (hand them to the runtime),
    `invoke` (the runtime's own call), `fetch` (read the outputs), `finish` (dequantize)."""

    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    batch: int | None = None  # the batch the inputs are sized for; None: any batch in one call

    def prepare(self, feeds: dict[str, np.ndarray]):
        missing = [t.name for t in self.inputs if t.name not in feeds]
        if missing:
            raise EdgekitError(f"feed lacks input(s) {', '.join(missing)}")
        return self._prepare_impl(feeds)

    def bind(self, prepared) -> None:
        self._bind_impl(prepared)

    def invoke(self) -> None:
        self._invoke_impl()

    def fetch(self):
        return self._fetch_impl()

    def finish(self, raw) -> dict[str, np.ndarray]:
        return self._finish_impl(raw)

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.bind(self.prepare(feeds))
        self.invoke()
        return self.finish(self.fetch())

    def resize(self, batch: int) -> str | None:
        """Size the inputs for `batch` samples per call; the reason when the runtime cannot."""
        if self.batch is None or batch == self.batch:
            return None
        return self._resize_impl(batch)

    def predict(self, feeds: dict[str, np.ndarray], batch: int | None = None, until: float | None = None,
                at_least: int = 0) -> dict[str, np.ndarray]:
        """Run a whole set of samples, `batch` (default: predict_batch) at a time where the session
        can be resized (else at its own fixed batch, padding the last call), and leave it sized as
        it was. Float outputs by name. With `until` (a time.monotonic() value), stop at the first
        call that ends after it, once `at_least` samples ran: the outputs are then of the first
        samples only."""
        whole = shapes.fed_whole(self.inputs)
        if whole:
            return self._predict_each(feeds, whole, until, at_least)
        batch = batch or predict_batch(feeds)
        if until is not None:  # calls small enough to look at the time often
            batch = min(batch, max(1, at_least // 2))
        count = len(next(iter(feeds.values())))
        original = self.batch
        step = min(batch, count)
        if self.resize(step) is not None:
            step = original
        chunks = []
        try:
            for start in range(0, count, step):
                chunk = {k: v[start:start + step] for k, v in feeds.items()}
                size = len(next(iter(chunk.values())))
                if self.batch is not None and size != self.batch and self.resize(size) is not None:
                    chunk = {k: np.concatenate([v, np.repeat(v[-1:], step - size, axis=0)])
                             for k, v in chunk.items()}
                chunks.append({k: v[:size] for k, v in self.run(chunk).items()})
                if until is not None and start + size >= at_least and time.monotonic() >= until:
                    break
        finally:
            if original is not None:
                self.resize(original)
        return {t.name: np.concatenate([c[t.name] for c in chunks]) for t in self.outputs}

    def _predict_each(self, feeds: dict[str, np.ndarray], whole: set[str], until: float | None,
                      at_least: int) -> dict[str, np.ndarray]:
        """predict for a model with inputs fed whole (a state, a scalar): one sample a call, its
        outputs stacked on a new sample axis (an output need not be batch-first either)."""
        found = []
        for i in range(shapes.sample_count(feeds)):
            found.append(self.run(shapes.feed(feeds, whole, i, i + 1)))
            if until is not None and i + 1 >= at_least and time.monotonic() >= until:
                break
        return {t.name: np.stack([f[t.name] for f in found]) for t in self.outputs}

    def declared_inputs(self) -> list[TensorSpec]:
        """The inputs as the file declares them, None in a free dimension (`inputs` are the shapes
        the session is allocated at, which may be a default for a free one)."""
        return self.inputs

    def default_shapes(self) -> dict[str, tuple[int, ...]]:
        """The model's own shape for inputs with free dimensions, by name, where the file stores one."""
        return {}

    def details(self) -> dict:
        """What this session actually runs on (threads, kernels, provider, acceleration)."""
        return {}

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @abc.abstractmethod
    def _prepare_impl(self, feeds): ...

    @abc.abstractmethod
    def _bind_impl(self, prepared) -> None: ...

    @abc.abstractmethod
    def _invoke_impl(self) -> None: ...

    @abc.abstractmethod
    def _fetch_impl(self): ...

    def _finish_impl(self, raw) -> dict[str, np.ndarray]:
        return raw

    def _resize_impl(self, batch: int) -> str | None:
        return f"{type(self).__name__} has a fixed batch of {self.batch}"


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
