"""Hand-written SVG charts for the HTML report: no plotting library and nothing fetched, and every
string XML-escaped, so that a chart can be inlined into the page as it is."""

from __future__ import annotations

import math
from html import escape

from edgekit.core.units import human_size
from edgekit.results.summary import Row

WIDTH, HEIGHT = 640, 380
LEFT, RIGHT, TOP, BOTTOM = 72, 24, 56, 48  # room for tick labels left and below, the legend above
FONT = "system-ui, 'Segoe UI', Helvetica, Arial, sans-serif"
ACCENT, MUTED, GRID, INK = "#1f6feb", "#8c959f", "#e5e7eb", "#24292f"


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the (latency, cost) points that no other point beats: another point beats one
    when it is at least as low in both values and lower in one."""
    return [i for i, (x, y) in enumerate(points)
            if not any(ox <= x and oy <= y and (ox, oy) != (x, y) for ox, oy in points)]


def plotted(rows: list[Row]) -> list[Row]:
    """The rows a scatter shows: those with a score, and a latency a log scale can place."""
    return [r for r in rows if r.accuracy is not None and r.p50 > 0]


def by_score(rows: list[Row]) -> bool:
    """Whether a scatter plots the task metric (the scores differ) or, where every file scores
    the same, which would lay the points in one flat row, the file size."""
    return len({round(r.accuracy, 6) for r in plotted(rows)}) > 1


def scatter(rows: list[Row], metric: str, keys: list[int] | None = None) -> str:
    """The metric (or, where every file scores the same, the file size) against p50 latency, both
    scales log where they span decades (files run in 2 us to 1 ms), for one model: each point
    numbered with its `keys` entry (the table's row numbers; 1, 2, ... by default), a bar from its
    p50 to its p99, and the Pareto front (no faster file scores better, or is smaller) filled and
    joined by a step line."""
    keys = keys or list(range(1, len(rows) + 1))
    score = by_score(rows)
    keyed = [(k, r) for k, r in zip(keys, rows) if r.accuracy is not None and r.p50 > 0]
    rows = [r for _, r in keyed]
    value = (lambda r: r.accuracy) if score else (lambda r: r.record["size_bytes"] / 1024)
    cost = (lambda r: r.drop) if score else (lambda r: r.record["size_bytes"])
    ranked = [i for i, r in enumerate(rows) if cost(r) is not None]  # the front needs the float model's score
    front = sorted((ranked[i] for i in pareto_front([(rows[j].p50, cost(rows[j])) for j in ranked])),
                   key=lambda i: rows[i].p50)
    x, x_ticks = _log_axis([v for r in rows for v in (r.p50, r.p99) if v], LEFT, WIDTH - RIGHT)
    if score:
        y, y_ticks, digits = _linear_axis([value(r) for r in rows], HEIGHT - BOTTOM, TOP)
        y_label, tick = metric, (lambda t: f"{t:.{digits}f}")
    else:
        y, y_ticks = _log_axis([value(r) for r in rows], HEIGHT - BOTTOM, TOP)
        y_label, tick = "file size, KB (log scale)", (lambda t: f"{t:g}")
    what = metric if score else "file size"
    parts = [_svg_open("scatter", WIDTH, HEIGHT, f"{what} against p50 latency, points numbered as the table's rows")]
    parts += [_line(x(t), TOP, x(t), HEIGHT - BOTTOM, GRID) + _text(x(t), HEIGHT - BOTTOM + 16, f"{t:g}", "middle")
              for t in x_ticks]
    parts += [_line(LEFT, y(t), WIDTH - RIGHT, y(t), GRID) + _text(LEFT - 6, y(t) + 4, tick(t), "end") for t in y_ticks]
    parts.append(_line(LEFT, HEIGHT - BOTTOM, WIDTH - RIGHT, HEIGHT - BOTTOM, MUTED))
    parts.append(_text((LEFT + WIDTH - RIGHT) / 2, HEIGHT - 10, "p50 latency, us (log scale); bars reach the p99",
                       "middle"))
    parts.append(_text(14, (TOP + HEIGHT - BOTTOM) / 2, y_label, "middle",
                       f' transform="rotate(-90 14 {(TOP + HEIGHT - BOTTOM) / 2:.1f})"'))
    steps = [(x(rows[front[0]].p50), y(value(rows[front[0]])))] if front else []
    for a, b in zip(front, front[1:]):  # what the best file at each latency reaches: flat, then a step
        steps += [(x(rows[b].p50), y(value(rows[a]))), (x(rows[b].p50), y(value(rows[b])))]
    points = " ".join(f"{px:.1f},{py:.1f}" for px, py in steps)
    parts.append(f'<polyline points="{points}" fill="none" stroke="{ACCENT}" stroke-width="1.5"/>')
    for i, r in sorted(enumerate(rows), key=lambda pair: pair[0] in front):  # the front drawn on top
        on_front, px, py = i in front, x(r.p50), y(value(r))
        colour = ACCENT if on_front else MUTED
        tip = (f"{keyed[i][0]}: {r.record['artifact']} on {r.target} ({r.record['runtime']}): p50 {r.p50:,.1f} us"
               + ("" if r.p99 is None else f", p99 {r.p99:,.1f} us") + f", {metric} {r.accuracy:.4f}"
               + ("" if r.drop is None else f", drop {r.drop:+.2f} points")
               + f", {human_size(r.record['size_bytes'])}" + (", on the Pareto front" if on_front else ""))
        if r.p99 is not None and r.p99 > r.p50:  # the spread: p50 to p99
            parts.append(_line(px, py, x(r.p99), py, colour) + _line(x(r.p99), py - 4, x(r.p99), py + 4, colour))
        style = f'r="6" fill="{ACCENT}"' if on_front else f'r="4" fill="white" stroke="{MUTED}" stroke-width="1.5"'
        parts.append(f'<circle class="point" cx="{px:.1f}" cy="{py:.1f}" {style}><title>{escape(tip)}</title></circle>')
    parts += [_text(lx, ly, label, "end", ' class="key" font-size="11"', INK)
              for lx, ly, label in _labels([(x(r.p50), y(value(r)), keyed[i][0]) for i, r in enumerate(rows)])]
    legend = ([f"● on the Pareto front: no faster file {'scores better' if score else 'is smaller'}",
               "○ the other files and runtimes"] if ranked
              else ["○ files and runtimes (no Pareto front: the float model's score is unknown)"])
    legend.append("n: the row numbered n in the table above; hover a point for its figures")
    parts += [_text(LEFT + 330 * (n % 2), TOP - 34 + 16 * (n // 2), item, "start") for n, item in enumerate(legend)]
    return "\n".join(parts) + "\n</svg>"


def _labels(points: list[tuple[float, float, object]]) -> list[tuple[float, float, str]]:
    """Where each point's key goes: points a few pixels apart share one label ("8, 11"), and a
    label that would cover one placed before moves below its point, then further up or down."""
    groups: list[tuple[float, float, list]] = []
    for px, py, key in points:
        near = next((g for g in groups if math.hypot(g[0] - px, g[1] - py) < 8), None)
        if near:
            near[2].append(key)
        else:
            groups.append((px, py, [key]))
    placed, boxes = [], []
    for px, py, keys in groups:
        label = ", ".join(map(str, sorted(keys)))
        width = 7 * len(label)  # an 11 px label as a browser draws it: about 6.4 px a digit, 13 px high
        for dy in _LABEL_OFFSETS:
            box = (px - 5 - width, py + dy - 11, px - 5, py + dy + 3)  # left, top, right, bottom
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in boxes):
                break
        boxes.append(box)
        placed.append((px - 5, py + dy, label))
    return placed


# where a label may go, nearest first: just above its point, below it, then further up and down
# (rows of close points: each label keeps looking until it is clear of those placed before)
_LABEL_OFFSETS = (-8, 17, *(d for step in range(1, 30) for d in (-8 - 15 * step, 17 + 15 * step)))


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


def time_bars(kinds: list[dict]) -> str:
    """One horizontal bar per op type (results/profiles.py's summary "by_type": `type`, `count`,
    `us`, `share`), largest first, labelled with its us a call (the sum of its ops' medians) and its share of the total."""
    label_width, bar_height, top = 230, 22, 12
    height = top * 2 + bar_height * len(kinds)
    longest = max((kind["us"] for kind in kinds), default=0) or 1
    scale = (WIDTH - label_width - 130) / longest  # 130: room for the label after the longest bar
    parts = [_svg_open("op-types", WIDTH, height, "time of one call by op type")]
    for n, kind in enumerate(kinds):
        top_y, name, width = top + n * bar_height, str(kind["type"]), kind["us"] * scale
        short = name if len(name) <= 34 else name[:33] + "…"
        ops = f"{kind['count']} op{'' if kind['count'] == 1 else 's'}"
        parts.append(f'<g><title>{escape(name)}: {ops}, {kind["us"]:,.1f} us a call, {kind["share"]:.1f}% of the '
                     f'per-op total</title>'
                     + _text(label_width - 8, top_y + 15, short, "end")
                     + f'<rect x="{label_width}" y="{top_y + 3}" width="{width:.1f}" height="{bar_height - 6}"'
                       f' fill="{ACCENT}"/>'
                     + _text(label_width + width + 6, top_y + 15, f"{kind['us']:,.1f} us ({kind['share']:.1f}%)",
                             "start") + "</g>")
    return "\n".join(parts) + "\n</svg>"


def _svg_open(kind: str, width: int, height: int, label: str) -> str:
    # no xmlns: inline SVG in HTML5 needs none, and the page is to hold no URL at all
    return (f'<svg class="plot {kind}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
            f'role="img" aria-label="{escape(label)}" font-family="{escape(FONT)}" font-size="12">')


def _text(x: float, y: float, text: str, anchor: str, extra: str = "", colour: str = INK) -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{colour}"{extra}>{escape(str(text))}</text>'


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
