"""One measurement of one opened model: cold start, batch-1 latency, peak memory, throughput,
and the outputs on the evaluation inputs. The same code runs in edgekit's process (Keras) and
in a runner's worker (every other runtime), so it imports only numpy and the timing parts."""

from __future__ import annotations

import time

from edgekit.bench import timing
from edgekit.bench.memory import PeakMemory


def measure(open_session, latency_feeds: list[dict], eval_inputs: dict | None, runs: int | None, warmup: int,
            batch: int, deadline=None, share: float | None = None) -> tuple[dict, dict | None]:
    """(the figures, the outputs on `eval_inputs` or None). `open_session()` opens the model;
    `deadline.check()` is called between timed calls. `runs` None: as many as the median needs
    (timing.time_until_stable), within `share` seconds."""
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
                 "throughput": timing.throughput(session, latency_feeds[0], batch, max(10, len(times) // batch),
                                                 max(2, warmup // batch), deadline,
                                                 None if share is None else time.monotonic() + share / 2)}
        if eval_inputs is None:
            return found, None
        started = time.perf_counter()
        outputs = session.predict(eval_inputs)
        found["evaluation_seconds"] = round(time.perf_counter() - started, 4)
    return found, outputs
