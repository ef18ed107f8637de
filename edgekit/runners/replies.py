"""What a worker may answer, declared: its hello (the machine's fingerprint) and its result (the
figures, or why there are none), checked on the host before anything reads them. A worker on a
board is another machine's program: a reply that does not fit is a failed row that names the
device and the field, never an exception in the code that reads the figures later (the engine,
the report, the results file).

Only the host imports this module (pydantic): the worker side stays standard library and numpy.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edgekit.core.errors import EdgekitError
from edgekit.core.schemas import validate
from edgekit.results.schema import LARGEST

FIX = "the worker is broken or is not edgekit's; check what runs as the worker (a board's --remote-python)"

# A figure: finite, not negative, and within what the results file may hold (report.schema).
Figure = Annotated[float, Field(ge=0, le=LARGEST, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=LARGEST)]
Cores = Annotated[int, Field(ge=1, le=1 << 16)]  # more than any machine's CPUs
Name = Annotated[str, Field(max_length=300)]  # a name or a version: a cell of a table
Text = Annotated[str, Field(max_length=2000)]  # a path, a reason, a runtime's own words
Scalar = bool | int | float | Name | None


class _Reply(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class Cpu(_Reply):
    name: Name
    machine: Name
    flags: dict[Name, bool] = Field(max_length=256)
    cores: Cores | None
    usable_cores: Cores


class Fingerprint(_Reply):
    """environment.fingerprint() of the worker's machine."""
    python: Name
    platform: Name
    cpu: Cpu
    versions: dict[Name, Name | None] = Field(max_length=256)
    env: dict[Name, Text] = Field(max_length=64)


class Hello(_Reply):
    type: Literal["hello"]
    protocol: int
    fingerprint: Fingerprint


class Details(_Reply):
    """session.details() of every runtime a worker runs (and benchmark_model's, read on a phone)."""
    threads: Count | None = None
    kernels: Name | None = None
    delegate: Text | None = None
    delegate_options: dict[Name, Scalar | Text] | None = Field(None, max_length=256)
    accelerator: Name | None = None
    fully_accelerated: bool | None = None
    dispatch: Name | None = None
    dispatch_library_loaded: bool | None = None
    precision: Name | None = None
    provider: Name | None = None
    providers: list[Name] | None = Field(None, max_length=64)
    time: Text | None = None
    arena_bytes: Count | None = None
    arena_reported_bytes: Count | None = None
    flash_bytes: Count | None = None
    flash: Text | None = None
    tool: Name | None = None


class Latency(_Reply):
    """timing.latency_stats() (with --runs auto's stopping figures), or benchmark_model's mean."""
    p50: Figure | None = None
    p90: Figure | None = None
    p99: Figure | None = None
    mean: Figure
    std: Figure
    min: Figure
    max: Figure
    cv: Figure
    robust_cv: Figure | None = None
    runs: Annotated[int, Field(ge=1, le=LARGEST)]
    high_spread: bool | None = None
    statistic: Literal["mean"] | None = None
    stopped_by: Literal["precise", "runs", "share"] | None = None
    median_ci: Figure | None = None
    share_seconds: Figure | None = None

    @model_validator(mode="after")
    def _percentiles(self):
        missing = [k for k in ("p50", "p90", "p99", "robust_cv") if getattr(self, k) is None]
        if self.statistic is None and missing:
            raise ValueError(f"lacks {', '.join(missing)} (only benchmark_model's mean comes without them)")
        return self


class Cold(_Reply):
    load_us: Figure
    first_inference_us: Figure
    cold_start_us: Figure


class Memory(_Reply):
    peak_rss_bytes: Count
    scope: Name
    peak_over_start_bytes: Count | None = None


class Throughput(_Reply):
    batch: Annotated[int, Field(ge=1, le=LARGEST)]
    samples_per_s: Figure
    batch_p50_us: Figure | None = None
    note: Text | None = None


class ProfiledOp(_Reply):
    """One op of Runtime.profile()'s `ops` (runtimes/base.py): its median µs a call."""
    index: Count
    name: Text
    type: Name
    executor: Name
    us: Figure
    calls: Count | None = None  # a row benchmark_model times more than once a run (its figure is per run)


class OpLeft(_Reply):
    """An op a profile lists apart: left on the CPU by an accelerator, or not timed, with why."""
    index: Count
    name: Text
    type: Name
    reason: Text


class Profile(_Reply):
    """Runtime.profile(), with the wall time harness.profiled() adds."""
    method: Literal["profiler", "isolated"]
    runs: Annotated[int, Field(ge=1, le=LARGEST)]
    ops: list[ProfiledOp] = Field(max_length=100_000)
    partitions: Count | None
    fully_delegated: bool | None
    left_on_cpu: list[OpLeft] = Field(max_length=100_000)
    not_timed: list[OpLeft] | None = Field(None, max_length=100_000)
    note: Text | None = None
    fused: Count | None = None  # OpenVINO's nodes it fused into others (status NOT_RUN)
    wall_seconds: Figure | None = None


class NoProfile(_Reply):
    """Where a target has no per-op profile (skipped), or it broke (failed): why."""
    skipped: Text | None = None
    failed: Text | None = None


class Found(_Reply):
    """harness.measure()'s figures: what a record of status ok holds besides its name."""
    details: Details
    cold: Cold
    latency_us: Latency
    memory: Memory
    throughput: Throughput
    evaluation_seconds: Figure | None = None
    profile: Profile | NoProfile | None = None


class Result(_Reply):
    type: Literal["result"]
    protocol: int
    status: Literal["ok", "skipped", "failed", "stopped"]
    reason: Text | None = None
    detail: Text | None = None
    found: Found | None = None

    @model_validator(mode="after")
    def _what_the_status_needs(self):
        if self.status == "ok" and self.found is None:
            raise ValueError("has status ok but no figures (\"found\")")
        if self.status != "ok" and self.found is not None:
            raise ValueError(f"has status {self.status} but figures (\"found\")")
        if self.status in ("skipped", "failed") and not self.reason:
            raise ValueError(f"has status {self.status} but no reason")
        return self


# what the host reads of a runtime's details beyond the common figures (the engine, report.table)
REQUIRED_DETAILS = {"tflm": ("arena_bytes", "flash_bytes")}


def fingerprint(header: dict, where: str) -> dict:
    """A hello's fingerprint, checked; EdgekitError naming the worker and the field."""
    validate(Hello, header, f"the hello of the worker for {where}", FIX)
    return header["fingerprint"]


def result(header: dict, runtime: str, where: str) -> dict:
    """A result header, checked (the same dict: strict validation changes no value)."""
    source = f"the reply of the worker for {where}"
    validate(Result, header, source, FIX)
    if header["status"] == "ok":
        _required_details(header["found"], runtime, source, FIX)
    return header


def found(figures: dict, runtime: str, source: str, fix: str) -> dict:
    """A runner's figures, checked (those a tool's output was read into, on a phone)."""
    validate(Found, figures, source, fix)
    _required_details(figures, runtime, source, fix)
    return figures


def _required_details(figures: dict, runtime: str, source: str, fix: str) -> None:
    lacking = [key for key in REQUIRED_DETAILS.get(runtime, ()) if figures["details"].get(key) is None]
    if lacking:
        raise EdgekitError(f"{source}: found.details.{lacking[0]} is missing, which {runtime} always gives: {fix}")
