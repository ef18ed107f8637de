"""What a model's graph costs, read from the file: multiply-accumulates per op, the activation
memory LiteRT's arena plans, and how the weights are stored (fp16 or int8 behind DEQUANTIZE).

MACs are counted for the ops that do the arithmetic (convolutions, fully connected, matmuls,
LSTMs) from their tensors' shapes, at the batch the file is written for. The activation arena is
planned as LiteRT's ArenaPlanner does with its builtin kernels: each tensor that is neither a
weight nor a variable lives from the op that writes it to the last op that reads it (the graph's
inputs from the start, its outputs to the end), an ADD or RESHAPE may write over its input, and
each is placed greedily, largest first, at the best-fitting 64-byte-aligned offset among the
tensors alive at the same time, with CONV_2D's im2col scratch buffer. It matches LiteRT's
allocation to the byte on the variants edgekit writes and on MobileNetV2 and ResNet50
(tests/cli/test_inspect.py measures it); XNNPACK, LiteRT's default on CPU, plans the ops it
takes in a workspace of its own, which the file does not say.
"""

from __future__ import annotations

import collections
import functools

import numpy as np

from edgekit.core.units import human_size

ALIGNMENT = 64  # LiteRT's kDefaultTensorAlignment
ARENA_NOTE = ("LiteRT's arena with its builtin kernels: tensors by lifetime, largest first, 64-byte aligned, "
              "with CONV_2D's im2col scratch; XNNPACK, its default on CPU, plans the ops it takes in a workspace "
              "of its own")
ARENA_UNPLANNED = ("not planned: the graph keeps so many tensors alive at once that placing them would take "
                   "minutes; the peak is the least any arena needs")
PEAK_NOTE = "the most activation bytes alive at once: no arena can be smaller"
MAC_OPS_TFLITE = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL", "TRANSPOSE_CONV", "CONV_3D",
                  "CONV_3D_TRANSPOSE", "UNIDIRECTIONAL_SEQUENCE_LSTM")


def tflite_costs(model, codes: list[str], type_names: dict) -> dict:
    """MACs, the activation arena and the stored weights of the main graph of a parsed
    flatbuffer (`codes`: each operator code's op type; `type_names`: TensorType -> numpy name)."""
    graph = model.subgraphs[0]
    buffers = model.buffers or []

    # each asked for many times per tensor: read once (the flatbuffer is read field by field)
    @functools.cache
    def constant(index: int) -> bool:
        buffer = buffers[graph.tensors[index].buffer] if graph.tensors[index].buffer < len(buffers) else None
        return buffer is not None and ((buffer.data is not None and len(buffer.data) > 0) or buffer.offset > 1)

    @functools.cache
    def shape(index: int) -> tuple[int, ...]:
        return tuple(int(d) for d in (graph.tensors[index].shape if graph.tensors[index].shape is not None else []))

    @functools.cache
    def dtype(index: int) -> str:
        return type_names.get(graph.tensors[index].type, "")

    @functools.cache
    def nbytes(index: int) -> int:  # 0 for a tensor sized at run time (LiteRT allocates those apart)
        size = {"int4": 0.5, "bfloat16": 2}.get(dtype(index)) or _itemsize(dtype(index))
        dims = shape(index)
        return 0 if any(d < 0 for d in dims) else int(np.ceil(int(np.prod(dims)) * size))

    ops = [(codes[op.opcodeIndex], op) for op in graph.operators or []]
    per_op, unknown = [], 0
    for index, (kind, op) in enumerate(ops):
        try:
            macs = _tflite_macs(kind, op, shape)
        except (ValueError, IndexError):  # a weight of unknown rank: not counted, and said
            macs, unknown = 0, unknown + 1
        if macs:
            per_op.append({"index": index, "op": kind, "macs": macs,
                           "output": (graph.tensors[op.outputs[0]].name or b"").decode(errors="replace")})
    weights = _stored_weights(ops, graph, constant, nbytes, type_names)
    activations = _activations(ops, graph, constant, dtype, nbytes)
    if any(w["how"] == "dynamic" for w in weights):
        activations["arena"] += "; not counted: the buffers dynamic-range ops quantize their inputs into"
    signatures = {i: graph.tensors[i].shapeSignature for i in (graph.inputs if graph.inputs is not None else [])}
    free = [f"{(graph.tensors[i].name or b'').decode(errors='replace')} axis {axis}" for i, sig in signatures.items()
            if sig is not None for axis, d in enumerate(sig) if axis and d < 0]
    return {"macs": {**_mac_summary(per_op, batch=_batch(shape, graph.inputs)), "uncounted_ops": unknown,
                     "free_dimensions": free},
            "weights": weights,
            "activations": activations}


def _itemsize(dtype: str) -> int:
    try:
        return np.dtype(dtype).itemsize
    except TypeError:  # string, resource, variant: sized at run time
        return 0


def _batch(shape, inputs) -> int | None:
    first = shape(inputs[0]) if inputs is not None and len(inputs) else []
    return first[0] if first else None


def _tflite_macs(kind: str, op, shape) -> int:
    """Multiply-accumulates of one op, from its tensors' shapes (0 for ops not counted)."""
    ins = [int(i) for i in (op.inputs if op.inputs is not None else [])]
    out = shape(op.outputs[0]) if op.outputs is not None and len(op.outputs) else []
    if not out or kind not in MAC_OPS_TFLITE:
        return 0
    size = int(np.prod(out))
    if kind == "CONV_2D":  # filter [out channels, kh, kw, in channels per group]
        _, kh, kw, cin = shape(ins[1])
        return size * kh * kw * cin
    if kind == "DEPTHWISE_CONV_2D":  # filter [1, kh, kw, out channels]
        return size * shape(ins[1])[1] * shape(ins[1])[2]
    if kind == "FULLY_CONNECTED":  # weights [units, depth]
        return size * shape(ins[1])[-1]
    if kind == "BATCH_MATMUL":
        a = shape(ins[0])
        adj_x = bool(getattr(op.builtinOptions, "adjX", False))
        return size * (a[-2] if adj_x else a[-1])
    if kind == "TRANSPOSE_CONV":  # (output shape, filter [out, kh, kw, in], input): each input value into kh*kw*out
        _, kh, kw, cout = *shape(ins[1])[:3], shape(ins[1])[0]
        return int(np.prod(shape(ins[2]))) * kh * kw * cout
    if kind == "CONV_3D":  # filter [kd, kh, kw, in, out]
        return size * int(np.prod(shape(ins[1])[:4]))
    if kind == "CONV_3D_TRANSPOSE":  # (output shape, filter [kd, kh, kw, out, in], input)
        return int(np.prod(shape(ins[2]))) * int(np.prod(shape(ins[1])[:4]))
    # UNIDIRECTIONAL_SEQUENCE_LSTM: input [batch, time, in] (or time major) through the gates'
    # input and recurrent weights (inputs 1-8; a CIFG LSTM has no input gate, index -1)
    steps = int(np.prod(shape(ins[0])[:-1]))
    return steps * sum(int(np.prod(shape(i))) for i in ins[1:9] if i >= 0)


def _mac_summary(per_op: list[dict], batch: int | None) -> dict:
    by_op = collections.defaultdict(lambda: {"ops": 0, "macs": 0})
    for entry in per_op:
        by_op[entry["op"]]["ops"] += 1
        by_op[entry["op"]]["macs"] += entry["macs"]
    return {"total": sum(e["macs"] for e in per_op), "batch": batch,
            "by_op": dict(sorted(by_op.items(), key=lambda kv: -kv[1]["macs"])), "per_op": per_op}


def _stored_weights(ops, graph, constant, nbytes, type_names) -> list[dict]:
    """Weights kept in a smaller type than the ops compute in: behind DEQUANTIZE ops (fp16 or
    int8 weights that LiteRT turns into float32 once, when the model is prepared), or read as
    int8 by float ops (dynamic range: the kernels quantize the activations on the fly)."""
    found = collections.defaultdict(lambda: {"ops": 0, "bytes": 0, "float32_bytes": 0})
    float_types = {"float32", "float16", "bfloat16"}
    for kind, op in ops:
        ins = [int(i) for i in (op.inputs if op.inputs is not None else [])]
        if kind == "DEQUANTIZE" and ins and constant(ins[0]):
            entry = found[("dequantize", type_names.get(graph.tensors[ins[0]].type))]
            entry["ops"] += 1
            entry["bytes"] += nbytes(ins[0])
            entry["float32_bytes"] += nbytes(op.outputs[0])
        elif kind in MAC_OPS_TFLITE and len(ins) > 1 and ins[0] >= 0 and ins[1] >= 0 and constant(ins[1]):
            source, weights = (type_names.get(graph.tensors[i].type) for i in ins[:2])
            if source in float_types and weights in ("int8", "int4"):  # a hybrid op
                entry = found[("dynamic", weights)]
                entry["ops"] += 1
                entry["bytes"] += nbytes(ins[1])

    def summary(how: str, dtype: str, entry: dict) -> str:
        plural = "s" if entry["ops"] != 1 else ""
        if how == "dequantize":
            return (f"weights stored as {dtype}, dequantized to float32 when the model is prepared ({entry['ops']} "
                    f"DEQUANTIZE op{plural}: {human_size(entry['bytes'])} in the file, "
                    f"{human_size(entry['float32_bytes'])} in memory)")
        return (f"weights stored as {dtype} and read by float ops (dynamic range: {entry['ops']} op{plural} "
                "quantize their inputs on the fly)")

    return [{"stored_as": dtype, "how": how, **entry, "summary": summary(how, dtype, entry)}
            for (how, dtype), entry in found.items()]


def _activations(ops, graph, constant, dtype, nbytes) -> dict:
    """The arena LiteRT plans for the main graph's activations (see the module's note), with the
    peak of bytes alive at once and what stays in memory outside it."""
    count = len(ops)
    inputs = [int(i) for i in (graph.inputs if graph.inputs is not None else [])]
    outputs = [int(i) for i in (graph.outputs if graph.outputs is not None else [])]
    # a DEQUANTIZE of a weight writes float32 weights that stay for the whole run, outside the arena
    dequantized = {int(op.outputs[0]) for kind, op in ops if kind == "DEQUANTIZE" and op.inputs is not None
                   and len(op.inputs) and constant(int(op.inputs[0]))}

    def in_arena(i: int) -> bool:
        return i >= 0 and not (constant(i) or graph.tensors[i].isVariable or i in dequantized)

    shared = _in_place(ops, inputs, outputs, in_arena, nbytes)
    first, last = {}, {}
    for i in inputs:  # kept from the start to the end of the run
        first[i], last[i] = 0, count
    for step, (kind, op) in enumerate(ops):  # from the op that writes a tensor to the last that reads it
        written = [int(i) for i in (op.outputs if op.outputs is not None else []) if int(i) not in shared]
        for i in written + [shared.get(int(i), int(i)) for i in (op.inputs if op.inputs is not None else [])]:
            if in_arena(i):
                first.setdefault(i, step)
                last[i] = max(last.get(i, step), step)
    for i in outputs:  # kept to the end
        last[shared.get(i, i)] = count
    tensors = [(i, nbytes(i), first[i], last[i]) for i in first if nbytes(i) > 0]
    weight = lambda i: constant(i) or i in dequantized  # noqa: E731
    tensors += [(("im2col", step), size, step, step) for step, size in _im2col(ops, graph, weight, dtype, nbytes)]
    persistent = sum(nbytes(i) for i in dequantized) + sum(
        nbytes(i) for i in range(len(graph.tensors)) if graph.tensors[i].isVariable)
    alive = np.zeros(count + 2, dtype=np.int64)  # bytes alive at each step, by adding at birth and removing after death
    for _, size, begin, end in tensors:
        alive[begin] += size
        alive[end + 1] -= size
    peak = int(np.cumsum(alive).max(initial=0))
    arena = plan_arena(tensors, count)
    return {"arena_bytes": arena, "arena": ARENA_NOTE if arena is not None else ARENA_UNPLANNED,
            "peak_bytes": peak, "peak": PEAK_NOTE,
            "tensors": len(tensors), "in_place": len(shared), "persistent_bytes": persistent}


# ops whose output LiteRT writes over an input that no later op reads (ADD: either input), and ops
# whose output is their input's data unchanged (RESHAPE): the output takes no memory of its own
OVERWRITES_INPUT = {"ADD": 2, "SUB": 2, "MUL": 2, "DIV": 2}
SAME_DATA = {"RESHAPE", "BITCAST"}
SCALAR_BYTES = 8  # LiteRT does not share tensors this small


def _in_place(ops, inputs, outputs, in_arena, nbytes) -> dict[int, int]:
    """Output tensor -> the tensor whose memory it takes, as LiteRT's ArenaPlanner decides it:
    never a graph input or output, and for an op that overwrites, an input of the same size read
    by this op only."""
    reads = collections.Counter(inputs + outputs)
    for _, op in ops:
        reads.update(int(i) for i in (op.inputs if op.inputs is not None else []) if i >= 0)
    shared = {}
    for kind, op in ops:
        overwrites = kind in OVERWRITES_INPUT
        if not (overwrites or kind in SAME_DATA) or op.outputs is None or not len(op.outputs):
            continue
        out = int(op.outputs[0])
        if out in outputs or not in_arena(out):
            continue
        candidates = [int(i) for i in (op.inputs if op.inputs is not None else [])][:OVERWRITES_INPUT.get(kind, 1)]
        source = next((i for i in candidates if in_arena(i) and i not in inputs and not (
            overwrites and (nbytes(i) != nbytes(out) or nbytes(i) <= SCALAR_BYTES or reads[i] > 1))), None)
        if source is None:
            continue
        root = shared.get(source, source)
        if not (overwrites and reads[root] > 1):
            shared[out] = root
    return shared


def _im2col(ops, graph, weight, dtype, nbytes) -> list[tuple[int, int]]:
    """(step, bytes) of the im2col scratch buffer LiteRT's builtin CONV_2D kernel takes from the
    arena for a kernel larger than 1x1 or a stride or dilation above 1: one row of kh*kw*in
    values per output position, in the input's type (a hybrid conv's buffers are not counted)."""
    found = []
    for step, (kind, op) in enumerate(ops):
        if kind != "CONV_2D" or op.inputs is None or len(op.inputs) < 2 or not weight(int(op.inputs[1])):
            continue
        source, filters = int(op.inputs[0]), int(op.inputs[1])
        if dtype(source) == "float32" and dtype(filters) in ("int8", "int4"):  # hybrid: other buffers
            continue
        _, kh, kw, cin = (int(d) for d in graph.tensors[filters].shape)
        strided = any(getattr(op.builtinOptions, name, 1) != 1
                      for name in ("strideW", "strideH", "dilationWFactor", "dilationHFactor"))
        if kh * kw > 1 or strided:
            positions = int(np.prod(graph.tensors[int(op.outputs[0])].shape[:-1]))
            found.append((step, positions * kh * kw * cin * _itemsize(dtype(source))))
    return found


def plan_arena(tensors: list[tuple[int, int, int, int]], last_step: int) -> int | None:
    """The size of the arena that holds `tensors` ((index, bytes, first step, last step)) as
    LiteRT's ArenaPlanner and SimpleMemoryArena place them: tensors alive for the whole run first,
    by index, then the rest by size (largest first, then earliest), each at the smallest gap
    among the placed tensors alive at the same time that holds it, else after them. None when
    that takes more than ARENA_WORK looks at placed tensors (a hostile graph keeping thousands of
    tensors alive at once): the greedy plan is quadratic in them."""
    whole = [t for t in tensors if t[2] == 0 and t[3] >= last_step]
    rest = sorted((t for t in tensors if not (t[2] == 0 and t[3] >= last_step)), key=lambda t: (-t[1], t[2]))
    placed, work, top = _Lifetimes(last_step), 0, 0
    for _, size, begin, end in sorted(whole) + rest:
        offset, best, best_gap = 0, None, None
        alive = placed.overlapping(begin, end)  # (offset, end, first, last), by offset
        work += len(alive)
        if work > ARENA_WORK:
            return None
        for p_offset, p_end, _, _ in alive:
            gap = p_offset - offset
            if gap >= size and (best_gap is None or gap < best_gap):
                best, best_gap = offset, gap
            offset = max(offset, _align(p_end))
        at = offset if best is None else best
        placed.add((at, at + size, begin, end))
        top = max(top, at + size)
    return _align(top)


ARENA_WORK = 5_000_000  # about two seconds of planning; real graphs keep tens of tensors alive at once


class _Lifetimes:
    """Placed tensors, found by the steps they are alive at, in two segment trees over the steps:
    a tensor overlaps [begin, end] when it is alive at `begin` (kept in the nodes that cover its
    lifetime: those on the path from `begin`'s leaf to the root) or first written after `begin`
    and by `end` (kept in its first step's leaf and that leaf's ancestors: those covering the
    range). A query costs the tensors it returns, not every tensor placed."""

    def __init__(self, last_step: int):
        self.leaves = 1 << (last_step + 1).bit_length()
        self.alive: dict[int, list] = {}
        self.starting: dict[int, list] = {}

    def add(self, tensor: tuple) -> None:
        for node in self._cover(tensor[2], tensor[3]):
            self.alive.setdefault(node, []).append(tensor)
        node = tensor[2] + self.leaves
        while node:
            self.starting.setdefault(node, []).append(tensor)
            node >>= 1

    def overlapping(self, begin: int, end: int) -> list[tuple]:
        found, node = [], begin + self.leaves
        while node:
            found += self.alive.get(node, ())
            node >>= 1
        for node in self._cover(begin + 1, end):
            found += self.starting.get(node, ())
        return sorted(found)

    def _cover(self, first: int, last: int):
        """The nodes whose leaves are exactly the steps first..last."""
        low, high = first + self.leaves, last + self.leaves + 1
        while low < high:
            if low & 1:
                yield low
                low += 1
            if high & 1:
                high -= 1
                yield high
            low, high = low >> 1, high >> 1


def _align(value: int) -> int:
    return -(-value // ALIGNMENT) * ALIGNMENT


def onnx_macs(model) -> dict:
    """Multiply-accumulates of an ONNX model's Conv, ConvTranspose, Gemm and MatMul nodes (and
    their quantized forms), with shapes from onnx.shape_inference; a free dimension counts as 1
    (those beyond the batch are listed in `free_dimensions`: the total is then not a real size's)."""
    import onnx

    try:
        graph = onnx.shape_inference.infer_shapes(model).graph
    except Exception:  # noqa: BLE001 - ops of a custom domain, a damaged graph: count what the file declares
        graph = model.graph
    shapes = {}
    for v in list(graph.input) + list(graph.value_info) + list(graph.output):
        dims = v.type.tensor_type.shape.dim
        shapes[v.name] = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else 1 for d in dims]
    for init in graph.initializer:
        shapes[init.name] = list(init.dims)
    per_op, unknown = [], 0
    for index, node in enumerate(graph.node):
        macs = _onnx_node_macs(node, shapes)
        if macs:
            per_op.append({"index": index, "op": node.op_type, "macs": macs, "output": node.output[0]})
        unknown += not macs and node.op_type in ONNX_MAC_OPS
    initializers = {i.name for i in graph.initializer}
    first = next((v.type.tensor_type.shape.dim for v in graph.input if v.name not in initializers), None)
    batch = first[0].dim_value if first and first[0].HasField("dim_value") and first[0].dim_value > 0 else None
    # a free dimension (dim_param, none, or an exporter's -1) beyond the batch counts as 1 too: said
    free = [f"{v.name} axis {axis}" for v in graph.input if v.name not in initializers
            for axis, d in enumerate(v.type.tensor_type.shape.dim)
            if axis and not (d.HasField("dim_value") and d.dim_value > 0)]
    return {**_mac_summary(per_op, batch=batch), "uncounted_ops": unknown, "free_dimensions": free}


_ONNX_WEIGHT = {"Conv": 1, "ConvInteger": 1, "QLinearConv": 3, "ConvTranspose": 1}
_ONNX_MATMUL = {"MatMul": (0, 1), "MatMulInteger": (0, 1), "QLinearMatMul": (0, 3), "Gemm": (0, 1)}
ONNX_MAC_OPS = {"Conv", "ConvInteger", "QLinearConv", "ConvTranspose", *_ONNX_MATMUL}


def _onnx_node_macs(node, shapes: dict) -> int:
    out = shapes.get(node.output[0]) if node.output else None
    if not out or node.op_type not in ONNX_MAC_OPS or len(node.input) < 2:
        return 0
    size = int(np.prod(out))
    if node.op_type in ("Conv", "ConvInteger", "QLinearConv"):  # weights [out, in per group, k...]
        index = _ONNX_WEIGHT[node.op_type]
        weights = shapes.get(node.input[index]) if len(node.input) > index else None
        return size * int(np.prod(weights[1:])) if weights else 0
    if node.op_type == "ConvTranspose":  # weights [in, out per group, k...]: each input value into out*k
        weights, source = shapes.get(node.input[1]), shapes.get(node.input[0])
        return int(np.prod(source)) * int(np.prod(weights[1:])) if weights and source else 0
    if node.op_type in _ONNX_MATMUL:
        a = shapes.get(node.input[_ONNX_MATMUL[node.op_type][0]])
        if not a:
            return 0
        trans_a = node.op_type == "Gemm" and any(x.name == "transA" and x.i for x in node.attribute)
        return size * (a[0] if trans_a else a[-1])
    return 0
