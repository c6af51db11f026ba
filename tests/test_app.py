"""Pilot tests: the dashboard over the simulated provider, driven by the keyboard.

Time is a FakeClock: `step()` moves it one probe interval at a time, so a whole
propagation window takes milliseconds and every run sees the same answers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re

import httpx
import pytest
from textual.widgets import Button, Static

from providers.simulated import SimulatedProvider
from tests.support_app import (
    INTERVAL,
    STREAK,
    demo_app,
    fixed_demo,
    frame,
    record_notifications,
    settle,
    step,
    to_confirm,
    to_ready,
    until,
    workers_done,
)
from tui.engine.gate import Role
from tui.engine.rotation import Phase
from tui.screens.confirm import ConfirmationModal
from tui.screens.dashboard import DashboardScreen
from tui.screens.help import HelpScreen
from tui.screens.new_key import NewKeyModal
from tui.widgets.event_log import EventLog
from tui.widgets.gate_bar import GateBar
from tui.widgets.key_bar import KeyBar
from tui.widgets.probe_card import ProbeCard

SIZE = (120, 36)


def dashboard(app) -> DashboardScreen:
    screen = app.screen
    assert isinstance(screen, DashboardScreen), f"expected the dashboard, got {screen!r}"
    return screen


def revoke_button(app) -> Button:
    return app.query_one("#revoke", Button)


def footer_revoke_dimmed(app) -> bool:
    """What the Footer draws for `r`: present, and dimmed when not enabled."""
    active = app.screen.active_bindings
    assert "r" in active, "the Footer shows no r binding"
    return not active["r"].enabled


def gate_words(app) -> str:
    return str(app.screen.query_one(GateBar).render())


async def test_revoke_stays_locked_through_the_window_and_unlocks_on_the_nth_live_answer(clock):
    demo = fixed_demo(clock)
    app = demo_app(clock, demo)
    async with app.run_test(size=SIZE) as pilot:
        deployment = app.engine.tracks[Role.DEPLOYMENT]
        new_fp = demo.keys.new.fingerprint
        saw_old_in_window = False
        streak_when_unlocked = None
        for _ in range(int(30 / INTERVAL)):
            await step(pilot, clock, INTERVAL)
            screen = dashboard(app)
            last = deployment.last
            if last is not None and last.served_fingerprint != new_fp:
                saw_old_in_window = True
            if not screen.revoke_allowed:
                # Locked: the button, the Footer and the gate bar all say so.
                assert revoke_button(app).disabled
                assert footer_revoke_dimmed(app)
                assert "REVOKE LOCKED" in gate_words(app)
                continue
            streak_when_unlocked = (app.engine.tracks[Role.NEW].streak, deployment.streak)
            break
        assert saw_old_in_window, "the deployment never served OLD: no propagation window was watched"
        # Unlocked on the N-th consecutive live answer on NEW, not one earlier or later.
        assert streak_when_unlocked is not None and streak_when_unlocked[1] == STREAK
        assert streak_when_unlocked[0] >= STREAK
        assert not revoke_button(app).disabled
        assert not footer_revoke_dimmed(app)
        assert "REVOKE UNLOCKED" in gate_words(app)
        assert app.engine.phase is Phase.READY


@pytest.mark.parametrize("status", [500, 401])
async def test_a_failure_before_confirming_locks_revoke_again(clock, status):
    demo = fixed_demo(clock)
    app = demo_app(clock, demo)
    async with app.run_test(size=SIZE) as pilot:
        await to_ready(pilot, clock, app)
        assert not revoke_button(app).disabled
        demo.world.forced[demo.keys.new.fingerprint] = [status]
        await step(pilot, clock, INTERVAL)
        screen = dashboard(app)
        assert not screen.revoke_allowed
        assert revoke_button(app).disabled
        assert footer_revoke_dimmed(app)
        assert f"new key 0/{STREAK} live" in gate_words(app)
        await pilot.press("r")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmationModal)
        assert demo.world.revoke_calls() == []


async def test_r_while_locked_opens_no_modal_and_says_why(clock):
    demo = fixed_demo(clock)
    app = demo_app(clock, demo)
    notes = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await step(pilot, clock, 3.0)
        assert app.engine.phase is Phase.PROPAGATING
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        assert len(app.screen_stack) == 1
        assert any(n.startswith("Revoke is locked:") and "live" in n for n in notes), notes
        await pilot.click("#revoke")  # the disabled button does nothing either
        await settle(pilot)
        assert len(app.screen_stack) == 1
        assert demo.world.revoke_calls() == []


async def test_the_gate_shutting_while_the_confirmation_is_open_withdraws_it(clock):
    demo = fixed_demo(clock)
    app = demo_app(clock, demo)
    async with app.run_test(size=SIZE) as pilot:
        await to_confirm(pilot, clock, app)
        assert isinstance(app.screen, ConfirmationModal)
        demo.world.forced[demo.keys.new.fingerprint] = [500]
        await step(pilot, clock, INTERVAL)
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("y")
        await step(pilot, clock, INTERVAL)
        assert demo.world.revoke_calls() == []
        assert app.engine.phase is Phase.PROPAGATING


async def test_confirm_revokes_once_then_verifying_then_done(clock):
    demo = fixed_demo(clock)
    app = demo_app(clock, demo)
    async with app.run_test(size=SIZE) as pilot:
        await to_confirm(pilot, clock, app)
        modal = app.screen
        assert isinstance(modal, ConfirmationModal)
        body = str(modal.query_one("#body", Static).render())
        old = demo.keys.old
        assert old.masked in body and old.fingerprint in body
        await pilot.press("y")
        await settle(pilot)
        await step(pilot, clock, INTERVAL)
        calls = demo.world.revoke_calls()
        assert [c.status for c in calls] == ["inactive"]
        assert app.engine.phase is Phase.VERIFYING
        assert "VERIFYING" in gate_words(app)
        await pilot.press("r")  # a second press does nothing: one key is never revoked twice
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        await until(pilot, clock, lambda: app.engine.phase is Phase.DONE)
        await settle(pilot)
        assert len(demo.world.revoke_calls()) == 1
        assert "DONE" in gate_words(app)
        assert app.engine.tracks[Role.OLD].last.verdict.value == "rejected"


@pytest.mark.parametrize("key", ["n", "escape"])
async def test_cancel_makes_no_admin_call(clock, key):
    demo = fixed_demo(clock)
    app = demo_app(clock, demo)
    async with app.run_test(size=SIZE) as pilot:
        await to_confirm(pilot, clock, app)
        assert isinstance(app.screen, ConfirmationModal)
        await pilot.press(key)
        await step(pilot, clock, 3.0)
        assert isinstance(app.screen, DashboardScreen)
        assert demo.world.revoke_calls() == []
        # The only admin calls: the usage report's lookups of the OLD and NEW keys' ids.
        assert [c.method for c in demo.world.admin_calls] == ["GET", "GET"]
        assert app.engine.phase is Phase.READY


async def test_manual_path_shows_console_steps_and_c_starts_verifying(clock):
    demo = fixed_demo(clock, admin=False)
    app = demo_app(clock, demo)
    async with app.run_test(size=SIZE) as pilot:
        await to_ready(pilot, clock, app)
        assert dashboard(app).check_action("console_done", ()) is False  # hidden until asked
        await pilot.press("r", "y")
        await settle(pilot)
        assert app.engine.phase is Phase.REVOKING
        steps = str(app.query_one("#console-steps", Static).render())
        old = demo.keys.old
        assert old.masked in steps and old.fingerprint in steps and "console" in steps
        assert app.query_one("#console-steps").display
        assert demo.world.admin_calls == []  # no admin key: keyturn does not call the API
        # The user revokes the key in the provider's console, then says so with `c`.
        key_id = demo.world.keys[demo.world.old].id
        demo.world.set_status(key_id, "inactive")
        await pilot.press("c")
        await settle(pilot)
        assert app.engine.phase is Phase.VERIFYING
        assert not app.query_one("#console-steps").display
        await until(pilot, clock, lambda: app.engine.phase is Phase.DONE)
        assert demo.world.admin_calls == []


async def test_rollback_alarm_and_reactivate_needs_its_own_confirmation(clock):
    demo = fixed_demo(clock, breaks_after_revoke=True)
    app = demo_app(clock, demo)
    async with app.run_test(size=SIZE) as pilot:
        await to_ready(pilot, clock, app)
        await pilot.press("r", "y")
        await settle(pilot)
        await until(pilot, clock, lambda: app.engine.phase is Phase.FAILED)
        await settle(pilot)
        words = gate_words(app)
        assert "ALARM" in words and "press a" in words
        assert app.query_one("#reactivate").display
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmationModal)
        await pilot.press("n")  # cancelled: nothing changes
        await settle(pilot)
        assert [c.status for c in demo.world.revoke_calls()] == ["inactive"]
        await pilot.press("a", "y")
        await settle(pilot)
        await step(pilot, clock, INTERVAL)
        assert [c.status for c in demo.world.revoke_calls()] == ["inactive", "active"]
        assert app.engine.phase is Phase.ROLLED_BACK
        assert "ROLLED BACK" in gate_words(app)


async def test_new_key_is_entered_in_a_password_field_and_probed_at_once(clock):
    demo = fixed_demo(clock)
    app = demo_app(clock, demo)
    notes = record_notifications(app)
    typed = "sk-ant-api03-" + "typedKEY" * 10 + "ZZ"
    async with app.run_test(size=SIZE) as pilot:
        await step(pilot, clock, 1.0)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, NewKeyModal)
        field = app.screen.query_one("#new-key")
        assert field.password
        field.value = typed
        await pilot.press("enter")
        await workers_done(app)
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        from providers.keys import fingerprint

        assert app.engine.keys.new.fingerprint == fingerprint(typed)
        assert any("held in memory" in n for n in notes), notes
        await step(pilot, clock, INTERVAL)
        # The simulated provider does not know the typed key: it is refused, not trusted.
        assert app.engine.tracks[Role.NEW].last.verdict.value == "rejected"
        assert typed not in "".join(notes)


async def test_new_key_equal_to_the_old_one_is_refused(clock):
    demo = fixed_demo(clock)
    app = demo_app(clock, demo)
    notes = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        before = app.engine.keys.new
        await pilot.press("n")
        await settle(pilot)
        app.screen.query_one("#new-key").value = demo.world.old
        await pilot.press("enter")
        await workers_done(app)
        await settle(pilot)
        assert app.engine.keys.new == before
        assert any("that is the old key" in n for n in notes)


async def test_pause_stops_probing_and_resume_restarts_it(clock):
    demo = fixed_demo(clock)
    app = demo_app(clock, demo)
    async with app.run_test(size=SIZE) as pilot:
        await step(pilot, clock, 1.0)
        await pilot.press("p")
        await settle(pilot)
        before = demo.world.requests
        await step(pilot, clock, 3.0)
        assert demo.world.requests == before
        assert "PAUSED" in str(app.screen.query_one("#header").render())
        await pilot.press("p")
        await step(pilot, clock, 1.0)
        assert demo.world.requests > before


async def test_quit_asks_first_while_verifying(clock):
    demo = fixed_demo(clock)
    app = demo_app(clock, demo)
    async with app.run_test(size=SIZE) as pilot:
        await to_ready(pilot, clock, app)
        await pilot.press("r", "y")
        await step(pilot, clock, INTERVAL)
        assert app.engine.phase is Phase.VERIFYING
        await pilot.press("q")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmationModal)
        await pilot.press("n")
        await settle(pilot)
        assert app.is_running and isinstance(app.screen, DashboardScreen)
        await pilot.press("q", "y")
        await settle(pilot)
        assert not app.is_running or app._exit_renderables == []


async def test_quit_without_asking_before_revoke(clock):
    demo = fixed_demo(clock)
    app = demo_app(clock, demo)
    async with app.run_test(size=SIZE) as pilot:
        await step(pilot, clock, 1.0)
        await pilot.press("q")
        await settle(pilot)
    assert app.return_code == 0


async def test_command_palette_lists_the_dashboard_actions(clock):
    demo = fixed_demo(clock)
    app = demo_app(clock, demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for title in ("Revoke old key", "Enter new key", "Pause / resume probing", "Help"):
            assert title in titles
        assert "Done in the console" not in titles  # not applicable: hidden, like the Footer


async def test_narrow_terminal_stacks_the_cards(clock):
    demo = fixed_demo(clock)
    app = demo_app(clock, demo)
    async with app.run_test(size=(90, 40)) as pilot:
        await step(pilot, clock, 1.0)
        frame(app)
        old, new = app.query_one("#card-old"), app.query_one("#card-new")
        assert new.region.y > old.region.y and new.region.x == old.region.x
        await pilot.resize_terminal(140, 40)
        await settle(pilot)
        frame(app)
        old, new = app.query_one("#card-old"), app.query_one("#card-new")
        assert new.region.y == old.region.y and new.region.x > old.region.x


async def test_revoke_locks_while_probing_is_paused(clock):
    demo = fixed_demo(clock)
    app = demo_app(clock, demo)
    notes = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await to_ready(pilot, clock, app)
        await pilot.press("p")
        await settle(pilot)
        assert revoke_button(app).disabled and footer_revoke_dimmed(app)
        assert "PAUSED" in gate_words(app)
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        assert any("paused" in n for n in notes), notes
        await pilot.press("p")
        await step(pilot, clock, INTERVAL)
        assert not revoke_button(app).disabled


class HeldTransport(httpx.AsyncBaseTransport):
    """Holds every request until released: a provider that does not answer."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.waiting = 0
        self.released: asyncio.Event | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.released = self.released or asyncio.Event()
        self.waiting += 1
        await self.released.wait()
        return await self.inner.handle_async_request(request)


async def test_keys_work_while_every_probe_hangs(clock):
    demo = fixed_demo(clock)
    held = HeldTransport(demo.world.transport)
    demo.provider = SimulatedProvider(transport=held)
    demo.rotation = dataclasses.replace(demo.rotation, timeout=60.0)
    app = demo_app(clock, demo)
    async with app.run_test(size=SIZE) as pilot:
        await step(pilot, clock, 1.0)
        # OLD, NEW, the deployment and the usage report's first key lookup: all in flight.
        assert held.waiting == 4
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "p")
        await settle(pilot)
        assert app.engine.paused and "PAUSED" in str(app.screen.query_one("#header").render())
        assert all(track.probes == 0 for track in app.engine.tracks.values())
        held.released.set()
        await pilot.press("p")
        await step(pilot, clock, 1.0)
        assert app.engine.tracks[Role.NEW].probes > 0


async def test_without_a_new_key_n_enters_it_and_the_rotation_proceeds(clock):
    demo = fixed_demo(clock)
    demo.keys.new = None  # configured rotation with an empty NEW slot: not rotating yet
    app = demo_app(clock, demo)
    async with app.run_test(size=SIZE) as pilot:
        await step(pilot, clock, 2.0)
        card = str(app.query_one("#card-new", ProbeCard).facts)
        assert "no new key yet" in card and "press n" in card
        assert "no new key yet" in gate_words(app)
        assert app.engine.phase is Phase.WAITING
        await pilot.press("n")
        await settle(pilot)
        app.screen.query_one("#new-key").value = demo.world.new
        await pilot.press("enter")
        await workers_done(app)
        await settle(pilot)
        await step(pilot, clock, INTERVAL)
        assert app.engine.tracks[Role.NEW].probes >= 1  # probed at once, not at the next start
        await to_ready(pilot, clock, app)
        assert not revoke_button(app).disabled


# -- the key bar, and cards that repaint only what their answers changed --------------------


def key_offset(bar: KeyBar, label: str) -> int:
    """The column of `label` (e.g. ` p `) in the key bar as drawn."""
    drawn = str(bar.render())
    assert label in drawn, drawn
    return drawn.index(label) + 1


async def test_the_key_bar_shows_the_keys_and_a_click_presses_one(clock):
    demo = fixed_demo(clock)
    app = demo_app(clock, demo)
    async with app.run_test(size=SIZE) as pilot:
        await step(pilot, clock, INTERVAL)
        bar = app.screen.query_one(KeyBar)
        drawn = bar.render()
        for words in ("r Revoke", "n New key", "p Pause/resume", "? Help", "q Quit", "^p palette"):
            assert words in str(drawn), str(drawn)
        # Locked: `r` is dimmed, and a click on it asks nothing.
        r_at = key_offset(bar, " r ")
        assert any(span.style and "dim" in str(span.style) for span in drawn.spans
                   if span.start <= r_at < span.end)
        await pilot.click(KeyBar, offset=(r_at, 0))
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        await pilot.click(KeyBar, offset=(key_offset(bar, " p "), 0))
        await settle(pilot)
        assert app.engine.paused
        await pilot.click(KeyBar, offset=(key_offset(bar, " p "), 0))
        await until(pilot, clock, lambda: app.engine.can_revoke)
        await pilot.click(KeyBar, offset=(key_offset(bar, " r "), 0))
        await settle(pilot)
        assert isinstance(app.screen, ConfirmationModal)


async def test_a_card_whose_key_backs_off_still_counts_the_seconds(clock):
    """Cards are drawn when their own answer comes; one that waits out a 429 must not
    keep saying `0s ago` while the others answer."""
    demo = fixed_demo(clock)
    demo.world.retry_after = "30"
    app = demo_app(clock, demo)
    async with app.run_test(size=SIZE) as pilot:
        await step(pilot, clock, 2.0)
        demo.world.forced[demo.keys.new.fingerprint] = [429]
        await step(pilot, clock, INTERVAL)
        new_card = app.screen.query_one("#card-new", ProbeCard)
        assert "THROTTLED" in str(new_card.facts)
        await step(pilot, clock, 6.0)
        facts = str(new_card.facts)
        assert "THROTTLED" in facts and "6s ago" in facts, facts
        assert "0s ago" in str(app.screen.query_one("#card-old", ProbeCard).facts)


async def test_a_card_draws_one_bar_and_one_glyph_per_probe(clock):
    demo = fixed_demo(clock)
    app = demo_app(clock, demo)
    async with app.run_test(size=SIZE) as pilot:
        await step(pilot, clock, 3.0)
        card = app.screen.query_one("#card-old", ProbeCard)
        lines = str(card.render()).split("\n")
        probes = app.engine.tracks[Role.OLD].probes
        strip, bars = lines[-1], lines[-3:-1]
        assert strip == "●" * probes
        assert all(len(row.rstrip()) <= probes for row in bars)
        assert len(bars[1].rstrip()) == probes  # every probe has at least its lowest bar


async def test_the_deployment_card_and_the_gate_show_the_evidence_of_a_staged_rollout(clock):
    """The demo as users see it: 50 % → 90 % (from 4 s) → 100 % NEW (from 10 s). The card
    says when OLD was last seen, how many NEW samples since, the bound and the mix; the
    gate bar what is missing."""
    from tui.widgets.deployment_card import DeploymentCard

    demo = fixed_demo(clock, staged=True)
    app = demo_app(clock, demo)
    async with app.run_test(size=SIZE) as pilot:
        card = app.screen.query_one(DeploymentCard)
        await step(pilot, clock, 7.0)  # inside the 90/10 stage
        facts = str(card.facts)
        assert "OLD last seen 0s ago" in facts and "NEW 0 of 982 since OLD" in facts, facts
        assert "OLD share < 100 % (95 %)" in facts and "max_old_share 1 %" in facts
        old, new = (int(n) for n in re.search(r"mix OLD (\d+) · NEW (\d+)", facts).groups())
        assert old + new == 200 and 5 <= old <= 40, facts  # about 10 % of the last 200
        assert "REVOKE LOCKED" in gate_words(app)
        await step(pilot, clock, 11.0 - 7.0)  # OLD last seen at 9.5 s; 3 ticks of 40 NEW since
        facts = str(card.facts)
        assert "OLD last seen 1s ago" in facts, facts
        assert "NEW 120 of 982 since OLD · ~11s more" in facts, facts
        assert "OLD share < 7.9 % (95 %)" in facts, facts
        words = gate_words(app)
        assert ("OLD may still carry up to 7.9 % of traffic: 120 of 982 NEW samples since OLD "
                "was last seen, about 11 s more") in words, words
        await until(pilot, clock, lambda: app.engine.phase is Phase.READY)
        facts = str(card.facts)
        assert re.search(r"NEW \d+ ≥ 982 since OLD", facts) and "OLD share < 0.9" in facts, facts
        assert "REVOKE UNLOCKED" in gate_words(app)


async def test_a_line_of_the_run_while_the_screen_closes_is_dropped_not_a_crash(clock):
    """Quitting as the rotation ends: Textual removes the dashboard's widgets before it
    stops the rotation run, which may still be writing the report and saying so (seen
    in CI as exit-4 `NoMatches: EventLog` from the run's `report:` line)."""
    app = demo_app(clock, fixed_demo(clock))
    async with app.run_test(size=SIZE) as pilot:
        await step(pilot, clock, 1.0)
        screen = app.screen
        await screen.query_one(EventLog).remove()
        assert screen.closing
        screen.say("report: /somewhere/report.md")  # raised NoMatches before
        await settle(pilot)
        assert app._exception is None
