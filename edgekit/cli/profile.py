"""edgekit profile: where the time of each file goes, op by op, on every target it runs on; which
ops an accelerator or delegate took and which it left on the CPU, and why; and, for two files of
one model (e.g. its fp32 and int8 .tflite), the time by op type of each and the difference.

The per-op figures come from a session of their own after the file's latency is measured; the
table puts their total beside that (unprofiled) p50, so a profiled time is never read as latency."""

from __future__ import annotations

import json
import logging
import sys

from edgekit.cli.bench import add_bench_arguments, settings_from, stopped_code
from edgekit.cli.vocabulary import add_input_shape, add_json, add_output
from edgekit.core import limits
from edgekit.models.trust import TRUST_HELP

DEFAULT_TOP = 10


def register(sub, common):
    p = sub.add_parser("profile", parents=[common], help="per-op time and accelerator placement of each file",
                       description=__doc__.strip())
    p.add_argument("path", nargs="+", metavar="PATH",
                   help="a .tflite or .onnx file, a folder written by convert, or a zoo model name; or two files "
                        "of one model, to see where their times differ")
    p.add_argument("--top", type=int, default=DEFAULT_TOP, metavar="N",
                   help=f"the N slowest ops of each file and target (default: {DEFAULT_TOP})")
    p.add_argument("--all-ops", action="store_true", help="list every op in execution order, not only the top N")
    p.add_argument("--data", help="samples to feed (default: the model's held-out data, else random inputs)")
    p.add_argument("--reference", help="the float model (default: the one in manifest.json)")
    add_input_shape(p)
    p.add_argument("--trust-model-code", action="store_true", help=TRUST_HELP)
    add_output(p, "also write the results, with each profile, to FILE (results.json's schema)")
    add_json(p, "the results, with each profile,")
    add_bench_arguments(p)
    limits.add_arguments(p)
    p.set_defaults(run=run)


def resolved_config(args) -> dict:
    """--dump-config: the options as given, checked as a run would check them."""
    settings_from(args)
    return {}


def run(args) -> int:
    from edgekit.core.errors import EdgekitError  # lazy: --help imports all commands
    from edgekit.render import profile as shown  # lazy: --help imports all commands; pulls numpy
    from edgekit.results import schema  # lazy: --help imports all commands; pulls numpy
    from edgekit.workflows.profile import profile  # lazy: --help imports all commands; pulls numpy

    if args.top < 1:
        raise EdgekitError(f"--top {args.top}: give 1 or more")
    settings = settings_from(args, data=args.data, trust_model_code=args.trust_model_code,
                             reference=args.reference)
    log = logging.getLogger("edgekit").info
    results, differences, _ = profile(args.path, settings, args.output, log, progress=not args.quiet)
    if args.json:  # two files: their results, and where their times differ
        sys.stdout.write(json.dumps({"results": results, "differences": differences}, indent=2) + "\n"
                         if differences else schema.to_text(results))
        return stopped_code(results, "profile")
    said = set()  # a target that did not run (no GPU here, say) is said once, not once per file
    for model in results["models"]:
        for record in model["records"]:
            if record["status"] != "ok":
                if (record["target"], record.get("reason")) not in said:
                    said.add((record["target"], record.get("reason")))
                    print(f"{record['target']}: {record['status']} ({record.get('reason')})")
                continue
            print(shown.record_text(record, top=args.top, every_op=args.all_ops) + "\n")
    for difference in differences:
        print(shown.difference_text(difference) + "\n")
    return stopped_code(results, "profile")
