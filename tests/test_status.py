"""Due dates: status rows from the config, the keychain and the audit log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from providers.keys import fingerprint
from tests.support_canary import CANARY_NEW, CANARY_OLD
from tests.support_lifecycle import hostile_log, make_config, write_event
from tui.cli import main
from tui.engine.credentials import store
from tui.engine.lifecycle import status_rows

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_rotation_rotated_long_ago_is_overdue_and_a_fresh_one_is_not(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, {
        "stale": {"provider": "anthropic", "rotate_every": "90d"},
        "fresh": {"provider": "openai", "rotate_every": "2w"},
    })
    write_event(cfg.state_dir, NOW - timedelta(days=91), "stale", "done", old="aaa", new="bbb")
    write_event(cfg.state_dir, NOW - timedelta(days=3), "fresh", "done", old="ccc", new="ddd")
    rows = {row.name: row for row in status_rows(cfg, now=NOW)}
    stale, fresh = rows["stale"], rows["fresh"]
    assert stale.overdue and stale.state == "overdue"
    assert stale.last_rotated == NOW - timedelta(days=91)
    assert stale.age == timedelta(days=91)
    assert stale.due == NOW - timedelta(days=1)
    assert not fresh.overdue and fresh.state == "ok"
    assert fresh.due == NOW + timedelta(days=11)
    assert [r.name for r in status_rows(cfg, now=NOW)] == ["fresh", "stale"]


def test_newest_finished_rotation_counts_and_other_rotations_do_not(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, {"a": {"provider": "anthropic", "rotate_every": "30d"}})
    write_event(cfg.state_dir, NOW - timedelta(days=100), "a", "done", old="1", new="2")
    write_event(cfg.state_dir, NOW - timedelta(days=10), "a", "old_key_dead", old="2")
    write_event(cfg.state_dir, NOW - timedelta(days=1), "a", "revoke_requested", old="3")
    write_event(cfg.state_dir, NOW - timedelta(days=1), "b", "done", old="x")
    (row,) = status_rows(cfg, now=NOW)
    assert row.last_rotated == NOW - timedelta(days=10)
    assert not row.overdue


def test_due_exactly_now_is_overdue(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, {"a": {"provider": "anthropic", "rotate_every": "12h"}})
    write_event(cfg.state_dir, NOW - timedelta(hours=12), "a", "done", old="1")
    assert status_rows(cfg, now=NOW)[0].overdue


def test_never_rotated_or_no_policy_is_not_overdue(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, {
        "never": {"provider": "anthropic", "rotate_every": "90d"},
        "nopolicy": {"provider": "anthropic"},
    })
    write_event(cfg.state_dir, NOW - timedelta(days=400), "nopolicy", "done", old="1")
    rows = {row.name: row for row in status_rows(cfg, now=NOW)}
    assert rows["never"].last_rotated is None and rows["never"].due is None
    assert not rows["never"].overdue and rows["never"].state == "never"
    assert rows["nopolicy"].age == timedelta(days=400)
    assert rows["nopolicy"].due is None and not rows["nopolicy"].overdue


def test_fingerprints_resolve_without_prompting_or_crashing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLD_KEY", CANARY_OLD)
    monkeypatch.delenv("MISSING_KEY", raising=False)
    store("keyring:keyturn/kc/new", CANARY_NEW)
    monkeypatch.setattr("getpass.getpass", lambda *a, **k: pytest.fail("status prompted"))
    cfg = make_config(tmp_path, {
        "envs": {"provider": "anthropic", "old": "env:OLD_KEY", "new": "env:MISSING_KEY"},
        "kc": {"provider": "anthropic"},
        "asks": {"provider": "anthropic", "old": "prompt", "new": "prompt"},
    })
    rows = {row.name: row for row in status_rows(cfg, now=NOW)}
    assert rows["envs"].old_fingerprint == fingerprint(CANARY_OLD)
    assert rows["envs"].new_fingerprint is None
    assert rows["kc"].old_fingerprint is None
    assert rows["kc"].new_fingerprint == fingerprint(CANARY_NEW)
    assert rows["asks"].old_fingerprint is None and rows["asks"].new_fingerprint is None


def test_broken_keychain_shows_unknown_fingerprints(tmp_path: Path, memory_keyring) -> None:
    def boom(*_a: object) -> None:
        raise RuntimeError("dbus went away")

    memory_keyring.get_password = boom
    cfg = make_config(tmp_path, {"kc": {"provider": "anthropic"}})
    (row,) = status_rows(cfg, now=NOW)
    assert row.old_fingerprint is None and row.new_fingerprint is None


def test_unfinished_rotation_shows_where_it_stopped(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OLD_KEY", CANARY_OLD)
    old_fp = fingerprint(CANARY_OLD)
    cfg = make_config(tmp_path, {"a": {"provider": "anthropic", "old": "env:OLD_KEY"}})
    write_event(cfg.state_dir, NOW - timedelta(minutes=5), "a", "revoke_requested",
                old=old_fp, method="admin")
    (row,) = status_rows(cfg, now=NOW)
    assert row.in_progress == "verifying"
    assert row.to_json()["in_progress"] == "verifying"


# -- the commands -------------------------------------------------------------------------

def write_toml(tmp_path: Path, body: str) -> str:
    path = tmp_path / "keyturn.toml"
    path.write_text(f'state_dir = "{tmp_path / "state"}"\n' + body)
    return str(path)


ROTATIONS = """
[rotations.stale]
provider = "anthropic"
old = "env:STALE_OLD"
rotate_every = "90d"

[rotations.fresh]
provider = "openai"
rotate_every = "2w"
"""


def test_status_exits_1_when_any_rotation_is_overdue(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("STALE_OLD", CANARY_OLD)
    cfg = write_toml(tmp_path, ROTATIONS)
    now = datetime.now(UTC)
    write_event(tmp_path / "state", now - timedelta(days=120), "stale", "done", old="aaaaaaaaaaaa")
    write_event(tmp_path / "state", now - timedelta(days=2), "fresh", "done", old="bbbbbbbbbbbb")
    assert main(["--config", cfg, "status"]) == 1
    out = capsys.readouterr().out
    stale_line = next(line for line in out.splitlines() if line.startswith("stale"))
    assert fingerprint(CANARY_OLD) in stale_line and "overdue" in stale_line
    assert "120d 0h" in stale_line and "30d 0h ago" in stale_line
    fresh_line = next(line for line in out.splitlines() if line.startswith("fresh"))
    assert "unknown" in fresh_line and " ok" in fresh_line and "(in 11d" in fresh_line
    assert out.splitlines()[-1] == "overdue: stale"
    assert CANARY_OLD not in out


def test_status_exits_0_when_nothing_is_overdue_and_json_says_the_same(tmp_path: Path, capsys) -> None:
    cfg = write_toml(tmp_path, ROTATIONS)
    write_event(tmp_path / "state", datetime.now(UTC) - timedelta(days=1), "stale", "done", old="a")
    assert main(["--config", cfg, "status", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["exit_code"] == 0 and doc["overdue"] == []
    rows = {r["rotation"]: r for r in doc["rotations"]}
    assert rows["stale"]["state"] == "ok" and rows["stale"]["age_seconds"] >= 86400
    assert rows["fresh"]["state"] == "never" and rows["fresh"]["last_rotated"] is None
    assert doc["audit_log"] == str(tmp_path / "state" / "audit.jsonl")


def test_status_json_overdue(tmp_path: Path, capsys) -> None:
    cfg = write_toml(tmp_path, ROTATIONS)
    write_event(tmp_path / "state", datetime.now(UTC) - timedelta(days=15), "fresh", "done", old="a")
    assert main(["--config", cfg, "status", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["overdue"] == ["fresh"] and doc["exit_code"] == 1


@pytest.mark.parametrize("body", [
    '[rotations.a]\nprovider = "anthropic"\nrotate_every = "90x"\n',
    '[rotations.a]\nprovider = "anthropic"\nrotate_evry = "90d"\n',
    'not toml = = =\n',
])
def test_status_config_error_exits_2(tmp_path: Path, capsys, body: str) -> None:
    cfg = write_toml(tmp_path, body)
    assert main(["--config", cfg, "status"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("keyturn: ") and "keyturn.toml" in err and "Traceback" not in err


def test_status_with_a_torn_log_warns_and_still_answers(tmp_path: Path, capsys) -> None:
    cfg = write_toml(tmp_path, ROTATIONS)
    write_event(tmp_path / "state", datetime.now(UTC) - timedelta(days=200), "stale", "done", old="a")
    with open(tmp_path / "state" / "audit.jsonl", "a") as fh:
        fh.write('{"time": "2026-')
    assert main(["--config", cfg, "status"]) == 1
    captured = capsys.readouterr()
    assert "keyturn: warning:" in captured.err and "torn line" in captured.err


def test_log_prints_events_of_one_or_every_rotation(tmp_path: Path, capsys) -> None:
    cfg = write_toml(tmp_path, ROTATIONS)
    state = tmp_path / "state"
    write_event(state, NOW, "stale", "revoke_confirmed", old="aaaaaaaaaaaa", request_id="req_42")
    write_event(state, NOW + timedelta(seconds=3), "fresh", "gate_opened", old="b", new="c")
    assert main(["--config", cfg, "log", "stale"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1
    assert out[0].startswith("2026-06-01T12:00:00.000Z  stale  revoke_confirmed")
    assert "old=aaaaaaaaaaaa" in out[0] and "request_id=req_42" in out[0]
    assert main(["--config", cfg, "log"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert main(["--config", cfg, "log", "--json"]) == 0
    assert [json.loads(line)["event"] for line in capsys.readouterr().out.splitlines()] == [
        "revoke_confirmed", "gate_opened"]


def test_log_of_an_unknown_rotation_exits_2_and_an_empty_log_says_so(tmp_path: Path, capsys) -> None:
    cfg = write_toml(tmp_path, ROTATIONS)
    assert main(["--config", cfg, "log", "nope"]) == 2
    assert "no rotation named 'nope'" in capsys.readouterr().err
    assert main(["--config", cfg, "log", "fresh"]) == 0
    assert "no events for fresh" in capsys.readouterr().out


def test_help_texts_explain_status_and_log(capsys) -> None:
    for command, words in (("status", "Exit 1 when any rotation is overdue"),
                           ("log", "torn last line")):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert words in capsys.readouterr().out


def test_log_of_a_hostile_old_log_prints_only_clean_text_and_exits_0(tmp_path: Path) -> None:
    """`keyturn log` through a real pipe (UTF-8, strict): a lone surrogate printed would
    fail the command, an escape sequence would reach the reader's terminal."""
    import os
    import subprocess
    import sys

    cfg = write_toml(tmp_path, ROTATIONS)
    hostile_log(tmp_path / "state" / "audit.jsonl")
    for extra in ([], ["--json"]):
        out = subprocess.run(
            [sys.executable, "-m", "tui.cli", "--config", cfg, "log", *extra],
            capture_output=True, check=False,
            env=dict(os.environ, PYTHONIOENCODING="utf-8:strict"),
            timeout=60,
        )
        assert out.returncode == 0, out.stderr.decode(errors="replace")
        text = out.stdout.decode("utf-8")
        assert len(text.splitlines()) == 3
        assert "\x1b" not in text and "\x9b" not in text and "pwned" not in text
        assert "\ufffd" in text or "\\ufffd" in text  # the surrogate, replaced
        assert "nested too deeply" in out.stderr.decode()
