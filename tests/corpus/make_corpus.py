"""Write the bad-input corpus (and the valid-but-unusual models) that tests/cli/test_corpus.py
runs every command against. Run from the repository root:

    python tests/corpus/make_corpus.py

Everything is small (the zip bomb is 64 MiB of zeros packed into ~64 KB) and made from
scratch, so the corpus can be rebuilt on any machine; the files are committed so that the
tests need no TensorFlow model building of their own.
"""

from __future__ import annotations

import io
import json
import shutil
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from edgekit.heavy import tensorflow  # noqa: E402  (after the path is set)

SEED = 0


def main() -> None:
    for sub in ("models", "data", "results", "unusual"):
        shutil.rmtree(HERE / sub, ignore_errors=True)
        (HERE / sub).mkdir()
    tf = tensorflow()
    import onnx
    import tf_keras

    rng = np.random.default_rng(SEED)
    models, data, results, unusual = (HERE / s for s in ("models", "data", "results", "unusual"))

    # --- valid seeds, cut up below -------------------------------------------------------------
    tf_keras.utils.set_random_seed(SEED)
    tiny = tf_keras.Sequential([tf_keras.layers.InputLayer((8, 8, 1), name="pixels"),
                                tf_keras.layers.Conv2D(2, 3, activation="relu"), tf_keras.layers.Flatten(),
                                tf_keras.layers.Dense(3, activation="softmax")])
    seeds = {"keras": _saved(tiny, ".keras"), "h5": _saved(tiny, ".h5"), "tflite": _tflite(tf, tiny),
             "onnx": _onnx_model(onnx).SerializeToString()}

    # --- model files ------------------------------------------------------------------------------
    for ext, valid in seeds.items():
        (models / f"empty.{ext}").write_bytes(b"")
        (models / f"truncated.{ext}").write_bytes(valid[: len(valid) // 2])
        (models / f"random.{ext}").write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    (models / "zipbomb.keras").write_bytes(_zip({"config.json": json.dumps(tiny.get_config()).encode(),
                                                 "model.weights.h5": bytes(64 << 20)}))
    (models / "escaping.keras").write_bytes(_zip({"config.json": b"{}", "../../escaped.txt": b"outside"}))
    (models / "not_a_savedmodel").mkdir()
    (models / "not_a_savedmodel" / "README.txt").write_text("a folder without saved_model.pb\n")
    flat = bytearray(seeds["tflite"])
    struct.pack_into("<I", flat, 0, len(flat) + 4096)  # root table offset past the end; TFL3 kept
    (models / "corrupted.tflite").write_bytes(bytes(flat))
    (models / "dangling.onnx").write_bytes(_onnx_model(onnx, dangling=True).SerializeToString())
    lam = tf_keras.Sequential([tf_keras.layers.InputLayer((8, 8, 1), name="pixels"),
                               tf_keras.layers.Lambda(lambda t: t * 2.0), tf_keras.layers.Flatten(),
                               tf_keras.layers.Dense(3, activation="softmax")])
    (models / "lambda.keras").write_bytes(_saved(lam, ".keras"))
    (models / "lambda.h5").write_bytes(_saved(lam, ".h5"))

    # --- calibration data (for an 8x8x1 float input, like the default model's) --------------
    good = rng.random((16, 8, 8, 1), dtype=np.float32)
    np.save(data / "empty.npy", np.zeros((0, 8, 8, 1), np.float32))
    (data / "empty_file.npz").write_bytes(b"")
    np.save(data / "wrong_shape.npy", rng.random((16, 7, 7, 1), dtype=np.float32))
    np.save(data / "wrong_dtype.npy", np.full((16, 8, 8, 1), "x"))
    np.save(data / "nan.npy", np.where(good > 0.9, np.nan, good))
    np.savez(data / "inf.npz", pixels=np.where(good > 0.9, np.inf, good))
    np.save(data / "single_sample.npy", good[:1])
    (data / "huge_shape.npy").write_bytes(_npy_header((10**12, 8, 8, 1), "<f4"))
    (data / "truncated.npy").write_bytes(_npy_bytes(good)[:600])
    (data / "random.npy").write_bytes(rng.integers(0, 256, 2048, dtype=np.uint8).tobytes())
    np.savez(data / "unexpected_keys.npz", images=good, labels=np.zeros(16))
    folder = data / "images_with_text"
    folder.mkdir()
    from PIL import Image

    for i in range(3):
        Image.fromarray((good[i, :, :, 0] * 255).astype(np.uint8)).save(folder / f"{i}.png")
    (folder / "notes.txt").write_text("not an image\n")

    # --- results files -----------------------------------------------------------------------
    (results / "future_schema.json").write_text(json.dumps({"schema_version": 99, "kind": "edgekit-bench",
                                                            "models": []}))
    (results / "other_tool.json").write_text(json.dumps({"name": "resnet", "latency_ms": 3.1}))
    (results / "not_json.json").write_text("{\"schema_version\": 2, \"kind\": \"edgekit-bench\",")

    # --- valid but unusual models, each with its calibration set ------------------------------
    a, b = tf_keras.Input((4,), name="a"), tf_keras.Input((3,), name="b")
    both = tf_keras.layers.Concatenate()([a, b])
    two = tf_keras.Model([a, b], tf_keras.layers.Dense(2, name="score")(both))
    (unusual / "two_inputs.keras").write_bytes(_saved(two, ".keras"))
    np.savez(unusual / "two_inputs.npz", a=rng.random((32, 4), dtype=np.float32),
             b=rng.random((32, 3), dtype=np.float32))
    dynamic = tf_keras.Sequential([tf_keras.layers.InputLayer((None, None, 1), name="image"),
                                   tf_keras.layers.Conv2D(4, 3, activation="relu"),
                                   tf_keras.layers.GlobalAveragePooling2D(), tf_keras.layers.Dense(3)])
    (unusual / "dynamic_shape.keras").write_bytes(_saved(dynamic, ".keras"))
    np.save(unusual / "dynamic_shape.npy", rng.random((32, 12, 12, 1), dtype=np.float32))
    lstm = tf_keras.Sequential([tf_keras.layers.InputLayer((10, 4), name="sequence"),
                                tf_keras.layers.LSTM(8), tf_keras.layers.Dense(2)])
    (unusual / "lstm.keras").write_bytes(_saved(lstm, ".keras"))
    np.save(unusual / "lstm.npy", rng.random((32, 10, 4), dtype=np.float32))

    @tf.function(input_signature=[tf.TensorSpec([None, 3, 3], tf.float32, name="m")])
    def det(m):  # MatrixDeterminant: no TFLite builtin (Flex only), but ONNX has Det
        return {"det": tf.linalg.det(m)}

    tf.saved_model.save(tf.Module(), str(unusual / "needs_flex"),
                        signatures={"serving_default": det.get_concrete_function()})
    np.save(unusual / "needs_flex.npy", rng.random((32, 3, 3), dtype=np.float32) + np.eye(3, dtype=np.float32))
    total = sum(p.stat().st_size for p in HERE.rglob("*") if p.is_file())
    print(f"wrote the corpus under {HERE} ({total / 1024:.0f} KB)")


def _saved(model, suffix: str) -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"model{suffix}"
        model.save(path)
        return path.read_bytes()


def _tflite(tf, model) -> bytes:
    run = tf.function(lambda x: model(x)).get_concrete_function(tf.TensorSpec([1, 8, 8, 1], tf.float32))
    return tf.lite.TFLiteConverter.from_concrete_functions([run], model).convert()


def _onnx_model(onnx, dangling: bool = False):
    """y = relu(x @ W): a valid graph, or one whose node reads a tensor nothing produces."""
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((4, 2), np.float32), "W")
    matmul = helper.make_node("MatMul", ["x", "W"], ["h"])
    relu = helper.make_node("Relu", ["nowhere" if dangling else "h"], ["y"])
    graph = helper.make_graph([matmul, relu], "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="edgekit-corpus")
    model.ir_version = 8  # what opset 17 needs; onnx's newest default is past onnxruntime's maximum
    return model


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, content in members.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _npy_header(shape: tuple, descr: str) -> bytes:
    """A version 1.0 .npy header declaring `shape`, with no data after it."""
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


if __name__ == "__main__":
    main()
