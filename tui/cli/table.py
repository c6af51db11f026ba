"""Tables for people, laid out by rich: short cells in columns that never wrap, and the
long texts (details, request ids) as notes under the table, wrapped at spaces to the
terminal's width, never mid-word (only a word longer than the whole line is folded).
Piped, nothing wraps: every row and every note is one line, for grep and awk."""

from __future__ import annotations

import io
import shutil
import sys
from collections.abc import Iterable, Sequence

from tui.cli.common import out

#: Wide enough that nothing of ours wraps when stdout is not a terminal.
PIPE_WIDTH = 10_000


def terminal_width() -> int | None:
    """The terminal's width when stdout is one, else None (piped: no wrapping)."""
    try:
        if not sys.stdout.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    return shutil.get_terminal_size((100, 24)).columns


def render(headers: Sequence[str], rows: Iterable[Sequence[str]],
           notes: Iterable[tuple[str, str]] = (), *, width: int | None = None) -> list[str]:
    """The table's lines, then one note per (label, text) with its text wrapped."""
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_edge=False, header_style="",
                  padding=(0, 1))
    for header in headers:
        table.add_column(header, no_wrap=True, overflow="ellipsis")
    for row in rows:
        table.add_row(*row)
    buffer = io.StringIO()
    console = Console(file=buffer, width=width or terminal_width() or PIPE_WIDTH,
                      color_system=None, highlight=False, emoji=False, markup=False)
    console.print(table)
    notes = [(label, text) for label, text in notes if text]
    if notes:
        console.print()
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        for label, text in notes:
            grid.add_row(label, text)
        console.print(grid)
    return [line.rstrip() for line in buffer.getvalue().splitlines()]


def print_table(headers: Sequence[str], rows: Iterable[Sequence[str]],
                notes: Iterable[tuple[str, str]] = ()) -> None:
    for line in render(headers, rows, notes):
        out(line)
