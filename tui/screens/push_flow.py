"""The dashboard's side of writing a key to the destinations (`w` NEW, `u` OLD back).

A confirmation lists where the key goes; the write runs as a worker of the screen (the
probes go on meanwhile); a Worker found in a gradual deployment is asked about in a
second confirmation. Each destination's result reaches the event log as the engine's
Notice (a failure also as a toast, in the platform's own words); a summary follows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tui.engine.audit import AuditWriteError
from tui.engine.destinations import Destination, listing
from tui.engine.push import PushRefused, key_to_write, push
from tui.screens.confirm import ConfirmationModal

if TYPE_CHECKING:
    from tui.screens.dashboard import DashboardScreen


class PushFlow:
    """At most one write at a time, started from a key press on the dashboard."""

    def __init__(self, screen: DashboardScreen) -> None:
        self.screen = screen
        #: A write is under way (the keys that start one wait for it).
        self.running = False

    def start(self, slot: str) -> None:
        """Ask first (what goes where), then write."""
        screen, engine = self.screen, self.screen.engine
        if self.running:
            screen.notify("A write is already under way.", severity="warning", markup=False)
            return
        try:
            secret = key_to_write(engine, slot)
        except PushRefused as exc:
            screen.notify(f"Not written: {exc}", severity="warning", markup=False, timeout=10)
            return
        where = "\n".join(listing(engine.rotation.destinations))
        if slot == "new":
            title = "Write the NEW key where the app reads it?"
            after = ("Then watch the deployment move to it; Revoke unlocks once it serves "
                     "NEW for a streak.")
        else:
            title = "Write the OLD key back (undo)?"
            after = "The app goes back to the OLD key; the NEW key stays as it is."
        body = f"{slot.upper()} key {secret.masked}\nfingerprint {secret.fingerprint}\n\n" \
               f"to:\n{where}\n\n{after}"
        screen.app.push_screen(
            ConfirmationModal(title, body, yes="Write (y)", no="Cancel (n)", danger=False),
            lambda confirmed: self._answered(slot, confirmed),
        )

    def _answered(self, slot: str, confirmed: bool | None) -> None:
        if not confirmed:
            self.screen.log_event("write cancelled")
            return
        self.running = True
        self.screen.refresh_bindings()
        self.screen.run_worker(self._push(slot), group="push")

    async def _push(self, slot: str) -> None:
        screen = self.screen
        try:
            results = await push(screen.engine, slot, self._ask_gradual)
        except PushRefused as exc:
            screen.notify(f"Not written: {exc}", severity="warning", markup=False)
            return
        except AuditWriteError:
            return  # the engine raised the alarm and said what was done
        finally:
            self.running = False
            screen.refresh_bindings()
            screen.redraw()
        written = sum(1 for r in results if r.ok)
        words = f"{slot.upper()} key written to {written} of {len(results)} destinations"
        # After the destinations' own lines (the engine's Notices, still in the queue).
        screen.call_later(screen.log_event, words, "info" if written == len(results) else "warning")
        screen.notify(words + ("" if written == len(results) else ": see the events"),
                      severity="information" if written == len(results) else "warning",
                      markup=False)

    async def _ask_gradual(self, destination: Destination, found: str) -> bool:
        """A Worker in a gradual deployment: say what was found, and ask."""
        self.screen.log_event(found, "warning")
        answer = await self.screen.app.push_screen_wait(ConfirmationModal(
            "Write to a Worker in a gradual deployment?", found,
            yes="Write anyway (y)", no="Leave it (n)"))
        return bool(answer)
