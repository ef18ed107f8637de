"""Every command against every case of the bad-input corpus (tests/corpus/), and the valid but
unusual models of the corpus through a real conversion."""

import json

import pytest

from tests.conftest import run_cli
from tests.corpus import cases

CORPUS_CASES = cases.all_cases()


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    found = cases.prepare(tmp_path_factory.mktemp("corpus-run"))
    yield found
    cases.release(found)


@pytest.mark.parametrize("case", CORPUS_CASES, ids=[c.name for c in CORPUS_CASES])
def test_bad_input_gets_one_clear_line_exit_2_and_changes_nothing(case, places):
    reason = cases.unavailable(case, places)
    if reason:
        pytest.skip(reason)
    outcome = cases.run(case, places)
    assert not outcome.faults, f"{outcome.faults}: {outcome.stderr}"


def test_the_corpus_covers_every_command_that_reads_input():
    commands = {c.argv[0] for c in CORPUS_CASES}
    assert commands == {"convert", "optimize", "bench", "inspect", "report", "compare", "train", "debug-quant", "tune",
                        "compile", "export", "sweep", "env"}
    assert len(CORPUS_CASES) >= 100


def test_a_zip_member_outside_its_folder_is_never_unpacked(places):
    """The escaping archive is refused before Keras could extract it: nothing lands beside it."""
    escaped = cases.CORPUS / "escaped.txt"
    outcome = cases.run(cases.Case("escape", ("convert", str(cases.CORPUS / "models" / "escaping.keras"),
                                              "--calib", str(cases.CALIB), "--out", "{out}", "-q"),
                                   "escaping.keras", ("outside",)), places)
    assert not outcome.faults and not escaped.exists() and not (cases.CORPUS.parent / "escaped.txt").exists()


@pytest.mark.slow
def test_lambda_model_converts_with_trust_model_code(tmp_path):
    code, _, err = run_cli("convert", cases.CORPUS / "models" / "lambda.keras", "--calib", cases.CALIB,
                           "--tflite", "fp32", "--onnx", "none", "--no-bench", "--trust-model-code", "--out", tmp_path)
    assert code == 0, err
    assert (tmp_path / "lambda" / "lambda_fp32.tflite").is_file()


@pytest.mark.parametrize("file", cases.TRUST_FILES)
def test_a_model_that_reaches_files_or_python_is_refused_naming_the_trust_option(file, places):
    case = cases.Case(f"{file} via convert", ("convert", str(cases.CORPUS / "models" / file), "--calib",
                                              str(cases.CALIB), "--out", "{out}", "-q"), file, ("--trust-model-code",))
    outcome = cases.run(case, places)
    assert not outcome.faults, f"{outcome.faults}: {outcome.stderr}"


def _write_model_runs(places):
    """Every command that would run the file-writing SavedModel, and the TFSMLayer model that
    would load it (by the path relative to the repository root its config holds)."""
    model, tfsm, calib = str(cases.TRUST_WRITE_MODEL), str(cases.CORPUS / "models" / "trust_tfsm.keras"), str(cases.CALIB)
    return {
        "convert": ("convert", model, "--calib", calib, "--out", "{out}", "-q"),
        "bench --reference": ("bench", "{no_artifacts}", "--reference", model, "--output", "{out}/results.json", "-q"),
        "tune": ("tune", model, "--calib", calib, "--out", "{out}", "-q"),
        "debug-quant": ("debug-quant", model, "--calib", calib, "--output", "{out}/debug.json", "-q"),
        "optimize": ("optimize", model, "--prune", "0.5", "--out", "{out}", "-q"),
        "bench TFSMLayer": ("bench", tfsm, "--output", "{out}/results.json", "-q"),
    }


@pytest.mark.parametrize("command", list(_write_model_runs({})))
def test_a_model_that_writes_a_file_is_refused_and_writes_nothing(command, places, tmp_path, monkeypatch):
    """Run from an empty folder (the model writes to a relative path): nothing may appear there."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tests" / "corpus" / "models").mkdir(parents=True)  # where trust_tfsm.keras looks
    (tmp_path / "tests" / "corpus" / "models" / "trust_write_savedmodel").symlink_to(cases.TRUST_WRITE_MODEL)
    argv = _write_model_runs(places)[command]
    named = "trust_tfsm.keras" if "TFSM" in command else "trust_write_savedmodel"
    outcome = cases.run(cases.Case(command, argv, named, ("--trust-model-code",)), places)
    assert not outcome.faults, f"{outcome.faults}: {outcome.stderr}"
    assert not list(tmp_path.glob("edgekit-pwned-*"))


@pytest.mark.slow
def test_the_file_writing_model_is_real_it_writes_when_trusted(tmp_path):
    """The refusal test above can fail: trusted, the same model does write its file."""
    (tmp_path / "no_artifacts").mkdir()
    code, _, err = run_cli("bench", tmp_path / "no_artifacts", "--reference", cases.TRUST_WRITE_MODEL,
                           "--trust-model-code", "--runtime", "keras:cpu", "--runs", "2", "--warmup", "1", "-q",
                           cwd=tmp_path)
    assert code == 0, err
    assert (tmp_path / cases.TRUST_WRITE_FILE).read_text() == "written by a model\n"


SPECIAL_CASES = cases.special_model_cases()


@pytest.mark.parametrize("case", SPECIAL_CASES, ids=[c.name for c in SPECIAL_CASES])
def test_a_model_path_that_is_a_fifo_or_device_is_refused_before_anything_reads_it(case, places):
    with cases.unblocked(places):
        outcome = cases.run(case, places)
    assert not outcome.faults, f"{outcome.faults}: {outcome.stderr}"


def convert_unusual(tmp_path, name, model_suffix, calib_suffix, *variants, exit_code=0):
    """exit_code 1: a requested variant could not be built, the others were written."""
    unusual = cases.CORPUS / "unusual"
    code, stdout, err = run_cli("convert", unusual / f"{name}{model_suffix}", "--calib", unusual / f"{name}{calib_suffix}",
                                *variants, "--no-bench", "-q", "--out", tmp_path)
    assert code == exit_code, err
    return json.loads((tmp_path / name / "manifest.json").read_text()), stdout


@pytest.mark.slow
def test_lstm_converts_to_builtins_at_a_fixed_batch(tmp_path):
    manifest, _ = convert_unusual(tmp_path, "lstm", ".keras", ".npy", "--tflite", "fp32,int16x8", "--onnx", "fp32",
                                  exit_code=1)
    built = {a["path"]: a for a in manifest["artifacts"]}
    assert set(built) == {"lstm_fp32.tflite", "lstm_fp32.onnx"}
    tflite = built["lstm_fp32.tflite"]
    assert tflite["recipe"]["batch"] == 1 and "element_shape" in tflite["recipe"]["fixed_batch_because"]
    assert tflite["fidelity"]["sqnr_db"] > 60  # the LSTM state is reset between samples
    [failed] = manifest["failed"]
    assert failed["variant"] == "int16x8" and "UNIDIRECTIONAL_SEQUENCE_LSTM" in failed["reason"]


@pytest.mark.slow
def test_dynamic_input_shape_converts_tflite_at_the_calibration_shape_and_onnx_stays_free(tmp_path):
    """Free H/W (docs/DESIGN.md pitfall 20): the free TFLite file does not load in LiteRT (a 3x3
    conv at the stored 1x1), so it is converted again at the samples' 12x12, and says so."""
    manifest, stdout = convert_unusual(tmp_path, "dynamic_shape", ".keras", ".npy", "--tflite", "fp32",
                                       "--onnx", "fp32")
    built = {a["path"]: a for a in manifest["artifacts"]}
    assert set(built) == {"dynamic_shape_fp32.tflite", "dynamic_shape_fp32.onnx"} and manifest["failed"] == []
    converted_at = built["dynamic_shape_fp32.tflite"]["recipe"]["converted_at"]
    assert converted_at["shapes"] == {"image": [1, 12, 12, 1]} and "CONV_2D" in converted_at["why"]
    assert built["dynamic_shape_fp32.tflite"]["fidelity"]["sqnr_db"] > 100
    assert [t["shape"] for t in built["dynamic_shape_fp32.onnx"]["inputs"]] == [[None, None, None, 1]]
    assert "dynamic_shape_fp32.tflite converted at 1x12x12x1" in " ".join(stdout.split())


@pytest.mark.slow
def test_two_inputs_and_flex_models_from_the_corpus_convert(tmp_path):
    manifest, _ = convert_unusual(tmp_path, "two_inputs", ".keras", ".npz", "--tflite", "int8", "--onnx", "fp32")
    assert manifest["failed"] == [] and len(manifest["artifacts"]) == 2
    manifest, _ = convert_unusual(tmp_path, "needs_flex", "", ".npy", "--tflite", "fp32", "--onnx", "fp32",
                                  exit_code=1)
    assert [a["path"] for a in manifest["artifacts"]] == ["needs_flex_fp32.onnx"]
    assert "Flex" in manifest["failed"][0]["reason"]
