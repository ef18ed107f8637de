"""The per-op profile rides on a measurement: after it, in a session of its own; a target without
one, or one that breaks, leaves the row's figures standing."""

import numpy as np
import pytest

from edgekit.core.errors import BackendUnavailable, EdgekitError
from edgekit.measure import harness
from edgekit.runners.replies import Found
from edgekit.runtimes import RUNTIMES
from edgekit.runtimes.base import check_profile

FEED = {"x": np.ones((1, 3), np.float32)}
OPS = [{"index": 0, "name": "dense/MatMul", "type": "FULLY_CONNECTED", "executor": "builtin", "us": 4.0}]


def profile_of(ops):
    return {"method": "isolated", "runs": 5, "ops": ops, "partitions": 0, "fully_delegated": None,
            "left_on_cpu": []}


def test_a_profile_gets_the_wall_time_it_took():
    seen = []
    found = harness.profiled(lambda feed: seen.append(feed) or profile_of(OPS), FEED)
    assert seen == [FEED] and found["ops"] == OPS and found["wall_seconds"] >= 0


def test_a_target_without_a_profile_is_skipped_with_its_reason():
    def none(feed):
        raise BackendUnavailable("litert-compiled: the NPU has no profiler")

    assert harness.profiled(none, FEED) == {"skipped": "litert-compiled: the NPU has no profiler"}


def test_a_profile_that_breaks_is_failed_not_the_row():
    def broken(feed):
        raise EdgekitError("one-op model of CUSTOM could not be built")

    assert harness.profiled(broken, FEED) == {"failed": "one-op model of CUSTOM could not be built"}


def test_a_runtime_without_a_profiler_says_so():
    with pytest.raises(BackendUnavailable, match="keras has no per-op profile"):
        RUNTIMES["keras"]._profile_impl(None, FEED, 5)


def test_the_contract_is_checked():
    check_profile(profile_of(OPS))
    with pytest.raises(ValueError, match="lacks"):
        check_profile({**profile_of(OPS), "ops": [{"index": 0, "name": "a", "type": "ADD", "us": 1.0}]})
    with pytest.raises(ValueError, match="method"):
        check_profile({**profile_of(OPS), "method": "guessed"})


def test_a_workers_reply_carries_the_profile_checked():
    figures = {"details": {}, "cold": {"load_us": 1.0, "first_inference_us": 1.0, "cold_start_us": 2.0},
               "latency_us": {"p50": 5.0, "p90": 6.0, "p99": 7.0, "mean": 5.0, "std": 0.1, "min": 4.0, "max": 8.0,
                              "cv": 0.02, "robust_cv": 0.02, "runs": 10},
               "memory": {"peak_rss_bytes": 1, "scope": "process"}, "throughput": {"batch": 1, "samples_per_s": 1.0}}
    Found.model_validate({**figures, "profile": {**profile_of(OPS), "wall_seconds": 0.1}}, strict=True)
    Found.model_validate({**figures, "profile": {"skipped": "no profiler"}}, strict=True)
    with pytest.raises(ValueError):  # a negative time is a broken worker, not a figure
        Found.model_validate({**figures, "profile": profile_of([{**OPS[0], "us": -1.0}])}, strict=True)
