"""A per-op profile as terminal text (`edgekit profile`, `bench --profile`): the header with the
per-op total beside the file's unprofiled p50, the ops in execution order, the top ops by time,
the time by op type and the placement; and two files' time by op type side by side
(`edgekit profile A B`). The lines the Markdown and HTML reports share are here too. Formats
only: the figures come from results/profiles.py.
"""

from __future__ import annotations

from edgekit.render import terminal
from edgekit.results import profiles
from edgekit.results.schema import is_mean, target_label, typical_latency

US = "µs"
TOP = 10  # ops in "top N by time", and in the execution-order table of a longer model
METHODS = {"profiler": "the runtime's own profiler", "isolated": "each op timed as a one-op model of its own, "
                                                               "without the fusion or cache effects of the whole"}
OPS_DROP = ("method", "node", "share")  # the ops tables' columns left out first on a narrow terminal
DIFFERENCE_DROP = ("ops A", "ops B")


def label(record: dict) -> str:
    """The file and target a record's profile is of."""
    return f"{record['artifact']} on {target_label(record)}"


def record_text(record: dict, top: int = TOP, every_op: bool = False, at: int | None = None,
                style: bool | None = None) -> str:
    """One results record's profile (its "profile" key) beside its own unprofiled latency, or the
    line saying why it has none. The ops in execution order are the `top` slowest (every op with
    `every_op`); "top N by time" has `top`."""
    found = profiles.profiled(record)
    if found is None:
        why = profiles.missing(record.get("profile"))
        if record.get("status") not in (None, "ok"):
            why = f"{record['status']}: {record.get('reason')}"
        return f"{label(record)}: no per-op profile ({why or 'none was taken'})"
    p50, statistic = _latency(record)
    return text(found, label(record), p50, top, every_op, at, style, statistic)


def text(profile: dict, what: str, p50_us: float | None, top: int = TOP, every_op: bool = False,
         at: int | None = None, style: bool | None = None, statistic: str = "p50") -> str:
    """A profile as terminal text: `what` (file and target) is its title, `p50_us` the same file's
    latency from normal runs (None where unknown)."""
    at = at or terminal.width()
    found = profiles.summary(profile, p50_us, top)
    rows = found["rows"]
    slowest = {id(op) for op in found["top"]}  # the same dicts as the rows
    shown = rows if every_op or len(rows) <= top else [op for op in rows if id(op) in slowest]
    lines = [*terminal.wrap(header_lines(profile, what, found, statistic), at), ""]
    ops = [[str(op["index"]), op["name"], op["type"], op["executor"], _us(op["us"]), _share(op["share"]),
            profile["method"]] for op in shown]
    lines.append(terminal.table(["node", "name", "type", "executor", f"median {US}", "share", "method"], ops,
                                right={0, 4, 5}, drop=OPS_DROP, at=at, style=style))
    if len(shown) < len(rows):
        left = sum(op["share"] for op in rows if id(op) not in slowest)
        lines += terminal.wrap([(f"the {len(shown)} slowest of {len(rows)} ops, in execution order; "
                                 f"{len(rows) - len(shown)} faster ones ({left:.1f}% of the time) left out "
                                 "(--all-ops lists every op)")], at)
    ranked = [[str(n), op["name"], op["type"], op["executor"], _us(op["us"]), _share(op["share"])]
              for n, op in enumerate(found["top"], 1)]
    lines += ["", f"top {len(ranked)} by time:",
              terminal.table(["#", "name", "type", "executor", f"median {US}", "share"], ranked, right={0, 4, 5},
                             drop=OPS_DROP, at=at, style=style)]
    kinds = [[kind["type"], str(kind["count"]), _us(kind["us"]), _share(kind["share"])] for kind in found["by_type"]]
    lines += ["", "by op type:", terminal.table(["type", "ops", f"{US} a call", "share"], kinds, right={1, 2, 3},
                                                at=at, style=style)]
    lines += ["", *terminal.wrap([*placement_lines(profiles.placement(profile)), *not_timed_lines(profile)], at)]
    return "\n".join(lines)


def header_lines(profile: dict, what: str, found: dict, statistic: str = "p50") -> list[str]:
    """The title, the per-op total against the unprofiled latency, and the profile's note."""
    return [f"{what}: {method_line(profile)}", total_line(found, statistic), *note_lines(profile)]


def method_line(profile: dict) -> str:
    method = profile["method"]
    wall = profile.get("wall_seconds")
    return (f"per-op profile, {method} ({METHODS.get(method, method)}), each op's median over {profile['runs']} calls"
            + ("" if wall is None else f", profiled in {wall:,.1f} s"))


def note_lines(profile: dict) -> list[str]:
    return [f"note: {profile['note']}"] if profile.get("note") else []


def total_line(found: dict, statistic: str = "p50") -> str:
    """'per-op total 251.3 µs = 0.98x the unprofiled p50 257.0 µs (profiled runs are never latency)'."""
    total = f"per-op total {_us(found['total_us'])} {US}"
    if found["ratio"] is None:
        return f"{total} (no unprofiled {statistic} to set it beside; profiled runs are never latency)"
    return (f"{total} = {found['ratio']:.2f}x the unprofiled {statistic} {_us(found['p50_us'])} {US} "
            "(profiled runs are never latency)")


def placement_line(placement: dict) -> str:
    """'placement: XNNPACK 15 ops, builtin 1 op; 2 accelerator or delegate partitions; fully delegated: no'."""
    executors = ", ".join(f"{name} {count} op{'' if count == 1 else 's'}"
                          for name, count in placement["executors"].items()) or "no ops"
    return f"placement: {executors}; " + "; ".join(placement_facts(placement))


def placement_facts(placement: dict) -> list[str]:
    """The partitions, and whether one accelerator took every op."""
    partitions, delegated = placement["partitions"], placement["fully_delegated"]
    return ["partitions not known" if partitions is None
            else f"{partitions} accelerator or delegate partition{'' if partitions == 1 else 's'}",
            "no accelerator asked for" if delegated is None else f"fully delegated: {'yes' if delegated else 'no'}"]


def left_lines(placement: dict) -> list[str]:
    """One line per op left on the CPU, with the reason the delegate or compiler gave."""
    return [f"left on the CPU: {op['name']} ({op['type']}, node {op['index']}): {op['reason']}"
            for op in placement["left_on_cpu"]]


def placement_lines(placement: dict) -> list[str]:
    return [placement_line(placement), *(f"  {line}" for line in left_lines(placement))]


def not_timed_lines(profile: dict) -> list[str]:
    """Ops the profile lists apart as not timed, with why: one line for one op, one line for
    several of a type with one reason (an fp16 file's weights, each DEQUANTIZEd once at load)."""
    groups: dict[tuple, list[dict]] = {}
    for op in profile.get("not_timed") or []:
        groups.setdefault((op["type"], op["reason"]), []).append(op)
    lines = []
    for (kind, reason), ops in groups.items():
        if len(ops) == 1:
            lines.append(f"not timed: {ops[0]['name']} ({kind}, node {ops[0]['index']}): {reason}")
        else:
            nodes = ", ".join(str(op["index"]) for op in ops)
            lines.append(f"not timed: {len(ops)} {kind} ops (nodes {nodes}): {reason}")
    return lines


def difference_text(difference: dict, at: int | None = None, style: bool | None = None) -> str:
    """Two files' time by op type on one target (workflows/profile.py's difference: "a", "b" the
    files, "target", "threads", "device", "rows" from results/profiles.py's difference), the
    largest difference first, and their totals: where a slower variant loses its time."""
    at = at or terminal.width()
    rows = difference["rows"]
    body = [[row["type"], str(row["a_count"]), _us(row["a_us"]), str(row["b_count"]), _us(row["b_us"]),
             f"{row['difference_us']:+,.1f}"] for row in rows]
    where = target_label({"target": difference["target"], "threads": difference.get("threads"),
                          "device": difference.get("device") or "local"})
    head = [f"A: {difference['a']}", f"B: {difference['b']}", f"time by op type on {where}, {US} a call (the sum of each op's median):"]
    table = terminal.table(["type", "ops A", f"A {US}", "ops B", f"B {US}", f"B - A {US}"], body,
                           right={1, 2, 3, 4, 5}, drop=DIFFERENCE_DROP, at=at, style=style)
    total = next((row for row in rows if row.get("total")), None)
    notes = ([f"B's per-op total is {total['b_us'] / total['a_us']:.2f}x A's (profiled runs, not latency)"]
             if total and total["a_us"] > 0 else [])
    return "\n".join([*terminal.wrap(head, at), table, *terminal.wrap(notes, at)])


def _latency(record: dict) -> tuple[float | None, str]:
    if record.get("status") != "ok" or not isinstance(record.get("latency_us"), dict):
        return None, "p50"
    return typical_latency(record), "mean" if is_mean(record) else "p50"


def _node(op: dict) -> str:
    return str(op["index"])


def _us(value: float) -> str:
    return f"{value:,.1f}"


def _share(value: float) -> str:
    return f"{value:.1f}%"
