"""The bad-input matrix: every corpus file (and every bad argument) through every command that
takes it. Each case must end in exit code 2 and one line on stderr that names the file (or
option) and the problem, with no traceback, and must leave the output folder as it was.

Placeholders in argv, filled in by the runner: {out} is an output folder holding a previous
run's files, {file} is a plain file where a folder is expected, {ro} is a folder the run
cannot write.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

CORPUS = Path(__file__).resolve().parent
REPO = CORPUS.parents[1]
MODEL = REPO / "models" / "digits_cnn" / "model.keras"  # a valid model: 8x8x1 float input
CALIB = REPO / "calibration_data" / "digits_cnn.npz"
RESULTS = REPO / "benchmarks" / "baseline.json"  # valid results, to pair with a bad one


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
}
# which commands read which model files (the others refuse them by kind, also with exit 2)
READERS = {"convert": (".keras", ".h5", ""), "optimize": (".keras", ".h5"), "bench": (".tflite", ".onnx", ".keras", ".h5"),
           "inspect": (".tflite", ".onnx"), "debug-quant": (".keras", ".h5", ""), "tune": (".keras", ".h5", "")}

DATA_FILES = {
    "empty.npy": ("empty",), "empty_file.npz": ("damaged",), "wrong_shape.npy": ("shape",),
    "wrong_dtype.npy": ("dtype",), "nan.npy": ("NaN",), "inf.npz": ("NaN or inf",),
    "single_sample.npy": ("1 sample",), "huge_shape.npy": ("limit",), "truncated.npy": ("truncated",),
    "random.npy": ("not a readable .npy",), "unexpected_keys.npz": ("expected one per model input",),
    "images_with_text": ("notes.txt is not an image",),
}
FOR_CALIBRATION_ONLY = {"single_sample.npy"}  # one evaluation sample is valid for bench

RESULTS_FILES = {"future_schema.json": ("schema_version 99", "newer"), "other_tool.json": ("not an edgekit",),
                 "not_json.json": ("not valid JSON", "JSON")}


def model_cases() -> list[Case]:
    cases = []
    for file, problem in MODEL_FILES.items():
        path = CORPUS / "models" / file
        argvs = {
            "convert": ("convert", path, "--calib", CALIB, "--out", "{out}", "-q"),
            "optimize": ("optimize", path, "--prune", "0.5", "--out", "{out}", "-q"),
            "bench": ("bench", path, "--json", "{out}/results.json", "-q"),
            "inspect": ("inspect", path),
            "debug-quant": ("debug-quant", path, "--calib", CALIB, "--json", "{out}/debug.json", "-q"),
            "tune": ("tune", path, "--calib", CALIB, "--out", "{out}", "-q"),
        }
        for command, argv in argvs.items():
            reads = path.suffix in READERS[command]
            cases.append(Case(f"{file} via {command}", tuple(map(str, argv)), file, problem if reads else ()))
    return cases


def data_cases() -> list[Case]:
    cases = []
    for file, problem in DATA_FILES.items():
        path = CORPUS / "data" / file
        cases.append(Case(f"{file} via convert --calib", tuple(map(str, (
            "convert", MODEL, "--calib", path, "--out", "{out}", "-q"))), file, problem))
        if file not in FOR_CALIBRATION_ONLY:
            cases.append(Case(f"{file} via bench --data", tuple(map(str, (
                "bench", MODEL, "--data", path, "--json", "{out}/results.json", "-q"))), file, problem))
    return cases


def results_cases() -> list[Case]:
    cases = []
    for file, problem in RESULTS_FILES.items():
        path = str(CORPUS / "results" / file)
        cases += [Case(f"{file} via report", ("report", path, "--out", "{out}/report.md"), file, problem),
                  Case(f"{file} via compare (baseline)", ("compare", path, str(RESULTS), "--out", "{out}/compare.md"),
                       file, problem),
                  Case(f"{file} via compare (current)", ("compare", str(RESULTS), path, "--out", "{out}/compare.md"),
                       file, problem)]
    return cases


def argument_cases() -> list[Case]:
    model, calib, results = str(MODEL), str(CALIB), str(RESULTS)
    convert = ("convert", model, "--calib", calib, "-q")
    bench = ("bench", model, "-q")
    cases = [
        Case("unknown TFLite variant", (*convert, "--tflite", "int3", "--out", "{out}"), "int3", ("unknown variant",)),
        Case("unknown ONNX variant", (*convert, "--onnx", "fp8", "--out", "{out}"), "fp8", ("unknown variant",)),
        Case("unknown runtime", (*bench, "--runtime", "litert:turbo", "--json", "{out}/results.json"), "turbo",
             ("takes",)),
        Case("threads 0 via convert", (*convert, "--threads", "0", "--out", "{out}"), "--threads", ("1 or more",)),
        Case("threads -1 via bench", (*bench, "--threads", "-1", "--json", "{out}/results.json"), "--threads",
             ("1 or more",)),
        Case("threads 2,0 via bench", (*bench, "--threads", "2,0", "--json", "{out}/results.json"), "--threads",
             ("1 or more",)),
        Case("bad size limit", (*convert, "--max-model-size", "lots", "--out", "{out}"), "--max-model-size",
             ("not a positive size",)),
        Case("model over the size limit", (*convert, "--max-model-size", "10KB", "--out", "{out}"), "model.keras",
             ("over the 10.0 KB limit",)),
        Case("data over the size limit", (*bench, "--data", calib, "--max-data-size", "1KB", "--json",
                                          "{out}/results.json"), "digits_cnn.npz", ("over the 1.0 KB limit",)),
        Case("budget that is not a duration", ("tune", model, "--calib", calib, "--budget", "soon", "--out", "{out}",
                                                "-q"), "--budget", ("not a duration",)),
        Case("unknown tune candidate", ("tune", model, "--calib", calib, "--tflite", "int4", "--out", "{out}", "-q"),
             "int4", ("unknown candidate",)),
        Case("unknown --keep-float layer", ("debug-quant", model, "--calib", calib, "--keep-float", "nosuch", "--json",
                                            "{out}/debug.json", "-q"), "nosuch", ("neither a layer nor an op type",)),
        Case("benchmark over its time limit", (*bench, "--runs", "1000000", "--max-bench-time", "3s", "--json",
                                               "{out}/results.json"), "model.keras", ("3 s limit",)),
    ]
    for where, what in (("{file}", "is a file"), ("{ro}", "not writable")):
        kind = "a file" if where == "{file}" else "unwritable"
        cases += [
            Case(f"--out {kind} via convert", (*convert, "--out", where), where, (what,)),
            Case(f"--out {kind} via optimize", ("optimize", model, "--prune", "0.5", "--out", where, "-q"), where, (what,)),
            Case(f"--json in {kind} via bench", (*bench, "--json", f"{where}/results.json"), where, (what,)),
            Case(f"--out in {kind} via report", ("report", results, "--out", f"{where}/report.md"), where, (what,)),
            Case(f"--out in {kind} via compare", ("compare", results, results, "--out", f"{where}/compare.md"),
                 where, (what,)),
            Case(f"--out {kind} via tune", ("tune", model, "--calib", calib, "--out", where, "-q"), where, (what,)),
            Case(f"--json in {kind} via debug-quant", ("debug-quant", model, "--calib", calib, "--json",
                                                       f"{where}/debug.json", "-q"), where, (what,)),
            Case(f"--root {kind} via train", ("train", "digits_mlp", "--epochs", "1", "--root", where, "-q"),
                 where, (what,)),
        ]
    return cases


def all_cases() -> list[Case]:
    return model_cases() + data_cases() + results_cases() + argument_cases()


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
    (out / "digits_cnn").mkdir(parents=True, exist_ok=True)
    (out / "digits_cnn" / "digits_cnn_int8.tflite").write_bytes(b"a previous artifact")
    (out / "results.json").write_text('{"previous": true}\n')
    (out / "report.md").write_text("previous report\n")
    (root / "a_file").write_text("not a folder\n")
    ro = root / "read_only"
    ro.mkdir(exist_ok=True)
    places = {"out": out, "file": root / "a_file", "ro": ro}
    if os.geteuid() != 0:
        ro.chmod(0o555)
    elif subprocess.run(["chattr", "+i", str(ro)], capture_output=True).returncode != 0:
        places["ro"] = None
    return places


def release(places: dict[str, Path]) -> None:
    import os
    import subprocess

    if places.get("ro") is not None:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(places["ro"])], capture_output=True)
        places["ro"].chmod(0o755)


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
