"""A .tflite that LiteRT refuses and TFLite Micro runs (docs/DESIGN.md, pitfall 23: a quantization
whose quantized_dimension is past its tensor's rank, as TFLite Micro's person_detect.tflite has)
is described from its flatbuffer, so that `bench` gives an ok tflm row with its exact arena and a
failed LiteRT row with LiteRT's reason, not a refusal of the whole run."""

import json

import numpy as np
import pytest

from edgekit.core.errors import EdgekitError
from edgekit.models.inspection import tflite_io, tflite_ops
from edgekit.runtimes import RUNTIMES, tflm
from tests.conftest import run_cli
from tests.require import require

pytestmark = pytest.mark.slow  # converts a model; TFLite Micro's arena search runs a child per try

LITERT_REFUSAL = "quantized_dimension must be in range"


@pytest.fixture(scope="module")
def refused_by_litert(tmp_path_factory):
    """An int8 conv + dense whose conv bias (1-D, per-channel) says quantized_dimension 3: LiteRT's
    loader checks the dimension against the tensor's rank; TFLite Micro's kernels never read it."""
    require("tflite-micro")
    import flatbuffers
    import tf_keras
    from ai_edge_litert import schema_py_generated as schema

    from edgekit.core.lazy_imports import tensorflow

    tf = tensorflow()
    tf_keras.utils.set_random_seed(1)
    model = tf_keras.Sequential([tf_keras.layers.Input((8, 8, 1), name="pixels"), tf_keras.layers.Conv2D(4, 3),
                                 tf_keras.layers.Flatten(), tf_keras.layers.Dense(3, name="dense")])
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([np.random.default_rng(i).random((1, 8, 8, 1), np.float32)]
                                                for i in range(10))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    content = converter.convert()
    flat = schema.ModelT.InitFromObj(schema.Model.GetRootAs(content, 0))
    graph = flat.subgraphs[0]
    conv = next(op for op in graph.operators
                if flat.operatorCodes[op.opcodeIndex].builtinCode == schema.BuiltinOperator.CONV_2D)
    bias = graph.tensors[conv.inputs[2]]
    assert len(bias.shape) == 1 and len(bias.quantization.scale) == 4  # per-channel, on a 1-D tensor
    bias.quantization.quantizedDimension = 3
    builder = flatbuffers.Builder(1024)
    builder.Finish(flat.Pack(builder), file_identifier=b"TFL3")
    folder = tmp_path_factory.mktemp("refused-by-litert")
    (folder / "good.tflite").write_bytes(content)
    path = folder / "person_like.tflite"
    path.write_bytes(bytes(builder.Output()))
    return path


def test_litert_refuses_the_file_and_tflite_micro_runs_it_as_the_unedited_one(refused_by_litert):
    with pytest.raises(EdgekitError, match=LITERT_REFUSAL):
        RUNTIMES["litert"].open(refused_by_litert)
    x = {"pixels": np.random.default_rng(0).random((1, 8, 8, 1), dtype=np.float32)}
    with RUNTIMES["tflm"].open(refused_by_litert) as edited, \
            RUNTIMES["tflm"].open(refused_by_litert.parent / "good.tflite") as good:
        np.testing.assert_array_equal(edited.run(x)["dense"], good.run(x)["dense"])
        assert edited.arena_bytes == good.arena_bytes


def test_the_file_is_described_from_its_flatbuffer(refused_by_litert):
    io = tflite_io(refused_by_litert)
    assert [(t["name"], t["dtype"], t["shape"]) for t in io["inputs"]] == [("pixels", "int8", [None, 8, 8, 1])]
    assert [(t["name"], t["shape"]) for t in io["outputs"]] == [("dense", [None, 3])]
    assert len(io["inputs"][0]["scale"]) == 1


def test_bench_gives_an_ok_tflm_row_and_a_failed_litert_row_with_litert_s_reason(refused_by_litert, tmp_path):
    out = tmp_path / "results.json"
    code, stdout, stderr = run_cli("bench", refused_by_litert, "--runtime", "litert:xnnpack,tflm", "--runs", "5",
                                   "--output", out)
    assert code == 0, stderr
    (model,) = json.loads(out.read_text())["models"]
    rows = {r["target"].split(":")[0]: r for r in model["records"]}
    assert rows["tflm"]["status"] == "ok", rows["tflm"]
    arena = rows["tflm"]["details"]["arena_bytes"]
    assert tflm._try_arena(refused_by_litert, arena)[0] and not tflm._try_arena(refused_by_litert, arena - 1)[0]
    assert rows["litert"]["status"] == "failed" and LITERT_REFUSAL in rows["litert"]["reason"], rows["litert"]
    assert model["artifacts"][0]["inputs"][0]["name"] == "pixels"
    assert LITERT_REFUSAL in " ".join((stdout + stderr).split())  # the failed row's reason is printed too


def test_tflite_micro_profiles_it_op_by_op_on_the_values_its_own_one_op_models_give(refused_by_litert):
    # no LiteRT run gives the ops' inputs here: each one-op model feeds the next
    x = {"pixels": np.random.default_rng(0).random((1, 8, 8, 1), dtype=np.float32)}
    profile = RUNTIMES["tflm"].profile(refused_by_litert, x, 3)
    assert [op["type"] for op in profile["ops"]] == [t for t, _ in tflite_ops(refused_by_litert.read_bytes())]
    assert all(op["us"] > 0 for op in profile["ops"]) and "not_timed" not in profile
