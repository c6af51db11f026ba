"""Deterministic dashboards for Pilot, snapshot and screenshot runs.

A FakeClock drives the probes and the simulated world, the keys are fixed, and the
latency each probe reports comes from a seeded sequence instead of `perf_counter`, so
the same steps draw the same screen on every run (and on every machine).
"""

from __future__ import annotations

import asyncio
import random
import types
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

import pytest

import providers.transport
from tui.app import KeyturnApp, Session
from tui.engine.demo import build_demo
from tui.engine.rotation import Phase
from tui.engine.scheduler import FakeClock

# Fixed demo keys (fake, key-shaped): the masked forms and fingerprints stay the same.
OLD_KEY = "sk-ant-api03-" + "demoOLD" * 12 + "R2AA"
NEW_KEY = "sk-ant-api03-" + "demoNEW" * 12 + "xQ9B"
ADMIN_KEY = "sk-ant-admin01-" + "demoADM" * 10 + "mmCC"

INTERVAL = 0.5
STREAK = 5


class SteppedTime:
    """Stands in for the `time` module inside providers.transport: each reading moves a
    seeded step forward, so a probe's latency is a stable 20-140 ms."""

    def __init__(self, clock: FakeClock, seed: int = 11) -> None:
        self.clock = clock
        self.rng = random.Random(seed)
        self.t = 0.0

    def perf_counter(self) -> float:
        self.t += self.rng.uniform(0.01, 0.07)
        return self.t

    def monotonic(self) -> float:
        return self.clock.now()


def stamp_latency(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    """Make probe latencies deterministic (only providers.transport sees the stand-in)."""
    fake = types.SimpleNamespace(perf_counter=SteppedTime(clock).perf_counter,
                                 monotonic=clock.now)
    monkeypatch.setattr(providers.transport, "time", fake)


def fixed_demo(
    clock: FakeClock,
    *,
    admin: bool = True,
    breaks_after_revoke: bool = False,
    switch_at: float = 2.0,
    window: float = 5.0,
    old_key: str = OLD_KEY,
    new_key: str = NEW_KEY,
    staged: bool = False,
    worker: bool = False,
):
    """The demo (build_demo) with fixed keys, on the FakeClock, with no transport sleeps.

    `staged`: the demo as users see it (its staged rollout, the default samples and
    bound). Otherwise the deployment switches over `window` from `switch_at` and is asked
    once a tick with the bound off: most dashboard tests are about keys, modals and
    phases, and reach READY in 5 s of FakeClock time instead of 33. `worker`: its
    simulated Cloudflare Worker, which serves OLD until NEW is written."""
    options: dict = {"rollout": None, "samples": 1, "max_old_share": 1.0}
    if staged:
        options = {}
    return build_demo(clock=clock.now, latency=(0, 0), interval=INTERVAL, timeout=0.4,
                      streak=STREAK, admin=admin, breaks_after_revoke=breaks_after_revoke,
                      switch_at=switch_at, window=window, keys=(old_key, new_key, ADMIN_KEY),
                      worker=worker, **options)


def sure_timeout(session: Session, timeout: float = 1.0) -> Session:
    """`session` with a probe timeout of `timeout`, so 4x that for the admin calls.

    For a dashboard on the in-process loopback server: its threads share the GIL with a
    busy Textual app, and on a loaded machine an admin call took longer than the 1 s a
    0.25 s config timeout allows (revoke failed: 'admin API unreachable: timed out').
    A user's config keeps the timeout below the interval; the engine does not need that.
    """
    session.rotation = replace(session.rotation, timeout=timeout)
    return session


def demo_app(clock: FakeClock, demo, *, tick: float = 3600.0) -> KeyturnApp:
    """A dashboard on `demo`; the redraw tick is slow so only the FakeClock moves the screen."""
    session = Session(demo.rotation, demo.provider, demo.keys, clock=clock, demo=True)
    return KeyturnApp(session, tick=tick)


def ended(app) -> bool:
    """The app crashed or is closing: it will never start an engine it has not started."""
    return app._exception is not None or app._closing or app._closed or not app.is_running


async def started(pilot) -> None:
    """Wait until the dashboard has started its engine: it does so after its first frame,
    which Textual paints on its own (real-time) refresh timer, a frame or two after start.
    Waits on that event, not for a fixed time; the FakeClock must not move before it.
    A dashboard that crashed (or exited) before its first frame never starts its engine:
    that ends the wait too, and the crash surfaces from `run_test` as it should."""
    app = pilot.app
    engine = getattr(app, "engine", None)
    for _ in range(2000):
        if engine is None or engine.started or ended(app):
            return
        await pilot.pause()
    raise AssertionError("the dashboard never started its engine")


async def workers_done(app) -> None:
    """Wait for the dashboard's workers (the keychain, the admin calls). The rotation run
    is a worker for the life of the screen: it is waited for only once the rotation is
    done, when it writes the report and ends."""
    engine = getattr(app, "engine", None)
    done = engine is not None and engine.phase is Phase.DONE
    waited = [w for w in app.workers if w.group != "run" or done]
    if waited:  # (an empty list would mean "every worker" to Textual)
        await app.workers.wait_for_complete(waited)


async def settle(pilot) -> None:
    """Let the engine's tasks run and the screen handle every message they posted.

    Deterministic (no wall-clock wait): Pilot's own wait for the screen's queues, twice,
    because handling a message can post another (a phase change posts a toast).
    """
    await started(pilot)
    for _ in range(2):
        await asyncio.sleep(0)
        await pilot._wait_for_screen()


def frame(app) -> None:
    """Draw the frame a user would see next: lay out and paint whatever changed.

    The suite draws at 5 frames a second (tests/conftest.py), so a test that reads the
    screen, or where a widget sits on it, asks for the frame first (Pilot.pause ends the
    same way)."""
    app.screen._on_timer_update()


async def step(pilot, clock: FakeClock, seconds: float) -> None:
    """Advance the FakeClock one probe interval at a time and let the screen catch up."""
    await started(pilot)
    remaining = seconds
    while remaining > 1e-9:
        delta = min(INTERVAL, remaining)
        await clock.advance(delta)
        await settle(pilot)
        remaining -= delta


async def until(pilot, clock: FakeClock, predicate, limit: float = 60.0) -> float:
    """Step the clock until `predicate()` holds; return the FakeClock seconds it took."""
    waited = 0.0
    while not predicate():
        if waited >= limit:
            raise AssertionError(f"condition not met within {limit}s of FakeClock time")
        await step(pilot, clock, INTERVAL)
        waited += INTERVAL
    return waited


def record_notifications(app) -> list[str]:
    """Every notification text the app shows from now on (toasts vanish; this keeps them)."""
    seen: list[str] = []
    original = app.notify

    def notify(message, **kwargs):
        seen.append(str(message))
        return original(message, **kwargs)

    app.notify = notify
    return seen


# -- scenes: the states the snapshot tests and screenshots/ show ------------------------

Drive = Callable[[object, FakeClock, KeyturnApp], Awaitable[None]]


async def to_propagating(pilot, clock: FakeClock, app: KeyturnApp) -> None:
    await step(pilot, clock, 4.5)  # inside the deployment's switch-over window


async def to_ready(pilot, clock: FakeClock, app: KeyturnApp) -> None:
    await until(pilot, clock, lambda: app.engine.phase is Phase.READY)
    await settle(pilot)


async def to_confirm(pilot, clock: FakeClock, app: KeyturnApp) -> None:
    await to_ready(pilot, clock, app)
    await pilot.press("r")
    await settle(pilot)


async def to_verifying(pilot, clock: FakeClock, app: KeyturnApp) -> None:
    await to_confirm(pilot, clock, app)
    await pilot.press("y")
    await settle(pilot)
    await step(pilot, clock, 1.0)


async def to_done(pilot, clock: FakeClock, app: KeyturnApp) -> None:
    await to_verifying(pilot, clock, app)
    await until(pilot, clock, lambda: app.engine.phase is Phase.DONE)
    await step(pilot, clock, 1.0)


async def to_console(pilot, clock: FakeClock, app: KeyturnApp) -> None:
    await to_confirm(pilot, clock, app)
    await pilot.press("y")
    await settle(pilot)
    await step(pilot, clock, 0.5)


async def pushed(pilot, app: KeyturnApp) -> None:
    """Wait for the write the dashboard started (its `push` worker), then for the screen."""
    pushing = [w for w in app.workers if w.group == "push"]
    if pushing:
        await app.workers.wait_for_complete(pushing)
    await settle(pilot)


async def to_write(pilot, clock: FakeClock, app: KeyturnApp) -> None:
    """The Worker demo: the new key is live, the Worker serves OLD; `w` asks where to write."""
    await step(pilot, clock, 3.0)
    await pilot.press("w")
    await settle(pilot)


async def to_written(pilot, clock: FakeClock, app: KeyturnApp) -> None:
    """Written: Cloudflare serves the new version; the deployment moves over to NEW."""
    await to_write(pilot, clock, app)
    await pilot.press("y")
    await pushed(pilot, app)
    await step(pilot, clock, 2.5)


async def to_alarm(pilot, clock: FakeClock, app: KeyturnApp) -> None:
    await to_verifying(pilot, clock, app)
    await until(pilot, clock, lambda: app.engine.phase is Phase.FAILED)
    await step(pilot, clock, 1.0)


@dataclass(frozen=True)
class Scene:
    name: str
    size: tuple[int, int]
    drive: Drive
    admin: bool = True
    breaks_after_revoke: bool = False
    #: The demo with its simulated Cloudflare Worker destination (`keyturn demo`).
    worker: bool = False


SCENES = (
    Scene("propagating", (120, 34), to_propagating),
    Scene("ready", (120, 34), to_ready),
    Scene("confirm", (120, 34), to_confirm),
    Scene("verifying", (120, 34), to_verifying),
    Scene("done", (120, 34), to_done),
    Scene("narrow", (80, 48), to_propagating),
    Scene("console", (120, 40), to_console, admin=False),
    Scene("alarm", (120, 34), to_alarm, breaks_after_revoke=True),
    Scene("tiny", (40, 12), to_propagating),
    Scene("huge", (200, 60), to_ready),
    Scene("write", (120, 38), to_write, worker=True),
    Scene("written", (120, 38), to_written, worker=True),
)


def scene_app(scene: Scene) -> tuple[KeyturnApp, Callable[[object], Awaitable[None]]]:
    """A fresh dashboard for `scene` and the `run_before` that drives it there."""
    clock = FakeClock()
    demo = fixed_demo(clock, admin=scene.admin, breaks_after_revoke=scene.breaks_after_revoke,
                      staged=True, worker=scene.worker)
    app = demo_app(clock, demo)

    async def run_before(pilot) -> None:
        await settle(pilot)
        await scene.drive(pilot, clock, app)

    return app, run_before
