"""The harness's statistics, checked against figures worked out by hand on synthetic timings."""

import time

import numpy as np
import pytest

from edgekit.core.errors import EdgekitError
from edgekit.measure import targets, timing
from edgekit.measure.targets import TargetSettings


def by_hand_percentile(values, p):
    """Linear interpolation between order statistics at rank (n - 1) * p / 100."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (rank - low) * (ordered[high] - ordered[low])


def test_percentiles_and_moments_on_a_known_list():
    times_us = [float(v) for v in range(100, 0, -1)]  # 1..100 us, reversed: order must not matter
    stats = timing.latency_stats([t * 1000 for t in times_us])
    assert stats["p50"] == pytest.approx(50.5)
    assert stats["p90"] == pytest.approx(90.1)
    assert stats["p99"] == pytest.approx(99.01)
    for p in (50, 90, 99):
        assert stats[f"p{p}"] == pytest.approx(by_hand_percentile(times_us, p), abs=1e-3)
    assert stats["mean"] == pytest.approx(50.5)
    assert stats["min"] == 1.0 and stats["max"] == 100.0 and stats["runs"] == 100
    std = (sum((t - 50.5) ** 2 for t in times_us) / 99) ** 0.5
    assert stats["std"] == pytest.approx(std, abs=1e-3)
    assert stats["cv"] == pytest.approx(std / 50.5, abs=1e-3)


def test_one_preempted_run_is_not_a_noisy_benchmark_but_a_wide_spread_is():
    steady = [10_000] * 499 + [2_000_000]  # one run pre-empted for 2 ms
    stats = timing.latency_stats(steady)
    assert stats["cv"] > 0.2 and stats["p50"] == 10.0
    assert not stats["high_spread"]
    rng = np.random.default_rng(0)
    noisy = timing.latency_stats(rng.uniform(5_000, 15_000, 500))
    assert noisy["high_spread"]


def test_single_timing_has_zero_spread_and_empty_is_an_error():
    assert timing.latency_stats([5000])["std"] == 0.0
    with pytest.raises(ValueError):
        timing.latency_stats([])


def test_target_names_aliases_and_thread_counts():
    settings = TargetSettings(threads=(1, 2))
    chosen = targets.parse("litert:xnnpack,litert:default-kernels", settings, {"tflite"})
    assert [t.label for t in chosen] == ["litert:xnnpack x1", "litert:xnnpack x2", "litert:builtin x1",
                                         "litert:builtin x2"]
    assert chosen[2].open_options() == {"kernels": "builtin", "threads": 1}
    keras = targets.parse("keras", settings, {"tflite"})
    assert [t.label for t in keras] == ["keras:cpu", "keras:gpu"]  # TF's pools: threads do not apply
    defaults = {t.name for t in targets.parse(None, TargetSettings(), {"tflite", "onnx"})}
    assert {"keras:cpu", "litert:xnnpack", "litert:builtin", "litert-compiled:cpu", "litert-compiled:gpu",
            "litert-compiled:npu", "onnxruntime:cpu", "onnxruntime:cuda"} <= defaults
    assert "onnxruntime:azure" not in defaults  # a cloud endpoint, not a device here


@pytest.mark.parametrize("spec, words", [
    ("tflite:fast", "unknown runtime"),
    ("litert:gpu", "xnnpack"),
    ("keras:tpu", "cpu or gpu"),
    ("litert-compiled:dsp", "cpu, gpu or npu"),
    ("onnxruntime:warp", "no such execution provider"),
    ("litert:delegate", "--delegate"),
    (",", "empty"),
])
def test_bad_target_names_say_what_is_wrong(spec, words):
    with pytest.raises(EdgekitError, match=words):
        targets.parse(spec, TargetSettings(), {"tflite", "onnx"})


@pytest.mark.parametrize("text", ["0", "-1", "1,x", ""])
def test_bad_thread_counts(text):
    with pytest.raises(EdgekitError, match="threads="):
        targets.parse_threads(text)


def test_delegate_options_are_key_value():
    assert targets.parse_options(["device=usb", "a = b"], "--delegate-option") == (("device", "usb"), ("a", "b"))
    with pytest.raises(EdgekitError, match="key=value"):
        targets.parse_options(["novalue"], "--delegate-option")


class SyntheticStream:
    """A session whose calls take the durations a generator draws, on a clock it advances itself:
    the timing loop sees exactly those durations and no real time passes."""

    def __init__(self, durations_s):
        self.durations = iter(durations_s)
        self.now_ns = 0
        self.calls = 0

    def perf_counter_ns(self):
        return self.now_ns

    def monotonic(self):
        return self.now_ns / 1e9

    def bind(self, prepared):
        pass

    def invoke(self):
        self.calls += 1
        self.now_ns += int(next(self.durations) * 1e9)


def timed(monkeypatch, durations_s, **kwargs):
    stream = SyntheticStream(durations_s)
    monkeypatch.setattr(timing, "time", stream)
    times, why = timing.time_until_stable(stream, [None], kwargs.pop("warmup", 20), kwargs.pop("seconds", 5.0),
                                          **kwargs)
    return stream, times, why


def test_adaptive_runs_stop_as_soon_as_a_steady_median_is_pinned_down(monkeypatch):
    rng = np.random.default_rng(1)
    stream, times, why = timed(monkeypatch, 100e-6 * (1 + 0.01 * rng.standard_normal(10**6)))
    assert why == "precise"
    assert len(times) == timing.MIN_AUTO_RUNS  # ±1% noise: the first look already pins it to ±2%
    assert timing.median_ci(times) <= timing.PRECISION
    assert np.median(times) == pytest.approx(100_000, rel=0.02)


def test_adaptive_runs_on_a_noisy_stream_take_as_many_runs_as_the_interval_needs(monkeypatch):
    # uniform 50..150 us: the median's 95% interval is about ±0.98/sqrt(n) of it, so ±2% needs
    # about 2,400 runs; a fixed 200 runs would have left it at ±7%
    rng = np.random.default_rng(2)
    stream, times, why = timed(monkeypatch, rng.uniform(50e-6, 150e-6, 10**6))
    assert why == "precise"
    assert 1500 < len(times) < 4000
    assert timing.median_ci(times) <= timing.PRECISION
    assert timing.median_ci(times[:200]) > 0.05
    assert np.median(times) == pytest.approx(100_000, rel=0.03)


def test_a_slow_kernel_stops_at_its_time_share_after_three_runs(monkeypatch):
    stream, times, why = timed(monkeypatch, [0.4] * 1000, seconds=1.5)
    assert why == "share"
    assert len(times) == timing.MIN_SHARE_RUNS
    assert stream.calls == 1 + 3  # one warm-up call (the warm-up gets a quarter of the share), three timed
    assert stream.monotonic() <= 1.5 + 0.4  # the share, overrun by one call at most


def test_a_median_that_never_settles_stops_at_the_share_or_the_run_cap(monkeypatch):
    # bimodal: half the calls 50 us, half 150 us, so the median jumps between the modes
    rng = np.random.default_rng(3)
    bimodal = np.where(rng.random(10**6) < 0.5, 50e-6, 150e-6)
    stream, times, why = timed(monkeypatch, bimodal, seconds=0.05)
    assert why == "share" and stream.monotonic() <= 0.05 + 150e-6
    stream, times, why = timed(monkeypatch, bimodal, seconds=1e9, runs=500)
    assert why == "runs" and len(times) == 500


def test_throughput_stops_at_its_deadline(monkeypatch):
    stream = SyntheticStream([0.1] * 1000)
    monkeypatch.setattr(timing, "time", stream)
    times = timing.time_invocations(stream, [None], 100, 2, until=0.55)
    assert stream.calls == 6 and len(times) == 4  # two warm-up calls, then timed calls until 0.55 s passed


class SlowSession:
    """A session whose every call sleeps `per_sample` seconds per sample: a big model on slow kernels."""

    def __init__(self, per_sample):
        from edgekit.core.artifacts import TensorSpec
        from edgekit.runtimes.base import Session

        class Slow(Session):
            batch = 1

            def _prepare_impl(self, feeds):
                return feeds["x"]

            def _bind_impl(self, prepared):
                self.bound = prepared

            def _invoke_impl(self):
                self.samples_run += len(self.bound)
                time.sleep(per_sample * len(self.bound))

            def _fetch_impl(self):
                return {"y": self.bound * 2}

            def _finish_impl(self, raw):
                return raw

            def _resize_impl(self, batch):
                self.batch = batch

            def close(self):
                pass

        self.session = Slow()
        self.session.samples_run = 0  # the work done, which the bounds are judged by: sleep can overrun
        self.session.inputs = [TensorSpec("x", "float32", (None, 3))]
        self.session.outputs = [TensorSpec("y", "float32", (None, 3))]

    def __call__(self):
        return self.session


def test_a_slow_pair_s_throughput_and_evaluation_stay_within_its_share():
    from edgekit.measure import harness

    feeds = [{"x": np.ones((1, 3), np.float32)}]
    eval_inputs = {"x": np.arange(300, dtype=np.float32).reshape(100, 3)}
    slow = SlowSession(0.02)
    found, outputs = harness.measure(slow, feeds, eval_inputs, None, 20, 32, share=0.4)
    latency, throughput = found["latency_us"], found["throughput"]
    assert latency["stopped_by"] == "precise" or latency["stopped_by"] == "share"
    fits = int(0.4 / 4 / (latency["p50"] / 1e6))  # a quarter of the share, at the call time measured (~20 ms)
    assert throughput["batch"] == fits < 32 and "below batch 32" in throughput["note"]
    evaluated = len(outputs["y"])
    assert harness.MIN_EVALUATED <= evaluated < 100  # stopped at the share, after the minimum
    np.testing.assert_array_equal(outputs["y"], eval_inputs["x"][:evaluated] * 2)  # the first samples, in order
    # the work the session was given, 20 ms a sample: within the share it is ~0.4 s of latency runs,
    # 0.2 s of throughput and 0.4 s of evaluation; 100 samples alone are 2 s, batch-32 throughput 0.64 s a call
    assert slow.session.samples_run * 0.02 < 1.5


def test_rounds_give_the_median_rounds_figures_and_each_rounds_latency():
    from edgekit.workflows.bench import with_rounds

    rounds = [{"p50": 5.4, "p99": 9.0}, {"p50": 3.6, "p99": 4.0}, {"p50": 3.7, "p99": 4.4}]
    assert with_rounds(rounds) == {"p50": 3.7, "p99": 4.4, "rounds": [5.4, 3.6, 3.7]}  # one distribution's figures
    assert with_rounds(rounds[:2])["p50"] == 3.6  # an even count: the lower middle round
    means = [{"statistic": "mean", "mean": m} for m in (7.0, 6.0, 9.0)]  # a phone's benchmark_model rows
    assert with_rounds(means) == {"statistic": "mean", "mean": 7.0, "rounds": [7.0, 6.0, 9.0]}
