"""The gate bar: why Revoke is locked, in plain words, or that it is unlocked."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

STATES = ("locked", "open", "working", "done", "alarm")


class GateBar(Static):
    """One line whose colour follows the state: locked, open, working, done or alarm."""

    def show(self, state: str, label: str, detail: str) -> None:
        for name in STATES:
            self.set_class(name == state, f"-{name}")
        text = Text()
        text.append(f" {label} ", style="bold reverse")
        text.append("  " + detail)
        # The words wrap on a narrow terminal: this one update may change the height.
        if getattr(self, "_keyturn_last", None) != text:
            self._keyturn_last = text
            self.update(text)
