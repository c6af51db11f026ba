"""The demo: a rotation against the simulated provider (no keys, no network)."""

from __future__ import annotations

from dataclasses import dataclass

from providers.simulated import DEPLOYMENT_URL, Rollout, SimulatedProvider, SimulatedWorld
from tui.engine.config import MAX_OLD_SHARE, SAMPLES, Rotation
from tui.engine.credentials import Secret
from tui.engine.rotation import Keys

DEMO_NAME = "demo"
#: The demo's deployment: half its requests on NEW from 1.5 s, 90 % from 4 s, all from 10 s.
#: The bound holds Revoke through the 90/10 stage and opens about 12 s into 100 % NEW.
DEMO_ROLLOUT = Rollout(((1.5, 0.5), (4.0, 0.9), (10.0, 1.0)))


@dataclass
class Demo:
    rotation: Rotation
    world: SimulatedWorld
    provider: SimulatedProvider
    keys: Keys


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
) -> Demo:
    """A simulated world with an old key, a new key, a deployment and an admin API.

    The deployment follows `rollout` (a staged rollout; None: it switches over `window`
    seconds from `switch_at`, never answering NEW more than 3 times in a row inside it).
    `keys` (old, new, admin) fixes the keys (snapshots, canary tests); by default the
    world makes fresh random ones. `key_sources` names where each Secret says it came from.
    """
    kwargs: dict = {"clock": clock} if clock is not None else {}
    if keys is not None:
        kwargs.update(old=keys[0], new=keys[1], admin_key=keys[2])
    world = SimulatedWorld(
        switch_at=switch_at, window=window, latency=latency, seed=seed, rollout=rollout,
        deployment_breaks_after_revoke=breaks_after_revoke, **kwargs,
    )
    rotation = Rotation(
        name=DEMO_NAME, provider="simulated", old="prompt", new="prompt", admin="prompt",
        admin_explicit=admin, deployment=DEPLOYMENT_URL, base_url=None, project_id=None,
        rotate_every="90d", interval=interval, timeout=timeout, streak=streak,
        indeterminate="reset", samples=samples, max_old_share=max_old_share,
    )
    provider = SimulatedProvider(transport=world.transport)
    old_source, new_source, admin_source = key_sources
    secrets = Keys(
        Secret(world.old, old_source), Secret(world.new, new_source),
        Secret(world.admin_key, admin_source) if admin else None,
    )
    return Demo(rotation, world, provider, secrets)
