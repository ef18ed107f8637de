"""edgekit bench: latency, throughput, memory, accuracy and fidelity of every artifact on every
runtime that can run it here, against the float model."""

from __future__ import annotations

import logging
import sys

from edgekit.cli.vocabulary import add_input_shape, add_json, add_output
from edgekit.core import limits
from edgekit.hardware.mcu import BOARDS, budget
from edgekit.models.trust import TRUST_HELP


def add_bench_arguments(p) -> None:
    """The options `bench` and `convert` share (convert runs the same benchmark at its end)."""
    g = p.add_argument_group("benchmark")
    g.add_argument("--runtime", help="targets, comma-separated: keras:cpu|gpu, litert:xnnpack|builtin|"
                                     "default-kernels|reference|delegate, litert-compiled:cpu|gpu|npu, "
                                     "onnxruntime:cpu|cuda|tensorrt|openvino, tflm (TFLite Micro on this host) (default: every "
                                     "one that applies; tflm only when named or with --mcu)")
    g.add_argument("--threads", default="1", help="CPU thread counts, comma-separated (default: 1)")
    g.add_argument("--runs", default="auto",
                   help="timed batch-1 runs per file and target, or auto (default): until the median's 95%% "
                        "confidence interval is within ±2%%, at most 3 s per pair (1.5 s on builtin or reference "
                        "kernels, TFLite Micro and for int16x8)")
    g.add_argument("--repeat", type=int, default=1, metavar="N",
                   help="time batch-1 latency in N interleaved rounds (every file and target once, then again, "
                        "...), storing each round's p50: `edgekit compare` gates latency on the drift between "
                        "rounds, which one round cannot show; 3 for a CI baseline (default: 1)")
    g.add_argument("--warmup", type=int, default=20, help="untimed runs first (default: 20)")
    add_profile(g)
    g.add_argument("--batch", type=int, default=32, help="batch size for throughput (default: 32)")
    g.add_argument("--delegate", help="an external TFLite delegate library (e.g. libedgetpu.so.1)")
    g.add_argument("--delegate-option", action="append", metavar="KEY=VALUE",
                   help="an option for --delegate (repeatable)")
    g.add_argument("--dispatch-library", help="the NPU vendor's LiteRT dispatch library, for litert-compiled:npu "
                                              "(default: Intel OpenVINO's, in LiteRT's wheel, with the [npu] extra)")
    g.add_argument("--npu-backend", choices=("npu", "gpu", "cpu"), default="npu",
                   help="Intel OpenVINO's dispatch: the device it runs the partitions on (default: npu; cpu runs "
                        "wherever OpenVINO does)")
    g.add_argument("--device", metavar="WHERE",
                   help="where to measure: local (default), ssh://[user@]host[:port] (a Linux board with Python 3, "
                        "numpy and ai-edge-litert or onnxruntime), adb or adb://SERIAL (an Android phone, with "
                        "--benchmark-binary), or a name from --devices; several, comma-separated, give one results "
                        "file across them")
    g.add_argument("--devices", metavar="FILE", help="a TOML file of named boards and phones: [name] ssh = "
                                                     "\"user@host\", python = \"...\", notes = \"...\" (or adb = "
                                                     "\"SERIAL\", benchmark_binary = \"...\")")
    g.add_argument("--remote-python", metavar="PATH", help="the board's Python (default: python3)")
    g.add_argument("--benchmark-binary", metavar="PATH",
                   help="for an Android phone: LiteRT's benchmark_model built for its ABI (a download, e.g. "
                        "android_aarch64_benchmark_model)")
    g.add_argument("--mcu", metavar="BOARD", help="a microcontroller board whose RAM and flash each .tflite must "
                                                  "fit: runs TFLite Micro and says whether each file fits, with the "
                                                  "headroom (boards: " + ", ".join(BOARDS) + ")")
    g.add_argument("--mcu-ram", metavar="SIZE", help="RAM for TFLite Micro's arena, e.g. 256KB (with --mcu-flash, "
                                                     "or overriding --mcu's)")
    g.add_argument("--mcu-flash", metavar="SIZE", help="flash for the model, e.g. 1MB")
    g.add_argument("--in-process", action="store_true",
                   help="measure inside edgekit's own process rather than in a worker process per file and "
                        "target (no isolation: a runtime that crashes ends the run, one that hangs is not stopped)")


PROFILE_RUNS = 20  # calls a per-op mean is over: the profilers' own overhead, not noise, limits it


def add_profile(group) -> None:
    group.add_argument("--profile", nargs="?", type=int, const=PROFILE_RUNS, default=0, metavar="RUNS",
                       help="also a per-op profile of each file and target, over RUNS calls (default "
                            f"{PROFILE_RUNS}) in a session of its own, never the one latency is timed in: "
                            "which ops take the time, and which ops an accelerator left on the CPU")


def register(sub, common):
    p = sub.add_parser("bench", parents=[common], help="measure artifacts on every available runtime",
                       description=__doc__.strip())
    p.add_argument("path", help="a .tflite, .onnx, .keras, .h5 or .hdf5 file, a folder written by convert, or a zoo model "
                                "name (e.g. digits_cnn: its bundled model, on its held-out data)")
    p.add_argument("--data", help="evaluation samples: an .npz with x and y (scored) or inputs only, "
                                  ".npy, or an image folder (default: the model's held-out data)")
    p.add_argument("--reference", help="the float model to compare with (default: the one in manifest.json)")
    add_input_shape(p)
    p.add_argument("--trust-model-code", action="store_true", help=TRUST_HELP)
    add_output(p, "also write the results to FILE (results.json's schema)")
    add_json(p, "the results", path_alias=True)
    add_bench_arguments(p)
    limits.add_arguments(p)
    p.set_defaults(run=run)


def settings_from(args, **extra):
    """The benchmark's settings from the command's options, checked now (workflows/bench.py)."""
    from edgekit.workflows.bench import bench_settings  # lazy: --help imports all commands; pulls numpy

    extra.setdefault("input_shape", tuple(getattr(args, "input_shape", None) or ()))

    return bench_settings(args.runtime, args.threads, args.runs, args.warmup, args.batch, delegate=args.delegate,
                          delegate_options=args.delegate_option, dispatch_library=args.dispatch_library,
                          npu_backend=args.npu_backend, device=args.device, devices_file=args.devices,
                          remote_python=args.remote_python, benchmark_binary=args.benchmark_binary,
                          in_process=args.in_process, mcu=budget(args.mcu, args.mcu_ram, args.mcu_flash),
                          repeat=args.repeat, profile=getattr(args, "profile", 0), **extra)


def resolved_config(args) -> dict:
    """--dump-config: the options as given, checked as a run would check them."""
    settings_from(args)
    return {}


def run(args) -> int:
    from edgekit.render.table import bench_table  # lazy: --help imports all commands; pulls numpy
    from edgekit.results import schema  # lazy: --help imports all commands; pulls numpy
    from edgekit.workflows.bench import measure  # lazy: --help imports all commands; pulls numpy

    # the options first (a misspelt runtime is named even with a wrong path), then the models
    settings = settings_from(args, data=args.data, trust_model_code=args.trust_model_code,
                             reference=args.reference)
    log = logging.getLogger("edgekit").info  # -q/-v: the level the command set
    results, _ = measure(args.path, settings, args.output, log, progress=not args.quiet)
    if args.json:
        sys.stdout.write(schema.to_text(results))
    for model in [] if args.json else results["models"]:
        print(bench_table(model, results.get("settings")))
    return stopped_code(results, "bench")


def stopped_code(results: dict, command: str) -> int:
    """1, with one line, when the time limit stopped the measuring (the rows before it stand)."""
    stopped = next((m["stopped"] for m in results["models"] if m.get("stopped")), None)
    if stopped is None:
        return 0
    print(f"edgekit {command}: {stopped}; the rows measured before it are in the table", file=sys.stderr)
    return 1
