"""The rotation list (`keyturn` with no command) and how the dashboard is started."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest
from textual.widgets import DataTable

from providers.keys import fingerprint
from tests.support_app import NEW_KEY, OLD_KEY, demo_app, fixed_demo, settle, workers_done
from tui import cli
from tui.app import RotationListApp, Session
from tui.engine import config_file
from tui.engine.scheduler import FakeClock
from tui.screens.dashboard import DashboardScreen

CONFIG = """\
[rotations.alpha]
provider = "anthropic"
rotate_every = "90d"

[rotations.beta]
provider = "openai"
old = "env:BETA_OLD_UNSET"
new = "prompt"
"""


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "keyturn.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


async def loaded(app, pilot) -> DataTable:
    await workers_done(app)
    await settle(pilot)
    return app.screen.query_one(DataTable)


async def test_list_shows_fingerprints_and_dashes_for_missing_keys(tmp_path, memory_keyring):
    memory_keyring.set_password("keyturn", "alpha/old", OLD_KEY)  # alpha/new is missing
    cfg = config_file.load(write_config(tmp_path))
    app = RotationListApp(cfg)
    async with app.run_test(size=(140, 20)) as pilot:
        table = await loaded(app, pilot)
        assert table.row_count == 2
        alpha = [str(c) for c in table.get_row("alpha")]
        beta = [str(c) for c in table.get_row("beta")]
        assert alpha[:4] == ["alpha", "anthropic", fingerprint(OLD_KEY), "—"]
        assert alpha[4] == "never"
        assert beta[:4] == ["beta", "openai", "—", "—"]
        assert OLD_KEY not in "".join(alpha + beta)


async def test_list_enter_returns_the_chosen_rotation(tmp_path):
    cfg = config_file.load(write_config(tmp_path))
    app = RotationListApp(cfg)
    async with app.run_test(size=(140, 20)) as pilot:
        await loaded(app, pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
    assert app.return_value == "beta"


async def test_list_survives_a_broken_keychain(tmp_path, memory_keyring):
    def broken(*_args):
        raise RuntimeError("backend exploded")

    memory_keyring.get_password = broken
    cfg = config_file.load(write_config(tmp_path))
    app = RotationListApp(cfg)
    async with app.run_test(size=(140, 20)) as pilot:
        table = await loaded(app, pilot)
        assert [str(c) for c in table.get_row("alpha")][2:4] == ["—", "—"]


async def test_list_with_no_rotations_says_what_to_do(tmp_path):
    path = tmp_path / "empty.toml"
    path.write_text("", encoding="utf-8")
    app = RotationListApp(config_file.load(path))
    async with app.run_test(size=(120, 12)) as pilot:
        await settle(pilot)
        hint = str(app.screen.query_one("#list-hint").render())
        assert "No rotations configured" in hint and "keyturn demo" in hint
        assert "`keyturn init` writes one" in hint
        await pilot.press("q")
    assert app.return_value is None


def test_watch_with_a_missing_key_exits_2_before_any_screen(tmp_path, capsys, monkeypatch):
    started = []
    monkeypatch.setattr("tui.app.KeyturnApp.run", lambda self, **kw: started.append(self))
    code = cli.main(["--config", str(write_config(tmp_path)), "watch", "alpha"])
    err = capsys.readouterr().err
    assert code == 2
    assert "alpha old key" in err and "keyturn secret set" in err
    assert started == []


def test_watch_unknown_rotation_exits_2(tmp_path, capsys):
    code = cli.main(["--config", str(write_config(tmp_path)), "watch", "gamma"])
    assert code == 2
    assert "no rotation named 'gamma'" in capsys.readouterr().err


def test_importing_the_cli_does_not_import_textual():
    import subprocess
    import sys

    probe = "import sys, tui.cli; print(any(m == 'textual' or m.startswith('textual.') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


async def test_new_key_is_stored_through_a_keyring_reference(memory_keyring, monkeypatch):
    clock = FakeClock()
    demo = fixed_demo(clock)
    rotation = dataclasses.replace(demo.rotation, new="keyring:keyturn/demo/new")
    app = demo_app(clock, demo)
    app.session = Session(rotation, demo.provider, demo.keys, clock=clock, demo=False)
    app.engine.rotation = rotation
    async with app.run_test(size=(120, 36)) as pilot:
        assert isinstance(app.screen, DashboardScreen)
        app.screen.save_new_key = app.session.save_new_key
        await pilot.press("n")
        await settle(pilot)
        app.screen.query_one("#new-key").value = NEW_KEY + "x"
        await pilot.press("enter")
        await workers_done(app)
        await settle(pilot)
    assert memory_keyring.get_password("keyturn", "demo/new") == NEW_KEY + "x"
    assert app.engine.keys.new.fingerprint == fingerprint(NEW_KEY + "x")


@pytest.mark.parametrize("ref", ["env:DEMO_NEW", "prompt"])
def test_env_and_prompt_references_keep_an_entered_key_in_memory(ref, memory_keyring):
    clock = FakeClock()
    demo = fixed_demo(clock)
    rotation = dataclasses.replace(demo.rotation, new=ref)
    session = Session(rotation, demo.provider, demo.keys, clock=clock)
    secret, note = session.save_new_key(NEW_KEY + "y")
    assert secret.fingerprint == fingerprint(NEW_KEY + "y")
    assert "held in memory only" in note and ref in note
    assert memory_keyring.store == {}


def test_list_due_column_uses_the_audit_log(tmp_path):
    from tui.engine.lifecycle import status_rows
    from tui.screens.rotation_list import row_cells

    cfg = config_file.load(write_config(tmp_path))
    now = datetime(2025, 1, 1, tzinfo=UTC)
    rows = {r.name: r for r in status_rows(cfg, now)}
    cells = [str(c) for c in row_cells(rows["alpha"], now)]
    assert cells[4] == "never" and cells[5] == "—"
