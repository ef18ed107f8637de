"""The Markdown report of a known result, and the recommendation rule."""

from __future__ import annotations

from edgekit.report import markdown, summary
from tests.results_sample import sample_results

EXPECTED_TABLE = """\
| variant | runtime | size | vs float | accuracy | drop (points) | p50 us | p99 us | speed-up |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| keras float | keras:cpu | 78.1 KB | 1.00x | 0.9800 | +0.00 | 800.0 | 1,200.0 | 1.0x |
| tflite fp32 | litert:xnnpack x1 | 58.6 KB | 0.75x | 0.9800 | +0.00 | 5.0 | 7.5 | 160.0x |
| tflite int8 | litert:xnnpack x1 | 19.5 KB | 0.25x | 0.9750 | +0.50 | 4.0 | 6.0 | 200.0x |"""


def test_known_result_renders_to_the_expected_table():
    text = markdown.render(sample_results())
    assert EXPECTED_TABLE in text
    assert ("**recommended: digits_cnn_int8.tflite on litert:xnnpack x1, the fastest within 1 point(s) of the "
            "float model: p50 4.0 us, 200.0x the float model's speed, 19.5 KB, accuracy 0.9750 (drop +0.50 points)**"
            in text)
    assert "- keras:gpu skipped for model.keras: no GPU here" in text
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
    assert "### a\\|b&lt;script&gt;" in text and "<script>" not in text
    assert "| 5.0 ! |" in text and "robust cv above 0.1" in text


def test_step_summary_is_appended(tmp_path, monkeypatch):
    target = tmp_path / "summary.md"
    target.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    assert markdown.append_to_step_summary("## report") == str(target)
    assert target.read_text() == "earlier step\n## report\n\n"
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    assert markdown.append_to_step_summary("## report") is None
