"""edgekit inspect: signatures, inputs and outputs with quantization, ops, and Flex needs; with
--delegates, which ops each delegate takes and which fall back to the CPU."""

from __future__ import annotations

import json

from edgekit import limits
from edgekit.cli.vocabulary import add_json


def register(sub, common):
    p = sub.add_parser("inspect", parents=[common], help="show what is inside a .tflite or .onnx file",
                       description=__doc__.strip())
    p.add_argument("model", help="a .tflite or .onnx file")
    add_json(p, "what is inside the file")
    p.add_argument("--delegates", action="store_true",
                   help="show which ops XNNPACK, the GPU delegate and --delegate take, in how many "
                        "partitions, and which fall back to the CPU (.tflite)")
    p.add_argument("--delegate", metavar="LIB", help="an external TFLite delegate library to show too "
                                                     "(implies --delegates)")
    p.add_argument("--delegate-option", action="append", metavar="KEY=VALUE",
                   help="an option for --delegate (repeatable)")
    limits.add_arguments(p, "model_bytes")
    p.set_defaults(run=run)


def run(args) -> int:
    from edgekit.bench.targets import parse_options
    from edgekit.errors import EdgekitError
    from edgekit.inspection import inspect_model

    options = parse_options(args.delegate_option, "--delegate-option")
    if options and not args.delegate:
        raise EdgekitError("--delegate-option needs --delegate LIB (the delegate library it is for)")
    delegates = None
    if args.delegates or args.delegate:  # first: a delegate that does not load prints nothing else
        from edgekit.delegates import delegate_report

        delegates = delegate_report(args.model, args.delegate, options)
    info = inspect_model(args.model)
    if delegates is not None:
        info["delegates"] = delegates["delegates"]
        if "note" in delegates:
            info["delegates_note"] = delegates["note"]
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    lines = [f"{info['path']}: {info['format']}, {info['size_bytes']} bytes"]
    if info["format"] == "tflite":
        lines.append(f"signatures: {', '.join(info['signatures']) or 'none'}; subgraphs: {info['subgraphs']}")
    else:
        lines.append(f"opsets: {', '.join(f'{d} {v}' for d, v in info['opsets'].items())}; "
                     f"producer: {info['producer']}")
    for kind in ("inputs", "outputs"):
        lines.append(f"{kind}:")
        for t in info[kind]:
            shape = "[" + ", ".join("?" if d is None else str(d) for d in t["shape"]) + "]"
            quant = ""
            if "scale" in t:
                quant = (f"  scale={t['scale'][0]:.6g} zero_point={t['zero_point'][0]}" if len(t["scale"]) == 1
                         else f"  per-channel ({len(t['scale'])} scales, axis {t.get('quantized_dimension')})")
            lines.append(f"  {t['name']}: {t['dtype']} {shape}{quant}")
    lines.append(f"ops ({sum(info['ops'].values())}):")
    lines += [f"  {name:<28} {count}" for name, count in info["ops"].items()]
    if info["format"] == "tflite":
        lines.append("needs Flex ops: " + (f"yes ({', '.join(info['flex_ops'])}): the LiteRT interpreter "
                                           "cannot run it without the Flex delegate" if info["needs_flex"] else "no"))
        if info["custom_ops"]:
            lines.append(f"custom ops (need their kernels registered): {', '.join(info['custom_ops'])}")
    if delegates is not None:
        lines += delegate_lines(delegates)
    print("\n".join(lines))
    return 0


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
