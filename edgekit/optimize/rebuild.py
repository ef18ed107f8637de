"""Rebuild a Keras 3 model in tf-keras (Keras 2), the only Keras the optimization toolkit accepts
(docs/DESIGN.md, pitfall 2): translate its config, rebuild it, copy the weights, compare the outputs.

The translation covers what differs between the two config formats for built-in layers:
DTypePolicy objects, the InputLayer's shape key, the call-graph node format, renamed arguments and
Keras-3-only arguments left switched off. Anything it cannot carry over faithfully (a layer class or
argument tf-keras lacks, a Lambda, a keras.ops call) is refused with a line naming the layer.
"""

from __future__ import annotations

import inspect
import json

import numpy as np

from edgekit.core.errors import EdgekitError
from edgekit.core.lazy_imports import tensorflow

ATOL = 1e-5
MODEL_CLASSES = ("Sequential", "Functional")
REFUSED = {"Lambda": "it carries Python code"}
# Kept by Keras 3 for its own loader and builds; tf-keras rebuilds without them.
DROPPED_KEYS = {"module", "registered_name", "build_config", "compile_config"}
# Keras 3 arguments no tf-keras object has, dropped at any depth (initializers included) when
# switched off; switched on, they change the computation and the layer is refused.
KERAS3_ONLY = {"quantization_config": None, "lora_rank": None, "lora_alpha": None,
               "input_axes": None, "output_axes": None}
# Keras 3 layer arguments that some tf-keras classes lack, and the value at which they change
# nothing; dropped only where the tf-keras class does not take them (its own default may differ).
NEUTRAL = {"data_format": "channels_last", "rms_scaling": False, "zero_output_for_mask": False,
           "seed": None, "use_gate": False, "sliding_window": None, "pad_to_aspect_ratio": False,
           "fill_mode": "constant", "fill_value": 0.0, "antialias": False}
RENAMED = {"LeakyReLU": {"negative_slope": "alpha"}}


def is_keras3(model) -> bool:
    """Whether `model` is a Keras 3 object, told from its classes without importing Keras."""
    return any(cls.__module__.split(".")[0] == "keras" for cls in type(model).__mro__)


def to_tf_keras(model, batch: int = 16):
    """Rebuild a Keras 3 model in tf-keras (Keras 2) so that the TF Model Optimization toolkit
    accepts it: rebuild from its config, copy the weights, and check that outputs match to 1e-5."""
    tensorflow()
    import tf_keras

    if isinstance(model, tf_keras.Model):
        return model
    kind = type(model).__name__
    if not is_keras3(model) or kind not in MODEL_CLASSES:
        raise EdgekitError(f"model {getattr(model, 'name', '?')!r} ({kind}) cannot be rebuilt in "
                           "tf-keras: only Keras 3 Sequential and functional models can")
    if not model.built:
        raise EdgekitError(f"model {model.name!r} is not built, so its input shape is unknown: "
                           "start it with keras.Input(shape) or call it once")
    import keras

    # The config as a .keras file stores it (the live dict holds tuples where JSON has lists).
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(model)))
    refused = _refused_layers(config["config"])
    if refused:
        raise EdgekitError(f"{'; '.join(refused)}; replace such layers with built-in ones, "
                           "or build the model with tf_keras")
    rebuilt = _from_config(kind, _model_config(kind, config["config"]))
    _copy_weights(model, rebuilt)
    _compare_outputs(model, rebuilt, batch)
    return rebuilt


def _refused_layers(config: dict) -> list[str]:
    """A line for every layer, nested models included, whose class tf-keras cannot rebuild."""
    import tf_keras

    found = []
    for entry in config["layers"]:
        cls, name = entry["class_name"], entry["config"].get("name")
        module = entry.get("module") or ""
        if cls in MODEL_CLASSES and module.startswith("keras"):
            found += _refused_layers(entry["config"])
            continue
        if cls in REFUSED:
            reason = REFUSED[cls]
        elif module == "keras.layers" and hasattr(tf_keras.layers, cls):
            continue
        elif module.startswith("keras.src.ops"):
            reason = "it is a keras.ops call, not a layer; use the matching layer (e.g. layers.Add)"
        elif module.startswith("keras"):
            reason = "tf-keras has no such layer"
        else:
            reason = f"it is a custom layer ({entry.get('registered_name') or module})"
        found.append(f"layer {name!r} ({cls}) cannot be rebuilt in tf-keras: {reason}")
    return found


def _model_config(kind: str, config: dict) -> dict:
    """A Keras 3 Sequential or Functional config in tf-keras's format."""
    layers = config["layers"]
    out = {"name": config["name"], "layers": [_layer(entry) for entry in layers]}
    if kind == "Sequential":
        if "build_input_shape" in config:
            out["build_input_shape"] = config["build_input_shape"]
        return out
    # tf-keras numbers a nested model's calls from 1 when its node 0 is its own inner graph.
    skip = {entry["name"]: _skips_first_node(entry) for entry in layers}
    for entry, converted in zip(layers, out["layers"]):
        converted["name"] = entry["name"]
        converted["inbound_nodes"] = [_node(n, skip, entry["name"]) for n in entry["inbound_nodes"]]
    # Here (not in the calls above) Keras 3 already counts a nested Functional's inner node.
    inner = {entry["name"]: int(entry["class_name"] == "Functional") for entry in layers}

    def renumber(refs):  # a [name, node, tensor] ref, or a list or dict of them (structure kept)
        if isinstance(refs, dict):
            return {key: renumber(value) for key, value in refs.items()}
        if refs and isinstance(refs[0], str):
            name, node, tensor = refs
            return [name, node - inner[name] + skip[name], tensor]
        return [renumber(value) for value in refs]

    out["input_layers"] = renumber(config["input_layers"])
    out["output_layers"] = renumber(config["output_layers"])
    return out


def _layer(entry: dict) -> dict:
    import tf_keras

    cls = entry["class_name"]
    if cls in MODEL_CLASSES:
        return {"class_name": cls, "config": _model_config(cls, entry["config"])}
    name = entry["config"].get("name")
    config = _plain(entry["config"], name, cls)
    for old, new in RENAMED.get(cls, {}).items():
        if old in config:
            config[new] = config.pop(old)
    takes = _arguments(getattr(tf_keras.layers, cls))
    for key in [k for k in config if k in NEUTRAL and k not in takes]:
        if config[key] != NEUTRAL[key]:
            raise _argument_error(name, cls, key, config[key])
        del config[key]
    if cls == "InputLayer":
        config["batch_input_shape"] = config.pop("batch_shape")
    return {"class_name": cls, "config": config}


def _plain(value, layer: str, cls: str):
    """Arguments without Keras 3's wrappers: a DTypePolicy becomes its name, e.g. "float32"."""
    if isinstance(value, list):
        return [_plain(v, layer, cls) for v in value]
    if not isinstance(value, dict):
        return value
    kind = value.get("class_name", "")
    if kind == "DTypePolicy":
        return value["config"]["name"]
    if kind.endswith("DTypePolicy"):  # quantized and other Keras-3-only policies
        raise EdgekitError(f"layer {layer!r} ({cls}) cannot be rebuilt in tf-keras: its dtype "
                           f"policy {kind} does not exist there; give the float model")
    out = {}
    for key, item in value.items():
        if key in KERAS3_ONLY:
            if item != KERAS3_ONLY[key]:
                raise _argument_error(layer, cls, key, item)
        elif key not in DROPPED_KEYS:
            out[key] = _plain(item, layer, cls)
    return out


def _arguments(cls) -> set[str]:
    """The argument names a tf-keras layer class takes, following **kwargs up its bases."""
    names = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            params = inspect.signature(klass.__init__).parameters.values()
            names |= {p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
            if not any(p.kind == p.VAR_KEYWORD for p in params):
                break
    return names


def _argument_error(layer, cls, key, value) -> EdgekitError:
    return EdgekitError(f"layer {layer!r} ({cls}) cannot be rebuilt in tf-keras: its argument "
                        f"{key}={value!r} does not exist there; rebuild it without that option")


def _skips_first_node(entry: dict) -> int:
    """1 where tf-keras numbers a layer's calls from 1: a nested model built on an Input."""
    if entry["class_name"] == "Functional":
        return 1
    layers = entry["config"].get("layers", [])
    return int(entry["class_name"] == "Sequential" and bool(layers)
               and layers[0]["class_name"] == "InputLayer")


def _node(node: dict, skip: dict, layer: str) -> list:
    """A Keras 3 call {"args": [...], "kwargs": {...}} as tf-keras's [[name, node, tensor, kw]]."""
    args, kwargs = node["args"], node.get("kwargs", {})
    tensors = args[0] if args and isinstance(args[0], list) else args[:1]
    if len(args) != 1 or not all(_is_tensor(t) for t in tensors):
        raise EdgekitError(f"layer {layer!r} cannot be rebuilt in tf-keras: it is called with "
                           "more than its input tensor(s); pass other tensors by keyword")
    # tf-keras writes a tensor passed by keyword as [name, node, tensor]; a None is the default.
    kwargs = {k: _ref(v, skip) if _is_tensor(v) else v for k, v in kwargs.items() if v is not None}
    return [[*_ref(t, skip), kwargs] for t in tensors]


def _is_tensor(value) -> bool:
    return isinstance(value, dict) and value.get("class_name") == "__keras_tensor__"


def _ref(tensor: dict, skip: dict) -> list:
    name, node, index = tensor["config"]["keras_history"]
    return [name, node + skip[name], index]


def _from_config(kind: str, config: dict):
    import tf_keras

    try:
        return (tf_keras.Sequential if kind == "Sequential" else tf_keras.Model).from_config(config)
    except Exception as exc:  # tf-keras raises TypeError, ValueError, KeyError...: find the layer
        for entry in _flat_layers(config):
            try:
                tf_keras.layers.deserialize(entry)
            except Exception as layer_exc:
                raise EdgekitError(f"layer {entry['config'].get('name')!r} ({entry['class_name']}) "
                                   f"cannot be rebuilt in tf-keras: {_reason(layer_exc)}") from exc
        raise EdgekitError(f"model {config['name']!r} cannot be rebuilt in tf-keras: "
                           f"{_reason(exc)}") from exc


def _reason(exc: Exception) -> str:
    # tf-keras puts the whole config on the first line and the cause after this marker
    cause = str(exc).split("Exception encountered:")[-1]
    lines = [line.strip() for line in cause.splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0][:300] if lines else ''}"


def _flat_layers(config: dict):
    for entry in config["layers"]:
        if entry["class_name"] in MODEL_CLASSES:
            yield from _flat_layers(entry["config"])
        else:
            yield {"class_name": entry["class_name"], "config": entry["config"]}


def _copy_weights(source, target) -> None:
    """Weights layer by layer, matched by name, with counts and shapes checked."""
    twins = {layer.name: layer for layer in target.layers}
    for layer in source.layers:
        twin = twins.get(layer.name)
        if twin is None:
            raise EdgekitError(f"layer {layer.name!r} is missing from the tf-keras rebuild")
        if hasattr(layer, "layers") and hasattr(twin, "layers"):  # a nested model
            _copy_weights(layer, twin)
            continue
        weights = layer.get_weights()
        have, want = [w.shape for w in weights], [w.shape for w in twin.get_weights()]
        if have != want:
            raise EdgekitError(f"layer {layer.name!r} ({type(layer).__name__}) has weights of "
                               f"shapes {have} but its tf-keras rebuild takes {want}")
        twin.set_weights(weights)


def _compare_outputs(source, target, batch: int) -> None:
    """Both models on the same seeded inputs (inference mode); the rebuild must agree to ATOL."""
    tf = tensorflow()
    rng = np.random.default_rng(0)

    def feed(tensor):
        shape, dtype = [batch, *(d or 8 for d in tensor.shape[1:])], np.dtype(tensor.dtype)
        # floats in [0, 1), ints in {0, 1}: valid indices where an input feeds an Embedding
        if dtype.kind in "iub":
            return rng.integers(0, 2, shape).astype(dtype)
        return rng.random(shape).astype(dtype)

    # the model's own input structure (a dict stays one); a Sequential has one input
    structure = source.inputs[0] if type(source).__name__ == "Sequential" else source.input
    args = tf.nest.map_structure(feed, structure)
    expected = tf.nest.flatten(source(args, training=False))
    got = tf.nest.flatten(target(args, training=False))
    if len(expected) != len(got):
        raise EdgekitError(f"model {source.name!r}: its tf-keras rebuild has {len(got)} outputs, "
                           f"not {len(expected)}")
    diff = max(float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
               for a, b in zip(expected, got))
    if not diff <= ATOL:  # written this way round so that NaN fails too
        raise EdgekitError(f"model {source.name!r}: its tf-keras rebuild differs from it by up to "
                           f"{diff:.3g} (more than {ATOL:g}) on the same inputs")
