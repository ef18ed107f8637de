"""`edgekit profile` and `bench --profile` as users run them, on the default model's real files."""

import json

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow


def test_bench_profile_gives_each_pair_its_ops_beside_the_unprofiled_p50(converted):
    onnx = converted["folder"] / "digits_cnn_fp32.onnx"
    code, out, err = run_cli("bench", onnx, "--runtime", "onnxruntime:cpu", "--runs", "20", "--profile", "3",
                             "--json", "-q")
    assert code == 0, err
    [record] = json.loads(out)["models"][0]["records"]
    profile = record["profile"]
    assert profile["method"] == "profiler" and profile["runs"] == 3
    assert {op["executor"] for op in profile["ops"]} == {"CPUExecutionProvider"}
    assert [op["index"] for op in profile["ops"]] == list(range(len(profile["ops"])))
    assert record["latency_us"]["p50"] > 0 and profile["wall_seconds"] > 0


def test_two_files_of_one_model_show_where_their_times_differ(converted):
    folder = converted["folder"]
    code, out, err = run_cli("profile", folder / "digits_cnn_fp32.onnx", folder / "digits_cnn_int8-static.onnx",
                             "--runtime", "onnxruntime:cpu", "--runs", "20", "--json", "-q")
    assert code == 0, err
    found = json.loads(out)
    [difference] = found["differences"]
    assert (difference["a"], difference["b"]) == ("digits_cnn_fp32.onnx", "digits_cnn_int8-static.onnx")
    kinds = {row["type"] for row in difference["rows"]}
    assert "QLinearConv" in kinds and "Conv" in kinds  # onnxruntime runs the QDQ file as int8 convolutions
    assert [m["name"] for m in found["results"]["models"]] == ["digits_cnn", "digits_cnn"]


def test_a_folder_among_two_paths_is_refused_in_one_line(converted):
    folder = converted["folder"]
    code, out, err = run_cli("profile", folder, folder / "digits_cnn_fp32.onnx", "--runtime", "onnxruntime:cpu")
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0 and "is not a file" in err and "Traceback" not in err


def test_a_target_without_a_profiler_is_said_not_failed(converted):
    code, out, err = run_cli("bench", converted["folder"] / "digits_cnn_fp32.onnx", "--runtime", "onnxruntime:cpu",
                             "--runs", "20", "--profile", "0", "--json", "-q")
    assert code == 0, err
    [record] = json.loads(out)["models"][0]["records"]
    assert "profile" not in record  # not asked for: the results are as they were


def test_the_table_puts_the_per_op_total_beside_the_unprofiled_p50(converted):
    code, out, err = run_cli("profile", converted["folder"] / "digits_cnn_fp32.tflite", "--runtime",
                             "litert:xnnpack,litert-compiled:gpu", "--runs", "20", "--top", "3", "-q")
    assert code == 0, err
    assert "x the unprofiled p50" in out and "(profiled runs are never latency)" in out
    assert "top 3 by time:" in out and "by op type:" in out and "placement: XNNPACK" in out
    assert out.count("litert-compiled:gpu: skipped") == 1  # said once, not as a profile


def test_compare_fails_when_an_op_leaves_xnnpack_for_the_cpu(tmp_path):
    """The same file name, before and after a change that put an op XNNPACK cannot take (CUMSUM)
    between two it does: the partitions rise and the op is named."""
    from tests.tflite_models import conv_tflite

    runs = {}
    for name, cumsum in (("before", False), ("after", True)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.tflite").write_bytes(conv_tflite(cumsum=cumsum))
        code, _, err = run_cli("bench", tmp_path / name / "model.tflite", "--runtime", "litert:xnnpack",
                               "--runs", "20", "--profile", "3", "-q", "--output", tmp_path / f"{name}.json")
        assert code == 0, err
        runs[name] = tmp_path / f"{name}.json"
    code, out, err = run_cli("compare", runs["before"], runs["before"])
    assert code == 0, out + err
    code, out, err = run_cli("compare", runs["before"], runs["after"], "--max-latency-regression", "10")
    assert code == 1
    assert "partitions" in out and "CUMSUM" in out
