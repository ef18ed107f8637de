"""edgekit inspect: signatures, inputs and outputs with quantization, ops, and Flex needs; how the
weights are stored (fp16 or int8 behind DEQUANTIZE), the MACs per op and in total, and the
activation arena LiteRT plans; with --delegates, which ops each delegate takes and which fall
back to the CPU. A Keras file (.keras, .h5, .hdf5) or SavedModel folder: its inputs and outputs,
parameters, and layers (Keras) or serving graph ops (SavedModel), loaded under the same trust
checks as convert."""

from __future__ import annotations

import json
import textwrap

from edgekit.cli.vocabulary import add_json
from edgekit.core import limits
from edgekit.core.errors import EdgekitError
from edgekit.core.units import human_size
from edgekit.models.trust import TRUST_HELP


def register(sub, common):
    p = sub.add_parser("inspect", parents=[common], help="show what is inside a model file",
                       description=__doc__.strip())
    p.add_argument("model", help="a .tflite, .onnx, .keras, .h5 or .hdf5 file, or a SavedModel folder")
    add_json(p, "what is inside the file")
    p.add_argument("--delegates", action="store_true",
                   help="show which ops XNNPACK, the GPU delegate and --delegate take, in how many "
                        "partitions, and which fall back to the CPU (.tflite)")
    p.add_argument("--delegate", metavar="LIB", help="an external TFLite delegate library to show too "
                                                     "(implies --delegates)")
    p.add_argument("--delegate-option", action="append", metavar="KEY=VALUE",
                   help="an option for --delegate (repeatable)")
    p.add_argument("--trust-model-code", action="store_true", help=TRUST_HELP)
    limits.add_arguments(p, "model_bytes", "ops")
    p.set_defaults(run=run)


def run(args) -> int:
    from edgekit.measure.targets import parse_options  # lazy: --help imports all commands; pulls numpy
    from edgekit.models.inspection import inspect_model  # lazy: --help imports all commands; pulls numpy

    options = parse_options(args.delegate_option, "--delegate-option")
    if options and not args.delegate:
        raise EdgekitError("--delegate-option needs --delegate LIB (the delegate library it is for)")
    delegates = None
    if args.delegates or args.delegate:  # first: a delegate that does not load prints nothing else
        from edgekit.hardware.delegates import delegate_report  # lazy: --help imports all commands; pulls numpy

        delegates = delegate_report(args.model, args.delegate, options)
    info = inspect_model(args.model, args.trust_model_code)
    if delegates is not None:
        info["delegates"] = delegates["delegates"]
        if "note" in delegates:
            info["delegates_note"] = delegates["note"]
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    lines = [f"{info['path']}: {info['format']}, {info['size_bytes']} bytes"]
    if "parameters" in info:  # a float model: Keras or SavedModel
        print("\n".join(lines + float_lines(info)))
        return 0
    if info["format"] == "tflite":
        lines.append(f"signatures: {', '.join(info['signatures']) or 'none'}; subgraphs: {info['subgraphs']}")
    else:
        lines.append(f"opsets: {', '.join(f'{d} {v}' for d, v in info['opsets'].items())}; "
                     f"producer: {info['producer']}")
    lines += io_lines(info)
    dequantized = {w["stored_as"] for w in info.get("weights", []) if w["how"] == "dequantize"}
    lines.append(f"ops ({sum(info['ops'].values())}):")
    lines += [f"  {name:<28} {count}" + (f"  (weights stored as {', '.join(sorted(dequantized))})"
                                         if name == "DEQUANTIZE" and dequantized else "")
              for name, count in info["ops"].items()]
    lines += cost_lines(info)
    if info["format"] == "tflite":
        lines.append("needs Flex ops: " + (f"yes ({', '.join(info['flex_ops'])}): the LiteRT interpreter "
                                           "cannot run it without the Flex delegate" if info["needs_flex"] else "no"))
        if info["custom_ops"]:
            lines.append(f"custom ops (need their kernels registered): {', '.join(info['custom_ops'])}")
    if delegates is not None:
        lines += delegate_lines(delegates)
    print("\n".join(lines))
    return 0


def io_lines(info: dict) -> list[str]:
    lines = []
    for kind in ("inputs", "outputs"):
        lines.append(f"{kind}:")
        for t in info[kind]:
            shape = "[" + ", ".join("?" if d is None else str(d) for d in t["shape"]) + "]"
            quant = ""
            if "scale" in t:
                quant = (f"  scale={t['scale'][0]:.6g} zero_point={t['zero_point'][0]}" if len(t["scale"]) == 1
                         else f"  per-channel ({len(t['scale'])} scales, axis {t.get('quantized_dimension')})")
            lines.append(f"  {t['name']}: {t['dtype']} {shape}{quant}")
    return lines


def float_lines(info: dict) -> list[str]:
    """A Keras model's or SavedModel's flavour, inputs and outputs, parameters, and layers or ops."""
    parameters = info["parameters"]
    lines = [f"flavour: {info['flavour']}", *io_lines(info),
             f"parameters: {parameters['total']:,} ({parameters['trainable']:,} trainable)"]
    kind = "layers" if "layers" in info else "ops"
    lines.append(f"{kind} ({sum(info[kind].values())}):")
    lines += [f"  {name:<28} {count}" for name, count in info[kind].items()]
    return lines


def delegate_lines(report: dict) -> list[str]:
    """One line per delegate: `xnnpack: 7 of 8 ops in 2 partitions; on CPU: CUMSUM (1)`."""
    lines = ["delegates (where each op runs):"]
    for entry in report["delegates"]:
        if entry["status"] != "ok":
            lines.append(f"  {entry['name']}: {entry['status']}: {entry['reason']}")
            continue
        taken = sum(entry["delegated_ops"].values())
        parts = entry["partitions"]
        where = "" if parts is None else f" in {parts} partition{'s' if parts != 1 else ''}"
        cpu = ", ".join(f"{op} ({n})" for op, n in entry["cpu_ops"].items()) or "none"
        lines.append(f"  {entry['name']}: {taken} of {entry['ops']} ops{where}; on CPU: {cpu}"
                     + (f" ({entry['note']})" if entry.get("note") else ""))
    if report.get("note"):
        lines.append(f"  ({report['note']})")
    return lines


def cost_lines(info: dict) -> list[str]:
    """How the weights are stored, the MACs per op type and in total, and the activation memory."""
    lines = []
    for weights in info.get("weights", []):
        lines += _wrapped(weights["summary"])
    macs = info["macs"]
    at = f"at batch {macs['batch']}" if macs["batch"] else "per sample (a free batch counted as 1)"
    if macs.get("free_dimensions"):  # never a made-up size presented as the model's cost
        at += f", with its free dimensions ({', '.join(macs['free_dimensions'])}) counted as 1, not a real size"
    lines.append(f"MACs {at}: {_count(macs['total'])}" + ("" if macs["total"] else " (no conv, matmul or LSTM op)")
                 + (f"; {macs['uncounted_ops']} op(s) of unknown shape not counted" if macs.get("uncounted_ops") else ""))
    for name, entry in macs["by_op"].items():
        share = 100 * entry["macs"] / macs["total"]
        lines.append(f"  {name:<28} {_count(entry['macs']):>8}  {share:5.1f}%  in {entry['ops']} op"
                     + ("s" if entry["ops"] != 1 else ""))
    memory = info.get("activations")
    if memory:
        held = (f"; {human_size(memory['persistent_bytes'])} more held for the whole run (dequantized weights, "
                "variables)" if memory["persistent_bytes"] else "")
        arena = "no planned" if memory["arena_bytes"] is None else human_size(memory["arena_bytes"])
        lines += _wrapped(f"activation memory: {arena} arena, {human_size(memory['peak_bytes'])} alive at once at "
                          f"peak{held}")
        micro = ("" if info.get("weights") else  # TFLite Micro runs float32, int8 and int16x8 files only
                 f"; TFLite Micro's arena, with its own buffers: edgekit bench {info['path']} --runtime tflm")
        lines += _wrapped(f"  ({memory['arena']}{micro})", indent="  ")
    return lines


def _wrapped(text: str, indent: str = "") -> list[str]:
    """A long line folded at 100 columns, so that a terminal does not break it mid-word."""
    return textwrap.wrap(text, 100, subsequent_indent=indent + "  ", break_on_hyphens=False,
                         break_long_words=False) or [text]


def _count(value: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return str(value)
