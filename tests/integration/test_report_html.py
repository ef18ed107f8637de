"""The HTML report: a self-contained page that fetches and runs nothing, escapes every value from
the results, and whose charts really render in a browser (headless Chromium through playwright)."""

from __future__ import annotations

import html
import io
import re
import shutil

import pytest

from edgekit.render import html as report_html
from edgekit.render import plots
from edgekit.results import schema, summary
from tests.require import require, unavailable

HOSTILE = "<script>alert(1)</script>"
HOSTILE_FILE = "<img src=x onerror=alert(2)>.tflite"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SIZES = {"model.keras": 80_000, "tiny_fp32.tflite": 57_000, "tiny_int8.tflite": 20_000, "tiny_fp32.onnx": 56_000,
         HOSTILE_FILE: 20_000}
FLIPPED = list(range(100, 125))  # more than the page lists, to show it lists the first 20 and the count


def spec(name, dtype, shape, scale=None, zero_point=None) -> dict:
    return {"name": name, "dtype": dtype, "shape": shape,
            **({"scale": scale, "zero_point": zero_point} if scale else {})}


def artifact(name, fmt, variant, quantized=False) -> dict:
    size = SIZES[name]
    q = {"scale": [0.0039], "zero_point": [-128]} if quantized else {}
    return {"name": name, "format": fmt, "variant": variant, "size_bytes": size, "gzip_bytes": size // 2,
            "sha256": "ab" * 32, "inputs": [spec("x", "int8" if quantized else "float32", [None, 8, 8, 1], **q)],
            "outputs": [spec("probs", "float32", [None, 10])]}


def record(name, fmt, variant, target, p50, value=None, drop=None, status="ok", reason=None, flipped=()) -> dict:
    runtime = target.split(":")[0]
    base = {"artifact": name, "format": fmt, "variant": variant, "runtime": runtime, "target": target,
            "threads": None if runtime == "keras" else 1, "size_bytes": SIZES[name], "gzip_bytes": SIZES[name] // 2,
            "status": status}
    if status != "ok":
        return {**base, "reason": reason}
    accuracy = None if value is None else {"metric": "accuracy", "value": value, "float": 0.98, "drop_points": drop}
    fidelity = None if fmt == "keras" else {
        "samples": 360, "max_abs": 0.01, "mean_abs": 0.001, "sqnr_db": 40.0, "top1_agreement": 0.99,
        "outputs": {"probs": {"max_abs": 0.01, "sqnr_db": 40.0, "top1_agreement": 0.99, "flipped_samples": list(flipped)}}}
    return {**base, "details": {"threads": 1, "kernels": "xnnpack"}, "accuracy": accuracy, "fidelity": fidelity,
            "cold": {"cold_start_us": 900.0}, "memory": {"peak_rss_bytes": 2**20},
            "throughput": {"batch": 32, "samples_per_s": 1000.0},
            "latency_us": {"p50": p50, "p90": p50 * 1.1, "p99": p50 * 1.3, "robust_cv": 0.02, "runs": 50,
                           "high_spread": p50 > 500}}


def results() -> dict:
    """Two models: one labelled with five scored rows (two on the Pareto front), and one with hostile
    names, no labels, and targets that did not run."""
    labelled = {
        "name": "tiny_cnn", "reference": {"artifact": "model.keras", "size_bytes": 80_000},
        "data": {"source": "held-out digits", "samples": 360, "metric": "accuracy", "float_score": 0.98},
        "artifacts": [artifact("model.keras", "keras", "float"), artifact("tiny_fp32.tflite", "tflite", "fp32"),
                      artifact("tiny_int8.tflite", "tflite", "int8", quantized=True), artifact("tiny_fp32.onnx", "onnx", "fp32")],
        "records": [record("model.keras", "keras", "float", "keras:cpu", 900.0, 0.98, 0.0),
                    record("tiny_fp32.tflite", "tflite", "fp32", "litert:xnnpack", 5.0, 0.98, 0.0),
                    record("tiny_int8.tflite", "tflite", "int8", "litert:xnnpack", 3.0, 0.97, 1.0, flipped=FLIPPED),
                    record("tiny_int8.tflite", "tflite", "int8", "litert:builtin", 10.0, 0.97, 1.0, flipped=FLIPPED),
                    record("tiny_fp32.onnx", "onnx", "fp32", "onnxruntime:cpu", 12.0, 0.98, 0.0),
                    record("tiny_int8.tflite", "tflite", "int8", "litert-compiled:npu", 0, status="skipped",
                           reason="the NPU needs its vendor's dispatch library")]}
    hostile = {
        "name": HOSTILE, "reference": None,
        "data": {"source": "random inputs <b>", "samples": 16, "metric": None, "float_score": None},
        "artifacts": [artifact(HOSTILE_FILE, "tflite", "int8", quantized=True)],
        "records": [record(HOSTILE_FILE, "tflite", "int8", "litert:xnnpack", 4.0),
                    record(HOSTILE_FILE, "tflite", "int8", "litert:builtin", 0, status="failed",
                           reason="RuntimeError: <b onmouseover=alert(3)>op</b> & more")]}
    return {"schema_version": 2, "kind": "edgekit-bench", "edgekit_version": "0.1.0", "created": "2026-01-02T03:04:05+0000",
            "environment": {"python": "3.11.7", "platform": "Linux", "cpu": {"name": "Test CPU <x>", "cores": 4},
                            "versions": {"edgekit": "0.1.0", "tensorflow": "2.21.0", "onnxruntime-gpu": None}},
            "settings": {"runs": 50, "warmup": 20, "batch": 32, "target_settings": {"threads": [1]}},
            "models": [labelled, hostile]}


@pytest.fixture(scope="module")
def page_html() -> str:
    return report_html.render(schema.parse(results()))


def test_pareto_front_keeps_the_points_nothing_beats():
    points = [(1, 5), (2, 3), (3, 3), (4, 1), (5, 2), (2, 3)]  # (3, 3) and (5, 2) are beaten; ties both stay
    assert plots.pareto_front(points) == [0, 1, 3, 5]
    assert plots.pareto_front([]) == [] and plots.pareto_front([(7, 7)]) == [0]


def test_the_page_runs_and_fetches_nothing_and_escapes_every_name(page_html):
    lower = page_html.lower()
    assert "<script" not in lower and "http://" not in lower and "https://" not in lower
    assert "content-security-policy" in lower and "default-src 'none'" in page_html
    for hostile in (HOSTILE, HOSTILE_FILE, "<b onmouseover=alert(3)>", "Test CPU <x>"):
        assert hostile not in page_html and html.escape(hostile) in page_html


def test_the_page_holds_the_table_recommendation_and_file_details(page_html):
    model = schema.parse(results())["models"][0]
    assert html.escape(summary.recommend(model).line()) in page_html
    assert "tiny_int8.tflite on litert:xnnpack x1" in summary.recommend(model).line()  # 1 point: within tolerance
    assert page_html.count('<tr class="recommended"') == 1
    assert page_html.count('class="plot scatter"') == 1  # the unlabelled model gets a reason, not a chart
    assert "no labels, so no file has a score" in page_html
    assert page_html.count('class="plot sizes"') == 2
    assert "0.0039" in page_html and "-128" in page_html and "[?, 8, 8, 1]" in page_html
    assert "25 samples: 100, 101" in page_html and "118, 119 …" in page_html and ", 120" not in page_html
    assert "kernels=xnnpack" in page_html and "ab" * 32 in page_html
    assert html.escape(summary.not_run(model)[0]) in page_html


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium; a skip saying why where there is none, a failure in CI (tests/require.py)."""
    require("playwright")
    require("chromium")
    from playwright.sync_api import Error, sync_playwright

    executable = shutil.which("chromium")
    with sync_playwright() as p:
        try:
            launched = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        except Error as exc:
            unavailable("chromium", f"{executable} did not start: {str(exc).splitlines()[0]}")
        yield launched
        launched.close()


@pytest.fixture
def open_page(browser, tmp_path):
    """Opens HTML from a file in a fresh context; returns the page and what went wrong on it:
    console errors, script errors, dialogs, and any request for something not in the file."""
    contexts = []

    def open_(page_html: str, bypass_csp: bool = False):
        path = tmp_path / f"report{len(contexts)}.html"
        path.write_text(page_html, encoding="utf-8")
        contexts.append(browser.new_context(bypass_csp=bypass_csp, viewport={"width": 1100, "height": 900}))
        page, problems = contexts[-1].new_page(), []
        page.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text}"))
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on("request", lambda r: r.url.startswith(("file:", "data:")) or problems.append(f"request: {r.url}"))
        page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
        page.goto(path.as_uri())
        return page, problems

    yield open_
    for context in contexts:
        context.close()


def check_plots(page, scatter_points: list[int], bars: list[int]) -> None:
    """Each chart laid out with its points or bars, and drawn: its pixels are not one flat colour;
    each point's number shown inside the chart, no two numbers over each other."""
    from PIL import Image

    scatters, sizes = page.locator("svg.scatter"), page.locator("svg.sizes")
    assert [scatters.nth(i).locator("circle").count() for i in range(scatters.count())] == scatter_points
    for i in range(scatters.count()):
        chart, keys = scatters.nth(i).bounding_box(), scatters.nth(i).locator("text.key")
        boxes = [keys.nth(k).bounding_box() for k in range(keys.count())]
        numbers = sorted(int(n) for k in range(keys.count()) for n in keys.nth(k).text_content().split(", "))
        assert numbers == list(range(1, scatter_points[i] + 1))
        for n, box in enumerate(boxes):
            assert chart["x"] <= box["x"] and box["x"] + box["width"] <= chart["x"] + chart["width"], box
            assert not any(box["x"] < o["x"] + o["width"] and o["x"] < box["x"] + box["width"]
                           and box["y"] < o["y"] + o["height"] and o["y"] < box["y"] + box["height"]
                           for o in boxes[:n]), "two point numbers overlap"
    assert [sizes.nth(i).locator("rect").count() for i in range(sizes.count())] == bars
    for plot in (*(scatters.nth(i) for i in range(scatters.count())), *(sizes.nth(i) for i in range(sizes.count()))):
        box = plot.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 20, box
        colours = Image.open(io.BytesIO(plot.screenshot())).convert("RGB").getcolors(maxcolors=1 << 16)
        assert len(colours) > 3, "the chart rendered as a flat colour"


def test_the_page_renders_in_a_browser_without_errors_or_requests(open_page, page_html):
    page, problems = open_page(page_html)
    assert problems == []
    assert page.locator("script").count() == 0
    check_plots(page, scatter_points=[5], bars=[4, 1])


def test_hostile_names_stay_text_in_a_browser_even_without_the_csp(open_page, page_html):
    page, problems = open_page(page_html, bypass_csp=True)  # so that only the escaping stands in the way
    assert problems == []
    body = page.inner_text("body")
    assert HOSTILE in body and HOSTILE_FILE in body and "<b onmouseover=alert(3)>op</b> & more" in body
    assert page.locator("img").count() == 0 and page.locator("b").count() == 0


@pytest.mark.slow
def test_the_report_of_a_real_conversion_renders(open_page, converted):
    results = schema.read(converted["folder"])
    page, problems = open_page(report_html.render(results))
    assert problems == []
    model = results["models"][0]
    check_plots(page, scatter_points=[len(plots.plotted(summary.rows(model)))], bars=[len(model["artifacts"])])
    assert page.locator("details.file").count() == len(model["artifacts"])


def _keys(svg: str) -> list[str]:
    return re.findall(r'<text [^>]*class="key"[^>]*>([^<]*)</text>', svg)


def test_every_scatter_point_is_numbered_as_its_table_row_with_its_p99_bar():
    model = schema.parse(results())["models"][0]
    rows = summary.rows(model)
    svg = plots.scatter(rows, "accuracy", [1, 2, 3, 4, 5])
    numbers = sorted(int(n) for label in _keys(svg) for n in label.split(", "))
    assert numbers == [1, 2, 3, 4, 5]
    circles = re.findall(r'<circle class="point" cx="([\d.]+)" cy="([\d.]+)"', svg)
    assert len(circles) == 5
    for cx, cy in circles:  # each point's bar starts at it and runs right, to its p99
        bar = re.search(rf'<line x1="{cx}" y1="{cy}" x2="([\d.]+)" y2="{cy}"', svg)
        assert bar and float(bar[1]) > float(cx)
    page = report_html.render(schema.parse(results()))
    table = page[page.index('<table class="results keyed">'):page.index("</table>")]
    assert [int(n) for n in re.findall(r"<tr[^>]*><td>(\d+)</td>", table)] == [1, 2, 3, 4, 5]
    assert "<h3>Task metric (accuracy) against latency</h3>" in page and ">accuracy</text>" in svg


def test_a_scatter_of_equal_scores_spreads_the_points_by_file_size():
    data = results()
    for r in data["models"][0]["records"]:
        if r["status"] == "ok":
            r["accuracy"].update(value=0.98, drop_points=0.0)
    model = schema.parse(data)["models"][0]
    svg = plots.scatter(summary.rows(model), "accuracy")
    assert "file size, KB (log scale)" in svg and "no faster file is smaller" in svg
    heights = {cy for _, cy in re.findall(r'<circle class="point" cx="([\d.]+)" cy="([\d.]+)"', svg)}
    assert len(heights) == 4  # four file sizes: not one flat row
    assert "<h3>File size (every file scores accuracy 0.9800) against latency</h3>" in report_html.render(
        schema.parse(data))


def test_the_numbers_of_a_dense_cluster_of_points_never_overlap(open_page):
    """Fourteen rows a few pixels apart (one file on one target at fourteen thread counts, as close
    in latency and accuracy as real rows come): each number finds a clear place, in a real browser.
    (Before, a label tried six places and took the last one even where it covered another.)"""
    close = [(5.65, 0.974), (6.28, 0.974), (5.3, 0.976), (5.87, 0.976), (6.22, 0.98), (5.94, 0.974), (5.42, 0.976),
             (5.1, 0.974), (5.67, 0.98), (6.02, 0.974), (5.78, 0.972), (5.76, 0.974), (5.37, 0.972), (5.38, 0.972)]
    data = results()
    del data["models"][1]
    data["models"][0]["records"] = [{**record("tiny_int8.tflite", "tflite", "int8", "litert:xnnpack", p50, value, 1.0),
                                     "threads": i + 1} for i, (p50, value) in enumerate(close)]
    model = schema.parse(data)["models"][0]
    assert len(plots.plotted(summary.rows(model))) == len(close)
    page, problems = open_page(report_html.render(schema.parse(data)))
    assert problems == []
    check_plots(page, scatter_points=[len(close)], bars=[len(model["artifacts"])])
