"""What every report shows of one model's results: a row per measured (file, target) pair with
its size and speed against the float model, the targets that did not run, and the recommended
variant. Derived from the results file alone; nothing is measured here.
"""

from __future__ import annotations

import dataclasses

from edgekit.report.schema import is_mean, latency_cell, target_label, typical_latency
from edgekit.report.table import human_size

DEFAULT_TOLERANCE = 1.0  # points of the task metric a recommended variant may lose
FLOAT_TARGET = "keras:cpu"  # the float model's latency that speed-ups are measured against


@dataclasses.dataclass(frozen=True)
class Row:
    record: dict
    size_ratio: float | None  # file size over the float model's
    speedup: float | None  # the float model's p50 over this row's

    @property
    def name(self) -> str:
        return f"{self.record['format']} {self.record['variant']}"

    @property
    def target(self) -> str:
        return target_label(self.record)

    @property
    def p50(self) -> float:
        return typical_latency(self.record)  # the mean where the tool gave no percentiles

    @property
    def accuracy(self) -> float | None:
        return (self.record.get("accuracy") or {}).get("value")

    @property
    def drop(self) -> float | None:
        return (self.record.get("accuracy") or {}).get("drop_points")


def float_latency(model: dict) -> float | None:
    """p50 of the float model on keras:cpu, when that ran."""
    return next((r["latency_us"]["p50"] for r in model["records"]
                 if r["status"] == "ok" and r["variant"] == "float" and r["target"] == FLOAT_TARGET), None)


def rows(model: dict) -> list[Row]:
    float_size = (model.get("reference") or {}).get("size_bytes")
    float_p50 = float_latency(model)
    return [Row(r, r["size_bytes"] / float_size if float_size else None,
                float_p50 / typical_latency(r) if float_p50 and typical_latency(r) > 0 else None)
            for r in model["records"] if r["status"] == "ok"]


def headers(metric: str | None) -> list[str]:
    """The columns of the compact table every report shows."""
    return ["variant", "runtime", "size", "vs float", *([metric, "drop (points)"] if metric else []),
            "p50 us", "p99 us", "speed-up"]


def cells(row: Row, metric: str | None) -> list[str]:
    """One row of that table, as plain text."""
    r = row.record
    return [row.name, row.target, human_size(r["size_bytes"]), _number(row.size_ratio, ".2f", "x"),
            *([_number(row.accuracy, ".4f"), _number(row.drop, "+.2f")] if metric else []),
            latency_cell(r), "-" if is_mean(r) else f"{r['latency_us']['p99']:,.1f}", _number(row.speedup, ",.1f", "x")]


def _number(value, spec: str, suffix: str = "") -> str:
    return "-" if value is None else format(value, spec) + suffix


def not_run(model: dict) -> list[str]:
    """One line per (target, status, reason) that kept files from running, files grouped."""
    grouped = {}
    for r in model["records"]:
        if r["status"] != "ok":
            grouped.setdefault((target_label(r), r["status"], r["reason"]), []).append(r["artifact"])
    return [f"{target} {status} for {files[0] if len(files) == 1 else f'{len(files)} files'}: {reason}"
            for (target, status, reason), files in grouped.items()]


@dataclasses.dataclass(frozen=True)
class Recommendation:
    row: Row | None
    tolerance: float
    why_none: str | None = None

    def line(self) -> str:
        if self.row is None:
            return f"no recommendation: {self.why_none}"
        r = self.row
        faster = f", {r.speedup:,.1f}x the float model's speed" if r.speedup else ""
        spread = " (its timing spread widely: rerun before trusting it)" if r.record["latency_us"].get("high_spread") else ""
        return (f"recommended: {r.record['artifact']} on {r.target}, the fastest within {self.tolerance:g} "
                f"point(s) of the float model: p50 {r.p50:,.1f} us{faster}, {human_size(r.record['size_bytes'])}"
                f", {r.record['accuracy'].get('metric') or 'score'} {r.accuracy:.4f} (drop {r.drop:+.2f} points){spread}")


def recommend(model: dict, tolerance: float = DEFAULT_TOLERANCE) -> Recommendation:
    """The fastest (file, target) whose task metric is within `tolerance` points of the float
    model's; the float model itself counts, so there is always one when the float model ran."""
    if not model["data"].get("metric"):
        return Recommendation(None, tolerance, "the evaluation data has no labels, so accuracy is unknown "
                                               "(give --data with x and y)")
    # TFLite Micro's host time is its reference kernels', not a microcontroller's: no speed to pick by
    scored = [r for r in rows(model) if r.drop is not None and r.record["runtime"] != "tflm"]
    if not scored:
        return Recommendation(None, tolerance, "no file was scored against the float model")
    within = [r for r in scored if r.drop <= tolerance]
    if not within:
        closest = min(scored, key=lambda r: r.drop)
        return Recommendation(None, tolerance, f"no file is within {tolerance:g} point(s) of the float model; "
                                               f"the closest is {closest.record['artifact']} ({closest.drop:+.2f})")
    return Recommendation(min(within, key=lambda r: r.p50), tolerance)



def devices(model: dict) -> list[str]:
    """The devices the model's records ran on, this machine first."""
    found = dict.fromkeys(r.get("device", "local") for r in model["records"])
    return sorted(found, key=lambda d: d != "local")


def cross_device(model: dict) -> tuple[list[str], list[list[str]]]:
    """p50 per file and target on each device, when a run measured on more than one (the Keras
    float rows, which always run here, are left out): (headers, rows)."""
    where = [d for d in devices(model) if any(r.get("device", "local") == d and r["runtime"] != "keras"
                                               for r in model["records"])]
    if len(where) < 2:
        return [], []
    table: dict[tuple, dict] = {}
    for r in model["records"]:
        if r["runtime"] == "keras":
            continue
        target = target_label({**r, "device": "local"})  # the device is the column
        cell = latency_cell(r) if r["status"] == "ok" else r["status"]
        table.setdefault((r["artifact"], target), {})[r.get("device", "local")] = cell
    return (["file", "target", *(f"p50 us on {d}" for d in where)],
            [[artifact, target, *(cells.get(d, "-") for d in where)] for (artifact, target), cells in table.items()])
