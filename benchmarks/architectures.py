"""Real architectures end to end: `edgekit convert` against the bare converters, paired, in one run.

    python benchmarks/architectures.py [--models mobilenetv2,resnet50] [--samples 100] [--out benchmarks/results]

For each keras.applications model (weights=None: nothing is downloaded), made non-degenerate
first (below), this runs, one after the other on the same files:

1. `edgekit convert MODEL --calib CALIB --no-bench`: the default eight variants, validated;
2. `benchmarks/bare_converters.py`: the same eight conversions with the converters' own calls;
3. `edgekit convert MODEL --calib CALIB`: the same with the benchmark, every table.

and records wall time and peak memory (the process's maxrss, from wait4) of each. Targets: every
model completes; with --no-bench the time ratio against the bare script is at most 1.2 and peak
memory at most 1.5x; with the benchmark, ResNet50's ratio is at most 2.0; peak memory under 3 GB
everywhere. Writes architectures.json and architectures.md to --out; exits 1 when a target is
missed.

**Non-degenerate models.** A randomly initialised classifier outputs the same 0.001 for every
class: there is nothing for SQNR or top-1 agreement to measure. So every BatchNormalization's
moving statistics are set from a batch of the calibration inputs (in one forward pass, each
layer sets them from what it sees, then normalizes with them), and the classifier is
replaced by one that reads the HEAD_COMPONENTS directions in which the features spread most
over the calibration samples (a random head reads mostly noise), scaled and centred so that each
logit varies by about LOGIT_SPREAD across samples. The inputs are random images in [0, 255]
(blocks of random size, colour, contrast and texture), passed through each model's own
`preprocess_input`, so each model sees its own input range. A body with random weights is still
far more sensitive to quantization than a trained one (on MobileNetV2 int8 keeps about 4 dB SQNR
against some 20 on trained weights), so int8 variants are often rejected here: that is the
partial-success path, and the timing targets hold either way.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ARCHITECTURES = {  # name: (keras.applications constructor, its preprocessing module)
    "mobilenetv2": ("MobileNetV2", "mobilenet_v2"),
    "mobilenetv3small": ("MobileNetV3Small", "mobilenet_v3"),
    "efficientnetb0": ("EfficientNetB0", "efficientnet"),
    "resnet50": ("ResNet50", "resnet50"),
    "densenet121": ("DenseNet121", "densenet"),
    "nasnetmobile": ("NASNetMobile", "nasnet"),
}
SIZE = 224
LOGIT_SPREAD = 2.0
HEAD_COMPONENTS = 4
TARGETS = {"no_bench_time_ratio": 1.2, "no_bench_memory_ratio": 1.5, "resnet50_bench_time_ratio": 2.0,
           "peak_memory_gb": 3.0}


def images(count: int, seed: int) -> np.ndarray:
    """Random images in [0, 255] that differ as photos do: blocks of random size and colour, with
    random contrast, tint and texture (similar images give a random network similar features)."""
    rng = np.random.default_rng(seed)
    out = np.empty((count, SIZE, SIZE, 3), np.float32)
    for i in range(count):
        grid = int(rng.integers(2, 29))
        blocks = rng.uniform(0, 1, (grid, grid, 3)) ** rng.uniform(0.3, 3)
        index = np.minimum(np.arange(SIZE) * grid // SIZE, grid - 1)
        image = blocks[index][:, index] * rng.uniform(0.2, 1.0) + rng.uniform(0, 0.5) * rng.uniform(0, 1, 3)
        image = image + rng.normal(0, rng.uniform(0, 0.25), image.shape)
        out[i] = np.clip(image, 0, 1) * 255
    return out


def build(name: str, folder: Path, samples: int) -> tuple[Path, Path, Path]:
    """NAME.keras (weights=None, made non-degenerate), NAME_calib.npy in its input range, and
    NAME_labelled.npz: other images labelled with the float model's own top-1 class, so that
    the benchmark's accuracy is agreement with the float model and a file can be recommended."""
    import keras

    constructor, module = ARCHITECTURES[name]
    keras.utils.set_random_seed(0)  # the same weights on every run, so runs compare
    model = getattr(keras.applications, constructor)(weights=None, input_shape=(SIZE, SIZE, 3))
    preprocess = getattr(keras.applications, module).preprocess_input
    calib = np.asarray(preprocess(images(samples, seed=0)), dtype=np.float32)
    normalizations = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in normalizations:  # each one's statistics become those of what it sees on a batch
        layer.call = _setting_statistics(layer, layer.call)
    model(calib[:16])  # inference mode: dropout stays off
    for layer in normalizations:
        del layer.call
    head = next(layer for layer in reversed(model.layers) if getattr(layer, "kernel", None) is not None)
    features = keras.Model(model.inputs, head.input).predict(calib, verbose=0).reshape(len(calib), -1)
    centred = features - features.mean(axis=0)
    directions = np.linalg.svd(centred, full_matrices=False)[2][:HEAD_COMPONENTS]  # the features' widest spread
    kernel = directions.T @ np.random.default_rng(0).normal(size=(HEAD_COMPONENTS, head.kernel.shape[-1]))
    logits = features @ kernel
    scale = LOGIT_SPREAD / float(logits.std(axis=0).mean())
    head.kernel.assign((kernel * scale).reshape(head.kernel.shape).astype(np.float32))
    head.bias.assign((-logits.mean(axis=0) * scale).reshape(head.bias.shape).astype(np.float32))
    model_path, calib_path, labelled_path = (folder / f"{name}.keras", folder / f"{name}_calib.npy",
                                             folder / f"{name}_labelled.npz")
    model.save(model_path)
    np.save(calib_path, calib)
    x = np.asarray(preprocess(images(200, seed=1)), dtype=np.float32)
    np.savez(labelled_path, x=x, y=model.predict(x, verbose=0).argmax(axis=1).astype(np.int64))
    return model_path, calib_path, labelled_path


def _setting_statistics(layer, call):
    import keras

    def setting(inputs, training=None, mask=None):
        axes = [i for i in range(len(inputs.shape)) if i != layer.axis % len(inputs.shape)]
        mean, variance = keras.ops.moments(inputs, axes)
        layer.moving_mean.assign(mean)
        layer.moving_variance.assign(variance)
        return call(inputs, training=False)

    return setting


def timed(command: list[str], log_path: Path) -> dict:
    """Run `command`; its wall time, exit code and peak resident memory (maxrss of the process)."""
    started = time.perf_counter()
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return {"seconds": round(time.perf_counter() - started, 1), "exit": process.returncode,
            "peak_gb": round(usage.ru_maxrss / 2**20, 2), "command": " ".join(command), "log": str(log_path)}


def edgekit(model: Path, calib: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "edgekit", "convert", str(model), "--calib", str(calib), "--out", str(out), "-q",
            *extra]


def run_model(name: str, tmp: Path, samples: int, with_bench: bool = True) -> dict:
    folder = tmp / name
    folder.mkdir()
    started = time.perf_counter()
    # built in a process of its own: a child's maxrss starts at the RSS of the process that
    # forked it (Linux keeps the pre-exec image's high-water mark), so this one stays small
    subprocess.run([sys.executable, __file__, "--build", name, "--into", str(folder), "--samples", str(samples)],
                   check=True, cwd=REPO)
    model, calib, labelled = (folder / f"{name}.keras", folder / f"{name}_calib.npy", folder / f"{name}_labelled.npz")
    row = {"model": name, "build_seconds": round(time.perf_counter() - started, 1)}
    print(f"{name}: built in {row['build_seconds']} s", flush=True)
    row["no_bench"] = timed(edgekit(model, calib, folder / "nobench", "--no-bench"), folder / "nobench.log")
    print(f"  edgekit convert --no-bench: {row['no_bench']['seconds']} s, {row['no_bench']['peak_gb']} GB, "
          f"exit {row['no_bench']['exit']}", flush=True)
    row["bare"] = timed([sys.executable, str(REPO / "benchmarks" / "bare_converters.py"), str(model), str(calib),
                         str(folder / "bare")], folder / "bare.log")
    print(f"  bare converters: {row['bare']['seconds']} s, {row['bare']['peak_gb']} GB", flush=True)
    if with_bench:  # labelled data only here: scoring each variant on it is work the bare script does not do
        row["bench"] = timed(edgekit(model, calib, folder / "bench", "--train-data", str(labelled)),
                             folder / "bench.log")
        print(f"  edgekit convert: {row['bench']['seconds']} s, {row['bench']['peak_gb']} GB, "
              f"exit {row['bench']['exit']}", flush=True)
    manifest = folder / "nobench" / name / "manifest.json"
    row["manifest"] = json.loads(manifest.read_text()) if manifest.is_file() else None
    results = folder / "bench" / name / "results.json"
    if with_bench:
        row["recommendation"] = recommendation(json.loads(results.read_text())) if results.is_file() else \
            "no benchmark results"
    row["bare_log"] = [line for line in (folder / "bare.log").read_text().splitlines() if "(peak" in line]
    return row


def recommendation(results: dict) -> str:
    from edgekit.results import summary

    return "; ".join(summary.recommend(model).line() for model in results["models"])


def variant_rows(manifest: dict) -> list[str]:
    lines = []
    for artifact in manifest["artifacts"] + manifest.get("rejected", []):
        outputs = artifact["fidelity"]["outputs"]
        worst = min(outputs.values(), key=lambda o: o.get("sqnr_db") if o.get("sqnr_db") is not None else 1e9)
        sqnr = "const" if worst.get("constant") else f"{worst['sqnr_db']:.1f}"
        agreement = worst.get("top1_agreement")
        lines.append(f"| {artifact['format']} {artifact['variant']} | {'rejected' if 'reason' in artifact else 'kept'}"
                     f" | {sqnr} | {'-' if agreement is None else f'{agreement:.3f}'} |"
                     f" {artifact.get('reason', '')} |")
    for failed in manifest["failed"]:
        lines.append(f"| {failed['format']} {failed['variant']} | not built | - | - | {failed['reason']} |")
    return lines


def targets(rows: list[dict]) -> list[dict]:
    checks = []

    def check(what, measured, limit, met):
        checks.append({"target": what, "measured": measured, "limit": limit, "met": bool(met)})
        print(f"{'PASS' if met else 'FAIL'}  {what}: {measured} (limit {limit})", flush=True)

    for row in rows:
        name, nobench, bare, bench = row["model"], row["no_bench"], row["bare"], row.get("bench") or {}
        exits = [nobench["exit"]] + ([bench["exit"]] if bench else [])
        check(f"{name} completes", " / ".join(f"exit {e}" for e in exits), "0 or 1 (a variant left out)",
              all(e in (0, 1) for e in exits))
        ratio = nobench["seconds"] / bare["seconds"]
        check(f"{name} --no-bench time against the bare converters", f"{ratio:.2f}x",
              f"<= {TARGETS['no_bench_time_ratio']}x", ratio <= TARGETS["no_bench_time_ratio"])
        memory = nobench["peak_gb"] / bare["peak_gb"]
        check(f"{name} --no-bench peak memory against the bare converters", f"{memory:.2f}x",
              f"<= {TARGETS['no_bench_memory_ratio']}x", memory <= TARGETS["no_bench_memory_ratio"])
        peak = max(nobench["peak_gb"], bench.get("peak_gb", 0))
        check(f"{name} peak memory", f"{peak:.2f} GB", f"< {TARGETS['peak_memory_gb']} GB",
              peak < TARGETS["peak_memory_gb"])
        if name == "resnet50" and bench:
            ratio = bench["seconds"] / bare["seconds"]
            check("resnet50 with the benchmark against the bare converters", f"{ratio:.2f}x",
                  f"<= {TARGETS['resnet50_bench_time_ratio']}x", ratio <= TARGETS["resnet50_bench_time_ratio"])
    return checks


def markdown(rows: list[dict], checks: list[dict], machine: str) -> str:
    lines = ["# Real architectures: `edgekit convert` against the bare converters", "",
             f"Written by `python benchmarks/architectures.py` on {machine}. Models: keras.applications, "
             "weights=None, made non-degenerate as the script's docstring says; calibration: the samples "
             "it generates, in each model's input range. Peak memory is the process's maxrss.", "",
             "## Targets", "", "| target | measured | limit | met |", "| --- | --- | --- | --- |"]
    lines += [f"| {c['target']} | {c['measured']} | {c['limit']} | {'yes' if c['met'] else 'NO'} |" for c in checks]
    lines += ["", "## Time and memory", "",
              "| model | edgekit --no-bench | bare converters | ratio | edgekit with benchmark | ratio |",
              "| --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        nb, bare, bench = row["no_bench"], row["bare"], row.get("bench")
        with_bench = (f"{bench['seconds']} s, {bench['peak_gb']} GB | {bench['seconds'] / bare['seconds']:.2f}x"
                      if bench else "not run | -")
        lines.append(f"| {row['model']} | {nb['seconds']} s, {nb['peak_gb']} GB | {bare['seconds']} s, "
                     f"{bare['peak_gb']} GB | {nb['seconds'] / bare['seconds']:.2f}x time, "
                     f"{nb['peak_gb'] / bare['peak_gb']:.2f}x memory | {with_bench} |")
    for row in rows:
        lines += ["", f"## {row['model']}", ""]
        if row["manifest"] is None:
            lines.append(f"edgekit convert --no-bench wrote no manifest; see {row['no_bench']['log']}")
            continue
        lines += ["| variant | | worst SQNR (dB) | top-1 agreement | reason |", "| --- | --- | --- | --- | --- |"]
        lines += variant_rows(row["manifest"])
        steps = row["manifest"].get("seconds", {})
        lines += ["", f"Recommendation (with the benchmark): {row.get('recommendation', 'not run')}", "",
                  "Where `edgekit convert --no-bench` spent its time (seconds, from manifest.json):", "",
                  "    " + ", ".join(f"{step} {value:g}" for step, value in steps.items()), "",
                  "Bare converters, per step:", "", *[f"    {line}" for line in row["bare_log"]]]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--models", default=",".join(ARCHITECTURES))
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--build", help=argparse.SUPPRESS)  # one model, in a child process
    parser.add_argument("--into", help=argparse.SUPPRESS)
    parser.add_argument("--bench-models", default=None,
                        help="the models to run with the benchmark too (default: all); the others get --no-bench only")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    if args.build:
        build(args.build, Path(args.into), args.samples)
        return 0

    with tempfile.TemporaryDirectory(prefix="edgekit-architectures-") as tmp:
        benched = set((args.bench_models or args.models).split(","))
        rows = [run_model(name, Path(tmp), args.samples, name in benched) for name in args.models.split(",")]
    checks = targets(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    machine = json.loads(subprocess.run([sys.executable, "-c", "import json; from edgekit.runtimes.environment import describe; "
                                         "print(json.dumps(describe()))"], capture_output=True, text=True,
                                        check=True, cwd=REPO).stdout.splitlines()[-1])
    versions = ", ".join(f"{k} {machine['versions'][k]}" for k in ("tensorflow", "tf2onnx", "onnxruntime", "ai-edge-litert"))
    (out / "architectures.md").write_text(markdown(rows, checks, f"{machine['cpu']['name']}, {machine['cpu']['cores']} "
                                                                 f"cores ({versions})"))
    for row in rows:  # the manifests' bulky parts stay out of the committed JSON
        row["variants"] = variant_rows(row.pop("manifest")) if row.get("manifest") else None
    (out / "architectures.json").write_text(json.dumps({"targets": checks, "models": rows}, indent=1))
    return 0 if all(c["met"] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
