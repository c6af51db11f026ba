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
        # The words wrap on a narrow terminal: an update may change the height, and then
        # needs a layout pass. One line before and after needs none: that pass (~25 ms
        # here) was most of the time from the gate opening to Revoke enabled on screen.
        if getattr(self, "_keyturn_last", None) != text:
            self._keyturn_last = text
            width = self.content_size.width
            one_line = bool(width) and text.cell_len <= width
            self.update(text, layout=not (one_line and getattr(self, "_keyturn_one_line", False)))
            self._keyturn_one_line = one_line
