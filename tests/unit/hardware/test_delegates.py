"""Which ops each delegate takes: real models, the real LiteRT interpreter, real delegates
(XNNPACK, and a minimal external delegate compiled here from C and loaded with load_delegate)."""

from __future__ import annotations

import subprocess

import pytest

from edgekit.core.errors import EdgekitError
from edgekit.hardware import delegates
from tests.require import c_compiler, require

# A minimal TFLite external delegate (the tflite_plugin_* interface that load_delegate opens): it
# claims the nodes whose builtin codes its "builtin_codes" option lists, and is never run. The
# structs are the leading fields of TfLiteContext, TfLiteRegistration and TfLiteDelegate
# (tensorflow/lite/core/c/common.h), with zeroed room in case the runtime's have grown.
PROBE_DELEGATE_C = r"""
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct { int size; int data[]; } IntArray;
typedef struct Registration {
  void *init, *free, *prepare, *invoke, *profiling_string;
  int32_t builtin_code;
  const char *custom_name;
  int version;
  void *registration_external, *async_kernel;
  uint64_t inplace_operator;
  uint64_t spare[16];
} Registration;
typedef struct Delegate Delegate;
typedef struct Context {
  size_t tensors_size;
  int (*GetExecutionPlan)(struct Context *, IntArray **);
  void *tensors, *impl_, *ResizeTensor, *ReportError, *AddTensors;
  int (*GetNodeAndRegistration)(struct Context *, int, void **, Registration **);
  int (*ReplaceNodeSubsetsWithDelegateKernels)(struct Context *, Registration, const IntArray *, Delegate *);
} Context;
struct Delegate {
  void *data_;
  int (*Prepare)(Context *, Delegate *);
  void *CopyFromBufferHandle, *CopyToBufferHandle, *FreeBufferHandle;
  int64_t flags;
  void *opaque_delegate_builder;
  uint64_t spare[16];
};
typedef struct { int count; int codes[64]; } Wanted;

static int prepare(Context *context, Delegate *delegate) {
  Wanted *wanted = delegate->data_;
  IntArray *plan;
  if (context->GetExecutionPlan(context, &plan) != 0) return 1;
  IntArray *take = calloc(1, sizeof(IntArray) + sizeof(int) * (plan->size + 1));
  for (int i = 0; i < plan->size; ++i) {
    void *node; Registration *reg;
    if (context->GetNodeAndRegistration(context, plan->data[i], &node, &reg) != 0) { free(take); return 1; }
    for (int k = 0; k < wanted->count; ++k)
      if (reg->builtin_code == wanted->codes[k]) { take->data[take->size++] = plan->data[i]; break; }
  }
  Registration kernel;
  memset(&kernel, 0, sizeof kernel);
  kernel.custom_name = "EdgekitProbeDelegate";
  kernel.version = 1;
  int status = context->ReplaceNodeSubsetsWithDelegateKernels(context, kernel, take, delegate);
  free(take);
  return status;
}

Delegate *tflite_plugin_create_delegate(char **keys, char **values, size_t count, void (*report)(const char *)) {
  Wanted *wanted = calloc(1, sizeof(Wanted));
  for (size_t i = 0; i < count; ++i) {
    if (strcmp(keys[i], "builtin_codes") != 0) { if (report) report("unknown option"); free(wanted); return NULL; }
    for (char *p = values[i]; *p && wanted->count < 64;) {
      wanted->codes[wanted->count++] = (int)strtol(p, &p, 10);
      while (*p == ',') ++p;
    }
  }
  Delegate *delegate = calloc(1, sizeof(Delegate));
  delegate->data_ = wanted;
  delegate->Prepare = prepare;
  return delegate;
}

void tflite_plugin_destroy_delegate(Delegate *delegate) {
  if (!delegate) return;  /* LiteRT calls it with NULL when create failed */
  free(delegate->data_);
  free(delegate);
}
"""


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Small float models whose delegation is known."""
    from edgekit.core.lazy_imports import tensorflow

    tf = tensorflow()
    import tf_keras

    root = tmp_path_factory.mktemp("delegate-models")
    spec = tf.TensorSpec([1, 8], tf.float32)

    def save(name, fn, custom_ops=False):
        converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn)
        converter.allow_custom_ops = custom_ops
        (root / name).write_bytes(converter.convert())
        return root / name

    @tf.function(input_signature=[spec])
    def cumsum(x):  # MUL ADD | CUMSUM (XNNPACK has no cumulative sum) | TANH ADD
        return tf.tanh(tf.math.cumsum(tf.nn.relu(x * 2.0 + 1.0), axis=1)) + 1.0

    @tf.function(input_signature=[spec])
    def loop(x):  # WHILE runs its condition and body in two more subgraphs
        _, y = tf.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, tf.tanh(y) + 1.0), [tf.constant(0), x * 2.0])
        return y * 3.0

    @tf.function(input_signature=[spec])
    def erf(x):  # no TFLite builtin: a custom op with allow_custom_ops
        return tf.math.erf(x) + 1.0

    tf_keras.utils.set_random_seed(1)
    cnn = tf_keras.Sequential([
        tf_keras.layers.InputLayer((6, 6, 1)),
        tf_keras.layers.Conv2D(4, 3, activation="relu"),
        tf_keras.layers.MaxPooling2D(),
        tf_keras.layers.Flatten(),
        tf_keras.layers.Dense(5, activation="softmax"),
    ])
    (root / "cnn.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(cnn).convert())
    return {"cumsum": save("cumsum.tflite", cumsum), "while": save("while.tflite", loop),
            "custom": save("erf.tflite", erf, custom_ops=True), "cnn": root / "cnn.tflite"}


@pytest.fixture(scope="module")
def probe_delegate(tmp_path_factory):
    require("cc")  # builds the probe delegate
    compiler = c_compiler()
    root = tmp_path_factory.mktemp("probe-delegate")
    (root / "probe.c").write_text(PROBE_DELEGATE_C)
    library = root / "libprobe_delegate.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-O1", "-o", library, root / "probe.c"], check=True)
    return str(library)


def entry(report, name):
    return next(e for e in report["delegates"] if e["name"] == name)


def builtin_codes(*names):
    from ai_edge_litert import schema_py_generated as schema

    return ",".join(str(getattr(schema.BuiltinOperator, n)) for n in names)


@pytest.mark.slow
def test_xnnpack_leaves_an_op_it_lacks_on_the_cpu_between_two_partitions(models):
    xnnpack = entry(delegates.delegate_report(models["cumsum"]), "xnnpack")
    assert xnnpack["status"] == "ok" and "note" not in xnnpack
    assert xnnpack["partitions"] == 2 and xnnpack["ops"] == 5
    assert xnnpack["cpu_ops"] == {"CUMSUM": 1}
    assert xnnpack["delegated_ops"] == {"ADD": 2, "MUL": 1, "TANH": 1}
    assert [(n["op"], n["on"], n.get("partition")) for n in xnnpack["nodes"]] == [
        ("MUL", "xnnpack", 0), ("ADD", "xnnpack", 0), ("CUMSUM", "cpu", None),
        ("TANH", "xnnpack", 1), ("ADD", "xnnpack", 1)]


def test_a_model_xnnpack_fully_supports_is_one_partition(models):
    xnnpack = entry(delegates.delegate_report(models["cnn"]), "xnnpack")
    assert xnnpack["status"] == "ok" and "note" not in xnnpack
    assert xnnpack["partitions"] == 1 and xnnpack["cpu_ops"] == {}
    assert sum(xnnpack["delegated_ops"].values()) == xnnpack["ops"] >= 4
    assert {"CONV_2D", "MAX_POOL_2D", "FULLY_CONNECTED", "SOFTMAX"} <= set(xnnpack["delegated_ops"])


def test_control_flow_stays_on_the_cpu_and_other_subgraphs_are_noted(models):
    report = delegates.delegate_report(models["while"])
    xnnpack = entry(report, "xnnpack")
    assert xnnpack["cpu_ops"] == {"WHILE": 1} and xnnpack["partitions"] == 2
    assert "main subgraph" in report["note"]


def test_xnnpack_is_skipped_when_litert_lacks_a_custom_op(models):
    xnnpack = entry(delegates.delegate_report(models["custom"]), "xnnpack")
    assert xnnpack["status"] == "skipped" and "Erf" in xnnpack["reason"]


def test_an_external_delegate_takes_the_ops_it_claims_and_the_rest_run_on_builtin_kernels(models, probe_delegate):
    report = delegates.delegate_report(models["cumsum"], probe_delegate,
                                       (("builtin_codes", builtin_codes("ADD", "TANH")),))
    probe = entry(report, "libprobe_delegate.so")
    assert probe["status"] == "ok" and probe["library"] == probe_delegate
    assert probe["delegated_ops"] == {"ADD": 2, "TANH": 1}
    # MUL is XNNPACK's in the default setup, not here: the delegate is measured alone
    assert probe["cpu_ops"] == {"CUMSUM": 1, "MUL": 1}
    assert probe["partitions"] == 2  # ADD alone, then TANH and ADD
    assert [n["on"] for n in probe["nodes"]] == ["cpu", "libprobe_delegate.so", "cpu",
                                                 "libprobe_delegate.so", "libprobe_delegate.so"]


def test_an_external_delegate_that_claims_nothing_is_no_partition(models, probe_delegate):
    probe = entry(delegates.delegate_report(models["cnn"], probe_delegate), "libprobe_delegate.so")
    assert probe["partitions"] == 0 and probe["delegated_ops"] == {}
    assert sum(probe["cpu_ops"].values()) == probe["ops"]


def test_a_delegate_that_does_not_load_is_an_error(models, probe_delegate, tmp_path):
    with pytest.raises(EdgekitError, match="cannot open shared object file"):
        delegates.delegate_report(models["cnn"], str(tmp_path / "libmissing.so"))
    with pytest.raises(EdgekitError, match="not a TFLite delegate"):
        delegates.delegate_report(models["cnn"], "libm.so.6")
    with pytest.raises(EdgekitError, match="did not load"):  # create returns NULL on an unknown option
        delegates.delegate_report(models["cnn"], probe_delegate, {"unknown": "1"})


def test_the_gpu_delegate_runs_or_says_why_not(models):
    report = delegates.delegate_report(models["cumsum"])
    gpu = entry(report, "gpu")
    assert gpu["status"] == "ok" or delegates.GPU_DELEGATE_LIBRARY in gpu["reason"]


def test_the_static_gpu_check_reports_only_where_tensorflow_s_analyzer_checks(models, capsys):
    """Whether this TensorFlow build's analyzer checks GPU compatibility at all is found here on
    its own terms: it is asked directly about a model with CUMSUM, which the GPU delegate lacks."""
    from edgekit.core.lazy_imports import tensorflow

    static = entry(delegates.delegate_report(models["cumsum"]), delegates.GPU_STATIC)
    capsys.readouterr()
    tensorflow().lite.experimental.Analyzer.analyze(model_path=str(models["cumsum"]), gpu_compatibility=True)
    out = capsys.readouterr().out
    assert "CUMSUM" in out  # the analyzer read the model
    if "GPU COMPATIBILITY WARNING" in out:
        assert static["status"] == "ok" and static["partitions"] is None
    else:  # TF 2.21's pip build: the check is compiled out
        assert static["status"] == "skipped" and "compatible" in static["reason"]


def test_gpu_warnings_are_read_per_op_of_the_main_subgraph():
    # the analyzer's format (tensorflow/lite/tools/model_analyzer.cc)
    text = """Subgraph#0 main(T#0) -> [T#8]
  Op#0 MUL(T#0, T#3) -> [T#4]
  Op#1 CUMSUM(T#4, T#1[1]) -> [T#6]
GPU COMPATIBILITY WARNING: Not supported op CUMSUM
  Op#2 ADD(T#6, T#2) -> [T#8]

GPU COMPATIBILITY WARNING: Subgraph#0 has GPU delegate compatibility issues at nodes 1 with TFLite runtime version 2.21.0

Tensors of Subgraph#0
  T#0(x) shape:[1, 8], type:FLOAT32

Subgraph#1 body(T#0) -> [T#1]
  Op#0 Erf(T#0) -> [T#1]
GPU COMPATIBILITY WARNING: Not supported custom op Erf
"""
    assert delegates.parse_gpu_warnings(text) == {1: "Not supported op CUMSUM"}


def test_onnx_and_damaged_files_are_refused(models, tmp_path):
    with pytest.raises(EdgekitError, match="applies to .tflite"):
        delegates.delegate_report(tmp_path / "model.onnx")
    (tmp_path / "cut.tflite").write_bytes(models["cnn"].read_bytes()[:200])
    with pytest.raises(EdgekitError, match="cut.tflite"):
        delegates.delegate_report(tmp_path / "cut.tflite")
