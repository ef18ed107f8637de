"""Nothing planted in the working folder runs: each Python child edgekit starts (the HDF5
attribute probe, an NPU compile, TFLite Micro's arena search, the worker) is run by the real
command in a folder that holds a module of the name the child imports, which writes a marker
when imported. The command must end as it would elsewhere, with no marker written."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.require import require

REPO = Path(__file__).resolve().parents[2]
PLANTED = "open({marker!r}, 'w').write({name!r})\n"  # the planted module's whole code: it was run


def run_in(folder: Path, *args):
    """`edgekit ARGS` with `folder` as the working folder. The CLI runs as `python -P -m edgekit`
    with this checkout on PYTHONPATH: a plain `python -m` would put the working folder first on
    the CLI's own path (as Python does for -m; the `edgekit` console script does not), and what
    is tested here is the children edgekit starts, not how the user starts edgekit."""
    result = subprocess.run([sys.executable, "-P", "-m", "edgekit", *map(str, args)], cwd=folder, capture_output=True,
                            text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)})
    return result.returncode, result.stdout, result.stderr


def plant(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """(a working folder holding a module `name` (`x.py`, or `x/` a package), the marker it writes)."""
    folder, marker = tmp_path / "work", tmp_path / "planted-module-ran"
    target = folder / name / "__init__.py" if not name.endswith(".py") else folder / name
    target.parent.mkdir(parents=True)
    target.write_text(PLANTED.format(marker=str(marker), name=name))
    return folder, marker


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A small tf-keras model saved as .h5, its calibration samples, and its fp32 and int8 .tflite
    files (converted in a folder with nothing planted), moved away from their manifest so that
    `bench` does not read the float model (the HDF5 probe would run: that has its own test)."""
    import tf_keras

    root = tmp_path_factory.mktemp("planted-model")
    tf_keras.utils.set_random_seed(1)
    keras_model = tf_keras.Sequential([tf_keras.layers.InputLayer((6, 6, 1), name="pixels"),
                                       tf_keras.layers.Conv2D(4, 3, activation="relu"), tf_keras.layers.Flatten(),
                                       tf_keras.layers.Dense(5, activation="softmax")])
    keras_model.save(root / "small.h5")
    np.savez(root / "calib.npz", pixels=np.random.default_rng(0).random((16, 6, 6, 1), dtype=np.float32))
    code, _, stderr = run_in(root, "convert", root / "small.h5", "--calib", root / "calib.npz", "--tflite",
                             "fp32,int8", "--onnx", "none", "--no-bench", "--out", root / "out")
    assert code == 0, stderr
    files = root / "files"
    files.mkdir()
    for name in ("small_fp32.tflite", "small_int8.tflite"):
        (root / "out" / "small" / name).rename(files / name)
    return {"h5": root / "small.h5", "calib": root / "calib.npz", "folder": files}


@pytest.mark.slow
def test_a_planted_h5py_does_not_run_when_an_h5_model_is_read(model, tmp_path):
    """The HDF5 attribute probe (edgekit/models/loading.py) reads the file in a child before it is trusted."""
    folder, marker = plant(tmp_path, "h5py.py")
    code, _, stderr = run_in(folder, "convert", model["h5"], "--calib", model["calib"], "--tflite", "fp32",
                             "--onnx", "none", "--no-bench", "--out", tmp_path / "out")
    assert not marker.exists(), stderr
    assert code == 0, stderr
    assert (tmp_path / "out" / "small" / "small_fp32.tflite").is_file()


@pytest.mark.slow
def test_a_planted_json_does_not_run_when_a_model_is_compiled_for_an_npu(model, tmp_path):
    """Each NPU compile (edgekit/hardware/npu_compile.py) runs in a child that imports json first."""
    require("openvino")
    folder, marker = plant(tmp_path, "json.py")
    code, _, stderr = run_in(folder, "compile", model["folder"] / "small_fp32.tflite", "--npu", "intel_openvino:LNL",
                             "--npu-backend", "cpu", "--out", tmp_path / "out")
    assert not marker.exists(), stderr
    assert code == 0, stderr
    record = json.loads((tmp_path / "out" / "small_fp32-npu" / "compile.json").read_text())
    assert [t["status"] for t in record["targets"]] == ["ok"], record


@pytest.mark.slow
def test_a_planted_tflite_micro_does_not_run_in_the_arena_search(model, tmp_path):
    """TFLite Micro's arena search (edgekit/runtimes/tflm.py) tries each arena in a child, started
    by the worker: a child's child."""
    folder, marker = plant(tmp_path, "tflite_micro")
    code, _, stderr = run_in(folder, "bench", model["folder"] / "small_int8.tflite", "--runtime", "tflm",
                             "--runs", "3", "--output", tmp_path / "r.json")
    assert not marker.exists(), stderr
    assert code == 0, stderr
    records = json.loads((tmp_path / "r.json").read_text())["models"][0]["records"]
    tflm = [r for r in records if r["runtime"] == "tflm"]
    assert tflm and all(r["status"] == "ok" and r["details"]["arena_bytes"] > 0 for r in tflm), tflm


@pytest.mark.slow
@pytest.mark.parametrize("name", ["numpy.py", "edgekit"])
def test_a_planted_module_does_not_run_in_the_worker(model, tmp_path, name):
    """The worker (edgekit/runners/local.py) imports numpy and edgekit itself."""
    folder, marker = plant(tmp_path, name)
    code, _, stderr = run_in(folder, "bench", model["folder"] / "small_fp32.tflite", "--runtime", "litert:xnnpack",
                             "--runs", "3", "--output", tmp_path / "r.json")
    assert not marker.exists(), stderr
    assert code == 0, stderr
    records = json.loads((tmp_path / "r.json").read_text())["models"][0]["records"]
    assert [r["status"] for r in records if r["runtime"] == "litert"] == ["ok"], records


def test_an_empty_or_relative_pythonpath_entry_does_not_reach_a_child(tmp_path, monkeypatch):
    """An empty PYTHONPATH entry means the working folder (`export PYTHONPATH=$PYTHONPATH:/x` with
    none set gives ':/x'), a relative one a folder in it: a child sees neither, and finds this edgekit."""
    from edgekit.core import python_child

    folder, marker = plant(tmp_path, "json.py")
    (folder / "lib").mkdir()
    (folder / "lib" / "json.py").write_text((folder / "json.py").read_text())
    monkeypatch.chdir(folder)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(["", "lib", str(tmp_path), "."]))
    done = subprocess.run(python_child.command("-c", "import json, edgekit; print(edgekit.__file__)"),
                          env=python_child.environment(), capture_output=True, text=True, timeout=60)
    assert not marker.exists(), done.stderr
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(REPO / "edgekit" / "__init__.py")
