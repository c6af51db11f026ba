"""The probe scheduler on a fake clock: cadence without drift, no overlap, back-off."""

from __future__ import annotations

import asyncio

from providers.results import ProbeResult, Verdict
from tui.engine.scheduler import FakeClock, Scheduler, Target


class Recorder:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.calls: dict[str, list[float]] = {}
        self.results: list[tuple[str, ProbeResult]] = []

    def probe(self, role: str, duration: float = 0.0, verdict: Verdict = Verdict.LIVE,
              retry_after: float | None = None):
        async def run() -> ProbeResult:
            self.calls.setdefault(role, []).append(self.clock.now())
            if duration:
                await self.clock.sleep_until(self.clock.now() + duration)
            return ProbeResult(verdict, 200, retry_after=retry_after)

        return run

    def on_result(self, role: str, result: ProbeResult) -> None:
        self.results.append((role, result))


async def test_ticks_sit_on_absolute_times_without_drift():
    clock = FakeClock(start=0.0)
    rec = Recorder(clock)
    sched = Scheduler(rec.on_result, clock)
    sched.add(Target("a", rec.probe("a", duration=0.3), 1.0))
    await clock.advance(100.0)
    await sched.stop()
    starts = rec.calls["a"]
    # 0, 1, 2, ... 100: every tick on time, the probe's own 0.3 s never accumulating.
    assert starts == [float(k) for k in range(101)]
    assert max(sched.stats.lateness) == 0.0


async def test_a_slow_probe_skips_ticks_instead_of_overlapping_and_does_not_delay_others():
    clock = FakeClock(start=0.0)
    rec = Recorder(clock)
    sched = Scheduler(rec.on_result, clock)
    sched.add(Target("slow", rec.probe("slow", duration=2.5), 1.0))
    sched.add(Target("fast", rec.probe("fast"), 1.0))
    await clock.advance(10.0)
    await sched.stop()
    assert rec.calls["slow"] == [0.0, 3.0, 6.0, 9.0]  # the next tick not yet passed
    assert rec.calls["fast"] == [float(k) for k in range(11)]
    assert sched.stats.overlaps == 0


async def test_throttled_target_waits_as_long_as_retry_after_asks():
    clock = FakeClock(start=0.0)
    rec = Recorder(clock)
    sched = Scheduler(rec.on_result, clock)
    sched.add(Target("t", rec.probe("t", verdict=Verdict.THROTTLED, retry_after=30.0), 1.0))
    await clock.advance(95.0)
    await sched.stop()
    starts = rec.calls["t"]
    assert starts == [0.0, 30.0, 60.0, 90.0]  # one request per retry-after window, no hammering


async def test_throttled_without_retry_after_backs_off_exponentially():
    clock = FakeClock(start=0.0)
    rec = Recorder(clock)
    sched = Scheduler(rec.on_result, clock)
    sched.add(Target("t", rec.probe("t", verdict=Verdict.THROTTLED), 1.0))
    await clock.advance(200.0)
    await sched.stop()
    gaps = [b - a for a, b in zip(rec.calls["t"], rec.calls["t"][1:])]
    assert gaps[:5] == [2.0, 4.0, 8.0, 16.0, 32.0]
    assert max(gaps) == 60.0  # capped


async def test_pause_stops_probing_and_resume_starts_a_fresh_cadence():
    clock = FakeClock(start=0.0)
    rec = Recorder(clock)
    sched = Scheduler(rec.on_result, clock)
    sched.add(Target("a", rec.probe("a"), 1.0))
    await clock.advance(2.5)
    sched.pause()
    await clock.advance(10.0)
    assert rec.calls["a"] == [0.0, 1.0, 2.0]
    sched.resume()
    await clock.advance(2.0)
    await sched.stop()
    assert rec.calls["a"][3:] == [12.5, 13.5, 14.5]  # from the moment of resuming


async def test_an_exception_inside_a_probe_becomes_an_unexpected_result_not_a_dead_task():
    clock = FakeClock(start=0.0)
    results: list[ProbeResult] = []

    async def broken() -> ProbeResult:
        secret = "sk-ant-api03-CANARYinsideprobe0123456789"  # noqa: F841 (must not leak)
        raise RuntimeError("boom with sk-ant-api03-CANARYinsideprobe0123456789")

    sched = Scheduler(lambda role, r: results.append(r), clock)
    sched.add(Target("x", broken, 1.0))
    await clock.advance(3.0)
    await sched.stop()
    assert len(results) == 4
    assert all(r.verdict is Verdict.UNEXPECTED for r in results)
    assert all("CANARY" not in r.detail for r in results)
    assert sched.stats.errors == 4


async def test_stop_leaves_no_task_behind():
    clock = FakeClock(start=0.0)
    rec = Recorder(clock)
    sched = Scheduler(rec.on_result, clock)
    for i in range(5):
        sched.add(Target(f"t{i}", rec.probe(f"t{i}", duration=0.5), 1.0))
    await clock.advance(3.2)
    await sched.stop()
    leftover = [t for t in asyncio.all_tasks() if t.get_name().startswith("keyturn-probe")]
    assert leftover == []
