"""A resolution-free Keras model (input (None, None, None, 3)) to TFLite (docs/DESIGN.md pitfall 20):
with an UpSampling2D its free conversion needs Flex, so its TFLite files are converted at the
calibration samples' shape (batch 1), which the manifest and the table name, and validated there;
its ONNX files keep the free dimensions; a model whose free conversion works stays free."""

import dataclasses
import json

import numpy as np
import pytest

from edgekit.core.config import ConvertConfig
from edgekit.core.errors import ConversionFailed, EdgekitError
from edgekit.models.loading import load_model
from edgekit.render.table import conversion_table
from edgekit.workflows.convert import _tflite, convert, fix_hint

pytestmark = pytest.mark.slow

FREE = [None, None, None, 3]


@pytest.fixture(scope="module")
def free_models(tmp_path_factory):
    import keras

    root = tmp_path_factory.mktemp("free-models")
    keras.utils.set_random_seed(2)
    paths = {}
    for name, upsample in (("upsampled", True), ("plain", False)):
        x = inp = keras.Input((None, None, 3), name="pixels")
        x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
        if upsample:  # makes the next conv's channels unknown at free H/W: Flex
            x = keras.layers.UpSampling2D(2)(x)
        out = keras.layers.Conv2D(4, 3, padding="same", name="features")(x)
        paths[name] = root / f"{name}.keras"
        keras.Model(inp, out).save(paths[name])
    np.savez(root / "calib.npz", pixels=np.random.default_rng(0).random((16, 24, 20, 3), dtype=np.float32))
    return {"root": root, "paths": paths, "calib": root / "calib.npz"}


def test_a_model_whose_free_dimensions_need_flex_converts_at_the_samples_shape(free_models, tmp_path):
    config = ConvertConfig(model=str(free_models["paths"]["upsampled"]), calib=str(free_models["calib"]),
                           out=str(tmp_path), tflite="fp32,int8", onnx="fp32")
    logged = []
    manifest = convert(config, log=logged.append)
    assert manifest["failed"] == [] and manifest["rejected"] == []
    by_path = {a["path"]: a for a in manifest["artifacts"]}
    assert set(by_path) == {"upsampled_fp32.tflite", "upsampled_int8.tflite", "upsampled_fp32.onnx"}
    for path in ("upsampled_fp32.tflite", "upsampled_int8.tflite"):
        artifact = by_path[path]
        converted_at = artifact["recipe"]["converted_at"]
        assert converted_at["shapes"] == {"pixels": [1, 24, 20, 3]}
        assert converted_at["why"] == "the model's free dimensions need Flex (SELECT_TF_OPS) kernels for Conv2D"
        assert [t["shape"] for t in artifact["inputs"]] == [[1, 24, 20, 3]]
        assert artifact["fidelity"]["samples"] == 6  # validated at that shape, on the 6 of 16 held out
    assert by_path["upsampled_fp32.tflite"]["fidelity"]["sqnr_db"] > 100
    assert by_path["upsampled_int8.tflite"]["fidelity"]["sqnr_db"] > 25
    onnx = by_path["upsampled_fp32.onnx"]
    assert "converted_at" not in onnx["recipe"] and [t["shape"] for t in onnx["inputs"]] == [FREE]

    on_disk = json.loads((tmp_path / "upsampled" / "manifest.json").read_text())
    assert on_disk["artifacts"][0]["recipe"]["converted_at"] == by_path["upsampled_fp32.tflite"]["recipe"]["converted_at"]
    table = " ".join(conversion_table(manifest).split())  # the notes are folded to the terminal's width
    assert ("upsampled_fp32.tflite, upsampled_int8.tflite converted at 1x24x20x3: the model's free dimensions "
            "need Flex (SELECT_TF_OPS) kernels for Conv2D") in table
    assert any("converted at 1x24x20x3" in line for line in logged)


def test_a_model_whose_free_conversion_works_stays_free(free_models, tmp_path):
    config = ConvertConfig(model=str(free_models["paths"]["plain"]), calib=str(free_models["calib"]),
                           out=str(tmp_path), tflite="fp32,int8", onnx="none")
    manifest = convert(config, log=lambda m: None)
    assert manifest["failed"] == [] and len(manifest["artifacts"]) == 2
    for artifact in manifest["artifacts"]:
        assert "converted_at" not in artifact["recipe"]
        assert artifact["fidelity"]["samples"] == 6  # LiteRT ran the free file at the held-out samples' 24x20
    assert manifest["artifacts"][0]["fidelity"]["sqnr_db"] > 100
    assert "converted at" not in conversion_table(manifest)


def test_without_a_shape_or_real_samples_the_variant_fails_naming_the_fix(free_models):
    with load_model(free_models["paths"]["upsampled"]) as source:
        samples = {"pixels": np.zeros((2, 8, 8, 3), np.float32)}
        with pytest.raises(ConversionFailed, match=r"needs Flex .* give --input-shape or --calib") as failed:
            _tflite(source, "fp32", samples, "int", None, pin=None)
        hint = fix_hint([{"format": "tflite", "variant": "fp32", "reason": str(failed.value)}], [])
        assert hint.startswith("for TFLite at the model's free dimensions, give --input-shape or --calib")
        payload, recipe = _tflite(source, "fp32", samples, "int", None, pin={"pixels": (1, 8, 8, 3)})
        assert payload and recipe["converted_at"]["shapes"] == {"pixels": [1, 8, 8, 3]}


def test_input_shape_gives_the_pin_without_samples(free_models, tmp_path):
    config = ConvertConfig(model=str(free_models["paths"]["upsampled"]), out=str(tmp_path), tflite="fp32",
                           onnx="none", input_shape=["pixels:1,24,20,3"])
    manifest = convert(config, log=lambda m: None)
    [artifact] = manifest["artifacts"]
    assert artifact["recipe"]["converted_at"]["shapes"] == {"pixels": [1, 24, 20, 3]}
    assert [t["shape"] for t in artifact["inputs"]] == [[1, 24, 20, 3]]
    assert manifest["validation"]["input_shapes"] == {"pixels": [1, 24, 20, 3]}
    assert artifact["fidelity"]["samples"] == 64 and artifact["fidelity"]["sqnr_db"] > 100  # random, at that shape


def test_a_given_shape_that_changes_a_fixed_dimension_is_refused_and_nothing_is_written(free_models, tmp_path):
    config = ConvertConfig(model=str(free_models["paths"]["upsampled"]), calib=str(free_models["calib"]),
                           out=str(tmp_path), tflite="fp32", onnx="fp32")
    with pytest.raises(EdgekitError, match=r"pixels:1,24,20,4 does not fit input pixels"):
        convert(dataclasses.replace(config, input_shape=["pixels:1,24,20,4"]), log=lambda m: None)
    assert list(tmp_path.iterdir()) == []
