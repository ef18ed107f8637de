"""`bench FILE --reference SAVEDMODEL` on files other exporters made from a SavedModel, named as
they name them (pitfall 24): tf2onnx through TensorFlow 1's loader, as the audio models in the
wild were made, gives `serving_default_audio:0` inputs and `StatefulPartitionedCall:N` outputs;
TFLite's converter keeps the signature. The file's tensors pair with the float model's, the
pairing is logged once and kept, and fidelity comes with --data keyed either way and without it
(random inputs, said so)."""

import json

import numpy as np
import pytest

from tests.conftest import folder_state, run_cli

pytestmark = pytest.mark.slow

FAST = ("--runs", "5", "--warmup", "1")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A two-input, two-output tf-keras model behind a SavedModel signature that returns a dict
    (onset 2 wide, contour 5 wide: in name order contour comes first), and its conversions."""
    from edgekit.core.lazy_imports import tensorflow

    tf = tensorflow()
    import tf2onnx
    import tf_keras

    root = tmp_path_factory.mktemp("exporter-names")
    tf_keras.utils.set_random_seed(0)
    audio, gain = tf_keras.Input((16, 1), name="audio"), tf_keras.Input((4,), name="gain")
    h = tf_keras.layers.Flatten()(tf_keras.layers.Conv1D(3, 3, padding="same")(audio))
    h = tf_keras.layers.Concatenate()([h, gain])
    model = tf_keras.Model([audio, gain], [tf_keras.layers.Dense(2, name="onset")(h),
                                           tf_keras.layers.Dense(5, name="contour")(h)])
    model.save(root / "model.keras")

    @tf.function(input_signature=[tf.TensorSpec([None, 16, 1], tf.float32, name="audio"),
                                  tf.TensorSpec([None, 4], tf.float32, name="gain")])
    def serve(audio, gain):
        onset, contour = model([audio, gain])
        return {"onset": onset, "contour": contour}

    holder = tf.Module()
    holder.model = model
    saved = root / "saved"
    tf.saved_model.save(holder, str(saved), signatures={"serving_default": serve})
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    (root / "model.tflite").write_bytes(converter.convert())

    # tf2onnx from the SavedModel as its TF1 loader does it: the graph's own tensor names
    with tf.Graph().as_default() as graph, tf.compat.v1.Session() as session:
        signature = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(saved)).signature_def[
            "serving_default"]
        inputs = [signature.inputs[k].name for k in sorted(signature.inputs)]
        outputs = [signature.outputs[k].name for k in sorted(signature.outputs)][::-1]  # as the authors' file lists them
        frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
            session, graph.as_graph_def(), sorted({name.split(":")[0] for name in outputs}))
    tf2onnx.convert.from_graph_def(frozen, input_names=inputs, output_names=outputs,
                                   output_path=str(root / "model.onnx"))
    # the same model with inputs that share no name with the float model's: paired by position
    tf2onnx.convert.from_keras(model, input_signature=[tf.TensorSpec([None, 16, 1], tf.float32, name="x0"),
                                                       tf.TensorSpec([None, 4], tf.float32, name="x1")],
                               output_path=str(root / "renamed.onnx"))

    rng = np.random.default_rng(1)
    x = {"audio": rng.normal(size=(24, 16, 1)).astype(np.float32), "gain": rng.normal(size=(24, 4)).astype(np.float32)}
    np.savez(root / "plain.npz", **x)
    np.savez(root / "decorated.npz", **{f"serving_default_{k}:0": v for k, v in x.items()})
    return {"root": root, "saved": saved, "inputs": inputs, "outputs": outputs}


def bench(*args, out):
    code, stdout, stderr = run_cli("bench", *args, *FAST, "--output", out)
    assert code == 0, stderr
    model = json.loads(out.read_text())["models"][0]
    return model, stdout + stderr


def only_record(model, artifact):
    found = [r for r in model["records"] if r["artifact"] == artifact and r["status"] == "ok"]
    assert len(found) == 1, model["records"]
    return found[0]


def test_the_files_carry_the_exporters_names(exported):
    assert exported["inputs"] == ["serving_default_audio:0", "serving_default_gain:0"]
    assert exported["outputs"] == ["StatefulPartitionedCall:1", "StatefulPartitionedCall:0"]


def test_tf2onnx_file_pairs_and_gets_fidelity_on_random_inputs(exported, tmp_path):
    model, said = bench(exported["root"] / "model.onnx", "--reference", exported["saved"],
                        "--runtime", "onnxruntime:cpu", out=tmp_path / "r.json")
    entry = next(a for a in model["artifacts"] if a["name"] == "model.onnx")
    assert entry["pairing"] == {
        "inputs": {"serving_default_audio:0": "audio", "serving_default_gain:0": "gain"},
        "outputs": {"StatefulPartitionedCall:0": "contour", "StatefulPartitionedCall:1": "onset"},
        "rules": ["name without exporter decorations", "the exporter's output index"]}
    assert said.count("serving_default_audio:0 -> audio") == 1  # the mapping, printed once
    assert model["data"]["random"] and "random inputs" in model["data"]["source"]
    assert "random inputs" in said  # the table says so
    fidelity = only_record(model, "model.onnx")["fidelity"]
    assert fidelity["samples"] == 64 and fidelity["sqnr_db"] > 60
    assert set(fidelity["outputs"]) == {"contour", "onset"}


@pytest.mark.parametrize("data", ["plain.npz", "decorated.npz"])
def test_data_keyed_by_either_names(exported, tmp_path, data):
    model, _ = bench(exported["root"] / "model.onnx", "--reference", exported["saved"], "--data",
                     exported["root"] / data, "--runtime", "onnxruntime:cpu", out=tmp_path / "r.json")
    assert not model["data"]["random"] and model["data"]["samples"] == 24
    assert only_record(model, "model.onnx")["fidelity"]["sqnr_db"] > 60


def test_data_keyed_by_the_float_names_fed_to_the_file_alone(exported, tmp_path):
    model, _ = bench(exported["root"] / "model.onnx", "--data", exported["root"] / "plain.npz",
                     "--runtime", "onnxruntime:cpu", out=tmp_path / "r.json")
    assert model["data"]["samples"] == 24 and only_record(model, "model.onnx")["fidelity"] is None


def test_tflite_from_the_savedmodel_on_random_inputs(exported, tmp_path):
    model, _ = bench(exported["root"] / "model.tflite", "--reference", exported["saved"],
                     "--runtime", "litert:xnnpack,keras", out=tmp_path / "r.json")
    assert model["data"]["random"]
    assert only_record(model, "model.tflite")["fidelity"]["sqnr_db"] > 60
    assert only_record(model, "saved")["fidelity"] is None  # the float model itself
    assert "pairing" not in next(a for a in model["artifacts"] if a["name"] == "model.tflite")  # its signature's names


def test_inputs_paired_by_position_only(exported, tmp_path):
    model, said = bench(exported["root"] / "renamed.onnx", "--reference", exported["root"] / "model.keras",
                        "--runtime", "onnxruntime:cpu", out=tmp_path / "r.json")
    pairing = next(a for a in model["artifacts"] if a["name"] == "renamed.onnx")["pairing"]
    assert pairing["inputs"] == {"x0": "audio", "x1": "gain"} and pairing["rules"] == ["position"]
    assert "by position: x0 -> audio, x1 -> gain" in said
    assert only_record(model, "renamed.onnx")["fidelity"]["sqnr_db"] > 60


def test_a_file_that_does_not_pair_is_one_line(exported, tmp_path, tiny):
    out = tmp_path / "results"
    code, _, stderr = run_cli("bench", exported["root"] / "model.onnx", "--reference",
                                   tiny["paths"]["keras3_keras"], "--output", out / "r.json")
    assert code == 2
    error = stderr.strip().splitlines()[-1]  # after the progress lines
    assert "Traceback" not in stderr and error.startswith("edgekit bench: error: cannot pair the inputs of model.onnx")
    assert "serving_default_audio:0, serving_default_gain:0 of the file and pixels of the float model" in error
    assert error.endswith("give the float model the file was converted from with --reference")
    assert folder_state(out) == {}
