"""A kernel that runs out of arena in its Prepare reports 'failed to prepare' too: that is a
matter of size (grow the arena), not a file TFLite Micro refuses."""

from pathlib import Path

from edgekit.runtimes import tflm

SHORT = ("Failed to allocate temp memory. Requested: 5124, available 3608, missing: 1516\n"
         "Node CONV_2D (number 61) failed to prepare with status 1\n")


def test_running_short_in_prepare_grows_the_arena(monkeypatch):
    tried = []

    def try_arena(path, arena, report=False):  # the model needs 200,000 bytes
        tried.append(arena)
        if arena < 200000:
            return False, SHORT
        return True, "[RecordingMicroAllocator] Arena allocation total 200000 bytes" if report else ""

    monkeypatch.setattr(tflm, "_try_arena", try_arena)
    session = object.__new__(tflm.TFLMSession)
    session.path = Path("model.tflite")
    assert session._smallest_arena() == (200000, 200000)
    assert tried[:2] == [1 << 16, 1 << 18]
