"""The MLPerf Tiny style zoo on TFLite Micro: what each int8 model needs on a microcontroller.

    python benchmarks/micro.py [--models digits_cnn,resnet8,ds_cnn,autoencoder] [--out benchmarks/results]

For each zoo model this converts the full-int8 file with `edgekit convert` and benchmarks it
with `edgekit bench --runtime tflm,litert:builtin` on the model's held-out data, in one run:
TFLite Micro's exact arena and the file's bytes (flash), which of edgekit's boards (edgekit/hardware/mcu.py)
each fits, and the task metric and fidelity on TFLite Micro beside LiteRT's builtin kernels (the
same reference-style integer kernels, so they should agree to a few LSB). Host times are not
reported: TFLite Micro's reference kernels on a PC say nothing of a microcontroller's speed.
Writes micro.json and micro.md to --out.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgekit.core.units import human_size  # noqa: E402
from edgekit.hardware.mcu import BOARDS, fit  # noqa: E402

MODELS = ("digits_cnn", "resnet8", "ds_cnn", "autoencoder")


def edgekit(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "edgekit", *args], capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"edgekit {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")


def measure(name: str, work: Path) -> dict:
    edgekit("convert", str(REPO / "models" / name / "model.keras"), "--tflite", "int8", "--onnx", "none",
            "--no-bench", "--out", str(work), "-q")
    results = work / f"{name}.json"
    # a fixed run count: every held-out sample is scored on both (--runs auto would bound the slow kernels)
    edgekit("bench", str(work / name), "--runtime", "tflm,litert:builtin", "--runs", "30", "--output", str(results), "-q")
    model = json.loads(results.read_text())["models"][0]
    rows = {r["runtime"]: r for r in model["records"] if r["artifact"].endswith("_int8.tflite")}
    micro, litert = rows["tflm"], rows["litert"]
    if micro["status"] != "ok":
        return {"model": name, "status": micro["status"], "reason": micro.get("reason")}
    details = micro["details"]
    return {
        "model": name, "status": "ok", "arena_bytes": details["arena_bytes"],
        "arena_reported_bytes": details["arena_reported_bytes"], "flash_bytes": details["flash_bytes"],
        "fits": {board: fit(details["arena_bytes"], details["flash_bytes"], budget)
                 for board, budget in BOARDS.items()},
        "metric": micro["accuracy"]["metric"], "float": micro["accuracy"]["float"],
        "tflm": micro["accuracy"]["value"], "litert": litert["accuracy"]["value"] if litert["status"] == "ok" else None,
        "tflm_sqnr_db": micro["fidelity"]["sqnr_db"], "samples": model["data"]["samples"], "data": model["data"]["source"],
    }


def markdown(rows: list[dict]) -> str:
    lines = ["# The zoo on TFLite Micro", "",
             "Written by `python benchmarks/micro.py`: each zoo model's full-int8 file, from `edgekit convert`, "
             "run by `edgekit bench --runtime tflm,litert:builtin` on its held-out data. Arena: the smallest "
             "`arena_size` that allocates (checked against TFLite Micro's own report); flash: the file's bytes "
             "(the interpreter's code and kernels come on top). Fits: arena within the board's RAM and the file "
             "within its flash (`edgekit/hardware/mcu.py`).", "",
             "| model | arena | flash | fits | metric | float | TFLite Micro | LiteRT builtin | SQNR vs float (dB) |",
             "| --- | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: |"]
    for r in rows:
        if r["status"] != "ok":
            lines.append(f"| {r['model']} | {r['status']}: {r['reason']} | | | | | | | |")
            continue
        fits = ", ".join(board for board, found in r["fits"].items() if found["fits"]) or "none"
        litert = "-" if r["litert"] is None else f"{r['litert']:.4f}"
        lines.append(f"| {r['model']} | {r['arena_bytes']:,} B ({human_size(r['arena_bytes'])}) | "
                     f"{r['flash_bytes']:,} B ({human_size(r['flash_bytes'])}) | {fits} | {r['metric']} | "
                     f"{r['float']:.4f} | {r['tflm']:.4f} | {litert} | {r['tflm_sqnr_db']:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edgekit-micro-") as tmp:
        rows = []
        for name in args.models.split(","):
            rows.append(measure(name.strip(), Path(tmp)))
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "fits"}), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "micro.json").write_text(json.dumps(rows, indent=2) + "\n")
    (out / "micro.md").write_text(markdown(rows))
    print(markdown(rows))
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
