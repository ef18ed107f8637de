"""edgekit tune: search TFLite and ONNX variants (int8 with the fewest of its worst layers in float
that clears the bar among them) and thread counts for the fastest one on this machine whose accuracy
drop is within a tolerance, or, without labels, whose every output clears the quality threshold on
held-out calibration samples."""

from __future__ import annotations

import json
import logging

from edgekit.cli.vocabulary import add_input_shape, add_json, add_max_accuracy_drop, check_max_accuracy_drop
from edgekit.core import limits
from edgekit.core.config import IMAGE_RANGES, ConvertConfig
from edgekit.core.errors import GateFailed
from edgekit.hardware.mcu import BOARDS, budget
from edgekit.measure.targets import parse_threads
from edgekit.models.trust import TRUST_HELP
from edgekit.render.table import tune_table
from edgekit.workflows.tune import ONNX_CANDIDATES, TFLITE_CANDIDATES, TuneSettings, parse_budget, tune


def register(sub, common):
    p = sub.add_parser("tune", parents=[common], help="find the fastest variant within an accuracy tolerance",
                       description=__doc__.strip())
    p.add_argument("model", nargs="?", help="SavedModel folder, .keras, .h5 or .hdf5 file, or a zoo model name "
                                            "such as digits_cnn, which brings its calibration and held-out data "
                                            "(default: digits_cnn)")
    add_max_accuracy_drop(p, "largest drop of the task metric allowed")
    p.add_argument("--budget", default="10m", help="time for the whole search, e.g. 90s, 10m, 1h (default: 10m); "
                                                   "it stops there with the best found so far")
    p.add_argument("--calib", help="calibration samples: .npz, .npy or a folder of images (a zoo model "
                                   "brings its own)")
    p.add_argument("--train-data", help="labelled .npz (x and y) to judge accuracy on (a zoo model brings its own); "
                                        "without it a fifth of --calib is held out and candidates are judged by "
                                        "their fidelity to the float model on it")
    p.add_argument("--min-sqnr", type=float, metavar="DB",
                   help="the SQNR (dB, against the float model on held-out samples) every output of a candidate "
                        "must reach (default: by precision, e.g. 20 for int8, and top-1 agreement for classifier "
                        "outputs; with labels, only the accuracy drop unless given)")
    p.add_argument("--out", metavar="DIR", default="edgekit-out",
                   help="the pick and tune.json go to DIR/<model name>-tuned/ (default: edgekit-out)")
    p.add_argument("--tflite", default=",".join(TFLITE_CANDIDATES),
                   help=f"TFLite candidates, comma-separated (default: {','.join(TFLITE_CANDIDATES)}); "
                        "int8-keep is int8 with the fewest layers in float, in the quantization debugger's order, "
                        "that clears the bar (tried when plain int8 does not)")
    p.add_argument("--onnx", default=",".join(ONNX_CANDIDATES),
                   help=f"ONNX candidates, comma-separated, or none (default: {','.join(ONNX_CANDIDATES)})")
    p.add_argument("--max-keep-float", type=int, default=5, metavar="K",
                   help="int8-keep tries up to the K worst layers in float, a layer of an in-graph front end "
                        "with the layers upstream of it as one (default: 5)")
    p.add_argument("--threads", default="1", help="CPU thread counts to try, comma-separated (default: 1)")
    p.add_argument("--runs", type=int, default=100, help="timed batch-1 runs per candidate (default: 100)")
    p.add_argument("--warmup", type=int, default=10, help="untimed runs first (default: 10)")
    p.add_argument("--io", choices=["int", "float"], default="int", help="I/O type of int8 variants (default: int)")
    p.add_argument("--max-calib-samples", type=int, default=500, help="use at most this many samples (default: 500)")
    p.add_argument("--image-range", choices=sorted(IMAGE_RANGES), default="0,1",
                   help="pixel range for image folders (default: 0,1)")
    p.add_argument("--mcu", metavar="BOARD", help="pick only a .tflite file that fits this microcontroller board's "
                                                  f"RAM and flash, run in TFLite Micro ({', '.join(BOARDS)}); "
                                                  "ONNX candidates are left out")
    p.add_argument("--mcu-ram", metavar="SIZE", help="RAM for TFLite Micro's arena, e.g. 256KB (with --mcu-flash)")
    p.add_argument("--mcu-flash", metavar="SIZE", help="flash for the model, e.g. 1MB")
    p.add_argument("--trust-model-code", action="store_true", help=TRUST_HELP)
    add_input_shape(p)
    add_json(p, "the tune report (tune.json)")
    limits.add_arguments(p, "model_bytes", "data_bytes", "ops")
    p.set_defaults(run=run)


def run(args) -> int:
    board = budget(args.mcu, args.mcu_ram, args.mcu_flash)
    settings = TuneSettings(
        max_drop=check_max_accuracy_drop(args), budget_seconds=parse_budget(args.budget),
        tflite=tuple(_names(args.tflite)), onnx=() if board else tuple(_names(args.onnx)),
        max_keep_float=args.max_keep_float, threads=parse_threads(args.threads), runs=args.runs, warmup=args.warmup,
        mcu=board, min_sqnr=args.min_sqnr)
    config = ConvertConfig(model=args.model, calib=args.calib, out=args.out, tflite=["fp32"], onnx=[],
                           io=args.io, max_calib_samples=args.max_calib_samples, image_range=args.image_range,
                           trust_model_code=args.trust_model_code, train_data=args.train_data,
                           input_shape=args.input_shape or [], min_sqnr=args.min_sqnr)
    log = logging.getLogger("edgekit").info  # -q/-v: the level the command set
    report = tune(config, settings, log)
    print(json.dumps(report, indent=2, default=str) if args.json else tune_table(report))
    if report["pick"] is None:
        closest = report["closest"]
        labelled = report["evaluation"] is not None
        raise GateFailed((f"no candidate is within {settings.max_drop:g} points of the float model" if labelled
                          else f"no candidate clears the bar ({report['judged_on']['by']})")
                         + (f" and fits {board.name}" if board else "")
                         + (f"; the closest is {closest['file']} ({_shortfall_text(closest)})"
                            if closest else "; none could be measured")
                         + f": see {args.out}/{report['name']}-tuned/tune.json")
    return 0


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    return [] if names in (["none"], ["-"]) else list(dict.fromkeys(names))


def _shortfall_text(row: dict) -> str:
    if row.get("drop_points") is not None:
        return f"{row['drop_points']:+.2f} points"
    return ", ".join(f"{name} {db:.1f} dB" for name, db in row["sqnr_db"].items())
