"""edgekit report: a results.json as Markdown (for pull requests and CI job summaries), a
self-contained HTML page with plots, or JSON upgraded to the current schema."""

from __future__ import annotations

import logging
import sys

FORMATS = ("md", "html", "json")


def register(sub, common):
    p = sub.add_parser("report", parents=[common], help="render a results.json as Markdown, HTML or JSON",
                       description=__doc__.strip())
    p.add_argument("results", help="a results.json written by bench or convert (or the folder holding it)")
    p.add_argument("--format", choices=FORMATS, default="md", help="md (default), html or json")
    p.add_argument("--out", metavar="PATH", help="write the report to PATH (default: print it)")
    p.add_argument("--tolerance", type=float, default=1.0,
                   help="accuracy drop, in points, a recommended variant may have (default: 1)")
    p.set_defaults(run=run)


def run(args) -> int:
    from edgekit.errors import EdgekitError
    from edgekit.outputs import check_output_file, write_output_file
    from edgekit.report import schema

    if args.tolerance < 0:
        raise EdgekitError(f"--tolerance {args.tolerance:g} must be 0 or more (points of accuracy)")
    inputs = [("results file", schema.results_path(args.results))]
    out = check_output_file(args.out, "--out", inputs) if args.out else None
    results = schema.read(args.results)
    if args.format == "json":
        text = schema.to_text(results)
    elif args.format == "html":
        from edgekit.report.html import render

        text = render(results, args.tolerance)
    else:
        from edgekit.report.markdown import append_to_step_summary, render

        text = render(results, args.tolerance)
        append_to_step_summary(text)
    if out:
        write_output_file(out, text)
        logging.getLogger("edgekit").info(f"wrote {out}")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0
