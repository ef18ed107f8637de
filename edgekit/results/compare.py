"""A current results file against a baseline, row by row, with gates on accuracy, latency and
size: what `edgekit compare` prints and CI fails on.

Rows are paired on (model, format, variant, target, threads). Latency is gated only where both
runs timed the row in rounds (`bench --repeat N`, N >= 2): the spread within one run
underestimates the drift between runs by far on a shared machine (docs/DESIGN.md, pitfall 17), and
rounds interleaved across the run measure that drift. A row's noise is then NOISE_SIGMAS x the
combined spread of both runs' round medians (each robust: 1.4826 x their median absolute
deviation, `round_spread`, so one disturbed round widens it no more than it moves the median
round), never below the within-run noise (robust cv x p50 of each run). A change over the limit
and beyond that noise fails; inside it, it is flagged. A row timed in one round in either file
has no run-to-run noise to judge by: a change over the limit is flagged ("measured in one
round"), never failed, so two back-to-back default runs do not fail falsely.
Any latency change between different machines is flagged too.

Placement is gated on rows both runs profiled (`bench --profile`): more accelerator or delegate
partitions than the baseline, an op (matched by name, else node id and type) that an accelerator
or delegate ran in the baseline and the CPU runs now, or a file no longer fully delegated, fails
the row with the ops named (results/profiles.py). A row profiled in one run only is noted.

`compare` may be given results that never went through `schema.parse` (a library caller's own
dicts): a figure a gate reads that is not a finite number (NaN, Infinity, a string) fails its
row with the reason, since every comparison with NaN is false and a gate would pass on it.
"""

from __future__ import annotations

import dataclasses
import math
import statistics

from edgekit.core.config import DEFAULT_MAX_ACCURACY_DROP
from edgekit.core.units import human_size
from edgekit.data.metrics import METRICS, drop_points
from edgekit.results import profiles
from edgekit.results.schema import is_mean, record_key, target_label, typical_latency

NOISE_SIGMAS = 2.0  # about a 95% band for the difference of two noisy medians
ONE_ROUND_HINT = "bench --repeat 3 to gate latency"

FAIL, FLAG, INFO = "fail", "flag", "info"
MOVED_SHOWN = 10  # ops named in a placement failure; the count is always given


@dataclasses.dataclass(frozen=True)
class Gates:
    max_accuracy_drop: float = DEFAULT_MAX_ACCURACY_DROP  # points of the task metric
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
    rows: dict[str, list[dict]] = dataclasses.field(default_factory=dict)  # the same rows, as figures
    placement_gated: int = 0  # rows whose placement was compared (both runs profiled them)

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.level == FAIL]

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self, baseline_name: str = "baseline", current_name: str = "current") -> dict:
        """What `compare --json` prints: the verdict, the gates, every finding and each row's figures."""
        return {"passed": self.passed, "baseline": baseline_name, "current": current_name,
                "gates": dataclasses.asdict(self.gates), "machines_differ": self.machines_differ,
                "failed": len(self.failures), "flagged": sum(f.level == FLAG for f in self.findings),
                "placement_gated": self.placement_gated,
                "findings": [dataclasses.asdict(f) for f in self.findings], "models": self.rows}


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
        rows, figures = [], []
        for b in self.base["records"]:
            c = current.pop(record_key(b), None)
            if b["status"] != "ok" and c is not None and c["status"] == b["status"]:
                continue  # did not run then, does not run now: nothing to compare
            found = {"variant": f"{b['format']} {b['variant']}", "target": target_label(b)}
            rows.append(self._row(b, c, found))
            figures.append(found)
        for c in current.values():
            self.note(INFO, c, "new row, not in the baseline")
        self._sizes()
        self.result.tables[name] = rows
        self.result.rows[name] = figures

    def _row(self, b: dict, c: dict | None, found: dict) -> list[str]:
        """A row of the change table; `found` gets the same row's figures and verdict."""
        label = [found["variant"], found["target"]]
        if c is None:
            found["verdict"] = self.note(FAIL, b, "not measured in the current run")
        elif b["status"] != "ok" or c["status"] != "ok":
            found["verdict"] = self._status_change(b, c)
        elif unusable := _unusable_figure(c, "current") or _unusable_figure(b, "baseline"):
            found["verdict"] = self.note(FAIL, c, f"{unusable}: no gate can pass on it")
        else:
            (accuracy_level, accuracy), (latency_level, latency) = (self._accuracy(b, c, found),
                                                                    self._latency(b, c, found))
            levels = {accuracy_level, latency_level, self._placement(b, c, found)}
            found["verdict"] = FAIL if FAIL in levels else FLAG if FLAG in levels else "ok"
            return label + [*accuracy, *latency, found["verdict"]]
        return label + ["-"] * 4 + [found["verdict"]]

    def _status_change(self, b: dict, c: dict) -> str:
        if b["status"] == "ok" and c["status"] == "failed":
            return self.note(FAIL, c, f"ran in the baseline, failed now: {c['reason']}")
        if b["status"] == "ok":
            return self.note(FLAG, c, f"ran in the baseline, skipped now: {c['reason']}")
        if c["status"] == "ok":
            return self.note(INFO, c, f"runs now ({b['status']} in the baseline)")
        return c["status"]

    def _accuracy(self, b: dict, c: dict, found: dict) -> tuple[str, list[str]]:
        old, new = (b.get("accuracy") or {}).get("value"), (c.get("accuracy") or {}).get("value")
        if old is None or new is None or not self.same_data or self.metric is None:
            return "ok", ["-", "-"]
        if self.metric not in METRICS:
            return self.note(FAIL, c, f"the metric {self.metric!r} is not one edgekit scores "
                                      f"({', '.join(METRICS)}): accuracy cannot be judged"), ["-", "-"]
        drop = drop_points(self.metric, old, new)
        found["accuracy"] = {"metric": self.metric, "baseline": old, "current": new, "drop_points": round(drop, 4)}
        shown = [f"{old:.4f} → {new:.4f}", f"{0.0 - drop:+.2f}"]
        if drop > self.gates.max_accuracy_drop + 1e-9:
            return self.note(FAIL, c, f"{self.metric} fell {drop:.2f} points ({old:.4f} → {new:.4f}), over the "
                                      f"{self.gates.max_accuracy_drop:g}-point gate"), shown
        return "ok", shown

    def _latency(self, b: dict, c: dict, found: dict) -> tuple[str, list[str]]:
        old, new = typical_latency(b), typical_latency(c)
        change = new / old - 1 if old > 0 else 0.0
        noise = NOISE_SIGMAS * math.hypot(_spread(b) * old, _spread(c) * new)  # within each run
        rounds = _rounds(b), _rounds(c)
        if all(rounds):  # the drift between rounds, when larger
            between = math.hypot(round_spread(rounds[0]) * old, round_spread(rounds[1]) * new)
            noise = max(noise, NOISE_SIGMAS * between)
        found["latency_us"] = {"statistic": "mean" if is_mean(c) else "p50", "baseline": old, "current": new,
                               "change": round(change, 4), "noise": round(noise, 4),
                               "rounds": {"baseline": len(rounds[0]) or 1, "current": len(rounds[1]) or 1}}
        shown = [f"{old:,.1f} → {new:,.1f}", f"{change:+.1%} (noise ±{noise:,.1f} us"
                 + ("" if all(rounds) else ", 1 round") + ")"]
        limit = self.gates.max_latency_regression
        if limit is None or change <= limit:
            return "ok", shown
        detail = f"{'mean' if is_mean(c) else 'p50'} {change:+.1%} ({old:,.1f} → {new:,.1f} us), over the {limit:.0%} limit"
        if not all(rounds):
            which = "both runs" if not any(rounds) else "the baseline" if not rounds[0] else "the current run"
            return self.note(FLAG, c, f"{detail}, but {which} measured it in one round, which cannot tell a "
                                      f"regression from the drift between runs: {ONE_ROUND_HINT}"), shown
        if new - old <= noise:
            return self.note(FLAG, c, f"{detail}, but within the noise between rounds (±{noise:,.1f} us)"), shown
        if self.result.machines_differ:
            return self.note(FLAG, c, f"{detail}, but on a different machine ({self.result.machines_differ})"), shown
        return self.note(FAIL, c, f"{detail}, beyond the noise (±{noise:,.1f} us)"), shown

    def _placement(self, b: dict, c: dict, found: dict) -> str:
        """The placement gate, where both runs profiled the row."""
        base, now = profiles.profiled(b), profiles.profiled(c)
        if base is None or now is None:
            if base is not None or now is not None:
                which = "current run" if base is not None else "baseline"
                why = profiles.missing((c if base is not None else b).get("profile"))
                return self.note(INFO, c, f"placement not compared: the {which} has no per-op profile of this row"
                                          + (f" ({why})" if why else " (bench --profile)"))
            return "ok"
        self.result.placement_gated += 1
        moved = profiles.moved_to_cpu(base, now)
        old, new = base.get("partitions"), now.get("partitions")
        found["placement"] = {"partitions": {"baseline": old, "current": new},
                              "moved_to_cpu": [m["name"] for m, _ in moved]}
        problems = []
        if isinstance(old, int) and isinstance(new, int) and new > old:
            problems.append(f"partitions rose {old} → {new}")
        if moved:
            shown = ", ".join(f"{m['name']} ({m['type']}, {m['executor']} → {n['executor']})"
                              for m, n in moved[:MOVED_SHOWN])
            more = f" and {len(moved) - MOVED_SHOWN} more" if len(moved) > MOVED_SHOWN else ""
            problems.append(f"{len(moved)} op(s) moved from the accelerator to the CPU: {shown}{more}")
        elif base.get("fully_delegated") is True and now.get("fully_delegated") is False:
            left = ", ".join(f"{op['name']} ({op['type']})" for op in now.get("left_on_cpu") or [])
            problems.append("no longer fully delegated" + (f": left on the CPU {left}" if left else ""))
        if problems:
            return self.note(FAIL, c, "placement: " + "; ".join(problems))
        return "ok"

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


def _rounds(record: dict) -> list[float]:
    """A record's round latencies when it was timed in two rounds or more, else []."""
    rounds = record["latency_us"].get("rounds") or []
    return rounds if len(rounds) >= 2 else []


def round_spread(rounds: list[float]) -> float:
    """The relative spread of a run's round latencies, robust as the median round is: 1.4826 x
    their median absolute deviation (the standard deviation for normal noise) over their median.
    A round the machine disturbed (seen: one round of three at +48%) does not widen it, as it
    does not move the median round either; drift in most rounds does."""
    median = statistics.median(rounds)
    return 1.4826 * statistics.median(abs(r - median) for r in rounds) / median


def _unusable_figure(record: dict, which: str) -> str | None:
    """Why a gate cannot judge an ok record's figures, or None: each must be a finite number not
    below zero, and a latency above it."""
    latency, accuracy = record.get("latency_us") or {}, record.get("accuracy")
    typical, spread = ("mean", "cv") if latency.get("statistic") == "mean" else ("p50", "robust_cv")
    rounds = latency.get("rounds") or []
    if not isinstance(rounds, list):
        return f"the {which} latency_us.rounds is {repr(rounds)[:40]}, not a list"
    return (_unusable(latency.get(typical), f"{which} latency_us.{typical}", above_zero=True)
            or _unusable(latency.get(spread), f"{which} latency_us.{spread}")
            or next(filter(None, (_unusable(r, f"{which} latency_us.rounds[{i}]", above_zero=True)
                                  for i, r in enumerate(rounds))), None)
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
