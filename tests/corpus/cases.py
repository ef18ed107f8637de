"""The bad-input matrix: every corpus file (and every bad argument) through every command that
takes it. Each case must end in exit code 2 and one line on stderr that names the file (or
option) and the problem, with no traceback, and must leave the output folder as it was.

Placeholders in argv, filled in by the runner: {out} is an output folder holding a previous
run's files, {file} is a plain file where a folder is expected, {ro} is a folder the run
cannot write, {fifo_model}, {fifo_graph} and {fifo_variables} are FIFOs where a model, a
SavedModel's graph or its variables belong, {no_artifacts} is an empty folder. The output paths
of `output_places` ({dangling}, {loop}, {full}, {rofs}, {long_model}, {project}, {user_folder})
are described there, and the FIFOs and manifests of `special_data` ({fifo_npy}, {fifo_npz},
{fifo_images}, {fifo_config}, {fifo_results}, {manifest_fifo}, {manifest_root}) there.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

CORPUS = Path(__file__).resolve().parent
REPO = CORPUS.parents[1]
MODEL = REPO / "models" / "digits_cnn" / "model.keras"  # a valid model: 8x8x1 float input
CALIB = REPO / "calibration_data" / "digits_cnn.npz"
RESULTS = REPO / "benchmarks" / "baseline.json"  # valid results, to pair with a bad one
HUGE_IMAGE = CORPUS / "data" / "huge_image"  # one PNG of 12000x12000 pixels in 18 KB


@dataclasses.dataclass(frozen=True)
class Case:
    name: str  # "<corpus file or argument> via <command>"
    argv: tuple[str, ...]
    names: str  # what the error line must name: the file or the option
    problem: tuple[str, ...]  # one of these must be in the error line too


# corpus model file -> words, one of which the message of a command that reads it must hold
MODEL_FILES = {
    "empty.keras": ("empty",), "empty.h5": ("empty",), "empty.tflite": ("TFL3", "empty"),
    "empty.onnx": ("not a valid ONNX", "empty"),
    "truncated.keras": ("damaged", "truncated"), "truncated.h5": ("damaged", "truncated"),
    "truncated.tflite": ("damaged", "not a valid Flatbuffer"), "truncated.onnx": ("not a valid ONNX", "Protobuf parsing"),
    "random.keras": ("neither", "damaged"), "random.h5": ("neither", "damaged"),
    "random.tflite": ("TFL3", "not a valid Flatbuffer"), "random.onnx": ("not a valid ONNX", "Protobuf parsing"),
    "zipbomb.keras": ("zip bomb",), "escaping.keras": ("outside",),
    "not_a_savedmodel": ("not a SavedModel", "no .tflite or .onnx"),
    "corrupted.tflite": ("damaged", "not a valid Flatbuffer"), "dangling.onnx": ("not a valid ONNX", "nowhere"),
    "lambda.keras": ("--trust-model-code",), "lambda.h5": ("--trust-model-code",),
    # models that reach files or Python (edgekit/models/trust.py), refused before anything loads; the
    # error line also names --trust-model-code (tests/cli/test_corpus.py checks)
    "trust_write_savedmodel": ("op WriteFile",), "trust_read_savedmodel": ("op ReadFile",),
    "trust_tfoplambda.h5": ("tf.io.read_file",), "trust_lookup_file.h5": ("vocabulary from the file",),
    "trust_lookup_file.keras": ("vocabulary from the file",), "trust_keras3_lookup.keras": ("vocabulary from the file",),
    "trust_custom.keras": ("custom object",), "trust_tfsm.keras": ("TFSMLayer",),
    "metadata_list.keras": ("metadata.json",), "metadata_deep.keras": ("metadata.json",),
    "config_deep.keras": ("no readable config",),
}
TRUST_FILES = tuple(name for name in MODEL_FILES if name.startswith(("trust_", "lambda.")))
TRUST_WRITE_MODEL = CORPUS / "models" / "trust_write_savedmodel"
TRUST_WRITE_FILE = "edgekit-pwned-write.txt"  # what that model writes, relative to the current folder
# which commands read which model files (the others refuse them by kind, also with exit 2)
READERS = {"convert": (".keras", ".h5", ""), "optimize": (".keras", ".h5"), "bench": (".tflite", ".onnx", ".keras", ".h5"),
           "inspect": (".tflite", ".onnx", ".keras", ".h5", ""), "debug-quant": (".keras", ".h5", ""), "tune": (".keras", ".h5", "")}

DATA_FILES = {
    "empty.npy": ("empty",), "empty_file.npz": ("damaged",), "wrong_shape.npy": ("shape",),
    "wrong_dtype.npy": ("dtype",), "nan.npy": ("NaN",), "inf.npz": ("NaN or inf",),
    "single_sample.npy": ("1 sample",), "huge_shape.npy": ("limit",), "truncated.npy": ("truncated",),
    "random.npy": ("not a readable .npy",), "unexpected_keys.npz": ("expected one per model input",),
    "images_with_text": ("notes.txt is not an image",),
}
FOR_CALIBRATION_ONLY = {"single_sample.npy"}  # one evaluation sample is valid for bench

RESULTS_FILES = {"future_schema.json": ("schema_version 99", "newer"), "other_tool.json": ("not an edgekit",),
                 "not_json.json": ("not valid JSON", "JSON"),
                 # no gate may pass on a figure that is not a finite number (issue 15): the line names the field
                 **{f"nonfinite_{key}_{literal.replace('-', 'minus_')}.json": (f"{where}.{key} is {literal}",)
                    for where, key in (("accuracy", "value"), ("latency_us", "p50"), ("latency_us", "robust_cv"))
                    for literal in ("NaN", "Infinity", "-Infinity")},
                 "exponent_overflow.json": ("latency_us.p50 is Infinity",),
                 "overlong_integer.json": ("not readable JSON",), "deep.json": ("nests deeper",),
                 "cpu_string.json": ("environment.cpu is a string",),
                 "unknown_metric_a.json": ("data.metric is \"bleu\"",)}
CONFIG_FILES = {"tflite_number.json": ('"tflite" is 5',), "image_range_list.json": ('"image_range" is a list',),
                "deep.json": ("nests deeper",)}


def model_cases() -> list[Case]:
    cases = []
    for file, problem in MODEL_FILES.items():
        path = CORPUS / "models" / file
        argvs = {
            "convert": ("convert", path, "--calib", CALIB, "--out", "{out}", "-q"),
            "optimize": ("optimize", path, "--prune", "0.5", "--out", "{out}", "-q"),
            "bench": ("bench", path, "--output", "{out}/results.json", "-q"),
            "inspect": ("inspect", path),
            "debug-quant": ("debug-quant", path, "--calib", CALIB, "--output", "{out}/debug.json", "-q"),
            "tune": ("tune", path, "--calib", CALIB, "--out", "{out}", "-q"),
        }
        for command, argv in argvs.items():
            reads = path.suffix in READERS[command]
            cases.append(Case(f"{file} via {command}", tuple(map(str, argv)), file, problem if reads else ()))
    return cases


def special_model_cases() -> list[Case]:
    """Model paths that are not regular files (made by `special_models`): reading one blocks or
    never ends, so each must be refused before anything opens it. Run them under `unblocked`:
    a regression then fails the test instead of hanging it."""
    calib = str(CALIB)
    cases = []
    for where in ("{fifo_model}", "{fifo_graph}", "{fifo_variables}", "/dev/null"):
        problem = ("not a regular file",)
        cases += [Case(f"{where} via convert", ("convert", where, "--calib", calib, "--out", "{out}", "-q"), where,
                       problem),
                  Case(f"{where} via bench --reference", ("bench", "{no_artifacts}", "--reference", where, "--output",
                                                          "{out}/results.json", "-q"), where, problem),
                  Case(f"{where} via tune", ("tune", where, "--calib", calib, "--out", "{out}", "-q"), where, problem)]
    return cases + special_data_cases()


def special_data_cases() -> list[Case]:
    """Data, config and results paths that are not regular files, and manifests naming one (or
    "/") as their float model (made by `special_data`): refused before anything opens or hashes
    them, like the models above."""
    model = str(MODEL)
    fifo = ("FIFO",)
    cases = []
    for where in ("{fifo_npy}", "{fifo_npz}", "{fifo_images}"):
        named = where if where != "{fifo_images}" else "1.png"
        cases += [Case(f"{where} via convert --calib", ("convert", model, "--calib", where, "--out", "{out}", "-q"),
                       named, fifo),
                  Case(f"{where} via bench --data", ("bench", model, "--data", where, "--output", "{out}/results.json",
                                                     "-q"), named, fifo)]
    return cases + [
        Case("{fifo_npz} via optimize --train-data", ("optimize", model, "--prune", "0.5", "--train-data", "{fifo_npz}",
                                                       "--out", "{out}", "-q"), "{fifo_npz}", fifo),
        Case("{fifo_config} via convert --config", ("convert", "--config", "{fifo_config}", "--out", "{out}", "-q"),
             "{fifo_config}", ("not a regular file",)),
        Case("{fifo_results} via report", ("report", "{fifo_results}", "--output", "{out}/report.md"), "{fifo_results}",
             ("not a file",)),
        Case("{fifo_results} via compare", ("compare", str(RESULTS), "{fifo_results}", "--output", "{out}/compare.md"),
             "{fifo_results}", ("not a file",)),
        Case("manifest naming a FIFO as its model via bench", ("bench", "{manifest_fifo}", "--output",
                                                                "{out}/results.json", "-q"),
             "{manifest_fifo}/source.keras", fifo),
        Case("manifest naming / as its model via bench", ("bench", "{manifest_root}", "--output", "{out}/results.json",
                                                           "-q"), "{manifest_root}/manifest.json", ("not a SavedModel",)),
    ]


def data_cases() -> list[Case]:
    cases = []
    for file, problem in DATA_FILES.items():
        path = CORPUS / "data" / file
        cases.append(Case(f"{file} via convert --calib", tuple(map(str, (
            "convert", MODEL, "--calib", path, "--out", "{out}", "-q"))), file, problem))
        if file not in FOR_CALIBRATION_ONLY:
            cases.append(Case(f"{file} via bench --data", tuple(map(str, (
                "bench", MODEL, "--data", path, "--output", "{out}/results.json", "-q"))), file, problem))
    return cases


def results_cases() -> list[Case]:
    pair = [str(CORPUS / "results" / name) for name in ("unknown_metric_a.json", "unknown_metric_b.json")]
    cases = [Case("two results files with an unknown metric via compare", ("compare", *pair, "--output",
                                                                           "{out}/compare.md"),
                  "unknown_metric_a.json", ("not a metric edgekit scores",))]
    for file, problem in CONFIG_FILES.items():
        cases.append(Case(f"config {file} via convert", ("convert", "--config", str(CORPUS / "config" / file), "--out",
                                                         "{out}", "-q"), file, problem))
    for file, problem in RESULTS_FILES.items():
        path = str(CORPUS / "results" / file)
        cases += [Case(f"{file} via report", ("report", path, "--output", "{out}/report.md"), file, problem),
                  Case(f"{file} via compare (baseline)", ("compare", path, str(RESULTS), "--output", "{out}/compare.md"),
                       file, problem),
                  Case(f"{file} via compare (current)", ("compare", str(RESULTS), path, "--output", "{out}/compare.md"),
                       file, problem)]
    return cases


def argument_cases() -> list[Case]:
    model, calib, results = str(MODEL), str(CALIB), str(RESULTS)
    convert = ("convert", model, "--calib", calib, "-q")
    bench = ("bench", model, "-q")
    cases = [
        Case("unknown TFLite variant", (*convert, "--tflite", "int3", "--out", "{out}"), "int3", ("unknown variant",)),
        Case("unknown ONNX variant", (*convert, "--onnx", "fp8", "--out", "{out}"), "fp8", ("unknown variant",)),
        Case("unknown runtime", (*bench, "--runtime", "litert:turbo", "--output", "{out}/results.json"), "turbo",
             ("takes",)),
        Case("threads 0 via convert", (*convert, "--threads", "0", "--out", "{out}"), "--threads", ("1 or more",)),
        Case("threads -1 via bench", (*bench, "--threads", "-1", "--output", "{out}/results.json"), "--threads",
             ("1 or more",)),
        Case("threads 2,0 via bench", (*bench, "--threads", "2,0", "--output", "{out}/results.json"), "--threads",
             ("1 or more",)),
        Case("bad size limit", (*convert, "--max-model-size", "lots", "--out", "{out}"), "--max-model-size",
             ("not a positive size",)),
        Case("model over the size limit", (*convert, "--max-model-size", "10KB", "--out", "{out}"), "model.keras",
             ("over the 10.0 KB limit",)),
        Case("data over the size limit", (*bench, "--data", calib, "--max-data-size", "1KB", "--output",
                                          "{out}/results.json"), "digits_cnn.npz", ("over the 1.0 KB limit",)),
        # an 18 KB PNG declaring 12000x12000 pixels: refused from its header, before any decoding
        Case("image over the data limit via convert", (*convert, "--calib", str(HUGE_IMAGE), "--max-data-size", "100MB",
                                                       "--out", "{out}"), "huge.png", ("12000x12000 pixels",)),
        Case("image over the data limit via bench", (*bench, "--data", str(HUGE_IMAGE), "--max-data-size", "100MB",
                                                     "--output", "{out}/results.json"), "huge.png", ("12000x12000 pixels",)),
        Case("budget that is not a duration", ("tune", model, "--calib", calib, "--budget", "soon", "--out", "{out}",
                                                "-q"), "--budget", ("not a duration",)),
        Case("unknown tune candidate", ("tune", model, "--calib", calib, "--tflite", "int4", "--out", "{out}", "-q"),
             "int4", ("unknown candidate",)),
        Case("unknown --keep-float layer", ("debug-quant", model, "--calib", calib, "--keep-float", "nosuch", "--output",
                                            "{out}/debug.json", "-q"), "nosuch", ("neither a layer nor an op type",)),
    ]
    for where, (kind, what) in OUTPUT_PLACES.items():
        cases += [
            Case(f"--out {kind} via convert", (*convert, "--out", where), where, (what,)),
            Case(f"--out {kind} via optimize", ("optimize", model, "--prune", "0.5", "--out", where, "-q"), where, (what,)),
            Case(f"--output in {kind} via bench", (*bench, "--output", f"{where}/results.json"), where, (what,)),
            Case(f"--output in {kind} via report", ("report", results, "--output", f"{where}/report.md"), where, (what,)),
            Case(f"--output in {kind} via compare", ("compare", results, results, "--output", f"{where}/compare.md"),
                 where, (what,)),
            Case(f"--out {kind} via tune", ("tune", model, "--calib", calib, "--out", where, "-q"), where, (what,)),
            Case(f"--output in {kind} via debug-quant", ("debug-quant", model, "--calib", calib, "--output",
                                                       f"{where}/debug.json", "-q"), where, (what,)),
            Case(f"--root {kind} via train", ("train", "digits_mlp", "--epochs", "1", "--root", where, "-q"),
                 where, (what,)),
        ]
    return cases + output_path_cases()


# placeholder -> (what it is, in a case's name; what the error line must say)
OUTPUT_PLACES = {
    "{file}": ("a file", "is a file"), "{ro}": ("unwritable", "not writable"),
    "{dangling}": ("a dangling symlink", "does not exist"), "{loop}": ("a symlink loop", "symlink loop"),
    "{full}": ("a full disk", "no space left"), "{rofs}": ("a read-only file system", "Read-only file system"),
}
LONG_MODEL_STEM = "m" * 240  # {long_model}: a model file whose name makes a 240-character output folder


def output_path_cases() -> list[Case]:
    """Output paths edgekit must refuse before it writes: names too long once edgekit adds its
    temporary suffixes, and outputs that are, hold or lie inside the command's own input (a
    model that a swap of its folder would delete, issue 15) or a folder edgekit did not write."""
    model, calib, results = str(MODEL), str(CALIB), str(RESULTS)
    too_long = ("too long",)
    whole = ("replaces its output folder whole",)
    return [
        Case("240-character model name via convert", ("convert", "{long_model}", "--calib", calib, "--out", "{out}",
                                                      "-q"), LONG_MODEL_STEM, too_long),
        Case("240-character model name via optimize", ("optimize", "{long_model}", "--prune", "0.5", "--out",
                                                       "{out}", "-q"), LONG_MODEL_STEM, too_long),
        Case("240-character model name via tune", ("tune", "{long_model}", "--calib", calib, "--out", "{out}", "-q"),
             LONG_MODEL_STEM, too_long),
        Case("300-character --out name via convert", ("convert", model, "--calib", calib, "-q", "--out",
                                                      "{out}/" + "o" * 300), "o" * 300, too_long),
        Case("250-character --output name via bench", ("bench", model, "-q", "--output", "{out}/" + "r" * 245 + ".json"),
             "r" * 245, too_long),
        Case("300-character --output name via report", ("report", results, "--output", "{out}/" + "p" * 300 + ".md"),
             "p" * 300, too_long),
        Case("--out that holds the model via convert", ("convert", "{project}/net/model.keras", "--calib", calib,
                                                        "--out", "{project}", "-q"), "{project}/net/model.keras", whole),
        Case("--out that holds the model via optimize", ("optimize", "{project}/net/model.keras", "--prune", "0.5",
                                                         "--out", "{project}", "-q"), "{project}/net/model.keras", whole),
        Case("--out that is the SavedModel via convert", ("convert", "{project}/sm", "--out", "{project}", "--calib",
                                                          calib, "-q"), "{project}/sm", whole),
        Case("--out inside the SavedModel via convert", ("convert", "{project}/sm", "--out", "{project}/sm/x",
                                                         "--calib", calib, "-q"), "{project}/sm/x/sm", whole),
        Case("--output that is the model via bench", ("bench", "{project}/net/model.keras", "--output",
                                                    "{project}/net/model.keras", "-q"), "{project}/net/model.keras",
             ("would change the model",)),
        Case("--output that is the model via debug-quant", ("debug-quant", "{project}/net/model.keras", "--calib", calib,
                                                          "--output", "{project}/net/model.keras", "-q"),
             "{project}/net/model.keras", ("would change the model",)),
        Case("--output that is the results file via report", ("report", "{project}/results.json", "--output",
                                                           "{project}/results.json"), "{project}/results.json",
             ("would change the results file",)),
        Case("--output that is the current results via compare", ("compare", results, "{project}/results.json", "--output",
                                                               "{project}/results.json"), "{project}/results.json",
             ("would change the current results",)),
        Case("--out a folder edgekit did not write via convert", ("convert", model, "--calib", calib, "--out",
                                                                  "{user_folder}", "-q"), "{user_folder}/digits_cnn",
             ("did not write",)),
        Case("--out a folder edgekit did not write via tune", ("tune", model, "--calib", calib, "--out",
                                                               "{user_folder}", "-q"), "{user_folder}/digits_cnn-tuned",
             ("did not write",)),
    ]


# tests/corpus/compile/: damaged .tflite files (tflite_builder.py) -> what the error line must say
COMPILE_FILES = {"bad_buffer_index.tflite": ("names buffer 99",), "bad_opcode_index.tflite": ("names operator code 7",),
                 "bad_tensor_index.tflite": ("names tensor 40",), "op_feeds_itself.tflite": ("which it writes itself",),
                 "huge_input_shape.tflite": ("17,179,869,184 elements",)}
TINY_TFLITE = CORPUS / "compile" / "tiny.tflite"  # the valid file they are cut from
HAND_WRITTEN = "// the team's own model_data.cc\nconst unsigned char g_model_data[] = {0};\n"


def compile_and_export_cases() -> list[Case]:
    """Damaged .tflite files through every command that reads them (refused before a compiler
    plugin or a C array sees them), C/C++ keywords as export's --symbol, export over a hand-written
    model_data.cc ({firmware}, made by `plant_firmware`), compile where every target is skipped, and a
    folder given as bench's --benchmark-binary."""
    cases = []
    for file, problem in COMPILE_FILES.items():
        path = str(CORPUS / "compile" / file)
        cases += [Case(f"{file} via compile", ("compile", path, "--npu", "intel_openvino:LNL", "--npu-backend", "cpu",
                                               "--out", "{out}"), file, problem),
                  Case(f"{file} via export", ("export", path, "--out", "{out}/c_array"), file, problem),
                  Case(f"{file} via inspect", ("inspect", path), file, problem),
                  Case(f"{file} via bench", ("bench", path, "--output", "{out}/results.json", "-q"), file, problem)]
    tiny = str(TINY_TFLITE)
    for symbol in ("int", "class", "bitand", "co_await", "typeof", "_Bool", "__guard", "g_", "main"):
        cases.append(Case(f"--symbol {symbol} via export", ("export", tiny, "--symbol", symbol, "--out",
                                                            "{out}/c_array"), "--symbol", ("keyword", "reserved")))
    return cases + [
        Case("--symbol with a line break via export", ("export", tiny, "--symbol", "g_model\n", "--out", "{out}/c_array"),
             "--symbol", ("not a C identifier",)),
        Case("--out holding a hand-written model_data.cc via export", ("export", tiny, "--out", "{firmware}"),
             "{firmware}/model_data.cc", ("not written by edgekit export",)),
        Case("every target skipped via compile", ("compile", tiny, "--npu", "qualcomm:SM8650", "--out", "{out}"),
             "tiny.tflite", ("no target compiled",)),
        Case("--benchmark-binary a folder via bench", ("bench", tiny, "--device", "adb", "--benchmark-binary", "{out}",
                                                       "--output", "{out}/results.json", "-q"), "--benchmark-binary {out}",
             ("is a folder",)),
    ]


def plant_firmware(out: Path) -> dict[str, Path]:
    """{firmware}: a folder of the user's, inside the output folder, with a model_data.cc they wrote."""
    firmware = out / "firmware"
    firmware.mkdir(parents=True, exist_ok=True)
    (firmware / "model_data.cc").write_text(HAND_WRITTEN)
    return {"firmware": firmware}


# suite file (tests/corpus/suites/) -> what the error line must say: the field and its problem
SUITE_FILES = {
    "top_level_list.json": ("is [1, 2], which should be an object",), "deep.json": ("nests deeper",),
    "no_models.json": ("models is [], which is empty",),
    "bogus_variant.json": ('tflite[0] is "bogus", which is not a TFLite variant',),
    "quick_overrides.json": ("quick.threads[0] is 0, which is not from 1 to", "quick.runs is true, which should be"),
    "quick_null.json": ("quick.runs is null, which should be an integer",),
    "threads_string.json": ('threads[0] is "a", which should be an integer',),
    "threads_negative.json": ("threads[0] is -1, which is not from 1 to",),
    "threads_huge.json": ("threads[1] is 100000, which is not from 1 to",),
    "runs_true.json": ("runs is true, which should be an integer",), "runs_one.json": ("runs is 1, which is less than 2",),
    "model_number.json": ("models[0] is 5, which is not a zoo name, a path",),
    "unknown_runtime.json": ('runtimes[0] is "litert:turbo", which is not a runtime',),
    "unknown_field.json": ("trust_model_cod is not a field (did you mean trust_model_code?)",),
}
# devices file (tests/corpus/devices/) -> (the --device given, what the error line must say)
DEVICES_FILES = {
    "deep.toml": ("pi5", "nests deeper"), "local_entry.toml": ("local", "[local]: 'local' is what --device local means"),
    "adb_entry.toml": ("local", "[adb]: 'adb' is what --device adb means"),
    "adb_url_entry.toml": ("local", "[adb://emulator-5554]: 'adb://emulator-5554' is what"),
    "ssh_url_entry.toml": ("local", "[ssh://pi@pi5.local]: 'ssh://pi@pi5.local' is what"),
    "proxy_command.toml": ("pi5", '[pi5]: ssh is "-oProxyCommand=touch /tmp/edgekit-pwned", which is not an SSH target'),
    "unknown_key.toml": ("pi5", "[pi5]: pyhton is not a field (did you mean python?)"),
    "phone_unknown_key.toml": ("pixel8", "[pixel8]: benchmark_bin is not a field (did you mean benchmark_binary?)"),
    "ssh_options_string.toml": ("pi5", '[pi5]: ssh_options is "-v", which should be a list'),
    "both_kinds.toml": ("pi5", "[pi5] has both ssh (a board) and adb (a phone)"),
    "neither_kind.toml": ("pi5", "[pi5] needs ssh ="), "comma_name.toml": ("local", "[pi5,pi4]: a device's name"),
}


def structured_input_cases() -> list[Case]:
    """Suites through `edgekit sweep` (the quick block checked with and without --quick) and
    devices files through `bench --device` and `env --device`: each refused before anything runs."""
    cases = []
    for file, problem in SUITE_FILES.items():
        path = str(CORPUS / "suites" / file)
        cases.append(Case(f"suite {file} via sweep", ("sweep", path, "--out", "{out}"), file, problem))
        if file.startswith("quick"):
            cases.append(Case(f"suite {file} via sweep --quick", ("sweep", path, "--quick", "--out", "{out}"), file,
                              problem))
    for file, (device, problem) in DEVICES_FILES.items():
        path = str(CORPUS / "devices" / file)
        cases += [Case(f"devices {file} via bench", ("bench", str(MODEL), "--device", device, "--devices", path,
                                                     "--output", "{out}/results.json", "-q"), file, (problem,)),
                  Case(f"devices {file} via env", ("env", "--device", device, "--devices", path), file, (problem,))]
    return cases


def limits_cases() -> list[Case]:
    """Files past the work limits (edgekit/core/limits.py): a .tflite and an .onnx of 240k ops (written
    by `limits_places`: 9.6 and 6 MB) through every command that reads one, refused by --max-ops
    before anything parses an op; inputs declaring 2^40 and 2^28 elements per sample, whose
    random samples bench would allocate, refused by --max-data-size."""
    argvs = {"inspect": ("inspect", "{}"), "bench": ("bench", "{}", "--max-bench-time", "10s", "--output",
                                                     "{{out}}/results.json", "-q"),
             "compile": ("compile", "{}", "--npu", "intel_openvino:LNL", "--out", "{{out}}", "-q"),
             "export": ("export", "{}", "--out", "{{out}}", "-q")}
    readers = {"{many_ops_tflite}": ("inspect", "bench", "compile", "export"), "{many_ops_onnx}": ("inspect", "bench")}
    cases = [Case(f"{place} via {command}", tuple(arg.format(place) for arg in argvs[command]), place,
                  ("--max-ops",))
             for place, commands in readers.items() for command in commands]
    for file in ("huge_input.onnx", "huge_input.tflite"):
        cases.append(Case(f"{file} via bench", ("bench", str(CORPUS / "limits" / file), "--output",
                                                "{out}/results.json", "-q"), file, ("--max-data-size",)))
    return cases


def limits_places(root: Path) -> dict[str, Path]:
    """The files of 240k ops (too big to commit), made in a fraction of a second each."""
    from tests.corpus.make_corpus import MANY_OPS, chain_onnx, chain_tflite

    places = {"many_ops_tflite": root / "many_ops.tflite", "many_ops_onnx": root / "many_ops.onnx"}
    if not places["many_ops_tflite"].exists():
        places["many_ops_tflite"].write_bytes(chain_tflite(MANY_OPS))
        places["many_ops_onnx"].write_bytes(chain_onnx(MANY_OPS))
    return places


def all_cases() -> list[Case]:
    return (model_cases() + data_cases() + results_cases() + argument_cases()
            + compile_and_export_cases() + structured_input_cases() + limits_cases())


@dataclasses.dataclass
class Outcome:
    case: Case
    code: int
    stderr: str
    changed: bool  # the output folder differs from before the run
    faults: list[str]  # what broke the contract; empty when the case was handled

    @property
    def traceback(self) -> bool:
        return "Traceback" in self.stderr


def run(case: Case, places: dict[str, Path]) -> Outcome:
    """Run one case in this process through the CLI's `main`, capturing what reaches fd 2."""
    from edgekit.cli import main

    argv = [arg.format(**{k: str(v) for k, v in places.items()}) for arg in case.argv]
    before = snapshot(places["out"])
    with _captured_stderr() as read:
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
    stderr = read()
    changed = snapshot(places["out"]) != before
    lines = [line for line in stderr.splitlines() if line.strip()]
    named = case.names.format(**{k: str(v) for k, v in places.items()})
    faults = []
    if code != 2:
        faults.append(f"exit code {code}, not 2")
    if len(lines) != 1:
        faults.append(f"{len(lines)} lines on stderr, not 1")
    elif named not in lines[0]:
        faults.append(f"the error line does not name {named}")
    elif case.problem and not any(word in lines[0] for word in case.problem):
        faults.append(f"the error line says none of {case.problem}")
    if "Traceback" in stderr:
        faults.append("a traceback")
    if changed:
        faults.append("the output folder changed")
    return Outcome(case, code, stderr, changed, faults)


def prepare(root: Path) -> dict[str, Path]:
    """The output folder with a previous run in it, a file where a folder belongs, and a folder
    the run cannot write (chmod for a user; for root, which ignores permissions, the
    immutable attribute: None where neither works)."""
    import os
    import subprocess

    out = root / "out"
    plant_previous_output(out / "digits_cnn")
    (out / "results.json").write_text('{"previous": true}\n')
    (out / "report.md").write_text("previous report\n")
    (root / "a_file").write_text("not a folder\n")
    ro = root / "read_only"
    ro.mkdir(exist_ok=True)
    places = {"out": out, "file": root / "a_file", "ro": ro, **special_models(root), **special_data(root),
              **output_places(root), **plant_firmware(out),
              **limits_places(root)}
    if os.geteuid() != 0:
        ro.chmod(0o555)
    elif subprocess.run(["chattr", "+i", str(ro)], capture_output=True).returncode != 0:
        places["ro"] = None
    return places


def plant_previous_output(folder: Path) -> None:
    """A folder as an earlier `edgekit convert` left it: an artifact and the manifest that makes
    the folder edgekit's to replace (edgekit refuses to replace anything else)."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "digits_cnn_int8.tflite").write_bytes(b"a previous artifact")
    manifest = {"schema_version": 1, "edgekit_version": "0.1.0", "created": "2025-01-01T00:00:00+0000",
                "name": folder.name, "artifacts": [{"path": "digits_cnn_int8.tflite", "format": "tflite",
                                                    "variant": "int8"}], "failed": []}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


# why a placeholder is None (the case is skipped): what this machine does not allow
UNAVAILABLE = {
    "ro": "no folder here is unwritable for this user (root without chattr)",
    "full": "mounting a small tmpfs (to fill it) needs root and CAP_SYS_ADMIN",
    "rofs": "mounting a read-only tmpfs needs root and CAP_SYS_ADMIN",
}


def unavailable(case: Case, places: dict) -> str | None:
    """Why `case` cannot run here (a placeholder it uses could not be made), or None."""
    argv = " ".join(case.argv)
    return next((UNAVAILABLE.get(k, k) for k, v in places.items() if v is None and f"{{{k}}}" in argv), None)


def output_places(root: Path) -> dict[str, Path | None]:
    """Output paths that git cannot hold: a symlink to nowhere, a symlink loop, a full file
    system and a read-only one (small tmpfs mounts, None where mounting is not allowed), a model
    whose 240-character name is too long for edgekit's temporary names, a project folder with a
    model, a SavedModel and a results file in it, and a folder of the user's own files."""
    import os
    import shutil
    import subprocess

    places = {"dangling": root / "dangling", "loop": root / "loop", "full": root / "full", "rofs": root / "rofs",
              "long_model": root / f"{LONG_MODEL_STEM}.keras", "project": root / "project",
              "user_folder": root / "user_folder"}
    if not os.path.lexists(places["dangling"]):
        places["dangling"].symlink_to(root / "nowhere")
        places["loop"].symlink_to("loop")
        shutil.copyfile(MODEL, places["long_model"])
        (places["project"] / "net").mkdir(parents=True)
        shutil.copyfile(MODEL, places["project"] / "net" / "model.keras")
        shutil.copytree(CORPUS / "unusual" / "needs_flex", places["project"] / "sm")
        shutil.copyfile(RESULTS, places["project"] / "results.json")
        for name in ("digits_cnn", "digits_cnn-tuned"):
            (places["user_folder"] / name).mkdir(parents=True)
            (places["user_folder"] / name / "notes.txt").write_text("the user's own file\n")
    for name, options in (("full", "size=64k"), ("rofs", "size=64k,ro")):
        places[name].mkdir(exist_ok=True)
        if os.path.ismount(places[name]):
            continue
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "edgekit-test", str(places[name])],
                                 capture_output=True).returncode == 0
        if not mounted:
            places[name] = None
        elif name == "full":
            _fill(places[name])
    return places


def _fill(folder: Path) -> None:
    """Write until the file system is full: every later write there fails with ENOSPC."""
    import errno

    try:
        with open(folder / "filler", "wb") as fh:
            while True:
                fh.write(b"\0" * 4096)
                fh.flush()
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise


def special_models(root: Path) -> dict[str, Path]:
    """FIFOs where a model belongs (git cannot hold one): the model file itself, a SavedModel's
    saved_model.pb, and a variables file inside an otherwise valid SavedModel; and an empty
    folder for `bench --reference` to measure the float model alone."""
    import os
    import shutil

    fifo_model, fifo_graph, fifo_variables = root / "fifo_model.keras", root / "fifo_graph", root / "fifo_variables"
    (root / "no_artifacts").mkdir(exist_ok=True)
    if not fifo_model.exists():
        os.mkfifo(fifo_model)
        fifo_graph.mkdir()
        os.mkfifo(fifo_graph / "saved_model.pb")
        shutil.copytree(CORPUS / "unusual" / "needs_flex", fifo_variables)
        (fifo_variables / "variables" / "variables.index").unlink()
        os.mkfifo(fifo_variables / "variables" / "variables.index")
    return {"fifo_model": fifo_model, "fifo_graph": fifo_graph, "fifo_variables": fifo_variables,
            "no_artifacts": root / "no_artifacts"}


def special_data(root: Path) -> dict[str, Path]:
    """FIFOs where data, a config or results belong (an .npy, an .npz, an image among real ones in
    a folder), and converted folders whose manifest names a FIFO, or "/", as the float model."""
    import json
    import os
    import shutil

    places = {"fifo_npy": root / "fifo_data.npy", "fifo_npz": root / "fifo_data.npz", "fifo_images": root / "fifo_images",
              "fifo_config": root / "fifo_config.json", "fifo_results": root / "fifo_results.json",
              "manifest_fifo": root / "manifest_fifo", "manifest_root": root / "manifest_root"}
    if places["fifo_npy"].exists():
        return places
    for name in ("fifo_npy", "fifo_npz", "fifo_config", "fifo_results"):
        os.mkfifo(places[name])
    places["fifo_images"].mkdir()
    shutil.copyfile(CORPUS / "data" / "images_with_text" / "0.png", places["fifo_images"] / "0.png")
    os.mkfifo(places["fifo_images"] / "1.png")
    for name, source in (("manifest_fifo", places["manifest_fifo"] / "source.keras"), ("manifest_root", Path("/"))):
        places[name].mkdir()
        (places[name] / "m_fp32.tflite").write_bytes(b"never opened: the manifest is refused first")
        manifest = {"name": "m", "artifacts": [{"path": "m_fp32.tflite", "format": "tflite", "variant": "fp32"}],
                    "source": {"path": str(source), "sha256": "0" * 64}, "calibration": {}, "config": {}}
        (places[name] / "manifest.json").write_text(json.dumps(manifest))
    os.mkfifo(places["manifest_fifo"] / "source.keras")
    return places


def data_fifos(places: dict[str, Path]) -> list[Path]:
    """The FIFOs `special_data` made, for `unblocked` to open."""
    return [*(places[k] for k in ("fifo_npy", "fifo_npz", "fifo_config", "fifo_results")),
            places["fifo_images"] / "1.png", places["manifest_fifo"] / "source.keras"]


@contextlib.contextmanager
def unblocked(places: dict[str, Path], after_seconds: float = 60):
    """While the block runs, a watchdog process opens every FIFO among `places` for writing now
    and then: a reader stuck on one gets end-of-file, so a missing check fails a test instead of
    hanging it. A process, not a thread: a native loader blocked in open() may hold the GIL."""
    import subprocess
    import sys

    fifos = [places["fifo_model"], places["fifo_graph"] / "saved_model.pb",
             places["fifo_variables"] / "variables" / "variables.index"]
    if "fifo_npy" in places:
        fifos += data_fifos(places)
    watchdog = subprocess.Popen([sys.executable, "-c", _WATCHDOG, str(after_seconds), *map(str, fifos)])
    try:
        yield
    finally:
        watchdog.kill()
        watchdog.wait()


_WATCHDOG = """
import os, sys, time
while True:
    time.sleep(float(sys.argv[1]))
    for fifo in sys.argv[2:]:
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:  # ENXIO: nobody is reading it, all is well
            pass
"""


def release(places: dict[str, Path]) -> None:
    import os
    import subprocess

    if places.get("ro") is not None:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(places["ro"])], capture_output=True)
        places["ro"].chmod(0o755)
    for name in ("full", "rofs"):
        if places.get(name) is not None and os.path.ismount(places[name]):
            subprocess.run(["umount", str(places[name])], capture_output=True)


def snapshot(folder: Path) -> dict:
    """Every path under `folder` (folders too, so a left-over staging folder shows) with the
    bytes of each file."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


def _captured_stderr():
    """Send stderr, Python's and native libraries' (fd 2), to one file; yield its reader."""
    import contextlib
    import io
    import os
    import sys
    import tempfile

    @contextlib.contextmanager
    def capture():
        sys.stderr.flush()
        saved_fd, saved_stream = os.dup(2), sys.stderr
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            # a test runner may have swapped sys.stderr for its own buffer: point it at fd 2 too
            sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), line_buffering=True)
            text = []
            try:
                yield lambda: "".join(text)
            finally:
                sys.stderr.flush()
                sys.stderr = saved_stream
                os.dup2(saved_fd, 2)
                os.close(saved_fd)
                sink.seek(0)
                text.append(sink.read().decode(errors="replace"))
    return capture()
