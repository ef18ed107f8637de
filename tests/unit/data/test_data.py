import os
import warnings

import numpy as np
import pytest
from PIL import Image

from edgekit.core import limits
from edgekit.core.artifacts import TensorSpec
from edgekit.core.errors import EdgekitError
from edgekit.data.calibration import load_calibration
from edgekit.data.datasets import cifar10, digits, load_labelled
from edgekit.measure.memory import PeakMemory
from tests.corpus.make_corpus import blank_png
from tests.require import unavailable

IMAGE = [TensorSpec("image", "float32", (None, 8, 8, 1))]
TWO = [TensorSpec("a", "float32", (None, 4)), TensorSpec("b", "float32", (None, 3))]


def test_npz_keyed_by_input_name(tmp_path):
    np.savez(tmp_path / "c.npz", a=np.ones((5, 4)), b=np.zeros((5, 3)))
    got = load_calibration(tmp_path / "c.npz", TWO)
    assert got["a"].shape == (5, 4) and got["a"].dtype == np.float32 and got["b"].shape == (5, 3)


def test_npz_single_array_any_key_and_npy(tmp_path):
    np.savez(tmp_path / "c.npz", whatever=np.ones((3, 8, 8, 1)))
    np.save(tmp_path / "c.npy", np.ones((4, 8, 8, 1), np.float64))
    assert load_calibration(tmp_path / "c.npz", IMAGE)["image"].shape == (3, 8, 8, 1)
    assert load_calibration(tmp_path / "c.npy", IMAGE)["image"].dtype == np.float32


def test_integer_data_is_cast_and_max_samples_applies(tmp_path):
    np.save(tmp_path / "c.npy", np.ones((10, 8, 8, 1), np.uint8))
    got = load_calibration(tmp_path / "c.npy", IMAGE, max_samples=3)
    assert got["image"].shape == (3, 8, 8, 1) and got["image"].dtype == np.float32


def test_image_folder_is_resized_and_scaled(tmp_path):
    for i, value in enumerate((0, 255)):
        Image.fromarray(np.full((20, 30), value, np.uint8)).save(tmp_path / f"{i}.png")
    Image.fromarray(np.full((5, 5, 3), 255, np.uint8)).save(tmp_path / "rgb.jpg")
    got = load_calibration(tmp_path, IMAGE)["image"]
    assert got.shape == (3, 8, 8, 1)
    assert got.min() == 0.0 and got.max() == pytest.approx(1.0)
    assert load_calibration(tmp_path, IMAGE, image_range=(-1.0, 1.0))["image"].min() == -1.0


@pytest.mark.parametrize("make, message", [
    (lambda p: np.save(p / "c.npy", np.zeros((0, 8, 8, 1))), "empty"),
    (lambda p: np.save(p / "c.npy", np.zeros((4, 8, 8))), r"shape \(4, 8, 8\).*needs \(N, 8, 8, 1\)"),
    (lambda p: np.save(p / "c.npy", np.zeros((4, 7, 8, 1))), "shape"),
    (lambda p: np.save(p / "c.npy", np.array([np.nan] * 64, np.float32).reshape(1, 8, 8, 1)), "NaN or inf"),
    (lambda p: np.save(p / "c.npy", np.full((2, 8, 8, 1), np.inf)), "NaN or inf"),
    (lambda p: np.save(p / "c.npy", np.full((2, 8, 8, 1), "x")), "must be numeric"),
    (lambda p: np.save(p / "c.npy", np.array([{"a": 1}], dtype=object)), "not a readable .npy"),
    (lambda p: np.savez(p / "c.npz", x=np.ones((2, 8, 8, 1)), y=np.ones((2, 8, 8, 1))), "expected one per model input"),
    (lambda p: np.savez(p / "c.npz"), "holds no arrays"),
    (lambda p: (p / "c.npy").write_bytes(b"garbage"), "not a readable .npy"),
    (lambda p: (p / "c.csv").write_text("1,2"), "unsupported format"),
])
def test_bad_calibration_data_is_a_clear_error(tmp_path, make, message):
    make(tmp_path)
    (path,) = list(tmp_path.iterdir())
    with pytest.raises(EdgekitError, match=message):
        load_calibration(path, IMAGE)


def test_image_folder_with_a_non_image_file(tmp_path):
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "ok.png")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(EdgekitError, match="notes.txt is not an image"):
        load_calibration(tmp_path, IMAGE)
    (tmp_path / "notes.txt").unlink()
    (tmp_path / "fake.png").write_bytes(b"not a png")
    with pytest.raises(EdgekitError, match="fake.png cannot be read"):
        load_calibration(tmp_path, IMAGE)


def test_npz_for_two_inputs_must_name_both(tmp_path):
    np.savez(tmp_path / "c.npz", a=np.ones((5, 4)))
    with pytest.raises(EdgekitError, match="expected one per model input: a, b"):
        load_calibration(tmp_path / "c.npz", TWO)
    np.savez(tmp_path / "d.npz", a=np.ones((5, 4)), b=np.ones((6, 3)))
    with pytest.raises(EdgekitError, match="different sample counts"):
        load_calibration(tmp_path / "d.npz", TWO)


def test_missing_calibration(tmp_path):
    with pytest.raises(EdgekitError, match="does not exist"):
        load_calibration(tmp_path / "nope.npz", IMAGE)


def test_digits_split_is_the_real_dataset_and_stable():
    data = digits(0)
    x_train, y_train, x_test, y_test = data.x_train, data.y_train, data.x_test, data.y_test
    assert x_train.shape == (1437, 8, 8, 1) and x_test.shape == (360, 8, 8, 1)
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0
    assert sorted(set(y_test.tolist())) == list(range(10))
    np.testing.assert_array_equal(digits(0).y_test, y_test)


@pytest.fixture
def data_limit():
    """Set the process's data limit for one test, and restore the environment's afterwards."""
    yield lambda text: limits.configure({"data_bytes": text})
    limits.configure({})


def test_an_image_too_big_to_decode_is_refused_from_its_header(tmp_path, data_limit):
    """18 KB on disk, 12000x12000 pixels: refused before a pixel is decoded. Decoding it (with a
    limit that allows it) takes 144 MB or more of resident memory; the refusal takes almost none."""
    (tmp_path / "huge.png").write_bytes(blank_png(12000, 12000))
    data_limit("100MB")
    with PeakMemory() as refused:
        with pytest.raises(EdgekitError, match=r"huge.png is 12000x12000 pixels, 274.7 MB to decode, over the "
                                               r"100.0 MB limit: shrink it or raise EDGEKIT_MAX_DATA_SIZE"):
            load_calibration(tmp_path, IMAGE)
    if not refused.scoped:
        unavailable("clear_refs", "no per-block peak memory on this system (Linux's clear_refs)")
    data_limit("1GB")
    with PeakMemory() as decoded:
        assert load_calibration(tmp_path, IMAGE, min_samples=1)["image"].shape == (1, 8, 8, 1)
    assert refused.record()["peak_over_start_bytes"] < 20 << 20 < 140 << 20 < decoded.record()["peak_over_start_bytes"]


def test_pillows_bomb_bound_is_one_line_and_its_warning_no_second_line(tmp_path, monkeypatch):
    """Pillow warns past MAX_IMAGE_PIXELS and refuses past twice that; scaled down here to 1000
    pixels. The warning would be a second line on stderr: the data limit is the bound instead."""
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    (tmp_path / "warned.png").write_bytes(blank_png(40, 40))  # 1600 pixels: a warning only
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning fails the test
        assert load_calibration(tmp_path, IMAGE)["image"].shape == (1, 8, 8, 1)
    (tmp_path / "bomb.png").write_bytes(blank_png(50, 50))  # 2500 pixels: Pillow refuses to open it
    with pytest.raises(EdgekitError, match="bomb.png has more pixels than Pillow will decode") as caught:
        load_calibration(tmp_path, IMAGE)
    assert "\n" not in str(caught.value)


def test_fifos_and_devices_are_refused_as_data_before_anything_opens_them(tmp_path):
    """Opening a FIFO for reading waits for a writer for ever: each is refused from its stat."""
    for name in ("c.npy", "c.npz"):
        os.mkfifo(tmp_path / name)
        with pytest.raises(EdgekitError, match=f"calibration data {tmp_path / name} is a FIFO, not a regular file"):
            load_calibration(tmp_path / name, IMAGE)
    with pytest.raises(EdgekitError, match="training data .*c.npz is a FIFO"):
        load_labelled(tmp_path / "c.npz", ["image"])
    with pytest.raises(EdgekitError, match="/dev/null is a character device"):
        load_calibration("/dev/null", IMAGE)
    folder = tmp_path / "images"
    folder.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(folder / "ok.png")
    os.mkfifo(folder / "stuck.png")
    with pytest.raises(EdgekitError, match="stuck.png is a FIFO, not an image file"):
        load_calibration(folder, IMAGE)
    (folder / "stuck.png").unlink()
    (folder / "gone.png").symlink_to(tmp_path / "nowhere.png")
    with pytest.raises(EdgekitError, match="gone.png is a link to nothing"):
        load_calibration(folder, IMAGE)


def test_cifar_batches_are_held_to_the_data_limit_before_unpickling(tmp_path, data_limit):
    import pickle

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batch = {b"data": np.zeros((10, 3072), np.uint8), b"labels": [0] * 10}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    data_limit("100KB")  # a batch is 31 KB, five times that as uint8 and float32 arrays
    with pytest.raises(EdgekitError, match="over the 100.0 KB limit"):
        cifar10(folder)
    data_limit("10MB")
    assert cifar10(folder).x_test.shape == (10, 32, 32, 3)
