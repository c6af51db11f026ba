"""The action row: the Revoke button, the console steps with `c`, and Reactivate with `a`."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from tui.widgets.style import put


class RevokePanel(Vertical):
    """Buttons mirror the key bindings; the screen enables them from the same state."""

    def compose(self) -> ComposeResult:
        yield Static(id="console-steps")
        with Horizontal(id="buttons"):
            yield Button("Revoke old key (r)", id="revoke", variant="error", disabled=True)
            yield Button("Done in the console (c)", id="console-done", variant="warning")
            yield Button("Reactivate old key (a)", id="reactivate", variant="warning")
            yield Static(id="status-line")

    def show(
        self,
        *,
        revoke_allowed: bool,
        revoke_shown: bool,
        console_steps: str | None,
        can_reactivate: bool,
        status: str,
    ) -> None:
        revoke = self.query_one("#revoke", Button)
        revoke.disabled = not revoke_allowed
        revoke.display = revoke_shown  # once revoked, the button has nothing left to do
        steps = self.query_one("#console-steps", Static)
        steps.display = console_steps is not None
        if console_steps is not None:
            put(steps, Text(console_steps))
        self.query_one("#console-done", Button).display = console_steps is not None
        self.query_one("#reactivate", Button).display = can_reactivate
        put(self.query_one("#status-line", Static), Text(status, style="dim"))
