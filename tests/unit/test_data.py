import numpy as np
import pytest
from PIL import Image

from edgekit.artifacts import TensorSpec
from edgekit.data import load_calibration
from edgekit.datasets import digits
from edgekit.errors import EdgekitError

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
