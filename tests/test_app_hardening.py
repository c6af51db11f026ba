"""Hardening, the dashboard side: NO_COLOR, resizing while probing, the secret canary
through every state, fault and forced crash, and hostile input in the new-key field.

Most tests drive the demo on a FakeClock (fast, deterministic); the canary sweep through
real faults runs against the loopback provider server on the real clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual import events
from textual.widgets import Input

from tests.provider_server import ProviderServer
from tests.support_app import (
    INTERVAL,
    demo_app,
    fixed_demo,
    frame,
    record_notifications,
    settle,
    step,
    sure_timeout,
    to_ready,
    until,
    workers_done,
)
from tests.support_canary import (
    CANARY_ADMIN,
    CANARY_NEW,
    CANARY_OLD,
    assert_no_canary,
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
from tests.support_server import canary_server
from tui.app import KeyturnApp, Session
from tui.engine.audit import AuditLog
from tui.engine.gate import Role
from tui.engine.rotation import Phase
from tui.engine.scheduler import FakeClock
from tui.screens.confirm import ConfirmationModal
from tui.screens.dashboard import DashboardScreen
from tui.screens.new_key import NewKeyModal
from tui.widgets.deployment_card import DeploymentCard
from tui.widgets.event_log import EventLog
from tui.widgets.gate_bar import GateBar
from tui.widgets.probe_card import ProbeCard

CANARIES = (CANARY_OLD, CANARY_NEW, CANARY_ADMIN)


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
            frame(app)
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


# -- the secret canary, over real HTTP, through faults to done ------------------------------------


@pytest.fixture
def loopback(monkeypatch: pytest.MonkeyPatch):
    """The loopback Anthropic server knowing the canary keys; the config reads them from env:."""
    with canary_server(monkeypatch, "KT") as server:
        yield server


def loopback_config(tmp_path: Path, server: ProviderServer):
    from tui.engine import config_file

    path = tmp_path / "keyturn.toml"
    path.write_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        "[rotations.svc]\n"
        'provider = "anthropic"\n'
        'old = "env:KT_OLD"\nnew = "env:KT_NEW"\nadmin = "env:KT_ADMIN"\n'
        f'base_url = "{server.base_url}"\ndeployment = "{server.deployment_url}"\n'
        # hold: a timeout on a loaded machine is no evidence and must not re-lock the gate.
        'interval = 0.3\ntimeout = 0.25\nstreak = 3\nindeterminate = "hold"\n'
        # One deployment answer a tick, the bound off: this is about the dashboard.
        "samples = 1\nmax_old_share = 1.0\n",
        encoding="utf-8",
    )
    return config_file.load(path)


async def next_engine_event(pilot, deadline: float) -> None:
    """Wait for the engine's next event (a probe answers every interval; real clock) or
    the deadline, then let the screen handle what the event posted."""
    fired = asyncio.Event()

    def listener(_event: object) -> None:
        fired.set()

    engine = pilot.app.engine
    engine.listeners.append(listener)
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fired.wait(), max(0.0, deadline - time.monotonic()))
    finally:
        engine.listeners.remove(listener)
    await settle(pilot)


async def real_wait(pilot, predicate, timeout: float = 20.0) -> None:
    """Wait until a condition on the dashboard holds, re-checked after each engine event
    has reached the screen (the loopback probes run on the real clock)."""
    deadline = time.monotonic() + timeout
    await settle(pilot)
    while not predicate():
        if time.monotonic() > deadline:
            engine = pilot.app.engine
            tracks = {role.value: (t.streak, t.last and t.last.verdict.value, t.last and t.last.detail)
                      for role, t in engine.tracks.items()}
            raise AssertionError(f"not met in {timeout}s: screen {pilot.app.screen}, phase "
                                 f"{engine.phase}, gate {engine.gate.summary}, tracks {tracks}, "
                                 f"log {log_text(pilot.app)[-1500:]!r}")
        await next_engine_event(pilot, deadline)


#: Every fault the loopback server can answer with, and words of the detail the card shows.
MODEL_FAULTS = {
    429: "rate limit", 500: "500: api_error", 529: "overloaded", "html_200": "HTML page",
    "html_502": "502: HTML error page", "truncated_json": "not a model list",
    "reset_mid_body": "reset mid-answer", "echo_key": "key **** is not valid here",
    "slow": "timed out", 403: "permission_error",
}
DEPLOYMENT_FAULTS = {503: "answered HTTP 503", "html_200": "HTML page", "slow": "timed out",
                     "reset_mid_body": "reset mid-answer"}


async def serve_every_fault(pilot, server: ProviderServer, route: str, faults: dict,
                            shown: Callable[[], list[str]], timeout: float = 25.0) -> None:
    """Script the faults until the dashboard has shown each one's answer.

    A probe that times out on a loaded machine uses a scripted fault up without reading
    it; that fault is served again, so every fault really reaches the dashboard.
    """
    deadline = time.monotonic() + timeout
    drained_at: float | None = None
    server.script(route, *faults)
    while True:
        details = shown()
        missing = [f for f, words in faults.items() if not any(words in d for d in details)]
        if not missing:
            await settle(pilot)
            return
        assert time.monotonic() < deadline, f"{route}: never shown: {missing}"
        if server._scripts.get(route):  # answers still queued
            drained_at = None
        elif drained_at is None:
            drained_at = time.monotonic()
        elif time.monotonic() - drained_at > 1.0:  # answered, but not shown: serve again
            server.script(route, *missing)
            drained_at = None
        await next_engine_event(pilot, deadline)


async def test_the_canaries_never_leak_from_the_dashboard_through_faults_and_a_whole_rotation(
    tmp_path, loopback, isolated_home, capsys,
):
    from tui.app import session_for

    server = loopback
    server.slow_seconds = 1.5  # longer than the timeout (1 s, sure_timeout): unreachable
    cfg = loopback_config(tmp_path, server)
    app = KeyturnApp(sure_timeout(session_for(cfg, "svc")))
    details: dict[Role, list[str]] = {role: [] for role in Role}
    app.engine.listeners.append(
        lambda e: details[e.role].append(e.result.detail) if hasattr(e, "result") else None)
    notes = record_notifications(app)
    shots = tmp_path / "shots"
    texts: list[str] = []

    def shoot(name: str) -> None:
        texts.append(screen_text(app))
        save_shot(app, shots, name)

    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        # Both keys share the probe endpoint: a fault goes to whichever asks next.
        await serve_every_fault(pilot, server, "models", MODEL_FAULTS,
                                lambda: details[Role.OLD] + details[Role.NEW])
        await serve_every_fault(pilot, server, "deployment", DEPLOYMENT_FAULTS,
                                lambda: details[Role.DEPLOYMENT])
        shoot("faults")
        # Failed deployment answers name no key: counted as unknown, not as another key.
        dep = str(app.screen.query_one("#card-deployment", DeploymentCard).facts)
        # A failed answer names no key: "no answer", never a third key ("other").
        assert "no answer" in dep and "other" not in dep, dep
        # The new-key field with a canary typed into it (shown as dots), then cancelled.
        await pilot.press("n")
        await settle(pilot)
        app.screen.query_one(Input).value = CANARY_NEW
        await settle(pilot)
        shoot("new-key-typed")
        await pilot.press("escape")
        await settle(pilot)
        server.serving = CANARY_NEW  # the deploy lands
        await real_wait(pilot, lambda: app.engine.phase is Phase.READY)
        shoot("ready")
        # The admin API answers like a careless gateway, quoting the admin key it was sent.
        server.script("admin", "echo_key")
        await pilot.press("r")
        await settle(pilot)
        shoot("confirm")
        await pilot.press("y")
        await real_wait(pilot, lambda: any("revoke failed" in n for n in notes))
        await pilot.pause()
        shoot("revoke-failed")
        assert server.admin_writes() == []
        await real_wait(pilot, lambda: app.engine.phase is Phase.READY)
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("y")
        # Verifying can last under a poll on a loaded machine: accept done as well.
        await real_wait(pilot, lambda: app.engine.phase in (Phase.VERIFYING, Phase.DONE))
        shoot("revoked")
        await real_wait(pilot, lambda: app.engine.phase is Phase.DONE)
        await real_wait(pilot, lambda: "report: " in log_text(app))
        shoot("done")
        events = log_text(app)
    assert len(server.admin_writes()) == 1
    captured = capsys.readouterr()
    state = tmp_path / "state"
    assert (state / "audit.jsonl").exists() and list(state.rglob("*report*")), list(state.rglob("*"))
    assert len(list(shots.glob("*.svg"))) == 7
    assert_no_canary(captured.out, captured.err, events, "\n".join(notes), *texts,
                     paths=[tmp_path, isolated_home], canaries=CANARIES)


# -- the secret canary through forced crashes (demo on the FakeClock, canary keys) ----------------


def canary_app(clock: FakeClock, state: Path, **demo_kwargs) -> tuple[KeyturnApp, object]:
    """A dashboard on the canary demo that keeps an audit log and writes its report in `state`."""
    demo = canary_demo(clock, **demo_kwargs)
    session = Session(demo.rotation, demo.provider, demo.keys, clock=clock,
                      audit=AuditLog(state), demo=True)
    return KeyturnApp(session, tick=3600.0), demo


async def revoke_to_done(pilot, clock: FakeClock, app: KeyturnApp) -> None:
    await to_ready(pilot, clock, app)
    await pilot.press("r")
    await settle(pilot)
    await pilot.press("y")
    await settle(pilot)
    await until(pilot, clock, lambda: app.engine.phase is Phase.DONE)
    await workers_done(app)  # the report is written in a thread
    await settle(pilot)


async def test_a_crash_inside_a_probe_shows_unexpected_without_the_key_and_the_rotation_goes_on(
    clock, tmp_path, isolated_home, capsys,
):
    state = tmp_path / "state"
    # The demo as users see it: the evidence on the card and in the gate's reasons too.
    app, demo = canary_app(clock, state, staged=True)
    real = demo.provider.probe
    crashes = {"left": 3}

    async def exploding(client, key, timeout):
        raw = key.reveal()  # the key in a local, as a real bug would hold it
        if key.fingerprint == demo.keys.new.fingerprint and crashes["left"]:
            crashes["left"] -= 1
            raise RuntimeError(f"probe blew up holding {raw}")
        return await real(client, key, timeout)

    demo.provider.probe = exploding
    notes = record_notifications(app)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await step(pilot, clock, INTERVAL)
        card = screen_text(app)
        assert "UNEXPECTED" in card and "internal error in probe" in card
        assert app.engine.tracks[Role.NEW].last.detail == "internal error in probe: RuntimeError"
        crashed_svg = save_shot(app, tmp_path / "shots", "probe-crashed")
        await revoke_to_done(pilot, clock, app)
        done_svg = save_shot(app, tmp_path / "shots", "done")
        events = log_text(app)
    assert crashes["left"] == 0 and app.return_code in (None, 0)
    assert "report: " in events
    captured = capsys.readouterr()
    assert_no_canary(captured.out, captured.err, card, events, "\n".join(notes), crashed_svg,
                     done_svg, paths=[tmp_path, isolated_home], canaries=CANARIES)


def crash_in_pause(monkeypatch, demo) -> None:
    """A bug in a key handler: `p` raises with the old key in its message and a local."""

    def action_pause(self) -> None:
        raw = self.engine.keys.old.reveal()
        raise RuntimeError(f"pause failed for {raw}")

    monkeypatch.setattr(DashboardScreen, "action_pause", action_pause)


def crash_in_phase_handler(monkeypatch, demo) -> None:
    """A bug in a message handler: the phase moving to `propagating` raises."""
    real = DashboardScreen.on_phase_moved

    def on_phase_moved(self, message) -> None:
        if message.phase is Phase.PROPAGATING:
            keys = self.engine.keys
            raise KeyError(f"{keys.new.reveal()} / {keys.admin.reveal()}")
        real(self, message)

    monkeypatch.setattr(DashboardScreen, "on_phase_moved", on_phase_moved)


def crash_in_admin_call(monkeypatch, demo) -> None:
    """A bug inside the revoke worker: the provider's admin call raises with the admin key."""

    async def deactivate(client, admin, key_id, timeout):
        raw = admin.reveal()
        raise RuntimeError(f"admin call exploded with {raw}")

    demo.provider.deactivate = deactivate


def crash_in_keychain_worker(monkeypatch, demo) -> None:
    """A bug inside the thread that stores an entered key, with that key in hand."""

    def save_new_key(self, raw: str):
        raise ValueError(f"keychain refused {raw}")

    monkeypatch.setattr(Session, "save_new_key", save_new_key)


async def press_pause(pilot, clock, app) -> None:
    await step(pilot, clock, 1.0)
    await pilot.press("p")


async def just_probe(pilot, clock, app) -> None:
    await step(pilot, clock, 5.0)


async def revoke(pilot, clock, app) -> None:
    await to_ready(pilot, clock, app)
    await pilot.press("r")
    await settle(pilot)
    await pilot.press("y")
    await step(pilot, clock, 1.0)


async def enter_new_key(pilot, clock, app) -> None:
    await step(pilot, clock, 1.0)
    await pilot.press("n")
    await settle(pilot)
    app.screen.query_one(Input).value = CANARY_ADMIN + "x"  # some other key, pasted
    await pilot.press("enter")
    await workers_done(app)
    await step(pilot, clock, 1.0)


CRASHES = {
    "key-handler": (crash_in_pause, press_pause, "RuntimeError"),
    "message-handler": (crash_in_phase_handler, just_probe, "KeyError"),
    "admin-worker": (crash_in_admin_call, revoke, "RuntimeError"),
    "keychain-thread": (crash_in_keychain_worker, enter_new_key, "ValueError"),
}


@pytest.mark.parametrize("where", list(CRASHES))
async def test_a_crash_in_the_dashboard_ends_with_exit_4_and_shows_no_key_anywhere(
    where, clock, tmp_path, isolated_home, capsys, monkeypatch,
):
    arrange, drive, error = CRASHES[where]
    state = tmp_path / "state"
    app, demo = canary_app(clock, state)
    arrange(monkeypatch, demo)
    capsys.readouterr()
    with pytest.raises(Exception) as raised:  # each site raises its own type
        async with app.run_test(size=(120, 36), notifications=True) as pilot:
            await drive(pilot, clock, app)
            await step(pilot, clock, 1.0)
            pytest.fail(f"no crash at {where}")
    assert error in f"{type(raised.value).__name__} {raised.value!r}"
    assert app.return_code == 4
    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert "Traceback" in output and error in output  # the report is there
    assert " locals " not in output  # Rich titles a frame's locals panel "locals"
    assert_no_canary(output, paths=[tmp_path, isolated_home], canaries=CANARIES)


# -- a broken config or broken keys: `keyturn watch` exits 2 before any screen ------------------

MASKED_OLD = "sk-ant-…" + CANARY_OLD[-4:]  # copied from the dashboard instead of the key

BROKEN = {
    # name: (config lines for old/new/admin, environment, words the one line must hold)
    "missing-env": ('old = "env:KT_GONE"\nnew = "env:KT_NEW"', {}, ["KT_GONE", "not set"]),
    "new-is-old": ('old = "env:KT_OLD"\nnew = "env:KT_SAME"', {"KT_SAME": CANARY_OLD},
                   ["same key as the old one"]),
    "two-keys-in-one-var": ('old = "env:KT_OLD"\nnew = "env:KT_TWO"',
                            {"KT_TWO": f"{CANARY_NEW} {CANARY_ADMIN}"}, ["env:KT_TWO", "spaces"]),
    "masked-key-in-var": ('old = "env:KT_MASKED"\nnew = "env:KT_NEW"', {"KT_MASKED": MASKED_OLD},
                          ["env:KT_MASKED", "non-ASCII"]),
    "escape-in-var": ('old = "env:KT_OLD"\nnew = "env:KT_ESC"',
                      {"KT_ESC": CANARY_NEW[:20] + "\x1b[2J" + CANARY_NEW[20:]},
                      ["env:KT_ESC", "control"]),
    "raw-key-in-config": (f'old = "env:KT_OLD"\nnew = "{CANARY_NEW}"', {}, ["new", "raw key"]),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_watch_with_a_broken_config_or_key_exits_2_with_one_line_and_starts_no_dashboard(
    case, tmp_path, isolated_home, monkeypatch, capsys,
):
    import tui.app
    from tui import cli

    lines, env, words = BROKEN[case]
    monkeypatch.setenv("KT_OLD", CANARY_OLD)
    monkeypatch.setenv("KT_NEW", CANARY_NEW)
    monkeypatch.delenv("KT_GONE", raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    path = tmp_path / "keyturn.toml"
    path.write_text(f'state_dir = "{tmp_path / "state"}"\n[rotations.svc]\nprovider = "anthropic"\n'
                    f"{lines}\n", encoding="utf-8")
    monkeypatch.setattr(tui.app, "_run", lambda app: pytest.fail("a dashboard was started"))
    before = {p for p in tmp_path.rglob("*")} | {p for p in isolated_home.rglob("*")}
    capsys.readouterr()
    code = cli.main(["--config", str(path), "watch", "svc"])
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert captured.out == ""
    line = captured.err.strip()
    assert len(line.splitlines()) == 1 and line.startswith("keyturn: "), captured.err
    for word in words:
        assert word in line, line
    assert "\x1b" not in line
    after = {p for p in tmp_path.rglob("*")} | {p for p in isolated_home.rglob("*")}
    assert after == before, "something was written"
    assert_no_canary(line, canaries=CANARIES)


def test_run_dashboard_with_a_key_that_cannot_be_resolved_raises_before_any_screen(
    tmp_path, monkeypatch,
):
    """`run_dashboard` itself (the list's chooser calls it too) raises the error the CLI turns
    into exit 2; no app is built."""
    import tui.app
    from tui.engine import config_file
    from tui.engine.credentials import CredentialError

    monkeypatch.setenv("KT_OLD", f"{CANARY_OLD}\n{CANARY_NEW}")
    path = tmp_path / "keyturn.toml"
    path.write_text(f'state_dir = "{tmp_path / "state"}"\n[rotations.svc]\nprovider = "anthropic"\n'
                    'old = "env:KT_OLD"\n', encoding="utf-8")
    monkeypatch.setattr(tui.app, "_run", lambda app: pytest.fail("a dashboard was started"))
    with pytest.raises(CredentialError) as raised:
        tui.app.run_dashboard(config_file.load(path), "svc")
    assert "env:KT_OLD" in str(raised.value)
    assert_no_canary(str(raised.value), canaries=CANARIES)


# -- the new-key field: the old key or garbage pasted -------------------------------------------

PASTES = {
    "the-old-key": (CANARY_OLD, "that is the old key"),
    "a-stray-keypress": ("y", "too short"),
    "the-masked-form": (MASKED_OLD, "non-ASCII"),
    "two-keys": (f"{CANARY_NEW} {CANARY_ADMIN}", "spaces"),
    "an-escape-sequence": (CANARY_NEW[:20] + "\x1b[31m" + CANARY_NEW[20:], "control"),
    "the-admin-key-then-a-line": (f"{CANARY_OLD}\n{CANARY_ADMIN}", "that is the old key"),
}


async def test_pasting_the_old_key_or_garbage_as_the_new_key_is_refused_clearly_without_echo(
    clock, tmp_path, isolated_home,
):
    """Each paste in one dashboard session (one app start instead of six)."""
    app, _demo = canary_app(clock, tmp_path / "state")
    notes = record_notifications(app)
    seen: list[str] = []
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await step(pilot, clock, 1.0)
        new_before = app.engine.keys.new
        for case, (pasted, says) in PASTES.items():
            streak_before = app.engine.tracks[Role.NEW].streak
            notes.clear()
            await pilot.press("n")
            await settle(pilot)
            assert isinstance(app.screen, NewKeyModal), case
            field = app.screen.query_one(Input)
            field.post_message(events.Paste(pasted))
            await settle(pilot)
            seen.append(save_shot(app, tmp_path / "shots", f"{case}-typed"))
            await pilot.press("enter")
            await workers_done(app)
            await settle(pilot)
            await pilot.pause()
            assert isinstance(app.screen, DashboardScreen), case  # no crash, back on the dashboard
            assert field.value == "", case  # the field keeps no copy
            assert app.engine.keys.new == new_before, case
            assert app.engine.tracks[Role.NEW].streak == streak_before, case  # nothing reset
            refusal = [n for n in notes if says in n]
            assert refusal and "not changed" in refusal[0], (case, notes)
            shown = screen_text(app)
            assert says in shown, case  # the toast is on screen
            seen += [*notes, shown, log_text(app), save_shot(app, tmp_path / "shots", f"{case}-refused")]
            app.clear_notifications()
            await step(pilot, clock, 1.0)  # probing goes on with the real new key
            assert app.engine.tracks[Role.NEW].streak > streak_before, case
    assert_no_canary(*seen, paths=[tmp_path, isolated_home], canaries=CANARIES)


# -- 40x12: the modals keep what must be seen ------------------------------------------------------


async def test_on_a_40x12_terminal_the_modals_keep_the_key_and_their_answers_in_sight(clock):
    app = demo_app(clock, fixed_demo(clock))
    async with app.run_test(size=(120, 36)) as pilot:
        await to_ready(pilot, clock, app)
        await pilot.press("r")
        await settle(pilot)
        await pilot.resize_terminal(40, 12)  # made small while the question is open
        await settle(pilot)
        confirm = screen_text(app)
        await pilot.press("n")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        new_key = screen_text(app)
        field = app.screen.query_one(Input)
        frame(app)
        assert field.region.bottom <= 12 and field.region.height == 3
        await pilot.press("escape")
        await settle(pilot)
    fingerprint = app.engine.keys.old.fingerprint
    for words in ("Revoke the OLD key?", fingerprint, "Revoke (y)", "Cancel (n)"):
        assert words in confirm, confirm
    for words in ("Enter the NEW key", "paste the new key", "Esc to cancel"):
        assert words in new_key, new_key


# -- `hold`: a deployment timeout is no evidence and leaves the open question alone ----------------


@pytest.mark.parametrize("policy", ["hold", "reset"])
async def test_a_deployment_timeout_withdraws_the_revoke_question_only_under_reset(policy, clock):
    """Under `indeterminate = "hold"` a timed-out deployment probe (no key reported) must not
    lock Revoke; under `reset` it does, and the open question is withdrawn."""
    import dataclasses

    from providers.results import ProbeResult, Verdict

    demo = fixed_demo(clock)
    demo.rotation = dataclasses.replace(demo.rotation, indeterminate=policy)
    app = demo_app(clock, demo)
    target = app.engine.deployment
    real = target.probe
    timeouts = {"left": 0}

    async def probe(client, key, timeout):
        if timeouts["left"]:
            timeouts["left"] -= 1
            return ProbeResult(Verdict.UNREACHABLE, detail="timed out", at=clock.now())
        return await real(client, key, timeout)

    target.probe = probe
    async with app.run_test(size=(120, 36)) as pilot:
        await to_ready(pilot, clock, app)
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmationModal)
        timeouts["left"] = 1
        await step(pilot, clock, INTERVAL)
        assert timeouts["left"] == 0
        if policy == "reset":
            assert isinstance(app.screen, DashboardScreen) and not app.engine.gate.open
            return
        assert isinstance(app.screen, ConfirmationModal) and app.engine.gate.open
        await pilot.press("y")
        await settle(pilot)
        await until(pilot, clock, lambda: app.engine.phase is Phase.DONE)
    assert len(demo.world.revoke_calls()) == 1
