"""Does `edgekit compare`'s latency gate hold between runs, and still catch a real slowdown?

    python benchmarks/latency_gate.py [--runs-back-to-back 10] [--repeat 3] [--out benchmarks/results]

On this machine, with unchanged code and files:
1. `edgekit convert` the default model (digits_cnn) into fp32, fp16 and int8 .tflite files
   (`--no-bench`), once.
2. `edgekit bench` that folder on litert:xnnpack, --repeat 3 (three interleaved latency rounds),
   300 timed runs a round, N times back to back, each into its own results file.
3. `edgekit compare --json` every later run against the first, and every run against every
   other (both ways): any latency failure is a false failure (goal: 0). Beside it, what the
   rule before rounds (within-run noise only) fails when each round is taken as a run of its
   own, as a default one-round run would have recorded it.
4. A real slowdown: the same model with one more real branch (a 3x3 convolution of the input,
   pooled, through a Dense layer whose weights are zero, added to the output: the outputs are
   exactly the same, the work about 25% more), converted and benchmarked the same way under the
   same model name, so `compare` pairs its rows with the first run's. Every row must fail the
   latency gate (goal: caught on all three).

Writes latency_gate.json and latency_gate.md to --out. Takes about 3 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgekit.results.compare import NOISE_SIGMAS  # noqa: E402

MODEL = "digits_cnn"
VARIANTS = "fp32,fp16,int8"
TARGET = "litert:xnnpack"
RUNS, WARMUP = 300, 30
LIMIT = 0.10  # compare's default --max-latency-regression
EXTRA_FILTERS = 24  # the slower model's extra branch: 8x8x24 outputs of a 3x3 convolution


def edgekit(*args: str, ok=(0,)) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "edgekit", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    if done.returncode not in ok:
        raise SystemExit(f"edgekit {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done


def convert(model: Path, out: Path) -> Path:
    edgekit("convert", str(model), "--calib", str(REPO / "calibration_data" / f"{MODEL}.npz"), "--tflite", VARIANTS,
            "--onnx", "none", "--no-bench", "--out", str(out), "-q")
    return out / MODEL


def bench(folder: Path, results: Path, repeat: int) -> dict:
    load = os.getloadavg()[0]
    started = time.monotonic()
    edgekit("bench", str(folder), "--runtime", TARGET, "--repeat", str(repeat), "--runs", str(RUNS), "--warmup",
            str(WARMUP), "--output", str(results), "-q")
    data = json.loads(results.read_text())
    rows = {r["variant"]: r["latency_us"] for r in data["models"][0]["records"] if r["status"] == "ok"}
    return {"file": results.name, "seconds": round(time.monotonic() - started, 1), "load_before": round(load, 2),
            "p50": {v: rows[v]["p50"] for v in rows}, "rounds": {v: rows[v].get("rounds") for v in rows},
            "robust_cv": {v: rows[v]["robust_cv"] for v in rows}}


def slower_model(path: Path) -> Path:
    """digits_cnn plus a branch that does real work and adds exact zeros to the output."""
    import numpy as np
    import tf_keras

    model = tf_keras.models.load_model(REPO / "models" / MODEL / "model.keras")
    image = model.inputs[0]
    branch = tf_keras.layers.Conv2D(EXTRA_FILTERS, 3, padding="same", activation="relu", name="extra_conv")(image)
    branch = tf_keras.layers.GlobalAveragePooling2D(name="extra_pool")(branch)
    branch = tf_keras.layers.Dense(10, use_bias=False, kernel_initializer="zeros", name="extra_zero")(branch)
    slower = tf_keras.Model(image, tf_keras.layers.Add(name="extra_add")([model.outputs[0], branch]))
    sample = np.random.default_rng(0).random((4, 8, 8, 1), dtype=np.float32)
    assert np.array_equal(model.predict(sample, verbose=0), slower.predict(sample, verbose=0))
    path.parent.mkdir(parents=True, exist_ok=True)
    slower.save(path)
    return path


def compare(baseline: Path, current: Path) -> dict:
    done = edgekit("compare", str(baseline), str(current), "--json", ok=(0, 1))
    found = json.loads(done.stdout)
    latency = [f for f in found["findings"] if " p50 " in f" {f['message']}"]
    row = lambda where: " ".join(where.split(" ")[1:3])  # noqa: E731 "digits_cnn tflite fp32 on ..." -> "tflite fp32"
    return {"passed": found["passed"], "exit": done.returncode,
            "latency_failed": [row(f["where"]) for f in latency if f["level"] == "fail"],
            "latency_flagged": [row(f["where"]) for f in latency if f["level"] == "flag"],
            "rows": {r["variant"]: r.get("latency_us") for m in found["models"].values() for r in m}}


def one_round_failures(runs: list[dict]) -> tuple[int, int]:
    """(failed, compared) under the gate before rounds (over the limit and beyond 2 x hypot of the
    within-run spreads), every round of every run taken as a one-round run of its own with its
    run's robust cv (the median round's: the only one recorded), over every ordered pair."""
    failed = compared = 0
    for variant in runs[0]["p50"]:
        singles = [(p50, run["robust_cv"][variant]) for run in runs for p50 in run["rounds"][variant]]
        for (old, old_cv), (new, new_cv) in itertools.permutations(singles, 2):
            compared += 1
            noise = NOISE_SIGMAS * math.hypot(old_cv * old, new_cv * new)
            failed += new / old - 1 > LIMIT and new - old > noise
    return failed, compared


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs-back-to-back", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="latency_gate_") as tmp:
        work = Path(tmp)
        print(f"converting {MODEL} ({VARIANTS}) and its slower copy", file=sys.stderr)
        unchanged = convert(REPO / "models" / MODEL / "model.keras", work / "unchanged")
        slower = convert(slower_model(work / "slower_src" / MODEL / "model.keras"), work / "slower")
        runs = []
        for i in range(args.runs_back_to_back):
            runs.append(bench(unchanged, work / f"run{i:02d}.json", args.repeat))
            print(f"run {i + 1}/{args.runs_back_to_back}: p50 {runs[-1]['p50']} rounds {runs[-1]['rounds']}",
                  file=sys.stderr)
        slow = bench(slower, work / "slower.json", args.repeat)
        print(f"slower: p50 {slow['p50']} rounds {slow['rounds']}", file=sys.stderr)
        files = [work / r["file"] for r in runs]
        against_first = [compare(files[0], f) for f in files[1:]]
        every_pair = [(i, j, compare(files[i], files[j])) for i, j in itertools.permutations(range(len(files)), 2)]
        caught = [compare(f, work / "slower.json") for f in files]
    rows = len(runs[0]["p50"])
    typical = {v: sorted(r["p50"][v] for r in runs)[len(runs) // 2] for v in runs[0]["p50"]}
    slowdown = {v: round(slow["p50"][v] / typical[v] - 1, 4) for v in typical}
    summary = {
        "what": __doc__.split("\n\n")[0],
        "machine": {"cpus": os.cpu_count(), "load_at_start": runs[0]["load_before"]},
        "settings": {"model": MODEL, "variants": VARIANTS, "target": TARGET, "repeat": args.repeat, "runs": RUNS,
                     "warmup": WARMUP, "limit": LIMIT, "extra_filters": EXTRA_FILTERS},
        "runs": runs, "slower": slow,
        "false_failures": {
            "against_first": sum(len(c["latency_failed"]) for c in against_first),
            "against_first_rows": rows * len(against_first),
            "every_pair": sum(len(c["latency_failed"]) for _, _, c in every_pair),
            "every_pair_rows": rows * len(every_pair),
            "flagged_every_pair": sum(len(c["latency_flagged"]) for _, _, c in every_pair),
            "one_round_old_rule": one_round_failures(runs)[0], "one_round_rows": one_round_failures(runs)[1],
        },
        "slowdown": {"measured": slowdown, "caught_rows": sum(len(c["latency_failed"]) for c in caught),
                     "missed": [f"{row} against run {i + 1}" for i, c in enumerate(caught)
                                for row in c["rows"] if row not in c["latency_failed"]],
                     "rows": rows * len(caught), "comparisons": caught},
        "against_first": against_first,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latency_gate.json").write_text(json.dumps(summary, indent=2) + "\n")
    (args.out / "latency_gate.md").write_text(markdown(summary))
    print(markdown(summary))
    return 0


def markdown(s: dict) -> str:
    f, slow = s["false_failures"], s["slowdown"]
    variants = list(s["runs"][0]["p50"])
    lines = ["# Latency gate between runs", "",
             f"{s['settings']['model']} ({s['settings']['variants']}) on {s['settings']['target']}, "
             f"`bench --repeat {s['settings']['repeat']} --runs {s['settings']['runs']}`, "
             f"{len(s['runs'])} runs back to "
             f"back on {s['machine']['cpus']} CPUs (load average at start {s['machine']['load_at_start']}); "
             f"`compare` at its default {s['settings']['limit']:.0%} limit.", "",
             "| | latency rows | failed |", "| --- | ---: | ---: |",
             f"| each run against the first | {f['against_first_rows']} | {f['against_first']} |",
             f"| every run against every other | {f['every_pair_rows']} | {f['every_pair']} |",
             f"| each round as a one-round run, every pair, rule before rounds (within-run noise) | "
             f"{f['one_round_rows']} | {f['one_round_old_rule']} |",
             f"| the slower model against each run (real slowdown) | {slow['rows']} | {slow['caught_rows']} |", "",
             f"Rows of the slower model not caught: {', '.join(slow['missed']) or 'none'}.",
             "",
             f"Changes over the limit but within the noise between rounds, flagged not failed: "
             f"{f['flagged_every_pair']} of {f['every_pair_rows']}.", "",
             "Measured slowdown of the slower model (its p50 over the median run's): "
             + ", ".join(f"{v} {x:+.1%}" for v, x in slow["measured"].items()) + ".", "",
             "| run | load | " + " | ".join(f"{v} p50 us (rounds)" for v in variants) + " |",
             "| --- | ---: | " + " | ".join("---:" for _ in variants) + " |"]
    for i, r in enumerate([*s["runs"], s["slower"]]):
        name = "slower" if i == len(s["runs"]) else str(i + 1)
        lines.append(f"| {name} | {r['load_before']} | " + " | ".join(
            f"{r['p50'][v]:.2f} ({', '.join(f'{x:.2f}' for x in r['rounds'][v] or [])})" for v in variants) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
