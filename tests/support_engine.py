"""A RotationEngine on the simulated world and a fake clock: fast, deterministic."""

from __future__ import annotations

from dataclasses import dataclass, field

from tui.engine.demo import Demo, build_demo
from tui.engine.rotation import RotationEngine
from tui.engine.scheduler import FakeClock
from tui.engine.session import open_client


@dataclass
class Rig:
    clock: FakeClock
    demo: Demo
    engine: RotationEngine
    events: list[object] = field(default_factory=list)

    @property
    def world(self):
        return self.demo.world

    async def run(self, seconds: float) -> None:
        await self.clock.advance(seconds)

    async def run_until(self, predicate, limit: float = 120.0, step: float | None = None) -> bool:
        step = step or self.demo.rotation.interval
        waited = 0.0
        while not predicate():
            if waited >= limit:
                return False
            await self.clock.advance(step)
            waited += step
        return True

    async def close(self) -> None:
        await self.engine.stop()
        await self.engine.client.aclose()


def make_rig(record_events: bool = True, **demo_options) -> Rig:
    """Build (not start) an engine; interval 1 s, streak 3 unless told otherwise.

    The deployment switches over a window (no staged rollout) and is asked once a tick
    with the bound off (samples 1, max_old_share 1.0): these tests are about streaks,
    phases and revoke; the bound has tests of its own (test_rollout.py)."""
    clock = FakeClock(start=0.0)
    options = dict(interval=1.0, timeout=0.5, streak=3, switch_at=2.0, window=6.0, latency=(0, 0),
                   rollout=None, samples=1, max_old_share=1.0)
    options.update(demo_options)
    demo = build_demo(clock=clock.now, **options)
    client = open_client(demo.provider)
    engine = RotationEngine(demo.rotation, demo.provider, demo.keys, client, clock=clock)
    rig = Rig(clock, demo, engine)
    if record_events:
        engine.listeners.append(rig.events.append)
    return rig
