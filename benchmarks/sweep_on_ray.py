"""Does a sweep on Ray give the same rows as a run here, and how much faster are its conversions?

    python benchmarks/sweep_on_ray.py [--suite benchmarks/suite.json] [--full] [--out benchmarks/results]

In one run, on this machine:
1. The suite (its quick settings unless --full) one job after another (`edgekit sweep`).
2. The same suite on a real local Ray cluster started here: a head with 1 CPU and a second node
   process with 1 CPU that offers device:host (`edgekit sweep --ray ADDRESS`): conversions on
   both workers, measurements on the second node, artifacts through Ray's object store.
3. Rows: the same keys; identical accuracy, fidelity, file sizes and runners on every row.
4. Time: the conversion phase (sequential: the sum of the conversions; Ray: from the first task
   submitted to the last conversion back, worker start-up and TensorFlow's import included) and
   the whole sweep, from each sweep.json. Goal: at least 1.5x on the conversion phase.

Writes sweep_on_ray.json and sweep_on_ray.md to --out. Takes about 7 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgekit.workflows import sweep  # noqa: E402

SAME = ("status", "accuracy", "fidelity", "size_bytes", "gzip_bytes", "runner")
GOAL = 1.5


def rows(results: dict) -> dict:
    from edgekit.results.schema import record_key

    return {(model["name"], *record_key(r)): r for model in results["models"] for r in model["records"]}


def differences(here: dict, there: dict) -> list[str]:
    found = [f"only here: {key}" for key in here.keys() - there.keys()]
    found += [f"only on Ray: {key}" for key in there.keys() - here.keys()]
    found += [f"{key} {field}: {here[key].get(field)} here, {there[key].get(field)} on Ray"
              for key in here.keys() & there.keys() for field in SAME if here[key].get(field) != there[key].get(field)]
    return sorted(found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", type=Path, default=REPO / "benchmarks" / "suite.json")
    parser.add_argument("--full", action="store_true", help="the suite's full settings, not its quick ones")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args()
    from ray.cluster_utils import Cluster

    suite = sweep.load_suite(args.suite, quick=not args.full)
    log = lambda message: print(message, file=sys.stderr)  # noqa: E731
    os.chdir(REPO)
    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as scratch:
        here = sweep.run(suite, Path(scratch) / "here", log, suite_path=args.suite)
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
        try:
            cluster.add_node(num_cpus=1, resources={"device:host": 1})
            there = sweep.run(suite, Path(scratch) / "ray", log, cluster.address, suite_path=args.suite)
        finally:
            cluster.shutdown()
        timing = {name: json.loads((Path(scratch) / name / "sweep.json").read_text()) for name in ("here", "ray")}
    found = differences(rows(here), rows(there))
    phases = {name: {key: timing[name][key] for key in ("conversion_seconds", "seconds")} for name in timing}
    speedup = {key: round(phases["here"][key] / phases["ray"][key], 2) for key in ("conversion_seconds", "seconds")}
    result = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "suite": str(args.suite.relative_to(REPO) if args.suite.is_relative_to(REPO) else args.suite),
              "settings": "full" if args.full else "quick", "models": suite["models"], "rows": len(rows(here)),
              "differences": found, "seconds": phases, "speedup": speedup, "goal": GOAL,
              "jobs_on_ray": timing["ray"]["jobs"]}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sweep_on_ray.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "sweep_on_ray.md").write_text(render(result))
    print(render(result))
    return 0 if not found else 1


def render(r: dict) -> str:
    here, ray = r["seconds"]["here"], r["seconds"]["ray"]
    lines = [f"# A sweep here vs on a local 2-node Ray cluster ({r['date']}, {r['machine']})", "",
             f"Suite: {r['suite']} ({r['settings']} settings): {len(r['models'])} models, {r['rows']} rows.", "",
             "| phase | here (s) | Ray, 2 workers (s) | speed-up |", "|---|---:|---:|---:|",
             f"| conversions | {here['conversion_seconds']} | {ray['conversion_seconds']} | "
             f"{r['speedup']['conversion_seconds']}x (goal {r['goal']}x) |",
             f"| whole sweep | {here['seconds']} | {ray['seconds']} | {r['speedup']['seconds']}x |", "",
             "Rows: " + ("the same keys; accuracy, fidelity, sizes and runners identical on every row."
                         if not r["differences"] else f"{len(r['differences'])} differences:"), ""]
    lines += [f"- {d}" for d in r["differences"]]
    lines += ["", "Where each job ran on Ray:", ""]
    lines += [f"- {job['model']}: converted on {job['converted_on']}, measured on {job['measured_on']}"
              for job in r["jobs_on_ray"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
