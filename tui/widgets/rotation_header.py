"""The top line: the phase word, rotation name, provider and how long the new key has been live."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.widgets.style import PHASE_STYLE, ago, put


class RotationHeader(Static):
    """` PROPAGATING   demo · simulated   new key live 4.0s   keyturn` — the phase first,
    so it is still visible on a 40-column terminal; extras only when they fit."""

    def show(
        self,
        *,
        name: str,
        provider: str,
        phase: str,
        live_for: float | None,
        paused: bool,
        demo: bool,
    ) -> None:
        width = self.size.width or 120
        text = Text()
        text.append(f" {phase.upper()} ", style=PHASE_STYLE.get(phase, "bold"))
        if paused:
            text.append(" PAUSED ", style="bold black on yellow")
        text.append(f"  {name}", style="bold")
        live = "new key not seen live yet" if live_for is None else f"new key live {ago(live_for)}"
        where = f" · {provider}" + (" (demo: no keys, no network)" if demo else "")
        if len(text) + len(where) + len(live) + 4 > width:
            where = f" · {provider}"
        if len(text) + len(where) + len(live) + 4 <= width:
            text.append(where, style="dim")
        text.append("   ")
        text.append(live, style="bold" if live_for is not None else "dim")
        brand = "  keyturn "
        if len(text) + len(brand) + 1 <= width:
            text.append(" " * (width - len(text) - len(brand)))
            text.append(brand, style="bold reverse")
        put(self, text)
