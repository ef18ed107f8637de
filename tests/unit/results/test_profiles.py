"""What is computed from a per-op profile: shares that add to 100, the top ops, time by op type,
the per-op total against the unprofiled p50, placement, two files' difference, ops that left the
accelerator. On profiles captured with onnxruntime's profiler (tests/data/profiles)."""

from __future__ import annotations

import pytest

from edgekit.results import profiles
from tests.profile_samples import onnxruntime_profile, with_op_on_cpu, xnnpack_profile


def test_summary_of_a_captured_profile():
    profile = onnxruntime_profile("int8-static")
    found = profiles.summary(profile, p50_us=1000.0, top=5)
    assert found["total_us"] == pytest.approx(sum(op["us"] for op in profile["ops"]))
    assert found["ratio"] == pytest.approx(found["total_us"] / 1000.0) and found["p50_us"] == 1000.0
    assert [op["name"] for op in found["rows"]] == [op["name"] for op in profile["ops"]]  # execution order kept
    assert sum(op["share"] for op in found["rows"]) == pytest.approx(100.0)
    assert len(found["top"]) == 5 and [op["us"] for op in found["top"]] == sorted(
        (op["us"] for op in profile["ops"]), reverse=True)[:5]
    by_type = {kind["type"]: kind for kind in found["by_type"]}
    assert sum(kind["count"] for kind in found["by_type"]) == len(profile["ops"])
    assert by_type["DequantizeLinear"]["count"] == sum(op["type"] == "DequantizeLinear" for op in profile["ops"])
    assert [kind["us"] for kind in found["by_type"]] == sorted((kind["us"] for kind in found["by_type"]), reverse=True)
    assert sum(kind["share"] for kind in found["by_type"]) == pytest.approx(100.0)
    assert profiles.summary(profile, None)["ratio"] is None and len(profiles.summary(profile, None)["top"]) == 10
    assert len(profiles.summary(profile, None, top=None)["top"]) == len(profile["ops"])


def test_summary_of_no_time_at_all():
    found = profiles.summary({**xnnpack_profile(), "ops": []}, 5.0)
    assert found["total_us"] == 0 and found["ratio"] == 0 and found["rows"] == found["by_type"] == []


def test_placement():
    assert profiles.placement(onnxruntime_profile()) == {
        "executors": {"CPUExecutionProvider": 15}, "partitions": None, "fully_delegated": None, "left_on_cpu": []}
    split = profiles.placement(with_op_on_cpu(xnnpack_profile(), 3))
    assert split["executors"] == {"XNNPACK": 15, "builtin": 1}  # both partitions are XNNPACK's
    assert split["partitions"] == 2 and split["fully_delegated"] is False
    assert [op["name"] for op in split["left_on_cpu"]] == ["resnet8/stack1_add/add"]


def test_difference_of_fp32_and_int8():
    """Why int8-static is slower than fp32 on onnxruntime: the DequantizeLinear nodes it adds."""
    fp32, int8 = onnxruntime_profile("fp32"), onnxruntime_profile("int8-static")
    rows = profiles.difference(fp32, int8)
    *kinds, total = rows
    assert total["total"] and total["type"] == profiles.TOTAL
    assert total["a_us"] == pytest.approx(sum(op["us"] for op in fp32["ops"]))
    assert total["b_us"] == pytest.approx(sum(op["us"] for op in int8["ops"]))
    assert total["difference_us"] == pytest.approx(total["b_us"] - total["a_us"])
    assert (total["a_count"], total["b_count"]) == (len(fp32["ops"]), len(int8["ops"]))
    assert [abs(r["difference_us"]) for r in kinds] == sorted((abs(r["difference_us"]) for r in kinds), reverse=True)
    dequantize = next(r for r in kinds if r["type"] == "DequantizeLinear")
    assert dequantize["a_count"] == 0 and dequantize["b_count"] > 10 and dequantize["difference_us"] > 0
    assert not any(r.get("total") for r in kinds)


def test_executor_family_and_cpu():
    assert profiles.executor_family("XNNPACK partition 12") == "XNNPACK"
    assert profiles.executor_family("OpenVINO CPU jit_avx2_FP32") == "OpenVINO CPU"  # its kernels are one executor
    profile = xnnpack_profile()
    op = profile["ops"][0]
    for executor, cpu in (("builtin", True), ("reference", True), ("CPUExecutionProvider", True),
                          ("tflm reference kernels", True), ("XNNPACK partition 0", False), ("GPU", False)):
        assert profiles.on_cpu({**op, "executor": executor}, profile) is cpu
    left = with_op_on_cpu(profile, 0)
    assert profiles.on_cpu({**op, "executor": "NPU dispatch"}, left)  # listed in left_on_cpu: the CPU


def test_moved_to_cpu():
    base = xnnpack_profile()
    assert profiles.moved_to_cpu(base, base) == []
    moved = profiles.moved_to_cpu(base, with_op_on_cpu(base, 7))
    assert [(a["name"], b["executor"]) for a, b in moved] == [("resnet8/stack2_add/add", "builtin")]
    renamed = with_op_on_cpu(base, 7)
    for op in renamed["ops"]:
        op["name"] = op["name"].upper()  # names differ (another converter): matched by node id and type
    renamed["left_on_cpu"] = []
    assert [a["index"] for a, _ in profiles.moved_to_cpu(base, renamed)] == [7]
    assert profiles.moved_to_cpu(with_op_on_cpu(base, 7), base) == []  # back on the accelerator: no move
    cpu_only = onnxruntime_profile()
    assert profiles.moved_to_cpu(cpu_only, cpu_only) == []  # it never ran on an accelerator


def test_missing_and_profiled():
    assert profiles.missing({"skipped": "tflm has no per-op profile"}) == "tflm has no per-op profile"
    assert profiles.missing({"failed": "one-op model of CUSTOM could not be built"}) == \
        "failed: one-op model of CUSTOM could not be built"
    assert profiles.missing(xnnpack_profile()) is None and profiles.missing(None) is None
    assert profiles.profiled({"profile": xnnpack_profile()}) == xnnpack_profile()
    assert profiles.profiled({"profile": {"skipped": "no"}}) is None and profiles.profiled({}) is None
    assert profiles.profiled({"profile": {"failed": "no"}}) is None
