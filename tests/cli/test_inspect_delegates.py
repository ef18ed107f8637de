"""`edgekit inspect --delegates`: a fresh process as a user runs it, then in-process calls for
JSON, an external delegate with its options, and the bad inputs."""

import json
import subprocess

import pytest

from edgekit.cli import main
from tests.conftest import run_cli
from tests.require import c_compiler, require
from tests.unit.hardware.test_delegates import PROBE_DELEGATE_C


@pytest.fixture(scope="module")
def cumsum_model(tmp_path_factory):
    """MUL ADD | CUMSUM | TANH ADD: XNNPACK takes all but CUMSUM, in two partitions."""
    from edgekit.core.lazy_imports import tensorflow

    tf = tensorflow()

    @tf.function(input_signature=[tf.TensorSpec([1, 8], tf.float32, name="x")])
    def cumsum(x):
        return tf.tanh(tf.math.cumsum(tf.nn.relu(x * 2.0 + 1.0), axis=1)) + 1.0

    path = tmp_path_factory.mktemp("inspect-delegates") / "cumsum.tflite"
    converter = tf.lite.TFLiteConverter.from_concrete_functions([cumsum.get_concrete_function()], cumsum)
    path.write_bytes(converter.convert())
    return path


def run_main(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_error_line(code, out, err, *needles):
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and out == "" and len(lines) == 1 and "error:" in lines[0], err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.slow  # a fresh process imports TensorFlow for the analyzer: about 5 s
def test_inspect_delegates_prints_a_line_per_delegate(cumsum_model):
    code, out, err = run_cli("inspect", cumsum_model, "--delegates")
    assert code == 0, err
    assert "Traceback" not in err and "XNNPACK" not in err  # LiteRT's logs stay hidden
    lines = out.splitlines()
    section = lines[lines.index("delegates (where each op runs):") + 1:]
    assert "  xnnpack: 4 of 5 ops in 2 partitions; on CPU: CUMSUM (1)" in section
    gpu = [line for line in section if line.startswith("  gpu: ")]
    assert len(gpu) == 1 and ("skipped: " in gpu[0] or " ops" in gpu[0])
    assert any(line.startswith("  gpu (static check by TFLite's analyzer): ") for line in section)


def test_inspect_delegates_json_with_an_external_delegate_and_its_options(cumsum_model, tmp_path, capsys):
    require("cc")  # builds the probe delegate
    compiler = c_compiler()
    (tmp_path / "probe.c").write_text(PROBE_DELEGATE_C)
    library = tmp_path / "libprobe_delegate.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-O1", "-o", library, tmp_path / "probe.c"], check=True)
    from ai_edge_litert import schema_py_generated as schema

    code, out, _ = run_main(capsys, "inspect", cumsum_model, "--json", "--delegate", library,
                            "--delegate-option", f"builtin_codes={schema.BuiltinOperator.CUMSUM}")
    assert code == 0
    info = json.loads(out)
    assert info["ops"]["CUMSUM"] == 1  # the usual inspection is still there
    by_name = {e["name"]: e for e in info["delegates"]}
    assert by_name["xnnpack"]["partitions"] == 2 and by_name["xnnpack"]["cpu_ops"] == {"CUMSUM": 1}
    probe = by_name["libprobe_delegate.so"]
    assert probe["options"] == {"builtin_codes": str(schema.BuiltinOperator.CUMSUM)}
    assert probe["partitions"] == 1 and probe["delegated_ops"] == {"CUMSUM": 1}
    assert probe["cpu_ops"] == {"ADD": 2, "MUL": 1, "TANH": 1}


def test_inspect_delegates_bad_inputs(cumsum_model, tmp_path, capsys):
    (tmp_path / "model.onnx").write_bytes(b"")
    assert_one_error_line(*run_main(capsys, "inspect", tmp_path / "model.onnx", "--delegates"),
                          "model.onnx", "applies to .tflite")
    assert_one_error_line(*run_main(capsys, "inspect", cumsum_model, "--delegate", tmp_path / "libnone.so"),
                          "libnone.so", "cannot open shared object file")
    assert_one_error_line(*run_main(capsys, "inspect", cumsum_model, "--delegates", "--delegate-option", "a=1"),
                          "--delegate-option needs --delegate")
    assert_one_error_line(*run_main(capsys, "inspect", cumsum_model, "--delegate", "libm.so.6",
                                    "--delegate-option", "novalue"), "novalue", "key=value")
