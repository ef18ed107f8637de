"""edgekit report: a results.json as Markdown (for pull requests and CI job summaries), a
self-contained HTML page with plots, or JSON upgraded to the current schema."""

from __future__ import annotations

import logging
import sys

from edgekit.cli.vocabulary import add_max_accuracy_drop, add_output, check_max_accuracy_drop
from edgekit.core.outputs import check_output_file, write_output_file

FORMATS = ("md", "html", "json")


def register(sub, common):
    p = sub.add_parser("report", parents=[common], help="render a results.json as Markdown, HTML or JSON",
                       description=__doc__.strip())
    p.add_argument("results", help="a results.json written by bench or convert (or the folder holding it)")
    p.add_argument("--format", choices=FORMATS, default="md", help="md (default), html or json")
    p.add_argument("--json", dest="format", action="store_const", const="json", help="the same as --format json")
    add_output(p, "write the report to FILE (default: print it)", old="--out")
    add_max_accuracy_drop(p, "largest drop a recommended variant may have", old="--tolerance")
    p.set_defaults(run=run)


def run(args) -> int:
    from edgekit.results import schema  # lazy: --help imports all commands; pulls numpy

    tolerance = check_max_accuracy_drop(args)
    inputs = [("results file", schema.results_path(args.results))]
    out = check_output_file(args.output, "--output", inputs) if args.output else None
    results = schema.read(args.results)
    if args.format == "json":
        text = schema.to_text(results)
    elif args.format == "html":
        from edgekit.render.html import render  # lazy: --help imports all commands; pulls numpy

        text = render(results, tolerance)
    else:
        from edgekit.render.markdown import append_to_step_summary, render  # lazy: --help imports all commands

        text = render(results, tolerance)
        append_to_step_summary(text)
    if out:
        write_output_file(out, text)
        logging.getLogger("edgekit").info(f"wrote {out}")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0
