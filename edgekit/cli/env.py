"""edgekit env: versions, CPU, GPUs, and which backends can run here (and why not)."""

from __future__ import annotations

import json


def register(sub, common):
    p = sub.add_parser("env", parents=[common], help="show versions, hardware and available backends",
                       description=__doc__.strip())
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run)


def run(args) -> int:
    from edgekit.environment import describe

    info = describe()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    cpu = info["cpu"]
    flags = ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in cpu["flags"].items()) or "unknown"
    lines = [f"edgekit {info['edgekit']} on Python {info['python']} ({info['platform']})", "", "versions:"]
    lines += [f"  {name:<30} {ver or 'not installed'}" for name, ver in info["versions"].items()]
    lines += ["", f"cpu: {cpu['name']} ({cpu['machine']})", f"  flags: {flags}",
              f"  cores: {cpu['cores']} ({cpu['usable_cores']} usable by this process)",
              f"gpus: {', '.join(info['gpus']['tensorflow']) or 'none visible to TensorFlow'}"
              + (f"; driver lists {len(info['gpus']['nvidia_smi'])}" if info["gpus"]["nvidia_smi"] else ""),
              f"onnxruntime providers: {', '.join(info['onnxruntime_providers']) or 'none'}", "", "backends:"]
    for name, entry in info["backends"].items():
        state = "available" if entry["available"] else "skipped"
        lines.append(f"  {name:<26} {state:<10} {entry.get('detail') or entry.get('reason')}")
    print("\n".join(lines))
    return 0
