"""Help: the keys, the gate rule and what each phase means."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP = """\
keyturn watches the OLD key, the NEW key and the deployment while the new key
propagates, and unlocks Revoke only when it is safe.

Keys
  r       Revoke the old key (only when the gate is open; asks first)
  c       Say the old key was revoked in the console (no admin key)
  a       Reactivate the old key (rollback after an alarm; asks first)
  n       Enter or replace the NEW key (password field)
  p       Pause / resume probing
  ctrl+p  Command palette (the same actions)
  ?       This help        q  Quit (asks first while revoking or verifying)

The gate
  Revoke unlocks when the NEW key answered live for the last `streak` probes in
  a row and, with a deployment, the deployment answered live for `streak` probes
  reporting the NEW key's fingerprint. One failure locks it again.

Verdicts
  live ●  rejected ✕  throttled ◔  unavailable ○  unreachable ?  unexpected !
  throttled, unavailable and unreachable are no evidence either way.

Phases
  waiting → propagating → ready → revoking → verifying → done
  (failed: the deployment broke after revoke; rolled-back: old key reactivated)
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog"):
            yield Static(Text(HELP))

    def action_close(self) -> None:
        self.dismiss(None)
