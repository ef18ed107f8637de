"""The one timing harness every runtime is measured with.

Inputs are prepared (quantized, laid out) and bound outside the timed region; the region holds
the runtime's own call and nothing else, timed with `time.perf_counter_ns`. Statistics are in
microseconds; percentiles interpolate linearly between order statistics (numpy's default, the
same rule LiteRT's benchmark tool uses).
"""

from __future__ import annotations

import math
import time

import numpy as np

from edgekit.data import shapes

PERCENTILES = (50, 90, 99)
# A run is flagged when its robust spread (1.4826 x median absolute deviation over the median,
# which equals the CV for normal noise) passes this: a busy machine spreads the whole
# distribution, while one pre-empted run among hundreds only inflates the plain CV.
SPREAD_LIMIT = 0.1
CHECK_EVERY = 64  # timed calls between looks at the benchmark's deadline
# --runs auto: time until the median's 95% confidence interval is within PRECISION of it, with
# at least MIN_AUTO_RUNS and at most MAX_AUTO_RUNS runs, or until the pair's time share is spent
PRECISION = 0.02
MIN_AUTO_RUNS = 30
MAX_AUTO_RUNS = 20000
MIN_SHARE_RUNS = 3  # even a kernel slower than its share gets a median of three


def latency_stats(times_ns) -> dict:
    """p50/p90/p99, mean, std, min, max in microseconds, the coefficient of variation, its
    robust counterpart, and whether the spread is too large for the run to be trusted alone."""
    us = np.asarray(times_ns, dtype=np.float64) / 1e3
    if us.size == 0:
        raise ValueError("no timings")
    mean = float(us.mean())
    std = float(us.std(ddof=1)) if us.size > 1 else 0.0
    stats = {f"p{p}": float(np.percentile(us, p)) for p in PERCENTILES}
    cv = std / mean if mean > 0 else 0.0
    median = float(np.median(us))
    robust_cv = 1.4826 * float(np.median(np.abs(us - median))) / median if median > 0 else 0.0
    stats.update(mean=mean, std=std, min=float(us.min()), max=float(us.max()), cv=cv, robust_cv=robust_cv,
                 runs=int(us.size), high_spread=robust_cv > SPREAD_LIMIT)
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in stats.items()}


def time_invocations(session, prepared: list, runs: int, warmup: int, deadline=None,
                     until: float | None = None) -> np.ndarray:
    """Nanoseconds of `runs` calls to `session.invoke()` after `warmup` untimed ones, cycling
    through the prepared feeds (binding each outside the timed region). A `deadline`
    (limits.Deadline) is checked every CHECK_EVERY calls, outside the timed region. With `until`
    (a time.monotonic() value) both loops end early once it has passed; at least one call is timed."""
    clock, invoke, bind = time.perf_counter_ns, session.invoke, session.bind
    check = deadline.check if deadline is not None else (lambda: None)
    over = (lambda: False) if until is None else (lambda: time.monotonic() >= until)
    count = len(prepared)
    for i in range(warmup):
        bind(prepared[i % count])
        invoke()
        if over():
            break
    times = np.empty(runs, dtype=np.int64)
    if count == 1:  # the common case: bind once, a tight loop
        bind(prepared[0])
    for i in range(runs):
        if count > 1:
            bind(prepared[i % count])
        start = clock()
        invoke()
        times[i] = clock() - start
        if i % CHECK_EVERY == 0:
            check()
        if over():
            return times[:i + 1]
    return times


def median_ci(times) -> float:
    """Half the width of the median's distribution-free 95% confidence interval (between order
    statistics n/2 -+ 0.98 sqrt(n)), over the median: how well the timings pin their median down."""
    x = np.sort(np.asarray(times, dtype=np.float64))
    n = len(x)
    median = float(np.median(x))
    if n < 3 or median <= 0:
        return math.inf
    lo = max(0, math.floor((n - 1.96 * math.sqrt(n)) / 2) - 1)
    hi = min(n - 1, math.ceil(1 + (n + 1.96 * math.sqrt(n)) / 2) - 1)
    return float(x[hi] - x[lo]) / 2 / median


def time_until_stable(session, prepared: list, warmup: int, seconds: float, deadline=None,
                      precision: float = PRECISION, runs: int = MAX_AUTO_RUNS) -> tuple[np.ndarray, str]:
    """Timings as `time_invocations` takes them, stopping once the median is known to within
    `precision` (95% confidence, after MIN_AUTO_RUNS at least), `seconds` (this pair's share of
    the benchmark) are spent, or `runs` were timed: (nanoseconds, why it stopped: "precise",
    "share" or "runs"). A slow kernel stops at its share after MIN_SHARE_RUNS."""
    started = time.monotonic()
    end = started + seconds
    time_invocations(session, prepared, 0, warmup, deadline, until=started + seconds / 4)
    times = np.empty(0, dtype=np.int64)
    while True:
        if len(times) >= MIN_AUTO_RUNS and median_ci(times) <= precision:
            return times, "precise"
        if len(times) >= runs:
            return times, "runs"
        if len(times) >= MIN_SHARE_RUNS and time.monotonic() >= end:
            return times, "share"
        more = min(runs - len(times), max(MIN_AUTO_RUNS - len(times), len(times) // 4, 1))  # a look sorts
        times = np.concatenate([times, time_invocations(session, prepared, more, 0, deadline, until=end)])


def cold_start(open_session, feed: dict) -> tuple[object, dict]:
    """Open a session and run one feed: (session, {load_us, first_inference_us, cold_start_us}).
    Input preparation sits outside both timed regions."""
    start = time.perf_counter_ns()
    session = open_session()
    loaded = time.perf_counter_ns()
    try:
        prepared = session.prepare(feed)
        first = time.perf_counter_ns()
        session.bind(prepared)
        session.invoke()
        session.fetch()
        done = time.perf_counter_ns()
    except BaseException:
        session.close()
        raise
    load_us, first_us = (loaded - start) / 1e3, (done - first) / 1e3
    return session, {"load_us": round(load_us, 1), "first_inference_us": round(first_us, 1),
                     "cold_start_us": round(load_us + first_us, 1)}


def throughput(session, feed: dict, batch: int, runs: int, warmup: int, deadline=None,
               until: float | None = None) -> dict:
    """Samples per second at `batch` samples per call, resizing the inputs when the runtime can.
    `feed` holds at least one sample; it is tiled up to the batch. `until` as in time_invocations."""
    original = session.batch
    whole = shapes.fed_whole(session.inputs)
    if whole:  # the same state or scalar for every row: nothing says how to batch it
        reason, used, original = f"input(s) {', '.join(sorted(whole))} are fed whole, one sample a call", 1, None
    else:
        reason = session.resize(batch)
        used = batch if reason is None else original
    tiled = feed if whole else {k: np.resize(v, (used, *v.shape[1:])) for k, v in feed.items()}
    try:
        times = time_invocations(session, [session.prepare(tiled)], runs, warmup, deadline, until)
    finally:
        if original is not None:
            session.resize(original)
    seconds = float(times.sum()) / 1e9
    record = {"batch": used, "samples_per_s": round(used * len(times) / seconds, 1),
              "batch_p50_us": round(float(np.percentile(times, 50)) / 1e3, 3)}
    if reason is not None:
        record["note"] = f"ran at batch {used}: {reason}"
    return record
