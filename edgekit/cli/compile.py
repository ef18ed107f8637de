"""edgekit compile: ahead-of-time compilation of a .tflite file for NPUs with LiteRT's compiler
plugins, one compiled file per target, and what each offloads to the NPU and leaves on the CPU."""

from __future__ import annotations

import sys
from pathlib import Path

from edgekit.cli.vocabulary import add_json
from edgekit.core import limits
from edgekit.core.artifacts import COMPILE_NAME, atomic_write_json, new_manifest, sha256_of
from edgekit.core.errors import EdgekitError
from edgekit.core.outputs import staged_folder


def register(sub, common):
    p = sub.add_parser("compile", parents=[common], help="compile a .tflite file ahead of time for NPUs",
                       description=__doc__.strip())
    p.add_argument("model", help="a .tflite file")
    p.add_argument("--npu", required=True, metavar="VENDOR[:SOC],...",
                   help="targets, e.g. intel_openvino:LNL,qualcomm:SM8650,mediatek:MT6989,google_tensor:Tensor_G3; "
                        "a vendor alone (intel_openvino) is every SoC its compiler plugin knows, one file each")
    p.add_argument("--npu-backend", choices=("npu", "gpu", "cpu"), default="npu",
                   help="Intel OpenVINO: the device the partitions are compiled for (default: npu; cpu runs "
                        "anywhere OpenVINO does)")
    p.add_argument("--out", metavar="DIR", default="edgekit-out", help="the compiled files and compile.json go to "
                                                        "DIR/<model name>-npu/ (default: edgekit-out)")
    add_json(p, "the compile record (compile.json)")
    limits.add_arguments(p, "model_bytes", "ops")
    p.set_defaults(run=run)


def run(args) -> int:
    from edgekit.hardware.npu_compile import (  # lazy: --help imports all commands; pulls numpy
        backend_note,
        compile_for,
        coverage_line,
        parse_targets,
    )
    from edgekit.measure.subjects import conversion_of  # lazy: --help imports all commands; pulls numpy
    from edgekit.models.inspection import checked_tflite  # lazy: --help imports all commands; pulls numpy

    model = checked_tflite(args.model, "compile", "what LiteRT's NPU compilers take")
    chosen = parse_targets(args.npu)
    final = Path(args.out) / f"{model.stem}-npu"
    with staged_folder(final, [("model", model)]) as stage:
        records = [r for vendor, soc in chosen for r in compile_for(model, vendor, soc, stage, args.npu_backend)]
        note = backend_note(records)  # once, before the targets whose reason it is
        if not any(r["status"] == "ok" for r in records):  # nothing to write: what --out holds stays
            raise EdgekitError(f"{model}: no target compiled{': ' + note if note else ''} "
                               f"({'; '.join(coverage_line(r) for r in records)}); nothing was written to {final}")
        if note:
            print(f"edgekit compile: note: {note}", file=sys.stderr)
        # a converted file's float model goes with it: bench compares the compiled files with it
        record = new_manifest(kind="edgekit compile", name=model.stem, model=str(model), sha256=sha256_of(model),
                              **conversion_of(model), targets=records)
        atomic_write_json(stage / COMPILE_NAME, record)
    if args.json:
        import json

        print(json.dumps({**record, "folder": str(final)}, indent=2, default=str))
        return 0
    for record in records:
        print(coverage_line(record))
    print(f"wrote {final}")
    return 0
