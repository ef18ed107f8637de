"""The default runner: every job in a worker process of its own on this machine, so that a
runtime that crashes or hangs costs one row, not the run (LiteRT's CompiledModel aborts on
some valid models), and `--max-bench-time` can stop a runtime that never returns."""

from __future__ import annotations

import time

from edgekit import limits, python_child
from edgekit.errors import BackendUnavailable, EdgekitError
from edgekit.runners.base import Job, Runner, seconds_left
from edgekit.runners.worker_process import WorkerProcess, WorkerTimedOut
from edgekit.runtimes import RUNTIMES

GRACE_SECONDS = 2.0  # past the deadline, what a worker gets to notice it before it is killed


class LocalRunner(Runner):
    kind = "local"
    exit_meanings: dict = {}  # a worker's exit status -> what it means (ssh's 255)
    worker_fingerprint: dict | None = None  # what the last worker said of its machine

    def command(self) -> list[str]:
        """How the worker starts: this Python, and this edgekit, whatever the working folder holds."""
        return python_child.command("-m", "edgekit.runners.worker")

    def environment(self) -> dict | None:
        return python_child.environment()

    def where(self, job: Job) -> str:
        """The target as a row's reason names it."""
        return job.target

    def prepare(self, job: Job, deadline: limits.Deadline) -> str:
        """The artifact's path as the worker sees it. Here, a missing provider or library is
        known without a worker: the same machine gives the same answer."""
        RUNTIMES[job.runtime].check_target(**job.options)
        return str(job.artifact.resolve())

    def _measure_impl(self, job: Job, deadline: limits.Deadline):
        artifact = self.prepare(job, deadline)
        until = time.monotonic() + seconds_left(deadline) + GRACE_SECONDS
        try:
            with WorkerProcess(self.command(), self.where(job), self.exit_meanings, self.environment()) as worker:
                self.worker_fingerprint = worker.hello(until)
                header = {"artifact": artifact, "runtime": job.runtime, "target": job.target, "options": job.options,
                          "runs": job.runs, "warmup": job.warmup, "batch": job.batch, "share": job.share,
                          "seconds": seconds_left(deadline), "feeds": len(job.latency_feeds)}
                reply, arrays = worker.request("measure", header, job_arrays(job), until)
        except WorkerTimedOut:
            deadline.check()  # the deadline has passed: stopped at the time limit
            raise EdgekitError(f"the worker for {self.where(job)} did not answer in time") from None
        return outcome(reply, arrays, deadline)


def job_arrays(job: Job) -> dict:
    arrays = {f"latency/{i}/{name}": value for i, feed in enumerate(job.latency_feeds) for name, value in feed.items()}
    arrays.update({f"eval/{name}": value for name, value in (job.eval_inputs or {}).items()})
    return arrays


def outcome(reply: dict, arrays: dict, deadline: limits.Deadline) -> tuple[dict, dict | None]:
    """A worker's result as the runner interface gives it: figures and outputs, or the exception."""
    status, reason, detail = reply.get("status"), str(reply.get("reason", "")), reply.get("detail")
    if status == "skipped":
        raise BackendUnavailable(reason, detail=detail)
    if status == "stopped":
        raise deadline.exceeded()
    if status != "ok" or not isinstance(reply.get("found"), dict):
        raise EdgekitError(reason or f"the worker answered {status!r}", detail=detail)
    outputs = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("outputs/")}
    return reply["found"], outputs or None
