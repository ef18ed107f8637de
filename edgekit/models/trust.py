"""Trust: whether a model's computation can reach the file system, the network or Python, told
from its files alone, before anything in it is loaded or run.

Without `--trust-model-code` such a model is refused with one line that names the op or layer.
Everything here reads protobufs and JSON; nothing is deserialized into objects that run.

**SavedModels.** `saved_model.pb` is parsed with TensorFlow's protobuf classes and every node is
checked: the graph's own nodes and the nodes of every function in the library, which holds all
of them, nested calls and control-flow bodies included (functions named in attributes, e.g. a
`While` body or a `PartitionedCall` target, are in the library too; an attribute that names a
primitive op instead is checked as that op). The rule is a hybrid, chosen after reading TF's op
registry (about 1,900 ops, 550 of them marked stateful):

- an op TensorFlow has not registered (a custom kernel from a shared library) is refused: it can
  do anything, and nothing here can say what;
- a stateful op is refused unless it is on a short allowlist of side effects that stay in memory
  (variables, random numbers, in-memory lookup tables, TensorArrays, function calls and control
  flow, assertions and console prints, cuDNN recurrent kernels). I/O ops are stateful, so any
  I/O op TensorFlow adds later is refused by default; a denylist of the stateful ops would let
  each new one through;
- a stateless op is allowed unless it is on a denylist. The stateful bit alone cannot be the
  rule: TF marks several file readers stateless because their result depends only on their
  input (`ReadFile`, `MatchingFiles`, `ImmutableConst`, `InitializeTableFromTextFile`,
  `GenerateVocabRemapping`, `PyFuncStateless`, the `Debug*` ops, `DecodeProtoV2`/`EncodeProto`
  with a descriptor file). That list is short and closed: it was found by scanning the registry
  for ops with a file, path, URL, descriptor or stream argument. An allowlist of every pure op
  instead would run to some 1,300 names and break on each TensorFlow release.

Checkpoint ops (`SaveV2`, `RestoreV2`, `MergeV2Checkpoints`, ...) are the SavedModel's own way
of restoring its variables: they are allowed only in the saver that `saver_def` names (restore
ops in the restore half, save ops in the save half: the nodes those depend on and nothing else
depends on, and the functions only those call), and refused anywhere else, where they would read
or write a checkpoint at any path. Every tf.data op is refused: several read or write files or
reach a tf.data service, `DatasetFromGraph` runs a graph hidden in a string, and a model's
serving computation needs none of them.

**Keras configs** (Keras 3 and tf-keras, `.keras` and `.h5`), walked without recursion since a
hostile config can nest deeper than Python's stack: layers that hold Python bytecode (`Lambda`),
tf-keras op layers (`TFOpLambda`, `SlicingOpLambda`) whose TF function is not on an allowlist of
namespaces and names that only compute on tensors (so `io.*`, `raw_ops.*`, `data.*`,
`summary.*`, `debugging.*`, `saved_model.*`, `print`, `py_function`, `numpy_function`,
`load_op_library` and anything TensorFlow adds are refused; `strings.*` is allowed: string ops
compute on tensors and cannot reach a file without `io.*`), the tf-keras layers that run a raw
NodeDef or reach attributes of a tensor, lookup and vectorization layers whose vocabulary (or
idf weights) is a file path, Keras 3's `TFSMLayer` (it loads and runs a SavedModel from a path,
past this check), and any object that is not Keras's own: a `module` outside Keras, tf-keras
and the model-optimization toolkit's QAT classes (tf-keras imports whatever module a `.keras`
config names), a `package>Name` registered name, a function that is not a Keras builtin.
"""

from __future__ import annotations

import builtins
import re
from pathlib import Path

from edgekit.core.errors import EdgekitError, first_line, switch
from edgekit.core.lazy_imports import tensorflow

TRUST_HELP = ("load and run a model even if its graph or layers can touch files, the network or Python "
              "(Lambda, file I/O ops, custom objects): only for a model whose source you trust")
MAX_FINDINGS_NAMED = 3  # the error line names this many, then counts the rest

# --- SavedModel graphs ----------------------------------------------------------------------

# Stateful ops whose side effects stay in this process's memory.
SAFE_STATEFUL_OPS = frozenset({
    # variables and resource handles
    "VarHandleOp", "_VarHandlesOp", "ReadVariableOp", "_ReadVariablesOp", "AssignVariableOp",
    "AssignAddVariableOp", "AssignSubVariableOp", "VarIsInitializedOp", "DestroyResourceOp",
    "DisableCopyOnRead", "VariableShape", "ResourceGather", "ResourceGatherNd",
    "ResourceStridedSliceAssign", "ResourceCountUpTo", "Variable", "VariableV2", "TemporaryVariable",
    "Empty", "DeepCopy", "_ParallelConcatStart", "GuaranteeConst",
    # function calls and control flow (their bodies are checked as functions of their own)
    "StatefulPartitionedCall", "If", "While", "Case", "_If", "_While", "_Arg", "_Retval", "_DeviceArg",
    "_DeviceRetval",
    # random numbers
    "RandomUniform", "RandomUniformInt", "RandomStandardNormal", "TruncatedNormal",
    "ParameterizedTruncatedNormal", "RandomGamma", "RandomPoisson", "RandomPoissonV2", "RandomShuffle",
    "RandomCrop", "Multinomial", "StatefulStandardNormal", "StatefulStandardNormalV2",
    "StatefulTruncatedNormal", "StatefulUniform", "StatefulUniformInt", "StatefulUniformFullInt",
    "StatefulRandomBinomial", "RngSkip", "RngReadAndSkip", "NonDeterministicInts", "StatelessRandomGetAlg",
    "SampleDistortedBoundingBox", "SampleDistortedBoundingBoxV2",
    # lookup tables filled from tensors (the ones filled from files are denied below)
    "HashTable", "HashTableV2", "MutableHashTable", "MutableHashTableV2", "MutableHashTableOfTensors",
    "MutableHashTableOfTensorsV2", "MutableDenseHashTable", "MutableDenseHashTableV2", "AnonymousHashTable",
    "AnonymousMutableHashTable", "AnonymousMutableHashTableOfTensors", "AnonymousMutableDenseHashTable",
    "LookupTableFindV2", "LookupTableImportV2", "LookupTableInsertV2", "LookupTableRemoveV2",
    "LookupTableSizeV2", "LookupTableExportV2", "InitializeTableV2",
    # TF1 stacks (TensorArrays are allowed by prefix)
    "Stack", "StackV2", "StackPushV2", "StackPopV2", "StackCloseV2",
    # checks that raise, and prints to the console (PrintV2 to a file is denied below)
    "Assert", "Print", "PrintV2", "CheckNumerics", "CheckNumericsV2", "Timestamp",
    # cuDNN recurrent kernels: tf-keras keeps a GPU variant of each LSTM/GRU function
    "CudnnRNN", "CudnnRNNV2", "CudnnRNNV3", "CudnnRNNBackprop", "CudnnRNNBackpropV2", "CudnnRNNBackpropV3",
})
SAFE_STATEFUL_PREFIXES = ("ResourceApply", "ResourceSparseApply", "ResourceScatter", "TensorArray")

RESTORE_OPS = frozenset({"RestoreV2", "Restore", "RestoreSlice"})
SAVE_OPS = frozenset({"SaveV2", "Save", "SaveSlices", "MergeV2Checkpoints"})

READS_FILES, WRITES_FILES = "reads files", "writes files"
DENIED_OPS = {
    **{op: READS_FILES for op in ("ReadFile", "MatchingFiles", "GenerateVocabRemapping", "LoadAndRemapMatrix",
                                  "FixedUnigramCandidateSampler", "Skipgram", "RecordInput", "ImportEvent")},
    "ImmutableConst": "maps a file into memory",
    "InitializeTableFromTextFile": "fills a lookup table from a file",
    "InitializeTableFromTextFileV2": "fills a lookup table from a file",
    "InitializeTableFromDataset": "fills a lookup table from a tf.data pipeline",
    **{op: WRITES_FILES for op in ("WriteFile", "DumpTensor", "CreateSummaryFileWriter", "CreateSummaryDbWriter")},
    "FileSystemSetConfiguration": "changes how files are reached",
    **{op: "reads a checkpoint outside the SavedModel's own variable restore" for op in RESTORE_OPS},
    **{op: "writes a checkpoint outside the SavedModel's own saver" for op in SAVE_OPS},
    "DTensorRestoreV2": "reads a checkpoint", "CalibrationStatisticsSaver": WRITES_FILES,
    **{op: "runs Python code" for op in ("PyFunc", "PyFuncStateless", "EagerPyFunc")},
    **{op: "can send tensors to a debugger at a file or network address" for op in ("Copy", "CopyHost")},
    **{op: "reaches other processes over the network" for op in ("Send", "Recv", "_Send", "_Recv", "_HostSend",
                                                                  "_HostRecv", "RemoteCall")},
    "XlaCustomCall": "calls native code by name", "XlaCustomCallV2": "calls native code by name",
}
DENIED_PREFIXES = {"Debug": "is a debugger op that can write tensors to a file or network address",
                   "Rpc": "reaches other processes over the network",
                   "Collective": "reaches other processes over the network",
                   "Nccl": "reaches other devices or hosts"}
DENIED_PARTS = {"Reader": "reads records from files",
                "Dataset": "is a tf.data op (some read or write files or reach a network service)",
                "Iterator": "is a tf.data op (some read or write files or reach a network service)"}
CONSOLE_STREAMS = {"stderr", "stdout", "log(info)", "log(warning)", "log(error)"}


def check_saved_model(path: Path) -> None:
    """Refuse a SavedModel whose graph can touch files, the network or Python."""
    _refuse_if(path, saved_model_findings(path))


def saved_model_findings(path: Path) -> list[str]:
    """What in a SavedModel folder's graphs reaches outside tensor math, in words (empty: nothing)."""
    tensorflow()  # quietly, before the protobuf classes import it
    from tensorflow.python.framework import op_def_registry

    findings = []
    if (path / "saved_model.cpb").exists():  # loaders may prefer it to the graph checked here
        findings.append("a chunked graph (saved_model.cpb) that edgekit cannot check")
    for graph_def, saver_def in _graphs(path):
        findings += _GraphCheck(graph_def, saver_def, op_def_registry.get).findings()
    return findings


def _graphs(path: Path) -> list:
    """(graph_def, saver_def) of every meta graph, in saved_model.pb and in saved_model.pbtxt
    (TensorFlow reads the first that exists; both are checked)."""
    from google.protobuf import message, text_format
    from tensorflow.core.protobuf import saved_model_pb2

    graphs = []
    for file in (path / "saved_model.pb", path / "saved_model.pbtxt"):
        if not file.is_file():
            continue
        saved_model = saved_model_pb2.SavedModel()
        try:
            if file.suffix == ".pb":
                saved_model.ParseFromString(file.read_bytes())
            else:
                text_format.Parse(file.read_text(), saved_model)
        except (message.DecodeError, text_format.ParseError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise EdgekitError(f"model {path} has a {file.name} that cannot be read ({first_line(exc)}): "
                               "the file is damaged") from None
        graphs += [(meta.graph_def, meta.saver_def) for meta in saved_model.meta_graphs]
    return graphs


class _GraphCheck:
    """One graph and its function library, checked node by node."""

    def __init__(self, graph_def, saver_def, op_def):
        self.graph_def, self.op_def = graph_def, op_def
        self.functions = {f.signature.name: f for f in graph_def.library.function}
        self.nodes = {n.name: n for n in graph_def.node}
        self.restore_nodes = self._private_closure(saver_def.restore_op_name)
        self.save_nodes = self._private_closure(saver_def.save_tensor_name)
        self.restore_nodes, self.save_nodes = (self.restore_nodes - self.save_nodes,
                                               self.save_nodes - self.restore_nodes)
        self.restore_functions, self.save_functions = self._saver_functions()

    def findings(self) -> list[str]:
        found = []
        for node in self.graph_def.node:
            allowed = (RESTORE_OPS if node.name in self.restore_nodes
                       else SAVE_OPS if node.name in self.save_nodes else frozenset())
            found += self._node_findings(node, allowed, f"node {node.name!r} of the graph")
        for name, function in self.functions.items():
            allowed = (RESTORE_OPS if name in self.restore_functions
                       else SAVE_OPS if name in self.save_functions else frozenset())
            for node in function.node_def:
                found += self._node_findings(node, allowed, f"function {name}")
        return found

    def _node_findings(self, node, allowed: frozenset, where: str) -> list[str]:
        found = []
        if node.op not in self.functions or self.op_def(node.op) is not None:
            problem = None if node.op in allowed else op_problem(node.op, node.attr, self.op_def)
            if problem:
                found.append(f"op {node.op} ({problem}) in {where}")
        for target, attrs in _function_attrs(node):
            if target not in self.functions:  # an attribute may name a primitive op: it runs as one
                problem = op_problem(target, attrs, self.op_def)
                if problem:
                    found.append(f"op {target} ({problem}) called by {node.op} in {where}")
        return found

    def _calls(self, node) -> set[str]:
        called = {target for target, _ in _function_attrs(node) if target in self.functions}
        if node.op in self.functions:
            called.add(node.op)
        return called

    def _private_closure(self, tensor_name: str) -> set[str]:
        """The nodes the saver's save tensor (or restore op) depends on that nothing else in the
        graph depends on: what only saving (or restoring) runs."""
        root = _node_name(tensor_name)
        if root not in self.nodes:
            return set()
        region = self._inputs_closure([root])
        outside = [n.name for n in self.graph_def.node if n.name not in region]
        used_outside = self._inputs_closure(
            [_node_name(i) for name in outside for i in self.nodes[name].input])
        return region - used_outside

    def _inputs_closure(self, names: list[str]) -> set[str]:
        seen, pending = set(), list(names)
        while pending:
            name = pending.pop()
            if name in seen or name not in self.nodes:
                continue
            seen.add(name)
            pending += [_node_name(i) for i in self.nodes[name].input]
        return seen

    def _saver_functions(self) -> tuple[set[str], set[str]]:
        """Functions called only from the restore half, and only from the save half."""
        callees = {name: set().union(*(self._calls(n) for n in f.node_def)) for name, f in self.functions.items()}
        called = set().union(*callees.values(), *(self._calls(n) for n in self.graph_def.node))
        saver_nodes = self.restore_nodes | self.save_nodes
        general_roots = set().union(*(self._calls(n) for n in self.graph_def.node if n.name not in saver_nodes))
        general_roots |= set(self.functions) - called  # entry points: signatures, restored functions

        def reach(roots):
            seen, pending = set(), list(roots)
            while pending:
                name = pending.pop()
                if name not in seen:
                    seen.add(name)
                    pending += callees.get(name, ())
            return seen

        general = reach(general_roots)
        restore = reach(set().union(*(self._calls(self.nodes[n]) for n in self.restore_nodes)))
        save = reach(set().union(*(self._calls(self.nodes[n]) for n in self.save_nodes)))
        return restore - general - save, save - general - restore


def op_problem(op: str, attrs, op_def) -> str | None:
    """Why running op type `op` (with node attributes `attrs`) can reach outside tensor math; None
    when it cannot. `op_def(name)` is TF's registered OpDef, or None."""
    if op in DENIED_OPS:
        return DENIED_OPS[op]
    for prefix, reason in DENIED_PREFIXES.items():
        if op.startswith(prefix):
            return reason
    for part, reason in DENIED_PARTS.items():
        if part in op:
            return reason
    if op == "PrintV2":
        stream = _string_attr(attrs, "output_stream", "stderr")
        if stream not in CONSOLE_STREAMS:
            return f"prints to {stream!r}"
    if op in ("DecodeProtoV2", "EncodeProto"):
        source = _string_attr(attrs, "descriptor_source", "local://")
        if source != "local://":
            return f"reads protobuf descriptors from {source!r}"
    definition = op_def(op)
    if definition is None:
        return "not an op TensorFlow knows: a custom kernel can do anything"
    if definition.is_stateful and op not in SAFE_STATEFUL_OPS and not op.startswith(SAFE_STATEFUL_PREFIXES):
        return "has side effects edgekit does not know to be safe"
    return None


def _function_attrs(node):
    """(name, attributes) of every function an op's attributes name, nested ones included."""
    pending = list(node.attr.values())
    while pending:
        value = pending.pop()
        funcs = [value.func] if value.HasField("func") else list(value.list.func)
        for func in funcs:
            yield func.name, func.attr
            pending += list(func.attr.values())


def _string_attr(attrs, key: str, default: str) -> str:
    return attrs[key].s.decode(errors="replace") if key in attrs else default


def _node_name(tensor_name: str) -> str:
    return tensor_name.lstrip("^").split(":")[0]


# --- Keras configs --------------------------------------------------------------------------

CODE_LAYERS = {"Lambda": "holds Python bytecode", "__lambda__": "holds Python bytecode",
               "TorchModuleWrapper": "unpickles a Python object"}
LOOKUP_LAYERS = {"StringLookup", "IntegerLookup", "TextVectorization"}
FILE_FIELDS = ("vocabulary", "idf_weights")
TF_OP_LAYERS = {"TFOpLambda", "SlicingOpLambda"}
# tf-keras's op layers for RaggedTensor/SparseTensor attributes: the names it creates them with
TENSOR_ATTRIBUTES = frozenset({
    "values", "flat_values", "row_splits", "nested_row_splits", "value_rowids", "nested_value_rowids",
    "row_lengths", "nested_row_lengths", "row_starts", "row_limits", "to_tensor", "to_sparse", "indices",
    "dense_shape", "with_values"})
RAGGED_CLASS_METHODS = frozenset({
    "from_value_rowids", "from_row_splits", "from_row_lengths", "from_row_starts", "from_row_limits",
    "from_uniform_row_length", "from_nested_value_rowids", "from_nested_row_splits",
    "from_nested_row_lengths", "from_tensor", "from_sparse"})

# TF namespaces whose functions only compute on tensors, and the top-level functions that do
PURE_TF_NAMESPACES = frozenset({"math", "nn", "linalg", "signal", "image", "bitwise", "sparse", "ragged", "random",
                                "dtypes", "__operators__", "quantization", "strings", "sets", "manip"})
PURE_TF_FUNCTIONS = frozenset("""
    abs acos acosh add add_n approx_top_k argmax argmin argsort as_string asin asinh atan atan2 atanh
    batch_to_space bitcast boolean_mask broadcast_dynamic_shape broadcast_static_shape broadcast_to cast
    clip_by_global_norm clip_by_norm clip_by_value complex concat constant conv conv2d_backprop_filter_v2
    conv2d_backprop_input_v2 convert_to_tensor cos cosh cumsum divide dynamic_partition dynamic_stitch
    edit_distance eig eigvals einsum ensure_shape equal exp expand_dims extract_volume_patches eye fftnd
    fill fingerprint floor gather gather_nd greater greater_equal guarantee_const histogram_fixed_width
    histogram_fixed_width_bins identity identity_n ifftnd irfftnd less less_equal linspace logical_and
    logical_not logical_or matmul matrix_square_root maximum meshgrid minimum multiply negative norm
    not_equal one_hot ones ones_like pad parallel_stack pow range rank realdiv reduce_all reduce_any
    reduce_logsumexp reduce_max reduce_mean reduce_min reduce_prod reduce_sum repeat
    required_space_to_batch_paddings reshape reverse reverse_sequence rfftnd roll round saturate_cast
    scalar_mul scatter_nd searchsorted sequence_mask shape shape_n sigmoid sign sin sinh size slice sort
    space_to_batch space_to_batch_nd split sqrt square squeeze stack stop_gradient strided_slice subtract
    tan tanh tensor_scatter_nd_add tensor_scatter_nd_max tensor_scatter_nd_min tensor_scatter_nd_sub
    tensor_scatter_nd_update tensordot tile transpose truediv truncatediv truncatemod unique
    unique_with_counts unravel_index unstack where zeros zeros_like
    div floordiv floormod mod squared_difference to_float to_int32 to_int64 batch_gather arg_max arg_min
""".split())
KERAS_PACKAGES = ("keras", "tf_keras")
QAT_MODULE = "tensorflow_model_optimization.python.core.quantization.keras"
_SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_SKIPPED_KEYS = {"compile_config"}  # loading with compile=False never deserializes it


def check_keras_config(path: Path, config) -> None:
    """Refuse a Keras model whose config can touch files, the network or Python when loaded."""
    _refuse_if(path, config_findings(config))


def config_findings(config) -> list[str]:
    """What in a Keras config reaches outside tensor math, in words (empty: nothing)."""
    return [problem for node in config_objects(config, skip=_SKIPPED_KEYS) if (problem := object_problem(node))]


def config_objects(config, skip=frozenset()):
    """Every serialized object (a dict with a class_name) in a Keras config, in order, walked
    without recursion: a hostile config can nest deeper than Python's stack."""
    pending = [config]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if isinstance(node.get("class_name"), str):
                yield node
            pending += reversed([v for k, v in node.items() if k not in skip])
        elif isinstance(node, list):
            pending += reversed(node)


def object_problem(node: dict) -> str | None:
    """Why one serialized Keras object can reach outside tensor math when loaded; None if it cannot."""
    cls, module, registered = node["class_name"], node.get("module"), node.get("registered_name")
    inner = node.get("config") if isinstance(node.get("config"), dict) else {}
    label = f"{cls} {'' if cls.endswith('Layer') else 'layer '}{_layer_name(node, inner)!r}"
    if cls in CODE_LAYERS:
        return f"{label} {CODE_LAYERS[cls]}"
    if cls == "function":
        name = node.get("config")
        if module == "builtins" and isinstance(name, str) and _SYMBOL.fullmatch(name) and ">" not in name \
                and name not in vars(builtins):
            return None  # a Keras builtin (activation, loss, ...), looked up by name in Keras
        return f"function {name!r} from module {module!r} is Python code, not a Keras builtin"
    if cls == "__typespec__":
        if isinstance(module, str) and _in_package(module, ("tensorflow", *KERAS_PACKAGES)):
            return None
        return f"type spec {node.get('spec_name')!r} from module {module!r} is not TensorFlow's"
    if cls.startswith("__") and cls.endswith("__"):
        return None  # Keras's tagged values: tensors, arrays, bytes, slices
    if isinstance(registered, str) and ">" in registered:
        return f"custom object {cls} (registered as {registered!r}) is code from outside Keras"
    if module is not None and not _keras_module(module, cls):
        return f"custom object {cls} from module {module!r} is code from outside Keras"
    if cls == "TFSMLayer":
        return f"{label} loads and runs the SavedModel {inner.get('filepath')!r}, past this check"
    if cls in TF_OP_LAYERS:
        function = inner.get("function")
        if not pure_tf_function(function):
            return f"{label} calls tf.{function}, which is not on edgekit's list of pure tensor functions"
    if cls in ("InstanceProperty", "InstanceMethod") and inner.get("attr_name") not in TENSOR_ATTRIBUTES:
        return f"{label} reaches attribute {inner.get('attr_name')!r} of a tensor"
    if cls == "ClassMethod" and (inner.get("cls_symbol") != "RaggedTensor"
                                 or inner.get("method_name") not in RAGGED_CLASS_METHODS):
        return f"{label} calls tf.{inner.get('cls_symbol')}.{inner.get('method_name')}"
    if cls == "TensorFlowOpLayer":
        return _node_def_problem(label, inner.get("node_def"))
    if cls in LOOKUP_LAYERS:
        for field in FILE_FIELDS:
            if isinstance(inner.get(field), str):
                return f"{label} reads its {field} from the file {inner[field]!r} when loaded"
    return None


def pure_tf_function(symbol) -> bool:
    """Whether a TF API name (as tf-keras's op layers store it, e.g. "math.add" or
    "compat.v1.squeeze") names a function that only computes on tensors."""
    if not isinstance(symbol, str) or not _SYMBOL.fullmatch(symbol):
        return False
    parts = symbol.split(".")
    if parts[:1] == ["compat"] and len(parts) > 2 and parts[1] in ("v1", "v2"):
        parts = parts[2:]
    if any(p.startswith("_") for p in parts if p != "__operators__"):
        return False
    if len(parts) == 1:
        return parts[0] in PURE_TF_FUNCTIONS
    return parts[0] in PURE_TF_NAMESPACES


def _node_def_problem(label: str, node_def) -> str | None:
    """tf-keras's TensorFlowOpLayer runs the raw NodeDef its config holds: check it as a graph op."""
    tensorflow()
    from google.protobuf import json_format
    from tensorflow.core.framework import node_def_pb2
    from tensorflow.python.framework import op_def_registry

    try:
        parsed = json_format.ParseDict(node_def, node_def_pb2.NodeDef())
    except (json_format.ParseError, TypeError, ValueError, AttributeError, RecursionError):
        return f"{label} holds a NodeDef that cannot be read"
    problem = op_problem(parsed.op, parsed.attr, op_def_registry.get)
    if problem is None and any(True for _ in _function_attrs(parsed)):
        problem = "calls a function"
    return f"{label} runs op {parsed.op} ({problem})" if problem else None


def _keras_module(module, cls: str) -> bool:
    if not isinstance(module, str):
        return False
    if _in_package(module, KERAS_PACKAGES):
        return True
    return _in_package(module, (QAT_MODULE,)) and cls != "function"  # QAT classes, loaded in loading.scope


def _in_package(module: str, packages) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _layer_name(node: dict, inner: dict) -> str:
    name = inner.get("name", node.get("name", "?"))
    return name if isinstance(name, str) else "?"


# --- the refusal ----------------------------------------------------------------------------

def _refuse_if(path: Path, findings: list[str]) -> None:
    if not findings:
        return
    unique = list(dict.fromkeys(findings))
    named = "; ".join(unique[:MAX_FINDINGS_NAMED])
    more = len(unique) - MAX_FINDINGS_NAMED
    if more > 0:
        named += f"; and {more} more"
    raise EdgekitError(f"model {path} can reach files, the network or Python: {named}; "
                       f"pass {switch('trust_model_code')} only if you trust its source")
