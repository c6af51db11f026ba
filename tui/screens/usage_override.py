"""Setting the provider's count aside in the dashboard: two confirmations, each repeating
the figure, and then only for this rotation; the engine writes it to the audit log."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tui.engine.rotation import PRE_REVOKE, RotationEngine
from tui.engine.usage_words import hhmm
from tui.screens.confirm import ConfirmationModal

if TYPE_CHECKING:
    from textual.screen import Screen

#: How the audit log names this way of setting the usage rule aside.
VIA = "you, in the dashboard, confirmed twice"


def offered(engine: RotationEngine) -> bool:
    """Only the provider's count keeps Revoke locked: a person may set it aside."""
    return (engine.phase in PRE_REVOKE and not engine.paused and not engine.usage_ignored
            and bool(engine.usage_lock) and set(engine.gate.reasons) <= set(engine.usage_lock))


def ask(screen: Screen, engine: RotationEngine, done) -> None:
    """The first confirmation; `done()` runs once the rule is set aside."""

    def second(confirmed: bool | None) -> None:
        if confirmed and offered(engine):
            engine.ignore_usage(VIA)
            done()

    def first(confirmed: bool | None) -> None:
        if not confirmed or not offered(engine):
            return
        screen.app.push_screen(ConfirmationModal(
            "Really set the provider's count aside?",
            f"The provider says: {'; '.join(engine.usage_lock)}.\n\nRevoke then unlocks "
            "without waiting for the usage report; this is written to the audit log.",
            yes="Set aside (y)", no="Cancel (n)"), second)

    screen.app.push_screen(ConfirmationModal(
        "Revoke is locked by the provider's count",
        f"{'; '.join(engine.usage_lock)}.\n\nRevoking now may break whatever still uses the "
        "OLD key. Set the provider's count aside for this rotation? You will be asked once more.",
        yes="Set it aside… (y)", no="Keep it locked (n)"), first)


def confirmation_words(engine: RotationEngine) -> str:
    """What the revoke confirmation adds from the provider's count: a rule set aside, or
    how far the report has counted (the minutes after it are not known to be quiet)."""
    if engine.usage_ignored and engine.usage_lock:
        return "\n\nYou set the provider's count aside: " + "; ".join(engine.usage_lock) + "."
    usage = engine.usage
    if usage.covered_to is None:
        return ""
    return (f"\n\nThe provider's usage report has counted to {hhmm(usage.covered_to)} UTC; "
            "later minutes are not counted yet.")
