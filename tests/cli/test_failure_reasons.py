"""Rows that did not run, and notes on rows that did, say what happened in words: never a raw
exception name or a C++ source location (those go to the record's `detail`, and --debug)."""

import json
import re

import pytest

from tests.conftest import run_cli

RAW = re.compile(r"\w+Error:|\.h:\d+|\.cc:\d+")


def texts(record: dict) -> list[str]:
    """What a row shows of a record: its reason and its notes."""
    found = [record.get("reason") or ""]
    found += [v for k, v in (record.get("throughput") or {}).items() if k == "note"]
    return found


def test_the_default_convert_explains_every_row(converted):
    records = json.loads((converted["folder"] / "results.json").read_text())["models"][0]["records"]
    for record in records:
        for text in texts(record):
            assert not RAW.search(text), (record["artifact"], record["target"], text)
    int16 = next(r for r in records if r["target"] == "litert-compiled:cpu"
                 and r["artifact"] == "digits_cnn_int16x8.tflite")
    assert int16["status"] == "failed" and "no int16 tensor buffers" in int16["reason"]
    assert "litert:xnnpack" in int16["reason"] and int16["detail"] == "ValueError: Unsupported dtype: int16"
    assert not RAW.search(converted["stdout"] + converted["stderr"])


@pytest.fixture(scope="module")
def batch_one_inside(tmp_path_factory):
    """A model with a free batch in its signature and a reshape to batch 1 inside: LiteRT refuses
    to resize it, and says so with a bare source location."""
    from edgekit.core.lazy_imports import tensorflow

    tf = tensorflow()
    weights = tf.constant(tf.random.stateless_uniform([64, 10], seed=[1, 2]))

    @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 1], tf.float32, name="x")])
    def classify(x):
        return {"y": tf.nn.softmax(tf.matmul(tf.reshape(x, [1, 64]), weights))}

    path = tmp_path_factory.mktemp("batch-one") / "batch_one.tflite"
    converter = tf.lite.TFLiteConverter.from_concrete_functions([classify.get_concrete_function()], classify)
    path.write_bytes(converter.convert())
    return path


@pytest.mark.slow
@pytest.mark.parametrize("debug", [False, True])
def test_a_refused_batch_is_explained_and_debug_shows_litert_words(batch_one_inside, tmp_path, debug):
    code, stdout, stderr = run_cli("bench", batch_one_inside, "--runtime", "litert-compiled:cpu,litert:xnnpack",
                                   "--runs", "5", "--warmup", "1", "--output", tmp_path / "r.json",
                                   *(["--debug"] if debug else []))
    assert code == 0, stderr
    records = json.loads((tmp_path / "r.json").read_text())["models"][0]["records"]
    notes = {r["target"]: r["throughput"]["note"] for r in records}
    assert notes["litert-compiled:cpu"].startswith("ran at batch 1: LiteRT's CompiledModel could not be resized "
                                                  "to batch 32 (LiteRT refused the new shape")
    assert notes["litert:xnnpack"].startswith("ran at batch 1: LiteRT could not be resized to batch 32")
    for note in notes.values():
        assert bool(RAW.search(note)) == debug and ("it said:" in note) == debug, note
