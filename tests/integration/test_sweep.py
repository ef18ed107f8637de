"""edgekit sweep on a real local Ray cluster (a head with one CPU, a second node process with one
CPU that offers device:host): the same rows as a run here, measured on the node that offers the
device; a device no node offers gives skipped rows; a node beside a board measures on it over
SSH; a killed worker is retried; a node that leaves mid-sweep gives failed rows, not a hang;
Ctrl-C cancels the tasks and leaves the previous output; without Ray, --ray says how to install it."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO, folder_state, run_cli
from tests.require import require
from tests.sshd import make_board, stop_sshd

SUITE = {"models": ["digits_mlp", "digits_cnn"], "tflite": ["fp32", "int8"], "onnx": ["none"],
         "runtimes": ["litert:xnnpack"], "threads": [1], "runs": 5, "warmup": 1, "batch": 4, "quick": {}}


def write_suite(folder, **changes):
    path = folder / "suite.json"
    path.write_text(json.dumps({**SUITE, **changes}))
    return path


def rows(out) -> dict:
    results = json.loads((out / "results.json").read_text())
    return {(model["name"], r["format"], r["variant"], r["target"], r["threads"]): r
            for model in results["models"] for r in model["records"]}


def jobs(out) -> list:
    return json.loads((out / "sweep.json").read_text())["jobs"]


def running(task: str) -> list[int]:
    """The pids of Ray workers running `task` now (Ray titles them ray::<function>)."""
    found = subprocess.run(["pgrep", "-f", f"^ray::{task}"], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in found]


def wait_for(task: str, process: subprocess.Popen, seconds: float = 120) -> int:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if found := running(task):
            return found[0]
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)
    raise AssertionError(f"no ray::{task} started within {seconds} s")


def start_sweep(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "edgekit", "sweep", *map(str, args)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))


@pytest.fixture(scope="module")
def cluster():
    require("ray")
    from ray import cluster_utils

    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        cluster.device_node = cluster.add_node(num_cpus=1, resources={"device:host": 1})
        yield cluster
    finally:
        cluster.shutdown()


@pytest.mark.slow
def test_a_sweep_on_ray_gives_the_sequential_rows(tmp_path, cluster):
    suite = write_suite(tmp_path, shared=str(tmp_path / "shared"))
    code, _, err = run_cli("sweep", suite, "--out", tmp_path / "here")
    assert code == 0, err
    code, _, err = run_cli("sweep", suite, "--out", tmp_path / "ray", "--ray", cluster.address)
    assert code == 0, err
    assert "measurements on device:host; artifacts through the shared folder" in err
    assert list((tmp_path / "shared").iterdir()) == []  # the sweep's own subfolder is gone
    assert {job["model"] for job in jobs(tmp_path / "ray")} == set(SUITE["models"])
    assert all(cluster.device_node.node_id[:8] in job["measured_on"] for job in jobs(tmp_path / "ray"))
    assert sorted(p.name for p in (tmp_path / "ray" / "artifacts" / "digits_cnn").glob("*.tflite")) == \
        sorted(p.name for p in (tmp_path / "here" / "artifacts" / "digits_cnn").glob("*.tflite"))
    here, there = rows(tmp_path / "here"), rows(tmp_path / "ray")
    assert len(here) == 4 and sorted(here) == sorted(there)
    for key, row in here.items():
        assert row["status"] == there[key]["status"] == "ok", key
        for field in ("accuracy", "fidelity", "size_bytes", "gzip_bytes"):
            assert row[field] == there[key][field], (key, field)
        assert there[key]["latency_us"]["p50"] > 0
    assert (tmp_path / "ray" / "report.md").is_file() and (tmp_path / "ray" / "report.html").is_file()


@pytest.mark.slow
def test_a_device_no_node_offers_gives_skipped_rows(tmp_path, cluster):
    suite = write_suite(tmp_path, models=["digits_mlp"], device="pi5")
    code, _, err = run_cli("sweep", suite, "--out", tmp_path / "out", "--ray", cluster.address)
    assert code == 0, err
    skipped = rows(tmp_path / "out")
    assert sorted(skipped) == [("digits_mlp", "tflite", "fp32", "litert:xnnpack", 1),
                               ("digits_mlp", "tflite", "int8", "litert:xnnpack", 1)]
    assert {(r["status"], r["reason"]) for r in skipped.values()} == {("skipped", "no node offers device:pi5")}
    assert "no node offers device:pi5" in (tmp_path / "out" / "report.md").read_text()


@pytest.mark.slow
def test_a_node_beside_a_board_measures_on_it_over_ssh(tmp_path, cluster):
    """The node's environment names the board; the artifacts reach it through the object store."""
    board = make_board(tmp_path, sys.executable)
    node = cluster.add_node(num_cpus=1, resources={"device:board": 1},
                            env_vars={"EDGEKIT_DEVICE": "board", "EDGEKIT_DEVICES": str(board["devices"])})
    try:
        suite = write_suite(tmp_path, models=["digits_mlp"], tflite=["int8"], device="board")
        code, _, err = run_cli("sweep", suite, "--out", tmp_path / "out", "--ray", cluster.address)
    finally:
        cluster.remove_node(node)
        stop_sshd(board["process"])
    assert code == 0, err
    assert "artifacts through Ray's object store" in err
    [row] = rows(tmp_path / "out").values()
    assert (row["status"], row["device"], row["runner"]) == ("ok", "board", "ssh"), row
    assert row["accuracy"]["value"] > 0.9
    assert json.loads((tmp_path / "out" / "results.json").read_text())["devices"]["board"]["python"]


@pytest.mark.slow
def test_a_worker_killed_mid_measurement_is_retried(tmp_path, cluster):
    suite = write_suite(tmp_path, models=["digits_mlp"], tflite=["fp32"])
    sweep = start_sweep(suite, "--out", tmp_path / "out", "--ray", cluster.address)
    killed = wait_for("_measure", sweep)
    os.kill(killed, signal.SIGKILL)
    _, err = sweep.communicate(timeout=300)
    assert sweep.returncode == 0, err
    [row] = rows(tmp_path / "out").values()
    assert row["status"] == "ok", row
    # the retry really ran: the row was measured in another worker process, and the killed one is gone
    [job] = jobs(tmp_path / "out")
    measured_by = int(re.fullmatch(r".+ \(node \w{8}, pid (\d+)\)", job["measured_on"])[1])
    assert measured_by != killed, job
    with pytest.raises(ProcessLookupError):
        os.kill(killed, 0)


@pytest.mark.slow
def test_a_node_that_leaves_mid_measurement_fails_its_rows_without_a_hang(tmp_path, cluster):
    node = cluster.add_node(num_cpus=1, resources={"device:doomed": 1})
    suite = write_suite(tmp_path, models=["digits_mlp"], tflite=["fp32"], device="doomed")
    sweep = start_sweep(suite, "--out", tmp_path / "out", "--ray", cluster.address)
    wait_for("_measure", sweep)
    cluster.remove_node(node)
    _, err = sweep.communicate(timeout=120)
    assert sweep.returncode == 0, err
    [row] = rows(tmp_path / "out").values()
    assert row["status"] == "failed", row
    assert row["reason"] == "measuring digits_mlp: no node offers device:doomed any more (its node left the cluster)"


@pytest.mark.slow
def test_ctrl_c_cancels_the_sweep_and_keeps_the_previous_output(tmp_path, cluster):
    out = tmp_path / "out"
    out.mkdir()
    (out / "sweep.json").write_text(json.dumps({"edgekit_version": "0.1.0", "kind": "edgekit sweep"}))
    (out / "results.json").write_text("the previous sweep's")
    suite = write_suite(tmp_path, models=["digits_mlp"], tflite=["fp32"])
    before = folder_state(tmp_path)
    sweep = start_sweep(suite, "--out", out, "--ray", cluster.address)
    wait_for("_convert", sweep)
    sweep.send_signal(signal.SIGINT)
    _, err = sweep.communicate(timeout=60)
    assert sweep.returncode == 130, err
    assert folder_state(tmp_path) == before  # no staging folder, nothing of the sweep's
    end = time.monotonic() + 300  # a bound on waiting, not on speed: cancelled tasks end, however slowly
    while (running("_convert") or running("_measure")) and time.monotonic() < end:
        time.sleep(0.2)
    assert not running("_convert") and not running("_measure")


@pytest.mark.slow
def test_a_suite_takes_a_users_model_file_beside_zoo_names(tmp_path, tiny):
    """A path (relative to the suite) with its calibration set; without one, calibrated variants
    are one line naming the fix."""
    (tmp_path / "mine.keras").write_bytes(tiny["paths"]["keras3_keras"].read_bytes())
    (tmp_path / "calib.npz").write_bytes((tiny["root"] / "calib_tiny.npz").read_bytes())
    suite = write_suite(tmp_path, models=[{"model": "mine.keras", "calib": "calib.npz"}])
    code, _, err = run_cli("sweep", suite, "--out", tmp_path / "out")
    assert code == 0, err
    found = rows(tmp_path / "out")
    assert sorted(found) == [("mine", "tflite", "fp32", "litert:xnnpack", 1), ("mine", "tflite", "int8", "litert:xnnpack", 1)]
    # on 20 held-out samples of a random classifier's near-tied scores one flip is 5 points of top-1
    # agreement: the SQNR says whether the file computes the model
    assert all(r["status"] == "ok" and r["fidelity"]["sqnr_db"] >= 30 for r in found.values())
    code, out, err = run_cli("sweep", write_suite(tmp_path, models=["mine.keras"]), "--out", tmp_path / "other")
    assert code == 2 and out == ""
    assert err.splitlines() == [f"edgekit sweep: error: suite {suite}: mine has no calibration set, and int8 needs "
                                'one: give {"model": PATH, "calib": PATH}, or leave it out of the suite']
    assert not (tmp_path / "other").exists()


def test_ray_missing_is_one_line_exit_2(tmp_path):
    (tmp_path / "ray.py").write_text("raise ImportError('No module named ray (simulated)')\n")
    suite = write_suite(tmp_path)
    code, out, err = run_cli("sweep", suite, "--ray", "--out", tmp_path / "out",
                             env={"PYTHONPATH": f"{tmp_path}:{REPO}"})
    assert code == 2 and out == ""
    assert err.splitlines() == ['edgekit sweep: error: Ray is not installed: pip install -e ".[ray]"']
    assert not (tmp_path / "out").exists()


def run_cli_importing_ray(*args) -> subprocess.CompletedProcess:
    """`python -m edgekit ARGS` with Ray imported first, so that two runs differ only in their input."""
    code = "import sys, runpy, ray; sys.argv = ['edgekit', *sys.argv[1:]]; runpy.run_module('edgekit', run_name='__main__')"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=REPO, capture_output=True, text=True,
                          timeout=600, env=dict(os.environ))


def timed(run, expect: int) -> float:
    started = time.monotonic()
    result = run()
    seconds = time.monotonic() - started
    assert result.returncode == expect, result.stderr
    return seconds


def test_an_address_where_no_cluster_listens_is_one_line_at_once(tmp_path):
    require("ray")
    with socket.socket() as s:  # a port nothing listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    suite = write_suite(tmp_path)
    # at once: no longer than a few times the same command, with Ray imported, takes to start and
    # fail on a suite it refuses (Ray's own connection retries would go on for minutes)
    (tmp_path / "bad.json").write_text(json.dumps({**SUITE, "models": ["no_such_model"]}))
    baseline = timed(lambda: run_cli_importing_ray("sweep", tmp_path / "bad.json", "--out", tmp_path / "out",
                                                   "--ray", f"127.0.0.1:{port}"), expect=2)
    code, out, err = run_cli("sweep", suite, "--out", tmp_path / "out", "--ray", f"127.0.0.1:{port}")
    seconds = timed(lambda: run_cli_importing_ray("sweep", suite, "--out", tmp_path / "out", "--ray",
                                                  f"127.0.0.1:{port}"), expect=2)
    assert seconds < 3 * baseline, (seconds, baseline)
    assert code == 2 and out == ""
    assert err.splitlines() == [f"edgekit sweep: error: no Ray cluster at 127.0.0.1:{port}: nothing answers at port "
                                f"{port} (Connection refused); start one there with `ray start --head`, or leave "
                                "ADDRESS out for one on this machine"]
    assert not (tmp_path / "out").exists()
