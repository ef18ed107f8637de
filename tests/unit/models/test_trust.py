"""The trust check (edgekit/models/trust.py): SavedModel graphs and Keras configs that reach files, the
network or Python are refused before anything loads; the models edgekit meets in practice pass."""

import re
import sys
from pathlib import Path

import numpy as np
import pytest

from edgekit.core.errors import EdgekitError
from edgekit.core.lazy_imports import tensorflow
from edgekit.models import trust
from edgekit.models.loading import load_model, model_config
from tests.corpus import cases

REPO = Path(__file__).resolve().parents[3]
NEVER = "edgekit-never-written.txt"  # the hostile graphs below are saved, never run


# --- SavedModel graphs ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    """Small SavedModels, each hiding (or not) a file write somewhere in its graph."""
    tf = tensorflow()
    root = tmp_path_factory.mktemp("trust-graphs")
    spec = tf.TensorSpec([None, 3], tf.float32, name="x")

    def save(name, body, module=None):
        serve = tf.function(body, input_signature=[spec])
        tf.saved_model.save(module or tf.Module(), str(root / name),
                            signatures={"serving_default": serve.get_concrete_function()})
        return root / name

    def write():
        return tf.io.write_file(NEVER, "x")

    @tf.function
    def inner(x):  # a nested tf.function: its own function in the library
        write()
        return x * 2

    def in_cond(x):
        def branch():
            with tf.control_dependencies([write()]):
                return tf.identity(x)
        return {"y": tf.cond(tf.reduce_sum(x) > 0, branch, lambda: x)}

    def in_while(x):
        def body(i, acc):
            with tf.control_dependencies([write()]):
                return i + 1, acc + 1.0
        return {"y": tf.while_loop(lambda i, acc: i < 3, body, [tf.constant(0), x])[1]}

    weights = tf.Module()
    weights.w = tf.Variable(tf.ones([3, 2]))
    return {
        "nested": save("nested", lambda x: {"y": inner(x)}),
        "cond": save("cond", in_cond),
        "while": save("while", in_while),
        "py_function": save("py_function", lambda x: {"y": tf.py_function(lambda t: t, [x], tf.float32)}),
        "numpy_function": save("numpy_function", lambda x: {"y": tf.numpy_function(lambda t: t, [x], tf.float32)}),
        "restore_in_serving": save("restore_in_serving", lambda x: {"y": x + tf.raw_ops.RestoreV2(
            prefix="elsewhere", tensor_names=["w"], shape_and_slices=[""], dtypes=[tf.float32])[0]}),
        "print_to_file": save("print_to_file", lambda x: _printed(tf, x, "file:///tmp/" + NEVER)),
        "print_to_stderr": save("print_to_stderr", lambda x: _printed(tf, x, sys.stderr)),
        "proto_descriptor_file": save("proto_descriptor_file", lambda x: {"y": x, "p": tf.io.decode_proto(
            tf.strings.as_string(x), "some.Message", ["f"], [tf.int32], descriptor_source="/tmp/descriptors")[1][0]}),
        "matching_files": save("matching_files", lambda x: {"y": x, "n": tf.size(tf.io.matching_files("*"))}),
        "with_variables": save("with_variables", lambda x: {"y": tf.matmul(x, weights.w)}, weights),
    }


def _printed(tf, x, stream):
    with tf.control_dependencies([tf.print(x, output_stream=stream)]):
        return {"y": tf.identity(x)}


@pytest.mark.parametrize("name, where", [("nested", r"function __inference_inner_\d+"),
                                         ("cond", r"function cond_true_\d+"),
                                         ("while", r"function while_body_\d+")])
def test_a_file_write_hidden_in_a_nested_function_or_control_flow_body_is_found(graphs, name, where):
    findings = trust.saved_model_findings(graphs[name])
    assert any(re.fullmatch(rf"op WriteFile \(writes files\) in {where}", f) for f in findings), findings
    with pytest.raises(EdgekitError, match="trust_model_code=True") as err:
        trust.check_saved_model(graphs[name])
    assert str(graphs[name]) in str(err.value) and "WriteFile" in str(err.value)


@pytest.mark.parametrize("name, op", [("py_function", "EagerPyFunc"), ("numpy_function", "PyFunc"),
                                      ("restore_in_serving", "RestoreV2"), ("print_to_file", "PrintV2"),
                                      ("proto_descriptor_file", "DecodeProtoV2"), ("matching_files", "MatchingFiles")])
def test_python_stray_checkpoints_prints_to_files_and_descriptor_files_are_found(graphs, name, op):
    assert any(f.startswith(f"op {op} ") for f in trust.saved_model_findings(graphs[name]))


def test_the_savers_own_restore_and_a_console_print_pass(graphs):
    assert trust.saved_model_findings(graphs["with_variables"]) == []  # its saver has RestoreV2 and SaveV2
    assert trust.saved_model_findings(graphs["print_to_stderr"]) == []


def _graph_model(tmp_path, nodes, functions=(), restore_op="", save_tensor=""):
    """A SavedModel folder holding one hand-made graph: (name, op, inputs, attrs) nodes."""
    tensorflow()
    from tensorflow.core.framework import function_pb2, node_def_pb2
    from tensorflow.core.protobuf import saved_model_pb2

    def node_def(name, op, inputs=(), funcs=None):
        node = node_def_pb2.NodeDef(name=name, op=op, input=list(inputs))
        for key, target in (funcs or {}).items():
            node.attr[key].func.name = target
        return node

    model = saved_model_pb2.SavedModel()
    meta = model.meta_graphs.add()
    meta.graph_def.node.extend(node_def(*n) for n in nodes)
    for name, body in functions:
        function = function_pb2.FunctionDef()
        function.signature.name = name
        function.node_def.extend(node_def(*n) for n in body)
        meta.graph_def.library.function.append(function)
    meta.saver_def.restore_op_name, meta.saver_def.save_tensor_name = restore_op, save_tensor
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "saved_model.pb").write_bytes(model.SerializeToString())
    return tmp_path


TF1_SAVER = [("save/Const", "Const"), ("w", "VarHandleOp"), ("w/Read", "ReadVariableOp", ["w"]),
             ("save/SaveV2", "SaveV2", ["save/Const", "w/Read"]), ("save/Identity", "Identity", ["save/Const", "^save/SaveV2"]),
             ("save/RestoreV2", "RestoreV2", ["save/Const"]), ("save/Assign", "AssignVariableOp", ["w", "save/RestoreV2"]),
             ("save/restore_all", "NoOp", ["^save/Assign"])]


def test_checkpoint_ops_pass_only_inside_the_saver_half_they_belong_to(tmp_path):
    saver = dict(restore_op="save/restore_all", save_tensor="save/Identity:0")
    assert trust.saved_model_findings(_graph_model(tmp_path / "a", TF1_SAVER, **saver)) == []
    # a serving node that waits on the restore makes RestoreV2 run whenever the model is served
    served = TF1_SAVER + [("y", "Identity", ["w/Read", "^save/RestoreV2"])]
    assert [f.split(" (")[0] for f in trust.saved_model_findings(_graph_model(tmp_path / "b", served, **saver))] == [
        "op RestoreV2"]
    # a save op wired into the restore half would write whenever the model is loaded
    writes_on_load = TF1_SAVER[:-1] + [("save/Sneaky", "SaveV2", ["save/Const", "w/Read"]),
                                       ("save/restore_all", "NoOp", ["^save/Assign", "^save/Sneaky"])]
    found = trust.saved_model_findings(_graph_model(tmp_path / "c", writes_on_load, **saver))
    assert [f.split(" (")[0] for f in found] == ["op SaveV2"]
    # no saver at all: the same ops are refused
    assert len(trust.saved_model_findings(_graph_model(tmp_path / "d", TF1_SAVER))) == 2


def test_a_function_the_saver_shares_with_serving_gets_no_checkpoint_exemption(tmp_path):
    restore = ("restore_fn", [("r", "RestoreV2", ["prefix"])])
    nodes = [("prefix", "Placeholder"), ("restore", "StatefulPartitionedCall", ["prefix"], {"f": "restore_fn"})]
    saver = dict(restore_op="restore", save_tensor="")
    assert trust.saved_model_findings(_graph_model(tmp_path / "a", nodes, [restore], **saver)) == []
    shared = nodes + [("serve", "StatefulPartitionedCall", ["prefix"], {"f": "restore_fn"})]
    assert trust.saved_model_findings(_graph_model(tmp_path / "b", shared, [restore], **saver)) == [
        "op RestoreV2 (reads a checkpoint outside the SavedModel's own variable restore) in function restore_fn"]
    called_by_serving_fn = nodes + [("serve", "StatefulPartitionedCall", [], {"f": "serve_fn"})]
    serve_fn = ("serve_fn", [("call", "restore_fn", [])])
    assert len(trust.saved_model_findings(_graph_model(tmp_path / "c", called_by_serving_fn, [restore, serve_fn],
                                                        **saver))) == 1


@pytest.mark.parametrize("nodes, expected", [
    ([("call", "PartitionedCall", [], {"f": "WriteFile"})], "op WriteFile (writes files) called by PartitionedCall"),
    ([("x", "MyCustomKernel")], "op MyCustomKernel (not an op TensorFlow knows"),
    ([("q", "FIFOQueueV2")], "op FIFOQueueV2 (has side effects edgekit does not know to be safe)"),
    ([("d", "TFRecordDatasetV2")], "op TFRecordDatasetV2 (is a tf.data op"),
    ([("d", "DatasetFromGraph")], "op DatasetFromGraph (is a tf.data op"),
    ([("r", "TFRecordReaderV2")], "op TFRecordReaderV2 (reads records from files)"),
    ([("t", "InitializeTableFromTextFileV2")], "op InitializeTableFromTextFileV2 (fills a lookup table from a file)"),
    ([("d", "DebugIdentityV2")], "op DebugIdentityV2 (is a debugger op"),
    ([("p", "PyFuncStateless")], "op PyFuncStateless (runs Python code)"),
    ([("c", "CollectiveReduceV2")], "op CollectiveReduceV2 (reaches other processes over the network)"),
    ([("m", "ImmutableConst")], "op ImmutableConst (maps a file into memory)"),
])
def test_each_kind_of_op_that_leaves_tensor_math_is_refused(tmp_path, nodes, expected):
    [finding] = trust.saved_model_findings(_graph_model(tmp_path, nodes))
    assert finding.startswith(expected), finding


def test_a_damaged_graph_is_a_clear_error(tmp_path):
    (tmp_path / "saved_model.pb").write_bytes(b"\x0a\xff\xff\xff\xff not a protobuf")
    with pytest.raises(EdgekitError, match="saved_model.pb that cannot be read"):
        trust.check_saved_model(tmp_path)


def test_a_chunked_graph_beside_the_checked_one_is_refused(tmp_path):
    folder = _graph_model(tmp_path, [("x", "Placeholder")])
    assert trust.saved_model_findings(folder) == []
    (folder / "saved_model.cpb").write_bytes(b"")  # a loader may read it instead
    assert trust.saved_model_findings(folder) == ["a chunked graph (saved_model.cpb) that edgekit cannot check"]


# --- Keras configs --------------------------------------------------------------------------

def _layer(cls, module="keras.layers", registered=None, **config):
    return {"module": module, "class_name": cls, "config": {"name": "l", **config}, "registered_name": registered}


@pytest.mark.parametrize("obj, expected", [
    (_layer("Lambda", function=["4wEAAAAAAAAA", None, None], function_type="lambda"), "Lambda layer 'l' holds"),
    ({"class_name": "__lambda__", "config": {"code": "..."}}, "__lambda__ layer '?' holds Python bytecode"),
    (_layer("TFOpLambda", "tf_keras.src.layers.core.tf_op_layer", function="io.read_file"), "calls tf.io.read_file"),
    (_layer("TFOpLambda", None, function="compat.v1.io.write_file"), "calls tf.compat.v1.io.write_file"),
    (_layer("TFOpLambda", None, function="raw_ops.ReadFile"), "calls tf.raw_ops.ReadFile"),
    (_layer("TFOpLambda", None, function="print"), "calls tf.print"),
    (_layer("TFOpLambda", None, function="py_function"), "calls tf.py_function"),
    (_layer("TFOpLambda", None, function="numpy_function"), "calls tf.numpy_function"),
    (_layer("TFOpLambda", None, function="load_op_library"), "calls tf.load_op_library"),
    (_layer("TFOpLambda", None, function="debugging.assert_equal"), "calls tf.debugging.assert_equal"),
    (_layer("TFOpLambda", None, function="data.TFRecordDataset"), "calls tf.data.TFRecordDataset"),
    (_layer("SlicingOpLambda", None, function="summary.write"), "calls tf.summary.write"),
    (_layer("TFOpLambda", None, function="math.__builtins__"), "calls tf.math.__builtins__"),
    (_layer("InstanceProperty", None, attr_name="__class__"), "reaches attribute '__class__'"),
    (_layer("ClassMethod", None, cls_symbol="io.gfile.GFile", method_name="__init__"), "calls tf.io.gfile.GFile"),
    (_layer("TensorFlowOpLayer", None, node_def={"name": "r", "op": "ReadFile", "input": ["x"]}), "runs op ReadFile"),
    (_layer("StringLookup", vocabulary="/etc/words"), "reads its vocabulary from the file '/etc/words'"),
    (_layer("IntegerLookup", None, vocabulary="ids.txt"), "reads its vocabulary from the file 'ids.txt'"),
    (_layer("TextVectorization", idf_weights="idf.txt"), "reads its idf_weights from the file 'idf.txt'"),
    (_layer("TFSMLayer", filepath="other/model"), "TFSMLayer 'l' loads and runs the SavedModel 'other/model'"),
    (_layer("TorchModuleWrapper", module="keras.layers"), "unpickles a Python object"),
    (_layer("Twice", None, "my_package>Twice"), "custom object Twice (registered as 'my_package>Twice')"),
    (_layer("Twice", "my_package.layers"), "custom object Twice from module 'my_package.layers'"),
    (_layer("X", "antigravity"), "from module 'antigravity'"),
    (_layer("Layer", "keras_hub.layers"), "from module 'keras_hub.layers'"),
    ({"module": "os", "class_name": "function", "config": "system"}, "function 'system' from module 'os'"),
    ({"module": "builtins", "class_name": "function", "config": "eval"}, "function 'eval' from module 'builtins'"),
    ({"module": None, "class_name": "function", "config": "pkg>fn"}, "function 'pkg>fn'"),
    ({"module": "tensorflow_model_optimization.python.core.quantization.keras.quantizers", "class_name": "function",
      "config": "quantize_apply"}, "function 'quantize_apply'"),
    ({"class_name": "__typespec__", "spec_name": "TensorSpec", "module": "antigravity", "config": []}, "type spec"),
])
def test_each_kind_of_config_object_that_leaves_tensor_math_is_refused(obj, expected):
    [finding] = trust.config_findings({"class_name": "Functional", "config": {"layers": [obj]}})
    assert expected in finding, finding


@pytest.mark.parametrize("obj", [
    _layer("TFOpLambda", None, function="math.add"), _layer("TFOpLambda", None, function="reshape"),
    _layer("SlicingOpLambda", None, function="__operators__.getitem"),
    _layer("TFOpLambda", None, function="compat.v1.squeeze"), _layer("TFOpLambda", None, function="image.resize"),
    _layer("TFOpLambda", None, function="strings.length"), _layer("InstanceMethod", None, attr_name="to_tensor"),
    _layer("ClassMethod", None, cls_symbol="RaggedTensor", method_name="from_row_lengths"),
    _layer("TensorFlowOpLayer", None, node_def={"name": "a", "op": "AddV2", "input": ["x", "y"]}),
    _layer("StringLookup", vocabulary=["cat", "dog"]), _layer("TextVectorization", vocabulary=None),
    {"module": "builtins", "class_name": "function", "config": "relu", "registered_name": "function"},
    {"module": "tensorflow_model_optimization.python.core.quantization.keras.quantize_aware_activation",
     "class_name": "QuantizeAwareActivation", "config": {"activation": "linear"}, "registered_name": "QuantizeAwareActivation"},
    {"class_name": "__typespec__", "spec_name": "TensorSpec", "module": "tensorflow.python.framework.tensor",
     "config": []},
    {"class_name": "__keras_tensor__", "config": {"shape": [None, 3], "dtype": "float32", "keras_history": ["x", 0, 0]}},
])
def test_pure_math_and_keras_own_objects_pass(obj):
    assert trust.config_findings({"class_name": "Functional", "config": {"layers": [obj]}}) == []


def test_the_compile_config_is_not_checked_since_it_is_never_loaded():
    custom_loss = {"module": None, "class_name": "function", "config": "pkg>loss", "registered_name": "pkg>loss"}
    assert trust.config_findings({"class_name": "Sequential", "config": {}, "compile_config": {"loss": custom_loss}}) == []


def test_a_config_nested_deeper_than_the_stack_is_walked_without_recursion():
    config = {"class_name": "Lambda", "config": {"name": "deep"}}
    for _ in range(100_000):
        config = {"layers": [config]}
    assert trust.config_findings(config) == ["Lambda layer 'deep' holds Python bytecode"]


def test_the_error_line_names_the_first_findings_and_counts_the_rest(tmp_path):
    config = {"layers": [_layer("Lambda", name=f"l{i}") for i in range(5)]}
    with pytest.raises(EdgekitError) as err:
        trust.check_keras_config(tmp_path / "m.keras", config)
    line = str(err.value)
    # called from Python, the switch is named as Python writes it (the command line says --trust-model-code)
    assert "\n" not in line and "m.keras" in line and "trust_model_code=True" in line and "and 2 more" in line


# --- the loader: refused models are never loaded, valid models of every flavour pass ----------

@pytest.mark.parametrize("file", cases.TRUST_FILES)
def test_a_refused_model_is_never_handed_to_a_loader(file, monkeypatch):
    tf = tensorflow()
    import keras
    import tf_keras

    def loaded(*args, **kwargs):
        raise AssertionError("the model was loaded")

    for owner, name in ((tf.saved_model, "load"), (keras.saving, "load_model"), (tf_keras.models, "load_model")):
        monkeypatch.setattr(owner, name, loaded)
    with pytest.raises(EdgekitError, match="trust_model_code=True"):
        load_model(cases.CORPUS / "models" / file)


def test_the_zoo_models_pass():
    zoo = sorted((REPO / "models").glob("*/model.keras"))
    assert len(zoo) >= 5
    for path in zoo:
        assert trust.config_findings(model_config(path)) == [], path


def test_every_flavour_and_edgekits_own_exports_pass(tiny):
    for key in ("tf_keras_keras", "tf_keras_h5", "keras3_keras", "two_io"):
        assert trust.config_findings(model_config(tiny["paths"][key])) == [], key
    for key in ("savedmodel", "needs_flex"):
        assert trust.saved_model_findings(tiny["paths"][key]) == [], key
    for key in ("keras3_keras", "tf_keras_keras"):
        with load_model(tiny["paths"][key]) as model:
            assert trust.saved_model_findings(model.saved_model_dir()) == []
            assert trust.saved_model_findings(model.saved_model_dir(batch=1)) == []


@pytest.fixture(scope="module")
def mobilenet(tmp_path_factory):
    """keras.applications' MobileNetV2 (random weights, small input) as .keras and as SavedModel."""
    tensorflow()
    import keras

    root = tmp_path_factory.mktemp("mobilenet")
    model = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, weights=None, classes=10)
    model.save(root / "mobilenet.keras")
    model.export(str(root / "mobilenet_savedmodel"), verbose=False)
    return root


@pytest.mark.slow
def test_keras_applications_mobilenet_passes_and_loads_as_keras_file_and_savedmodel(mobilenet):
    assert trust.config_findings(model_config(mobilenet / "mobilenet.keras")) == []
    assert trust.saved_model_findings(mobilenet / "mobilenet_savedmodel") == []
    with load_model(mobilenet / "mobilenet_savedmodel") as model:
        out = model.predict({model.inputs[0].name: np.zeros((2, 32, 32, 3), np.float32)})
        assert next(iter(out.values())).shape == (2, 10)


@pytest.mark.slow
def test_tf_keras_saved_models_with_recurrent_layers_lookups_and_op_layers_pass(tmp_path):
    tf = tensorflow()
    import keras
    import tf_keras

    sequence = tf_keras.Input((5, 2), name="sequence")
    recurrent = tf_keras.Model(sequence, tf_keras.layers.Dense(1)(tf_keras.layers.LSTM(4)(sequence)))
    tf.saved_model.save(recurrent, str(tmp_path / "lstm"))  # keeps a cuDNN variant of its function
    assert trust.saved_model_findings(tmp_path / "lstm") == []

    words = keras.Input((1,), dtype="string", name="words")
    keras.Model(words, keras.layers.StringLookup(vocabulary=["cat", "dog"])(words)).export(
        str(tmp_path / "lookup"), verbose=False)  # in-memory hash tables
    assert trust.saved_model_findings(tmp_path / "lookup") == []

    x = tf_keras.Input((4,), name="x")
    y = tf.nn.relu(tf.math.reduce_sum(tf.reshape(x, (-1, 2, 2)), axis=1)[:, :1] * 2.0)
    ops = tf_keras.Model(x, y)
    for suffix in (".h5", ".keras"):
        ops.save(tmp_path / f"ops{suffix}")
        with load_model(tmp_path / f"ops{suffix}") as model:
            got = next(iter(model.predict({"x": np.ones((1, 4), np.float32)}).values()))
            np.testing.assert_allclose(got, [[4.0]])


def test_a_tf1_saved_model_with_its_saver_passes(tmp_path):
    tf = tensorflow()
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
        # a constant initializer: another test in this process may have made random ops need a seed
        w = tf.compat.v1.get_variable("w", [3, 2], initializer=tf.compat.v1.ones_initializer())
        session.run(tf.compat.v1.global_variables_initializer())
        tf.compat.v1.saved_model.simple_save(session, str(tmp_path / "tf1"), {"x": x}, {"y": tf.matmul(x, w)})
    assert trust.saved_model_findings(tmp_path / "tf1") == []


# each corpus trust model, and the start of the one finding it must give
OWN_REASONS = {
    "lambda.keras": "Lambda layer 'lambda' holds Python bytecode",
    "lambda.h5": "Lambda layer 'lambda' holds Python bytecode",
    "trust_write_savedmodel": "op WriteFile (writes files) in function __inference_serve_",
    "trust_read_savedmodel": "op ReadFile (reads files) in function __inference_read_",
    "trust_tfoplambda.h5": "TFOpLambda layer 'tf.io.read_file' calls tf.io.read_file, which is not on edgekit's list",
    "trust_lookup_file.h5": "StringLookup layer 'string_lookup' reads its vocabulary from the file 'edgekit-vocab.txt'",
    "trust_lookup_file.keras": "StringLookup layer 'string_lookup' reads its vocabulary from the file 'edgekit-vocab.txt'",
    "trust_keras3_lookup.keras": "StringLookup layer 'string_lookup' reads its vocabulary from the file "
                                 "'edgekit-vocab.txt'",
    "trust_custom.keras": "custom object Twice (registered as 'edgekit_corpus>Twice') is code from outside Keras",
    "trust_tfsm.keras": "TFSMLayer 'tfsm_layer' loads and runs the SavedModel",
}


def test_the_corpus_trust_models_are_each_refused_for_their_own_reason():
    assert set(OWN_REASONS) == set(cases.TRUST_FILES)  # a new trust model in the corpus names its reason here
    findings = {file: (trust.saved_model_findings(cases.CORPUS / "models" / file) if "." not in file
                       else trust.config_findings(model_config(cases.CORPUS / "models" / file)))
                for file in cases.TRUST_FILES}
    for file, found in findings.items():
        assert len(found) == 1 and found[0].startswith(OWN_REASONS[file]), (file, found)
        assert isinstance(found[0], str) and "\n" not in found[0]  # it goes into the one error line
