"""A strip of recent results, newest on the right: one coloured glyph per probe."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.widgets import Static

from providers.base import ProbeResult
from tui.widgets.style import VERDICT_GLYPH, VERDICT_STYLE, put

Glyph = Callable[[ProbeResult], tuple[str, str]]


def verdict_glyph(result: ProbeResult) -> tuple[str, str]:
    return VERDICT_GLYPH[result.verdict], VERDICT_STYLE[result.verdict].replace("bold ", "")


class VerdictStrip(Static):
    """Draws as many recent results as fit; `glyph` picks the character and style of each."""

    DEFAULT_CSS = "VerdictStrip { height: 1; }"

    def __init__(self, glyph: Glyph = verdict_glyph, **kwargs) -> None:
        super().__init__(**kwargs)
        self.glyph = glyph
        self._results: list[ProbeResult] = []

    def show(self, results: Sequence[ProbeResult]) -> None:
        self._results = list(results)
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        width = max(1, self.content_size.width or 40)
        text = Text()
        for result in self._results[-width:]:
            char, style = self.glyph(result)
            text.append(char, style=style)
        if not self._results:
            text.append("no probes yet", style="dim")
        put(self, text)
