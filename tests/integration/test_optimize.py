"""Optimization end to end on real models and data: pruning reaches the asked sparsity in the
stripped weights, the zeros survive quantization-aware training into the int8 file, clustering
leaves at most N values per kernel, and every result is scored on the held-out split."""

import json

import numpy as np
import pytest

from edgekit.core.artifacts import new_manifest
from tests.conftest import REPO, folder_state, run_cli

pytestmark = pytest.mark.slow  # each test fine-tunes a model


def kernels(path, scope=None):
    """(layer, kernel) of every Conv/Dense layer in a saved tf-keras model."""
    import contextlib

    import tf_keras

    from edgekit.optimize.pruning import kernels as model_kernels

    with scope or contextlib.nullcontext():
        model = tf_keras.models.load_model(path, compile=False)
    return dict(model_kernels(model))


@pytest.fixture(scope="module")
def pruned_qat(tmp_path_factory):
    """`edgekit convert --prune 0.75 --qat` on the bundled digits_cnn, short fine-tuning."""
    out = tmp_path_factory.mktemp("pruned-qat")
    code, stdout, stderr = run_cli("convert", "--out", out, "--prune", "0.75", "--qat", "--fine-tune-epochs", "2",
                                   "--tflite", "fp32,int8", "--onnx", "fp32")
    assert code == 0, stderr
    folder = out / "digits_cnn"
    return {"folder": folder, "manifest": json.loads((folder / "manifest.json").read_text()), "stdout": stdout}


def test_pruning_reaches_the_asked_sparsity_in_the_stripped_weights(pruned_qat):
    found = kernels(pruned_qat["folder"] / "digits_cnn_optimized.keras")
    zeros = sum(int((k == 0).sum()) for k in found.values())
    total = sum(k.size for k in found.values())
    assert zeros / total == pytest.approx(0.75, abs=0.01)
    step = pruned_qat["manifest"]["optimization"]["steps"][0]
    assert step["step"] == "prune"
    for name, kernel in found.items():  # the manifest reports what the weights really hold
        layer = step["sparsity"]["layers"][name]
        assert layer["zeros"] == int((kernel == 0).sum())
        assert layer["sparsity"] == pytest.approx(layer["target"], abs=0.01)


def test_qat_artifact_is_full_int8_keeps_the_zeros_and_records_its_fidelity(pruned_qat):
    from ai_edge_litert.interpreter import Interpreter

    manifest = pruned_qat["manifest"]
    qat = next(a for a in manifest["artifacts"] if a["variant"] == "int8-qat")
    assert qat["inputs"][0]["dtype"] == "int8" and qat["outputs"][0]["dtype"] == "int8"
    assert qat["parent"] == manifest["optimization"]["qat_model_sha256"]  # checked against the QAT model
    assert qat["fidelity"]["sqnr_db"] > 20 and qat["fidelity"]["top1_agreement"] >= 0.95
    assert qat["evaluation"]["metric"] == "accuracy" and qat["evaluation"]["value"] > 0.9
    assert [s["step"] for s in manifest["optimization"]["steps"]] == ["prune", "qat"]

    interpreter = Interpreter(str(pruned_qat["folder"] / qat["path"]))
    interpreter.allocate_tensors()
    weights = [interpreter.get_tensor(t["index"]) for t in interpreter.get_tensor_details()
               if t["dtype"] == np.int8 and len(t["shape"]) >= 2 and t["shape"].prod() >= 4096]
    assert weights and all((w == 0).mean() >= 0.7 for w in weights)  # sparsity-preserving QAT


def test_the_saved_qat_model_loads_and_converts_again(pruned_qat, tmp_path):
    """The QAT model written beside the artifacts is a model edgekit itself can convert; being
    simulated int8, all its variants are judged against the int8 fidelity floor."""
    qat_file = pruned_qat["folder"] / pruned_qat["manifest"]["optimization"]["qat_model"]
    code, stdout, stderr = run_cli("convert", qat_file, "--calib", REPO / "calibration_data" / "digits_cnn.npz",
                                   "--tflite", "fp32,int8", "--onnx", "fp32", "--out", tmp_path, "-q")
    assert code == 0, stderr
    manifest = json.loads((tmp_path / qat_file.stem / "manifest.json").read_text())
    assert {a["variant"] for a in manifest["artifacts"]} == {"fp32", "int8"}
    assert all(a["fidelity"]["top1_agreement"] >= 0.95 for a in manifest["artifacts"])


def test_manifest_scores_every_artifact_and_reports_gzip_size(pruned_qat):
    manifest = pruned_qat["manifest"]
    assert manifest["evaluation"]["samples"] == 360
    fp32 = next(a for a in manifest["artifacts"] if a["path"].endswith("fp32.tflite"))
    int8 = next(a for a in manifest["artifacts"] if a["variant"] == "int8")
    for artifact in manifest["artifacts"]:
        assert 0 < artifact["gzip_bytes"] < artifact["size_bytes"]
        ev = artifact["evaluation"]
        assert ev["float"] == manifest["evaluation"]["float"] and ev["value"] > 0.9
    assert int8["gzip_bytes"] < 0.25 * fp32["size_bytes"]  # sparsity pays off once compressed
    assert "gzip" in pruned_qat["stdout"] and "(points)" in pruned_qat["stdout"]  # a header may break at its space


def test_structured_pruning_gives_m_of_n_zeros(tmp_path):
    code, stdout, stderr = run_cli("optimize", "--out", tmp_path, "--prune-structure", "2:4",
                                   "--fine-tune-epochs", "1", "-q")
    assert code == 0, stderr
    from edgekit.optimize.pruning import has_structure

    report = json.loads((tmp_path / "digits_cnn" / "optimization.json").read_text())["optimization"]
    found = kernels(tmp_path / "digits_cnn" / report["model"])
    for name in ("conv2", "dense", "probs"):  # input channels that come in groups of 4
        assert has_structure(found[name], (2, 4)) and (found[name] == 0).mean() >= 0.5
        assert report["steps"][0]["sparsity"]["layers"][name]["structured"] is True
    assert not has_structure(np.ones((3, 3, 8, 4)), (2, 4))  # the check can fail
    assert "prune" in stdout


def test_clustering_after_pruning_keeps_both(tmp_path):
    code, _, stderr = run_cli("convert", "--out", tmp_path, "--prune", "0.5", "--cluster", "8",
                              "--fine-tune-epochs", "1", "--tflite", "int8", "--onnx", "none", "-q")
    assert code == 0, stderr
    manifest = json.loads((tmp_path / "digits_cnn" / "manifest.json").read_text())
    steps = {s["step"]: s for s in manifest["optimization"]["steps"]}
    assert steps["cluster"]["options"] == {"clusters": 8, "preserve_sparsity": True}
    found = kernels(tmp_path / "digits_cnn" / "digits_cnn_optimized.keras")
    for name in ("conv2", "dense"):
        assert len(np.unique(found[name])) <= 8 + 1  # 8 centroids, plus the preserved zero
        assert (found[name] == 0).mean() >= 0.5
    artifact = manifest["artifacts"][0]
    assert artifact["variant"] == "int8" and artifact["fidelity"]["sqnr_db"] > 10


def test_keras3_model_is_rebuilt_then_pruned_with_user_training_data(tiny, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((200, 6, 6, 1), dtype=np.float32)
    y = (x.reshape(200, -1).mean(axis=1) * 10).astype(np.int64) % 5
    np.savez(tmp_path / "train.npz", x=x, y=y)
    code, stdout, stderr = run_cli("optimize", tiny["paths"]["keras3_keras"], "--out", tmp_path / "out",
                                   "--prune", "0.5", "--train-data", tmp_path / "train.npz",
                                   "--fine-tune-epochs", "1")
    assert code == 0, stderr
    report = json.loads((tmp_path / "out" / "k3" / "optimization.json").read_text())["optimization"]
    assert report["rebuilt_from_keras3"] is True and report["metric"] == "accuracy"
    assert "rebuilding the Keras 3 model" in stderr and "rebuilt from Keras 3" in stdout
    assert report["steps"][0]["sparsity"]["overall"] == pytest.approx(0.5, abs=0.02)


def test_optimizing_without_training_data_is_a_clear_error(tiny, tmp_path):
    out = tmp_path / "out"
    (out / "tfk").mkdir(parents=True)
    (out / "tfk" / "keep.txt").write_text("previous run")
    (out / "tfk" / "manifest.json").write_text(json.dumps(new_manifest(name="tfk")))  # edgekit's to replace
    before = folder_state(out)
    code, _, stderr = run_cli("convert", tiny["paths"]["tf_keras_keras"], "--calib",
                              tiny["root"] / "calib_tiny.npz", "--out", out, "--prune", "0.5")
    assert code == 2
    assert stderr.strip().splitlines()[-1].startswith("edgekit convert: error: model ")
    assert "has no training data" in stderr and "--train-data" in stderr and "Traceback" not in stderr
    assert folder_state(out) == before


def test_qat_of_dense_batch_norm_is_folded_first_and_converts_faithfully(tmp_path):
    """The zoo's autoencoder (Dense + batch norm): without folding its int8-qat file diverges."""
    code, _, stderr = run_cli("convert", REPO / "models" / "autoencoder" / "model.keras", "--qat",
                              "--fine-tune-epochs", "1", "--tflite", "int8", "--onnx", "none", "--out", tmp_path, "-q")
    assert code == 0, stderr
    manifest = json.loads((tmp_path / "autoencoder" / "manifest.json").read_text())
    assert manifest["optimization"]["folded_batch_norm"] == [f"bn{i}" for i in range(1, 10)]
    qat = next(a for a in manifest["artifacts"] if a["variant"] == "int8-qat")
    assert qat["fidelity"]["sqnr_db"] > 20
    assert qat["evaluation"]["metric"] == "roc_auc" and qat["evaluation"]["value"] > 0.8


@pytest.fixture
def user_data(tmp_path):
    """Labelled data for the tiny tf-keras model (6x6x1 in, 5 classes)."""
    rng = np.random.default_rng(0)
    x = rng.random((200, 6, 6, 1), dtype=np.float32)
    y = (x.reshape(200, -1).mean(axis=1) * 10).astype(np.int64) % 5
    np.savez(tmp_path / "train.npz", x=x, y=y)
    return tmp_path / "train.npz"


def test_a_native_abort_in_fine_tuning_is_retried_without_onednn_and_reported(tiny, user_data, tmp_path):
    """The fine-tuning child calls os.abort() at its second batch while oneDNN is on (as TensorFlow's
    oneDNN kernels do on some models, docs/DESIGN.md pitfall 25): edgekit runs it again without them."""
    code, stdout, stderr = run_cli("optimize", tiny["paths"]["tf_keras_keras"], "--out", tmp_path / "out", "--prune",
                                   "0.5", "--train-data", user_data, "--fine-tune-epochs", "1",
                                   env={"EDGEKIT_TEST_ABORT_TRAINING": "pruning:1", "TF_ENABLE_ONEDNN_OPTS": ""})
    assert code == 0, stderr
    note = "TensorFlow's oneDNN kernels crashed on this model (SIGABRT); retried without them: slower, same results"
    report = json.loads((tmp_path / "out" / "tfk" / "optimization.json").read_text())["optimization"]
    assert report["onednn_retry"] == note and report["tensorflow_onednn"] == "off after a crash (SIGABRT)"
    assert note in stderr and note in stdout.replace("\n    ", " ")  # the log and the table
    assert report["steps"][0]["sparsity"]["overall"] == pytest.approx(0.5, abs=0.02)
    assert kernels(tmp_path / "out" / "tfk" / "tfk_optimized.keras")  # the model was written


def test_an_abort_with_and_without_onednn_is_one_line_and_leaves_the_output_folder(tiny, user_data, tmp_path):
    out = tmp_path / "out"
    (out / "tfk").mkdir(parents=True)
    (out / "tfk" / "optimization.json").write_text(json.dumps(new_manifest(name="tfk")))  # a previous run's
    before = folder_state(out)
    code, stdout, stderr = run_cli("optimize", tiny["paths"]["tf_keras_keras"], "--out", out, "--prune", "0.5",
                                   "--train-data", user_data, "--fine-tune-epochs", "1", "-q",
                                   env={"EDGEKIT_TEST_ABORT_TRAINING": "pruning:0:always", "TF_ENABLE_ONEDNN_OPTS": ""})
    assert code == 2 and stdout == ""
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
    assert stderr.startswith("edgekit optimize: error: fine-tuning (pruning to 50%) crashed with SIGABRT in "
                             "TensorFlow's native code with oneDNN on, and again with it off: the output folder is "
                             "unchanged")
    assert folder_state(out) == before


def test_no_onednn_fine_tunes_without_it_from_the_start(tiny, user_data, tmp_path):
    """The abort that oneDNN's kernels would cause never comes: the child ran with them off."""
    code, _, stderr = run_cli("optimize", tiny["paths"]["tf_keras_keras"], "--out", tmp_path / "out", "--prune",
                              "0.5", "--train-data", user_data, "--fine-tune-epochs", "1", "--no-onednn", "-q",
                              env={"EDGEKIT_TEST_ABORT_TRAINING": "pruning:0", "TF_ENABLE_ONEDNN_OPTS": ""})
    assert code == 0, stderr
    report = json.loads((tmp_path / "out" / "tfk" / "optimization.json").read_text())["optimization"]
    assert report["tensorflow_onednn"] == "off (--no-onednn)" and "onednn_retry" not in report
