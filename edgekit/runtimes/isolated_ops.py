"""A per-op profile for runtimes with no profiler reachable from Python (LiteRT's Interpreter,
TFLite Micro): each op of a `.tflite`'s main graph cut out as a one-op model, fed the values it
sees in the whole model, and timed alone on the same runtime with the same options.

A one-op model keeps its op, the op's tensors with their quantization, and the constant buffers
it reads; its non-constant inputs become the graph's inputs and its outputs the graph's outputs.
The values each op sees come from one run of the whole model in a LiteRT interpreter that keeps
every intermediate tensor; where LiteRT refuses the file (docs/DESIGN.md, pitfall 23) they come
from the one-op models themselves, run in order. Being alone, an op has no fusion with its
neighbours and its inputs are warm in cache: the sum is close to the whole model's time, not it.
"""

from __future__ import annotations

import copy
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edgekit.core.artifacts import TensorSpec
from edgekit.core.errors import EdgekitError, first_line
from edgekit.core.lazy_imports import quiet_stderr
from edgekit.models.inspection import tflite_io, tflite_ops
from edgekit.runtimes.base import Session, quantize
from edgekit.runtimes.litert_guard import check_model

NOTE = "each op timed alone as a one-op model (the median of its runs): no fusion or cache effects"


def isolated_profile(path: Path, feed: dict[str, np.ndarray], runs: int, open_op: Callable[[Path], Session],
                     executors: list[str] | str, placement: dict | None = None, note: str = NOTE) -> dict:
    """The PROFILE dict (runtimes/base.py) of `path`'s main graph: each op's one-op model opened
    with `open_op`, bound to the values the op sees for `feed`, invoked once to warm up, then
    `runs` times, timed (time_op). `executors` names what runs each node (one name: every node);
    `placement` gives "partitions", "fully_delegated" and "left_on_cpu" (none: no accelerator
    asked for). Ops that cannot stand alone are left out of "ops" and listed in an added
    "not_timed" [{"index", "name", "type", "reason"}]."""
    from ai_edge_litert.tools import flatbuffer_utils

    content = path.read_bytes()
    model = flatbuffer_utils.read_model_from_bytearray(content)
    graph = model.subgraphs[0]
    op_list = tflite_ops(content)
    values = whole_model_values(path, model, feed)
    names = [outputs[0] if outputs and outputs[0] else f"{op_type}_{i}" for i, (op_type, outputs) in enumerate(op_list)]
    ops, not_timed = [], []
    folded = load_time_constants(model, [op_type for op_type, _ in op_list])
    with tempfile.TemporaryDirectory(prefix="edgekit-ops-") as folder:
        for index, (op, (op_type, _)) in enumerate(zip(graph.operators, op_list)):
            if all(int(t) in folded for t in op.outputs):
                not_timed.append({"index": index, "name": names[index], "type": op_type, "reason": ONCE})
                continue
            fed = fed_inputs(model, op, folded)
            baked = {t: values.get(t) for t in _inputs(op) if t in folded}
            reason = standalone_problem(model, op) or (
                None if all(t in values for t in fed) and all(v is not None for v in baked.values())
                else "an input of it comes from an op that was not timed")
            if reason:
                not_timed.append({"index": index, "name": names[index], "type": op_type, "reason": reason})
                continue
            one = Path(folder) / f"op{index}.tflite"
            one.write_bytes(one_op_model(model, index, {t: values[t].shape for t in fed}, baked))
            try:
                us, outputs = time_op(open_op(one), [values[t] for t in fed], runs)
            except (EdgekitError, RuntimeError, ValueError) as exc:  # e.g. a resource variable's op, alone
                not_timed.append({"index": index, "name": names[index], "type": op_type,
                                  "reason": f"it does not run alone: {first_line(exc)}"})
                continue
            for tensor, value in zip(op.outputs, outputs):
                values.setdefault(int(tensor), value)  # the whole model's value where it has one
            ops.append({"index": index, "name": names[index], "type": op_type, "us": round(us, 3),
                        "executor": executors if isinstance(executors, str) else executors[index]})
    placement = placement or {"partitions": 0, "fully_delegated": None, "left_on_cpu": []}
    found = {"method": "isolated", "runs": runs, "ops": ops, "partitions": placement["partitions"],
             "fully_delegated": placement["fully_delegated"],
             "left_on_cpu": [{**left, "name": names[left["index"]]} for left in placement["left_on_cpu"]],
             "note": "; ".join(filter(None, [note, placement.get("note")]))}
    if not_timed:
        found["not_timed"] = not_timed
    return found


def time_op(session: Session, inputs: list[np.ndarray], runs: int) -> tuple[float, list[np.ndarray]]:
    """(µs of the runtime's own call, the median of `runs` after one warm-up; the outputs). A
    median, not a mean: an op of a few µs preempted once would read several times its time (on a
    loaded 2-core host the means of resnet8's ops summed to 1.4-1.7x the whole model's p50, their
    medians to 1.0-1.05x)."""
    with session:
        session.bind(inputs)
        session.invoke()
        raw = session.fetch()
        outputs = [np.array(v) for v in (raw.values() if isinstance(raw, dict) else raw)]
        spent = []
        for _ in range(runs):
            start = time.perf_counter_ns()
            session.invoke()
            spent.append(time.perf_counter_ns() - start)
    return float(np.median(spent)) / 1e3, outputs


def whole_model_values(path: Path, model, feed: dict[str, np.ndarray]) -> dict[int, np.ndarray]:
    """Main-graph tensor index -> the value it holds after one run of the whole model on `feed`
    (quantized as the file's inputs are), for every tensor an op reads or writes, from LiteRT's
    builtin kernels keeping every tensor; only the graph's inputs where LiteRT cannot run the file."""
    from ai_edge_litert import interpreter as litert

    values = _graph_inputs(path, model, feed)
    try:
        check_model(path, builtin_kernels=True)  # what would crash LiteRT is refused first
        with quiet_stderr(replay_on_error=False):
            interp = litert.Interpreter(
                model_path=str(path), experimental_preserve_all_tensors=True,
                experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
            for tensor, value in values.items():
                interp.resize_tensor_input(tensor, list(value.shape))
            interp.allocate_tensors()
            for tensor, value in values.items():
                interp.set_tensor(tensor, value)
            interp.invoke()
    except (EdgekitError, ValueError, RuntimeError):  # the one-op models give the values instead, in order
        return values
    for op in model.subgraphs[0].operators:
        for tensor in [*fed_inputs(model, op), *(int(t) for t in op.outputs if t >= 0)]:
            if tensor not in values:
                values[tensor] = interp.get_tensor(tensor)
    return values


def _graph_inputs(path: Path, model, feed: dict[str, np.ndarray]) -> dict[int, np.ndarray]:
    """Main-graph input tensor index -> its value from `feed` (by the name a session gives the
    input: its signature's, else the tensor's), in the file's type."""
    graph = model.subgraphs[0]
    by_name = {}
    for sig in model.signatureDefs or []:
        if sig.subgraphIndex == 0:
            by_name.update({_text(m.name): int(m.tensorIndex) for m in sig.inputs or []})
            break
    else:
        by_name = {_text(graph.tensors[t].name): int(t) for t in graph.inputs}
    specs = {t["name"]: TensorSpec.from_dict(t) for t in tflite_io(path)["inputs"]}
    missing = [name for name in by_name if name not in feed]
    if missing:
        raise EdgekitError(f"feed lacks input(s) {', '.join(missing)}")
    return {tensor: np.ascontiguousarray(quantize(np.asarray(feed[name]), specs[name]))
            for name, tensor in by_name.items()}


def fed_inputs(model, op, folded: set[int] = frozenset()) -> list[int]:
    """The op's inputs a one-op model takes as graph inputs: neither constant, nor computed once
    at load (`folded`), nor a variable (state kept by the runtime), nor absent (-1), each once."""
    graph = model.subgraphs[0]
    fed = []
    for t in _inputs(op):
        if t not in fed and t not in folded and not graph.tensors[t].isVariable and not _constant(model, t):
            fed.append(t)
    return fed


# ops the interpreters run once, when the model is prepared, where their input is a constant: an
# fp16 or sparse file's weights (LiteRT's DEQUANTIZE and DENSIFY kernels keep the result)
AT_LOAD = ("DEQUANTIZE", "DENSIFY")
ONCE = "it turns constant weights into float once, when the model loads: no time per call"


def load_time_constants(model, op_types: list[str]) -> set[int]:
    """The main graph's tensors an AT_LOAD op computes from constants only (`op_types`: each op's,
    in order): a one-op model gets them as constants (as the whole model's kernels see them), and
    the op itself is not timed."""
    folded = set()
    for op, op_type in zip(model.subgraphs[0].operators, op_types):
        if op_type in AT_LOAD and _inputs(op) and all(_constant(model, t) or t in folded for t in _inputs(op)):
            folded.update(int(t) for t in op.outputs if t >= 0)
    return folded


def _inputs(op) -> list[int]:
    return [int(t) for t in (op.inputs if op.inputs is not None else []) if t >= 0]


def standalone_problem(model, op) -> str | None:
    """Why this op cannot be timed as a one-op model, or None."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    code = model.operatorCodes[op.opcodeIndex]
    if flatbuffer_utils.get_builtin_code_from_operator_code(code) == schema.BuiltinOperator.CUSTOM:
        return "a custom op: a one-op model holds builtin ops only"
    for options in (op.builtinOptions, getattr(op, "builtinOptions2", None)):
        if options is not None and any("subgraph" in field.lower() for field in vars(options)):
            return "it runs other subgraphs, which a one-op model does not hold"
    return None


def one_op_model(model, index: int, shapes: dict[int, tuple[int, ...]],
                 baked: dict[int, np.ndarray] | None = None) -> bytes:
    """The `.tflite` bytes of a model holding only operator `index` of `model`'s main graph (a
    ModelT): its tensors with their quantization, the constant buffers it reads, and `baked`
    (tensor -> value: inputs the whole model computes once at load) as constants; its other
    inputs (fed_inputs) are the graph's inputs, sized as `shapes` says, its outputs the graph's."""
    baked = baked or {}
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    graph = model.subgraphs[0]
    source = graph.operators[index]
    listed = [*(source.inputs if source.inputs is not None else []), *source.outputs,
              *(source.intermediates if source.intermediates is not None else [])]
    used = list(dict.fromkeys(int(t) for t in listed if t >= 0))
    new_index = {t: i for i, t in enumerate(used)}
    buffers, tensors = [schema.BufferT()], []  # buffer 0: no data, for every non-constant tensor
    for t in used:
        tensor = copy.copy(graph.tensors[t])
        if t in baked:
            buffer = schema.BufferT()
            buffer.data = np.frombuffer(np.ascontiguousarray(baked[t]).tobytes(), np.uint8)
            buffers.append(buffer)
            tensor.buffer = len(buffers) - 1
        elif _constant(model, t) or tensor.isVariable and _has_data(model.buffers[tensor.buffer]):
            buffers.append(model.buffers[tensor.buffer])
            tensor.buffer = len(buffers) - 1
        else:
            tensor.buffer = 0
        if t in shapes:
            tensor.shape, tensor.shapeSignature = list(shapes[t]), None
        tensors.append(tensor)

    def remap(indices):
        return None if indices is None else [new_index[int(t)] if t >= 0 else -1 for t in indices]

    op = copy.copy(source)
    op.opcodeIndex = 0
    op.inputs, op.outputs, op.intermediates = remap(source.inputs), remap(source.outputs), remap(source.intermediates)
    one = schema.SubGraphT()
    one.name, one.tensors, one.operators = graph.name, tensors, [op]
    one.inputs = [new_index[t] for t in fed_inputs(model, source, set(baked))]
    one.outputs = remap(source.outputs)
    result = schema.ModelT()
    result.version, result.description = model.version, model.description
    result.operatorCodes, result.subgraphs, result.buffers = [model.operatorCodes[source.opcodeIndex]], [one], buffers
    return bytes(flatbuffer_utils.convert_object_to_bytearray(result))


def _constant(model, tensor: int) -> bool:
    t = model.subgraphs[0].tensors[tensor]
    return not t.isVariable and t.buffer > 0 and _has_data(model.buffers[t.buffer])


def _has_data(buffer) -> bool:
    return (buffer.data is not None and len(buffer.data) > 0) or bool(getattr(buffer, "offset", 0))


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value or "")
