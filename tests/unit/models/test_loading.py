import numpy as np
import pytest

from edgekit.core.errors import EdgekitError
from edgekit.models.loading import KERAS3, SAVEDMODEL, TF_KERAS, detect_flavour, load_model

FLAVOURS = {"tf_keras_keras": TF_KERAS, "tf_keras_h5": TF_KERAS, "keras3_keras": KERAS3,
            "savedmodel": SAVEDMODEL}


@pytest.mark.parametrize("key", sorted(FLAVOURS))
def test_each_flavour_is_told_apart_by_contents(tiny, key):
    assert detect_flavour(tiny["paths"][key]) == FLAVOURS[key]


@pytest.mark.parametrize("key", sorted(FLAVOURS))
def test_each_flavour_loads_and_reproduces_the_original_outputs(tiny, key):
    with load_model(tiny["paths"][key]) as model:
        assert len(model.inputs) == 1 and model.inputs[0].shape == (None, 6, 6, 1)
        outputs = model.predict({model.inputs[0].name: tiny["x"]})
        (got,) = outputs.values()
        np.testing.assert_allclose(got, tiny["expected"][key], atol=1e-5)
        assert model.saved_model_dir().joinpath("saved_model.pb").is_file()


def test_keras_names_are_kept(tiny):
    with load_model(tiny["paths"]["tf_keras_keras"]) as model:
        assert [t.name for t in model.inputs] == ["pixels"]
        assert [t.name for t in model.outputs] == ["scores"]
    with load_model(tiny["paths"]["two_io"]) as model:
        assert [t.name for t in model.inputs] == ["a", "b"]
        assert [t.name for t in model.outputs] == ["first", "second"]


@pytest.mark.parametrize("key", ["lambda_tf_keras", "lambda_h5", "lambda_keras3"])
def test_lambda_is_refused_unless_trusted(tiny, key):
    with pytest.raises(EdgekitError, match="trust_model_code=True") as err:
        load_model(tiny["paths"][key])
    assert "Lambda layer" in str(err.value)
    with load_model(tiny["paths"][key], trust_model_code=True) as model:
        out = model.predict({model.inputs[0].name: np.ones((2, 3), np.float32)})
        np.testing.assert_allclose(next(iter(out.values())), 2.0)


@pytest.mark.parametrize("name, content, message", [
    ("empty.keras", b"", "empty file"),
    ("random.keras", b"\x00\x01 not a model" * 40, "neither a Keras zip"),
    ("random.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 64, "damaged HDF5"),
    ("model.tflite", b"TFL3", "already converted"),
])
def test_bad_model_files_are_clear_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(EdgekitError, match=message):
        load_model(path)


def test_truncated_keras_file(tiny, tmp_path):
    data = tiny["paths"]["tf_keras_keras"].read_bytes()
    path = tmp_path / "cut.keras"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(EdgekitError, match="cut.keras"):
        load_model(path)


def test_folder_that_is_not_a_savedmodel(tmp_path):
    with pytest.raises(EdgekitError, match="not a SavedModel"):
        load_model(tmp_path)


def test_missing_model(tmp_path):
    with pytest.raises(EdgekitError, match="no such file"):
        load_model(tmp_path / "nope.keras")


@pytest.mark.parametrize("key, name", [("tf_keras_h5", "model.hdf5"), ("tf_keras_h5", "model.bin"),
                                       ("tf_keras_keras", "model.bin"), ("keras3_keras", "weights"),
                                       ("keras3_keras", "model.hdf5.zip")])
def test_a_keras_file_is_known_by_its_content_whatever_its_name(tiny, tmp_path, key, name):
    """.hdf5 is HDF5 like .h5; a file whose name says nothing loads by what it holds (Keras's own
    loaders pick the format by the suffix), under the same trust checks."""
    from edgekit.models.loading import is_keras_file

    path = tmp_path / name
    path.write_bytes(tiny["paths"][key].read_bytes())
    assert is_keras_file(path) and detect_flavour(path) == FLAVOURS[key]
    with load_model(path) as model:
        (got,) = model.predict({model.inputs[0].name: tiny["x"]}).values()
        np.testing.assert_allclose(got, tiny["expected"][key], atol=1e-5)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # the link it loaded through is gone
    lam = tmp_path / "lambda.bin"
    lam.write_bytes(tiny["paths"]["lambda_h5"].read_bytes())
    with pytest.raises(EdgekitError, match="Lambda layer"):
        load_model(lam)


def test_other_files_are_not_keras_files(tmp_path):
    import zipfile

    from edgekit.models.loading import is_keras_file

    with zipfile.ZipFile(tmp_path / "notes.bin", "w") as archive:
        archive.writestr("notes.txt", "no config.json")
    (tmp_path / "model.tflite").write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(64))
    assert not any(is_keras_file(p) for p in (tmp_path / "notes.bin", tmp_path / "model.tflite", tmp_path))


def test_a_folder_holding_a_savedmodel_names_it(tiny):
    with pytest.raises(EdgekitError, match="not a SavedModel") as err:
        detect_flavour(tiny["root"])
    assert f"give the SavedModel folder in it, {tiny['paths']['needs_flex']}" in str(err.value)
