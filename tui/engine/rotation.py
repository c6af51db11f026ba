"""A rotation in motion: phases, the probes behind them, revoke, verify and rollback.

The engine owns the scheduler, the tracks and the gate of one rotation, and is the
only code that calls a provider's admin API. The dashboard and the headless commands
both drive it and listen to its events; neither holds a copy of its rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from providers.base import Provider
from providers.deployment import DeploymentTarget
from providers.errors import AdminError
from providers.lazy import httpx
from providers.results import AdminReceipt, ProbeResult, Verdict
from tui.engine.admin_revoke import deactivate_old_key
from tui.engine.audit import AuditLog, AuditWriteError
from tui.engine.bound import Evidence, OldShare
from tui.engine.config import Rotation
from tui.engine.credentials import CredentialError, Secret
from tui.engine.gate import (
    GateState,
    Role,
    Sampled,
    Track,
    evaluate,
    qualifies,
    serving,
    summarize,
    usage_rule,
    with_old_key_state,
    with_platform_rollout,
    with_usage,
)
from tui.engine.history import resume_point
from tui.engine.scheduler import Clock, LoopClock, Scheduler, Target
from tui.engine.session import Keys, open_client
from tui.engine.usage import Usage, UsageUpdated, UsageWatch
from tui.engine.worker_watch import Platform


class Phase(StrEnum):
    WAITING = "waiting"
    PROPAGATING = "propagating"
    READY = "ready"
    REVOKING = "revoking"
    VERIFYING = "verifying"
    DONE = "done"
    FAILED = "failed"
    ROLLED_BACK = "rolled-back"


PRE_REVOKE = frozenset({Phase.WAITING, Phase.PROPAGATING, Phase.READY})


@dataclass(frozen=True)
class Probed:
    role: Role
    result: ProbeResult


@dataclass(frozen=True)
class PhaseChanged:
    phase: Phase
    reason: str = ""


@dataclass(frozen=True)
class GateChanged:
    gate: GateState


@dataclass(frozen=True)
class Notice:
    text: str
    level: str = "info"  # info | warning | error


class GateLocked(Exception):
    """Revoke was asked for while the gate is shut; the message says why."""


class RevokeRefused(Exception):
    """Revoke cannot proceed (already revoked, wrong phase); the message says why."""


@dataclass
class RotationEngine:
    rotation: Rotation
    provider: Provider
    keys: Keys
    #: The run's one HTTP client; None: start() opens it (the dashboard, so that httpx is
    #: imported after the first frame), and whoever runs the engine closes it.
    client: httpx.AsyncClient | None
    clock: Clock = field(default_factory=LoopClock)
    audit: AuditLog | None = None

    def __post_init__(self) -> None:
        need, policy = self.rotation.streak, self.rotation.indeterminate
        self.tracks: dict[Role, Track] = {
            Role.OLD: Track(Role.OLD, need, policy),
            Role.NEW: Track(Role.NEW, need, policy),
        }
        self.deployment: DeploymentTarget | None = None
        #: Deployment requests the next tick sends: `samples`, halved after a tick the
        #: deployment throttled, and grown back a quarter of `samples` per clean tick.
        self.sample_batch = max(1, self.rotation.samples)
        if self.rotation.deployment:
            self.deployment = DeploymentTarget(self.rotation.deployment, self.provider)
            evidence = OldShare(self.rotation.max_old_share,
                                self.sample_batch / self.rotation.interval)
            self.tracks[Role.DEPLOYMENT] = Track(Role.DEPLOYMENT, need, policy, evidence=evidence)
        self.scheduler = Scheduler(self._on_result, self.clock)
        self.phase = Phase.WAITING
        self.gate = GateState(False, ("not probed yet",))
        self.first_live_at: float | None = None
        self.revoked: set[str] = set()
        self.admin_key_id: str | None = None
        self.receipts: list[AdminReceipt] = []
        self.awaiting_console = False
        self.alarm: str | None = None
        #: Set when the audit log could not be written: the rotation stopped there.
        self.audit_error: str | None = None
        #: Probes made by this run, per role (the report counts them).
        self.probe_counts: dict[Role, int] = dict.fromkeys(self.tracks, 0)
        #: probe_counts at the moment the rotation was proved done: what the `done` event
        #: records and the report says (probing goes on while the report is written).
        self.done_counts: dict[Role, int] | None = None
        #: Set by restore(): the phase this run picked up from the audit log.
        self.resumed_from: str | None = None
        self.listeners: list[Callable[[object], None]] = []
        #: start() was called (the dashboard calls it once its first frame is out).
        self.started = False
        #: The Worker destinations: keyturn's writes there, and what Cloudflare says serves.
        self.platform = Platform(self)
        #: The provider's own per-key count (its usage report), read once a minute; the
        #: usage rule's reasons now, and how a person set them aside (None: they stand).
        self.usage_watch = UsageWatch.for_engine(self)
        self.listeners.append(self.usage_watch.on_event)
        self.usage_lock: tuple[str, ...] = ()
        self.usage_ignored: str | None = None
        self._recompute()

    # -- lifecycle --------------------------------------------------------------
    def start(self) -> None:
        """Begin probing every configured target (call inside a running event loop)."""
        self.started = True
        self.http()
        self._add(Role.OLD)
        if self.keys.new is not None:
            self._add(Role.NEW)
        if self.deployment is not None:
            self._add(Role.DEPLOYMENT)
        self.platform.start()
        self.usage_watch.start()

    async def stop(self) -> None:
        await self.usage_watch.stop()
        await self.scheduler.stop()
        await self.platform.stop()

    def pause(self) -> None:
        self.scheduler.pause()
        self._emit(Notice("probing paused"))

    def resume(self) -> None:
        self.scheduler.resume()
        self._emit(Notice("probing resumed"))

    @property
    def paused(self) -> bool:
        return self.scheduler.paused

    def http(self) -> httpx.AsyncClient:
        """The client, opened on first use."""
        if self.client is None:
            self.client = open_client(self.provider)
        return self.client

    def _add(self, role: Role) -> None:
        self.scheduler.add(Target(role.value, self._probe_fn(role), self.rotation.interval))

    def _probe_fn(self, role: Role):
        timeout = self.rotation.timeout
        client = self.http()
        if role is Role.DEPLOYMENT:
            target = self.deployment
            assert target is not None

            async def sampled() -> ProbeResult:
                samples = await target.sample(client, self.sample_batch, timeout)
                return summarize(samples, *self.fingerprints)

            return sampled
        key = self.keys.old if role is Role.OLD else self.keys.new
        provider = self.provider
        return lambda: provider.probe(client, key, timeout)

    def set_new_key(self, secret: Secret) -> None:
        """Enter or replace the NEW key: its streak and the deployment's start over."""
        if secret == self.keys.old:
            raise CredentialError("that is the old key; enter the new one")
        if self.phase not in PRE_REVOKE:
            raise RevokeRefused(f"cannot replace the new key while {self.phase}")
        self.keys.new = secret
        self.first_live_at = None
        self.tracks[Role.NEW].reset()
        if Role.DEPLOYMENT in self.tracks:
            self.tracks[Role.DEPLOYMENT].streak = 0
            evidence = self.tracks[Role.DEPLOYMENT].evidence
            if evidence is not None:
                evidence.restart()
        self._add(Role.NEW)
        self.record("new_key_entered", new=secret.fingerprint)
        if self.usage_ignored is not None:
            # Set aside for the figures of the key it replaced: judged again for this one.
            self.usage_ignored = None
            self._emit(Notice("the provider's count is judged again for the new NEW key"))
        self._recompute()

    # -- probes -----------------------------------------------------------------
    @property
    def fingerprints(self) -> tuple[str, str | None]:
        return self.keys.old.fingerprint, self.keys.new.fingerprint if self.keys.new else None

    def _on_result(self, role_name: str, result: ProbeResult) -> None:
        self.observe(Role(role_name), result)

    def observe(self, role: Role, result: ProbeResult) -> None:
        """Take one probe's result (the scheduler's callback): tracks, evidence, gate, phase.

        A deployment tick comes as a `Sampled` (gate.summarize): its samples feed the
        bound on the OLD share, its summary the deployment's streak.
        """
        old_fp, new_fp = self.fingerprints
        track = self.tracks[role]
        if isinstance(result, Sampled):
            if track.evidence is not None:
                track.evidence.add([r.served_fingerprint for r in result.samples],
                                   old_fp, new_fp, self.clock.now())
            self._pace(result)
            kept = result.alone()
        else:
            kept = result
        verifying = role is Role.OLD and self.phase not in PRE_REVOKE and self.phase is not Phase.REVOKING
        track.record(kept, qualifies(role, kept, new_fp, verifying))
        self.probe_counts[role] = self.probe_counts.get(role, 0) + 1
        if role is Role.NEW and result.verdict is Verdict.LIVE and self.first_live_at is None:
            self.first_live_at = self.clock.now()
            self.record("new_key_live", new=new_fp, request_id=result.request_id)
        self._emit(Probed(role, result))
        self._recompute()

    def _pace(self, tick: Sampled) -> None:
        """Fewer samples after a tick the deployment throttled (the scheduler also waits out
        its retry-after); back up towards `samples` after clean ones."""
        most = max(1, self.rotation.samples)
        if tick.verdict is Verdict.THROTTLED:  # (summarize: any sample throttled)
            self.sample_batch = max(1, self.sample_batch // 2)
        elif self.sample_batch < most:
            self.sample_batch = min(most, self.sample_batch + max(1, most // 4))

    @property
    def evidence(self) -> Evidence | None:
        """The figures behind the bound on the OLD share now (None: no deployment)."""
        track = self.tracks.get(Role.DEPLOYMENT)
        if track is None or track.evidence is None:
            return None
        return track.evidence.figures(self._evidence_now())

    def _evidence_now(self) -> float | None:
        """The clock, once samples are in (before, the bound needs no time, and the
        engine may be built outside an event loop)."""
        track = self.tracks.get(Role.DEPLOYMENT)
        if track is None or track.evidence is None or track.evidence.started_at is None:
            return None
        return self.clock.now()

    def _recompute(self) -> None:
        old_fp, new_fp = self.fingerprints
        new_track = self.tracks[Role.NEW] if self.keys.new is not None else None
        gate = evaluate(new_track, self.tracks.get(Role.DEPLOYMENT), old_fp, new_fp,
                        now=self._evidence_now())
        if self.phase in PRE_REVOKE:
            gate = with_old_key_state(gate, self.tracks[Role.OLD])
            gate = with_platform_rollout(gate, self.platform.rollouts())
        gate = self._usage_gate(gate)
        if gate != self.gate:
            was_open = self.gate.open
            self.gate = gate
            if gate.open and not was_open and self.phase in PRE_REVOKE:
                evidence = self.evidence
                self.record("gate_opened", old=old_fp, new=new_fp,
                             **(evidence.audit_fields() if evidence is not None else {}))
            self._emit(GateChanged(gate))
        if self.phase in PRE_REVOKE:
            if self.keys.new is None or self.first_live_at is None:
                self._set_phase(Phase.WAITING, "new key not seen live yet")
            elif gate.open:
                self._set_phase(Phase.READY, "gate open")
            else:
                self._set_phase(Phase.PROPAGATING, gate.summary)
        elif self.phase is Phase.VERIFYING:
            alarm = self._deployment_alarm()
            if alarm:
                # The alarm is raised before it is written: a log that cannot be written
                # adds to it (record → _audit_failed) and never hides it.
                self.alarm = alarm
                self._set_phase(Phase.FAILED, alarm)
                self._emit(Notice("ALARM: " + alarm, "error"))
                self.record("deployment_alarm", old=old_fp, new=new_fp, detail=alarm)
            elif self._revocation_confirmed():
                self.done_counts = dict(self.probe_counts)
                self.record("old_key_dead", old=old_fp)
                evidence = self.evidence
                self.record("done", old=old_fp, new=new_fp,
                             probes=sum(self.done_counts.values()),
                             deployment_requests=evidence.requests if evidence else None)
                self._set_phase(Phase.DONE, "revocation confirmed, deployment live on NEW")

    # -- the provider's count ----------------------------------------------------------
    @property
    def usage(self) -> Usage:
        """The provider's per-key count as keyturn shows and judges it now."""
        return self.usage_watch.figures()

    def usage_changed(self) -> None:
        """A read of the usage report finished: tell the listeners, judge the gate again."""
        self._recompute()  # first: the event carries the lock these figures give
        self._emit(UsageUpdated(self.usage))

    def _usage_gate(self, gate: GateState) -> GateState:
        """The gate with the usage rule (before revoke), unless a person set it aside; each
        time it starts to lock (or would, set aside) the audit log gets its figure."""
        if self.phase not in PRE_REVOKE:
            return gate
        lock = usage_rule(self.usage, self.rotation.drain_seconds)
        locking, self.usage_lock = lock and not self.usage_lock, lock
        if locking:  # the figures move each minute; the log gets the moment it locked
            self.record("usage_set_aside" if self.usage_ignored else "usage_locked",
                        old=self.keys.old.fingerprint, new=self.fingerprints[1],
                        detail="; ".join(lock))
        return gate if self.usage_ignored else with_usage(gate, lock)

    def ignore_usage(self, via: str) -> None:
        """Set every usage rule aside (drain too) for this run, on a person's explicit word
        (`--ignore-usage`, or the dashboard's second confirmation); written to the audit log."""
        if self.usage_ignored is not None or self.phase not in PRE_REVOKE:
            return  # set aside already, or revoked already: nothing left to wait for
        self.usage_ignored = via
        standing = "; ".join(self.usage_lock) or "no usage rule locked Revoke at the time"
        self.record("usage_override", old=self.keys.old.fingerprint, new=self.fingerprints[1],
                    via=via, detail=f"set aside by {via}: {standing}")
        self._emit(Notice(f"the provider's count is set aside ({via}): Revoke no longer waits "
                          "for it", "warning"))
        self._recompute()

    def _deployment_alarm(self) -> str | None:
        track = self.tracks.get(Role.DEPLOYMENT)
        if track is None or track.last is None:
            return None
        old_fp, new_fp = self.fingerprints
        last = track.last
        where = serving(last, old_fp, new_fp)
        if last.verdict is Verdict.REJECTED:
            return f"deployment failing after revoke: provider refused its key ({where})"
        if where == "OLD":
            return "deployment serving the revoked OLD key"
        if where == "MISMATCH":
            return "deployment serves a key that is neither OLD nor NEW"
        return None

    def _revocation_confirmed(self) -> bool:
        if not self.tracks[Role.OLD].complete:
            return False
        track = self.tracks.get(Role.DEPLOYMENT)
        return track is None or track.complete

    def _set_phase(self, phase: Phase, reason: str) -> None:
        if phase is not self.phase:
            self.phase = phase
            self._emit(PhaseChanged(phase, reason))

    # -- revoke, verify, rollback ---------------------------------------------------
    @property
    def can_revoke(self) -> bool:
        return (
            self.gate.open
            and self.phase is Phase.READY
            and not self.paused  # paused answers are stale: the gate waits for fresh ones
            and self.keys.old.fingerprint not in self.revoked
        )

    def check_revoke(self) -> None:
        """Raise GateLocked/RevokeRefused unless Revoke may be pressed at this moment."""
        old_fp = self.keys.old.fingerprint
        if old_fp in self.revoked:
            raise RevokeRefused(f"old key {old_fp} was already revoked")
        if self.phase not in PRE_REVOKE:
            raise RevokeRefused(f"revoke is not possible while {self.phase}")
        if not self.gate.open:
            raise GateLocked(self.gate.summary)
        if self.paused:
            raise GateLocked("probing is paused: the gate is judged on fresh answers only")
        track = self.tracks.get(Role.DEPLOYMENT)
        if track is not None and old_fp in track.served:
            raise GateLocked("deployment served OLD within the last streak")
        if self.audit is not None:
            # An earlier run (crashed, or another window) may have revoked this key already.
            earlier = resume_point(self.audit.events(self.rotation.name), old_fp)
            if earlier is not None:
                raise RevokeRefused(
                    f"the audit log shows old key {old_fp} already {earlier.phase} "
                    f"(revoke requested {earlier.since}); resume instead of revoking again")

    async def revoke(self) -> AdminReceipt | None:
        """Revoke the old key: through the admin API, or by asking for the console.

        Returns the provider's receipt, or None when the user must revoke in the console
        (then call `confirm_console()`) or the provider already shows the key revoked. The
        gate is checked at this very moment, and one key is never revoked twice.
        """
        self.check_revoke()
        old = self.keys.old
        self.revoked.add(old.fingerprint)  # before any await: a second press cannot race in
        self._set_phase(Phase.REVOKING, "revoking the old key")
        evidence = self.evidence  # what the revoke rests on, for the record and the report
        self.record("revoke_requested", old=old.fingerprint, new=self.fingerprints[1],
                     method="admin" if self.keys.admin else "console",
                     **(evidence.audit_fields() if evidence is not None else {}))
        if self.keys.admin is None:
            self.awaiting_console = True
            self._emit(Notice(self.console_steps(), "warning"))
            return None
        try:
            return await deactivate_old_key(self)
        except AdminError as exc:
            self.revoked.discard(old.fingerprint)
            self.back_to_watching(f"revoke failed: {exc}")
            raise

    def back_to_watching(self, why: str) -> None:
        """The old key was not revoked: watch again; the gate decides again."""
        self.phase = Phase.PROPAGATING
        self._recompute()
        self._emit(Notice(why, "error"))

    def await_console(self, why: str) -> None:
        """Stop sending anything: the person checks (and revokes) in the console."""
        self.revoked.add(self.keys.old.fingerprint)
        self.awaiting_console = True
        self._set_phase(Phase.REVOKING, "check the old key in the console")
        self._emit(Notice(why, "error"))
        self._emit(Notice(self.console_steps(), "warning"))

    def notice(self, text: str, level: str = "info") -> None:
        self._emit(Notice(text, level))

    @property
    def revoke_warning(self) -> str | None:
        """What a person must know before revoking: a revoke some providers cannot undo."""
        if self.keys.admin is not None and not self.provider.supports_reactivate:
            return (f"{self.provider.name} deletes the old key: this cannot be undone "
                    "(no reactivation if the deployment then fails)")
        return None

    def console_steps(self) -> str:
        old = self.keys.old
        return (
            f"Revoke the OLD key in {self.provider.console}: the key shown as {old.masked} "
            f"(fingerprint {old.fingerprint}). Then confirm it is done."
        )

    def confirm_console(self) -> None:
        """The user says the old key was revoked in the console: start verifying."""
        if not (self.phase is Phase.REVOKING and self.awaiting_console):
            raise RevokeRefused("no console revocation is pending")
        self.awaiting_console = False
        self.record("revoke_confirmed", old=self.keys.old.fingerprint, method="console")
        self.begin_verifying()

    def restore(self, phase: Phase, *, key_id: str | None = None) -> None:
        """Pick up an interrupted rotation (read from the audit log) before `start()`.

        The old key's revoke was already requested: it is marked revoked so it is never
        requested again, and the run goes on verifying (or waits for the console).
        """
        if phase not in (Phase.REVOKING, Phase.VERIFYING):
            raise ValueError(f"cannot resume into {phase}")
        old = self.keys.old
        self.revoked.add(old.fingerprint)
        self.admin_key_id = key_id
        self.resumed_from = phase.value
        self.phase = Phase.REVOKING
        self.record("resumed", old=old.fingerprint, new=self.fingerprints[1],
                    phase=phase.value, key_id=key_id)
        if phase is Phase.REVOKING:
            self.awaiting_console = True
            self._emit(PhaseChanged(Phase.REVOKING, "resumed: console revocation not confirmed yet"))
            self._emit(Notice(self.console_steps(), "warning"))
            return
        self._emit(Notice("resumed: revoke already confirmed by the provider; verifying"))
        self.begin_verifying()

    def begin_verifying(self) -> None:
        self.tracks[Role.OLD].streak = 0  # from now on the OLD streak counts `rejected`
        # The deployment's streak starts over too: "stays live on NEW" is shown by answers
        # after the revoke, not by the streak that opened the gate. An answer in flight
        # when the revoke landed can be one of them (one per target), never all of them.
        deployment = self.tracks.get(Role.DEPLOYMENT)
        if deployment is not None:
            deployment.streak = 0
        self._set_phase(Phase.VERIFYING, "waiting for the old key to be refused")
        self._recompute()

    @property
    def can_reactivate(self) -> bool:
        return (
            self.provider.supports_reactivate
            and self.keys.admin is not None
            and self.admin_key_id is not None
            and self.phase in (Phase.FAILED, Phase.VERIFYING, Phase.DONE)
        )

    async def reactivate(self) -> AdminReceipt:
        """Rollback: set the revoked old key active again (Anthropic)."""
        if not self.can_reactivate:
            raise RevokeRefused("reactivation needs an admin key and a key revoked through the API")
        assert self.keys.admin is not None and self.admin_key_id is not None
        try:
            receipt = await self.provider.reactivate(
                self.http(), self.keys.admin, self.admin_key_id, self.rotation.timeout * 4
            )
        except AdminError as exc:
            self.record("failure", old=self.keys.old.fingerprint, detail=f"reactivate: {exc}")
            self._emit(Notice(f"reactivate failed: {exc}", "error"))
            raise
        self.receipts.append(receipt)
        self.revoked.discard(self.keys.old.fingerprint)
        self.record("rollback", old=self.keys.old.fingerprint, key_id=self.admin_key_id,
                     request_id=receipt.request_id)
        self._set_phase(Phase.ROLLED_BACK, "old key reactivated")
        self._emit(Notice("old key reactivated (rolled back)", "warning"))
        return receipt

    async def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until `predicate()` holds (checked on every event) or `timeout` passes.

        The timeout runs on the engine's clock: with a FakeClock it passes when the test
        moves the clock, not in real time.
        """
        import asyncio

        flag = asyncio.Event()

        def check(_event: object) -> None:
            if predicate():
                flag.set()

        self.listeners.append(check)
        waits: list[asyncio.Future[object]] = []
        try:
            if predicate():
                return True
            waits = [asyncio.ensure_future(flag.wait()),
                     asyncio.ensure_future(self.clock.sleep_until(self.clock.now() + timeout))]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            return flag.is_set()
        finally:
            self.listeners.remove(check)
            for wait in waits:
                wait.cancel()

    # -- plumbing -----------------------------------------------------------------
    def _emit(self, event: object) -> None:
        for listener in list(self.listeners):
            listener(event)

    def record(self, event: str, **fields: object) -> None:
        """Append an event to the audit log. A write that fails stops the rotation loudly,
        saying what was and was not done (AuditWriteError goes up: no step after it)."""
        if self.audit is None:
            return
        try:
            self.audit.append(self.rotation.name, event, **fields)
        except AuditWriteError as exc:
            self._audit_failed(exc, event)
            raise

    def _audit_failed(self, exc: AuditWriteError, event: str) -> None:
        if self.audit_error is not None:
            return
        old = self.keys.old.fingerprint
        if self.receipts or self.phase in (Phase.VERIFYING, Phase.DONE, Phase.FAILED):
            done = (f"the old key {old} WAS revoked at the provider"
                    + (f" (key {self.admin_key_id})" if self.admin_key_id else ""))
        elif event in ("deactivating", "revoke_requested", "key_lookup"):
            done = f"the old key {old} was NOT revoked: nothing was sent to the provider"
        elif self.phase is Phase.REVOKING:
            done = f"the old key {old} may or may not be revoked: check the console"
        else:
            done = f"the old key {old} was not revoked"
        self.audit_error = f"{done}; the audit log could not be written ({exc.reason})"
        self.alarm = f"{self.alarm}; {self.audit_error}" if self.alarm else self.audit_error
        self._set_phase(Phase.FAILED, "the audit log could not be written")
        self._emit(Notice("ALARM: " + self.audit_error, "error"))
