"""The deployment card: its verdict, which key it serves (NEW, OLD, unknown key or an alarm),
and the evidence behind the bound: when OLD was last seen, how many NEW samples since,
the bound on the share of traffic still on OLD, and the OLD/NEW mix of recent samples."""

from __future__ import annotations

import math
from collections import Counter
from urllib.parse import urlsplit

from rich.text import Text

from providers.results import ProbeResult, Verdict
from tui.engine.bound import CONFIDENCE, Evidence, percent
from tui.engine.gate import Track, serving
from tui.widgets.probe_card import BAR_ROWS, FACTS, ProbeCard
from tui.widgets.style import VERDICT_STYLE, ago

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
    """Like a key card, plus the key the deployment serves and the evidence on OLD's share.

    The evidence takes the place of the latency bars (the card keeps its height)."""

    def __init__(self, url: str, **kwargs) -> None:
        super().__init__("DEPLOYMENT", **kwargs)
        self.url = url
        self.old_fp: str | None = None
        self.new_fp: str | None = None

    facts_lines = FACTS + 1 + BAR_ROWS  # the gap and the bars' rows carry the evidence
    bar_rows = 0
    facts_lines_compact = 4  # the serving line does not fit beside the timing

    def glyph(self, result: ProbeResult) -> tuple[str, str]:
        """N (green) for a tick on the NEW key, O (yellow) on OLD; red when it failed."""
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
        evidence = track.evidence.figures(now) if track.evidence is not None else None
        text = Text()
        url = shown_url(self.url)
        text.append(url if len(url) <= 40 else url[:39] + "…", style="dim")
        text.append("\n")
        last = track.last
        if last is None:
            text.append("NOT PROBED YET\n", style="bold dim")
            gap = "" if self.compact else "\n" if evidence is not None else "\n\n"
            text.append("waiting for the first answer\n" + gap, style="dim")
        else:
            text.append(last.verdict.value.upper(), style=VERDICT_STYLE[last.verdict])
            if last.verdict is not Verdict.LIVE and last.detail and not self.compact:
                text.append("  " + last.detail[:50], style="italic")
            text.append("  " if self.compact else "\n")
            if self.compact or evidence is None:
                self.timing_lines(text, last, last_at=last_at, now=now)
            else:  # one line: the evidence needs the room (a sample's request id says little)
                status = f"HTTP {last.status}" if last.status is not None else "no HTTP answer"
                text.append(f"{status} · {last.latency_ms:.0f} ms · "
                            f"{ago(now - last_at if last_at is not None else None)} ago\n")
            where = serving(last, old_fp, new_fp)
            text.append("serving ")
            if where == "MISMATCH":
                text.append(" ALARM: a key that is neither OLD nor NEW ", style=SERVING_STYLE[where])
            elif alarm and where == "OLD":
                text.append(" OLD — revoked key! ", style="bold white on red")
            else:
                text.append(where, style=SERVING_STYLE.get(where, "bold"))
            text.append(" · " if self.compact else "\n", style="dim")
        if evidence is not None:
            if self.compact:
                self.mix_words(text, evidence)
                text.append("\n")
            else:
                self.evidence_lines(text, evidence)
        else:
            self.answer_mix(text, track, old_fp, new_fp)
        text.append("streak ")
        done = track.streak >= track.need
        text.append(f"{min(track.streak, track.need)}/{track.need}",
                    style="bold green" if done else "bold")
        text.append(" live on NEW")
        if evidence is not None and self.compact:
            text.append(" · ", style="dim")
            self.count_words(text, evidence)
            text.append(" · ", style="dim")
            self.bound_words(text, evidence)
        self.set_verdict_class(last.verdict if last else None)
        self.set_class(bool(alarm) or (last is not None and serving(last, old_fp, new_fp) == "MISMATCH"),
                       "-alarm")
        self.draw(text, track.history, old_fp, new_fp)

    # -- the evidence, in words and numbers ---------------------------------------------
    def evidence_lines(self, text: Text, evidence: Evidence) -> None:
        """Five lines: OLD last seen, NEW samples since, the bound, its limit, the mix."""
        text.append("OLD last seen ")
        if evidence.since_old_seen is None:
            text.append("never", style="bold green" if evidence.samples else "dim")
            text.append(f" ({evidence.samples} samples)" if evidence.samples else "", style="dim")
        else:
            text.append(f"{ago(evidence.since_old_seen)} ago",
                        style="bold yellow" if evidence.n == 0 else "bold")
        text.append("\n")
        self.count_words(text, evidence)
        if evidence.n and not evidence.enough and evidence.eta:
            text.append(f" · ~{ago(math.ceil(evidence.eta))} more", style="dim")
        text.append("\n")
        self.bound_words(text, evidence, limit=False)
        text.append("\nmax_old_share ", style="dim")
        if evidence.max_old_share >= 1.0:
            text.append("1 (bound off)", style="yellow")
        else:
            text.append(percent(evidence.max_old_share))
        text.append("\n")
        self.mix_words(text, evidence)
        text.append("\n")

    @staticmethod
    def count_words(text: Text, evidence: Evidence) -> None:
        text.append("NEW ")
        text.append(f"{evidence.n}", style="bold green" if evidence.enough and evidence.needed
                    else "bold")
        if evidence.needed:
            text.append(f" of {evidence.needed}" if not evidence.enough
                        else f" ≥ {evidence.needed}")
        text.append(" since OLD")

    @staticmethod
    def bound_words(text: Text, evidence: Evidence, *, limit: bool = True) -> None:
        text.append(f"OLD share < {percent(evidence.bound)}",
                    style="bold green" if evidence.enough and evidence.needed else "bold")
        text.append(f" ({percent(CONFIDENCE)})", style="dim")
        if not limit:
            return
        if evidence.max_old_share >= 1.0:
            text.append(" · bound off", style="dim")
        else:
            text.append(f" · max {percent(evidence.max_old_share)}", style="dim")

    @staticmethod
    def mix_words(text: Text, evidence: Evidence) -> None:
        n_old, n_new, n_other = evidence.mix
        total = n_old + n_new + n_other
        text.append("mix ")
        text.append(f"OLD {n_old}", style="yellow" if n_old else "dim")
        text.append(" · ")
        text.append(f"NEW {n_new}", style="green" if n_new else "dim")
        if n_other:
            text.append(f" · other key {n_other}", style="red")
        text.append(f"  (last {total})" if total else "", style="dim")

    @staticmethod
    def answer_mix(text: Text, track: Track, old_fp: str, new_fp: str | None) -> None:
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
