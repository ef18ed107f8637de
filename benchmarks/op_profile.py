"""Where the time goes: edgekit's per-op profile of each file on each runtime, checked against the
file's own unprofiled p50 and against the cost of a plain benchmark. (Not named profile.py: a
script in this folder by that name hides Python's own `profile` module, which cProfile imports.)

    python benchmarks/op_profile.py [--models resnet8,mobilenetv2] [--runs 20] [--out benchmarks/results]

For the zoo's resnet8 and keras.applications MobileNetV2 (weights=None, made non-degenerate by
`benchmarks/architectures.py --build`), this

1. converts each to fp32 and int8 TFLite and fp32 and int8-static ONNX (`edgekit convert`);
2. runs `edgekit bench FOLDER --runtime TARGETS` (the plain benchmark) and then
   `edgekit profile FOLDER --runtime TARGETS --profile RUNS` (the same benchmark, each pair then
   profiled in a session of its own) on litert:xnnpack, litert:builtin, litert-compiled:cpu,
   onnxruntime:cpu, Intel OpenVINO's dispatch on its CPU backend (litert-compiled:npu
   --npu-backend cpu) and TFLite Micro, each timed by its wall clock;
3. writes, per file and target, the method, the top-5 ops and the per-op total against the
   record's p50 from the unprofiled runs.

Each pair is profiled in --rounds rounds (3); its ratio is the median of the rounds'. Targets: the
per-op total within ±15% of the p50 for `profiler` figures and ±25% for `isolated` ones; the
profile command's wall time (the median round's) under 3x the plain benchmark's. Writes profile.json and
profile.md to --out; exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MODELS = ("resnet8", "mobilenetv2")
TARGETS = ("litert:xnnpack", "litert:builtin", "litert-compiled:cpu", "onnxruntime:cpu", "litert-compiled:npu", "tflm")
NPU_BACKEND = ("--npu-backend", "cpu")  # Intel OpenVINO's dispatch, on the CPU: there is no NPU here
TOLERANCE = {"profiler": 0.15, "isolated": 0.25}
WALL_LIMIT = 3.0
CALIBRATION = 100
TOP = 5


def edgekit(*args) -> tuple[subprocess.CompletedProcess, float]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "edgekit", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, check=False)
    return done, time.perf_counter() - started


def convert(name: str, tmp: Path) -> Path:
    """The folder of fp32 and int8 files of `name`."""
    tmp.mkdir(parents=True, exist_ok=True)
    if name == "resnet8":
        model, calibration = "resnet8", []
    else:
        subprocess.run([sys.executable, str(REPO / "benchmarks" / "architectures.py"), "--build", name, "--into",
                        str(tmp), "--samples", str(CALIBRATION)], check=True, cwd=REPO)
        model, calibration = tmp / f"{name}.keras", ["--calib", tmp / f"{name}_calib.npy"]
    done, _ = edgekit("convert", model, *calibration, "--max-calib-samples", CALIBRATION, "--tflite", "fp32,int8",
                      "--onnx", "fp32,int8-static", "--no-bench", "-q", "--out", tmp / "out")
    found = list((tmp / "out").glob("*/manifest.json"))
    if not found:
        raise SystemExit(f"edgekit convert {model} wrote nothing: {done.stderr.strip()[-400:]}")
    # a file rejected for its fidelity (MobileNetV2's random body in int8) is profiled all the
    # same: where its time goes is a question apart from whether it kept the model
    manifest = json.loads(found[0].read_text())
    for entry in manifest["rejected"]:
        name = Path(entry["path"]).name
        (found[0].parent / "rejected" / name).rename(found[0].parent / name)
        manifest["artifacts"].append({**entry, "path": name})
    manifest["rejected"] = []
    found[0].write_text(json.dumps(manifest))
    return found[0].parent


def measure(name: str, tmp: Path, runs: int, rounds: int) -> dict:
    """A plain bench, then `rounds` profiles of the same pairs: each pair's ratio is the median of
    its rounds' (the p50 and the profile are taken seconds apart, and a shared machine drifts)."""
    folder = convert(name, tmp / name)
    chosen = ("--runtime", ",".join(TARGETS), *NPU_BACKEND)
    plain, plain_seconds = edgekit("bench", folder, *chosen, "-q", "--output", tmp / f"{name}-plain.json")
    measured, seconds = [], []
    for k in range(rounds):
        profiled, took = edgekit("profile", folder, *chosen, "--profile", runs, "-q",
                                 "--output", tmp / f"{name}-profile-{k}.json")
        if profiled.returncode not in (0, 1):
            raise SystemExit(f"edgekit profile {folder} failed: {profiled.stderr.strip()[-400:]}")
        measured.append([row(r) for r in json.loads((tmp / f"{name}-profile-{k}.json").read_text())["models"][0]
                         ["records"]])
        seconds.append(took)
    if plain.returncode not in (0, 1):
        raise SystemExit(f"edgekit bench {folder} failed: {plain.stderr.strip()[-400:]}")
    rows = measured[0]
    for i, first in enumerate(rows):
        ratios = [r[i]["ratio"] for r in measured if r[i].get("ratio") is not None]
        if ratios:
            first["ratios"], first["ratio"] = ratios, round(statistics.median(ratios), 3)
    return {"model": name, "bench_seconds": round(plain_seconds, 1),
            "profile_seconds": round(statistics.median(seconds), 1), "rows": rows}


def row(record: dict) -> dict:
    profile = record.get("profile") or {}
    found = {"file": record["artifact"], "target": record["target"], "status": record["status"],
             "p50_us": (record.get("latency_us") or {}).get("p50")}
    if record["status"] != "ok":
        return {**found, "reason": record.get("reason")}
    if "ops" not in profile:
        return {**found, "reason": profile.get("skipped") or profile.get("failed") or "no profile"}
    total = sum(op["us"] for op in profile["ops"])
    top = sorted(profile["ops"], key=lambda op: -op["us"])[:TOP]
    return {**found, "method": profile["method"], "runs": profile["runs"], "ops": len(profile["ops"]),
            "total_us": round(total, 1), "ratio": round(total / found["p50_us"], 3) if found["p50_us"] else None,
            "partitions": profile["partitions"], "fully_delegated": profile["fully_delegated"],
            "wall_seconds": profile.get("wall_seconds"),
            "top": [{"type": op["type"], "name": op["name"], "executor": op["executor"], "us": round(op["us"], 1),
                     "share": round(op["us"] / total, 3) if total else None} for op in top]}


def checks(models: list[dict]) -> list[dict]:
    found = []
    for model in models:
        for r in model["rows"]:
            if r.get("ratio") is None:
                continue
            limit = TOLERANCE[r["method"]]
            found.append({"target": f"{model['model']} {r['file']} on {r['target']}: per-op total against p50 "
                                    f"({r['method']}, ±{limit:.0%})",
                          "measured": f"{r['ratio']:.2f}x", "met": abs(r["ratio"] - 1) <= limit})
        ratio = model["profile_seconds"] / model["bench_seconds"]  # the median round's
        found.append({"target": f"{model['model']}: profile wall time against a plain bench (under {WALL_LIMIT:g}x)",
                      "measured": f"{ratio:.2f}x ({model['profile_seconds']:.0f} s / {model['bench_seconds']:.0f} s)",
                      "met": ratio < WALL_LIMIT})
    return found


def markdown(models: list[dict], checked: list[dict], machine: str, runs: int, rounds: int) -> str:
    lines = ["# Where the time goes: per-op profiles", "",
             (f"Written by `python benchmarks/op_profile.py` on {machine}. Each file on each target: `edgekit profile "
              f"--profile {runs}` (per-op medians over {runs} calls, in a session of its own after the pair's "
              f"unprofiled measurement); the p50 is that measurement's; each pair profiled in {rounds} rounds, its "
              "ratio the median of theirs (the rounds' in brackets), the ops and totals the first round's. "
              "`profiler`: the runtime's own per-node timer; "
              "`isolated`: each op run alone as a one-op model (no fusion or cache effects). OpenVINO is Intel's "
              "LiteRT dispatch on its CPU backend (litert-compiled:npu --npu-backend cpu)."), "",
             "## Targets", "", "| target | measured | met |", "| --- | --- | --- |"]
    lines += [f"| {c['target']} | {c['measured']} | {'yes' if c['met'] else 'NO'} |" for c in checked]
    for model in models:
        lines += ["", f"## {model['model']}", "", f"Plain bench {model['bench_seconds']:.0f} s, profile "
                  f"{model['profile_seconds']:.0f} s.", "",
                  "| file | target | method | p50 µs | per-op total µs | ratio | partitions | top 5 ops (µs, share) |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in model["rows"]:
            if "top" not in r:
                lines.append(f"| {r['file']} | {r['target']} | - | - | - | - | - | {r.get('reason') or r['status']} |")
                continue
            top = "; ".join(f"{op['type']} {op['us']:,.1f} ({op['share']:.0%}) on {op['executor']}"
                            for op in r["top"])
            spread = ", ".join(f"{x:.2f}" for x in r.get("ratios", []))
            lines.append(f"| {r['file']} | {r['target']} | {r['method']} | {r['p50_us']:,.1f} | {r['total_us']:,.1f} "
                         f"| {r['ratio']:.2f}x ({spread}) | {r['partitions']} | {top} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--runs", type=int, default=20, help="calls each per-op figure is over")
    parser.add_argument("--rounds", type=int, default=3, help="profiles of each pair: its ratio is their median")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="edgekit-profile-") as tmp:
        models = [measure(name, Path(tmp), args.runs, args.rounds) for name in args.models.split(",")]
    checked = checks(models)
    from edgekit.runtimes.environment import describe

    machine = describe()
    flags = [flag for flag, present in machine["cpu"]["flags"].items() if present]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "profile.md").write_text(markdown(models, checked, f"{machine['cpu']['name']} ({', '.join(flags)}), "
                                             f"{machine['cpu']['usable_cores']} usable cores", args.runs,
                                             args.rounds))
    (out / "profile.json").write_text(json.dumps({"targets": checked, "models": models}, indent=1))
    return 0 if all(c["met"] for c in checked) else 1


if __name__ == "__main__":
    sys.exit(main())
