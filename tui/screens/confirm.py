"""A yes/no modal: `y` or Enter confirms, `n` or Esc cancels."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmationModal(ModalScreen[bool]):
    """Asks one question; dismisses with True (confirmed) or False."""

    #: `-short` under 20 rows: less padding so the answers stay on a 40x12 terminal.
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-short"), (20, "-tall")]

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm-yes"),
        Binding("enter", "answer(True)", "Yes", show=False, priority=True),
        Binding("n", "answer(False)", "No", id="confirm-no"),
        Binding("escape", "answer(False)", "Cancel", show=False),
    ]

    def __init__(self, title: str, body: str, yes: str = "Yes (y)", no: str = "No (n)",
                 danger: bool = True) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.yes = yes
        self.no = no
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(self.title_text, style="bold"), id="question")
            yield Static(Text(self.body), id="body")
            with Horizontal(id="answers"):
                yes = Button(self.yes, id="yes", variant="error" if self.danger else "primary")
                no = Button(self.no, id="no")
                # Not focusable: Enter always means "confirm", never "press the focused button".
                yes.can_focus = no.can_focus = False
                yield yes
                yield no

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")
