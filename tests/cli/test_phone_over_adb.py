"""An Android phone over the real adb (Debian's package, installed by .ci/run). No phone is
attached here, so its rows are skipped with adb's own message; what the phone's tool reports is
tested on real output in tests/unit/runners/test_phone.py."""

import json

import pytest

from tests.conftest import run_cli
from tests.require import require

pytestmark = pytest.mark.slow  # each test starts adb's server
require("adb")


def test_with_no_phone_the_rows_are_skipped_with_adb_s_message(converted, tmp_path):
    binary = tmp_path / "android_aarch64_benchmark_model"
    binary.write_bytes(b"\x7fELF")  # never run: the phone is missing before the tool is needed
    code, stdout, stderr = run_cli("bench", converted["folder"], "--device", "local,adb://edgekit-test-no-phone",
                                   "--benchmark-binary", binary, "--runtime", "litert:xnnpack,onnxruntime:cpu",
                                   "--runs", "20", "--output", tmp_path / "r.json")
    assert code == 0, stderr
    records = json.loads((tmp_path / "r.json").read_text())["models"][0]["records"]
    phone = [r for r in records if r["device"] == "adb://edgekit-test-no-phone"]
    tflite = [r for r in phone if r["format"] == "tflite"]
    assert tflite and all(r["status"] == "skipped" and r["runner"] == "adb" for r in phone)
    assert {r["reason"] for r in tflite} == {
        "adb says \"error: device 'edgekit-test-no-phone' not found\": attach the phone with USB debugging on and "
        "accept its prompt (`adb devices` lists it)"}
    assert all("onnxruntime is not measured on an Android phone" in r["reason"] for r in phone if r["format"] == "onnx")
    assert all(r["status"] == "ok" for r in records if r["device"] == "local")  # this machine's rows still ran
    assert "on adb://edgekit-test-no-phone skipped for" in " ".join(stdout.split())  # notes wrap


def test_a_phone_needs_the_benchmark_binary(converted, tmp_path):
    code, stdout, stderr = run_cli("bench", converted["folder"], "--device", "adb")
    assert code == 2 and stdout == ""
    assert stderr.strip().splitlines() == [
        "edgekit bench: error: --device adb measures with LiteRT's benchmark_model on the phone: give the binary for "
        "its ABI with --benchmark-binary PATH (e.g. android_aarch64_benchmark_model, from LiteRT's releases or "
        "TensorFlow's nightly builds)"]
    code, _, stderr = run_cli("bench", converted["folder"], "--device", "adb", "--benchmark-binary", tmp_path / "no")
    assert code == 2 and stderr.strip().endswith(f"--benchmark-binary {tmp_path / 'no'}: no such file")


def test_env_describes_a_missing_phone_in_one_line():
    code, stdout, stderr = run_cli("env", "--device", "adb://edgekit-test-no-phone")
    assert code == 2 and stdout == ""
    assert stderr.strip() == ("edgekit env: error: adb says \"error: device 'edgekit-test-no-phone' not found\": "
                              "attach the phone with USB debugging on and accept its prompt (`adb devices` lists it)")
