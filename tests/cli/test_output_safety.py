"""No user file is ever lost to an output (issue 15): an output that is, holds or lies inside
the command's own input is refused with the user's files byte-identical; only a folder edgekit
wrote is replaced; one run at a time writes a folder; a killed run's debris is cleared by the
next; a full disk is one clear line, never a traceback or debris."""

import errno
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from edgekit.cli import main
from edgekit.core.outputs import staged_folder
from tests.cli.test_cli import previous_output
from tests.conftest import run_cli, tmpfs
from tests.corpus.cases import CALIB, CORPUS, MODEL, RESULTS, snapshot
from tests.processes import wait_for


@pytest.fixture()
def project(tmp_path):
    """A user's project: a Keras model with notes beside it, a SavedModel, a model whose folder
    is named as tune's output would be, and a results file."""
    project = tmp_path / "proj"
    (project / "net").mkdir(parents=True)
    shutil.copyfile(MODEL, project / "net" / "model.keras")
    (project / "net" / "notes.txt").write_text("the user's notes\n")
    shutil.copytree(CORPUS / "unusual" / "needs_flex", project / "sm")
    (project / "net-tuned").mkdir()
    shutil.copyfile(MODEL, project / "net-tuned" / "net.keras")
    shutil.copyfile(RESULTS, project / "results.json")
    return project


# argv ({p}: the project folder), the output and the input the error line must name
DATA_LOSS = {
    "convert into the model's folder": (("convert", "{p}/net/model.keras", "--calib", CALIB, "--out", "{p}", "-q"),
                                        "{p}/net", "{p}/net/model.keras"),
    "convert into the SavedModel": (("convert", "{p}/sm", "--calib", CALIB, "--out", "{p}", "-q"), "{p}/sm", "{p}/sm"),
    "convert inside the SavedModel": (("convert", "{p}/sm", "--calib", CALIB, "--out", "{p}/sm/x", "-q"),
                                      "{p}/sm/x/sm", "{p}/sm"),
    "optimize into the model's folder": (("optimize", "{p}/net/model.keras", "--prune", "0.5", "--out", "{p}", "-q"),
                                         "{p}/net", "{p}/net/model.keras"),
    "tune into the model's folder": (("tune", "{p}/net-tuned/net.keras", "--calib", CALIB, "--out", "{p}", "-q"),
                                     "{p}/net-tuned", "{p}/net-tuned/net.keras"),
    "bench --output over the model": (("bench", "{p}/net/model.keras", "--output", "{p}/net/model.keras", "-q"),
                                    "{p}/net/model.keras", "{p}/net/model.keras"),
    "bench --output inside the SavedModel reference": (
        ("bench", "{p}/net/model.keras", "--reference", "{p}/sm", "--output", "{p}/sm/results.json", "-q"),
        "{p}/sm/results.json", "{p}/sm"),
    "debug-quant --output over the model": (("debug-quant", "{p}/net/model.keras", "--calib", CALIB, "--output",
                                           "{p}/net/model.keras", "-q"), "{p}/net/model.keras", "{p}/net/model.keras"),
    "report --output over its results": (("report", "{p}/results.json", "--output", "{p}/results.json"),
                                      "{p}/results.json", "{p}/results.json"),
    "compare --output over the current results": (("compare", RESULTS, "{p}/results.json", "--output", "{p}/results.json"),
                                               "{p}/results.json", "{p}/results.json"),
}


@pytest.mark.parametrize("case", list(DATA_LOSS))
def test_an_output_over_the_commands_own_input_is_refused_and_the_files_stay(case, project, capsys):
    argv, output, source = (tuple(str(a).replace("{p}", str(project)) for a in part) if isinstance(part, tuple)
                            else part.replace("{p}", str(project)) for part in DATA_LOSS[case])
    before = snapshot(project)
    code = main(list(argv))
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert output in lines[0] and source in lines[0], lines[0]
    assert snapshot(project) == before  # byte-identical, and nothing added (no probe, lock or staging left)


def test_a_folder_edgekit_did_not_write_is_refused_before_any_heavy_work(tmp_path):
    folder = tmp_path / "out" / "digits_cnn"
    folder.mkdir(parents=True)
    (folder / "thesis.tex").write_text("years of work\n")
    before = snapshot(tmp_path / "out")
    probe = ("import sys\nfrom edgekit.cli import main\n"
             f"code = main(['convert', '--out', {str(tmp_path / 'out')!r}, '-q'])\n"
             "print(code, 'tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["2", "False"], result.stdout + result.stderr  # refused before TF loads
    assert f"output folder {folder} holds files edgekit did not write" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert snapshot(tmp_path / "out") == before


def test_a_run_into_a_folder_another_run_is_writing_fails_at_once(tmp_path, capsys):
    out = previous_output(tmp_path)
    with staged_folder(out / "digits_cnn"):  # what another run holds while it works
        before = snapshot(out)
        code = main(["convert", "--out", str(out)])
        after = {k: v for k, v in snapshot(out).items() if not k.endswith("/.ses")}  # onnxruntime's marker
        assert after == before  # the other run's staging folder and lock untouched
    err = capsys.readouterr().err
    # at once: the error is all it said, before its first step ("loading ...") began
    assert code == 2 and err.strip().splitlines() == [
        f"edgekit convert: error: output folder {out / 'digits_cnn'} is in use: another edgekit run (pid "
        f"{os.getpid()}) is writing it; wait for it to end or give --out another folder"]


def converting(out):
    """True once a run into OUT/digits_cnn has written an artifact into its staging folder."""
    staging = [p for p in out.iterdir() if p.name.startswith(".digits_cnn.staging-")]
    return bool(staging) and any(p.suffix in (".tflite", ".onnx") for p in staging[0].iterdir())


CONVERT = ("convert", "--tflite", "fp32,int8", "--onnx", "fp32", "--no-bench", "-q", "--out")


@pytest.mark.slow
def test_two_real_runs_into_one_folder_the_second_fails_at_once_the_first_completes(tmp_path):
    out = previous_output(tmp_path)
    first = subprocess.Popen([sys.executable, "-m", "edgekit", *CONVERT, out], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    wait_for(lambda: converting(out), "the first run to convert")
    first.send_signal(signal.SIGSTOP)  # it holds the folder, and takes no CPU from the runs timed here
    try:
        # at once: no longer than a few times the same command takes to start and fail on a bad option
        started = time.monotonic()
        code, _, err = run_cli(*CONVERT[:-1], "--tflite", "no_such_variant", "--out", tmp_path / "elsewhere")
        baseline = time.monotonic() - started
        assert code == 2, err
        started = time.monotonic()
        code, _, err = run_cli(*CONVERT, out)
        seconds = time.monotonic() - started
    finally:
        first.send_signal(signal.SIGCONT)
    assert code == 2 and err.strip().splitlines() == [
        f"edgekit convert: error: output folder {out / 'digits_cnn'} is in use: another edgekit run "
        f"(pid {first.pid}) is writing it; wait for it to end or give --out another folder"]
    assert seconds < 3 * baseline, (seconds, baseline)
    assert first.wait(timeout=300) == 0, first.stderr.read()
    assert sorted(p.name for p in (out / "digits_cnn").iterdir()) == [
        "digits_cnn_fp32.onnx", "digits_cnn_fp32.tflite", "digits_cnn_int8.tflite", "manifest.json"]


@pytest.mark.slow
def test_what_a_killed_convert_leaves_is_cleared_by_the_next_run(tmp_path):
    """SIGKILL cannot be caught: the staging folder, the run's temporary folder (with the
    exported SavedModel in it) and the lock stay beside the output, none of it in TMPDIR; the
    next run into the folder clears all of it and writes a correct output."""
    out = previous_output(tmp_path)
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    killed = subprocess.Popen([sys.executable, "-m", "edgekit", *CONVERT, out], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: converting(out), "the run to convert")
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=60)
    debris = sorted(p.name.split("-")[0] for p in out.iterdir() if p.name.startswith(".digits_cnn."))
    assert debris == [".digits_cnn.lock", ".digits_cnn.staging", ".digits_cnn.tmp"]
    [scratch] = out.glob(".digits_cnn.tmp-*")
    assert list(scratch.glob("edgekit-savedmodel-*"))  # the export went beside the output
    assert [p.name for p in tmpdir.iterdir() if p.name != ".ses"] == []  # .ses: onnxruntime's marker
    result = subprocess.run([sys.executable, "-m", "edgekit", *CONVERT, out], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["digits_cnn", "results.json"]
    assert sorted(p.name for p in (out / "digits_cnn").iterdir()) == [
        "digits_cnn_fp32.onnx", "digits_cnn_fp32.tflite", "digits_cnn_int8.tflite", "manifest.json"]
    assert [p.name for p in tmpdir.iterdir() if p.name != ".ses"] == []


@pytest.mark.slow
def test_running_out_of_space_mid_conversion_is_one_clear_line_and_leaves_nothing(tmp_path):
    """A real 128 KB file system: the exported SavedModel does not fit (a TF error, not an
    OSError). One line, exit 2, and the disk as empty as before."""
    with tmpfs(tmp_path / "small", "size=128k") as small:
        tmpdir = tmp_path / "tmpdir"
        tmpdir.mkdir()
        result = subprocess.run([sys.executable, "-m", "edgekit", *CONVERT, small], capture_output=True, text=True,
                                timeout=300, env={**os.environ, "TMPDIR": str(tmpdir)})
        assert result.returncode == 2 and result.stderr.strip().splitlines() == [
            f"edgekit convert: error: output folder {small} has no space left on its device: free some space or "
            "give --out a path on another disk"], result.stderr
        assert os.listdir(small) == [] and [p.name for p in tmpdir.iterdir() if p.name != ".ses"] == []


def test_a_report_bigger_than_the_space_left_is_one_clear_line(tmp_path, capsys):
    """The probe of the folder passes (one byte fits), the 19 KB report does not: the write
    names the file, and its temporary file is gone."""
    with tmpfs(tmp_path / "small", "size=8k") as small:
        code = main(["report", str(RESULTS), "--output", str(small / "report.md")])
        err = capsys.readouterr().err
        assert code == 2 and err.strip().splitlines() == [
            f"edgekit report: error: output path {small / 'report.md'} has no space left on its device: free some "
            "space or give the command a path on another disk"]
        assert os.listdir(small) == []


def test_an_oserror_of_the_users_environment_met_late_is_still_one_line():
    from edgekit.cli import _environment_error

    assert _environment_error(OSError(errno.ELOOP, "Too many levels of symbolic links", "/data/loop")) == (
        "path /data/loop is a symlink loop: fix the link or give the command another path")
    assert _environment_error(OSError(errno.EBADF, "Bad file descriptor")) is None  # a bug: exit 70
    assert _environment_error(ValueError("x")) is None
