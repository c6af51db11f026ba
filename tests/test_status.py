"""Due dates: status rows from the config, the keychain and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from providers.keys import fingerprint
from tests.support_canary import CANARY_NEW, CANARY_OLD
from tests.support_lifecycle import make_config, write_event
from tui.credentials import store
from tui.lifecycle import status_rows

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
