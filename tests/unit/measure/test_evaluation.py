"""Held-out scoring of a session whose kernels are slow: bounded like validation, and judged
beside the float model on the same samples."""

import time

import numpy as np

from edgekit.data.datasets import Dataset
from edgekit.measure.evaluation import Task
from tests.unit.measure.test_timing import SlowSession


def _task(samples: int) -> Task:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(samples, 3)).astype(np.float32)
    labels = np.argmax(x, axis=1)
    labels[samples // 2:] = (labels[samples // 2:] + 1) % 3  # the second half: the model is wrong
    task = Task(Dataset(x, labels, x, labels, "generated"), "accuracy", None, None, "generated")
    task.float_outputs = x * 3  # the float model: the same top-1 as the session's (x * 2)
    return task


def test_a_slow_session_is_scored_on_the_samples_it_got_through_beside_the_float_model_on_those():
    task = _task(40)
    session = SlowSession(per_sample=0.02)()
    found = task.evaluate_session(session, "x", until=time.monotonic() + 0.2, at_least=4)
    n = found["samples"]
    assert 4 <= n <= session.samples_run < 20  # stopped after ~0.2 s of 20 ms samples, not all 40
    assert found["value"] == 1.0 and found["float"] == 1.0 and found["drop_points"] == 0.0  # the first half only


def test_a_session_that_gets_through_all_samples_is_scored_on_all():
    task = _task(40)
    found = task.evaluate_session(SlowSession(per_sample=0.0)(), "x")
    assert "samples" not in found
    assert found["value"] == found["float"] == 0.5
