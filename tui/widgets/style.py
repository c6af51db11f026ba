"""How verdicts, phases and durations look on screen: the one place colours and glyphs live.

Shared by the widgets so a verdict is the same colour on every card and in every strip.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from providers.results import Verdict

#: Verdict → Rich style: green proves live, red proves refused, yellow/magenta say "no evidence".
VERDICT_STYLE: dict[Verdict, str] = {
    Verdict.LIVE: "bold green",
    Verdict.REJECTED: "bold red",
    Verdict.THROTTLED: "bold yellow",
    Verdict.UNAVAILABLE: "bold yellow",
    Verdict.UNREACHABLE: "bold magenta",
    Verdict.UNEXPECTED: "bold white on red",
}

#: One cell per result in the history strip.
VERDICT_GLYPH: dict[Verdict, str] = {
    Verdict.LIVE: "●",
    Verdict.REJECTED: "✕",
    Verdict.THROTTLED: "◔",
    Verdict.UNAVAILABLE: "○",
    Verdict.UNREACHABLE: "?",
    Verdict.UNEXPECTED: "!",
}

PHASE_STYLE: dict[str, str] = {
    "waiting": "bold white on grey35",
    "propagating": "bold black on yellow",
    "ready": "bold black on green",
    "revoking": "bold black on cyan",
    "verifying": "bold black on cyan",
    "done": "bold white on dark_green",
    "failed": "bold white on red",
    "rolled-back": "bold white on magenta",
}


def ago(seconds: float | None) -> str:
    """`0s`, `12s`, `3m04s`, `1h02m`: short and stable (no wall clock).

    Whole seconds, because the screen redraws times once a second: tenths changed on
    every redraw and repainted every card twice a second (dashboard CPU 6.5 % → 3.6 %
    of a core with 3 targets at 1 s, measured by tests/benchmarks)."""
    if seconds is None:
        return "—"
    whole = int(max(0.0, seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def put(widget: Static, text: Text) -> None:
    """Update a fixed-height Static only when its text changed, without a layout pass:
    redrawing on every probe must stay cheap (a layout pass re-measures the whole screen)."""
    if getattr(widget, "_keyturn_last", None) == text:
        return
    widget._keyturn_last = text  # type: ignore[attr-defined]
    widget.update(text, layout=False)
