"""The Markdown report: a compact table per model that reads well in a pull request and in a CI
job summary, the recommended variant, and what did not run."""

from __future__ import annotations

import os

from edgekit.report import summary


def cell(text) -> str:
    """Table-safe text: pipes escaped, line breaks and HTML-significant characters neutralised."""
    return (str(text).replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", " ").replace("\n", " "))


def table(headers: list[str], rows: list[list], right: set[int] = frozenset()) -> list[str]:
    align = ["---:" if i in right else "---" for i in range(len(headers))]
    return ["| " + " | ".join(map(cell, line)) + " |" for line in (headers, align, *rows)]


def model_section(model: dict, tolerance: float = summary.DEFAULT_TOLERANCE) -> list[str]:
    metric = model["data"].get("metric")
    headers = summary.headers(metric)
    body = []
    for row in summary.rows(model):
        line = summary.cells(row, metric)
        if row.record["latency_us"].get("high_spread"):
            line[headers.index("p50 us")] += " !"
        body.append(line)
    lines = [f"### {cell(model['name'])}", ""]
    lines += table(headers, body, right=set(range(2, len(headers)))) if body else ["No target could run."]
    lines += ["", f"**{cell(summary.recommend(model, tolerance).line())}**", ""]
    notes = [*summary.not_run(model)]
    if any(r.record["latency_us"].get("high_spread") for r in summary.rows(model)):
        notes.append("!: the timing spread widely (robust cv above 0.1); rerun on a quiet machine before trusting it")
    notes.append(_data_note(model))
    lines += [f"- {cell(note)}" for note in notes]
    return lines


def render(results: dict, tolerance: float = summary.DEFAULT_TOLERANCE) -> str:
    env = results["environment"]
    cpu, versions = env.get("cpu", {}), env.get("versions", {})
    lines = ["## edgekit benchmark", "",
             f"{cell(cpu.get('name', '?'))}, {cpu.get('cores', '?')} cores; edgekit {versions.get('edgekit', '?')}, "
             f"TensorFlow {versions.get('tensorflow', '?')}, LiteRT {versions.get('ai-edge-litert', '?')}, "
             f"onnxruntime {versions.get('onnxruntime', '?')}; {cell(results.get('created', ''))}", ""]
    for model in results["models"]:
        lines += model_section(model, tolerance) + [""]
    return "\n".join(lines)


def _data_note(model: dict) -> str:
    data, p50 = model["data"], summary.float_latency(model)
    first = next((r for r in model["records"] if r["status"] == "ok"), None)
    parts = [f"data: {data['samples']} samples from {data['source']}"]
    if first:
        parts.append(f"latency: batch 1, {first['latency_us']['runs']} runs")
    parts.append(f"speed-up: the float model's p50 on {summary.FLOAT_TARGET} ({p50:,.1f} us) over the row's"
                 if p50 else f"speed-up: not shown, the float model did not run on {summary.FLOAT_TARGET}")
    return "; ".join(parts)


def append_to_step_summary(text: str) -> str | None:
    """Append to the GitHub Actions job summary when the job has one; the file's path, or None."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return None
    with open(path, "a", encoding="utf-8") as summary_file:
        summary_file.write(text.rstrip("\n") + "\n\n")
    return path
