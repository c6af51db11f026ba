"""One rotation run: the whole revoke sequence, once, for every front end.

resume from the audit log → start probing → wait for the gate → a person confirms →
revoke (admin API) or the person revokes in the console → verify → finish (report,
key slots); after an alarm, a person may reactivate the old key.

The few points where a person decides are a `Decider` the front end passes in: the
CLI asks on the terminal (or answers yes for `--yes`), the dashboard waits for a key
press and a confirmation modal. Everything else — what is said, in which order, what
happens when the gate shuts while the question is open — lives here and nowhere else.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from providers.errors import AdminError
from tui.engine import lifecycle
from tui.engine.admin_revoke import resume_unanswered
from tui.engine.audit import AuditLog, AuditWriteError
from tui.engine.gate import Role
from tui.engine.history import ResumePoint
from tui.engine.lock import RotationLock
from tui.engine.rotation import PRE_REVOKE, GateLocked, Phase, RevokeRefused, RotationEngine


class Decider(Protocol):
    """Where a person decides. Each call may take as long as the person does; the run
    cancels it when the question no longer stands (the gate shut under it)."""

    async def revoke(self, engine: RotationEngine) -> bool:
        """Revoke the OLD key now? (The gate is open when this is asked.)"""

    async def console_done(self, engine: RotationEngine, steps: str) -> bool:
        """Has the person revoked the OLD key in the provider's console?"""

    async def reactivate(self, engine: RotationEngine, alarm: str) -> bool:
        """After an alarm: set the revoked OLD key active again?"""


class Ending(StrEnum):
    """How a run ended; the CLI turns it into an exit code, the dashboard into words."""

    DONE = "done"  # the old key is refused for a full streak, the deployment live on NEW
    ALREADY_DONE = "already-done"  # the audit log shows this old key's rotation finished
    GATE_TIMEOUT = "gate-timeout"  # the gate did not open in time: nothing was revoked
    DECLINED = "declined"  # the person said no to the revoke
    REVOKE_FAILED = "revoke-failed"  # the provider refused or could not be reached
    NOT_CONFIRMED = "not-confirmed"  # console step not confirmed, or the old key not refused in time
    ALARM = "alarm"  # the deployment failed after the revoke
    ROLLED_BACK = "rolled-back"  # the alarm was answered by reactivating the old key
    WATCHED = "watched"  # `watch`: the gate opened
    REACTIVATED = "reactivated"  # `reactivate`: the revoked old key is active again
    REFUSED = "refused"  # nothing to do that may be done (no admin revoke to undo)


@dataclass(frozen=True)
class Outcome:
    ending: Ending
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.ending in (Ending.DONE, Ending.ALREADY_DONE, Ending.WATCHED, Ending.REACTIVATED)


class RotationRun:
    """Drives one RotationEngine through a rotation; `say` receives every line to show."""

    def __init__(
        self,
        engine: RotationEngine,
        decider: Decider,
        say: Callable[[str], None],
        *,
        promote_slots: bool = True,
        until_done: bool = False,
        lock: RotationLock | None = None,
    ) -> None:
        self.engine = engine
        self.decider = decider
        self.say = say
        #: False for the demo: its keys live in memory, not in the keychain.
        self.promote_slots = promote_slots
        #: The dashboard's run: a declined or failed revoke, or a failed reactivation, goes
        #: back to watching and asks again; the CLI's run ends there with its exit code.
        self.until_done = until_done
        self.point: ResumePoint | None = None
        self.finished: lifecycle.Finished | None = None
        self._resumed = False
        #: One run per rotation across processes (held from `start` to `close`).
        self.lock = lock
        self._settled = False

    @property
    def audit(self) -> AuditLog | None:
        return self.engine.audit

    # -- the steps ----------------------------------------------------------------------
    def resume(self) -> ResumePoint | None:
        """Pick up what the audit log says about this old key (once, before `start`)."""
        if self._resumed:
            return self.point
        self._resumed = True
        self.point = lifecycle.resume(self.engine, self.audit)
        point, old = self.point, self.engine.keys.old
        if point is None:
            return None
        if point.phase == "done":
            self.say(f"the audit log shows old key {old.masked} ({old.fingerprint}) already "
                     f"revoked and confirmed dead ({point.since}); nothing to revoke")
        else:
            self.say(f"resumed from the audit log: revoke of old key {old.fingerprint} was "
                     f"requested at {point.since}; not requesting it again; now {point.phase}")
        return point

    def close(self) -> None:
        """Release the rotation's lock (the engine is stopped by whoever runs it)."""
        if self.lock is not None:
            self.lock.release()

    def start(self) -> None:
        """Take the rotation's lock (RotationBusy names who holds it), resume, probe."""
        if self.lock is not None:
            self.lock.acquire()
        self.resume()
        if not self.engine.started and not self.already_done:
            self.engine.start()

    async def settle_unanswered(self) -> None:
        """A run that stopped around the admin call: ask the provider, once, what became
        of the old key, and carry on from its answer (see admin_revoke)."""
        point = self.point
        if point is None or not point.unanswered or point.method == "console" or self._settled:
            return
        self._settled = True
        if self.engine.phase not in PRE_REVOKE:
            return
        self.say("asking the provider what became of the old key before doing anything else")
        await resume_unanswered(self.engine, point)

    @property
    def already_done(self) -> bool:
        return self.point is not None and self.point.phase == "done"

    async def watch(self, timeout: float = math.inf) -> Outcome:
        """Probe until the gate opens; a rotation past its revoke is verified instead."""
        return await self._loudly(self._watch(timeout))

    async def rotate(self, timeout: float = math.inf) -> Outcome:
        """The whole sequence: gate → confirmation → revoke → verify → finish."""
        return await self._loudly(self._rotate(timeout))

    async def rollback(self) -> Outcome:
        """Set the OLD key this rotation revoked through the admin API active again
        (asked first), whatever the run that revoked it became."""
        return await self._loudly(self._rollback())

    async def _loudly(self, steps) -> Outcome:
        """A step whose audit event could not be written ends the run there, saying what
        was and was not done (the engine worded it); nothing after it is attempted."""
        try:
            return await steps
        except AuditWriteError:
            return Outcome(Ending.ALARM, f"ALARM: {self.engine.alarm}")

    async def _watch(self, timeout: float) -> Outcome:
        self.start()
        if self.already_done:
            return Outcome(Ending.ALREADY_DONE)
        await self.settle_unanswered()
        if self.engine.phase not in PRE_REVOKE:
            return await self.verify(timeout)
        if await self.engine.wait_until(lambda: self.engine.gate.open, timeout):
            return Outcome(Ending.WATCHED, "gate open: Revoke unlocked")
        return Outcome(Ending.GATE_TIMEOUT,
                       f"timed out after {timeout:g}s: {self.engine.gate.summary}")

    async def _rotate(self, timeout: float) -> Outcome:
        self.start()
        engine = self.engine
        if self.already_done:
            await self.finish()
            return Outcome(Ending.ALREADY_DONE)
        await self.settle_unanswered()
        if engine.phase in PRE_REVOKE:
            outcome = await self._revoke(timeout)
            if outcome is not None:
                return outcome
        if engine.awaiting_console:
            steps = engine.console_steps()
            self.say(steps)
            if not await self.decider.console_done(engine, steps):
                return Outcome(Ending.NOT_CONFIRMED, "console revocation not confirmed")
            engine.confirm_console()
        return await self.verify(timeout)

    async def _revoke(self, timeout: float) -> Outcome | None:
        """Wait for the gate, ask, revoke; None when the revoke went out (or the console
        step is pending). The question is withdrawn whenever the gate shuts under it."""
        engine = self.engine
        while True:
            if not await engine.wait_until(lambda: engine.can_revoke, timeout):
                return Outcome(Ending.GATE_TIMEOUT,
                               f"gate did not open within {timeout:g}s ({engine.gate.summary}); "
                               "the admin API was not called")
            old = engine.keys.old
            self.say(f"gate open: ready to revoke OLD key {old.masked} ({old.fingerprint})")
            evidence = engine.evidence
            if evidence is not None:
                seen = ("OLD last seen "
                        + (f"{evidence.since_old_seen:.0f} s ago" if evidence.since_old_seen
                           is not None else "never while keyturn watched"))
                self.say(f"evidence: {evidence.bound_text()} after {evidence.n} NEW samples; "
                         f"{seen}")
            if engine.revoke_warning:
                self.say(engine.revoke_warning)
            answer = await self._ask_while_open(self.decider.revoke(engine))
            if answer is None:
                self.say(f"Revoke locked again: {engine.gate.summary}")
                continue
            if not answer:
                outcome = Outcome(Ending.DECLINED, "not revoked")
            else:
                try:
                    await engine.revoke()
                    return None
                except GateLocked as exc:
                    self.say(f"not revoked: the gate shut ({exc})")
                    continue
                except RevokeRefused as exc:
                    outcome = Outcome(Ending.REVOKE_FAILED, f"not revoked: {exc}")
                except AdminError as exc:
                    outcome = Outcome(Ending.REVOKE_FAILED, f"revoke failed: {exc}")
            if not self.until_done:
                return outcome
            self.say(outcome.message)
            if engine.phase not in PRE_REVOKE:
                return None  # refused because the key is already past its revoke: verify

    async def _ask_while_open(self, question) -> bool | None:
        """The person's answer, or None when the gate shut first (the question is cancelled)."""
        engine = self.engine
        asking = asyncio.ensure_future(question)
        shut = asyncio.ensure_future(engine.wait_until(lambda: not engine.can_revoke, math.inf))
        try:
            await asyncio.wait((asking, shut), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (asking, shut):
                if not task.done():
                    task.cancel()
            await asyncio.gather(asking, shut, return_exceptions=True)
        if asking.cancelled() or not asking.done():
            return None
        answer = asking.result()  # what the decider raised (EOF at a prompt) goes up
        if answer and not engine.can_revoke:
            return None  # it shut at the same moment
        return answer

    async def verify(self, timeout: float = math.inf) -> Outcome:
        """Until the old key is proved dead (and the rotation finished) or an alarm."""
        engine = self.engine
        ended = await engine.wait_until(lambda: engine.phase in (Phase.DONE, Phase.FAILED), timeout)
        if engine.phase is Phase.DONE:
            self.say(f"done: old key refused {engine.rotation.streak} times in a row"
                     + (", deployment live on NEW" if engine.deployment is not None else ""))
            await self.finish()
            return Outcome(Ending.DONE)
        if engine.phase is Phase.FAILED:
            return await self._alarm()
        assert not ended
        old = engine.tracks[Role.OLD]
        return Outcome(Ending.NOT_CONFIRMED,
                       f"revocation not confirmed within {timeout:g}s "
                       f"(old key refused {old.streak}/{old.need} in a row)")

    async def _alarm(self) -> Outcome:
        engine = self.engine
        alarm = engine.alarm or "rotation failed"
        if engine.audit_error is not None:
            return Outcome(Ending.ALARM, f"ALARM: {alarm}")  # nothing more may go unrecorded
        while engine.can_reactivate and await self.decider.reactivate(engine, alarm):
            self.say(f"ALARM: {alarm}; reactivating the old key")
            try:
                await engine.reactivate()
            except (AdminError, RevokeRefused) as exc:
                if self.until_done:
                    continue  # the engine said why; the person may try again
                return Outcome(Ending.ALARM, f"ALARM: {alarm}; reactivation failed: {exc}")
            return Outcome(Ending.ROLLED_BACK,
                           f"ALARM: {alarm}; the old key was reactivated (rolled back)")
        if engine.can_reactivate:
            return Outcome(Ending.ALARM, f"ALARM: {alarm}. Reactivate the old key to roll back: "
                                         f"`keyturn reactivate {engine.rotation.name}`")
        return Outcome(Ending.ALARM, f"ALARM: {alarm}")

    async def _rollback(self) -> Outcome:
        engine = self.engine
        point = self.resume()
        if point is None or not point.key_id:
            return Outcome(Ending.REFUSED, f"nothing to reactivate: the audit log shows no revoke "
                                           f"of old key {engine.keys.old.fingerprint} through "
                                           "the admin API")
        if point.phase == "done":
            engine.restore(Phase.VERIFYING, key_id=point.key_id)
        if not engine.provider.supports_reactivate:
            return Outcome(Ending.REFUSED, f"{engine.provider.name} cannot reactivate a key: "
                                           "create a new one in the console instead")
        if not engine.can_reactivate:
            return Outcome(Ending.REFUSED, "reactivation needs the admin key")
        if not await self.decider.reactivate(engine, "rollback asked for"):
            return Outcome(Ending.DECLINED, "not reactivated")
        try:
            await engine.reactivate()
        except (AdminError, RevokeRefused) as exc:
            return Outcome(Ending.REVOKE_FAILED, f"reactivation failed: {exc}")
        return Outcome(Ending.REACTIVATED, f"old key {engine.keys.old.fingerprint} is active "
                                           "again (rolled back)")

    async def finish(self) -> lifecycle.Finished | None:
        """Save the report and promote keyturn's key slots (the keychain may block: a
        thread); say where things are. Once per run; nothing without an audit log."""
        if self.finished is not None or self.audit is None:
            return self.finished
        engine, state_dir = self.engine, self.audit.dir
        try:
            if engine.phase is Phase.DONE:
                self.finished = await asyncio.to_thread(
                    lifecycle.finish, state_dir, engine, promote=self.promote_slots)
            elif self.promote_slots:  # finished by an earlier run: the slots may still lag
                promotion = await asyncio.to_thread(
                    lifecycle.promote_slots, engine.rotation, engine.keys, self.audit)
                self.finished = lifecycle.Finished(None, promotion)
        except OSError as exc:
            self.say(f"could not save the report: {exc.strerror or type(exc).__name__}")
            return None
        if self.finished is not None:
            if self.finished.report is not None:
                self.say(f"report: {self.finished.report}")
            if self.finished.promotion is not None:
                self.say(self.finished.promotion.message)
        return self.finished
