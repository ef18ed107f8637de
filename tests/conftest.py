"""Shared fixtures: small real models of every flavour, and one real conversion of the default
model through the CLI that the integration tests read."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.require import required

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.pop("GITHUB_STEP_SUMMARY", None)  # the tests' reports must not land in a real CI job summary
REPO = Path(__file__).resolve().parents[1]
# why litert-compiled:npu is skipped here: with openvino (the [npu] and [test] extras) Intel's
# dispatch loads and finds no NPU device; without it, there is no dispatch library at all (which
# CI, where openvino is required, must not see)
NPU_SKIP = ("no NPU device here" if importlib.util.find_spec("openvino") or required("openvino")
            else "the NPU needs its vendor's dispatch library")


def run_cli(*args, cwd=None, timeout=600, env=None):
    """Run `python -m edgekit ARGS` in a fresh process, as a user would; `env` adds variables.
    The environment is always passed as os.environ has it: a native library in this process may
    have set variables beneath it (COLUMNS=80, seen under pytest) that would reach the child."""
    result = subprocess.run([sys.executable, "-m", "edgekit", *map(str, args)], capture_output=True,
                            text=True, cwd=cwd, timeout=timeout, env={**os.environ, **(env or {})})
    return result.returncode, result.stdout, result.stderr


@contextlib.contextmanager
def tmpfs(path: Path, options: str):
    """A real small file system at `path` (root only); the test is skipped where mounting is not
    allowed."""
    path.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "edgekit-test", str(path)],
                      capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root and CAP_SYS_ADMIN")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], capture_output=True)


def folder_state(path: Path) -> dict:
    """Every file under `path` with its bytes, to show a failed run changed nothing."""
    if not path.exists():
        return {}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def converted(tmp_path_factory):
    """`edgekit convert` with no model argument: the bundled digits_cnn into every variant."""
    out = tmp_path_factory.mktemp("convert-default")
    code, stdout, stderr = run_cli("convert", "--out", out)
    assert code == 0, stderr
    folder = out / "digits_cnn"
    return {"folder": folder, "manifest": json.loads((folder / "manifest.json").read_text()),
            "stdout": stdout, "stderr": stderr}


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """Small models in every flavour edgekit loads, built in this process, with sample inputs."""
    from edgekit.core.lazy_imports import tensorflow

    tf = tensorflow()
    import keras
    import tf_keras

    root = tmp_path_factory.mktemp("tiny-models")
    rng = np.random.default_rng(0)
    x = rng.random((32, 6, 6, 1), dtype=np.float32)

    def tfk_model():
        tf_keras.utils.set_random_seed(1)
        return tf_keras.Sequential([
            tf_keras.layers.InputLayer((6, 6, 1), name="pixels"),
            tf_keras.layers.Conv2D(4, 3, activation="relu"),
            tf_keras.layers.Flatten(),
            tf_keras.layers.Dense(5, activation="softmax", name="scores"),
        ])

    def k3_model():
        keras.utils.set_random_seed(1)
        inp = keras.Input((6, 6, 1), name="pixels")
        h = keras.layers.Conv2D(4, 3, activation="relu")(inp)
        out = keras.layers.Dense(5, activation="softmax", name="scores")(keras.layers.Flatten()(h))
        return keras.Model(inp, out)

    paths = {}
    m2 = tfk_model()
    paths["tf_keras_keras"] = root / "tfk.keras"
    m2.save(paths["tf_keras_keras"])
    paths["tf_keras_h5"] = root / "tfk.h5"
    m2.save(paths["tf_keras_h5"])
    m3 = k3_model()
    paths["keras3_keras"] = root / "k3.keras"
    m3.save(paths["keras3_keras"])
    paths["savedmodel"] = root / "saved"
    m3.export(str(paths["savedmodel"]), verbose=False)
    expected = {"tf_keras_keras": m2.predict(x, verbose=0), "tf_keras_h5": m2.predict(x, verbose=0),
                "keras3_keras": m3.predict(x, verbose=0), "savedmodel": m3.predict(x, verbose=0)}

    lam2 = tf_keras.Sequential([tf_keras.layers.InputLayer((3,)), tf_keras.layers.Lambda(lambda t: t * 2)])
    paths["lambda_tf_keras"] = root / "lambda.keras"
    lam2.save(paths["lambda_tf_keras"])
    paths["lambda_h5"] = root / "lambda.h5"
    lam2.save(paths["lambda_h5"])
    lam3 = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda t: t * 2)])
    paths["lambda_keras3"] = root / "lambda3.keras"
    lam3.save(paths["lambda_keras3"])

    a, b = tf_keras.Input((4,), name="a"), tf_keras.Input((3,), name="b")
    h = tf_keras.layers.Concatenate()([a, b])
    two = tf_keras.Model([a, b], [tf_keras.layers.Dense(2, name="first")(h),
                                  tf_keras.layers.Dense(3, name="second")(h)])
    paths["two_io"] = root / "two_io.keras"
    two.save(paths["two_io"])

    @tf.function(input_signature=[tf.TensorSpec([None, 3, 3], tf.float32, name="m")])
    def det(m):  # MatrixDeterminant: no TFLite builtin (needs Flex), but ONNX has Det
        return {"det": tf.linalg.det(m)}

    paths["needs_flex"] = root / "needs_flex"
    tf.saved_model.save(tf.Module(), str(paths["needs_flex"]), signatures={"serving_default": det.get_concrete_function()})

    np.savez(root / "calib_tiny.npz", pixels=x)
    np.savez(root / "calib_two.npz", a=rng.random((16, 4), dtype=np.float32), b=rng.random((16, 3), dtype=np.float32))
    np.savez(root / "calib_det.npz", m=rng.random((16, 3, 3), dtype=np.float32) + np.eye(3, dtype=np.float32))
    return {"root": root, "paths": paths, "x": x, "expected": expected}
