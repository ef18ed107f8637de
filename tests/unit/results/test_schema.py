"""The results schema: a round trip, upgrading version 1, and clear errors for what it cannot read."""

from __future__ import annotations

import copy
import json
import re

import pytest

from edgekit.core.errors import EdgekitError
from edgekit.results import schema
from tests.results_sample import sample_results


def test_round_trip(tmp_path):
    results = sample_results()
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    assert schema.read(path) == results
    assert schema.read(tmp_path) == results  # a folder holding results.json


def test_version_1_is_upgraded():
    v1 = sample_results()
    v1["schema_version"] = 1
    model = v1["models"][0]
    del model["artifacts"]
    model["reference"] = {"path": "models/m/model.keras", "sha256": "0" * 64}
    upgraded = schema.parse(v1)
    assert upgraded["schema_version"] == schema.SCHEMA_VERSION
    model = upgraded["models"][0]
    assert model["reference"]["artifact"] == "model.keras" and model["reference"]["size_bytes"] == 80000
    assert [(a["name"], a["size_bytes"]) for a in model["artifacts"]] == [
        ("model.keras", 80000), ("digits_cnn_fp32.tflite", 60000), ("digits_cnn_int8.tflite", 20000)]


@pytest.mark.parametrize("text, message", [
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "is not an edgekit results file"),
    ('{"kind": "edgekit-bench", "schema_version": "2"}', "no integer schema_version"),
    ('{"kind": "edgekit-bench", "schema_version": 0, "models": []}', "which no edgekit wrote"),
    ('{"kind": "edgekit-bench", "schema_version": 99, "models": []}', "newer than this edgekit reads (up to 3): upgrade edgekit"),
])
def test_unreadable_files_get_one_clear_line(tmp_path, text, message):
    path = tmp_path / "results.json"
    path.write_text(text)
    with pytest.raises(EdgekitError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        schema.read(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_a_damaged_record_is_named():
    results = sample_results()
    del results["models"][0]["records"][2]["latency_us"]["p50"]
    with pytest.raises(EdgekitError, match=r"models\[0\]\.records\[2\]\.latency_us\.p50 is missing"):
        schema.parse(results)
    results = sample_results()
    results["models"][0]["records"][0]["status"] = "great"
    with pytest.raises(EdgekitError, match='status is "great"'):
        schema.parse(results)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(EdgekitError, match="is not a file"):
        schema.read(tmp_path / "nothing.json")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(EdgekitError, match="not a text file|not valid JSON"):
        schema.read(tmp_path / "binary.json")


@pytest.mark.parametrize("field", ["accuracy.value", "latency_us.p50", "latency_us.robust_cv", "fidelity.sqnr_db"])
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_number_that_is_not_finite_is_refused_naming_the_field(tmp_path, field, literal):
    """JSON's NaN and Infinity literals (and 1e999, which Python reads as Infinity) are no figure:
    the reader refuses them, naming the field, before any gate could compare them."""
    results = sample_results()
    block, key = field.split(".")
    results["models"][0]["records"][3][block][key] = 12345.678
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results).replace("12345.678", literal))
    shown = "Infinity" if literal == "1e999" else literal
    with pytest.raises(EdgekitError, match=rf"models\[0\]\.records\[3\]\.{block}\.{key} is {shown}, not a finite "
                                           "number") as caught:
        schema.read(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_non_finite_numbers_are_refused_anywhere_and_a_dict_given_directly_too():
    results = sample_results()
    results["models"][0]["records"][2]["fidelity"]["outputs"]["probs"]["max_abs"] = float("nan")
    with pytest.raises(EdgekitError, match=r"records\[2\]\.fidelity\.outputs\.probs\.max_abs is NaN"):
        schema.parse(results)
    results = sample_results()
    results["environment"]["versions"]["odd key\n<b>"] = float("-inf")  # a key that is no name: quoted, one line
    with pytest.raises(EdgekitError, match=r'environment\.versions\["odd key\\n<b>"\] is -Infinity') as caught:
        schema.parse(results)
    assert "\n" not in str(caught.value)
    results = sample_results()
    results["models"][0]["records"][3]["size_bytes"] = 10**20  # past any figure: human_size would overflow
    with pytest.raises(EdgekitError, match=r"records\[3\]\.size_bytes is 1e\+20, beyond any figure"):
        schema.parse(results)


def test_writing_refuses_a_non_finite_number():
    """What edgekit writes is strict JSON; a NaN reaching the writer is a bug, not a figure."""
    results = sample_results()
    results["models"][0]["records"][3]["latency_us"]["p50"] = float("nan")
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        schema.to_text(results)


@pytest.mark.parametrize("text, message", [
    ('{"kind": "edgekit-bench", "schema_version": 2, "models": ' + "[" * 100_000 + "]" * 100_000 + "}",
     "nests deeper than any results file"),
    ('{"kind": "edgekit-bench", "schema_version": 2, "models": [], "n": 1' + "0" * 5000 + "}",
     "not readable JSON"),
])
def test_deep_nesting_and_overlong_numbers_get_one_line(tmp_path, text, message):
    path = tmp_path / "results.json"
    path.write_text(text)
    with pytest.raises(EdgekitError, match=message) as caught:
        schema.read(path)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("where, value, message", [
    (("environment", "cpu"), "Intel", "environment.cpu is a string, not an object"),
    (("environment", "cpu", "cores"), "2", "environment.cpu.cores is a string, not an integer"),
    (("environment", "versions"), ["1.0"], "environment.versions is a list, not an object"),
    (("environment", "versions", "edgekit"), 1, "environment.versions.edgekit is a number, not a string"),
    (("settings", "target_settings", "threads"), 2, "settings.target_settings.threads is a number, not a list"),
    (("models", 0, "data", "metric"), "bleu", 'models[0].data.metric is "bleu", not a metric edgekit scores'),
    (("models", 0, "data", "samples"), None, "models[0].data.samples is null, not an integer"),
    (("models", 0, "records", 2, "threads"), True, "models[0].records[2].threads is true, not an integer"),
    (("models", 0, "records", 2, "latency_us", "p50"), -4.0, "latency_us.p50 is -4.0, below 0"),
    (("models", 0, "records", 2, "accuracy", "metric"), 5, "accuracy.metric is a number, not a string"),
    (("models", 0, "records", 2, "fidelity", "sqnr_db"), "high", "fidelity.sqnr_db is a string, not a number"),
    (("models", 0, "records", 2, "details"), "threads=1", "records[2].details is a string, not an object"),
    (("models", 0, "artifacts", 2, "inputs", 0, "scale"), ["a"], "inputs[0].scale[0] is a string, not a number"),
])
def test_each_field_a_report_reads_has_its_type(where, value, message):
    results = sample_results()
    node = results
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    with pytest.raises(EdgekitError, match=re.escape(message)):
        schema.parse(results)


WRONG_VALUES = [None, "x", -1, 2**60, 2.5, True, [], [None], {}, {"a": "b"}]


def _every_place(node, path=()):
    """Every path to a value in a results dict."""
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _every_place(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _every_place(value, (*path, i))


def _with(results: dict, path: tuple, value) -> dict:
    results = copy.deepcopy(results)
    node = results
    for key in path[:-1]:
        node = node[key]
    if value is _DELETED:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return results


_DELETED = object()


def test_any_wrong_value_anywhere_is_refused_or_rendered():
    """Every field of a results file replaced (or deleted) by every kind of wrong value: the reader
    refuses it with one line, or the Markdown and HTML reports and compare (both ways) handle it.
    Nothing in between: an exception of another kind is an exit 70."""
    from edgekit.render import comparison, html, markdown
    from edgekit.results import compare

    sample = sample_results()
    sample["environment"].update(platform="Linux", python="3.11.7")  # every field a renderer reads
    version_1 = _with(sample, ("schema_version",), 1)
    del version_1["models"][0]["artifacts"]
    tried = accepted = 0
    for base in (sample, version_1):
        for path in [p for p in _every_place(base) if p and p[0] not in ("kind", "schema_version")]:
            for value in [*WRONG_VALUES, _DELETED]:
                if value is _DELETED and isinstance(path[-1], int):
                    continue
                tried += 1
                try:
                    parsed = schema.parse(_with(base, path, value))
                except EdgekitError as exc:
                    assert "\n" not in str(exc)
                    continue
                accepted += 1
                markdown.render(parsed)
                html.render(parsed)
                for pair in ((sample_results(), parsed), (parsed, sample_results())):
                    comparison.render(compare.compare(*pair), "base.json", "now.json")
    assert tried > 3000 and 0 < accepted < tried  # both outcomes happen: the test can fail either way


def test_latency_rounds_are_read_and_checked():
    """`bench --repeat` adds `latency_us.rounds`: optional (older files read as they were), and
    each round a latency above zero."""
    results = sample_results()
    latency = results["models"][0]["records"][3]["latency_us"]
    latency["rounds"] = [4.0, 4.1, 3.9]
    assert schema.parse(copy.deepcopy(results))["models"][0]["records"][3]["latency_us"]["rounds"] == [4.0, 4.1, 3.9]
    for bad, message in (([4.0, "fast"], r"rounds\[1\] is a string, not a number"),
                         ([4.0, 0], r"rounds\[1\] is 0, not above zero"), ("4.0", "rounds is a string, not a list")):
        latency["rounds"] = bad
        with pytest.raises(EdgekitError, match=r"models\[0\]\.records\[3\]\.latency_us\." + message):
            schema.parse(copy.deepcopy(results))


def with_profiles(results: dict) -> dict:
    """The sample with a per-op profile on its fp32 row and a skipped one on its int8 row."""
    from tests.profile_samples import xnnpack_profile

    records = results["models"][0]["records"]
    records[2]["profile"] = xnnpack_profile()
    records[3]["profile"] = {"skipped": "litert:xnnpack has no per-op profile"}
    return results


def test_version_3_reads_profiles_and_version_2_still_reads():
    """Version 3 added a record's `profile`; a version 2 file (none) reads as it was, upgraded."""
    assert schema.SCHEMA_VERSION == 3
    results = with_profiles(sample_results())
    assert schema.parse(copy.deepcopy(results)) == results
    v2 = sample_results()
    v2["schema_version"] = 2
    assert schema.parse(copy.deepcopy(v2)) == {**v2, "schema_version": 3}


@pytest.mark.parametrize("where, value, message", [
    (("method",), "sampled", 'profile.method is "sampled", not one of profiler, isolated'),
    (("runs",), 0, "profile.runs is 0, below 1"),
    (("ops",), {}, "profile.ops is an object, not a list"),
    (("ops", 3, "us"), "fast", "profile.ops[3].us is a string, not a number"),
    (("ops", 3, "us"), -1.0, "profile.ops[3].us is -1.0, below 0"),
    (("ops", 3, "executor"), None, "profile.ops[3].executor is null, not a string"),
    (("ops", 3, "index"), "3", "profile.ops[3].index is a string, not an integer"),
    (("partitions",), 1.5, "profile.partitions is a number, not an integer"),
    (("fully_delegated",), "yes", "profile.fully_delegated is a string, not true/false"),
    (("left_on_cpu",), [{"index": 1, "name": "a", "type": "ADD"}], "profile.left_on_cpu[0].reason is missing"),
    (("note",), 5, "profile.note is a number, not a string"),
])
def test_a_damaged_profile_is_named(where, value, message):
    results = with_profiles(sample_results())
    node = results["models"][0]["records"][2]["profile"]
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    with pytest.raises(EdgekitError, match=re.escape(f"models[0].records[2].{message}")):
        schema.parse(results)
    results = with_profiles(sample_results())
    results["models"][0]["records"][3]["profile"] = {"skipped": None}
    with pytest.raises(EdgekitError, match=re.escape("records[3].profile.skipped is null, not a string")):
        schema.parse(results)


def test_profile_methods_are_the_runtimes():
    from edgekit.runtimes.base import PROFILE_METHODS

    assert schema.PROFILE_METHODS == PROFILE_METHODS
