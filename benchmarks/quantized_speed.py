"""Is int8 faster where it runs? edgekit's quantized files against fp32 and against the previous recipes, paired.

    python benchmarks/quantized_speed.py [--models digits_cnn,resnet50] [--rounds 3] [--out benchmarks/results]

For the six zoo models and keras.applications MobileNetV2, ResNet50 and EfficientNetB0 (weights=None,
made non-degenerate by `benchmarks/architectures.py --build`), this

1. converts with `edgekit convert MODEL --calib CALIB --max-calib-samples 100 --tflite fp32,int8
   --onnx all --no-bench`: today's recipes (int8-static typed for this CPU, int8-dynamic on MatMul,
   attention and LSTM only, or unavailable);
2. builds the previous recipes beside them: int8-static as S8S8 (`--onnx-quant-format s8s8`, what
   edgekit wrote before issue 31) and int8-dynamic on every op onnxruntime's `quantize_dynamic`
   takes (its bare call, as edgekit made it before);
3. times every file at 1 and 2 threads on onnxruntime's CPU provider (ONNX) and LiteRT with XNNPACK
   (TFLite), through the runtimes' own Python APIs, in --rounds interleaved rounds (each round
   runs every file once in turn, so that a slow spell of the shared machine hits all of them):
   p50 of each round, the median round reported with the rounds' spread;
4. measures fidelity (SQNR, top-1 agreement) of every file against the float Keras model on held-out
   inputs the calibration never saw (zoo: calibration samples 100 to 200; applications: other images).

Targets: int8-static at least 1.3x faster than fp32 on onnxruntime:cpu at each thread count on every
convolutional model whose fp32 p50 is 50 µs or more, with fidelity at or above the previous S8S8
recipe's (0.5 dB allowed); and every default ONNX or TFLite variant slower than fp32 here, by more
than the rounds' spread, is flagged by `edgekit bench` on the same files. TFLite's int8 speed-up on
XNNPACK is written beside each, as the reference for what int8 can give on this CPU. Writes
quantized_speed.json and quantized_speed.md to --out; exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ZOO = ("digits_mlp", "digits_cnn", "sine", "resnet8", "ds_cnn", "autoencoder")
APPLICATIONS = ("mobilenetv2", "resnet50", "efficientnetb0")
CALIBRATION = 100
HELD_OUT = 100
THREADS = (1, 2)
SPEEDUP_TARGET = 1.3
MIN_FP32_US = 50.0
FIDELITY_SLACK_DB = 0.5
ROUND_SECONDS = 0.3  # timed runs per file, thread count and round: at least this long, and MIN_RUNS
MIN_RUNS = 10


def edgekit(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgekit", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, check=False)  # exit 1 (a variant left out) is a result here


def inputs_for(name: str, folder: Path) -> tuple[Path, Path, np.ndarray]:
    """The model file, its calibration file and held-out inputs the calibration never saw."""
    if name in ZOO:
        from edgekit import zoo

        calibration = zoo.calibration_path(name)
        with np.load(calibration) as npz:
            held_out = npz[npz.files[0]][CALIBRATION:CALIBRATION + HELD_OUT].astype(np.float32)
        return zoo.model_path(name), calibration, held_out
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "architectures.py"), "--build", name, "--into",
                    str(folder), "--samples", str(CALIBRATION)], check=True, cwd=REPO)
    with np.load(folder / f"{name}_labelled.npz") as npz:
        held_out = npz["x"][:HELD_OUT // 2].astype(np.float32)  # the big ones: 50 samples keep it short
    return folder / f"{name}.keras", folder / f"{name}_calib.npy", held_out


def build(name: str, folder: Path) -> dict:
    """Today's files and the previous recipes' ({label: path}), what was left out and why."""
    model, calibration, held_out = inputs_for(name, folder)
    common = ["--calib", calibration, "--max-calib-samples", CALIBRATION, "--no-bench", "-q"]
    today = edgekit("convert", model, *common, "--tflite", "fp32,int8", "--onnx", "all", "--out", folder / "today")
    before = edgekit("convert", model, *common, "--tflite", "none", "--onnx", "int8-static", "--onnx-quant-format",
                     "s8s8", "--out", folder / "before")
    manifest = _manifest(folder / "today")
    if manifest is None:
        raise SystemExit(f"edgekit convert {model} wrote nothing: {today.stderr.strip()[-400:]}")
    # rejected files too: whether int8 is fast is a question apart from whether it kept the model
    files = {f"{a['format']} {a['variant']}": folder / "today" / manifest["name"] / a["path"]
             for a in manifest["artifacts"] + manifest["rejected"]}
    left_out = {f"{s['format']} {s['variant']}": s["reason"] for s in manifest["failed"] + manifest["skipped"]}
    rejected = {f"{r['format']} {r['variant']}": r["reason"] for r in manifest["rejected"]}
    s8s8 = _manifest(folder / "before")
    if s8s8 and s8s8["artifacts"] + s8s8["rejected"]:
        kept = (s8s8["artifacts"] + s8s8["rejected"])[0]
        files["onnx int8-static S8S8 (before)"] = folder / "before" / s8s8["name"] / kept["path"]
        if "reason" in kept:
            rejected["onnx int8-static S8S8 (before)"] = kept["reason"]
    else:
        left_out["onnx int8-static S8S8 (before)"] = before.stderr.strip().splitlines()[-1:]
    fp32 = files.get("onnx fp32")
    if fp32 is not None:
        files["onnx int8-dynamic, every op (before)"] = _dynamic_on_every_op(fp32, folder / "dynamic_every_op.onnx")
    return {"model": model, "held_out": held_out, "files": files, "left_out": left_out, "rejected": rejected,
            "exits": {"today": today.returncode, "before": before.returncode}, "folder": folder / "today" /
            manifest["name"]}


def _manifest(out: Path) -> dict | None:
    found = list(out.glob("*/manifest.json"))
    return json.loads(found[0].read_text()) if found else None


def _dynamic_on_every_op(fp32: Path, out: Path) -> Path:
    """onnxruntime's bare quantize_dynamic on every op it takes, after its pre-processing: the previous recipe."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = out.with_suffix(".prepared.onnx")
    quant_pre_process(str(fp32), str(prepared))
    quantize_dynamic(str(prepared), str(out), weight_type=QuantType.QInt8)
    return out


class Runner:
    """One file at one thread count, through the runtime's own API, fed one held-out sample."""

    def __init__(self, path: Path, threads: int, sample: np.ndarray):
        if path.suffix == ".onnx":
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            name = self.session.get_inputs()[0].name
            self.run = lambda: self.session.run(None, {name: sample})
        else:
            from ai_edge_litert.interpreter import Interpreter

            interpreter = Interpreter(model_path=str(path), num_threads=threads)  # XNNPACK by default
            interpreter.allocate_tensors()
            detail = interpreter.get_input_details()[0]
            fed = sample
            if detail["dtype"] != np.float32:  # int8 input: quantized as the file says
                scale, zero = detail["quantization"]
                info = np.iinfo(detail["dtype"])
                fed = np.clip(np.round(sample / scale) + zero, info.min, info.max).astype(detail["dtype"])
            interpreter.set_tensor(detail["index"], fed)
            self.run = interpreter.invoke
            self.interpreter = interpreter

    def p50_us(self) -> float:
        for _ in range(3):
            self.run()
        times, started = [], time.perf_counter()
        while len(times) < MIN_RUNS or time.perf_counter() - started < ROUND_SECONDS:
            t0 = time.perf_counter()
            self.run()
            times.append(time.perf_counter() - t0)
        return statistics.median(times) * 1e6


def timings(files: dict, sample: np.ndarray, rounds: int) -> dict:
    """{(label, threads): {"p50_us": the median round's, "spread": (max - min) / median of the rounds}}."""
    runners = {(label, threads): Runner(path, threads, sample) for label, path in files.items() for threads in THREADS}
    per_round = {key: [] for key in runners}
    for _ in range(rounds):
        for key, runner in runners.items():
            per_round[key].append(runner.p50_us())
    return {key: {"p50_us": round(statistics.median(values), 1),
                  "spread": round((max(values) - min(values)) / statistics.median(values), 3),
                  "rounds": [round(v, 1) for v in values]} for key, values in per_round.items()}


def fidelities(model: Path, files: dict, held_out: np.ndarray) -> dict:
    """SQNR and top-1 agreement of every file against the float model on the held-out inputs."""
    from edgekit.measure import fidelity
    from edgekit.models.loading import load_model
    from edgekit.runtimes import for_format

    source = load_model(model)
    reference = np.asarray(next(iter(source.predict({source.inputs[0].name: held_out}).values())), np.float64)
    found = {}
    for label, path in files.items():
        with for_format(path.suffix.lstrip(".")).open(path, threads=2) as session:
            outputs = session.predict({session.inputs[0].name: held_out})
        compared = fidelity.compare({"y": reference}, {"y": np.asarray(next(iter(outputs.values())), np.float64)})
        found[label] = {"sqnr_db": compared["sqnr_db"], "top1_agreement": compared["top1_agreement"]}
    return found


def flagged_by_edgekit(folder: Path, out: Path) -> dict:
    """`edgekit bench` on today's files at 1 and 2 threads: {(label, threads): slower_than_float or None}."""
    done = edgekit("bench", folder, "--runtime", "onnxruntime:cpu,litert:xnnpack", "--threads", "1,2",
                   "--output", out, "-q")
    if not out.is_file():
        raise SystemExit(f"edgekit bench {folder} failed: {done.stderr.strip()[-400:]}")
    records = json.loads(out.read_text())["models"][0]["records"]
    return {(f"{r['format']} {r['variant']}", r["threads"]): r.get("slower_than_float")
            for r in records if r["status"] == "ok" and r["target"] in ("onnxruntime:cpu", "litert:xnnpack")}


def is_convolutional(path: Path) -> bool:
    import onnx

    return any(node.op_type == "Conv" for node in onnx.load(str(path), load_external_data=False).graph.node)


def run_model(name: str, tmp: Path, rounds: int) -> dict:
    folder = tmp / name
    folder.mkdir()
    started = time.perf_counter()
    built = build(name, folder)
    print(f"{name}: {len(built['files'])} files in {time.perf_counter() - started:.0f} s", flush=True)
    timed = timings(built["files"], built["held_out"][:1], rounds)
    fidelity = fidelities(built["model"], built["files"], built["held_out"])
    flags = flagged_by_edgekit(built["folder"], folder / "bench.json")
    conv = "onnx fp32" in built["files"] and is_convolutional(built["files"]["onnx fp32"])
    return {"model": name, "convolutional": conv, "left_out": built["left_out"], "rejected": built["rejected"],
            "exits": built["exits"],
            "timings": {f"{label} x{threads}": value for (label, threads), value in timed.items()},
            "fidelity": fidelity,
            "edgekit_flags": {f"{label} x{threads}": flag for (label, threads), flag in flags.items()}}


def speedup(row: dict, fast: str, threads: int, against: str = "onnx fp32") -> float | None:
    a, b = row["timings"].get(f"{against} x{threads}"), row["timings"].get(f"{fast} x{threads}")
    return None if a is None or b is None else round(a["p50_us"] / b["p50_us"], 2)


def targets(rows: list[dict]) -> list[dict]:
    checks = []

    def check(what, measured, limit, met):
        checks.append({"target": what, "measured": measured, "limit": limit, "met": bool(met)})
        print(f"{'PASS' if met else 'FAIL'}  {what}: {measured} (limit {limit})", flush=True)

    for row in rows:
        name, timed = row["model"], row["timings"]
        for threads in THREADS:
            fp32 = timed.get(f"onnx fp32 x{threads}")
            if row["convolutional"] and fp32 and fp32["p50_us"] >= MIN_FP32_US:
                ratio = speedup(row, "onnx int8-static", threads)
                check(f"{name} int8-static against fp32 on onnxruntime:cpu x{threads}",
                      "not built" if ratio is None else f"{ratio:.2f}x faster", f">= {SPEEDUP_TARGET}x",
                      ratio is not None and ratio >= SPEEDUP_TARGET)
            ours, litert = speedup(row, "onnx int8-static", threads), speedup(row, "tflite int8", threads, "tflite fp32")
            if row["convolutional"] and ours is not None and litert is not None and "onnx int8-static" not in \
                    row["rejected"]:  # what int8 gives on this CPU, by TFLite's int8 on XNNPACK
                check(f"{name} int8-static's speed-up on onnxruntime:cpu x{threads} against TFLite int8's on XNNPACK",
                      f"{ours:.2f}x against {litert:.2f}x", "at least TFLite's", ours >= litert)
        now, before = row["fidelity"].get("onnx int8-static"), row["fidelity"].get("onnx int8-static S8S8 (before)")
        if now and before and now["sqnr_db"] is not None and before["sqnr_db"] is not None:
            check(f"{name} int8-static fidelity against the S8S8 recipe's", f"{now['sqnr_db']:.1f} dB against "
                  f"{before['sqnr_db']:.1f} dB", f">= the S8S8 recipe's - {FIDELITY_SLACK_DB} dB",
                  now["sqnr_db"] >= before["sqnr_db"] - FIDELITY_SLACK_DB)
        for key, value in timed.items():  # a default variant slower than fp32 beyond the rounds' spread
            label, threads = key.rsplit(" x", 1)
            if "(before)" in label or label.endswith("fp32") or label in row["rejected"]:
                continue  # only the files edgekit keeps are benchmarked by it
            sibling = timed.get(f"{label.split()[0]} fp32 x{threads}")
            if sibling and value["p50_us"] > sibling["p50_us"] * (1 + value["spread"] + sibling["spread"]):
                flag = row["edgekit_flags"].get(key)
                check(f"{name} {key} is slower than fp32 here: edgekit bench flags it",
                      f"{value['p50_us'] / sibling['p50_us']:.2f}x slower; " + (
                          f"flagged {flag['ratio']}x" if flag else "NOT flagged"), "flagged", flag)
    return checks


NO_VNNI = ("This CPU has no VNNI (neither avx512_vnni nor avx_vnni): int8 dot products run on AVX2's 16-bit "
           "multiply-adds, so int8 gains little over fp32 here, or loses: TFLite's own int8 on XNNPACK, the reference "
           "column, is slower than fp32 on most of these models. The 1.3x target was set on a CPU with AVX512-VNNI "
           "(resnet8 there: U8S8 130 µs, S8S8 286 µs, fp32 231 µs).")


def markdown(rows: list[dict], checks: list[dict], machine: str, rounds: int, vnni: bool = True) -> str:
    lines = ["# Is int8 faster where it runs?", "",
             (f"Written by `python benchmarks/quantized_speed.py` on {machine}. p50 of one held-out sample per run, "
             f"the median of {rounds} interleaved rounds (the rounds' spread in brackets); ONNX on onnxruntime's CPU "
             "provider, TFLite on LiteRT with XNNPACK. SQNR and top-1 agreement against the float Keras model on "
             "held-out inputs. *(before)*: the recipes edgekit used before issue 31, built beside today's."), "",
             *([] if vnni else [NO_VNNI, ""]),
             "## Targets", "", "| target | measured | limit | met |", "| --- | --- | --- | --- |"]
    lines += [f"| {c['target']} | {c['measured']} | {c['limit']} | {'yes' if c['met'] else 'NO'} |" for c in checks]
    lines += ["", "## Speed-up against fp32 (same format, same threads)", "",
              ("| model | conv | onnx fp32 p50 x1 | int8-static x1 | x2 | S8S8 (before) x1 | int8-dynamic x1 | "
               "dynamic, every op (before) x1 | TFLite int8 on XNNPACK x1 | x2 |"),
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]

    def cell(value):
        return "-" if value is None else f"{value:.2f}x"

    for row in rows:
        fp32 = row["timings"].get("onnx fp32 x1")
        lines.append(" | ".join([
            f"| {row['model']}", "yes" if row["convolutional"] else "no",
            "-" if fp32 is None else f"{fp32['p50_us']:,.1f} µs",
            cell(speedup(row, "onnx int8-static", 1)), cell(speedup(row, "onnx int8-static", 2)),
            cell(speedup(row, "onnx int8-static S8S8 (before)", 1)),
            cell(speedup(row, "onnx int8-dynamic", 1)) if "onnx int8-dynamic x1" in row["timings"] else "unavailable",
            cell(speedup(row, "onnx int8-dynamic, every op (before)", 1)),
            cell(speedup(row, "tflite int8", 1, "tflite fp32")), cell(speedup(row, "tflite int8", 2, "tflite fp32"))])
            + " |")
    for row in rows:
        lines += ["", f"## {row['model']}", "", "| file | p50 µs x1 | p50 µs x2 | SQNR dB | top-1 agreement |",
                  "| --- | --- | --- | --- | --- |"]
        for label, fid in row["fidelity"].items():
            timed = [row["timings"].get(f"{label} x{t}") for t in THREADS]
            top1 = fid["top1_agreement"]
            kept = f"{label} (rejected: {row['rejected'][label]})" if label in row["rejected"] else label
            lines.append(f"| {kept} | " + " | ".join("-" if t is None else f"{t['p50_us']:,.1f} ({t['spread']:.0%})"
                                                      for t in timed)
                         + f" | {'-' if fid['sqnr_db'] is None else format(fid['sqnr_db'], '.1f')}"
                         f" | {'-' if top1 is None else format(top1, '.3f')} |")
        for label, reason in row["left_out"].items():
            lines.append(f"| {label} | not built | | | {reason} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--models", default=",".join(ZOO + APPLICATIONS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    parser.add_argument("--render", type=Path, help="write the targets and Markdown again from this run's JSON "
                                                    "(on the machine that measured it)")
    args = parser.parse_args(argv)
    if args.render:
        rows = json.loads(args.render.read_text())["models"]
    else:
        with tempfile.TemporaryDirectory(prefix="edgekit-quantized-speed-") as tmp:
            rows = [run_model(name, Path(tmp), args.rounds) for name in args.models.split(",")]
    checks = targets(rows)
    from edgekit.runtimes.environment import describe

    machine = describe()
    versions = ", ".join(f"{k} {machine['versions'][k]}" for k in ("tensorflow", "tf2onnx", "onnxruntime",
                                                                   "ai-edge-litert"))
    flags = [flag for flag, present in machine["cpu"]["flags"].items() if present]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "quantized_speed.md").write_text(markdown(
        rows, checks, f"{machine['cpu']['name']} ({', '.join(flags)}), {machine['cpu']['usable_cores']} usable cores "
                      f"({versions})",
        args.rounds, vnni=bool({"avx512_vnni", "avx_vnni"} & set(flags))))
    (out / "quantized_speed.json").write_text(json.dumps({"targets": checks, "models": rows}, indent=1, default=str))
    return 0 if all(c["met"] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
