"""The terminal the tables are printed on: how wide it is, whether it takes styles, and a table
laid out to fit it (rich, imported only when a table is drawn)."""

from __future__ import annotations

import os
import sys
import textwrap

# Not a terminal (CI logs, pipes, files) and no COLUMNS: wide enough for the main columns of
# every table, and what CI log viewers show without scrolling.
PLAIN_WIDTH = 120
# Names (files, layers) up to this long stay whole, columns being left out for them; longer ones
# fold to it. Once every column that may go has gone, names fold to what is left.
NAME_WHOLE = 32
GAP = 2  # characters between two columns


def width() -> int:
    """COLUMNS when set, else the terminal's width, else PLAIN_WIDTH."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if styled():
        try:
            return os.get_terminal_size(sys.stdout.fileno()).columns or PLAIN_WIDTH  # 0: a pty with no size
        except (OSError, ValueError):
            pass
    return PLAIN_WIDTH


def styled() -> bool:
    """Bold headers and a drawn rule only on an interactive terminal: CI logs and pipes get
    plain ASCII, which no log viewer garbles."""
    try:
        return sys.stdout.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):  # a replaced or closed stdout
        return False


def wrap(lines: list[str], at: int | None = None) -> list[str]:
    """Prose lines broken at words to the width; a continued line is indented two more spaces."""
    at = at or width()
    out = []
    for line in lines:
        indent = line[:len(line) - len(line.lstrip())]
        out += textwrap.wrap(line.strip(), at, initial_indent=indent, subsequent_indent=indent + "  ",
                             break_on_hyphens=False) or [""]
    return out


def fit(headers: list[str], rows: list[list[str]], right: set[int], drop: tuple[str, ...], at: int) \
        -> dict[int, int]:
    """The columns that fit in `at` characters, each with its width, in order.

    Figures (right-aligned columns) are never broken; their headers break at spaces when the room
    is short. Names (left-aligned) stay whole up to NAME_WHOLE characters. Columns named in `drop`
    are left out in that order until the rest fits; the others stay, names folded to the room left
    (figures too, by rich, as a last resort)."""
    columns = [[headers[i], *(str(row[i]) for row in rows)] for i in range(len(headers))]
    full = [max(map(len, cells)) for cells in columns]
    word = [max(len(w) for cell in cells for w in cell.split() or [""]) for cells in columns]
    cells_only = [max(map(len, cells[1:]), default=0) for cells in columns]

    def need(i: int) -> int:  # figures whole, their headers broken at spaces; names whole up to NAME_WHOLE
        return max(cells_only[i], word[i]) if i in right else min(full[i], NAME_WHOLE)

    def fits(chosen: list[int]) -> bool:
        return sum(map(need, chosen)) + GAP * (len(chosen) - 1) <= at

    kept, dropped = list(range(len(headers))), []
    for name in drop:
        if fits(kept):
            break
        dropped += [i for i in kept if headers[i] == name]
        kept = [i for i in kept if headers[i] != name]
    for i in reversed(dropped[:-1]):  # a narrow column left out early may fit in the room the last one left
        if fits(sorted([*kept, i])):
            kept = sorted([*kept, i])
    widths = {i: need(i) for i in kept}
    room = at - sum(widths.values()) - GAP * (len(kept) - 1)
    for i in kept:  # headers on one line where the room allows
        if i in right:
            wider = max(0, min(full[i] - widths[i], room))
            widths[i] += wider
            room -= wider
    names, goals = [i for i in kept if i not in right], [full]
    if room < 0:  # even with every column that may go gone: the names share what is left, words whole first
        room += sum(widths[i] for i in names)
        widths.update({i: 0 for i in names})
        goals = [word, full]
    for goal in goals:  # short text whole, the long share what is left evenly
        for n, i in enumerate(sorted(names, key=lambda i: goal[i] - widths[i])):
            wider = max(0, min(goal[i] - widths[i], room // (len(names) - n)))
            widths[i] += wider
            room -= wider
    return {i: max(1, widths[i]) for i in kept}


def table(headers: list[str], rows: list[list[str]], right: set[int] = frozenset(),
          drop: tuple[str, ...] = (), at: int | None = None, style: bool | None = None) -> str:
    """`rows` under `headers` in at most `at` characters a line (the terminal's width by default),
    with a note naming the columns left out to fit."""
    from rich import box
    from rich.table import Table

    at = at or width()
    style = styled() if style is None else style
    widths = fit(headers, rows, right, drop, at)
    rule = box.SIMPLE_HEAD if style else box.Box("    \n    \n -- \n    \n    \n -- \n    \n    \n", ascii=True)
    grid = Table(box=rule, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0), highlight=False,
                 header_style="bold" if style else "")
    for i, room in widths.items():
        grid.add_column(headers[i], justify="right" if i in right else "left", width=room, overflow="fold")
    for row in rows:
        grid.add_row(*(str(row[i]) for i in widths))
    out = _console(at, style)
    out.print(grid)
    lines = out.file.getvalue().rstrip("\n").split("\n")
    left_out = [h for i, h in enumerate(headers) if i not in widths]
    if left_out:
        lines += wrap([f"not shown at {at} columns: {', '.join(left_out)} (a wider terminal or --json shows "
                       f"{'it' if len(left_out) == 1 else 'them'})"], at)
    return "\n".join(line.rstrip() if not style else line for line in lines)


def _console(at: int, style: bool):
    import io

    from rich.console import Console

    return Console(file=io.StringIO(), width=at, force_terminal=style, color_system="standard" if style else None,
                   no_color="NO_COLOR" in os.environ, highlight=False, soft_wrap=False, emoji=False, markup=False,
                   force_jupyter=False, force_interactive=False, legacy_windows=False)
