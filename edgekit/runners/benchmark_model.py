"""LiteRT's own `benchmark_model` tool, as a phone runs it: its command line for a target, and
its report read into a record's figures.

The tool prints a count, mean, std, min and max of its timed runs but no percentiles (its
`Stat::OutputToStream`), so its records carry the mean where others carry the p50; reports mark
such figures. Its output lines may carry an `INFO: ` or a logcat prefix; both are read.
"""

from __future__ import annotations

import re

from edgekit.core.errors import BackendUnavailable, EdgekitError, first_line
from edgekit.runners import replies

# benchmark_model runs LiteRT's interpreter; what each edgekit target becomes on its command line
NOT_ON_THE_TOOL = {
    "reference": "benchmark_model has no reference-kernel mode",
    "delegate": "an external delegate on the phone: push it and pass --external_delegate_path to benchmark_model",
    "cpu": "benchmark_model times the interpreter, not CompiledModel: litert:xnnpack is its CPU figure",
}

AUTO_RUNS = 50  # --runs auto: the tool's own default count, cut short by the pair's time share
STAT = re.compile(r"\bcount=(\d+)(?: first=(\d+))? curr=(\d+)(?: min=(\d+) max=(\d+) avg=([\d.e+]+) std=([\d.e+]+))?")
_TIMINGS = re.compile(r"Inference timings in us: Init: ([\d.e+]+), First inference: ([\d.e+]+), "
                      r"Warmup \(avg\): ([\d.e+]+), Inference \(avg\): ([\d.e+]+)")
_FOOTPRINT = re.compile(r"(?:Peak memory footprint|Memory footprint delta from the start of the tool) \(MB\): "
                        r"init=([\d.e+]+) overall=([\d.e+]+)")
_PEAK = re.compile(r"Overall peak memory footprint \(MB\) via periodic monitoring: ([\d.e+]+)")
_APPLIED = re.compile(r"Explicitly applied (\S+) delegate, and the model graph will be (completely|partially) "
                      r"executed by the delegate")
_REPLACED = re.compile(r"Replacing (\d+) out of (\d+) node\(s\) with delegate \((\w+)\) node")


def target_flags(runtime: str, options: dict) -> list[str]:
    """benchmark_model's flags for an edgekit target; BackendUnavailable for one it cannot run."""
    threads = [f"--num_threads={options['threads']}"] if options.get("threads") else []
    if runtime == "litert":
        kernels = options.get("kernels", "xnnpack")
        if options.get("delegate") or kernels not in ("xnnpack", "builtin"):
            raise BackendUnavailable(NOT_ON_THE_TOOL["delegate" if options.get("delegate") else kernels])
        return [f"--use_xnnpack={'true' if kernels == 'xnnpack' else 'false'}", *threads]
    if runtime == "litert-compiled":
        accelerator = options.get("accelerator", "cpu")
        if accelerator == "gpu":  # the phone's GPU through LiteRT's GPU delegate (OpenCL, else OpenGL)
            return ["--use_gpu=true", *threads]
        if accelerator == "npu":  # the phone's NPU, DSP or GPU through Android's NNAPI
            return ["--use_nnapi=true", *threads]
        raise BackendUnavailable(NOT_ON_THE_TOOL["cpu"])
    raise BackendUnavailable(f"{runtime} is not measured on an Android phone: edgekit runs .tflite files there with "
                             "LiteRT's benchmark_model")


def profile_flags(table: str, runtime_info: str) -> list[str]:
    """The flags of a profiled run (never the timed one: the profiler costs time): the op
    profile as CSV in `table`, the node -> delegate map in `runtime_info`, both on the phone."""
    return ["--enable_op_profiling=true", "--op_profiling_output_mode=csv", f"--op_profiling_output_file={table}",
            "--export_model_runtime_info=true", f"--model_runtime_info_output_file={runtime_info}"]


def asked_delegate(flags: list[str]) -> str | None:
    """The delegate a target's flags ask for, as a profile names its executor; None: plain kernels."""
    for flag, name in (("--use_gpu=true", "GPU"), ("--use_nnapi=true", "NNAPI"), ("--use_xnnpack=true", "XNNPACK")):
        if flag in flags:
            return name
    return None


def unconsumed(report: str) -> str:
    """The flags the tool did not know, as its log says ("Unconsumed cmdline flags: ..."); "" if none."""
    found = re.search(r"Unconsumed cmdline flags:\s*(.*)", report)
    return found[1].strip() if found else ""


def command(binary: str, model: str, flags: list[str], runs: int, warmup: int, seconds: float) -> list[str]:
    """The tool's command line: exactly `runs` timed and `warmup` untimed runs (no minimum
    duration), each phase ending by `seconds` at the latest."""
    return [binary, f"--graph={model}", *flags, f"--num_runs={runs}", f"--warmup_runs={warmup}", "--min_secs=0",
            "--warmup_min_secs=0", f"--max_secs={max(1.0, seconds):.0f}"]


def parse(report: str) -> dict:
    """The figures of one run of the tool, as a record holds them, checked as a worker's are
    (runners.replies); EdgekitError when the report has no timings (the tool failed before
    timing; its last lines say why) or figures no run gives (inf, a negative count)."""
    stats = [m for m in map(STAT.search, report.splitlines()) if m]
    timings = _TIMINGS.search(report)
    if not stats or not timings:
        raise EdgekitError(f"benchmark_model printed no timings{tail(report)}")
    try:
        figures = _figures(report, stats[-1].groups(), timings)  # the timed runs come after the warm-up
    except (ValueError, OverflowError) as exc:  # "1.2.3" matches the pattern of a number
        raise EdgekitError(f"benchmark_model printed a figure that is not a number ({first_line(exc)})"
                           f"{tail(report)}") from None
    return replies.found(figures, "", "benchmark_model's report", "its output is damaged: run it again, and check "
                                                                   "the --benchmark-binary")


def _figures(report: str, stat: tuple, timings) -> dict:
    count, first, curr, low, high, avg, std = stat
    mean = float(avg) if avg else float(curr)  # "count=N curr=X" alone: every run took X
    latency = {"mean": mean, "std": float(std or 0), "min": float(low or curr), "max": float(high or curr),
               "cv": round(float(std or 0) / mean, 4) if mean > 0 else 0.0, "runs": int(count),
               "statistic": "mean"}
    init_us, first_us = float(timings[1]), float(timings[2])
    memory = {"scope": "benchmark_model's process on the device"}
    if footprint := _FOOTPRINT.search(report):
        memory["peak_over_start_bytes"] = round(float(footprint[2]) * 2**20)
    if peak := _PEAK.search(report):
        memory["peak_rss_bytes"] = round(float(peak[1]) * 2**20)
    memory.setdefault("peak_rss_bytes", memory.get("peak_over_start_bytes", 0))
    return {"details": {"tool": "benchmark_model", **_delegation(report)},
            "cold": {"load_us": init_us, "first_inference_us": first_us, "cold_start_us": init_us + first_us},
            "latency_us": latency, "memory": memory,
            "throughput": {"batch": 1, "samples_per_s": round(1e6 / mean, 1) if mean > 0 else 0.0,
                           "note": "ran at batch 1: benchmark_model times the model's own input shape"}}


def _delegation(report: str) -> dict:
    """Which delegate took the graph, and whether all of it."""
    if applied := _APPLIED.search(report):
        name = applied[1].lower()
        return {"accelerator": {"gpu": "gpu", "nnapi": "npu"}.get(name, "cpu"), "delegate": name,
                "fully_accelerated": applied[2] == "completely"}
    replaced = [m for m in map(_REPLACED.search, report.splitlines()) if m]
    if replaced:
        done, total, name = replaced[-1].groups()
        accelerator = "gpu" if "Gpu" in name else "npu" if "Nnapi" in name else "cpu"
        return {"accelerator": accelerator, "delegate": name, "fully_accelerated": done == total}
    return {"accelerator": "cpu"}


def tail(report: str, count: int = 2) -> str:
    """The last lines of a tool's output, for a row's reason."""
    lines = [line.strip() for line in report.splitlines() if line.strip()]
    return ": " + " / ".join(lines[-count:]) if lines else ""
