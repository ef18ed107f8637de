"""A per-op profile rendered: the terminal text of one record and of two files' difference, the
Markdown report's top-10 table and placement line, the HTML report's chart of time by op type and
placement table; a results file without profiles renders as it did. On profiles captured with
onnxruntime's profiler (tests/data/profiles) and a LiteRT-shaped one edited for placement."""

from __future__ import annotations

import copy
import re
from xml.etree import ElementTree

import pytest

from edgekit.core.errors import EdgekitError
from edgekit.render import comparison, html, markdown
from edgekit.render import profile as rendered
from edgekit.results import compare, profiles, schema
from tests.profile_samples import onnxruntime_profile, with_op_on_cpu, xnnpack_profile
from tests.results_sample import sample_results

HOSTILE = "<script>alert(1)</script>"


def with_profiles(results: dict, fp32: dict | None = None, int8: dict | None = None) -> dict:
    records = results["models"][0]["records"]
    records[2]["profile"] = fp32 if fp32 is not None else with_op_on_cpu(xnnpack_profile(), 7, "ADD: broadcast")
    records[3]["profile"] = int8 if int8 is not None else {"skipped": "litert:xnnpack has no per-op profile here"}
    return results


def fp32_record(profile: dict) -> dict:
    return with_profiles(sample_results(), profile)["models"][0]["records"][2]


def test_record_text_of_a_captured_profile():
    profile = onnxruntime_profile("int8-static")
    record = fp32_record(profile)
    record["latency_us"]["p50"] = 2500.0
    text = rendered.record_text(record, top=10, at=140, style=False)
    total = sum(op["us"] for op in profile["ops"])
    assert text.splitlines()[0].startswith("digits_cnn_fp32.tflite on litert:xnnpack x1: per-op profile, profiler "
                                           "(the runtime's own profiler), each op's median over 100 calls")
    assert (f"per-op total {total:,.1f} µs = {total / 2500:.2f}x the unprofiled p50 2,500.0 µs "
            "(profiled runs are never latency)") in text
    slowest = sorted(profile["ops"], key=lambda op: -op["us"])[:10]
    table = text.split("top 10 by time:")[0]
    listed = [op["name"] for op in profile["ops"] if re.search(rf"\b{re.escape(op['name'])}\b", table)]
    assert listed == [op["name"] for op in profile["ops"] if op in slowest]  # the 10 slowest, in execution order
    assert f"the 10 slowest of {len(profile['ops'])} ops, in execution order; {len(profile['ops']) - 10} faster" in text
    ranked = text.split("top 10 by time:")[1].split("by op type:")[0]
    assert [line.split()[1] for line in ranked.strip().splitlines()[2:]] == [op["name"] for op in slowest]
    kinds = text.split("by op type:")[1]
    assert re.search(r"DequantizeLinear\s+23\s", kinds) and "placement: CPUExecutionProvider 55 ops; partitions " \
        "not known; no accelerator asked for" in kinds
    every = rendered.record_text(record, top=10, every_op=True, at=220, style=False)  # no name folded
    assert all(op["name"] in every.split("top 10 by time:")[0] for op in profile["ops"])
    assert "faster ones" not in every


def test_record_text_placement_and_what_has_no_profile():
    profile = with_op_on_cpu(xnnpack_profile(), 7, "ADD with this broadcast")
    profile.update(wall_seconds=2.5, note="host time", not_timed=[
        {"index": 15, "name": "StatefulPartitionedCall:0", "type": "SOFTMAX", "reason": "no one-op model"}])
    text = rendered.record_text(fp32_record(profile), at=120, style=False)
    assert "each op's median over 100 calls, profiled in 2.5 s" in text and "note: host time" in text
    assert "placement: XNNPACK 15 ops, builtin 1 op; 2 accelerator or delegate partitions; fully delegated: no" in text
    assert "left on the CPU: resnet8/stack2_add/add (ADD, node 7): ADD with this broadcast" in text
    assert "not timed: StatefulPartitionedCall:0 (SOFTMAX, node 15): no one-op model" in text
    assert "the 10 slowest of 16 ops" in text
    assert rendered.record_text(fp32_record({"skipped": "tflm has no per-op profile"})) == \
        "digits_cnn_fp32.tflite on litert:xnnpack x1: no per-op profile (tflm has no per-op profile)"
    assert rendered.record_text(fp32_record({"failed": "boom"})).endswith("no per-op profile (failed: boom)")
    skipped_row = sample_results()["models"][0]["records"][1]
    assert rendered.record_text(skipped_row) == "model.keras on keras:gpu: no per-op profile (skipped: no GPU here)"
    unknown = fp32_record(xnnpack_profile())
    unknown.update(status="failed", reason="x")
    assert "(no unprofiled p50 to set it beside; profiled runs are never latency)" in rendered.record_text(
        unknown, at=120, style=False)  # a profile of a row that failed: shown, with no latency beside it


def test_the_ratio_is_left_out_without_a_latency_and_said_of_a_mean():
    found = profiles.summary(xnnpack_profile(), None)
    assert rendered.total_line(found) == ("per-op total 191.0 µs (no unprofiled p50 to set it beside; profiled runs "
                                          "are never latency)")
    record = fp32_record(xnnpack_profile())
    record["latency_us"] = {"statistic": "mean", "mean": 200.0, "std": 1.0, "min": 190.0, "max": 210.0, "runs": 50}
    assert "= 0.95x the unprofiled mean 200.0 µs" in rendered.record_text(record, at=120, style=False)


def test_difference_text():
    difference = {"target": "onnxruntime:cpu", "threads": 1, "device": None, "a": "resnet8_fp32.onnx",
                  "b": "resnet8_int8-static.onnx",
                  "rows": profiles.difference(onnxruntime_profile("fp32"), onnxruntime_profile("int8-static"))}
    text = rendered.difference_text(difference, at=100, style=False)
    lines = text.splitlines()
    assert lines[:3] == ["A: resnet8_fp32.onnx", "B: resnet8_int8-static.onnx",
                         "time by op type on onnxruntime:cpu x1, µs a call (the sum of each op's median):"]
    body = lines[5:-1]
    assert body[0].split()[0] == difference["rows"][0]["type"] and body[-1].split()[0] == "total"
    assert re.match(r"DequantizeLinear\s+0\s+0\.0\s+23\s+[\d,.]+\s+\+[\d,.]+$", next(
        line for line in body if line.startswith("DequantizeLinear")))
    total = difference["rows"][-1]
    assert lines[-1] == f"B's per-op total is {total['b_us'] / total['a_us']:.2f}x A's (profiled runs, not latency)"


def test_markdown_top_ten_and_placement():
    text = markdown.render(schema.parse(with_profiles(sample_results())))
    section = text.split("#### Where the time goes")[1].split("Did not run")[0]
    assert "**digits_cnn_fp32.tflite on litert:xnnpack x1**: per-op total 191.0 µs = 38.20x the unprofiled " \
           "p50 5.0 µs (profiled runs are never latency); isolated, medians over 100 calls; the 10 slowest of 16 ops:" in section
    rows = [line for line in section.splitlines() if re.match(r"\| \d+ \|", line)]
    assert len(rows) == 10 and rows[0] == ("| 1 | 2 | resnet8/stack1_conv2/Conv2D1 | CONV_2D | XNNPACK partition 0 "
                                           "| 32.4 | 17.0% |")
    assert "- placement: XNNPACK 15 ops, builtin 1 op; 2 accelerator or delegate partitions; fully delegated: no" \
        in section and "- left on the CPU: resnet8/stack2_add/add (ADD, node 7): ADD: broadcast" in section
    assert "digits_cnn_int8.tflite on litert:xnnpack x1: no per-op profile (litert:xnnpack has no per-op " \
           "profile here)" in section


def test_html_chart_and_placement_table_escape_every_name():
    profile = xnnpack_profile()
    profile["ops"][3].update(type=HOSTILE, executor=HOSTILE, name=HOSTILE)
    page = html.render(schema.parse(with_profiles(sample_results(), profile)))
    assert HOSTILE not in page and html_escaped(HOSTILE) in page
    section = page.split("<h3>Where the time goes</h3>")[1].split("<h3>Did not run")[0]
    chart = re.search(r'<svg class="plot op-types".*?</svg>', section, re.DOTALL).group(0)
    kinds = profiles.summary(profile, None)["by_type"]
    assert chart.count("<rect ") == len(kinds)
    ElementTree.fromstring(chart)  # well-formed: inlined as it is
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', chart)]
    assert widths == sorted(widths, reverse=True) and widths[0] > 0  # the longest bar is the most time
    assert "<td>XNNPACK</td><td>15</td>" in section and f"<td>{html_escaped(HOSTILE)}</td><td>1</td>" in section
    assert "1 accelerator or delegate partition; fully delegated: yes" in section
    assert "no per-op profile (litert:xnnpack has no per-op profile here)" in section


def html_escaped(text: str) -> str:
    import html as stdlib

    return stdlib.escape(text)


def test_a_results_file_without_profiles_renders_as_before():
    """The profile sections are added, nothing else moves: the report of a file with profiles, its
    sections taken out, is the report of the same file without them, byte for byte."""
    plain, profiled = sample_results(), schema.parse(with_profiles(sample_results()))
    text = markdown.render(profiled)
    section = text[text.index("\n\n#### Where the time goes"):text.index("\n\nDid not run")]
    assert text.replace(section, "") == markdown.render(plain) and "Where the time goes" not in markdown.render(plain)
    page = html.render(profiled)
    section = page[page.index("<h3>Where the time goes</h3>\n"):page.index("<h3>Did not run")]
    assert page.replace(section, "") == html.render(plain) and "Where the time goes" not in html.render(plain)


WRONG = [None, "x", -1, 2.5, True, [], [None], {}, {"a": "b"}]


def _places(node, path=()):
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _places(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _places(value, (*path, i))


def test_any_wrong_value_in_a_profile_is_refused_or_rendered():
    """Every field of a record's profile replaced (or deleted) by every kind of wrong value: the
    reader refuses it with one line, or every renderer and compare handle it."""
    profile = with_op_on_cpu(xnnpack_profile(), 7)
    profile["ops"] = profile["ops"][5:9]  # fewer ops: the same fields, a faster test
    profile.update(note="n", wall_seconds=1.0, not_timed=[{"index": 1, "name": "a", "type": "ADD", "reason": "r"}])
    base = with_profiles(sample_results(), profile)
    tried = accepted = 0
    for path in _places(profile):
        for value in [*WRONG, "deleted"]:
            if not path or (value == "deleted" and isinstance(path[-1], int)):
                continue
            results = copy.deepcopy(base)
            node = results["models"][0]["records"][2]["profile"]
            for key in path[:-1]:
                node = node[key]
            if value == "deleted":
                del node[path[-1]]
            else:
                node[path[-1]] = value
            tried += 1
            try:
                parsed = schema.parse(results)
            except EdgekitError as exc:
                assert "\n" not in str(exc)
                continue
            accepted += 1
            markdown.render(parsed)
            html.render(parsed)
            for record in parsed["models"][0]["records"]:
                rendered.record_text(record, at=100, style=False)
            for pair in ((base, parsed), (parsed, base)):
                comparison.render(compare.compare(*pair), "base.json", "now.json")
    assert tried > 300 and 0 < accepted < tried


@pytest.mark.parametrize("width", [60, 200])
def test_the_tables_fit_the_terminal(width):
    text = rendered.record_text(fp32_record(onnxruntime_profile("int8-static")), at=width, style=False)
    assert max(map(len, text.splitlines())) <= width
