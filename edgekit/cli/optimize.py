"""edgekit optimize: prune, cluster and/or quantization-aware train a Keras model, fine-tuning on
its training data, and write the optimized Keras model(s) with a report of what each step cost.
`edgekit convert` takes the same options and converts the result."""

from __future__ import annotations

import json
import logging

from edgekit.cli.optimization_options import add_optimization_arguments, optimization_values
from edgekit.cli.vocabulary import add_json
from edgekit.core import limits
from edgekit.core.config import ConvertConfig
from edgekit.core.errors import EdgekitError
from edgekit.models.trust import TRUST_HELP


def register(sub, common):
    p = sub.add_parser("optimize", parents=[common], help="prune, cluster or QAT a Keras model",
                       description=__doc__.strip())
    p.add_argument("model", nargs="?", help=".keras, .h5 or .hdf5 file, or a zoo model name such as digits_cnn "
                                            "(default: digits_cnn)")
    p.add_argument("--out", metavar="DIR", default="edgekit-out", help="output folder; files go to DIR/<model name>/ "
                                                        "(default: edgekit-out)")
    p.add_argument("--trust-model-code", action="store_true", help=TRUST_HELP)
    add_json(p, "the optimization report")
    add_optimization_arguments(p)
    limits.add_arguments(p, "model_bytes", "data_bytes")
    p.set_defaults(run=run)


def run(args) -> int:
    config = ConvertConfig(model=args.model, out=args.out, trust_model_code=args.trust_model_code,
                           **optimization_values(args))
    if not config.optimizes:
        raise EdgekitError("nothing to do: give at least one of --prune, --prune-structure, --cluster, --qat")
    from edgekit.render.table import optimization_summary  # lazy: --help imports all commands; pulls numpy
    from edgekit.workflows.optimize import optimize_to_folder  # lazy: --help imports all commands; pulls numpy

    log = logging.getLogger("edgekit").info  # -q/-v: the level the command set
    report = optimize_to_folder(config, log, verbose=not args.quiet)
    print(json.dumps(report, indent=2, default=str) if args.json else optimization_summary(report["optimization"]))
    return 0
