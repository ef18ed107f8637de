"""Write the bad-input corpus (and the valid-but-unusual models) that tests/cli/test_corpus.py
runs every command against. Run from the repository root:

    python tests/corpus/make_corpus.py

Everything is small (the zip bomb is 64 MiB of zeros packed into ~64 KB) and made from
scratch, so the corpus can be rebuilt on any machine; the files are committed so that the
tests need no TensorFlow model building of their own.
"""

from __future__ import annotations

import io
import json
import shutil
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from edgekit.core.lazy_imports import tensorflow  # noqa: E402  (after the path is set)
from tests.corpus.cases import TRUST_WRITE_FILE  # noqa: E402  (relative: run, it lands in the current folder)

SEED = 0


def main() -> None:
    for sub in ("models", "data", "results", "unusual", "config"):
        shutil.rmtree(HERE / sub, ignore_errors=True)
        (HERE / sub).mkdir()
    tf = tensorflow()
    import onnx
    import tf_keras

    rng = np.random.default_rng(SEED)
    models, data, results, unusual = (HERE / s for s in ("models", "data", "results", "unusual"))

    # --- valid seeds, cut up below -------------------------------------------------------------
    tf_keras.utils.set_random_seed(SEED)
    tiny = tf_keras.Sequential([tf_keras.layers.InputLayer((8, 8, 1), name="pixels"),
                                tf_keras.layers.Conv2D(2, 3, activation="relu"), tf_keras.layers.Flatten(),
                                tf_keras.layers.Dense(3, activation="softmax")])
    seeds = {"keras": _saved(tiny, ".keras"), "h5": _saved(tiny, ".h5"), "tflite": _tflite(tf, tiny),
             "onnx": _onnx_model(onnx).SerializeToString()}

    # --- model files ------------------------------------------------------------------------------
    for ext, valid in seeds.items():
        (models / f"empty.{ext}").write_bytes(b"")
        (models / f"truncated.{ext}").write_bytes(valid[: len(valid) // 2])
        (models / f"random.{ext}").write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    (models / "zipbomb.keras").write_bytes(_zip({"config.json": json.dumps(tiny.get_config()).encode(),
                                                 "model.weights.h5": bytes(64 << 20)}))
    (models / "escaping.keras").write_bytes(_zip({"config.json": b"{}", "../../escaped.txt": b"outside"}))
    (models / "not_a_savedmodel").mkdir()
    (models / "not_a_savedmodel" / "README.txt").write_text("a folder without saved_model.pb\n")
    flat = bytearray(seeds["tflite"])
    struct.pack_into("<I", flat, 0, len(flat) + 4096)  # root table offset past the end; TFL3 kept
    (models / "corrupted.tflite").write_bytes(bytes(flat))
    (models / "dangling.onnx").write_bytes(_onnx_model(onnx, dangling=True).SerializeToString())
    lam = tf_keras.Sequential([tf_keras.layers.InputLayer((8, 8, 1), name="pixels"),
                               tf_keras.layers.Lambda(lambda t: t * 2.0), tf_keras.layers.Flatten(),
                               tf_keras.layers.Dense(3, activation="softmax")])
    (models / "lambda.keras").write_bytes(_saved(lam, ".keras"))
    (models / "lambda.h5").write_bytes(_saved(lam, ".h5"))

    # --- calibration data (for an 8x8x1 float input, like the default model's) --------------
    good = rng.random((16, 8, 8, 1), dtype=np.float32)
    np.save(data / "empty.npy", np.zeros((0, 8, 8, 1), np.float32))
    (data / "empty_file.npz").write_bytes(b"")
    np.save(data / "wrong_shape.npy", rng.random((16, 7, 7, 1), dtype=np.float32))
    np.save(data / "wrong_dtype.npy", np.full((16, 8, 8, 1), "x"))
    np.save(data / "nan.npy", np.where(good > 0.9, np.nan, good))
    np.savez(data / "inf.npz", pixels=np.where(good > 0.9, np.inf, good))
    np.save(data / "single_sample.npy", good[:1])
    (data / "huge_shape.npy").write_bytes(_npy_header((10**12, 8, 8, 1), "<f4"))
    (data / "truncated.npy").write_bytes(_npy_bytes(good)[:600])
    (data / "random.npy").write_bytes(rng.integers(0, 256, 2048, dtype=np.uint8).tobytes())
    np.savez(data / "unexpected_keys.npz", images=good, labels=np.zeros(16))
    folder = data / "images_with_text"
    folder.mkdir()
    from PIL import Image

    for i in range(3):
        Image.fromarray((good[i, :, :, 0] * 255).astype(np.uint8)).save(folder / f"{i}.png")
    (folder / "notes.txt").write_text("not an image\n")

    # --- results files -----------------------------------------------------------------------
    (results / "future_schema.json").write_text(json.dumps({"schema_version": 99, "kind": "edgekit-bench",
                                                            "models": []}))
    (results / "other_tool.json").write_text(json.dumps({"name": "resnet", "latency_ms": 3.1}))
    (results / "not_json.json").write_text("{\"schema_version\": 2, \"kind\": \"edgekit-bench\",")

    # --- valid but unusual models, each with its calibration set ------------------------------
    a, b = tf_keras.Input((4,), name="a"), tf_keras.Input((3,), name="b")
    both = tf_keras.layers.Concatenate()([a, b])
    two = tf_keras.Model([a, b], tf_keras.layers.Dense(2, name="score")(both))
    (unusual / "two_inputs.keras").write_bytes(_saved(two, ".keras"))
    np.savez(unusual / "two_inputs.npz", a=rng.random((32, 4), dtype=np.float32),
             b=rng.random((32, 3), dtype=np.float32))
    dynamic = tf_keras.Sequential([tf_keras.layers.InputLayer((None, None, 1), name="image"),
                                   tf_keras.layers.Conv2D(4, 3, activation="relu"),
                                   tf_keras.layers.GlobalAveragePooling2D(), tf_keras.layers.Dense(3)])
    (unusual / "dynamic_shape.keras").write_bytes(_saved(dynamic, ".keras"))
    np.save(unusual / "dynamic_shape.npy", rng.random((32, 12, 12, 1), dtype=np.float32))
    lstm = tf_keras.Sequential([tf_keras.layers.InputLayer((10, 4), name="sequence"),
                                tf_keras.layers.LSTM(8), tf_keras.layers.Dense(2)])
    (unusual / "lstm.keras").write_bytes(_saved(lstm, ".keras"))
    np.save(unusual / "lstm.npy", rng.random((32, 10, 4), dtype=np.float32))

    @tf.function(input_signature=[tf.TensorSpec([None, 3, 3], tf.float32, name="m")])
    def det(m):  # MatrixDeterminant: no TFLite builtin (Flex only), but ONNX has Det
        return {"det": tf.linalg.det(m)}

    tf.saved_model.save(tf.Module(), str(unusual / "needs_flex"),
                        signatures={"serving_default": det.get_concrete_function()})
    np.save(unusual / "needs_flex.npy", rng.random((32, 3, 3), dtype=np.float32) + np.eye(3, dtype=np.float32))
    make_trust_models(models)
    make_results_and_config()
    make_big_image()
    make_compile_corpus()
    make_suites_and_devices()
    make_limits()
    total = sum(p.stat().st_size for p in HERE.rglob("*") if p.is_file())
    print(f"wrote the corpus under {HERE} ({total / 1024:.0f} KB)")


def make_trust_models(models: Path = HERE / "models") -> None:
    """Models that reach files or Python when loaded or run (refused without --trust-model-code),
    and .keras files whose metadata or config is malformed."""
    import contextlib
    import tempfile

    tf = tensorflow()
    import keras
    import tf_keras

    for name in ("trust_write_savedmodel", "trust_read_savedmodel"):
        shutil.rmtree(models / name, ignore_errors=True)
    spec = tf.TensorSpec([None, 8, 8, 1], tf.float32, name="image")

    def scores(image):
        return tf.nn.softmax(tf.reshape(image, [-1, 64])[:, :3])

    class Writer(tf.Module):
        @tf.function(input_signature=[spec])
        def serve(self, image):
            with tf.control_dependencies([tf.io.write_file(TRUST_WRITE_FILE, "written by a model\n")]):
                return {"scores": tf.identity(scores(image))}

    writer = Writer()  # `serve` also callable by name, for the TFSMLayer below
    tf.saved_model.save(writer, str(models / "trust_write_savedmodel"), signatures={"serving_default": writer.serve})

    @tf.function(input_signature=[spec])
    def read(image):
        secret = tf.io.read_file("edgekit-secret.txt")
        return {"scores": scores(image) + 0.0 * tf.cast(tf.strings.length(secret), tf.float32)}

    tf.saved_model.save(tf.Module(), str(models / "trust_read_savedmodel"),
                        signatures={"serving_default": read.get_concrete_function()})

    # tf-keras: an op layer calling tf.io.read_file on a path made from the input
    from tf_keras.src.layers.core.tf_op_layer import TFOpLambda

    image = tf_keras.Input((8, 8, 1), name="image")
    path = tf.strings.regex_replace(tf.strings.as_string(tf.math.reduce_sum(image)), ".*", "edgekit-secret.txt")
    length = tf.cast(tf.strings.length(TFOpLambda(tf.io.read_file)(path)), tf.float32)
    dense = tf_keras.layers.Dense(3, activation="softmax")(tf_keras.layers.Flatten()(image))
    (models / "trust_tfoplambda.h5").write_bytes(_saved(tf_keras.Model(image, dense + 0.0 * length), ".h5"))

    # lookup layers whose vocabulary is a file (a relative path, as the configs store it)
    vocabulary = "edgekit-vocab.txt"
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):
        Path(vocabulary).write_text("cat\ndog\n")
        words = tf_keras.Input((1,), dtype="string", name="words")
        lookup = tf_keras.Model(words, tf_keras.layers.StringLookup(vocabulary=vocabulary)(words))
        (models / "trust_lookup_file.h5").write_bytes(_saved(lookup, ".h5"))
        (models / "trust_lookup_file.keras").write_bytes(_saved(lookup, ".keras"))
    words = keras.Input((1,), dtype="string", name="words")
    lookup3 = keras.Model(words, keras.layers.StringLookup(vocabulary=["cat", "dog"])(words))
    (models / "trust_keras3_lookup.keras").write_bytes(_edited_config(_saved(lookup3, ".keras"), lambda config: config[
        "config"]["layers"][1]["config"].update(vocabulary=vocabulary)))

    # Keras 3: a registered custom layer (its code is not in the file: loading would need it)
    @keras.saving.register_keras_serializable(package="edgekit_corpus")
    class Twice(keras.layers.Layer):
        def call(self, x):
            return x * 2

    numbers = keras.Input((3,), name="numbers")
    (models / "trust_custom.keras").write_bytes(_saved(keras.Model(numbers, Twice()(numbers)), ".keras"))

    # Keras 3: a TFSMLayer that loads (and would run) the writing SavedModel, named from the repo root
    with contextlib.chdir(HERE.parents[1]):
        image3 = keras.Input((8, 8, 1), name="image")
        wrapped = keras.layers.TFSMLayer(str((models / "trust_write_savedmodel").relative_to(Path.cwd())),
                                         call_endpoint="serve")
        (models / "trust_tfsm.keras").write_bytes(_saved(keras.Model(image3, wrapped(image3)), ".keras"))

    # malformed metadata.json and config.json in an otherwise real model (Keras would not get as far)
    tiny = _saved(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]), ".keras")
    deep = b"[" * 100_000 + b"]" * 100_000
    (models / "metadata_list.keras").write_bytes(_replaced(tiny, {"metadata.json": b"[]"}))
    (models / "metadata_deep.keras").write_bytes(_replaced(tiny, {"metadata.json": deep}))
    (models / "config_deep.keras").write_bytes(_replaced(tiny, {"config.json": deep}))


def _replaced(keras_file: bytes, members: dict[str, bytes]) -> bytes:
    """A .keras file with some members' contents replaced (as an attacker would)."""
    with zipfile.ZipFile(io.BytesIO(keras_file)) as archive:
        kept = {name: archive.read(name) for name in archive.namelist()}
    return _zip({**kept, **members})


def _edited_config(keras_file: bytes, edit) -> bytes:
    """A .keras file with its config.json changed by `edit(config)`."""
    with zipfile.ZipFile(io.BytesIO(keras_file)) as archive:
        config = json.loads(archive.read("config.json"))
    edit(config)
    return _replaced(keras_file, {"config.json": json.dumps(config).encode()})


# Strings no report may turn into markup, each with a marker naming the field it is put in: tags,
# links (javascript: too), images, entities, line breaks that end a table row, emphasis, code,
# autolinks, a mention, an issue reference, math, list and heading markers, a link definition.
HOSTILE = ("<script>alert('{}')</script>", "[{}](javascript:alert(1))", "![{}](javascript:alert(2))",
           "<img src=x onerror=alert(3)>{}", "&lt;b&gt;{}&#60;i&#62;&amp;", "{}\n| --- |\n# heading\r\nx",
           "`{}` **bold** _em_ ~~strike~~ *it*", "<javascript:alert(4)>{}", "https://evil.example/{} www.evil.example",
           "\\<b>{}</b>\\", "@someone #123 $x^2$ {}", "1. {}", "- {}", "    {} indented", "<!-- {} -->",
           "[{}]: javascript:alert(5)", "> {}", "{} <a href='javascript:alert(6)'>a</a>", "a@evil.example {}")


def hostile_results() -> dict:
    """A valid results file with a hostile string (HOSTILE, in turn) in every string field a
    report shows, each marked with the field's name."""
    import itertools

    from tests.results_sample import sample_results

    pick = itertools.cycle(HOSTILE)

    def hostile(field: str) -> str:
        return next(pick).format(field.replace("_", "-"))

    results = sample_results(hostile("model-name"))
    results["created"] = hostile("created")
    results["environment"] = {"cpu": {"name": hostile("cpu-name"), "cores": 2}, "platform": hostile("platform"),
                              "python": hostile("python"),
                              "versions": {name: hostile(f"version-{name}") for name in
                                           ("edgekit", "tensorflow", "ai-edge-litert", "onnxruntime", "numpy")}}
    model = results["models"][0]
    model["reference_note"] = hostile("reference-note")
    model["data"]["source"] = hostile("data-source")
    names = {}
    for artifact in model["artifacts"]:
        names[artifact["name"]] = hostile(f"artifact-{artifact['variant']}")
        artifact.update(name=names[artifact["name"]], sha256=hostile("sha256"))
        for spec in artifact["inputs"] + artifact["outputs"]:
            spec.update(name=hostile("tensor-name"), dtype=hostile("dtype"))
    model["reference"]["artifact"] = names[model["reference"]["artifact"]]
    for record in model["records"]:
        record.update(artifact=names[record["artifact"]], format=hostile("format"),
                      variant=hostile("variant"), runtime=hostile("runtime"), target=hostile("target"))
        if record["status"] != "ok":
            record["reason"] = hostile("reason")
            continue
        record["details"] = {hostile("option-name"): hostile("option-value")}
        record["accuracy"]["metric"] = hostile("accuracy-metric")
        if record["fidelity"]:
            record["fidelity"]["outputs"] = {hostile("output-name"): record["fidelity"]["outputs"]["probs"]}
    return results


def make_results_and_config(results: Path = HERE / "results", configs: Path = HERE / "config",
                            unusual: Path = HERE / "unusual") -> None:
    """Results files that no report or gate may trust: a NaN, Infinity or -Infinity (JSON's
    literals, which Python's json reads) where a gate reads a figure, a number past float range, an
    integer past Python's digit limit, nesting 100k deep, environment.cpu a string, a metric no
    edgekit scores (a pair, for compare); config files with a wrong type and 100k deep nesting;
    and a valid results file with a hostile string in every string field (unusual/)."""
    from tests.results_sample import sample_results

    deep = "[" * 100_000 + "]" * 100_000
    for field in ("accuracy.value", "latency_us.p50", "latency_us.robust_cv"):
        for literal in ("NaN", "Infinity", "-Infinity"):
            bad = sample_results()
            block, key = field.split(".")
            bad["models"][0]["records"][3][block][key] = 12345.678  # a placeholder, replaced as text
            text = json.dumps(bad).replace("12345.678", literal)
            (results / f"nonfinite_{key}_{literal.replace('-', 'minus_')}.json").write_text(text)
    text = json.dumps(sample_results())
    (results / "exponent_overflow.json").write_text(text.replace('"p50": 4.0', '"p50": 4e999'))
    (results / "overlong_integer.json").write_text(text.replace('"size_bytes": 20000', '"size_bytes": 2' + "0" * 5000, 1))
    (results / "deep.json").write_text('{"kind": "edgekit-bench", "schema_version": 2, "models": ' + deep + "}")
    bad = sample_results()
    bad["environment"]["cpu"] = "Intel(R) Xeon(R)"
    (results / "cpu_string.json").write_text(json.dumps(bad))
    for name in ("unknown_metric_a.json", "unknown_metric_b.json"):
        bad = sample_results()
        bad["models"][0]["data"]["metric"] = "bleu"
        (results / name).write_text(json.dumps(bad))
    configs.mkdir(exist_ok=True)
    (configs / "tflite_number.json").write_text('{"tflite": 5}\n')
    (configs / "image_range_list.json").write_text('{"image_range": [0, 1]}\n')
    (configs / "deep.json").write_text('{"tflite": ' + deep + "}\n")
    (unusual / "hostile_strings.json").write_text(json.dumps(hostile_results(), indent=1, ensure_ascii=False))


# a valid suite: each hostile one below changes a field or two of it (tests/corpus/cases.py)
VALID_SUITE = {"models": ["digits_mlp"], "tflite": ["fp32"], "onnx": ["none"], "runtimes": ["litert:xnnpack"],
               "threads": [1], "runs": 5, "warmup": 1, "batch": 4, "quick": {}}
HOSTILE_SUITES = {
    "no_models.json": {"models": []}, "bogus_variant.json": {"tflite": ["bogus", 5]},
    "quick_overrides.json": {"quick": {"runs": True, "threads": [0]}}, "quick_null.json": {"quick": {"runs": None}},
    "threads_string.json": {"threads": ["a"]}, "threads_negative.json": {"threads": [-1, 100000]},
    "threads_huge.json": {"threads": [1, 100000]}, "runs_true.json": {"runs": True}, "runs_one.json": {"runs": 1},
    "model_number.json": {"models": [5]}, "unknown_runtime.json": {"runtimes": ["litert:turbo"]},
    "unknown_field.json": {"trust_model_cod": True},
}
HOSTILE_DEVICES = {  # file -> its text
    "local_entry.toml": '[local]\nssh = "pi@pi5.local"\n', "adb_entry.toml": '[adb]\nadb = ""\n',
    "adb_url_entry.toml": '["adb://emulator-5554"]\nadb = "emulator-5554"\n',
    "ssh_url_entry.toml": '["ssh://pi@pi5.local"]\nssh = "pi@pi5.local"\n',
    "proxy_command.toml": '[pi5]\nssh = "-oProxyCommand=touch /tmp/edgekit-pwned"\n',
    "unknown_key.toml": '[pi5]\nssh = "pi@pi5.local"\npyhton = "python3"\n',
    "phone_unknown_key.toml": '[pixel8]\nadb = "39081FDJH00A2B"\nbenchmark_bin = "bm"\n',
    "ssh_options_string.toml": '[pi5]\nssh = "pi@pi5.local"\nssh_options = "-v"\n',
    "both_kinds.toml": '[pi5]\nssh = "pi@pi5.local"\nadb = ""\n', "neither_kind.toml": '[pi5]\nnotes = "a Pi"\n',
    "comma_name.toml": '["pi5,pi4"]\nssh = "pi@pi5.local"\n',
}


def make_suites_and_devices(suites: Path = HERE / "suites", devices: Path = HERE / "devices") -> None:
    """Suites (edgekit sweep) and devices files (--devices, EDGEKIT_DEVICES) that must be refused
    in one line naming the file and the field or entry: wrong types, values out of range, unknown
    names, nesting 100k deep, entries a --device value already means."""
    deep = "[" * 100_000 + "]" * 100_000
    for folder in (suites, devices):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
    (suites / "top_level_list.json").write_text("[1, 2]\n")
    (suites / "deep.json").write_text('{"models": ' + deep + "}\n")
    for name, change in HOSTILE_SUITES.items():
        (suites / name).write_text(json.dumps({**VALID_SUITE, **change}) + "\n")
    (devices / "deep.toml").write_text("pi5 = " + deep + "\n")
    for name, text in HOSTILE_DEVICES.items():
        (devices / name).write_text(text)


def blank_png(width: int, height: int) -> bytes:
    """A 1-bit black PNG of any size, written row by row: 12000x12000 packs into ~18 KB, and
    nothing near its decoded size is ever held here."""
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer, row = zlib.compressobj(9), b"\0" + bytes((width + 7) // 8)  # filter byte, then the pixels
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def make_big_image(data: Path = HERE / "data") -> None:
    """An image folder whose one PNG declares 12000x12000 pixels: 18 KB on disk, 288 MB decoded."""
    (data / "huge_image").mkdir(exist_ok=True)
    (data / "huge_image" / "huge.png").write_bytes(blank_png(12000, 12000))


def make_compile_corpus(folder: Path = HERE / "compile") -> None:
    """Damaged .tflite files (an index past its list, an operator reading its own output, a 64 GiB
    input) and the valid one they are cut from, built field by field without TensorFlow."""
    from tests.corpus.tflite_builder import tiny_tflite, write_damaged

    shutil.rmtree(folder, ignore_errors=True)
    write_damaged(folder)
    (folder / "tiny.tflite").write_bytes(tiny_tflite())


# --- past the work limits (edgekit/core/limits.py) ------------------------------------------------------
MANY_OPS = 240_000  # as the 9.5 MB .tflite of issue 28, which took minutes to load and inspect
RELU = 19  # TFLite's BuiltinOperator.RELU


def make_limits(folder: Path = HERE / "limits") -> None:
    """Small files whose inputs are so big that bench's random samples (64) would take edgekit's
    own process far more than its memory: an ONNX input of 2^40 elements (256 TiB), a .tflite
    input of 2^28 float32 (64 GB; LiteRT, which loads the file first, reserves 1 GB per tensor
    without touching it). The files of MANY_OPS ops (9.6 and 6 MB) are written where the corpus
    runs (tests/corpus/cases.py, `limits_places`), in a fraction of a second each."""
    folder.mkdir(exist_ok=True)
    (folder / "huge_input.onnx").write_bytes(chain_onnx(1, (1, 1 << 40)))
    (folder / "huge_input.tflite").write_bytes(chain_tflite(1, (1, 1 << 28)))


def chain_tflite(count: int, shape: tuple[int, ...] = (1, 4)) -> bytes:
    """A .tflite LiteRT runs: `count` RELU ops in a chain on float32 tensors of `shape`, every
    tensor one shared table (named x). Written front to back with numpy (the flatbuffers builder takes
    seconds for 240k ops): each table right after its vtable, each offset pointing forward."""
    n, rank = count, len(shape)
    sizes = {"header": 8, "model_vt": 16, "model": 20, "codes": 8, "code_vt": 12, "code": 16, "buffers": 8,
             "buffer_vt": 4, "buffer": 4, "graphs": 8, "graph_vt": 12, "graph": 20, "inputs": 8, "outputs": 8,
             "tensors": 4 + 4 * (n + 1), "tensor_vt": 12, "tensor": 20, "shape": 4 + 4 * rank, "name": 8,
             "op_vt": 12,
             "ops": 4 + 4 * n, "records": 32 * n}
    at = dict(zip(sizes, np.cumsum([0, *sizes.values()]).tolist()))

    def u32(*values) -> bytes:
        return np.array(values, "<u4").tobytes()

    def u16(*values) -> bytes:
        return np.array(values, "<u2").tobytes()

    def to(name: str, field: int) -> int:  # an offset written at `field`, to the object `name`
        return at[name] - field

    steps = np.arange(n)
    records = np.zeros((n, 8), "<u4")  # per op: its table (4 fields), its inputs [i], its outputs [i + 1]
    records[:, 0] = at["records"] + 32 * steps - at["op_vt"]  # each table's offset back to the shared vtable
    records[:, 2:] = (8, 12, 1, 0, 1, 0)  # opcode 0; offsets to the inputs and outputs vectors
    records[:, 5], records[:, 7] = steps, steps + 1
    m, g, t = at["model"], at["graph"], at["tensor"]
    data = b"".join([
        u32(m) + b"TFL3",
        u16(14, 20, 4, 8, 12, 0, 16, 0),  # Model: version, operator_codes, subgraphs, (description), buffers
        u32(m - at["model_vt"], 3, to("codes", m + 8), to("graphs", m + 12), to("buffers", m + 16)),
        u32(1, to("code", at["codes"] + 4)),
        u16(12, 16, 12, 0, 4, 8),  # OperatorCode: deprecated_builtin_code, (custom_code), version, builtin_code
        u32(at["code"] - at["code_vt"], 1, RELU, RELU),
        u32(1, to("buffer", at["buffers"] + 4)),
        u16(4, 4),  # Buffer: no fields (the empty buffer every tensor without data names)
        u32(at["buffer"] - at["buffer_vt"]),
        u32(1, to("graph", at["graphs"] + 4)),
        u16(12, 20, 4, 8, 12, 16),  # SubGraph: tensors, inputs, outputs, operators
        u32(g - at["graph_vt"], to("tensors", g + 4), to("inputs", g + 8), to("outputs", g + 12), to("ops", g + 16)),
        u32(1, 0), u32(1, n),
        u32(n + 1) + (t - (at["tensors"] + 4 + 4 * np.arange(n + 1))).astype("<u4").tobytes(),
        u16(12, 20, 4, 12, 8, 16),  # Tensor: shape, type (float32: 0), buffer, name
        u32(t - at["tensor_vt"], to("shape", t + 4), 0, 0, to("name", t + 16)),
        u32(rank, *shape),
        u32(1) + b"x\0\0\0",  # the name "x", its closing zero and padding
        u16(10, 16, 4, 8, 12, 0),  # Operator: opcode_index, inputs, outputs
        u32(n) + (at["records"] + 32 * steps - (at["ops"] + 4 + 4 * steps)).astype("<u4").tobytes(),
        records.tobytes(),
    ])
    assert len(data) == at["records"] + 32 * n
    return data


def chain_onnx(count: int, shape: tuple[int, ...] = (1, 4)) -> bytes:
    """An .onnx onnxruntime runs: `count` Relu nodes in a chain on float tensors of `shape`. The
    nodes are written as protobuf bytes after the model (a message field that comes twice is
    merged, its repeated fields appended): onnx.helper takes seconds for 240k nodes."""
    from onnx import TensorProto, helper

    def field(number: int, payload: bytes) -> bytes:  # a length-delimited protobuf field
        size, length = len(payload), b""
        while True:
            length += bytes([size & 0x7F | (0x80 if size > 0x7F else 0)])
            size >>= 7
            if not size:
                return bytes([number << 3 | 2]) + length + payload

    io_ = [helper.make_tensor_value_info(f"t{i}", TensorProto.FLOAT, list(shape)) for i in (0, count)]
    graph = helper.make_graph([], "chain", io_[:1], io_[1:])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="edgekit-corpus")
    model.ir_version = 8
    nodes = b"".join(field(1, field(1, b"t%d" % i) + field(2, b"t%d" % (i + 1)) + field(4, b"Relu"))
                     for i in range(count))
    return model.SerializeToString() + field(7, nodes)  # ModelProto.graph (7), GraphProto.node (1)


def _saved(model, suffix: str) -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"model{suffix}"
        model.save(path)
        return path.read_bytes()


def _tflite(tf, model) -> bytes:
    run = tf.function(lambda x: model(x)).get_concrete_function(tf.TensorSpec([1, 8, 8, 1], tf.float32))
    return tf.lite.TFLiteConverter.from_concrete_functions([run], model).convert()


def _onnx_model(onnx, dangling: bool = False):
    """y = relu(x @ W): a valid graph, or one whose node reads a tensor nothing produces."""
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((4, 2), np.float32), "W")
    matmul = helper.make_node("MatMul", ["x", "W"], ["h"])
    relu = helper.make_node("Relu", ["nowhere" if dangling else "h"], ["y"])
    graph = helper.make_graph([matmul, relu], "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="edgekit-corpus")
    model.ir_version = 8  # what opset 17 needs; onnx's newest default is past onnxruntime's maximum
    return model


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, content in members.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _npy_header(shape: tuple, descr: str) -> bytes:
    """A version 1.0 .npy header declaring `shape`, with no data after it."""
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


if __name__ == "__main__":
    main()
