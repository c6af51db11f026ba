"""The dashboard's write keys on the demo's simulated Worker (Pilot, FakeClock).

`w` lists the destinations before writing NEW; the rollout line under the DEPLOYMENT card
shows Cloudflare's word and keyturn's write; `u` writes OLD back before the revoke and
is refused after it, saying so; a Worker in a gradual deployment is asked about.
"""

from __future__ import annotations

from tests.support_app import (
    ADMIN_KEY,
    INTERVAL,
    NEW_KEY,
    OLD_KEY,
    STREAK,
    demo_app,
    pushed,
    record_notifications,
    settle,
    step,
    until,
)
from tui.engine.demo import build_demo
from tui.engine.rotation import Phase
from tui.screens.confirm import ConfirmationModal
from tui.widgets.event_log import EventLog
from tui.widgets.worker_rollout import WorkerRollout


def worker_demo(clock):
    """The Worker demo, its deployment asked once a tick with the bound off: these tests
    are about writing keys (the bound has its own tests, test_rollout.py)."""
    return build_demo(clock=clock.now, latency=(0, 0), interval=INTERVAL, timeout=0.4,
                      streak=STREAK, keys=(OLD_KEY, NEW_KEY, ADMIN_KEY), worker=True,
                      samples=1, max_old_share=1.0)


def rollout_text(app) -> str:
    return str(app.screen.query_one(WorkerRollout).render())


def puts(demo) -> int:
    return sum(1 for method, path in demo.worker.calls if method == "PUT")


async def test_w_lists_the_destinations_writes_new_and_the_card_line_follows(clock) -> None:
    demo = worker_demo(clock)
    app = demo_app(clock, demo)
    async with app.run_test(size=(120, 40)) as pilot:
        await step(pilot, clock, 3.0)
        assert "NEW key not written to Worker demo-worker" in app.engine.gate.summary
        assert "keyturn has not written the key there" in rollout_text(app)
        await pilot.press("w")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, ConfirmationModal)
        assert "1. Worker demo-worker (ANTHROPIC_API_KEY)" in modal.body
        assert puts(demo) == 0  # nothing before the answer
        await pilot.press("y")
        await pushed(pilot, app)
        assert puts(demo) == 1
        assert "by a secret change" in rollout_text(app) and "NEW written" in rollout_text(app)
        assert "written to 1 of 1 destinations" in str(app.screen.query_one(EventLog).render())
        await until(pilot, clock, lambda: app.engine.phase is Phase.READY)


async def test_u_writes_old_back_before_the_revoke_and_is_refused_after_it(clock) -> None:
    demo = worker_demo(clock)
    app = demo_app(clock, demo)
    async with app.run_test(size=(120, 40)) as pilot:
        seen = record_notifications(app)
        await step(pilot, clock, 1.0)
        for key in ("w", "y"):
            await pilot.press(key)
            await settle(pilot)
        await pushed(pilot, app)
        assert demo.world.rollout is not None  # the simulated app rolls out to NEW

        await pilot.press("u")  # the undo: the Worker goes back to OLD, Revoke stays locked
        await settle(pilot)
        assert "Write the OLD key back (undo)?" in app.screen.title_text
        await pilot.press("y")
        await pushed(pilot, app)
        assert demo.world.rollout is None  # the simulated app serves OLD again
        assert demo.world.switch_at == float("inf")
        assert "OLD written" in rollout_text(app)
        assert "NEW key not written to Worker demo-worker" in app.engine.gate.summary

        # Once the old key's revoke went out, `u` is refused and says why.
        app.engine.revoked.add(app.engine.keys.old.fingerprint)
        calls = puts(demo)
        await pilot.press("u")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmationModal)
        assert any("Not written: refused: the OLD key" in s and "was revoked" in s for s in seen)
        assert puts(demo) == calls


async def test_a_worker_in_a_gradual_deployment_is_asked_about_and_can_be_left(clock) -> None:
    demo = worker_demo(clock)
    worker = demo.worker
    first = worker.versions[0]
    second = worker._version(demo.world.old, worker.now())
    worker.deployments.insert(0, ("dep-gradual", worker.now(), "deployment",
                                  [(second.id, 30.0), (first.id, 70.0)]))
    app = demo_app(clock, demo)
    async with app.run_test(size=(120, 40)) as pilot:
        await step(pilot, clock, 1.0)
        for key in ("w", "y"):
            await pilot.press(key)
            await settle(pilot)
        for _ in range(100):
            if isinstance(app.screen, ConfirmationModal):
                break
            await settle(pilot)
        question = app.screen
        assert isinstance(question, ConfirmationModal)
        assert question.title_text == "Write to a Worker in a gradual deployment?"
        shares = f"30 % on version {second.id[:8]}…, 70 % on version {first.id[:8]}…"
        assert shares in question.body
        await pilot.press("n")
        await pushed(pilot, app)
        assert puts(demo) == 0
        assert "written to 0 of 1 destinations" in str(app.screen.query_one(EventLog).render())


async def test_a_rotation_without_destinations_shows_no_write_key(clock) -> None:
    from tests.support_app import fixed_demo

    app = demo_app(clock, fixed_demo(clock))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.screen.check_action("write_new", ()) is False
        assert not app.screen.query(WorkerRollout)


async def test_without_a_deployment_url_the_rollout_line_still_shows(clock) -> None:
    from dataclasses import replace

    demo = worker_demo(clock)
    demo.rotation = replace(demo.rotation, deployment=None)
    app = demo_app(clock, demo)
    async with app.run_test(size=(120, 40)) as pilot:
        await step(pilot, clock, 6.0)  # the Worker's deployments are read every 5 s
        assert "Worker demo-worker: 100 % on version" in rollout_text(app)
        assert "by an upload" in rollout_text(app)
