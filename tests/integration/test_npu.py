"""LiteRT's NPU path for real: ahead-of-time compilation with the vendors' plugins, and runs
through Intel OpenVINO's dispatch (its CPU graph backend: the one device here). With the [npu]
extra absent, the same commands give skipped rows naming how to install it."""

import importlib.util
import json

import pytest

from tests.conftest import folder_state, run_cli
from tests.corpus import cases
from tests.require import require

pytestmark = pytest.mark.slow  # compiles for NPUs with OpenVINO's plugins

OPENVINO = importlib.util.find_spec("openvino") is not None


def test_compile_reports_the_coverage_per_target_and_skips_a_missing_sdk(converted, tmp_path):
    model = converted["folder"] / "digits_cnn_int8.tflite"
    code, stdout, stderr = run_cli("compile", model, "--npu", "intel_openvino:LNL,qualcomm:SM8650",
                                   "--npu-backend", "cpu", "--out", tmp_path)
    assert code == 0, stderr
    folder = tmp_path / "digits_cnn_int8-npu"
    records = {r["vendor"]: r for r in json.loads((folder / "compile.json").read_text())["targets"]}
    qualcomm = records["qualcomm"]
    assert qualcomm["status"] == "skipped" and "libQnnHtp.so" in qualcomm["reason"] and "QNN SDK" in qualcomm["reason"]
    intel = records["intel_openvino"]
    if not OPENVINO:
        assert intel["status"] == "skipped" and '".[npu]"' in intel["reason"]
    require("openvino")  # the rest compiles and runs through Intel's dispatch
    assert intel["status"] == "ok" and intel["fully_offloaded"], intel
    assert intel["offloaded"] == intel["ops"] == 8 and intel["on_cpu"] == {}
    assert (folder / intel["file"]).stat().st_size > 0
    assert "8 of 8 ops offloaded" in stdout

    code, stdout, _ = run_cli("inspect", folder / intel["file"], "--delegates")
    assert code == 0 and "npu (compiled ahead of time): 1 of 1 ops in 1 partition; on CPU: none" in stdout
    # the compiled file runs as compiled, through the dispatch (LiteRT's CPU kernels cannot load it)
    code, _, stderr = run_cli("bench", folder / intel["file"], "--runtime", "litert-compiled:npu", "--npu-backend",
                              "cpu", "--runs", "20", "--output", tmp_path / "compiled.json")
    assert code == 0, stderr
    record = json.loads((tmp_path / "compiled.json").read_text())["models"][0]["records"][0]
    assert record["status"] == "ok" and record["details"]["dispatch"] == "Intel OpenVINO dispatch, CPU backend"
    # compile.json keeps the converted file's float model: the compiled file is judged against it (issue 33)
    assert json.loads((folder / "compile.json").read_text())["source"] == converted["manifest"]["source"]
    assert record["fidelity"]["sqnr_db"] > 25 and record["accuracy"]["drop_points"] <= 1.0, record


def test_the_npu_target_runs_through_intel_openvino_s_dispatch_or_says_why_not(converted, tmp_path):
    code, stdout, stderr = run_cli("bench", converted["folder"], "--runtime", "litert-compiled:npu",
                                   "--npu-backend", "cpu", "--output", tmp_path / "npu.json")
    assert code == 0, stderr
    rows = {r["artifact"]: r for r in json.loads((tmp_path / "npu.json").read_text())["models"][0]["records"]}
    int8, fp32 = rows["digits_cnn_int8.tflite"], rows["digits_cnn_fp32.tflite"]
    if not OPENVINO:
        assert int8["status"] == "skipped" and '".[npu]"' in int8["reason"]
    require("openvino")  # the rest runs through Intel's dispatch
    assert int8["status"] == "ok", int8
    assert int8["details"]["dispatch"] == "Intel OpenVINO dispatch, CPU backend" and int8["details"]["fully_accelerated"]
    assert int8["details"]["dispatch_library_loaded"] is True  # in the worker that ran it
    assert int8["fidelity"]["sqnr_db"] > 30 and int8["accuracy"]["drop_points"] <= 1.0
    # a float file: OpenVINO computes it in its own precision (bfloat16 on CPUs with AVX512_BF16 or AMX,
    # float32 elsewhere), and where that is less than float32 it is judged against that precision's floor
    assert fp32["status"] == "ok" and fp32["details"]["precision"] in ("float32", "bfloat16", "float16")
    if fp32["details"]["precision"] == "float32":
        assert "precision_floor" not in fp32 and fp32["fidelity"]["sqnr_db"] > 60
    else:
        assert fp32["precision_floor"]["precision"] == fp32["details"]["precision"]
        assert fp32["precision_floor"]["reason"] is None

    code, stdout, stderr = run_cli("bench", converted["folder"] / "digits_cnn_int8.tflite", "--runtime",
                                   "litert-compiled:npu", "--output", tmp_path / "no_npu.json")
    record = json.loads((tmp_path / "no_npu.json").read_text())["models"][0]["records"][0]
    assert record["status"] == "skipped" and "no NPU device here" in record["reason"], record


def _tiny(folder, edit=None, name="tiny.tflite"):
    from tests.corpus.tflite_builder import tiny_tflite

    (folder / name).write_bytes(tiny_tflite(edit))
    return folder / name


@pytest.mark.skipif(not OPENVINO, reason="needs the [npu] extra (openvino) for a first compile that succeeds")
def test_a_compile_where_every_target_is_skipped_keeps_the_folder_it_would_replace(tmp_path):
    model, out = _tiny(tmp_path), tmp_path / "keep"
    code, _, stderr = run_cli("compile", model, "--npu", "intel_openvino:LNL", "--npu-backend", "cpu", "--out", out)
    assert code == 0, stderr
    before = folder_state(out)
    assert "tiny-npu/tiny_intel_openvino_LNL.tflite" in before
    code, stdout, stderr = run_cli("compile", model, "--npu", "qualcomm:SM8650,google_tensor:Tensor_G3", "--out", out)
    assert code == 2 and stdout == "" and "Traceback" not in stderr
    [line] = stderr.strip().splitlines()
    assert "no target compiled" in line and "libQnnHtp.so" in line and f"nothing was written to {out / 'tiny-npu'}" in line
    assert folder_state(out) == before  # byte for byte


@pytest.mark.skipif(not OPENVINO, reason="needs the [npu] extra (openvino)")
def test_a_target_named_twice_is_compiled_and_recorded_once(tmp_path):
    code, stdout, stderr = run_cli("compile", _tiny(tmp_path), "--npu", "intel_openvino:LNL, intel_openvino:LNL",
                                   "--npu-backend", "cpu", "--out", tmp_path)
    assert code == 0, stderr
    [target] = json.loads((tmp_path / "tiny-npu" / "compile.json").read_text())["targets"]
    assert target["target"] == "intel_openvino:LNL" and stdout.count("intel_openvino:LNL") == 1


@pytest.mark.skipif(not OPENVINO, reason="needs the [npu] extra (openvino)")
def test_a_failed_compile_gives_the_plugin_s_reason_not_its_last_info_line(tmp_path):
    """An op the plugin does not know (a builtin code past this LiteRT's list: a valid file from a
    newer converter) fails the one target: exit 2, the plugin's own words, nothing written."""

    def unknown_op(model):
        model.operatorCodes[0].builtinCode = 250

    code, stdout, stderr = run_cli("compile", _tiny(tmp_path, unknown_op), "--npu", "intel_openvino:LNL",
                                   "--npu-backend", "cpu", "--out", tmp_path / "out")
    assert code == 2 and "Traceback" not in stderr
    [line] = stderr.strip().splitlines()
    assert "intel_openvino compile failed: op type 250 is not supported" in line and "INFO" not in line
    assert not (tmp_path / "out" / "tiny-npu").exists()


@pytest.mark.skipif(not OPENVINO, reason="needs the [npu] extra (openvino)")
def test_a_model_the_plugin_cannot_load_is_a_failed_compile_not_a_missing_plugin(tmp_path):
    """`compile` refuses a damaged file before any plugin sees it; past that check (as here, called
    directly), LiteRT's "Failed to load model from file" is still the model's fault, not the SDK's."""
    from edgekit.hardware.npu_compile import compile_for

    [record] = compile_for(cases.CORPUS / "compile" / "bad_buffer_index.tflite", "intel_openvino", "LNL", tmp_path,
                           "cpu")
    assert record["status"] == "failed" and record["reason"] == "intel_openvino compile failed: Buffer index out of range"


@pytest.mark.skipif(not OPENVINO, reason="needs the [npu] extra (openvino)")
def test_a_vendor_alone_compiles_every_soc_its_plugin_knows(tmp_path):
    """Issue 33: `--npu intel_openvino` is LiteRT's ALL: a file per SoC; a vendor whose SDK is
    missing is one skipped row, not one per SoC. The npu backend's fix is said once, up front."""
    tiny = _tiny(tmp_path)
    code, stdout, stderr = run_cli("compile", tiny, "--npu", "intel_openvino,qualcomm", "--npu-backend", "cpu",
                                   "--out", tmp_path / "all")
    assert code == 0, stderr
    records = {r["target"]: r for r in json.loads((tmp_path / "all" / "tiny-npu" / "compile.json").read_text())["targets"]}
    assert set(records) == {"intel_openvino:LNL", "intel_openvino:PTL", "qualcomm:ALL"}, records
    for soc in ("LNL", "PTL"):
        assert records[f"intel_openvino:{soc}"]["status"] == "ok"
        assert (tmp_path / "all" / "tiny-npu" / f"tiny_intel_openvino_{soc}.tflite").stat().st_size > 0
    assert records["qualcomm:ALL"]["status"] == "skipped"
    assert [line.split(":")[0] for line in stdout.splitlines() if "libQnnHtp.so" in line] == ["qualcomm"]

    code, stdout, stderr = run_cli("compile", tiny, "--npu", "intel_openvino:LNL,intel_openvino:PTL",
                                   "--out", tmp_path / "npu")
    if code == 0:  # Intel's NPU driver and compiler are here
        return
    [line] = stderr.strip().splitlines()
    fix = "--npu-backend cpu compiles for OpenVINO's CPU plugin on any machine"
    assert line.count(fix) == 1 and line.index(fix) < line.index("intel_openvino:LNL: skipped"), line
