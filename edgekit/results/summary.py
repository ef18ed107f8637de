"""What every report shows of one model's results: a row per measured (file, target) pair with
its size against the float model's, its speed against the fp32 TFLite file's on the same target,
and every figure measured; the targets that did not run; and the recommended variant. Derived
from the results file alone; nothing is measured here.
"""

from __future__ import annotations

import dataclasses
import math
import re

from edgekit.core.config import DEFAULT_MAX_ACCURACY_DROP
from edgekit.core.units import human_size
from edgekit.measure.quality import is_degraded
from edgekit.measure.targets import KERNEL_ALIASES
from edgekit.results.compare import NOISE_SIGMAS, _spread
from edgekit.results.schema import is_mean, latency_cell, target_label, typical_latency

DEFAULT_TOLERANCE = DEFAULT_MAX_ACCURACY_DROP  # points of the task metric a recommended variant may lose
BASELINE = "the fp32 TFLite file"  # what speed-ups are against, on the same target, threads and device
# Lower is less precise: a tie within noise goes to the lower; by the variant's words, the first that matches
_PRECISIONS = (("int16x8", 2), ("dynamic", 1), ("int8", 0), ("qat", 0), ("fp16", 3), ("fp32", 4), ("float", 4))
FOLDED = "not available here, and not asked for by name (the default runtime list tries them all)"
# how the engine's skip of a pair the benchmark's time limit left out begins: that is no matter of the machine
_TIME_LIMIT_SKIP = "not measured:"


@dataclasses.dataclass(frozen=True)
class Row:
    record: dict
    size_ratio: float | None  # file size over the float model's
    speedup: float | None  # the fp32 TFLite file's p50 on the same target over this row's

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
    def p99(self) -> float | None:
        return None if is_mean(self.record) else self.record["latency_us"]["p99"]

    @property
    def accuracy(self) -> float | None:
        return (self.record.get("accuracy") or {}).get("value")

    @property
    def drop(self) -> float | None:
        return (self.record.get("accuracy") or {}).get("drop_points")

    @property
    def cold_ms(self) -> float | None:
        us = _figure(self.record["cold"], "cold_start_us")
        return None if us is None else us / 1e3

    @property
    def peak_bytes(self) -> int | None:
        """Resident memory added while the file loaded and ran (the whole process's peak where
        that was not recorded)."""
        memory = self.record["memory"]
        found = _figure(memory, "peak_over_start_bytes")
        return _figure(memory, "peak_rss_bytes") if found is None else found

    @property
    def samples_per_s(self) -> float | None:
        return _figure(self.record["throughput"], "samples_per_s")


def _figure(block: dict, key: str) -> float | None:
    """A number from a record's cold, memory or throughput block (the schema checks only that
    they are objects), or None."""
    value = block.get(key)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def precision_rank(variant: str) -> int:
    """How precise a variant computes, from its name: 0 for int8 up to 4 for fp32; 5 unknown."""
    words = set(re.split(r"[^a-z0-9]+", variant.lower()))
    return next((rank for word, rank in _PRECISIONS if word in words), 5)


def _is_baseline(record: dict) -> bool:
    return record["format"] == "tflite" and precision_rank(record["variant"]) == 4 and record["status"] == "ok"


def _place(record: dict) -> tuple:
    """Where a record ran: its target, thread count and device."""
    return record["target"], record.get("threads"), record.get("device", "local")


def baselines(model: dict) -> dict[tuple, float]:
    """The fp32 TFLite file's p50 at each place it ran."""
    found = {}
    for r in model["records"]:
        if _is_baseline(r) and typical_latency(r) > 0:
            found.setdefault(_place(r), typical_latency(r))
    return found


def rows(model: dict) -> list[Row]:
    float_size = (model.get("reference") or {}).get("size_bytes")
    against = baselines(model)
    return [Row(r, r["size_bytes"] / float_size if float_size else None,
                against[_place(r)] / typical_latency(r) if _place(r) in against and typical_latency(r) > 0 else None)
            for r in model["records"] if r["status"] == "ok"]


def slower_than_float(model: dict) -> dict[int, dict]:
    """The reduced-precision files slower than their float sibling (same format, target, threads
    and device) by more than their timings' noise, by record index: {"than": the sibling's variant,
    "ratio": p50 over the sibling's}. An int8 file is there to be fast: one that is not (S8S8 ONNX on
    an x86-64 CPU, int16x8 on XNNPACK's reference kernels) is flagged and never recommended over it."""
    floats = {}
    for r in model["records"]:
        if r["status"] == "ok" and precision_rank(r["variant"]) == 4 and typical_latency(r) > 0:
            floats.setdefault((r["format"], *_place(r)), r)
    flags = {}
    for i, r in enumerate(model["records"]):
        sibling = floats.get((r["format"], *_place(r)))
        if r["status"] != "ok" or sibling is None or precision_rank(r["variant"]) >= 4:
            continue
        if typical_latency(r) - typical_latency(sibling) > noise_us(r, sibling):
            flags[i] = {"than": sibling["variant"], "ratio": round(typical_latency(r) / typical_latency(sibling), 2)}
    return flags


# Files whose purpose a CPU target defeats, whatever the timing shows (issue 31): kept in the table
# for the targets they are made for, marked where they run. LiteRT has optimized 16x8 kernels for
# no CPU (resnet8: int16x8 7,748 µs on XNNPACK's target, fp32 256 µs); XNNPACK expands fp16 weights
# to fp32 when it loads a file, so an fp16 file computes in fp32 on a CPU (unless asked to force fp16).
REFERENCE_KERNELS = "reference kernels on this CPU (LiteRT has no optimized 16x8 kernels): a file for MCUs and NPUs"
FP16_AS_FP32 = "computes in fp32 on this CPU (its fp16 weights are expanded when loaded): smaller, not faster"
_CPU_TARGETS = ("litert:xnnpack", "litert:builtin", "litert-compiled:cpu")
FP16_ARITHMETIC = ("avx512_fp16", "asimdhp", "fphp")  # /proc/cpuinfo flags of CPUs that compute in fp16


def caveat(record: dict, cpu_flags: dict | None = None) -> str | None:
    """Why a TFLite file does not do on this CPU target what its precision is for, or None."""
    if record["format"] != "tflite" or record["target"] not in _CPU_TARGETS or record.get("device", "local") != "local":
        return None
    if record["variant"] == "int16x8":
        return REFERENCE_KERNELS
    if record["variant"] == "fp16":
        lacking = bool(cpu_flags) and not any(cpu_flags.get(flag) for flag in FP16_ARITHMETIC)
        return FP16_AS_FP32 + (" (and it has no fp16 arithmetic)" if lacking else "")
    return None


def caveat_notes(model: dict) -> list[str]:
    """One line per (file kind, caveat): "tflite int16x8 on litert:xnnpack x1, ...: reference kernels …"."""
    found: dict = {}
    for r in model["records"]:
        if r["status"] == "ok" and r.get("caveat"):
            found.setdefault((f"{r['format']} {r['variant']}", r["caveat"]), []).append(target_label(r))
    return [f"{name} on {', '.join(dict.fromkeys(where))}: {why}" for (name, why), where in found.items()]


def slower_notes(model: dict) -> list[str]:
    """One line per flagged file: "onnx int8-static is 1.24x slower than onnx fp32 on onnxruntime:cpu x1"."""
    return [f"{r['format']} {r['variant']} is {flag['ratio']:.2f}x slower than {r['format']} {flag['than']} on "
            f"{target_label(r)}: prefer the float file there"
            for r, flag in ((model["records"][i], flag) for i, flag in slower_than_float(model).items())]


def headers(metric: str | None) -> list[str]:
    """The columns of the compact table every report shows."""
    return ["variant", "runtime", "size", "vs float", *([metric, "drop (points)"] if metric else []),
            "p50 us", "p99 us", "speed-up", "cold ms", "peak memory", "samples/s"]


def cells(row: Row, metric: str | None) -> list[str]:
    """One row of that table, as plain text."""
    r = row.record
    return [row.name, row.target, human_size(r["size_bytes"]), _number(row.size_ratio, ".2f", "x"),
            *([_number(row.accuracy, ".4f"), _number(row.drop, "+.2f")] if metric else []),
            latency_cell(r), _number(row.p99, ",.1f"), _number(row.speedup, ",.2f", "x"),
            _number(row.cold_ms, ",.1f"),
            "-" if row.peak_bytes is None else human_size(row.peak_bytes), _number(row.samples_per_s, ",.0f")]


def _number(value, spec: str, suffix: str = "") -> str:
    return "-" if value is None else format(value, spec) + suffix


def speedup_note(model: dict) -> str:
    """What the speed-up column is against, and why a row has none."""
    ok = [r for r in model["records"] if r["status"] == "ok"]
    against = baselines(model)
    missing = {}  # why, by the places that have no fp32 TFLite row
    for r in ok:
        if _place(r) in against:
            continue
        same = [o for o in model["records"] if _place(o)[0::2] == _place(r)[0::2] and o["format"] == "tflite"]
        tried = [o for o in same if precision_rank(o["variant"]) == 4 and o.get("threads") == r.get("threads")]
        why = (f"the fp32 TFLite file {tried[0]['status']} there" if tried
               else "it ran no fp32 TFLite file" if same else "it runs no TFLite file")
        missing.setdefault(why, {})[target_label(r)] = None
    note = f"speed-up: the p50 of {BASELINE} on the same target and threads over the row's"
    if not against:
        note += " (no fp32 TFLite file ran, so no row has one)"
    elif missing:
        note += "; none (-) on " + "; ".join(f"{', '.join(places)}: {why}" for why, places in missing.items())
    return note


def throughput_note(model: dict) -> str | None:
    """At what batch samples/s was measured (a row that ran at another batch says why below)."""
    batches = sorted({_figure(r["throughput"], "batch") for r in model["records"] if r["status"] == "ok"} - {None})
    if not batches:
        return None
    return (f"samples/s: throughput at batch {', '.join(map(str, batches))}; cold ms: loading and the first run; "
            "peak memory: resident memory added while loading and running")


def throughput_notes(model: dict) -> list[str]:
    """Why a row's throughput ran at a batch other than the one asked for, each reason once."""
    return [f"samples/s {note}" for note in dict.fromkeys(
        r["throughput"]["note"] for r in model["records"] if r["status"] == "ok"
        and isinstance(r["throughput"].get("note"), str))]


def not_run(model: dict, settings: dict | None = None) -> list[str]:
    """One line per distinct reason that kept a target from running (thread counts and files
    grouped); targets that are not available here and that nobody named in `settings`' runtime
    list (the default tries every target) folded into one line."""
    folded = unrequested(model, settings)
    grouped: dict[tuple, tuple[dict, dict]] = {}
    for r in model["records"]:
        if r["status"] == "ok" or (r["target"], r.get("device", "local")) in folded:
            continue
        targets, files = grouped.setdefault((r["status"], r["reason"]), ({}, {}))
        targets.setdefault((r["target"], r.get("device", "local")), {})[r.get("threads")] = None
        files[r["artifact"]] = None
    lines = [f"{', '.join(_where(target, device, threads) for (target, device), threads in targets.items())} "
             f"{status} for {next(iter(files)) if len(files) == 1 else f'{len(files)} files'}: {reason}"
             for (status, reason), (targets, files) in grouped.items()]
    if folded:
        lines.append(f"{FOLDED}: " + ", ".join(_where(target, device) for target, device in folded))
    return lines


def unrequested(model: dict, settings: dict | None) -> dict[tuple, list[str]]:
    """The (target, device) pairs that were skipped for every file although no --runtime named
    them (none when the settings do not say which runtimes were asked for), with their reasons."""
    if not settings or "runtime" not in settings or not isinstance(settings["runtime"], (str, type(None))):
        return {}
    named = _named_targets(settings["runtime"])
    found: dict[tuple, dict] = {}
    for r in model["records"]:
        found.setdefault((r["target"], r.get("device", "local")), {})[r["status"], r.get("reason")] = None
    return {place: [reason for _, reason in outcomes] for place, outcomes in found.items()
            if place[0] not in named and all(status == "skipped" and not reason.startswith(_TIME_LIMIT_SKIP)
                                             for status, reason in outcomes)}


def _named_targets(spec: str | None) -> set[str]:
    """The targets a --runtime value names one by one ("litert" alone names none of its targets)."""
    named = set()
    for name in (spec or "").split(","):
        runtime, _, variant = name.strip().partition(":")
        if variant:
            named.add(f"{runtime}:{KERNEL_ALIASES.get(variant, variant.lower()) if runtime == 'litert' else variant.lower()}")
    return named


def _where(target: str, device: str, threads: dict | None = None) -> str:
    counts = [str(t) for t in threads or {} if t]
    return target + (f" x{','.join(counts)}" if counts else "") + ("" if device == "local" else f" on {device}")


@dataclasses.dataclass(frozen=True)
class Recommendation:
    row: Row | None
    tolerance: float
    why_none: str | None = None
    tied: tuple[Row, ...] = ()  # rows within the noise of the fastest, which lost the tie-break
    picked_for: str | None = None  # what broke the tie
    by_fidelity: bool = False  # no task metric: picked among the files not degraded against the float model

    def line(self) -> str:
        if self.row is None:
            return f"no recommendation: {self.why_none}"
        r = self.row
        faster = f", {r.speedup:,.2f}x {BASELINE}'s speed on the same target" if r.speedup else ""
        spread = " (its timing spread widely: rerun before trusting it)" if r.record["latency_us"].get("high_spread") else ""
        tied = ", ".join(f"{t.record['artifact']} on {t.target}" for t in self.tied)
        tie = f"; tied within noise with {tied}; picked for its {self.picked_for}" if self.tied else ""
        if self.by_fidelity:
            fid = r.record.get("fidelity")
            return (f"recommended: {r.record['artifact']} on {r.target}, the fastest file not degraded against the "
                    f"float model (no labels, so judged by fidelity, not accuracy): p50 {r.p50:,.1f} us{faster}, "
                    f"{human_size(r.record['size_bytes'])}" + (f", SQNR {fid['sqnr_db']:.1f} dB" if fid else "")
                    + f"{tie}{spread}")
        return (f"recommended: {r.record['artifact']} on {r.target}, the fastest within {self.tolerance:g} "
                f"point(s) of the float model: p50 {r.p50:,.1f} us{faster}, {human_size(r.record['size_bytes'])}"
                f", {r.record['accuracy'].get('metric') or 'score'} {r.accuracy:.4f} (drop {r.drop:+.2f} points)"
                f"{tie}{spread}")


def recommend(model: dict, tolerance: float = DEFAULT_TOLERANCE) -> Recommendation:
    """The fastest (file, target) whose task metric is within `tolerance` points of the float
    model's; the float model itself counts, so there is always one when the float model ran.
    Rows as fast as the fastest within the noise their timings recorded tie: the smaller file
    wins, then the lower precision, then the one measured first, so that identical runs agree.

    Without a task metric (no labels), the fastest among the float model and the files whose
    fidelity against it was judged and not degraded (measure/quality.py): never a degraded file."""
    # TFLite Micro's host time is its reference kernels', not a microcontroller's: no speed to pick by
    timed = [r for r in rows(model) if r.record["runtime"] != "tflm"]
    if not model["data"].get("metric"):
        fine = [r for r in timed if r.record["runtime"] == "keras"
                or (r.record.get("quality") is not None and not is_degraded(r.record))]
        if not [r for r in fine if r.record["runtime"] != "keras"]:
            return Recommendation(None, tolerance, "the evaluation data has no labels, so accuracy is unknown, and no "
                                                   "file's fidelity was judged fine (give --data with x and y)")
        return _fastest(_not_slower_than_float(model, fine), tolerance, by_fidelity=True)
    scored = [r for r in timed if r.drop is not None]
    if not scored:
        return Recommendation(None, tolerance, "no file was scored against the float model")
    within = _not_slower_than_float(model, [r for r in scored if r.drop <= tolerance])
    if not within:
        closest = min(scored, key=lambda r: r.drop)
        return Recommendation(None, tolerance, f"no file is within {tolerance:g} point(s) of the float model; "
                                               f"the closest is {closest.record['artifact']} ({closest.drop:+.2f})")
    return _fastest(within, tolerance)


def _not_slower_than_float(model: dict, within: list[Row]) -> list[Row]:
    """`within` without the files slower than a float sibling that is among them."""
    slower = {id(model["records"][i]): flag for i, flag in slower_than_float(model).items()}
    float_places = {(r.record["format"], *_place(r.record)) for r in within if precision_rank(r.record["variant"]) == 4}
    return [r for r in within if not (id(r.record) in slower and (r.record["format"], *_place(r.record)) in float_places)]


def _fastest(within: list[Row], tolerance: float, by_fidelity: bool = False) -> Recommendation:
    """The fastest of `within`; ties within noise broken by size, then precision, then order."""
    fastest = min(within, key=lambda r: r.p50)
    tied = [r for r in within if r.p50 - fastest.p50 <= noise_us(fastest.record, r.record)]
    order = {id(r): i for i, r in enumerate(within)}
    pick = min(tied, key=lambda r: (r.record["size_bytes"], precision_rank(r.record["variant"]), order[id(r)]))
    others = tuple(r for r in tied if r is not pick)
    if not others:
        return Recommendation(pick, tolerance, by_fidelity=by_fidelity)
    same_size = [r for r in others if r.record["size_bytes"] == pick.record["size_bytes"]]
    rank = precision_rank(pick.record["variant"])
    reasons = (["smaller size"] if len(same_size) < len(others) else []) + (
        [] if not same_size else ["lower precision"] if all(rank < precision_rank(r.record["variant"]) for r in same_size)
        else ["earlier place in the run (same size and precision)"])
    return Recommendation(pick, tolerance, tied=others, picked_for=" and ".join(reasons), by_fidelity=by_fidelity)


def noise_us(a: dict, b: dict) -> float:
    """How far apart two records' latencies may lie by noise alone, in us: the band `compare`
    judges a change by, from the spread each run recorded."""
    try:
        return NOISE_SIGMAS * math.hypot(_spread(a) * typical_latency(a), _spread(b) * typical_latency(b))
    except (KeyError, TypeError):  # a hand-written file without the spread: only equal latencies tie
        return 0.0


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
