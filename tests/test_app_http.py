"""The dashboard end to end over real HTTP: a loopback server that behaves like Anthropic
(probe, admin API, deployment), a config file with env: references, the real clock.

Start to done from the keyboard: the deployment switches to the NEW key, the gate opens,
`r` `y` revokes through the admin API once, the old key is refused, phase `done`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support_app import frame, settle, sure_timeout
from tests.support_canary import CANARY_ADMIN, CANARY_NEW, CANARY_OLD, assert_no_canary
from tests.support_server import canary_server
from tui.app import KeyturnApp, session_for
from tui.engine import config_file
from tui.engine.rotation import Phase
from tui.screens.confirm import ConfirmationModal
from tui.widgets.event_log import EventLog


async def wait_until(pilot, predicate, timeout: float = 15.0) -> None:
    """Wait until a condition on the engine holds (checked on every engine event; the
    probes run on the real clock) up to `timeout`, then let the screen catch up."""
    engine = pilot.app.engine
    if not await engine.wait_until(predicate, timeout):
        await settle(pilot)
        raise AssertionError(f"not met in {timeout}s: phase {engine.phase}, gate "
                             f"{engine.gate.summary}, log {log_text(pilot.app)[-1500:]!r}")
    await settle(pilot)


async def reported(pilot) -> None:
    """Done: the dashboard writes the report in a worker thread, which logs its path."""
    await settle(pilot)  # the `done` phase message handled: the worker is started
    await pilot.app.workers.wait_for_complete()
    await settle(pilot)


def write_config(tmp_path, server) -> object:
    path = tmp_path / "keyturn.toml"
    path.write_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        "[rotations.loopback]\n"
        'provider = "anthropic"\n'
        'old = "env:LB_OLD"\nnew = "env:LB_NEW"\nadmin = "env:LB_ADMIN"\n'
        f'base_url = "{server.base_url}"\ndeployment = "{server.deployment_url}"\n'
        # hold: a probe timing out on a loaded test machine is no evidence, and must not
        # re-lock the gate between the test's steps. (The tests raise the timeout itself
        # to 1 s past the config: support_app.sure_timeout.)
        'interval = 0.3\ntimeout = 0.25\nstreak = 3\nindeterminate = "hold"\n'
        # One deployment answer a tick, the bound off: this is about the dashboard over HTTP.
        "samples = 1\nmax_old_share = 1.0\n",
        encoding="utf-8",
    )
    return config_file.load(path)


@pytest.fixture
def server(monkeypatch):
    with canary_server(monkeypatch, "LB") as server:
        yield server


def log_text(app) -> str:
    return "\n".join(line.plain for line in app.screen.query_one(EventLog).lines)


async def test_dashboard_rotates_over_real_http(tmp_path, server):
    cfg = write_config(tmp_path, server)
    app = KeyturnApp(sure_timeout(session_for(cfg, "loopback")))
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: app.engine.phase is Phase.PROPAGATING)
        assert app.query_one("#revoke").disabled
        server.serving = CANARY_NEW  # the deploy lands
        await wait_until(pilot, lambda: app.engine.phase is Phase.READY)
        assert not app.query_one("#revoke").disabled
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmationModal)
        await pilot.press("y")
        await wait_until(pilot, lambda: app.engine.phase is Phase.DONE)
        assert len(server.admin_writes()) == 1
        await reported(pilot)
        assert "report: " in log_text(app)
        frame(app)
        screen_svg = app.export_screenshot()
        log = log_text(app)
    assert "DONE" in screen_svg
    report = Path(log.split("report: ", 1)[1].splitlines()[0])
    assert report.exists() and report.is_relative_to(tmp_path / "state")
    assert (tmp_path / "state" / "audit.jsonl").exists()
    assert_no_canary(screen_svg, log, paths=[tmp_path / "state"],
                     canaries=(CANARY_OLD, CANARY_NEW, CANARY_ADMIN))


async def test_reopening_during_verifying_resumes_without_a_second_revoke(tmp_path, server):
    cfg = write_config(tmp_path, server)
    server.serving = CANARY_NEW
    # The provider is slow to apply the revocation: the old key keeps answering 200.
    slow = {"on": True}
    real_status = server.key_status
    server.key_status = lambda raw: 200 if slow["on"] and raw == CANARY_OLD else real_status(raw)
    first = KeyturnApp(sure_timeout(session_for(cfg, "loopback")))
    async with first.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: first.engine.phase is Phase.READY)
        await pilot.press("r", "y")
        await wait_until(pilot, lambda: first.engine.phase is Phase.VERIFYING)
        await pilot.press("q", "y")  # quit while verifying (asked first)
        await settle(pilot)
    assert len(server.admin_writes()) == 1
    second = KeyturnApp(sure_timeout(session_for(cfg, "loopback")))
    async with second.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert second.engine.phase is Phase.VERIFYING  # picked up, not back to waiting
        assert "resumed from the audit log" in log_text(second)
        slow["on"] = False
        await wait_until(pilot, lambda: second.engine.phase is Phase.DONE)
    assert len(server.admin_writes()) == 1
