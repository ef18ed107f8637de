"""Hand-written SVG charts for the HTML report: no plotting library and nothing fetched, and every
string XML-escaped, so that a chart can be inlined into the page as it is."""

from __future__ import annotations

import math
from html import escape

from edgekit.report.summary import Row
from edgekit.report.table import human_size

WIDTH, HEIGHT = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 40, 48  # room for tick labels left and below, the legend above
FONT = "system-ui, 'Segoe UI', Helvetica, Arial, sans-serif"
ACCENT, MUTED, GRID, INK = "#1f6feb", "#8c959f", "#e5e7eb", "#24292f"


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the (latency, drop) points that no other point beats: another point beats one
    when it is at least as low in both values and lower in one."""
    return [i for i, (x, y) in enumerate(points)
            if not any(ox <= x and oy <= y and (ox, oy) != (x, y) for ox, oy in points)]


def plotted(rows: list[Row]) -> list[Row]:
    """The rows a scatter shows: those with a score, and a latency a log scale can place."""
    return [r for r in rows if r.accuracy is not None and r.p50 > 0]


def scatter(rows: list[Row], metric: str) -> str:
    """The metric against p50 latency (log scale: files run in 2 us to 1 ms) for one model; the
    Pareto front, the files no faster file scores better than, filled and joined by a step line."""
    rows = plotted(rows)
    scored = [i for i, r in enumerate(rows) if r.drop is not None]  # the front needs the float model's score
    front = sorted((scored[i] for i in pareto_front([(rows[j].p50, rows[j].drop) for j in scored])),
                   key=lambda i: rows[i].p50)
    x, x_ticks = _log_axis([r.p50 for r in rows], LEFT, WIDTH - RIGHT)
    y, y_ticks, digits = _linear_axis([r.accuracy for r in rows], HEIGHT - BOTTOM, TOP)
    parts = [_svg_open("scatter", WIDTH, HEIGHT, f"{metric} against p50 latency")]
    parts += [_line(x(t), TOP, x(t), HEIGHT - BOTTOM, GRID) + _text(x(t), HEIGHT - BOTTOM + 16, f"{t:g}", "middle")
              for t in x_ticks]
    parts += [_line(LEFT, y(t), WIDTH - RIGHT, y(t), GRID) + _text(LEFT - 6, y(t) + 4, f"{t:.{digits}f}", "end")
              for t in y_ticks]
    parts.append(_line(LEFT, HEIGHT - BOTTOM, WIDTH - RIGHT, HEIGHT - BOTTOM, MUTED))
    parts.append(_text((LEFT + WIDTH - RIGHT) / 2, HEIGHT - 10, "p50 latency, us (log scale)", "middle"))
    parts.append(_text(14, (TOP + HEIGHT - BOTTOM) / 2, metric, "middle",
                       f' transform="rotate(-90 14 {(TOP + HEIGHT - BOTTOM) / 2:.1f})"'))
    steps = [(x(rows[front[0]].p50), y(rows[front[0]].accuracy))] if front else []
    for a, b in zip(front, front[1:]):  # what the best file at each latency scores: flat, then a step
        steps += [(x(rows[b].p50), y(rows[a].accuracy)), (x(rows[b].p50), y(rows[b].accuracy))]
    points = " ".join(f"{px:.1f},{py:.1f}" for px, py in steps)
    parts.append(f'<polyline points="{points}" fill="none" stroke="{ACCENT}" stroke-width="1.5"/>')
    for i, r in sorted(enumerate(rows), key=lambda pair: pair[0] in front):  # the front drawn on top
        on_front = i in front
        tip = (f"{r.record['artifact']} on {r.target} ({r.record['runtime']}): p50 {r.p50:,.1f} us, "
               f"{metric} {r.accuracy:.4f}" + ("" if r.drop is None else f", drop {r.drop:+.2f} points")
               + (", on the Pareto front" if on_front else ""))
        style = f'r="6" fill="{ACCENT}"' if on_front else f'r="4" fill="white" stroke="{MUTED}" stroke-width="1.5"'
        parts.append(f'<circle class="point" cx="{x(r.p50):.1f}" cy="{y(r.accuracy):.1f}" {style}>'
                     f'<title>{escape(tip)}</title></circle>')
    for i in front:  # name the front: it is what a reader chooses from
        parts.append(_text(x(rows[i].p50) + 8, y(rows[i].accuracy) + 18,
                           f"{rows[i].record['artifact']} · {rows[i].target}", "start", f' fill="{ACCENT}"'))
    legend = (["● on the Pareto front: no faster file scores better", "○ the other files and runtimes"]
              if scored else ["○ files and runtimes (no Pareto front: the float model's score is unknown)"])
    parts += [_text(LEFT + 330 * n, TOP - 16, item, "start") for n, item in enumerate(legend)]
    return "\n".join(parts) + "\n</svg>"


def size_bars(files: list[dict]) -> str:
    """One horizontal bar per file (`name`, `size_bytes`, `variant`), the float model's in grey."""
    files = [f for f in files if f.get("size_bytes")]
    label_width, bar_height, top = 230, 22, 12
    height = top * 2 + bar_height * len(files)  # grows with the files, so that bars stay readable
    longest = max((f["size_bytes"] for f in files), default=1)
    scale = (WIDTH - label_width - 90) / longest  # 90: room for the size label after the longest bar
    parts = [_svg_open("sizes", WIDTH, height, "file size per model file")]
    for n, f in enumerate(files):
        top_y, name, width = top + n * bar_height, str(f["name"]), f["size_bytes"] * scale
        short = name if len(name) <= 34 else name[:33] + "…"
        colour = MUTED if f.get("variant") == "float" else ACCENT
        parts.append(f'<g><title>{escape(name)}: {f["size_bytes"]:,} bytes</title>'
                     + _text(label_width - 8, top_y + 15, short, "end")
                     + f'<rect x="{label_width}" y="{top_y + 3}" width="{width:.1f}" height="{bar_height - 6}"'
                       f' fill="{colour}"/>'
                     + _text(label_width + width + 6, top_y + 15, human_size(f["size_bytes"]), "start") + "</g>")
    return "\n".join(parts) + "\n</svg>"


def _svg_open(kind: str, width: int, height: int, label: str) -> str:
    # no xmlns: inline SVG in HTML5 needs none, and the page is to hold no URL at all
    return (f'<svg class="plot {kind}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'role="img" aria-label="{escape(label)}" font-family="{escape(FONT)}" font-size="12">')


def _text(x: float, y: float, text: str, anchor: str, extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{INK}"{extra}>{escape(str(text))}</text>'


def _line(x1: float, y1: float, x2: float, y2: float, colour: str) -> str:
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}"/>'


def _log_axis(values: list[float], start: float, end: float):
    """A log10 scale over the values with a margin, and its 1-2-5 ticks (the ends when none fall inside)."""
    lo, hi = math.log10(min(values) / 1.3), math.log10(max(values) * 1.3)
    ticks = [m * 10 ** e for e in range(math.floor(lo), math.ceil(hi) + 1) for m in (1, 2, 5)
             if lo <= math.log10(m * 10 ** e) <= hi]
    ticks = ticks or [float(f"{min(values):.2g}"), float(f"{max(values):.2g}")]
    return (lambda v: start + (math.log10(v) - lo) / (hi - lo) * (end - start)), ticks


def _linear_axis(values: list[float], start: float, end: float):
    """A linear scale over the values with a margin, its round ticks, and the decimals they need."""
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.1 or abs(hi) * 0.01 or 0.01  # equal values still get a readable range
    lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / 4
    step = next(m * 10 ** math.floor(math.log10(raw)) for m in (1, 2, 5, 10)
                if m * 10 ** math.floor(math.log10(raw)) >= raw)
    ticks = [k * step for k in range(math.ceil(lo / step), math.floor(hi / step) + 1)]
    digits = max(0, -math.floor(math.log10(step)))
    return (lambda v: start + (v - lo) / (hi - lo) * (end - start)), ticks, digits
