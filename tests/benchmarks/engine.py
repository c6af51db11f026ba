"""Engine figures: TCP connections per host, the scheduler's cadence, memory over many probes."""

from __future__ import annotations

import asyncio
from collections import deque

from providers.anthropic import AnthropicProvider
from providers.keys import fingerprint
from providers.results import ProbeResult, Verdict
from tests.benchmarks.support import NEW_KEY, OLD_KEY, Figure, LoopbackServer, median, percentile
from tui.engine.config import Rotation
from tui.engine.credentials import Secret
from tui.engine.rotation import RotationEngine
from tui.engine.scheduler import LoopClock, Scheduler, Target
from tui.engine.session import Keys, open_client


def bench_rotation(base_url: str, *, interval: float, timeout: float = 5.0,
                   deployment: bool = True, streak: int = 5, samples: int = 1,
                   max_old_share: float = 1.0) -> Rotation:
    """A rotation against the loopback server: old, new and a deployment serving NEW.

    One deployment request a tick and the bound off unless asked: the connection and
    gate-reaction figures measure reuse per target and the N-th answer of a streak."""
    return Rotation(
        name="bench", provider="anthropic", old="env:BENCH_OLD", new="env:BENCH_NEW",
        admin="env:BENCH_ADMIN", admin_explicit=False,
        deployment=f"{base_url}/health/probe?fp={fingerprint(NEW_KEY)}" if deployment else None,
        base_url=base_url, project_id=None, rotate_every=None, interval=interval,
        timeout=timeout, streak=streak, indeterminate="reset", samples=samples,
        max_old_share=max_old_share,
    )


def bench_keys() -> Keys:
    return Keys(Secret(OLD_KEY, "bench"), Secret(NEW_KEY, "bench"), None)


async def _connections(server: LoopbackServer, probes: int, interval: float) -> dict[str, int]:
    before = await asyncio.to_thread(server.stats)
    rotation = bench_rotation(server.url, interval=interval)
    provider = AnthropicProvider(base_url=server.url)
    async with open_client(provider) as client:
        engine = RotationEngine(rotation, provider, bench_keys(), client)
        done = asyncio.Event()
        seen = {"probes": 0, "live": 0}

        def count(event: object) -> None:
            result = getattr(event, "result", None)
            if result is not None:
                seen["probes"] += 1
                seen["live"] += result.verdict.value == "live"
                if seen["probes"] >= probes:
                    done.set()

        engine.listeners.append(count)
        engine.start()
        await asyncio.wait_for(done.wait(), 120)
        await engine.stop()
    after = await asyncio.to_thread(server.stats)
    return {
        "connections": after["connections"] - before["connections"],
        "requests": after["requests"] - before["requests"],
        **seen,
    }


def new_connections(server: LoopbackServer, probes: int = 300, interval: float = 0.02) -> Figure:
    """New TCP connections the engine opens for `probes` probes of old, new and deployment."""
    got = asyncio.run(_connections(server, probes, interval))
    return Figure(
        "new TCP connections, 300 probes of 3 targets on one host", got["connections"], "≤ 3",
        got["connections"] <= 3 and got["live"] >= probes, "",
        {**got, "interval_s": interval},
    )


class TimedLateness(deque):
    """The scheduler's lateness record, also noting when each late tick happened."""

    def __init__(self, clock: LoopClock) -> None:
        super().__init__()
        self.clock = clock
        self.at: list[float] = []

    def append(self, value: float) -> None:
        self.at.append(self.clock.now())
        super().append(value)


async def _cadence(server: LoopbackServer, targets: int, interval: float, duration: float) -> dict:
    provider = AnthropicProvider(base_url=server.url + "/lat/0-300")
    key = Secret(NEW_KEY, "bench")
    clock = LoopClock()
    ticks: dict[str, list[float]] = {}
    verdicts: dict[str, int] = {}

    def on_result(role: str, result: ProbeResult) -> None:
        name = result.verdict.value if result.verdict is Verdict.LIVE else (
            f"{result.verdict.value}: {result.detail}")
        verdicts[name] = verdicts.get(name, 0) + 1

    async with open_client(provider) as client:
        scheduler = Scheduler(on_result, clock)
        scheduler.stats.lateness = TimedLateness(clock)

        def probe_fn(role: str):
            ticks[role] = []

            async def probe():
                ticks[role].append(clock.now())
                return await provider.probe(client, key, 0.9 * interval)

            return probe

        begin = clock.now()
        for i in range(targets):
            scheduler.add(Target(f"t{i:02d}", probe_fn(f"t{i:02d}"), interval))
        await asyncio.sleep(duration)
        await scheduler.stop()
    lateness_ms = [x * 1000 for x in scheduler.stats.lateness]
    # After the first interval every connection is open: the steady state.
    steady = [x * 1000 for x, at in zip(scheduler.stats.lateness, scheduler.stats.lateness.at,
                                        strict=True) if at - begin >= interval]
    # Drift: how far each target's ticks moved off its first tick's grid (start + k·interval)
    # from the first ten ticks to the last ten.
    drift_ms = []
    for times in ticks.values():
        off = [(t - times[0]) - interval * round((t - times[0]) / interval) for t in times]
        drift_ms.append(1000 * (median(off[-10:]) - median(off[:10])))
    expected = round(targets * duration / interval)
    return {
        "p50_lateness_ms": round(percentile(lateness_ms, 50), 2),
        "p99_lateness_ms": round(percentile(lateness_ms, 99), 2),
        "max_lateness_ms": round(max(lateness_ms), 2),
        "p99_lateness_after_first_interval_ms": round(percentile(steady, 99), 2),
        "p90_lateness_ms": round(percentile(lateness_ms, 90), 2),
        "overlaps": scheduler.stats.overlaps,
        "max_drift_ms": round(max(abs(d) for d in drift_ms), 2),
        "ticks": sum(len(t) for t in ticks.values()),
        "ticks_expected": expected,
        "first_tick_spread_ms": round(1000 * (max(t[0] for t in ticks.values()) - begin), 2),
        "verdicts": verdicts,
    }


def scheduler_cadence(server: LoopbackServer, targets: int = 50, interval: float = 1.0,
                      duration: float = 60.0) -> Figure:
    """50 targets at 1 s for 60 s against 0–300 ms server latency, LoopClock, real probes."""
    got = asyncio.run(_cadence(server, targets, interval, duration))
    ok = (got["p99_lateness_ms"] < 20 and got["overlaps"] == 0 and got["max_drift_ms"] < 20
          and abs(got["ticks"] - got["ticks_expected"]) <= targets
          and set(got["verdicts"]) == {"live"})
    return Figure(
        f"scheduler: {targets} targets at {interval:g} s for {duration:g} s, "
        "latency 0–300 ms: p99 tick lateness",
        got["p99_lateness_ms"], "< 20 ms, 0 overlaps, no drift", ok, "ms", got,
    )
