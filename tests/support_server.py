"""A RotationEngine wired to the loopback provider server: real HTTP, short times.

Used by the gate, back-off and fault tests; the CLI tests run the real `keyturn` command
instead (tests/support_cli.py). The engine runs on the real clock, or with
`engine_on(..., clock=HttpFakeClock())` on a fake one that `Run.advance` moves: tests
about timing (back-off, retry-after) then measure the scheduler's own clock, exactly,
and take no longer than the HTTP round trips.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from providers import provider_by_name
from tests.provider_server import ProviderServer
from tui.engine.audit import AuditLog
from tui.engine.config import Rotation
from tui.engine.credentials import Secret
from tui.engine.gate import Role
from tui.engine.rotation import Probed, RotationEngine
from tui.engine.scheduler import Clock, FakeClock
from tui.engine.session import Keys, open_client


def rotation_for(server: ProviderServer, *, deployment: bool = True, **overrides: object) -> Rotation:
    """A rotation whose base_url and deployment are the loopback server."""
    fields: dict[str, object] = dict(
        name="loopback", provider=server.flavour, old="prompt", new="prompt", admin="prompt",
        admin_explicit=False, deployment=server.deployment_url if deployment else None,
        base_url=server.base_url, project_id=server.project_id, rotate_every=None,
        interval=0.1, timeout=1.0, streak=3, indeterminate="reset",
        # One deployment answer a tick, the bound off: these tests are about streaks, faults
        # and revoke; the bound has its own tests (test_rollout.py).
        samples=1, max_old_share=1.0,
    )
    fields.update(overrides)
    return Rotation(**fields)


class HttpFakeClock(FakeClock):
    """A FakeClock for an engine whose probes go over real HTTP.

    Moving it wakes the probes that came due; their answers take real time. It tells
    `until_sleeping` each time a task goes to sleep on it, so a test can wait for every
    probe of a tick to have answered (an event, not a fixed time) before moving on.
    """

    def __init__(self, start: float = 0.0) -> None:
        super().__init__(start)
        self._slept: asyncio.Event | None = None

    async def sleep_until(self, when: float) -> None:
        if self._slept is not None:
            # The waiter runs once this task is parked in the heap (it does not yield before).
            self._slept.set()
        await super().sleep_until(when)

    async def until_sleeping(self, count: int, timeout: float = 10.0) -> None:
        """Wait until `count` tasks sleep on this clock (`timeout`: real seconds, a bug)."""
        try:
            async with asyncio.timeout(timeout):
                while self.pending < count:
                    self._slept = asyncio.Event()
                    await self._slept.wait()
        except TimeoutError:
            raise AssertionError(f"{self.pending} of {count} probe tasks back asleep after "
                                 f"{timeout}s of real time: a probe never answered") from None
        finally:
            self._slept = None


@dataclass
class Run:
    engine: RotationEngine
    events: list[object] = field(default_factory=list)
    #: The engine clock's time at each event (same order as `events`).
    times: list[float] = field(default_factory=list)

    def record(self, event: object) -> None:
        self.events.append(event)
        self.times.append(self.engine.clock.now())

    def probed(self, role: Role) -> list[Probed]:
        return [e for e in self.events if isinstance(e, Probed) and e.role is role]

    def probe_times(self, role: Role) -> list[float]:
        """When (engine clock) each of `role`'s answers came in."""
        return [t for e, t in zip(self.events, self.times, strict=True)
                if isinstance(e, Probed) and e.role is role]

    async def until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Wait until `predicate()` holds (checked on every engine event), at most
        `timeout` seconds of the engine's clock (real time, or as `advance` moves it)."""
        if isinstance(self.engine.clock, HttpFakeClock):
            return await self.advance(timeout, until=predicate)
        return await self.engine.wait_until(predicate, timeout)

    async def advance(self, seconds: float, until: Callable[[], bool] | None = None) -> bool:
        """HttpFakeClock runs: `advance_engine` (below) on this run's engine."""
        return await advance_engine(self.engine, seconds, until)


def sleepers(engine: RotationEngine) -> int:
    """The tasks that sleep on the engine's clock between their calls: one per probe
    target, and the usage report's reader (with an admin key)."""
    task = engine.usage_watch.task
    return len(engine.scheduler.tasks) + (task is not None and not task.done())


async def advance_engine(engine: RotationEngine, seconds: float,
                         until: Callable[[], bool] | None = None) -> bool:
    """Move the HttpFakeClock of a started engine `seconds` forward, tick by tick (ticks
    sit on multiples of the probe interval from 0), each tick's probes answered (real
    HTTP) before the next: probes then take no fake time at all.

    With `until`, stop at the first tick after which `until()` holds, and say whether it did.
    """
    clock = engine.clock
    assert isinstance(clock, HttpFakeClock), "advance needs an engine on an HttpFakeClock"
    interval = engine.rotation.interval
    end = clock.now() + seconds
    tick = math.floor(clock.now() / interval + 1e-6) + 1
    while True:
        if until is not None and until():
            return True
        # Just past the tick: a due time of k * interval is never a rounding error late.
        at = min(tick * interval + 1e-6, end)
        await clock.advance(max(0.0, at - clock.now()))
        await clock.until_sleeping(sleepers(engine))
        tick += 1
        if at >= end:
            return until is None or until()


@contextlib.asynccontextmanager
async def engine_on(
    server: ProviderServer, old: str, new: str | None, admin: str | None = None,
    audit: AuditLog | None = None, clock: Clock | None = None, **rotation_overrides: object,
) -> AsyncIterator[Run]:
    """A started engine probing the loopback server (writing to `audit`, when given);
    stopped and closed afterwards.

    `clock`: the engine's clock (default: the real one); an HttpFakeClock starts at 0."""
    rotation = rotation_for(server, **rotation_overrides)
    provider = provider_by_name(
        server.flavour, server.base_url,
        **({"project_id": server.project_id} if server.flavour == "openai" else {}),
    )
    keys = Keys(Secret(old), Secret(new) if new else None, Secret(admin) if admin else None)
    async with open_client(provider) as client:
        extra = {"clock": clock} if clock is not None else {}
        engine = RotationEngine(rotation, provider, keys, client, audit=audit, **extra)
        run = Run(engine)
        engine.listeners.append(run.record)
        engine.start()
        if isinstance(clock, HttpFakeClock):
            await clock.until_sleeping(sleepers(engine))  # the first probes at 0
        try:
            yield run
        finally:
            await engine.stop()


# For tests about throttling and back-off, not timeouts: loopback answers in well under a
# second even on a loaded CI machine, so no answer turns into a stray "unreachable".
SURE = 1.0


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


def now() -> float:
    return time.monotonic()


@contextlib.contextmanager
def canary_server(monkeypatch, prefix: str):
    """The loopback Anthropic server knowing the canary keys, serving OLD from its
    deployment; `PREFIX_OLD/_NEW/_ADMIN` hold the keys for a config's env: references."""
    from tests.support_canary import CANARY_ADMIN, CANARY_NEW, CANARY_OLD

    monkeypatch.setenv(f"{prefix}_OLD", CANARY_OLD)
    monkeypatch.setenv(f"{prefix}_NEW", CANARY_NEW)
    monkeypatch.setenv(f"{prefix}_ADMIN", CANARY_ADMIN)
    with ProviderServer() as server:
        server.add_key(CANARY_OLD)
        server.add_key(CANARY_NEW)
        server.admin_key = CANARY_ADMIN
        server.serving = CANARY_OLD
        yield server
