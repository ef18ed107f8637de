"""edgekit sweep: run a benchmark suite (a JSON file like benchmarks/suite.json) and write one
results.json with report.md, report.html, the artifacts and sweep.json (where each job ran) to
--out, replaced whole only when the sweep is done. With --ray the jobs run on a Ray cluster:
conversions as tasks on CPU workers, measurements only on a node offering the Ray resource
device:<the suite's "device", default host> (`ray start --address ADDR --resources '{"device:host": 1}'`),
through that node's runner (the board EDGEKIT_DEVICE names in its environment, else the node);
a device no node offers gives skipped rows. Artifacts move through Ray's object store, or the
suite's "shared" folder. Without ADDRESS, RAY_ADDRESS or a new cluster on this machine is used;
`--ray auto` takes the one `ray start` runs here."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from edgekit.cli.vocabulary import add_json
from edgekit.core.errors import EdgekitError


def register(sub, common):
    p = sub.add_parser("sweep", parents=[common], help="run a benchmark suite, here or on a Ray cluster",
                       description=__doc__.strip())
    p.add_argument("suite", type=Path, nargs="?",
                   help="the suite: a JSON file like benchmarks/suite.json; only \"models\" is needed, every other "
                        "field has the default the command line uses (--dump-suite prints them)")
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run the jobs on Ray (the cluster at ADDRESS; pip install -e \".[ray]\")")
    p.add_argument("--out", type=Path, default=Path("sweep"), metavar="DIR", help="folder for artifacts and reports (default: sweep)")
    p.add_argument("--quick", action="store_true", help="the suite's quick settings: fewer timed runs, the same rows")
    add_json(p, "the merged results")
    p.add_argument("--dump-suite", action="store_true",
                   help="print the suite (without SUITE, one of the default model) with every default filled in, "
                        "as JSON, and exit")
    p.set_defaults(run=run)


def run(args) -> int:
    from edgekit.workflows import suite as suite_file  # lazy: --help imports all commands; pulls pydantic
    from edgekit.workflows import sweep  # lazy: --help imports all commands; pulls numpy

    if args.dump_suite:
        print(json.dumps(suite_file.filled(args.suite), indent=2))
        return 0
    if args.suite is None:
        raise EdgekitError("edgekit sweep needs a suite: give a JSON file like benchmarks/suite.json "
                           "(edgekit sweep --dump-suite prints one with every default)")
    suite = sweep.load_suite(args.suite, args.quick)
    results = sweep.run(suite, args.out.resolve(), logging.getLogger("edgekit").info, args.ray,
                        suite_path=args.suite)
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        sys.stdout.write("\n")
    return 0
