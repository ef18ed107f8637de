"""edgekit sweep: run a benchmark suite (a JSON file like benchmarks/suite.json) and write one
results.json with report.md and report.html to --out. With --ray the jobs run on a Ray cluster:
conversions as tasks on CPU workers, measurements only on a node offering the Ray resource
device:<the suite's "device", default host> (`ray start --address ADDR --resources '{"device:host": 1}'`);
a device no node offers gives skipped rows. Artifacts move through --out, so every node must see
it at the same path (one machine, or a shared file system). Without ADDRESS, RAY_ADDRESS or a new
local cluster is used."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from edgekit.cli.vocabulary import add_json


def register(sub, common):
    p = sub.add_parser("sweep", parents=[common], help="run a benchmark suite, here or on a Ray cluster",
                       description=__doc__.strip())
    p.add_argument("suite", type=Path, help="the suite: a JSON file like benchmarks/suite.json")
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run the jobs on Ray (the cluster at ADDRESS; pip install -e \".[ray]\")")
    p.add_argument("--out", type=Path, default=Path("sweep"), metavar="DIR", help="folder for artifacts and reports (default: sweep)")
    p.add_argument("--quick", action="store_true", help="the suite's quick settings: fewer timed runs, the same rows")
    add_json(p, "the merged results")
    p.set_defaults(run=run)


def run(args) -> int:
    from edgekit import sweep

    if args.ray is not None:
        sweep.import_ray()  # before any work: say how to install it
    suite = sweep.load_suite(args.suite, args.quick)
    out = args.out.resolve()
    log = logging.getLogger("edgekit").info
    if args.ray is None:
        results = sweep.run_suite(suite, out, log)
    else:
        results = sweep.run_on_ray(suite, out, log, args.ray or None)
    sweep.write_results(results, out, log)
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        sys.stdout.write("\n")
    return 0
