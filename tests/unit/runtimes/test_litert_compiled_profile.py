"""litert-compiled's per-op profile: LiteRT CompiledModel's own profiler (through the wheel's C
API) on CPU, and OpenVINO's per-node counters for the NPU target through Intel's dispatch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgekit.core.errors import BackendUnavailable
from edgekit.runtimes import litert_profiler
from edgekit.runtimes.base import check_profile
from edgekit.runtimes.litert_compiled import LiteRTCompiledRuntime, intel_dispatch
from edgekit.runtimes.openvino_profile import openvino_ops
from tests.tflite_models import conv_pair

DATA = Path(__file__).parents[2] / "data" / "openvino"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return conv_pair(tmp_path_factory.mktemp("profile-models"))


FEED = {"x": np.random.default_rng(1).random((1, 32, 32, 8), dtype=np.float32)}


def _profile(path, runs=30, **options):
    """The installed wheel is the one the profiler was written for (pyproject pins it): a profile
    that is unavailable here fails the test, never skips it."""
    return LiteRTCompiledRuntime().profile(path, FEED, runs, **options)


def test_a_fully_delegated_file_is_one_xnnpack_partition_of_xnnpacks_own_ops(models):
    found = _profile(models["conv"])
    check_profile(found)
    assert found["method"] == "profiler" and 0 < found["runs"] <= 30
    assert [op["type"] for op in found["ops"]] == ["Convolution (NHWC, F32) IGEMM"] * 2
    assert [op["executor"] for op in found["ops"]] == ["XNNPACK partition 0"] * 2
    assert [op["index"] for op in found["ops"]] == [0, 1]  # XNNPACK's own operator indices
    assert all(op["us"] > 0 for op in found["ops"])  # every share positive
    assert (found["partitions"], found["fully_delegated"], found["left_on_cpu"]) == (1, True, [])


def test_an_op_xnnpack_does_not_take_runs_builtin_between_two_partitions(models):
    found = _profile(models["mixed"])
    rows = [(op["index"], op["type"], op["executor"]) for op in found["ops"]]
    assert rows == [(0, "Convolution (NHWC, F32) IGEMM", "XNNPACK partition 0"),
                    (1, "CUMSUM", "builtin"),  # the interpreter's event carries the TFLite node index
                    (0, "Convolution (NHWC, F32) IGEMM", "XNNPACK partition 1")]
    assert all(op["us"] > 0 for op in found["ops"])
    assert found["partitions"] == 2 and found["fully_delegated"] is False
    assert [(op["index"], op["type"]) for op in found["left_on_cpu"]] == [(1, "CUMSUM")]
    assert "XNNPACK did not take it" in found["left_on_cpu"][0]["reason"]


def test_the_profiler_refuses_a_wheel_whose_c_api_it_was_not_written_for():
    exported = set(litert_profiler.REQUIRED_SYMBOLS)
    assert litert_profiler.abi_mismatch("2.3.0", exported) is None
    assert litert_profiler.abi_mismatch("2.4.0", exported) == (
        "ai-edge-litert 2.4.0: its C profiler API differs from the one edgekit reads (written for 2.3.0)")
    lacking = litert_profiler.abi_mismatch("2.3.0", exported - {"LiteRtGetProfilerEvents"})
    assert lacking.endswith("libLiteRt.so lacks LiteRtGetProfilerEvents")


def test_another_wheel_makes_the_profile_a_skip_with_its_reason(models, monkeypatch):
    monkeypatch.setattr(litert_profiler, "installed_version", lambda: "2.9.0")
    litert_profiler.library.cache_clear()
    try:
        with pytest.raises(BackendUnavailable, match=r"ai-edge-litert 2\.9\.0: its C profiler API differs"):
            LiteRTCompiledRuntime().profile(models["conv"], FEED, 3)
    finally:
        litert_profiler.library.cache_clear()


def _placement(fully: bool) -> dict:
    """LiteRT's placement of a file on the NPU through Intel's dispatch, as _profile_compiled gives it."""
    left = [] if fully else [{"index": 15, "name": "node 15", "type": "SOFTMAX", "reason": "NPU did not take it"}]
    ops = [{"index": 16, "name": "NPU partition 0 (node 16)", "type": "DELEGATE", "executor": "NPU partition 0",
            "us": 300.0}]
    return {"method": "profiler", "runs": 3, "ops": ops, "partitions": 1, "fully_delegated": fully,
            "left_on_cpu": left}


def test_openvinos_rows_become_ops_in_its_order_without_the_fused_ones():
    captured = json.loads((DATA / "resnet8_cpu_profiling_info.json").read_text())["infers"]
    for infers in captured.values():
        found = openvino_ops(infers, "CPU", _placement(fully=True))
        check_profile(found)
        executed = [r for r in infers[0] if r["status"] == "EXECUTED"]
        assert [op["name"] for op in found["ops"]] == [r["node_name"] for r in executed]
        assert [op["index"] for op in found["ops"]] == sorted(op["index"] for op in found["ops"])
        assert found["fused"] == sum(r["status"] == "NOT_RUN" and r["node_type"] not in ("Parameter", "Result")
                                     for r in infers[0])
        first = found["ops"][0]
        mean = np.mean([next(r["real_time_us"] for r in rows if r["node_name"] == first["name"]) for rows in infers])
        assert first["us"] == pytest.approx(mean) and first["us"] > 0
        assert (found["partitions"], found["fully_delegated"], found["left_on_cpu"]) == (1, True, [])
        assert f"partitions took 300 µs a run, OpenVINO's nodes here {sum(op['us'] for op in found['ops']):.0f} µs" \
            in found["note"]
    int8 = openvino_ops(captured["resnet8_int8.tflite"], "CPU", _placement(fully=False))
    assert {op["executor"] for op in int8["ops"] if op["type"] == "Convolution"} <= {
        "OpenVINO CPU jit_avx2_I8", "OpenVINO CPU jit_avx2_1x1_I8"}
    assert "OpenVINO compiles the whole file here" in int8["note"] and int8["fully_delegated"] is False
    assert [op["type"] for op in int8["left_on_cpu"]] == ["SOFTMAX"]


@pytest.mark.skipif(intel_dispatch() is None, reason="Intel OpenVINO's dispatch (the [npu] extra) is not installed")
def test_the_npu_through_intels_dispatch_is_profiled_by_openvino(models):
    found = _profile(models["mixed"], runs=5, accelerator="npu", npu_backend="cpu")
    assert found["method"] == "profiler"
    assert (found["partitions"], found["fully_delegated"], found["left_on_cpu"]) == (1, True, [])  # CUMSUM too
    assert [op["type"] for op in found["ops"]].count("Convolution") == 2 and "CumSum" in [
        op["type"] for op in found["ops"]]
    nodes = [op for op in found["ops"] if op["type"] != "DISPATCH"]
    assert all(op["executor"].startswith("OpenVINO CPU ") for op in nodes) and all(op["us"] > 0 for op in nodes)
    # what a plain run through LiteRT's dispatch takes beyond OpenVINO's own infer: one row, or none
    assert [op["executor"] for op in found["ops"] if op["type"] == "DISPATCH"] in ([], ["LiteRT dispatch"])
    assert "a plain run through LiteRT's dispatch took" in found["note"]


def test_an_npu_that_did_not_register_is_no_profile_of_the_cpu(models, tmp_path):
    with pytest.raises(BackendUnavailable, match=r"no dispatch library \(libLiteRtDispatch_\*\.so\)"):
        LiteRTCompiledRuntime().profile(models["conv"], FEED, 3, accelerator="npu", dispatch_library=str(tmp_path))
