"""A card's history as text: the latency bars and the verdict strip, one column per probe.

Plain Rich text (no widget), so a card draws its facts and its history in one render:
one widget per card instead of four, which is most of what a probe's repaint costs.
The bars and the strip share their columns: the bar above a glyph is that probe's time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

from rich.color import Color, blend_rgb
from rich.style import Style
from rich.text import Text

from providers.results import ProbeResult
from tui.widgets.style import VERDICT_GLYPH, VERDICT_STYLE

#: Eighths of a cell, lowest first.
BARS = "▁▂▃▄▅▆▇█"

Glyph = Callable[[ProbeResult], tuple[str, str]]


def verdict_glyph(result: ProbeResult) -> tuple[str, str]:
    """One cell per result: the verdict's glyph in its colour."""
    return VERDICT_GLYPH[result.verdict], VERDICT_STYLE[result.verdict].replace("bold ", "")


def runs(cells: list[tuple[str, str | Style]]) -> Text:
    """Cells as text, one span per run of equal style: a strip of 40 green dots is one
    span, not 40 (each span is converted and styled again on every repaint)."""
    text = Text()
    i = 0
    while i < len(cells):
        style = cells[i][1]
        j = i
        while j < len(cells) and cells[j][1] == style:
            j += 1
        text.append("".join(char for char, _ in cells[i:j]), style=style)
        i = j
    return text


def strip_line(results: Sequence[ProbeResult], width: int, glyph: Glyph = verdict_glyph) -> Text:
    """The newest `width` results, newest on the right; `no probes yet` when there are none."""
    if not results:
        return Text("no probes yet", style="dim")
    return runs([glyph(result) for result in list(results)[-width:]])


#: Shades between fast and slow: few enough that neighbouring bars share a style (a run).
SHADES = 6


@lru_cache(maxsize=64)
def shades(low: Color, high: Color) -> tuple[Style, ...]:
    low_rgb, high_rgb = low.get_truecolor(), high.get_truecolor()
    return tuple(Style(color=Color.from_triplet(blend_rgb(low_rgb, high_rgb, i / (SHADES - 1))))
                 for i in range(SHADES))


def latency_rows(latencies: Sequence[float], width: int, rows: int, low: Color, high: Color) -> list[Text]:
    """`rows` lines of bars, one column per latency (the newest `width`, in step with the
    strip below), scaled from 0 to the slowest shown and shaded from `low` to `high`."""
    shown = list(latencies)[-width:]
    if not shown:
        return [Text() for _ in range(rows - 1)] + [
            Text(BARS[0] * width, style=Style(color=low, dim=True))]
    top = max(shown) or 1.0
    palette = shades(low, high)
    cells: list[list[tuple[str, str | Style]]] = [[] for _ in range(rows)]
    for value in shown:
        share = max(0.0, value) / top
        eighths = max(1, round(share * rows * 8))
        style = palette[round(share * (SHADES - 1))]
        for row in range(rows):  # row 0 is the top line
            fill = eighths - (rows - 1 - row) * 8
            cells[row].append((" " if fill <= 0 else BARS[min(fill, 8) - 1], style))
    return [runs(line) for line in cells]
