"""A tiny .tflite file built field by field with LiteRT's flatbuffer schema (no TensorFlow): one
ADD of an input and a constant, y = x + [0, 1, 2, 3]. `edit` changes the model before it is
written, which is how the damaged files of tests/corpus/compile/ are made."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def tiny_tflite(edit=None) -> bytes:
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    def tensor(name: str, buffer: int):
        t = schema.TensorT()
        t.name, t.shape, t.type, t.buffer = name.encode(), [1, 4], schema.TensorType.FLOAT32, buffer
        return t

    constant = schema.BufferT()
    constant.data = list(np.arange(4, dtype=np.float32).tobytes())
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.ADD
    code.version = 1
    add = schema.OperatorT()
    add.opcodeIndex, add.inputs, add.outputs = 0, [0, 1], [2]
    add.builtinOptionsType, add.builtinOptions = schema.BuiltinOptions.AddOptions, schema.AddOptionsT()
    graph = schema.SubGraphT()
    graph.name, graph.operators, graph.inputs, graph.outputs = b"main", [add], [0], [2]
    graph.tensors = [tensor("x", 1), tensor("c", 2), tensor("y", 3)]
    signature = schema.SignatureDefT()
    signature.signatureKey, signature.subgraphIndex = b"serving_default", 0
    signature.inputs, signature.outputs = [_tensor_map(schema, "x", 0)], [_tensor_map(schema, "y", 2)]
    model = schema.ModelT()
    model.version, model.description = 3, b"edgekit test model"
    model.buffers = [schema.BufferT(), schema.BufferT(), constant, schema.BufferT()]  # 0: the empty sentinel
    model.operatorCodes, model.subgraphs, model.signatureDefs = [code], [graph], [signature]
    if edit is not None:
        edit(model)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _tensor_map(schema, name: str, index: int):
    entry = schema.TensorMapT()
    entry.name, entry.tensorIndex = name.encode(), index
    return entry


def _graph(model):
    return model.subgraphs[0]


# file name -> how it is damaged
DAMAGED = {
    "bad_buffer_index.tflite": lambda m: setattr(_graph(m).tensors[1], "buffer", 99),
    "bad_opcode_index.tflite": lambda m: setattr(_graph(m).operators[0], "opcodeIndex", 7),
    "op_feeds_itself.tflite": lambda m: setattr(_graph(m).operators[0], "inputs", [2, 1]),
    "bad_tensor_index.tflite": lambda m: setattr(_graph(m).operators[0], "outputs", [40]),
    # 2^16 x 2^16 x 4 floats: 64 GiB for one input
    "huge_input_shape.tflite": lambda m: setattr(_graph(m).tensors[0], "shape", [1 << 16, 1 << 16, 4]),
}


def write_damaged(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, edit in DAMAGED.items():
        (folder / name).write_bytes(tiny_tflite(edit))
