"""Runners: the protocol, and a worker process that crashes, hangs or speaks another version.
Every worker here is a real process; the fake ones are a few lines of Python that speak (or
break) the real protocol."""

import dataclasses
import io
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from edgekit.core import limits
from edgekit.core.errors import EdgekitError
from edgekit.runners import protocol
from edgekit.runners.base import Job
from edgekit.runners.devices import Device
from edgekit.runners.local import GRACE_SECONDS, LocalRunner
from edgekit.runners.ssh import SshRunner
from tests.processes import has_mapped, wait_for

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


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
from edgekit.runtimes.environment import fingerprint
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
    hung = time.monotonic() - started
    started = time.monotonic()  # the same worker's whole life when it ends at once, on this machine now
    with pytest.raises(EdgekitError):
        FakeWorker(HELLO + "protocol.receive(sys.stdin.buffer)\n").measure(job(tmp_path), limits.Deadline(60, "the test"))
    lifetime = time.monotonic() - started
    assert hung < 1 + GRACE_SECONDS + lifetime  # the limit, the grace, and ending it: not 600 s


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


# A hostile or broken worker (issue 28, finding 7): its reply is bytes made here, sent by a real
# process after it has read the job. Each reply fails its row with one line that names the worker
# and what was wrong, and nothing of it reaches the engine or the results.

FOUND = {"details": {"threads": 1, "kernels": "xnnpack"},
         "cold": {"load_us": 900.0, "first_inference_us": 80.5, "cold_start_us": 980.5},
         "latency_us": {"p50": 10.0, "p90": 12.0, "p99": 15.0, "mean": 10.5, "std": 1.0, "min": 9.0, "max": 16.0,
                        "cv": 0.0952, "robust_cv": 0.05, "runs": 10, "high_spread": False},
         "memory": {"peak_rss_bytes": 1 << 20, "scope": "this run", "peak_over_start_bytes": 0},
         "throughput": {"batch": 2, "samples_per_s": 9000.0, "batch_p50_us": 20.0}}


def message(kind: str, header: dict, arrays: dict | None = None) -> bytes:
    stream = io.BytesIO()
    protocol.send(stream, kind, header, arrays)
    return stream.getvalue()


def hello(**fingerprint) -> bytes:
    from edgekit.runtimes.environment import fingerprint as this_machine

    return message("hello", {"fingerprint": fingerprint.get("fingerprint", this_machine())})


class Replaying(FakeWorker):
    """A worker that says `said_hello`, reads the job, then says `reply` and exits."""

    def __init__(self, reply: bytes, said_hello: bytes | None = None):
        super().__init__(f"""
import os, sys
from edgekit.runners import protocol
out = os.fdopen(os.dup(1), "wb")
out.write({said_hello or hello()!r}); out.flush()
protocol.receive(sys.stdin.buffer)
out.write({reply!r}); out.flush()
""")


class ReplayingBoard(SshRunner):
    """A board whose worker is `Replaying`'s: the SSH runner's own reading, with no SSH."""

    def __init__(self, worker: Replaying):
        super().__init__(Device("pi5", "pi5.local"))
        self.worker = worker

    def prepare(self, job, deadline):
        return str(job.artifact)

    def command(self):
        return self.worker.command()


def evaluation_job(tmp_path, runtime="litert"):
    return dataclasses.replace(job(tmp_path), runtime=runtime, eval_inputs={"x": np.zeros((3, 4), np.float32)},
                               outputs=("probs",))


def failure_of(runner, job_to_run, seconds=60):
    with pytest.raises(EdgekitError) as caught:
        runner.measure(job_to_run, limits.Deadline(seconds, "the test"))
    return caught.value


def test_a_well_formed_reply_is_the_figures_and_the_outputs(tmp_path):
    probs = np.arange(30, dtype=np.float32).reshape(3, 10)
    runner = ReplayingBoard(Replaying(message("result", {"status": "ok", "found": FOUND}, {"outputs/probs": probs})))
    found, outputs = runner.measure(evaluation_job(tmp_path), limits.Deadline(60, "the test"))
    assert found == FOUND and list(outputs) == ["probs"] and np.array_equal(outputs["probs"], probs)
    assert runner.fingerprint()["cpu"]["cores"] == os.cpu_count()


@pytest.mark.parametrize("fingerprint, problem", [
    ("x86", 'fingerprint is "x86", which should be an object'),
    (["x86", 8], 'fingerprint is ["x86", 8], which should be an object'),
    ("cpu", 'fingerprint.cpu is "x86", which should be an object'),
])
def test_a_hello_whose_fingerprint_is_no_machine_s_fails_the_row_naming_the_board(tmp_path, fingerprint, problem):
    from edgekit.runtimes.environment import fingerprint as this_machine

    if fingerprint == "cpu":
        fingerprint = {**this_machine(), "cpu": "x86"}
    runner = ReplayingBoard(Replaying(message("result", {"status": "ok", "found": FOUND}),
                                      hello(fingerprint=fingerprint)))
    failed = failure_of(runner, job(tmp_path))
    assert str(failed).startswith(f"the hello of the worker for litert:xnnpack x1 on pi5: {problem}: the worker is "
                                  "broken or is not edgekit's")
    assert runner.fingerprint() is None  # nothing of it reaches the results' devices


def test_an_array_header_of_ten_trillion_elements_is_refused_before_anything_is_allocated(tmp_path):
    reply = message("result", {"status": "ok", "found": FOUND}, {"outputs/probs": np.zeros(7, np.float32)})
    reply = reply.replace(b"(7,)", b"(10000000000000,)")  # 40 TB declared, 28 bytes sent
    failed = failure_of(ReplayingBoard(Replaying(reply)), evaluation_job(tmp_path))
    assert str(failed).startswith('the worker for litert:xnnpack x1 on pi5 sent array "outputs/probs" of shape '
                                  "(10000000000000,) of float32 (37252.9 GB), over the 4.0 GB its outputs may take "
                                  "(EDGEKIT_MAX_DATA_SIZE)")


def test_a_result_without_figures_fails_the_row(tmp_path):
    failed = failure_of(Replaying(message("result", {"status": "ok", "found": {}})), job(tmp_path))
    assert str(failed).startswith("the reply of the worker for litert:xnnpack x1: found.details is missing")


@pytest.mark.parametrize("change, problem", [
    ({"status": "great"}, "status is \"great\", which should be 'ok', 'skipped', 'failed' or 'stopped'"),
    ({"found": {**FOUND, "latency_us": {**FOUND["latency_us"], "p50": "fast"}}},
     'found.latency_us.p50 is "fast", which should be a number'),
    ({"found": {**FOUND, "latency_us": {**FOUND["latency_us"], "p50": -3.0}}},
     "found.latency_us.p50 is -3.0, which should be greater than or equal to 0"),
    ({"found": {**FOUND, "latency_us": {**FOUND["latency_us"], "runs": True}}},
     "found.latency_us.runs is true, which should be an integer"),
    ({"found": {**FOUND, "memory": {**FOUND["memory"], "peak_rss_bytes": 10**30}}},
     "found.memory.peak_rss_bytes is 1000000000000000000000000000000, which should be less than or equal to"),
    ({"found": {**FOUND, "cold": [1, 2, 3]}}, "found.cold is [1, 2, 3], which should be an object"),
    ({"found": {**FOUND, "latency_us": {k: v for k, v in FOUND["latency_us"].items() if k != "p99"}}},
     "found.latency_us is {"),
    ({"found": {**FOUND, "verdict": "fastest"}}, "found.verdict is not a field"),
    ({"status": "failed"}, "has status failed but no reason"),
])
def test_a_result_with_garbage_values_fails_the_row_naming_the_field(tmp_path, change, problem):
    reply = {"status": "ok", "found": FOUND, **change}
    if reply["status"] != "ok":
        del reply["found"]
    failed = failure_of(Replaying(message("result", reply)), job(tmp_path))
    assert str(failed).startswith("the reply of the worker for litert:xnnpack x1") and problem in str(failed)


def test_a_figure_that_is_not_finite_fails_the_row(tmp_path):
    reply = message("result", {"status": "ok", "found": FOUND}).replace(b'"p50": 10.0', b'"p50": NaN ')
    failed = failure_of(Replaying(reply), job(tmp_path))
    assert "found.latency_us.p50 is NaN, which should be a finite number" in str(failed)


def test_outputs_that_are_not_the_model_s_say_so(tmp_path):
    reply = message("result", {"status": "ok", "found": FOUND}, {"outputs/prob": np.zeros((3, 10), np.float32)})
    failed = failure_of(Replaying(reply), evaluation_job(tmp_path))
    assert str(failed).startswith('the worker for litert:xnnpack x1 sent outputs "prob", but the model\'s outputs are '
                                  '"probs"')


def test_outputs_for_more_samples_than_were_sent_fail_the_row(tmp_path):
    reply = message("result", {"status": "ok", "found": FOUND}, {"outputs/probs": np.zeros((4, 10), np.float32)})
    failed = failure_of(Replaying(reply), evaluation_job(tmp_path))
    assert "sent outputs for 4 samples, not for the first 1 to 3 evaluation samples it was given" in str(failed)


def test_a_tflm_result_without_its_arena_fails_the_row(tmp_path):
    failed = failure_of(Replaying(message("result", {"status": "ok", "found": FOUND})),
                        dataclasses.replace(job(tmp_path), runtime="tflm", options={}))
    assert "found.details.arena_bytes is missing, which tflm always gives" in str(failed)


def test_a_worker_that_says_stopped_long_before_the_limit_stopped_early(tmp_path):
    runner = Replaying(message("result", {"status": "stopped", "reason": "stopped at the time limit"}))
    failed = failure_of(runner, job(tmp_path), seconds=600)
    assert not isinstance(failed, limits.TimeLimitExceeded)
    assert str(failed).startswith("the worker for litert:xnnpack x1 stopped early: it said its time was up with ")
    assert "s of the 600 s limit left" in str(failed)


def test_a_worker_that_says_stopped_after_the_limit_is_the_time_limit(tmp_path):
    runner = FakeWorker(HELLO + """
protocol.receive(sys.stdin.buffer)
time.sleep(1.5)  # past the host's deadline, within its grace
protocol.send(out, "result", {"status": "stopped", "reason": "stopped at the time limit"})
""")
    failed = failure_of(runner, job(tmp_path), seconds=1)
    assert isinstance(failed, limits.TimeLimitExceeded) and "ran past its 1 s limit" in str(failed)


def test_a_worker_s_reason_reaches_the_row_without_its_terminal_escapes(tmp_path):
    reply = {"status": "failed", "reason": "bad\x1b[2J model\nnext", "detail": "its\nown\x07 words"}
    failed = failure_of(Replaying(message("result", reply)), job(tmp_path))
    assert (str(failed), failed.detail) == ("bad [2J model next", "its\nown  words")


def test_a_board_whose_worker_never_says_hello_is_one_line_for_env(tmp_path):
    board = ReplayingBoard(FakeWorker("import time; time.sleep(60)"))
    board.setup = lambda: None
    with pytest.raises(EdgekitError, match="^the worker on pi5 did not introduce itself within 1 s$"):
        board.probe(seconds=1)


@pytest.mark.slow
@pytest.mark.parametrize("reply, arrays, reason", [
    ({"status": "ok", "found": {}}, {}, "the reply of the worker for litert:xnnpack x1: found.details is missing"),
    ({"status": "ok", "found": FOUND}, {"outputs/prob": np.zeros((2, 10), np.float32)},
     'the worker for litert:xnnpack x1 sent outputs "prob", but the model\'s outputs are "probs"'),
])
def test_bench_makes_a_broken_reply_a_failed_row_not_an_internal_error(converted, tmp_path, monkeypatch, capsys,
                                                                        reply, arrays, reason):
    from edgekit.cli import main

    worker = Replaying(message("result", reply, arrays))
    monkeypatch.setattr(LocalRunner, "command", lambda self: worker.command())
    code = main(["bench", str(converted["folder"] / "digits_cnn_int8.tflite"), "--runtime", "litert:xnnpack",
                 "--runs", "5", "--output", str(tmp_path / "r.json")])
    assert code == 0, capsys.readouterr().err
    [record] = [r for r in json.loads((tmp_path / "r.json").read_text())["models"][0]["records"]
                if r["runtime"] == "litert"]
    assert record["status"] == "failed" and record["reason"].startswith(reason)


@pytest.mark.slow
def test_the_worker_imports_no_tensorflow_and_nothing_of_edgekit_the_bundle_lacks(converted):
    """What a board needs is numpy and the runtime, and what the bundle holds: run real LiteRT and
    TFLite Micro jobs with -X importtime and list every module the workers imported. (The bundle is
    found by reading imports; one made another way, e.g. by importlib, would be missed there.)"""
    from edgekit.runners import bundle, worker_process

    artifact = converted["folder"] / "digits_cnn_int8.tflite"
    runner = LocalRunner()
    runner.command = lambda: [sys.executable, "-X", "importtime", *LocalRunner().command()[1:]]
    stderr = []
    original = worker_process.WorkerProcess.close

    def close(self):
        self.kill()
        stderr.append((self.stderr.seek(0), self.stderr.read().decode())[1])
        original(self)

    worker_process.WorkerProcess.close = close
    feeds = [{"image": np.zeros((1, 8, 8, 1), np.float32)}]
    try:
        for runtime, target, options in (("litert", "litert:xnnpack x1", {"kernels": "xnnpack", "threads": 1}),
                                         ("tflm", "tflm:host", {})):
            found, _ = runner.measure(Job(artifact, runtime, target, options, feeds, None, 5, 1, 2),
                                      limits.Deadline(120, "the test"))
            assert found["latency_us"]["runs"] == 5
    finally:
        worker_process.WorkerProcess.close = original
    modules = {line.split("|")[-1].strip() for text in stderr for line in text.splitlines()
               if line.startswith("import time:")}
    heavy = {m for m in modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras", "tf2onnx", "onnx", "sklearn")}
    assert heavy == set()
    ours = {m for m in modules if m.split(".")[0] == "edgekit"}
    assert ours - set(bundle.modules()) == set()


def test_every_module_of_the_bundle_imports_from_the_bundle_alone(tmp_path):
    """As on a board, where no edgekit is installed: -I -S leaves out the working folder and site's
    .pth files (an editable edgekit's finder would fill any gap), and site-packages is added back
    by hand for numpy."""
    import site

    from edgekit.runners import bundle

    zipped = bundle.build(tmp_path / "worker.pyz")
    source = (f"import importlib, sys\nsys.path[:0] = [{str(zipped)!r}]\nsys.path += {site.getsitepackages()!r}\n"
              f"for name in {bundle.modules()!r}:\n    importlib.import_module(name)\n"
              "print(sys.modules['edgekit'].__file__)")
    done = subprocess.run([sys.executable, "-I", "-S", "-c", source], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{zipped}/edgekit/__init__.py"
    assert {"edgekit.runners.worker", "edgekit.core.python_child"} <= set(bundle.modules())


@pytest.mark.parametrize("spec, devices, problem", [
    ("pi5", None, "to use a name, give the devices file that defines it with --devices FILE"),
    ("ssh://", None, "is not an SSH target: write ssh://[user@]host[:port]"),
    ("ssh://-oProxyCommand=x", None, "is not an SSH target"),
    ("pi4", "[pi5]\nssh = 'pi@pi5'\n", "is not in DEVICES (it defines: pi5)"),
    ("pi5", "[pi5]\npython = 'python3'\n", "[pi5] needs ssh = \"[user@]host[:port]\""),
    ("pi5", "[pi5]\nssh = 'pi@pi5'\nssh_options = '-v'\n", "[pi5]: ssh_options is \"-v\", which should be a list"),
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
    started = time.monotonic()
    worker = subprocess.Popen([sys.executable, "-m", "edgekit.runners.worker"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO)
    header, _ = protocol.receive(worker.stdout)
    assert header["type"] == "hello"
    starting = time.monotonic() - started
    job = {"artifact": str(converted["folder"] / "digits_cnn_int8.tflite"), "runtime": "litert", "target": "t",
           "options": {"kernels": "xnnpack", "threads": 1}, "runs": 100_000_000, "warmup": 0, "batch": 2,
           "seconds": 3600, "feeds": 1}
    protocol.send(worker.stdin, "measure", job, {"latency/0/image": np.zeros((1, 8, 8, 1), np.float32)})
    wait_for(lambda: has_mapped(worker.pid, "digits_cnn_int8.tflite"), "the worker to open the model")
    assert worker.poll() is None  # measuring its hundred million runs
    worker.stdin.close()  # the host is gone
    started = time.monotonic()
    assert worker.wait(timeout=600) == 3
    assert time.monotonic() - started < starting  # at once: sooner than it took to start
