"""Runtimes' own error messages, as rows show them: what happened and what to do, with the
original text kept as the detail. The messages are the runtimes' real ones: raised here where a
call makes them, else copied verbatim from a run that met them (the comment says where)."""

import re

import numpy as np
import pytest

from edgekit.core.errors import BackendUnavailable, EdgekitError
from edgekit.runtimes.messages import explain, failure, plain

RAW = re.compile(r"\w+Error:|\.h:\d+|\.cc:\d+")


def test_litert_compiled_int16_buffers_are_explained():
    from ai_edge_litert.tensor_buffer import TensorBuffer

    with pytest.raises(ValueError) as raised:  # what CompiledModel's buffers raise for an int16x8 file
        TensorBuffer._normalize_dtype(np.dtype("int16"))  # as a read or write passes it
    reason, detail = explain("litert-compiled", raised.value)
    assert reason.startswith("LiteRT's CompiledModel has no int16 tensor buffers") and "litert:xnnpack" in reason
    assert detail == "ValueError: Unsupported dtype: int16" and not RAW.search(reason)


@pytest.mark.parametrize("raw, expected", [
    # CompiledModel.resize_input_tensor on a model whose reshape keeps batch 1
    ("CompiledModel error: code=1, message=ERROR: [./litert/cc/litert_compiled_model.h:1135]",
     "LiteRT's CompiledModel failed to resize without giving a reason (error code 1)"),
    # create_input_buffer_by_name after that resize: the cause comes last in the chain
    ("CompiledModel error: code=3, message=ERROR: [./litert/cc/litert_compiled_model.h:2102]\n"
     "└ ERROR: [./litert/cc/litert_compiled_model.h:562]\n└ Failed to allocate tensors",
     "LiteRT's CompiledModel failed to resize: Failed to allocate tensors"),
    # the LiteRT interpreter's allocate_tensors after the same resize
    ("XNNPack delegate failed to reshape runtimeNode number 3 (TfLiteXNNPackDelegate) failed to prepare.",
     "LiteRT's CompiledModel could not give its XNNPACK kernels the new input shape"),
    ("tensorflow/lite/kernels/reshape.cc:92 num_input_elements != num_output_elements (2048 != 64)"
     "Node number 1 (RESHAPE) failed to prepare.",
     "LiteRT's CompiledModel's RESHAPE kernel refused node 1 of the model (num_input_elements != "
     "num_output_elements (2048 != 64))"),
    # LiteRT's GPU accelerator on a machine without Vulkan (the default convert, here)
    ("Failed to initialize WebGPU environment: INTERNAL: No adapters found (Vulkan: libvulkan.so.1: cannot open "
     "shared object file: No such file or directory)",
     "no GPU that LiteRT can use here: its GPU accelerator needs a Vulkan driver (libvulkan.so.1 is not installed)"),
])
def test_real_native_messages_read_as_sentences(raw, expected):
    reason, detail = explain("litert-compiled", raw, "to resize")
    assert reason.startswith(expected) and detail == raw
    assert not RAW.search(reason), reason


def test_an_unknown_message_names_the_runtime_without_its_internals():
    reason, detail = explain("onnxruntime", KeyError("no input x"), "to run model.onnx")
    assert reason == "onnxruntime failed to run model.onnx: 'no input x'" and detail.startswith("KeyError")
    assert plain("[./litert/cc/litert_compiled_model.h:1135]") == ""  # a location alone says nothing


def test_failure_keeps_edgekit_reasons_and_their_detail():
    assert failure("litert", EdgekitError("LiteRT failed to load x", detail="raw words")) == {
        "reason": "LiteRT failed to load x", "detail": "raw words"}
    assert failure("tflm", BackendUnavailable("not installed")) == {"reason": "not installed"}
    found = failure("litert-compiled", ValueError("Unsupported dtype: int16"))
    assert found["detail"] == "ValueError: Unsupported dtype: int16" and "int16x8" in found["reason"]


def test_debug_shows_the_runtimes_words(monkeypatch):
    from edgekit.runtimes.messages import with_detail

    assert with_detail("could not resize", "code=1") == "could not resize"
    monkeypatch.setenv("EDGEKIT_DEBUG", "1")
    assert with_detail("could not resize", "code=1") == "could not resize (it said: code=1)"
    reason, _ = explain("litert", "code=1, message=ERROR: [./a.h:3]")
    assert "--debug" not in reason
