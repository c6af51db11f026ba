"""The demo: a rotation against the simulated provider (no keys, no network)."""

from __future__ import annotations

from dataclasses import dataclass

from providers.simulated import DEPLOYMENT_URL, SimulatedProvider, SimulatedWorld
from providers.simulated_usage import SimulatedUsage
from tui.engine.config import Rotation
from tui.engine.credentials import Secret
from tui.engine.rotation import Keys

DEMO_NAME = "demo"


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
) -> Demo:
    """A simulated world with an old key, a new key, a deployment and an admin API.

    `keys` (old, new, admin) fixes the keys (snapshots, canary tests); by default the
    world makes fresh random ones. `key_sources` names where each Secret says it came from.
    """
    kwargs: dict = {"clock": clock} if clock is not None else {}
    if keys is not None:
        kwargs.update(old=keys[0], new=keys[1], admin_key=keys[2])
    world = SimulatedWorld(
        switch_at=switch_at, window=window, latency=latency, seed=seed,
        deployment_breaks_after_revoke=breaks_after_revoke,
        # A report minute lasts two probe intervals: the TRAFFIC view moves as the cards do.
        usage=SimulatedUsage(speed=60.0 / (2 * interval)), **kwargs,
    )
    rotation = Rotation(
        name=DEMO_NAME, provider="simulated", old="prompt", new="prompt", admin="prompt",
        admin_explicit=admin, deployment=DEPLOYMENT_URL, base_url=None, project_id=None,
        rotate_every="90d", interval=interval, timeout=timeout, streak=streak,
        indeterminate="reset",
    )
    provider = SimulatedProvider(transport=world.transport, report_clock=world.report_clock)
    old_source, new_source, admin_source = key_sources
    secrets = Keys(
        Secret(world.old, old_source), Secret(world.new, new_source),
        Secret(world.admin_key, admin_source) if admin else None,
    )
    return Demo(rotation, world, provider, secrets)
