"""Every reader of a damaged audit log: one clean warning line, or the dashboard's event log.

A line nested 100,000 levels deep, a torn line, a rotation dated in the year 9999: each
command that reads the log (`log`, `status`, `watch`, `revoke`, `reactivate`, the rotation
list, the dashboard) carries on and says what it skipped once, as `keyturn: warning: ...`
or in the dashboard, never as a Python warning with a source file and line number, and
never exits 4.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support_app import fixed_demo, record_notifications, settle, workers_done
from tests.support_canary import CANARY_NEW, CANARY_OLD, assert_no_canary
from tests.support_cli import Keyturn
from tui.app import KeyturnApp, RotationListApp, Session
from tui.cli import main
from tui.engine import config_file
from tui.engine.audit import AuditLog, AuditWarning
from tui.engine.scheduler import FakeClock
from tui.widgets.event_log import EventLog

CONFIG = ('[rotations.svc]\nprovider = "anthropic"\nold = "env:KT_OLD"\nnew = "env:KT_NEW"\n'
          'base_url = "http://127.0.0.1:9"\nrotate_every = "90d"\n')
GOOD = {"time": "2020-01-02T03:04:05.000Z", "rotation": "svc", "event": "done", "old": "x"}
DEEP_WARNING = "audit.jsonl:2: skipped a line nested too deeply to read"


def damaged_log(state: Path, *, year_9999: bool = False) -> None:
    """An old finished rotation, then a line 100,000 levels deep (and a `done` dated 9999)."""
    lines = [json.dumps(GOOD), '{"a":' * 100_000 + "1" + "}" * 100_000]
    if year_9999:
        lines.append(json.dumps({**GOOD, "time": "9999-12-31T23:59:59.000Z"}))
    state.mkdir(parents=True, exist_ok=True)
    (state / "audit.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def home(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KT_OLD", CANARY_OLD)
    monkeypatch.setenv("KT_NEW", CANARY_NEW)
    (isolated_home / "keyturn.toml").write_text(CONFIG, encoding="utf-8")
    return isolated_home


def state_of(home: Path) -> Path:
    return home / ".local" / "state" / "keyturn"


def warning_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("keyturn: warning: ")]


# (command, its exit code with this log: the gate cannot open against a closed port)
COMMANDS = [
    (["log"], 0), (["log", "--json"], 0), (["log", "svc"], 0),
    (["status"], 1), (["status", "--json"], 1),  # the 2020 rotation is overdue
    (["watch", "svc", "--headless", "--timeout", "0.3"], 1),
    (["revoke", "svc", "--yes", "--timeout", "0.3"], 1),
    (["reactivate", "svc", "--yes"], 1),  # nothing was revoked through the admin API
]


@pytest.mark.parametrize("command, code", COMMANDS, ids=[" ".join(c[0]) for c in COMMANDS])
def test_a_line_nested_100000_deep_is_one_warning_line_in_every_command(
    command: list[str], code: int, home: Path, capsys: pytest.CaptureFixture[str],
    recwarn: pytest.WarningsRecorder,
) -> None:
    damaged_log(state_of(home))
    assert main(["--config", str(home / "keyturn.toml"), *command]) == code
    out, err = capsys.readouterr()
    [line] = warning_lines(err)  # once, though `revoke` reads the log more than once
    assert line.endswith(DEEP_WARNING)
    assert "Traceback" not in err and "internal error" not in err
    # Not also raised as a Python warning (which prints `file.py:58: TornLine: ...`).
    assert [w for w in recwarn if issubclass(w.category, AuditWarning)] == []
    assert_no_canary(out, err)


@pytest.mark.parametrize("command", [["revoke", "svc", "--yes", "--timeout", "0.3"],
                                     ["watch", "svc", "--headless", "--timeout", "0.3"]],
                         ids=["revoke", "watch"])
def test_resuming_from_a_damaged_log_prints_no_python_warning(
    command: list[str], isolated_home: Path
) -> None:
    """Through the real command, where Python's own warning output would reach stderr."""
    kt = Keyturn(isolated_home, {"KT_OLD": CANARY_OLD, "KT_NEW": CANARY_NEW})
    kt.config.write_text(CONFIG, encoding="utf-8")
    damaged_log(kt.state_dir)
    result = kt.run(*command)
    assert result.code == 1, result.err
    [line] = warning_lines(result.err)
    assert line.endswith(DEEP_WARNING)
    assert "TornLine" not in result.err and ".py:" not in result.err


@pytest.mark.parametrize("command", [["status"], ["status", "--json"]], ids=" ".join)
def test_a_rotation_dated_9999_is_not_believed(
    command: list[str], home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A `done` dated in the year 9999 would make the rotation never due (and its due date
    overflowed: exit 4). It is not counted: the 2020 rotation is the last, and overdue."""
    damaged_log(state_of(home), year_9999=True)
    assert main(["--config", str(home / "keyturn.toml"), *command]) == 1
    out, err = capsys.readouterr()
    assert warning_lines(err)[1:] == [(
        "keyturn: warning: the audit log dates a finished rotation of svc "
        "9999-12-31T23:59:59.000Z, in the future: not counted (is a clock wrong?)")]
    assert "2020-01-02" in out and "overdue" in out


def test_log_still_prints_an_event_dated_9999(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    damaged_log(state_of(home), year_9999=True)
    assert main(["--config", str(home / "keyturn.toml"), "log"]) == 0
    assert "9999-12-31T23:59:59.000Z" in capsys.readouterr().out


async def test_the_dashboard_shows_skipped_lines_in_its_event_log(
    tmp_path: Path, recwarn: pytest.WarningsRecorder
) -> None:
    """While the dashboard runs, stderr is not on screen: the warning goes to the event log."""
    clock = FakeClock()
    demo = fixed_demo(clock)
    state = tmp_path / "state"
    damaged_log(state)
    with (state / "audit.jsonl").open("a") as fh:
        fh.write('{"time": "2026-01-02T03:04:05.0')  # and a torn tail
    app = KeyturnApp(Session(demo.rotation, demo.provider, demo.keys, clock=clock,
                             audit=AuditLog(state), demo=True), tick=3600.0)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        events = "\n".join(line.plain for line in app.screen.query_one(EventLog).lines)
    assert f"warning: {state / DEEP_WARNING}" in events
    assert f"warning: {state / 'audit.jsonl'}:3: skipped a torn line" in events
    assert [w for w in recwarn if issubclass(w.category, AuditWarning)] == []


async def test_the_rotation_list_reads_a_damaged_log_and_says_so(home: Path) -> None:
    damaged_log(state_of(home), year_9999=True)
    app = RotationListApp(config_file.load(home / "keyturn.toml"))
    notes = record_notifications(app)
    async with app.run_test(size=(140, 20)) as pilot:
        await workers_done(app)
        await settle(pilot)
        row = [str(cell) for cell in app.screen.query_one("DataTable").get_row("svc")]
    assert row[4].startswith("2020-01-02")  # the rotation of 9999 is not believed
    assert any(note.endswith(DEEP_WARNING) for note in notes)
    assert any("dates a finished rotation of svc 9999" in note for note in notes)
    assert app.return_code in (None, 0)


async def test_the_rotation_list_names_an_audit_log_it_cannot_read(home: Path) -> None:
    (state_of(home) / "audit.jsonl").mkdir(parents=True)
    app = RotationListApp(config_file.load(home / "keyturn.toml"))
    async with app.run_test(size=(140, 20)) as pilot:
        await workers_done(app)
        await settle(pilot)
        hint = str(app.screen.query_one("#list-hint").render())
    assert f"{state_of(home) / 'audit.jsonl'} is not a regular file" in hint
    assert app.return_code in (None, 0)
