"""What is computed from a record's per-op profile alone (the dict of runtimes/base.py's contract,
kept in results.json as a record's "profile"): its summary (shares, the top ops, time by op type,
the per-op total against the unprofiled p50), its placement (ops per executor, partitions), the
time by op type of two files side by side, and which ops left the accelerator for the CPU (the
compare gate's evidence). Pure functions of dicts: the renderers format what these return.
"""

from __future__ import annotations

import re

# The executors that are the CPU itself, not an accelerator or a delegate: LiteRT's builtin and
# reference kernels, onnxruntime's CPU provider, TFLite Micro's kernels ("tflm ..."). Any executor
# of an op the profile lists in left_on_cpu counts as the CPU too.
CPU_EXECUTORS = ("builtin", "CPUExecutionProvider", "reference")
CPU_PREFIXES = ("tflm",)
TOTAL = "total"  # the type of difference()'s last row (it also carries "total": True)

_PARTITION = re.compile(r" partition \d+$")


def missing(profile: dict | None) -> str | None:
    """Why a record's "profile" holds no per-op figures: the target has none ({"skipped": why}) or
    it broke ({"failed": why}, the measurement standing); None for a profile or no "profile" at all."""
    if not isinstance(profile, dict):
        return None
    if "skipped" in profile:
        return str(profile["skipped"])
    if "failed" in profile:
        return f"failed: {profile['failed']}"
    return None


def profiled(record: dict) -> dict | None:
    """A record's per-op profile when it has one (not a skipped or failed one), else None."""
    found = record.get("profile")
    return found if isinstance(found, dict) and "ops" in found and missing(found) is None else None


def summary(profile: dict, p50_us: float | None, top: int | None = 10) -> dict:
    """The per-op total and its ratio to the file's unprofiled p50 (None without one: profiled runs
    are never latency), each op with its share of the total (they add to 100), the `top` ops by
    time (every op with None) and the time by op type, largest first."""
    ops = profile["ops"]
    total = sum(op["us"] for op in ops)
    rows = [{**op, "share": _share(op["us"], total)} for op in ops]
    by_time = sorted(rows, key=lambda op: -op["us"])
    types: dict[str, dict] = {}
    for op in rows:
        kind = types.setdefault(op["type"], {"type": op["type"], "count": 0, "us": 0.0, "share": 0.0})
        kind["count"] += 1
        kind["us"] += op["us"]
        kind["share"] += op["share"]
    return {"total_us": total, "p50_us": p50_us, "ratio": total / p50_us if p50_us else None,
            "rows": rows, "top": by_time if top is None else by_time[:top],
            "by_type": sorted(types.values(), key=lambda kind: -kind["us"])}


def placement(profile: dict) -> dict:
    """Ops per executor family ("XNNPACK partition 2" counts as "XNNPACK"), in the order they first
    run, with the profile's partitions, whether it is fully delegated, and the ops left on the CPU."""
    executors: dict[str, int] = {}
    for op in profile["ops"]:
        family = executor_family(op["executor"])
        executors[family] = executors.get(family, 0) + 1
    return {"executors": executors, "partitions": profile.get("partitions"),
            "fully_delegated": profile.get("fully_delegated"), "left_on_cpu": list(profile.get("left_on_cpu") or [])}


def executor_family(executor: str) -> str:
    """What ran an op, less the partition it was in ("XNNPACK partition 2") or the kernel OpenVINO
    chose on its device ("OpenVINO CPU jit_avx2_I8"): placement counts ops per executor."""
    if executor.startswith("OpenVINO "):
        return " ".join(executor.split()[:2])
    return _PARTITION.sub("", executor)


def difference(a: dict, b: dict) -> list[dict]:
    """Time by op type of two profiles (e.g. a file's fp32 and int8 variants on one target):
    {"type", "a_count", "a_us", "b_count", "b_us", "difference_us" (B - A)}, the largest difference
    either way first, then a TOTAL row ({"total": True}) over every op."""
    kinds: dict[str, dict] = {}
    for side, profile in (("a", a), ("b", b)):
        for op in profile["ops"]:
            row = kinds.setdefault(op["type"], {"type": op["type"], "a_count": 0, "a_us": 0.0, "b_count": 0,
                                                "b_us": 0.0})
            row[f"{side}_count"] += 1
            row[f"{side}_us"] += op["us"]
    rows = [{**row, "difference_us": row["b_us"] - row["a_us"]} for row in kinds.values()]
    rows.sort(key=lambda row: -abs(row["difference_us"]))
    total = {"type": TOTAL, "total": True, **{key: sum(row[key] for row in rows)
                                              for key in ("a_count", "a_us", "b_count", "b_us", "difference_us")}}
    return [*rows, total]


def on_cpu(op: dict, profile: dict) -> bool:
    """Whether `op` of `profile` ran on the CPU itself rather than on an accelerator or delegate."""
    family = executor_family(op["executor"])
    return (family in CPU_EXECUTORS or family.lower().startswith(CPU_PREFIXES)
            or any(_same_op(op, left) for left in profile.get("left_on_cpu") or []))


def moved_to_cpu(baseline: dict, current: dict) -> list[tuple[dict, dict]]:
    """The (baseline op, current op) pairs of ops that an accelerator or delegate ran in the
    baseline and the CPU runs now, in the baseline's order. Ops are matched by name, else by
    node id and type; an op not in the current profile is not counted (the graph changed)."""
    by_name = {op["name"]: op for op in current["ops"] if op["name"]}
    by_place = {(op["index"], op["type"]): op for op in current["ops"]}
    moved = []
    for op in baseline["ops"]:
        now = by_name.get(op["name"]) or by_place.get((op["index"], op["type"]))
        if now is not None and not on_cpu(op, baseline) and on_cpu(now, current):
            moved.append((op, now))
    return moved


def _same_op(op: dict, other: dict) -> bool:
    if op.get("name") and other.get("name"):
        return op["name"] == other["name"]
    return (op.get("index"), op.get("type")) == (other.get("index"), other.get("type"))


def _share(us: float, total: float) -> float:
    return 100.0 * us / total if total > 0 else 0.0
