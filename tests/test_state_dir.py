"""The state dir: keyturn follows no symlink inside it, and a broken one is exit 2.

The state dir itself may be a symlink (a user's `~/.local/state` on another disk); inside
it, `audit.jsonl`, the report files, `locks/` and the lock files are keyturn's own, so a
symlink there is refused with one line naming it, and a dangling one never gets its
target created. An audit log that is a directory or a FIFO is one line and exit 2 too,
never exit 4, never a hang.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.provider_server import ProviderServer
from tests.support_canary import CANARY_ADMIN, CANARY_NEW, CANARY_OLD, assert_no_canary
from tests.support_cli import Keyturn
from tui.cli import main

pytest_plugins = ["tests.server_fixtures"]

#: Every command that reads or writes the state dir; none reaches a provider here
#: (base_url is a closed port, and each is refused before probing).
READERS = (["log"], ["status"], ["status", "--json"])
RUNS = (["watch", "svc", "--headless", "--timeout", "5"], ["revoke", "svc", "--yes", "--timeout", "5"],
        ["reactivate", "svc", "--yes"])


@pytest.fixture
def state(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config whose state dir is `<home>/state` (created, empty), keys in env vars."""
    monkeypatch.setenv("KT_OLD", CANARY_OLD)
    monkeypatch.setenv("KT_NEW", CANARY_NEW)
    folder = isolated_home / "state"
    folder.mkdir()
    (isolated_home / "keyturn.toml").write_text(
        f'state_dir = "{folder}"\n[rotations.svc]\nprovider = "anthropic"\nold = "env:KT_OLD"\n'
        'new = "env:KT_NEW"\nbase_url = "http://127.0.0.1:9"\n', encoding="utf-8")
    return folder


def keyturn(home: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--config", str(home / "keyturn.toml"), *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert_no_canary(out, err)
    return code, out, err


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


# -- symlinks inside the state dir ---------------------------------------------------------


@pytest.mark.parametrize("command", READERS + RUNS, ids=" ".join)
def test_a_dangling_symlink_as_the_audit_log_is_refused_and_gets_no_target(
    command: list[str], state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = state.parent / "elsewhere.jsonl"
    (state / "audit.jsonl").symlink_to(target)
    code, out, err = keyturn(state.parent, capsys, *command)
    assert code == 2
    assert out == ""
    line = one_line(err)
    assert f"{state / 'audit.jsonl'} is a symlink, which keyturn does not follow" in line
    assert not target.exists()


@pytest.mark.parametrize("command", READERS + RUNS, ids=" ".join)
def test_a_symlink_to_a_real_log_is_neither_read_nor_written(
    command: list[str], state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = state.parent / "other.jsonl"
    text = '{"time": "2026-01-02T03:04:05.000Z", "rotation": "svc", "event": "done"}\n'
    target.write_text(text, encoding="utf-8")
    (state / "audit.jsonl").symlink_to(target)
    code, out, err = keyturn(state.parent, capsys, *command)
    assert code == 2
    assert "2026-01-02" not in out  # `log` did not print the other file's event
    assert "is a symlink" in one_line(err)
    assert target.read_text(encoding="utf-8") == text


@pytest.mark.parametrize("dangling", [True, False], ids=["dangling", "to-a-directory"])
@pytest.mark.parametrize("command", RUNS[:2], ids=" ".join)
def test_a_symlink_as_the_locks_dir_is_refused(
    command: list[str], dangling: bool, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = state.parent / "other-dir"
    if not dangling:
        target.mkdir()
    (state / "locks").symlink_to(target, target_is_directory=True)
    code, out, err = keyturn(state.parent, capsys, *command)
    assert code == 2
    assert out == ""  # refused before the first probe
    assert f"{state / 'locks'} is a symlink" in one_line(err)
    assert list(target.iterdir()) == [] if not dangling else not target.exists()


def test_a_symlink_as_the_lock_file_is_refused(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (state / "locks").mkdir()
    target = state.parent / "lock-target"
    (state / "locks" / "svc.lock").symlink_to(target)
    code, out, err = keyturn(state.parent, capsys, "revoke", "svc", "--yes", "--timeout", "5")
    assert code == 2 and out == ""
    assert f"{state / 'locks' / 'svc.lock'} is a symlink" in one_line(err)
    assert not target.exists()


def test_a_file_where_the_locks_dir_goes_is_refused(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (state / "locks").write_text("not a directory")
    code, out, err = keyturn(state.parent, capsys, "watch", "svc", "--headless", "--timeout", "5")
    assert code == 2 and out == ""
    assert f"{state / 'locks'} is not a directory" in one_line(err)


def test_the_state_dir_itself_may_be_a_symlink(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`~/.local/state` on another disk: the state dir reached through a symlink is used."""
    real = state.parent / "real-state"
    real.mkdir()
    state.rmdir()
    state.symlink_to(real, target_is_directory=True)
    (real / "audit.jsonl").write_text(
        '{"time": "2026-01-02T03:04:05.000Z", "rotation": "svc", "event": "gate_opened"}\n')
    code, out, err = keyturn(state.parent, capsys, "log")
    assert code == 0 and "gate_opened" in out and err == ""
    code, out, err = keyturn(state.parent, capsys, "watch", "svc", "--headless", "--timeout", "0.5")
    assert code == 1  # the gate did not open against a closed port: no state dir complaint
    assert "state" not in err and "symlink" not in err
    assert (real / "locks" / "svc.lock").is_file()


def test_a_symlink_where_the_report_goes_is_refused_and_the_rotation_still_succeeds(
    anthropic_server: ProviderServer, isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through the whole command: a dangling symlink planted at every report name of the
    next two minutes gets no target; the run says the report was not saved, and exits 0
    because the rotation itself finished."""
    server = anthropic_server
    kt = Keyturn(isolated_home, capsys=capsys)
    server.add_key(CANARY_OLD)
    server.add_key(CANARY_NEW)
    server.serving = CANARY_NEW
    server.admin_key = CANARY_ADMIN
    kt.write_config(server, old=CANARY_OLD, new=CANARY_NEW, admin=CANARY_ADMIN)
    kt.state_dir.mkdir(parents=True)
    trap = isolated_home / "trap"
    start = datetime.now(UTC) - timedelta(seconds=2)
    for second in range(120):
        stamp = (start + timedelta(seconds=second)).strftime("%Y%m%dT%H%M%SZ")
        os.symlink(trap / f"{second}.md", kt.state_dir / f"report-svc-{stamp}.md")
    result = kt.main("revoke", "svc", "--yes", "--timeout", "15")
    assert result.code == 0, result.out + result.err
    assert "could not save the report" in result.out
    assert "is a symlink, which keyturn does not follow" in result.out
    assert not trap.exists()
    assert server.key_by_raw(CANARY_OLD).status == "inactive"  # the rotation itself finished


# -- an audit log keyturn cannot read -----------------------------------------------------


@pytest.mark.parametrize("command", READERS, ids=" ".join)
def test_an_audit_log_that_is_a_directory_is_one_line_and_exit_2(
    command: list[str], state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (state / "audit.jsonl").mkdir()
    code, out, err = keyturn(state.parent, capsys, *command)
    assert code == 2 and out == ""
    assert f"{state / 'audit.jsonl'} is not a regular file" in one_line(err)


@pytest.mark.parametrize("command", RUNS, ids=" ".join)
def test_a_run_refuses_an_audit_log_that_is_a_directory(
    command: list[str], state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (state / "audit.jsonl").mkdir()
    code, out, err = keyturn(state.parent, capsys, *command)
    assert code == 2 and out == ""
    assert "cannot write the audit log" in one_line(err) and "Is a directory" in err


def test_a_state_dir_that_is_a_file_is_one_line_and_exit_2(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state.rmdir()
    state.write_text("not a directory")
    for command in READERS:
        code, out, err = keyturn(state.parent, capsys, *command)
        assert code == 2 and out == "" and "Not a directory" in one_line(err), command
    code, out, err = keyturn(state.parent, capsys, "watch", "svc", "--headless")
    assert code == 2 and out == "" and f"{state} is not a directory" in one_line(err)


def test_a_fifo_as_the_audit_log_does_not_hang_any_command(isolated_home: Path) -> None:
    """Through the real command, with a deadline: opening a FIFO to read waits for a
    writer, forever; keyturn opens the log non-blocking and refuses what is not a file."""
    kt = Keyturn(isolated_home, {"KT_OLD": CANARY_OLD, "KT_NEW": CANARY_NEW})
    kt.state_dir.mkdir(parents=True)
    os.mkfifo(kt.state_dir / "audit.jsonl")
    kt.config.write_text('[rotations.svc]\nprovider = "anthropic"\nold = "env:KT_OLD"\n'
                         'new = "env:KT_NEW"\nbase_url = "http://127.0.0.1:9"\n')
    for command in (["log"], ["status"], ["watch", "svc", "--headless", "--timeout", "5"]):
        result = kt.run(*command, timeout=30)
        assert result.code == 2, result.err
        assert len(result.err_lines) == 1 and "is not a regular file" in result.err
