"""The quantization-debugging and tuning target, measured on this machine in one run.

    python benchmarks/tuning.py [--runs 2000] [--budget 10m] [--out benchmarks/results]

On digits_outlier (the zoo's digits_cnn with a planted outlier that costs full int8 accuracy),
`edgekit tune --max-accuracy-drop 0.5` searches every candidate and:

1. picks a variant within 0.5 points of the float model's accuracy,
2. whose batch-1 p50 latency is within 10% of the plain int8 variant's (same thread count),
3. and which is the fastest of all candidates within tolerance in its own search table.

It also reports the quantization debugger's ranking (the planted layer should be first) and
what keeping that one layer in float costs in latency. Writes tuning.json and tuning.md to
--out; exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgekit import zoo  # noqa: E402
from edgekit.runtimes.environment import describe  # noqa: E402
from tests.conftest import run_cli  # noqa: E402

MODEL = "digits_outlier"
MAX_DROP = 0.5
LATENCY_RATIO = 1.10


def check(rows: list, what: str, measured: str, limit: str, ok: bool) -> None:
    rows.append({"target": what, "measured": measured, "limit": limit, "met": bool(ok)})
    print(f"{'PASS' if ok else 'FAIL'}  {what}: {measured} (limit {limit})", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000, help="timed runs per candidate (small models are noisy)")
    parser.add_argument("--budget", default="10m")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    model, _ = zoo.bundled(MODEL)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        code, table, stderr = run_cli("debug-quant", model, "--output", Path(tmp) / "debug.json", "-q")
        if code:
            raise SystemExit(stderr)
        debug = json.loads((Path(tmp) / "debug.json").read_text())
        code, tune_table, stderr = run_cli("tune", model, "--max-accuracy-drop", MAX_DROP, "--budget", args.budget,
                                           "--runs", args.runs, "--warmup", args.runs // 10, "--out", tmp, "-q")
        if code not in (0, 1):
            raise SystemExit(stderr)
        report = json.loads((Path(tmp) / f"{MODEL}-tuned" / "tune.json").read_text())
    print(table)
    print(tune_table)
    worst = debug["layers"][0]
    check(rows, "debug-quant ranks the planted layer (probs) first",
          f"{worst['layer']} ({worst['rmse_per_step']:.1f} steps RMS; next {debug['layers'][1]['rmse_per_step']:.2f})",
          "probs", worst["layer"] == "probs")
    ok = [r for r in report["candidates"] if r["status"] == "ok"]
    int8 = {r["threads"]: r for r in ok if r["variant"] == "int8"}
    pick = report["pick"]
    check(rows, "plain full-int8 loses accuracy", f"drop {int8[1]['drop_points']:+.2f} points",
          f"> {MAX_DROP}", int8[1]["drop_points"] > MAX_DROP)
    check(rows, "tune's pick is within tolerance",
          "none" if pick is None else f"{pick['file']} x{pick['threads']}: drop {pick['drop_points']:+.2f} points",
          f"<= {MAX_DROP}", pick is not None and pick["drop_points"] <= MAX_DROP)
    if pick is not None:
        ratio = pick["p50_us"] / int8[pick["threads"]]["p50_us"]
        check(rows, "tune's pick latency / plain int8 latency",
              f"{ratio:.2f} ({pick['p50_us']:.2f} / {int8[pick['threads']]['p50_us']:.2f} us)",
              f"<= {LATENCY_RATIO:.2f}", ratio <= LATENCY_RATIO)
        fastest = min((r for r in ok if r["within_tolerance"]), key=lambda r: r["p50_us"])
        check(rows, "tune's pick is the fastest within tolerance in its search table",
              f"{pick['file']} x{pick['threads']} ({len(ok)} measured rows)",
              f"{fastest['file']} x{fastest['threads']}", fastest == pick)
    keep1 = {r["threads"]: r for r in ok if r["variant"] == "int8-keep1"}
    if 1 in keep1:
        ratio = keep1[1]["p50_us"] / int8[1]["p50_us"]
        rows.append({"target": "for information: int8 with probs in float, latency / plain int8 (x1)",
                     "measured": f"{ratio:.2f}, drop {keep1[1]['drop_points']:+.2f} points", "limit": "-",
                     "met": True})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {"environment": describe(), "targets": rows, "debug_quant": debug, "tune": report}
    (out / "tuning.json").write_text(json.dumps(summary, indent=2) + "\n")
    lines = ["# Quantization debugging and tuning target", "",
             f"Written by `python benchmarks/tuning.py --runs {args.runs}`: `edgekit tune {MODEL} "
             f"--max-accuracy-drop {MAX_DROP}` with every candidate.", "",
             "| target | measured | limit | met |", "| --- | --- | --- | --- |"]
    lines += [f"| {r['target']} | {r['measured']} | {r['limit']} | {'yes' if r['met'] else '**no**'} |" for r in rows]
    lines += ["", "## debug-quant", "", "```", table.rstrip(), "```", "", "## tune", "", "```", tune_table.rstrip(), "```"]
    (out / "tuning.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'tuning.md'} and tuning.json")
    return 0 if all(r["met"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
