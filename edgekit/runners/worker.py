"""The worker: measures models for a host edgekit, speaking `runners.protocol` on its standard
input and output (`python -m edgekit.runners.worker`, or the bundle `runners.bundle` makes).

It imports numpy, the runtime a job names and the worker's own part of edgekit (the runtimes, the
timing harness, the protocol: `bundle.modules()` reads them from the imports here), never
TensorFlow, so a board needs only `pip install numpy ai-edge-litert` (or onnxruntime, tflite-micro). A native crash ends this process only:
the host reads the signal and the last lines of stderr.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
import time

from edgekit.core.errors import BackendUnavailable
from edgekit.measure.harness import measure as harness_measure
from edgekit.runners import protocol
from edgekit.runtimes import RUNTIMES
from edgekit.runtimes.environment import fingerprint
from edgekit.runtimes.messages import failure


class _TimeUp(Exception):
    pass


class _Deadline:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.end:
            raise _TimeUp


def main() -> int:
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # what a runtime prints to stdout goes to stderr, never into the protocol
    source = sys.stdin.buffer
    protocol.send(channel, "hello", {"fingerprint": fingerprint()})
    while True:
        try:
            header, arrays = protocol.receive(source)
        except EOFError:
            return 0
        if header.get("type") == "exit":
            return 0
        if header.get("protocol") != protocol.VERSION or header.get("type") != "measure":
            protocol.send(channel, "result", {"status": "failed", "reason": (
                f"the worker speaks protocol {protocol.VERSION} and got a {header.get('type')!r} message of "
                f"protocol {header.get('protocol')}")})
            continue
        with _ends_if_the_host_leaves(source.fileno()):
            reply, outputs = measure(header, arrays)
        protocol.send(channel, "result", reply, {f"outputs/{k}": v for k, v in (outputs or {}).items()})


@contextlib.contextmanager
def _ends_if_the_host_leaves(fd: int):
    """While a job runs the host sends nothing, so its end of our input closing means it is gone
    (killed, or the SSH connection dropped): end at once rather than measure for no one. A thread
    that sleeps in poll() until then, so the timings are not disturbed."""
    stop_read, stop_write = os.pipe()
    poller = select.poll()
    poller.register(fd, select.POLLHUP | getattr(select, "POLLRDHUP", 0))
    poller.register(stop_read, select.POLLIN)

    def watch():
        for ready, _ in poller.poll():
            if ready == fd:
                os._exit(3)

    watcher = threading.Thread(target=watch, name="edgekit-worker-host-watch", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        os.write(stop_write, b"x")
        watcher.join()
        os.close(stop_read)
        os.close(stop_write)


def measure(job: dict, arrays: dict) -> tuple[dict, dict | None]:
    """One measure message: the reply header and the evaluation outputs."""
    feeds = [{k.split("/", 2)[2]: v for k, v in arrays.items() if k.startswith(f"latency/{i}/")}
             for i in range(job["feeds"])]
    evaluation = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("eval/")} or None
    runtime = RUNTIMES.get(job["runtime"])
    if runtime is None:
        return {"status": "skipped", "reason": f"this worker has no runtime {job['runtime']!r}"}, None
    runs = job.get("profile") or 0
    profile = None if not runs else (lambda feed: runtime.profile(job["artifact"], feed, runs, **job["options"]))
    try:
        found, outputs = harness_measure(lambda: runtime.open(job["artifact"], **job["options"]), feeds, evaluation,
                                         job["runs"], job["warmup"], job["batch"], _Deadline(job["seconds"]),
                                         job.get("share"), profile)
    except BackendUnavailable as exc:
        return {"status": "skipped", **failure(job["runtime"], exc)}, None
    except _TimeUp:
        return {"status": "stopped", "reason": "stopped at the time limit"}, None
    except Exception as exc:  # the runtime failed on this model: the host makes it a failed row
        return {"status": "failed", **failure(job["runtime"], exc)}, None
    return {"status": "ok", "found": found}, outputs


if __name__ == "__main__":
    sys.exit(main())
