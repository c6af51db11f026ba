"""Staged rollouts on a fake clock: the engine's real gate, fed by the simulated world.

Every `interval` of world time the engine takes one probe of the OLD key, one of the NEW
key and one deployment tick of `engine.sample_batch` samples, through `engine.observe`
(what the scheduler calls) and `gate.summarize` (what the engine's deployment probe
returns). Each sample lands on NEW with the rollout's share at that instant, drawn by
the world's own seeded routing (`SimulatedWorld.served_keys`). The deployment's answers
are classified once per key by the real `DeploymentTarget.classify` and reused, so a
sample costs one draw instead of an HTTP round trip through the transport: 200
rotations take about a second. Revoke is the engine's own `revoke()` through the
world's admin API, called the moment `engine.can_revoke` says so.

The app beside it sends one request every 20 ms of world time, on whichever key serves
that request (NEW with the share at that instant); a request on OLD after the revoke
fails.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass

from providers.lazy import httpx
from providers.results import ProbeResult, Verdict
from providers.simulated import Rollout, SimulatedWorld
from tui.engine.demo import build_demo
from tui.engine.gate import Role, summarize
from tui.engine.rotation import Phase, RotationEngine
from tui.engine.scheduler import FakeClock
from tui.engine.session import open_client

#: The app's request cadence (world seconds).
APP_EVERY = 0.02
#: Where the rollouts start (world seconds): the NEW key is live at the provider from 0.5.
START = 2.0


@dataclass(frozen=True)
class Scenario:
    kind: str
    rollout: Rollout
    seed: int

    @property
    def full_at(self) -> float:
        full = self.rollout.full_at
        assert full is not None
        return full


def scenarios(count: int = 200, seed: int = 2024) -> list[Scenario]:
    """Linear ramps of 2–30 s; staged 50/90/97/100 % NEW with stages of 5–60 s; and a
    97/3 tail of 60 s."""
    rng = random.Random(seed)
    made: list[Scenario] = []
    for i in range(count):
        kind = ("ramp", "staged", "tail")[i % 3]
        if kind == "ramp":
            rollout = Rollout.linear(START, rng.uniform(2.0, 30.0))
        elif kind == "staged":
            rollout = Rollout.staged(START, (0.5, rng.uniform(5, 60)), (0.9, rng.uniform(5, 60)),
                                     (0.97, rng.uniform(5, 60)), (1.0, 0.0))
        else:
            rollout = Rollout.staged(START, (0.97, 60.0), (1.0, 0.0))
        made.append(Scenario(kind, rollout, seed * 1000 + i))
    return made


@dataclass
class Outcome:
    #: World time of the revoke (None: the gate never opened within the limit).
    revoked_at: float | None
    #: World time from which every request is on NEW.
    full_at: float
    #: App requests that failed because they carried the revoked key.
    app_failures: int
    #: Requests keyturn sent to the deployment.
    deployment_requests: int
    #: The engine's evidence when the gate opened.
    evidence: object = None

    @property
    def wait(self) -> float | None:
        """World seconds from 100 % NEW to Revoke unlocked."""
        return None if self.revoked_at is None else self.revoked_at - self.full_at


class Answers:
    """The deployment's answers for each key, classified once by the real classifier."""

    def __init__(self, engine: RotationEngine, world: SimulatedWorld) -> None:
        from providers.keys import fingerprint

        assert engine.deployment is not None
        self.world = world
        self.cache: dict[str, ProbeResult] = {}
        for raw in (world.old, world.new):
            body = json.dumps({"ok": True, "status": 200, "fingerprint": fingerprint(raw)}).encode()
            got = engine.deployment.classify(200, httpx.Headers(), body)
            self.cache[raw] = ProbeResult(got.verdict, 200, 1.0, None, got.detail,
                                          served_fingerprint=got.served_fingerprint)
        self.live = ProbeResult(Verdict.LIVE, 200, 1.0)
        self.refused = ProbeResult(Verdict.REJECTED, 401, 1.0, detail="refused")

    def tick(self, count: int) -> list[ProbeResult]:
        return [self.cache[raw] for raw in self.world.served_keys(count)]

    def key(self, raw: str) -> ProbeResult:
        return self.live if self.world.key_state(raw) == 200 else self.refused


def slot(t: float) -> int:
    """The first app request at or after world time `t`."""
    return math.ceil(t / APP_EVERY - 1e-9)


def app_failures(scenario: Scenario, revoked_at: float | None) -> int:
    """App requests on OLD from the revoke until every request is on NEW.

    Each request is on OLD with probability 1 - share at its instant, independently: on a
    ramp, one draw per request; where the share holds (a stage), the requests on NEW
    before the next one on OLD are drawn at once (geometric), which is the same thing."""
    if revoked_at is None:
        return 0
    rollout = scenario.rollout
    rng = random.Random(f"app-{scenario.seed}")
    failures = 0
    k, end = slot(revoked_at), slot(scenario.full_at)
    while k < end:
        t = k * APP_EVERY
        share = rollout.share_at(t)
        if rollout.ramp:
            failures += rng.random() >= share
            k += 1
            continue
        stage_end = min(end, slot(next((s for s, _ in rollout.stages if s > t), math.inf)))
        if share <= 0.0:
            failures, k = failures + stage_end - k, stage_end
            continue
        if share >= 1.0:
            k = stage_end
            continue
        while True:
            k += int(math.log(1.0 - rng.random()) / math.log(share))  # requests on NEW first
            if k >= stage_end:
                k = stage_end
                break
            failures += 1
            k += 1
    return failures


async def rotate(scenario: Scenario, *, samples: int, max_old_share: float,
                 interval: float = 2.0, streak: int = 5, limit: float = 900.0) -> Outcome:
    """One rotation on the engine's real gate; revoke the moment `can_revoke` allows."""
    clock = FakeClock(start=0.0)
    demo = build_demo(clock=clock.now, rollout=scenario.rollout, seed=scenario.seed,
                      samples=samples, max_old_share=max_old_share, interval=interval,
                      timeout=min(1.5, interval / 2), streak=streak, latency=(0, 0))
    world = demo.world
    async with open_client(demo.provider) as client:
        engine = RotationEngine(demo.rotation, demo.provider, demo.keys, client, clock=clock)
        answers = Answers(engine, world)
        sent = 0
        revoked_at = None
        evidence = None
        k = 0
        while (t := k * interval) <= limit:
            clock.t = t
            engine.observe(Role.OLD, answers.key(world.old))
            engine.observe(Role.NEW, answers.key(world.new))
            batch = engine.sample_batch
            sent += batch
            engine.observe(Role.DEPLOYMENT, summarize(answers.tick(batch), *engine.fingerprints))
            if engine.can_revoke:
                evidence = engine.evidence
                await engine.revoke()
                assert engine.phase is Phase.VERIFYING and world.revoke_calls()
                revoked_at = t
                break
            k += 1
    return Outcome(revoked_at, scenario.full_at, app_failures(scenario, revoked_at), sent, evidence)


def naive(scenario: Scenario, interval: float = 2.0) -> Outcome:
    """A rotator that checks the new key once and revokes as soon as it answers live."""
    world = SimulatedWorld(clock=lambda: 0.0, rollout=scenario.rollout)
    k = 0
    while world.keys[world.new].live_from > k * interval:
        k += 1
    revoked_at = k * interval
    return Outcome(revoked_at, scenario.full_at, app_failures(scenario, revoked_at), 0)
