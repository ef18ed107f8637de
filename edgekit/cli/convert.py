"""edgekit convert: a Keras model to TFLite and ONNX variants, each validated against it."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from edgekit.cli.bench import add_bench_arguments, settings_from, stopped_code
from edgekit.cli.optimization_options import add_optimization_arguments, optimization_values
from edgekit.cli.vocabulary import add_input_shape, add_json
from edgekit.core import limits
from edgekit.core.config import (
    FIELD_TYPES,
    IMAGE_RANGES,
    ONNX_QUANT_FORMATS,
    ONNX_QUANT_TARGETS,
    ONNX_VARIANTS,
    PRESETS,
    TFLITE_VARIANTS,
    ConvertConfig,
)
from edgekit.models.trust import TRUST_HELP


def register(sub, common):
    p = sub.add_parser("convert", parents=[common], help="convert a model and validate every artifact",
                       description=__doc__.strip())
    p.add_argument("model", nargs="?", help="SavedModel folder, .keras, .h5 or .hdf5 file, or a zoo model name "
                                            "such as digits_cnn, which brings its calibration and held-out data "
                                            "(default: digits_cnn)")
    p.add_argument("--calib", help="calibration samples: .npz, .npy or a folder of images (a zoo model brings its "
                                   "own; without, the variants that need them are skipped)")
    p.add_argument("--out", metavar="DIR",
                   help="output folder; artifacts go to DIR/<model name>/ (default: edgekit-out)")
    p.add_argument("--tflite", help=f"TFLite variants, comma-separated: {','.join(TFLITE_VARIANTS)}, all or none")
    p.add_argument("--onnx", help=f"ONNX variants, comma-separated: {','.join(ONNX_VARIANTS)}, all or none")
    p.add_argument("--preset", choices=sorted(PRESETS), help="a named set of variants")
    p.add_argument("--io", choices=["int", "float"], help="I/O type of full-integer TFLite variants (default: int)")
    p.add_argument("--opset", type=int, help="ONNX opset, 13 to 18 (default: 17)")
    p.add_argument("--onnx-quant-format", choices=(*ONNX_QUANT_FORMATS, *ONNX_QUANT_TARGETS), metavar="FORMAT",
                   help=f"activation/weight types of the int8-static ONNX ({', '.join(ONNX_QUANT_FORMATS)}), or where "
                        f"it will run, for its types ({', '.join(ONNX_QUANT_TARGETS)}); default: this machine's CPU's "
                        "(u8s8 on x86-64, s8s8 on ARM64)")
    p.add_argument("--max-calib-samples", type=int, help="use at most this many samples (default: 500)")
    p.add_argument("--image-range", choices=sorted(IMAGE_RANGES), help="pixel range for image folders (default: 0,1)")
    p.add_argument("--trust-model-code", action="store_true", default=None, help=TRUST_HELP)
    p.add_argument("--keep-float", metavar="NAMES",
                   help="leave these Keras layers or op types (e.g. probs or FULLY_CONNECTED) in float in the "
                        "TFLite and ONNX int8 variants, comma-separated; `edgekit debug-quant` ranks the candidates")
    p.add_argument("--min-sqnr", type=float, metavar="DB",
                   help="the SQNR (dB, against the float model on held-out samples) every output of a file must "
                        "reach, classifiers' too, not to be marked degraded (default: by precision, e.g. 20 for "
                        "int8, and top-1 agreement for classifier outputs)")
    p.add_argument("--strict", action="store_true", default=None,
                   help="all or nothing: a variant that cannot be built, diverges from the float model or is "
                        "degraded fails the run and nothing is written (default: the others are written, a rejected "
                        "file is kept apart in rejected/, exit 1; a degraded one is kept and marked, exit 0)")
    add_input_shape(p)
    add_json(p, "the manifest (and the benchmark results)")
    p.add_argument("--no-bench", action="store_true", help="skip the benchmark of the artifacts at the end")
    add_optimization_arguments(p)
    add_bench_arguments(p)
    limits.add_arguments(p)
    p.set_defaults(run=run)


CONFIG_TYPES = FIELD_TYPES  # a config file's conversion options are typed as ConvertConfig's


def check_config(values: dict, source: str) -> None:
    ConvertConfig.from_dict({k: v for k, v in values.items() if k in FIELD_TYPES}, source)


def resolved_config(args) -> dict:
    """What --dump-config prints beyond the options as given: the conversion as resolved (the preset
    applied, the defaults filled in), each checked as a run would check it."""
    config = build_config(args)
    if not args.no_bench:
        settings_from(args, trust_model_code=config.trust_model_code)
    return {**config.to_dict(), "preset": None}


def build_config(args) -> ConvertConfig:
    from_file = getattr(args, "config_values", {})
    data = {}
    for key in ("model", "calib", "out", "tflite", "onnx", "io", "opset", "onnx_quant_format", "max_calib_samples",
                "image_range", "trust_model_code", "keep_float", "min_sqnr", "strict", "input_shape"):
        value = getattr(args, key)
        if value is not None:
            data[key] = value
    data.update(optimization_values(args))
    if args.preset:  # over the config file's variants, not over the command line's
        data.update({k: v for k, v in PRESETS[args.preset].items() if k not in data or data[k] is from_file.get(k)})
    return ConvertConfig.from_dict(data)


def run(args) -> int:
    config = build_config(args)
    bench_settings = None if args.no_bench else settings_from(args, trust_model_code=config.trust_model_code,
                                                              input_shape=tuple(config.input_shape))
    # lazy: --help imports all commands; these pull numpy
    from edgekit.render.table import bench_table, conversion_table  # lazy: (as above)
    from edgekit.workflows.convert import convert_and_measure, fix_hint  # lazy: (as above)

    log = logging.getLogger("edgekit").info  # -q/-v: the level the command set
    manifest, measured, unmeasured = convert_and_measure(config, bench_settings, log, verbose=not args.quiet,
                                                         progress=not args.quiet)
    results = [measured] if measured else []
    if args.json:
        print(json.dumps({"manifest": manifest, "results": results[0] if results else None}, indent=2, default=str))
    else:
        print(conversion_table(manifest))
    code = 0
    failed, rejected = manifest["failed"], manifest["rejected"]
    if failed or rejected:  # a gate failed, as in `compare`: exit 1, the variants that passed written
        why = [f"{len(failed)} could not be built"] * bool(failed) + [
            f"{len(rejected)} diverged from the float model, kept in rejected/"] * bool(rejected)
        total = len(failed) + len(rejected) + len(manifest["artifacts"])
        print(f"edgekit convert: {len(failed) + len(rejected)} of {total} variants left out ({' and '.join(why)}; "
              f"reasons in the table and manifest.json): {fix_hint(failed, rejected)}", file=sys.stderr)
        code = 1
    if results and not args.json:
        print()
        print("\n".join(bench_table(model, results[0].get("settings")) for model in results[0]["models"]))
    if unmeasured:  # the time limit passed before the first row: the files are written, not measured
        folder = Path(config.out) / manifest["name"]
        print(f"edgekit convert: {unmeasured}; the files are written to {folder}, not measured: "
              f"edgekit bench {folder} measures them", file=sys.stderr)
        return 1
    return max(code, stopped_code(results[0], "convert")) if results else code
