"""Staged rollouts at default settings: how long Revoke waits after 100 % NEW, and what the
samples cost.

Each rotation is the whole engine — scheduler, probes and samples over HTTP through the
simulated world's transport, gate, revoke and verification — on a FakeClock, so 50
rotations of up to four minutes of world time take about a minute of real time. The
world's deployment caches its upstream check for 5 s per instance, like the README's
Worker, so the provider calls the samples cause are counted too.
"""

from __future__ import annotations

import asyncio

from tests.benchmarks.support import Figure, median, percentile
from tests.support_rollout import Scenario, scenarios
from tui.engine.config import MAX_OLD_SHARE, SAMPLES
from tui.engine.demo import build_demo
from tui.engine.rotation import Phase, RotationEngine
from tui.engine.scheduler import FakeClock
from tui.engine.session import open_client

INTERVAL, TIMEOUT, STREAK = 2.0, 1.5, 5  # the config file's defaults


async def _rotation(scenario: Scenario) -> dict[str, float]:
    clock = FakeClock(start=0.0)
    demo = build_demo(clock=clock.now, rollout=scenario.rollout, seed=scenario.seed,
                      samples=SAMPLES, max_old_share=MAX_OLD_SHARE, interval=INTERVAL,
                      timeout=TIMEOUT, streak=STREAK, latency=(0, 0))
    world = demo.world
    world.upstream_cache = 5.0
    async with open_client(demo.provider) as client:
        engine = RotationEngine(demo.rotation, demo.provider, demo.keys, client, clock=clock)
        engine.start()
        try:
            while not engine.can_revoke:
                assert clock.now() < scenario.full_at + 900, "the gate never opened"
                await clock.advance(0.25)
            unlocked = clock.now()
            before_revoke = world.deployment_requests
            await engine.revoke()
            while engine.phase is not Phase.DONE:
                assert engine.phase is Phase.VERIFYING, engine.phase
                await clock.advance(0.25)
        finally:
            await engine.stop()
    return {
        "wait": unlocked - scenario.full_at,
        "requests": world.deployment_requests,
        "requests_to_unlock": before_revoke,
        "upstream": world.upstream_calls,
        "rotation_s": clock.now(),
    }


def rollout_wait(scenario_count: int = 50) -> Figure:
    """World seconds from 100 % NEW to Revoke unlocked over seeded staged rollouts."""
    cases = scenarios(scenario_count, seed=7)

    async def run_all() -> list[dict[str, float]]:
        return [await _rotation(s) for s in cases]

    got = asyncio.run(run_all())
    waits = [g["wait"] for g in got]
    requests = [g["requests"] for g in got]
    per_second = [g["requests"] / g["rotation_s"] for g in got]
    detail = {
        "scenarios": scenario_count,
        "samples": SAMPLES, "max_old_share": MAX_OLD_SHARE, "interval_s": INTERVAL,
        "wait_median_s": round(median(waits), 1),
        "wait_p95_s": round(percentile(waits, 95), 1),
        "wait_max_s": round(max(waits), 1),
        "deployment_requests_per_rotation_median": median(requests),
        "deployment_requests_per_rotation_max": max(requests),
        "deployment_requests_per_second": round(median(per_second), 1),
        "provider_calls_per_rotation_with_5s_cache_median": median([g["upstream"] for g in got]),
        "rotation_world_s_median": round(median([g["rotation_s"] for g in got]), 1),
    }
    return Figure(
        f"rollout: 100 % NEW → Revoke unlocked, {scenario_count} staged rollouts at defaults "
        "(median)",
        round(median(waits), 1), "≤ 60 s", median(waits) <= 60.0, "s", detail,
        note=(f"p95 {detail['wait_p95_s']} s, max {detail['wait_max_s']} s; a rotation costs "
              f"{detail['deployment_requests_per_rotation_median']:g} deployment requests "
              f"(median; {detail['deployment_requests_per_second']} a second) and, with the "
              f"README Worker's 5 s cache, "
              f"{detail['provider_calls_per_rotation_with_5s_cache_median']:g} provider calls"),
    )
