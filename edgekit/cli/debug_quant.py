"""edgekit debug-quant: which layers lose the most in the full-int8 TFLite conversion, ranked,
with the whole model's metric; keep the worst in float with `convert --keep-float`."""

from __future__ import annotations

import logging
from pathlib import Path

from edgekit.cli.vocabulary import add_json, add_output
from edgekit.core import limits
from edgekit.core.config import IMAGE_RANGES, ConvertConfig
from edgekit.core.outputs import check_output_file, write_output_file
from edgekit.models.trust import TRUST_HELP


def register(sub, common):
    p = sub.add_parser("debug-quant", parents=[common], help="rank layers by their int8 quantization error",
                       description=__doc__.strip())
    p.add_argument("model", nargs="?", help="SavedModel folder, .keras, .h5 or .hdf5 file, or a zoo model name "
                                            "such as digits_cnn, which brings its calibration and held-out data "
                                            "(default: digits_cnn)")
    p.add_argument("--calib", help="calibration samples: .npz, .npy or a folder of images (a zoo model "
                                   "brings its own)")
    p.add_argument("--train-data", help="labelled .npz (x and y) to score the whole model on (a zoo model "
                                        "brings its own)")
    p.add_argument("--keep-float", metavar="NAMES", help="debug with these layers or op types left in float")
    p.add_argument("--io", choices=["int", "float"], default="int", help="I/O type (default: int)")
    p.add_argument("--max-calib-samples", type=int, default=500, help="use at most this many samples (default: 500)")
    p.add_argument("--image-range", choices=sorted(IMAGE_RANGES), default="0,1",
                   help="pixel range for image folders (default: 0,1)")
    p.add_argument("--trust-model-code", action="store_true", help=TRUST_HELP)
    add_output(p, "where to write the JSON report (default: edgekit-out/<model name>-quant-debug.json)")
    add_json(p, "the report", path_alias=True)
    p.add_argument("--top", type=int, default=20, help="layers in the printed table (default: 20; JSON has all)")
    limits.add_arguments(p, "model_bytes", "data_bytes")
    p.set_defaults(run=run)


def run(args) -> int:
    import json

    from edgekit.converters.inputs import resolve_inputs, run_inputs  # lazy: --help imports all commands; pulls numpy

    config = ConvertConfig(model=args.model, calib=args.calib, tflite=["int8"], onnx=[], io=args.io,
                           max_calib_samples=args.max_calib_samples, image_range=args.image_range,
                           trust_model_code=args.trust_model_code, keep_float=args.keep_float or [],
                           train_data=args.train_data)
    model_path, calib_path, name = resolve_inputs(config)
    json_path = check_output_file(args.output or Path("edgekit-out") / f"{name}-quant-debug.json", "--output",
                                  run_inputs(config, model_path, calib_path))
    from edgekit.render.table import quant_debug_table  # lazy: --help imports all commands; pulls numpy
    from edgekit.workflows import debug_quant as quant_debug  # lazy: --help imports all commands; pulls numpy

    log = logging.getLogger("edgekit").info  # -q/-v: the level the command set
    report = quant_debug.run(config, log)
    write_output_file(json_path, json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2) if args.json else quant_debug_table(report, args.top))
    log(f"wrote {json_path}")
    return 0
