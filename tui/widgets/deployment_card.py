"""The deployment card: its verdict, which key it serves (NEW, OLD, unknown key or an alarm)
and the old/new mix of its recent answers, so the propagation window is seen closing."""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlsplit

from rich.text import Text

from providers.results import ProbeResult, Verdict
from tui.engine.gate import Track, serving
from tui.widgets.probe_card import ProbeCard
from tui.widgets.style import VERDICT_STYLE

SERVING_STYLE = {
    "NEW": "bold green",
    "OLD": "bold yellow",
    "unknown key": "bold yellow",
    "no answer": "bold red",
    "MISMATCH": "bold white on red",
    "not probed yet": "dim",
}


def shown_url(url: str) -> str:
    """Host and path only: a query string may carry a token."""
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}"


class DeploymentCard(ProbeCard):
    """Like a key card, plus the key the deployment serves and the OLD/NEW mix."""

    def __init__(self, url: str, **kwargs) -> None:
        super().__init__("DEPLOYMENT", **kwargs)
        self.url = url
        self.old_fp: str | None = None
        self.new_fp: str | None = None

    facts_lines_compact = 4  # the serving line does not fit beside the timing

    def glyph(self, result: ProbeResult) -> tuple[str, str]:
        """N (green) for an answer on the NEW key, O (yellow) on OLD; red when it failed."""
        if result.verdict is not Verdict.LIVE:
            return "✕" if result.verdict is Verdict.REJECTED else "?", "red"
        where = serving(result, self.old_fp, self.new_fp)
        return {"NEW": ("N", "green"), "OLD": ("O", "yellow"), "MISMATCH": ("!", "red")}.get(
            where, ("·", "yellow")
        )

    def show_deployment(
        self,
        track: Track,
        old_fp: str,
        new_fp: str | None,
        *,
        last_at: float | None,
        now: float,
        alarm: str | None,
    ) -> None:
        self.old_fp, self.new_fp = old_fp, new_fp
        text = Text()
        url = shown_url(self.url)
        text.append(url if len(url) <= 40 else url[:39] + "…", style="dim")
        text.append("\n")
        last = track.last
        if last is None:
            text.append("NOT PROBED YET\n", style="bold dim")
            text.append("waiting for the first answer\n" + ("" if self.compact else "\n\n"),
                        style="dim")
        else:
            text.append(last.verdict.value.upper(), style=VERDICT_STYLE[last.verdict])
            if last.verdict is not Verdict.LIVE and last.detail and not self.compact:
                text.append("  " + last.detail[:50], style="italic")
            text.append("  " if self.compact else "\n")
            self.timing_lines(text, last, last_at=last_at, now=now)
            where = serving(last, old_fp, new_fp)
            text.append("serving ")
            if where == "MISMATCH":
                text.append(" ALARM: a key that is neither OLD nor NEW ", style=SERVING_STYLE[where])
            elif alarm and where == "OLD":
                text.append(" OLD — revoked key! ", style="bold white on red")
            else:
                text.append(where, style=SERVING_STYLE.get(where, "bold"))
            text.append(" · " if self.compact else "\n", style="dim")
        # A failed answer names no key: "unknown", never counted as another key (an alarm).
        answers = Counter(serving(result, old_fp, new_fp) for result in track.history)
        n_old, n_new = answers["OLD"], answers["NEW"]
        n_unknown, n_other = answers["unknown key"], answers["MISMATCH"]
        n_silent = answers["no answer"]
        total = n_old + n_new + n_unknown + n_other + n_silent
        text.append("mix ")
        text.append(f"OLD {n_old}", style="yellow" if n_old else "dim")
        text.append(" · ")
        text.append(f"NEW {n_new}", style="green" if n_new else "dim")
        if n_other:
            text.append(f" · other key {n_other}", style="red")
        if n_unknown:
            text.append(f" · unknown {n_unknown}", style="dim")
        if n_silent:
            text.append(f" · no answer {n_silent}", style="dim")
        text.append(f"  (last {total})\n" if total else "\n", style="dim")
        text.append("streak ")
        done = track.streak >= track.need
        text.append(f"{min(track.streak, track.need)}/{track.need}",
                    style="bold green" if done else "bold")
        text.append(" live on NEW")
        self.set_verdict_class(last.verdict if last else None)
        self.set_class(bool(alarm) or (last is not None and serving(last, old_fp, new_fp) == "MISMATCH"),
                       "-alarm")
        self.draw(text, track.history, old_fp, new_fp)
