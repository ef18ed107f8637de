"""onnxruntime, which runs `.onnx` files on the execution providers it lists.

onnxruntime falls back from a requested provider to CPU without a word; the session's actual
providers are checked so a fall-back is reported, not hidden.
"""

from __future__ import annotations

import bisect
import contextlib
import io
import json
import re
import statistics
import tempfile
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
CPU = "CPUExecutionProvider"  # the provider every session falls back to


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

    def _profile_impl(self, path: Path, feed: dict[str, np.ndarray], runs: int, threads: int | None = None,
                      provider: str = CPU) -> dict:
        # a session of its own: the profiler costs 3-6 µs a node (pitfall 22); ORT writes its file
        # into the working folder unless given a prefix, so the prefix is in a folder of our own
        with tempfile.TemporaryDirectory(prefix="edgekit-ort-profile-") as folder:
            session = OnnxSession(path, threads, provider, profile_prefix=str(Path(folder) / "profile"))
            try:
                for _ in range(runs + 1):  # the first call is a warm-up, dropped by parse_profile
                    session.run(feed)
            finally:
                written = Path(session.end_profiling())
            events = json.loads(written.read_text())
        ops = parse_profile(events, runs)
        return {"method": "profiler", "runs": runs, "ops": ops, **placement(ops, provider)}


class OnnxSession(Session):
    def __init__(self, path: Path, threads: int | None, provider: str, profile_prefix: str | None = None):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        if profile_prefix:  # ORT adds the date and ".json"
            options.enable_profiling = True
            options.profile_file_prefix = profile_prefix
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

    def end_profiling(self) -> str:
        """Stop a profiling session's profiler; the path of the JSON file it wrote."""
        return self._session.end_profiling()


def parse_profile(events: list[dict], runs: int) -> list[dict]:
    """The per-node median µs a call from the events of an onnxruntime profile (Chrome trace JSON)
    of a warm-up call then `runs` calls. Each call is a `model_run` event; each node's kernel a
    "Node" event named `<node>_kernel_time` with its `op_name` and `provider`. The op types are those
    of the graph ORT runs, after its fusions. Ops in execution order; a node that runs more than once
    a call (in a loop's body) has its time summed per call, and a control-flow node (If, Loop, Scan)
    only its own time, not that of its subgraph's nodes, which are ops of their own. The median, not
    the mean: one call the OS paused would move a mean far from the p50 it is shown beside."""
    calls = sorted((e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"),
                   key=lambda e: e["ts"])
    if len(calls) != runs + 1:
        raise BackendUnavailable(f"onnxruntime's profile holds {len(calls)} model_run events for {runs + 1} calls: "
                                 "this onnxruntime's profile format is not the one edgekit reads")
    starts = [c["ts"] for c in calls[1:]]  # the warm-up call's events come before the second call's start
    kernels = sorted((e for e in events if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time")
                      and e["ts"] >= starts[0]), key=lambda e: (e["ts"], -e["dur"]))
    totals: dict[tuple, dict] = {}
    for event, own in zip(kernels, _own_times(kernels)):
        args = event["args"]
        name = event["name"].removesuffix("_kernel_time")
        key = (name, args.get("node_index"), args["op_name"])
        op = totals.setdefault(key, {"name": name, "type": args["op_name"], "executor": args["provider"],
                                     "calls": [0.0] * runs})
        op["calls"][bisect.bisect_right(starts, event["ts"]) - 1] += own
    return [{"index": i, **{k: v for k, v in op.items() if k != "calls"}, "us": statistics.median(op["calls"])}
            for i, op in enumerate(totals.values())]


def _own_times(kernels: list[dict]) -> list[float]:
    """Each kernel event's µs less those of the events nested in it (a subgraph's nodes run inside
    their If or Loop node's event); `kernels` sorted by start, the longer first."""
    own = [float(e["dur"]) for e in kernels]
    enclosing: list[int] = []  # the events the current one may be nested in, innermost last
    for i, event in enumerate(kernels):
        end = event["ts"] + event["dur"]
        while enclosing:
            outer = kernels[enclosing[-1]]
            outer_end = outer["ts"] + outer["dur"]
            # ORT rounds start and duration to whole µs apart: a nested end may pass its parent's by 1
            if outer["tid"] == event["tid"] and event["ts"] < outer_end and end <= outer_end + 1:
                own[enclosing[-1]] -= event["dur"]
                break
            enclosing.pop()
        enclosing.append(i)
    return own


def placement(ops: list[dict], provider: str) -> dict:
    """Where onnxruntime placed the profiled `ops` when `provider` was asked for: the partitions
    (runs of consecutive ops on a provider other than the CPU's), whether it took every op, and
    the ops it left to the CPU provider."""
    on_accelerator = [op["executor"] != CPU for op in ops]
    partitions = sum(1 for i, on in enumerate(on_accelerator) if on and (i == 0 or not on_accelerator[i - 1]))
    if provider == CPU:
        return {"partitions": partitions, "fully_delegated": None, "left_on_cpu": []}
    reason = f"onnxruntime placed it on {CPU}: {provider} did not claim it"
    return {"partitions": partitions, "fully_delegated": all(op["executor"] == provider for op in ops),
            "left_on_cpu": [{"index": op["index"], "name": op["name"], "type": op["type"], "reason": reason}
                            for op in ops if op["executor"] == CPU]}


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
