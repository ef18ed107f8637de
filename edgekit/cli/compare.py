"""edgekit compare: a current results.json against a baseline; exit 1 when a gate fails.

Gates: the task metric may drop at most --max-accuracy-drop points, the p50 latency may grow at
most --max-latency-regression beyond the noise between rounds, and a file may grow at most
--max-size-growth. A row measured in the baseline that fails or is missing now fails too.

Latency is gated only on rows both files timed in rounds (`edgekit bench --repeat 3`, or
`convert --repeat 3`): one run's own spread underestimates the drift between runs, so a row
timed in one round in either file gets a change over the limit flagged ("measured in one
round"), not failed, and so does a change within the noise the rounds show.

The verdict is Markdown, for CI; --json prints it as JSON instead (findings, each row's figures,
the gates and whether it passed). Exit 0: passed (flags allowed), 1: a gate failed, 2: bad input.
"""

from __future__ import annotations

import re

from edgekit.cli.vocabulary import add_json, add_max_accuracy_drop, add_output, check_max_accuracy_drop
from edgekit.core.errors import EdgekitError, GateFailed
from edgekit.core.outputs import check_output_file, write_output_file


def register(sub, common):
    p = sub.add_parser("compare", parents=[common], help="compare results with a baseline; exit 1 on a regression",
                       description=__doc__.strip())
    p.add_argument("baseline", help="the baseline results.json")
    p.add_argument("current", help="the current results.json")
    add_max_accuracy_drop(p, "largest allowed drop of the task metric")
    p.add_argument("--max-latency-regression", default="10%", metavar="PERCENT",
                   help="largest allowed p50 growth beyond the noise between rounds, e.g. 10%%, or off to report "
                        "only; rows timed in one round (no bench --repeat) are flagged, not failed (default: 10%%)")
    p.add_argument("--max-size-growth", default="5%", metavar="PERCENT",
                   help="largest allowed growth of a file's size (default: 5%%)")
    add_output(p, "also write the Markdown to FILE", old="--out")
    add_json(p, "the verdict")
    p.set_defaults(run=run)


def percent(text: str, option: str, allow_off: bool = False) -> float | None:
    """'10%' or '10' -> 0.10; 'off' -> None where allowed."""
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
    from edgekit.render.comparison import render  # lazy: --help imports all commands; pulls numpy
    from edgekit.render.markdown import append_to_step_summary  # lazy: --help imports all commands; pulls numpy
    from edgekit.results import schema  # lazy: --help imports all commands; pulls numpy
    from edgekit.results.compare import Gates, compare  # lazy: --help imports all commands; pulls numpy

    gates = Gates(check_max_accuracy_drop(args),
                  percent(args.max_latency_regression, "--max-latency-regression", allow_off=True),
                  percent(args.max_size_growth, "--max-size-growth"))
    inputs = [("baseline", schema.results_path(args.baseline)),
              ("current results", schema.results_path(args.current))]
    out = check_output_file(args.output, "--output", inputs) if args.output else None
    baseline, current = schema.read(args.baseline), schema.read(args.current)
    comparison = compare(baseline, current, gates)
    text = render(comparison, args.baseline, args.current)
    if args.json:
        import json

        print(json.dumps(comparison.to_dict(args.baseline, args.current), indent=2, ensure_ascii=False))
    else:
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
