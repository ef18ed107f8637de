"""The NPU targets `compile --npu` names: LiteRT's own vendor and SoC lists (issue 33: a vendor
alone is its ALL, every SoC its compiler plugin knows)."""

import pytest

from edgekit.core.errors import EdgekitError
from edgekit.hardware.npu_compile import backend_note, parse_targets

pytest.importorskip("ai_edge_litert.aot")


def test_a_vendor_alone_is_every_soc_its_plugin_knows_and_covers_the_ones_named():
    assert parse_targets("intel_openvino") == [("intel_openvino", "ALL")]
    assert parse_targets("intel_openvino:LNL, intel_openvino, qualcomm:SM8650") == [
        ("intel_openvino", "ALL"), ("qualcomm", "SM8650")]
    assert parse_targets("intel_openvino:LNL,intel_openvino:PTL") == [("intel_openvino", "LNL"), ("intel_openvino", "PTL")]
    with pytest.raises(EdgekitError, match="intel_openvino has no SoC 'XYZ'; LiteRT knows ALL, LNL, PTL"):
        parse_targets("intel_openvino:XYZ")


def test_the_npu_backends_fix_is_said_once_for_the_targets_it_stopped():
    reason = ("the intel_openvino plugin did not load: libopenvino_intel_npu_compiler_loader.so: cannot open shared "
              "object file; the npu graph backend needs Intel's NPU driver and compiler (linux-npu-driver)")
    skipped = [{"status": "skipped", "reason": reason}] * 2
    assert "--npu-backend cpu compiles for OpenVINO's CPU plugin on any machine" in backend_note(skipped)
    assert backend_note([{"status": "skipped", "reason": "the qualcomm plugin did not load: libQnnHtp.so"}]) is None
