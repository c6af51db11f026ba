"""The event log: phase changes, provider receipts and what the user did, with the time
since the dashboard opened on the engine's clock (stable in tests and screenshots)."""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.widgets import Static

LEVEL_STYLE = {"info": "", "warning": "yellow", "error": "bold red", "phase": "bold cyan"}


class EventLog(Static):
    """The newest lines that fit, newest last: `+12.5s  phase → ready  (gate open)`."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "events"
        self.lines: deque[Text] = deque(maxlen=500)

    def add(self, seconds: float, line: str, level: str = "info") -> None:
        text = Text()
        text.append(f"{f'+{seconds:.1f}s':>8}  ", style="dim")
        text.append(line, style=LEVEL_STYLE.get(level, ""))
        self.lines.append(text)
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        """The newest rows that fit, counting the rows a long line wraps to: a long line
        (an instruction to update the references) is shown whole, not cut at the bottom."""
        height = max(1, self.content_size.height or 6)
        shown = Text("\n").join(list(self.lines)[-height:])
        width = self.content_size.width
        if width:
            rows = shown.wrap(self.app.console, width)
            if len(rows) > height:
                shown = Text("\n").join(list(rows)[-height:])
        self.update(shown, layout=False)
