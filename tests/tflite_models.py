"""Small .tflite files built with LiteRT's flatbuffer schema, without TensorFlow: for tests that
need a graph op by op (an op XNNPACK does not take, between two it does)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def conv_tflite(cumsum: bool) -> bytes:
    """x [1, 32, 32, 8] -> CONV_2D 3x3 (ReLU) [-> CUMSUM along H, which XNNPACK does not take]
    -> CONV_2D 3x3 -> y, built with LiteRT's flatbuffer schema (no TensorFlow)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    rng = np.random.default_rng(0)
    buffers = [schema.BufferT()]  # 0: the empty sentinel
    tensors = []

    def tensor(name, shape, data=None, dtype=schema.TensorType.FLOAT32):
        buffer = schema.BufferT()
        if data is not None:
            buffer.data = list(np.ascontiguousarray(data).tobytes())
        buffers.append(buffer)
        t = schema.TensorT()
        t.name, t.shape, t.type, t.buffer = name.encode(), list(shape), dtype, len(buffers) - 1
        tensors.append(t)
        return len(tensors) - 1

    codes = []

    def operator(code, inputs, outputs, options_type, options):
        if code not in [c.builtinCode for c in codes]:
            entry = schema.OperatorCodeT()
            entry.builtinCode, entry.deprecatedBuiltinCode, entry.version = code, min(code, 127), 1
            codes.append(entry)
        op = schema.OperatorT()
        op.opcodeIndex = [c.builtinCode for c in codes].index(code)
        op.inputs, op.outputs, op.builtinOptionsType, op.builtinOptions = inputs, outputs, options_type, options
        return op

    def conv(source, name, relu):
        options = schema.Conv2DOptionsT()
        options.padding, options.strideW, options.strideH = schema.Padding.SAME, 1, 1
        options.fusedActivationFunction = schema.ActivationFunctionType.RELU if relu else 0
        weights = tensor(f"{name}_w", [8, 3, 3, 8], rng.standard_normal((8, 3, 3, 8), dtype=np.float32))
        bias = tensor(f"{name}_b", [8], np.zeros(8, np.float32))
        out = tensor(name, [1, 32, 32, 8])
        return out, operator(schema.BuiltinOperator.CONV_2D, [source, weights, bias], [out],
                             schema.BuiltinOptions.Conv2DOptions, options)

    x = tensor("x", [1, 32, 32, 8])
    h, first = conv(x, "conv1", relu=True)
    ops = [first]
    if cumsum:
        axis = tensor("axis", [], np.array(1, np.int32), schema.TensorType.INT32)
        summed = tensor("summed", [1, 32, 32, 8])
        ops.append(operator(schema.BuiltinOperator.CUMSUM, [h, axis], [summed], schema.BuiltinOptions.CumsumOptions,
                            schema.CumsumOptionsT()))
        h = summed
    y, last = conv(h, "y", relu=False)
    ops.append(last)
    graph = schema.SubGraphT()
    graph.name, graph.operators, graph.inputs, graph.outputs, graph.tensors = b"main", ops, [x], [y], tensors
    signature = schema.SignatureDefT()
    signature.signatureKey, signature.subgraphIndex = b"serving_default", 0
    signature.inputs, signature.outputs = [_tensor_map(schema, "x", x)], [_tensor_map(schema, "y", y)]
    model = schema.ModelT()
    model.version, model.buffers, model.operatorCodes = 3, buffers, codes
    model.subgraphs, model.signatureDefs = [graph], [signature]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _tensor_map(schema, name, index):
    entry = schema.TensorMapT()
    entry.name, entry.tensorIndex = name.encode(), index
    return entry


def conv_pair(root: Path) -> dict[str, Path]:
    """conv.tflite (CONV | CONV, all on XNNPACK) and mixed.tflite (CONV | CUMSUM | CONV) in `root`."""
    paths = {"conv": root / "conv.tflite", "mixed": root / "mixed.tflite"}
    paths["conv"].write_bytes(conv_tflite(cumsum=False))
    paths["mixed"].write_bytes(conv_tflite(cumsum=True))
    return paths
