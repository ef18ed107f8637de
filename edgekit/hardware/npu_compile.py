"""Ahead-of-time compilation of a `.tflite` file for NPUs, with LiteRT's compiler plugins
(`ai_edge_litert.aot`), and what each compiled file offloads.

LiteRT's wheel carries the plugins for Intel OpenVINO, Qualcomm, MediaTek, Google Tensor and
Samsung, but a plugin needs its vendor's SDK to load: Intel's is `openvino` from PyPI (the
version the plugin links against: `pip install -e ".[npu]"`); the others come from the vendor
(their PyPI packages download it at install time, docs/DESIGN.md pitfall 15). A target whose plugin does
not load is skipped with the loader's own message. Each compile runs in a child process: a
plugin is native code, and a failed compile leaves a 0-byte file and a `/tmp/*.error` log
(pitfall 16), which are read and cleaned up here.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import tempfile
from pathlib import Path

from edgekit.core import python_child
from edgekit.core.errors import EdgekitError, did_you_mean, last_line
from edgekit.models.inspection import inspect_tflite

# vendor: (the module of its Target class, where its SDK comes from)
VENDORS = {
    "intel_openvino": ("ai_edge_litert.aot.vendors.intel_openvino.target",
                       'pip install -e ".[npu]" (openvino 2026.3.1, which the plugin links against)'),
    "qualcomm": ("ai_edge_litert.aot.vendors.qualcomm.target",
                 "install Qualcomm's QNN SDK (libQnnHtp.so) from Qualcomm and put its lib folder on LD_LIBRARY_PATH"),
    "mediatek": ("ai_edge_litert.aot.vendors.mediatek.target",
                 "install MediaTek's NeuroPilot SDK (libneuron_adapter) from MediaTek"),
    "google_tensor": ("ai_edge_litert.aot.vendors.google_tensor.target",
                      "install Google Tensor's compiler SDK from Google"),
    "samsung": ("ai_edge_litert.aot.vendors.samsung.target",
                "install Samsung's Exynos AI Studio SDK from Samsung"),
}
ALL = "ALL"  # every vendor's SoC list has it: every SoC of the vendor, compiled one file each
BACKENDS = ("npu", "gpu", "cpu")  # Intel OpenVINO: the device a partition is compiled for
_STATS = re.compile(r"Subgraph (\d+) (\w+) compiled:\s*(\d+) / (\d+) ops offloaded to (\d+) partitions")
# what a plugin that did not load logs, most telling first (not "Failed to load model from file":
# that is the model, which `compile` checks before any plugin sees it)
_NOT_LOADED = ("cannot open shared object file", "undefined symbol", "shared library", "Failed to load plugin",
               "Loaded 0 plugins")
NO_NPU_COMPILER = "the npu graph backend needs Intel's NPU driver and compiler (linux-npu-driver)"
_LOG_PREFIX = re.compile(r"^(?:(?:INFO|WARNING|ERROR|VERBOSE): \[[^\]]*\]\s*)+")


def parse_targets(text: str) -> list[tuple[str, str]]:
    """'intel_openvino:LNL,qualcomm' -> [(vendor, SoC)], each checked against LiteRT's list and each
    once (a target named twice would be compiled, and recorded, twice). A vendor alone is its ALL:
    every SoC its plugin knows, as LiteRT's own tools take it, which covers the vendor's other SoCs."""
    import importlib

    found = []
    for item in (t.strip() for t in text.split(",") if t.strip()):
        vendor, _, soc = item.partition(":")
        if vendor not in VENDORS:
            raise EdgekitError(f"--npu {item}: unknown vendor {vendor!r}{did_you_mean(vendor, VENDORS)}; use {', '.join(VENDORS)}")
        soc = soc.strip() or ALL
        models = [m.value for m in importlib.import_module(VENDORS[vendor][0]).SocModel]
        if soc not in models:
            raise EdgekitError(f"--npu {item}: {vendor} has no SoC {soc!r}; LiteRT knows {', '.join(models)} "
                               f"({vendor} alone: all of them)")
        if (vendor, soc) not in found:
            found.append((vendor, soc))
    if not found:
        raise EdgekitError("--npu names no target: give e.g. intel_openvino:LNL,qualcomm:SM8650, or a vendor alone")
    return [(vendor, soc) for vendor, soc in found if soc == ALL or (vendor, ALL) not in found]


def compile_for(model: Path, vendor: str, soc: str, out: Path, backend: str = "npu") -> list[dict]:
    """Compile `model` for one target into `out`: a record per SoC (ALL: each SoC the plugin
    knows) with the file, the coverage per subgraph and the ops left on the CPU; or skipped (the
    plugin did not load: one record for the target as named) or failed."""
    record = {"target": f"{vendor}:{soc}", "vendor": vendor, "soc": soc}
    if vendor == "intel_openvino":
        record["graph_backend"] = backend
    with tempfile.TemporaryDirectory(prefix="edgekit-aot-") as scratch:
        done = subprocess.run(python_child.command("-c", _COMPILE, str(model), vendor, soc, backend, scratch),
                              capture_output=True, text=True, errors="replace", timeout=1800,
                              env=python_child.environment(TMPDIR=scratch))  # the plugin's .error logs land there
        said = done.stdout.strip().splitlines()
        result = json.loads(said[-1]) if said and said[-1].startswith("{") else None
        if result is None:
            return [{**record, "status": "failed", "reason": f"the compile process ended with {done.returncode}: "
                                                             f"{last_line(done.stderr)}"}]
        failed = [{**record, "target": f"{vendor}:{each['soc']}", "soc": each["soc"],
                   **_failure(vendor, _read_error_log(each["error"]) or done.stderr)} for each in result["failed"]]
        if not result["compiled"] and len({(r["status"], r["reason"]) for r in failed}) <= 1:  # one reason: said once
            return [{**record, "status": failed[0]["status"], "reason": failed[0]["reason"]} if failed else
                    {**record, "status": "failed", "reason": f"{vendor} compile gave no file: {last_line(done.stderr)}"}]
        records = []
        for each in result["compiled"]:
            compiled = out / f"{model.stem}_{vendor}_{each['soc']}.tflite"
            compiled.write_bytes(Path(each["file"]).read_bytes())
            records.append({**record, "target": f"{vendor}:{each['soc']}", "soc": each["soc"], "status": "ok",
                            "file": compiled.name, "size_bytes": compiled.stat().st_size,
                            **coverage(each["stats"], compiled)})
    return records + failed


def _failure(vendor: str, log: str) -> dict:
    """Skipped, when the plugin did not load (with where its SDK comes from), else failed, with the
    plugin's own reason."""
    loader = next((line.strip(" └") for key in _NOT_LOADED for line in log.splitlines() if key in line), None)
    if not loader:
        return {"status": "failed", "reason": f"{vendor} compile failed: {compile_error(log)}"}
    hint = VENDORS[vendor][1]
    if "npu_compiler" in loader:  # OpenVINO loads, but its NPU compiler comes with Intel's NPU driver
        hint = NO_NPU_COMPILER
    return {"status": "skipped", "reason": f"the {vendor} plugin did not load: {loader}; {hint}"}


def backend_note(records: list[dict]) -> str | None:
    """Said once, before the targets: the npu graph backend needs Intel's NPU driver, which this
    machine lacks, and the cpu one compiles anywhere."""
    if any(r["status"] == "skipped" and NO_NPU_COMPILER in r["reason"] for r in records):
        return ("Intel's npu graph backend (the default) needs Intel's NPU driver and compiler, which this machine "
                "lacks: --npu-backend cpu compiles for OpenVINO's CPU plugin on any machine")
    return None


def compile_error(log: str, limit: int = 300) -> str:
    """The plugin's own reason in its log: the first ERROR that says something (with the lines it
    runs on to), else what it found unsupported, else the last line that is not INFO chatter."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        said = _LOG_PREFIX.sub("", line) if line.startswith("ERROR") else ""
        if said:
            more = itertools.takewhile(lambda next_: not _LOG_PREFIX.match(next_) and "[LITERT" not in next_,
                                       lines[i + 1:])
            return " ".join([said, *more])[:limit]
    unsupported = [_LOG_PREFIX.sub("", line) for line in lines if "not supported" in line]
    if unsupported:
        return "; ".join(dict.fromkeys(unsupported))[:limit]
    return last_line("\n".join(line for line in lines if not line.startswith("INFO")) or log, limit)


def coverage(stats: str, compiled: Path) -> dict:
    """Ops offloaded per subgraph (LiteRT's partition statistics) and the ops left on the CPU:
    every op of the compiled file but the dispatch ops that hold the NPU's bytecode."""
    subgraphs = [{"subgraph": int(g[0]), "offloaded": int(g[2]), "ops": int(g[3]), "partitions": int(g[4])}
                 for g in _STATS.findall(stats)]
    ops = inspect_tflite(compiled)["ops"]
    on_cpu = {op: n for op, n in ops.items() if "DISPATCH" not in op.upper()}
    return {"subgraphs": subgraphs, "offloaded": sum(s["offloaded"] for s in subgraphs),
            "ops": sum(s["ops"] for s in subgraphs), "partitions": sum(s["partitions"] for s in subgraphs),
            "on_cpu": on_cpu, "fully_offloaded": bool(subgraphs) and all(s["offloaded"] == s["ops"] for s in subgraphs)}


def delegate_entry(model: Path, ops: dict[str, int]) -> dict:
    """What `inspect --delegates` shows for NPUs: for a file compiled ahead of time, its dispatch
    ops and what is left on the CPU; for any other, what Intel OpenVINO's plugin would offload
    (compiled here, for its CPU graph backend, which loads wherever OpenVINO does)."""
    dispatch = {op: n for op, n in ops.items() if "DISPATCH" in op.upper()}
    if dispatch:
        return {"name": "npu (compiled ahead of time)", "status": "ok", "delegated_ops": dispatch,
                "ops": sum(ops.values()), "partitions": sum(dispatch.values()),
                "cpu_ops": {op: n for op, n in ops.items() if op not in dispatch}}
    name = "intel_openvino (ahead-of-time compile, cpu graph backend)"
    with tempfile.TemporaryDirectory(prefix="edgekit-aot-") as out:
        [record] = compile_for(model, "intel_openvino", "LNL", Path(out), backend="cpu")
    if record["status"] != "ok":
        return {"name": name, "status": record["status"], "reason": record["reason"]}
    left = record["on_cpu"]
    return {"name": name, "status": "ok", "ops": sum(ops.values()), "partitions": record["partitions"],
            "delegated_ops": {op: n - left.get(op, 0) for op, n in ops.items() if n > left.get(op, 0)},
            "cpu_ops": left}


def coverage_line(record: dict) -> str:
    if record["status"] != "ok":
        return f"{record['target']}: {record['status']}: {record['reason']}"
    left = ", ".join(f"{op} ({n})" for op, n in record["on_cpu"].items()) or "none"
    backend = f" ({record['graph_backend']} graph backend)" if "graph_backend" in record else ""
    return (f"{record['target']}{backend}: {record['offloaded']} of {record['ops']} ops offloaded in "
            f"{record['partitions']} partition(s); on CPU: {left} -> {record['file']}")


# In the child: aot_compile for one target; its last stdout line is JSON
_COMPILE = r"""
import importlib, json, sys
from pathlib import Path
model, vendor, soc, backend, scratch = sys.argv[1:6]
from ai_edge_litert.aot.aot_compile import aot_compile
module = importlib.import_module(f"ai_edge_litert.aot.vendors.{vendor}.target")
target = module.Target(module.SocModel(soc))
options = {"intel_openvino_graph_backends": backend} if vendor == "intel_openvino" else {}
result = aot_compile(model, output_dir=str(Path(scratch) / "out"), target=target, keep_going=True, **options)
def soc_of(backend):
    return str(backend.target.soc_model.value)
failed = []
for backend_, error in result.failed_backends:
    message = str(error)
    path = message.split("See ")[-1].split(" for details")[0] if "See " in message else None
    failed.append({"soc": soc_of(backend_), "error": path, "message": message})
compiled, seen = [], set()
for backend_, model_ in result.models_with_backend:
    if soc_of(backend_) in seen:  # MediaTek compiles a SoC once per Android version: the first stands
        continue
    seen.add(soc_of(backend_))
    path = Path(scratch) / f"compiled_{soc_of(backend_)}.tflite"
    model_.save(path, export_only=True)
    compiled.append({"soc": soc_of(backend_), "file": str(path), "stats": str(model_.partition_stats)})
print(json.dumps({"compiled": compiled, "failed": failed}))
"""


def _read_error_log(path: str | None) -> str:
    try:
        return Path(path).read_text(errors="replace") if path else ""
    except OSError:
        return ""
