"""The TRAFFIC view and the dashboard's way round the usage rule: two confirmations, each
repeating the provider's figure, and the audit log. The demo on a FakeClock, with a stray
user of the OLD key (a cron job) from world second 8, after the deployment moved to NEW."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Button

from tests.support_app import demo_app, fixed_demo, settle, stamp_latency, step, until
from tui.engine.audit import AuditLog
from tui.engine.scheduler import FakeClock
from tui.screens.confirm import ConfirmationModal
from tui.screens.dashboard import DashboardScreen
from tui.screens.usage_override import VIA
from tui.widgets.traffic import TrafficView

SIZE = (120, 36)
FIGURE = "the provider counted 41,000 tokens on the OLD key at "


def stray_demo(clock: FakeClock, admin: bool = True):
    demo = fixed_demo(clock, admin=admin)
    if admin:
        demo.world.usage.stray(demo.world.keys[demo.world.old].id, world_from=8.0)
    return demo


def traffic(app) -> str:
    return str(app.query_one(TrafficView).render())


async def test_the_count_locks_revoke_and_two_confirmations_set_it_aside(
    clock: FakeClock, tmp_path: Path
) -> None:
    app = demo_app(clock, stray_demo(clock))
    app.engine.audit = AuditLog(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, clock, lambda: bool(app.engine.usage_lock), limit=40)
        await settle(pilot)
        shown = traffic(app)
        assert "Revoke locked: " + FIGURE in shown
        assert "report to 12:" in shown and "not yet counted" in shown
        assert "last used 12:" in shown and "tokens since the switch" in shown
        assert app.query_one("#revoke", Button).disabled
        # r: the first question, with the figure ...
        await pilot.press("r")
        await settle(pilot)
        first = app.screen
        assert isinstance(first, ConfirmationModal) and FIGURE in first.body
        assert "You will be asked once more" in first.body
        await pilot.press("y")
        await settle(pilot)
        # ... and the second, with the figure again; only then is it set aside.
        second = app.screen
        assert isinstance(second, ConfirmationModal) and second is not first
        assert FIGURE in second.body and app.engine.usage_ignored is None
        await pilot.press("y")
        await settle(pilot)
        assert app.engine.usage_ignored == VIA
        await until(pilot, clock, lambda: app.engine.can_revoke, limit=5)
        assert f"set aside ({VIA}): " + FIGURE in traffic(app)
        await pilot.press("r")
        await settle(pilot)
        confirm = app.screen
        assert isinstance(confirm, ConfirmationModal) and confirm.title_text == "Revoke the OLD key?"
        assert "You set the provider's count aside: " + FIGURE in confirm.body
        await pilot.press("n")
        await settle(pilot)
    (override,) = [e for e in AuditLog(tmp_path).events() if e["event"] == "usage_override"]
    assert override["detail"].startswith(f"set aside by {VIA}: " + FIGURE)


async def test_no_at_either_confirmation_keeps_revoke_locked(clock: FakeClock) -> None:
    app = demo_app(clock, stray_demo(clock))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, clock, lambda: bool(app.engine.usage_lock), limit=40)
        for answers in (("n",), ("y", "n")):
            await pilot.press("r")
            await settle(pilot)
            for answer in answers:
                await pilot.press(answer)
                await settle(pilot)
            assert isinstance(app.screen, DashboardScreen)
            await step(pilot, clock, 1.0)
            assert app.engine.usage_ignored is None and not app.engine.can_revoke
            assert "Revoke locked: " + FIGURE in traffic(app)


async def test_without_an_admin_key_the_view_says_what_one_would_add(clock: FakeClock) -> None:
    app = demo_app(clock, stray_demo(clock, admin=False))
    async with app.run_test(size=SIZE) as pilot:
        await step(pilot, clock, 2.0)
        assert "No admin key: with one, keyturn reads the provider's own per-key count" \
            in traffic(app)
        assert app.query_one(TrafficView).has_class("-off")


def test_traffic_snapshot(snap_compare, monkeypatch) -> None:
    """The TRAFFIC view locking Revoke: OLD's bars past the switch, the uncounted minutes."""
    stamp_latency(monkeypatch, FakeClock())
    clock = FakeClock()
    app = demo_app(clock, stray_demo(clock))

    async def run_before(pilot) -> None:
        await settle(pilot)
        await until(pilot, clock, lambda: bool(app.engine.usage_lock), limit=40)
        await step(pilot, clock, 4.0)

    assert snap_compare(app, terminal_size=(120, 34), run_before=run_before)
