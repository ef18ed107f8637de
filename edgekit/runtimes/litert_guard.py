"""Checks that keep a damaged `.tflite` from crashing the process that loads it.

LiteRT's native loader trusts more of a file than its flatbuffer verifier checks: some damaged
files end in SIGSEGV or SIGABRT rather than an error (each case below was found by
tests/unit/test_fuzz.py on ai-edge-litert 2.3). These checks refuse them first, in Python, with
one clear line; both LiteRT runtimes call `check_model` before they load a file.
"""

from __future__ import annotations

import math
import mmap
import os
import struct
from pathlib import Path

from edgekit.core.errors import EdgekitError, first_line
from edgekit.core.lazy_imports import quiet_stderr

_CHECKED: dict[tuple, bool] = {}  # file identity -> whether the builtin kernels checked it too


def check_model(path: Path, builtin_kernels: bool) -> None:
    """Refuse a .tflite that would crash LiteRT (`check_flatbuffer`, and with `builtin_kernels`,
    `check_with_builtin_kernels`). A file is checked once per process: artifacts are never
    changed in place, and a benchmark opens each file before it times an open, so the checks
    stay out of the measured load time."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if _CHECKED.get(key) is True or (key in _CHECKED and not builtin_kernels):
        return
    check_flatbuffer(path)
    if builtin_kernels:
        check_with_builtin_kernels(path)
    _CHECKED[key] = builtin_kernels or _CHECKED.get(key, False)


def check_flatbuffer(path: Path) -> None:
    """Refuse a .tflite that LiteRT's native loader would crash on instead of rejecting.

    LiteRT's flatbuffer verifier accepts a model whose `subgraphs` vector is absent, and a
    signature whose subgraph index is out of range; the Interpreter and CompiledModel then
    read through a null or out-of-range subgraph and the process dies with SIGSEGV (found by
    tests/unit/test_fuzz.py, ai-edge-litert 2.3). Quantization parameters that abort the
    kernels are refused too (`_quantization_problem`). Reads the tables through a memory map,
    never the weights: about a millisecond for a model of a few hundred ops."""
    from ai_edge_litert import schema_py_generated as schema

    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size < 8:
            raise EdgekitError(f"LiteRT cannot load {path}: it is {size} bytes, too short for a TFLite "
                               "flatbuffer: the file is damaged")
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            problem = _flatbuffer_problem(buf, schema)
    if problem:
        raise EdgekitError(f"LiteRT cannot load {path}: {problem}: the file is damaged")


def _flatbuffer_problem(buf, schema) -> str | None:
    try:
        if not schema.Model.ModelBufferHasIdentifier(buf, 0):
            return "it is not a TFLite flatbuffer (no TFL3 identifier)"
        model = schema.Model.GetRootAs(buf, 0)
        subgraphs = 0 if model.SubgraphsIsNone() else model.SubgraphsLength()
        if subgraphs == 0:
            return "it has no subgraphs"
        for i in range(model.SignatureDefsLength()):
            index = model.SignatureDefs(i).SubgraphIndex()
            if index >= subgraphs:
                return f"signature {i} runs subgraph {index}, but the model has {subgraphs}"
        return _quantization_problem(model, schema)
    except (struct.error, IndexError, ValueError, TypeError) as exc:  # offsets past the end
        return f"its flatbuffer is damaged ({first_line(exc)})"


def _quantization_problem(model, schema) -> str | None:
    """Quantization parameters that abort LiteRT's builtin kernels (a failed TFLITE_CHECK in
    QuantizeMultiplierSmallerThanOneExp: SIGABRT, found by tests/unit/test_fuzz.py) instead of
    failing to prepare: a quantized op's output without a scale, or with a scale that is not
    finite and positive, and an ADD or SUB whose output scale is so much smaller than its
    inputs' that the output multiplier is 1 or more. No converter writes such a file."""
    left_shift = {schema.TensorType.INT8: 20, schema.TensorType.UINT8: 20, schema.TensorType.INT16: 15}
    codes = [max(c.BuiltinCode(), c.DeprecatedBuiltinCode())
             for c in (model.OperatorCodes(i) for i in range(model.OperatorCodesLength()))]
    add_sub = {schema.BuiltinOperator.ADD, schema.BuiltinOperator.SUB}
    for g in range(model.SubgraphsLength()):
        graph = model.Subgraphs(g)
        count = graph.TensorsLength()

        def tensor_type(i):
            return graph.Tensors(i).Type() if 0 <= i < count else None

        def scale(i):  # the first scale of a quantized-type tensor; None when it has none
            q = graph.Tensors(i).Quantization()
            values = q.ScaleAsNumpy() if q is not None and not q.ScaleIsNone() else ()
            return float(values[0]) if len(values) else None

        for k in range(graph.OperatorsLength()):
            op = graph.Operators(k)
            ins = [int(i) for i in (op.InputsAsNumpy() if not op.InputsIsNone() else ())]
            outs = [int(i) for i in (op.OutputsAsNumpy() if not op.OutputsIsNone() else ())]
            quantized_in = any(tensor_type(i) in left_shift and scale(i) is not None for i in ins)
            for o in outs:
                if tensor_type(o) not in left_shift:
                    continue
                value = scale(o)
                if value is None and quantized_in:
                    return f"operator {k} has quantized inputs but its output tensor {o} has no scale"
                if value is not None and not (math.isfinite(value) and value > 0):
                    return f"tensor {o} has quantization scale {value}, which is not positive"
            code = codes[op.OpcodeIndex()] if op.OpcodeIndex() < len(codes) else None
            if code in add_sub and len(ins) >= 2 and outs and tensor_type(outs[0]) in left_shift:
                values = [scale(i) if 0 <= i < count else None for i in (ins[0], ins[1], outs[0])]
                if any(v is None or not (math.isfinite(v) and v > 0) for v in values):
                    return f"operator {k} adds quantized tensors without positive scales"
                if 2 * max(values[:2]) >= (1 << left_shift[tensor_type(outs[0])]) * values[2]:
                    return f"operator {k}'s output scale {values[2]} is too small for its inputs' scales"
    return None


def check_with_builtin_kernels(path: Path) -> None:
    """Refuse a .tflite whose nodes LiteRT's builtin kernels reject, before XNNPACK or an
    external delegate sees them.

    A delegate takes its nodes before the builtin kernels have checked them, and XNNPACK trusts
    what it takes: a node whose inputs do not fit its op (too few, a required one marked
    optional, another op's options) crashes its node visitors (SIGSEGV in
    VisitStridedSliceNode and VisitFullyConnectedNode, found by tests/unit/test_fuzz.py,
    ai-edge-litert 2.3). The builtin kernels check every node when tensors are allocated, so
    the model is allocated with them first: a fraction of XNNPACK's own load time."""
    from ai_edge_litert import interpreter as litert

    try:
        with quiet_stderr(replay_on_error=False):
            probe = litert.Interpreter(
                model_path=str(path), experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
            probe.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise EdgekitError(f"LiteRT cannot load {path}: {first_line(exc)}") from None
    del probe
