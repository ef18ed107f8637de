import contextlib
import errno
import json
import os
import subprocess
import sys
import tempfile

import pytest

from edgekit.core.artifacts import atomic_write_bytes, new_manifest, sha256_of
from edgekit.core.errors import EdgekitError
from edgekit.core.outputs import check_output_file, check_output_parent, staged_folder, write_output_file
from tests.conftest import tmpfs


def edgekit_output(folder, manifest_name="manifest.json", **fields):
    """A folder as a previous edgekit run left it: a file and its manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "old.tflite").write_bytes(b"old")
    (folder / manifest_name).write_text(json.dumps(new_manifest(name=folder.name, **fields)))
    return folder


def state(folder):
    """Every path under `folder`, hidden ones too, with the bytes of each file."""
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


def test_staged_folder_replaces_an_edgekit_output_whole_on_success(tmp_path):
    final = edgekit_output(tmp_path / "out" / "m")
    with staged_folder(final) as stage:
        atomic_write_bytes(stage / "new.tflite", b"new")
        assert not (final / "new.tflite").exists()  # nothing visible until the end
    assert sorted(os.listdir(final)) == ["new.tflite"]
    assert sorted(os.listdir(final.parent)) == ["m"]  # no staging, temporary, old or lock file left


@pytest.mark.parametrize("manifest_name, fields", [("optimization.json", {}), ("tune.json", {"kind": "edgekit tune"})])
def test_what_optimize_and_tune_write_is_edgekits_to_replace(tmp_path, manifest_name, fields):
    final = edgekit_output(tmp_path / "m", manifest_name, **fields)
    with staged_folder(final) as stage:
        (stage / "new.keras").write_bytes(b"new")
    assert os.listdir(final) == ["new.keras"]


def test_an_empty_folder_is_replaced(tmp_path):
    (tmp_path / "m").mkdir()
    with staged_folder(tmp_path / "m") as stage:
        (stage / "a").write_bytes(b"a")
    assert os.listdir(tmp_path / "m") == ["a"]


def test_staged_folder_keeps_previous_contents_on_failure(tmp_path):
    final = edgekit_output(tmp_path / "m")
    before = state(tmp_path)
    with pytest.raises(RuntimeError):
        with staged_folder(final) as stage:
            (stage / "half.tflite").write_bytes(b"half")
            raise RuntimeError("conversion failed")
    assert state(tmp_path) == before


@pytest.mark.parametrize("manifest", [None, "{}", '{"edgekit_version": 1}', "not json", '["edgekit_version"]'])
def test_a_folder_edgekit_did_not_write_is_refused_before_the_run(tmp_path, manifest):
    final = tmp_path / "m"
    final.mkdir()
    (final / "thesis.tex").write_text("years of work")
    if manifest is not None:
        (final / "manifest.json").write_text(manifest)
    before = state(tmp_path)
    with pytest.raises(EdgekitError, match="did not write") as error:
        with staged_folder(final):
            pytest.fail("the run must not start")
    assert str(final) in str(error.value)
    assert state(tmp_path) == before


def test_a_folder_changed_during_the_run_is_refused_at_the_swap(tmp_path):
    final = edgekit_output(tmp_path / "m")
    with pytest.raises(EdgekitError, match="did not write"):
        with staged_folder(final) as stage:
            (stage / "new.tflite").write_bytes(b"new")
            (final / "manifest.json").unlink()  # the user replaced the old output with their own files
            (final / "notes.txt").write_text("mine")
    assert sorted(os.listdir(final)) == ["notes.txt", "old.tflite"]
    assert sorted(os.listdir(tmp_path)) == ["m"]


def test_a_symlink_where_the_output_folder_goes_is_refused(tmp_path):
    target = edgekit_output(tmp_path / "elsewhere")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "m").symlink_to(target)
    before = state(tmp_path)
    with pytest.raises(EdgekitError, match="is a symlink"):
        with staged_folder(tmp_path / "out" / "m"):
            pytest.fail("the run must not start")
    assert os.path.islink(tmp_path / "out" / "m") and state(tmp_path) == before


def test_an_output_folder_that_is_holds_or_lies_inside_an_input_is_refused(tmp_path):
    (tmp_path / "proj" / "net").mkdir(parents=True)
    (tmp_path / "proj" / "net" / "model.keras").write_bytes(b"model")
    (tmp_path / "sm" / "variables").mkdir(parents=True)
    (tmp_path / "sm" / "saved_model.pb").write_bytes(b"graph")
    (tmp_path / "alias").symlink_to(tmp_path / "proj")
    before = state(tmp_path)
    refusals = [
        (tmp_path / "proj" / "net", tmp_path / "proj" / "net" / "model.keras", "holds"),
        (tmp_path / "alias" / "net", tmp_path / "proj" / "net" / "model.keras", "holds"),  # compared resolved
        (tmp_path / "sm", tmp_path / "sm", "is"),
        (tmp_path / "sm" / "x" / "sm", tmp_path / "sm", "lies inside"),
    ]
    for final, model, relation in refusals:
        with pytest.raises(EdgekitError, match=f"{relation} the model") as error:
            with staged_folder(final, [("model", model), ("calibration data", None)]):
                pytest.fail("the run must not start")
        assert str(final) in str(error.value) and str(model) in str(error.value)
    assert state(tmp_path) == before
    with staged_folder(tmp_path / "out" / "net", [("model", tmp_path / "proj" / "net" / "model.keras")]) as stage:
        (stage / "a").write_bytes(b"a")  # a folder apart from the model is fine


def test_a_file_output_that_is_an_input_is_refused(tmp_path):
    (tmp_path / "model.keras").write_bytes(b"model")
    (tmp_path / "images").mkdir()
    with pytest.raises(EdgekitError, match="would change the model"):
        check_output_file(tmp_path / "model.keras", "--json", [("model", tmp_path / "model.keras")])
    with pytest.raises(EdgekitError, match="lies inside the data"):
        check_output_file(tmp_path / "images" / "r.json", "--json", [("data", tmp_path / "images")])
    assert check_output_file(tmp_path / "r.json", "--json", [("model", tmp_path / "model.keras")])


def test_a_second_run_into_the_same_folder_fails_at_once_and_the_first_goes_on(tmp_path):
    final = edgekit_output(tmp_path / "m")
    with staged_folder(final) as stage:
        with pytest.raises(EdgekitError, match=f"another edgekit run \\(pid {os.getpid()}\\) is writing it"):
            with staged_folder(final):
                pytest.fail("the second run must not start")
        edgekit_output(stage)
    assert os.listdir(tmp_path) == ["m"]
    with staged_folder(final) as stage:  # the lock is free again
        (stage / "second.tflite").write_bytes(b"second")
    assert os.listdir(final) == ["second.tflite"]


def test_what_a_killed_run_left_is_cleared_and_unrelated_names_are_not(tmp_path):
    final = edgekit_output(tmp_path / "m")
    for name in (".m.staging-abcd1234", ".m.tmp-abcd_123", ".m.old-zz99zz99"):
        (tmp_path / name / "x").mkdir(parents=True)
    (tmp_path / ".m.lock").write_text("12345")  # a killed run's lock file: no process holds it
    kept = [".m2.staging-abcd1234", ".m.staging-short", "m.staging-abcd1234"]
    for name in kept:
        (tmp_path / name).mkdir()
    with staged_folder(final) as stage:
        (stage / "new.tflite").write_bytes(b"new")
    assert sorted(os.listdir(tmp_path)) == sorted(["m", *kept])
    assert os.listdir(final) == ["new.tflite"]


def test_a_kill_between_the_two_renames_is_undone(tmp_path):
    """Killed after the previous output moved into .m.old-*/m and before the new one moved in:
    the next run puts the previous output back first, and keeps it if it fails itself."""
    previous = edgekit_output(tmp_path / "m")
    before = state(previous)
    (tmp_path / ".m.old-a1b2c3d4").mkdir()
    os.replace(previous, tmp_path / ".m.old-a1b2c3d4" / "m")
    (tmp_path / ".m.staging-e5f6g7h8").mkdir()  # the new output, never moved in
    with pytest.raises(RuntimeError):
        with staged_folder(tmp_path / "m"):
            assert state(tmp_path / "m") == before  # restored before the run starts
            raise RuntimeError("this run fails too")
    assert os.listdir(tmp_path) == ["m"] and state(tmp_path / "m") == before


def test_a_run_keeps_its_temporary_files_beside_the_output_and_removes_them(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "system-tmp"))
    (tmp_path / "system-tmp").mkdir()
    final = tmp_path / "out" / "m"
    with staged_folder(final):
        scratch = tempfile.mkdtemp(prefix="edgekit-savedmodel-")  # as SourceModel.saved_model_dir does
        assert os.path.dirname(os.path.dirname(scratch)) == str(final.parent)
        assert os.environ["TMPDIR"] == os.path.dirname(scratch)  # native code and child processes too
    assert os.environ["TMPDIR"] == str(tmp_path / "system-tmp") and tempfile.gettempdir() != os.path.dirname(scratch)
    assert os.listdir(final.parent) == ["m"] and os.listdir(tmp_path / "system-tmp") == []


def test_an_interrupt_recorded_during_the_run_stops_it_before_the_swap(tmp_path):
    """The commit check: an interrupt a library swallowed (here: one that arrives while
    interrupts are deferred) stops the run at the swap, and the previous output stays."""
    script = f"""
import os, signal
from pathlib import Path
from edgekit.core import interrupts
from edgekit.core.outputs import staged_folder
interrupts.install()
try:
    with staged_folder(Path({str(tmp_path / 'm')!r})) as stage:
        (stage / "new.tflite").write_bytes(b"new")
        with interrupts.deferred():
            os.kill(os.getpid(), signal.SIGTERM)
        print("the run went on")
except KeyboardInterrupt:
    print("stopped at the swap")
"""
    edgekit_output(tmp_path / "m")
    before = state(tmp_path)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.stdout.split("\n")[:2] == ["the run went on", "stopped at the swap"], result.stderr
    assert state(tmp_path) == before


def test_output_path_that_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(EdgekitError, match="is a file"):
        check_output_parent(tmp_path / "file" / "m")


def test_output_paths_through_a_broken_symlink_are_refused_in_one_line(tmp_path):
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "loop").symlink_to("loop")
    with pytest.raises(EdgekitError, match="dangling is a symlink to .*nowhere, which does not exist"):
        check_output_parent(tmp_path / "dangling" / "m")
    with pytest.raises(EdgekitError, match="loop is a symlink loop"):
        check_output_parent(tmp_path / "loop" / "deeper" / "m")
    with pytest.raises(EdgekitError, match="does not exist"):
        check_output_file(tmp_path / "dangling", "--json")
    assert not (tmp_path / "nowhere").exists()


def test_names_too_long_for_edgekits_temporary_names_are_refused(tmp_path):
    with pytest.raises(EdgekitError, match="has a name too long"):
        check_output_parent(tmp_path / ("o" * 300) / "m")
    with pytest.raises(EdgekitError, match="240 bytes.* at most 237"):
        with staged_folder(tmp_path / ("m" * 240)):
            pass
    with pytest.raises(EdgekitError, match="250 bytes"):
        check_output_file(tmp_path / ("r" * 245 + ".json"), "--json")
    assert os.listdir(tmp_path) == []
    with staged_folder(tmp_path / ("m" * 237)) as stage:  # the longest that fits
        (stage / "a").write_bytes(b"a")


def test_a_read_only_file_system_is_refused_early(tmp_path):
    with tmpfs(tmp_path / "rofs", "size=64k,ro") as rofs:
        with pytest.raises(EdgekitError, match="not writable \\(Read-only file system\\)"):
            with staged_folder(rofs / "m"):
                pytest.fail("the run must not start")


def test_a_full_disk_is_refused_early_and_running_out_of_space_is_one_clear_error(tmp_path):
    with tmpfs(tmp_path / "small", "size=64k") as small:
        final = edgekit_output(small / "m")
        before = state(small)
        with pytest.raises(EdgekitError, match=f"output folder {small} has no space left") as error:
            with staged_folder(final) as stage:
                atomic_write_bytes(stage / "big.tflite", b"\0" * 200_000)
        assert isinstance(error.value.__cause__, OSError) and error.value.__cause__.errno == errno.ENOSPC
        assert state(small) == before  # no debris: staging, temporary folder and lock are gone
        with pytest.raises(EdgekitError, match="report.md has no space left on its device"):
            write_output_file(small / "report.md", "x" * 200_000)
        _fill(small)
        with pytest.raises(EdgekitError, match=f"output folder {small} has no space left"):
            with staged_folder(small / "n"):
                pytest.fail("the run must not start")


def _fill(folder):
    with contextlib.suppress(OSError), open(folder / "filler", "wb") as fh:
        while True:
            fh.write(b"\0" * 4096)
            fh.flush()


def test_atomic_write_leaves_no_temp_file_and_normal_mode(tmp_path):
    path = atomic_write_bytes(tmp_path / "a.bin", b"data")
    assert os.listdir(tmp_path) == ["a.bin"] and path.read_bytes() == b"data"
    assert path.stat().st_mode & 0o044  # readable by others under a usual umask


def test_sha256_of_folder_depends_on_names_and_contents(tmp_path):
    (tmp_path / "a").write_text("1")
    first = sha256_of(tmp_path)
    (tmp_path / "a").rename(tmp_path / "b")
    assert sha256_of(tmp_path) != first
