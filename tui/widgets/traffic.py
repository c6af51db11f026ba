"""The TRAFFIC view: the provider's own count of OLD and NEW per minute, last 30 minutes.

One bar per minute and key, scaled together: OLD yellow, NEW green; `▁` (dim) is a
minute counted with no use, `░` a minute the report has not reached yet (never drawn as
zero). Below the bars: when OLD was last used as the provider saw it, and, when the usage
rule keeps Revoke locked, the reason in words. Without an admin key it says what one adds.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.engine.usage import Minute, Usage
from tui.engine.usage_words import amount, hhmm, new_since_words
from tui.widgets.history import BARS
from tui.widgets.style import put

ZERO, UNCOUNTED = "▁", "░"
KEY_STYLE = {"OLD": "yellow", "NEW": "green"}


def bars(minutes: tuple[Minute, ...], pick: str, top: int, colour: str) -> Text:
    """One key's row: a cell per minute, from ▂ (a little) to █ (the busiest minute shown)."""
    text = Text()
    for minute in minutes:
        value = getattr(minute, pick)
        if value is None:
            text.append(UNCOUNTED, style="dim")
        elif value == 0:
            text.append(ZERO, style="dim")
        else:
            text.append(BARS[max(1, min(7, round(value / top * 7)))], style=colour)
    return text


class TrafficView(Static):
    """`show(usage)` redraws it from the engine's figures (cheap when they did not change)."""

    DEFAULT_CSS = """
    TrafficView {
        height: 6;
        margin: 0 1;
        padding: 0 1;
        border: round $foreground 30%;
        border-title-style: bold;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    TrafficView.-off { height: auto; text-wrap: wrap; }
    TrafficView.-locked { border: round $error; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "TRAFFIC · the provider's count"
        self._shown: tuple[object, ...] | None = None

    def show(self, usage: Usage, lock: tuple[str, ...] = (), ignored: str | None = None) -> None:
        key = (usage, lock, ignored)
        if key == self._shown:
            return
        self._shown = key
        self.set_class(usage.state == "off", "-off")
        self.set_class(bool(lock) and not ignored, "-locked")
        put(self, self.text(usage, lock, ignored))

    def text(self, usage: Usage, lock: tuple[str, ...], ignored: str | None) -> Text:
        if usage.state == "off":
            return Text(usage.why[:1].upper() + usage.why[1:] + ".", style="dim")
        minutes = usage.minutes
        top = max([m.old or 0 for m in minutes] + [m.new or 0 for m in minutes] + [1])
        head = Text()
        if minutes:
            head.append(f"{usage.unit} a minute, {hhmm(minutes[0].start)} to "
                        f"{hhmm(minutes[-1].start)} UTC · ", style="dim")
        if usage.state == "reading":
            head.append("reading the provider's usage report…", style="dim")
        elif usage.covered_to is None:
            head.append("the report has counted nothing yet", style="bold")
        else:
            head.append(f"report to {hhmm(usage.covered_to)} UTC", style="bold")
            head.append(" (later minutes not yet counted)", style="dim")
        if usage.state == "unavailable":
            head.append(f" · usage report unavailable ({usage.why})", style="bold yellow")
        elif usage.why:
            head.append(f" · {usage.why}", style="yellow")
        old = Text.assemble(("OLD ", "bold yellow"), bars(minutes, "old", top, "yellow"), "  ")
        if usage.old_last_used is not None:
            old.append(f"last used {hhmm(usage.old_last_used)} UTC "
                       f"({usage.ago(usage.old_last_used)}) · "
                       f"{amount(usage.old_last_count, usage.unit)}")
        elif usage.covered_to is not None:
            old.append("no use counted in the minutes read", style="dim")
        new = Text.assemble(("NEW ", "bold green"), bars(minutes, "new", top, "green"), "  ")
        if usage.new_since_switch is not None:
            new.append(f"{amount(usage.new_since_switch, usage.unit)} "
                       f"{new_since_words(usage)}")
        foot = Text()
        if lock and not ignored:
            foot.append("Revoke locked: " + "; ".join(lock), style="bold red")
        elif lock:
            foot.append(f"set aside ({ignored}): " + "; ".join(lock), style="yellow")
        else:
            foot.append(f"{ZERO} none counted   {UNCOUNTED} not yet counted", style="dim")
        return Text("\n").join((head, old, new, foot))
