"""Which node of a `.tflite`'s main graph a LiteRT delegate took, and in which partition.

After delegation, LiteRT's Python interpreter (ai-edge-litert 2.3, through its wrapper's
`NumNodes`, `NodeName`, `NodeInputs`, `NodeOutputs`) still lists every original node at its
index, and adds one DELEGATE node per partition after them, whose inputs and outputs are the
partition's boundary tensors. It does not say which nodes a partition replaced: that is derived
here, by walking back from a partition's outputs through the nodes that produce them until its
inputs. Only the main subgraph is exposed.

Delegates given to the interpreter are applied when it is made; XNNPACK, LiteRT's default CPU
delegate, only at `allocate_tensors`, to what they left: so the DELEGATE nodes present before it
are the given delegates', those added by it XNNPACK's.
"""

from __future__ import annotations

import re
from pathlib import Path

from edgekit.core.lazy_imports import quiet_stderr

XNNPACK = "XNNPACK"


def builtin_only():
    """The resolver without default delegates: with the default one XNNPACK also takes what
    another delegate leaves; turned off, the nodes a delegate leaves fall back to LiteRT's
    builtin CPU kernels."""
    from ai_edge_litert import interpreter as litert

    return litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES


def node_names(path: Path) -> list[str]:
    """The main subgraph's op names, from an interpreter without delegates (node i is operator i)."""
    from ai_edge_litert import interpreter as litert

    with quiet_stderr(replay_on_error=False):
        probe = litert.Interpreter(model_path=str(path), experimental_op_resolver_type=builtin_only())
    return [probe._interpreter.NodeName(i) for i in range(probe._interpreter.NumNodes())]


def node_partitions(wrapper, original: int, delegate_nodes: range | None = None) -> tuple[dict[int, int], str | None]:
    """Original node -> the partition (0, 1, ...) that replaced it, from an interpreter's wrapper
    after delegation: `delegate_nodes` are one delegate's DELEGATE nodes (default: every node from
    `original` on). A note when a partition's derived nodes do not account for its inputs (a node
    whose outputs nothing uses)."""
    if delegate_nodes is None:
        delegate_nodes = range(original, wrapper.NumNodes())
    producer = {int(t): i for i in range(original) for t in wrapper.NodeOutputs(i) if t >= 0}
    owner: dict[int, int] = {}
    note = None
    for part, node in enumerate(delegate_nodes):
        boundary = {int(t) for t in wrapper.NodeInputs(node)}
        pending = [int(t) for t in wrapper.NodeOutputs(node)]
        while pending:
            made_by = producer.get(pending.pop())
            if made_by is None or made_by in owner:
                continue
            owner[made_by] = part
            pending += [int(t) for t in wrapper.NodeInputs(made_by) if t >= 0 and int(t) not in boundary]
        found = [i for i, p in owner.items() if p == part]
        made = {int(t) for i in found for t in wrapper.NodeOutputs(i)}
        if {int(t) for i in found for t in wrapper.NodeInputs(i) if t >= 0} - made != boundary:
            note = f"partition {part}'s nodes could not all be identified"
    return owner, note


def placement(wrapper, original: int, given_until: int, delegate: str | None, kernels: str, logged: str = "") -> dict:
    """Where each of the `original` main-graph nodes runs, from the wrapper of an interpreter after
    delegation: `given_until` is how many nodes it had before `allocate_tensors` (the given
    delegate's DELEGATE nodes end there, XNNPACK's follow), `delegate` the given delegate's name,
    `logged` what LiteRT wrote while delegating. {"executors": [per node: "<delegate> partition k",
    "XNNPACK partition k", or the kernels that run it], "partitions", "fully_delegated",
    "left_on_cpu" [{"index", "type", "reason"}], "note"} for the asked-for delegate (the given
    one, else XNNPACK; none with builtin or reference kernels and no delegate)."""
    types = [wrapper.NodeName(i) for i in range(original)]
    if not delegate and kernels != "xnnpack":
        return {"executors": [kernels] * original, "partitions": 0, "fully_delegated": None,
                "left_on_cpu": [], "note": None}
    asked = delegate or XNNPACK
    groups = [(asked, range(original, given_until))] if delegate else []
    groups.append((XNNPACK, range(given_until, wrapper.NumNodes())))
    executors = ["builtin"] * original
    owners, notes = {}, []
    for name, nodes in groups:
        owner, note = node_partitions(wrapper, original, nodes)
        owners[name] = owner
        notes += [f"{name}: {note}"] if note else []
        for node, part in owner.items():
            executors[node] = f"{name} partition {part}"
    left = []
    for node, op in enumerate(types):
        if node in owners[asked]:
            continue
        reason = _logged_reason(logged, op) or f"{asked} did not take this op"
        if delegate and node in owners[XNNPACK]:
            reason += " (XNNPACK ran it)"
        left.append({"index": node, "type": op, "reason": reason})
    return {"executors": executors, "partitions": len(groups[0][1]), "fully_delegated": not left,
            "left_on_cpu": left, "note": "; ".join(notes) or None}


def _logged_reason(logged: str, op: str) -> str | None:
    """A line a delegate logged naming ops of this type while it was applied, if any (LiteRT's own
    INFO lines, "Created ... delegate", "Replacing n out of m node(s)", name none)."""
    named = re.compile(rf"\b{re.escape(op)}\b")
    return next((line.strip() for line in logged.splitlines()
                 if named.search(line) and not line.startswith("INFO:")), None)
