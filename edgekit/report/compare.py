"""A current results file against a baseline, row by row, with gates on accuracy, latency and
size: what `edgekit compare` prints and CI fails on.

Rows are paired on (model, format, variant, target, threads). Latency is judged against the
noise both runs recorded: a change inside NOISE_SIGMAS combined spreads (robust cv x p50 of each
run) is flagged, not failed, and so is any latency change between different machines.

`compare` may be given results that never went through `schema.parse` (a library caller's own
dicts): a figure a gate reads that is not a finite number (NaN, Infinity, a string) fails its
row with the reason, since every comparison with NaN is false and a gate would pass on it.
"""

from __future__ import annotations

import dataclasses
import math

from edgekit.report.markdown import cell, item, table
from edgekit.report.schema import is_mean, record_key, target_label, typical_latency
from edgekit.report.table import human_size

NOISE_SIGMAS = 2.0  # about a 95% band for the difference of two noisy medians

FAIL, FLAG, INFO = "fail", "flag", "info"


@dataclasses.dataclass(frozen=True)
class Gates:
    max_accuracy_drop: float = 0.5  # points of the task metric
    max_latency_regression: float | None = 0.10  # a fraction of the baseline p50; None: not gated
    max_size_growth: float = 0.05  # a fraction of the baseline file size


@dataclasses.dataclass(frozen=True)
class Finding:
    level: str  # FAIL, FLAG or INFO
    where: str  # the model and row it is about
    message: str


@dataclasses.dataclass
class Comparison:
    gates: Gates
    findings: list[Finding]
    tables: dict[str, list[list[str]]]  # model name -> rows of the change table
    machines_differ: str | None

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.level == FAIL]

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict:
        """The verdict as plain JSON: the gates, every finding, the change tables."""
        return {"passed": self.passed, "gates": dataclasses.asdict(self.gates),
                "findings": [dataclasses.asdict(f) for f in self.findings], "tables": self.tables,
                "machines_differ": self.machines_differ}


def compare(baseline: dict, current: dict, gates: Gates = Gates()) -> Comparison:
    result = Comparison(gates, [], {}, _machines_differ(baseline, current))
    current_models = {m["name"]: m for m in current["models"]}
    for base in baseline["models"]:
        now = current_models.pop(base["name"], None)
        if now is None:
            result.findings.append(Finding(FAIL, base["name"], "the model is not in the current results"))
            continue
        _ModelComparison(base, now, result).run()
    for name in current_models:
        result.findings.append(Finding(INFO, name, "new model, not in the baseline"))
    return result


class _ModelComparison:
    def __init__(self, base: dict, now: dict, result: Comparison):
        self.base, self.now, self.result, self.gates = base, now, result, result.gates
        self.metric = base["data"].get("metric")
        self.same_data = all(base["data"].get(k) == now["data"].get(k) for k in ("metric", "source", "samples"))

    def note(self, level: str, record: dict, message: str) -> str:
        where = f"{self.base['name']} {record['format']} {record['variant']} on {target_label(record)}"
        self.result.findings.append(Finding(level, where, message))
        return level

    def run(self) -> None:
        name = self.base["name"]
        if not self.same_data and self.metric:
            self.result.findings.append(Finding(FLAG, name, "the two runs were scored on different data; "
                                                            "accuracy is not compared"))
        current = {record_key(r): r for r in self.now["records"]}
        rows = []
        for b in self.base["records"]:
            c = current.pop(record_key(b), None)
            if b["status"] != "ok" and c is not None and c["status"] == b["status"]:
                continue  # did not run then, does not run now: nothing to compare
            rows.append(self._row(b, c))
        for c in current.values():
            self.note(INFO, c, "new row, not in the baseline")
        self._sizes()
        self.result.tables[name] = rows

    def _row(self, b: dict, c: dict | None) -> list[str]:
        label = [f"{b['format']} {b['variant']}", target_label(b)]
        if c is None:
            return label + ["-"] * 4 + [self.note(FAIL, b, "not measured in the current run")]
        if b["status"] != "ok" or c["status"] != "ok":
            return label + ["-"] * 4 + [self._status_change(b, c)]
        unusable = _unusable_figure(c, "current") or _unusable_figure(b, "baseline")
        if unusable:
            return label + ["-"] * 4 + [self.note(FAIL, c, f"{unusable}: no gate can pass on it")]
        (accuracy_level, accuracy), (latency_level, latency) = self._accuracy(b, c), self._latency(b, c)
        levels = {accuracy_level, latency_level}
        verdict = FAIL if FAIL in levels else FLAG if FLAG in levels else "ok"
        return label + [*accuracy, *latency, verdict]

    def _status_change(self, b: dict, c: dict) -> str:
        if b["status"] == "ok" and c["status"] == "failed":
            return self.note(FAIL, c, f"ran in the baseline, failed now: {c['reason']}")
        if b["status"] == "ok":
            return self.note(FLAG, c, f"ran in the baseline, skipped now: {c['reason']}")
        if c["status"] == "ok":
            return self.note(INFO, c, f"runs now ({b['status']} in the baseline)")
        return c["status"]

    def _accuracy(self, b: dict, c: dict) -> tuple[str, list[str]]:
        old, new = (b.get("accuracy") or {}).get("value"), (c.get("accuracy") or {}).get("value")
        if old is None or new is None or not self.same_data or self.metric is None:
            return "ok", ["-", "-"]
        from edgekit.bench.accuracy import METRICS, drop_points

        if self.metric not in METRICS:
            return self.note(FAIL, c, f"the metric {self.metric!r} is not one edgekit scores "
                                      f"({', '.join(METRICS)}): accuracy cannot be judged"), ["-", "-"]
        drop = drop_points(self.metric, old, new)
        shown = [f"{old:.4f} → {new:.4f}", f"{0.0 - drop:+.2f}"]
        if drop > self.gates.max_accuracy_drop + 1e-9:
            return self.note(FAIL, c, f"{self.metric} fell {drop:.2f} points ({old:.4f} → {new:.4f}), over the "
                                      f"{self.gates.max_accuracy_drop:g}-point gate"), shown
        return "ok", shown

    def _latency(self, b: dict, c: dict) -> tuple[str, list[str]]:
        old, new = typical_latency(b), typical_latency(c)
        change = new / old - 1 if old > 0 else 0.0
        noise = NOISE_SIGMAS * math.hypot(_spread(b) * old, _spread(c) * new)
        shown = [f"{old:,.1f} → {new:,.1f}", f"{change:+.1%} (noise ±{noise:,.1f} us)"]
        limit = self.gates.max_latency_regression
        if limit is None or change <= limit:
            return "ok", shown
        detail = f"{'mean' if is_mean(c) else 'p50'} {change:+.1%} ({old:,.1f} → {new:,.1f} us), over the {limit:.0%} limit"
        if new - old <= noise:
            return self.note(FLAG, c, f"{detail}, but within the noise both runs recorded (±{noise:,.1f} us)"), shown
        if self.result.machines_differ:
            return self.note(FLAG, c, f"{detail}, but on a different machine ({self.result.machines_differ})"), shown
        return self.note(FAIL, c, f"{detail}, beyond the noise (±{noise:,.1f} us)"), shown

    def _sizes(self) -> None:
        current = {(a["format"], a["variant"]): a for a in self.now["artifacts"]}
        for a in self.base["artifacts"]:
            c = current.get((a["format"], a["variant"]))
            if c is None or not a.get("size_bytes") or c.get("size_bytes") is None:
                continue  # a missing file already fails through its rows
            where = f"{self.base['name']} {a['format']} {a['variant']}"
            unusable = _unusable(c["size_bytes"], "current size_bytes") or _unusable(a["size_bytes"],
                                                                                   "baseline size_bytes")
            if unusable:
                self.result.findings.append(Finding(FAIL, where, f"{unusable}: no gate can pass on it"))
                continue
            growth = c["size_bytes"] / a["size_bytes"] - 1
            if growth > self.gates.max_size_growth:
                self.result.findings.append(Finding(
                    FAIL, where,
                    f"the file grew {growth:+.1%} ({human_size(a['size_bytes'])} → {human_size(c['size_bytes'])}), "
                    f"over the {self.gates.max_size_growth:.0%} limit"))


def _spread(record: dict) -> float:
    """The relative spread of a record's timings: robust around a p50, the plain cv around a mean."""
    return record["latency_us"]["cv" if is_mean(record) else "robust_cv"]


def _unusable_figure(record: dict, which: str) -> str | None:
    """Why a gate cannot judge an ok record's figures, or None: each must be a finite number not
    below zero, and a latency above it."""
    latency, accuracy = record.get("latency_us") or {}, record.get("accuracy")
    typical, spread = ("mean", "cv") if latency.get("statistic") == "mean" else ("p50", "robust_cv")
    return (_unusable(latency.get(typical), f"{which} latency_us.{typical}", above_zero=True)
            or _unusable(latency.get(spread), f"{which} latency_us.{spread}")
            or (None if accuracy is None else _unusable(accuracy.get("value"), f"{which} accuracy.value")))


def _unusable(value, name: str, above_zero: bool = False) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return f"the {name} is {repr(value)[:40]}, not a finite number"
    if above_zero and value <= 0:
        return f"the {name} is {value!r}, not above zero"
    if value < 0:  # no metric, latency, spread or size is
        return f"the {name} is {value!r}, below zero"
    return None


def _machines_differ(baseline: dict, current: dict) -> str | None:
    old, new = _cpu(baseline), _cpu(current)
    changed = [f"{key} {old.get(key)} → {new.get(key)}" for key in ("name", "cores") if old.get(key) != new.get(key)]
    return ", ".join(changed) or None


def _cpu(results: dict) -> dict:
    cpu = (results.get("environment") or {}).get("cpu")
    return cpu if isinstance(cpu, dict) else {}


def render(comparison: Comparison, baseline_name: str, current_name: str) -> str:
    """The comparison as Markdown: the verdict, each failure and flag, a change table per model."""
    failures = comparison.failures
    flags = [f for f in comparison.findings if f.level == FLAG]
    verdict = "FAIL" if failures else "pass"
    gates = comparison.gates
    latency_gate = ("not gated" if gates.max_latency_regression is None
                    else f"p50 regression at most {gates.max_latency_regression:.0%} beyond noise")
    lines = [f"## edgekit compare: {verdict} ({len(failures)} failed, {len(flags)} flagged)", "",
             f"{item(current_name)} against the baseline {cell(baseline_name)}. Gates: accuracy drop at most "
             f"{gates.max_accuracy_drop:g} points; latency {latency_gate}; file size growth at most "
             f"{gates.max_size_growth:.0%}.", ""]
    if comparison.machines_differ:
        lines += [f"The runs come from different machines ({cell(comparison.machines_differ)}): latency changes "
                  "are flagged, not failed.", ""]
    for title, found in (("Failed", failures), ("Flagged", flags),
                         ("Noted", [f for f in comparison.findings if f.level == INFO])):
        if found:
            lines += [f"### {title}", "", *(f"- {item(f.where)}: {cell(f.message)}" for f in found), ""]
    headers = ["variant", "runtime", "task metric", "change (points)", "p50 us", "p50 change", "verdict"]
    for name, rows in comparison.tables.items():
        lines += [f"### {cell(name)}", "", *table(headers, rows, right={3, 4, 5}), ""]
    return "\n".join(lines)
