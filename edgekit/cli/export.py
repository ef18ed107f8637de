"""edgekit export: a .tflite file as C++ source for a microcontroller's firmware (model_data.h
and model_data.cc, the way TFLite Micro's examples include a model)."""

from __future__ import annotations

from pathlib import Path

from edgekit.cli.vocabulary import add_json, note_renamed
from edgekit.core import limits
from edgekit.core.errors import EdgekitError
from edgekit.hardware.c_array import export


def register(sub, common):
    p = sub.add_parser("export", parents=[common], help="write a .tflite file as a C array for TFLite Micro",
                       description=__doc__.strip())
    p.add_argument("model", help="a .tflite file")
    p.add_argument("--out", metavar="DIR", help="the folder to write model_data.h and model_data.cc into "
                                                "(made if missing)")
    p.add_argument("--c-array", nargs="?", const=True, metavar="",
                   help="write the model as a C array (the one format today, and the default)")
    p.add_argument("--symbol", default="g_model_data",
                   help="the array's name; its length is SYMBOL_len (default: g_model_data)")
    add_json(p, "what was written")
    limits.add_arguments(p, "model_bytes", "ops")
    p.set_defaults(run=run)


def run(args) -> int:
    import json

    from edgekit.models.inspection import checked_tflite  # lazy: --help imports all commands; pulls numpy

    out = args.out
    if isinstance(args.c_array, str):  # the former `--c-array OUT`, kept for a release
        note_renamed("edgekit export", "--c-array OUT", "--c-array --out OUT")
        out = out or args.c_array
    if not out:
        raise EdgekitError("give the folder to write the C array into: --out DIR")
    model = checked_tflite(args.model, "export", "what TFLite Micro runs")
    written = export(model, Path(out), args.symbol)
    if args.json:
        print(json.dumps({"model": str(model), "size_bytes": model.stat().st_size,
                          "written": [str(p) for p in written]}, indent=2))
    else:
        print(f"wrote {', '.join(str(p) for p in written)} ({model.stat().st_size:,} bytes of model)")
    return 0
