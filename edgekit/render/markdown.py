"""The Markdown report: a compact table per model that reads well in a pull request and in a CI
job summary, the recommended variant, and what did not run.

Every string from a results file is input: `cell` (inline text, a table cell) and `item` (text
that starts a list item or a paragraph) make it literal text for CommonMark and GitHub's
Markdown, so that no tag, link, image, entity, mention or line break can come through.
"""

from __future__ import annotations

import os
import re

from edgekit.render import profile as profile_text
from edgekit.render.table import micro_lines, sized
from edgekit.results import profiles, schema, summary

# What makes inline markup wherever it stands: escapes, code spans, emphasis, strikethrough,
# links and images ([ ]), raw HTML and autolinks (< >), table cells (|), headings' closing #s
# and issue references (#), math ($) and mentions or e-mail autolinks (@).
_INLINE = frozenset("\\`*[]<>|#~$@")
# What starts a block when it begins a list item's or a paragraph's text and `cell` leaves as
# it is: a list's "- " or "+ " (a thematic break's "---"), a setext underline's "=", an ordered
# list's "1. " or "1) ". (Headings, quotes, fences and HTML start with characters `cell` escapes;
# "-0.50" or "1.5" start no block.)
_BLOCK_START = re.compile(r"[+\-=](?=[\s+\-=]|$)|\d{1,9}[.)](?=\s|$)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")  # line breaks among them
NOT_RUN_SHOWN = 5  # "did not run" lines listed as they are; more go inside <details>


def cell(text) -> str:
    """Any value as literal inline Markdown text (a table cell, a heading, mid-line): the
    characters that make markup backslash-escaped, & as &amp;, line breaks and other control
    characters as one space. Numbers and file names stay readable: `.`, `-`, `+`, `:`, and `_`
    inside a word cannot make markup there and are left alone."""
    text = _CONTROL.sub(" ", str(text))
    out = []
    for i, char in enumerate(text):
        if char == "&":
            out.append("&amp;")  # no entity (&lt;, &#60;) can form
        elif char in _INLINE:
            out.append("\\" + char)
        elif char == "_" and not (_word(text, i - 1) and _word(text, i + 1)):
            out.append("\\_")  # an underscore between letters or digits never emphasises
        elif char == ":" and text.startswith("//", i + 1):
            out.append("\\:")  # GitHub links bare http:// and https:// URLs
        elif char == "." and text[max(0, i - 3):i].lower() == "www":
            out.append("\\.")  # ... and bare www. names
        else:
            out.append(char)
    return "".join(out)


def item(text) -> str:
    """`cell`, for text that begins a list item or a paragraph: leading spaces (an indented code
    block) dropped and a leading block marker escaped as well."""
    text = cell(_CONTROL.sub(" ", str(text)).lstrip())
    start = _BLOCK_START.match(text)
    if start:
        marker = start.end() - 1  # the character that makes the block: "#", "-", the "." of "1."
        text = text[:marker] + "\\" + text[marker:]
    return text


def _word(text: str, i: int) -> bool:
    return 0 <= i < len(text) and text[i].isascii() and text[i].isalnum()


def table(headers: list[str], rows: list[list], right: set[int] = frozenset()) -> list[str]:
    align = ["---:" if i in right else "---" for i in range(len(headers))]
    return ["| " + " | ".join(map(cell, line)) + " |" for line in (headers, align, *rows)]


def model_section(model: dict, tolerance: float = summary.DEFAULT_TOLERANCE, settings: dict | None = None) -> list[str]:
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
    across, rows = summary.cross_device(model)
    if rows:
        lines += ["", "p50 on each device:", "", *table(across, rows, right=set(range(2, len(across))))]
    lines += ["", f"**{cell(summary.recommend(model, tolerance).line())}**", ""]
    notes = [*micro_lines(model["records"]), *summary.slower_notes(model), *summary.caveat_notes(model),
             *summary.throughput_notes(model)]
    if any(r.record["latency_us"].get("high_spread") for r in summary.rows(model)):
        notes.append("!: the timing spread widely (robust cv above 0.1); rerun on a quiet machine before trusting it")
    if any(map(schema.is_mean, model["records"])):
        notes.append(schema.MEAN_NOTE)
    notes += [_data_note(model), *filter(None, (summary.throughput_note(model), summary.speedup_note(model)))]
    lines += [f"- {item(note)}" for note in notes]
    return lines + _profiles(model) + _not_run(summary.not_run(model, settings))


def _profiles(model: dict) -> list[str]:
    """Per file and target profiled: the per-op total, the top ops by time and the placement;
    a line for each that has no profile, with why. Nothing where no record has a "profile"."""
    records = [r for r in model["records"] if r.get("profile") is not None]
    if not records:
        return []
    lines = ["", "#### Where the time goes"]
    for record in records:
        found = profiles.profiled(record)
        if found is None:
            lines += ["", item(f"{profile_text.label(record)}: no per-op profile ({profiles.missing(record['profile'])})")]
            continue
        p50 = schema.typical_latency(record) if record["status"] == "ok" else None
        shown = profiles.summary(found, p50, profile_text.TOP)
        statistic = "mean" if schema.is_mean(record) else "p50"
        rows = [[str(n), str(op["index"]), op["name"], op["type"], op["executor"], f"{op['us']:,.1f}",
                 f"{op['share']:.1f}%"] for n, op in enumerate(shown["top"], 1)]
        lines += ["", f"**{cell(profile_text.label(record))}**: {cell(profile_text.total_line(shown, statistic))}; "
                      f"{cell(found['method'])}, medians over {found['runs']} calls"
                      + (f" ({cell(found['note'])})" if found.get("note") else "")
                      + f"; the {len(rows)} slowest of {len(shown['rows'])} ops:", ""]
        lines += table(["#", "node", "name", "type", "executor", f"median {profile_text.US}", "share"], rows,
                       right={0, 1, 5, 6}) if rows else ["No op was timed."]
        lines += [""] + [f"- {item(line)}" for line in [*profile_text.placement_lines(profiles.placement(found)),
                                                          *profile_text.not_timed_lines(found)]]
    return lines


def _not_run(lines: list[str]) -> list[str]:
    """What did not run: a list, folded into <details> when it is long."""
    if not lines:
        return []
    listed = [f"- {item(line)}" for line in lines]
    if len(lines) <= NOT_RUN_SHOWN:
        return ["", "Did not run:", "", *listed]
    return ["", f"<details><summary>Did not run ({len(lines)})</summary>", "", *listed, "", "</details>"]


def render(results: dict, tolerance: float = summary.DEFAULT_TOLERANCE) -> str:
    env = results["environment"]
    cpu, versions = env.get("cpu") or {}, env.get("versions") or {}
    version = {name: cell(versions.get(name) or "?") for name in ("edgekit", "tensorflow", "ai-edge-litert",
                                                                   "onnxruntime")}
    lines = ["## edgekit benchmark", "",
             f"{item(cpu.get('name') or '?')}, {cell(cpu.get('cores') or '?')} cores; edgekit "
             f"{version['edgekit']}, TensorFlow {version['tensorflow']}, LiteRT {version['ai-edge-litert']}, "
             f"onnxruntime {version['onnxruntime']}; {cell(results.get('created') or '')}", ""]
    for model in results["models"]:
        lines += model_section(model, tolerance, results.get("settings")) + [""]
    return "\n".join(lines)


def _data_note(model: dict) -> str:
    data = model["data"]
    counts = sorted(r["latency_us"]["runs"] for r in model["records"] if r["status"] == "ok")
    parts = [f"data: {data['samples']} samples from {data['source']}"
             + sized(data.get("input_shapes"), bool(data.get("shapes_from")), data.get("shapes_from"))]
    if counts:  # --runs auto stops each pair when its median is pinned: the counts differ
        parts.append(f"latency: batch 1, {counts[0] if counts[0] == counts[-1] else f'{counts[0]}-{counts[-1]}'} runs")
    return "; ".join(parts)


def append_to_step_summary(text: str) -> str | None:
    """Append to the GitHub Actions job summary when the job has one; the file's path, or None."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return None
    with open(path, "a", encoding="utf-8") as summary_file:
        summary_file.write(text.rstrip("\n") + "\n\n")
    return path
