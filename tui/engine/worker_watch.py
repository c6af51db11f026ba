"""The platform's own rollout state: which Worker versions take traffic, read on a cadence.

For each `cloudflare-worker` destination of a rotation, keyturn remembers when it wrote
the NEW key there (this run, or an earlier one: the audit log) by Cloudflare's clock, and
reads the serving deployment every few seconds, with the creation time of each version
in it. The gate (gate.with_platform_rollout) keeps Revoke locked while a version from
before the write takes traffic. A read that gets no evidence (429, 5xx, unreachable)
keeps the last reading; one that is refused (token, account, script) drops it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from providers import cloudflare
from providers.results import ProbeResult, Verdict
from tui.engine.credentials import CredentialError, Secret, resolve
from tui.engine.destinations import WorkerSecret
from tui.engine.gate import PlatformRollout
from tui.engine.history import parse_time
from tui.engine.scheduler import Scheduler, Target

if TYPE_CHECKING:
    from tui.engine.rotation import RotationEngine

#: Seconds between reads of a Worker's deployments (at least the rotation's interval):
#: Cloudflare allows 1,200 API calls in 5 minutes; this is 60 per Worker.
READ_EVERY = 5.0
#: Per API call: reads are small; a secret write deploys a new version first.
READ_TIMEOUT = 10.0
WRITE_TIMEOUT = 30.0


@dataclass(frozen=True)
class PlatformRead:
    """An engine event: a Worker's deployments were read (the screen redraws its line)."""

    name: str


@dataclass
class Written:
    """keyturn's last successful write to a Worker: which key, and when by Cloudflare's clock."""

    slot: str
    fingerprint: str
    at: datetime


@dataclass
class WorkerWatch:
    """One Worker destination: its token, keyturn's write, and Cloudflare's last word."""

    destination: WorkerSecret
    token: Secret | None = None
    written: Written | None = None
    #: The serving deployment as last read (None: never read, or the read was refused).
    deployment: cloudflare.Deployment | None = None
    #: Version id → when it was created (versions never change: read once each).
    created: dict[str, datetime | None] = field(default_factory=dict)
    #: Why the last read failed; None when it succeeded.
    problem: str | None = None
    #: The platform's clock at the last answer (times on its day are shown without a date).
    today: datetime | None = None

    @property
    def base(self) -> str:
        d = self.destination
        return cloudflare.scripts_url(d.api, d.account_id, d.script)


def now_utc() -> datetime:
    return datetime.now(UTC)


def clock_time(when: datetime | None, today: datetime | None = None) -> str:
    """`12:03 UTC` on the day of `today` (the platform's date), else `Jan 02 12:03 UTC`."""
    if when is None:
        return "at an unknown time"
    when = when.astimezone(UTC)
    same_day = today is not None and today.astimezone(UTC).date() == when.date()
    return when.strftime("%H:%M UTC" if same_day else "%b %d %H:%M UTC")


def rollout_words(deployment: cloudflare.Deployment, today: datetime | None = None) -> str:
    """`100 % on version 3f2a1b9c…, deployed 12:03 UTC by a secret change`."""
    shares = ", ".join(f"{s.percentage:g} % on version {cloudflare.short_id(s.version_id)}"
                       for s in deployment.shares if s.percentage > 0)
    cause = f" by {deployment.cause}" if deployment.cause else ""
    return f"{shares}, deployed {clock_time(deployment.created_on, today)}{cause}"


class Platform:
    """The Worker destinations of one RotationEngine, watched while it runs."""

    def __init__(self, engine: RotationEngine) -> None:
        self.engine = engine
        self.watches = [WorkerWatch(d) for d in engine.rotation.destinations
                        if isinstance(d, WorkerSecret)]
        self.scheduler: Scheduler | None = None
        if self.watches and engine.audit is not None:
            self.restore(engine.audit.events(engine.rotation.name))

    def restore(self, events) -> None:
        """Each Worker's last successful write, from the audit log (a restarted run)."""
        by_name = {w.destination.label: w for w in self.watches}
        for record in events:
            watch = by_name.get(record.get("destination"))
            if record.get("event") != "destination_write" or watch is None:
                continue
            if record.get("result") != "written":
                continue
            when = parse_time(record.get("platform_time")) or parse_time(record.get("time"))
            if when is not None:
                watch.written = Written(str(record.get("slot")), str(record.get("fingerprint")),
                                        when)

    def watch_for(self, destination: WorkerSecret) -> WorkerWatch:
        return next(w for w in self.watches if w.destination == destination)

    # -- the cadence ----------------------------------------------------------------
    def start(self) -> None:
        if not self.watches or self.scheduler is not None:
            return
        self.scheduler = Scheduler(self._on_read, self.engine.clock)
        every = max(READ_EVERY, self.engine.rotation.interval)
        for i, watch in enumerate(self.watches):
            self.scheduler.add(Target(f"worker-{i}", self._reader(watch), every))

    async def stop(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()

    def _reader(self, watch: WorkerWatch):
        async def read() -> ProbeResult:
            answer = await self.read(watch)
            if answer.ok:
                return ProbeResult(Verdict.LIVE)
            verdict = Verdict.THROTTLED if answer.status == 429 else Verdict.UNAVAILABLE
            return ProbeResult(verdict, answer.status, retry_after=answer.retry_after)

        return read

    def _on_read(self, role: str, result: ProbeResult) -> None:
        self.changed(role)

    def changed(self, name: str) -> None:
        """Tell the engine: the gate is judged again, the screen redraws the line."""
        self.engine._recompute()
        self.engine._emit(PlatformRead(name))

    # -- reading ------------------------------------------------------------------------
    async def token_for(self, watch: WorkerWatch) -> Secret:
        """The Worker's API token, resolved once (off the event loop: a keychain may block)."""
        if watch.token is None:
            d = watch.destination
            label = f"{self.engine.rotation.name} {d.label} token"
            watch.token = await asyncio.to_thread(resolve, d.token, label)
        assert watch.token is not None
        return watch.token

    async def read(self, watch: WorkerWatch) -> cloudflare.Answer:
        """Read the serving deployment and any version creation times not known yet."""
        try:
            token = (await self.token_for(watch)).reveal()
        except CredentialError as exc:
            watch.deployment, watch.problem = None, str(exc)
            return cloudflare.Answer(False, None, str(exc))
        client = self.engine.http()
        answer, deployment = await cloudflare.serving_deployment(
            client, watch.base, token, READ_TIMEOUT)
        watch.today = answer.date or watch.today
        if deployment is None:
            watch.problem = f"cannot read its deployments: {answer.message}"
            if not answer.indeterminate:
                watch.deployment = None
            return answer
        for share in deployment.shares:
            if share.percentage > 0 and watch.created.get(share.version_id) is None:
                _, created = await cloudflare.version_created(
                    client, watch.base, share, token, READ_TIMEOUT)
                watch.created[share.version_id] = created
        watch.deployment, watch.problem = deployment, None
        return answer

    async def refresh(self, watch: WorkerWatch) -> None:
        """Read now (after a write), and tell the engine."""
        await self.read(watch)
        self.changed(watch.destination.label)

    def wrote(self, watch: WorkerWatch, slot: str, fingerprint: str, at: datetime) -> None:
        watch.written = Written(slot, fingerprint, at)

    # -- what the gate and the screen see --------------------------------------------------
    def rollouts(self) -> tuple[PlatformRollout, ...]:
        """Each Worker as the gate judges it (against the NEW key's fingerprint)."""
        new_fp = self.engine.fingerprints[1]
        views = []
        for watch in self.watches:
            written = watch.written
            at = written.at if written and new_fp and written.fingerprint == new_fp else None
            shares = ()
            if watch.deployment is not None:
                shares = tuple((cloudflare.short_id(s.version_id), s.percentage,
                                watch.created.get(s.version_id))
                               for s in watch.deployment.shares)
            views.append(PlatformRollout(watch.destination.label, at, shares, watch.problem))
        return tuple(views)

    def lines(self) -> list[tuple[str, str, str]]:
        """Per Worker: its name, Cloudflare's word on what serves, and keyturn's last write
        (`Worker svc`, `100 % on version 3f2a…, deployed 12:03 UTC by a secret change`,
        `NEW written 12:03 UTC`)."""
        out = []
        old_fp, new_fp = self.engine.fingerprints
        for watch in self.watches:
            if watch.deployment is not None:
                said = rollout_words(watch.deployment, watch.today)
                if watch.problem:
                    said += f" (as last read; now {watch.problem})"
            elif watch.problem:
                said = watch.problem
            else:
                said = "deployments not read yet"
            w = watch.written
            if w is None:
                mine = "keyturn has not written the key there"
            else:
                which = ("NEW" if w.fingerprint == new_fp else
                         "OLD" if w.fingerprint == old_fp else f"key {w.fingerprint}")
                mine = f"{which} written {clock_time(w.at, watch.today)}"
            out.append((f"Worker {watch.destination.script}", said, mine))
        return out
