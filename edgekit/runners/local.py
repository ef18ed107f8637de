"""The default runner: every job in a worker process of its own on this machine, so that a
runtime that crashes or hangs costs one row, not the run (LiteRT's CompiledModel aborts on
some valid models), and `--max-bench-time` can stop a runtime that never returns."""

from __future__ import annotations

import time

from edgekit.core import limits, python_child
from edgekit.core.errors import BackendUnavailable, EdgekitError
from edgekit.core.schemas import shown
from edgekit.runners import replies
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
                          "profile": job.profile, "seconds": seconds_left(deadline), "feeds": len(job.latency_feeds)}
                reply, arrays = worker.request("measure", header, job_arrays(job), until)
        except WorkerTimedOut:
            deadline.check()  # the deadline has passed: stopped at the time limit
            raise EdgekitError(f"the worker for {self.where(job)} did not answer in time") from None
        return outcome(reply, arrays, deadline, job, self.where(job))


def job_arrays(job: Job) -> dict:
    arrays = {f"latency/{i}/{name}": value for i, feed in enumerate(job.latency_feeds) for name, value in feed.items()}
    arrays.update({f"eval/{name}": value for name, value in (job.eval_inputs or {}).items()})
    return arrays


def outcome(reply: dict, arrays: dict, deadline: limits.Deadline, job: Job, where: str) -> tuple[dict, dict | None]:
    """A worker's result as the runner interface gives it: figures and outputs, or the exception.
    The reply is checked first (runners.replies): a broken one fails the row, saying what was wrong."""
    replies.result(reply, job.runtime, where)
    status, reason, detail = reply["status"], _printable(reply.get("reason") or ""), reply.get("detail")
    detail = _printable(detail, keep="\n") if detail else None
    if status == "skipped":
        raise BackendUnavailable(reason, detail=detail)
    if status == "stopped":
        left = seconds_left(deadline)
        if left > GRACE_SECONDS:  # its clock started after ours: at its limit, ours has passed too
            raise EdgekitError(f"the worker for {where} stopped early: it said its time was up with {left:.0f} s of "
                               f"the {deadline.seconds:g} s limit left; {replies.FIX}")
        raise deadline.exceeded()
    if status == "failed":
        raise EdgekitError(reason, detail=detail)
    return reply["found"], evaluation_outputs(arrays, job, where)


def evaluation_outputs(arrays: dict, job: Job, where: str) -> dict | None:
    """A reply's arrays as the evaluation outputs the engine scores: the model's outputs, by name,
    for the first N of the job's samples (N >= 1: fewer when the pair's time share ran out)."""
    wrong = next((name for name in arrays if not name.startswith("outputs/")), None)
    if wrong is not None:
        raise EdgekitError(f"the worker for {where} sent array {shown(wrong)}, which no reply carries: {replies.FIX}")
    outputs = {name.removeprefix("outputs/"): value for name, value in arrays.items()}
    if job.eval_inputs is None:
        if outputs:
            raise EdgekitError(f"the worker for {where} sent outputs for a job without evaluation samples: "
                               f"{replies.FIX}")
        return None
    if not outputs:
        raise EdgekitError(f"the worker for {where} sent no outputs for the evaluation samples: {replies.FIX}")
    if job.outputs is not None and set(outputs) != set(job.outputs):
        raise EdgekitError(f"the worker for {where} sent outputs {', '.join(map(shown, outputs))}, but the model's "
                           f"outputs are {', '.join(map(shown, job.outputs))}: {replies.FIX}")
    samples = len(next(iter(job.eval_inputs.values())))
    counts = {len(value) if value.ndim else 0 for value in outputs.values()}
    if len(counts) != 1 or not 1 <= min(counts) <= samples:
        raise EdgekitError(f"the worker for {where} sent outputs for {' and '.join(map(str, sorted(counts)))} samples, "
                           f"not for the first 1 to {samples} evaluation samples it was given: {replies.FIX}")
    return outputs


def _printable(text: str, keep: str = "") -> str:
    """A worker's words as a row shows them: control characters (a terminal's escapes) as spaces."""
    return "".join(c if c.isprintable() or c in keep else " " for c in text)
