"""An Android phone's rows: LiteRT's benchmark_model read from its real output (tests/data/
benchmark_model, each file's source in SOURCES.md), its flags per target, the phone's fingerprint
and the binary's ABI; and the reports of a results file holding a phone's rows."""

import json
import shutil
from pathlib import Path

import pytest

from edgekit.core.errors import BackendUnavailable, EdgekitError
from edgekit.render import html, markdown
from edgekit.render.table import bench_table, record_line
from edgekit.results import compare, schema
from edgekit.runners import adb, benchmark_model
from edgekit.runners.devices import Phone, find
from tests.results_sample import sample_results

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "benchmark_model"


def test_a_cpu_report_gives_the_timed_runs_not_the_warm_up():
    found = benchmark_model.parse((SAMPLES / "cpu_tensorflow_42507.txt").read_text())
    assert found["latency_us"] == {"mean": 33209.4, "std": 450.0, "min": 32641.0, "max": 34005.0,
                                   "cv": round(450 / 33209.4, 4), "runs": 50, "statistic": "mean"}
    assert found["cold"] == {"load_us": 855.0, "first_inference_us": 49060.0, "cold_start_us": 49915.0}
    assert found["memory"]["peak_over_start_bytes"] == round(12.8672 * 2**20)  # the older wording
    assert found["details"] == {"tool": "benchmark_model", "accelerator": "cpu"}
    assert found["throughput"]["samples_per_s"] == round(1e6 / 33209.4, 1)


def test_a_gpu_report_says_the_whole_graph_was_delegated():
    found = benchmark_model.parse((SAMPLES / "gpu_tensorflow_43541.txt").read_text())
    assert found["details"] == {"tool": "benchmark_model", "accelerator": "gpu", "delegate": "gpu",
                                "fully_accelerated": True}
    assert found["latency_us"]["mean"] == 119375.0 and found["latency_us"]["runs"] == 50
    assert found["cold"]["load_us"] == 870557.0


def test_a_logcat_report_with_nnapi_partly_delegated():
    found = benchmark_model.parse((SAMPLES / "nnapi_logcat_tensorflow_56301.txt").read_text())
    assert found["details"]["accelerator"] == "npu" and found["details"]["fully_accelerated"] is False
    assert found["latency_us"]["runs"] == 75 and found["latency_us"]["mean"] == 12167.6
    assert "peak_over_start_bytes" not in found["memory"]  # that report has no memory line


def test_newer_memory_wording_and_runs_that_all_took_the_same_time():
    report = ("count=3 curr=120\nInference timings in us: Init: 10, First inference: 200, Warmup (avg): 150, "
              "Inference (avg): 120\nMemory footprint delta from the start of the tool (MB): init=10.7383 "
              "overall=12.1055\n")
    found = benchmark_model.parse(report)
    assert found["latency_us"]["mean"] == 120.0 and found["latency_us"]["std"] == 0.0
    assert found["memory"]["peak_over_start_bytes"] == round(12.1055 * 2**20)


def test_a_report_without_timings_fails_with_the_tool_s_last_lines():
    with pytest.raises(EdgekitError, match="printed no timings: Loaded model m.tflite / ERROR: Didn't find op"):
        benchmark_model.parse("STARTING!\nLoaded model m.tflite\nERROR: Didn't find op for builtin opcode\n")


@pytest.mark.parametrize("stat, problem", [
    ("count=50 first=5 curr=5 min=5 max=9 avg=1e999 std=1",  # float("1e999") is inf
     "latency_us.mean is Infinity, which should be a finite number"),
    ("count=0 curr=120", "latency_us.runs is 0, which should be greater than or equal to 1"),
    ("count=50 first=5 curr=5 min=5 max=9 avg=1.2.3 std=1", "benchmark_model printed a figure that is not a number"),
])
def test_a_report_whose_figures_no_run_gives_is_one_line_not_a_crash(stat, problem):
    """A phone is another machine: its tool's words are checked as a worker's reply is."""
    report = (f"{stat}\nInference timings in us: Init: 10, First inference: 200, Warmup (avg): 150, "
              "Inference (avg): 120\n")
    with pytest.raises(EdgekitError, match="^benchmark_model") as caught:
        benchmark_model.parse(report)
    assert problem in str(caught.value)


def test_a_phone_whose_core_count_is_no_number_has_none():
    assert adb.fingerprint("[ro.product.cpu.abi]: [arm64-v8a]\n", "\u00b2\n")["cpu"]["cores"] == 0  # "²".isdigit()


@pytest.mark.parametrize("runtime, options, flags", [
    ("litert", {"kernels": "xnnpack", "threads": 4}, ["--use_xnnpack=true", "--num_threads=4"]),
    ("litert", {"kernels": "builtin", "threads": 1}, ["--use_xnnpack=false", "--num_threads=1"]),
    ("litert-compiled", {"accelerator": "gpu"}, ["--use_gpu=true"]),
    ("litert-compiled", {"accelerator": "npu", "threads": 2}, ["--use_nnapi=true", "--num_threads=2"]),
])
def test_each_target_becomes_the_tool_s_flags(runtime, options, flags):
    assert benchmark_model.target_flags(runtime, options) == flags


@pytest.mark.parametrize("runtime, options, reason", [
    ("litert", {"kernels": "reference"}, "no reference-kernel mode"),
    ("litert", {"kernels": "xnnpack", "delegate": "libx.so"}, "--external_delegate_path"),
    ("litert-compiled", {"accelerator": "cpu"}, "litert:xnnpack is its CPU figure"),
    ("onnxruntime", {"provider": "CPUExecutionProvider"}, "onnxruntime is not measured on an Android phone"),
])
def test_a_target_the_tool_cannot_run_is_skipped_with_why(runtime, options, reason):
    with pytest.raises(BackendUnavailable, match=reason):
        benchmark_model.target_flags(runtime, options)


def test_the_command_runs_exactly_the_runs_asked_for():
    line = benchmark_model.command("./benchmark_model", "m.tflite", ["--use_xnnpack=true"], 200, 20, 41.6)
    assert line == ["./benchmark_model", "--graph=m.tflite", "--use_xnnpack=true", "--num_runs=200",
                    "--warmup_runs=20", "--min_secs=0", "--warmup_min_secs=0", "--max_secs=42"]


def test_the_phone_fingerprint_comes_from_getprop():
    getprop = ("[ro.product.manufacturer]: [Google]\n[ro.product.model]: [Pixel 8]\n[ro.soc.manufacturer]: [Google]\n"
               "[ro.soc.model]: [Tensor G3]\n[ro.build.version.release]: [14]\n[ro.build.version.sdk]: [34]\n"
               "[ro.product.cpu.abi]: [arm64-v8a]\n[ro.build.fingerprint]: [google/shiba/shiba:14/AP1A]\n")
    phone = adb.fingerprint(getprop, "9\n")
    assert phone["phone"] == "Google Pixel 8" and phone["abi"] == "arm64-v8a"
    assert phone["cpu"] == {"name": "Google Tensor G3", "cores": 9, "machine": "arm64-v8a"}
    assert phone["platform"] == "Android 14 (SDK 34), arm64-v8a"


def test_the_binary_s_abi_is_read_from_its_elf_header(tmp_path):
    host = adb.elf_abi(Path(shutil.which("true")))
    assert host in ("x86_64", "arm64-v8a")  # this machine's own executables
    script = tmp_path / "benchmark_model"
    script.write_text("#!/bin/sh\n")
    assert adb.elf_abi(script) is None


def test_adb_device_names(tmp_path):
    assert find("adb") == Phone("adb")
    assert find("adb://emulator-5554", benchmark_binary="bm") == Phone("adb://emulator-5554", "emulator-5554", "bm")
    devices = tmp_path / "devices.toml"
    devices.write_text('[pixel8]\nadb = "39081FDJH00A2B"\nbenchmark_binary = "/opt/bm"\nnotes = "test phone"\n')
    assert find("pixel8", str(devices)) == Phone("pixel8", "39081FDJH00A2B", "/opt/bm", "test phone")
    assert find("pixel8", str(devices), benchmark_binary="/other").benchmark_binary == "/other"


def phone_results() -> dict:
    """The sample results with the int8 file also measured on a phone by benchmark_model."""
    data = sample_results()
    model = data["models"][0]
    phone = benchmark_model.parse((SAMPLES / "cpu_tensorflow_42507.txt").read_text())
    model["records"].append({**{k: v for k, v in model["records"][3].items() if k in (
        "artifact", "format", "variant", "runtime", "target", "threads", "size_bytes", "gzip_bytes")},
        "device": "pixel8", "runner": "adb", "status": "ok", **phone, "accuracy": None, "fidelity": None})
    data["devices"] = {"pixel8": adb.fingerprint("[ro.product.model]: [Pixel 8]\n[ro.product.cpu.abi]: "
                                                 "[arm64-v8a]\n", "8")}
    return data


def test_a_phone_s_rows_show_the_mean_marked_in_every_report(tmp_path):
    data = phone_results()
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    loaded = schema.read(path)  # valid without percentiles
    model = loaded["models"][0]
    phone = model["records"][-1]
    assert record_line(phone).endswith("on litert:xnnpack x1 on pixel8: mean 33209.4 us")
    table = bench_table(model)
    assert "33209.4*" in table and schema.MEAN_NOTE in table
    text = markdown.render(loaded)
    assert "33,209.4\\*" in text and "- \\* the mean: benchmark_model" in text  # Markdown escapes the mark
    page = html.render(loaded)
    assert "33,209.4*" in page and "Pixel 8" in page


def test_a_mean_without_its_spread_is_refused(tmp_path):
    data = phone_results()
    del data["models"][0]["records"][-1]["latency_us"]["std"]
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    with pytest.raises(EdgekitError, match=r"latency_us\.std"):
        schema.read(path)


def test_compare_gates_a_phone_s_mean_with_its_plain_spread(tmp_path):
    base, now = phone_results(), phone_results()
    before = base["models"][0]["records"][-1]["latency_us"]
    before["rounds"] = [before["mean"]] * 3  # timed in rounds (bench --repeat 3): latency is gated
    slower = now["models"][0]["records"][-1]["latency_us"]
    slower["mean"] *= 1.5
    slower["rounds"] = [slower["mean"]] * 3
    result = compare.compare(base, now, compare.Gates(max_latency_regression=0.1))
    assert any("mean +50.0%" in f.message and f.level == compare.FAIL for f in result.findings)
