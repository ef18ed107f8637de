"""`edgekit convert` as a library call: load, check, convert every variant, validate each one
against the float model on the calibration samples, and write the folder atomically."""

from __future__ import annotations

import sys
from pathlib import Path

from edgekit import zoo
from edgekit.artifacts import (MANIFEST_NAME, Artifact, atomic_write_bytes, atomic_write_json,
                               check_output_parent, new_manifest, sha256_of, staged_folder)
from edgekit.bench import fidelity
from edgekit.config import IMAGE_RANGES, ConvertConfig
from edgekit.convert import onnx as onnx_convert
from edgekit.convert import tflite as tflite_convert
from edgekit.data import load_calibration
from edgekit.environment import package_versions
from edgekit.errors import ConversionFailed, EdgekitError
from edgekit.loading import load_model
from edgekit.runtimes import for_format


def resolve_inputs(config: ConvertConfig) -> tuple[Path, Path, str]:
    """The model path, calibration path and run name that `config` means."""
    if config.model is None:
        model, calib = zoo.bundled(zoo.DEFAULT_MODEL)
        return model, Path(config.calib) if config.calib else calib, zoo.DEFAULT_MODEL
    model = Path(config.model)
    name = model.parent.name if model.name == "model.keras" else (model.stem if model.is_file() else model.name)
    if config.calib:
        return model, Path(config.calib), name
    bundled_calib = zoo.calibration_path(name)
    if name in zoo.RECIPES and bundled_calib.is_file():
        return model, bundled_calib, name
    raise EdgekitError(f"no calibration data for {model}: give --calib (a .npz, .npy or image folder)")


def convert(config: ConvertConfig, log=None) -> dict:
    """Run the whole conversion; returns the manifest written to <out>/<name>/manifest.json."""
    log = log or (lambda message: print(message, file=sys.stderr))
    model_path, calib_path, name = resolve_inputs(config)
    out_dir = Path(config.out) / name
    check_output_parent(out_dir)  # before any heavy work

    log(f"loading {model_path}")
    with load_model(model_path, config.trust_model_code) as source:
        calibration = load_calibration(calib_path, source.inputs, IMAGE_RANGES[config.image_range],
                                       config.max_calib_samples)
        samples = len(next(iter(calibration.values())))
        log(f"running the float model on {samples} calibration samples from {calib_path}")
        reference = source.predict(calibration)

        artifacts, failed, diverged = [], [], []
        with staged_folder(out_dir) as stage:
            for fmt, variant, make in _plan(config, source, calibration, stage):
                log(f"converting {fmt} {variant}")
                try:
                    payload, recipe = make()
                except ConversionFailed as exc:
                    failed.append({"format": fmt, "variant": variant, "reason": str(exc)})
                    log(f"  {fmt} {variant} failed: {exc}")
                    continue
                path = atomic_write_bytes(stage / f"{name}_{variant}.{fmt}", payload)
                artifact = _validate(path, fmt, variant, recipe, source, calibration, reference)
                reason = fidelity.outside_floor(artifact.fidelity, _precision(fmt, variant)[1])
                if reason:
                    diverged.append(f"{path.name}: {reason}")
                artifacts.append(artifact)
            if diverged:
                raise EdgekitError("converted model diverges from the float model: " + "; ".join(diverged))
            if not artifacts:
                raise EdgekitError("no variant could be built: " +
                                   "; ".join(f"{f['format']} {f['variant']}: {f['reason']}" for f in failed))
            manifest = new_manifest(
                name=name,
                source={"path": str(model_path), "flavour": source.flavour, "sha256": source.sha256,
                        "size_bytes": source.size_bytes,
                        "inputs": [t.to_dict() for t in source.inputs],
                        "outputs": [t.to_dict() for t in source.outputs]},
                calibration={"path": str(calib_path), "samples": samples, "sha256": sha256_of(calib_path)},
                config=config.to_dict(),
                versions=package_versions(),
                artifacts=[a.to_dict() for a in artifacts],
                failed=failed,
            )
            atomic_write_json(stage / MANIFEST_NAME, manifest)
    log(f"wrote {len(artifacts)} artifacts to {out_dir}")
    return manifest


def _plan(config: ConvertConfig, source, calibration, stage: Path):
    """(format, variant, thunk) for every requested variant, in a stable order."""
    for variant in config.tflite:
        yield "tflite", variant, (lambda v=variant: tflite_convert.convert(
            source.saved_model_dir(), v, calibration, config.io))
    if not config.onnx:
        return
    fp32: dict = {}

    def onnx_fp32():
        if not fp32:  # the int8 variants are quantized from this graph
            payload, recipe = onnx_convert.convert_fp32(source, config.opset)
            fp32.update(path=atomic_write_bytes(stage / ".fp32-source.onnx", payload), recipe=recipe)
        return fp32["path"].read_bytes(), fp32["recipe"]

    for variant in config.onnx:
        if variant == "fp32":
            yield "onnx", variant, onnx_fp32
        else:
            def quantized(v=variant):
                _, base = onnx_fp32()
                payload, recipe = onnx_convert.quantize(fp32["path"], v, calibration)
                return payload, {**base, **recipe}
            yield "onnx", variant, quantized
    # the staging copy of the fp32 graph is not an artifact unless asked for
    if "path" in fp32:
        fp32["path"].unlink(missing_ok=True)


def _precision(fmt: str, variant: str) -> tuple[str, str]:
    return (tflite_convert if fmt == "tflite" else onnx_convert).PRECISION[variant]


def _validate(path: Path, fmt, variant, recipe, source, calibration, reference) -> Artifact:
    """Load the file in its real runtime, run the calibration samples, compare with float."""
    try:
        with for_format(fmt).open(path) as session:
            outputs = session.predict(calibration)
            inputs_spec, outputs_spec = tuple(session.inputs), tuple(session.outputs)
    except EdgekitError as exc:  # name the artifact, not its staging path
        raise EdgekitError(f"{fmt} {variant} was built but does not run: "
                           f"{str(exc).replace(str(path), path.name)}") from exc
    missing = set(reference) - set(outputs)
    if missing:
        raise EdgekitError(f"{path.name} lacks output(s) {', '.join(sorted(missing))} of the float model")
    return Artifact(
        path=path.name, format=fmt, variant=variant, precision=_precision(fmt, variant)[0],
        size_bytes=path.stat().st_size, sha256=sha256_of(path), parent=source.sha256, recipe=recipe,
        inputs=inputs_spec, outputs=outputs_spec, fidelity=fidelity.compare(reference, outputs),
    )
