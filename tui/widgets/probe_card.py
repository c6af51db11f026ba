"""A probe card: one key's masked value, fingerprint, verdict, status, latency, streak and history."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from providers.base import ProbeResult, Verdict
from tui.credentials import Secret
from tui.gate import Track
from tui.widgets.style import VERDICT_STYLE, ago, put
from tui.widgets.verdict_strip import VerdictStrip

#: Latency samples drawn in the sparkline.
SPARK = 40


class ProbeCard(Vertical):
    """The OLD or NEW key's card. `show()` redraws it from the engine's track."""

    def __init__(self, title: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = title
        #: Stacked on a narrow terminal: fewer, longer lines so all three cards fit.
        self.compact = False

    def compose(self) -> ComposeResult:
        yield Static(classes="facts")
        yield Sparkline([], classes="latency")
        yield self.make_strip()

    def make_strip(self) -> VerdictStrip:
        return VerdictStrip(classes="strip")

    # -- drawing ----------------------------------------------------------------------
    def show(
        self,
        track: Track,
        key: Secret | None,
        *,
        last_at: float | None,
        now: float,
        counting: str = "live",
    ) -> None:
        """Redraw from `track`; `counting` names what the streak counts (live, refused)."""
        text = Text()
        if key is None:
            text.append("no new key yet\n", style="bold")
            text.append("press n to enter it; until then\nonly the old key is probed",
                        style="dim")
            self.set_verdict_class(None)
        else:
            text.append(key.masked, style="bold")
            text.append("  " + key.fingerprint, style="dim")
            text.append("\n")
            self.describe(text, track, last_at=last_at, now=now, counting=counting)
        put(self.query_one(".facts", Static), text)
        self.draw_history(track)

    def describe(self, text: Text, track: Track, *, last_at: float | None, now: float,
                 counting: str) -> None:
        """Verdict, status, timing and streak: 6 lines, or 2 when `compact` (stacked cards)."""
        last = track.last
        if last is None:
            text.append("NOT PROBED YET", style="bold dim")
            text.append("\n" if self.compact else "\nwaiting for the first answer\n\n\n",
                        style="dim")
        else:
            text.append(last.verdict.value.upper(), style=VERDICT_STYLE[last.verdict])
            if self.compact:
                text.append("  ")
            else:
                text.append("\n")
                if last.verdict is not Verdict.LIVE and last.detail:
                    text.append(last.detail[:70], style="italic")
                text.append("\n")
            self.timing_lines(text, last, last_at=last_at, now=now)
        text.append("streak ")
        done = track.streak >= track.need
        text.append(f"{min(track.streak, track.need)}/{track.need}",
                    style="bold green" if done else "bold")
        text.append(f" {counting}")
        if not self.compact:
            text.append(f"\n{track.probes} probes", style="dim")
        elif last is not None and last.verdict is not Verdict.LIVE and last.detail:
            text.append("  " + last.detail, style="italic")
        self.set_verdict_class(last.verdict if last else None)

    def timing_lines(self, text: Text, last: ProbeResult, *, last_at: float | None,
                     now: float) -> None:
        """`HTTP 200  req_…` and `42 ms · 0.5s ago`: two lines, or one when compact."""
        status = f"HTTP {last.status}" if last.status is not None else "no HTTP answer"
        text.append(status)
        text.append("  " + (last.request_id or "no request id"), style="dim")
        text.append("  " if self.compact else "\n")
        text.append(f"{last.latency_ms:.0f} ms")
        text.append(" · ", style="dim")
        text.append(f"{ago(now - last_at if last_at is not None else None)} ago")
        text.append("\n")

    def set_verdict_class(self, verdict: Verdict | None) -> None:
        for v in Verdict:
            self.set_class(verdict is v, f"-{v.value}")

    def draw_history(self, track: Track) -> None:
        recent = list(track.history)
        self.query_one(".latency", Sparkline).data = [r.latency_ms for r in recent[-SPARK:]]
        self.query_one(".strip", VerdictStrip).show(recent)
