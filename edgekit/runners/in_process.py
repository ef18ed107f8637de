"""Measuring inside edgekit's own process: for Keras (TensorFlow is too heavy to start per
job, and it is the float model edgekit already loaded), and with `--in-process` to see what
the isolation costs. A native crash here ends the whole run."""

from __future__ import annotations

from edgekit.measure import harness
from edgekit.runners.base import Job, Runner
from edgekit.runtimes import RUNTIMES


class InProcessRunner(Runner):
    kind = "in-process"

    def _measure_impl(self, job: Job, deadline):
        runtime = RUNTIMES[job.runtime]
        profile = None if not job.profile else (
            lambda feed: runtime.profile(job.artifact, feed, job.profile, **job.options))
        return harness.measure(lambda: runtime.open(job.artifact, **job.options), job.latency_feeds, job.eval_inputs,
                               job.runs, job.warmup, job.batch, deadline, job.share, profile)
