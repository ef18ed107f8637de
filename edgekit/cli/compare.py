"""edgekit compare: a current results.json against a baseline; exit 1 when a gate fails.

Gates: the task metric may drop at most --max-accuracy-drop points, the p50 latency may grow at
most --max-latency-regression beyond the noise both runs recorded (within it, a change is
flagged, not failed), and a file may grow at most --max-size-growth. A row measured in the
baseline that fails or is missing now fails too. The verdict is Markdown, for CI.
"""

from __future__ import annotations

import re

from edgekit.cli.vocabulary import add_max_accuracy_drop, add_output, check_max_accuracy_drop


def register(sub, common):
    p = sub.add_parser("compare", parents=[common], help="compare results with a baseline; exit 1 on a regression",
                       description=__doc__.strip())
    p.add_argument("baseline", help="the baseline results.json")
    p.add_argument("current", help="the current results.json")
    add_max_accuracy_drop(p, "largest allowed drop of the task metric")
    p.add_argument("--max-latency-regression", default="10%", metavar="PERCENT",
                   help="largest allowed p50 growth beyond noise, e.g. 10%%, or off to report only (default: 10%%)")
    p.add_argument("--max-size-growth", default="5%", metavar="PERCENT",
                   help="largest allowed growth of a file's size (default: 5%%)")
    add_output(p, "also write the Markdown to FILE", old="--out")
    p.set_defaults(run=run)


def percent(text: str, option: str, allow_off: bool = False) -> float | None:
    """'10%' or '10' -> 0.10; 'off' -> None where allowed."""
    from edgekit.errors import EdgekitError

    if allow_off and text.strip().lower() == "off":
        return None
    try:
        value = float(text.strip().removesuffix("%")) / 100
    except ValueError:
        value = -1.0
    if not 0 <= value < 100:
        raise EdgekitError(f"{option} {text!r} is not a percentage: give e.g. 10%"
                           + (" or off" if allow_off else ""))
    return value


def run(args) -> int:
    from edgekit.errors import GateFailed
    from edgekit.outputs import check_output_file, write_output_file
    from edgekit.report import schema
    from edgekit.report.compare import Gates, compare, render
    from edgekit.report.markdown import append_to_step_summary

    gates = Gates(check_max_accuracy_drop(args),
                  percent(args.max_latency_regression, "--max-latency-regression", allow_off=True),
                  percent(args.max_size_growth, "--max-size-growth"))
    inputs = [("baseline", schema.results_path(args.baseline)),
              ("current results", schema.results_path(args.current))]
    out = check_output_file(args.output, "--output", inputs) if args.output else None
    baseline, current = schema.read(args.baseline), schema.read(args.current)
    comparison = compare(baseline, current, gates)
    text = render(comparison, args.baseline, args.current)
    print(text)
    append_to_step_summary(text)
    if out:
        write_output_file(out, text + "\n")
    if not comparison.passed:
        failures = comparison.failures
        first = f"{failures[0].where}: {failures[0].message}"  # names and reasons from the files: one line
        raise GateFailed(f"{len(failures)} gate(s) failed against {args.baseline}, the first: "
                         + re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+", " ", first))
    return 0
