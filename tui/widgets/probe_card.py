"""A probe card: one key's masked value, fingerprint, verdict, status, latency, streak and history."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import zip_longest

from rich.color import Color
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.visual import Visual, visualize
from textual.widget import Widget

from providers.results import ProbeResult, Verdict
from tui.engine.credentials import Secret
from tui.engine.gate import Track
from tui.widgets.history import latency_rows, strip_line, verdict_glyph
from tui.widgets.style import VERDICT_STYLE, ago

#: Lines of facts above the history: wide layout, and stacked (compact) cards.
FACTS = 7
FACTS_COMPACT = 3
#: Lines of latency bars (wide layout only; stacked cards have no room for them).
BAR_ROWS = 2


class ProbeCard(Widget):
    """The OLD or NEW key's card. `show()` redraws it from the engine's track.

    One widget drawing facts, latency bars and the verdict strip as text: a probe's answer
    repaints this one widget, never lays out the screen (its height is fixed in app.tcss)."""

    COMPONENT_CLASSES = {"probe-card--fast", "probe-card--slow"}  # noqa: RUF012
    ALLOW_SELECT = False

    DEFAULT_CSS = """
    ProbeCard > .probe-card--fast { color: $success; }
    ProbeCard > .probe-card--slow { color: $warning; }
    """

    #: Lines of facts: wide, and stacked (app.tcss sets the card's height to match).
    facts_lines = FACTS
    facts_lines_compact = FACTS_COMPACT
    #: Lines of latency bars under the facts (wide only; 0: none, and no gap either).
    bar_rows = BAR_ROWS

    def __init__(self, title: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.auto_links = False  # no links here: skips a styling pass over every line
        self.border_title = title
        #: Stacked on a narrow terminal: fewer, longer lines so all three cards fit.
        self.compact = False
        #: The facts as last drawn (verdict, status, timing, streak): what tests read.
        self.facts = Text()
        self._results: list[ProbeResult] = []
        self._drawn: tuple[object, ...] | None = None
        self._newest: ProbeResult | None = None
        #: The lines as drawn, and what they were drawn for (width, colours).
        self._lines: list[Text] = []
        self._lines_key: tuple[object, ...] | None = None
        self._strips: dict[int, Strip] = {}

    def glyph(self, result: ProbeResult) -> tuple[str, str]:
        return verdict_glyph(result)

    def render(self) -> Text:
        """The whole card as one text (what a screenshot or a test reads)."""
        return Text("\n").join(self.lines(self.lines_key(max(1, self.size.width))))

    def render_line(self, y: int) -> Strip:
        """One line, from a cache of lines: an answer re-renders only the lines it changed
        (`draw`), where a render() would convert the whole card to strips again."""
        key = self.lines_key(max(1, self.size.width))
        if key != self._lines_key:
            self._lines, self._lines_key = self.lines(key), key
            self._strips.clear()
        strip = self._strips.get(y)
        if strip is None:
            width = key[0]
            line = self._lines[y] if y < len(self._lines) else Text()
            strips = Visual.to_strips(self, visualize(self, line), width, 1, self.visual_style)
            strip = self._strips[y] = strips[0] if strips else Strip.blank(width)
        return strip

    def lines_key(self, width: int) -> tuple[object, ...]:
        """What the drawn lines depend on besides the state: the width and the theme."""
        fast = self.get_component_rich_style("probe-card--fast").color or Color.parse("green")
        slow = self.get_component_rich_style("probe-card--slow").color or Color.parse("yellow")
        return width, fast, slow, self.visual_style

    def lines(self, key: tuple[object, ...]) -> list[Text]:
        """Facts, a gap, the latency bars and the verdict strip, each cut to the width."""
        width, fast, slow, _ = key
        lines = self.facts.split("\n", allow_blank=True)[: self.rows_of_facts()]
        lines += [Text()] * (self.rows_of_facts() - len(lines))
        if not self.compact and self.bar_rows:
            lines.append(Text())
            lines += latency_rows([r.latency_ms for r in self._results], width, self.bar_rows,
                                  fast, slow)
        lines.append(strip_line(self._results, width, self.glyph))
        for line in lines:
            line.truncate(width, overflow="ellipsis")
        return lines

    def rows_of_facts(self) -> int:
        return self.facts_lines_compact if self.compact else self.facts_lines

    def draw(self, facts: Text, results: Sequence[ProbeResult], *extra: object) -> None:
        """Repaint the lines that changed (no layout) when the facts, the newest result or
        `extra` changed. Only those lines are styled and composited again: an answer
        changes about half of a card (dashboard CPU)."""
        newest = results[-1] if results else None
        drawn = (facts, len(results), self.compact, *extra)
        if drawn == self._drawn and newest is self._newest:
            return
        self._drawn, self._newest = drawn, newest
        self.facts = facts
        self._results = list(results)
        width = self.size.width
        key = self.lines_key(width) if width else None
        if key is None or key != self._lines_key:  # first draw, new width or new colours
            self._lines_key = None  # render_line() rebuilds every line
            self.refresh()
            return
        before, self._lines = self._lines, self.lines(key)
        changed = [y for y, (old, new) in enumerate(zip_longest(before, self._lines))
                   if old != new]
        for y in changed:
            self._strips.pop(y, None)
        if changed:
            self.refresh(*(Region(0, y, width, 1) for y in changed))

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
        self.draw(text, track.history)

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
