"""Bounded work and safe loading: limits, archive checks, the restricted unpickler, and
interrupts that a library swallows."""

import os
import pickle
import time
import zipfile

import numpy as np
import pytest

from edgekit.core import interrupts, limits
from edgekit.core.archives import check_zip
from edgekit.core.artifacts import TensorSpec
from edgekit.core.errors import BackendUnavailable, EdgekitError
from edgekit.data.calibration import load_calibration
from edgekit.models.loading import detect_flavour
from edgekit.runtimes.base import Runtime

PIXELS = [TensorSpec("pixels", "float32", (None, 8, 8, 1))]


def test_sizes_and_durations_parse_and_bad_ones_are_clear():
    assert limits.parse("size", "2GB", "x") == 2 << 30 and limits.parse("size", "1.5k", "x") == 1536
    assert limits.parse("duration", "90s", "x") == 90 and limits.parse("duration", "2m", "x") == 120
    for bad in ("lots", "-1GB", "0", "5 parsecs"):
        with pytest.raises(EdgekitError, match="not a positive"):
            limits.parse("size", bad, "--max-model-size")


def test_options_override_the_environment_which_overrides_the_defaults(monkeypatch):
    monkeypatch.setenv("EDGEKIT_MAX_MODEL_SIZE", "1MB")
    try:
        assert limits.configure({"model_bytes": None}).model_bytes == 1 << 20
        assert limits.configure({"model_bytes": "3MB"}).model_bytes == 3 << 20
        assert limits.configure({}).data_bytes == limits.Limits().data_bytes
    finally:
        limits._current = None


def test_model_file_over_the_limit_is_refused_before_loading(tmp_path, monkeypatch):
    model = tmp_path / "big.keras"
    with zipfile.ZipFile(model, "w") as archive:
        archive.writestr("config.json", "{}")
        archive.writestr("model.weights.h5", os.urandom(4096))
    monkeypatch.setenv("EDGEKIT_MAX_MODEL_SIZE", "2KB")
    with pytest.raises(EdgekitError, match="over the 2.0 KB limit: raise it with EDGEKIT_MAX_MODEL_SIZE"):
        detect_flavour(model)


def zip_of(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_archive_checks(tmp_path):
    ok = zip_of(tmp_path / "ok.zip", {"config.json": b"{}", "assets/a.txt": b"x"})
    assert len(check_zip(ok, "model", 1 << 20, "--max-model-size")) == 2
    for name in ("../up.txt", "/abs.txt", "a/../../up.txt", "C:/win.txt"):
        with pytest.raises(EdgekitError, match="refused"):
            check_zip(zip_of(tmp_path / "bad.zip", {name: b"x"}), "model", 1 << 20, "--max-model-size")
    link = zipfile.ZipInfo("link")
    link.external_attr = (0o120777 << 16)
    with zipfile.ZipFile(tmp_path / "link.zip", "w") as archive:
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(EdgekitError, match="symbolic link"):
        check_zip(tmp_path / "link.zip", "model", 1 << 20, "--max-model-size")
    bomb = zip_of(tmp_path / "bomb.zip", {"w": bytes(32 << 20)})
    with pytest.raises(EdgekitError, match="zip bomb"):
        check_zip(bomb, "model", 1 << 30, "--max-model-size")
    assert check_zip(bomb, "data", 1 << 30, "--max-data-size", check_ratio=False)  # zeros are fine data
    with pytest.raises(EdgekitError, match="over the 1.0 MB limit: raise --max-data-size"):
        check_zip(bomb, "data", 1 << 20, "--max-data-size", check_ratio=False)


def test_npy_header_is_checked_before_any_array_is_decoded(tmp_path, monkeypatch):
    np.save(tmp_path / "ok.npy", np.zeros((12, 8, 8, 1), np.float32))
    assert load_calibration(tmp_path / "ok.npy", PIXELS)["pixels"].shape == (12, 8, 8, 1)
    monkeypatch.setenv("EDGEKIT_MAX_DATA_SIZE", "1KB")
    with pytest.raises(EdgekitError, match="3.0 KB decoded, over the 1.0 KB limit"):
        load_calibration(tmp_path / "ok.npy", PIXELS)
    np.savez(tmp_path / "ok.npz", pixels=np.zeros((12, 8, 8, 1), np.float32))
    with pytest.raises(EdgekitError, match="over the 1.0 KB limit"):
        load_calibration(tmp_path / "ok.npz", PIXELS)


def test_object_arrays_are_never_unpickled(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}] * 3, dtype=object), allow_pickle=True)
    with pytest.raises(EdgekitError, match="not a readable .npy"):
        load_calibration(tmp_path / "objects.npy", PIXELS)


def test_the_benchmark_deadline_stops_the_timing_loop():
    from edgekit.measure.timing import time_invocations

    class Busy:  # a session whose every call takes 1 ms or more
        calls = 0

        def bind(self, prepared):
            pass

        def invoke(self):
            Busy.calls += 1
            time.sleep(0.001)

    with pytest.raises(limits.TimeLimitExceeded, match="the loop ran past its 0.2 s limit"):
        time_invocations(Busy(), [None], runs=100000, warmup=0, deadline=limits.Deadline(0.2, "the loop"))
    assert 0 < Busy.calls <= 200 + 1  # what fits in 0.2 s at 1 ms or more a call, not 100,000


def test_cifar_batches_unpickle_only_numpy_arrays(tmp_path):
    from edgekit.data.datasets import cifar10

    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    batch = {b"data": np.arange(2 * 3072, dtype=np.uint32).astype(np.uint8).reshape(2, 3072), b"labels": [1, 2]}
    for protocol in (2, 4, 5):
        folder = tmp_path / f"protocol-{protocol}"
        folder.mkdir()
        for name in names:
            (folder / name).write_bytes(pickle.dumps(batch, protocol=protocol))
        assert cifar10(folder).y_test.tolist() == [1, 2]

    class Hostile:
        def __reduce__(self):
            return (os.system, ("touch /tmp/edgekit-pwned",))

    (folder / "test_batch").write_bytes(pickle.dumps(Hostile()))
    with pytest.raises(EdgekitError, match=r"UnpicklingError: refused to load \w+\.system"):
        cifar10(folder)


def test_an_interrupt_a_backend_swallowed_still_stops_the_run(monkeypatch):
    class Flaky(Runtime):
        name = "flaky"

        def _available_impl(self):
            raise BackendUnavailable("initialization failed")  # what an interrupted import looks like

        def _open_impl(self, path, **options):
            raise AssertionError

    assert Flaky().available() == (False, "initialization failed")
    monkeypatch.setattr(interrupts, "_requested", True)
    with pytest.raises(KeyboardInterrupt):
        Flaky().available()
