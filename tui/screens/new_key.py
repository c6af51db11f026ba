"""The new-key modal: a password field; Enter stores the key, Esc cancels."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class NewKeyModal(ModalScreen[str | None]):
    """Dismisses with the raw key typed or pasted (the caller wraps it in a Secret at once)."""

    #: `-short` under 20 rows: less padding so the answers stay on a 40x12 terminal.
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-short"), (20, "-tall")]

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text("Enter the NEW key", style="bold"), id="question")
            yield Static(Text(self.where), id="body")
            yield Input(password=True, placeholder="paste the new key, then Enter", id="new-key")
            yield Static(Text("Enter to save · Esc to cancel · the key is never shown", style="dim"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        raw = event.value
        event.input.value = ""  # the widget keeps no copy once we are done
        self.dismiss(raw if raw.strip() else None)

    def action_cancel(self) -> None:
        self.query_one(Input).value = ""
        self.dismiss(None)
