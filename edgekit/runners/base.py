"""What every runner shares: a measurement job, and the interface that says where it runs.

A runner measures one (model file, target) job and returns the figures and the evaluation
outputs, or raises what the bench engine turns into a row: BackendUnavailable (skipped),
EdgekitError (failed, with the reason), limits.TimeLimitExceeded (stopped at the time limit).
Public methods check; `_impl` methods do the work.
"""

from __future__ import annotations

import abc
import dataclasses
import time
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class Job:
    artifact: Path
    runtime: str  # a key of runtimes.RUNTIMES
    target: str  # its label, e.g. "litert-compiled:cpu x1", for messages
    options: dict
    latency_feeds: list  # batch-1 feeds the latency loop cycles through
    eval_inputs: dict | None  # the evaluation samples; None: latency only
    runs: int | None  # None: until the median is known (timing.time_until_stable), within `share` seconds
    warmup: int
    batch: int
    share: float | None = None
    outputs: tuple[str, ...] | None = None  # the model's output names, as the host read the file; None: not known
    profile: int = 0  # runs of a per-op profile after the measurement (Runtime.profile); 0: none


class Runner(abc.ABC):
    kind: str = ""  # how it measures: in-process, local (a worker process here), ssh
    device: str = "local"  # the machine it measures on, as records name it

    def measure(self, job: Job, deadline) -> tuple[dict, dict | None]:
        """(figures, evaluation outputs or None), within what is left of `deadline`."""
        if deadline.passed:
            deadline.check()
        return self._measure_impl(job, deadline)

    def fingerprint(self) -> dict | None:
        """The machine the measurements ran on, when it is not this one."""
        return None

    def close(self) -> None:
        pass

    @abc.abstractmethod
    def _measure_impl(self, job: Job, deadline) -> tuple[dict, dict | None]: ...


def seconds_left(deadline) -> float:
    return max(0.0, deadline.end - time.monotonic())
