"""The audit log: JSON lines, fingerprints only, a torn tail survives, location overridable."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from providers.keys import fingerprint
from tests.support_canary import CANARY_ADMIN, CANARY_OLD, assert_no_canary
from tests.support_lifecycle import hostile_log, make_config
from tui.engine import config_file
from tui.engine.audit import AuditLog, TornLine
from tui.engine.credentials import Secret


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_each_event_is_one_json_line_with_utc_time_rotation_and_event(tmp_path: Path) -> None:
    fixed = datetime(2026, 3, 4, 5, 6, 7, 891000, tzinfo=UTC)
    log = AuditLog(tmp_path, now=lambda: fixed)
    log.append("prod", "gate_opened", old="aaaaaaaaaaaa", new="bbbbbbbbbbbb")
    log.append("prod", "revoke_confirmed", old="aaaaaaaaaaaa", request_id="req_1", detail=None)
    raw = lines(log.path)
    assert len(raw) == 2
    first, second = (json.loads(line) for line in raw)
    assert first == {"time": "2026-03-04T05:06:07.891Z", "rotation": "prod", "event": "gate_opened",
                     "old": "aaaaaaaaaaaa", "new": "bbbbbbbbbbbb"}
    assert "detail" not in second  # empty fields are left out, not written as null
    assert [e["event"] for e in log.events()] == ["gate_opened", "revoke_confirmed"]
    assert oct(os.stat(log.path).st_mode & 0o777) == "0o600"


def test_events_of_one_rotation(tmp_path: Path) -> None:
    log = AuditLog(tmp_path)
    log.append("a", "gate_opened")
    log.append("b", "gate_opened")
    log.append("a", "done")
    assert [e["event"] for e in log.events("a")] == ["gate_opened", "done"]
    assert [e["rotation"] for e in log.events()] == ["a", "b", "a"]


def test_missing_log_has_no_events(tmp_path: Path) -> None:
    assert list(AuditLog(tmp_path / "nowhere").events()) == []


def test_torn_last_line_is_skipped_with_a_warning_and_later_appends_still_parse(tmp_path: Path) -> None:
    log = AuditLog(tmp_path)
    log.append("prod", "gate_opened", old="aaaaaaaaaaaa")
    log.append("prod", "revoke_requested", old="aaaaaaaaaaaa")
    # A crash mid-write: half of a line, no newline.
    whole = (json.dumps({"time": "t", "rotation": "prod", "event": "revoke_confirmed"}) + "\n").encode()
    with open(log.path, "ab") as fh:
        fh.write(whole[: len(whole) // 2])
    with pytest.warns(TornLine, match=r"audit.jsonl:3: skipped a torn line"):
        events = [e["event"] for e in log.events()]
    assert events == ["gate_opened", "revoke_requested"]

    log.append("prod", "resumed", old="aaaaaaaaaaaa", phase="verifying")
    with pytest.warns(TornLine):
        events = [e["event"] for e in log.events()]
    assert events == ["gate_opened", "revoke_requested", "resumed"]
    raw = lines(log.path)
    assert len(raw) == 4 and json.loads(raw[-1])["event"] == "resumed"


def test_garbage_and_non_object_lines_never_stop_the_reader(tmp_path: Path) -> None:
    log = AuditLog(tmp_path)
    tmp_path.joinpath("audit.jsonl").write_bytes(b'\xff\xfe not json\n[1, 2]\n\n')
    log.append("prod", "done")
    with pytest.warns(TornLine):
        assert [e["event"] for e in log.events()] == ["done"]


def test_a_raw_key_in_any_field_is_never_written(tmp_path: Path) -> None:
    old = Secret(CANARY_OLD, "test")
    Secret(CANARY_ADMIN, "test")
    log = AuditLog(tmp_path)
    log.append("prod", "failure", old=old.fingerprint,
               detail=f"admin API said: key {CANARY_OLD} and {CANARY_ADMIN[:20]} refused")
    assert_no_canary(paths=[log.path])
    (event,) = log.events()
    assert event["old"] == fingerprint(CANARY_OLD)


def test_location_from_config_then_env_then_platform_state_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    assert make_config(tmp_path, {}).state_dir == tmp_path / "state"
    data: dict = {"rotations": {}}
    monkeypatch.setenv("KEYTURN_STATE_DIR", str(tmp_path / "from-env"))
    assert config_file.validate(data, tmp_path / "k.toml").state_dir == tmp_path / "from-env"
    monkeypatch.delenv("KEYTURN_STATE_DIR")
    default = config_file.validate(data, tmp_path / "k.toml").state_dir
    assert default.is_relative_to(isolated_home) and default.name == "keyturn"


def all_strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *all_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in all_strings(v)]
    return []


def test_a_hostile_old_log_reads_back_clean_and_capped(tmp_path: Path) -> None:
    log = AuditLog(tmp_path)
    hostile_log(log.path)
    with pytest.warns(TornLine) as caught:
        events = list(log.events())
    assert [e["event"] for e in events] == ["revoke_confirmed", "failure", "done"]
    first, failure, done = events
    assert first["key_id"] == "apikey_01"
    assert first["request_id"].startswith("req_r") and len(first["request_id"]) == 512
    assert first["detail"] == {"nested": ["x"]}
    assert failure["detail"] == "id \ufffd refused"
    assert len(done["detail"]) == 512 and done["detail"].endswith("…")
    for text in (s for e in events for s in all_strings(e)):
        text.encode("utf-8")
        assert text.isprintable() and "\x1b" not in text and "pwned" not in text
    warned = " ".join(str(w.message) for w in caught)
    assert "audit.jsonl:2: skipped a line nested too deeply to read" in warned
    assert "audit.jsonl:4: skipped a line of more than 1024 KiB" in warned
    assert "audit.jsonl:6: skipped a torn line" in warned  # the bytes that are not UTF-8


def test_what_is_appended_is_written_clean(tmp_path: Path) -> None:
    log = AuditLog(tmp_path)
    log.append("prod", "failure", detail="x\x1b]0;pwned\x07\ud800" + "y" * 5000, key_id=7)
    raw = log.path.read_bytes()
    raw.decode("utf-8")
    assert b"\\u001b" not in raw and b"\\ud800" not in raw and b"pwned" not in raw
    (event,) = log.events()
    assert event["detail"].startswith("x\ufffdyyy") and len(event["detail"]) == 512
    assert event["key_id"] == 7
