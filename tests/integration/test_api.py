"""The Python API on the default model: convert, bench, report, compare, with typed results; its
messages through logging; its errors naming parameters; and the CLI's common -q/-v."""

from __future__ import annotations

import dataclasses
import json
import logging
import subprocess
import sys

import pytest

import edgekit
from edgekit.core.errors import EdgekitError
from tests.conftest import REPO, run_cli


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    out = tmp_path_factory.mktemp("api")
    return edgekit.convert(out=out, tflite="fp32,int8", onnx="fp32", bench=False)


@pytest.fixture(scope="module")
def measured(converted):
    return edgekit.bench(converted.folder, runtime="litert:xnnpack", runs=20, warmup=2)


@pytest.mark.slow
def test_convert_returns_the_files_it_wrote(converted):
    assert isinstance(converted, edgekit.ConversionResult) and converted.passed and converted.bench is None
    assert converted.name == "digits_cnn" and converted.skipped == []  # a zoo model brings its calibration
    assert [(a.format, a.variant) for a in converted.artifacts] == [("tflite", "fp32"), ("tflite", "int8"),
                                                                   ("onnx", "fp32")]
    for artifact in converted.artifacts:
        assert artifact.file.is_file() and artifact.file.stat().st_size == artifact.size_bytes
        assert artifact.fidelity["top1_agreement"] > 0.9
        assert artifact.quality["degraded"] is False and artifact.fidelity["samples"] == 360  # the held-out split
    data = converted.to_dict()
    assert json.loads(json.dumps(data)) == data and "manifest" not in data
    assert data["artifacts"][0]["file"] == str(converted.folder / "digits_cnn_fp32.tflite")


@pytest.mark.slow
def test_bench_report_and_compare(converted, measured):
    assert isinstance(measured, edgekit.BenchResults) and dataclasses.is_dataclass(measured)
    ok = [r for r in measured.records if r.status == "ok"]
    assert {r.file for r in ok} == {"digits_cnn_fp32.tflite", "digits_cnn_int8.tflite"}
    assert {r.target for r in ok} == {"litert:xnnpack"} and all(r.p50_us > 0 for r in ok)
    assert all(r.latency_us["runs"] == 20 for r in ok)
    data = measured.to_dict()
    assert json.loads(json.dumps(data)) == data and data["models"][0]["records"][0]["file"]

    text = edgekit.report(measured)
    assert text.startswith("#") and "| tflite int8 | litert:xnnpack x1 |" in text
    # which file is fastest depends on the CPU (int8 is slower than fp32 on XNNPACK without VNNI)
    assert "**recommended: digits_cnn_fp32.tflite" in text or "**recommended: digits_cnn_int8.tflite" in text
    assert json.loads(edgekit.report(measured, "json"))["models"][0]["name"] == "digits_cnn"

    comparison = edgekit.compare(measured, measured)
    assert isinstance(comparison, edgekit.Comparison) and comparison.passed and not comparison.failures
    verdict = comparison.to_dict()
    assert json.loads(json.dumps(verdict)) == verdict and verdict["passed"] is True

    with pytest.raises(EdgekitError, match="bench=False"):  # nothing measured to report
        edgekit.report(converted)


@pytest.mark.slow
def test_bench_times_latency_in_rounds_when_asked(converted):
    measured = edgekit.bench(converted.artifacts[0].file, runtime="litert:xnnpack", runs=5, warmup=1, repeat=2)
    assert [len(r.latency_us["rounds"]) for r in measured.records] == [2]


@pytest.mark.slow
def test_messages_go_to_the_edgekit_logger(converted, caplog):
    with caplog.at_level(logging.INFO, logger="edgekit"):
        edgekit.bench(converted.artifacts[0].file, runtime="litert:xnnpack", runs=5, warmup=1)
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("edgekit")]
    assert any(m.startswith("measuring digits_cnn_fp32.tflite on litert:xnnpack") for m in messages), messages


def test_errors_name_parameters_from_python_and_flags_on_the_command_line(tmp_path):
    with pytest.raises(EdgekitError) as err:
        edgekit.convert(out=tmp_path, opset=99, bench=False)
    assert str(err.value).startswith("opset=99 is out of range") and "--opset" not in str(err.value)
    with pytest.raises(EdgekitError, match=r"^runs=1 must be 2 or more"):
        edgekit.bench(tmp_path, runs=1)
    with pytest.raises(EdgekitError, match=r"^no such file: digit_cnn: .*did you mean digits_cnn"):
        edgekit.bench("digit_cnn")  # not a file, but close to a zoo name
    with pytest.raises(TypeError, match="opsett"):
        edgekit.convert(opsett=17)
    for quiet in ([], ["-q"]):  # an error shows under -q too, which goes before or after the command
        code, _, stderr = run_cli(*quiet, "convert", "--opset", "99", "--out", tmp_path)
        assert code == 2 and stderr == "edgekit convert: error: --opset 99 is out of range: tf2onnx supports 13 to 18\n"
    assert not any(tmp_path.iterdir())


def test_import_edgekit_stays_light():
    """Neither TensorFlow nor the API's backends load on `import edgekit`; the facade is there."""
    code = ("import sys, edgekit; assert callable(edgekit.convert) and callable(edgekit.report); "
            "import edgekit.results.schema; assert callable(edgekit.report); "
            "print(sorted(m for m in ('tensorflow', 'onnxruntime', 'ai_edge_litert', 'keras') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert done.stdout.strip() == "[]"
    assert (REPO / "edgekit" / "py.typed").is_file()


def test_the_package_shows_its_api_and_a_short_tour():
    """Issue 33: dir(edgekit) is the API (not the modules its __init__ uses), without loading it;
    help(edgekit) opens with a tour of the four calls."""
    code = "import sys, edgekit; print(dir(edgekit)); print('numpy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    names, numpy_loaded = done.stdout.splitlines()
    assert names == str(sorted(edgekit.__all__)) and numpy_loaded == "False"
    assert {"convert", "bench", "report", "compare", "ConversionResult", "BenchResults"} <= set(dir(edgekit))
    assert not {"TYPE_CHECKING", "logging", "sys", "types"} & set(dir(edgekit))
    tour = edgekit.__doc__.strip().split("\n\n")
    assert len(edgekit.__doc__.strip().splitlines()) <= 16
    assert all(f"edgekit.{call}(" in tour[1] for call in ("convert", "bench", "report", "compare"))


@pytest.mark.slow
def test_quiet_convert_prints_only_the_table(tmp_path):
    code, stdout, stderr = run_cli("convert", "-q", "--no-bench", "--tflite", "fp32", "--onnx", "none",
                                   "--out", tmp_path)
    assert code == 0 and stderr == "", stderr
    assert "digits_cnn_fp32.tflite" in stdout
    code, stdout, loud = run_cli("convert", "-v", "--no-bench", "--tflite", "fp32", "--onnx", "none",
                                 "--out", tmp_path)
    assert code == 0 and "loading" in loud and "tflite fp32: convert:" in loud  # -v: where the time went


@pytest.mark.parametrize("command", ["convert", "bench", "report", "compare", "optimize", "debug-quant", "tune",
                                     "train", "zoo", "inspect", "export", "compile", "env"])
def test_every_command_takes_verbose_and_quiet(command):
    from edgekit.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._subparsers._group_actions if a.dest == "command").choices[command]
    options = {s for action in sub._actions for s in action.option_strings}
    assert {"-v", "--verbose", "-q", "--quiet"} <= options
