"""The platform's rollout under the DEPLOYMENT card: which Worker versions take traffic.

A line per Cloudflare Worker destination, in Cloudflare's own terms ("100 % on version
3f2a…, deployed 12:03 UTC by a secret change") and keyturn's ("NEW written 12:03 UTC").
It stands in a column with the deployment card (the dashboard composes that column only
for a rotation with a Worker destination; other dashboards are laid out as before).
"""

from __future__ import annotations

from rich.text import Text
from textual.containers import Vertical
from textual.widgets import Static


class DeploymentColumn(Vertical):
    """The DEPLOYMENT card with the rollout line beneath it, as wide as any other card."""

    DEFAULT_CSS = """
    DeploymentColumn {
        width: 1fr;
        height: auto;
    }
    """


class WorkerRollout(Static):
    """Cloudflare's word on each Worker; yellow while it keeps Revoke locked."""

    DEFAULT_CSS = """
    WorkerRollout {
        height: auto;
        margin: 0 1;
        padding: 0 1;
        color: $text-muted;
    }
    WorkerRollout.-holding { color: $warning; }
    """

    def show(self, workers: list[tuple[str, str, str]], holding: bool) -> None:
        """Each Worker's (name, Cloudflare's word, keyturn's write); `holding`: the
        platform's word is what keeps Revoke locked now."""
        self.set_class(holding, "-holding")
        text = Text()
        for name, said, mine in workers:
            if text:
                text.append("\n")
            text.append(name, style="bold")
            text.append(f": {said}\n{mine}")
        if getattr(self, "_keyturn_last", None) != text:
            self._keyturn_last = text
            self.update(text)
