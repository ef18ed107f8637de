"""One vocabulary across commands (issue 19): --out DIR / --output FILE, --json on stdout, one
--max-accuracy-drop, --config / --dump-config for every command, and "did you mean"."""

import argparse
import json

import pytest

from edgekit.cli.bench import add_bench_arguments
from edgekit.core.config import DEFAULT_MAX_ACCURACY_DROP
from tests.conftest import REPO, run_cli

RESULTS = REPO / "benchmarks" / "baseline.json"


def one_error_line(code, stderr, *needles):
    assert code == 2, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    for needle in needles:
        assert needle in lines[0], stderr


@pytest.mark.parametrize("argv, needle", [
    (["covnert"], "did you mean convert?"),
    (["convert", "--runz", "5"], "did you mean --runs?"),
    (["report", str(RESULTS), "--format", "mdd"], "did you mean md?"),
    (["convert", "--tflite", "in8", "--dump-config"], "did you mean int8?"),
    (["convert", "--onnx", "int8-statc", "--dump-config"], "did you mean int8-static?"),
    (["convert", "--runtime", "litert:xnpack", "--dump-config"], "did you mean litert:xnnpack?"),
    (["bench", "model.tflite", "--runtime", "litrt:builtin"], "did you mean litert:builtin?"),
])
def test_a_near_miss_is_one_line_with_the_closest_name(argv, needle):
    code, _, stderr = run_cli(*argv)
    one_error_line(code, stderr, needle)


def bench_option_names() -> set[str]:
    parser = argparse.ArgumentParser()
    add_bench_arguments(parser)
    return {a.dest for a in parser._actions if a.dest != "help"}


def dump(*argv) -> dict:
    code, stdout, stderr = run_cli(*argv, "--dump-config")
    assert code == 0, stderr
    return json.loads(stdout)


def test_convert_dump_config_holds_the_bench_options_and_config_reads_them_back(tmp_path):
    config = dump("convert", "--preset", "int8-full", "--runs", "50", "--runtime", "litert:xnnpack",
                  "--threads", "1,2", "--warmup", "3", "--batch", "8", "--mcu", "raspberry-pi-pico")
    values = config["convert"]
    assert bench_option_names() <= set(values), bench_option_names() - set(values)
    assert (values["runs"], values["runtime"], values["threads"], values["warmup"], values["batch"],
            values["mcu"]) == ("50", "litert:xnnpack", "1,2", 3, 8, "raspberry-pi-pico")
    assert values["tflite"] == ["int8"] and values["onnx"] == ["int8-static"]
    path = tmp_path / "convert.json"
    path.write_text(json.dumps(config))
    assert dump("convert", "--config", path) == config
    again = dump("convert", "--config", path, "--threads", "4", "--preset", "fp16")["convert"]
    assert again["threads"] == "4" and again["runs"] == "50"  # the command line wins, the rest is the file's
    assert again["tflite"] == ["fp16"] and again["onnx"] == []  # a preset replaces the file's variants


@pytest.mark.parametrize("command, positionals, options, key, value", [
    ("bench", ["model.tflite"], ["--runs", "40", "--runtime", "onnxruntime:cpu", "--threads", "2"], "runs", "40"),
    ("tune", [], ["--max-accuracy-drop", "0.5", "--budget", "90s", "--tflite", "int8,fp16"], "budget", "90s"),
    ("report", [RESULTS], ["--format", "html", "--max-accuracy-drop", "2"], "max_accuracy_drop", 2.0),
    ("compare", [RESULTS, RESULTS], ["--max-size-growth", "7%"], "max_size_growth", "7%"),
    ("debug-quant", [], ["--top", "5", "--io", "float"], "top", 5),
    ("export", ["model.tflite"], ["--out", "fw", "--symbol", "g_net"], "symbol", "g_net"),
    ("optimize", [], ["--prune", "0.5", "--fine-tune-epochs", "2"], "prune", 0.5),
])
def test_dump_config_round_trips_for_every_command(tmp_path, command, positionals, options, key, value):
    config = dump(command, *positionals, *options)
    assert list(config) == [command] and config[command][key] == value
    assert "json" not in config[command] and "quiet" not in config[command]  # how a run shows, not what it does
    path = tmp_path / f"{command}.json"
    path.write_text(json.dumps(config))
    assert dump(command, *positionals, "--config", path) == config


def test_the_accuracy_tolerance_has_one_name_and_one_default():
    for argv in (["report", str(RESULTS)], ["compare", str(RESULTS), str(RESULTS)], ["tune"]):
        assert dump(*argv)[argv[0]]["max_accuracy_drop"] == DEFAULT_MAX_ACCURACY_DROP == 1.0


@pytest.mark.parametrize("content, needles", [
    ({"convert": {"runz": 5}}, ['no option "runz"', "did you mean runs?"]),
    ({"convert": {"warmup": "5"}}, ['"warmup"', "not an integer"]),
    ({"convert": {"opset": 99}}, ["--opset 99"]),
    ({"convert": {"io": "flaot"}}, ['"io"', "did you mean float?"]),
    ({"bench": {"runs": "5"}}, ['no "convert" section', "it has bench"]),
    ({"convret": {"runs": "5"}}, ['no option "convret"', "--dump-config"]),
    ([1, 2], ["must hold a JSON object"]),
])
def test_a_config_file_that_does_not_fit_is_one_line_exit_2(tmp_path, content, needles):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content))
    code, stdout, stderr = run_cli("convert", "--config", path, "--out", tmp_path / "out")
    one_error_line(code, stderr, "bad.json", *needles)
    assert stdout == "" and not (tmp_path / "out").exists()


def test_a_flat_convert_config_from_before_sections_still_reads(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"tflite": ["fp16"], "onnx": [], "opset": 15}))
    values = dump("convert", "--config", path)["convert"]
    assert (values["tflite"], values["onnx"], values["opset"]) == (["fp16"], [], 15)


def test_a_file_may_give_an_option_the_command_requires(tmp_path):
    path = tmp_path / "compile.json"
    path.write_text(json.dumps({"compile": {"npu": "qualcomm:SM8650"}, "bench": {"runs": "9"}}))
    assert dump("compile", "model.tflite", "--config", path)["compile"]["npu"] == "qualcomm:SM8650"


def test_old_spellings_work_for_a_release_with_a_one_line_note(tmp_path):
    code, stdout, stderr = run_cli("report", RESULTS, "--out", tmp_path / "r.md", "--tolerance", "2")
    assert code == 0, stderr
    assert "--out FILE is now --output FILE" in stderr and "--tolerance POINTS is now --max-accuracy-drop" in stderr
    assert (tmp_path / "r.md").read_text().startswith("#")
    code, _, stderr = run_cli("compare", RESULTS, RESULTS, "--out", tmp_path / "c.md")
    assert code == 0 and "--out FILE is now --output FILE" in stderr and (tmp_path / "c.md").is_file()
    # --json PATH on bench: the path is --output's now (here the model is missing, so nothing is written)
    code, _, stderr = run_cli("bench", tmp_path / "missing.tflite", "--json", tmp_path / "r.json")
    assert code == 2 and "--json PATH is now --output PATH" in stderr and "missing.tflite" in stderr
    assert not (tmp_path / "r.json").exists()
    code, _, stderr = run_cli("bench", "--json", tmp_path)  # --json before the path it was meant to leave alone
    one_error_line(code, stderr, "--json takes no value now", "--output")


@pytest.mark.parametrize("command", ["bench", "debug-quant", "report", "compare"])
def test_help_and_the_readme_show_only_output_for_a_file_written(command):
    """Issue 33: the former spellings work (above), but only --output FILE is taught."""
    code, stdout, stderr = run_cli(command, "--help")
    assert code == 0, stderr
    assert "--output FILE" in stdout
    assert not [old for old in ("--json PATH", "--json FILE", "--out FILE", "--tolerance") if old in stdout]
    assert "--json PATH" not in (REPO / "README.md").read_text()


def test_report_json_is_format_json():
    code, stdout, stderr = run_cli("report", RESULTS, "--json")
    assert code == 0, stderr
    assert json.loads(stdout) == json.loads(RESULTS.read_text()) | {"schema_version": json.loads(stdout)[
        "schema_version"]}


def test_zoo_json():
    code, stdout, stderr = run_cli("zoo", "--json")
    assert code == 0, stderr
    assert "digits_cnn" in {entry["name"] for entry in json.loads(stdout)}


@pytest.fixture(scope="module")
def converted_fp32(tmp_path_factory):
    """convert --json with its variants and bench options from a config file: the manifest and the
    results on stdout, measured as the file says."""
    root = tmp_path_factory.mktemp("vocabulary")
    config = root / "convert.json"
    config.write_text(json.dumps({"convert": {"tflite": ["fp32"], "onnx": [], "runtime": "litert:xnnpack",
                                              "runs": "5", "warmup": 1, "out": str(root / "out")}}))
    code, stdout, stderr = run_cli("convert", "--config", config, "--json", "-q")
    assert code == 0, stderr
    return root, json.loads(stdout)


@pytest.mark.slow
def test_convert_json_prints_the_manifest_and_the_results_measured_as_the_config_says(converted_fp32):
    root, printed = converted_fp32
    manifest = json.loads((root / "out" / "digits_cnn" / "manifest.json").read_text())
    assert printed["manifest"]["artifacts"] == manifest["artifacts"]
    records = printed["results"]["models"][0]["records"]
    assert {r["target"] for r in records if r["artifact"].endswith(".tflite")} == {"litert:xnnpack"}
    assert printed["results"]["settings"]["runs"] == 5


@pytest.mark.slow
def test_bench_json_prints_what_output_writes(converted_fp32, tmp_path):
    root, _ = converted_fp32
    model = root / "out" / "digits_cnn" / "digits_cnn_fp32.tflite"
    code, stdout, stderr = run_cli("bench", model, "--runtime", "litert:xnnpack", "--runs", "5", "--warmup", "1",
                                   "--json", "--output", tmp_path / "r.json", "-q")
    assert code == 0, stderr
    assert json.loads(stdout) == json.loads((tmp_path / "r.json").read_text())


@pytest.mark.slow
def test_export_compile_and_inspect_json(converted_fp32, tmp_path):
    root, _ = converted_fp32
    model = root / "out" / "digits_cnn" / "digits_cnn_fp32.tflite"
    code, stdout, stderr = run_cli("export", model, "--out", tmp_path / "fw", "--json")
    assert code == 0, stderr
    assert sorted(json.loads(stdout)["written"]) == [str(tmp_path / "fw" / n) for n in ("model_data.cc", "model_data.h")]
    code, _, stderr = run_cli("export", model, "--c-array", tmp_path / "old")  # the former spelling
    assert code == 0 and "--c-array OUT is now --c-array --out OUT" in stderr and (tmp_path / "old" / "model_data.h").is_file()
    # Intel's plugin loads with openvino (the [test] extra); a run where every target is skipped exits 2
    code, stdout, stderr = run_cli("compile", model, "--npu", "intel_openvino:LNL", "--npu-backend", "cpu",
                                   "--out", tmp_path, "--json")
    assert code == 0, stderr
    [target] = json.loads(stdout)["targets"]
    assert target["vendor"] == "intel_openvino" and target["status"] == "ok"
    code, stdout, stderr = run_cli("inspect", model, "--json")
    assert code == 0 and json.loads(stdout)["format"] == "tflite"


@pytest.mark.slow
def test_debug_quant_json_prints_the_report_it_writes(tmp_path):
    code, stdout, stderr = run_cli("debug-quant", "--output", tmp_path / "dq.json", "--json", "-q")
    assert code == 0, stderr
    assert json.loads(stdout) == json.loads((tmp_path / "dq.json").read_text())


@pytest.mark.slow
def test_tune_json_prints_the_tune_report(tmp_path):
    code, stdout, stderr = run_cli("tune", "--tflite", "fp32", "--onnx", "none", "--runs", "5", "--warmup", "1",
                                   "--out", tmp_path, "--json", "-q")
    assert code == 0, stderr
    report = json.loads(stdout)
    assert report["pick"]["file"] == json.loads((tmp_path / "digits_cnn-tuned" / "tune.json").read_text())["pick"]["file"]
    assert report["settings"]["max_drop"] == DEFAULT_MAX_ACCURACY_DROP


@pytest.mark.slow
def test_optimize_and_train_json(tmp_path):
    code, stdout, stderr = run_cli("optimize", "--prune", "0.5", "--fine-tune-epochs", "1", "--out", tmp_path,
                                   "--json", "-q")
    assert code == 0, stderr
    assert json.loads(stdout)["optimization"]
    code, stdout, stderr = run_cli("train", "sine", "--epochs", "1", "--root", tmp_path / "root", "--json", "-q")
    assert code == 0, stderr
    assert json.loads(stdout)["name"] == "sine"
