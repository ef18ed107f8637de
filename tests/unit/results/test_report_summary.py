"""What the reports derive from a results file: every measured figure per row, speed-up against
the fp32 TFLite file on the same target, the recommendation's tie-break within noise, and what
did not run, deduplicated and folded."""

from __future__ import annotations

from markdown_it import MarkdownIt

from edgekit.core import config
from edgekit.render import html, markdown
from edgekit.results import summary
from tests.results_sample import artifact, record, sample_results


def model_with(*records, runtime="unset") -> tuple[dict, dict]:
    """The sample's model with `records` after its float Keras row, and the results' settings
    (runtime "unset": the settings do not say which runtimes were asked for)."""
    results = sample_results()
    model = results["models"][0]
    model["records"] = [model["records"][0], *records]
    names = {r["artifact"]: r for r in records}
    model["artifacts"] = [model["artifacts"][0], *(artifact(n, r["format"], r["variant"], r["size_bytes"])
                                                   for n, r in names.items())]
    if runtime != "unset":
        results["settings"]["runtime"] = runtime
    return results, model


def by_variant(model: dict) -> dict[tuple, summary.Row]:
    return {(r.record["variant"], r.target): r for r in summary.rows(model)}


def test_the_tolerance_default_is_the_shared_constant():
    assert config.DEFAULT_MAX_ACCURACY_DROP == 1.0 and summary.DEFAULT_TOLERANCE is config.DEFAULT_MAX_ACCURACY_DROP


def test_every_row_shows_cold_start_peak_memory_throughput_and_p99_in_markdown_and_html():
    results = sample_results()
    model = results["models"][0]
    model["records"][2]["cold"]["cold_start_us"] = 12_345.0
    model["records"][2]["memory"]["peak_over_start_bytes"] = 3 * 2**20
    model["records"][2]["throughput"]["samples_per_s"] = 98_765.4
    model["records"][2]["latency_us"]["p99"] = 43.21
    text, page = markdown.render(results), html.render(results)
    headers = summary.headers("accuracy")
    assert headers[-6:] == ["p50 us", "p99 us", "speed-up", "cold ms", "peak memory", "samples/s"]
    line = next(line for line in text.splitlines() if line.startswith("| tflite fp32"))
    assert line.endswith("| 5.0 | 43.2 | 1.00x | 12.3 | 3.0 MB | 98,765 |")
    for value in ("<td>43.2</td>", "<td>12.3</td>", "<td>3.0 MB</td>", "<td>98,765</td>", "<th>peak memory</th>"):
        assert value in page
    assert "samples/s: throughput at batch 32" in text and "samples/s: throughput at batch 32" in page
    # a figure the file lacks is shown as missing, not made up
    del model["records"][2]["memory"]["peak_over_start_bytes"], model["records"][2]["memory"]["peak_rss_bytes"]
    assert summary.cells(summary.rows(model)[1], "accuracy")[-2] == "-"


def test_speedup_is_against_the_fp32_tflite_file_on_the_same_target_and_threads():
    results, model = model_with(
        record("m_fp32.tflite", "tflite", "fp32", "litert:xnnpack", 1, 60000, 10.0, 0.98),
        record("m_int8.tflite", "tflite", "int8", "litert:xnnpack", 1, 20000, 4.0, 0.975),
        record("m_int8.tflite", "tflite", "int8", "litert:xnnpack", 2, 20000, 3.0, 0.975),  # no fp32 at x2
        record("m_int8.tflite", "tflite", "int8", "litert:builtin", 1, 20000, 8.0, 0.975),  # none on builtin
        record("m_fp32.tflite", "tflite", "fp32", "litert-compiled:cpu", 1, 60000, 0, 0, status="skipped"),
        record("m_int8.tflite", "tflite", "int8", "litert-compiled:cpu", 1, 20000, 5.0, 0.975),
        record("m_fp32.onnx", "onnx", "fp32", "onnxruntime:cpu", 1, 60000, 20.0, 0.98))
    rows = by_variant(model)
    assert rows["fp32", "litert:xnnpack x1"].speedup == 1.0
    assert rows["int8", "litert:xnnpack x1"].speedup == 2.5  # 10 us over 4 us, not the Keras call's 800 us
    for place in ("litert:xnnpack x2", "litert:builtin x1", "litert-compiled:cpu x1", "onnxruntime:cpu x1",
                  "keras:cpu"):
        key = ("float" if place == "keras:cpu" else "fp32" if "onnx" in place else "int8", place)
        assert rows[key].speedup is None, place
    note = summary.speedup_note(model)
    assert "litert:xnnpack x2, litert:builtin x1: it ran no fp32 TFLite file" in note
    assert "litert-compiled:cpu x1: the fp32 TFLite file skipped there" in note
    assert "keras:cpu, onnxruntime:cpu x1: it runs no TFLite file" in note
    text = markdown.render(results)
    assert "| tflite int8 | litert:xnnpack x1 | 19.5 KB | 0.25x | 0.9750 | +0.50 | 4.0 | 6.0 | 2.50x |" in text
    assert "| tflite int8 | litert:builtin x1 | 19.5 KB | 0.25x | 0.9750 | +0.50 | 8.0 | 12.0 | - |" in text
    assert f"- {markdown.item(note)}" in text
    line = summary.recommend(model).line()  # the fastest, at 2 threads, has no fp32 TFLite row to be against
    assert "on litert:xnnpack x2" in line and "speed" not in line


def test_variants_within_noise_tie_and_the_smaller_then_lower_precision_file_wins():
    def pick(fp16_p50, int8_p50, spread=0.05, int8_size=20000):
        _, model = model_with(
            record("m_fp16.tflite", "tflite", "fp16", "litert:xnnpack", 1, 30000, fp16_p50, 0.98, spread),
            record("m_int8.tflite", "tflite", "int8", "litert:xnnpack", 1, int8_size, int8_p50, 0.98, spread))
        return summary.recommend(model)

    # 2.2 and 2.25 us with 5% spreads: within the noise, whichever ran faster: the smaller file, said so
    for fp16, int8 in ((2.2, 2.25), (2.25, 2.2)):
        chosen = pick(fp16, int8)
        assert chosen.row.record["variant"] == "int8"
        assert chosen.line().endswith("; tied within noise with m_fp16.tflite on litert:xnnpack x1; picked for "
                                      "its smaller size")
    # the same size: the lower precision
    chosen = pick(2.2, 2.25, int8_size=30000)
    assert chosen.row.record["variant"] == "int8" and "picked for its lower precision" in chosen.line()
    # beyond the noise: the faster file, larger or not, and no tie to speak of
    chosen = pick(2.2, 2.25, spread=0.001)
    assert chosen.row.record["variant"] == "fp16" and "tied" not in chosen.line()


def test_precision_ranks_from_the_variant_name():
    ranks = [summary.precision_rank(v) for v in ("int8", "int8-static", "int8-qat", "dynamic", "int8-dynamic",
                                                 "int16x8", "fp16", "fp32", "float", "digits_cnn_fp32", "pruned")]
    assert ranks == [0, 0, 0, 1, 1, 2, 3, 4, 4, 4, 5]


def skipped(target, threads, artifact="m_int8.tflite", reason="no GPU here", status="skipped"):
    found = record(artifact, "tflite", "int8", target, threads, 20000, 0, 0, status="skipped")
    return {**found, "status": status, "reason": reason}


def test_one_line_per_distinct_skip_and_unrequested_targets_folded():
    records = [record("m_int8.tflite", "tflite", "int8", "litert:xnnpack", 1, 20000, 4.0, 0.975),
               record("model.keras", "keras", "float", "keras:gpu", None, 80000, 0, 0, status="skipped"),
               *(skipped("litert-compiled:gpu", t, a) for t in (1, 2) for a in ("m_int8.tflite", "m_fp32.tflite")),
               skipped("onnxruntime:cuda", 1, "m.onnx", "no CUDAExecutionProvider"),
               skipped("litert:builtin", 1, reason="RuntimeError: boom", status="failed")]
    # the settings do not say what was asked for: nothing folded, but each skip once
    _, model = model_with(*records)
    assert summary.not_run(model) == [
        "keras:gpu, litert-compiled:gpu x1,2 skipped for 3 files: no GPU here",  # one reason, one line
        "onnxruntime:cuda x1 skipped for m.onnx: no CUDAExecutionProvider",
        "litert:builtin x1 failed for m_int8.tflite: RuntimeError: boom"]
    # the default runtime list: what is not available here in one line; a failure still has its own
    results, model = model_with(*records, runtime=None)
    assert summary.not_run(model, results["settings"]) == [
        "litert:builtin x1 failed for m_int8.tflite: RuntimeError: boom",
        f"{summary.FOLDED}: keras:gpu, litert-compiled:gpu, onnxruntime:cuda"]
    # a target named in --runtime keeps its own line; a bare runtime name names none of its targets
    results, model = model_with(*records, runtime="keras,litert-compiled:gpu,litert:xnnpack,onnxruntime")
    assert summary.not_run(model, results["settings"])[0] == "litert-compiled:gpu x1,2 skipped for 2 files: no GPU here"
    assert summary.not_run(model, results["settings"])[-1] == f"{summary.FOLDED}: keras:gpu, onnxruntime:cuda"
    # a target the benchmark's time limit left out did not run for want of time, not of hardware
    late = skipped("litert:builtin", 1, reason="not measured: the benchmark's time limit was reached")
    results, model = model_with(records[0], late, runtime=None)
    assert summary.not_run(model, results["settings"]) == [
        "litert:builtin x1 skipped for m_int8.tflite: not measured: the benchmark's time limit was reached"]
    # the HTML report opens the folded line on each target's reason
    page = html.render(model_with(*records, runtime=None)[0])
    assert f'<details class="folded"><summary>{summary.FOLDED}' in page
    assert "<li>onnxruntime:cuda: no CUDAExecutionProvider</li>" in page


def test_a_long_did_not_run_list_goes_inside_details_in_markdown():
    reasons = [f"reason {n}" for n in range(markdown.NOT_RUN_SHOWN + 1)]
    results, _ = model_with(*(skipped("litert:builtin", 1, reason=r, status="failed") for r in reasons))
    text = markdown.render(results)
    assert f"<details><summary>Did not run ({len(reasons)})</summary>" in text
    rendered = MarkdownIt("commonmark", {"html": True}).render(text)
    inside = rendered[rendered.index("<details>"):rendered.index("</details>")]
    assert inside.count("<li>") == len(reasons) and "reason 5</li>" in inside
    # a short list stays a plain list
    results, _ = model_with(*(skipped("litert:builtin", 1, reason=r, status="failed") for r in reasons[:2]))
    text = markdown.render(results)
    assert "<details>" not in text and "Did not run:\n\n- litert:builtin x1 failed for m_int8.tflite: reason 0" in text
