"""The Markdown report of a known result, and the recommendation rule."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from edgekit.cli import main
from edgekit.render import markdown
from edgekit.results import summary
from tests.corpus.cases import CORPUS
from tests.results_sample import sample_results

EXPECTED_TABLE = """\
| variant | runtime | size | vs float | accuracy | drop (points) | p50 us | p99 us | speed-up | cold ms | peak memory | samples/s |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| keras float | keras:cpu | 78.1 KB | 1.00x | 0.9800 | +0.00 | 800.0 | 1,200.0 | - | 0.1 | 4.0 KB | 1,250 |
| tflite fp32 | litert:xnnpack x1 | 58.6 KB | 0.75x | 0.9800 | +0.00 | 5.0 | 7.5 | 1.00x | 0.1 | 4.0 KB | 200,000 |
| tflite int8 | litert:xnnpack x1 | 19.5 KB | 0.25x | 0.9750 | +0.50 | 4.0 | 6.0 | 1.25x | 0.1 | 4.0 KB | 250,000 |"""


def test_known_result_renders_to_the_expected_table():
    text = markdown.render(sample_results())
    assert EXPECTED_TABLE in text
    assert ("**recommended: digits_cnn_int8.tflite on litert:xnnpack x1, the fastest within 1 point(s) of the "
            "float model: p50 4.0 us, 1.25x the fp32 TFLite file's speed on the same target, 19.5 KB, accuracy "
            "0.9750 (drop +0.50 points)**" in text)
    assert "- keras:gpu skipped for model.keras: no GPU here" in text
    assert "none (-) on keras:cpu: it runs no TFLite file" in text
    assert "Test CPU, 2 cores" in text


def test_recommendation_respects_the_tolerance():
    model = sample_results()["models"][0]
    assert summary.recommend(model, 1.0).row.record["variant"] == "int8"
    assert summary.recommend(model, 0.4).row.record["variant"] == "fp32"  # int8 loses 0.5 points
    for record in model["records"][1:]:
        if record["status"] == "ok":
            record["accuracy"]["drop_points"] = 3.0
    model["records"][0]["status"], model["records"][0]["reason"] = "failed", "broken"
    none = summary.recommend(model, 1.0)
    assert none.row is None and "the closest is digits_cnn_fp32.tflite (+3.00)" in none.line()
    model["data"]["metric"] = None
    assert "no labels" in summary.recommend(model).line()


def test_spread_flag_and_escaping():
    results = sample_results(name="a|b<script>")
    results["models"][0]["records"][2]["latency_us"]["high_spread"] = True
    text = markdown.render(results)
    assert "### a\\|b\\<script\\>" in text and "<script>" not in text
    assert "| 5.0 ! |" in text and "robust cv above 0.1" in text


def test_step_summary_is_appended(tmp_path, monkeypatch):
    target = tmp_path / "summary.md"
    target.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    assert markdown.append_to_step_summary("## report") == str(target)
    assert target.read_text() == "earlier step\n## report\n\n"
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    assert markdown.append_to_step_summary("## report") is None


@pytest.mark.parametrize("text", ["digits_cnn_int8.tflite", "litert:xnnpack x1", "+0.50", "-0.50", "1,200.0",
                                  "78.1 KB", "0.9750 → 0.9690", "+25.0% (noise ±0.3 us)", "keras float", "5.0 !",
                                  "tflite int8-qat", "models/m/model.keras"])
def test_our_numbers_and_file_names_stay_readable(text):
    assert markdown.cell(text) == text


@pytest.mark.parametrize("text, escaped", [
    ("a|b", "a\\|b"), ("<script>", "\\<script\\>"), ("[x](javascript:y)", "\\[x\\](javascript:y)"),
    ("![i](u)", "!\\[i\\](u)"), ("&lt;b&gt; AT&T", "&amp;lt;b&amp;gt; AT&amp;T"), ("a\nb\r\nc\u2028d", "a b c d"),
    ("`code` *it* ~~s~~", "\\`code\\` \\*it\\* \\~\\~s\\~\\~"), ("_em_ snake_case", "\\_em\\_ snake_case"),
    ("https://x.example www.y.example a@b.example", "https\\://x.example www\\.y.example a\\@b.example"),
    ("#123 $x$ back\\slash", "\\#123 \\$x\\$ back\\\\slash"),
])
def test_what_makes_markup_is_escaped(text, escaped):
    assert markdown.cell(text) == escaped


@pytest.mark.parametrize("text, escaped", [
    ("- item", "\\- item"), ("+ item", "\\+ item"), ("12. item", "12\\. item"), ("3) item", "3\\) item"),
    ("    code", "code"), ("===", "\\==="), ("# h", "\\# h"), ("> quote", "\\> quote"), ("1.5 us", "1.5 us"),
    ("-0.50 points", "-0.50 points"), ("---", "\\---"), ("7.", "7\\."),
])
def test_text_that_starts_a_line_cannot_start_a_block(text, escaped):
    assert markdown.item(text) == escaped


# what the reports' own Markdown makes; a tag outside these came from a results file
OUR_TAGS = {"h2", "h3", "p", "table", "thead", "tbody", "tr", "th", "td", "ul", "li", "strong", "details", "summary"}
HOSTILE = json.loads((CORPUS / "unusual" / "hostile_strings.json").read_text(encoding="utf-8"))


def to_html(text: str) -> str:
    """CommonMark with GitHub's tables and strikethrough, raw HTML on, and every link shown (not
    only those markdown-it deems safe): what a less careful renderer than GitHub's would make."""
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    md.validateLink = lambda url: True
    return md.render(text)


def shown_text(page: str) -> str:
    """The text a reader sees in a rendered page: tags dropped, entities decoded."""
    parser = HTMLParser(convert_charrefs=True)
    parts = []
    parser.handle_data = parts.append
    parser.feed(page)
    return "".join(parts)


def assert_only_text(markdown_text: str, shown: list[str]) -> None:
    """No tag, link or image of the input's in the rendered page, and each of `shown`, the input's
    strings, in its text as it was written (line breaks as spaces)."""
    page = to_html(markdown_text)
    tags = set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", page))
    assert tags <= OUR_TAGS, f"markup from the results file: {tags - OUR_TAGS}"
    assert "<!--" not in page and "javascript:" not in re.sub(r">[^<]*<", "><", page)  # none in any attribute
    text = shown_text(page)
    for value in shown:
        assert re.sub(r"[\x00-\x1f\u2028\u2029]+", " ", value).strip() in text


def hostile_shown_in_markdown(results: dict) -> list[str]:
    """The strings of a results file that the Markdown report shows."""
    env, model = results["environment"], results["models"][0]
    records = model["records"]
    return [env["cpu"]["name"], results["created"], model["name"], model["data"]["source"],
            *(env["versions"][k] for k in ("edgekit", "tensorflow", "ai-edge-litert", "onnxruntime")),
            *(r[k] for r in records if r["status"] == "ok" for k in ("format", "variant")),
            *(r[k] for r in records if r["status"] != "ok" for k in ("artifact", "reason")),
            *(r["target"] for r in records)]


def test_a_hostile_results_file_renders_as_text_in_the_markdown_report(tmp_path, capsys):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(HOSTILE))
    assert main(["report", str(path), "--format", "md"]) == 0
    out = capsys.readouterr().out
    shown = hostile_shown_in_markdown(HOSTILE)
    assert len(shown) >= 20
    assert_only_text(out, shown)
    # the test can fail: the same file, unescaped, lets markup through
    raw = "\n\n".join(f"- {value}" for value in shown)
    with pytest.raises(AssertionError, match="markup from the results file"):
        assert_only_text(raw, shown)


def test_a_hostile_results_file_renders_as_text_in_compare(tmp_path, capsys):
    """Every part of compare's Markdown: the machines line, failed, flagged and noted findings
    with their reasons, and the change tables."""
    base, now = tmp_path / "base.json", tmp_path / "now.json"
    base.write_text(json.dumps(HOSTILE))
    current = json.loads(json.dumps(HOSTILE))
    current["environment"]["cpu"]["name"] = "<b>other</b>\n[cpu](javascript:alert(7))"
    records = current["models"][0]["records"]
    records[3]["latency_us"]["p50"] = 40.0  # a regression, flagged on another machine
    records[2].update(status="failed", reason="<script>alert('failed')</script>\n# boom")
    for record in records[2:]:
        record.pop("latency_us") if record["status"] != "ok" else None
    current["models"][0]["artifacts"][2]["size_bytes"] *= 2  # a file that grew
    new_model = json.loads(json.dumps(current["models"][0]))
    new_model["name"] = "[new](javascript:alert(8)) <img src=x>"
    current["models"].append(new_model)
    now.write_text(json.dumps(current))
    assert main(["compare", str(base), str(now)]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1  # the gate's line, the reason from the file on it too
    shown = [current["environment"]["cpu"]["name"], HOSTILE["environment"]["cpu"]["name"], records[2]["reason"],
             new_model["name"], HOSTILE["models"][0]["name"],
             *(r[k] for r in HOSTILE["models"][0]["records"] if r["status"] == "ok"
               for k in ("format", "variant", "target"))]
    assert_only_text(captured.out, shown)


def test_the_shapes_fed_are_named_only_where_the_file_leaves_them_free():
    from edgekit.render import html
    from edgekit.render.table import bench_table
    from edgekit.results import schema

    results = sample_results()
    data = results["models"][0]["data"]
    data["input_shapes"] = {"input": [1, 28, 28, 1]}  # the file's own: nothing to say
    assert "at input" not in markdown.render(results) and "at input" not in bench_table(results["models"][0])
    data["shapes_from"] = "--input-shape"
    said = "at input [1, 28, 28, 1] (sized by --input-shape; the file leaves them free)"
    schema.parse(json.loads(json.dumps(results)))
    for text in (markdown.render(results), bench_table(results["models"][0]), html.render(results)):
        assert said in " ".join(text.replace("\\[", "[").replace("\\]", "]").split())  # Markdown escapes brackets
    data["input_shapes"] = {"input": [1, "28"]}
    with pytest.raises(Exception, match=r"data.input_shapes.input\[1\] is a string, not an integer"):
        schema.parse(results)
