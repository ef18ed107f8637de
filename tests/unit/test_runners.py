"""Runners: the protocol, and a worker process that crashes, hangs or speaks another version.
Every worker here is a real process; the fake ones are a few lines of Python that speak (or
break) the real protocol."""

import io
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from edgekit import limits
from edgekit.errors import EdgekitError
from edgekit.runners import protocol
from edgekit.runners.base import Job
from edgekit.runners.local import LocalRunner

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_a_message_with_arrays_crosses_a_pipe_intact():
    read_fd, write_fd = os.pipe()
    arrays = {"latency/0/x": np.arange(12, dtype=np.float32).reshape(3, 4), "eval/y": np.array([1, 2], np.int8),
              "empty": np.zeros((0, 5), np.float64)}
    with os.fdopen(write_fd, "wb") as writer:
        protocol.send(writer, "measure", {"artifact": "m.tflite", "runs": 3}, arrays)
    with os.fdopen(read_fd, "rb") as reader:
        header, got = protocol.receive(reader)
        with pytest.raises(EOFError):
            protocol.receive(reader)
    assert header == {"artifact": "m.tflite", "runs": 3, "type": "measure", "protocol": protocol.VERSION}
    assert list(got) == list(arrays)
    for name, value in arrays.items():
        assert got[name].dtype == value.dtype and np.array_equal(got[name], value)


@pytest.mark.parametrize("data, problem", [
    (b"\x00\x00", "ended inside a message"),
    (b"\xff\xff\xff\xff", "not a message of this protocol"),
    (b"\x00\x00\x00\x03abc", "not JSON"),
    (b"\x00\x00\x00\x02[]", "JSON object"),
])
def test_what_is_not_the_protocol_is_refused(data, problem):
    with pytest.raises(protocol.ProtocolError, match=problem):
        protocol.receive(io.BytesIO(data))


def test_an_array_that_would_need_a_pickle_is_refused():
    stream = io.BytesIO()
    protocol.send(stream, "result", {}, {"outputs/x": np.array([1.0])})
    data = stream.getvalue().replace(b"'descr': '<f8'", b"'descr': '|O' ")
    with pytest.raises(protocol.ProtocolError, match="has dtype object: only numbers and booleans"):
        protocol.receive(io.BytesIO(data))


class FakeWorker(LocalRunner):
    """A runner whose worker is the Python source given: the real process and pipes."""

    def __init__(self, source: str):
        self.source = source

    def command(self):
        return [sys.executable, "-c", f"import sys; sys.path.insert(0, {REPO!r})\n" + self.source]


HELLO = """
from edgekit.environment import fingerprint
from edgekit.runners import protocol
import os, signal, sys, time
out = os.fdopen(os.dup(1), "wb")
protocol.send(out, "hello", {"fingerprint": fingerprint()})
"""


def job(tmp_path):
    artifact = tmp_path / "m.tflite"
    artifact.write_bytes(b"")
    return Job(artifact, "litert", "litert:xnnpack x1", {"kernels": "xnnpack", "threads": 1},
               [{"x": np.zeros((1, 4), np.float32)}], None, 10, 1, 2)


def test_a_worker_that_crashes_is_a_failed_row_with_the_signal_and_its_last_words(tmp_path):
    runner = FakeWorker(HELLO + """
protocol.receive(sys.stdin.buffer)
print("Custom allocation is too small for tensor idx: 13", file=sys.stderr, flush=True)
os.abort()
""")
    with pytest.raises(EdgekitError) as caught:
        runner.measure(job(tmp_path), limits.Deadline(60, "the test"))
    assert str(caught.value) == ("crashed with SIGABRT in litert:xnnpack x1: Custom allocation is too small for "
                                 "tensor idx: 13")


def test_a_worker_that_hangs_is_killed_at_the_deadline(tmp_path):
    runner = FakeWorker(HELLO + """
protocol.receive(sys.stdin.buffer)
print(os.getpid(), file=sys.stderr, flush=True)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
time.sleep(600)  # a runtime that never returns
""")
    started = time.monotonic()
    with pytest.raises(limits.TimeLimitExceeded, match="1 s limit"):
        runner.measure(job(tmp_path), limits.Deadline(1, "the test"))
    assert time.monotonic() - started < 1 + 2 + 2  # the limit, the grace, a margin


def test_a_worker_of_another_protocol_version_is_refused_with_one_line(tmp_path):
    runner = FakeWorker("""
import json, os, struct
body = json.dumps({"type": "hello", "protocol": 99, "arrays": []}).encode()
os.write(1, struct.pack(">I", len(body)) + body)
""")
    with pytest.raises(EdgekitError, match="speaks runner protocol 99, this edgekit speaks 1: install the same"):
        runner.measure(job(tmp_path), limits.Deadline(60, "the test"))


def test_a_worker_that_prints_garbage_is_refused(tmp_path):
    runner = FakeWorker("print('hello, I am not a worker'); import time; time.sleep(5)")
    with pytest.raises(EdgekitError, match="runner protocol"):
        runner.measure(job(tmp_path), limits.Deadline(60, "the test"))


def test_the_worker_imports_neither_tensorflow_nor_the_rest_of_edgekit(converted):
    """What a board needs is numpy and the runtime: run a real job with -X importtime and list
    every module the worker imported."""
    artifact = converted["folder"] / "digits_cnn_int8.tflite"
    runner = LocalRunner()
    runner.command = lambda: [sys.executable, "-X", "importtime", "-m", "edgekit.runners.worker"]
    from edgekit.runners import worker_process

    seen = {}
    original = worker_process.WorkerProcess.close

    def close(self):
        self.kill()
        seen["stderr"] = (self.stderr.seek(0), self.stderr.read().decode())[1]
        original(self)

    worker_process.WorkerProcess.close = close
    try:
        found, _ = runner.measure(Job(artifact, "litert", "litert:xnnpack x1", {"kernels": "xnnpack", "threads": 1},
                                      [{"image": np.zeros((1, 8, 8, 1), np.float32)}], None, 5, 1, 2),
                                  limits.Deadline(120, "the test"))
    finally:
        worker_process.WorkerProcess.close = original
    assert found["latency_us"]["runs"] == 5
    modules = {line.split("|")[-1].strip() for line in seen["stderr"].splitlines() if line.startswith("import time:")}
    heavy = {m for m in modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras", "tf2onnx", "onnx", "sklearn")}
    assert heavy == set()
    ours = {m.strip() for m in modules if m.strip().startswith("edgekit")}
    assert ours <= {"edgekit", "edgekit.errors", "edgekit.artifacts", "edgekit.heavy", "edgekit.interrupts",
                    "edgekit.environment", "edgekit.bench", "edgekit.bench.timing", "edgekit.bench.memory",
                    "edgekit.bench.harness", "edgekit.runtimes", "edgekit.runtimes.base", "edgekit.runtimes.keras",
                    "edgekit.runtimes.litert", "edgekit.runtimes.litert_guard", "edgekit.runtimes.litert_compiled",
                        "edgekit.runtimes.messages", "edgekit.graph_costs",
                    "edgekit.runtimes.onnxruntime", "edgekit.runtimes.tflm", "edgekit.runners", "edgekit.runners.protocol",
                    "edgekit.runners.worker"}, ours


@pytest.mark.parametrize("spec, devices, problem", [
    ("pi5", None, "to use a name, give the devices file that defines it with --devices FILE"),
    ("ssh://", None, "is not an SSH target: write ssh://[user@]host[:port]"),
    ("ssh://-oProxyCommand=x", None, "is not an SSH target"),
    ("pi4", "[pi5]\nssh = 'pi@pi5'\n", "is not in DEVICES (it defines: pi5)"),
    ("pi5", "[pi5]\npython = 'python3'\n", "[pi5] needs ssh = \"[user@]host[:port]\""),
    ("pi5", "[pi5]\nssh = 'pi@pi5'\nssh_options = '-v'\n", "ssh_options must be a list of strings"),
    ("pi5", "[pi5\n", "is not valid TOML"),
])
def test_a_device_that_cannot_be_used_is_one_clear_line(tmp_path, spec, devices, problem):
    from edgekit.runners.devices import find

    path = None
    if devices is not None:
        path = tmp_path / "devices.toml"
        path.write_text(devices)
    with pytest.raises(EdgekitError) as caught:
        find(spec, None if path is None else str(path))
    assert problem.replace("DEVICES", str(path)) in str(caught.value)


def test_a_devices_file_names_a_board_with_its_python_and_ssh_options(tmp_path):
    from edgekit.runners.devices import find

    path = tmp_path / "devices.toml"
    path.write_text("[pi5]\nssh = 'ssh://pi@pi5.local:2222'\npython = '~/venv/bin/python'\nnotes = 'Pi 5'\n"
                    "ssh_options = ['-i', 'key']\n")
    device = find("pi5", str(path))
    assert (device.name, device.destination, device.port, device.python, device.ssh_options) == (
        "pi5", "pi@pi5.local", 2222, "~/venv/bin/python", ("-i", "key"))
    assert find("ssh://board", remote_python="/opt/py").python == "/opt/py"
    assert find("local") is None


def test_a_worker_whose_host_goes_away_ends_at_once(converted):
    """A host killed mid-job (or an SSH connection that dropped) cannot kill its worker: the
    worker sees its input close and ends, rather than measure for no one until its time is up."""
    worker = subprocess.Popen([sys.executable, "-m", "edgekit.runners.worker"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO)
    header, _ = protocol.receive(worker.stdout)
    assert header["type"] == "hello"
    job = {"artifact": str(converted["folder"] / "digits_cnn_int8.tflite"), "runtime": "litert", "target": "t",
           "options": {"kernels": "xnnpack", "threads": 1}, "runs": 100_000_000, "warmup": 0, "batch": 2,
           "seconds": 3600, "feeds": 1}
    protocol.send(worker.stdin, "measure", job, {"latency/0/image": np.zeros((1, 8, 8, 1), np.float32)})
    time.sleep(2)  # measuring its hundred million runs
    assert worker.poll() is None
    worker.stdin.close()  # the host is gone
    started = time.monotonic()
    assert worker.wait(timeout=10) == 3
    assert time.monotonic() - started < 2
