"""The probe scheduler: each target on its own fixed cadence, never overlapping itself.

Ticks sit on absolute times (start + k·interval) so there is no drift; a probe that
runs past its next tick skips the missed ticks instead of piling up; a slow target
never delays another because each target has its own task. A throttled target waits
as long as the provider asks (retry-after), or backs off exponentially.

Many targets added at one moment do not all tick on the same instant: starting a probe
costs about a millisecond of CPU, so a herd of 50 would start the last one ~50 ms late.
Up to HERD targets share an instant (a rotation's old, new and deployment probe together);
further ones are phase-shifted by golden-ratio fractions of their interval.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from providers.results import ProbeResult, Verdict

MAX_BACKOFF = 60.0
#: Targets that may tick on the same instant (a rotation has at most 3); more added at one
#: moment are spread out.
HERD = 3
#: Adds less than this apart (seconds) count as one moment, e.g. a loop of add() calls.
SAME_MOMENT = 0.005
#: Successive groups land at fractions k·φ mod 1 of the interval: evenly spread for any count.
GOLDEN = (math.sqrt(5) - 1) / 2


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep_until(self, when: float) -> None: ...


class LoopClock:
    """The event loop's monotonic clock."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep_until(self, when: float) -> None:
        delay = when - self.now()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            await asyncio.sleep(0)


class FakeClock:
    """A clock that moves only when told: tests and the long-run check compress time."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self.t

    async def sleep_until(self, when: float) -> None:
        if when <= self.t:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (when, next(self._seq), future))
        await future

    async def settle(self, turns: int = 50) -> None:
        """Let every task that can run, run: loop turns until nothing else is ready."""
        loop = asyncio.get_running_loop()
        ready = getattr(loop, "_ready", None)  # CPython's run queue; absent elsewhere
        for i in range(turns):
            await asyncio.sleep(0)
            if ready is not None and i >= 2 and not ready:
                return

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking sleepers in time order."""
        target = self.t + seconds
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            when, _, future = heapq.heappop(self._sleepers)
            self.t = max(self.t, when)
            if not future.done():
                future.set_result(None)
            await self.settle()
        self.t = target
        await self.settle()

    @property
    def pending(self) -> int:
        return sum(1 for *_, f in self._sleepers if not f.done())


ProbeFn = Callable[[], Awaitable[ProbeResult]]
ResultFn = Callable[[str, ProbeResult], None]


@dataclass
class Target:
    """Something probed on a cadence: a role name and the coroutine that probes it."""

    role: str
    probe: ProbeFn
    interval: float


@dataclass
class Stats:
    """What the scheduler measured: tick lateness, probe counts, overlap (must stay 0)."""

    lateness: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))
    probes: int = 0
    overlaps: int = 0
    errors: int = 0


class Scheduler:
    """Runs one task per target; results go to `on_result(role, result)`."""

    def __init__(self, on_result: ResultFn, clock: Clock | None = None) -> None:
        self.on_result = on_result
        self.clock: Clock = clock or LoopClock()
        self.targets: dict[str, Target] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.stats = Stats()
        self._running: set[str] = set()
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._last_add = -math.inf
        self._added_at_moment = 0

    @property
    def paused(self) -> bool:
        return not self._resumed.is_set()

    def add(self, target: Target) -> None:
        """Start probing a target now (replacing one with the same role)."""
        self.remove(target.role)
        self.targets[target.role] = target
        self.tasks[target.role] = asyncio.create_task(
            self._run(target, self._phase(target.interval)), name=f"keyturn-probe-{target.role}"
        )

    def _phase(self, interval: float) -> float:
        """Offset of a new target's ticks: 0 for the first HERD added at one moment."""
        now = self.clock.now()
        if now - self._last_add > SAME_MOMENT:
            self._added_at_moment = 0
        self._last_add = now
        group = self._added_at_moment // HERD
        self._added_at_moment += 1
        return (group * GOLDEN % 1.0) * interval

    def remove(self, role: str) -> None:
        task = self.tasks.pop(role, None)
        self.targets.pop(role, None)
        if task is not None:
            task.cancel()

    def pause(self) -> None:
        self._resumed.clear()

    def resume(self) -> None:
        self._resumed.set()

    async def stop(self) -> None:
        tasks = list(self.tasks.values())
        self.tasks.clear()
        self.targets.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, target: Target, phase: float = 0.0) -> None:
        start = self.clock.now() + phase
        k = 0
        throttled_in_a_row = 0
        while True:
            due = start + k * target.interval
            await self.clock.sleep_until(due)
            if self.paused:
                await self._resumed.wait()
                # A fresh cadence from the moment of resuming, keeping the target's phase.
                start, k = self.clock.now() + phase, 0
                continue
            self.stats.lateness.append(max(0.0, self.clock.now() - due))
            result = await self._probe_once(target)
            if target.role not in self.targets or self.targets[target.role] is not target:
                return  # replaced or removed while probing: drop the stale result
            try:
                self.on_result(target.role, result)
            except Exception:  # a listener's bug must not stop this target's probing
                self.stats.errors += 1
            now = self.clock.now()
            # The next tick not yet passed; a slow probe skips ticks rather than stacking them.
            k = max(k + 1, math.ceil((now - start) / target.interval - 1e-9))
            if result.verdict is Verdict.THROTTLED:
                throttled_in_a_row += 1
                wait = result.retry_after
                if wait is None:
                    wait = min(MAX_BACKOFF, target.interval * 2**throttled_in_a_row)
                k = max(k, math.ceil((now + wait - start) / target.interval - 1e-9))
            else:
                throttled_in_a_row = 0

    @property
    def in_flight(self) -> bool:
        """A probe has been sent and its answer (or timeout) is not in yet."""
        return bool(self._running)

    async def _probe_once(self, target: Target) -> ProbeResult:
        if target.role in self._running:
            self.stats.overlaps += 1
        self._running.add(target.role)
        try:
            self.stats.probes += 1
            return await target.probe()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in a probe must not kill the cadence or leak a key
            self.stats.errors += 1
            return ProbeResult(
                Verdict.UNEXPECTED, None, 0.0, None, f"internal error in probe: {type(exc).__name__}",
                at=self.clock.now(),
            )
        finally:
            self._running.discard(target.role)
