"""One measurement of one opened model: cold start, batch-1 latency, peak memory, throughput,
and the outputs on the evaluation inputs. The same code runs in edgekit's process (Keras) and
in a runner's worker (every other runtime), so it imports only numpy and the timing parts."""

from __future__ import annotations

import time

from edgekit.core.errors import BackendUnavailable, first_line
from edgekit.measure import timing
from edgekit.measure.memory import PeakMemory


def measure(open_session, latency_feeds: list[dict], eval_inputs: dict | None, runs: int | None, warmup: int,
            batch: int, deadline=None, share: float | None = None, profile=None) -> tuple[dict, dict | None]:
    """(the figures, the outputs on `eval_inputs` or None). `open_session()` opens the model;
    `deadline.check()` is called between timed calls. `runs` None: as many as the median needs
    (timing.time_until_stable), within `share` seconds. `profile(feed)`, when given, is the
    runtime's per-op profile of the same file and target (Runtime.profile), run after the rest in
    a session of its own: its figures are never the latency's."""
    found, outputs = _measure(open_session, latency_feeds, eval_inputs, runs, warmup, batch, deadline, share)
    if profile is not None:
        found["profile"] = profiled(profile, latency_feeds[0])
    return found, outputs


def profiled(profile, feed: dict) -> dict:
    """A record's `profile`: the runtime's, with the wall time it took; {"skipped": why} where the
    target has none, {"failed": why} where it broke (the measurement stands either way)."""
    started = time.perf_counter()
    try:
        found = profile(feed)
    except BackendUnavailable as exc:
        return {"skipped": first_line(exc, limit=500)}
    except Exception as exc:  # a profile is extra: its failure must not lose the row's figures
        return {"failed": first_line(exc, limit=500)}
    return {**found, "wall_seconds": round(time.perf_counter() - started, 3)}


def _measure(open_session, latency_feeds: list[dict], eval_inputs: dict | None, runs: int | None, warmup: int,
             batch: int, deadline=None, share: float | None = None) -> tuple[dict, dict | None]:
    with PeakMemory() as memory:
        session, cold = timing.cold_start(open_session, latency_feeds[0])
        try:
            prepared = [session.prepare(feed) for feed in latency_feeds]
            if runs is None:
                times, stopped_by = timing.time_until_stable(session, prepared, warmup, share, deadline)
            else:
                times, stopped_by = timing.time_invocations(session, prepared, runs, warmup, deadline), "runs"
        except BaseException:
            session.close()
            raise
    latency = timing.latency_stats(times)
    if runs is None:
        latency.update(stopped_by=stopped_by, median_ci=round(timing.median_ci(times), 4), share_seconds=share)
    with session:
        found = {"details": session.details(), "cold": cold, "latency_us": latency, "memory": memory.record(),
                 "throughput": _throughput(session, latency_feeds[0], batch, len(times), warmup, latency["p50"] / 1e6,
                                           deadline, share)}
        if eval_inputs is None:
            return found, None
        started = time.perf_counter()
        outputs = session.predict(eval_inputs, until=None if share is None else time.monotonic() + share,
                                  at_least=MIN_EVALUATED)
        found["evaluation_seconds"] = round(time.perf_counter() - started, 4)
    return found, outputs


# --runs auto bounds the rest of a pair's measurement by its time share too: the throughput batch
# shrinks to what fits in a quarter of it, and the evaluation stops after the share, once
# MIN_EVALUATED samples ran (the engine scores the float model on the same samples then)
MIN_EVALUATED = 10


def _throughput(session, feed: dict, batch: int, runs: int, warmup: int, seconds_per_call: float, deadline,
                share: float | None) -> dict:
    if share is None:
        return timing.throughput(session, feed, batch, max(10, runs // batch), max(2, warmup // batch), deadline)
    fits = max(1, int(share / 4 / max(seconds_per_call, 1e-9)))
    found = timing.throughput(session, feed, min(batch, fits), max(10, runs // batch), 1, deadline,
                              time.monotonic() + share / 2)
    if fits < batch and "note" not in found:
        found["note"] = (f"ran below batch {batch} where {batch} samples take longer than a quarter of the "
                         "pair's time share (--runs auto; the batch is in the JSON)")
    return found
