"""The top line: rotation name, provider, the phase word and how long the new key has been live."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.widgets.style import PHASE_STYLE, ago, put


class RotationHeader(Static):
    """`keyturn  demo · simulated   PROPAGATING   new key live 4.0s`."""

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
        text = Text()
        text.append(" keyturn ", style="bold reverse")
        text.append(f"  {name}", style="bold")
        text.append(f" · {provider}" + (" (demo: no keys, no network)" if demo else ""), style="dim")
        text.append("   ")
        text.append(f" {phase.upper()} ", style=PHASE_STYLE.get(phase, "bold"))
        text.append("   ")
        if live_for is None:
            text.append("new key not seen live yet", style="dim")
        else:
            text.append("new key live for ")
            text.append(ago(live_for), style="bold")
        if paused:
            text.append("   ")
            text.append(" PAUSED ", style="bold black on yellow")
        put(self, text)
