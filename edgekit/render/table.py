"""Tables for the terminal, laid out to its width (see terminal.py)."""

from __future__ import annotations

from edgekit.converters.pinning import converted_at_text
from edgekit.core.units import human_size
from edgekit.measure import quality
from edgekit.measure.fidelity import judged_by_max_abs
from edgekit.measure.timing import MIN_AUTO_RUNS, PRECISION
from edgekit.render import terminal
from edgekit.results.schema import MEAN_NOTE, is_mean, latency_cell, target_label, typical_latency
from edgekit.results.summary import caveat_notes, not_run, recommend, slower_notes

# Columns left out first, in this order, when a table is wider than the terminal; the others
# (what was run, its latency and its task metric) always stay, their names folded if need be.
CONVERSION_DROP = ("gzip", "max-abs", "top-1 agree", "vs float", "SQNR dB", "drop (points)")
BENCH_DROP = ("peak MB", "cold ms", "p99 us", "batch/s", "top-1 agree", "spread", "SQNR dB", "drop", "size")
TUNE_DROP = ("threads", "size", "drop")
QUANT_DEBUG_DROP = ("mse", "max abs", "step", "op")


def render(headers: list[str], rows: list[list[str]], right: set[int] = frozenset(),
           drop: tuple[str, ...] = ()) -> str:
    """`rows` under `headers`, right-aligned columns (figures) whole, the others folded, and the
    columns named in `drop` left out in that order until the table fits the terminal."""
    return terminal.table(headers, rows, right, drop)


def conversion_table(manifest: dict) -> str:
    """One row per artifact: size raw and gzipped, ratio to the float model, fidelity against
    it, and the task metric on held-out data when the model has one."""
    source, evaluation = manifest["source"], manifest.get("evaluation")
    metric = evaluation["metric"] if evaluation else None
    rows = [[f"{manifest['name']} (float {source['flavour']})", "float32", human_size(source["size_bytes"]),
             "-", "1.00x", "-", "-", "-"] + ([f"{evaluation['float']:.4f}", "-"] if metric else [])]
    rejected = manifest.get("rejected", [])
    for a in [*manifest["artifacts"], *rejected]:
        fid = a["fidelity"]
        top1 = "-" if fid["top1_agreement"] is None else f"{fid['top1_agreement']:.1%}"
        mark = " REJECTED" if "reason" in a else " DEGRADED" if quality.is_degraded(a) else ""
        row = [a["path"], a["variant"] + mark, human_size(a["size_bytes"]),
               human_size(a["gzip_bytes"]), f"{a['size_bytes'] / source['size_bytes']:.2f}x",
               f"{fid['max_abs']:.2e}", sqnr_cell(fid), top1]
        if metric:
            ev = a["evaluation"]
            row += [f"{ev['value']:.4f}", f"{ev['drop_points']:+.2f}"]
        rows.append(row)
    skipped = manifest.get("skipped", [])  # left out on purpose (no --calib), not a failure
    for f, status in [*((f, "failed") for f in manifest["failed"]), *((f, f.get("status", "skipped")) for f in skipped)]:
        rows.append([f"{f['format']} {f['variant']}", status, *["-"] * 6, *(["-", "-"] if metric else [])])
    headers = ["artifact", "variant", "size", "gzip", "vs float", "max-abs", "SQNR dB", "top-1 agree"]
    if metric:
        headers += [metric, "drop (points)"]
    checked = manifest.get("validation") or {  # older manifests have only calibration
        "samples": manifest["calibration"]["samples"], "data": f"{manifest['calibration']['samples']} calibration samples"}
    samples = checked["samples"]
    table = render(headers, rows, right=set(range(2, len(headers))), drop=CONVERSION_DROP)
    lines = [*(f"{r['path']} rejected (kept apart, not benchmarked): {r['reason']}" for r in rejected),
             *(f"{a['path']} degraded (kept and benchmarked, below the quality threshold): "
               f"{quality.reason(a['quality'])}" for a in manifest["artifacts"] if quality.is_degraded(a)),
             *(f"{f['format']} {f['variant']} failed: {f['reason']}" for f in manifest["failed"]),
             *skipped_lines(skipped),
             *pinned_lines([*manifest["artifacts"], *rejected]),
             *dynamic_lines([*manifest["artifacts"], *rejected]),
             *constant_notes([*manifest["artifacts"], *rejected], samples),
             f"fidelity against the float model on {checked['data']}" + sized(
                 checked.get("input_shapes"), any(None in t["shape"][1:] for t in source.get("inputs", []))),
             *per_output_lines([*manifest["artifacts"], *rejected]),
             *(f"  {a['path']}: on the first {a['fidelity']['samples']} only (its kernels are slow; validation "
               "stops after a time share)" for a in [*manifest["artifacts"], *rejected]
               if a["fidelity"]["samples"] < samples)]
    if evaluation:
        lines.append(f"{metric} on {evaluation['samples']} held-out samples ({evaluation['data']})")
        lines += [f"  {a['path']}: on the first {a['evaluation']['samples']} only, beside the float model's on the "
                  "same (its kernels are slow; validation stops after a time share)"
                  for a in [*manifest["artifacts"], *rejected] if (a.get("evaluation") or {}).get("samples")]
    if manifest.get("optimization"):
        lines.append(optimization_summary(manifest["optimization"]))
    return "\n".join([table, *terminal.wrap(lines)])


def per_output_lines(artifacts: list[dict]) -> list[str]:
    """Each output's figures, for files with several (the table's columns show the worst)."""
    lines = []
    for a in artifacts:
        outputs = a["fidelity"].get("outputs", {})
        if len(outputs) < 2:
            continue
        below = (a.get("quality") or {}).get("outputs", {})
        lines.append(f"  {a['path']}: " + ", ".join(_output_figures(name, e, name in below)
                                                    for name, e in outputs.items()))
    return lines


def _output_figures(name: str, entry: dict, degraded: bool) -> str:
    """'onset 9.5 dB (degraded)', 'probs 41.2 dB top-1 99.4%', 'mask const'."""
    text = f"{name} " + ("const" if "constant" in entry else f"{entry['sqnr_db']:.1f} dB")
    if "top1_agreement" in entry:
        text += f" top-1 {entry['top1_agreement']:.1%}"
    return text + (" (degraded)" if degraded else "")


def skipped_lines(skipped: list[dict]) -> list[str]:
    """One line per reason a variant was left out on purpose, naming the variants."""
    lines = []
    for reason in dict.fromkeys(f["reason"] for f in skipped):
        names = ", ".join(f"{f['format']} {f['variant']}" for f in skipped if f["reason"] == reason)
        if any(f.get("status") == "unavailable" for f in skipped if f["reason"] == reason):  # the reason names it
            lines.append(f"{names} not built: {reason}")
            continue
        fix = ": give --calib (a .npz, .npy or image folder of real inputs) to build them" if "--calib" in reason else ""
        lines.append(f"skipped ({reason}): {names}{fix}")
    return lines


def dynamic_lines(artifacts: list[dict]) -> list[str]:
    """What each dynamically quantized ONNX file quantized and what it left in float."""
    def counts(ops: dict) -> str:
        return ", ".join(f"{n} {op}" for op, n in ops.items())

    return [f"{a['path']}: int8 {counts(a['recipe']['op_types'])}" + (
        f"; {counts(a['recipe']['left_float'])} left in float (dynamic quantization is slower than float on them)"
        if a["recipe"].get("left_float") else "")
        for a in artifacts if "op_types" in (a.get("recipe") or {})]


def pinned_lines(artifacts: list[dict]) -> list[str]:
    """One line per shape the files that could not keep the model's free dimensions were converted at."""
    pinned: dict[str, list[str]] = {}
    for a in artifacts:
        converted_at = (a.get("recipe") or {}).get("converted_at")
        if converted_at:
            pinned.setdefault(converted_at_text(converted_at), []).append(a["path"])
    return [f"{', '.join(paths)} {text}" for text, paths in pinned.items()]


def optimization_summary(report: dict) -> str:
    """One line per optimization step: what it did and what it cost in the task metric."""
    lines = [f"optimized{' (rebuilt from Keras 3)' if report['rebuilt_from_keras3'] else ''}, "
             f"{report['fine_tune_epochs']} fine-tuning epochs per step on {report['data']}:"]
    for step in report["steps"]:
        done = ""
        if "sparsity" in step:
            done += f", sparsity {step['sparsity']['overall']:.1%}"
        if "distinct_values" in step:
            values = step["distinct_values"].values()
            clustered = sum(v <= step["options"]["clusters"] + 1 for v in values)  # +1: a kept zero
            done += f", {clustered} of {len(values)} kernels clustered"
        options = ", ".join(f"{k} {v}" for k, v in step["options"].items() if v not in (None, False))
        lines.append(f"  {step['step']} ({options}): {report['metric']} {step['value']:.4f}, drop "
                     f"{step['drop_points']:+.2f} points{done}")
    if report.get("onednn_retry"):  # fine-tuning crashed in TensorFlow's oneDNN kernels (docs/DESIGN.md, pitfall 25)
        lines.append(f"  note: {report['onednn_retry']}")
    return "\n".join(terminal.wrap(lines))


def sqnr_cell(fid: dict) -> str:
    """SQNR, or "const" where every output of the float model was near-constant (not judged)."""
    return "const" if judged_by_max_abs(fid) else f"{fid['sqnr_db']:.1f}"


def constant_notes(artifacts: list[dict], samples: int) -> list[str]:
    """One line per float output that was near-constant on the samples, with its spread."""
    found = {}
    for a in artifacts:
        for name, entry in a["fidelity"].get("outputs", {}).items():
            if "constant" in entry:
                found.setdefault(name, entry["constant"])
    return [f"float output {name} is (near-)constant on these {samples} samples (spread {c['spread']:.2g}): SQNR and "
            f"top-1 agreement not judged; judged by max-abs error against its range ({c['range']:.3g})"
            for name, c in found.items()]


def record_line(record: dict) -> str:
    """One record as one line, printed as soon as it is measured."""
    head = f"{record['artifact']} on {target_label(record)}"
    if record["status"] != "ok":
        return f"{head}: {record['status']}: {record['reason']}"
    parts = [f"{'mean' if is_mean(record) else 'p50'} {typical_latency(record):.1f} us"]
    accuracy, fid = record.get("accuracy"), record.get("fidelity")
    if accuracy:
        parts.append(f"{accuracy.get('metric') or 'score'} {accuracy['value']:.4f}")
    if fid:
        parts.append(f"SQNR {fid['sqnr_db']:.1f} dB" if sqnr_cell(fid) != "const" else
                     f"max-abs {fid['max_abs']:.2e} (constant float output)")
    return f"{head}: {', '.join(parts)}"


def bench_table(model: dict, settings: dict | None = None) -> str:
    """One row per (model file, target) that ran: latency, cold start, throughput, memory, the
    task metric and fidelity against the float model; skipped and failed targets below (with the
    run's `settings`, the targets nobody asked for folded into one line, as in the reports)."""
    data = model["data"]
    metric = data["metric"]
    headers = ["artifact", "target", "size", "p50 us", "p99 us", "spread", "cold ms", "batch/s", "peak MB"]
    headers += [metric, "drop"] if metric else []
    headers += ["SQNR dB", "top-1 agree"]
    rows = []
    for r in model["records"]:
        if r["status"] != "ok":
            continue
        lat, acc, fid = r["latency_us"], r.get("accuracy") or {}, r.get("fidelity")
        peak = r["memory"].get("peak_over_start_bytes", r["memory"]["peak_rss_bytes"])
        row = [r["artifact"], target_label(r), human_size(r["size_bytes"]), latency_cell(r, ".1f"),
               "-" if is_mean(r) else f"{lat['p99']:.1f}",
               "-" if is_mean(r) else f"{lat['robust_cv']:.2f}" + ("!" if lat["high_spread"] else ""),
               f"{r['cold']['cold_start_us'] / 1e3:.1f}",
               f"{r['throughput']['samples_per_s']:,.0f}", f"{peak / 2**20:.1f}"]
        if metric:
            row += [f"{acc['value']:.4f}" if acc else "-",
                    f"{acc['drop_points']:+.2f}" if "drop_points" in acc else "-"]
        top1 = None if fid is None else fid["top1_agreement"]
        row += ["-" if fid is None else sqnr_cell(fid), "-" if top1 is None else f"{top1:.1%}"]
        rows.append(row)
    table = render(headers, rows, right=set(range(2, len(headers))), drop=BENCH_DROP) if rows else "no target could run"
    lines = list(not_run(model, settings))
    fallback = {}
    for r in model["records"]:  # an accelerator row that partly ran on the CPU must say so
        if r["status"] == "ok" and r["details"].get("accelerator") in ("gpu", "npu") \
                and not r["details"].get("fully_accelerated"):
            fallback.setdefault(r["target"], []).append(r["artifact"])
    for target, artifacts in fallback.items():
        lines.append(f"{target} was not fully accelerated for {len(artifacts)} file(s): some ops ran on "
                     "the CPU fallback")
    lines += micro_lines(model["records"])
    lines += slower_notes(model) + caveat_notes(model)
    degraded = {r["artifact"]: r["quality"] for r in model["records"] if r["status"] == "ok" and quality.is_degraded(r)}
    lines += [f"{name} degraded (below the quality threshold): {quality.reason(found)}" for name, found in degraded.items()]
    for r in model["records"]:
        if r["status"] == "ok" and r.get("precision_floor"):
            judged = r["precision_floor"]
            lines.append(f"{r['artifact']} on {target_label(r)} ran in {judged['precision']} ({r['details'].get('dispatch')}"
                         f"): fidelity judged against the {judged['precision']} floor: "
                         + (f"below it, {judged['reason']}" if judged["reason"] else "within it"))
    for note in dict.fromkeys(r["throughput"]["note"] for r in model["records"]
                              if r["status"] == "ok" and "note" in r["throughput"]):
        lines.append(f"batch/s {note}")
    if any(map(is_mean, model["records"])):
        lines.append(MEAN_NOTE)
    if any(r["status"] == "ok" and r["latency_us"].get("high_spread") for r in model["records"]):
        lines.append("! these timings spread widely (robust cv above 0.1): the machine was busy; rerun "
                     "with more --runs or on a quiet machine before trusting them")
    cut = [r for r in model["records"] if r["status"] == "ok" and r["latency_us"].get("stopped_by") == "share"]
    if cut:
        lines.append(f"stopped at its time share, before {MIN_AUTO_RUNS} runs pinned the median to ±{PRECISION:.0%}: " + ", ".join(
            f"{r['artifact']} on {target_label(r)} ({r['latency_us']['runs']} runs in {r['latency_us']['share_seconds']:g} "
            f"s, median ±{r['latency_us']['median_ci']:.1%})" for r in cut))
    partial = [r for r in model["records"] if r["status"] == "ok" and "evaluated_samples" in r]
    if partial:
        lines.append(f"scored on the first samples only, at the pair's time share (of {data['samples']}): " + ", ".join(
            f"{r['artifact']} on {target_label(r)} ({r['evaluated_samples']})" for r in partial))
    first = next((r for r in model["records"] if r["status"] == "ok"), None)
    if first:
        counts = sorted(r["latency_us"]["runs"] for r in model["records"] if r["status"] == "ok")
        runs = f"{counts[0]}" if counts[0] == counts[-1] else f"{counts[0]}-{counts[-1]}"
        lines.append(f"latency: batch 1 over {runs} runs; spread: robust coefficient of "
                     f"variation (MAD over median; the plain cv is in the JSON); batch/s at batch "
                     f"{first['throughput']['batch']}; peak MB: resident memory added while loading and running")
    lines.append(f"data: {data['samples']} samples from {data['source']}"
                 + sized(data.get("input_shapes"), bool(data.get("shapes_from")), data.get("shapes_from"))
                 + (f"; the float model's {metric} is {data['float_score']:.4f}" if data["float_score"] is not None
                    and metric else ""))
    if model.get("reference_note"):
        lines.append(f"fidelity: {model['reference_note']}")
    lines.append(recommend(model).line())
    return "\n".join([table, *terminal.wrap(lines)])


def sized(input_shapes: dict | None, free: bool, source: str | None = None) -> str:
    """", at input [1, 3, 64, 64] (from --input-shape)": the shapes fed, when the file leaves some free."""
    if not input_shapes or not free:
        return ""
    shown = ", ".join(f"{name} [{', '.join(map(str, shape))}]" for name, shape in input_shapes.items())
    return f", at {shown}" + (f" (sized by {source}; the file leaves them free)" if source else "")


def micro_lines(records: list[dict]) -> list[str]:
    """What each file takes on a microcontroller (TFLite Micro's rows), and whether it fits the
    budget given: arena in RAM, the file in flash, with what is left."""
    micro = [r for r in records if r["status"] == "ok" and r["runtime"] == "tflm"]
    lines = []
    for r in micro:
        d, line = r["details"], f"TFLite Micro: {r['artifact']}"
        line += f" needs a {human_size(d['arena_bytes'])} arena ({d['arena_bytes']:,} bytes) and {human_size(d['flash_bytes'])} of flash"
        if "mcu" in r:
            m = r["mcu"]
            line += (f"; {'fits' if m['fits'] else 'does NOT fit'} {m['board']}: RAM {headroom(m['ram_headroom_bytes'])}, "
                     f"flash {headroom(m['flash_headroom_bytes'])}")
        lines.append(line)
    if micro:
        lines.append("TFLite Micro: its time is reference kernels on the host, not MCU time; flash is the model's "
                     "bytes (the interpreter's code and kernels come on top); the headroom is left for the "
                     "application and stack")
    return lines


def headroom(left: int) -> str:
    return f"{human_size(left)} left" if left >= 0 else f"{human_size(-left)} short"


def _fit_cell(fit: dict | None) -> str:
    if fit is None:
        return "-"
    if "arena_bytes" not in fit:
        return "no: TFLite Micro cannot run it"
    return f"{'yes' if fit['fits'] else 'no'}, arena {human_size(fit['arena_bytes'])}"


def quant_debug_table(report: dict, top: int = 20) -> str:
    """The layers of an int8 conversion, worst first, and the whole model's numbers below."""
    rows = [[str(r["rank"]), r["layer"], r["op"], f"{r['rmse_per_step']:.2f}", f"{r['mse']:.3g}",
             f"{r['max_abs_error']:.3g}", f"{r['scale']:.3g}"] for r in report["layers"][:top]]
    table = render(["rank", "layer", "op", "rmse/step", "mse", "max abs", "step"], rows, right={0, 3, 4, 5, 6},
                   drop=QUANT_DEBUG_DROP)
    lines = []
    if len(report["layers"]) > top:
        lines.append(f"... {len(report['layers']) - top} more layers in the JSON report")
    lines.append(f"rmse/step: RMS error of the layer's own int8 output in quantization steps; rounding alone "
                 f"is {report['rounding_only_rmse_per_step']:.2f}")
    if report["keep_float"]:
        kept = report["keep_float"]
        lines.append(f"kept in float: {', '.join(kept['layers'] + kept['ops'])}")
    whole, fid = report["whole_model"], report["whole_model"]["fidelity"]
    summary = f"whole model (int8 in LiteRT vs float): SQNR {fid['sqnr_db']:.1f} dB"
    if fid.get("top1_agreement") is not None:
        summary += f", top-1 agreement {fid['top1_agreement']:.1%}"
    ev = whole["evaluation"]
    if ev:
        summary += (f"; {ev['metric']} {ev['value']:.4f} vs float {ev['float']:.4f} "
                    f"(drop {ev['drop_points']:+.2f} points) on {report['evaluation_data']}")
    lines.append(summary)
    return "\n".join([table, *terminal.wrap(lines)])


def _worst_sqnr_cell(row: dict) -> str:
    return f"{min(row['sqnr_db'].values()):.1f}" if row.get("sqnr_db") else "-"


def _mixed_precision_line(found: dict) -> str:
    """'int8 with A, B in float clears the bar after 2 tries: contour 37.6 dB, ...; 24 ms against 41 ms for fp32'."""
    layers = ", ".join(found["layers"]) or "-"
    head = (f"int8 with {layers} in float{' and float inputs and outputs' if found.get('io') == 'float' else ''} "
            f"{'clears' if found['cleared'] else 'does not clear'} the bar ({len(found['trials'])} set(s) tried)")
    sqnr = found.get("held_out_sqnr_db")
    if sqnr:
        head += ": " + ", ".join(f"{name} {db:.1f} dB" for name, db in sqnr.items())
    if found.get("fp32_p50_us"):
        head += (f"; p50 {found['p50_us']:.0f} us against {found['fp32_p50_us']:.0f} us for fp32, "
                 f"{human_size(found['size_bytes'])} against {human_size(found['fp32_size_bytes'])}")
    return head


def tune_table(report: dict) -> str:
    """Every candidate of a search, fastest first, and what was picked."""
    ok = sorted((r for r in report["candidates"] if r["status"] == "ok"), key=lambda r: r["p50_us"])
    board = report["settings"].get("mcu")
    task = report["evaluation"]  # None: judged by fidelity on held-out samples alone
    rows = [["*" if r == report["pick"] else ("+" if r["within_tolerance"] else ""),
             r["file"], ", ".join(r["kept_float"] or []) or "-", f"x{r['threads']}", f"{r['p50_us']:.1f}",
             human_size(r["size_bytes"]),
             *([f"{r['value']:.4f}", f"{r['drop_points']:+.2f}"] if task else [_worst_sqnr_cell(r)]),
             *([_fit_cell(r.get("mcu"))] if board else [])] for r in ok]
    metric = [task["metric"], "drop"] if task else ["worst SQNR dB"]
    table = render(["", "candidate", "in float", "threads", "p50 us", "size", *metric,
                    *([f"fits {board['name']}"] if board else [])], rows, right={4, 5, 6, 7}, drop=TUNE_DROP)
    lines = [f"  {r['format']} {r['variant']}: {r['status']}: {r.get('reason')}" for r in report["candidates"]
              if r["status"] != "ok"]
    tolerance = report["settings"]["max_drop"]
    if board:
        lines.append(f"{board['name']}: {human_size(board['ram_bytes'])} RAM for TFLite Micro's arena, "
                     f"{human_size(board['flash_bytes'])} flash for the model ({board['source']})")
    judged = report.get("judged_on") or {}
    passing = (f"float {task['metric']} {task['float']:.4f} on {task['data']}; + within {tolerance:g} points" if task
               else f"judged on {judged.get('data')}; + clears the bar ({judged.get('by')})")
    lines.append(f"{passing}{' and fits ' + board['name'] if board else ''}, * the pick "
                 f"({report['seconds']:g} s" + (", stopped at the budget)" if report["stopped_at_budget"] else ")"))
    found = report.get("mixed_precision")
    if found:
        lines.append(_mixed_precision_line(found))
    pick = report["pick"]
    if pick:
        lines.append(f"picked: {pick['file']} on {pick['target']} x{pick['threads']}: p50 {pick['p50_us']:.1f} us, "
                     + (f"drop {pick['drop_points']:+.2f} points" if pick.get("drop_points") is not None
                        else "SQNR " + ", ".join(f"{n} {db:.1f} dB" for n, db in pick["sqnr_db"].items())))
    return "\n".join([table, *terminal.wrap(lines)])
