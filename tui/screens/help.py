"""Help: the keys, the gate rule and what each phase means."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP = """\
keyturn watches the OLD key, the NEW key and the deployment while
the new key propagates, and unlocks Revoke only when it is safe.

Keys
  r        Revoke the old key (when the gate is open; asks first)
  c        The old key is revoked in the console (no admin key)
  a        Reactivate the old key (after an alarm; asks first)
  n        Enter or replace the NEW key (password field)
  w        Write the NEW key to the destinations (asks first)
  u        Write the OLD key back: the undo before Revoke
  p        Pause / resume probing
  ctrl+p   Command palette (the same actions)
  ↑ ↓ PgUp PgDn   Scroll the cards on a small terminal
  ?        This help
  q        Quit (asks first while revoking or verifying)

The gate
  Revoke unlocks when the NEW key answered live for the last
  `streak` probes in a row and, with a deployment, the deployment
  answered live on the NEW key's fingerprint for `streak` probes.
  One failure locks it again. The deployment's samples must also
  bound the share of traffic still on OLD below `max_old_share`.
  A Cloudflare Worker destination also keeps it locked while a
  version from before keyturn wrote the NEW key takes traffic.
  With an admin key, the provider's own count (TRAFFIC) keeps it
  locked while it counts the OLD key after your deployment moved
  to NEW (and, with `drain`, until it has counted that long).
  r on that lock offers to set the count aside: two confirmations.

Traffic (the provider's count, per minute, last 30 minutes)
  ▂…█ used   ▁ counted, not used   ░ not counted yet (the report
  trails by minutes: a minute not counted is never a quiet one)

Verdicts
  live ●   rejected ✕   throttled ◔   unavailable ○
  unreachable ?   unexpected !
  throttled, unavailable, unreachable: no evidence either way.

Deployment strip
  N answered on NEW   O answered on OLD   ✕ refused   ? no evidence

Phases
  waiting → propagating → ready → revoking → verifying → done
  failed: the deployment broke after revoke
  rolled-back: the old key was reactivated
"""


LIST_HELP = """\
The rotation list: every rotation in the config, its keys'
fingerprints, when it was last rotated and when it is due.

Keys
  ↑ ↓      Choose a rotation
  Enter    Open its dashboard
  ctrl+p   Command palette
  ?        This help
  q, Esc   Quit

Columns
  —        the key is not stored yet, or is asked for at a prompt
  state    ok · overdue · never (not rotated yet) · - (no policy)
           update refs: `old` still holds a key keyturn revoked

Commands
  keyturn init               write a first rotation
  keyturn config check       explain the config, say what is missing
  keyturn secret set R SLOT  store a key (SLOT: old, new or admin)
  keyturn status             this list for scripts (--json)
  keyturn completion SHELL   tab completion for bash, zsh or fish
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, text: str = HELP) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog"):
            yield Static(Text(self.text))

    def action_close(self) -> None:
        self.dismiss(None)
