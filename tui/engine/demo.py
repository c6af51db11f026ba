"""The demo: a rotation against the simulated provider (no keys, no network)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace

from providers.simulated import DEPLOYMENT_URL, HOST, Rollout, SimulatedProvider, SimulatedWorld
from providers.simulated_usage import SimulatedUsage
from tui.engine.config import MAX_OLD_SHARE, SAMPLES, Rotation
from tui.engine.credentials import Secret
from tui.engine.session import Keys

DEMO_NAME = "demo"
#: The demo's deployment: half its requests on NEW from 1.5 s, 90 % from 4 s, all from 10 s.
#: The bound holds Revoke through the 90/10 stage and opens about 12 s into 100 % NEW.
DEMO_ROLLOUT = Rollout(((1.5, 0.5), (4.0, 0.9), (10.0, 1.0)))
#: Where the demo's simulated Cloudflare token is found (a `cloudflare-worker` destination
#: names its token by reference, like every credential).
DEMO_TOKEN_VAR = "KEYTURN_DEMO_CLOUDFLARE_TOKEN"


@dataclass
class Demo:
    rotation: Rotation
    world: SimulatedWorld
    provider: SimulatedProvider
    keys: Keys
    #: The simulated Cloudflare Worker the NEW key is written to (`worker=True`).
    worker: object | None = None


def build_demo(
    *,
    interval: float = 0.5,
    timeout: float = 0.4,
    streak: int = 5,
    switch_at: float = 2.0,
    window: float = 5.0,
    latency: tuple[float, float] = (0.02, 0.12),
    admin: bool = True,
    seed: int = 7,
    clock=None,
    breaks_after_revoke: bool = False,
    keys: tuple[str, str, str] | None = None,
    key_sources: tuple[str, str, str] = ("demo", "demo", "demo"),
    rollout: Rollout | None = DEMO_ROLLOUT,
    samples: int = SAMPLES,
    max_old_share: float = MAX_OLD_SHARE,
    worker: bool = False,
) -> Demo:
    """A simulated world with an old key, a new key, a deployment and an admin API.

    The deployment follows `rollout` (a staged rollout; None: it switches over `window`
    seconds from `switch_at`, never answering NEW more than 3 times in a row inside it).
    `keys` (old, new, admin) fixes the keys (snapshots, canary tests); by default the
    world makes fresh random ones. `key_sources` names where each Secret says it came from.

    `worker`: the app is a Cloudflare Worker that serves OLD until keyturn writes the NEW
    key to its secret (the rotation's one destination); its deployment then follows the
    rollout from a second later (without one: moves over `window` seconds, at most 3).
    """
    kwargs: dict = {"clock": clock} if clock is not None else {}
    if keys is not None:
        kwargs.update(old=keys[0], new=keys[1], admin_key=keys[2])
    world = SimulatedWorld(
        switch_at=switch_at, window=window, latency=latency, seed=seed, rollout=rollout,
        deployment_breaks_after_revoke=breaks_after_revoke,
        # A report minute lasts two probe intervals: the TRAFFIC view moves as the cards do.
        usage=SimulatedUsage(speed=60.0 / (2 * interval)), **kwargs,
    )
    rotation = Rotation(
        name=DEMO_NAME, provider="simulated", old="prompt", new="prompt", admin="prompt",
        admin_explicit=admin, deployment=DEPLOYMENT_URL, base_url=None, project_id=None,
        rotate_every="90d", interval=interval, timeout=timeout, streak=streak,
        indeterminate="reset", samples=samples, max_old_share=max_old_share,
    )
    provider = SimulatedProvider(transport=world.transport, report_clock=world.report_clock)
    simulated_worker = None
    if worker:
        simulated_worker, destination = _worker(world, window)
        rotation = replace(rotation, destinations=(destination,))
        provider = SimulatedProvider(transport=simulated_worker.transport,
                                     report_clock=world.report_clock)
    old_source, new_source, admin_source = key_sources
    secrets = Keys(
        Secret(world.old, old_source), Secret(world.new, new_source),
        Secret(world.admin_key, admin_source) if admin else None,
    )
    return Demo(rotation, world, provider, secrets, simulated_worker)


def _worker(world: SimulatedWorld, window: float):
    """A simulated Worker whose secret moves the world's deployment, and its destination."""
    from providers.simulated_cloudflare import SimulatedWorker
    from tui.engine.destinations import WorkerSecret

    staged = world.rollout
    world.switch_at, world.rollout = math.inf, None  # serving OLD until the secret is written

    def moved(raw: str) -> None:
        if raw == world.new:
            if staged is not None:  # the same staged rollout, from a second after the write
                start = world.now() + 1.0
                world.rollout = Rollout(tuple((start + t, share) for t, share in staged.stages),
                                        staged.ramp)
            else:
                world.switch_at, world.window = world.now() + 1.0, min(window, 3.0)
        elif raw == world.old:
            world.switch_at, world.rollout = math.inf, None  # the undo: back to OLD

    simulated = SimulatedWorker(world, moved)
    os.environ[DEMO_TOKEN_VAR] = simulated.token  # the demo's own process; not a secret
    destination = WorkerSecret(simulated.account_id, simulated.script, simulated.secret_name,
                               f"env:{DEMO_TOKEN_VAR}", api=HOST)
    return simulated, destination
