"""Typed, validated configuration for `edgekit convert`, with presets and JSON round trip.

A config written by `--dump-config` reproduces the run when given back with `--config`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import stat
from pathlib import Path

from edgekit.core.errors import EdgekitError, did_you_mean, first_line, option, switch

TFLITE_VARIANTS = ("fp32", "fp16", "dynamic", "int8", "int16x8")
QAT_VARIANT = "int8-qat"  # only with --qat: full int8 from the quantization-aware-trained model
ONNX_VARIANTS = ("fp32", "int8-static", "int8-dynamic")
# int8-static's activation/weight types, or where the file will run; converters/onnx.py's tables give each
ONNX_QUANT_FORMATS = ("u8s8", "s8s8", "u8u8", "s8s8-symmetric")
ONNX_QUANT_TARGETS = ("x86_64", "aarch64", "openvino", "qnn", "tensorrt")
IO_TYPES = ("int", "float")
IMAGE_RANGES = {"0,1": (0.0, 1.0), "-1,1": (-1.0, 1.0), "0,255": (0.0, 255.0)}
MAX_ONNX_OPSET = 18  # tf2onnx 1.17 converts up to opset 18
MIN_ONNX_OPSET = 13  # onnxruntime's QDQ per-channel quantization needs opset 13
MAX_MIN_SQNR = 200.0  # identical outputs are reported at 200 dB (measure/fidelity.py)
DEFAULT_MAX_ACCURACY_DROP = 1.0  # points of the task metric: report, tune and compare share this tolerance


MAX_CONFIG_BYTES = 1 << 20  # a config is a few hundred bytes; this keeps a wrong file from being read whole

# What a config file may give for each field: one JSON type, or several ("strs" is a list of
# strings; a variant or name list may also be one comma-separated string).
FIELD_TYPES = {
    "model": ("str", "null"), "calib": ("str", "null"), "out": ("str",),
    "tflite": ("strs", "str"), "onnx": ("strs", "str"), "io": ("str",), "opset": ("int",),
    "onnx_quant_format": ("str", "null"),
    "max_calib_samples": ("int",), "image_range": ("str",), "trust_model_code": ("bool",),
    "keep_float": ("strs", "str"), "prune": ("number", "null"), "prune_structure": ("str", "null"),
    "qat": ("bool",), "cluster": ("int", "null"), "train_data": ("str", "null"),
    "fine_tune_epochs": ("int", "null"), "no_onednn": ("bool",), "strict": ("bool",), "input_shape": ("strs", "str"),
    "min_sqnr": ("number", "null"),
}
_TYPE_WORDS = {"str": "a string", "strs": "a list of strings", "int": "an integer", "number": "a number",
               "bool": "true or false", "null": "null"}

PRESETS = {
    "all": {"tflite": list(TFLITE_VARIANTS), "onnx": list(ONNX_VARIANTS)},
    "float": {"tflite": ["fp32"], "onnx": ["fp32"]},
    "fp16": {"tflite": ["fp16"], "onnx": []},
    "int8-full": {"tflite": ["int8"], "onnx": ["int8-static"]},
    "dynamic": {"tflite": ["dynamic"], "onnx": ["int8-dynamic"]},
}


@dataclasses.dataclass
class ConvertConfig:
    model: str | None = None  # None: the bundled default reference model
    calib: str | None = None  # None: calibration_data/<model name>.npz for a bundled model
    out: str = "edgekit-out"
    tflite: list[str] = dataclasses.field(default_factory=lambda: list(TFLITE_VARIANTS))
    onnx: list[str] = dataclasses.field(default_factory=lambda: list(ONNX_VARIANTS))
    io: str = "int"  # full-integer TFLite variants: integer I/O ("int") or float I/O ("float")
    opset: int = 17
    onnx_quant_format: str | None = None  # a format or where the file runs; None: for this machine's CPU
    max_calib_samples: int = 500  # calibration and validation use at most this many samples
    image_range: str = "0,1"  # pixel range that an image-folder calibration set is scaled to
    trust_model_code: bool = False
    # layers (Keras names) or TFLite op types the int8 variant keeps in float; see convert/selective.py
    keep_float: list[str] = dataclasses.field(default_factory=list)
    # optimization before conversion (edgekit.optimize); fine-tuning needs labelled data
    prune: float | None = None  # target sparsity, 0 < prune < 1
    prune_structure: str | None = None  # "M:N": M zeros in every N consecutive weights
    qat: bool = False  # quantization-aware training, adds the int8-qat TFLite variant
    cluster: int | None = None  # number of weight clusters per layer
    train_data: str | None = None  # .npz with x and y; a zoo model brings its own
    fine_tune_epochs: int | None = None  # per optimization step; None: the recipe's default
    no_onednn: bool = False  # fine-tune with TF_ENABLE_ONEDNN_OPTS=0 from the start (docs/DESIGN.md, pitfall 25)
    strict: bool = False  # any variant not built, rejected or degraded fails the whole run, and nothing is written
    # the SQNR in dB every output must reach not to be marked degraded; None: by precision (measure/quality.py)
    min_sqnr: float | None = None
    # NAME:D0,D1,... (NAME optional for a one-input model): the size of each free dimension (data/shapes.py)
    input_shape: list[str] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        self.tflite = _variant_list(self.tflite, (*TFLITE_VARIANTS, QAT_VARIANT), "tflite")
        self.onnx = _variant_list(self.onnx, ONNX_VARIANTS, "onnx")
        if not self.tflite and not self.onnx:
            raise EdgekitError(f"no variants requested: give at least one of {option('tflite')} or {option('onnx')}")
        if self.io not in IO_TYPES:
            raise EdgekitError(f"{option('io', repr(self.io))} is not one of {', '.join(IO_TYPES)}")
        if not isinstance(self.opset, int) or not MIN_ONNX_OPSET <= self.opset <= MAX_ONNX_OPSET:
            raise EdgekitError(
                f"{option('opset', repr(self.opset))} is out of range: tf2onnx supports "
                f"{MIN_ONNX_OPSET} to {MAX_ONNX_OPSET}"
            )
        if self.onnx_quant_format is not None and self.onnx_quant_format not in (*ONNX_QUANT_FORMATS,
                                                                                 *ONNX_QUANT_TARGETS):
            raise EdgekitError(f"{option('onnx_quant_format', repr(self.onnx_quant_format))} is neither a format "
                               f"({', '.join(ONNX_QUANT_FORMATS)}) nor where the file will run "
                               f"({', '.join(ONNX_QUANT_TARGETS)})")
        if not isinstance(self.max_calib_samples, int) or self.max_calib_samples < 1:
            raise EdgekitError(
                f"{option('max_calib_samples', repr(self.max_calib_samples))} must be a positive integer"
            )
        if self.image_range not in IMAGE_RANGES:
            raise EdgekitError(
                f"{option('image_range', repr(self.image_range))} is not one of {', '.join(IMAGE_RANGES)}"
            )
        if self.min_sqnr is not None and not (isinstance(self.min_sqnr, (int, float)) and not isinstance(
                self.min_sqnr, bool) and 0 < self.min_sqnr <= MAX_MIN_SQNR):
            raise EdgekitError(f"{option('min_sqnr', repr(self.min_sqnr))} must be a number of dB above 0, at most "
                               f"{MAX_MIN_SQNR:g}, e.g. 20")
        self.keep_float = _name_list(self.keep_float, "keep_float")
        if self.keep_float and "int8" not in self.tflite and not {"int8-static", "int8-dynamic"} & set(self.onnx):
            raise EdgekitError(f"{option('keep_float')} applies to the TFLite int8 and ONNX int8 variants: "
                               f"add int8 to {option('tflite')} or int8-static to {option('onnx')}")
        self.input_shape = [text for text, _, _ in parse_input_shapes(self.input_shape)]
        self._validate_optimization()

    @property
    def optimizes(self) -> bool:
        return bool(self.prune or self.prune_structure or self.qat or self.cluster)

    def _validate_optimization(self) -> None:
        if self.prune is not None and not (isinstance(self.prune, (int, float)) and 0 < self.prune < 1):
            raise EdgekitError(f"{option('prune', repr(self.prune))} must be a sparsity between 0 and 1, e.g. 0.75")
        if self.prune_structure is not None:
            zeros, group = structure_of(self.prune_structure)
            if self.prune is not None and abs(self.prune - zeros / group) > 1e-9:
                raise EdgekitError(f"{option('prune_structure', self.prune_structure)} fixes sparsity at "
                                   f"{zeros / group:g}; leave out {option('prune', self.prune)}")
        if self.cluster is not None and not (isinstance(self.cluster, int) and 2 <= self.cluster <= 256):
            raise EdgekitError(f"{option('cluster', repr(self.cluster))} must be a number of clusters from 2 to 256")
        if self.fine_tune_epochs is not None and not (
                isinstance(self.fine_tune_epochs, int) and self.fine_tune_epochs >= 1):
            raise EdgekitError(f"{option('fine_tune_epochs', repr(self.fine_tune_epochs))} must be at least 1")
        if self.qat and "int8-qat" not in self.tflite:
            self.tflite = [*self.tflite, "int8-qat"]
        if "int8-qat" in self.tflite and not self.qat:
            raise EdgekitError(f"{option('tflite', 'int8-qat')} is made by quantization-aware training: "
                               f"add {switch('qat')}")

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> ConvertConfig:
        """A config from JSON-like values, each checked for its type first (`source` names them
        in an error: a config file, say)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(map(str, data)) - known)
        if unknown:
            shown = ", ".join(json.dumps(key)[:40] for key in unknown[:5])
            raise EdgekitError(f"{source}: unknown config key(s) {shown}: valid keys are {', '.join(sorted(known))}")
        for key, value in data.items():
            _check_type(key, value, source)
        return cls(**data)

    @classmethod
    def from_file(cls, path: str | Path) -> ConvertConfig:
        data, source = read_config_file(path)
        try:
            return cls.from_dict(data, source)
        except EdgekitError as exc:  # a value out of range: say which file it came from
            if str(exc).startswith(source):
                raise
            raise EdgekitError(f"{source}: {exc}") from None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def read_config_file(path: str | Path) -> tuple[dict, str]:
    """The JSON object in a config file, and the file's name for messages; anything else is one line."""
    path = Path(path)
    source = f"config file {path}"
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block or never end
            raise EdgekitError(f"{source} is {'a folder' if stat.S_ISDIR(info.st_mode) else 'not a regular file'}"
                               ": give a JSON file written with --dump-config")
        if info.st_size > MAX_CONFIG_BYTES:
            raise EdgekitError(f"{source} is {info.st_size} bytes, far more than a config: give a JSON file "
                               "written with --dump-config")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EdgekitError(f"{source} does not exist") from None
    except RecursionError:
        raise EdgekitError(f"{source} nests deeper than any config: write one with --dump-config") from None
    except (OSError, ValueError) as exc:  # ValueError: JSON and text decoding, an overlong integer
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else first_line(exc)
        raise EdgekitError(f"{source} is not readable JSON ({reason}): write one with --dump-config") from None
    if not isinstance(data, dict):
        raise EdgekitError(f"{source} must hold a JSON object: write one with --dump-config")
    return data, source


def _check_type(key: str, value, source: str) -> None:
    check_type(key, value, source, FIELD_TYPES[key])


def check_type(key: str, value, source: str, allowed: tuple[str, ...]) -> None:
    """One line naming the key when its value is not of a type `allowed` lists (FIELD_TYPES' words)."""
    if not any(_is_type(value, kind) for kind in allowed):
        shown = json.dumps(value)[:40] if isinstance(value, (str, int, float, bool, type(None))) else \
            ("a list" if isinstance(value, list) else "an object")
        raise EdgekitError(f"{source}: \"{key}\" is {shown}, not {' or '.join(_TYPE_WORDS[k] for k in allowed)}: "
                           "write the file with --dump-config")
    if isinstance(value, str) and "\0" in value:
        raise EdgekitError(f"{source}: \"{key}\" holds a NUL character, which no path or name can")


def _is_type(value, kind: str) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "strs":
        return isinstance(value, list) and all(isinstance(v, str) and "\0" not in v for v in value)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind == "bool":
        return isinstance(value, bool)
    return value is None


def structure_of(text: str) -> tuple[int, int]:
    """"2:4" -> (2, 4): M zeros in every group of N consecutive weights."""
    try:
        zeros, group = (int(part) for part in str(text).split(":"))
    except ValueError:
        zeros = group = 0
    if not 0 < zeros < group:
        raise EdgekitError(f"{option('prune_structure', repr(text))} must be M:N with 0 < M < N, e.g. 2:4")
    return zeros, group


def parse_input_shapes(texts, name: str = "input_shape") -> list[tuple[str, str | None, tuple[int, ...]]]:
    """--input-shape texts, "NAME:D0,D1,..." or "D0,D1,..." (one input), as (text, NAME or None, dims).
    The name is what comes before the last colon, so that `serving_default_x:0:1,64` names
    `serving_default_x:0`; every dimension is a positive integer."""
    if texts is None:
        return []
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, (list, tuple)) or not all(isinstance(t, str) for t in texts):
        raise EdgekitError(f"{option(name, repr(texts))} must be texts NAME:D0,D1,... (e.g. input:1,3,320,320)")
    found = []
    for text in texts:
        head, colon, tail = text.strip().rpartition(":")
        dims = tail.replace(" ", "").split(",")
        if not all(d.isdigit() and int(d) > 0 for d in dims) or (colon and not head):
            raise EdgekitError(f"{option(name, text)} is not NAME:D0,D1,... with positive integer sizes "
                               "(e.g. input:1,3,320,320, or 1,3,320,320 for a model with one input)")
        found.append((text.strip(), head if colon else None, tuple(int(d) for d in dims)))
    named = [n for _, n, _ in found]
    if None in named and len(named) > 1:
        raise EdgekitError(f"{option(name, found[named.index(None)][0])} gives no input name, and there are "
                           f"{len(named)} {option(name)}: name each input, NAME:D0,D1,...")
    twice = next((n for n in named if named.count(n) > 1), None)
    if twice is not None:
        raise EdgekitError(f"{option(name)} gives input {twice} twice: give it once")
    return found


def _name_list(value, name: str) -> list[str]:
    """'a,b' or ['a', 'b'] -> ['a', 'b'], in order, without repeats."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise EdgekitError(f"{option(name, repr(value))} must be comma-separated names")
    return list(dict.fromkeys(v.strip() for v in value if v.strip()))


def _variant_list(value, allowed: tuple[str, ...], name: str) -> list[str]:
    if isinstance(value, str):
        value = [v for v in value.split(",")]
    if not isinstance(value, (list, tuple)):
        raise EdgekitError(f"{option(name, repr(value))} must be comma-separated variant names")
    names = [str(v).strip() for v in value if str(v).strip()]
    if names in (["none"], ["-"]):
        return []
    if names == ["all"]:
        return [a for a in allowed if a != QAT_VARIANT]
    bad = [n for n in names if n not in allowed]
    if bad:
        raise EdgekitError(
            f"{option(name)}: unknown variant {', '.join(bad)}{did_you_mean(bad[0], allowed)}; choose from "
            f"{','.join(allowed)} (or all, none)"
        )
    return list(dict.fromkeys(names))  # keep order, drop repeats
