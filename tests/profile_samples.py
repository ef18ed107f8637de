"""Per-op profiles (runtimes/base.py's contract) for the results, compare and render tests: two
captured with onnxruntime's profiler on the zoo's resnet8 (tests/data/profiles/SOURCES.md), and
the zoo's resnet8_fp32.tflite on XNNPACK as LiteRT's isolated method reports it (its real 16
operators, in order, with their tensor names; times of that order of size), to edit for placement."""

from __future__ import annotations

import copy
import json
from pathlib import Path

PROFILES = Path(__file__).parent / "data" / "profiles"

# (type, output tensor name, mean us) of resnet8_fp32.tflite's operators, in execution order
_RESNET8_TFLITE = [
    ("CONV_2D", "resnet8/relu0/Relu", 14.1), ("CONV_2D", "resnet8/stack1_relu1/Relu", 31.9),
    ("CONV_2D", "resnet8/stack1_conv2/Conv2D1", 32.4), ("ADD", "resnet8/stack1_add/add", 4.2),
    ("CONV_2D", "resnet8/stack2_relu1/Relu", 17.8), ("CONV_2D", "resnet8/stack2_conv2/Conv2D1", 29.6),
    ("CONV_2D", "resnet8/stack2_shortcut/Conv2D", 3.9), ("ADD", "resnet8/stack2_add/add", 2.3),
    ("CONV_2D", "resnet8/stack3_relu1/Relu", 16.7), ("CONV_2D", "resnet8/stack3_conv2/Conv2D1", 30.2),
    ("CONV_2D", "resnet8/stack3_shortcut/Conv2D", 3.6), ("ADD", "resnet8/stack3_add/add", 1.4),
    ("AVERAGE_POOL_2D", "resnet8/pool/AvgPool", 1.1), ("RESHAPE", "resnet8/flatten/Reshape", 0.3),
    ("FULLY_CONNECTED", "resnet8/probs/MatMul", 0.9), ("SOFTMAX", "StatefulPartitionedCall:0", 0.6),
]


def onnxruntime_profile(variant: str = "fp32") -> dict:
    """resnet8_{variant}.onnx (fp32 or int8-static) on onnxruntime's CPU provider, as captured."""
    return json.loads((PROFILES / f"ort_resnet8_{variant}.json").read_text())


def xnnpack_profile() -> dict:
    """resnet8_fp32.tflite with XNNPACK taking every op in one partition."""
    return copy.deepcopy({
        "method": "isolated", "runs": 100, "partitions": 1, "fully_delegated": True, "left_on_cpu": [],
        "ops": [{"index": i, "name": name, "type": kind, "executor": "XNNPACK partition 0", "us": us}
                for i, (kind, name, us) in enumerate(_RESNET8_TFLITE)]})


def with_op_on_cpu(profile: dict, index: int, reason: str = "XNNPACK does not take this op here") -> dict:
    """`profile` with op `index` left on LiteRT's builtin kernels, splitting XNNPACK's partition
    in two around it (what a placement regression looks like)."""
    profile = copy.deepcopy(profile)
    for op in profile["ops"]:
        if op["index"] == index:
            op["executor"] = "builtin"
            left = op
        elif op["index"] > index:
            op["executor"] = "XNNPACK partition 1"
    profile.update(partitions=2, fully_delegated=False,
                   left_on_cpu=[{"index": index, "name": left["name"], "type": left["type"], "reason": reason}])
    return profile
