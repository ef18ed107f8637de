"""edgekit env: versions, CPU, GPUs, and which backends can run here (and why not)."""

from __future__ import annotations

import json

from edgekit.cli.vocabulary import add_json


def register(sub, common):
    p = sub.add_parser("env", parents=[common], help="show versions, hardware and available backends",
                       description=__doc__.strip())
    add_json(p, "the environment")
    p.add_argument("--device", metavar="WHERE", help="describe a board or phone instead: ssh://[user@]host[:port], "
                                                     "adb[://SERIAL] or a name from --devices (what it has, what it "
                                                     "lacks)")
    p.add_argument("--devices", metavar="FILE", help="a TOML file of named boards (see `edgekit bench --help`)")
    p.add_argument("--remote-python", metavar="PATH", help="the board's Python (default: python3)")
    p.set_defaults(run=run)


# what a board needs for each runtime, and the line that installs it
BOARD_PACKAGES = {"numpy": "numpy", "ai-edge-litert": "ai-edge-litert numpy", "onnxruntime": "onnxruntime numpy"}


def run_board(args) -> int:
    from edgekit.runners.devices import runner_for  # lazy: --help imports all commands; pulls pydantic

    board = runner_for(args.device, args.devices, args.remote_python)
    try:
        info = board.probe()
    finally:
        board.close()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    if board.kind == "adb":
        print(f"{board.device}: {info['phone']} ({info['platform']})\n"
              f"cpu: {info['cpu']['name']}, {info['cpu']['cores']} cores\n"
              f"measures with LiteRT's benchmark_model for {info['abi']}: give it with --benchmark-binary")
        return 0
    cpu, versions = info.get("cpu", {}), info.get("versions", {})
    lines = [f"{board.device}: Python {info.get('python')} ({info.get('platform')})",
             f"cpu: {cpu.get('name')} ({cpu.get('machine')}), {cpu.get('cores')} cores", "packages:"]
    for name, install in BOARD_PACKAGES.items():
        found = versions.get(name)
        lines.append(f"  {name:<16} {found}" if found else f"  {name:<16} missing: pip install {install}")
    if not versions.get("ai-edge-litert") and not versions.get("onnxruntime"):
        lines.append("this board can run no model yet: install ai-edge-litert (for .tflite) or onnxruntime (for .onnx)")
    print("\n".join(lines))
    return 0


def run(args) -> int:
    if args.device and args.device != "local":
        return run_board(args)
    if args.devices:  # read and checked whole even for this machine, as bench does
        from edgekit.runners.devices import find  # lazy: --help imports all commands; pulls pydantic

        find("local", args.devices)
    from edgekit.runtimes.environment import describe  # lazy: --help imports all commands; pulls numpy

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
