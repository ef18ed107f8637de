"""edgekit export: a .tflite file as C++ source for a microcontroller's firmware (model_data.h
and model_data.cc, the way TFLite Micro's examples include a model)."""

from __future__ import annotations

from pathlib import Path

from edgekit import limits


def register(sub, common):
    p = sub.add_parser("export", parents=[common], help="write a .tflite file as a C array for TFLite Micro",
                       description=__doc__.strip())
    p.add_argument("model", help="a .tflite file")
    p.add_argument("--c-array", metavar="OUT", required=True,
                   help="the folder to write model_data.h and model_data.cc into (made if missing)")
    p.add_argument("--symbol", default="g_model_data",
                   help="the array's name; its length is SYMBOL_len (default: g_model_data)")
    limits.add_arguments(p, "model_bytes")
    p.set_defaults(run=run)


def run(args) -> int:
    from edgekit.c_array import export
    from edgekit.inspection import checked_tflite

    model = checked_tflite(args.model, "export", "what TFLite Micro runs")
    written = export(model, Path(args.c_array), args.symbol)
    print(f"wrote {', '.join(str(p) for p in written)} ({model.stat().st_size:,} bytes of model)")
    return 0
