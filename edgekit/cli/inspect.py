"""edgekit inspect: signatures, inputs and outputs with quantization, ops, and Flex needs."""

from __future__ import annotations

import json

from edgekit import limits


def register(sub, common):
    p = sub.add_parser("inspect", parents=[common], help="show what is inside a .tflite or .onnx file",
                       description=__doc__.strip())
    p.add_argument("model", help="a .tflite or .onnx file")
    p.add_argument("--json", action="store_true", help="print JSON")
    limits.add_arguments(p, "model_bytes")
    p.set_defaults(run=run)


def run(args) -> int:
    from edgekit.inspection import inspect_model

    info = inspect_model(args.model)
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
    print("\n".join(lines))
    return 0
