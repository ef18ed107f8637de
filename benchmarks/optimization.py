"""The zoo and optimization targets, measured on this machine in one run.

    python benchmarks/optimization.py [--models digits_cnn,sine] [--out benchmarks/results]

1. Every zoo model meets its float target on its held-out split, and keeps it within 1 point
   after full-int8 TFLite (points: percent for accuracy and ROC AUC, 0.01 for MAE).
2. digits_cnn: full-int8 PTQ drops at most 0.5 points; QAT int8 at most 0.3; pruned to 75%
   sparsity then int8 at most 1.0, with a gzip size at most 20% of the fp32 TFLite file.

Writes optimization.json and optimization.md to --out; exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgekit import zoo  # noqa: E402
from edgekit.core.config import ConvertConfig  # noqa: E402
from edgekit.data.metrics import METRICS, meets  # noqa: E402
from edgekit.runtimes.environment import describe  # noqa: E402
from edgekit.workflows.convert import convert  # noqa: E402

INT8_KEEPS_POINTS = 1.0  # every zoo model, full-int8 against float
DIGITS_TARGETS = {"ptq": 0.5, "qat": 0.3, "pruned": 1.0, "pruned_gzip_ratio": 0.20}


def run(name: str, out: Path, **options) -> dict:
    model, _ = zoo.bundled(name)
    config = ConvertConfig(model=str(model), out=str(out / "-".join([name, *options]) if options else out),
                           onnx=[], **{"tflite": ["fp32", "int8"], **options})
    started = time.perf_counter()
    manifest = convert(config, log=lambda message: None, verbose=False)
    manifest["seconds"] = round(time.perf_counter() - started, 1)
    return manifest


def artifact(manifest: dict, variant: str) -> dict:
    return next(a for a in manifest["artifacts"] if a["variant"] == variant)


def check(rows: list, what: str, measured: str, limit: str, ok: bool) -> None:
    rows.append({"target": what, "measured": measured, "limit": limit, "met": bool(ok)})
    print(f"{'PASS' if ok else 'FAIL'}  {what}: {measured} (limit {limit})", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    # digits_outlier is made to lose accuracy under int8 (benchmarks/tuning.py measures that)
    parser.add_argument("--models", default=",".join(n for n in zoo.names() if n != "digits_outlier"))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    rows, runs = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name in args.models.split(","):
            manifest = runs[name] = run(name, tmp)
            ev, card = manifest["evaluation"], json.loads((zoo.model_path(name).parent / "card.json").read_text())
            target, metric = card["metric"]["target"], ev["metric"]
            sign = ">=" if METRICS[metric][1] else "<="
            check(rows, f"{name} float {metric}", f"{ev['float']:.4f}", f"{sign} {target}",
                  meets(metric, ev["float"], target))
            int8 = artifact(manifest, "int8")["evaluation"]
            check(rows, f"{name} full-int8 TFLite {metric}", f"{int8['value']:.4f} (drop {int8['drop_points']:+.2f})",
                  f"drop <= {INT8_KEEPS_POINTS}", int8["drop_points"] <= INT8_KEEPS_POINTS)
        if "digits_cnn" in runs:
            plain = runs["digits_cnn"]
            check(rows, "digits_cnn PTQ int8 accuracy drop", f"{artifact(plain, 'int8')['evaluation']['drop_points']:+.2f}",
                  f"<= {DIGITS_TARGETS['ptq']}", artifact(plain, "int8")["evaluation"]["drop_points"] <= DIGITS_TARGETS["ptq"])
            qat = runs["digits_cnn qat"] = run("digits_cnn", tmp, qat=True)
            drop = artifact(qat, "int8-qat")["evaluation"]["drop_points"]
            check(rows, "digits_cnn QAT int8 accuracy drop", f"{drop:+.2f}", f"<= {DIGITS_TARGETS['qat']}",
                  drop <= DIGITS_TARGETS["qat"])
            pruned = runs["digits_cnn prune 0.75"] = run("digits_cnn", tmp, prune=0.75)
            int8 = artifact(pruned, "int8")
            check(rows, "digits_cnn pruned 75% + int8 accuracy drop", f"{int8['evaluation']['drop_points']:+.2f}",
                  f"<= {DIGITS_TARGETS['pruned']}", int8["evaluation"]["drop_points"] <= DIGITS_TARGETS["pruned"])
            both = runs["digits_cnn prune 0.75 qat"] = run("digits_cnn", tmp, prune=0.75, qat=True)
            drop = artifact(both, "int8-qat")["evaluation"]["drop_points"]
            check(rows, "digits_cnn pruned 75% + QAT int8 accuracy drop", f"{drop:+.2f}",
                  f"<= {DIGITS_TARGETS['pruned']}", drop <= DIGITS_TARGETS["pruned"])
            ratio = int8["gzip_bytes"] / artifact(plain, "fp32")["size_bytes"]
            check(rows, "digits_cnn pruned 75% + int8 gzip size / fp32 TFLite size",
                  f"{ratio:.1%} ({int8['gzip_bytes']} / {artifact(plain, 'fp32')['size_bytes']} bytes)",
                  f"<= {DIGITS_TARGETS['pruned_gzip_ratio']:.0%}", ratio <= DIGITS_TARGETS["pruned_gzip_ratio"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {
        "environment": describe(),
        "targets": rows,
        "runs": {key: {"seconds": m["seconds"], "evaluation": m["evaluation"], "optimization": m["optimization"],
                       "artifacts": [{k: a[k] for k in ("path", "variant", "size_bytes", "gzip_bytes", "evaluation")}
                                     for a in m["artifacts"]]} for key, m in runs.items()},
    }
    (out / "optimization.json").write_text(json.dumps(summary, indent=2) + "\n")
    lines = ["# Zoo and optimization targets", "", "Written by `python benchmarks/optimization.py`.", "",
             "| target | measured | limit | met |", "| --- | --- | --- | --- |"]
    lines += [f"| {r['target']} | {r['measured']} | {r['limit']} | {'yes' if r['met'] else '**no**'} |" for r in rows]
    (out / "optimization.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'optimization.md'} and optimization.json")
    return 0 if all(r["met"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
