"""Run the benchmark suite in suite.json: convert each zoo model it names into the variants it
names, benchmark every file on its runtimes and thread counts, write one results.json with the
Markdown and HTML reports, and compare with the committed baseline.

    python benchmarks/run.py                       # the whole suite (about 2.5 minutes on 2 cores)
    python benchmarks/run.py --quick               # the same rows, fewer timed runs (.ci/run)
    python benchmarks/run.py --update-baseline     # run it and make the result the new baseline
    python benchmarks/run.py --ray [ADDRESS]       # its jobs on a Ray cluster (as edgekit sweep --ray)

Writes results.json, report.md, report.html and (with a baseline) compare.md to --out. The
comparison gates accuracy and file size; latency on a shared machine is reported, and gated only
with --gate-latency, which times every row in --repeat rounds (3 unless given): `compare` fails
a latency row only where both the baseline and this run have rounds (refresh the baseline with
`--update-baseline --repeat 3`), and flags it otherwise. Exit codes: 0 pass, 1 a gate failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgekit.core.errors import EdgekitError  # noqa: E402
from edgekit.workflows import sweep  # noqa: E402

SUITE = REPO / "benchmarks" / "suite.json"
BASELINE = REPO / "benchmarks" / "baseline.json"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", type=Path, default=SUITE)
    parser.add_argument("--quick", action="store_true", help="fewer timed runs, the same rows (what CI runs)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out")
    parser.add_argument("--baseline", type=Path, default=BASELINE, help="compare with this results file")
    parser.add_argument("--no-compare", action="store_true", help="do not compare with a baseline")
    parser.add_argument("--gate-latency", action="store_true",
                        help="fail on p50 regressions beyond noise too (default: reported only)")
    parser.add_argument("--repeat", type=int, metavar="N",
                        help="latency rounds per row, as bench --repeat (default: 3 with --gate-latency, else 1)")
    parser.add_argument("--update-baseline", action="store_true", help=f"write the results to {BASELINE}")
    parser.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                        help="run the jobs on Ray (the cluster at ADDRESS, else RAY_ADDRESS, else a new one here)")
    args = parser.parse_args(argv)
    log = lambda message: print(message, file=sys.stderr)  # noqa: E731
    try:
        return _run(args, log)
    except EdgekitError as exc:
        print(f"benchmarks/run.py: error: {exc}", file=sys.stderr)
        return exc.exit_code


def _run(args, log) -> int:
    from edgekit.core.outputs import write_output_file
    from edgekit.render import markdown
    from edgekit.render.comparison import render as render_comparison
    from edgekit.results import compare, schema

    suite = sweep.load_suite(args.suite, args.quick)
    out = args.out.resolve()
    os.chdir(REPO)  # models and data are recorded by their paths in the repository
    repeat = args.repeat or (3 if args.gate_latency else 1)
    results = sweep.run(suite, out, log, args.ray, repeat, suite_path=args.suite)
    if args.update_baseline:
        schema.write(BASELINE, results)
        log(f"wrote the new baseline {BASELINE}")
        return 0
    if args.no_compare:
        return 0
    gates = compare.Gates() if args.gate_latency else compare.Gates(max_latency_regression=None)
    comparison = compare.compare(schema.read(args.baseline), results, gates)
    shown = args.baseline.relative_to(REPO) if args.baseline.is_relative_to(REPO) else args.baseline
    verdict = render_comparison(comparison, str(shown), "this run")
    write_output_file(out / "compare.md", verdict + "\n")
    print(verdict)
    markdown.append_to_step_summary(verdict)
    return 0 if comparison.passed else 1


if __name__ == "__main__":
    sys.exit(main())
