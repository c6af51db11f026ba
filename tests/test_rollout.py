"""Staged rollouts: Revoke waits until the samples bound the traffic still on the OLD key.

All on a fake clock (no sleeps). The 200 rotations run the engine's real gate and its
real revoke decision (`can_revoke`, then `revoke()`) against the simulated world's
routing; the 10-minute property runs the same gate code (bound.OldShare, Track,
evaluate) on seeded sample streams, 12,000 samples a run. The failures of the old rule
and of a naive rotator are printed beside the new rule's (the "keyturn figures"
section at the end of the pytest output).
"""

from __future__ import annotations

import math
import random
import re
import statistics

import pytest

from providers.results import ProbeResult, Verdict
from tests.support_rollout import naive, rotate, scenarios
from tui.engine.bound import OldShare, samples_needed
from tui.engine.config import MAX_OLD_SHARE, SAMPLES
from tui.engine.gate import Role, Track, evaluate, qualifies, summarize

OLD_FP, NEW_FP = "0123456789ab", "ba9876543210"
INTERVAL = 2.0  # the default


def report(record_property, line: str) -> None:
    """A line for the end of the pytest output (and for `-s`)."""
    print(line)
    record_property("keyturn_figures", line)


async def test_200_staged_rollouts_lose_no_app_request_where_the_old_rule_and_a_naive_rotator_do(
    record_property,
):
    cases = scenarios(200)
    new = [await rotate(s, samples=SAMPLES, max_old_share=MAX_OLD_SHARE) for s in cases]
    # Every rotation finished: the gate opened in all 200 (a gate that never opens loses
    # nothing either), and only once all traffic was on NEW.
    assert all(o.revoked_at is not None for o in new), [
        s for s, o in zip(cases, new, strict=True) if o.revoked_at is None]
    assert all(o.revoked_at >= o.full_at for o in new)
    failed = {s.kind: 0 for s in cases}
    for s, o in zip(cases, new, strict=True):
        failed[s.kind] += o.app_failures
    waits = [o.wait for o in new]

    # The same 200 with the bound off, and as keyturn was before (one answer a tick).
    off = [await rotate(s, samples=SAMPLES, max_old_share=1.0) for s in cases]
    before = [await rotate(s, samples=1, max_old_share=1.0) for s in cases]
    naive_runs = [naive(s) for s in cases]

    def line(name: str, outcomes) -> str:
        hit = sum(1 for o in outcomes if o.app_failures)
        return (f"{name}: {sum(o.app_failures for o in outcomes)} failed app requests "
                f"in {hit} of {len(outcomes)} rotations")

    report(record_property, "200 staged rollouts (app request every 20 ms of world time):")
    report(record_property,
           "  " + line(f"bound (samples {SAMPLES}, max_old_share {MAX_OLD_SHARE})", new)
           + f"; 100 % NEW → revoke median {statistics.median(waits):.1f} s,"
           f" max {max(waits):.1f} s")
    report(record_property, "  " + line(f"old rule (samples {SAMPLES}, max_old_share 1.0)", off))
    report(record_property,
           "  " + line("old rule as before (samples 1, max_old_share 1.0)", before))
    report(record_property, "  " + line("naive (new key live once, then revoke)", naive_runs))

    assert sum(failed.values()) == 0, failed
    # The comparison is real: without the bound, staged rollouts lose requests.
    assert sum(o.app_failures for o in before) > 0
    assert sum(o.app_failures for o in naive_runs) > sum(o.app_failures for o in before)


def tail_runs(runs: int, share_old: float, minutes: float = 10.0, *, samples: int = SAMPLES,
              max_old_share: float = MAX_OLD_SHARE, seed: int = 99):
    """Seeded runs of the real gate against a deployment holding `share_old` on OLD.

    The gaps between OLD samples are drawn geometric, which is exactly independent
    samples. Yields per run the tick the gate first opened (None: it stayed shut within
    `minutes`) and the most NEW samples since OLD it saw (for the single-look figure)."""
    ticks = int(minutes * 60 / INTERVAL)
    all_new = [NEW_FP] * samples
    live = ProbeResult(Verdict.LIVE, 200)

    def tick_of(fps: list[str]) -> ProbeResult:
        return summarize([ProbeResult(Verdict.LIVE, 200, served_fingerprint=fp) for fp in fps],
                         OLD_FP, NEW_FP).alone()

    tick_new, tick_old = tick_of(all_new), tick_of([OLD_FP] + all_new[1:])
    log_keep = math.log1p(-share_old)

    for run in range(runs):
        rng = random.Random(seed * 100_003 + run)

        def geometric(rng: random.Random = rng) -> int:  # NEW samples before the next OLD one
            return int(math.log(1.0 - rng.random()) / log_keep)

        new = Track(Role.NEW, 5)
        dep = Track(Role.DEPLOYMENT, 5, evidence=OldShare(max_old_share, samples / INTERVAL))
        gap = geometric()
        opened = None
        most = 0
        for k in range(ticks):
            t = 1000.0 + k * INTERVAL
            if gap >= samples:
                fps, tick = all_new, tick_new
                gap -= samples
            else:
                fps, tick = list(all_new), tick_old
                while gap < samples:
                    fps[gap] = OLD_FP
                    gap += 1 + geometric()
                gap -= samples
            new.record(live, True)
            dep.evidence.add(fps, OLD_FP, NEW_FP, t)
            dep.record(tick, qualifies(Role.DEPLOYMENT, tick, NEW_FP))
            most = max(most, dep.evidence.since_old)
            if evaluate(new, dep, OLD_FP, NEW_FP, now=t).open:
                opened = k
                break
        yield opened, most


def test_a_tail_held_at_max_old_share_opens_the_gate_in_at_most_5_percent_of_10_minute_watches(
    record_property,
):
    runs = list(tail_runs(1000, MAX_OLD_SHARE))
    opened = sum(1 for tick, _ in runs if tick is not None)
    single_look = samples_needed(MAX_OLD_SHARE, 0.05)
    lucky = sum(1 for _, most in runs if most >= single_look)
    report(record_property,
           f"99/1 tail for 10 min, 1000 runs at samples {SAMPLES}: the gate opened in {opened}; "
           f"the single-look rule (n >= {single_look}) would have opened in {lucky}")
    assert opened <= 50, opened
    # The correction for looking after every tick is what keeps it there.
    assert lucky > 500


def test_a_steady_tail_above_max_old_share_never_opens_the_gate():
    runs = list(tail_runs(200, 0.03))
    assert all(tick is None for tick, _ in runs)


def test_the_gate_opens_once_the_tail_is_gone():
    """The bound is a wait, not a wall: with no OLD traffic it opens after `needed`."""
    (tick, _), = tail_runs(1, 1e-12, minutes=2)
    needed = samples_needed(MAX_OLD_SHARE, OldShare(MAX_OLD_SHARE, SAMPLES / INTERVAL).budget())
    assert tick is not None
    assert tick == math.ceil(needed / SAMPLES) - 1


# -- the engine over HTTP (the simulated world's transport), on the fake clock ---------------


async def test_the_demo_rollout_holds_revoke_through_90_10_and_opens_after_100_percent(tmp_path):
    from tests.support_engine import make_rig
    from tui.engine.audit import AuditLog
    from tui.engine.demo import DEMO_ROLLOUT
    from tui.engine.rotation import GateLocked, Phase

    rig = make_rig(rollout=DEMO_ROLLOUT, samples=SAMPLES, max_old_share=MAX_OLD_SHARE,
                   interval=0.5, timeout=0.4, streak=5)
    rig.engine.audit = AuditLog(tmp_path)
    try:
        rig.engine.start()
        while rig.clock.now() < DEMO_ROLLOUT.full_at - 0.5:  # through the 50 % and 90 % stages
            await rig.run(0.5)
            assert not rig.engine.gate.open, rig.clock.now()
        with pytest.raises(GateLocked):
            await rig.engine.revoke()
        # 100 % NEW from 10 s: the reason counts up with an estimate, then the gate opens.
        await rig.run(2.0)
        needed = rig.engine.evidence.needed
        assert re.search(rf"OLD may still carry up to [0-9.]+ % of traffic: [0-9]+ of {needed} "
                         r"NEW samples since OLD was last seen, about [0-9]+ s more",
                         rig.engine.gate.summary), rig.engine.gate.summary
        with pytest.raises(GateLocked, match="OLD may still carry up to"):
            await rig.engine.revoke()
        assert rig.world.revoke_calls() == []
        assert await rig.run_until(lambda: rig.engine.phase is Phase.READY, limit=30)
        evidence = rig.engine.evidence
        waited = rig.clock.now() - DEMO_ROLLOUT.full_at
        assert evidence.n >= evidence.needed and evidence.bound <= MAX_OLD_SHARE
        assert waited <= evidence.needed / (2 * SAMPLES) + 1.5, waited
        opened = [e for e in rig.engine.audit.events("demo") if e["event"] == "gate_opened"]
        assert len(opened) == 1
        assert opened[0]["samples_since_old"] >= opened[0]["samples_needed"] == evidence.needed
        assert opened[0]["old_share_bound"] <= MAX_OLD_SHARE and opened[0]["max_old_share"] == 0.01
        assert 0 < opened[0]["old_last_seen_s"] <= waited + 0.5
        # One tick is SAMPLES requests, each landing on its own.
        assert rig.world.deployment_requests == evidence.requests
        assert evidence.requests == SAMPLES * rig.engine.probe_counts[Role.DEPLOYMENT]
    finally:
        await rig.close()


async def test_an_old_answer_after_the_gate_opened_locks_it_at_once_and_revoke_is_refused():
    from providers.simulated import Rollout
    from tests.support_engine import make_rig
    from tui.engine.rotation import GateLocked, Phase

    # All NEW from 1 s; then a lagging region sends 10 % back to OLD from 60 s.
    rollout = Rollout(((1.0, 1.0), (60.0, 0.9)))
    rig = make_rig(rollout=rollout, samples=SAMPLES, max_old_share=MAX_OLD_SHARE,
                   interval=2.0, timeout=1.5, streak=5)
    try:
        rig.engine.start()
        assert await rig.run_until(lambda: rig.engine.gate.open, limit=58)
        await rig.run(60.0 - rig.clock.now())
        await rig.run(2.0)  # the first tick inside the lag: 40 samples, 10 % on OLD
        assert not rig.engine.gate.open and rig.engine.phase is Phase.PROPAGATING
        evidence = rig.engine.evidence
        assert evidence.n == 0 and evidence.old_last_seen_at == rig.clock.now()
        with pytest.raises(GateLocked):
            await rig.engine.revoke()
        assert rig.world.revoke_calls() == []
    finally:
        await rig.close()


async def test_a_deployment_that_answers_429_gets_fewer_samples_and_waits_out_retry_after():
    from providers.simulated import Rollout
    from tests.support_engine import make_rig

    rig = make_rig(rollout=Rollout(((0.0, 1.0),)), samples=SAMPLES, max_old_share=MAX_OLD_SHARE,
                   interval=2.0, timeout=1.5, streak=5)
    rig.world.deployment_limit = 15  # requests a second; more get 429 with retry-after: 5
    try:
        rig.engine.start()
        await rig.run(1.0)
        first = rig.world.deployment_requests
        assert first == SAMPLES
        assert rig.engine.tracks[Role.DEPLOYMENT].last.verdict is Verdict.THROTTLED
        assert rig.engine.sample_batch == SAMPLES // 2
        await rig.run(4.0)  # retry-after 5: the ticks at 2 s and 4 s are skipped
        assert rig.world.deployment_requests == first
        await rig.run(60.0)
        # Settled on batches the deployment accepts: the evidence still grows.
        assert rig.engine.sample_batch <= 15
        assert rig.engine.evidence.n > 0
        assert rig.world.deployment_requests < 30 * SAMPLES / 2
    finally:
        await rig.close()


async def test_a_tick_sends_its_samples_a_quarter_at_a_time_on_kept_alive_connections():
    """40 samples go out 10 at a time (about 4 round trips a tick): the app sees at most 10
    connections from keyturn, and httpx's pool stays cheap."""
    import asyncio

    from providers.deployment import DeploymentTarget
    from providers.simulated import DEPLOYMENT_URL, Rollout, SimulatedProvider, SimulatedWorld
    from tui.engine.session import open_client

    world = SimulatedWorld(clock=lambda: 0.0, rollout=Rollout(((0.0, 0.5),)))
    seen = {"now": 0, "most": 0}

    class Overlapping:
        """The world's transport, holding each deployment request over a few loop turns."""

        async def handle_async_request(self, request):
            seen["now"] += 1
            seen["most"] = max(seen["most"], seen["now"])
            for _ in range(3):
                await asyncio.sleep(0)
            seen["now"] -= 1
            await request.aread()
            return world.handle(request)

        async def aclose(self):
            pass

        async def __aenter__(self):
            return self

        async def __aexit__(self, *exc):
            pass

    provider = SimulatedProvider(transport=Overlapping())
    target = DeploymentTarget(DEPLOYMENT_URL, provider)
    async with open_client(provider) as client:
        for count, at_once in ((40, 10), (100, 25), (12, 8)):
            seen["most"] = 0
            answers = await target.sample(client, count, 1.0)
            assert len(answers) == count and seen["most"] == at_once, (count, seen)
            fps = {a.served_fingerprint for a in answers}
            assert len(fps) == 2  # half on each key: every sample lands on its own
