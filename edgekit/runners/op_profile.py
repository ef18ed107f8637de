"""LiteRT's benchmark_model as a per-op profiler: its op-profiling table read into the ops of a
profile (runtimes.base.PROFILE_METHODS), and its model-runtime-info proto into the placement of
each node (which delegate partition took it, which stayed on the CPU).

The table is the tool's `StatsCalculator` output (LiteRT tflite/profiling): a "Run Order"
section per graph under "Operator-wise Profiling Info for Regular Benchmark Runs:", either as
CSV (--op_profiling_output_mode=csv: "node type, first, avg_ms, %, cdf%, mem KB, times called,
name", commas in a name turned into tabs) or as the text table the tool prints and users paste
("[node type] [start] [first] [avg ms] ... [Name]"; [start] only in older tools). A row is an
interpreter node, named "[its output tensors]:node id"; a delegate's kernel node is one row for
the whole partition (type "TfLiteNnapiDelegate", ...), unless the delegate profiles its own
operators (XNNPACK since TF 2.9): then each is a row named "Delegate/<operator>:<n>".
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from edgekit.core.errors import EdgekitError

OPERATOR_WISE = "Operator-wise Profiling Info for Regular Benchmark Runs"
INITIALIZATION = "Profiling Info for Benchmark Initialization"
_RUN_ORDER = re.compile(r"=+ Run Order =+")
_NUMBER = r"-?[\d.]+(?:e[+-]?\d+)?%?"
_NODE_NAME = re.compile(r"^\[(.*)\]:(\d+)$")  # "[out_a, out_b]:12"
_DELEGATE_OP = re.compile(r"^Delegate/(.*):(\d+)$")  # an operator a delegate profiled itself
# a delegate kernel's registration name -> how a profile names its executor
DELEGATES = {"TfLiteXNNPackDelegate": "XNNPACK", "TfLiteGpuDelegateV2": "GPU", "TfLiteGpuDelegate": "GPU",
             "TfLiteMetalDelegate": "GPU", "TfLiteNnapiDelegate": "NNAPI", "TfLiteHexagonDelegate": "Hexagon"}
BUILTIN = "builtin"


def parse_op_profile(text: str) -> list[dict]:
    """The primary graph's ops in execution order from benchmark_model's op profile, CSV or
    text table: {"index", "name", "type", "executor", "us"}, `us` the op's mean µs in one run
    of the model (its mean per call times its calls per run; "calls" is added where that is not
    1, e.g. XNNPACK operators of one kind at one position in several partitions). `index` is
    the interpreter's node id; for an operator a delegate profiled itself ("Delegate/...:n") it
    is that delegate's operator number n. `executor` is the delegate a row's type or name
    shows, else "builtin"; `place` settles it. EdgekitError when the text holds no run-order
    table, or one it cannot read."""
    lines = [_strip_prefix(line) for line in text.splitlines()]
    start = next((i for i, line in enumerate(lines) if OPERATOR_WISE in line), None)
    if start is None:  # older tools print the table with no section title; skip initialization
        start = next((i for i, line in enumerate(lines) if INITIALIZATION in line), -1) + 1
        start = next((i for i in range(start, len(lines)) if _RUN_ORDER.search(lines[i])
                      and not any(INITIALIZATION in line for line in lines[max(0, i - 2):i])), None)
        if start is None:
            raise EdgekitError("benchmark_model's op profile has no \"Run Order\" table: run it with "
                               "--enable_op_profiling=true")
        start -= 1
    title = next((i for i in range(start + 1, len(lines)) if _RUN_ORDER.search(lines[i])), None)
    if title is None or title + 1 >= len(lines):
        raise EdgekitError("benchmark_model's op profile has no \"Run Order\" table after its \"Operator-wise\" "
                           "title: the file is cut short")
    header = lines[title + 1]
    columns = _columns(header)
    ops = []
    for line in lines[title + 2:]:
        if not line.strip():
            break
        ops.append(_op(line, columns, csv=header.lstrip().startswith("node type,")))
    if not ops:
        raise EdgekitError("benchmark_model's op profile has an empty \"Run Order\" table: no op ran while profiled")
    return ops


def _strip_prefix(line: str) -> str:
    """A line without the `INFO: ` or logcat prefix the tool's log may put before it."""
    return re.sub(r"^(?:\d\d-\d\d \d\d:\d\d:\d\d\.\d+\s+\d+\s+\d+ [VDIWEF] [^:]*: ?|INFO: )", "", line)


def _columns(header: str) -> list[str]:
    """The numeric columns between the node type and the name, as the header names them."""
    if header.lstrip().startswith("node type,"):
        names = [name.strip() for name in header.split(",")]
    else:
        names = re.findall(r"\[([^\]]+)\]", header)
    columns = [name.lower().replace("_", " ") for name in names[1:-1]]
    if not names or names[0].lower() != "node type" or names[-1].lower() != "name" or "avg ms" not in columns:
        raise EdgekitError(f"benchmark_model's op profile has a header it is not known to write: {header.strip()!r}")
    return columns


def _op(line: str, columns: list[str], csv: bool) -> dict:
    """One run-order row as a profile's op."""
    count = len(columns)
    if csv:  # the name is last and has no commas (the tool turned them into tabs); a type may have some
        parts = [part.strip() for part in line.rsplit(",", count + 1)]
        kind, numbers, name = (parts[0], parts[1:-1], parts[-1].replace("\t", ", ")) if len(parts) == count + 2 \
            else (None, None, None)
    else:
        found = re.match(rf"^\s*(.+?)\s+((?:{_NUMBER}\s+){{{count}}})(.*?)\s*$", line)
        kind, numbers, name = (found[1], found[2].split(), found[3]) if found else (None, None, None)
    if kind is None or not all(re.fullmatch(_NUMBER, number) for number in numbers):
        raise EdgekitError(f"benchmark_model's op profile has a row it cannot read: {line.strip()!r}")
    values = dict(zip(columns, numbers))
    avg_ms, calls = float(values["avg ms"]), int(float(values.get("times called", "1")))
    op = {**_node(kind, name), "us": round(avg_ms * 1000 * max(calls, 1), 3)}
    if calls != 1:
        op["calls"] = calls
    return op


def _node(kind: str, name: str) -> dict:
    """A row's node id, name, op type and the executor its type or name shows."""
    if delegated := _DELEGATE_OP.match(name):  # one of the delegate's own operators: its type is its name
        return {"index": int(delegated[2]), "name": name, "type": kind, "executor": "delegate"}
    if node := _NODE_NAME.match(name):
        index, outputs = int(node[2]), node[1]
    else:  # an event that is not a node (older tools), e.g. "AllocateTensors/0"
        index, outputs = -1, name
    kind = kind.split("/")[0]  # "CONV_2D/<kernel's description>" in tools that add one
    return {"index": index, "name": outputs, "type": kind, "executor": DELEGATES.get(kind, BUILTIN)}


@functools.cache
def runtime_details_message():
    """The tflite.profiling.ModelRuntimeDetails message class, from a descriptor pool of its own.
    Importing the LiteRT wheel's model_runtime_info_pb2 would put the proto in protobuf's default
    pool, where TensorFlow registers the same messages under another file name: whichever comes
    second fails ("duplicate symbol"), TensorFlow's whole import included. So the wheel's two
    serialized descriptors are read from its modules' source, not imported."""
    import ast
    import importlib.util

    from google.protobuf import descriptor_pool, message_factory

    spec = importlib.util.find_spec("ai_edge_litert")
    if spec is None or spec.origin is None:
        raise EdgekitError("reading a phone's model runtime info needs LiteRT's wheel: pip install ai-edge-litert")
    pool = descriptor_pool.DescriptorPool()
    for module in ("profiling_info_pb2", "model_runtime_info_pb2"):  # the second imports the first
        source = (Path(spec.origin).parent / f"{module}.py").read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "AddSerializedFile":
                pool.AddSerializedFile(node.args[0].value)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tflite.profiling.ModelRuntimeDetails"))


def parse_runtime_info(data: bytes) -> dict:
    """The primary graph's placement from benchmark_model's --model_runtime_info_output_file
    (a tflite.profiling.ModelRuntimeDetails, read with the LiteRT wheel's
    model_runtime_info_pb2): {"nodes": {id: {"name": output tensors, "type": op, "executor"}},
    "delegates": {delegate node id: executor}, "plan": the executed node ids}. A delegated
    node's executor is "<delegate> partition k", k counting the delegate nodes in execution
    order; a node no delegate took is "builtin". EdgekitError when the bytes are not one."""
    from google.protobuf.message import DecodeError

    details = runtime_details_message()()
    try:
        details.ParseFromString(data)
    except DecodeError as exc:
        raise EdgekitError(f"benchmark_model's model runtime info cannot be read ({exc})") from None
    graphs = [graph for graph in details.subgraphs if graph.subgraph_id == 0] or list(details.subgraphs[:1])
    if not graphs:
        raise EdgekitError("benchmark_model's model runtime info holds no graph")
    graph = graphs[0]
    tensors = {edge.id: edge.name for edge in graph.edges}
    by_id = {node.id: node for node in graph.nodes}
    plan = list(graph.execution_plan) or sorted(by_id)
    delegates, count = {}, {}
    for node_id in plan:
        node = by_id.get(node_id)
        if node is not None and node.HasField("delegate_node_details"):
            short = DELEGATES.get(node.delegate_node_details.delegate_name, node.delegate_node_details.delegate_name)
            delegates[node_id] = f"{short} partition {count.get(short, 0)}"
            count[short] = count.get(short, 0) + 1
    nodes = {}
    for node in graph.nodes:
        if node.HasField("delegate_node_details"):
            executor = delegates.get(node.id, DELEGATES.get(node.name, node.name))
        elif node.HasField("delegated_to_node_id"):
            executor = delegates.get(node.delegated_to_node_id, "delegate")
        else:
            executor = BUILTIN
        nodes[node.id] = {"name": ", ".join(tensors.get(out, "Unknown") for out in node.outputs),
                          "type": node.name, "executor": executor}
    return {"nodes": nodes, "delegates": delegates, "plan": plan}


def place(ops: list[dict], placement: dict | None, delegate: str | None, runs: int,
          reasons: dict[str, str] | None = None) -> dict:
    """A profile (runtimes.base) from the profiled ops and, where the tool wrote it, the
    runtime info's placement. `delegate`: the executor name of the accelerator the target asked
    for ("XNNPACK", "GPU", "NNAPI"), None for plain kernels: the ops it did not take (left to the
    builtin kernels or to another delegate) are left on the CPU; `reasons`: op type -> why the
    delegate refused it, as the tool's log said."""
    reasons = reasons or {}
    if placement is None:  # an older tool: a delegate's kernel rows are its partitions, in execution order
        counts: dict[str, int] = {}
        for op in sorted(ops, key=lambda op: op["index"]):
            if op["executor"] not in (BUILTIN, "delegate"):
                part = counts.get(op["executor"], 0)
                counts[op["executor"]] = part + 1
                op["executor"] = f"{op['executor']} partition {part}"
        delegates = {op["index"]: op["executor"] for op in ops if " partition " in op["executor"]}
    else:
        delegates = placement["delegates"]
    took = {name.split(" partition")[0] for name in delegates.values()}
    for op in ops:
        if op["executor"] == "delegate":  # a delegate's own operator: its partition is not said
            op["executor"] = next(iter(took)) if len(took) == 1 else (delegate or "delegate")
        elif op["index"] in delegates:
            op["executor"] = delegates[op["index"]]
    if placement is not None:  # the model's own nodes that ran: by themselves, or inside a partition
        ran = [node | {"index": i} for i, node in sorted(placement["nodes"].items()) if i not in delegates
               and (i in placement["plan"] or node["executor"] != BUILTIN)]
    else:
        ran = [op for op in ops if op["index"] >= 0 and not op["name"].startswith("Delegate/")]
    if delegate is None:
        return {"method": "profiler", "runs": runs, "ops": ops, "partitions": 0, "fully_delegated": None,
                "left_on_cpu": []}
    partitions = sum(name.startswith(f"{delegate} partition") for name in delegates.values())
    if placement is None and any(op["name"].startswith("Delegate/") for op in ops):
        partitions = None  # a delegate that profiles its own operators hides where its partitions are
    left = [{"index": node["index"], "name": node["name"], "type": node["type"],
             "reason": reasons.get(node["type"], f"{delegate} did not take it"
                                   + ("" if node["executor"] == BUILTIN else f"; {node['executor']} ran it"))}
            for node in ran if not node["executor"].startswith(delegate)]
    return {"method": "profiler", "runs": runs, "ops": ops, "partitions": partitions,
            "fully_delegated": not left and partitions != 0, "left_on_cpu": left}


def refusals(report: str) -> dict[str, str]:
    """Op type -> the reason a delegate gave for not taking it, from the tool's log (the GPU
    delegate lists "OP_TYPE: reason" lines after "Following operations are not supported by
    GPU delegate:"; an empty reason is said as such)."""
    found, listing = {}, False
    for line in map(_strip_prefix, report.splitlines()):
        if "are not supported by" in line:
            listing = True
            continue
        entry = re.match(r"^\s*([A-Z][A-Z0-9_]+)(?: [^:]+)?: ?(.*?)\s*$", line) if listing else None
        if entry:
            found.setdefault(entry[1], entry[2] or "the delegate gave no reason")
        elif line.strip():
            listing = False
    return found
