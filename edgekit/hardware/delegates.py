"""Which ops of a `.tflite` each delegate takes, and which fall back to LiteRT's CPU kernels.

Real delegates applied by the real LiteRT interpreter: XNNPACK (LiteRT's default CPU delegate),
the GPU delegate where its library loads, and an external delegate given by path. Which nodes
each partition took is derived from the interpreter after delegation (`runtimes/delegation.py`,
which a runtime's profile uses too). Only the main subgraph is exposed.

TFLite's static GPU compatibility check (TensorFlow's model analyzer) is reported where it
works: TF 2.21's pip build calls every model compatible, which a canary model reveals.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import io
import re
from pathlib import Path

from edgekit.core.errors import BackendUnavailable, EdgekitError, first_line
from edgekit.core.lazy_imports import quiet_stderr, tensorflow
from edgekit.hardware.npu_compile import delegate_entry
from edgekit.models.inspection import inspect_model
from edgekit.models.loading import is_keras_file
from edgekit.runtimes.delegation import builtin_only, node_names, node_partitions
from edgekit.runtimes.litert import load_delegate
from edgekit.runtimes.litert_guard import check_model

GPU_DELEGATE_LIBRARY = "libtensorflowlite_gpu_delegate.so"
GPU_STATIC = "gpu (static check by TFLite's analyzer)"


def delegate_report(path: str | Path, delegate: str | None = None,
                    delegate_options: dict | tuple = ()) -> dict:
    """{"delegates": [...]}: per delegate its status, and when it ran, its partitions and where
    each node of the main subgraph runs. `delegate` is an external delegate library, which must
    load (EdgekitError otherwise)."""
    from ai_edge_litert import interpreter as litert

    path = Path(path)
    if path.suffix == ".onnx":
        raise EdgekitError(f"{path}: --delegates applies to .tflite files (onnxruntime has execution "
                           "providers, not delegates)")
    if path.is_dir() or is_keras_file(path):  # a float model: LiteRT runs its conversion, not it
        raise EdgekitError(f"{path}: --delegates applies to .tflite files: convert the model first "
                           f"(edgekit convert {path})")
    info = inspect_model(path)  # refuses a damaged file with its own message
    # ops that LiteRT has no kernel for: the builtin kernels cannot check the file (a delegate
    # may still take them), and XNNPACK cannot run without them
    unknown = info["flex_ops"] + info["custom_ops"]
    check_model(path, builtin_kernels=not unknown)  # what would crash LiteRT, refused first
    options = dict(delegate_options)
    try:  # first: the one delegate the user asked for must load
        external = _load(delegate, options) if delegate else None
    except BackendUnavailable as exc:
        raise EdgekitError(f"{exc} (--delegate takes the path of a TFLite delegate library that loads here, "
                           "--delegate-option the options it takes)") from None
    names = node_names(path)
    report = {"delegates": []}
    if unknown:
        report["delegates"].append(_skipped("xnnpack", f"LiteRT has no kernels for {', '.join(unknown)}, "
                                                       "so it cannot load the model"))
    else:
        report["delegates"].append(_apply(path, "xnnpack", names, litert.OpResolverType.AUTO, None))
    try:
        gpu = _load(GPU_DELEGATE_LIBRARY, {})
    except BackendUnavailable as exc:
        report["delegates"].append(_skipped("gpu", f"{exc} (LiteRT's GPU path on Linux is CompiledModel: "
                                                   "bench --runtime litert-compiled:gpu)"))
    else:
        report["delegates"].append(_apply(path, "gpu", names, builtin_only(), [gpu]))
    report["delegates"].append(_gpu_static_check(path, names))
    if external is not None:
        entry = _apply(path, Path(delegate).name, names, builtin_only(), [external])
        report["delegates"].append({**entry, "library": delegate, "options": options})

    report["delegates"].append(delegate_entry(path, info["ops"]))
    if info["subgraphs"] > 1:
        report["note"] = (f"only the main subgraph's {len(names)} ops are shown: LiteRT's Python "
                          "interpreter exposes no other")
    return report


def _load(library: str, options: dict):
    """The delegate in `library`, or BackendUnavailable with the reason."""
    return load_delegate(library, {str(k): str(v) for k, v in options.items()})


def _apply(path: Path, name: str, names: list[str], resolver, delegates) -> dict:
    from ai_edge_litert import interpreter as litert

    try:
        with quiet_stderr(replay_on_error=False):  # "Created TensorFlow Lite XNNPACK delegate"
            interp = litert.Interpreter(model_path=str(path), experimental_op_resolver_type=resolver,
                                        experimental_delegates=delegates)
            interp.allocate_tensors()  # XNNPACK, the default delegate, is applied here
    except (ValueError, RuntimeError) as exc:
        return {"name": name, "status": "failed", "reason": first_line(exc)}
    wrapper = interp._interpreter
    owner, note = node_partitions(wrapper, len(names))
    entry = {**_summary(name, names, {i: name for i in owner}, owner),
             "partitions": wrapper.NumNodes() - len(names)}  # one DELEGATE node per partition
    return {**entry, "note": note} if note else entry


def _summary(name: str, names: list[str], on: dict[int, str], owner: dict[int, int] | None = None) -> dict:
    nodes = [{"index": i, "op": op, "on": on.get(i, "cpu")} for i, op in enumerate(names)]
    for node in nodes:
        if node["index"] in (owner or {}):
            node["partition"] = owner[node["index"]]

    def count(ops):
        return dict(sorted(collections.Counter(ops).items(), key=lambda kv: (-kv[1], kv[0])))

    return {"name": name, "status": "ok", "ops": len(names),
            "delegated_ops": count(n["op"] for n in nodes if n["on"] != "cpu"),
            "cpu_ops": count(n["op"] for n in nodes if n["on"] == "cpu"), "nodes": nodes}


def _skipped(name: str, reason: str) -> dict:
    return {"name": name, "status": "skipped", "reason": reason}


def _gpu_static_check(path: Path, names: list[str]) -> dict:
    try:
        tf = tensorflow()
        analyze = tf.lite.experimental.Analyzer.analyze
    except (ImportError, AttributeError) as exc:
        return _skipped(GPU_STATIC, f"TensorFlow's model analyzer is unavailable ({first_line(exc)})")
    if 0 not in parse_gpu_warnings(_analyze(analyze, model_content=_canary_model())):
        return _skipped(GPU_STATIC, f"TensorFlow {tf.__version__}'s analyzer calls every model GPU-compatible "
                                    "in this build (even an unknown custom op), so its check says nothing")
    try:
        refused = parse_gpu_warnings(_analyze(analyze, model_path=str(path)))
    except (ValueError, RuntimeError) as exc:
        return {"name": GPU_STATIC, "status": "failed", "reason": first_line(exc)}
    entry = _summary(GPU_STATIC, names, {i: "gpu" for i in range(len(names)) if i not in refused})
    for node in entry["nodes"]:
        if node["index"] in refused:
            node["reason"] = refused[node["index"]]
    return {**entry, "partitions": None}  # a static check does not partition the graph


def _analyze(analyze, **model) -> str:
    """The analyzer's report, which it prints."""
    out = io.StringIO()
    with quiet_stderr(replay_on_error=False), contextlib.redirect_stdout(out):
        analyze(gpu_compatibility=True, **model)
    return out.getvalue()


_OP_LINE = re.compile(r"\s*Op#(\d+) ")
_WARNING = "GPU COMPATIBILITY WARNING: "


def parse_gpu_warnings(text: str) -> dict[int, str]:
    """Main-subgraph node -> why the GPU delegate would not take it. The analyzer writes each
    refused op's warning on the line after the op (tensorflow/lite/tools/model_analyzer.cc), and a
    summary per subgraph ("GPU COMPATIBILITY WARNING: Subgraph#0 has ... at nodes 2, 3"), skipped."""
    refused: dict[int, str] = {}
    subgraph = op = None
    for line in text.splitlines():
        if (header := re.match(r"Subgraph#(\d+)", line)):
            subgraph, op = int(header.group(1)), None
        elif (match := _OP_LINE.match(line)):
            op = int(match.group(1))
        elif line.startswith(_WARNING) and subgraph == 0 and op is not None:
            message = line[len(_WARNING):].strip()
            if not message.startswith("Subgraph#"):
                refused[op] = message
    return refused


@functools.cache
def _canary_model() -> bytes:
    """A .tflite with one op that a working GPU check must refuse: a custom op it does not know."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    def tensor(name):
        t = schema.TensorT()
        t.name, t.shape, t.type, t.buffer = name, [1], schema.TensorType.FLOAT32, 0
        return t

    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    code.customCode = "EdgekitCanary"
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0], [1]
    graph = schema.SubGraphT()
    graph.tensors, graph.operators, graph.inputs, graph.outputs = [tensor("x"), tensor("y")], [op], [0], [1]
    model = schema.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, [code], [graph], [schema.BufferT()]
    builder = flatbuffers.Builder(256)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
