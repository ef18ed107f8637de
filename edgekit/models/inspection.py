"""What is inside a converted model: signatures, inputs and outputs with their quantization,
the ops and their counts, whether it needs Flex ops, and what the graph costs (graph_costs). Read from the file itself, without
loading a runtime, so a model that no runtime here can run can still be inspected. A float model (a Keras file
or a SavedModel) is loaded as convert loads it, under the same trust checks, for its inputs, outputs,
parameters and layers or ops."""

from __future__ import annotations

import collections
import math
import os
from pathlib import Path

import numpy as np

from edgekit.core import limits
from edgekit.core.errors import EdgekitError, first_line
from edgekit.models import loading
from edgekit.models.graph_costs import onnx_macs, tflite_costs

FLEX_PREFIX = "Flex"
MAX_TENSOR_ELEMENTS = (1 << 31) - 1  # TFLite's kernels count elements in an int (RuntimeShape::FlatSize)


INSPECT_KINDS = "a .tflite, .onnx, .keras, .h5 or .hdf5 file or a SavedModel folder"


def inspect_model(path: str | Path, trust_model_code: bool = False) -> dict:
    """What is inside `path`; a float model is loaded under the trust checks (`trust_model_code`
    as convert's --trust-model-code)."""
    path = Path(path)
    if path.is_dir() or loading.is_keras_file(path):
        return inspect_float_model(path, trust_model_code)
    if not path.is_file():
        raise EdgekitError(f"{path} is not a file: inspect takes {INSPECT_KINDS}")
    limits.check_model_size(path, path.stat().st_size)
    check_op_count(path)
    if path.suffix == ".tflite":
        return inspect_tflite(path)
    if path.suffix == ".onnx":
        return inspect_onnx(path)
    raise EdgekitError(f"{path}: inspect takes {INSPECT_KINDS}, not {path.suffix or 'a file without an extension'}")


def inspect_float_model(path: Path, trust_model_code: bool = False) -> dict:
    """A Keras file's or SavedModel's inputs, outputs (as convert names them), parameters, and its
    layers by class (Keras) or its serving graph's ops by type (SavedModel), loaded as convert
    loads it: a model that reaches files or Python is refused unless `trust_model_code`."""
    flavour = loading.detect_flavour(path)
    if flavour == loading.SAVEDMODEL:
        with loading.load_model(path, trust_model_code) as source:
            function = source.serve.get_concrete_function()  # the serving signature, as convert traces it
            counts = _graph_ops(function.graph.as_graph_def())
            variables = list(function.variables)
            parameters = {"total": sum(math.prod(v.shape) for v in variables),
                          "trainable": sum(math.prod(v.shape) for v in variables if v.trainable)}
            return _float_info(path, flavour, source, parameters, {"ops": counts})
    _, model = loading.load_keras_model(path, trust_model_code)
    with loading.from_keras(path, flavour, model, *loading.io_names(flavour, model)) as source:
        trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
        layers = collections.Counter(type(layer).__name__ for layer in _layers(model))
        return _float_info(path, flavour, source, {"total": int(model.count_params()), "trainable": int(trainable)},
                           {"layers": dict(sorted(layers.items(), key=lambda kv: (-kv[1], kv[0])))})


def _float_info(path: Path, flavour: str, source, parameters: dict, counts: dict) -> dict:
    return {"path": str(path), "format": "savedmodel" if flavour == loading.SAVEDMODEL else "keras", "flavour": flavour,
            "size_bytes": source.size_bytes, "inputs": [t.to_dict() for t in source.inputs],
            "outputs": [t.to_dict() for t in source.outputs],
            "parameters": {k: int(v) for k, v in parameters.items()}, **counts, "needs_flex": False}


def _layers(model) -> list:
    """A Keras model's layers, those of the models inside it too (not the inner models themselves)."""
    found = []
    for layer in model.layers:
        found += _layers(layer) if hasattr(layer, "layers") and layer.layers else [layer]
    return found


GRAPH_PLUMBING = {"Placeholder", "Identity", "NoOp", "Const", "ReadVariableOp", "VarHandleOp",
                  "StatefulPartitionedCall", "PartitionedCall"}  # how a traced graph holds and calls, not compute


def _graph_ops(graph_def) -> dict[str, int]:
    """The op types of a serving graph and of the functions it calls, by count, without the plumbing."""
    counts = collections.Counter(node.op for node in graph_def.node)
    for function in graph_def.library.function:
        counts.update(node.op for node in function.node_def)
    return dict(sorted(((op, n) for op, n in counts.items() if op not in GRAPH_PLUMBING),
                       key=lambda kv: (-kv[1], kv[0])))


def checked_tflite(path: str | Path, command: str, why: str) -> Path:
    """A .tflite file that exists, is within the size limit and parses, before `command` writes
    anything; else one line naming what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise EdgekitError(f"no such file {path}: {command} takes a .tflite file")
    if path.suffix != ".tflite":
        raise EdgekitError(f"{path} is not a .tflite file: {command} takes {why}")
    inspect_model(path)
    return path


def check_op_count(path: Path) -> None:
    """Refuse a .tflite or .onnx holding more ops than the op limit (limits.check_ops), counted
    without parsing an op (`op_count`), before anything loads the file."""
    counted = op_count(path)
    if counted is not None:
        limits.check_ops(path, *counted)


def op_count(path: Path) -> tuple[int, bool, int] | None:
    """(ops, whether all were counted, tensors) of a .tflite (the lengths of its subgraphs' operator
    and tensor lists, read through a memory map) or an .onnx (the nodes of its graph, its functions
    and the graphs inside its nodes, read from the protobuf wire format; tensors 0: onnx's parser
    is native); past the op limit the counting may stop early. None for another file, or one too
    damaged to tell (its parser says what is wrong)."""
    try:
        if path.suffix == ".tflite":
            return _tflite_op_count(path)
        if path.suffix == ".onnx":
            return _onnx_node_count(path)
    except Exception:  # noqa: BLE001 - a damaged file fails in many ways; its reader names the damage
        return None
    return None


def _tflite_op_count(path: Path) -> tuple[int, bool, int] | None:
    import mmap

    from ai_edge_litert import schema_py_generated as schema

    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        if len(buf) < 8 or not schema.Model.ModelBufferHasIdentifier(buf, 0):
            return None
        model = schema.Model.GetRootAs(buf, 0)
        graphs, limit, total, tensors = model.SubgraphsLength(), limits.current().ops, 0, 0
        for i in range(min(graphs, limit + 1)):  # a million empty subgraphs: stop past the limit
            graph = model.Subgraphs(i)
            ops = graph.OperatorsLength()
            tensors += graph.TensorsLength()
            if max(ops, tensors) * 4 > len(buf):  # a list longer than the file: damaged, not big
                return None
            total += max(ops, 1)  # a subgraph without ops counts as one: LiteRT prepares each
        return total, graphs <= limit, tensors


def _onnx_node_count(path: Path) -> tuple[int, bool, int]:
    """Read from the protobuf wire format (importing onnx alone takes a second or more), each node
    skipped by its length but for its attributes (If, Loop and Scan carry graphs in them); past ten
    times the op limit, no more nodes are counted."""
    import mmap

    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        limit, total = limits.current().ops, 0
        # (start, end, the field that holds the nodes) of the graph and of each function
        messages = [(start, end, ONNX_NODES[number]) for number, start, end in _protobuf_fields(buf, 0, len(buf))
                    if number in ONNX_NODES]
        while messages:
            start, end, node_field = messages.pop()
            for number, node_start, node_end in _protobuf_fields(buf, start, end):
                if number != node_field:
                    continue
                total += 1
                if total > 10 * limit:  # enough for the message (50M empty nodes fit in 100 MB): "or more"
                    return total, False, 0
                for attribute in _protobuf_fields(buf, node_start, node_end):
                    if attribute[0] == NODE_ATTRIBUTE:
                        messages += [(s, e, GRAPH_NODE) for n, s, e in _protobuf_fields(buf, *attribute[1:])
                                     if n in ATTRIBUTE_GRAPHS]
        return total, True, 0


# ModelProto.graph (7: GraphProto, nodes in 1) and .functions (25: FunctionProto, nodes in 7);
# NodeProto.attribute (5), AttributeProto.g (6) and .graphs (11)
GRAPH_NODE = 1
ONNX_NODES = {7: GRAPH_NODE, 25: 7}
NODE_ATTRIBUTE = 5
ATTRIBUTE_GRAPHS = (6, 11)


def _protobuf_fields(buf, start: int, end: int):
    """(field number, start, end) of each length-delimited field of the message in buf[start:end];
    the other wire types are skipped."""
    at = start
    while at < end:
        key, at = _varint(buf, at)
        kind = key & 7
        if kind == 0:
            _, at = _varint(buf, at)
        elif kind == 1 or kind == 5:
            at += 8 if kind == 1 else 4
        elif kind == 2:
            size, at = _varint(buf, at)
            if at + size > end:
                raise ValueError("a field runs past the end of its message")
            yield key >> 3, at, at + size
            at += size
        else:
            raise ValueError(f"wire type {kind} is not a protobuf type ONNX uses")


def _varint(buf, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = buf[at]
        value |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if byte < 0x80 or shift > 63:
            return value, at


def inspect_tflite(path: Path) -> dict:
    from ai_edge_litert import schema_py_generated as schema

    buf = _tflite_bytes(path)
    try:
        model = _undamaged(path, Fields(schema.Model.GetRootAs(buf, 0), schema))
        info = _describe_tflite(model, schema)
    except EdgekitError:
        raise
    except Exception as exc:  # a damaged flatbuffer fails in many ways while being walked
        raise EdgekitError(f"{path} is a damaged TFLite flatbuffer ({type(exc).__name__}: {exc})") from None
    return {"path": str(path), "format": "tflite", "size_bytes": len(buf), **info}


def tflite_damage(model) -> str | None:
    """What makes a parsed .tflite file unusable by any runtime, in words, or None: an index
    (buffer, tensor, operator code, subgraph) past the end of its list, an operator that reads a
    tensor that it or a later operator writes (runtimes run operators in file order, so that reads
    nothing; variable tensors hold state and are exempt), or a tensor with more elements than
    TFLite's kernels count in their 32-bit flat sizes. Only what no runtime could run: LiteRT
    refuses some files that TFLite Micro runs (docs/DESIGN.md, pitfall 23)."""
    buffers, codes = len(model.buffers or []), len(model.operatorCodes or [])
    subgraphs = model.subgraphs or []
    for g, graph in enumerate(subgraphs):
        tensors = graph.tensors or []

        def name(t: int) -> str:
            return f"tensor {t} ({(tensors[t].name or b'').decode(errors='replace')!r}) of subgraph {g}"

        def out_of_range(indices: list[int], what: str, lowest: int = 0) -> str | None:
            bad = next((i for i in indices if not lowest <= i < len(tensors)), None)
            return None if bad is None else f"{what} of subgraph {g} names tensor {bad}, and it has {len(tensors)}"

        for t, tensor in enumerate(tensors):
            if not 0 <= tensor.buffer < buffers:
                return f"{name(t)} names buffer {tensor.buffer}, and the file has {buffers}"
            for shape in (_ints(tensor.shape), _ints(tensor.shapeSignature)):
                count = math.prod(d for d in shape if d > 0)
                if count > MAX_TENSOR_ELEMENTS:
                    return (f"{name(t)} has shape {shape}: {count:,} elements, more than TFLite's kernels "
                            f"count ({MAX_TENSOR_ELEMENTS:,})")
        problem = out_of_range(_ints(graph.inputs), "an input") or out_of_range(_ints(graph.outputs), "an output")
        if problem:
            return problem
        ops = [(op.opcodeIndex, _ints(op.inputs), _ints(op.outputs)) for op in graph.operators or []]
        written: dict[int, int] = {}  # tensor -> the first operator that writes it
        for o, (code, inputs, outputs) in enumerate(ops):
            if not 0 <= code < codes:
                return f"operator {o} of subgraph {g} names operator code {code}, and the file has {codes}"
            problem = (out_of_range(inputs, f"operator {o}", lowest=-1)  # -1: an optional input left out
                       or out_of_range(outputs, f"operator {o}", lowest=-1))
            if problem:
                return problem
            for t in outputs:
                written.setdefault(t, o)
        for o, (_, inputs, _) in enumerate(ops):
            for t in inputs:
                if written.get(t, -1) >= o and not tensors[t].isVariable:
                    writer = "it writes itself" if written[t] == o else f"operator {written[t]} writes after it"
                    return f"operator {o} of subgraph {g} reads {name(t)}, which {writer}"
    for signature in model.signatureDefs or []:
        if not 0 <= signature.subgraphIndex < len(subgraphs):
            return f"a signature names subgraph {signature.subgraphIndex}, and the file has {len(subgraphs)}"
        count = len(subgraphs[signature.subgraphIndex].tensors or [])
        bad = next((m.tensorIndex for m in [*(signature.inputs or []), *(signature.outputs or [])]
                    if not 0 <= m.tensorIndex < count), None)
        if bad is not None:
            return f"a signature names tensor {bad} of subgraph {signature.subgraphIndex}, and it has {count}"
    return None


def _ints(values) -> list[int]:
    """A flatbuffer vector (a numpy array, a list or None) as Python ints."""
    if values is None:
        return []
    return values.tolist() if isinstance(values, np.ndarray) else [int(v) for v in values]


def tflite_op_types(path: Path) -> list[str]:
    """The op type of each operator code a .tflite declares, read through a memory map without
    reading its weights, once its structure is checked (a damaged file is refused before any
    runtime loads it)."""
    import mmap

    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size < 8:
            _tflite_bytes(path)  # says why
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            _tflite_bytes(path, buf)
            types, problem = _read_op_types(path, buf)
    if problem:  # raised once the map is closed: a traceback would hold views of it open
        raise EdgekitError(problem)
    return types


def _read_op_types(path: Path, buf) -> tuple[list[str] | None, str | None]:
    """(the op types, None), or (None, what is damaged): nothing read from `buf` outlives the call."""
    from ai_edge_litert import schema_py_generated as schema

    try:
        return _op_codes(_undamaged(path, Fields(schema.Model.GetRootAs(buf, 0), schema)), schema)[0], None
    except EdgekitError as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - as inspect_tflite
        return None, f"{path} is a damaged TFLite flatbuffer ({type(exc).__name__}: {exc})"


def _undamaged(path: Path, model):
    """`model` (the parsed file at `path`), or one line saying what is damaged (tflite_damage)."""
    problem = tflite_damage(model)
    if problem:
        raise EdgekitError(f"{path} is a damaged TFLite file: {problem}; convert or export the model again")
    return model


def _tflite_bytes(path: Path, buf=None) -> bytes:
    """The file's bytes (or `buf`, its map), once its TFL3 identifier is checked."""
    from ai_edge_litert import schema_py_generated as schema

    buf = path.read_bytes() if buf is None else buf
    if len(buf) < 8 or not schema.Model.ModelBufferHasIdentifier(buf, 0):
        raise EdgekitError(f"{path} is not a TFLite flatbuffer (no TFL3 identifier): the file is damaged")
    return buf


class Fields:
    """A flatbuffer table seen through the names of the schema's object API (`graph.tensors[i].shape`,
    `op.builtinOptions.strideW`), each field read when first used. Unpacking a whole model
    (`ModelT.InitFromObj`) costs about 0.2 ms an op in Python, most of it on fields inspect never
    reads: for a graph of 20k ops, 5 s of 7."""

    def __init__(self, table, schema):
        self._table, self._schema = table, schema

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        table, getter = self._table, name[0].upper() + name[1:]
        if hasattr(table, getter + "AsNumpy"):  # a vector of numbers: numpy, as ModelT has it
            value = None if getattr(table, getter + "IsNone")() else getattr(table, getter + "AsNumpy")()
        elif hasattr(table, getter + "Length"):  # a vector of tables
            value = None if getattr(table, getter + "IsNone")() else _FieldsList(table, getter, self._schema)
        elif hasattr(table, getter + "Type"):  # a union: the table of its type
            creator = getattr(self._schema, getter + "Creator")
            value = creator(getattr(table, getter + "Type")(), getattr(table, getter)())
        elif hasattr(table, getter):
            value = getattr(table, getter)()
            if hasattr(value, "_tab"):
                value = Fields(value, self._schema)
        else:
            raise AttributeError(name)
        setattr(self, name, value)  # read once
        return value


class _FieldsList:
    """A vector of tables, each read when first indexed (a list's negative indices too)."""

    def __init__(self, table, getter: str, schema):
        self._get, self._schema = getattr(table, getter), schema
        self._length = getattr(table, getter + "Length")()
        self._read: dict[int, Fields] = {}

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> Fields:
        index = int(index)
        index = index + self._length if index < 0 else index
        if not 0 <= index < self._length:
            raise IndexError(f"index {index} is out of range (the list holds {self._length})")
        if index not in self._read:
            self._read[index] = Fields(self._get(index), self._schema)
        return self._read[index]


def _describe_tflite(model, schema) -> dict:
    type_names = _type_names(schema)
    codes, custom = _op_codes(model, schema)
    signatures, inputs, outputs = _tflite_io(model, type_names)
    ops = collections.Counter()
    for sub in model.subgraphs:
        for op in sub.operators or []:
            ops[codes[op.opcodeIndex]] += 1
    flex = sorted(name for name in ops if name.startswith(FLEX_PREFIX))
    return {
        "signatures": signatures,
        "inputs": inputs,
        "outputs": outputs,
        "subgraphs": len(model.subgraphs),
        "ops": dict(sorted(ops.items(), key=lambda kv: (-kv[1], kv[0]))),
        "needs_flex": bool(flex),
        "flex_ops": flex,
        "custom_ops": sorted(n for n in ops if n in custom and not n.startswith(FLEX_PREFIX)),
        **tflite_costs(model, codes, type_names),
    }


def tflite_io(path: Path) -> dict:
    """The inputs and outputs of a .tflite as inspect_tflite gives them (its first signature's, else
    the main graph's), read from the flatbuffer once its structure is checked, without its costs and
    without loading a runtime: LiteRT refuses some files that TFLite Micro runs (docs/DESIGN.md,
    pitfall 23), so no runtime's refusal may stop another from describing a file."""
    from ai_edge_litert import schema_py_generated as schema

    buf = _tflite_bytes(path)
    try:
        model = _undamaged(path, Fields(schema.Model.GetRootAs(buf, 0), schema))
        _, inputs, outputs = _tflite_io(model, _type_names(schema))
    except EdgekitError:
        raise
    except Exception as exc:  # noqa: BLE001 - as inspect_tflite
        raise EdgekitError(f"{path} is a damaged TFLite flatbuffer ({type(exc).__name__}: {exc})") from None
    return {"inputs": inputs, "outputs": outputs}


def _type_names(schema) -> dict[int, str]:
    return {v: k.lower() for k, v in vars(schema.TensorType).items() if not k.startswith("_")}


def _tflite_io(model, type_names: dict[int, str]) -> tuple[list[str], list[dict], list[dict]]:
    """(the main graph's signature keys, its inputs, its outputs): the first signature's tensors,
    named as the signature names them, else the graph's own."""
    if not model.subgraphs:
        raise EdgekitError("the TFLite model has no subgraphs")
    graph = model.subgraphs[0]

    def tensor(index: int, name: str | None = None) -> dict:
        t = graph.tensors[index]
        shape = [int(d) for d in (t.shapeSignature if t.shapeSignature is not None else t.shape)]
        entry = {"name": name or (t.name or b"").decode(errors="replace"),
                 "dtype": type_names.get(t.type, str(t.type)),
                 "shape": [None if d < 0 else d for d in shape]}
        if t.shapeSignature is not None and -1 in shape[1:]:  # the size the file stores for its free dimensions
            entry["stored_shape"] = [int(d) for d in t.shape]
        q = t.quantization
        if q is not None and q.scale is not None and len(q.scale):
            entry["scale"] = [float(s) for s in np.asarray(q.scale).ravel()]
            entry["zero_point"] = [int(z) for z in np.asarray(q.zeroPoint).ravel()]
            if len(entry["scale"]) > 1:
                entry["quantized_dimension"] = int(q.quantizedDimension)
        return entry

    signatures = {}
    for sig in model.signatureDefs or []:
        if sig.subgraphIndex == 0:
            signatures[(sig.signatureKey or b"").decode()] = {
                "inputs": [tensor(m.tensorIndex, m.name.decode()) for m in sig.inputs or []],
                "outputs": [tensor(m.tensorIndex, m.name.decode()) for m in sig.outputs or []],
            }
    first = next(iter(signatures.values()), None)
    return (sorted(signatures), first["inputs"] if first else [tensor(i) for i in graph.inputs],
            first["outputs"] if first else [tensor(i) for i in graph.outputs])


def _op_codes(model, schema) -> tuple[list[str], set[str]]:
    """The op type of every operator code (builtin name or custom code), and the custom ones."""
    op_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    codes, custom = [], set()
    for code in model.operatorCodes or []:
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        if builtin == schema.BuiltinOperator.CUSTOM:
            custom.add((code.customCode or b"?").decode(errors="replace"))
            codes.append((code.customCode or b"?").decode(errors="replace"))
        else:
            codes.append(op_names.get(builtin, f"BUILTIN_{builtin}"))
    return codes, custom


def tflite_ops(buf: bytes) -> list[tuple[str, list[str]]]:
    """The main graph's ops in order: (op type, names of the tensors it writes)."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(buf, 0))
    codes, _ = _op_codes(model, schema)
    graph = model.subgraphs[0]
    return [(codes[op.opcodeIndex], [(graph.tensors[i].name or b"").decode(errors="replace")
                                     for i in (op.outputs if op.outputs is not None else [])])
            for op in graph.operators or []]


def inspect_onnx(path: Path) -> dict:
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx raises DecodeError, ValidationError and others
        raise EdgekitError(f"{path} is not a valid ONNX model ({first_line(exc)})") from None
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}

    def value_info(v) -> dict:
        kind = v.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in kind.shape.dim]
        try:
            dtype = onnx.helper.tensor_dtype_to_np_dtype(kind.elem_type).name
        except KeyError:  # the checker does not look at element types
            dtype = f"unknown type {kind.elem_type}"
        return {"name": v.name, "dtype": dtype, "shape": dims}

    def values(name: str) -> np.ndarray:
        try:
            return numpy_helper.to_array(inits[name]).ravel()
        except (ValueError, TypeError, KeyError) as exc:  # data that disagrees with its dims or type
            raise EdgekitError(f"{path} has a damaged initializer {name!r} ({first_line(exc)})") from None

    quant = {}
    for node in graph.node:  # a QuantizeLinear's input 0 is the tensor it quantizes
        if node.op_type == "QuantizeLinear" and len(node.input) >= 3 and node.input[1] in inits:
            scale = values(node.input[1])
            zero = values(node.input[2]) if node.input[2] in inits else []
            quant[node.input[0]] = {"scale": [float(s) for s in scale], "zero_point": [int(z) for z in zero]}
    inputs = [value_info(v) for v in graph.input if v.name not in inits]
    outputs = [value_info(v) for v in graph.output]
    for entry in inputs + outputs:
        entry.update(quant.get(entry["name"], {}))
    ops = collections.Counter(node.op_type for node in graph.node)
    used_domains = {""} | {node.domain for node in graph.node}  # quantizers declare many unused ones
    return {
        "path": str(path), "format": "onnx", "size_bytes": path.stat().st_size,
        "opsets": {imp.domain or "ai.onnx": imp.version for imp in model.opset_import
                   if (imp.domain or "") in used_domains},
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "inputs": inputs, "outputs": outputs,
        "ops": dict(sorted(ops.items(), key=lambda kv: (-kv[1], kv[0]))),
        "quantized_tensors": len(quant),
        "needs_flex": False,
        "macs": onnx_macs(model),
    }
