"""Issue 5, the dashboard side: NO_COLOR, resizing while probing, the secret canary
through every state, fault and forced crash, and hostile input in the new-key field.

Most tests drive the demo on a FakeClock (fast, deterministic); the canary sweep through
real faults runs against the loopback provider server on the real clock.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from textual import events
from textual.widgets import Input

from tests.provider_server import ProviderServer
from tests.support_app import (
    INTERVAL,
    demo_app,
    fixed_demo,
    record_notifications,
    settle,
    stamp_latency,
    step,
    to_ready,
    until,
)
from tests.support_canary import (
    CANARY_ADMIN,
    CANARY_NEW,
    CANARY_OLD,
    assert_no_canary,
    leaks,
)
from tests.support_hardening import (
    HeldProbes,
    canary_demo,
    hues_in_svg,
    hues_in_terminal,
    save_shot,
    screen_text,
    terminal_output,
)
from tui.app import KeyturnApp, Session
from tui.audit import AuditLog
from tui.gate import Role
from tui.rotation import Phase
from tui.scheduler import FakeClock
from tui.screens.confirm import ConfirmationModal
from tui.screens.dashboard import DashboardScreen
from tui.screens.new_key import NewKeyModal
from tui.widgets.event_log import EventLog
from tui.widgets.gate_bar import GateBar
from tui.widgets.probe_card import ProbeCard

CANARIES = (CANARY_OLD, CANARY_NEW, CANARY_ADMIN)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    clock = FakeClock()
    stamp_latency(monkeypatch, clock)
    return clock


def log_text(app) -> str:
    return "\n".join(line.plain for line in app.screen.query_one(EventLog).lines)


def dashboard_of(app) -> DashboardScreen:
    for screen in app.screen_stack:
        if isinstance(screen, DashboardScreen):
            return screen
    raise AssertionError("no dashboard on the screen stack")


# -- NO_COLOR -------------------------------------------------------------------------------


@pytest.mark.parametrize("no_color", [True, False], ids=["NO_COLOR", "control-in-colour"])
async def test_no_color_draws_in_grey_and_the_words_still_say_everything(
    no_color, clock, monkeypatch, tmp_path,
):
    """With NO_COLOR the terminal output and a saved screenshot carry no hue at all, and
    every state still reads in words: colour cannot carry meaning. The control run in
    colour proves the hue check can fail."""
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    app = demo_app(clock, fixed_demo(clock))
    shots: dict[str, tuple[str, str, str]] = {}

    def shoot(name: str) -> None:
        shots[name] = (terminal_output(app), save_shot(app, tmp_path, name), screen_text(app))

    # notifications=True: run_test hides toasts unless asked, and a toast is colour-coded.
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await step(pilot, clock, 1.0)
        await pilot.press("r")  # locked: a warning toast explains why
        await settle(pilot)
        await pilot.pause()  # the toast is mounted after the next refresh
        shoot("locked")
        await to_ready(pilot, clock, app)
        shoot("ready")
        await pilot.press("r")
        await settle(pilot)
        shoot("confirm")
        await pilot.press("y")
        await settle(pilot)
        await until(pilot, clock, lambda: app.engine.phase is Phase.DONE)
        await settle(pilot)
        shoot("done")
    assert app.no_color is no_color
    for name, (terminal, svg, _) in shots.items():
        hues = hues_in_terminal(terminal) | hues_in_svg(svg)
        if no_color:
            assert not hues, f"{name}: colours with a hue under NO_COLOR: {sorted(hues)[:5]}"
        else:
            assert hues, f"{name}: the control run drew no colour at all"
    words = {name: shot[2] for name, shot in shots.items()}
    assert "REVOKE LOCKED" in words["locked"] and "Revoke is locked" in words["locked"]
    assert "NOT PROBED YET" not in words["locked"]
    assert "READY" in words["ready"] and "REVOKE UNLOCKED" in words["ready"]
    assert "LIVE" in words["ready"] and "streak 5/5" in words["ready"]
    assert "Revoke the OLD key?" in words["confirm"]
    assert "DONE" in words["done"] and "REJECTED" in words["done"]
    assert "streak 5/5 refused" in words["done"]
    # The history strip tells verdicts apart by glyph as well as by colour.
    assert "●" in words["done"] and "✕" in words["done"]


# -- resize while probing ----------------------------------------------------------------------

SIZES = [(200, 60), (40, 12), (80, 24), (99, 30), (100, 30), (60, 16), (160, 48), (20, 6),
         (120, 36)]


async def test_resizing_while_probes_are_in_flight_never_crashes_and_the_rotation_completes(clock):
    demo = fixed_demo(clock)
    app = demo_app(clock, demo)
    held = HeldProbes(demo.provider)
    async with app.run_test(size=(200, 60)) as pilot:
        await step(pilot, clock, 1.0)
        for i, (width, height) in enumerate(SIZES):
            if i % 2 == 0:
                held.hold()  # the next probes stay in flight across the resize
            await clock.advance(INTERVAL)
            await pilot.resize_terminal(width, height)
            if i % 2 == 0:
                assert held.in_flight > 0, "no probe was in flight during the resize"
            held.release()
            await settle(pilot)
            screen = dashboard_of(app)
            assert app.size == (width, height)
            narrow = width < 100
            assert screen.has_class("-narrow") is narrow, (width, screen.classes)
            assert all(card.compact is narrow for card in screen.query(ProbeCard))
            # The gate bar and the phase stay in sight at every size.
            gate = screen.query_one(GateBar)
            assert gate.region.y < height and gate.region.height >= 1
            assert app.engine.phase.value.upper()[: max(1, width - 4)] in screen_text(app)
        # Probing went on through all of it, and the rotation can still be finished.
        assert app.engine.tracks[Role.NEW].probes >= len(SIZES)
        await pilot.resize_terminal(40, 12)
        await to_ready(pilot, clock, app)
        await pilot.resize_terminal(200, 60)
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmationModal)
        await pilot.resize_terminal(40, 12)  # the question survives a resize too
        await settle(pilot)
        assert isinstance(app.screen, ConfirmationModal)
        await pilot.press("y")
        await settle(pilot)
        for width, height in ((80, 24), (200, 60), (40, 12)):
            await pilot.resize_terminal(width, height)
            await step(pilot, clock, INTERVAL)
        await until(pilot, clock, lambda: app.engine.phase is Phase.DONE)
        await settle(pilot)
        assert "DONE" in screen_text(app)
    assert app.return_code in (None, 0)
    assert len([c for c in demo.world.revoke_calls()]) == 1
