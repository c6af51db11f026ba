"""Many targets added at one moment are spread over the interval instead of ticking together.

A probe costs about a millisecond of CPU to start, so 50 targets waking on one instant
would start the last one ~50 ms late (the scheduler benchmark measured p99 235 ms).
"""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

from providers.results import ProbeResult, Verdict
from tui.engine.scheduler import HERD, FakeClock, Scheduler, Target


def recorder(clock: FakeClock, calls: dict[str, list[float]], role: str):
    async def probe() -> ProbeResult:
        calls.setdefault(role, []).append(clock.now())
        return ProbeResult(Verdict.LIVE, 200)

    return probe


async def test_a_rotations_three_targets_still_tick_together_from_the_start():
    clock = FakeClock(start=0.0)
    calls: dict[str, list[float]] = {}
    sched = Scheduler(lambda role, result: None, clock)
    for role in ("old", "new", "deployment"):
        sched.add(Target(role, recorder(clock, calls, role), 2.0))
    await clock.advance(4.0)
    await sched.stop()
    assert calls == {role: [0.0, 2.0, 4.0] for role in ("old", "new", "deployment")}


async def test_fifty_targets_never_share_an_instant_beyond_the_herd_and_keep_their_cadence():
    clock = FakeClock(start=0.0)
    calls: dict[str, list[float]] = {}
    sched = Scheduler(lambda role, result: None, clock)
    for i in range(50):
        sched.add(Target(f"t{i}", recorder(clock, calls, f"t{i}"), 1.0))
    await clock.advance(10.5)
    await sched.stop()
    ticks = Counter(round(t, 9) for times in calls.values() for t in times)
    assert max(ticks.values()) <= HERD
    for times in calls.values():
        assert 0.0 <= times[0] < 1.0  # every target starts within its first interval
        assert [round(b - a, 9) for a, b in pairwise(times)] == [1.0] * (len(times) - 1)
    # Spread over the interval, not bunched: the largest gap between phases is small.
    phases = sorted({round(times[0], 9) for times in calls.values()})
    gaps = [b - a for a, b in zip(phases, phases[1:] + [phases[0] + 1.0])]
    assert len(phases) == -(-50 // HERD) and max(gaps) < 0.2


async def test_resume_keeps_targets_spread():
    clock = FakeClock(start=0.0)
    calls: dict[str, list[float]] = {}
    sched = Scheduler(lambda role, result: None, clock)
    for i in range(12):
        sched.add(Target(f"t{i}", recorder(clock, calls, f"t{i}"), 1.0))
    await clock.advance(1.5)
    sched.pause()
    await clock.advance(5.0)
    sched.resume()
    await clock.advance(2.0)
    await sched.stop()
    after = Counter(round(t, 9) for times in calls.values() for t in times if t > 6.0)
    assert after and max(after.values()) <= HERD


async def test_targets_added_at_different_moments_are_not_shifted():
    clock = FakeClock(start=0.0)
    calls: dict[str, list[float]] = {}
    sched = Scheduler(lambda role, result: None, clock)
    for i in range(6):
        sched.add(Target(f"t{i}", recorder(clock, calls, f"t{i}"), 1.0))
        await clock.advance(0.25)
    await sched.stop()
    assert [calls[f"t{i}"][0] for i in range(6)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25]
