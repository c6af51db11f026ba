"""The dashboard and the rotation list as a new user meets them (Pilot): the bell when
Revoke unlocks and when the rotation ends, `?` on every screen, one help entry in the
palette, a long instruction shown whole at 120 columns, a key of the wrong shape refused."""

from __future__ import annotations

import dataclasses
import socket

import httpx
from textual.geometry import Region

from providers.simulated import SimulatedProvider
from tests.support_app import (
    ADMIN_KEY,
    demo_app,
    fixed_demo,
    record_notifications,
    settle,
    step,
    to_ready,
    until,
    workers_done,
)
from tui.app import KeyturnApp, RotationListApp, Session
from tui.engine import config_file
from tui.engine.audit import AuditLog
from tui.engine.rotation import Phase
from tui.screens.confirm import ConfirmationModal
from tui.screens.dashboard import DashboardScreen
from tui.screens.help import LIST_HELP, HelpScreen
from tui.widgets.event_log import EventLog
from tui.widgets.gate_bar import GateBar

SIZE = (120, 36)


def count_bells(app) -> list[int]:
    rung: list[int] = []
    app.bell = lambda: rung.append(1)
    return rung


async def test_the_bell_rings_when_revoke_unlocks_and_when_the_rotation_ends(clock):
    app = demo_app(clock, fixed_demo(clock))
    rung = count_bells(app)
    async with app.run_test(size=SIZE) as pilot:
        await step(pilot, clock, 3.0)
        assert rung == []  # propagating: nothing to say yet
        await to_ready(pilot, clock, app)
        assert len(rung) == 1
        await step(pilot, clock, 2.0)
        assert len(rung) == 1  # still open: once per opening, not per probe
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("y")
        await until(pilot, clock, lambda: app.engine.phase is Phase.DONE)
        await settle(pilot)
        assert len(rung) == 2


def visible_text(widget) -> str:
    strips = widget.render_lines(Region(0, 0, *widget.outer_size))  # with its border
    return "\n".join(strip.text.strip("│ ") for strip in strips)


async def test_the_update_references_instruction_is_shown_whole_at_120_columns(clock, tmp_path):
    demo = fixed_demo(clock)
    rotation = dataclasses.replace(demo.rotation, old="env:VISION_OLD", new="env:VISION_NEW")
    session = Session(rotation, demo.provider, demo.keys, clock=clock,
                      audit=AuditLog(tmp_path / "state"))
    app = KeyturnApp(session, tick=3600.0)
    async with app.run_test(size=SIZE) as pilot:
        await to_ready(pilot, clock, app)
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("y")
        await until(pilot, clock, lambda: app.engine.phase is Phase.DONE)
        await workers_done(app)
        await settle(pilot)
        shown = " ".join(visible_text(app.screen.query_one(EventLog)).split())
    new_fp = demo.keys.new.fingerprint
    assert (f"update your references: `old` (env:VISION_OLD) must now hold the new key "
            f"(fingerprint {new_fp}), which is in service; `new` (env:VISION_NEW) can then be "
            "emptied for the next rotation") in shown


async def test_a_new_key_of_the_wrong_shape_is_refused_in_the_dashboard(clock):
    demo = fixed_demo(clock)
    rotation = dataclasses.replace(demo.rotation, provider="anthropic")
    app = KeyturnApp(Session(rotation, demo.provider, demo.keys, clock=clock, demo=True),
                     tick=3600.0)
    notes = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        before = app.engine.keys.new
        await pilot.press("n")
        await settle(pilot)
        app.screen.query_one("#new-key").value = ADMIN_KEY
        await pilot.press("enter")
        await workers_done(app)
        await settle(pilot)
        assert app.engine.keys.new == before
    assert any("this key looks like an Anthropic admin key" in n for n in notes), notes


async def test_the_palette_has_one_help_entry_and_its_quit_asks_while_verifying(clock):
    app = demo_app(clock, fixed_demo(clock))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert titles.count("Help") == 1 and "Keys" not in titles
        await to_ready(pilot, clock, app)
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("y")
        await step(pilot, clock, 1.0)
        assert app.engine.phase is Phase.VERIFYING
        (quit_command,) = [c for c in app.get_system_commands(app.screen) if c.title == "Quit"]
        quit_command.callback()
        await settle(pilot)
        assert isinstance(app.screen, ConfirmationModal)  # asks, as `q` does
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)


def list_config(tmp_path):
    path = tmp_path / "k.toml"
    path.write_text('[rotations.alpha]\nprovider = "anthropic"\nold = "env:A_OLD"\n')
    return config_file.load(path)


async def test_question_mark_opens_help_on_the_rotation_list_too(tmp_path):
    app = RotationListApp(list_config(tmp_path))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen) and app.screen.text == LIST_HELP
        assert "keyturn init" in LIST_HELP and "update refs" in LIST_HELP
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, HelpScreen)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert titles.count("Help") == 1 and "Keys" not in titles
        await pilot.press("q")
    assert app.return_value is None


class DeploymentTrouble(httpx.AsyncBaseTransport):
    """The simulated world, with its deployment unresolvable or answering without a key."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.mode = "dns"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != "/health/probe":
            return await self.inner.handle_async_request(request)
        if self.mode == "dns":
            try:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            except socket.gaierror as exc:
                raise httpx.ConnectError("[Errno -2] Name or service not known") from exc
        return httpx.Response(200, json={"ok": True, "status": 200})


async def test_the_gate_bar_tells_no_answer_from_an_answer_without_a_key(clock):
    demo = fixed_demo(clock)
    trouble = DeploymentTrouble(demo.world.transport)
    demo.provider = SimulatedProvider(transport=trouble)
    app = demo_app(clock, demo)
    host = httpx.URL(demo.rotation.deployment).host
    async with app.run_test(size=SIZE) as pilot:
        await step(pilot, clock, 2.0)
        words = str(app.screen.query_one(GateBar).render())
        assert f"deployment did not answer (DNS: {host} does not resolve)" in words
        assert "does not report which key" not in words
        trouble.mode = "keyless"
        await step(pilot, clock, 1.0)
        words = str(app.screen.query_one(GateBar).render())
        assert "deployment does not report which key it serves" in words
        assert "did not answer" not in words
