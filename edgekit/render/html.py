"""The HTML report: one self-contained page (inline CSS and SVG, no script, nothing fetched) with,
per model, the Markdown report's table and recommendation, the metric against latency with its
Pareto front, the file sizes, what did not run, and each file's details.

Every value from the results goes through `html.escape`: a results file is input, and a model
or file name must never become markup.
"""

from __future__ import annotations

from html import escape

from edgekit.core.units import human_size
from edgekit.render import plots
from edgekit.render import profile as profile_text
from edgekit.render.table import micro_lines, sized
from edgekit.results import profiles, schema, summary
from edgekit.results.schema import target_label

# Even a value that slipped through unescaped could then neither fetch nor run anything.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
FLIPPED_SHOWN = 20  # flipped sample indices listed per output; the count is always given
SPREAD_NOTE = "the timing spread widely (robust cv above 0.1): rerun on a quiet machine before trusting it"

STYLE = """
body { font: 15px/1.45 system-ui, 'Segoe UI', Helvetica, Arial, sans-serif; color: #24292f;
       max-width: 1060px; margin: 2rem auto; padding: 0 1rem; }
h1 { margin-bottom: .4rem; } h2 { margin-top: 2.5rem; border-bottom: 1px solid #d0d7de; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: .5rem 0; }
dt { color: #57606a; } dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; margin: .5rem 0; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #d0d7de; text-align: left; }
th { background: #f6f8fa; }
table.results td:nth-child(n+3), table.results th:nth-child(n+3) { text-align: right; }
table.keyed td:nth-child(3), table.keyed th:nth-child(3) { text-align: left; }
table.keyed td:nth-child(n+4) { white-space: nowrap; }
table.keyed td:first-child, table.keyed th:first-child { text-align: right; color: #57606a; }
tr.recommended { background: #ddf4ff; }
.flag { color: #cf222e; font-weight: 600; }
.recommendation { border-left: 4px solid #1f6feb; background: #f6f8fa; padding: .5rem .8rem; }
.note, .muted { color: #57606a; }
svg.plot { display: block; max-width: 100%; height: auto; margin: .5rem 0; }
details { border: 1px solid #d0d7de; border-radius: 6px; padding: .3rem .8rem; margin: .4rem 0; }
summary { cursor: pointer; font-weight: 600; }
h4 { margin: .7rem 0 .1rem; }
code { font: 13px ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace; }
"""


def render(results: dict, tolerance: float = summary.DEFAULT_TOLERANCE) -> str:
    names = ", ".join(m["name"] for m in results["models"])
    models = "\n".join(_model(m, tolerance, results.get("settings")) for m in results["models"]) \
        or "<p>No model was measured.</p>"
    return ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>edgekit benchmark: {_e(names)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            f"{_header(results)}\n{models}\n</body>\n</html>\n")


def _e(value) -> str:
    """Any value from the results, as page text."""
    return escape(str(value))


def _dl(pairs: list[tuple[str, str]]) -> str:
    """A definition list; the values are HTML already."""
    return "<dl>" + "".join(f"<dt>{_e(term)}</dt><dd>{value}</dd>" for term, value in pairs) + "</dl>"


def _header(results: dict) -> str:
    env, settings = results["environment"], results["settings"]
    cpu = env.get("cpu") or {}
    versions = ", ".join(f"{name} {version}" for name, version in (env.get("versions") or {}).items() if version)
    threads = ", ".join(map(str, (settings.get("target_settings") or {}).get("threads") or [])) or "default"
    return "<header><h1>edgekit benchmark</h1>" + _dl([
        ("machine", _e(f"{cpu.get('name', '?')}, {cpu.get('cores', '?')} cores; {env.get('platform', '?')}; "
                       f"Python {env.get('python', '?')}")),
        ("packages", _e(versions or "not recorded")),
        ("created", _e(results.get("created", "?"))),
        ("settings", _e(f"{_runs(settings.get('runs'))} after {settings.get('warmup', '?')} warm-up runs, "
                        f"batch {settings.get('batch', '?')} for throughput, threads {threads}")),
        *((f"device {name}", _e(_machine(board))) for name, board in (results.get("devices") or {}).items()),
    ]) + "</header>"


def _runs(runs) -> str:
    return f"{runs} runs" if runs else "runs until the median was pinned (--runs auto)"


def _machine(env: dict) -> str:
    """A board's fingerprint in one line."""
    cpu = env.get("cpu") or {}
    versions = ", ".join(f"{name} {version}" for name, version in (env.get("versions") or {}).items()
                         if version and name != "edgekit")
    if "phone" in env:  # an Android phone (runners.adb): no Python, LiteRT's benchmark_model measured
        return f"{env['phone']}; {cpu.get('name', '?')}, {cpu.get('cores', '?')} cores; {env.get('platform', '?')}"
    return (f"{cpu.get('name', '?')}, {cpu.get('cores', '?')} cores; {env.get('platform', '?')}; "
            f"Python {env.get('python', '?')}; {versions or 'no packages recorded'}")


def _model(model: dict, tolerance: float, settings: dict | None = None) -> str:
    metric, rows = model["data"].get("metric"), summary.rows(model)
    keys = list(range(1, len(rows) + 1))  # the table's row numbers, which number the chart's points
    recommendation = summary.recommend(model, tolerance)
    not_run = summary.not_run(model, settings)
    folded = summary.unrequested(model, settings)
    where = summary.devices(model)
    tables = [_table(list(zip(keys, rows)), metric, recommendation.row)] if len(where) < 2 else [
        f"<h3>On {_e(device)}</h3>\n" + _table([(k, r) for k, r in zip(keys, rows)
                                                 if r.record.get("device", "local") == device], metric,
                                                recommendation.row) for device in where]
    return "\n".join([
        f"<section>\n<h2>{_e(model['name'])}</h2>",
        f'<p class="recommendation">{_e(recommendation.line())}</p>',
        *tables,
        _cross_device(model),
        _data_note(model),
        f"<h3>{_e(_scatter_title(rows, metric))} against latency</h3>",
        _scatter(rows, metric, keys),
        "<h3>File sizes</h3>",
        plots.size_bars(_files(model)),
        *_profiles(model),
        *(["<h3>On a microcontroller</h3>\n<ul>" + "".join(f"<li>{_e(line)}</li>" for line in micro) + "</ul>"]
          if (micro := micro_lines(model["records"])) else []),
        f"<h3>Did not run ({len(not_run)})</h3>",
        "<ul>" + "".join(f"<li>{_not_run_item(line, folded)}</li>" for line in not_run) + "</ul>" if not_run
        else '<p class="note">Every selected target ran.</p>',
        "<h3>Files</h3>",
        *(_artifact(a, model) for a in model["artifacts"]),
        "</section>"])


def _profiles(model: dict) -> list[str]:
    """Per file and target profiled: the per-op total, a chart of the time by op type and the
    placement table; a line for each that has no profile. Nothing where no record has a "profile"."""
    records = [r for r in model["records"] if r.get("profile") is not None]
    if not records:
        return []
    parts = ["<h3>Where the time goes</h3>"]
    for record in records:
        found = profiles.profiled(record)
        if found is None:
            parts.append(f'<p class="note">{_e(profile_text.label(record))}: no per-op profile '
                         f"({_e(profiles.missing(record['profile']))})</p>")
            continue
        p50 = schema.typical_latency(record) if record["status"] == "ok" else None
        shown = profiles.summary(found, p50)
        placed = profiles.placement(found)
        lines = [profile_text.method_line(found), profile_text.total_line(shown, "mean" if schema.is_mean(record)
                                                                          else "p50"), *profile_text.note_lines(found)]
        executors = "".join(f"<tr><td>{_e(name)}</td><td>{count}</td></tr>" for name, count in placed["executors"].items())
        facts = profile_text.placement_facts(placed)
        left = "".join(f"<li>{_e(line)}</li>" for line in [*profile_text.left_lines(placed),
                                                             *profile_text.not_timed_lines(found)])
        parts += [f"<h4>{_e(profile_text.label(record))}</h4>", *(f'<p class="note">{_e(line)}</p>' for line in lines),
                  plots.time_bars(shown["by_type"]) if shown["by_type"] else '<p class="note">No op was timed.</p>',
                  '<table class="placement"><thead><tr><th>executor</th><th>ops</th></tr></thead><tbody>'
                  + executors + "</tbody></table>",
                  f'<p class="note">{_e("; ".join(facts))}</p>' + (f"<ul>{left}</ul>" if left else "")]
    return parts


def _table(rows: list[tuple[int, summary.Row]], metric: str | None, recommended: summary.Row | None) -> str:
    """The Markdown report's table, each row numbered as the chart's points, the recommended row
    highlighted."""
    if not rows:
        return "<p>No target could run.</p>"
    headers = summary.headers(metric)
    body = []
    for key, row in rows:
        r = row.record
        cells = [_e(c) for c in summary.cells(row, metric)]
        if r["latency_us"].get("high_spread"):
            cells[headers.index("p50 us")] += f' <span class="flag" title="{_e(SPREAD_NOTE)}">!</span>'
        chosen = ' class="recommended"' if recommended is not None and r is recommended.record else ""
        body.append(f"<tr{chosen} title=\"{_e(r['artifact'])}\">" + "".join(f"<td>{c}</td>" for c in [key, *cells])
                    + "</tr>")
    head = "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in ["#", *headers]) + "</tr>"
    rows = [row for _, row in rows]
    spread = any(row.record["latency_us"].get("high_spread") for row in rows)
    return (f'<table class="results keyed">\n<thead>{head}</thead>\n<tbody>\n' + "\n".join(body) + "\n</tbody></table>"
            + (f'<p class="note"><span class="flag">!</span> {_e(SPREAD_NOTE)}</p>' if spread else "")
            + (f'<p class="note">{_e(schema.MEAN_NOTE)}</p>' if any(schema.is_mean(row.record) for row in rows) else ""))


def _cross_device(model: dict) -> str:
    """The latency of each file and target side by side on every device measured."""
    headers, rows = summary.cross_device(model)
    if not rows:
        return ""
    head = "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in headers) + "</tr>"
    body = "\n".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<h3>Latency across devices</h3>\n<table class="results">\n<thead>{head}</thead>\n<tbody>\n{body}\n</tbody></table>'


def _data_note(model: dict) -> str:
    data = model["data"]
    notes = [f"data: {data.get('samples', '?')} samples from {data.get('source', '?')}"
             + sized(data.get("input_shapes"), bool(data.get("shapes_from")), data.get("shapes_from")),
             *filter(None, (summary.throughput_note(model), summary.speedup_note(model))),
             *summary.slower_notes(model), *summary.caveat_notes(model),
             *summary.throughput_notes(model)]
    return "".join(f'<p class="note">{_e(note)}</p>' for note in notes)


def _not_run_item(line: str, folded: dict) -> str:
    """A line of what did not run; the folded one opens on each target's reason."""
    if not folded or not line.startswith(summary.FOLDED):
        return _e(line)
    reasons = "".join(f"<li>{_e(target_label({'target': target, 'device': device}))}: {_e('; '.join(why))}</li>"
                      for (target, device), why in folded.items())
    return f'<details class="folded"><summary>{_e(line)}</summary><ul>{reasons}</ul></details>'


def _scatter_title(rows: list[summary.Row], metric: str | None) -> str:
    if metric and plots.plotted(rows) and not plots.by_score(rows):
        return f"File size (every file scores {metric} {plots.plotted(rows)[0].accuracy:.4f})"
    return f"Task metric{f' ({metric})' if metric else ''}"


def _scatter(rows: list[summary.Row], metric: str | None, keys: list[int]) -> str:
    if not metric:
        return '<p class="note">No chart: the evaluation data has no labels, so no file has a score.</p>'
    if not plots.plotted(rows):
        return f'<p class="note">No chart: no file that ran has a {_e(metric)} score.</p>'
    return plots.scatter(rows, metric, keys)


def _files(model: dict) -> list[dict]:
    """The measured files, with the float model's when the artifact list lacks it."""
    files, reference = list(model["artifacts"]), model.get("reference") or {}
    if reference.get("artifact") and reference["artifact"] not in {f["name"] for f in files}:
        files.insert(0, {"name": reference["artifact"], "size_bytes": reference.get("size_bytes"), "variant": "float"})
    return files


def _artifact(artifact: dict, model: dict) -> str:
    size, gzip = artifact.get("size_bytes"), artifact.get("gzip_bytes")
    facts = [("format", _e(artifact.get("format"))), ("variant", _e(artifact.get("variant"))),
             ("size", f"{human_size(size)} ({size:,} bytes)" if size is not None else "-"),
             ("gzip", human_size(gzip) if gzip is not None else "-"),
             ("sha256", f"<code>{_e(artifact['sha256'])}</code>" if artifact.get("sha256") else "not recorded")]
    specs = (artifact.get("inputs") or []) + (artifact.get("outputs") or [])
    kind = f"{artifact.get('format')} {artifact.get('variant')}" + (f", {human_size(size)}" if size is not None else "")
    parts = [f'<details class="file"><summary>{_e(artifact["name"])} <span class="muted">{_e(kind)}</span></summary>', _dl(facts)]
    parts.append(_specs(artifact) if specs else
                 '<p class="note">Inputs and outputs not recorded (the results file predates schema version 2).</p>')
    parts += [_run(r) for r in model["records"] if r["artifact"] == artifact["name"] and r["status"] == "ok"]
    return "\n".join(parts) + "</details>"


def _specs(artifact: dict) -> str:
    """Inputs and outputs: name, dtype, shape (? where dynamic) and quantization when present."""
    rows = []
    for kind in ("inputs", "outputs"):
        for spec in artifact.get(kind) or []:
            shape = "[" + ", ".join("?" if d is None else str(d) for d in spec.get("shape") or []) + "]"
            cells = [kind[:-1], spec.get("name"), spec.get("dtype"), shape,
                     _values(spec.get("scale")), _values(spec.get("zero_point"))]
            rows.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    return ("<table><thead><tr><th></th><th>name</th><th>dtype</th><th>shape</th><th>scale</th>"
            "<th>zero point</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _run(record: dict) -> str:
    """One ok record of a file: its runtime options, and its fidelity against the float model."""
    fid = record.get("fidelity")
    options = ", ".join(f"{k}={v}" for k, v in (record.get("details") or {}).items()) or "none"
    pairs = [("options", _e(options))]
    if fid is None:
        pairs.append(("fidelity", "the float model itself" if record["variant"] == "float"
                      else "not compared with the float model"))
    else:
        top1 = fid.get("top1_agreement")
        pairs.append(("fidelity", _e(f"max-abs {fid['max_abs']:.3g}, SQNR {fid['sqnr_db']:.1f} dB, top-1 agreement "
                                     + ("-" if top1 is None else f"{top1:.2%}"))))
        for name, output in (fid.get("outputs") or {}).items():
            flipped = output.get("flipped_samples")
            if flipped is not None:
                shown = ", ".join(map(str, flipped[:FLIPPED_SHOWN])) + (" …" if len(flipped) > FLIPPED_SHOWN else "")
                pairs.append((f"flipped in {name}", _e(f"{len(flipped)} samples" + (f": {shown}" if flipped else ""))))
    return f"<h4>on {_e(target_label(record))} ({_e(record['runtime'])})</h4>" + _dl(pairs)


def _values(values) -> str:
    """Quantization parameters: per-channel lists are long, so the first few and the count."""
    if values is None:
        return "-"
    values = list(values)
    return ", ".join(f"{v:.6g}" for v in values[:4]) + (f" … ({len(values)} values)" if len(values) > 4 else "")

