"""Suites and devices files (issue 28): what a sweep reads is never lost to its --out, its messages
name the suite's fields (a sweep has no convert or bench flags), its rows name artifacts where the
user finds them, and a devices file is read whole. The hostile files themselves are in the corpus
(tests/corpus/suites/, tests/corpus/devices/)."""

import json
import shutil

import pytest

from edgekit.core.errors import EdgekitError, naming_cli_options, naming_suite_fields
from tests.conftest import REPO, folder_state, run_cli
from tests.corpus.cases import CORPUS

MODEL = REPO / "models" / "digits_mlp" / "model.keras"
SUITE = {"models": ["digits_mlp"], "tflite": ["fp32"], "onnx": ["none"], "runtimes": ["litert:xnnpack"],
         "threads": [1], "runs": 5, "warmup": 1, "batch": 4, "quick": {}}


def write_suite(folder, **changes):
    path = folder / "suite.json"
    path.write_text(json.dumps({**SUITE, **changes}))
    return path


def previous_sweep(folder):
    """A folder as an earlier sweep left it (its sweep.json makes it edgekit's to replace)."""
    folder.mkdir()
    (folder / "sweep.json").write_text(json.dumps({"edgekit_version": "0.1.0", "kind": "edgekit sweep"}))
    (folder / "results.json").write_text("the previous sweep's")


@pytest.mark.parametrize("kept", ["calibration set", "devices file"])
def test_a_sweep_never_deletes_what_it_reads_from_inside_its_out(tmp_path, kept):
    """prev/calib.npz (a model's calibration set) or prev/devices.toml (EDGEKIT_DEVICES), with
    --out prev: refused in one line, prev byte for byte as it was."""
    previous_sweep(tmp_path / "prev")
    env = {}
    if kept == "calibration set":
        shutil.copyfile(REPO / "calibration_data" / "digits_mlp.npz", tmp_path / "prev" / "calib.npz")
        suite = write_suite(tmp_path, models=[{"model": str(MODEL), "calib": "prev/calib.npz"}])
    else:
        (tmp_path / "prev" / "devices.toml").write_text('[pi5]\nssh = "pi@pi5.local"\n')
        env = {"EDGEKIT_DEVICES": str(tmp_path / "prev" / "devices.toml")}
        suite = write_suite(tmp_path)
    before = folder_state(tmp_path)
    code, out, err = run_cli("sweep", suite, "--out", tmp_path / "prev", env=env)
    assert code == 2 and out == "", err
    [line] = err.splitlines()
    assert f"output folder {tmp_path / 'prev'} holds the {kept}" in line and "give --out a folder apart" in line
    assert folder_state(tmp_path) == before


def test_a_lambda_model_in_a_suite_is_refused_naming_the_suites_field(tmp_path):
    suite = write_suite(tmp_path, models=[{"model": str(CORPUS / "models" / "lambda.keras"),
                                           "calib": str(REPO / "calibration_data" / "digits_cnn.npz")}])
    code, out, err = run_cli("sweep", suite, "--out", tmp_path / "out", "-q")
    assert code == 2 and out == ""
    [line] = err.splitlines()
    assert "Lambda layer" in line and 'pass "trust_model_code": true in the suite only if you trust' in line
    assert "--trust-model-code" not in line
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_suite_that_trusts_its_models_converts_a_lambda_model(tmp_path):
    suite = write_suite(tmp_path, trust_model_code=True,
                        models=[{"model": str(CORPUS / "models" / "lambda.keras"),
                                 "calib": str(REPO / "calibration_data" / "digits_cnn.npz")}])
    code, _, err = run_cli("sweep", suite, "--out", tmp_path / "out")
    assert code == 0, err
    [row] = [r for m in json.loads((tmp_path / "out" / "results.json").read_text())["models"] for r in m["records"]]
    assert row["status"] == "ok", row


@pytest.mark.slow
def test_failed_rows_name_the_artifact_where_the_user_finds_it(tmp_path):
    """From Python a suite's values are not read from a file: threads ["a"] reaches LiteRT, whose
    failure names the file it loaded. The row names it in --out, not in the deleted staging folder."""
    from edgekit.workflows import sweep

    out = tmp_path / "out"
    sweep.run({**SUITE, "threads": ["a"], "device": "host", "sources": {}}, out,
              log=lambda message: None)
    [row] = [r for m in json.loads((out / "results.json").read_text())["models"] for r in m["records"]]
    assert row["status"] == "failed"
    assert f"{out / 'artifacts' / 'digits_mlp' / 'digits_mlp_fp32.tflite'}" in row["reason"], row["reason"]
    assert ".staging" not in json.dumps(row) and ".staging" not in (out / "report.md").read_text()


def test_the_quick_block_changes_only_the_fields_it_names(tmp_path):
    from edgekit.workflows import sweep

    suite = write_suite(tmp_path, quick={"runs": 2, "models": [str(MODEL)]},
                        models=[{"model": str(MODEL), "calib": None}, "digits_cnn"])
    full, quick = sweep.load_suite(suite, False), sweep.load_suite(suite, True)
    assert (full["runs"], full["models"], quick["runs"], quick["models"]) == (
        5, ["digits_mlp", "digits_cnn"], 2, ["digits_mlp"])
    assert quick["sources"] == {"digits_mlp": {"model": str(MODEL), "calib": None}}
    assert full["warmup"] == quick["warmup"] == 1


def test_a_suites_model_gives_the_shapes_of_its_free_dimensions(tmp_path):
    from edgekit.workflows import sweep

    entry = {"model": str(MODEL), "calib": None, "input_shape": ["dense_input:1,64"]}
    suite = write_suite(tmp_path, models=[entry])
    assert sweep.load_suite(suite, False)["sources"]["digits_mlp"]["input_shape"] == ["dense_input:1,64"]
    bad = write_suite(tmp_path, models=[{**entry, "input_shape": ["dense_input:1,x"]}])
    with pytest.raises(EdgekitError, match="input_shape.* is not a list of NAME:D0,D1,... texts"):
        sweep.load_suite(bad, False)


def test_messages_in_a_sweeps_jobs_name_the_suites_fields():
    from edgekit.workflows.bench import BenchSettings

    for naming, said in ((naming_suite_fields, '"runs": 1 in the suite must be 2 or more'),
                         (naming_cli_options, "--runs 1 must be 2 or more")):
        with naming(), pytest.raises(EdgekitError) as caught:
            BenchSettings(runs=1)
        assert str(caught.value) == said


@pytest.fixture
def ten_ops():
    """An op limit of 10 for one test (the limits are the process's: a command another test ran
    in this process may have set them)."""
    from edgekit.core import limits

    limits.configure({"ops": "10"})
    yield
    limits.configure({})


def test_a_limit_met_in_a_sweeps_jobs_names_what_a_suite_can_change(ten_ops):
    """A sweep takes no --max-* flags: its jobs name the suite's field and the limit's variable."""
    from edgekit.core import limits

    with naming_suite_fields():
        assert limits.Deadline(1, "the benchmark").fix == 'lower "runs" in the suite or raise EDGEKIT_MAX_BENCH_TIME'
        with pytest.raises(EdgekitError, match=r"over the 10 limit: raise it with EDGEKIT_MAX_OPS if that is expected"):
            limits.check_ops(MODEL, 11)
    with naming_cli_options():
        assert limits.Deadline(1, "the benchmark").fix == "lower --runs or raise --max-bench-time"


def test_a_suite_needs_only_its_models_the_rest_is_the_command_lines_default(tmp_path):
    """Issue 33: a field left out is the CLI's default (every variant, every runtime that applies,
    threads 1, runs auto, warmup 20, batch 32); a default list of variants loses those that need
    calibration, as convert's does, while one named without a calibration set is refused."""
    from edgekit.core.config import ONNX_VARIANTS, TFLITE_VARIANTS
    from edgekit.workflows import sweep
    from edgekit.workflows.sweep_jobs import _settings

    path = tmp_path / "suite.json"
    path.write_text(json.dumps({"models": [str(MODEL)], "tflite": ["fp32"], "onnx": [], "runtimes": ["litert:xnnpack"]}))
    suite = sweep.load_suite(path, quick=True)
    assert (suite["threads"], suite["runs"], suite["warmup"], suite["batch"]) == ([1], "auto", 20, 32)
    settings = _settings(suite, 1)
    assert settings.runs is None and settings.runtime == "litert:xnnpack"  # None: --runs auto

    path.write_text(json.dumps({"models": [str(MODEL)]}))
    suite = sweep.load_suite(path, quick=False)  # no calibration set: the default lists are thinned by convert
    assert (suite["tflite"], suite["onnx"], suite["runtimes"]) == (list(TFLITE_VARIANTS), list(ONNX_VARIANTS), ["all"])
    assert _settings(suite, 1).runtime is None  # every runtime that applies, as bench without --runtime
    path.write_text(json.dumps({"models": [str(MODEL)], "tflite": ["fp32", "int8"]}))
    with pytest.raises(EdgekitError, match="has no calibration set, and int8 needs one"):
        sweep.load_suite(path, quick=False)
    path.write_text(json.dumps({"models": [str(MODEL)], "runtimes": ["all", "litert:xnnpack"]}))
    with pytest.raises(EdgekitError, match='runtimes is .* which mixes "all" with runtime names'):
        sweep.load_suite(path, quick=False)
    path.write_text(json.dumps({"models": [str(MODEL)], "runs": "often"}))
    with pytest.raises(EdgekitError, match='runs is "often", which should be an integer or "auto"'):
        sweep.load_suite(path, quick=False)


def test_dump_suite_prints_a_suite_with_every_default_filled_in(tmp_path):
    code, out, err = run_cli("sweep", "--dump-suite")
    assert code == 0, err
    default = json.loads(out)
    assert default["models"] == ["digits_cnn"] and default["runtimes"] == ["all"] and default["runs"] == "auto"
    path = write_suite(tmp_path, quick={"runs": 2})
    given = json.loads(path.read_text())
    path.write_text(json.dumps({"models": given["models"], "quick": {"runs": 2}}))
    code, out, err = run_cli("sweep", path, "--dump-suite")
    assert code == 0, err
    filled = json.loads(out)
    assert filled == {**default, "models": ["digits_mlp"], "quick": {"runs": 2}}
    path.write_text(out)  # what it prints is a suite that reads back as itself
    code, again, err = run_cli("sweep", path, "--dump-suite")
    assert code == 0 and json.loads(again) == filled, err
    code, out, err = run_cli("sweep")
    assert code == 2 and "needs a suite" in err and "--dump-suite" in err
