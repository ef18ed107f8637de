"""ONNX variants: fp32 by tf2onnx, int8 by onnxruntime's quantizers on that fp32 graph.

tf2onnx writes a graph even when an op did not convert (docs/DESIGN.md, pitfall 4), so every graph is
checked with `onnx.checker` here and run by onnxruntime in validation.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import platform
import re
import tempfile
from pathlib import Path

import numpy as np

from edgekit.core.errors import ConversionFailed, EdgekitError, Unavailable, first_line, option

PRECISION = {
    "fp32": ("float32 weights and activations", "float32"),
    "int8-static": ("int8 weights (per-channel), 8-bit activations (typed for where it runs), QDQ", "int8"),
    "int8-dynamic": (("int8 weights of MatMul, Gemm, attention and LSTM ops, activations quantized at run time; "
                      "convolutions stay float"), "dynamic"),
}

# The ops int8-dynamic quantizes: those onnxruntime's guide names for dynamic quantization (transformers,
# RNNs). Its ConvInteger has no fast kernel: resnet8 1,350 µs dynamic against 269 µs fp32, a
# facial-expression CNN 11.6x slower. Convolutions are left to int8-static.
DYNAMIC_OPS = ("MatMul", "Gemm", "Attention", "LSTM")
NOTHING_DYNAMIC = ("int8-dynamic is unavailable: the model has no MatMul, Gemm, attention or LSTM op, where "
                   "dynamic quantization pays (convolutions run slower than float as ConvInteger); int8-static "
                   "quantizes them")


# int8-static's activation and weight types, and whether activations are symmetric (zero point 0)
QUANT_FORMATS = {
    "u8s8": ("QUInt8", "QInt8", False),
    "s8s8": ("QInt8", "QInt8", False),
    "u8u8": ("QUInt8", "QUInt8", False),
    "s8s8-symmetric": ("QInt8", "QInt8", True),
}
# The format for where the file will run, and why: one table (issue 31). The CPUs' rows are from
# onnxruntime's quantization guide: its x86-64 kernels take uint8 activations (resnet8 on an AMD
# EPYC: U8S8 130 µs, S8S8 286 µs, fp32 231 µs); ARM64's take int8. The providers' from their guides.
QUANT_TARGETS = {
    "x86_64": ("u8s8", "onnxruntime's CPU provider on x86-64 (its quantization guide)"),
    "aarch64": ("s8s8", "onnxruntime's CPU provider on ARM64 (its quantization guide)"),
    "openvino": ("u8s8", "OpenVINO's int8 kernels (uint8 activations, int8 weights, as NNCF writes them)"),
    "qnn": ("u8u8", "QNN's HTP backend (uint8 activations and weights: onnxruntime's get_qnn_qdq_config default)"),
    "tensorrt": ("s8s8-symmetric", "TensorRT (it takes symmetric int8 QDQ only: zero points 0)"),
}
_MACHINES = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}  # platform.machine()'s other spellings


def quant_format_for(chosen: str | None = None, machine: str | None = None) -> dict:
    """int8-static's recipe fields: the format `chosen` (a QUANT_FORMATS name, or where the file will
    run: a QUANT_TARGETS name), else the one for `machine` (this one's CPU), and why."""
    here = machine or platform.machine()
    here = _MACHINES.get(here.lower(), here.lower())
    if chosen in QUANT_TARGETS:
        where, why = chosen, f"for {chosen}, {option('onnx_quant_format', chosen)}: {QUANT_TARGETS[chosen][1]}"
        name = QUANT_TARGETS[chosen][0]
    elif chosen:
        where, why, name = here, f"chosen with {option('onnx_quant_format', chosen)}", chosen
    elif here in QUANT_TARGETS:
        where, (name, why) = here, QUANT_TARGETS[here]
    else:  # an unknown CPU: the x86-64 recipe, said so
        where, name, why = here, "u8s8", f"no default for {here}; {QUANT_TARGETS['x86_64'][1]}"
    activations, weights, symmetric = QUANT_FORMATS[name]
    # reduce_range (7-bit weights) only for x86-64: onnxruntime's int8 kernels on x86 CPUs without VNNI
    # saturate their 16-bit sums (docs/DESIGN.md, pitfall 26); digits_cnn on an AMD EPYC: 24.8 dB and
    # 0.9833 held-out accuracy with 8-bit weights, 42.0 dB and 0.9889 with 7-bit ones
    return {"quant_format": name.upper(), "quant_format_why": why, "activation_type": activations,
            "weight_type": weights, "activation_symmetric": symmetric, "reduce_range": where == "x86_64"}


def convert_fp32(source, opset: int) -> tuple[bytes, dict]:
    """Trace the source model's serving function, freeze it, and convert it with tf2onnx.

    tf2onnx's `from_function` takes every non-resource input of the concrete function for a graph
    input, and that includes the tensors it captures: Keras 3's Normalization computes its mean
    and variance once, eagerly, so EfficientNet's ONNX asked for them as inputs. Only the
    signature's own inputs are named here, so the captures are frozen into constants.

    The steps are tf2onnx's own (freeze, grappler, `process_tf_graph`, its optimizers), called
    one by one so that no step holds a copy of the weights it no longer needs. On ResNet50 (100 MB
    of weights) the conversion peaks 1.3 GB above the loaded model and takes 5 s; through
    `from_function` and `from_graph_def` it peaked 4.3 GB above and took 16 s, byte-identical."""
    import onnx
    import tensorflow as tf
    import tf2onnx
    from tf2onnx import tf_loader

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    try:
        concrete = source.serve.get_concrete_function()
        inputs = [t.name for t in concrete.inputs[:len(source.serve.input_signature)]]  # then the captures
        outputs = [t.name for t in concrete.outputs]
        names = tf2onnx.convert.tensor_names_from_structed(concrete, inputs, outputs)  # the signature's names
        frozen = _frozen(concrete, inputs, outputs)
        with tf.Graph().as_default():  # grappler exports a meta graph: graph mode
            graph_def = tf_loader.tf_optimize(inputs, outputs, frozen)
        del frozen  # grappler folded it into graph_def
        try:
            proto = _to_onnx(graph_def, concrete.name, inputs, outputs, names, opset, guarded=False)
        except Exception:  # an optimizer failed: the guarded way skips it
            proto = _to_onnx(graph_def, concrete.name, inputs, outputs, names, opset, guarded=True)
        onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:  # tf2onnx and the checker raise many types
        raise ConversionFailed(f"tf2onnx: {first_line(exc)}") from exc
    recipe = {"converter": f"tf2onnx {tf2onnx.__version__}", "opset": opset}
    return proto.SerializeToString(), recipe


def _frozen(concrete, inputs: list[str], outputs: list[str]):
    """The function's GraphDef with its variables as constants. tf2onnx's `from_function` also
    builds a new function from it and keeps it alive while grappler runs: two more copies of the
    weights."""
    from tensorflow.python.framework import convert_to_constants
    from tf2onnx import tf_loader

    try:
        data = convert_to_constants._FunctionConverterDataInEager(  # noqa: SLF001 (TF's freezing, minus the function)
            func=concrete, lower_control_flow=False, aggressive_inlining=True)
        graph_def, _ = convert_to_constants._replace_variables_by_constants(converter_data=data)  # noqa: SLF001
    except ValueError:  # a resource TF cannot freeze: tf2onnx has repairs for that
        return tf_loader.from_function(concrete, inputs, outputs)
    return tf_loader.fix_freezing_errors_part2(graph_def)


def _to_onnx(graph_def, name: str, inputs, outputs, names, opset: int, guarded: bool):
    """tf2onnx's conversion and optimizers. Guarded, tf2onnx deep-copies the whole graph before
    each of its optimizers so that a failing one can be undone: on ResNet50 that peaked at 8.3 GB
    and took 30 s, against 4.9 GB and 16 s without. Unguarded, a failing optimizer raises, and
    the caller converts again, guarded."""
    import tensorflow as tf
    from tf2onnx import optimizer, tfonnx, utils

    # The same model gives the same bytes whatever the process converted before (a sweep's
    # worker, a notebook): tf2onnx numbers the ops it inserts from a process-wide counter, and
    # TF numbers traced functions (__inference_serve_1234) from another
    utils.INTERNAL_NAME = 1
    name = re.sub(r"_\d+$", "", name.decode() if isinstance(name, bytes) else name)
    with tf.Graph().as_default() as tf_graph:
        tf.import_graph_def(graph_def, name="")
        graph = tfonnx.process_tf_graph(tf_graph, continue_on_error=True, opset=opset, input_names=inputs,
                                        output_names=outputs, tensors_to_rename=names)
    with _node_protos_renewed():
        graph = optimizer.optimize_graph(graph, catch_errors=guarded)
    return graph.make_model(f"converted from {name}")


@contextlib.contextmanager
def _node_protos_renewed():
    """After each of its optimizers tf2onnx writes every node's attributes back into the node's
    NodeProto, clearing the old ones first (`Node.update_proto`). Under protobuf's upb backend a
    cleared field keeps its bytes in the message's arena until the message goes, so each of the
    24 optimizer passes kept one more copy of every weight: +2.4 GB on ResNet50's 100 MB. Moving
    each node into a fresh NodeProto after the write lets the old arena go."""
    from tf2onnx import graph

    write_back = graph.Node.update_proto

    def update_proto(node, external_tensor_storage=None):
        write_back(node, external_tensor_storage)
        fresh = type(node.op)()
        fresh.CopyFrom(node.op)
        node._op = fresh  # noqa: SLF001 (the one attribute that holds it)

    graph.Node.update_proto = update_proto
    try:
        yield
    finally:
        graph.Node.update_proto = write_back


def quantize(fp32_path: Path, variant: str, calibration: dict[str, np.ndarray], on_sample=None,
             quant_format: str | None = None, keep_float: tuple[str, ...] = ()) -> tuple[bytes, dict]:
    """int8 ONNX from the fp32 file: static QDQ per-channel (calibrated) or dynamic.
    `on_sample(done, total)` follows calibration; `quant_format` (a QUANT_FORMATS or QUANT_TARGETS
    name) overrides the static format for this machine's CPU; `keep_float` (Keras layer names, ONNX
    or TFLite op types) stays in float, each name mapped to nodes or refused (`kept_in_float`)."""
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory(prefix="edgekit-onnxq-") as tmp:
        prepared, out = Path(tmp) / "prepared.onnx", Path(tmp) / "quantized.onnx"
        try:
            # int8-dynamic without pre-processing's graph optimizations: its fusion of MatMul and Add into
            # Gemm, which the dynamic quantizer splits again under new names, lost --keep-float's nodes
            # (docs/DESIGN.md, pitfall 27)
            quant_pre_process(str(fp32_path), str(prepared), skip_optimization=variant == "int8-dynamic")
            kept = kept_in_float(onnx.load(str(prepared), load_external_data=False).graph, keep_float)
            excluded = {"nodes_to_exclude": kept["nodes"]} if kept else {}
            if variant == "int8-static":
                chosen = quant_format_for(quant_format)
                recipe = {"quantizer": "onnxruntime quantize_static", "format": "QDQ", "per_channel": True, **chosen,
                          "calibration_samples": len(next(iter(calibration.values())))}
                # one sample per call: at 6 per call MobileNetV2's calibration took 3.6 s and 0.87 GB
                # against 3.0 s and 0.34 GB (the calibrator keeps each call's outputs).
                quantize_static(str(prepared), str(out), _reader(calibration, on_sample), quant_format=QuantFormat.QDQ,
                                per_channel=True, activation_type=getattr(QuantType, chosen["activation_type"]),
                                weight_type=getattr(QuantType, chosen["weight_type"]),
                                reduce_range=chosen["reduce_range"],
                                extra_options={"ActivationSymmetric": chosen["activation_symmetric"]}, **excluded)
            else:
                recipe = _quantize_dynamic(prepared, out, excluded)
            if kept:
                recipe["keep_float"] = kept
            compact(out, fp32_path)
            onnx.checker.check_model(str(out), full_check=True)
        except EdgekitError:  # unavailable, or a --keep-float name that maps to nothing: not the quantizer's fault
            raise
        except Exception as exc:  # the quantizers raise many types
            raise ConversionFailed(f"onnxruntime quantization: {first_line(exc)}") from exc
        return out.read_bytes(), recipe


def _quantize_dynamic(prepared: Path, out: Path, excluded: dict | None = None) -> dict:
    """int8-dynamic on DYNAMIC_OPS only; Unavailable when the graph has none of them."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    nodes = onnx.load(str(prepared), load_external_data=False).graph.node
    ops = collections.Counter(node.op_type for node in nodes)
    kept = set((excluded or {}).get("nodes_to_exclude", ()))
    quantized = dict(collections.Counter(n.op_type for n in nodes if n.op_type in DYNAMIC_OPS and n.name not in kept))
    if not quantized:
        raise Unavailable(NOTHING_DYNAMIC if not any(op in ops for op in DYNAMIC_OPS) else
                          f"int8-dynamic is unavailable: {option('keep_float')} leaves every MatMul, Gemm, attention "
                          "and LSTM op in float, and it quantizes nothing else")
    quantize_dynamic(str(prepared), str(out), op_types_to_quantize=list(DYNAMIC_OPS), weight_type=QuantType.QInt8,
                     **(excluded or {}))
    return {"quantizer": "onnxruntime quantize_dynamic", "weight_type": "QInt8", "op_types": quantized,
            "left_float": {op: n for op, n in ops.items() if op in ("Conv", "ConvTranspose")}}


# --keep-float's TFLite op types as ONNX nodes: (ONNX op type, whether it is a grouped convolution or None)
TFLITE_OPS = {"FULLY_CONNECTED": (("MatMul", None), ("Gemm", None)), "CONV_2D": (("Conv", False),),
              "DEPTHWISE_CONV_2D": (("Conv", True),), "TRANSPOSE_CONV": (("ConvTranspose", None),),
              "BATCH_MATMUL": (("MatMul", None),), "ADD": (("Add", None),), "MUL": (("Mul", None),),
              "LOG": (("Log", None),), "EXP": (("Exp", None),), "SOFTMAX": (("Softmax", None),)}


def kept_in_float(graph, names: tuple[str, ...]) -> dict | None:
    """The nodes `names` leave in float in an ONNX graph: Keras layer names (a scope of a node's name
    or output, as tf2onnx writes them), ONNX op types, or the TFLite op types in TFLITE_OPS. A name
    that maps to no node is refused, never dropped."""
    if not names:
        return None
    from edgekit.converters.selective import name_components  # lazy: (the TFLite side's scopes, shared)

    def grouped(node) -> bool:
        return any(a.name == "group" and a.i > 1 for a in node.attribute)

    op_types = {node.op_type for node in graph.node}
    layers, ops, nodes = [], [], []
    for name in names:
        if name in op_types or name in TFLITE_OPS:
            wanted = TFLITE_OPS.get(name, ((name, None),))
            matched = [n.name for n in graph.node for op, group in wanted
                       if n.op_type == op and (group is None or grouped(n) == group)]
            ops.append(name)
        else:
            matched = [n.name for n in graph.node if name == n.name or name in name_components(n.name)
                       or any(name in name_components(output) for output in n.output)]
            layers.append(name)
        if not matched:
            scopes = sorted(set(filter(None, map(_keras_layer, (n.name for n in graph.node)))))
            raise EdgekitError(f"{option('keep_float', repr(name))} maps to no node of the ONNX graph: give a layer "
                               f"({', '.join(scopes[:12]) or 'none named'}) or an ONNX op type "
                               f"({', '.join(sorted(op_types))}), or leave the ONNX int8 variants out")
        nodes += [n for n in matched if n not in nodes]
    return {"layers": layers, "ops": ops, "nodes": nodes}


def _keras_layer(node: str) -> str | None:
    """The Keras layer of a tf2onnx node name: 'model/probs/MatMul' -> probs (a SavedModel's calls skipped)."""
    parts = [part for part in node.split(";")[0].split("/") if part != "StatefulPartitionedCall"]
    return parts[1] if len(parts) >= 3 else None


def compact(quantized: Path, fp32_path: Path) -> None:
    """Rewrite a quantized file without what only makes it bigger: the quantizer names each tensor and
    node it adds after the tensor it quantizes, and tf2onnx's names are long, so an audio model's
    int8-static file was 390 KB against 221 KB fp32, 302 KB of it node protos and 31 KB shape
    annotations (value_info) pre-processing added; its weights were 40 KB. The added tensors get
    short names and the added Q/DQ nodes none; every name of the fp32 graph stays, so its nodes and
    tensors are still found by name (docs/DESIGN.md, pitfall 27)."""
    import onnx

    model = onnx.load(str(quantized))
    source = onnx.load(str(fp32_path), load_external_data=False).graph
    kept = {t.name for t in (*source.input, *source.output, *source.initializer)}
    kept.update(name for node in source.node for name in (*node.input, *node.output))
    renamed: dict[str, str] = {}

    def short(name: str) -> str:
        if not name or name in kept:
            return name
        return renamed.setdefault(name, f"q{len(renamed)}")

    graph = model.graph
    del graph.value_info[:]  # onnxruntime infers shapes itself
    for node in graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear") and node.name not in kept:
            node.name = ""
        node.input[:] = [short(name) for name in node.input]
        node.output[:] = [short(name) for name in node.output]
    for tensor in graph.initializer:
        tensor.name = short(tensor.name)
    onnx.save(model, str(quantized))


def _reader(calibration: dict[str, np.ndarray], on_sample=None):
    """Calibration samples one at a time, as onnxruntime's calibrators read them."""
    from onnxruntime.quantization import CalibrationDataReader

    count = len(next(iter(calibration.values())))

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._next = 0

        def get_next(self):
            if self._next >= count:
                return None
            i, self._next = self._next, self._next + 1
            if on_sample:
                on_sample(i + 1, count)
            return {k: v[i:i + 1] for k, v in calibration.items()}

    return Reader()
