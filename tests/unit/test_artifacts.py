import os

import pytest

from edgekit.artifacts import atomic_write_bytes, check_output_parent, sha256_of, staged_folder
from edgekit.errors import EdgekitError


def test_staged_folder_replaces_whole_on_success(tmp_path):
    final = tmp_path / "out" / "m"
    final.mkdir(parents=True)
    (final / "old.tflite").write_bytes(b"old")
    with staged_folder(final) as stage:
        atomic_write_bytes(stage / "new.tflite", b"new")
        assert not (final / "new.tflite").exists()  # nothing visible until the end
    assert sorted(os.listdir(final)) == ["new.tflite"]
    assert sorted(os.listdir(final.parent)) == ["m"]  # no staging or old folders left


def test_staged_folder_keeps_previous_contents_on_failure(tmp_path):
    final = tmp_path / "m"
    final.mkdir()
    (final / "keep.tflite").write_bytes(b"keep")
    with pytest.raises(RuntimeError):
        with staged_folder(final) as stage:
            (stage / "half.tflite").write_bytes(b"half")
            raise RuntimeError("conversion failed")
    assert sorted(os.listdir(tmp_path)) == ["m"] and os.listdir(final) == ["keep.tflite"]


def test_atomic_write_leaves_no_temp_file_and_normal_mode(tmp_path):
    path = atomic_write_bytes(tmp_path / "a.bin", b"data")
    assert os.listdir(tmp_path) == ["a.bin"] and path.read_bytes() == b"data"
    assert path.stat().st_mode & 0o044  # readable by others under a usual umask


def test_output_path_that_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(EdgekitError, match="is a file"):
        check_output_parent(tmp_path / "file" / "m")


def test_sha256_of_folder_depends_on_names_and_contents(tmp_path):
    (tmp_path / "a").write_text("1")
    first = sha256_of(tmp_path)
    (tmp_path / "a").rename(tmp_path / "b")
    assert sha256_of(tmp_path) != first
