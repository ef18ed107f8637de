"""A long TensorFlow step's child process: a real native abort (os.abort() in a real child) is
retried once without oneDNN and reported, or becomes one line; the child's files live only while
the caller reads them."""

import pytest

from edgekit.core.errors import EdgekitError
from edgekit.workflows import tensorflow_child

CHILD = "tests.unit.workflows.aborting_child"


def run(request, onednn=True):
    said = []
    with tensorflow_child.run(CHILD, request, said.append, verbose=False, onednn=onednn) as child:
        made = (child.scratch / "made.txt").read_text()
        scratch = child.scratch
    assert made == "made" and not scratch.exists()  # the child's files, removed after the block
    return child, said


def test_a_step_that_runs_reports_its_log_and_result_with_onednn_on(monkeypatch):
    monkeypatch.delenv(tensorflow_child.ONEDNN_ENV, raising=False)
    child, said = run({"do": "run"})
    assert child.result == {"onednn": True} and child.onednn == "on" and child.note is None
    assert said == ["oneDNN on"]  # the library's print is not relayed as a message


def test_a_native_abort_with_onednn_is_retried_without_it_and_said(monkeypatch):
    monkeypatch.delenv(tensorflow_child.ONEDNN_ENV, raising=False)
    child, said = run({"do": "abort"})
    assert child.result == {"onednn": False} and child.onednn == "off after a crash (SIGABRT)"
    assert child.note == ("TensorFlow's oneDNN kernels crashed on this model (SIGABRT); retried without them: "
                          "slower, same results")
    assert said == ["oneDNN on", f"  {child.note}", "oneDNN off"]


def test_an_abort_with_and_without_onednn_is_one_line_naming_the_step_both_attempts_and_the_reason(monkeypatch):
    monkeypatch.delenv(tensorflow_child.ONEDNN_ENV, raising=False)
    with pytest.raises(EdgekitError) as caught:
        run({"do": "abort", "always": True})
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("fine-tuning (pruning to 50%) crashed with SIGABRT in TensorFlow's native code with "
                              "oneDNN on (munmap_chunk(): invalid pointer), and again with it off")
    assert "the output folder is unchanged" in message


@pytest.mark.parametrize("turned_off", ["argument", "environment"])
def test_with_onednn_off_from_the_start_an_abort_is_not_retried(monkeypatch, turned_off):
    if turned_off == "environment":
        monkeypatch.setenv(tensorflow_child.ONEDNN_ENV, "0")
    else:
        monkeypatch.delenv(tensorflow_child.ONEDNN_ENV, raising=False)
    child, _ = run({"do": "run"}, onednn=turned_off == "environment")
    assert child.result == {"onednn": False}
    assert child.onednn == ("off (TF_ENABLE_ONEDNN_OPTS=0)" if turned_off == "environment" else "off (no_onednn=True)")
    with pytest.raises(EdgekitError, match=r"^fine-tuning \(pruning to 50%\) crashed with SIGABRT in TensorFlow's "
                                           r"native code \(munmap_chunk\(\): invalid pointer\), with oneDNN off"):
        run({"do": "abort", "always": True}, onednn=turned_off == "environment")


def test_the_childs_own_error_is_its_line_and_a_bug_stays_a_bug():
    with pytest.raises(EdgekitError, match="^model m cannot be pruned: give another$"):
        run({"do": "refuse"})
    with pytest.raises(RuntimeError, match="exited with status 70: KeyError: 'a bug'"):
        run({"do": "bug"})
