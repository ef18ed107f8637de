"""A Linux board over SSH, for real: the test starts OpenSSH's sshd on 127.0.0.1 with keys made
in its own folder (no system configuration touched), makes a "board" virtual environment with
only numpy, ai-edge-litert and tflite-micro, and benchmarks the default model's artifacts there."""

import json
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.processes import descendants, has_mapped, wait_for
from tests.sshd import free_port, make_board, start_sshd, stop_sshd

pytestmark = pytest.mark.slow  # makes a board's virtual environment and benchmarks over SSH

@pytest.fixture(scope="module")
def board(tmp_path_factory):
    root = tmp_path_factory.mktemp("board")
    venv = root / "venv"  # the board's Python: numpy, LiteRT and TFLite Micro only, no edgekit, no TensorFlow
    state = make_board(root, f"{venv}/bin/python")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f"numpy=={version('numpy')}",
                        f"ai-edge-litert=={version('ai-edge-litert')}", f"tflite-micro=={version('tflite-micro')}"],
                       check=True, timeout=600)
        state["venv"] = venv
        yield state
    finally:
        stop_sshd(state["process"])


def worker_folders() -> set:
    return set(Path("/tmp").glob("edgekit-worker.*"))


def test_env_says_what_the_board_has_and_lacks(board):
    code, stdout, stderr = run_cli("env", "--device", "board", "--devices", board["devices"])
    assert code == 0, stderr
    assert f"ai-edge-litert   {version('ai-edge-litert')}" in stdout
    assert "onnxruntime      missing: pip install onnxruntime numpy" in stdout


def test_bench_on_the_board_records_its_fingerprint_and_fidelity(board, converted, tmp_path):
    before = worker_folders()
    code, stdout, stderr = run_cli("bench", converted["folder"], "--device", "local,board", "--devices",
                                   board["devices"], "--runtime", "keras:cpu,litert:xnnpack,onnxruntime:cpu",
                                   "--runs", "30", "--output", tmp_path / "r.json")
    assert code == 0, stderr
    results = json.loads((tmp_path / "r.json").read_text())
    board_print = results["devices"]["board"]
    python = subprocess.run([str(board["venv"] / "bin" / "python"), "-c", "import platform; print(platform.python_version())"],
                            capture_output=True, text=True).stdout.strip()
    assert board_print["python"] == python
    assert board_print["versions"]["ai-edge-litert"] == version("ai-edge-litert")
    assert board_print["versions"]["tensorflow"] is None and board_print["versions"]["onnxruntime"] is None
    records = results["models"][0]["records"]
    litert = [r for r in records if r["target"] == "litert:xnnpack" and r["device"] == "board"]
    assert litert and all(r["status"] == "ok" and r["device"] == "board" and r["runner"] == "ssh" for r in litert)
    assert all(r["fidelity"]["sqnr_db"] > 20 and r["accuracy"]["value"] > 0.9 for r in litert)  # against the host's float model
    onnx = [r for r in records if r["runtime"] == "onnxruntime" and r["device"] == "board"]
    assert onnx and all(r["status"] == "skipped" and "onnxruntime is not installed" in r["reason"] for r in onnx)
    assert [r["device"] for r in records if r["runtime"] == "keras"] == ["local"]  # the float model runs here
    here = [r for r in records if r["device"] == "local" and r["runtime"] != "keras"]
    assert here and all(r["status"] == "ok" and r["runner"] == "local" for r in here)  # one file, both devices
    assert worker_folders() == before  # the board's temporary folder is removed
    code, markdown, stderr = run_cli("report", tmp_path / "r.json")
    assert code == 0, stderr
    assert "p50 on each device:" in markdown and "| p50 us on local | p50 us on board |" in markdown
    code, _, stderr = run_cli("report", tmp_path / "r.json", "--format", "html", "--output", tmp_path / "r.html")
    assert code == 0, stderr
    page = (tmp_path / "r.html").read_text()
    assert "<h3>On local</h3>" in page and "<h3>On board</h3>" in page and "Latency across devices" in page
    assert "<dt>device board</dt>" in page


def test_tflite_micro_runs_on_the_board(board, converted, tmp_path):
    """The worker bundle holds every module TFLite Micro's session imports (its arena search and
    inspection reach the report's helpers): a module missing from it is a failed row here."""
    code, _, stderr = run_cli("bench", converted["folder"] / "digits_cnn_int8.tflite", "--device", "board",
                              "--devices", board["devices"], "--runtime", "tflm", "--runs", "5",
                              "--output", tmp_path / "r.json")
    assert code == 0, stderr
    records = json.loads((tmp_path / "r.json").read_text())["models"][0]["records"]
    tflm = [r for r in records if r["runtime"] == "tflm"]
    assert tflm and all(r["status"] == "ok" and r["device"] == "board" and r["runner"] == "ssh" for r in tflm), tflm
    assert all(r["details"]["arena_bytes"] > 0 for r in tflm)


def test_the_board_profiles_where_it_runs(board, converted, tmp_path):
    """The worker on the board times the ops (its bundle holds the profilers a runtime imports)."""
    code, out, stderr = run_cli("profile", converted["folder"] / "digits_cnn_int8.tflite", "--device", "board",
                                "--devices", board["devices"], "--runtime", "litert:xnnpack,tflm", "--runs", "5",
                                "--profile", "3", "--json")
    assert code == 0, stderr
    records = json.loads(out)["models"][0]["records"]
    assert {r["target"] for r in records} == {"litert:xnnpack", "tflm:host"}
    for r in records:
        assert r["device"] == "board" and r["status"] == "ok", r
        assert r["profile"]["method"] == "isolated" and r["profile"]["ops"], r["profile"]
    assert "on the host, not MCU time" in next(r for r in records if r["runtime"] == "tflm")["profile"]["note"]


def fp32_open_on(board) -> list[int]:
    """The board's processes (below its sshd) that have the fp32 model open: a worker measuring it."""
    return [pid for pid in descendants(board["process"].pid) if has_mapped(pid, "digits_cnn_fp32.tflite")]


def test_a_board_that_goes_away_mid_run_is_a_failed_row_not_a_hang(board, converted, tmp_path):
    """Not a hang: after the board stops, the rest of the run takes less time than the run spent
    loading before its first row (both scale with this machine; a row that waits for its time
    limit takes minutes)."""
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "edgekit", "bench", str(converted["folder"]), "--device",
                                "board", "--devices", str(board["devices"]), "--runtime", "litert:xnnpack,litert:builtin",
                                "--runs", "300000", "--output", str(tmp_path / "r.json")],  # a second or more a row
                               stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    lines, first_row = [], None
    for line in process.stderr:  # rows stream: stop the board while the second one is measured
        lines.append(line)
        if first_row is None and line.startswith("measuring "):
            first_row = time.monotonic()
        if line.startswith("measuring digits_cnn_fp32.tflite on litert:builtin"):
            break
    earlier = set(fp32_open_on(board))  # the row before's
    wait_for(lambda: set(fp32_open_on(board)) - earlier,
             "the board's worker to open the model it measures")
    stop_sshd(board["process"])
    stopped = time.monotonic()
    try:
        _, rest = process.communicate(timeout=600)
    finally:
        board["process"] = start_sshd(board["root"], board["port"])  # for the tests after this one
    ended = time.monotonic()
    assert process.returncode == 0, "".join(lines) + rest
    assert ended - stopped < first_row - started, (ended - stopped, first_row - started, "".join(lines) + rest)
    records = json.loads((tmp_path / "r.json").read_text())["models"][0]["records"]
    failed = [r["reason"] for r in records if r["status"] == "failed"]
    assert failed and failed[0].startswith("lost its SSH connection in litert:builtin x1 on board"), failed
    assert all("SSH" in reason for reason in failed), failed


def test_an_unreachable_board_is_a_failed_row_at_once(converted, tmp_path):
    """At once: the refused connections together take less time than the same run spent loading
    the float model before its first row (both scale with this machine; a ConnectTimeout, a hang
    or a retry loop per row would take many times longer)."""
    port = free_port()  # nothing listens there
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "edgekit", "bench", str(converted["folder"]), "--device",
                                f"ssh://127.0.0.1:{port}", "--runtime", "litert:xnnpack",
                                "--output", str(tmp_path / "r.json")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines, first_row = [], None
    for line in process.stderr:  # rows stream: note when the first one starts
        lines.append(line)
        if first_row is None and line.startswith("measuring "):
            first_row = time.monotonic()
    process.wait(timeout=600)
    ended = time.monotonic()
    stderr = "".join(lines)
    assert process.returncode == 0, stderr
    records = json.loads((tmp_path / "r.json").read_text())["models"][0]["records"]
    assert records and all(r["status"] == "failed" and "Connection refused" in r["reason"] for r in records), records
    assert first_row is not None, stderr
    assert ended - first_row < first_row - started, (ended - first_row, first_row - started, stderr)
