"""The CLI as a user meets it: fresh processes for start-up and exit codes, in-process calls
for the many bad-input cases (same code path, without paying TF's import each time)."""

import json
import os
import signal
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from edgekit.cli import main
from tests.conftest import folder_state, run_cli
from tests.corpus.cases import plant_previous_output, snapshot


def test_help_and_version_do_not_import_heavy_backends():
    probe = ("import sys, edgekit.cli as c\n"
             "for argv in (['--help'], ['convert', '--help'], ['--version']):\n"
             "    try: c.main(argv)\n"
             "    except SystemExit: pass\n"
             "print([m for m in ('tensorflow', 'onnxruntime', 'ai_edge_litert', 'keras') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip().splitlines()[-1] == "[]"
    code, stdout, _ = run_cli("--version")
    assert code == 0 and stdout.startswith("edgekit ")


def run_main(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_clear_error(code, err, *needles):
    """Exit 2 and one error line, the last one (progress lines may come before it)."""
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    assert len(errors) == 1 and errors[0] == lines[-1], err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in errors[0], errors[0]


@pytest.fixture()
def out_with_previous_run(tmp_path):
    """An output folder holding a previous run's files, which a failed run must leave as they are."""
    return previous_output(tmp_path)


def bad_inputs(tmp_path):
    (tmp_path / "empty.keras").write_bytes(b"")
    (tmp_path / "random.keras").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "notsaved").mkdir()
    np.save(tmp_path / "wrong_shape.npy", np.zeros((12, 7, 7, 1), np.float32))
    np.save(tmp_path / "nan.npy", np.full((12, 8, 8, 1), np.nan, np.float32))
    np.save(tmp_path / "empty.npy", np.zeros((0, 8, 8, 1), np.float32))
    np.savez(tmp_path / "keys.npz", x=np.zeros((2, 8, 8, 1)), y=np.zeros((2, 8, 8, 1)))
    return [
        (["convert", tmp_path / "missing.keras", "--calib", tmp_path / "nan.npy"], ["missing.keras", "no such file"]),
        (["convert", tmp_path / "empty.keras", "--calib", tmp_path / "nan.npy"], ["empty.keras", "empty"]),
        (["convert", tmp_path / "random.keras", "--calib", tmp_path / "nan.npy"], ["random.keras"]),
        (["convert", tmp_path / "notsaved", "--calib", tmp_path / "nan.npy"], ["notsaved", "not a SavedModel"]),
        (["convert", "--calib", tmp_path / "wrong_shape.npy"], ["wrong_shape.npy", "(N, 8, 8, 1)"]),
        (["convert", "--calib", tmp_path / "nan.npy"], ["nan.npy", "NaN"]),
        (["convert", "--calib", tmp_path / "empty.npy"], ["empty.npy", "empty"]),
        (["convert", "--calib", tmp_path / "keys.npz"], ["keys.npz", "image"]),
        (["convert", "--calib", tmp_path / "missing.npz"], ["missing.npz", "does not exist"]),
        (["convert", "--tflite", "int4"], ["int4", "fp32,fp16"]),
        (["convert", "--opset", "21"], ["opset", "18"]),
        (["convert", "--config", tmp_path / "missing.json"], ["missing.json"]),
        (["convert", tmp_path / "random.keras", "--tflite", "int8"], ["--tflite int8", "--calib"]),
        (["convert", "no_such_model"], ["no such file: no_such_model", "digits_cnn"]),
        (["inspect", tmp_path / "random.keras"], ["random.keras", "is neither a Keras zip (.keras) nor an HDF5"]),
        (["inspect", tmp_path / "missing.tflite"], ["missing.tflite"]),
        (["train", "no_such_model"], ["no_such_model", "digits_cnn"]),
        (["convert", "--prune", "1.5"], ["--prune 1.5", "between 0 and 1"]),
        (["convert", "--prune-structure", "4:2"], ["--prune-structure", "M:N"]),
        (["convert", "--prune", "0.7", "--prune-structure", "2:4"], ["fixes sparsity at 0.5"]),
        (["convert", "--cluster", "1"], ["--cluster 1", "2 to 256"]),
        (["convert", "--tflite", "int8-qat"], ["int8-qat", "--qat"]),
        (["optimize"], ["nothing to do", "--prune"]),
        (["optimize", "--prune", "0.5", "--train-data", tmp_path / "missing.npz"], ["missing.npz", "x and y"]),
        (["optimize", "--prune", "0.5", "--train-data", tmp_path / "keys.npz"], ["keys.npz", "at least 10"]),
        (["optimize", "--qat", "--fine-tune-epochs", "0"], ["--fine-tune-epochs 0"]),
        (["train", "digits_mlp", "--data", tmp_path / "cifar"], ["--data is for resnet8"]),
        (["train", "resnet8", "--data", tmp_path / "missing.tar.gz"], ["missing.tar.gz", "cifar-10-batches-py"]),
    ]


def test_bad_inputs_get_one_line_exit_2_and_leave_the_output_folder_alone(
        tmp_path, capsys, out_with_previous_run):
    before = folder_state(out_with_previous_run)
    cases = tmp_path / "cases"
    cases.mkdir()
    for argv, needles in bad_inputs(cases):
        if argv[0] in ("convert", "optimize"):
            argv = [*argv, "--out", out_with_previous_run]
        code, _, err = run_main(capsys, *argv)
        assert_clear_error(code, err, *needles)
        assert folder_state(out_with_previous_run) == before, argv


def test_output_path_that_is_a_file(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    code, _, err = run_main(capsys, "convert", "--out", tmp_path / "afile")
    assert_clear_error(code, err, "afile", "is a file")


def test_usage_errors_are_one_line_too(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["convert", "--io", "uint4"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1 and "--help" in err


def test_error_in_a_fresh_process_has_no_traceback_and_debug_shows_it(tmp_path):
    (tmp_path / "bad.tflite").write_bytes(b"\x00" * 64)
    code, _, err = run_cli("inspect", tmp_path / "bad.tflite")
    assert code == 2 and err.strip().count("\n") == 0 and "TFL3" in err
    code, _, err = run_cli("inspect", tmp_path / "bad.tflite", "--debug")
    assert code != 0 and "Traceback" in err


def test_lambda_model_is_refused_naming_the_flag(tiny, tmp_path, capsys):
    code, _, err = run_main(capsys, "convert", tiny["paths"]["lambda_tf_keras"], "--calib",
                            tiny["root"] / "calib_tiny.npz", "--out", tmp_path)
    assert_clear_error(code, err, "Lambda", "--trust-model-code")
    assert list(tmp_path.iterdir()) == []


def test_dump_config_round_trips(tmp_path, capsys):
    code, out, _ = run_main(capsys, "convert", "--preset", "int8-full", "--opset", "18", "--onnx-quant-format",
                            "s8s8", "--dump-config")
    assert code == 0
    config = json.loads(out)["convert"]
    assert config["tflite"] == ["int8"] and config["onnx"] == ["int8-static"] and config["opset"] == 18
    assert config["onnx_quant_format"] == "s8s8"
    (tmp_path / "c.json").write_text(out)
    code, again, _ = run_main(capsys, "convert", "--config", tmp_path / "c.json", "--dump-config")
    assert json.loads(again)["convert"] == config


@pytest.mark.slow
def test_env_reports_versions_cpu_and_backends():
    code, stdout, stderr = run_cli("env", "--json")
    assert code == 0, stderr
    info = json.loads(stdout)
    for package in ("tensorflow", "tf-keras", "tensorflow-model-optimization", "tf2onnx", "onnx",
                    "onnxruntime", "ai-edge-litert", "keras"):
        assert info["versions"][package], package
    assert "avx2" in info["cpu"]["flags"] or info["cpu"]["machine"] != "x86_64"
    assert "CPUExecutionProvider" in info["onnxruntime_providers"]
    backends = info["backends"]
    assert backends["litert"]["available"] and backends["onnxruntime:CPU"]["available"]
    for entry in backends.values():  # a skipped backend always says why
        assert entry["available"] or entry["reason"]
    code, text, _ = run_cli("env")
    assert code == 0 and "backends:" in text and "ai-edge-litert" in text


@pytest.mark.slow
def test_inspect_shows_io_quantization_and_ops(converted, capsys):
    folder = converted["folder"]
    code, out, _ = run_main(capsys, "inspect", folder / "digits_cnn_int8.tflite")
    assert code == 0
    assert "image: int8" in out and "zero_point=-128" in out and "CONV_2D" in out
    assert "needs Flex ops: no" in out
    code, out, _ = run_main(capsys, "inspect", folder / "digits_cnn_int8-static.onnx", "--json")
    info = json.loads(out)
    assert info["opsets"]["ai.onnx"] == 17 and info["ops"]["QuantizeLinear"] > 0 and info["ops"]["Conv"] == 2


def test_inspect_rejects_damaged_files(converted, tmp_path, capsys):
    data = (converted["folder"] / "digits_cnn_int8.tflite").read_bytes()
    (tmp_path / "cut.tflite").write_bytes(data[:200])
    code, _, err = run_main(capsys, "inspect", tmp_path / "cut.tflite")
    assert_clear_error(code, err, "cut.tflite")
    import onnx

    model = onnx.load(str(converted["folder"] / "digits_cnn_fp32.onnx"))
    model.graph.node[0].input[0] = "dangling"
    onnx.save(model, str(tmp_path / "dangling.onnx"))
    code, _, err = run_main(capsys, "inspect", tmp_path / "dangling.onnx")
    assert_clear_error(code, err, "dangling.onnx", "not a valid ONNX")


@pytest.mark.slow
def test_full_training_recipe_reaches_its_target(tmp_path):
    """`edgekit train digits_cnn` from scratch reproduces a model that meets the card's target."""
    from edgekit.zoo.training import train

    card = train("digits_cnn", root=tmp_path, verbose=False)
    assert card["metric"]["value"] >= 0.97


def interrupt(argv, out, ready, signum, tmp_path):
    """Start `edgekit ARGV`, send `signum` once `ready(stderr lines so far)` holds, and check the
    contract: exit 130, one line saying so, no traceback, the output folder exactly as before,
    and no temporary file left behind (the child's TMPDIR is a folder of its own)."""
    before = snapshot(out)
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "edgekit", *map(str, argv)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(tmp)})
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")), daemon=True)
    reader.start()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and not ready(lines):
        time.sleep(0.02)
    assert proc.poll() is None, f"the run ended before the point to interrupt it: {lines}"
    proc.send_signal(signum)
    proc.wait(timeout=120)
    reader.join(timeout=10)
    err = "".join(lines)
    assert proc.returncode == 130, err
    assert "interrupted" in err.strip().splitlines()[-1] and "Traceback" not in err
    assert snapshot(out) == before
    # onnxruntime writes a session marker, .ses, into TMPDIR whenever it is imported
    assert [p.name for p in tmp.iterdir() if p.name != ".ses"] == []


def previous_output(tmp_path):
    """OUT/digits_cnn as an earlier `edgekit convert` left it (its manifest makes it edgekit's to
    replace), and a results file beside it."""
    out = tmp_path / "out"
    plant_previous_output(out / "digits_cnn")
    (out / "results.json").write_text('{"previous": true}')
    return out


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_during_conversion_leaves_the_previous_output(tmp_path, signum):
    out = previous_output(tmp_path)

    def converting(lines):  # an artifact is already written in the staging folder
        staging = [p for p in out.iterdir() if ".staging-" in p.name]
        return bool(staging) and any(p.suffix in (".tflite", ".onnx") for p in staging[0].iterdir())

    interrupt(["convert", "--out", out], out, converting, signum, tmp_path)


@pytest.mark.slow
def test_interrupt_during_converts_benchmark_leaves_the_previous_output(tmp_path):
    out = previous_output(tmp_path)
    interrupt(["convert", "--out", out, "--runs", "2000"], out,
              lambda lines: any(line.startswith("measuring") for line in lines), signal.SIGINT, tmp_path)


@pytest.mark.slow
def test_interrupt_during_bench_keeps_the_previous_results_file(converted, tmp_path):
    out = previous_output(tmp_path)
    interrupt(["bench", converted["folder"], "--output", out / "results.json", "--runs", "2000"], out,
              lambda lines: sum(line.startswith("measuring") for line in lines) >= 2, signal.SIGTERM, tmp_path)


def run_and_signal(argv, tmpdir, at=None):
    """Run `edgekit ARGV` in a fresh process whose TMPDIR is `tmpdir`; with `at` = (k, seconds),
    send SIGTERM that many seconds after its k-th stderr line appeared (k = 0: after the start).
    Returns (exit code, [(seconds, stderr line)], when the signal went, or None if the run had
    ended before)."""
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "edgekit", *map(str, argv)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(tmpdir)})
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(
        (time.monotonic() - started, line) for line in iter(proc.stderr.readline, "")), daemon=True)
    reader.start()
    sent = None
    if at is not None:
        after, seconds = at
        while proc.poll() is None and len(lines) < after:
            time.sleep(0.005)
        anchor = lines[after - 1][0] if after else 0.0
        while proc.poll() is None and time.monotonic() - started < anchor + seconds:
            time.sleep(0.005)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            sent = time.monotonic() - started
    proc.wait(timeout=120)
    reader.join(timeout=10)
    return proc.returncode, lines, sent


@pytest.mark.slow
def test_sigterm_at_any_point_of_a_conversion_exits_130_and_keeps_the_previous_output(tmp_path):
    """SIGTERM at a sweep of moments over a whole conversion (issue 15: 3 times in 10 it was
    ignored 4-5 s in, and the run replaced the output). The moments are spread over a measured
    run, up to just before its output is swapped in, and each is kept relative to the progress
    line before it; one that lands after the swap (a faster step this time) is not a point of the
    sweep, but a run that goes on well past the signal is the bug itself."""
    argv = ["convert", "--tflite", "fp32,int8", "--onnx", "fp32", "--no-bench", "--out"]
    (tmp_path / "tmp-measure").mkdir()
    code, lines, _ = run_and_signal([*argv, tmp_path / "measure"], tmp_path / "tmp-measure")
    assert code == 0, "".join(line for _, line in lines)
    swapped = next(t for t, line in lines if line.startswith("wrote "))
    points = 10
    delays = [0.6 + i * (swapped - 0.3 - 0.6) / (points - 1) for i in range(points)]
    # each moment is kept as (the progress line before it, the time since that line): a run that
    # is slower or faster than the measured one is signalled in the same step of its work
    steps = [t for t, _ in lines if t < swapped]
    moments = [(k, delay - (steps[k - 1] if k else 0.0))
               for delay in delays for k in [sum(t <= delay for t in steps)]]
    out = previous_output(tmp_path)
    before = snapshot(out)
    valid = 0
    for i, (after, seconds) in enumerate(moments):
        tmpdir = tmp_path / f"tmp-{i}"
        tmpdir.mkdir()
        code, lines, sent = run_and_signal([*argv, out], tmpdir, at=(after, seconds))
        err = "".join(line for _, line in lines)
        where = f"SIGTERM {seconds:.2f} s after line {after} of a run: exit {code}: {err}"
        assert "Traceback" not in err and "Exception ignored" not in err, where
        assert [p.name for p in tmpdir.iterdir() if p.name != ".ses"] == [], where  # .ses: onnxruntime's marker
        assert sorted(p.name for p in out.iterdir()) == ["digits_cnn", "results.json"], where  # no debris
        wrote = next((t for t, line in lines if line.startswith("wrote ")), None)
        if sent is None or (wrote is not None and wrote < sent + 0.2):
            shutil.rmtree(out)  # landed after the swap: put the previous output back for the next point
            previous_output(tmp_path)
            continue
        assert code == 130, where
        interrupted = [line for line in err.splitlines() if "interrupted" in line]
        assert len(interrupted) == 1 and err.strip().splitlines()[-1] == interrupted[0], where
        assert snapshot(out) == before, where
        valid += 1
    assert valid >= points - 2, f"only {valid} of {points} signals landed before the swap"


def test_a_folder_given_as_the_benchmark_binary_is_named_a_folder(tmp_path):
    """Checked before adb is looked for: no phone or adb is needed to say so."""
    from tests.corpus.cases import TINY_TFLITE

    code, stdout, stderr = run_cli("bench", TINY_TFLITE, "--device", "adb", "--benchmark-binary", tmp_path)
    assert code == 2 and stdout == ""
    assert stderr.strip().splitlines() == [
        f"edgekit bench: error: --benchmark-binary {tmp_path} is a folder: give the benchmark_model binary itself "
        f"(e.g. {tmp_path / 'android_aarch64_benchmark_model'})"]
